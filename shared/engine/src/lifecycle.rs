//! What users do to a whole execution: cancel, pause, resume, restart a stage
//! (Orca's `CancelExecutionHandler`, `PauseStageHandler`, `ResumeStageHandler`,
//! `RestartStageHandler`).

use std::collections::BTreeSet;

use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use serde_json::{Value, json};

use crate::conditions::StageConditions;
use crate::{Effect, completion, stages};

/// Cancels a NOT_STARTED (queued), RUNNING or PAUSED execution: running stages are canceled
/// (their state machines stopped) and the execution ends CANCELED — or TERMINAL when a stage
/// already failed the pipeline. A finished execution is left alone.
pub(crate) fn cancel(
    execution: &mut Execution,
    user: &str,
    reason: Option<&str>,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    if execution.status.is_complete() {
        return;
    }
    execution.canceled = true;
    execution.canceled_by = Some(user.to_string());
    execution.cancellation_reason = reason.map(str::to_string);
    let any_terminal = execution
        .top_level_stages()
        .any(|stage| stage.status == ExecutionStatus::Terminal);
    let status = if any_terminal {
        ExecutionStatus::Terminal
    } else {
        ExecutionStatus::Canceled
    };
    completion::complete_execution(execution, status, now, effects);
}

/// Ends an unfinished execution TERMINAL because the platform could not process one of its
/// messages; the reason becomes the `context.exception` of the stage concerned (or of every
/// running stage) and of the execution.
pub(crate) fn abort(
    execution: &mut Execution,
    reason: &str,
    stage_id: Option<&str>,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    if execution.status.is_complete() {
        return;
    }
    let exception = json!({ "details": { "error": reason, "errors": [reason] } });
    for stage in execution.stages.iter_mut() {
        let concerned = match stage_id {
            Some(id) => stage.id == id,
            None => matches!(
                stage.status,
                ExecutionStatus::Running | ExecutionStatus::Paused
            ),
        };
        if concerned {
            stage.context.insert("exception".into(), exception.clone());
            if !stage.status.is_complete() {
                stages::end_stage(stage, ExecutionStatus::Terminal, now);
            }
        }
    }
    execution.extra.insert("exception".into(), exception);
    completion::complete_execution(execution, ExecutionStatus::Terminal, now, effects);
}

/// Pauses a RUNNING execution; anything else is left alone (Orca only logs that case).
pub(crate) fn pause(execution: &mut Execution, user: &str, now: i64) {
    if execution.status != ExecutionStatus::Running {
        return;
    }
    execution.status = ExecutionStatus::Paused;
    execution.paused = Some(json!({ "pausedBy": user, "pauseTime": now, "paused": true }));
    set_active_stages(execution, ExecutionStatus::Running, ExecutionStatus::Paused);
}

/// Resumes a PAUSED execution and catches up on what finished while it was paused.
pub(crate) fn resume(
    execution: &mut Execution,
    user: &str,
    conditions: &dyn StageConditions,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    if execution.status != ExecutionStatus::Paused {
        return;
    }
    execution.status = ExecutionStatus::Running;
    if let Some(Value::Object(paused)) = execution.paused.as_mut() {
        let pause_time = paused
            .get("pauseTime")
            .and_then(Value::as_i64)
            .unwrap_or(now);
        paused.insert("resumedBy".into(), json!(user));
        paused.insert("resumeTime".into(), json!(now));
        paused.insert("paused".into(), json!(false));
        paused.insert("pausedMs".into(), json!(now - pause_time));
    }
    set_active_stages(execution, ExecutionStatus::Paused, ExecutionStatus::Running);
    stages::start_ready_stages(execution, conditions, now, effects);
    if let Some(status) = completion::final_status(execution) {
        completion::complete_execution(execution, status, now, effects);
    }
}

fn set_active_stages(execution: &mut Execution, from: ExecutionStatus, to: ExecutionStatus) {
    for stage in execution
        .stages
        .iter_mut()
        .filter(|stage| stage.status == from)
    {
        stage.status = to;
        for task in stage.tasks.iter_mut().filter(|task| task.status == from) {
            task.status = to;
        }
    }
}

/// Restarts a completed (or never started) stage: it and every completed stage downstream
/// of it are reset and run again. A finished execution becomes RUNNING again and needs a new
/// pipeline state machine run ([`Effect::ReopenExecution`]). A running or unknown stage, or a
/// PAUSED execution, is left alone.
pub(crate) fn restart_stage(
    execution: &mut Execution,
    stage_id: &str,
    user: &str,
    conditions: &dyn StageConditions,
    now: i64,
    effects: &mut Vec<Effect>,
) {
    if !crate::can_restart(execution, stage_id) {
        return;
    }
    let was_complete = execution.status.is_complete();
    for id in stage_and_completed_downstream(execution, stage_id) {
        if let Some(stage) = execution.stage_mut(&id) {
            reset_for_restart(stage, user, now, id == stage_id);
        }
    }
    if was_complete {
        reopen(execution);
    }
    let before = effects.len();
    stages::start_ready_stages(execution, conditions, now, effects);
    if was_complete {
        let attempt = execution.stage(stage_id).map_or(0, |stage| stage.attempt);
        effects.insert(
            before,
            Effect::ReopenExecution {
                stage_id: stage_id.to_string(),
                attempt,
            },
        );
    }
    completion::complete_when_nothing_runs(execution, now, effects);
}

