//! Gate's `PipelineConfigController` and an application's pipeline configs: every config,
//! one config's history, an application's configs and one by name, which of a config's
//! stages Gennaker cannot run, and the by-name-or-id lookup a launch uses.

use axum::Json;
use axum::extract::{Path, Query, State};
use gennaker_model::PipelineConfig;
use gennaker_model::compatibility::unrunnable_stages;
use serde_json::{Value, json};

use crate::AppState;
use crate::access::Access;
use crate::error::ApiError;
use crate::routes::configs::{
    ConfigKind, HistoryQuery, MAX_ID_LENGTH, config_list, config_named, history, shown,
};

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

/// `GET /pipelineConfigs`: every pipeline config of every application the caller may READ.
pub async fn list_all(
    State(state): State<AppState>,
    access: Access,
) -> Result<Json<Value>, ApiError> {
    let configs = state.store.list_all_pipelines().await?;
    let configs = access
        .readable(configs, |config| config.application().map(str::to_string))
        .await?;
    Ok(Json(Value::Array(configs.into_iter().map(shown).collect())))
}

/// `GET /pipelineConfigs/{id}/history?limit=20`: saved revisions, newest first.
pub async fn pipeline_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    history(&state, ConfigKind::Pipeline, &id, &query).await
}

/// `GET /pipelineConfigs/{id}/compatibility`: the config's stages that Gennaker stores but
/// cannot run yet, each with where it is and why.
pub async fn compatibility(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = match id.len() {
        0..=MAX_ID_LENGTH => state.store.get_pipeline_by_id(&id).await?,
        _ => None,
    };
    let config =
        found.ok_or_else(|| ApiError::not_found(format!("No pipeline found with id '{id}'")))?;
    Ok(Json(compatibility_report(&state, &config)))
}

/// `{id, application, name, runnable, unrunnableStages: [...]}`.
pub(crate) fn compatibility_report(state: &AppState, config: &PipelineConfig) -> Value {
    let stages = unrunnable_stages(config, state.launcher.preconfigured_webhooks());
    json!({
        "id": config.id().unwrap_or_default(),
        "application": config.application().unwrap_or_default(),
        "name": config.name().unwrap_or_default(),
        "runnable": stages.is_empty(),
        "unrunnableStages": stages,
    })
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
