//! Pipeline expression helpers Deck uses: `GET /capabilities/expressions` and the
//! `evaluateExpression` endpoints (`{"result", "detail"}`), evaluated against a stored
//! execution as seen by the whole execution or by one stage.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use gennaker_expressions::{EvaluationContext, capabilities, evaluate_expression};
use gennaker_model::ExecutionType;
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::load_execution_of_kind;

/// `GET /capabilities/expressions`
pub async fn expression_capabilities() -> Json<Value> {
    Json(capabilities())
}

#[derive(Debug, Deserialize)]
pub struct ExpressionQuery {
    expression: Option<String>,
}

/// `GET /pipelines/{id}/evaluateExpression?expression=`
pub async fn evaluate_for_execution(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ExpressionQuery>,
) -> Result<Json<Value>, ApiError> {
    let expression = required(query.expression)?;
    evaluate(&state, &id, None, &expression).await
}

/// `POST /pipelines/{id}/evaluateExpression` with the expression as plain text or as
/// `{"expression": "…"}`.
pub async fn evaluate_posted(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid_field("body", "the expression must be UTF-8 text"))?;
    let expression = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => object
            .get("expression")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => Some(text),
    };
    evaluate(&state, &id, None, &required(expression)?).await
}

/// `GET /pipelines/{id}/{stageId}/evaluateExpression?expression=`
pub async fn evaluate_for_stage(
    State(state): State<AppState>,
    Path((id, stage_id)): Path<(String, String)>,
    Query(query): Query<ExpressionQuery>,
) -> Result<Json<Value>, ApiError> {
    let expression = required(query.expression)?;
    evaluate(&state, &id, Some(&stage_id), &expression).await
}

fn required(expression: Option<String>) -> Result<String, ApiError> {
    expression
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| {
            ApiError::invalid_field("expression", "an expression to evaluate is required")
        })
}

async fn evaluate(
    state: &AppState,
    id: &str,
    stage_id: Option<&str>,
    expression: &str,
) -> Result<Json<Value>, ApiError> {
    let execution = load_execution_of_kind(state, id, ExecutionType::Pipeline)
        .await?
        .execution;
    if let Some(stage_id) = stage_id
        && execution.stage(stage_id).is_none()
    {
        return Err(ApiError::not_found(format!(
            "Stage not found (id: {stage_id}) in pipeline {id}"
        )));
    }
    let root = serde_json::to_value(&execution).unwrap_or(Value::Null);
    let context = match stage_id {
        Some(stage_id) => EvaluationContext::for_stage(&root, stage_id),
        None => EvaluationContext::for_execution(&root),
    };
    Ok(Json(evaluate_expression(expression, &context)))
}
