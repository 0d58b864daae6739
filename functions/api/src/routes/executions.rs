//! Pipeline executions: trigger, read, list, and patch a stage (manual judgment).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::json::now_millis;
use gennaker_model::judgment::Judgment;
use gennaker_model::{Execution, ExecutionStatus, ExecutionType, StageExecution, new_id};
use gennaker_protocol::{Answer, OrchestrationMessage};
use gennaker_store::StoreError;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::launches::{prepare, record_refused_start, refuse_if_unrunnable, start};
use crate::routes::load_execution_of_kind;
use crate::routes::pipeline_configs::resolve;

/// `POST /pipelines/{application}/{nameOrId}`: 202 `{"ref": "/pipelines/<id>"}`.
pub async fn trigger(
    State(state): State<AppState>,
    Path((application, name_or_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let supplied = json_object(&body, true)?;
    let config = resolve(&state, &application, &name_or_id).await?;
    let execution = prepare(&state, &config, new_id(), supplied, &headers)?;
    if config.is_disabled() {
        record_refused_start(
            &state,
            execution,
            "Pipeline is disabled and cannot be started.",
        )
        .await?;
        return Err(ApiError::bad_request(format!(
            "Pipeline '{}' is disabled and cannot be started",
            config.name().unwrap_or_default()
        )));
    }
    refuse_if_unrunnable(&state, &execution).await?;
    start(&state, &execution).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "ref": format!("/pipelines/{}", execution.id) })),
    ))
}

/// `GET /pipelines/{id}`
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(
        load_execution_of_kind(&state, &id, ExecutionType::Pipeline)
            .await?
            .execution,
    ))
}

