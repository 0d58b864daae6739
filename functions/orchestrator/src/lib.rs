//! The orchestrator (Spinnaker's Orca): consumes the orchestration FIFO queue, applies each
//! event to the execution with the pure engine, persists the result with conditional
//! writes, then acts on the effects (start/stop stage state machines, complete the
//! pipeline state machine).
//!
//! Safe under at-least-once delivery: a duplicate event leaves the state unchanged, and then
//! the effects implied by the persisted state are re-issued (all idempotent), which heals a
//! crash between persisting and acting.

mod child_pipeline;
mod concurrency;
mod dead_letters;
mod expressions;
pub mod messages;
mod metrics;
mod reconcile;
mod stage_input;

use std::collections::BTreeMap;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gennaker_engine::{Effect, Event};
use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_launch::Launcher;
use gennaker_model::concurrency::Admission;
use gennaker_model::execution::stage_machine_name;
use gennaker_model::json::now_millis;
use gennaker_model::preconfigured::PreconfiguredWebhooks;
use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use gennaker_protocol::{CancelNotice, PipelineOutcome, WorkerMessage};
use gennaker_runtime::batch::{GroupFailure, parse_body, process_groups_in_order};
use gennaker_runtime::event_bus::EventBus;
use gennaker_runtime::queue::OrchestrationQueue;
use gennaker_runtime::step_functions::{StepFunctions, StepFunctionsError, execution_arn};
use gennaker_runtime::worker_queues::{WorkerQueueError, WorkerQueues};
use gennaker_store::{Store, StoreError, StoredExecution, Tables};
use tracing::Instrument;

pub use gennaker_engine::Effect as EngineEffect;
pub use gennaker_protocol::OrchestrationMessage;
pub use reconcile::{MAX_RERUNS, Reconciliation, rerun_after_millis};

/// A test hook: answering true for an effect makes the orchestrator fail right before
/// performing it (after persisting), as a crash there would.
pub type FaultHook = std::sync::Arc<dyn Fn(&Effect) -> bool + Send + Sync>;

/// Told of every change the orchestrator saved, as (before, after): local mode's console
/// prints a line per execution and stage transition from it.
pub type TransitionHook = std::sync::Arc<dyn Fn(&Execution, &Execution) + Send + Sync>;

/// How often a lost optimistic-locking race is retried from a fresh read before the message
/// is handed back to the queue.
const MAX_CONFLICT_RETRIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    StepFunctions(#[from] StepFunctionsError),
    #[error("{0}")]
    Queue(#[from] gennaker_runtime::queue::QueueError),
    #[error("{0}")]
    Events(#[from] gennaker_runtime::event_bus::PublishError),
    #[error("{0}")]
    WorkerQueue(#[from] WorkerQueueError),
    #[error("{0}")]
    Launch(#[from] gennaker_launch::LaunchError),
    #[error("{0}")]
    BadMessage(String),
    #[error("injected fault before {0}")]
    InjectedFault(String),
    #[error("execution {0} does not exist")]
    UnknownExecution(String),
    #[error("execution {0} kept changing under us; giving the message back to the queue")]
    Contended(String),
}

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    pub executions_table: String,
    pub pipelines_table: String,
    pub stage_state_machine_arn: String,
    pub pipeline_state_machine_arn: String,
    pub orchestration_queue_url: String,
    pub event_bus_name: String,
    pub execution_retention_days: i64,
    /// Time zone of stages' execution windows (Orca's `tasks.execution-window.timezone`).
    pub execution_window_time_zone: chrono_tz::Tz,
    /// Stage type -> worker queue that gets a cancel notice when a running stage of that
    /// type is canceled (`WEBHOOK_QUEUE_URL`, `JENKINS_QUEUE_URL`, `BAKE_QUEUE_URL`).
    pub cancel_queues: BTreeMap<String, String>,
    /// `PRECONFIGURED_WEBHOOKS`: stage types that run as webhook stages.
    pub preconfigured_webhooks: PreconfiguredWebhooks,
}

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    PreconfiguredWebhooks(String),
}

/// Environment variables naming the worker queues that take cancel notices.
const CANCEL_QUEUE_VARIABLES: [(&str, &str); 3] = [
    ("webhook", "WEBHOOK_QUEUE_URL"),
    ("jenkins", "JENKINS_QUEUE_URL"),
    ("bake", "BAKE_QUEUE_URL"),
];

impl OrchestratorConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, OrchestratorConfigError> {
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
            pipelines_table: env.required("PIPELINES_TABLE")?,
            stage_state_machine_arn: env.required("STAGE_STATE_MACHINE_ARN")?,
            pipeline_state_machine_arn: env.required("PIPELINE_STATE_MACHINE_ARN")?,
            orchestration_queue_url: env.required("ORCHESTRATION_QUEUE_URL")?,
            event_bus_name: env.required("EVENT_BUS_NAME")?,
            execution_retention_days: env.execution_retention_days(),
            execution_window_time_zone: env
                .optional("EXECUTION_WINDOW_TIME_ZONE")
                .and_then(|zone| zone.parse().ok())
                .unwrap_or(gennaker_model::execution_window::DEFAULT_TIME_ZONE),
            cancel_queues: CANCEL_QUEUE_VARIABLES
                .iter()
                .filter_map(|(stage_type, variable)| {
                    Some((stage_type.to_string(), env.optional(variable)?))
                })
                .collect(),
            preconfigured_webhooks: PreconfiguredWebhooks::parse(
                env.optional("PRECONFIGURED_WEBHOOKS").as_deref(),
            )
            .map_err(OrchestratorConfigError::PreconfiguredWebhooks)?,
        })
    }
}

