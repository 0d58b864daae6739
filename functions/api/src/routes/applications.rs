//! Application reads. Writes go through orchestration tasks (`routes::tasks`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `GET /applications`
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let applications = state.store.list_applications().await?;
    Ok(Json(Value::Array(
        applications.into_iter().map(Value::Object).collect(),
    )))
}

/// `GET /applications/{application}`: 404 when unknown (spin relies on it).
pub async fn get_one(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = application.to_lowercase();
    let attributes = state
        .store
        .get_application(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Application '{name}' not found")))?;
    Ok(Json(
        json!({ "name": name, "attributes": attributes, "clusters": {} }),
    ))
}
