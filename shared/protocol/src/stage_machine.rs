//! The stage state machine (`statemachines/stage.asl.json`): its input, written by the
//! orchestrator, and the messages on the stage workers' queues.
//!
//! The machine runs one attempt of one stage. For a stage that calls out it sends the
//! stage's worker queue a [`TaskMessage`] with a task token and the machine's state as
//! `stage` (this input plus `result`, the worker's previous answer in this attempt) and
//! waits for the worker's [`crate::Answer`]; a RUNNING answer loops through a Wait state.
//! When the orchestrator cancels a running stage it sends the worker queue a
//! [`CancelNotice`], so the worker can stop what it started outside.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Answer;

/// The input of one stage machine run, named `{executionId}-{stageId}-{attempt}`, and the
/// `stage` of every task message its workers get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    pub execution_id: String,
    #[serde(default)]
    pub application: String,
    pub stage_id: String,
    #[serde(default)]
    pub ref_id: String,
    pub attempt: u32,
    /// The machine routes on it (`Route`).
    #[serde(rename = "type")]
    pub stage_type: String,
    #[serde(default)]
    pub name: String,
    /// A `wait` stage's `waitTime` in whole seconds (the Wait state's `SecondsPath`).
    #[serde(default)]
    pub wait_seconds: u64,
    /// The stage's timeout (`stageTimeoutMs` or its type's default): the manual judgment
    /// task's timeout; polling workers check it on every poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// When the stage started (epoch millis).
    #[serde(default)]
    pub start_time: Option<i64>,
    /// A pipeline stage asks the orchestrator to start its child on the same FIFO queue
    /// where the machine later reports; the two messages need distinct deduplication ids.
    #[serde(default)]
    pub start_child_deduplication_id: String,
    #[serde(default)]
    pub context: Map<String, Value>,
    /// When a stage with an execution window may start (ISO 8601); absent when it may start
    /// at once (the machine checks `IsPresent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// The worker's previous answer in this attempt; absent on the first poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Answer>,
    /// The execution's `authentication.allowedAccounts`: the accounts whoever started it
    /// could WRITE then. Cloud stages refuse a restricted account not listed (Fiat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_accounts: Vec<String>,
}

impl StageInput {
    /// The `context` of the previous answer (empty on the first poll).
    pub fn previous_context(&self) -> Map<String, Value> {
        self.result
            .as_ref()
            .map(|result| result.context.clone())
            .unwrap_or_default()
    }

    /// The stage context with the previous answer's context merged over it.
    pub fn current_context(&self) -> Map<String, Value> {
        let mut context = self.context.clone();
        context.extend(self.previous_context());
        context
    }

    /// Milliseconds left before the stage times out (negative once it has); `None` without
    /// a timeout or a start time.
    pub fn remaining_millis(&self, now: i64) -> Option<i64> {
        let timeout = i64::try_from(self.timeout_seconds?)
            .ok()?
            .saturating_mul(1000);
        Some(self.start_time?.saturating_add(timeout) - now)
    }

    /// Whether the stage ran past its timeout (Orca's `RunTaskHandler` checks it before
    /// every run of a task).
    pub fn timed_out(&self, now: i64) -> bool {
        self.remaining_millis(now).is_some_and(|left| left <= 0)
    }
}

/// What the stage machine sends a worker queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskMessage {
    pub task_token: String,
    pub stage: StageInput,
}

/// Sent by the orchestrator to a worker queue when it cancels a running stage of that
/// worker's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelNotice {
    pub execution_id: String,
    pub stage_id: String,
    pub attempt: u32,
    #[serde(rename = "type")]
    pub stage_type: String,
    #[serde(default)]
    pub context: Map<String, Value>,
}

/// What arrives on a worker queue: `{"cancel": {...}}` or a task message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkerMessage {
    Cancel { cancel: CancelNotice },
    Task(Box<TaskMessage>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_messages_carry_the_previous_answer() {
        let task: WorkerMessage = serde_json::from_value(json!({
            "taskToken": "t",
            "stage": {"executionId": "e", "stageId": "s", "attempt": 2, "type": "webhook",
                      "context": {"url": "https://x.example.com"},
                      "result": {"status": "RUNNING", "backoffSeconds": 1, "context": {"a": 1}}}
        }))
        .unwrap();
        let WorkerMessage::Task(task) = task else {
            panic!("not a task")
        };
        assert_eq!(task.stage.previous_context()["a"], json!(1));
        assert_eq!(
            task.stage.current_context()["url"],
            json!("https://x.example.com")
        );

        let notice = CancelNotice {
            execution_id: "e".into(),
            stage_id: "s".into(),
            attempt: 1,
            stage_type: "jenkins".into(),
            context: Map::new(),
        };
        let message = WorkerMessage::Cancel {
            cancel: notice.clone(),
        };
        let parsed: WorkerMessage =
            serde_json::from_value(serde_json::to_value(&message).unwrap()).unwrap();
        assert!(matches!(parsed, WorkerMessage::Cancel { cancel } if cancel == notice));
    }

    #[test]
    fn the_stage_timeout_counts_from_the_stage_start() {
        let input: StageInput = serde_json::from_value(json!({
            "executionId": "e", "stageId": "s", "attempt": 1, "type": "webhook",
            "timeoutSeconds": 10, "startTime": 1_000
        }))
        .unwrap();
        assert_eq!(input.remaining_millis(4_000), Some(7_000));
        assert!(!input.timed_out(10_999));
        assert!(input.timed_out(11_000));
    }
}
