//! What every stage worker shares: the loop that serves its queue ([`serve`], with the
//! [`StageWorker`] trait each worker implements), where a stage stands ([`Liveness`]), the
//! answers, and progress recorded on the stage item ([`Progress`]).
//!
//! # Protocol
//! The stage state machine (`statemachines/stage.asl.json`) sends a worker's queue a
//! [`TaskMessage`] with a task token and the stage ([`StageInput`]: ids, attempt, type,
//! context, and `result` = the worker's previous answer in this attempt). The worker answers
//! the token with an [`Answer`] (the types live in `gennaker-protocol`): RUNNING with a
//! backoff (poll me again; `context` carries progress to the next poll), or a final status
//! whose `context` is merged into the stage context and `outputs` into the pipeline's.
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

mod serve;
mod stop;

use gennaker_model::{ExecutionStatus, StageExecution};
use gennaker_runtime::step_functions::{StepFunctions, StepFunctionsError, TokenAnswer};
use gennaker_store::{Store, StoreError};
use serde_json::{Map, Value, json};

pub use gennaker_protocol::{
    Answer, CancelNotice, StageInput, TaskMessage, WorkerMessage, exception,
};
pub use gennaker_store::LoadedStage;
pub use serve::{StageWorker, Task, run_on_lambda, serve};
pub use stop::{Step, Stop};

/// How often a progress write that lost a race is retried from a fresh read.
const MAX_PROGRESS_RETRIES: usize = 5;

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
        self.record_with(input, loaded, |_| Some(entries.clone()))
            .await
    }

    /// Records on the stage what `entries_for` makes of the stored context (`None`: an
    /// earlier delivery recorded it already; nothing is written). The write is conditional
    /// on the version read and retried from a fresh read after a lost race, so two
    /// deliveries racing to record a choice end with one of them. Returns the stage as
    /// stored afterwards; `Ok(None)` when it is no longer running at this attempt.
    pub async fn record_with(
        &self,
        input: &StageInput,
        loaded: LoadedStage,
        entries_for: impl Fn(&Map<String, Value>) -> Option<Map<String, Value>>,
    ) -> Result<Option<LoadedStage>, WorkerError> {
        let Some(store) = &self.store else {
            return Ok(Some(loaded));
        };
        let mut loaded = loaded;
        for _ in 0..MAX_PROGRESS_RETRIES {
            let Some(entries) = entries_for(&loaded.stage.context) else {
                return Ok(Some(loaded));
            };
            match store
                .merge_stage_context(&input.execution_id, &loaded, &entries)
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
    fn a_stage_stands_in_for_the_stored_one_without_a_store() {
        let input: StageInput = serde_json::from_value(json!({
            "executionId": "e", "stageId": "s", "attempt": 1, "type": "webhook",
            "timeoutSeconds": 10, "startTime": 1_000
        }))
        .unwrap();
        let stage = stage_from_input(&input);
        assert_eq!((stage.attempt, stage.status), (1, ExecutionStatus::Running));
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
