pub mod applications;
pub mod bakery;
pub mod builds;
pub mod configs;
pub mod credentials;
pub mod cron;
pub mod execution_reads;
pub mod executions;
pub mod expressions;
pub mod gate_tasks;
pub mod import;
pub mod infrastructure;
pub mod launches;
pub mod lifecycle;
pub mod network;
pub mod notifications;
pub mod openapi;
pub mod pipeline_configs;
pub mod pipelines;
pub mod reorder;
pub mod strategies;
pub mod sub_paths;
pub mod tasks;
pub mod webhooks;

use axum::Json;
use gennaker_model::ExecutionType;
use gennaker_store::StoredExecution;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `GET /version`: spin calls it before every command.
pub async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /health`: the load balancer's and monitors' probe (Spring Boot's actuator shape,
/// as Gate answers it); open, like `/version`.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

/// Loads an execution of `kind`; a missing one, or one of the other kind, is a 404.
pub(crate) async fn load_execution_of_kind(
    state: &AppState,
    id: &str,
    kind: ExecutionType,
) -> Result<StoredExecution, ApiError> {
    let not_found = || match kind {
        ExecutionType::Pipeline => ApiError::not_found(format!("Pipeline not found (id: {id})")),
        ExecutionType::Orchestration => ApiError::not_found(format!("Task not found (id: {id})")),
    };
    state
        .store
        .load_execution(id)
        .await?
        .filter(|stored| stored.execution.execution_type == kind)
        .ok_or_else(not_found)
}
