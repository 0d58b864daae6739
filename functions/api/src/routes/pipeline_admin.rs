//! Pipeline and strategy config administration (Gate's PipelineController,
//! PipelineConfigController, StrategyController and ReorderPipelinesController, which Front50
//! serves): the checked save every write path shares, update by id, delete by name, history,
//! bulk save, reorder, the cross-application listing and strategy configs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::PipelineConfig;
use gennaker_model::application::application_name_problem;
use gennaker_model::validation::{SiblingPipeline, validate_pipeline};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::pipeline_configs::{config_list, config_named};

/// A config is stored as one DynamoDB item (limit 400 KB, with its keys and history copy).
const MAX_CONFIG_BYTES: usize = 300_000;
/// Ids are key parts; Front50 assigns UUIDs, clients sometimes pick their own.
const MAX_ID_LENGTH: usize = 200;
const MAX_NAME_LENGTH: usize = 250;
/// Characters Deck refuses in pipeline names; a name is also a path segment.
const FORBIDDEN_NAME_CHARACTERS: [char; 5] = ['/', '\\', '?', '%', '#'];
const DEFAULT_HISTORY_LIMIT: usize = 20;
const MAX_HISTORY_LIMIT: usize = 1000;

/// Pipelines and strategies are saved alike; only their store (and names) differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigKind {
    Pipeline,
    Strategy,
}

impl ConfigKind {
    fn noun(self) -> &'static str {
        match self {
            ConfigKind::Pipeline => "pipeline",
            ConfigKind::Strategy => "strategy",
        }
    }

    async fn list(
        self,
        state: &AppState,
        application: &str,
    ) -> Result<Vec<PipelineConfig>, ApiError> {
        Ok(match self {
            ConfigKind::Pipeline => state.store.list_pipelines(application).await?,
            ConfigKind::Strategy => state.store.list_strategies(application).await?,
        })
    }

    async fn application_of(self, state: &AppState, id: &str) -> Result<Option<String>, ApiError> {
        Ok(match self {
            ConfigKind::Pipeline => state.store.find_pipeline_application(id).await?,
            ConfigKind::Strategy => state.store.find_strategy_application(id).await?,
        })
    }

    async fn history(
        self,
        state: &AppState,
        id: &str,
        limit: usize,
    ) -> Result<Vec<PipelineConfig>, ApiError> {
        Ok(match self {
            ConfigKind::Pipeline => state.store.pipeline_history(id, limit).await?,
            ConfigKind::Strategy => state.store.strategy_history(id, limit).await?,
        })
    }

    async fn delete(self, state: &AppState, application: &str, id: &str) -> Result<bool, ApiError> {
        Ok(match self {
            ConfigKind::Pipeline => state.store.delete_pipeline(application, id).await?,
            ConfigKind::Strategy => state.store.delete_strategy(application, id).await?,
        })
    }
}

/// Checks a submitted config and saves it: the shape Front50 needs, names and ids that can
/// be stored and addressed, the stage graph, a unique name, and (with `stale_check`) that
/// it is based on the stored version. Returns the saved document.
pub(crate) async fn save_checked(
    state: &AppState,
    kind: ConfigKind,
    mut config: PipelineConfig,
    stale_check: bool,
    user: &str,
) -> Result<PipelineConfig, ApiError> {
    check_storable(&config)?;
    if kind == ConfigKind::Pipeline {
        gennaker_model::schedules::assign_cron_trigger_ids(&mut config);
    }
    let application = config.application().unwrap_or_default().trim().to_string();
    let siblings = if application.is_empty() {
        vec![]
    } else {
        kind.list(state, &application).await?
    };
    let sibling_refs: Vec<SiblingPipeline> = siblings
        .iter()
        .filter_map(|sibling| {
            Some(SiblingPipeline {
                id: sibling.id()?,
                name: sibling.name()?,
            })
        })
        .collect();
    validate_pipeline(&config, &sibling_refs).map_err(ApiError::invalid)?;
    if stale_check {
        check_not_stale(&config, &siblings)?;
    }
    Ok(match kind {
        ConfigKind::Pipeline => state.store.save_pipeline(config, user).await?,
        ConfigKind::Strategy => state.store.save_strategy(config, user).await?,
    })
}

