//! `GET /cron/validate?expression=`: Deck's check of a cron trigger's Quartz expression
//! (Gate's CronController, answered by Echo).

use axum::Json;
use axum::extract::Query;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct CronQuery {
    expression: Option<String>,
}

/// 200 `{"response": "Cron expression is valid", "description"}`; 400 naming the bad field.
pub async fn validate(Query(query): Query<CronQuery>) -> Result<Json<Value>, ApiError> {
    let expression = query
        .expression
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field("expression", "expression is required"))?;
    let description = gennaker_model::cron::validate(&expression)
        .map_err(|problem| ApiError::invalid_field("expression", problem.to_string()))?;
    Ok(Json(json!({
        "response": "Cron expression is valid",
        "description": description,
    })))
}