pub(crate) fn parse_statuses(csv: Option<&str>) -> Result<Option<Vec<ExecutionStatus>>, ApiError> {
    let Some(csv) = csv.filter(|csv| !csv.trim().is_empty()) else {
        return Ok(None);
    };
    csv.split(',')
        .map(|status| {
            status
                .parse::<ExecutionStatus>()
                .map_err(|reason| ApiError::invalid_field("statuses", reason))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `expand=false`: Deck's list view gets stage contexts reduced to `{group}`, no outputs, no tasks.
pub(crate) fn trim_for_list_view(execution: &mut Execution) {
    for stage in &mut execution.stages {
        let group = stage.context.get("group").cloned();
        stage.context = Map::new();
        if let Some(group) = group {
            stage.context.insert("group".to_string(), group);
        }
        stage.outputs = Map::new();
        stage.tasks = vec![];
    }
    if let Some(Value::Object(parent)) = execution.trigger.get_mut("parentExecution") {
        parent.insert("stages".to_string(), json!([]));
    }
}

/// How often a stage patch retries after losing a race with the orchestrator.
const PATCH_RETRIES: usize = 5;

/// `PATCH /pipelines/{id}/stages/{stageId}`: merges the body into the stage context. A body
/// with `judgmentStatus` judges a waiting manual judgment stage.
pub async fn patch_stage(
    State(state): State<AppState>,
    Path((id, stage_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Execution>, ApiError> {
    let patch = json_object(&body, false)?;
    let judgment = parse_judgment(&patch)?;
    let user = user_name(&headers);
    for _ in 0..PATCH_RETRIES {
        let stored = load_execution_of_kind(&state, &id, ExecutionType::Pipeline).await?;
        let mut execution = stored.execution.clone();
        let stage = execution.stage_mut(&stage_id).ok_or_else(|| {
            ApiError::not_found(format!("Stage not found (id: {stage_id}) in pipeline {id}"))
        })?;
        let attempt = stage.attempt;
        if let Some(judgment) = judgment
            && check_judgment(stage, judgment)? == JudgmentCheck::AlreadyRecorded
        {
            // Answered and reported again in case the first request failed half-way; an
            // answered token or a report of a finished attempt changes nothing.
            let token = stored.stage_task_token(&stage_id).map(str::to_string);
            answer_judgment(&state, &id, &stage_id, attempt, judgment, token).await?;
            return Ok(Json(execution));
        }
        apply_patch(stage, &patch, &user);
        let version = stored.stage_version(&stage_id).unwrap_or_default();
        match state.store.update_stage(&id, stage, version).await {
            Ok(parked_token) => {
                if let Some(judgment) = judgment {
                    answer_judgment(&state, &id, &stage_id, attempt, judgment, parked_token)
                        .await?;
                }
                return Ok(Json(execution));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!("stage {stage_id} kept changing; retry the request"),
    ))
}

/// Ends the judged attempt: answers its task token if the worker parked it already (else
/// the worker answers when it parks and finds the judgment), and reports the attempt's end
/// to the orchestrator at once, in the execution's message group. The stage machine reports
/// the same a moment later, but only this report keeps the order the client saw: an
/// operation acknowledged after this answer (a restart of the judged stage, a cancel) is
/// queued behind it, and one acknowledged before it is applied before it. The later
/// report of the same attempt is ignored by the orchestrator.
async fn answer_judgment(
    state: &AppState,
    execution_id: &str,
    stage_id: &str,
    attempt: u32,
    judgment: Judgment,
    parked_token: Option<String>,
) -> Result<(), ApiError> {
    if let Some(token) = parked_token {
        state
            .step_functions
            .send_task_success(&token, &judgment.worker_answer())
            .await?;
    }
    let report = OrchestrationMessage::StageFinished {
        execution_id: execution_id.to_string(),
        stage_id: stage_id.to_string(),
        attempt,
        result: Answer::finished(judgment.stage_status(), Map::new(), Map::new()),
    };
    crate::routes::lifecycle::send(state, execution_id, &report).await
}

fn parse_judgment(patch: &Map<String, Value>) -> Result<Option<Judgment>, ApiError> {
    match patch.get("judgmentStatus") {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .and_then(Judgment::parse)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "judgmentStatus",
                    format!("must be \"continue\" or \"stop\", got {value}"),
                )
            }),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum JudgmentCheck {
    /// The stage waits for a judgment: record this one.
    Awaiting,
    /// The same judgment was recorded already (the request was repeated): nothing to do.
    AlreadyRecorded,
}

/// The first judgment of a stage attempt decides it: a repeat of it is accepted and changes
/// nothing, a different one is refused (two judges answering at once must not leave the
/// stage's recorded `judgmentStatus` contradicting its outcome). A restart forgets the
/// judgment, so the new attempt takes a new one.
fn check_judgment(stage: &StageExecution, judgment: Judgment) -> Result<JudgmentCheck, ApiError> {
    check_judgment_stage(stage)?;
    match Judgment::from_context(&stage.context) {
        Some(recorded) if recorded == judgment => Ok(JudgmentCheck::AlreadyRecorded),
        Some(_) => Err(ApiError::invalid_field(
            "judgmentStatus",
            format!(
                "stage {} ({}) was already judged: {}",
                stage.id, stage.name, stage.context["judgmentStatus"]
            ),
        )),
        None => check_awaiting_judgment(stage).map(|()| JudgmentCheck::Awaiting),
    }
}

fn check_judgment_stage(stage: &StageExecution) -> Result<(), ApiError> {
    if stage.stage_type != "manualJudgment" {
        return Err(ApiError::invalid_field(
            "judgmentStatus",
            format!(
                "stage {} ({}) is a {} stage, not a manual judgment",
                stage.id, stage.name, stage.stage_type
            ),
        ));
    }
    Ok(())
}

fn check_awaiting_judgment(stage: &StageExecution) -> Result<(), ApiError> {
    // A judgment may be given while the execution is paused; it takes effect on resume.
    if !matches!(
        stage.status,
        ExecutionStatus::Running | ExecutionStatus::Paused
    ) {
        return Err(ApiError::invalid_field(
            "judgmentStatus",
            format!(
                "stage {} ({}) is not waiting for a judgment: its status is {}",
                stage.id, stage.name, stage.status
            ),
        ));
    }
    Ok(())
}

fn apply_patch(stage: &mut StageExecution, patch: &Map<String, Value>, user: &str) {
    stage.context.extend(patch.clone());
    stage.context.insert(
        "lastModifiedBy".to_string(),
        Value::String(user.to_string()),
    );
    stage.last_modified =
        Some(json!({ "user": user, "allowedAccounts": [], "lastModifiedTime": now_millis() }));
}
