//! Orchestration task reads and housekeeping (Gate's TaskController over Orca), and the
//! application history Front50 keeps.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::{ExecutionStatus, ExecutionType};
use gennaker_store::{ExecutionFilter, StoreError};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::executions::parse_statuses;
use crate::routes::load_execution_of_kind;
use crate::routes::tasks::view_model;

/// Orca's default page size for an application's tasks.
const DEFAULT_TASK_LIMIT: usize = 3500;
const MAX_PAGE: usize = 10_000;
const DEFAULT_HISTORY_LIMIT: usize = 20;
const MAX_HISTORY_LIMIT: usize = 1000;
/// How often a cancel retries after losing a race.
const CANCEL_RETRIES: usize = 5;

#[derive(Debug, Deserialize)]
pub struct TaskListQuery {
    page: Option<usize>,
    limit: Option<usize>,
    statuses: Option<String>,
}

/// `GET /applications/{application}/tasks?page=&limit=&statuses=`: the application's
/// orchestration tasks, newest first, `limit` per page (pages count from 1).
pub async fn list_for_application(
    State(state): State<AppState>,
    Path(application): Path<String>,
    Query(query): Query<TaskListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let page = query.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::invalid_field(
            "page",
            format!("page counts from 1 to {MAX_PAGE}, got {page}"),
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_TASK_LIMIT);
    if !(1..=DEFAULT_TASK_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("limit must be between 1 and {DEFAULT_TASK_LIMIT}, got {limit}"),
        ));
    }
    let filter = ExecutionFilter {
        statuses: parse_statuses(query.statuses.as_deref())?,
        skip: (page - 1).saturating_mul(limit),
        limit,
        ..ExecutionFilter::default()
    };
    let tasks = state
        .store
        .find_executions_of_type(
            &application.to_lowercase(),
            ExecutionType::Orchestration,
            &filter,
        )
        .await?;
    Ok(Json(tasks.iter().map(view_model).collect()))
}

#[derive(Debug, Deserialize)]
pub struct CancelQuery {
    ids: Option<String>,
}

/// `PUT /tasks/{id}/cancel`: records the cancellation, as Orca does (a task that has not
/// started becomes CANCELED; a finished one keeps its status). 200, empty body.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    cancel_one(&state, &id, &user_name(&headers)).await?;
    Ok(StatusCode::OK)
}

/// `PUT /tasks/cancel?ids=a,b`: cancels each known task; unknown ids are skipped.
pub async fn cancel_many(
    State(state): State<AppState>,
    Query(query): Query<CancelQuery>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let user = user_name(&headers);
    let ids = query.ids.unwrap_or_default();
    for id in ids.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        match cancel_one(&state, id, &user).await {
            Ok(()) => {}
            Err(error) if error.status == StatusCode::NOT_FOUND => {}
            Err(error) => return Err(error),
        }
    }
    Ok(StatusCode::OK)
}

async fn cancel_one(state: &AppState, id: &str, user: &str) -> Result<(), ApiError> {
    for _ in 0..CANCEL_RETRIES {
        let stored = load_execution_of_kind(state, id, ExecutionType::Orchestration).await?;
        if stored.execution.canceled {
            return Ok(());
        }
        let mut execution = stored.execution.clone();
        execution.canceled = true;
        execution.canceled_by = Some(user.to_string());
        if execution.status == ExecutionStatus::NotStarted {
            execution.status = ExecutionStatus::Canceled;
        }
        match state.store.save_execution(&stored, &execution).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!("task {id} kept changing; retry the request"),
    ))
}

/// `DELETE /tasks/{id}`: only a finished task can be deleted. 200, empty body.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let stored = load_execution_of_kind(&state, &id, ExecutionType::Orchestration).await?;
    if !stored.execution.status.is_complete() {
        return Err(ApiError::bad_request(format!(
            "Task {id} is {} and cannot be deleted until it has finished",
            stored.execution.status
        )));
    }
    state.store.delete_execution(&stored).await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

/// `GET /applications/{application}/history?limit=20`: the application's saved revisions,
/// newest first (empty for an unknown application).
pub async fn application_history(
    State(state): State<AppState>,
    Path(application): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
    if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("limit must be between 1 and {MAX_HISTORY_LIMIT}, got {limit}"),
        ));
    }
    let name = application.to_lowercase();
    if name.len() > 250 {
        return Ok(Json(vec![]));
    }
    let revisions = state.store.application_history(&name, limit).await?;
    Ok(Json(revisions.into_iter().map(Value::Object).collect()))
}
