//! What every pipeline and strategy config route shares (Front50's config store as Gate
//! exposes it): the checked save every write path makes, update by id, delete by name,
//! history, and the listing and by-name lookup.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::PipelineConfig;
use gennaker_model::application::application_name_problem;
use gennaker_model::secrets::redact_secrets;
use gennaker_model::validation::{SiblingPipeline, validate_pipeline};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::user_name;

/// A config is stored as one DynamoDB item (limit 400 KB, with its keys and history copy).
const MAX_CONFIG_BYTES: usize = 300_000;
/// Ids are key parts; Front50 assigns UUIDs, clients sometimes pick their own.
pub(crate) const MAX_ID_LENGTH: usize = 200;
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
    pub(crate) fn noun(self) -> &'static str {
        match self {
            ConfigKind::Pipeline => "pipeline",
            ConfigKind::Strategy => "strategy",
        }
    }

    pub(crate) async fn list(
        self,
        state: &AppState,
        application: &str,
    ) -> Result<Vec<PipelineConfig>, ApiError> {
        Ok(match self {
            ConfigKind::Pipeline => state.store.list_pipelines(application).await?,
            ConfigKind::Strategy => state.store.list_strategies(application).await?,
        })
    }

    pub(crate) async fn application_of(
        self,
        state: &AppState,
        id: &str,
    ) -> Result<Option<String>, ApiError> {
        Ok(match self {
            ConfigKind::Pipeline => state.store.find_pipeline_application(id).await?,
            ConfigKind::Strategy => state.store.find_strategy_application(id).await?,
        })
    }

    pub(crate) async fn history(
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

    pub(crate) async fn delete(
        self,
        state: &AppState,
        application: &str,
        id: &str,
    ) -> Result<bool, ApiError> {
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
        config = with_managed_service_account(config);
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

/// A pipeline with `roles` runs its triggers as its managed service account (Orca's
/// `SavePipelineTask`); its id, which names the account, is assigned here when new.
fn with_managed_service_account(config: PipelineConfig) -> PipelineConfig {
    let mut document = config.document().clone();
    let has_roles =
        !gennaker_auth::service_accounts::pipeline_roles(document.get("roles")).is_empty();
    let id = match config.id() {
        Some(id) => id.to_string(),
        None if has_roles => {
            let id = uuid::Uuid::new_v4().to_string();
            document.insert("id".into(), Value::String(id.clone()));
            id
        }
        None => return config,
    };
    gennaker_auth::service_accounts::apply_managed_service_account(&mut document, &id);
    PipelineConfig::from_value(Value::Object(document)).unwrap_or(config)
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

pub(crate) fn short(value: &Value) -> String {
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

pub(crate) fn parse_config(body: &Bytes) -> Result<PipelineConfig, ApiError> {
    PipelineConfig::from_value(Value::Object(json_object(body, false)?))
        .map_err(ApiError::bad_request)
}

pub(crate) fn is_true(flag: Option<&str>) -> bool {
    flag.is_some_and(|flag| flag.trim().eq_ignore_ascii_case("true"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleCheckQuery {
    #[serde(default)]
    pub(crate) stale_check: Option<String>,
}

pub(crate) async fn update(
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
    Ok(Json(shown(stored)))
}

pub(crate) async fn delete_by_name(
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

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

impl HistoryQuery {
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
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

pub(crate) async fn history(
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
        revisions.into_iter().map(shown).collect(),
    )))
}

/// A config as every read shows it: trigger secrets dropped, `secretSet` where one is set
/// (see `gennaker_model::secrets`).
pub(crate) fn shown(mut config: PipelineConfig) -> Value {
    redact_secrets(&mut config);
    config.into_value()
}

/// Configs as Gate lists them.
pub(crate) fn config_list(configs: Vec<PipelineConfig>) -> Json<Value> {
    Json(Value::Array(configs.into_iter().map(shown).collect()))
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
        .map(|config| Json(shown(config)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{kind} config (id: {name}) not found for Application (id: {application})"
            ))
        })
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
