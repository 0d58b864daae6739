//! The HTTP API (Spinnaker's Gate): one axum `Router`, served by `lambda_http` in AWS and by
//! `axum::serve` in local mode. Paths, status codes and JSON shapes follow Gate, so the
//! `spin` CLI, Deck and swagger clients work unchanged.

mod body;
pub mod error;
mod identity;
mod routes;

use axum::Router;
use axum::routing::{get, patch, post, put};
use gennaker_runtime::env::{FunctionEnv, MissingVariable};
use gennaker_runtime::queue::OrchestrationQueue;
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, Tables};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub applications_table: String,
    pub pipelines_table: String,
    pub executions_table: String,
    pub pipeline_state_machine_arn: String,
    pub orchestration_queue_url: String,
    pub execution_retention_days: i64,
}

impl ApiConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, MissingVariable> {
        Ok(Self {
            applications_table: env.required("APPLICATIONS_TABLE")?,
            pipelines_table: env.required("PIPELINES_TABLE")?,
            executions_table: env.required("EXECUTIONS_TABLE")?,
            pipeline_state_machine_arn: env.required("PIPELINE_STATE_MACHINE_ARN")?,
            orchestration_queue_url: env.required("ORCHESTRATION_QUEUE_URL")?,
            execution_retention_days: env
                .optional("EXECUTION_RETENTION_DAYS")
                .and_then(|days| days.parse().ok())
                .unwrap_or(90),
        })
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) step_functions: StepFunctions,
    pub(crate) pipeline_state_machine_arn: String,
    pub(crate) orchestration_queue: OrchestrationQueue,
    pub(crate) execution_ttl_seconds: i64,
}

impl AppState {
    pub fn new(sdk: &aws_config::SdkConfig, config: ApiConfig) -> Self {
        let tables = Tables {
            applications: config.applications_table,
            pipelines: config.pipelines_table,
            executions: config.executions_table,
        };
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), tables),
            step_functions: StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
            pipeline_state_machine_arn: config.pipeline_state_machine_arn,
            orchestration_queue: OrchestrationQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                config.orchestration_queue_url,
            ),
            execution_ttl_seconds: config.execution_retention_days * 24 * 3600,
        }
    }
}

pub fn router(state: AppState) -> Router {
    use routes::{applications, executions, lifecycle, pipeline_configs, tasks};
    Router::new()
        .route("/version", get(routes::version))
        .route("/applications", get(applications::list))
        .route("/applications/{application}", get(applications::get_one))
        .route("/tasks", post(tasks::create))
        .route(
            "/applications/{application}/tasks",
            post(tasks::create_for_application),
        )
        .route("/tasks/{id}", get(tasks::get_one))
        .route(
            "/applications/{application}/tasks/{id}",
            get(tasks::get_one_for_application),
        )
        .route("/pipelines", post(pipeline_configs::save))
        .route(
            "/applications/{application}/pipelineConfigs",
            get(pipeline_configs::list),
        )
        .route(
            "/applications/{application}/pipelineConfigs/{name}",
            get(pipeline_configs::get_by_name),
        )
        .route(
            "/pipelines/{id}",
            get(executions::get_one).delete(lifecycle::delete_execution),
        )
        .route(
            "/pipelines/{application}/{name_or_id}",
            post(executions::trigger),
        )
        .route(
            "/applications/{application}/pipelines",
            get(executions::list_for_application),
        )
        .route(
            "/pipelines/{id}/stages/{stage_id}",
            patch(executions::patch_stage),
        )
        .route("/pipelines/{id}/cancel", put(lifecycle::cancel))
        .route(
            "/applications/{application}/pipelines/{id}/cancel",
            put(lifecycle::cancel_for_application),
        )
        .route("/pipelines/{id}/pause", put(lifecycle::pause))
        .route("/pipelines/{id}/resume", put(lifecycle::resume))
        .route(
            "/pipelines/{id}/stages/{stage_id}/restart",
            put(lifecycle::restart_stage),
        )
        .route("/executions", get(lifecycle::list_executions))
        .fallback(error::not_found_route)
        .layer(axum::middleware::from_fn(error::fill_error_path))
        .with_state(state)
}
