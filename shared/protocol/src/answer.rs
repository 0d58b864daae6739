//! A stage attempt's answer: what a worker answers its task token with on every poll, and
//! what the stage machine reports to the orchestrator when the attempt ends.

use gennaker_model::ExecutionStatus;
use gennaker_model::json::now_millis;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

/// `{"status": "RUNNING", "backoffSeconds": N, "context": {...}}` asks the stage machine to
/// poll the worker again in N seconds with this answer as `stage.result`, so `context`
/// carries progress from one poll to the next. A final status (`SUCCEEDED`, `TERMINAL`,
/// `CANCELED`, ...) ends the attempt: `context` is merged into the stage context, `outputs`
/// into the pipeline-scoped outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// A status this version does not know reads as TERMINAL: never a silent success.
    #[serde(deserialize_with = "known_or_terminal")]
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_seconds: Option<u64>,
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default)]
    pub outputs: Map<String, Value>,
}

fn known_or_terminal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<ExecutionStatus, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(text.parse().unwrap_or(ExecutionStatus::Terminal))
}

impl Answer {
    /// Poll again after `backoff_seconds`, carrying `context` to the next poll.
    pub fn running(backoff_seconds: u64, context: Map<String, Value>) -> Answer {
        Answer {
            status: ExecutionStatus::Running,
            backoff_seconds: Some(backoff_seconds),
            context,
            outputs: Map::new(),
        }
    }

    pub fn finished(
        status: ExecutionStatus,
        context: Map<String, Value>,
        outputs: Map<String, Value>,
    ) -> Answer {
        Answer {
            status,
            backoff_seconds: None,
            context,
            outputs,
        }
    }

    pub fn succeeded(context: Map<String, Value>, outputs: Map<String, Value>) -> Answer {
        Answer::finished(ExecutionStatus::Succeeded, context, outputs)
    }

    /// The attempt is over because the stage was canceled or restarted meanwhile.
    pub fn canceled() -> Answer {
        Answer::finished(ExecutionStatus::Canceled, Map::new(), Map::new())
    }

    /// TERMINAL with `message` as the stage's `context.exception` (what Deck shows).
    pub fn terminal(message: impl Into<String>, mut context: Map<String, Value>) -> Answer {
        context.insert("exception".into(), exception(&message.into()));
        Answer::finished(ExecutionStatus::Terminal, context, Map::new())
    }

    /// The stage ran out of time: TERMINAL with `timedOut` (SUCCEEDED instead when the stage
    /// has `markSuccessfulOnTimeout`; the engine decides), like the stage machine's own
    /// timeout.
    pub fn timed_out(mut context: Map<String, Value>) -> Answer {
        context.insert("timedOut".into(), json!(true));
        let mut answer = Answer::terminal(
            "The stage ran longer than its timeout (stageTimeoutMs) allows.",
            context,
        );
        if let Some(Value::Object(exception)) = answer.context.get_mut("exception") {
            exception.insert("exceptionType".into(), json!("TimeoutException"));
        }
        answer
    }

    /// The attempt's final status as the orchestrator applies it: a status that does not
    /// end a stage (an attempt cannot end RUNNING) is a failure.
    pub fn final_status(&self) -> ExecutionStatus {
        if self.status.is_complete() {
            self.status
        } else {
            ExecutionStatus::Terminal
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("answers serialize")
    }
}

/// Orca's `context.exception` for a stage error.
pub fn exception(message: &str) -> Value {
    json!({
        "exceptionType": "StageError",
        "shouldRetry": false,
        "timestamp": now_millis(),
        "details": { "error": message, "errors": [message] },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_have_the_protocol_shape() {
        let running = Answer::running(5, Map::from_iter([("k".into(), json!(1))]));
        assert_eq!(
            running.to_json(),
            json!({"status": "RUNNING", "backoffSeconds": 5, "context": {"k": 1}, "outputs": {}})
        );
        let terminal = Answer::terminal("boom", Map::new()).to_json();
        assert_eq!(terminal["status"], "TERMINAL");
        assert_eq!(
            terminal["context"]["exception"]["details"]["errors"][0],
            "boom"
        );
        let read: Answer = serde_json::from_value(running.to_json()).unwrap();
        assert_eq!(read, running);
    }

    #[test]
    fn unknown_worker_status_counts_as_terminal() {
        let result: Answer = serde_json::from_value(json!({"status": "WHATEVER"})).unwrap();
        assert_eq!(result.status, ExecutionStatus::Terminal);
        let running: Answer = serde_json::from_value(json!({"status": "RUNNING"})).unwrap();
        assert_eq!(running.final_status(), ExecutionStatus::Terminal);
    }

    #[test]
    fn a_timeout_is_terminal_with_timed_out() {
        let answer = Answer::timed_out(Map::new()).to_json();
        assert_eq!(answer["context"]["timedOut"], true);
        assert_eq!(answer["status"], "TERMINAL");
    }
}
