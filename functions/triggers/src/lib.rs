//! Pipeline-completion triggers (Orca's `DependentPipelineExecutionListener`):
//! an EventBridge rule routes `orca:pipeline:complete|failed` events to this function's
//! queue; every enabled pipeline with an enabled `pipeline` trigger on the upstream config
//! whose `status` list names the outcome is started once per upstream execution.
//!
//! Cron triggers (Echo's scheduler, `PipelineTriggerJob`): the EventBridge Scheduler schedules
//! config-sync keeps send `{"cronTrigger": {pipelineId, triggerId, scheduleName,
//! scheduledTime}}` to the same queue; each schedule and scheduled time starts at most one
//! execution.
//!
//! The self-test (template.yaml's `SelfTest`): its schedule sends `{"selfTest": {pipelines,
//! scheduledTime}}`; the pipelines are saved when they changed and the last one is started
//! once per scheduled time.

mod jenkins_builds;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_launch::run_as::RunAs;
use gennaker_launch::{LaunchError, Launcher};
use gennaker_model::json::{now_millis, str_field};
use gennaker_model::launch::{Caller, MissingParameter, build_execution, resolve_trigger};
use gennaker_model::preconfigured::PreconfiguredWebhooks;
use gennaker_model::schedules::{
    CRON, CronFire, ScheduledMessage, SelfTestMessage, SelfTestRun, cron_triggers,
};
use gennaker_model::triggers::{self, PIPELINE};
use gennaker_model::{ExecutionStatus, PipelineConfig, new_id};
use gennaker_runtime::batch::{parse_body, process_each};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, StoreError, Tables};
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Launch(#[from] LaunchError),
    #[error("{0}")]
    BadMessage(String),
}

#[derive(Debug, Clone)]
pub struct TriggersConfig {
    pub applications_table: String,
    pub pipelines_table: String,
    pub executions_table: String,
    pub pipeline_state_machine_arn: String,
    pub execution_retention_days: i64,
    /// Who triggers fire as: service accounts, cloud accounts, admin roles, Fiat's switches.
    pub run_as: RunAs,
    /// `PRECONFIGURED_WEBHOOKS`: stage types that run as webhook stages.
    pub preconfigured_webhooks: PreconfiguredWebhooks,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggersConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    ServiceAccounts(String),
    #[error("{0}")]
    PreconfiguredWebhooks(String),
}

impl TriggersConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, TriggersConfigError> {
        Ok(Self {
            applications_table: env.required("APPLICATIONS_TABLE")?,
            pipelines_table: env.required("PIPELINES_TABLE")?,
            executions_table: env.required("EXECUTIONS_TABLE")?,
            pipeline_state_machine_arn: env.required("PIPELINE_STATE_MACHINE_ARN")?,
            execution_retention_days: env.execution_retention_days(),
            run_as: RunAs::from_lookup(|name| env.optional(name))
                .map_err(TriggersConfigError::ServiceAccounts)?,
            preconfigured_webhooks: PreconfiguredWebhooks::parse(
                env.optional("PRECONFIGURED_WEBHOOKS").as_deref(),
            )
            .map_err(TriggersConfigError::PreconfiguredWebhooks)?,
        })
    }
}

pub use jenkins_builds::{JenkinsPoller, JenkinsPollerConfig, PollerConfigError};

/// Who the self-test's pipelines are saved and run as.
pub const SELF_TEST_USER: &str = "gennaker-self-test";

#[derive(Clone)]
pub struct PipelineTriggers {
    store: Store,
    launcher: Launcher,
    run_as: std::sync::Arc<RunAs>,
}

