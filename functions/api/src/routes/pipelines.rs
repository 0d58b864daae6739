//! Gate's `PipelineController`: save, update by id, delete by name and bulk save of
//! pipeline configs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::PipelineConfig;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::configs::{
    ConfigKind, StaleCheckQuery, delete_by_name, is_true, save_checked, update,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveQuery {
    #[serde(default)]
    stale_check: Option<String>,
}

/// `POST /pipelines[?staleCheck=true]`: create or update; 200 with an empty body.
pub async fn save(
    State(state): State<AppState>,
    Query(query): Query<SaveQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let config = PipelineConfig::from_value(Value::Object(json_object(&body, false)?))
        .map_err(ApiError::bad_request)?;
    let stale_check = query
        .stale_check
        .as_deref()
        .is_some_and(|flag| flag.eq_ignore_ascii_case("true"));
    save_checked(
        &state,
        ConfigKind::Pipeline,
        config,
        stale_check,
        &user_name(&headers),
    )
    .await?;
    Ok(StatusCode::OK)
}

/// `PUT /pipelines/{id}` (Deck's rename): the body replaces the config with that id; answers
/// the stored config.
pub async fn update_pipeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<StaleCheckQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    update(
        &state,
        ConfigKind::Pipeline,
        &id,
        is_true(query.stale_check.as_deref()),
        &headers,
        &body,
    )
    .await
}

/// `DELETE /pipelines/{application}/{pipelineName}`: by name, trimmed and case-insensitive;
/// an unknown name is a no-op. 200 with an empty body.
pub async fn delete_pipeline(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_by_name(&state, ConfigKind::Pipeline, &application, &name).await
}

#[derive(Debug, Deserialize)]
pub struct BulkSaveQuery {
    application: Option<String>,
}

/// `POST /pipelines/bulksave?application=`: saves each config of the array on its own and
/// reports, as Front50 does, which were saved and why the others were not.
pub async fn bulk_save(
    State(state): State<AppState>,
    Query(query): Query<BulkSaveQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let configs = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(configs)) => configs,
        Ok(_) => {
            return Err(ApiError::invalid_field(
                "body",
                "the request body must be a JSON array of pipeline configs",
            ));
        }
        Err(error) => {
            return Err(ApiError::invalid_field(
                "body",
                format!("the request body is not valid JSON: {error}"),
            ));
        }
    };
    let user = user_name(&headers);
    let (mut saved, mut failed) = (Vec::new(), Vec::new());
    for (position, config) in configs.into_iter().enumerate() {
        let outcome = match PipelineConfig::from_value(config.clone()) {
            Ok(mut config) => {
                if let Some(application) = &query.application
                    && config.application().is_none()
                {
                    config.set("application", Value::String(application.clone()));
                }
                save_checked(&state, ConfigKind::Pipeline, config, false, &user).await
            }
            Err(reason) => Err(ApiError::invalid_field(&format!("[{position}]"), reason)),
        };
        match outcome {
            Ok(config) => saved.push(Value::String(config.name().unwrap_or_default().to_string())),
            Err(error) if error.status.is_client_error() => {
                let mut report = Map::new();
                if let Value::Object(config) = &config {
                    for key in ["id", "name", "application"] {
                        if let Some(value) = config.get(key) {
                            report.insert(key.to_string(), value.clone());
                        }
                    }
                }
                report.insert("errorMsg".to_string(), Value::String(error.message));
                failed.push(Value::Object(report));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(Json(json!({
        "successful_pipelines_count": saved.len(),
        "successful_pipelines": saved,
        "failed_pipelines_count": failed.len(),
        "failed_pipelines": failed,
    })))
}
