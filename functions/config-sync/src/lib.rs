//! Config sync (Front50's side of Echo's cron scheduler): reacts to the
//! pipelines table's stream and keeps one EventBridge Scheduler schedule per enabled `cron`
//! trigger of an enabled pipeline.
//!
//! Each record only names a pipeline: the handler reconciles, it does not replay diffs. It
//! reads the pipeline as it is now, computes the schedules it needs
//! ([`gennaker_model::schedules::desired_schedules`]), lists the pipeline's schedules by
//! name prefix, and creates, updates or deletes until they match. So records delivered twice
//! or out of order leave the same schedules, and a save that does not touch the cron
//! triggers writes nothing.

use std::collections::BTreeSet;

use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_model::schedules::desired_schedules;
use gennaker_runtime::scheduler::{Schedule, Scheduler, SchedulerError};
use gennaker_store::{Store, StoreError, Tables, pipeline_config_id};
use serde::Deserialize;
use serde_json::{Value, json};

/// Spinnaker's `scheduler.cron.timezone` default.
pub const DEFAULT_TIME_ZONE: &str = "America/Los_Angeles";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Scheduler(#[from] SchedulerError),
}

#[derive(Debug, Clone)]
pub struct ConfigSyncConfig {
    pub pipelines_table: String,
    pub schedule_group: String,
    /// The queue scheduled messages go to (the triggers function's).
    pub target_queue_arn: String,
    /// The role the Scheduler sends with.
    pub scheduler_role_arn: String,
    pub time_zone: String,
}

impl ConfigSyncConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, MissingVariable> {
        Ok(Self {
            pipelines_table: env.required("PIPELINES_TABLE")?,
            schedule_group: env.required("SCHEDULE_GROUP")?,
            target_queue_arn: env.required("CRON_TARGET_QUEUE_ARN")?,
            scheduler_role_arn: env.required("SCHEDULER_ROLE_ARN")?,
            time_zone: env
                .optional("CRON_TIME_ZONE")
                .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string()),
        })
    }
}

/// A DynamoDB stream event as Lambda delivers it; only what the handler reads.
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    pub dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "Keys", default)]
    pub keys: Keys,
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Keys {
    pub pk: Option<StringAttribute>,
    pub sk: Option<StringAttribute>,
}

#[derive(Debug, Deserialize)]
pub struct StringAttribute {
    #[serde(rename = "S")]
    pub s: String,
}

impl StreamRecord {
    /// The pipeline whose config item changed; None for every other item of the table.
    fn pipeline_id(&self) -> Option<&str> {
        let keys = &self.dynamodb.keys;
        pipeline_config_id(&keys.pk.as_ref()?.s, &keys.sk.as_ref()?.s)
    }
}

#[derive(Clone)]
pub struct ConfigSync {
    store: Store,
    scheduler: Scheduler,
    config: ConfigSyncConfig,
}

impl ConfigSync {
    pub fn new(sdk: &aws_config::SdkConfig, config: ConfigSyncConfig) -> Self {
        let tables = Tables {
            applications: String::new(),
            pipelines: config.pipelines_table.clone(),
            executions: String::new(),
        };
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), tables),
            scheduler: Scheduler::new(
                aws_sdk_scheduler::Client::new(sdk),
                config.schedule_group.clone(),
            ),
            config,
        }
    }

    /// Handles a stream batch in order. On the first failure it reports that record (Lambda's
    /// `ReportBatchItemFailures` for streams: the batch is retried from there) and stops.
    /// Each pipeline is reconciled once per batch: later records of it change nothing more.
    pub async fn handle_stream_batch(&self, event: Value) -> Value {
        let event: StreamEvent = match serde_json::from_value(event) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "not a DynamoDB stream event; skipped");
                return json!({"batchItemFailures": []});
            }
        };
        let mut reconciled = BTreeSet::new();
        for record in &event.records {
            let Some(pipeline_id) = record.pipeline_id() else {
                continue;
            };
            if reconciled.contains(pipeline_id) {
                continue;
            }
            if let Err(error) = self.reconcile(pipeline_id).await {
                tracing::warn!(pipeline_id, %error, "reconciling cron schedules failed");
                return json!({"batchItemFailures": [
                    {"itemIdentifier": record.dynamodb.sequence_number}]});
            }
            reconciled.insert(pipeline_id.to_string());
        }
        json!({"batchItemFailures": []})
    }

    /// Makes the pipeline's schedules match what its stored config needs.
    pub async fn reconcile(&self, pipeline_id: &str) -> Result<(), SyncError> {
        let config = self.store.get_pipeline_by_id(pipeline_id).await?;
        let wanted: Vec<Schedule> = desired_schedules(pipeline_id, config.as_ref())
            .into_iter()
            .map(|desired| Schedule {
                name: desired.name,
                expression: desired.expression,
                time_zone: self.config.time_zone.clone(),
                target_arn: self.config.target_queue_arn.clone(),
                role_arn: self.config.scheduler_role_arn.clone(),
                input: desired.input,
                enabled: true,
                modified_at: None,
            })
            .collect();
        let prefix = gennaker_model::schedules::schedule_prefix(pipeline_id);
        let existing = self.scheduler.list_names(&prefix).await?;
        for schedule in &wanted {
            let current = match existing.contains(&schedule.name) {
                true => self.scheduler.get(&schedule.name).await?,
                false => None,
            };
            if current.is_some_and(|current| current.same_as(schedule)) {
                continue;
            }
            tracing::info!(pipeline_id, schedule = %schedule.name, expression = %schedule.expression, "writing cron schedule");
            self.scheduler.put(schedule).await?;
        }
        for name in existing
            .iter()
            .filter(|name| !wanted.iter().any(|schedule| &schedule.name == *name))
        {
            tracing::info!(pipeline_id, schedule = %name, "deleting cron schedule");
            self.scheduler.delete(name).await?;
        }
        Ok(())
    }
}
