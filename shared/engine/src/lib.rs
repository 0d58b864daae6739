//! Gennaker's execution engine: Orca's scheduling rules (its `orca-queue` handlers) as a pure
//! function from (execution, event) to (execution', effects).
//!
//! The orchestrator loads an execution, calls [`apply`], persists the result and only then
//! performs the effects. The engine does no I/O and reads no clock: time arrives in events.
//! Only top-level stages exist so far (no synthetic stages). Expression-dependent decisions
//! (`stageEnabled`) come in through [`StageConditions`].

mod completion;
mod conditions;
mod events;
mod lifecycle;
mod operations;
mod queued_restart;
mod stages;

pub use conditions::{LiteralConditions, StageConditions};
pub use events::{LifecycleEvent, lifecycle_events};
pub use operations::{operation_applied, record_operation};
pub use queued_restart::{can_restart, queue_restart, take_queued_restart};
pub use stages::EVALUATE_VARIABLES;

use gennaker_model::{Execution, ExecutionStatus};
use serde_json::{Map, Value};

/// Something that happened to an execution, delivered to the orchestrator.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The pipeline state machine handed the execution to the orchestrator.
    Start { now: i64 },
    /// A stage state machine finished an attempt with the worker's result.
    StageFinished {
        /// Id of the stage (not its refId).
        stage_id: String,
        /// The attempt the finishing state machine ran; older attempts are ignored.
        attempt: u32,
        /// The status the worker reported (TERMINAL/CANCELED go through the stage's
        /// failure options).
        status: ExecutionStatus,
        /// Merged into the stage's `context` (stage-scoped data).
        context: Map<String, Value>,
        /// Merged into the stage's `outputs` (pipeline-scoped data).
        outputs: Map<String, Value>,
        now: i64,
    },
    /// A user (or the system) canceled the execution (Orca's `CancelExecutionHandler`).
    Cancel {
        user: String,
        reason: Option<String>,
        now: i64,
    },
    /// A user paused a RUNNING execution (Orca's `PauseStageHandler`): no new stage starts until resumed.
    Pause { user: String, now: i64 },
    /// A user resumed a PAUSED execution.
    Resume { user: String, now: i64 },
    /// A user restarted a stage (Orca's `RestartStageHandler`): it and every completed downstream stage run again.
    RestartStage {
        stage_id: String,
        user: String,
        now: i64,
    },
    /// The platform gave up on a message about this execution (it reached the dead-letter
    /// queue): the execution ends TERMINAL with `reason` as the readable exception of the
    /// stage it concerned (or of every running stage).
    Abort {
        reason: String,
        stage_id: Option<String>,
        now: i64,
    },
}

/// Something the orchestrator must do after persisting the new execution state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start the stage state machine execution for this attempt (idempotent by name).
    StartStage { stage_id: String, attempt: u32 },
    /// Stop the running stage state machine of this attempt.
    CancelStage { stage_id: String, attempt: u32 },
    /// The execution reached a final status: complete the pipeline state machine.
    CompleteExecution { status: ExecutionStatus },
    /// A completed execution runs again (a stage was restarted): start a new pipeline
    /// state machine run for it, named after the restarted stage's new attempt.
    ReopenExecution { stage_id: String, attempt: u32 },
}

/// Applies one event. Duplicate and stale events leave the execution unchanged and yield
/// no effects, so redelivery is harmless. `stageEnabled` understands only literals; see
/// [`apply_with`].
pub fn apply(execution: Execution, event: &Event) -> (Execution, Vec<Effect>) {
    apply_with(execution, event, &LiteralConditions)
}

/// [`apply`] with the caller's evaluator for `stageEnabled` expressions.
pub fn apply_with(
    mut execution: Execution,
    event: &Event,
    conditions: &dyn StageConditions,
) -> (Execution, Vec<Effect>) {
    let mut effects = Vec::new();
    let effects_out = &mut effects;
    match event {
        Event::Start { now } => start_execution(&mut execution, conditions, *now, effects_out),
        Event::StageFinished {
            stage_id,
            attempt,
            status,
            context,
            outputs,
            now,
        } => {
            let result = stages::StageResult {
                stage_id,
                attempt: *attempt,
                status: *status,
                context,
                outputs,
            };
            finish_stage(&mut execution, result, conditions, *now, effects_out);
        }
        Event::Cancel { user, reason, now } => {
            lifecycle::cancel(&mut execution, user, reason.as_deref(), *now, effects_out)
        }
        Event::Pause { user, now } => lifecycle::pause(&mut execution, user, *now),
        Event::Resume { user, now } => {
            lifecycle::resume(&mut execution, user, conditions, *now, effects_out)
        }
        Event::Abort {
            reason,
            stage_id,
            now,
        } => lifecycle::abort(
            &mut execution,
            reason,
            stage_id.as_deref(),
            *now,
            effects_out,
        ),
        Event::RestartStage {
            stage_id,
            user,
            now,
        } => lifecycle::restart_stage(
            &mut execution,
            stage_id,
            user,
            conditions,
            *now,
            effects_out,
        ),
    }
    (execution, effects)
}

