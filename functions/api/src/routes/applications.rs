//! Application reads. Writes go through orchestration tasks (`routes::tasks`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::access::Access;
use crate::error::ApiError;

/// `GET /applications`: the applications the caller may READ (Fiat filters Gate's list).
pub async fn list(State(state): State<AppState>, access: Access) -> Result<Json<Value>, ApiError> {
    let applications = state.store.list_applications().await?;
    let readable = access
        .readable(applications, |attributes| {
            attributes
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .await?;
    Ok(Json(Value::Array(
        readable.into_iter().map(Value::Object).collect(),
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
