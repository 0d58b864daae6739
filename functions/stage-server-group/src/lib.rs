//! The server-group stage worker (Clouddriver's AWS operations as Orca's
//! `orca-clouddriver` stages): `deploy` with its strategies, `createServerGroup`,
//! `cloneServerGroup`, `resizeServerGroup`, `disableServerGroup`, `enableServerGroup`,
//! `destroyServerGroup`, `rollbackServerGroup`, `findImage` and `findImageFromTags` — and
//! the network stages `upsertSecurityGroup`, `deleteSecurityGroup`, `upsertLoadBalancer`
//! and `deleteLoadBalancer` (`operations/network.rs`).
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

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gennaker_cloud::{Accounts, Cloud};
use gennaker_model::ExecutionStatus;
use gennaker_model::json::now_millis;
use gennaker_runtime::batch::{parse_body, process_each};
use gennaker_runtime::env::{FunctionEnv, MissingVariable};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{LoadedStage, Store, StoreError, Tables};
use gennaker_worker::{Answer, Incoming, Liveness, Progress, TaskMessage, WorkerError, stage_span};
use serde_json::{Map, Value};
use tracing::Instrument;

/// Seconds to wait before checking again while the execution is paused.
const PAUSED_BACKOFF_SECONDS: u64 = 10;
/// How often a record that lost a race is retried from a fresh read.
const MAX_RECORD_RETRIES: usize = 5;

/// The stage types this worker runs.
pub const STAGE_TYPES: [&str; 14] = [
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
    store: Store,
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
                Some(store.clone()),
                StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
            ),
            store,
            cloud: Cloud::new(sdk.clone(), Accounts::from_entries(&entries, &region)),
            poll_seconds: config.poll_seconds,
        }
    }

    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_each(event, |message| async move {
            match parse_body::<Incoming>(&message).map_err(WorkerError::BadMessage)? {
                Incoming::Task(task) => {
                    let span = stage_span(
                        "server-group",
                        &task.stage.execution_id,
                        &task.stage.stage_id,
                    );
                    self.handle_task(task).instrument(span).await
                }
                // Nothing runs between polls, so a canceled stage has nothing to stop.
                Incoming::Cancel { .. } => Ok(()),
            }
        })
        .await
    }

    pub async fn handle_task(&self, task: TaskMessage) -> Result<(), WorkerError> {
        let answer = match self.progress.liveness(&task.stage).await? {
            Liveness::Over => Answer::finished(ExecutionStatus::Canceled, Map::new(), Map::new()),
            Liveness::Paused(_) => Answer::running(PAUSED_BACKOFF_SECONDS, Map::new()),
            // A deploy runs its own timeout: it may have a rollback to do first.
            Liveness::Active(_)
                if task.stage.stage_type != "deploy" && task.stage.timed_out(now_millis()) =>
            {
                Answer::timed_out(task.stage.previous_context())
            }
            Liveness::Active(loaded) => {
                let poll = operations::Poll {
                    worker: self,
                    input: &task.stage,
                    loaded,
                };
                poll.run().await?
            }
        };
        self.progress.answer(&task.task_token, &answer).await
    }

    /// Records `entries` on the stage unless `already` finds an earlier record in the
    /// stored context; returns the stored context after the write (or the earlier one).
    /// `Ok(None)`: the stage is no longer running at this attempt.
    pub(crate) async fn record_once(
        &self,
        execution_id: &str,
        attempt: u32,
        mut loaded: LoadedStage,
        entries: &Map<String, Value>,
        already: impl Fn(&Map<String, Value>) -> bool,
    ) -> Result<Option<Map<String, Value>>, WorkerError> {
        for _ in 0..MAX_RECORD_RETRIES {
            if already(&loaded.stage.context) {
                return Ok(Some(loaded.stage.context));
            }
            match self
                .store
                .merge_stage_context(execution_id, &loaded, entries)
                .await
            {
                Ok(written) => return Ok(Some(written.stage.context)),
                Err(StoreError::Conflict(_)) => {
                    let fresh = self
                        .store
                        .load_stage(execution_id, &loaded.stage.id)
                        .await?;
                    match fresh {
                        Some(fresh)
                            if fresh.stage.attempt == attempt
                                && fresh.stage.status == ExecutionStatus::Running =>
                        {
                            loaded = fresh
                        }
                        _ => return Ok(None),
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(WorkerError::Contended(loaded.stage.id))
    }
}
