//! The server-group stage worker (Clouddriver's AWS operations as Orca's
//! `orca-clouddriver` stages): `deploy` with its strategies, `createServerGroup`,
//! `cloneServerGroup`, `resizeServerGroup`, `disableServerGroup`, `enableServerGroup`,
//! `destroyServerGroup`, `rollbackServerGroup`, `findImage` and `findImageFromTags` — and
//! the network stages `upsertSecurityGroup`, `deleteSecurityGroup`, `upsertLoadBalancer`
//! and `deleteLoadBalancer` (`operations/network.rs`), the cluster-wide `disableCluster`,
//! `scaleDownCluster` and `shrinkCluster` (`operations/cluster.rs`), and
//! `deployCloudFormation` (`operations/cloudformation.rs`).
//!
//! Every poll first reads the stage context into a checked request (a bad one fails the
//! stage before any cloud call), then either acts or checks whether the cloud has reached
//! the wanted state, answering RUNNING until it has — never sleeping in the handler.
//!
//! Redelivery: the choice that must not be made twice is recorded on the stage item with a
//! version-conditioned write before acting — the name of the new group
//! (`deploy.server.groups`), the group a dynamic target resolved to (`serverGroupName`) and
//! the capacity a relative resize aims at (`targetCapacity`), a deploy's whole plan
//! (`deployPlan`). A second delivery finds the record and repeats the same, idempotent,
//! cloud calls.

mod deploy;
mod operations;
mod rollback;

use gennaker_cloud::{Accounts, Cloud};
use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, Tables};
use gennaker_worker::{Answer, LoadedStage, Progress, StageInput, StageWorker, Task, WorkerError};

/// Seconds to wait before checking again while the execution is paused.
const PAUSED_BACKOFF_SECONDS: u64 = 10;

/// The stage types this worker runs.
pub const STAGE_TYPES: [&str; 18] = [
    "deploy",
    "cloneServerGroup",
    "rollbackServerGroup",
    "createServerGroup",
    "resizeServerGroup",
    "disableServerGroup",
    "enableServerGroup",
    "destroyServerGroup",
    "findImage",
    "findImageFromTags",
    "upsertSecurityGroup",
    "deleteSecurityGroup",
    "upsertLoadBalancer",
    "deleteLoadBalancer",
    "disableCluster",
    "scaleDownCluster",
    "shrinkCluster",
    "deployCloudFormation",
];

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct ServerGroupConfig {
    pub executions_table: String,
    /// `ACCOUNTS`: the cloud accounts (template parameter `Accounts`).
    pub accounts: Option<String>,
    /// `POLL_SECONDS`: seconds between two checks of the cloud (default 10).
    pub poll_seconds: u64,
}

impl ServerGroupConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, MissingVariable> {
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
            accounts: env.optional("ACCOUNTS"),
            poll_seconds: env
                .optional("POLL_SECONDS")
                .and_then(|seconds| seconds.trim().parse().ok())
                .unwrap_or(10),
        })
    }
}

#[derive(Clone)]
pub struct ServerGroupWorker {
    progress: Progress,
    cloud: Cloud,
    poll_seconds: u64,
}

impl ServerGroupWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: ServerGroupConfig) -> Self {
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
                Some(store),
                StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
            ),
            cloud: Cloud::new(sdk.clone(), Accounts::from_entries(&entries, &region)),
            poll_seconds: config.poll_seconds,
        }
    }
}

impl StageWorker for ServerGroupWorker {
    const NAME: &'static str = "server-group";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, ServerGroupConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn paused_backoff_seconds(&self) -> u64 {
        PAUSED_BACKOFF_SECONDS
    }

    /// A deploy runs its own timeout: it may have a rollback to do first.
    async fn on_timeout(
        &self,
        input: &StageInput,
        _loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        Ok((input.stage_type != "deploy").then(|| Answer::timed_out(input.previous_context())))
    }

    async fn step(&self, task: &Task, loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        // The execution's starter's accounts bound every cloud call of the stage.
        let worker = Self {
            cloud: self.cloud.acting_for(&task.stage.allowed_accounts),
            ..self.clone()
        };
        let poll = operations::Poll {
            worker: &worker,
            input: &task.stage,
            loaded,
        };
        poll.run().await.map(Some)
    }

    // Nothing runs between polls, so a canceled stage has nothing to stop.
}
