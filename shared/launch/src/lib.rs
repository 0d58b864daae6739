//! Starting an execution, the same way for every path that starts one: the API's manual and
//! ad hoc triggers, webhook triggers, the trigger function (cron, pipeline completion, CI
//! builds) and the orchestrator's pipeline stages.
//!
//! A launch writes the NOT_STARTED execution, then starts the pipeline state machine named
//! after the execution id. Both steps may be repeated: a write that finds the execution
//! already there is fine, and Step Functions refuses a second machine of the same name. So a
//! caller that crashed between the two, or that is retried, launches again and the
//! execution runs once. Triggers that fire per event first claim the event
//! ([`Launcher::launch_for_event`]), so a repeated event maps to the same execution id.
//!
//! An execution with a stage Gennaker cannot run (and that may be enabled) is not started:
//! it is recorded TERMINAL at once with the reason, as Orca records a start that fails, and
//! no stage of it runs. Paths that answer a caller (the API's manual trigger, a pipeline
//! stage) check [`Launcher::refusal`] first to answer with it. The types of the configured
//! preconfigured webhooks ([`Launcher::with_preconfigured_webhooks`]) run.

use std::sync::Arc;

pub mod run_as;

use gennaker_model::Execution;
use gennaker_model::preconfigured::PreconfiguredWebhooks;
use gennaker_protocol::PipelineMachineInput;
use gennaker_runtime::step_functions::{StepFunctions, StepFunctionsError};
use gennaker_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    StepFunctions(#[from] StepFunctionsError),
}

/// How Orca begins the cancellation reason of an execution it refused to start.
const FAILED_ON_STARTUP: &str = "Failed on startup: ";

/// Whether the execution was recorded as refused ([`Launcher::record_refused`]).
fn was_refused(execution: &Execution) -> bool {
    execution.status == gennaker_model::ExecutionStatus::Terminal
        && execution
            .cancellation_reason
            .as_deref()
            .is_some_and(|reason| reason.starts_with(FAILED_ON_STARTUP))
}

/// What became of a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launched {
    /// Written and its pipeline machine started (or already running).
    Started,
    /// Recorded TERMINAL without running, for this reason.
    Refused(String),
}

/// What launching needs: the store, Step Functions and the pipeline state machine.
#[derive(Clone)]
pub struct Launcher {
    store: Store,
    step_functions: StepFunctions,
    pipeline_state_machine_arn: String,
    execution_ttl_seconds: i64,
    preconfigured: Arc<PreconfiguredWebhooks>,
}

impl Launcher {
    pub fn new(
        store: Store,
        step_functions: StepFunctions,
        pipeline_state_machine_arn: String,
        execution_ttl_seconds: i64,
    ) -> Self {
        Self {
            store,
            step_functions,
            pipeline_state_machine_arn,
            execution_ttl_seconds,
            preconfigured: Arc::default(),
        }
    }

    /// The preconfigured webhook stage types (`PRECONFIGURED_WEBHOOKS`), which run.
    pub fn with_preconfigured_webhooks(mut self, preconfigured: PreconfiguredWebhooks) -> Self {
        self.preconfigured = Arc::new(preconfigured);
        self
    }

    pub fn preconfigured_webhooks(&self) -> &PreconfiguredWebhooks {
        &self.preconfigured
    }

    /// Why `execution` must not start ([`gennaker_model::compatibility::refusal`]).
    pub fn refusal(&self, execution: &Execution) -> Option<String> {
        gennaker_model::compatibility::refusal(execution, &self.preconfigured)
    }