/// What the store needs beyond the pipeline rules: an application name it accepts, a name
/// that can be a path segment, an id that fits a key, a document that fits an item.
fn check_storable(config: &PipelineConfig) -> Result<(), ApiError> {
    if let Some(application) = config.application().filter(|a| !a.trim().is_empty())
        && let Some(problem) = application_name_problem(application)
    {
        return Err(ApiError::invalid_field("application", problem));
    }
    if let Some(name) = config.name() {
        if name.chars().count() > MAX_NAME_LENGTH {
            return Err(ApiError::invalid_field(
                "name",
                format!("a name has at most {MAX_NAME_LENGTH} characters"),
            ));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| FORBIDDEN_NAME_CHARACTERS.contains(c) || c.is_control())
        {
            return Err(ApiError::invalid_field(
                "name",
                format!(
                    "a name may not contain {bad:?} (nor any of / \\ ? % # or control characters)"
                ),
            ));
        }
    }
    match config.document().get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id))
            if id.chars().count() <= MAX_ID_LENGTH && !id.chars().any(char::is_control) => {}
        Some(other) => {
            return Err(ApiError::invalid_field(
                "id",
                format!(
                    "id must be a string of at most {MAX_ID_LENGTH} characters, got {}",
                    short(other)
                ),
            ));
        }
    }
    let size = serde_json::to_vec(config.document())
        .map(|bytes| bytes.len())
        .unwrap_or(0);
    if size > MAX_CONFIG_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the config is {size} bytes of JSON; at most {MAX_CONFIG_BYTES} can be stored"),
        ));
    }
    Ok(())
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Deck sends `staleCheck=true`: a save based on an older version than the stored one fails.
fn check_not_stale(config: &PipelineConfig, stored: &[PipelineConfig]) -> Result<(), ApiError> {
    let Some(id) = config.id() else { return Ok(()) };
    let Some(current) = stored.iter().find(|candidate| candidate.id() == Some(id)) else {
        return Ok(());
    };
    let version = |c: &PipelineConfig| c.document().get("updateTs").map(Value::to_string);
    if version(config) != version(current) {
        return Err(ApiError::invalid_field(
            "updateTs",
            "The submitted pipeline is stale. Reload it and apply your change again.",
        ));
    }
    Ok(())
}

fn parse_config(body: &Bytes) -> Result<PipelineConfig, ApiError> {
    PipelineConfig::from_value(Value::Object(json_object(body, false)?))
        .map_err(ApiError::bad_request)
}

fn is_true(flag: Option<&str>) -> bool {
    flag.is_some_and(|flag| flag.trim().eq_ignore_ascii_case("true"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleCheckQuery {
    #[serde(default)]
    stale_check: Option<String>,
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

/// `PUT /strategies/{id}`
pub async fn update_strategy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    update(&state, ConfigKind::Strategy, &id, false, &headers, &body).await
}

async fn update(
    state: &AppState,
    kind: ConfigKind,
    id: &str,
    stale_check: bool,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut config = parse_config(body)?;
    match config.id() {
        None => config.set("id", Value::String(id.to_string())),
        Some(submitted) if submitted == id => {}
        Some(submitted) => {
            return Err(ApiError::invalid_field(
                "id",
                format!(
                    "The provided id '{submitted}' doesn't match the existing {} id '{id}'",
                    kind.noun()
                ),
            ));
        }
    }
    if id.len() > MAX_ID_LENGTH || kind.application_of(state, id).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "No {} found with id '{id}'",
            kind.noun()
        )));
    }
    let saved = save_checked(state, kind, config, stale_check, &user_name(headers)).await?;
    let application = saved.application().unwrap_or_default().to_string();
    let listed = kind.list(state, &application).await?;
    let stored = listed
        .into_iter()
        .find(|config| config.id() == Some(id))
        .unwrap_or(saved);
    Ok(Json(stored.into_value()))
}

/// `DELETE /pipelines/{application}/{pipelineName}`: by name, trimmed and case-insensitive;
/// an unknown name is a no-op. 200 with an empty body.
pub async fn delete_pipeline(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_by_name(&state, ConfigKind::Pipeline, &application, &name).await
}

/// `DELETE /strategies/{application}/{strategyName}`
pub async fn delete_strategy(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_by_name(&state, ConfigKind::Strategy, &application, &name).await
}

async fn delete_by_name(
    state: &AppState,
    kind: ConfigKind,
    application: &str,
    name: &str,
) -> Result<StatusCode, ApiError> {
    let wanted = name.trim().to_lowercase();
    let configs = kind.list(state, application).await?;
    let found = configs.iter().find(|config| {
        config
            .name()
            .is_some_and(|n| n.trim().to_lowercase() == wanted)
    });
    if let Some(id) = found.and_then(PipelineConfig::id) {
        kind.delete(state, application, id).await?;
    }
    Ok(StatusCode::OK)
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

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

impl HistoryQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_HISTORY_LIMIT),
            Some(limit) if (1..=MAX_HISTORY_LIMIT).contains(&limit) => Ok(limit),
            Some(limit) => Err(ApiError::invalid_field(
                "limit",
                format!("limit must be between 1 and {MAX_HISTORY_LIMIT}, got {limit}"),
            )),
        }
    }
}

