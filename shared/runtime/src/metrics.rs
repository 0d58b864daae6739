//! Metrics as CloudWatch Embedded Metric Format: each data point is one JSON log line that
//! CloudWatch Logs turns into a metric, so publishing costs no API call and no latency.
//!
//! Lines are written only where logs are JSON (Lambda, see [`crate::logging::init`]); local
//! mode's console stays readable. The namespace is `METRICS_NAMESPACE` (template.yaml sets
//! `Gennaker/<stack name>`).

use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Executions that began to run (dimensionless).
pub const EXECUTIONS_STARTED: &str = "ExecutionsStarted";
/// Executions that ended, by `Status`.
pub const EXECUTIONS_COMPLETED: &str = "ExecutionsCompleted";
/// A stage's run time in milliseconds, by `StageType` and `Status`.
pub const STAGE_DURATION: &str = "StageDuration";
/// Milliseconds from a stage's report being sent to the orchestrator having acted on it
/// (started what comes next).
pub const ORCHESTRATION_LAG: &str = "OrchestrationLag";
/// Executions started by a trigger, by `TriggerType`.
pub const TRIGGER_FIRES: &str = "TriggerFires";
/// Notifications delivered, by `NotificationType`.
pub const NOTIFICATIONS_SENT: &str = "NotificationsSent";
/// Notifications that could not be delivered, by `NotificationType`.
pub const NOTIFICATION_FAILURES: &str = "NotificationFailures";
/// Steps of stage workers (each poll of a running stage), by `Worker`.
pub const WORKER_POLLS: &str = "WorkerPolls";

/// Every metric the functions write; the dashboard shows each one (a test checks).
pub const ALL: [&str; 8] = [
    EXECUTIONS_STARTED,
    EXECUTIONS_COMPLETED,
    STAGE_DURATION,
    ORCHESTRATION_LAG,
    TRIGGER_FIRES,
    NOTIFICATIONS_SENT,
    NOTIFICATION_FAILURES,
    WORKER_POLLS,
];

const DEFAULT_NAMESPACE: &str = "Gennaker";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One data point: `name` = `value`, under `dimensions` (name, value); `properties` are
/// searchable in the log line but make no metric of their own (ids, which would make one
/// metric per execution).
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint<'a> {
    pub name: &'a str,
    pub value: f64,
    pub unit: Unit,
    pub dimensions: &'a [(&'a str, &'a str)],
    pub properties: &'a [(&'a str, &'a str)],
}

impl DataPoint<'_> {
    /// The Embedded Metric Format line for this point at `timestamp_ms`.
    pub fn to_line(&self, namespace: &str, timestamp_ms: u64) -> String {
        let mut line = Map::new();
        for (name, value) in self.properties {
            line.insert((*name).to_string(), json!(value));
        }
        for (name, value) in self.dimensions {
            line.insert((*name).to_string(), json!(value));
        }
        line.insert(self.name.to_string(), json!(self.value));
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": [{"Name": self.name, "Unit": self.unit.as_str()}],
                }],
            }),
        );
        Value::Object(line).to_string()
    }

    /// Writes the line to standard output (CloudWatch Logs in Lambda); nothing in local mode.
    pub fn emit(&self) {
        if !crate::logging::json_enabled() {
            return;
        }
        let line = self.to_line(namespace(), now_millis());
        // One write of a whole line, so it never interleaves with a log line.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// Counts one occurrence of `name`.
pub fn count(name: &str, dimensions: &[(&str, &str)], properties: &[(&str, &str)]) {
    DataPoint {
        name,
        value: 1.0,
        unit: Unit::Count,
        dimensions,
        properties,
    }
    .emit();
}

/// Records a duration of `milliseconds` for `name`.
pub fn milliseconds(
    name: &str,
    milliseconds: i64,
    dimensions: &[(&str, &str)],
    properties: &[(&str, &str)],
) {
    DataPoint {
        name,
        value: milliseconds.max(0) as f64,
        unit: Unit::Milliseconds,
        dimensions,
        properties,
    }
    .emit();
}

fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
    })
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_point_is_an_embedded_metric_format_line() {
        let point = DataPoint {
            name: STAGE_DURATION,
            value: 1520.0,
            unit: Unit::Milliseconds,
            dimensions: &[("StageType", "webhook"), ("Status", "SUCCEEDED")],
            properties: &[("executionId", "01J"), ("stageId", "s1")],
        };
        let line: Value = serde_json::from_str(&point.to_line("Gennaker/prod", 1_700_000_000_000))
            .expect("one JSON object");
        assert_eq!(
            line,
            json!({
                "executionId": "01J", "stageId": "s1",
                "StageType": "webhook", "Status": "SUCCEEDED", "StageDuration": 1520.0,
                "_aws": {"Timestamp": 1_700_000_000_000_u64, "CloudWatchMetrics": [{
                    "Namespace": "Gennaker/prod",
                    "Dimensions": [["StageType", "Status"]],
                    "Metrics": [{"Name": "StageDuration", "Unit": "Milliseconds"}]}]}
            })
        );
    }

    #[test]
    fn a_dimensionless_point_has_one_empty_dimension_set() {
        let point = DataPoint {
            name: EXECUTIONS_STARTED,
            value: 1.0,
            unit: Unit::Count,
            dimensions: &[],
            properties: &[],
        };
        let line: Value = serde_json::from_str(&point.to_line("Gennaker", 1)).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(line["ExecutionsStarted"], json!(1.0));
    }
}
