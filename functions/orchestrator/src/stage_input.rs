//! The input of a stage state machine execution (read by `statemachines/stage.asl.json` and
//! by workers).

use gennaker_model::{Execution, StageExecution};
use serde_json::{Value, json};

pub fn for_stage(execution: &Execution, stage: &StageExecution) -> Value {
    json!({
        "executionId": execution.id,
        "application": execution.application,
        "stageId": stage.id,
        "refId": stage.ref_id,
        "attempt": stage.attempt,
        "type": stage.stage_type,
        "name": stage.name,
        "waitSeconds": wait_seconds(stage),
        // A pipeline stage asks the orchestrator (on the same FIFO queue where the stage
        // machine later reports) to start its child; the two messages need distinct ids.
        "startChildDeduplicationId": format!("{}-{}-{}-start-child", execution.id, stage.id, stage.attempt),
        "context": stage.context,
    })
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
    fn wait_time_is_read_from_numbers_and_strings() {
        assert_eq!(wait_seconds(&stage(json!({"waitTime": 30}))), 30);
        assert_eq!(wait_seconds(&stage(json!({"waitTime": "12"}))), 12);
        assert_eq!(wait_seconds(&stage(json!({"waitTime": 1.5}))), 2);
        assert_eq!(wait_seconds(&stage(json!({"waitTime": -3}))), 0);
        assert_eq!(wait_seconds(&stage(json!({}))), 0);
    }
}
