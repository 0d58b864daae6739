//! Restarting a stage of a completed execution whose pipeline has no free concurrency slot
//! (Orca's `RestartStageHandler`, when the pipeline must queue): the execution shows NOT_STARTED and
//! remembers the restart until a slot frees, then the restart is applied as if it had just
//! arrived.

use gennaker_model::{Execution, ExecutionStatus};
use serde_json::json;

use crate::Event;

/// The execution's extra field that holds a queued restart.
const QUEUED_RESTART: &str = "queuedRestart";

/// Whether restarting `stage_id` would change anything: the stage is complete or not
/// started, and the execution has started and is not paused.
pub fn can_restart(execution: &Execution, stage_id: &str) -> bool {
    let Some(stage) = execution.stage(stage_id) else {
        return false;
    };
    let restartable = stage.status.is_complete() || stage.status == ExecutionStatus::NotStarted;
    restartable
        && execution.status != ExecutionStatus::Paused
        && execution.status != ExecutionStatus::NotStarted
}

/// The execution waiting NOT_STARTED for a slot, remembering the restart and its status
/// before it was queued.
pub fn queue_restart(execution: &Execution, stage_id: &str, user: &str, now: i64) -> Execution {
    let mut queued = execution.clone();
    queued.extra.insert(
        QUEUED_RESTART.into(),
        json!({"stageId": stage_id, "user": user, "queuedTime": now, "previousStatus": execution.status}),
    );
    queued.status = ExecutionStatus::NotStarted;
    queued
}

/// For an execution whose restart was queued: the execution as it was before, and the
/// restart to apply to it now.
pub fn take_queued_restart(execution: &Execution, now: i64) -> Option<(Execution, Event)> {
    let queued = execution.extra.get(QUEUED_RESTART)?;
    let stage_id = queued["stageId"].as_str()?.to_string();
    let user = queued["user"].as_str().unwrap_or("anonymous").to_string();
    let previous: ExecutionStatus =
        serde_json::from_value(queued["previousStatus"].clone()).ok()?;
    let mut restored = execution.clone();
    restored.extra.remove(QUEUED_RESTART);
    restored.status = previous;
    Some((
        restored,
        Event::RestartStage {
            stage_id,
            user,
            now,
        },
    ))
}
