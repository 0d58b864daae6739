//! Starting and ending single stages (Orca's `StartStageHandler`, `CompleteStageHandler`).

use gennaker_model::json::bool_field;
use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use serde_json::{Map, Value};

use crate::Effect;
use crate::conditions::{StageConditions, skip_reason};

/// The worker's result of one stage attempt, borrowed from the event.
pub(crate) struct StageResult<'a> {
    pub stage_id: &'a str,
    pub attempt: u32,
    pub status: ExecutionStatus,
    pub context: &'a Map<String, Value>,
    pub outputs: &'a Map<String, Value>,
}

/// Orca never copies the stage timeout into pipeline-scoped outputs (Orca's `RunTaskHandler`).
const NEVER_AN_OUTPUT: &str = "stageTimeoutMs";

/// Starts every NOT_STARTED top-level stage whose requisites all completed in a way that
/// lets downstream run, or skips it when its conditions say so (a skipped stage satisfies
/// its children, so this repeats until nothing more becomes ready). Because a started stage
/// is no longer NOT_STARTED, a join starts exactly once: when its last parent completes.
pub(crate) fn start_ready_stages(
    execution: &mut Execution,
    conditions: &dyn StageConditions,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    loop {
        let ready: Vec<String> = execution
            .top_level_stages()
            .filter(|stage| stage.status == ExecutionStatus::NotStarted)
            .filter(|stage| requisites_satisfied(execution, stage))
            .map(|stage| stage.id.clone())
            .collect();
        let mut skipped_any = false;
        for stage_id in ready {
            let skip = execution
                .stage(&stage_id)
                .and_then(|stage| skip_reason(conditions, execution, stage, now));
            let prepared = match skip {
                Some(_) => None,
                None => execution
                    .stage(&stage_id)
                    .and_then(|stage| conditions.prepare_context(execution, stage)),
            };
            let Some(stage) = execution.stage_mut(&stage_id) else {
                continue;
            };
            if skip.is_some() {
                skip_stage(stage, now);
                skipped_any = true;
                continue;
            }
            if let Some(context) = prepared {
                stage.context = context;
            }
            if fails_on_failed_expressions(&stage.context) {
                fail_before_running(stage, now);
                skipped_any = true;
            } else if stage.stage_type == EVALUATE_VARIABLES {
                complete_evaluate_variables(stage, now);
                skipped_any = true;
            } else {
                effects.push(start_stage(stage, now));
            }
        }
        if !skipped_any {
            return;
        }
    }
}

/// `failOnFailedExpressions` with a failed expression in the stage's context (Orca's
/// `CompleteStageHandler`).
fn fails_on_failed_expressions(context: &Map<String, Value>) -> bool {
    let failed =
        matches!(context.get(SUMMARY_KEY), Some(Value::Object(summary)) if !summary.is_empty());
    failed && bool_field(context, "failOnFailedExpressions") == Some(true)
}

/// Ends the stage without running it: its expressions failed and it asked to fail then. The
/// summary's descriptions become its exception, as Orca reports them.
fn fail_before_running(stage: &mut StageExecution, now: i64) {
    let errors: Vec<Value> = match stage.context.get(SUMMARY_KEY) {
        Some(Value::Object(summary)) => summary
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|entry| entry.get("description").cloned())
            .collect(),
        _ => vec![],
    };
    stage.context.insert(
        "exception".into(),
        serde_json::json!({"details": {"error": "Failed to evaluate expressions (failOnFailedExpressions)", "errors": errors}}),
    );
    stage.start_time = Some(now);
    let status = failure_status(ExecutionStatus::Terminal, &stage.context);
    end_stage(stage, status, now);
}

/// The stage type whose work is done when its context is prepared.
pub const EVALUATE_VARIABLES: &str = "evaluateVariables";