#[derive(Clone)]
pub struct Orchestrator {
    store: Store,
    step_functions: StepFunctions,
    stage_state_machine_arn: String,
    pipeline_state_machine_arn: String,
    launcher: Launcher,
    queue: OrchestrationQueue,
    events: EventBus,
    fault: Option<FaultHook>,
    on_transition: Option<TransitionHook>,
    window_zone: chrono_tz::Tz,
    cancel_queues: WorkerQueues,
}

impl Orchestrator {
    pub fn new(sdk: &aws_config::SdkConfig, config: OrchestratorConfig) -> Self {
        let tables = Tables {
            // The orchestrator never reads applications; its role has no access to them.
            applications: String::new(),
            pipelines: config.pipelines_table,
            executions: config.executions_table,
        };
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), tables);
        let step_functions = StepFunctions::new(aws_sdk_sfn::Client::new(sdk));
        Self {
            launcher: Launcher::new(
                store.clone(),
                step_functions.clone(),
                config.pipeline_state_machine_arn.clone(),
                config.execution_retention_days * 24 * 3600,
            )
            .with_preconfigured_webhooks(config.preconfigured_webhooks),
            pipeline_state_machine_arn: config.pipeline_state_machine_arn,
            store,
            step_functions,
            stage_state_machine_arn: config.stage_state_machine_arn,
            queue: OrchestrationQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                config.orchestration_queue_url,
            ),
            events: EventBus::new(aws_sdk_eventbridge::Client::new(sdk), config.event_bus_name),
            fault: None,
            on_transition: None,
            window_zone: config.execution_window_time_zone,
            cancel_queues: WorkerQueues::new(aws_sdk_sqs::Client::new(sdk), config.cancel_queues),
        }
    }

    /// Local mode's fault injection (tests only): see [`FaultHook`].
    pub fn with_fault_injection(mut self, hook: FaultHook) -> Self {
        self.fault = Some(hook);
        self
    }

    /// Local mode's console: `hook` sees every saved change.
    pub fn with_transition_hook(mut self, hook: TransitionHook) -> Self {
        self.on_transition = Some(hook);
        self
    }

    /// Lambda entry point: one FIFO batch, partial failures reported.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_groups_in_order(event, |messages| async move {
            self.handle_group(messages).await
        })
        .await
    }

    /// One message group (one execution) of a batch, in order. Consecutive stage reports
    /// are applied together with one read and one write: a wide fan-in would otherwise reload
    /// and rewrite the whole execution once per finished branch.
    async fn handle_group(
        &self,
        messages: Vec<SqsMessage>,
    ) -> Result<(), GroupFailure<OrchestratorError>> {
        let parsed: Vec<Result<OrchestrationMessage, String>> =
            messages.iter().map(parse_body).collect();
        let mut processed = 0;
        while processed < parsed.len() {
            let fail = |error| GroupFailure { processed, error };
            let message = match &parsed[processed] {
                Ok(message) => message,
                Err(reason) => return Err(fail(OrchestratorError::BadMessage(reason.clone()))),
            };
            let reports = consecutive_reports(&parsed[processed..], message.execution_id());
            let handled = if reports.len() > 1 {
                self.handle_reports(&reports).await.map_err(fail)?;
                reports.len()
            } else {
                self.handle(message.clone()).await.map_err(fail)?;
                1
            };
            for (sqs_message, parsed) in messages[processed..processed + handled]
                .iter()
                .zip(&parsed[processed..])
            {
                if let Ok(report @ OrchestrationMessage::StageFinished { .. }) = parsed {
                    metrics::record_report_handled(sqs_message, report.execution_id());
                }
            }
            processed += handled;
        }
        Ok(())
    }

    pub async fn handle(&self, message: OrchestrationMessage) -> Result<(), OrchestratorError> {
        let execution_id = message.execution_id().to_string();
        let span = tracing::info_span!(
            "orchestrate",
            execution_id = %execution_id,
            application = tracing::field::Empty,
            pipeline_config_id = tracing::field::Empty,
        );
        retry_on_conflict(&execution_id, || self.apply_once(&message))
            .instrument(span)
            .await
    }

    /// Several `StageFinished` reports of one execution, applied in order as one change.
    async fn handle_reports(
        &self,
        reports: &[&OrchestrationMessage],
    ) -> Result<(), OrchestratorError> {
        let execution_id = reports[0].execution_id().to_string();
        let span = tracing::info_span!(
            "orchestrate",
            execution_id = %execution_id,
            reports = reports.len(),
            application = tracing::field::Empty,
            pipeline_config_id = tracing::field::Empty,
        );
        retry_on_conflict(&execution_id, || async {
            let stored = self.load(&execution_id).await?;
            let now = now_millis();
            let events: Vec<Event> = reports
                .iter()
                .filter_map(|report| messages::engine_event(report, now))
                .collect();
            self.apply_and_act(stored, &events).await
        })
        .instrument(span)
        .await
    }

    async fn load(&self, execution_id: &str) -> Result<StoredExecution, OrchestratorError> {
        let stored = self
            .store
            .load_execution(execution_id)
            .await?
            .ok_or_else(|| OrchestratorError::UnknownExecution(execution_id.to_string()))?;
        // Every later line of this message's handling names the execution's application and
        // pipeline.
        let span = tracing::Span::current();
        span.record("application", stored.execution.application.as_str());
        if let Some(config_id) = &stored.execution.pipeline_config_id {
            span.record("pipeline_config_id", config_id.as_str());
        }
        Ok(stored)
    }

    async fn apply_once(&self, message: &OrchestrationMessage) -> Result<(), OrchestratorError> {
        if let OrchestrationMessage::StartChildPipeline {
            execution_id,
            stage_id,
            attempt,
            task_token,
        } = message
        {
            return self
                .start_child(execution_id, stage_id, *attempt, task_token)
                .await;
        }
        let execution_id = message.execution_id();
        let mut stored = self.load(execution_id).await?;
        if let OrchestrationMessage::StartExecution { task_token, .. } = message
            && stored.pipeline_task_token.as_deref() != Some(task_token.as_str())
        {
            self.store
                .set_pipeline_task_token(execution_id, task_token)
                .await?;
            stored.pipeline_task_token = Some(task_token.clone());
        }
        let Some(event) = messages::engine_event(message, now_millis()) else {
            return Ok(());
        };
        let operation = message.operation_id();
        if let Some(operation_id) = operation
            && gennaker_engine::operation_applied(&stored.execution, operation_id)
        {
            tracing::info!(operation_id, "operation applied already; delivered again");
            return self.heal(&stored).await;
        }
        if let Event::RestartStage {
            stage_id,
            user,
            now,
        } = &event
            && self.restart_must_wait(&stored.execution, stage_id).await?
        {
            tracing::info!(
                stage_id,
                "restart waits for a free slot of its pipeline's concurrency limit"
            );
            let mut queued =
                gennaker_engine::queue_restart(&stored.execution, stage_id, user, *now);
            if let Some(operation_id) = operation {
                gennaker_engine::record_operation(&mut queued, operation_id);
            }
            self.store.save_execution(&stored, &queued).await?;
            return Ok(());
        }
        let wants_to_start = matches!(event, Event::Start { .. })
            && stored.execution.status == ExecutionStatus::NotStarted
            && !stored.execution.canceled;
        if wants_to_start && self.admit(&stored.execution).await? == Admission::Wait {
            tracing::info!("waiting for a free slot of its pipeline's concurrency limit");
            return Ok(());
        }
        if wants_to_start
            && let Some((before_queueing, restart)) =
                gennaker_engine::take_queued_restart(&stored.execution, now_millis())
        {
            return self
                .apply_and_act_from(stored, before_queueing, &[restart], None)
                .await;
        }
        let current = stored.execution.clone();
        self.apply_and_act_from(stored, current, &[event], operation)
            .await
    }

    /// Re-issues the effects the stored state implies (all idempotent), for a message that
    /// was applied already: its effects may have been lost in a crash after the save.
    async fn heal(&self, stored: &StoredExecution) -> Result<(), OrchestratorError> {
        let effects = gennaker_engine::pending_effects(&stored.execution);
        self.perform(
            &stored.execution,
            stored.pipeline_task_token.as_deref(),
            effects,
        )
        .await
    }

    /// A restart reopens a completed execution, which then needs a slot of its pipeline's
    /// concurrency limit like a new one (Orca's `RestartStageHandler`).
    async fn restart_must_wait(
        &self,
        execution: &Execution,
        stage_id: &str,
    ) -> Result<bool, OrchestratorError> {
        Ok(execution.status.is_complete()
            && gennaker_engine::can_restart(execution, stage_id)
            && self.admit(execution).await? == Admission::Wait)
    }

    /// Applies `events` in order to the stored execution, persists the result once and acts
    /// on the effects.
    async fn apply_and_act(
        &self,
        stored: StoredExecution,
        events: &[Event],
    ) -> Result<(), OrchestratorError> {
        let current = stored.execution.clone();
        self.apply_and_act_from(stored, current, events, None).await
    }

    /// As [`Self::apply_and_act`], starting from `current` (the stored execution, or what it
    /// stands for) and saving over what was stored; `operation` is the id of the user
    /// operation the events stand for, remembered so that a redelivery is recognised.
    async fn apply_and_act_from(
        &self,
        stored: StoredExecution,
        current: Execution,
        events: &[Event],
        operation: Option<&str>,
    ) -> Result<(), OrchestratorError> {
        let mut next = current;
        let mut effects: Vec<Effect> = Vec::new();
        let mut transitions = Vec::new();
        let mut redelivered = false;
        for event in events {
            let (after, caused) = gennaker_engine::apply_with(
                next.clone(),
                event,
                &expressions::ExpressionConditions,
            );
            if after == next {
                redelivered = true;
            } else {
                transitions.extend(gennaker_engine::lifecycle_events(&next, &after));
            }
            next = after;
            effects.extend(caused);
        }
        if let Some(operation_id) = operation {
            gennaker_engine::record_operation(&mut next, operation_id);
        }
        if redelivered {
            // An event already applied: its effects may have been lost in a crash after the
            // save, so re-issue what the stored state implies (all idempotent).
            effects.extend(gennaker_engine::pending_effects(&next));
        }
        if next != stored.execution {
            // Published before persisting: a crash in between republishes (consumers dedupe
            // on the detail's eventId) rather than losing an event.
            self.publish(transitions).await?;
            self.store.save_execution(&stored, &next).await?;
            metrics::record_change(&stored.execution, &next);
            if let Some(hook) = &self.on_transition {
                hook(&stored.execution, &next);
            }
        }
        self.perform(
            &next,
            stored.pipeline_task_token.as_deref(),
            distinct(effects),
        )
        .await
    }

    async fn perform(
        &self,
        execution: &Execution,
        pipeline_task_token: Option<&str>,
        effects: Vec<Effect>,
    ) -> Result<(), OrchestratorError> {
        for effect in effects {
            if self.fault.as_ref().is_some_and(|hook| hook(&effect)) {
                return Err(OrchestratorError::InjectedFault(format!("{effect:?}")));
            }
            match effect {
                Effect::StartStage { stage_id, attempt } => {
                    self.start_stage(execution, &stage_id, attempt).await?
                }
                Effect::CancelStage { stage_id, attempt } => {
                    if let Some(stage) = execution
                        .stage(&stage_id)
                        .filter(|s| s.stage_type == "pipeline")
                    {
                        self.cancel_child(stage).await?;
                    }
                    let name = stage_machine_name(&execution.id, &stage_id, attempt);
                    let arn = execution_arn(&self.stage_state_machine_arn, &name);
                    self.step_functions
                        .stop_execution(&arn, "execution halted")
                        .await?;
                    self.send_cancel_notice(execution, &stage_id, attempt)
                        .await?;
                }
                Effect::ReopenExecution { stage_id, attempt } => {
                    // A new pipeline machine run, named after the restart so it is unique; it
                    // hands over a fresh task token with a StartExecution message.
                    // Not the stage machine's own name: both machines send to the orchestration FIFO
                    // queue with their execution name as deduplication id, and a shared name
                    // would make the queue drop the stage's report.
                    let name = format!(
                        "{}-reopen",
                        stage_machine_name(&execution.id, &stage_id, attempt)
                    );
                    self.launcher.start_machine_named(execution, &name).await?;
                }
                Effect::CompleteExecution { status } => {
                    self.release(execution).await?;
                    self.notify_parent(execution).await?;
                    self.complete_pipeline_machine(execution, status, pipeline_task_token)
                        .await?
                }
            }
        }
        Ok(())
    }

    /// Tells the worker of a canceled stage to stop what it started outside (a Jenkins build,
    /// a webhook's remote work). Stopping the stage machine alone cannot: between two polls
    /// no worker runs. Workers handle a notice once per attempt, so a repeat is harmless.
    async fn send_cancel_notice(
        &self,
        execution: &Execution,
        stage_id: &str,
        attempt: u32,
    ) -> Result<(), OrchestratorError> {
        let Some(stage) = execution.stage(stage_id) else {
            return Ok(());
        };
        // A preconfigured webhook stage's notice goes to the webhook worker.
        let route = self
            .launcher
            .preconfigured_webhooks()
            .route(&stage.stage_type);
        if !self.cancel_queues.has(route) {
            return Ok(());
        }
        let notice = CancelNotice {
            execution_id: execution.id.clone(),
            stage_id: stage_id.to_string(),
            attempt,
            stage_type: stage.stage_type.clone(),
            context: stage.context.clone(),
        };
        self.cancel_queues
            .send(route, &WorkerMessage::Cancel { cancel: notice })
            .await?;
        Ok(())
    }

    async fn publish(
        &self,
        transitions: Vec<gennaker_engine::LifecycleEvent>,
    ) -> Result<(), OrchestratorError> {
        let events: Vec<(String, serde_json::Value)> = transitions
            .into_iter()
            .map(|event| (event.detail_type, event.detail))
            .collect();
        if !events.is_empty() {
            self.events.publish(events).await?;
        }
        Ok(())
    }

    async fn complete_pipeline_machine(
        &self,
        execution: &Execution,
        status: ExecutionStatus,
        pipeline_task_token: Option<&str>,
    ) -> Result<(), OrchestratorError> {
        match pipeline_task_token {
            Some(token) => {
                let output = PipelineOutcome {
                    status,
                    execution_id: execution.id.clone(),
                };
                self.step_functions
                    .send_task_success(token, &output)
                    .await?;
            }
            None => tracing::warn!(%status, "execution completed without a pipeline task token"),
        }
        Ok(())
    }

    async fn start_stage(
        &self,
        execution: &Execution,
        stage_id: &str,
        attempt: u32,
    ) -> Result<(), OrchestratorError> {
        let stage = execution.stage(stage_id).ok_or_else(|| {
            OrchestratorError::BadMessage(format!("engine asked to start unknown stage {stage_id}"))
        })?;
        let name = stage_machine_name(&execution.id, stage_id, attempt);
        tracing::info!(stage_id, attempt, stage_type = %stage.stage_type, "starting stage");
        self.run_stage_machine(execution, stage, &name).await
    }

    /// Starts the stage state machine run `name` for `stage` with its input as of now (a
    /// first start, or the reconciler's rerun of a run that was lost).
    pub(crate) async fn run_stage_machine(
        &self,
        execution: &Execution,
        stage: &StageExecution,
        name: &str,
    ) -> Result<(), OrchestratorError> {
        let input = stage_input::for_stage(
            execution,
            stage,
            self.window_zone,
            now_millis(),
            self.launcher.preconfigured_webhooks(),
        );
        self.step_functions
            .start_execution(&self.stage_state_machine_arn, name, &input)
            .await?;
        Ok(())
    }
}