impl PipelineTriggers {
    pub fn new(sdk: &aws_config::SdkConfig, config: TriggersConfig) -> Self {
        let tables = Tables {
            applications: config.applications_table,
            pipelines: config.pipelines_table,
            executions: config.executions_table,
        };
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), tables);
        Self {
            launcher: Launcher::new(
                store.clone(),
                StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
                config.pipeline_state_machine_arn,
                config.execution_retention_days * 24 * 3600,
            )
            .with_preconfigured_webhooks(config.preconfigured_webhooks),
            store,
            run_as: std::sync::Arc::new(config.run_as),
        }
    }

    /// Who a trigger of `config` fires as (its `runAsUser`, else `anonymous`), as the
    /// caller of the launch; `None` (logged) when that principal may not EXECUTE the
    /// pipeline's application: then the trigger does not fire, as Echo's permission check.
    pub(crate) async fn caller_for(
        &self,
        config: &PipelineConfig,
        stored_trigger: &Map<String, Value>,
    ) -> Result<Option<Caller>, TriggerError> {
        let run_as_user = str_field(stored_trigger, "runAsUser");
        match self
            .run_as
            .authenticate(&self.store, config, run_as_user)
            .await?
        {
            Ok(authentication) => Ok(Some(Caller {
                user: authentication.user,
                origin: None,
                allowed_accounts: authentication.allowed_accounts,
            })),
            Err(reason) => {
                tracing::warn!(
                    pipeline_id = config.id().unwrap_or_default(),
                    application = config.application().unwrap_or_default(),
                    %reason,
                    "trigger not fired"
                );
                Ok(None)
            }
        }
    }

    /// Each message is an EventBridge event (`detail` = `{executionId, execution}`) or a
    /// cron schedule's `{"cronTrigger": {...}}`.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_each(event, |message| async move {
            let event: Value = parse_body(&message).map_err(TriggerError::BadMessage)?;
            let bad = |err: serde_json::Error| TriggerError::BadMessage(err.to_string());
            if event.get("cronTrigger").is_some() {
                let message: ScheduledMessage = serde_json::from_value(event).map_err(bad)?;
                self.handle_cron(&message.cron_trigger).await
            } else if event.get("selfTest").is_some() {
                let message: SelfTestMessage = serde_json::from_value(event).map_err(bad)?;
                self.handle_self_test(&message.self_test).await
            } else {
                self.handle(&event).await
            }
        })
        .await
    }

    pub async fn handle(&self, event: &Value) -> Result<(), TriggerError> {
        let Some(upstream) = event
            .pointer("/detail/execution")
            .and_then(Value::as_object)
        else {
            return Err(TriggerError::BadMessage("no detail.execution".into()));
        };
        let (Some(upstream_id), Some(config_id)) = (
            str_field(upstream, "id"),
            str_field(upstream, "pipelineConfigId"),
        ) else {
            return Ok(()); // ad-hoc runs and orchestrations trigger nothing
        };
        let status: ExecutionStatus = match upstream.get("status").cloned() {
            Some(status) => serde_json::from_value(status)
                .map_err(|err| TriggerError::BadMessage(err.to_string()))?,
            None => return Err(TriggerError::BadMessage("no execution status".into())),
        };
        let candidates = self
            .store
            .find_triggered_pipelines(PIPELINE, config_id)
            .await?;
        for config in candidates.iter().filter(|config| !config.is_disabled()) {
            let Some(trigger) = triggers::pipeline_triggers(config, config_id, status)
                .into_iter()
                .next()
            else {
                continue;
            };
            self.start_once(config, trigger, upstream, upstream_id)
                .await?;
        }
        Ok(())
    }

    async fn start_once(
        &self,
        config: &PipelineConfig,
        stored: &Map<String, Value>,
        upstream: &Map<String, Value>,
        upstream_id: &str,
    ) -> Result<(), TriggerError> {
        let Some(mut caller) = self.caller_for(config, stored).await? else {
            return Ok(());
        };
        // Without a service account the child is recorded as started by whoever started
        // the upstream execution (Orca's dependent pipeline starter); it acts with the
        // permissions checked above, never the upstream's.
        if str_field(stored, "runAsUser").is_none_or(str::is_empty)
            && let Some(user) = upstream
                .get("trigger")
                .and_then(|t| t.get("user")?.as_str())
        {
            caller.user = Some(user.to_string());
        }
        let trigger = child_trigger(stored, upstream, upstream_id);
        self.launch_once(config, upstream_id, trigger, caller).await
    }

    /// A scheduled message: starts the pipeline if the trigger is still there and enabled
    /// and the pipeline enabled (the schedule may be a moment behind a save), once per
    /// schedule and scheduled time.
    pub async fn handle_cron(&self, fire: &CronFire) -> Result<(), TriggerError> {
        let Some(config) = self.store.get_pipeline_by_id(&fire.pipeline_id).await? else {
            tracing::info!(pipeline_id = %fire.pipeline_id, "cron fire for a deleted pipeline");
            return Ok(());
        };
        let stored = cron_triggers(&config)
            .find(|trigger| str_field(trigger, "id") == Some(fire.trigger_id.as_str()));
        let Some(stored) = stored.filter(|trigger| triggers::is_enabled(trigger)) else {
            tracing::info!(pipeline_id = %fire.pipeline_id, trigger_id = %fire.trigger_id, "cron fire for a removed or disabled trigger");
            return Ok(());
        };
        if config.is_disabled() {
            tracing::info!(pipeline_id = %fire.pipeline_id, "cron fire for a disabled pipeline");
            return Ok(());
        }
        let event_id = format!("{}@{}", fire.schedule_name, fire.scheduled_time);
        let mut trigger = stored.clone();
        trigger.insert("type".into(), json!(CRON));
        trigger.insert("enabled".into(), json!(true));
        trigger.insert("eventId".into(), json!(event_id));
        let Some(caller) = self.caller_for(&config, stored).await? else {
            return Ok(());
        };
        trigger.insert("user".into(), json!(caller.user));
        self.launch_once(&config, &event_id, trigger, caller).await
    }

    /// A run of the self-test: saves each of its pipelines that differs from the stored one
    /// (a stack update changes them; an unchanged run writes nothing), then starts the last
    /// one, once per scheduled time.
    pub async fn handle_self_test(&self, run: &SelfTestRun) -> Result<(), TriggerError> {
        let mut last = None;
        for document in &run.pipelines {
            last = Some(self.install_self_test_pipeline(document).await?);
        }
        let config =
            last.ok_or_else(|| TriggerError::BadMessage("the self-test has no pipeline".into()))?;
        let event_id = format!("self-test@{}", run.scheduled_time);
        let trigger = json!({
            "type": CRON, "id": "self-test", "enabled": true,
            "eventId": event_id, "user": SELF_TEST_USER,
        });
        let Value::Object(trigger) = trigger else {
            unreachable!("a JSON object literal")
        };
        let caller = Caller {
            user: Some(SELF_TEST_USER.to_string()),
            ..Caller::default()
        };
        self.launch_once(&config, &event_id, trigger, caller).await
    }

    async fn install_self_test_pipeline(
        &self,
        document: &Map<String, Value>,
    ) -> Result<PipelineConfig, TriggerError> {
        let config = PipelineConfig::from_value(Value::Object(document.clone()))
            .map_err(TriggerError::BadMessage)?;
        let id = config
            .id()
            .ok_or_else(|| TriggerError::BadMessage("a self-test pipeline has no id".into()))?;
        if let Some(stored) = self.store.get_pipeline_by_id(id).await? {
            let unchanged = document
                .iter()
                .all(|(key, value)| stored.document().get(key) == Some(value));
            if unchanged {
                return Ok(stored);
            }
        }
        Ok(self.store.save_pipeline(config, SELF_TEST_USER).await?)
    }

    /// Starts `config` with `trigger` unless `event_id` already started it (then makes sure
    /// that execution's state machine runs: a crash may have come between the two).
    pub(crate) async fn launch_once(
        &self,
        config: &PipelineConfig,
        event_id: &str,
        trigger: Map<String, Value>,
        caller: Caller,
    ) -> Result<(), TriggerError> {
        let pipeline_id = config.id().unwrap_or_default();
        let launched = self
            .launcher
            .launch_for_event(event_id, pipeline_id, |execution_id| {
                let trigger = resolve_trigger(config, trigger, &caller)?;
                Ok::<_, MissingParameter>(build_execution(
                    config,
                    execution_id,
                    trigger,
                    &caller,
                    now_millis(),
                    new_id,
                ))
            })
            .await?;
        if let Err(missing) = launched {
            tracing::warn!(pipeline_id, %missing, "trigger not started");
        }
        Ok(())
    }
}