/// An `evaluateVariables` stage needs no worker: its variables were evaluated in order with
/// its context ([`StageConditions::prepare_context`]), and Orca's `EvaluateVariablesTask`
/// only copies each `{key, value}` to the stage's outputs, where later stages find them by
/// key. So the stage starts and succeeds at once.
fn complete_evaluate_variables(stage: &mut StageExecution, now: i64) {
    start_stage(stage, now);
    let outputs: Vec<(String, Value)> = stage
        .context
        .get("variables")
        .and_then(Value::as_array)
        .map(|variables| {
            variables
                .iter()
                .filter_map(|variable| {
                    let key = variable.get("key")?.as_str()?;
                    let value = variable.get("value").cloned().unwrap_or(Value::Null);
                    Some((key.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default();
    stage.outputs.extend(outputs);
    end_stage(stage, ExecutionStatus::Succeeded, now);
}

/// Where Spinnaker records failed expressions of a stage.
const SUMMARY_KEY: &str = "expressionEvaluationSummary";

/// SKIPPED without running (Orca's `SkipStageHandler`): it starts and ends at once and lets downstream run.
fn skip_stage(stage: &mut StageExecution, now: i64) {
    stage.start_time = Some(now);
    end_stage(stage, ExecutionStatus::Skipped, now);
}

/// A requisite naming no stage can never be satisfied (Orca would ignore it and wait
/// forever; validation refuses such configs).
fn requisites_satisfied(execution: &Execution, stage: &StageExecution) -> bool {
    stage.requisite_stage_ref_ids.iter().all(|ref_id| {
        execution
            .stage_by_ref_id(ref_id)
            .is_some_and(|parent| parent.status.satisfies_downstream())
    })
}

/// A new attempt: the attempt number names the stage state machine execution, so a
/// restarted stage never collides with its previous run.
fn start_stage(stage: &mut StageExecution, now: i64) -> Effect {
    stage.status = ExecutionStatus::Running;
    stage.start_time = Some(now);
    stage.end_time = None;
    stage.attempt += 1;
    for task in &mut stage.tasks {
        task.status = ExecutionStatus::Running;
        task.start_time = Some(now);
        task.end_time = None;
    }
    Effect::StartStage {
        stage_id: stage.id.clone(),
        attempt: stage.attempt,
    }
}

/// Merges the worker's data into the stage and ends it; returns the stage's final status.
pub(crate) fn record_result(
    stage: &mut StageExecution,
    result: &StageResult,
    now: i64,
) -> ExecutionStatus {
    stage
        .context
        .extend(clone_entries(result.context, |_| true));
    stage
        .outputs
        .extend(clone_entries(result.outputs, |key| key != NEVER_AN_OUTPUT));
    // The failure options are read after the merge: a worker may set them, as in Orca
    // where the task result is merged before CompleteTask reads the stage context.
    let status = if timed_out_successfully(result, &stage.context) {
        ExecutionStatus::Succeeded
    } else {
        stage_status(result.status, &stage.context)
    };
    end_stage(stage, status, now);
    status
}

fn clone_entries<'a>(
    entries: &'a Map<String, Value>,
    keep: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = (String, Value)> + 'a {
    entries
        .iter()
        .filter(move |(key, _)| keep(key))
        .map(|(key, value)| (key.clone(), value.clone()))
}

/// The stage's status from the reported one. A stage machine that ended with a status
/// that is not final (RUNNING, PAUSED, …) cannot run on without a machine, so it counts as
/// a TERMINAL failure rather than leaving the stage RUNNING forever.
fn stage_status(reported: ExecutionStatus, context: &Map<String, Value>) -> ExecutionStatus {
    match reported {
        ExecutionStatus::Terminal | ExecutionStatus::Canceled => failure_status(reported, context),
        complete if complete.is_complete() => complete,
        _ => failure_status(ExecutionStatus::Terminal, context),
    }
}

/// `markSuccessfulOnTimeout`: a stage that ran out of time counts as SUCCEEDED.
fn timed_out_successfully(result: &StageResult, context: &Map<String, Value>) -> bool {
    bool_field(result.context, "timedOut") == Some(true)
        && bool_field(context, "markSuccessfulOnTimeout") == Some(true)
}

/// Orca's `StageExecution.failureStatus(default)` (docs/spinnaker-behaviour.md,
/// "Stage failure options"): "ignore the failure" beats
/// "halt this branch", which beats the default halt of the whole pipeline.
fn failure_status(default: ExecutionStatus, context: &Map<String, Value>) -> ExecutionStatus {
    if bool_field(context, "continuePipeline") == Some(true) {
        ExecutionStatus::FailedContinue
    } else if bool_field(context, "failPipeline").unwrap_or(true) {
        default
    } else {
        ExecutionStatus::Stopped
    }
}

/// Ends a stage and its tasks with `status` (tasks follow their single stage).
pub(crate) fn end_stage(stage: &mut StageExecution, status: ExecutionStatus, now: i64) {
    stage.status = status;
    stage.end_time = Some(now);
    for task in &mut stage.tasks {
        task.status = status;
        task.end_time = Some(now);
    }
}
