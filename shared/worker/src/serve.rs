//! The loop every stage worker runs: what Orca's `RunTaskHandler` does once for all tasks.
//!
//! For each message of a batch: parse it; for a task, check where the stage stands (over:
//! answer CANCELED; paused: poll again later; past its timeout: let the worker answer the
//! timeout), otherwise run the worker's [`StageWorker::step`] and answer the task token; for
//! a cancel notice, let the worker stop what it started. A message whose handling fails is
//! reported as a partial batch failure, so SQS delivers it again.

use std::future::Future;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gennaker_env::FunctionEnv;
use gennaker_model::json::now_millis;
use gennaker_runtime::batch::{parse_body, process_each};
use gennaker_store::LoadedStage;
use tracing::Instrument;

use crate::{
    Answer, CancelNotice, Liveness, Progress, StageInput, WorkerError, WorkerMessage, receive_count,
};

/// One delivery of a task message.
#[derive(Debug, Clone)]
pub struct Task {
    pub token: String,
    pub stage: StageInput,
    /// How often SQS has delivered this message (1 on the first delivery).
    pub receive_count: u32,
}

/// A stage worker: the part of a worker that differs from the others.
pub trait StageWorker: Send + Sync + Sized + 'static {
    /// The worker's name in logs and spans (`webhook`, `bake`, ...).
    const NAME: &'static str;

    /// The worker, configured from its function's environment (read once at cold start).
    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>>;

    /// Its store and Step Functions calls.
    fn progress(&self) -> &Progress;

    /// Seconds until the next poll while the execution is paused.
    fn paused_backoff_seconds(&self) -> u64;

    /// One poll of a running stage; `None` answers nothing (the answer was given already,
    /// or the worker found nobody waiting for it).
    fn step(
        &self,
        task: &Task,
        loaded: LoadedStage,
    ) -> impl Future<Output = Result<Option<Answer>, WorkerError>> + Send;

    /// The answer for a stage past its timeout, checked before every poll. `None` leaves the
    /// timeout to `step` (a deploy may roll back first; a manual judgment's or a script's
    /// timeout is the state machine's).
    fn on_timeout(
        &self,
        input: &StageInput,
        _loaded: &LoadedStage,
    ) -> impl Future<Output = Result<Option<Answer>, WorkerError>> + Send {
        let answer = Answer::timed_out(input.previous_context());
        async move { Ok(Some(answer)) }
    }

    /// Stops what a canceled stage started outside. Most workers start nothing that
    /// outlives a poll, so by default there is nothing to do.
    fn cancel(
        &self,
        _notice: CancelNotice,
    ) -> impl Future<Output = Result<(), WorkerError>> + Send {
        async { Ok(()) }
    }
}

/// Handles one SQS batch of `worker`'s queue.
pub async fn serve<W: StageWorker>(worker: &W, event: SqsEvent) -> SqsBatchResponse {
    process_each(event, |message| async move {
        let receive_count = receive_count(&message);
        match parse_body::<WorkerMessage>(&message).map_err(WorkerError::BadMessage)? {
            WorkerMessage::Task(message) => {
                let span = tracing::info_span!(
                    "stage_worker",
                    worker = W::NAME,
                    execution_id = %message.stage.execution_id,
                    stage_id = %message.stage.stage_id,
                    application = %message.stage.application,
                );
                let task = Task {
                    token: message.task_token,
                    stage: message.stage,
                    receive_count,
                };
                run_task(worker, task).instrument(span).await
            }
            WorkerMessage::Cancel { cancel } => {
                let span = tracing::info_span!(
                    "stage_worker_cancel",
                    worker = W::NAME,
                    execution_id = %cancel.execution_id,
                    stage_id = %cancel.stage_id,
                );
                worker.cancel(cancel).instrument(span).await
            }
        }
    })
    .await
}

async fn run_task<W: StageWorker>(worker: &W, task: Task) -> Result<(), WorkerError> {
    let input = &task.stage;
    // Each task message is one poll: the first step and every RUNNING loop of the machine.
    gennaker_runtime::metrics::count(
        gennaker_runtime::metrics::WORKER_POLLS,
        &[("Worker", W::NAME)],
        &[
            ("executionId", &input.execution_id),
            ("stageId", &input.stage_id),
        ],
    );
    let answer = match worker.progress().liveness(input).await? {
        Liveness::Over => Some(Answer::canceled()),
        Liveness::Paused(_) => Some(Answer::running(
            worker.paused_backoff_seconds(),
            input.previous_context(),
        )),
        Liveness::Active(loaded) => {
            let timeout = match input.timed_out(now_millis()) {
                true => worker.on_timeout(input, &loaded).await?,
                false => None,
            };
            match timeout {
                Some(answer) => Some(answer),
                None => worker.step(&task, loaded).await?,
            }
        }
    };
    match answer {
        Some(answer) => worker.progress().answer(&task.token, &answer).await,
        None => Ok(()),
    }
}

/// A stage worker's Lambda `main`: logging, configuration, then [`serve`] for every batch.
pub async fn run_on_lambda<W: StageWorker>() -> Result<(), lambda_runtime::Error> {
    gennaker_runtime::logging::init(true);
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let worker = std::sync::Arc::new(W::from_env(&sdk, &FunctionEnv::from_process())?);
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let worker = worker.clone();
            async move { Ok::<_, lambda_runtime::Error>(serve(&*worker, event.payload).await) }
        },
    ))
    .await
}
