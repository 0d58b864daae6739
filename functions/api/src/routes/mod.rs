pub mod applications;
pub mod executions;
pub mod pipeline_configs;
pub mod tasks;

use axum::Json;
use serde_json::{Value, json};

/// `GET /version`: spin calls it before every command.
pub async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}
