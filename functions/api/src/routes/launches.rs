//! Starting executions the ways Deck and scripts do besides `POST /pipelines/{app}/{name}`:
//! through Echo (`POST /pipelines/v2/...`, answering before the execution runs) and ad hoc
//! (`POST /pipelines/start`, a whole config in the body).
//!
//! Gate hands a v2 trigger to Echo and answers 202 with the ids it generated before the
//! execution exists. Here the API writes the execution under the id it answers with and
//! starts its state machine (named after the id, so a repeated start is refused by Step
//! Functions): by the time a client polls `GET /pipelines/{id}` the execution is there.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::application::application_name_problem;
use gennaker_model::json::now_millis;
use gennaker_model::launch::{Caller, build_execution, resolve_trigger};
use gennaker_model::validation::validate_pipeline;
use gennaker_model::{Execution, PipelineConfig, new_id};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::caller;
use crate::routes::pipeline_configs::resolve;

/// `POST /pipelines/v2/{application}/{pipelineNameOrId}`: 202
/// `{"eventId": "<uuid>", "ref": "/pipelines/<executionId>"}`. The trigger gets `eventId`
/// and `executionId`, as Gate sets them. A disabled pipeline is still answered 202: its
/// execution is recorded TERMINAL ("Failed on startup"), which is what Deck then shows. A
/// pipeline with stages Gennaker cannot run is recorded so too, but answered 400 naming
/// them: the person who pressed "Start" learns at once what keeps it from running.
pub async fn trigger_via_echo(
    State(state): State<AppState>,
    Path((application, name_or_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut supplied = json_object(&body, true)?;
    let config = resolve(&state, &application, &name_or_id).await?;
    let event_id = uuid::Uuid::new_v4().to_string();
    let execution_id = new_id();
    supplied.insert("eventId".to_string(), Value::String(event_id.clone()));
    supplied.insert(
        "executionId".to_string(),
        Value::String(execution_id.clone()),
    );
    let execution = prepare(&state, &config, execution_id.clone(), supplied, &headers)?;
    if config.is_disabled() {
        record_refused_start(
            &state,
            execution,
            "Pipeline is disabled and cannot be started.",
        )
        .await?;
    } else {
        refuse_if_unrunnable(&state, &execution).await?;
        start(&state, &execution).await?;
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "eventId": event_id, "ref": format!("/pipelines/{execution_id}") })),
    ))
}

/// `POST /pipelines/start`: runs the config in the body (`application` required; `trigger`
/// optional, manual by default) without saving it. 200 `{"ref": "/pipelines/<id>"}`.
pub async fn start_ad_hoc(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut document = json_object(&body, false)?;
    let trigger = match document.remove("trigger") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(trigger)) => trigger,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "trigger",
                "trigger must be a JSON object",
            ));
        }
    };
    let config =
        PipelineConfig::from_value(Value::Object(document)).map_err(ApiError::bad_request)?;
    if let Some(problem) = config.application().and_then(application_name_problem) {
        return Err(ApiError::invalid_field("application", problem));
    }
    validate_pipeline(&config, &[]).map_err(ApiError::invalid)?;
    if config.is_disabled() {
        return Err(ApiError::bad_request(
            "Pipeline is disabled and cannot be started.",
        ));
    }
    let execution = prepare(&state, &config, new_id(), trigger, &headers)?;
    if let Some(reason) = state.launcher.refusal(&execution) {
        return Err(ApiError::bad_request(reason));
    }
    start(&state, &execution).await?;
    Ok(Json(
        json!({ "ref": format!("/pipelines/{}", execution.id) }),
    ))
}

/// Completes the trigger and builds the NOT_STARTED execution, with the caller's identity
/// and, as its `authentication.allowedAccounts`, the accounts the caller may WRITE now.
pub(crate) fn prepare(
    state: &AppState,
    config: &PipelineConfig,
    execution_id: String,
    supplied: Map<String, Value>,
    headers: &HeaderMap,
) -> Result<Execution, ApiError> {
    let caller = Caller {
        allowed_accounts: crate::routes::credentials::allowed_accounts(state, headers),
        ..caller(headers)
    };
    prepare_as(config, execution_id, supplied, &caller)
}

/// Completes the trigger and builds the NOT_STARTED execution started by `caller`.
pub(crate) fn prepare_as(
    config: &PipelineConfig,
    execution_id: String,
    supplied: Map<String, Value>,
    caller: &Caller,
) -> Result<Execution, ApiError> {
    let trigger = resolve_trigger(config, supplied, caller).map_err(|missing| {
        ApiError::invalid_field(&format!("parameters.{}", missing.0), missing.to_string())
    })?;
    Ok(build_execution(
        config,
        execution_id,
        trigger,
        caller,
        now_millis(),
        new_id,
    ))
}

/// Writes the execution and starts its pipeline state machine.
pub(crate) async fn start(state: &AppState, execution: &Execution) -> Result<(), ApiError> {
    state.launcher.launch(execution).await?;
    Ok(())
}

/// A manual start of a pipeline with stages Gennaker cannot run (and that may be enabled)
/// is refused before anything runs: recorded TERMINAL, as Orca records a failed start, and
/// answered 400 naming every such stage.
pub(crate) async fn refuse_if_unrunnable(
    state: &AppState,
    execution: &Execution,
) -> Result<(), ApiError> {
    let Some(reason) = state.launcher.refusal(execution) else {
        return Ok(());
    };
    record_refused_start(state, execution.clone(), &reason).await?;
    Err(ApiError::bad_request(reason))
}

/// Orca records a start it refuses as a TERMINAL, system-canceled execution.
pub(crate) async fn record_refused_start(
    state: &AppState,
    execution: Execution,
    reason: &str,
) -> Result<(), ApiError> {
    Ok(state
        .launcher
        .record_refused(execution, reason, now_millis())
        .await?)
}
