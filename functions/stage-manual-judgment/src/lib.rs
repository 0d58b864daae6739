//! The manual judgment worker. The stage state machine sends it a task message with a task
//! token; it parks the token on the stage item so that the judgment API call can answer it.
//! If the judgment arrived first, the worker answers at once. Both sides write to the same
//! item and read back the other's field, so whichever comes second answers the token.

use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_model::judgment::Judgment;
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, Tables};
use gennaker_worker::{Answer, LoadedStage, Progress, StageInput, StageWorker, Task, WorkerError};
use serde_json::Map;

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

pub struct ManualJudgmentWorker {
    store: Store,
    /// Answers tokens; without a store, so the loop does not read the stage a second time.
    progress: Progress,
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
            progress: Progress::new(None, StepFunctions::new(aws_sdk_sfn::Client::new(sdk))),
        }
    }

    /// Parks the token; answers at once when the judgment came first.
    async fn park(&self, task: &Task) -> Result<Option<Answer>, WorkerError> {
        let StageInput {
            execution_id,
            stage_id,
            attempt,
            ..
        } = &task.stage;
        let parked = self
            .store
            .park_stage_task_token(execution_id, stage_id, *attempt, &task.token)
            .await?;
        Ok(match parked {
            // The stage was restarted or removed: this attempt is over.
            None => Some(Answer::canceled()),
            Some(stage) => Judgment::from_context(&stage.context)
                .map(|judgment| Answer::finished(judgment.stage_status(), Map::new(), Map::new())),
        })
    }
}

impl StageWorker for ManualJudgmentWorker {
    const NAME: &'static str = "manual-judgment";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, ManualJudgmentConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Never asked: a judgment waits on one task token for the whole stage.
    fn paused_backoff_seconds(&self) -> u64 {
        10
    }

    /// The stage machine times the judgment out (`TimeoutSecondsPath`).
    async fn on_timeout(
        &self,
        _input: &StageInput,
        _loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        Ok(None)
    }

    async fn step(&self, task: &Task, _loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        self.park(task).await
    }
}

#[cfg(test)]
mod sample_events {
    use aws_lambda_events::sqs::SqsEvent;
    use gennaker_runtime::batch::parse_body;
    use gennaker_worker::TaskMessage;

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