fn reopen(execution: &mut Execution) {
    execution.status = ExecutionStatus::Running;
    execution.end_time = None;
    execution.canceled = false;
    execution.canceled_by = None;
    execution.cancellation_reason = None;
}

/// The stage plus every transitive downstream stage that has completed (breadth first over
/// `requisiteStageRefIds`); stages still NOT_STARTED or RUNNING are left as they are.
fn stage_and_completed_downstream(execution: &Execution, stage_id: &str) -> Vec<String> {
    let Some(start) = execution.stage(stage_id) else {
        return vec![];
    };
    let mut reset = vec![start.id.clone()];
    let mut seen: BTreeSet<String> = BTreeSet::from([start.ref_id.clone()]);
    let mut frontier = vec![start.ref_id.clone()];
    while let Some(ref_id) = frontier.pop() {
        for child in execution.top_level_stages() {
            if child.requisite_stage_ref_ids.contains(&ref_id) && seen.insert(child.ref_id.clone())
            {
                frontier.push(child.ref_id.clone());
                if child.status.is_complete() {
                    reset.push(child.id.clone());
                }
            }
        }
    }
    reset
}

/// Type-specific leftovers of the previous run (Orca's `prepareStageForRestart`), so the
/// new attempt's worker does not mistake them for its own progress.
fn forget_previous_run(stage: &mut StageExecution) {
    let context = &mut stage.context;
    match stage.stage_type.as_str() {
        "manualJudgment" => {
            context.remove("judgmentStatus");
            context.remove("lastModifiedBy");
        }
        // A restarted pipeline stage starts a new child.
        "pipeline" => {
            for key in ["executionId", "executionName", "status"] {
                context.remove(key);
            }
        }
        "jenkins" | "script" => {
            if let Some(build_info) = context.remove("buildInfo") {
                let details = context.entry("restartDetails").or_insert_with(|| json!({}));
                if let Value::Object(details) = details {
                    details.insert("previousBuildInfo".into(), build_info);
                }
            }
            context.remove("buildNumber");
            context.remove("queuedBuild");
        }
        // A preconfigured webhook stage has a type of the operator's (the only types not
        // built in that run): it keeps the same progress.
        other if other == "webhook" || gennaker_model::stage_types::stage_type(other).is_none() => {
            context.remove("webhook");
            context.remove("statusEndpoint");
        }
        // A restarted deploy names and creates a new group.
        "deploy" | "createServerGroup" | "cloneServerGroup" => {
            for key in [
                "deployPlan",
                "deployments",
                "deploy.server.groups",
                "deploy.account.name",
                "serverGroupName",
                "created",
            ] {
                context.remove(key);
            }
        }
        // A restarted operation resolves its dynamic target again.
        "resizeServerGroup" | "disableServerGroup" | "enableServerGroup" | "destroyServerGroup" => {
            for key in ["targetResolved", "targets", "targetCapacity", "acted"] {
                context.remove(key);
            }
            if context.contains_key("target") {
                context.remove("serverGroupName");
            }
        }
        // A restarted cluster-wide stage looks at the cluster again.
        "disableCluster" | "scaleDownCluster" | "shrinkCluster" => {
            for key in [
                "clusterTargets",
                "acted",
                "deploy.server.groups",
                "deploy.account.name",
            ] {
                context.remove(key);
            }
        }
        // Orca's `EvaluateVariablesStage.prepareStageForRestart`: each variable is evaluated
        // again from its source.
        "evaluateVariables" => {
            stage.outputs.clear();
        }
        // A restarted load balancer upsert applies the stage again; a restarted deletion
        // reads the load balancer's own target groups again.
        "upsertLoadBalancer" => {
            context.remove("acted");
        }
        "deleteLoadBalancer" => {
            context.remove("targetGroupsToDelete");
        }
        // A restarted stack deployment submits the template (or change set) again.
        "deployCloudFormation" => {
            for key in ["stackId", "isChangeSetExecution", "deleteChangeSet"] {
                context.remove(key);
            }
        }
        _ => {}
    }
}

/// Orca's restart reset: NOT_STARTED, no times, tasks reset, type-specific leftovers
/// dropped; the restarted stage records who restarted it and the exception it had.
fn reset_for_restart(stage: &mut StageExecution, user: &str, now: i64, is_restarted_stage: bool) {
    if is_restarted_stage {
        let previous_exception = stage.context.remove("exception");
        stage.context.insert(
            "restartDetails".into(),
            json!({ "restartedBy": user, "restartTime": now, "previousException": previous_exception }),
        );
    }
    forget_previous_run(stage);
    stage.status = ExecutionStatus::NotStarted;
    stage.start_time = None;
    stage.end_time = None;
    for task in &mut stage.tasks {
        task.status = ExecutionStatus::NotStarted;
        task.start_time = None;
        task.end_time = None;
    }
}