/// The stored trigger plus the upstream execution (a summary: the full execution may not
/// fit the child's item), as Orca links them.
fn child_trigger(
    stored: &Map<String, Value>,
    upstream: &Map<String, Value>,
    upstream_id: &str,
) -> Map<String, Value> {
    let summary: Map<String, Value> = [
        "id",
        "application",
        "name",
        "status",
        "pipelineConfigId",
        "type",
        "startTime",
        "endTime",
        "buildTime",
    ]
    .iter()
    .filter_map(|key| Some((key.to_string(), upstream.get(*key)?.clone())))
    .collect();
    let mut trigger = stored.clone();
    trigger.insert("type".into(), json!(PIPELINE));
    trigger.insert("parentExecution".into(), Value::Object(summary));
    trigger.insert(
        "parentPipelineId".into(),
        upstream
            .get("pipelineConfigId")
            .cloned()
            .unwrap_or(Value::Null),
    );
    for (key, field) in [
        ("parentPipelineName", "name"),
        ("parentPipelineApplication", "application"),
        ("parentStatus", "status"),
    ] {
        if let Some(value) = upstream.get(field) {
            trigger.insert(key.into(), value.clone());
        }
    }
    trigger.insert("eventId".into(), json!(format!("{upstream_id}:{PIPELINE}")));
    trigger
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample event in `events/` (used with `cargo lambda invoke`) links the child.
    #[test]
    fn sample_event_becomes_a_linked_child_trigger() {
        let path = format!(
            "{}/../../events/pipeline-completion-event.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let upstream = event
            .pointer("/detail/execution")
            .unwrap()
            .as_object()
            .unwrap();
        let stored = json!({"type": "pipeline", "enabled": true, "status": ["successful"]});
        let trigger = child_trigger(stored.as_object().unwrap(), upstream, "01JEXAMPLE");
        assert_eq!(trigger["type"], "pipeline");
        assert_eq!(
            trigger["parentExecution"]["id"],
            "01JEXAMPLE0000000000000000"
        );
        assert_eq!(
            trigger["parentPipelineId"],
            "3f1b2c4d-0000-4000-8000-000000000001"
        );
        assert_eq!(trigger["parentStatus"], "SUCCEEDED");
        assert!(trigger["parentExecution"].get("stages").is_none());
    }
}
