//! The execution's final status (Orca's `CompleteExecutionHandler`; docs/spinnaker-behaviour.md,
//! "Final status of an execution") and completing it.

use gennaker_model::json::bool_field;
use gennaker_model::{Execution, ExecutionStatus};

use crate::Effect;
use crate::stages::end_stage;

/// The final status if the execution is done, judged on top-level stages only.
///
/// Ready stages are started in the same step that makes them ready, so "nothing RUNNING"
/// also means no branch can still make progress.
pub(crate) fn final_status(execution: &Execution) -> Option<ExecutionStatus> {
    let statuses: Vec<ExecutionStatus> = execution
        .top_level_stages()
        .map(|stage| stage.status)
        .collect();
    let any = |wanted: ExecutionStatus| statuses.contains(&wanted);
    if statuses.iter().all(|status| status.satisfies_downstream()) {
        Some(ExecutionStatus::Succeeded)
    } else if any(ExecutionStatus::Terminal) {
        Some(ExecutionStatus::Terminal)
    } else if any(ExecutionStatus::Canceled) {
        Some(ExecutionStatus::Canceled)
    } else if any(ExecutionStatus::Running) {
        None
    } else if any(ExecutionStatus::Stopped) {
        Some(status_after_stopped_branches(execution))
    } else {
        // Some stage can never start (a requisite that names no stage, or a cycle). Orca
        // would poll forever; ending TERMINAL keeps the run finite.
        Some(ExecutionStatus::Terminal)
    }
}

/// Completes the execution once no stage runs any more. After a restart, a branch that ended
/// CANCELED or TERMINAL in the earlier run must not stop the restarted stage: as in Orca's
/// `RestartStageHandler`, the restarted stage runs when its own upstream stages allow it, and
/// the old halt decides the outcome only when everything that can run has run (a join below
/// it then never starts).
pub(crate) fn complete_when_nothing_runs(
    execution: &mut Execution,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    let running = execution
        .top_level_stages()
        .any(|stage| stage.status == ExecutionStatus::Running);
    if running {
        return;
    }
    if let Some(status) = final_status(execution) {
        complete_execution(execution, status, now, effects);
    }
}

/// "Halt this branch" ends SUCCEEDED, unless a stopped stage asked to fail the pipeline
/// once the other branches complete.
fn status_after_stopped_branches(execution: &Execution) -> ExecutionStatus {
    let fail = execution.top_level_stages().any(|stage| {
        stage.status == ExecutionStatus::Stopped
            && bool_field(&stage.context, "completeOtherBranchesThenFail") == Some(true)
    });
    if fail {
        ExecutionStatus::Terminal
    } else {
        ExecutionStatus::Succeeded
    }
}

/// Ends the execution: stages still running are canceled (a halt stops the other
/// branches), then the pipeline state machine is told the final status.
pub(crate) fn complete_execution(
    execution: &mut Execution,
    status: ExecutionStatus,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    for stage in &mut execution.stages {
        if matches!(
            stage.status,
            ExecutionStatus::Running | ExecutionStatus::Paused
        ) {
            end_stage(stage, ExecutionStatus::Canceled, now);
            effects.push(Effect::CancelStage {
                stage_id: stage.id.clone(),
                attempt: stage.attempt,
            });
        }
    }
    execution.status = status;
    execution.end_time = Some(now);
    effects.push(Effect::CompleteExecution { status });
}
