//! Gate's `PipelineConfigController` and an application's pipeline configs: every config,
//! one config's history, an application's configs and one by name, and the by-name-or-id
//! lookup a launch uses.

use axum::Json;
use axum::extract::{Path, Query, State};
use gennaker_model::PipelineConfig;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::configs::{ConfigKind, HistoryQuery, config_list, config_named, history};

/// `GET /applications/{application}/pipelineConfigs`: the application's configs by `index`.
pub async fn list(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(config_list(state.store.list_pipelines(&application).await?))
}

/// `GET /applications/{application}/pipelineConfigs/{name}`: exact (case-sensitive) name.
pub async fn get_by_name(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let configs = state.store.list_pipelines(&application).await?;
    config_named(configs, &name, "Pipeline", &application)
}

/// `GET /pipelineConfigs`: every pipeline config of every application.
pub async fn list_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let configs = state.store.list_all_pipelines().await?;
    Ok(Json(Value::Array(
        configs
            .into_iter()
            .map(PipelineConfig::into_value)
            .collect(),
    )))
}

/// `GET /pipelineConfigs/{id}/history?limit=20`: saved revisions, newest first.
pub async fn pipeline_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    history(&state, ConfigKind::Pipeline, &id, &query).await
}

/// Resolves `nameOrId` as Gate does: by name first, then by id.
pub async fn resolve(
    state: &AppState,
    application: &str,
    name_or_id: &str,
) -> Result<PipelineConfig, ApiError> {
    let configs = state.store.list_pipelines(application).await?;
    let by_name = configs
        .iter()
        .position(|config| config.name() == Some(name_or_id));
    let by_id = || {
        configs
            .iter()
            .position(|config| config.id() == Some(name_or_id))
    };
    match by_name.or_else(by_id) {
        Some(position) => Ok(configs
            .into_iter()
            .nth(position)
            .expect("position is in range")),
        None => Err(ApiError::not_found(format!(
            "Pipeline config (id: {name_or_id}) not found for Application (id: {application})"
        ))),
    }
}
