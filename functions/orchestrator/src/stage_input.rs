//! The input the orchestrator gives a stage state machine run (the type is
//! `gennaker_protocol::StageInput`): timeouts, wait times and execution windows read from the
//! stage.

use std::hash::{Hash, Hasher};

use chrono_tz::Tz;
use gennaker_model::execution_window::{ExecutionWindow, iso8601};
use gennaker_model::preconfigured::PreconfiguredWebhooks;
use gennaker_model::{Execution, StageExecution};
use gennaker_protocol::StageInput;
use serde_json::Value;

const DEPLOYMENT_DETAILS: &str = "deploymentDetails";

pub fn for_stage(
    execution: &Execution,
    stage: &StageExecution,
    window_zone: Tz,
    now: i64,
    preconfigured: &PreconfiguredWebhooks,
) -> StageInput {
    let mut context = stage.context.clone();
    // Deploy stages take their image from an upstream bake or find-image (Orca's
    // `DeploymentDetailsAware`).
    if matches!(
        stage.stage_type.as_str(),
        "deploy" | "createServerGroup" | "cloneServerGroup"
    ) && !context.contains_key(DEPLOYMENT_DETAILS)
        && let Some(details) = execution.ancestor_output(stage, DEPLOYMENT_DETAILS)
    {
        context.insert(DEPLOYMENT_DETAILS.into(), details.clone());
    }
    StageInput {
        execution_id: execution.id.clone(),
        application: execution.application.clone(),
        stage_id: stage.id.clone(),
        ref_id: stage.ref_id.clone(),
        attempt: stage.attempt,
        // The stage machine routes a preconfigured webhook's stage to the webhook worker,
        // which reads the stage's own type from its stored stage.
        stage_type: preconfigured.route(&stage.stage_type).to_string(),
        name: stage.name.clone(),
        wait_seconds: wait_seconds(stage),
        timeout_seconds: Some(timeout_seconds(stage)),
        // Polling workers check the stage timeout against it on every poll.
        start_time: stage.start_time,
        start_child_deduplication_id: format!(
            "{}-start-child",
            stage.state_machine_execution_name(&execution.id)
        ),
        context,
        not_before: window_start(execution, stage, window_zone, now).map(iso8601),
        result: None,
        allowed_accounts: execution.authentication.allowed_accounts.clone(),
    }
}

/// When a stage with an execution window may start, if that is later than now. The jitter's
/// random draw comes from the stage and attempt, so a redelivered start waits just as long.
fn window_start(execution: &Execution, stage: &StageExecution, zone: Tz, now: i64) -> Option<i64> {
    let window = ExecutionWindow::of_stage(&stage.context)?;
    let manual = execution.trigger.get("type").and_then(Value::as_str) == Some("manual");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (stage.id.as_str(), stage.attempt).hash(&mut hasher);
    let random = (hasher.finish() % 10_000) as f64 / 10_000.0;
    let start = window.next_start(now, zone, manual, random);
    (start > now + 1000).then_some(start)
}

/// The stage's timeout: `stageTimeoutMs` when set, else Orca's default for its task
/// (12 hours to monitor a child pipeline, 2 hours for a Jenkins build or a script, 3 days
/// otherwise, as for manual judgment).
fn timeout_seconds(stage: &StageExecution) -> u64 {
    let configured = stage
        .context
        .get("stageTimeoutMs")
        .and_then(|value| match value {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        });
    match configured {
        Some(millis) if millis > 0.0 => (millis / 1000.0).ceil().max(1.0) as u64,
        _ if stage.stage_type == "pipeline" => 12 * 3600,
        // Orca's monitorJenkinsJob gives a build two hours.
        _ if matches!(stage.stage_type.as_str(), "jenkins" | "script") => 2 * 3600,
        _ => 3 * 24 * 3600,
    }
}

/// `waitTime` in seconds; Deck writes a number but older pipelines carry a string. The Wait
/// state needs a non-negative integer.
fn wait_seconds(stage: &StageExecution) -> u64 {
    match stage.context.get("waitTime") {
        Some(Value::Number(number)) => number
            .as_u64()
            .or_else(|| {
                number
                    .as_f64()
                    .map(|seconds| seconds.max(0.0).ceil() as u64)
            })
            .unwrap_or(0),
        Some(Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .map(|s| s.max(0.0).ceil() as u64)
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_model::ExecutionStatus;
    use serde_json::Map;
    use serde_json::json;

    fn stage(context: Value) -> StageExecution {
        StageExecution {
            id: "s".into(),
            ref_id: "1".into(),
            stage_type: "wait".into(),
            name: "w".into(),
            status: ExecutionStatus::Running,
            start_time: None,
            end_time: None,
            start_time_expiry: None,
            scheduled_time: None,
            requisite_stage_ref_ids: vec![],
            parent_stage_id: None,
            synthetic_stage_owner: None,
            context: context.as_object().cloned().unwrap_or_else(Map::new),
            outputs: Map::new(),
            tasks: vec![],
            last_modified: None,
            attempt: 1,
        }
    }

    #[test]
    fn timeouts_come_from_stage_timeout_ms_or_the_type_default() {
        assert_eq!(timeout_seconds(&stage(json!({"stageTimeoutMs": 1500}))), 2);
        assert_eq!(
            timeout_seconds(&stage(json!({"stageTimeoutMs": "60000"}))),
            60
        );
        assert_eq!(timeout_seconds(&stage(json!({}))), 259_200);
        let mut pipeline = stage(json!({"stageTimeoutMs": 0}));
        pipeline.stage_type = "pipeline".into();
        assert_eq!(timeout_seconds(&pipeline), 43_200);
        let mut jenkins = stage(json!({}));
        jenkins.stage_type = "jenkins".into();
        assert_eq!(timeout_seconds(&jenkins), 7_200);
    }

    #[test]
    fn wait_time_is_read_from_numbers_and_strings() {
        assert_eq!(wait_seconds(&stage(json!({"waitTime": 30}))), 30);
        assert_eq!(wait_seconds(&stage(json!({"waitTime": "12"}))), 12);
        assert_eq!(wait_seconds(&stage(json!({"waitTime": 1.5}))), 2);
        assert_eq!(wait_seconds(&stage(json!({"waitTime": -3}))), 0);
        assert_eq!(wait_seconds(&stage(json!({}))), 0);
    }
}
