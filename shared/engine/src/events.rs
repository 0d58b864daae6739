//! Lifecycle events (Orca's `EchoNotifyingExecutionListener` and
//! `EchoNotifyingStageListener`) implied by one state change:
//! derived by comparing the execution before and after an event, so they are published
//! exactly for the transitions that happened.

use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use serde_json::{Value, json};

/// One event for the Gennaker bus: `detail_type` is Echo's `details.type`
/// (`orca:pipeline:starting`, `orca:stage:complete`, …); `detail` is Echo's `content`.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    pub detail_type: String,
    pub detail: Value,
}

/// The events for the transitions from `before` to `after`.
pub fn lifecycle_events(before: &Execution, after: &Execution) -> Vec<LifecycleEvent> {
    let mut events = Vec::new();
    if before.status == ExecutionStatus::NotStarted && after.status == ExecutionStatus::Running {
        events.push(execution_event(after, "starting"));
    }
    for stage in &after.stages {
        let previous = before.stage(&stage.id);
        let (was_active, was_complete) = previous.map_or((false, false), |previous| {
            (is_active(previous.status), previous.status.is_complete())
        });
        let restarted = previous.is_some_and(|previous| previous.attempt != stage.attempt);
        if is_active(stage.status) && (!was_active || restarted) {
            events.push(stage_event(after, stage, "starting"));
        }
        if stage.status.is_complete() && (!was_complete || restarted) {
            events.push(stage_event(after, stage, stage_outcome(stage.status)));
        }
    }
    if after.status.is_complete() && !before.status.is_complete() {
        let outcome = if after.status.is_successful() {
            "complete"
        } else {
            "failed"
        };
        events.push(execution_event(after, outcome));
    }
    events
}

fn is_active(status: ExecutionStatus) -> bool {
    matches!(status, ExecutionStatus::Running | ExecutionStatus::Paused)
}

fn stage_outcome(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Succeeded => "complete",
        ExecutionStatus::Skipped => "skipped",
        _ => "failed",
    }
}

fn kind(execution: &Execution) -> &'static str {
    match execution.execution_type {
        gennaker_model::ExecutionType::Pipeline => "pipeline",
        gennaker_model::ExecutionType::Orchestration => "orchestration",
    }
}

fn execution_event(execution: &Execution, phase: &str) -> LifecycleEvent {
    let detail_type = format!("orca:{}:{phase}", kind(execution));
    LifecycleEvent {
        detail: json!({
            "eventId": format!("{}:{detail_type}:{}", execution.id, execution.start_time.unwrap_or(0)),
            "executionId": execution.id,
            "execution": execution,
        }),
        detail_type,
    }
}

fn stage_event(execution: &Execution, stage: &StageExecution, phase: &str) -> LifecycleEvent {
    let detail_type = format!("orca:stage:{phase}");
    LifecycleEvent {
        detail: json!({
            "eventId": format!("{}:{}:{}:{detail_type}", execution.id, stage.id, stage.attempt),
            "standalone": false,
            "canceled": execution.canceled,
            "context": stage.context,
            "startTime": stage.start_time,
            "endTime": stage.end_time,
            "executionId": execution.id,
            "stageId": stage.id,
            "isSynthetic": stage.parent_stage_id.is_some(),
            "name": stage.name,
            "execution": execution,
        }),
        detail_type,
    }
}