/// `GET /pipelineConfigs/{id}/history?limit=20`: saved revisions, newest first.
pub async fn pipeline_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    history(&state, ConfigKind::Pipeline, &id, &query).await
}

/// `GET /strategyConfigs/{id}/history?limit=20`
pub async fn strategy_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    history(&state, ConfigKind::Strategy, &id, &query).await
}

async fn history(
    state: &AppState,
    kind: ConfigKind,
    id: &str,
    query: &HistoryQuery,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit()?;
    if id.len() > MAX_ID_LENGTH {
        return Ok(Json(json!([])));
    }
    let revisions = kind.history(state, id, limit).await?;
    Ok(Json(Value::Array(
        revisions
            .into_iter()
            .map(PipelineConfig::into_value)
            .collect(),
    )))
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

/// `POST /actions/pipelines/reorder` `{application, idsToIndices: {id: index}}`: sets the
/// `index` of the named configs (ids of other applications are ignored). 200, empty body.
pub async fn reorder_pipelines(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    reorder(&state, ConfigKind::Pipeline, &headers, &body).await
}

/// `POST /actions/strategies/reorder`
pub async fn reorder_strategies(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    reorder(&state, ConfigKind::Strategy, &headers, &body).await
}

async fn reorder(
    state: &AppState,
    kind: ConfigKind,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<StatusCode, ApiError> {
    let request = json_object(body, false)?;
    let application = match request.get("application") {
        Some(Value::String(application)) if application_name_problem(application).is_none() => {
            application.clone()
        }
        Some(Value::String(application)) => {
            return Err(ApiError::invalid_field(
                "application",
                application_name_problem(application).unwrap_or_default(),
            ));
        }
        _ => {
            return Err(ApiError::invalid_field(
                "application",
                "a reorder needs the 'application' it applies to",
            ));
        }
    };
    let Some(Value::Object(indices)) = request.get("idsToIndices") else {
        return Err(ApiError::invalid_field(
            "idsToIndices",
            "a reorder needs 'idsToIndices', an object of id: index",
        ));
    };
    let mut wanted = Vec::with_capacity(indices.len());
    for (id, index) in indices {
        match index.as_u64() {
            Some(index) => wanted.push((id.clone(), index)),
            None => {
                return Err(ApiError::invalid_field(
                    &format!("idsToIndices.{id}"),
                    format!(
                        "an index must be a non-negative integer, got {}",
                        short(index)
                    ),
                ));
            }
        }
    }
    let user = user_name(headers);
    let configs = kind.list(state, &application).await?;
    for (id, index) in wanted {
        let Some(config) = configs
            .iter()
            .find(|config| config.id() == Some(id.as_str()))
        else {
            continue;
        };
        if config.index() == Some(index as i64) {
            continue;
        }
        let mut config = config.clone();
        config.set("index", Value::from(index));
        match kind {
            ConfigKind::Pipeline => state.store.save_pipeline(config, &user).await?,
            ConfigKind::Strategy => state.store.save_strategy(config, &user).await?,
        };
    }
    Ok(StatusCode::OK)
}

/// `POST /strategies`: create or update a strategy config; 200 with an empty body.
pub async fn save_strategy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let config = parse_config(&body)?;
    save_checked(
        &state,
        ConfigKind::Strategy,
        config,
        false,
        &user_name(&headers),
    )
    .await?;
    Ok(StatusCode::OK)
}

/// `GET /applications/{application}/strategyConfigs`
pub async fn list_strategies(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(config_list(
        state.store.list_strategies(&application).await?,
    ))
}

/// `GET /applications/{application}/strategyConfigs/{strategyName}`: exact name, else 404.
pub async fn get_strategy(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let configs = state.store.list_strategies(&application).await?;
    config_named(configs, &name, "Strategy", &application)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> PipelineConfig {
        PipelineConfig::from_value(value).unwrap()
    }

    #[test]
    fn storable_configs_have_sane_names_ids_and_sizes() {
        assert!(
            check_storable(&config(
                json!({"application": "app", "name": "Deploy to prod (v2)"})
            ))
            .is_ok()
        );
        let refused = [
            json!({"application": "../etc", "name": "x"}),
            json!({"application": "app", "name": "a/b"}),
            json!({"application": "app", "name": "50%"}),
            json!({"application": "app", "name": "x".repeat(300)}),
            json!({"application": "app", "name": "x", "id": 7}),
            json!({"application": "app", "name": "x", "id": "i".repeat(300)}),
            json!({"application": "app", "name": "x", "blob": "b".repeat(MAX_CONFIG_BYTES)}),
        ];
        for value in refused {
            assert!(
                check_storable(&config(value.clone())).is_err(),
                "{}",
                short(&value)
            );
        }
    }
}
