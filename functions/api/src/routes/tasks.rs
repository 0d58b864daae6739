//! Orchestration tasks (`POST /tasks`): application create/update/delete, run as
//! ORCHESTRATION executions so clients can poll `GET /tasks/{id}` as with Orca.
//!
//! Each job is a single DynamoDB write, so the API runs it inline and records the finished
//! execution; there is nothing for a state machine to wait on.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use gennaker_model::application::{application_name_problem, normalize_application};
use gennaker_model::json::{now_millis, str_field};
use gennaker_model::{
    Authentication, Execution, ExecutionStatus, ExecutionType, StageExecution, TaskExecution,
    new_id,
};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::{caller, user_name};
use crate::routes::load_execution_of_kind;

const APPLICATION_JOBS: [&str; 4] = [
    "createApplication",
    "updateApplication",
    "upsertApplication",
    "deleteApplication",
];

/// `POST /tasks`
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = json_object(&body, false)?;
    run_task(&state, &headers, request).await
}

/// `POST /applications/{application}/tasks`: the path names the application.
pub async fn create_for_application(
    State(state): State<AppState>,
    Path(application): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut request = json_object(&body, false)?;
    request.insert("application".to_string(), Value::String(application));
    run_task(&state, &headers, request).await
}

/// `GET /tasks/{id}`: Orca's orchestration view model.
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let execution = load_execution_of_kind(&state, &id, ExecutionType::Orchestration)
        .await?
        .execution;
    Ok(Json(view_model(&execution)))
}

/// `GET /applications/{application}/tasks/{id}`
pub async fn get_one_for_application(
    State(state): State<AppState>,
    Path((_application, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    get_one(State(state), Path(id)).await
}

/// A job validated before anything is written.
struct Job {
    job_type: String,
    application: Map<String, Value>,
    fields: Map<String, Value>,
}

async fn run_task(
    state: &AppState,
    headers: &HeaderMap,
    request: Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let jobs = parse_jobs(&request)?;
    let user = user_name(headers);
    let now = now_millis();
    let mut execution = orchestration(&request, &jobs, headers, now);
    for (job, stage) in jobs.iter().zip(execution.stages.iter_mut()) {
        run_job(state, job, stage, &user).await;
        if stage.status != ExecutionStatus::Succeeded {
            break;
        }
    }
    finish(&mut execution);
    state
        .store
        .create_execution(&execution, state.execution_ttl_seconds)
        .await?;
    Ok(Json(json!({ "ref": format!("/tasks/{}", execution.id) })))
}

fn parse_jobs(request: &Map<String, Value>) -> Result<Vec<Job>, ApiError> {
    let jobs = request
        .get("job")
        .and_then(Value::as_array)
        .filter(|jobs| !jobs.is_empty())
        .ok_or_else(|| ApiError::invalid_field("job", "a task needs a non-empty 'job' array"))?;
    jobs.iter()
        .enumerate()
        .map(|(index, job)| parse_job(index, job))
        .collect()
}

fn parse_job(index: usize, job: &Value) -> Result<Job, ApiError> {
    let field = |name: &str| format!("job[{index}].{name}");
    let job = job.as_object().ok_or_else(|| {
        ApiError::invalid_field(&format!("job[{index}]"), "each job must be a JSON object")
    })?;
    let job_type = str_field(job, "type").unwrap_or_default();
    if !APPLICATION_JOBS.contains(&job_type) {
        return Err(ApiError::invalid_field(
            &field("type"),
            format!(
                "unsupported job type '{job_type}'; supported: {}",
                APPLICATION_JOBS.join(", ")
            ),
        ));
    }
    let application = job
        .get("application")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::invalid_field(
                &field("application"),
                "the job needs an 'application' object",
            )
        })?;
    let name = str_field(application, "name").unwrap_or_default();
    if let Some(problem) = application_name_problem(name) {
        return Err(ApiError::invalid_field(&field("application.name"), problem));
    }
    let mut application = normalize_application(application.clone());
    if let Some(permissions) = application.get("permissions") {
        // Front50 keeps permissions as READ/WRITE/EXECUTE/CREATE → role lists; roles are
        // compared trimmed and lower-cased, so they are stored so.
        let permissions = gennaker_auth::Permissions::parse(
            Some(permissions),
            &field("application.permissions"),
            &gennaker_auth::Authorization::ALL,
        )
        .map_err(|error| ApiError::invalid_field(&error.field, error.message))?;
        application.insert(
            "permissions".to_string(),
            permissions.to_json(&gennaker_auth::Authorization::ALL),
        );
    }
    Ok(Job {
        job_type: job_type.to_string(),
        application,
        fields: job.clone(),
    })
}

fn orchestration(
    request: &Map<String, Value>,
    jobs: &[Job],
    headers: &HeaderMap,
    now: i64,
) -> Execution {
    let caller = caller(headers);
    let application = jobs[0]
        .application
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let description = str_field(request, "description")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} {application}", jobs[0].job_type));
    let stages = jobs
        .iter()
        .enumerate()
        .map(|(index, job)| job_stage(index, job, now))
        .collect();
    Execution {
        execution_type: ExecutionType::Orchestration,
        id: new_id(),
        application,
        name: None,
        description: Some(description),
        pipeline_config_id: None,
        status: ExecutionStatus::Running,
        build_time: Some(now),
        start_time: Some(now),
        end_time: None,
        start_time_expiry: None,
        canceled: false,
        canceled_by: None,
        cancellation_reason: None,
        limit_concurrent: false,
        max_concurrent_executions: 0,
        keep_waiting_pipelines: false,
        origin: Some(caller.origin.unwrap_or_else(|| "unknown".to_string())),
        authentication: Authentication {
            user: caller.user,
            allowed_accounts: vec![],
        },
        paused: None,
        notifications: vec![],
        initial_config: Map::new(),
        system_notifications: vec![],
        spel_evaluator: None,
        trigger: Map::new(),
        stages,
        extra: Map::new(),
    }
}