/// The `StageFinished` reports of `execution_id` at the head of `messages`.
fn consecutive_reports<'a>(
    messages: &'a [Result<OrchestrationMessage, String>],
    execution_id: &str,
) -> Vec<&'a OrchestrationMessage> {
    messages
        .iter()
        .map_while(|parsed| {
            parsed.as_ref().ok().filter(|message| {
                matches!(message, OrchestrationMessage::StageFinished { .. })
                    && message.execution_id() == execution_id
            })
        })
        .collect()
}

/// Runs `attempt` again from a fresh read while it loses optimistic-locking races.
async fn retry_on_conflict<F, Fut>(
    execution_id: &str,
    mut attempt: F,
) -> Result<(), OrchestratorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), OrchestratorError>>,
{
    for _ in 0..MAX_CONFLICT_RETRIES {
        match attempt().await {
            Err(OrchestratorError::Store(StoreError::Conflict(reason))) => {
                tracing::debug!(%reason, "lost a write race; retrying from a fresh read");
            }
            other => return other,
        }
    }
    Err(OrchestratorError::Contended(execution_id.to_string()))
}

/// `effects` without repeats, first occurrence kept (two reports may imply the same start).
fn distinct(effects: Vec<Effect>) -> Vec<Effect> {
    let mut kept: Vec<Effect> = Vec::with_capacity(effects.len());
    for effect in effects {
        if !kept.contains(&effect) {
            kept.push(effect);
        }
    }
    kept
}

#[cfg(test)]
mod sample_events {
    use super::*;

    /// The sample events in `events/` (used with `cargo lambda invoke`) must stay readable.
    #[test]
    fn sample_events_parse_into_orchestration_messages() {
        for (file, expected_type) in [
            ("orchestrator-start-execution.json", "StartExecution"),
            ("orchestrator-stage-finished.json", "StageFinished"),
        ] {
            let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
            let event: SqsEvent =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let message: OrchestrationMessage = parse_body(&event.records[0]).unwrap();
            assert!(
                format!("{message:?}").starts_with(expected_type),
                "{file}: {message:?}"
            );
        }
    }
}
