//! What every stage worker shares (webhook, Jenkins, script, preconditions).
//!
//! # Protocol
//! The stage state machine (`statemachines/stage.asl.json`) sends a worker's queue a
//! [`TaskMessage`] with a task token and the stage ([`StageInput`]: ids, attempt, type,
//! context, and `result` = the worker's previous answer in this attempt). The worker answers
//! the token with an [`Answer`]:
//! * `{"status": "RUNNING", "backoffSeconds": N, "context": {...}}` — poll me again in N
//!   seconds; the machine waits, then sends a new task message whose `stage.result` is this
//!   answer, so `context` carries progress from one poll to the next;
//! * a final status (`SUCCEEDED`, `TERMINAL`, `CANCELED`, ...) with `context` (merged into the
//!   stage context) and `outputs` (merged into the pipeline-scoped outputs).
//!
//! Workers never sleep through long waits: they answer RUNNING with a backoff.
//!
//! # Progress and cancel
//! Workers that start something outside (a Jenkins build, a webhook with a status URL)
//! record it on the stage item as well ([`Progress::record`], conditional on the version
//! read), so the execution shows it while the stage runs and the orchestrator has it when
//! it cancels. When an execution is canceled, the orchestrator stops the stage machine and
//! sends the stage's worker queue a [`CancelNotice`] with the stage context; the worker then
//! stops what it started. A worker whose progress write finds the stage no longer running
//! (canceled between its call and its write) cleans up itself.
//!
//! # Redelivery
//! SQS may deliver a message twice. Workers check that the stage is still running at their
//! attempt, and a step with an outside effect (sending a webhook, triggering a build)
//! records it on the stage before answering, so a redelivered message finds it and does not
//! do it again. (A crash between the effect and its record can still repeat it, as in Orca.)
//! Answering a token twice is harmless: the second answer finds nobody waiting. A worker
//! without store access (the script worker) uses the SQS receive count instead: on a
//! redelivery it asks, with a task heartbeat ([`Progress::still_waiting`]), whether the
//! answer is still awaited, and never runs the script twice.

pub mod properties;

use gennaker_model::json::now_millis;
use gennaker_model::{ExecutionStatus, StageExecution};
use gennaker_runtime::step_functions::{StepFunctions, StepFunctionsError, TokenAnswer};
use gennaker_store::{LoadedStage, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How often a progress write that lost a race is retried from a fresh read.
const MAX_PROGRESS_RETRIES: usize = 5;

/// The message `statemachines/stage.asl.json` sends to a worker queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskMessage {
    pub task_token: String,
    pub stage: StageInput,
}

/// The stage machine's input (see `functions/orchestrator/src/stage_input.rs`) plus the
/// worker's previous answer in this attempt.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    pub execution_id: String,
    #[serde(default)]
    pub application: String,
    pub stage_id: String,
    pub attempt: u32,
    #[serde(rename = "type")]
    pub stage_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub context: Map<String, Value>,
    /// The previous answer of this attempt; absent on the first poll.
    #[serde(default)]
    pub result: Option<Value>,
    /// The stage's timeout (`stageTimeoutMs` or its type's default).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// When the stage started (epoch millis).
    #[serde(default)]
    pub start_time: Option<i64>,
}