fn job_stage(index: usize, job: &Job, now: i64) -> StageExecution {
    let mut context = job.fields.clone();
    context.remove("type");
    context.insert(
        "application".to_string(),
        Value::Object(job.application.clone()),
    );
    let task_name = if job.job_type == "deleteApplication" {
        "deleteApplication"
    } else {
        "upsertApplication"
    };
    let mut task = TaskExecution::single(
        task_name,
        "com.netflix.spinnaker.orca.applications.tasks.UpsertApplicationTask",
    );
    task.start_time = Some(now);
    StageExecution {
        id: new_id(),
        ref_id: index.to_string(),
        stage_type: job.job_type.clone(),
        name: job.job_type.clone(),
        status: ExecutionStatus::Running,
        start_time: Some(now),
        end_time: None,
        start_time_expiry: None,
        scheduled_time: None,
        requisite_stage_ref_ids: if index == 0 {
            vec![]
        } else {
            vec![(index - 1).to_string()]
        },
        parent_stage_id: None,
        synthetic_stage_owner: None,
        context,
        outputs: Map::new(),
        tasks: vec![task],
        last_modified: None,
        attempt: 1,
    }
}

/// Runs one job and records its outcome on the stage.
async fn run_job(state: &AppState, job: &Job, stage: &mut StageExecution, user: &str) {
    let name = job
        .application
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let outcome = if job.job_type == "deleteApplication" {
        state
            .store
            .delete_application(&name)
            .await
            .map(|_| json!({ "notification.type": "deleteapplication" }))
    } else {
        // Orca upserts: an existing application's attributes are merged, submitted ones win.
        let merged = match state.store.get_application(&name).await {
            Ok(Some(mut existing)) => {
                existing.extend(job.application.clone());
                Ok(existing)
            }
            Ok(None) => Ok(job.application.clone()),
            Err(error) => Err(error),
        };
        let merged_ref = merged.as_ref().ok().cloned();
        let outcome = match merged {
            Ok(attributes) => state.store.put_application(attributes, user).await,
            Err(error) => Err(error),
        };
        outcome.map(|previous| {
            json!({
                "previousState": previous.map(Value::Object).unwrap_or_else(|| json!({})),
                "newState": merged_ref,
                "notification.type": "upsertapplication",
            })
        })
    };
    let status = match outcome {
        Ok(Value::Object(outputs)) => {
            stage.context.extend(outputs.clone());
            stage.outputs.extend(outputs);
            ExecutionStatus::Succeeded
        }
        Ok(_) => ExecutionStatus::Succeeded,
        Err(error) => {
            let message = error.to_string();
            stage.context.insert(
                "exception".to_string(),
                json!({"details": {"error": message, "errors": [message]}}),
            );
            ExecutionStatus::Terminal
        }
    };
    let now = now_millis();
    stage.status = status;
    stage.end_time = Some(now);
    for task in &mut stage.tasks {
        task.status = status;
        task.end_time = Some(now);
    }
}

/// Marks what never ran as NOT_STARTED leftovers and derives the task's final status.
fn finish(execution: &mut Execution) {
    for stage in execution
        .stages
        .iter_mut()
        .filter(|stage| stage.status == ExecutionStatus::Running)
    {
        stage.status = ExecutionStatus::NotStarted;
        stage.start_time = None;
        for task in &mut stage.tasks {
            task.status = ExecutionStatus::NotStarted;
            task.start_time = None;
        }
    }
    let failed = execution
        .stages
        .iter()
        .any(|stage| stage.status == ExecutionStatus::Terminal);
    execution.status = if failed {
        ExecutionStatus::Terminal
    } else {
        ExecutionStatus::Succeeded
    };
    execution.end_time = Some(now_millis());
}

/// Orca's `OrchestrationViewModel`.
pub(crate) fn view_model(execution: &Execution) -> Value {
    let mut variables: Map<String, Value> = Map::new();
    for stage in &execution.stages {
        for (key, value) in &stage.context {
            let empty = value.is_null() || value.as_str().is_some_and(str::is_empty);
            if !empty || !variables.contains_key(key) {
                variables.insert(key.clone(), value.clone());
            }
        }
    }
    let steps: Vec<&TaskExecution> = execution
        .stages
        .iter()
        .flat_map(|stage| &stage.tasks)
        .collect();
    json!({
        "id": execution.id,
        "name": execution.description,
        "application": execution.application,
        "status": execution.status,
        "variables": variables.into_iter().map(|(key, value)| json!({"key": key, "value": value})).collect::<Vec<_>>(),
        "steps": steps,
        "buildTime": execution.build_time,
        "startTime": execution.start_time,
        "endTime": execution.end_time,
        "execution": execution,
    })
}
