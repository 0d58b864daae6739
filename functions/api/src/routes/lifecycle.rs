//! What users do to running executions — cancel, pause, resume, restart a stage, delete —
//! and `GET /executions`.
//!
//! Cancel, pause, resume and restart are not judged here. Each reaches the orchestrator as a
//! message in the execution's FIFO message group, so they are applied one at a time in the
//! order this API acknowledged them, and the orchestrator judges each one against the state
//! the execution has after everything acknowledged before it (Orca's handlers likewise ignore
//! an operation that does not fit: `RestartStageHandler` a stage that still runs,
//! `CompoundExecutionOperator` a pause of an execution that is not RUNNING). Judging here,
//! from the stored state, would refuse or drop an operation that an earlier, still-queued
//! one makes valid (a cancel right after a restart of a finished execution, a resume right
//! after a pause). The API only checks what no queued operation can change: that the
//! execution exists and is a pipeline, and that the stage is one of its stages.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::json::now_millis;
use gennaker_model::listing::{newest_per_config, sort_for_listing};
use gennaker_model::{Execution, ExecutionType, new_id};
use gennaker_protocol::OrchestrationMessage;
use serde::Deserialize;

use crate::AppState;
use crate::access::Access;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::load_execution_of_kind;

#[derive(Debug, Deserialize)]
pub struct CancelQuery {
    reason: Option<String>,
}

/// `PUT /pipelines/{id}/cancel?reason=`: 200 with an empty body; the execution becomes
/// CANCELED once the orchestrator has stopped its stages (clients poll). Canceling an
/// execution that has finished by then changes nothing (Gate answers 200 too).
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<CancelQuery>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let message = OrchestrationMessage::CancelExecution {
        execution_id: id.clone(),
        user: user_name(&headers),
        reason: query.reason,
        operation_id: Some(new_id()),
    };
    forward(&state, &id, message).await
}

/// `PUT /applications/{application}/pipelines/{id}/cancel` (deprecated; the application
/// segment is ignored, as in Gate).
pub async fn cancel_for_application(
    State(state): State<AppState>,
    Path((_application, id)): Path<(String, String)>,
    query: Query<CancelQuery>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    cancel(State(state), Path(id), query, headers).await
}

/// `PUT /pipelines/{id}/pause`: only a RUNNING execution pauses; otherwise, as in Spinnaker,
/// the call succeeds and nothing changes.
pub async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let message = OrchestrationMessage::PauseExecution {
        execution_id: id.clone(),
        user: user_name(&headers),
        operation_id: Some(new_id()),
    };
    forward(&state, &id, message).await
}

/// `PUT /pipelines/{id}/resume`: only a PAUSED execution resumes; otherwise a no-op.
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let message = OrchestrationMessage::ResumeExecution {
        execution_id: id.clone(),
        user: user_name(&headers),
        operation_id: Some(new_id()),
    };
    forward(&state, &id, message).await
}

/// Hands an operation on an existing pipeline execution to the orchestrator (see the
/// module documentation).
async fn forward(
    state: &AppState,
    id: &str,
    message: OrchestrationMessage,
) -> Result<StatusCode, ApiError> {
    load_execution_of_kind(state, id, ExecutionType::Pipeline).await?;
    send(state, id, &message).await?;
    Ok(StatusCode::OK)
}

/// `PUT /pipelines/{id}/stages/{stageId}/restart`: the stage and every completed stage
/// downstream of it run again. Answers the execution as it is now (the restart follows). As
/// in Orca, a stage that is still running when the restart is applied is left alone, and so
/// is a paused or not yet started execution.
pub async fn restart_stage(
    State(state): State<AppState>,
    Path((id, stage_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Execution>, ApiError> {
    let execution = load_execution_of_kind(&state, &id, ExecutionType::Pipeline)
        .await?
        .execution;
    if execution.stage(&stage_id).is_none() {
        return Err(ApiError::not_found(format!(
            "Stage not found (id: {stage_id}) in pipeline {id}"
        )));
    }
    let message = OrchestrationMessage::RestartStage {
        execution_id: id.clone(),
        stage_id: stage_id.clone(),
        user: user_name(&headers),
        operation_id: Some(new_id()),
    };
    send(&state, &id, &message).await?;
    Ok(Json(execution))
}

/// `DELETE /pipelines/{id}`: only a finished execution can be deleted.
pub async fn delete_execution(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let stored = load_execution_of_kind(&state, &id, ExecutionType::Pipeline).await?;
    if !stored.execution.status.is_complete() {
        return Err(ApiError::bad_request(format!(
            "Execution {id} is {}; only a finished execution can be deleted (cancel it first)",
            stored.execution.status
        )));
    }
    state.store.delete_execution(&stored).await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionsQuery {
    pipeline_config_ids: Option<String>,
    execution_ids: Option<String>,
    limit: Option<usize>,
    statuses: Option<String>,
    expand: Option<bool>,
}

/// Most executions one `pipelineConfigIds` listing reads per config before applying the
/// 14-day rule.
const READ_PER_CONFIG_CAP: usize = 100;

/// `GET /executions?pipelineConfigIds=|executionIds=&limit=&statuses=&expand=` (Gate's `ExecutionsController`).
pub async fn list_executions(
    State(state): State<AppState>,
    access: Access,
    Query(query): Query<ExecutionsQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let config_ids = csv(query.pipeline_config_ids.as_deref());
    let execution_ids = csv(query.execution_ids.as_deref());
    let executions = match (config_ids.is_empty(), execution_ids.is_empty()) {
        (true, true) => vec![],
        (false, false) => {
            return Err(ApiError::bad_request(
                "Only pipelineConfigIds OR executionIds can be specified",
            ));
        }
        (true, false) => by_execution_ids(&state, &execution_ids).await?,
        (false, true) => by_config_ids(&state, &config_ids, &query).await?,
    };
    // Executions of applications the caller may not READ are left out, never shown.
    let mut executions = access
        .readable(executions, |execution| Some(execution.application.clone()))
        .await?;
    if query.expand == Some(false) {
        executions
            .iter_mut()
            .for_each(crate::routes::executions::trim_for_list_view);
    }
    Ok(Json(executions))
}

async fn by_execution_ids(state: &AppState, ids: &[&str]) -> Result<Vec<Execution>, ApiError> {
    let mut found = Vec::new();
    for id in ids {
        if let Some(stored) = state.store.load_execution(id).await? {
            found.push(stored.execution);
        }
    }
    Ok(found)
}

async fn by_config_ids(
    state: &AppState,
    ids: &[&str],
    query: &ExecutionsQuery,
) -> Result<Vec<Execution>, ApiError> {
    let statuses = crate::routes::executions::parse_statuses(query.statuses.as_deref())?;
    let limit = query.limit.unwrap_or(1);
    let mut kept = Vec::new();
    for id in ids {
        let newest_first = state
            .store
            .list_executions_for_pipeline_config(
                id,
                READ_PER_CONFIG_CAP.max(limit),
                statuses.as_deref(),
            )
            .await?;
        kept.extend(newest_per_config(newest_first, limit, now_millis()));
    }
    sort_for_listing(&mut kept);
    Ok(kept)
}

fn csv(value: Option<&str>) -> Vec<&str> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect()
}

/// Sends `message` in the execution's message group of the orchestration FIFO queue.
pub(crate) async fn send(
    state: &AppState,
    id: &str,
    message: &OrchestrationMessage,
) -> Result<(), ApiError> {
    state
        .orchestration_queue
        .send(id, message)
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not reach the orchestrator");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        })
}
