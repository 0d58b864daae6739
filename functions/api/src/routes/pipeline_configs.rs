//! Pipeline configs (Spinnaker's Front50 through Gate).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::PipelineConfig;
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::pipeline_admin::{ConfigKind, save_checked};

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

/// Configs as Gate lists them.
pub(crate) fn config_list(configs: Vec<PipelineConfig>) -> Json<Value> {
    Json(Value::Array(
        configs
            .into_iter()
            .map(PipelineConfig::into_value)
            .collect(),
    ))
}

/// The config whose name equals `name` exactly, else Gate's 404 ("Pipeline config …" or
/// "Strategy config …").
pub(crate) fn config_named(
    configs: Vec<PipelineConfig>,
    name: &str,
    kind: &str,
    application: &str,
) -> Result<Json<Value>, ApiError> {
    configs
        .into_iter()
        .find(|config| config.name() == Some(name))
        .map(|config| Json(config.into_value()))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{kind} config (id: {name}) not found for Application (id: {application})"
            ))
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
