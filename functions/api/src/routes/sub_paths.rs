//! Pipelines named like one of Gate's execution sub-paths (`cancel`, `pause`, `resume`,
//! `evaluateExpression`).
//!
//! `POST /pipelines/{application}/{pipelineNameOrId}` triggers a pipeline and
//! `DELETE /pipelines/{application}/{pipelineName}` deletes one, while
//! `PUT /pipelines/{id}/cancel` (and `pause`, `resume`) act on an execution. Spring matches a
//! request on its method as well as its path, so in Gate `POST /pipelines/myapp/cancel`
//! triggers the pipeline named `cancel`. The router here matches the path first, so each
//! such path also routes the trigger and delete methods to the pipeline of that name.
//!
//! `POST /pipelines/{id}/evaluateExpression` is a Gate route of its own; it evaluates when
//! an execution `{id}` exists (as in Gate) and triggers the pipeline named
//! `evaluateExpression` of application `{id}` otherwise, when there is one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::{executions, expressions, pipelines};

async fn trigger(
    state: State<AppState>,
    application: String,
    name: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    executions::trigger(state, Path((application, name.to_string())), headers, body).await
}

async fn delete(
    state: State<AppState>,
    application: String,
    name: &str,
) -> Result<StatusCode, ApiError> {
    pipelines::delete_pipeline(state, Path((application, name.to_string()))).await
}

/// `trigger_X` and `delete_X` for the pipeline named `X` of the path's application.
macro_rules! named_like_sub_path {
    ($trigger:ident, $delete:ident, $name:literal) => {
        #[doc = concat!("`POST /pipelines/{application}/", $name, "`: triggers the pipeline named `", $name, "`.")]
        pub async fn $trigger(
            state: State<AppState>,
            Path(application): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<(StatusCode, Json<Value>), ApiError> {
            trigger(state, application, $name, headers, body).await
        }

        #[doc = concat!("`DELETE /pipelines/{application}/", $name, "`: deletes the pipeline named `", $name, "`.")]
        pub async fn $delete(
            state: State<AppState>,
            Path(application): Path<String>,
        ) -> Result<StatusCode, ApiError> {
            delete(state, application, $name).await
        }
    };
}

named_like_sub_path!(trigger_cancel, delete_cancel, "cancel");
named_like_sub_path!(trigger_pause, delete_pause, "pause");
named_like_sub_path!(trigger_resume, delete_resume, "resume");
named_like_sub_path!(
    trigger_evaluate_expression,
    delete_evaluate_expression,
    "evaluateExpression"
);

const EVALUATE_EXPRESSION: &str = "evaluateExpression";

/// `POST /pipelines/{id}/evaluateExpression`: evaluates against execution `{id}`, or, when
/// there is no such execution but application `{id}` has a pipeline named
/// `evaluateExpression`, triggers that pipeline.
pub async fn evaluate_or_trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let is_execution = state.store.load_execution(&id).await?.is_some();
    if !is_execution && has_pipeline_named(&state, &id, EVALUATE_EXPRESSION).await? {
        return Ok(
            trigger_evaluate_expression(State(state), Path(id), headers, body)
                .await?
                .into_response(),
        );
    }
    Ok(expressions::evaluate_posted(State(state), Path(id), body)
        .await?
        .into_response())
}

async fn has_pipeline_named(
    state: &AppState,
    application: &str,
    name: &str,
) -> Result<bool, ApiError> {
    if gennaker_model::application::application_name_problem(application).is_some() {
        return Ok(false);
    }
    let configs = state.store.list_pipelines(application).await?;
    Ok(configs.iter().any(|config| config.name() == Some(name)))
}