impl StageInput {
    /// The `context` of the previous answer (empty on the first poll).
    pub fn previous_context(&self) -> Map<String, Value> {
        self.result
            .as_ref()
            .and_then(|result| result.get("context"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Milliseconds left before the stage times out (negative once it has); `None` without
    /// a timeout or a start time.
    pub fn remaining_millis(&self, now: i64) -> Option<i64> {
        let timeout = i64::try_from(self.timeout_seconds?)
            .ok()?
            .saturating_mul(1000);
        Some(self.start_time?.saturating_add(timeout) - now)
    }

    /// Whether the stage ran past its timeout (Orca's `RunTaskHandler` checks it on every task
    /// run).
    pub fn timed_out(&self, now: i64) -> bool {
        self.remaining_millis(now).is_some_and(|left| left <= 0)
    }

    /// The stage context with the previous answer's context merged over it.
    pub fn current_context(&self) -> Map<String, Value> {
        let mut context = self.context.clone();
        context.extend(self.previous_context());
        context
    }
}

/// Sent by the orchestrator to a worker queue when it cancels a running stage of that
/// worker's type: `{"cancel": {"executionId", "stageId", "attempt", "type", "context"}}`.
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

/// The span of one message's handling: the worker kind, execution and stage ids.
pub fn stage_span(worker: &'static str, execution_id: &str, stage_id: &str) -> tracing::Span {
    tracing::info_span!("stage_worker", worker, execution_id, stage_id)
}

/// How often SQS has delivered `message` (1 on the first delivery).
pub fn receive_count(message: &aws_lambda_events::sqs::SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1)
}

/// What arrives on a worker queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Incoming {
    Cancel { cancel: CancelNotice },
    Task(TaskMessage),
}

impl CancelNotice {
    /// The message body, as the orchestrator sends it.
    pub fn to_message(&self) -> Value {
        json!({ "cancel": self })
    }
}

/// A worker's answer to the stage machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_seconds: Option<u64>,
    pub context: Map<String, Value>,
    pub outputs: Map<String, Value>,
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

/// Where a worker's stage stands in the store.
#[derive(Debug, Clone)]
pub enum Liveness {
    /// RUNNING at this attempt: do the work.
    Active(LoadedStage),
    /// PAUSED at this attempt: start nothing new, poll again later.
    Paused(LoadedStage),
    /// Restarted, canceled, finished or gone: this attempt is over.
    Over,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    StepFunctions(#[from] StepFunctionsError),
    #[error("{0}")]
    BadMessage(String),
    #[error("the progress of stage {0} kept changing under the worker")]
    Contended(String),
}

/// The store and Step Functions calls every worker makes.
#[derive(Clone)]
pub struct Progress {
    store: Option<Store>,
    step_functions: StepFunctions,
}

impl Progress {
    /// `store` is `None` for workers whose role may not touch the executions table.
    pub fn new(store: Option<Store>, step_functions: StepFunctions) -> Progress {
        Progress {
            store,
            step_functions,
        }
    }

    pub fn step_functions(&self) -> &StepFunctions {
        &self.step_functions
    }

    /// Answers the task token; a token nobody waits for any more is fine.
    pub async fn answer(&self, task_token: &str, answer: &Answer) -> Result<(), WorkerError> {
        let delivered = self
            .step_functions
            .send_task_success(task_token, &answer.to_json())
            .await?;
        if delivered == TokenAnswer::NoLongerWaiting {
            tracing::info!("the stage machine no longer waits for this answer");
        }
        Ok(())
    }

    /// Whether the stage machine still waits on `task_token` (false once it was answered,
    /// timed out or its machine was stopped). Only reliable for tasks with
    /// `HeartbeatSeconds` (the emulator refuses heartbeats of tasks without it).
    pub async fn still_waiting(&self, task_token: &str) -> Result<bool, WorkerError> {
        Ok(self.step_functions.send_task_heartbeat(task_token).await? == TokenAnswer::Delivered)
    }

    /// The stage's state in the store (always `Active` without a store).
    pub async fn liveness(&self, input: &StageInput) -> Result<Liveness, WorkerError> {
        let Some(store) = &self.store else {
            return Ok(Liveness::Active(LoadedStage {
                stage: stage_from_input(input),
                version: 0,
                cancel_handled_attempt: None,
            }));
        };
        let loaded = store
            .load_stage(&input.execution_id, &input.stage_id)
            .await?;
        Ok(classify(loaded, input.attempt))
    }

