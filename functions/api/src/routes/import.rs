//! `POST /pipelines/import`: a migration in one request. Takes the pipeline configs another
//! Spinnaker exported (`spin pipeline get`, Deck's "Edit as JSON": ids, indexes, `updateTs`
//! and all), saves each through the same checks as `POST /pipelines`, and reports each as
//! saved, saved with stages Gennaker cannot run yet, or refused and why.
//!
//! Importing again updates instead of failing on the names: a config whose name is taken
//! in the target application takes that pipeline's id. Ids are kept otherwise, so pipeline
//! triggers and pipeline stages, which name their pipeline by id, still point at it; an id
//! another application already uses is dropped and a new one assigned.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use gennaker_model::PipelineConfig;
use gennaker_model::compatibility::{UnrunnableStage, unrunnable_stages};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::configs::{ConfigKind, save_checked};

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    application: Option<String>,
}

/// What became of one submitted config.
enum Outcome {
    Saved(PipelineConfig, Vec<UnrunnableStage>),
    Refused(ApiError),
}

/// `POST /pipelines/import[?application=]`: body a JSON array of pipeline configs.
pub async fn import_pipelines(
    State(state): State<AppState>,
    Query(query): Query<ImportQuery>,
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
    let target = query
        .application
        .as_deref()
        .map(str::trim)
        .filter(|application| !application.is_empty());
    let user = user_name(&headers);
    let mut names_by_application: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut results = Vec::new();
    for (position, submitted) in configs.into_iter().enumerate() {
        let outcome = match PipelineConfig::from_value(submitted.clone()) {
            Ok(mut config) => {
                if let Some(application) = target {
                    config.set("application", Value::String(application.to_string()));
                }
                let note = assign_id(&state, &mut config, &mut names_by_application).await?;
                match save_checked(&state, ConfigKind::Pipeline, config, false, &user).await {
                    Ok(saved) => {
                        remember(&mut names_by_application, &saved);
                        let stages =
                            unrunnable_stages(&saved, state.launcher.preconfigured_webhooks());
                        (Outcome::Saved(saved, stages), note)
                    }
                    Err(error) if error.status.is_client_error() => (Outcome::Refused(error), note),
                    Err(error) => return Err(error),
                }
            }
            Err(reason) => (
                Outcome::Refused(ApiError::invalid_field(&format!("[{position}]"), reason)),
                None,
            ),
        };
        results.push(report(position, &submitted, outcome));
    }
    let count = |outcome: &str| {
        results
            .iter()
            .filter(|result| result["outcome"] == outcome)
            .count()
    };
    Ok(Json(json!({
        "saved": count("saved"),
        "savedCannotRun": count("saved_cannot_run"),
        "refused": count("refused"),
        "pipelines": results,
    })))
}

/// Gives `config` the id of the same-named pipeline of its application, if any; otherwise
/// drops a submitted id another application uses. Returns a note when it dropped one.
async fn assign_id(
    state: &AppState,
    config: &mut PipelineConfig,
    names_by_application: &mut HashMap<String, HashMap<String, String>>,
) -> Result<Option<String>, ApiError> {
    let Some(application) = config
        .application()
        .map(str::trim)
        .filter(|application| !application.is_empty())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    if !names_by_application.contains_key(&application) {
        let stored = state.store.list_pipelines(&application).await?;
        let names = stored
            .iter()
            .filter_map(|config| Some((name_key(config.name()?), config.id()?.to_string())))
            .collect();
        names_by_application.insert(application.clone(), names);
    }
    let same_name = config
        .name()
        .map(name_key)
        .and_then(|name| names_by_application[&application].get(&name).cloned());
    if let Some(id) = same_name {
        config.set("id", Value::String(id));
        return Ok(None);
    }
    let Some(id) = config.id().map(str::to_string) else {
        return Ok(None);
    };
    match state.store.find_pipeline_application(&id).await? {
        Some(owner) if owner != application => {
            config.set("id", Value::Null);
            Ok(Some(format!(
                "id '{id}' belongs to a pipeline of application {owner}; saved under a new id"
            )))
        }
        _ => Ok(None),
    }
}

fn remember(
    names_by_application: &mut HashMap<String, HashMap<String, String>>,
    saved: &PipelineConfig,
) {
    if let (Some(application), Some(name), Some(id)) =
        (saved.application(), saved.name(), saved.id())
    {
        names_by_application
            .entry(application.trim().to_string())
            .or_default()
            .insert(name_key(name), id.to_string());
    }
}

/// Front50 compares pipeline names trimmed and case-insensitively.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn report(position: usize, submitted: &Value, outcome: (Outcome, Option<String>)) -> Value {
    let (outcome, note) = outcome;
    let submitted_name = submitted
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("[{position}]"));
    let mut result = Map::new();
    result.insert("position".into(), json!(position));
    result.insert("name".into(), json!(submitted_name));
    let line = match outcome {
        Outcome::Saved(saved, stages) => {
            result.insert("id".into(), json!(saved.id()));
            result.insert("application".into(), json!(saved.application()));
            let line = if stages.is_empty() {
                result.insert("outcome".into(), json!("saved"));
                format!("{submitted_name}: saved")
            } else {
                result.insert("outcome".into(), json!("saved_cannot_run"));
                let listed: Vec<String> = stages.iter().map(UnrunnableStage::describe).collect();
                format!(
                    "{submitted_name}: saved, cannot run yet: {}",
                    listed.join(", ")
                )
            };
            result.insert("unrunnableStages".into(), json!(stages));
            line
        }
        Outcome::Refused(error) => {
            result.insert("outcome".into(), json!("refused"));
            result.insert("errors".into(), json!(error.details));
            format!("{submitted_name}: refused: {}", error.message)
        }
    };
    let line = match note {
        Some(note) => format!("{line} ({note})"),
        None => line,
    };
    result.insert("line".into(), json!(line));
    Value::Object(result)
}
