//! Gennaker's execution engine: Orca's scheduling rules (semantics §3.3–3.7) as a pure
//! function from (execution, event) to (execution', effects).
//!
//! The orchestrator loads an execution, calls [`apply`], persists the result and only then
//! performs the effects. The engine does no I/O and reads no clock: time arrives in events.
//! Only top-level stages exist so far (no synthetic stages).

mod completion;
mod stages;

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
}

/// Applies one event. Duplicate and stale events leave the execution unchanged and yield
/// no effects, so redelivery is harmless.
pub fn apply(mut execution: Execution, event: &Event) -> (Execution, Vec<Effect>) {
    let mut effects = Vec::new();
    match event {
        Event::Start { now } => start_execution(&mut execution, *now, &mut effects),
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
            finish_stage(&mut execution, result, *now, &mut effects);
        }
    }
    (execution, effects)
}

/// Effects implied by persisted state alone (used when a redelivered event is a duplicate,
/// to heal a crash between persisting and acting): StartStage for every RUNNING stage,
/// CompleteExecution if the execution is complete.
pub fn pending_effects(execution: &Execution) -> Vec<Effect> {
    let mut effects: Vec<Effect> = execution
        .stages
        .iter()
        .filter(|stage| stage.status == ExecutionStatus::Running)
        .map(|stage| Effect::StartStage {
            stage_id: stage.id.clone(),
            attempt: stage.attempt,
        })
        .collect();
    if execution.status.is_complete() {
        effects.push(Effect::CompleteExecution {
            status: execution.status,
        });
    }
    effects
}

/// §3.3: only a NOT_STARTED, uncanceled execution starts; every stage without requisites
/// starts in parallel. Without such a stage nothing could ever run, so Orca ends TERMINAL.
fn start_execution(execution: &mut Execution, now: i64, effects: &mut Vec<Effect>) {
    if execution.status != ExecutionStatus::NotStarted || execution.canceled {
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
    stages::start_ready_stages(execution, now, effects);
}

/// §3.5–3.7: records the stage result, starts what became ready, completes the execution
/// when its final status is known.
fn finish_stage(
    execution: &mut Execution,
    result: stages::StageResult,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    if execution.status != ExecutionStatus::Running {
        return;
    }
    let Some(stage) = execution.stage_mut(result.stage_id) else {
        return;
    };
    if stage.status != ExecutionStatus::Running || stage.attempt != result.attempt {
        return;
    }
    let final_status = stages::record_result(stage, &result, now);
    if final_status.satisfies_downstream() {
        stages::start_ready_stages(execution, now, effects);
    }
    if let Some(status) = completion::final_status(execution) {
        completion::complete_execution(execution, status, now, effects);
    }
}