    /// Merges `entries` into the stage context in the store. `Ok(None)` when the stage is no
    /// longer running at this attempt (canceled or restarted meanwhile): the caller must undo
    /// what it started, nobody else will.
    pub async fn record(
        &self,
        input: &StageInput,
        loaded: LoadedStage,
        entries: &Map<String, Value>,
    ) -> Result<Option<LoadedStage>, WorkerError> {
        let Some(store) = &self.store else {
            return Ok(Some(loaded));
        };
        let mut loaded = loaded;
        for _ in 0..MAX_PROGRESS_RETRIES {
            match store
                .merge_stage_context(&input.execution_id, &loaded, entries)
                .await
            {
                Ok(written) => return Ok(Some(written)),
                Err(StoreError::Conflict(_)) => {
                    let fresh = store
                        .load_stage(&input.execution_id, &input.stage_id)
                        .await?;
                    match classify(fresh, input.attempt) {
                        Liveness::Active(fresh) | Liveness::Paused(fresh) => loaded = fresh,
                        Liveness::Over => return Ok(None),
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(WorkerError::Contended(input.stage_id.clone()))
    }

    /// The stage of a cancel notice as stored now (its context may have progress the
    /// notice lacks), unless its cancel was handled already. Without a store: the notice's.
    pub async fn cancel_to_handle(
        &self,
        notice: &CancelNotice,
    ) -> Result<Option<Map<String, Value>>, WorkerError> {
        let Some(store) = &self.store else {
            return Ok(Some(notice.context.clone()));
        };
        let loaded = store
            .load_stage(&notice.execution_id, &notice.stage_id)
            .await?;
        Ok(match loaded {
            None => Some(notice.context.clone()),
            Some(loaded) if loaded.cancel_handled_attempt >= Some(notice.attempt) => None,
            Some(loaded) if loaded.stage.attempt != notice.attempt => None,
            Some(loaded) => {
                let mut context = notice.context.clone();
                context.extend(loaded.stage.context);
                Some(context)
            }
        })
    }

    /// Records that the cancel of the notice's attempt was handled.
    pub async fn cancel_handled(&self, notice: &CancelNotice) -> Result<(), WorkerError> {
        if let Some(store) = &self.store {
            store
                .mark_stage_cancel_handled(&notice.execution_id, &notice.stage_id, notice.attempt)
                .await?;
        }
        Ok(())
    }
}

fn classify(loaded: Option<LoadedStage>, attempt: u32) -> Liveness {
    match loaded {
        Some(loaded) if loaded.stage.attempt == attempt => match loaded.stage.status {
            ExecutionStatus::Running => Liveness::Active(loaded),
            ExecutionStatus::Paused => Liveness::Paused(loaded),
            _ => Liveness::Over,
        },
        _ => Liveness::Over,
    }
}

/// A stand-in stage when there is no store to read it from.
fn stage_from_input(input: &StageInput) -> StageExecution {
    serde_json::from_value(json!({
        "id": input.stage_id,
        "refId": "",
        "type": input.stage_type,
        "name": input.name,
        "status": "RUNNING",
        "context": input.context,
        "attempt": input.attempt,
    }))
    .expect("a minimal stage deserializes")
}

/// A field of the stage context read as a list of integers: `[504, "502"]` or `"502, 504"`.
pub fn int_list(context: &Map<String, Value>, key: &str) -> Option<Vec<i64>> {
    match context.get(key)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| match item {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .collect(),
        ),
        Value::String(text) => Some(
            text.split(',')
                .filter_map(|part| part.trim().parse().ok())
                .collect(),
        ),
        Value::Number(n) => n.as_i64().map(|n| vec![n]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_messages_and_cancel_notices_are_told_apart() {
        let task: Incoming = serde_json::from_value(json!({
            "taskToken": "t",
            "stage": {"executionId": "e", "stageId": "s", "attempt": 2, "type": "webhook",
                      "context": {"url": "https://x.example.com"},
                      "result": {"status": "RUNNING", "backoffSeconds": 1, "context": {"a": 1}}}
        }))
        .unwrap();
        let Incoming::Task(task) = task else {
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
        let parsed: Incoming = serde_json::from_value(notice.to_message()).unwrap();
        assert!(matches!(parsed, Incoming::Cancel { cancel } if cancel == notice));
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
        let answer = Answer::timed_out(Map::new()).to_json();
        assert_eq!(answer["context"]["timedOut"], true);
        assert_eq!(answer["status"], "TERMINAL");
        let stage = stage_from_input(&input);
        assert_eq!((stage.attempt, stage.status), (1, ExecutionStatus::Running));
    }

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
    }

    #[test]
    fn integer_lists_come_in_several_shapes() {
        let context = json!({"a": [504, "502"], "b": "400, 401", "c": 418})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(int_list(&context, "a"), Some(vec![504, 502]));
        assert_eq!(int_list(&context, "b"), Some(vec![400, 401]));
        assert_eq!(int_list(&context, "c"), Some(vec![418]));
        assert_eq!(int_list(&context, "d"), None);
    }
}
