//! The bake stage worker (Spinnaker's Rosco with Orca's `BakeStage` tasks): one
//! `bake` stage bakes an AMI in every region it names.
//!
//! Per region, each poll does the next step and answers RUNNING until every region is
//! done: reuse an available image with the same bake key (unless `rebake`), or launch one
//! builder instance, wait for its user data to signal (a tag on the instance, see
//! `gennaker_cloud::bake`), create the image, wait until it is available and terminate
//! the builder. Bad input fails the stage before anything is launched.
//!
//! Redelivery: the builder's instance id is recorded on the stage item with a
//! version-conditioned write right after the launch, and the launch carries a client token
//! (also tagged on the builder) derived from execution, stage, attempt and region, so a
//! second delivery finds the builder instead of starting another one.
//!
//! Builders never outlive their stage: they are terminated when the image is available,
//! when the bake fails or times out, and on a cancel notice.

mod poll;

use gennaker_cloud::bake::{BakeProgress, BaseImages, BaseImagesError};
use gennaker_cloud::{Accounts, Cloud, CloudError};
use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, Tables};
use gennaker_worker::{
    Answer, CancelNotice, LoadedStage, Progress, StageInput, StageWorker, Task, WorkerError,
};

/// Seconds to wait before checking again while the execution is paused.
const PAUSED_BACKOFF_SECONDS: u64 = 10;
/// Default seconds a builder has to signal (Orca's monitorBake allows an hour).
pub const DEFAULT_BAKE_TIMEOUT_SECONDS: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    BaseImages(#[from] BaseImagesError),
    #[error("{variable}: '{value}' is not a number of seconds")]
    Seconds {
        variable: &'static str,
        value: String,
    },
}

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct BakeConfig {
    pub executions_table: String,
    /// `ACCOUNTS`: the cloud accounts (template parameter `Accounts`).
    pub accounts: Option<String>,
    /// `BAKERY_BASE_IMAGES` (template parameter `BakeryBaseImages`).
    pub base_images: BaseImages,
    /// `BAKERY_INSTANCE_PROFILE`: the instance profile builders run with (it must allow
    /// `ec2:CreateTags`, so the user data can signal).
    pub instance_profile: Option<String>,
    /// `POLL_SECONDS`: seconds between two checks (default 10).
    pub poll_seconds: u64,
    /// `BAKE_TIMEOUT_SECONDS`: how long a builder may take to signal (default 3600).
    pub bake_timeout_seconds: u64,
}

fn seconds(env: &FunctionEnv, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
    match env.optional(variable) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| ConfigError::Seconds { variable, value }),
    }
}

impl BakeConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, ConfigError> {
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
            accounts: env.optional("ACCOUNTS"),
            base_images: BaseImages::parse(env.optional("BAKERY_BASE_IMAGES").as_deref())?,
            instance_profile: env
                .optional("BAKERY_INSTANCE_PROFILE")
                .filter(|profile| !profile.trim().is_empty()),
            poll_seconds: seconds(env, "POLL_SECONDS", 10)?,
            bake_timeout_seconds: seconds(
                env,
                "BAKE_TIMEOUT_SECONDS",
                DEFAULT_BAKE_TIMEOUT_SECONDS,
            )?,
        })
    }
}

#[derive(Clone)]
pub struct BakeWorker {
    store: Store,
    progress: Progress,
    cloud: Cloud,
    base_images: BaseImages,
    instance_profile: Option<String>,
    poll_seconds: u64,
    bake_timeout_seconds: u64,
}

impl StageWorker for BakeWorker {
    const NAME: &'static str = "bake";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, BakeConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn paused_backoff_seconds(&self) -> u64 {
        PAUSED_BACKOFF_SECONDS
    }

    /// A bake past its timeout terminates its builders first.
    async fn on_timeout(
        &self,
        input: &StageInput,
        loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        poll::Poll {
            worker: self,
            input,
            loaded: loaded.clone(),
        }
        .timed_out()
        .await
        .map(Some)
    }

    async fn step(&self, task: &Task, loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        // The execution's starter's accounts bound every cloud call of the bake.
        let worker = Self {
            cloud: self.cloud.acting_for(&task.stage.allowed_accounts),
            ..self.clone()
        };
        poll::Poll {
            worker: &worker,
            input: &task.stage,
            loaded,
        }
        .run()
        .await
        .map(Some)
    }

    async fn cancel(&self, notice: CancelNotice) -> Result<(), WorkerError> {
        self.handle_cancel(notice).await
    }
}

impl BakeWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: BakeConfig) -> Self {
        let tables = Tables {
            applications: String::new(),
            pipelines: String::new(),
            executions: config.executions_table,
        };
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), tables);
        let region = sdk
            .region()
            .map(|region| region.to_string())
            .unwrap_or_else(|| gennaker_runtime::aws::LOCAL_REGION.to_string());
        let entries = gennaker_cloud::accounts::parse_entries(config.accounts.as_deref());
        Self {
            progress: Progress::new(
                Some(store.clone()),
                StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
            ),
            store,
            cloud: Cloud::new(sdk.clone(), Accounts::from_entries(&entries, &region)),
            base_images: config.base_images,
            instance_profile: config.instance_profile,
            poll_seconds: config.poll_seconds,
            bake_timeout_seconds: config.bake_timeout_seconds,
        }
    }

    /// Terminates the builders of a canceled bake.
    pub async fn handle_cancel(&self, notice: CancelNotice) -> Result<(), WorkerError> {
        let Some(context) = self.progress.cancel_to_handle(&notice).await? else {
            return Ok(());
        };
        let progress = gennaker_cloud::bake::progress_of(&context, notice.attempt);
        if let Ok(account) = gennaker_cloud::bake::account(&context, self.default_account()) {
            self.terminate_builders(&account, &progress)
                .await
                .map_err(|error| {
                    WorkerError::BadMessage(format!(
                        "terminating the builders of a canceled bake failed: {error}"
                    ))
                })?;
            tracing::info!("terminated the builders of a canceled bake");
        }
        self.progress.cancel_handled(&notice).await
    }

    /// The account of bakes that name none: the first configured one.
    fn default_account(&self) -> Option<&str> {
        self.cloud
            .accounts()
            .all()
            .first()
            .map(|account| account.name.as_str())
    }

    /// Terminates every builder `progress` records (an already terminated one is fine).
    async fn terminate_builders(
        &self,
        account: &str,
        progress: &BakeProgress,
    ) -> Result<(), CloudError> {
        for (region, bake) in progress {
            if let Some(builder) = &bake.builder_instance_id {
                let clients = self.cloud.region(account, region).await?;
                clients.terminate(std::slice::from_ref(builder)).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use gennaker_cloud::bake::bake_request;
    use gennaker_runtime::batch::parse_body;
    use gennaker_worker::WorkerMessage;

    /// The sample event in `events/` (used with `cargo lambda invoke`) must stay readable,
    /// and its stage a bake the default base images can run.
    #[test]
    fn sample_event_parses_into_a_bake_request() {
        let path = format!("{}/../../events/bake-task.json", env!("CARGO_MANIFEST_DIR"));
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let WorkerMessage::Task(task) = parse_body(&event.records[0]).unwrap() else {
            panic!("not a task message");
        };
        assert_eq!(task.stage.stage_type, "bake");
        let request = bake_request(
            &task.stage.context,
            &BaseImages::default(),
            Some("default"),
            task.stage.start_time.unwrap(),
        )
        .unwrap();
        assert_eq!(request.image_name(), "shop-hvm-20251127063000-ubuntu");
    }
}
