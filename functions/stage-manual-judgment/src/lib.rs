//! The manual judgment worker. The stage state machine sends it a task message with a task
//! token; it parks the token on the stage item so that the judgment API call can answer it.
//! If the judgment arrived first, the worker answers at once. Both sides write to the same
//! item and read back the other's field, so whichever comes second answers the token.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gennaker_model::judgment::Judgment;
use gennaker_runtime::batch::{parse_body, process_each};
use gennaker_runtime::env::{FunctionEnv, MissingVariable};
use gennaker_runtime::step_functions::{StepFunctions, StepFunctionsError};
use gennaker_store::{Store, StoreError, Tables};
use serde::Deserialize;
use serde_json::json;

/// The message `statemachines/stage.asl.json` sends to the worker queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskMessage {
    pub task_token: String,
    pub stage: StageRef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRef {
    pub execution_id: String,
    pub stage_id: String,
    pub attempt: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    StepFunctions(#[from] StepFunctionsError),
    #[error("{0}")]
    BadMessage(String),
}

#[derive(Debug, Clone)]
pub struct ManualJudgmentConfig {
    pub executions_table: String,
}

impl ManualJudgmentConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, MissingVariable> {
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
        })
    }
}

#[derive(Clone)]
pub struct ManualJudgmentWorker {
    store: Store,
    step_functions: StepFunctions,
}

impl ManualJudgmentWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: ManualJudgmentConfig) -> Self {
        let tables = Tables {
            // This worker only touches executions; its role has no access to other tables.
            applications: String::new(),
            pipelines: String::new(),
            executions: config.executions_table,
        };
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), tables),
            step_functions: StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
        }
    }

    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_each(event, |message| async move {
            let task: TaskMessage = parse_body(&message).map_err(WorkerError::BadMessage)?;
            self.handle(task).await
        })
        .await
    }

    pub async fn handle(&self, task: TaskMessage) -> Result<(), WorkerError> {
        let StageRef {
            execution_id,
            stage_id,
            attempt,
        } = &task.stage;
        let parked = self
            .store
            .park_stage_task_token(execution_id, stage_id, *attempt, &task.task_token)
            .await?;
        let answer = match parked {
            // The stage was restarted or removed: this attempt is over.
            None => Some(json!({ "status": "CANCELED" })),
            Some(stage) => Judgment::from_context(&stage.context).map(Judgment::worker_answer),
        };
        if let Some(answer) = answer {
            self.step_functions
                .send_task_success(&task.task_token, &answer)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod sample_events {
    use super::*;

    /// The sample event in `events/` (used with `cargo lambda invoke`) must stay readable.
    #[test]
    fn sample_event_parses_into_a_task_message() {
        let path = format!(
            "{}/../../events/manual-judgment-task.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let task: TaskMessage = parse_body(&event.records[0]).unwrap();
        assert_eq!(task.stage.attempt, 1);
        assert!(!task.task_token.is_empty());
    }
}
