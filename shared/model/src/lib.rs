//! Gennaker's domain model: Spinnaker-compatible applications, pipeline configs, executions,
//! stages, tasks and statuses. Pure: no I/O.

pub mod application;
pub mod compatibility;
pub mod concurrency;
pub mod cron;
pub mod execution;
pub mod execution_window;
pub mod json;
pub mod judgment;
pub mod launch;
pub mod listing;
pub mod pipeline;
pub mod preconfigured;
pub mod schedules;
pub mod secrets;
pub mod stage_types;
mod status;
pub mod triggers;
pub mod validation;

pub use execution::{Authentication, Execution, ExecutionType, StageExecution, TaskExecution};
pub use pipeline::{ParameterConfig, PipelineConfig, StageConfig};
pub use status::ExecutionStatus;

/// A new time-sortable id (ULID), as Orca uses for executions and stages.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}
