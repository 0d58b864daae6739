//! The orchestrator's metrics (Embedded Metric Format lines, see `gennaker_runtime::metrics`):
//! executions started and completed, stage durations, and the lag between a stage's report
//! and the orchestrator acting on it.

use aws_lambda_events::sqs::SqsMessage;
use gennaker_model::Execution;
use gennaker_model::json::now_millis;
use gennaker_runtime::metrics::{
    self, EXECUTIONS_COMPLETED, EXECUTIONS_STARTED, ORCHESTRATION_LAG, STAGE_DURATION,
};

/// A data point the orchestrator owes for one change of an execution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Point {
    Started,
    Completed {
        status: String,
    },
    StageEnded {
        stage_id: String,
        stage_type: String,
        status: String,
        milliseconds: i64,
    },
}

/// What changed from the stored execution `before` to the one saved over it, `after`: its
/// start, its end, and each stage that ended (with a duration when it ran).
pub(crate) fn points(before: &Execution, after: &Execution) -> Vec<Point> {
    let mut points = Vec::new();
    if before.start_time.is_none() && after.start_time.is_some() {
        points.push(Point::Started);
    }
    if !before.status.is_complete() && after.status.is_complete() {
        points.push(Point::Completed {
            status: after.status.as_str().to_string(),
        });
    }
    for stage in after.stages.iter().filter(|s| s.status.is_complete()) {
        let ended_before = before
            .stage(&stage.id)
            .is_some_and(|earlier| earlier.status.is_complete());
        if let (false, Some(start), Some(end)) = (ended_before, stage.start_time, stage.end_time) {
            points.push(Point::StageEnded {
                stage_id: stage.id.clone(),
                stage_type: stage.stage_type.clone(),
                status: stage.status.as_str().to_string(),
                milliseconds: end - start,
            });
        }
    }
    points
}

/// Writes the points of a saved change; an ended execution is also logged as
/// "execution completed" with its status (the self-test's metric filter reads that line).
pub(crate) fn record_change(before: &Execution, after: &Execution) {
    let config_id = after.pipeline_config_id.as_deref().unwrap_or_default();
    let ids = [
        ("executionId", after.id.as_str()),
        ("application", after.application.as_str()),
        ("pipelineConfigId", config_id),
    ];
    for point in points(before, after) {
        match point {
            Point::Started => metrics::count(EXECUTIONS_STARTED, &[], &ids),
            Point::Completed { status } => {
                tracing::info!(status, "execution completed");
                metrics::count(EXECUTIONS_COMPLETED, &[("Status", &status)], &ids);
            }
            Point::StageEnded {
                stage_id,
                stage_type,
                status,
                milliseconds,
            } => {
                let mut properties = ids.to_vec();
                properties.push(("stageId", &stage_id));
                metrics::milliseconds(
                    STAGE_DURATION,
                    milliseconds,
                    &[("StageType", &stage_type), ("Status", &status)],
                    &properties,
                );
            }
        }
    }
}

/// A stage report has been acted on: the time since SQS accepted it.
pub(crate) fn record_report_handled(message: &SqsMessage, execution_id: &str) {
    let sent = message
        .attributes
        .get("SentTimestamp")
        .and_then(|sent| sent.parse::<i64>().ok());
    if let Some(sent) = sent {
        metrics::milliseconds(
            ORCHESTRATION_LAG,
            now_millis() - sent,
            &[],
            &[("executionId", execution_id)],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_model::ExecutionStatus;
    use serde_json::json;

    fn execution(status: &str, started: Option<i64>, stages: serde_json::Value) -> Execution {
        serde_json::from_value(json!({
            "type": "PIPELINE", "id": "01J", "application": "shop", "status": status,
            "startTime": started, "stages": stages, "trigger": {"type": "manual"},
        }))
        .expect("an execution")
    }

    fn stage(id: &str, status: &str, start: Option<i64>, end: Option<i64>) -> serde_json::Value {
        json!({"id": id, "refId": id, "type": "wait", "name": id, "status": status,
               "startTime": start, "endTime": end, "context": {}, "outputs": {}})
    }

    #[test]
    fn a_start_an_end_and_each_stage_that_ended_are_counted_once() {
        let before = execution(
            "NOT_STARTED",
            None,
            json!([stage("a", "NOT_STARTED", None, None)]),
        );
        let running = execution(
            "RUNNING",
            Some(10),
            json!([stage("a", "RUNNING", Some(10), None)]),
        );
        assert_eq!(points(&before, &running), [Point::Started]);

        let done = execution(
            "SUCCEEDED",
            Some(10),
            json!([stage("a", "SUCCEEDED", Some(10), Some(1510))]),
        );
        assert_eq!(
            points(&running, &done),
            [
                Point::Completed {
                    status: "SUCCEEDED".into()
                },
                Point::StageEnded {
                    stage_id: "a".into(),
                    stage_type: "wait".into(),
                    status: "SUCCEEDED".into(),
                    milliseconds: 1500
                }
            ]
        );
        // A redelivered report changes nothing and counts nothing.
        assert_eq!(points(&done, &done), []);
        assert_eq!(done.status, ExecutionStatus::Succeeded);
    }

    #[test]
    fn a_stage_that_never_ran_has_no_duration() {
        let running = execution(
            "RUNNING",
            Some(10),
            json!([stage("a", "NOT_STARTED", None, None)]),
        );
        let skipped = execution(
            "RUNNING",
            Some(10),
            json!([stage("a", "SKIPPED", None, None)]),
        );
        assert_eq!(points(&running, &skipped), []);
    }
}