    /// Writes `execution` unless it is already written, then starts its pipeline machine;
    /// one that cannot run is recorded TERMINAL instead.
    pub async fn launch(&self, execution: &Execution) -> Result<Launched, LaunchError> {
        if let Some(reason) = self.refusal(execution) {
            self.record_refused(
                execution.clone(),
                &reason,
                gennaker_model::json::now_millis(),
            )
            .await?;
            return Ok(Launched::Refused(reason));
        }
        match (self.store)
            .create_execution(execution, self.execution_ttl_seconds)
            .await
        {
            Ok(()) => record_trigger_fire(execution),
            // Written by an earlier delivery, which counted it.
            Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
        self.start_machine(execution).await?;
        Ok(Launched::Started)
    }

    /// Launches the execution `execution_id`: the stored one if it was written before (its
    /// machine may not have started), else the one `build` makes. `Ok(Err(refusal))` when
    /// `build` refuses; nothing is written then.
    pub async fn launch_by_id<R>(
        &self,
        execution_id: &str,
        build: impl FnOnce() -> Result<Execution, R>,
    ) -> Result<Result<Execution, R>, LaunchError> {
        if let Some(stored) = self.relaunch_if_stored(execution_id).await? {
            return Ok(Ok(stored));
        }
        let execution = match build() {
            Ok(execution) => execution,
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.launch(&execution).await?;
        Ok(Ok(execution))
    }

    /// Launches, once per `event_id`, the execution of pipeline `pipeline_id` that `build`
    /// makes from the execution id the event is given: a repeated event launches the same
    /// execution again, which runs once.
    pub async fn launch_for_event<R>(
        &self,
        event_id: &str,
        pipeline_id: &str,
        build: impl FnOnce(String) -> Result<Execution, R>,
    ) -> Result<Result<Execution, R>, LaunchError> {
        let execution_id = self
            .store
            .claim_trigger_event(
                event_id,
                pipeline_id,
                &gennaker_model::new_id(),
                self.execution_ttl_seconds,
            )
            .await?;
        let id = execution_id.clone();
        self.launch_by_id(&execution_id, move || build(id)).await
    }

    /// Starts the machine of execution `execution_id` again if it was written before (a
    /// crash may have come between the write and the start; a machine that runs already is
    /// left alone, and one refused at startup never runs); `None` when it was not written.
    pub async fn relaunch_if_stored(
        &self,
        execution_id: &str,
    ) -> Result<Option<Execution>, LaunchError> {
        let Some(stored) = self.store.load_execution(execution_id).await? else {
            return Ok(None);
        };
        if !was_refused(&stored.execution) {
            self.start_machine(&stored.execution).await?;
        }
        Ok(Some(stored.execution))
    }

    /// Records a start that is refused before it runs (e.g. a disabled pipeline), as Orca
    /// does: the execution is written TERMINAL, canceled by the system, and never runs. A
    /// repeated call finds it written and leaves it.
    pub async fn record_refused(
        &self,
        mut execution: Execution,
        reason: &str,
        now: i64,
    ) -> Result<(), LaunchError> {
        execution.status = gennaker_model::ExecutionStatus::Terminal;
        execution.canceled = true;
        execution.canceled_by = Some("system".to_string());
        execution.cancellation_reason = Some(format!("{FAILED_ON_STARTUP}{reason}"));
        execution.start_time = Some(now);
        execution.end_time = Some(now);
        match (self.store)
            .create_execution(&execution, self.execution_ttl_seconds)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Starts the execution's pipeline machine under `name` (the execution id for a first
    /// run; the orchestrator names a reopened execution's run after its restart).
    pub async fn start_machine_named(
        &self,
        execution: &Execution,
        name: &str,
    ) -> Result<(), LaunchError> {
        let input = PipelineMachineInput {
            execution_id: execution.id.clone(),
            application: execution.application.clone(),
        };
        self.step_functions
            .start_execution(&self.pipeline_state_machine_arn, name, &input)
            .await?;
        Ok(())
    }

    async fn start_machine(&self, execution: &Execution) -> Result<(), LaunchError> {
        self.start_machine_named(execution, &execution.id).await
    }
}

/// One execution started by a trigger, by the trigger's type (`manual`, `cron`, `webhook`,
/// `pipeline`, `jenkins`, ...).
fn record_trigger_fire(execution: &Execution) {
    let trigger_type = execution
        .trigger
        .get("type")
        .and_then(|value| value.as_str())
        .unwrap_or("manual");
    gennaker_runtime::metrics::count(
        gennaker_runtime::metrics::TRIGGER_FIRES,
        &[("TriggerType", trigger_type)],
        &[
            ("executionId", &execution.id),
            ("application", &execution.application),
        ],
    );
}