/// Effects implied by persisted state alone (used when a redelivered event is a duplicate,
/// to heal a crash between persisting and acting): StartStage for every RUNNING (or paused)
/// stage, CancelStage for every stage canceled by a halt, CompleteExecution if the
/// execution is complete. All are idempotent.
pub fn pending_effects(execution: &Execution) -> Vec<Effect> {
    let mut effects: Vec<Effect> = execution
        .stages
        .iter()
        .filter(|stage| {
            matches!(
                stage.status,
                ExecutionStatus::Running | ExecutionStatus::Paused
            )
        })
        .map(|stage| Effect::StartStage {
            stage_id: stage.id.clone(),
            attempt: stage.attempt,
        })
        .collect();
    if execution.status.is_complete() {
        effects.extend(
            execution
                .stages
                .iter()
                .filter(|stage| stage.status == ExecutionStatus::Canceled && stage.attempt > 0)
                .map(|stage| Effect::CancelStage {
                    stage_id: stage.id.clone(),
                    attempt: stage.attempt,
                }),
        );
        effects.push(Effect::CompleteExecution {
            status: execution.status,
        });
    }
    effects
}

/// Orca's `StartExecutionHandler`: only a NOT_STARTED, uncanceled execution starts; every stage without requisites
/// starts in parallel. Without such a stage nothing could ever run, so Orca ends TERMINAL.
fn start_execution(
    execution: &mut Execution,
    conditions: &dyn StageConditions,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    if execution.status != ExecutionStatus::NotStarted || execution.canceled {
        return;
    }
    if execution
        .start_time_expiry
        .is_some_and(|expiry| now > expiry)
    {
        let reason = "Could not begin execution before start time expiry";
        lifecycle::cancel(execution, "spinnaker", Some(reason), now, effects);
        return;
    }
    let has_initial_stage = execution
        .top_level_stages()
        .any(|stage| stage.requisite_stage_ref_ids.is_empty());
    if !has_initial_stage {
        completion::complete_execution(execution, ExecutionStatus::Terminal, now, effects);
        return;
    }
    execution.status = ExecutionStatus::Running;
    execution.start_time = Some(now);
    // Initial stages have no requisites, so they are exactly the ready ones.
    stages::start_ready_stages(execution, conditions, now, effects);
    // Every stage may have been skipped.
    complete_if_done(execution, now, effects);
}

/// Orca's `CompleteStageHandler` and `CompleteExecutionHandler`: records the stage result, starts what became ready, completes the execution
/// when its final status is known.
/// While the execution is PAUSED the result is recorded but nothing new starts; resuming
/// picks up from there.
fn finish_stage(
    execution: &mut Execution,
    result: stages::StageResult,
    conditions: &dyn StageConditions,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    let paused = execution.status == ExecutionStatus::Paused;
    if execution.status != ExecutionStatus::Running && !paused {
        return;
    }
    let Some(stage) = execution.stage_mut(result.stage_id) else {
        return;
    };
    let active = matches!(
        stage.status,
        ExecutionStatus::Running | ExecutionStatus::Paused
    );
    if !active || stage.attempt != result.attempt {
        return;
    }
    let final_status = stages::record_result(stage, &result, now);
    if paused {
        return;
    }
    if final_status.satisfies_downstream() {
        stages::start_ready_stages(execution, conditions, now, effects);
    }
    if matches!(
        final_status,
        ExecutionStatus::Terminal | ExecutionStatus::Canceled
    ) {
        // A stage that fails or is canceled now halts the execution: what still runs is
        // canceled (Orca's `CompleteStageHandler` sends `CompleteExecution` at once).
        complete_if_done(execution, now, effects);
    } else {
        completion::complete_when_nothing_runs(execution, now, effects);
    }
}

/// Completes the execution once its final status is known (Orca's `CompleteExecutionHandler`).
fn complete_if_done(execution: &mut Execution, now: i64, effects: &mut Vec<Effect>) {
    if let Some(status) = completion::final_status(execution) {
        completion::complete_execution(execution, status, now, effects);
    }
}
