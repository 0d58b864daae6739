//! The orchestrator under at-least-once delivery and crashes (DESIGN.md, "Rules that make
//! this safe"): duplicated messages, a crash between persisting and acting, and reports of
//! stale attempts or unknown executions.
//!
//! No local-mode pollers run here: each test deploys `template.yaml` into its own emulator
//! and plays the orchestration queue's event source itself, so it decides exactly which
//! message is handled how often, and which one is "lost" by a crashed invocation.

mod support;

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus as MachineStatus;
use gennaker_env::FunctionEnv;
use gennaker_local::emulator::{Emulator, project_root};
use gennaker_local::template::{Template, deploy};
use gennaker_model::json::now_millis;
use gennaker_model::launch::{Caller, build_execution, resolve_trigger};
use gennaker_model::{Execution, ExecutionStatus, PipelineConfig, new_id};
use gennaker_orchestrator::{
    OrchestrationMessage, Orchestrator, OrchestratorConfig, OrchestratorError,
};
use gennaker_protocol::Answer;
use gennaker_runtime::aws::sdk_config;
use gennaker_runtime::step_functions::execution_arn;
use gennaker_store::{Store, StoredExecution, Tables};
use serde_json::{Map, Value, json};
use support::eventually;

const DEADLINE: Duration = Duration::from_secs(60);
const EXECUTION_TTL_SECONDS: i64 = 3600;

/// Stage 1, then stages 2 and 3 in parallel, then stage 4 joining them; every stage a
/// `wait` of 0 seconds, so the stage state machine reports back at once.
fn fan_out_and_join(application: &str) -> Value {
    let wait = |ref_id: &str, requisites: &[&str]| {
        json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "wait",
               "name": format!("Wait {ref_id}"), "waitTime": 0})
    };
    json!({
        "application": application,
        "name": "Faults",
        "stages": [wait("1", &[]), wait("2", &["1"]), wait("3", &["1"]), wait("4", &["2", "3"])]
    })
}

/// Stage 1, then `width` stages in parallel, then one stage joining them all.
fn wide_fan_out(application: &str, width: usize) -> Value {
    let wait = |ref_id: String, requisites: Vec<String>| {
        json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "wait",
               "name": format!("Wait {ref_id}"), "waitTime": 0})
    };
    let branches: Vec<String> = (2..width + 2).map(|n| n.to_string()).collect();
    let mut stages = vec![wait("1".into(), vec![])];
    stages.extend(branches.iter().map(|b| wait(b.clone(), vec!["1".into()])));
    stages.push(wait("join".into(), branches));
    json!({"application": application, "name": "Wide", "stages": stages})
}

/// A message taken from the orchestration queue and not yet deleted.
struct Delivery {
    message: OrchestrationMessage,
    receipt_handle: String,
}

/// One emulator with the project's template deployed, an orchestrator configured from the
/// deployed OrchestratorFunction's environment, and the clients the tests look with.
struct Rig {
    emulator: Emulator,
    orchestrator: Orchestrator,
    store: Store,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    queue_url: String,
    pipeline_machine: String,
    stage_machine: String,
}

impl Rig {
    async fn start() -> Rig {
        let emulator = Emulator::start().await.expect("the emulator starts");
        let sdk = sdk_config(Some(emulator.endpoint())).await;
        let template = Template::load(&project_root().join("template.yaml")).expect("template");
        let stack_name = format!("f{}", &new_id()[16..]).to_lowercase();
        let deployment = deploy(&template, &sdk, &stack_name)
            .await
            .expect("template.yaml deploys into the emulator");
        let function = deployment.function("OrchestratorFunction").unwrap();
        let env = FunctionEnv::from_map(function.environment.clone());
        let config = OrchestratorConfig::from_env(&env).expect("orchestrator environment");
        let reference = |id: &str| deployment.resource(id).unwrap().ref_value.clone();
        let tables = Tables {
            applications: reference("ApplicationsTable"),
            pipelines: reference("PipelinesTable"),
            executions: reference("ExecutionsTable"),
        };
        Rig {
            orchestrator: Orchestrator::new(&sdk, config),
            store: Store::new(aws_sdk_dynamodb::Client::new(&sdk), tables),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sfn: aws_sdk_sfn::Client::new(&sdk),
            queue_url: reference("OrchestrationQueue"),
            pipeline_machine: reference("PipelineStateMachine"),
            stage_machine: reference("StageStateMachine"),
            emulator,
        }
    }

    async fn stop(self) {
        self.emulator.stop().await;
    }

    /// Starts an execution the way the API does: write it NOT_STARTED, then start the
    /// pipeline state machine named after it, which queues StartExecution with its token.
    async fn launch(&self, pipeline: Value) -> String {
        let config = PipelineConfig::from_value(pipeline).unwrap();
        let caller = Caller::default();
        let trigger = resolve_trigger(&config, Map::new(), &caller).unwrap();
        let execution = build_execution(&config, new_id(), trigger, &caller, now_millis(), new_id);
        self.store
            .create_execution(&execution, EXECUTION_TTL_SECONDS)
            .await
            .expect("create_execution");
        let input = json!({"executionId": execution.id, "application": execution.application});
        self.sfn
            .start_execution()
            .state_machine_arn(&self.pipeline_machine)
            .name(&execution.id)
            .input(input.to_string())
            .send()
            .await
            .expect("StartExecution of the pipeline state machine");
        execution.id
    }

    async fn load(&self, execution_id: &str) -> StoredExecution {
        self.store
            .load_execution(execution_id)
            .await
            .expect("load_execution")
            .unwrap_or_else(|| panic!("execution {execution_id} exists"))
    }

    /// One short ReceiveMessage of at most one message.
    async fn receive_one(&self) -> Option<Delivery> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        let message = output.messages.unwrap_or_default().into_iter().next()?;
        let body = message.body().expect("a message body");
        Some(Delivery {
            message: serde_json::from_str(body)
                .unwrap_or_else(|error| panic!("not an orchestration message ({error}): {body}")),
            receipt_handle: message.receipt_handle.expect("a receipt handle"),
        })
    }

    /// Takes `count` messages off the queue in one receive, as they are (body and receipt
    /// handle), once they have all arrived. A FIFO queue holds back a group's later messages
    /// while earlier ones are in flight, so an incomplete receive is handed straight back.
    async fn receive_together(&self, count: usize) -> Vec<aws_sdk_sqs::types::Message> {
        eventually("the messages to arrive together", DEADLINE, || async {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = output.messages.unwrap_or_default();
            if messages.len() >= count {
                return Some(messages);
            }
            for message in &messages {
                self.sqs
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().expect("a receipt handle"))
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("ChangeMessageVisibility");
            }
            None
        })
        .await
    }

    async fn next_delivery(&self, what: &str) -> Delivery {
        eventually(what, DEADLINE, || self.receive_one()).await
    }

    /// Hands the same message to the orchestrator `times` times in a row, as an
    /// at-least-once queue may; every one of them must succeed.
    async fn deliver(&self, message: &OrchestrationMessage, times: usize) {
        for _ in 0..times {
            if let Err(error) = self.orchestrator.handle(message.clone()).await {
                panic!("handling {message:?} failed: {error}");
            }
        }
    }

    async fn acknowledge(&self, delivery: &Delivery) {
        self.sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&delivery.receipt_handle)
            .send()
            .await
            .expect("DeleteMessage");
    }

    /// A crashed invocation never deletes its message; SQS delivers it again once the
    /// visibility timeout lapses. This lapses it now.
    async fn redeliver_later(&self, delivery: &Delivery) {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&delivery.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .expect("ChangeMessageVisibility");
    }

    /// Plays the event source until the execution is complete: every message is handled
    /// `times` times, then deleted.
    async fn pump_until_complete(&self, execution_id: &str, times: usize) -> Execution {
        eventually("the execution to complete", DEADLINE, || async move {
            if let Some(delivery) = self.receive_one().await {
                self.deliver(&delivery.message, times).await;
                self.acknowledge(&delivery).await;
            }
            let execution = self.load(execution_id).await.execution;
            execution.status.is_complete().then_some(execution)
        })
        .await
    }

    /// Plays the event source (each message handled once) until `stage_id`'s StageFinished
    /// arrives, which it returns unhandled and undeleted.
    async fn deliver_until_finished(&self, stage_id: &str) -> Delivery {
        eventually("the StageFinished of the stage", DEADLINE, || async move {
            let delivery = self.receive_one().await?;
            if finished_stage(&delivery.message) == Some(stage_id) {
                return Some(delivery);
            }
            self.deliver(&delivery.message, 1).await;
            self.acknowledge(&delivery).await;
            None
        })
        .await
    }

    /// The orchestrator's work up to its commit point and nothing after: the pipeline task
    /// token and the engine's result are persisted, but no stage is started and no token is
    /// answered — as if the invocation died right after the write.
    async fn persist_without_acting(&self, message: &OrchestrationMessage) {
        let execution_id = message.execution_id();
        if let OrchestrationMessage::StartExecution { task_token, .. } = message {
            self.store
                .set_pipeline_task_token(execution_id, task_token)
                .await
                .expect("set_pipeline_task_token");
        }
        let stored = self.load(execution_id).await;
        let (next, effects) = gennaker_engine::apply(
            stored.execution.clone(),
            &gennaker_orchestrator::messages::engine_event(message, now_millis())
                .expect("an engine event"),
        );
        assert!(
            !effects.is_empty(),
            "the crash must lose some work: {message:?}"
        );
        self.store
            .save_execution(&stored, &next)
            .await
            .expect("save_execution");
    }

    /// Names of the stage state machine executions of one pipeline execution, sorted.
    async fn stage_runs(&self, execution_id: &str) -> Vec<String> {
        let prefix = format!("{execution_id}-");
        let mut names = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .sfn
                .list_executions()
                .state_machine_arn(&self.stage_machine)
                .set_next_token(next_token)
                .send()
                .await
                .expect("ListExecutions");
            let runs = page.executions().iter().map(|run| run.name());
            names.extend(
                runs.filter(|name| name.starts_with(&prefix))
                    .map(str::to_string),
            );
            next_token = page.next_token().map(str::to_string);
            if next_token.is_none() {
                break;
            }
        }
        names.sort();
        names
    }

    async fn pipeline_machine_status(&self, execution_id: &str) -> MachineStatus {
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(execution_arn(&self.pipeline_machine, execution_id))
            .send()
            .await
            .expect("DescribeExecution");
        described.status().clone()
    }

    /// The final status of the pipeline state machine execution of `execution_id`.
    async fn pipeline_machine_outcome(&self, execution_id: &str) -> MachineStatus {
        eventually("the pipeline state machine to end", DEADLINE, || async {
            let status = self.pipeline_machine_status(execution_id).await;
            (status != MachineStatus::Running).then_some(status)
        })
        .await
    }
}

/// `{executionId}-{stageId}-1`: the first attempt's stage state machine execution.
fn first_run(execution: &Execution, ref_id: &str) -> String {
    let stage = execution.stage_by_ref_id(ref_id).expect("stage by refId");
    format!("{}-{}-1", execution.id, stage.id)
}

/// Exactly one first-attempt run per stage, sorted.
fn one_run_per_stage(execution: &Execution) -> Vec<String> {
    let mut names: Vec<String> = (execution.stages.iter())
        .map(|stage| first_run(execution, &stage.ref_id))
        .collect();
    names.sort();
    names
}

fn stage_status(execution: &Execution, ref_id: &str) -> ExecutionStatus {
    execution.stage_by_ref_id(ref_id).expect("stage").status
}

fn is_start(message: &OrchestrationMessage) -> bool {
    matches!(message, OrchestrationMessage::StartExecution { .. })
}

fn finished_stage(message: &OrchestrationMessage) -> Option<&str> {
    match message {
        OrchestrationMessage::StageFinished { stage_id, .. } => Some(stage_id),
        _ => None,
    }
}

/// A StageFinished reporting that the attempt failed, with an output that must not leak.
fn terminal_report(execution_id: &str, stage_id: &str, attempt: u32) -> OrchestrationMessage {
    OrchestrationMessage::StageFinished {
        execution_id: execution_id.to_string(),
        stage_id: stage_id.to_string(),
        attempt,
        result: Answer::finished(
            ExecutionStatus::Terminal,
            Map::new(),
            json!({"leaked": true}).as_object().unwrap().clone(),
        ),
    }
}

fn assert_succeeded_throughout(execution: &Execution) {
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    for stage in &execution.stages {
        assert_eq!(
            stage.status,
            ExecutionStatus::Succeeded,
            "stage {}",
            stage.ref_id
        );
    }
}

#[tokio::test]
async fn duplicate_deliveries_start_each_stage_once() {
    let rig = Rig::start().await;
    let id = rig.launch(fan_out_and_join("duplicates")).await;
    let first = rig.next_delivery("the StartExecution message").await;
    assert!(is_start(&first.message), "{:?}", first.message);
    rig.deliver(&first.message, 2).await;
    rig.acknowledge(&first).await;

    let finished = rig.pump_until_complete(&id, 2).await;
    // A very late duplicate of the very first message, after everything ended.
    rig.deliver(&first.message, 1).await;

    let execution = rig.load(&id).await.execution;
    assert_eq!(execution, finished, "the late duplicate changed nothing");
    assert_succeeded_throughout(&execution);
    assert_eq!(
        rig.stage_runs(&id).await,
        one_run_per_stage(&execution),
        "each stage ran exactly once, first attempt only"
    );
    assert_eq!(
        rig.pipeline_machine_outcome(&id).await,
        MachineStatus::Succeeded
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_crash_between_persisting_and_acting_is_healed_by_redelivery() {
    let rig = Rig::start().await;
    let id = rig.launch(fan_out_and_join("crashes")).await;

    // Crash 1: StartExecution persisted (RUNNING, stage 1 RUNNING), stage 1 never started.
    let start = rig.next_delivery("the StartExecution message").await;
    assert!(is_start(&start.message), "{:?}", start.message);
    rig.persist_without_acting(&start.message).await;
    rig.redeliver_later(&start).await;
    let crashed = rig.load(&id).await;
    assert_eq!(crashed.execution.status, ExecutionStatus::Running);
    assert_eq!(
        stage_status(&crashed.execution, "1"),
        ExecutionStatus::Running
    );
    assert!(
        crashed.pipeline_task_token.is_some(),
        "the token was parked"
    );
    assert!(rig.stage_runs(&id).await.is_empty(), "nothing was started");

    let again = rig.next_delivery("StartExecution, redelivered").await;
    assert_eq!(again.message, start.message);
    rig.deliver(&again.message, 1).await;
    rig.acknowledge(&again).await;
    let execution = rig.load(&id).await.execution;
    assert_eq!(rig.stage_runs(&id).await, vec![first_run(&execution, "1")]);

    // Crash 2: stage 1's StageFinished persisted (2 and 3 RUNNING), neither started.
    let stage_one = execution.stage_by_ref_id("1").unwrap().id.clone();
    let finished = rig.next_delivery("stage 1's StageFinished").await;
    assert_eq!(finished_stage(&finished.message), Some(stage_one.as_str()));
    rig.persist_without_acting(&finished.message).await;
    rig.redeliver_later(&finished).await;
    let crashed = rig.load(&id).await.execution;
    assert_eq!(stage_status(&crashed, "1"), ExecutionStatus::Succeeded);
    assert_eq!(stage_status(&crashed, "2"), ExecutionStatus::Running);
    assert_eq!(stage_status(&crashed, "3"), ExecutionStatus::Running);
    assert_eq!(rig.stage_runs(&id).await, vec![first_run(&crashed, "1")]);

    let again = rig
        .next_delivery("stage 1's StageFinished, redelivered")
        .await;
    assert_eq!(again.message, finished.message);
    rig.deliver(&again.message, 1).await;
    rig.acknowledge(&again).await;
    let mut expected: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|ref_id| first_run(&crashed, ref_id))
        .collect();
    expected.sort();
    assert_eq!(rig.stage_runs(&id).await, expected, "2 and 3 started once");

    // Crash 3: the join's StageFinished persisted (execution SUCCEEDED), the pipeline
    // state machine's token never answered.
    let join = crashed.stage_by_ref_id("4").unwrap().id.clone();
    let last = rig.deliver_until_finished(&join).await;
    rig.persist_without_acting(&last.message).await;
    rig.redeliver_later(&last).await;
    let crashed = rig.load(&id).await.execution;
    assert_succeeded_throughout(&crashed);
    assert_eq!(
        rig.pipeline_machine_status(&id).await,
        MachineStatus::Running
    );

    let again = rig
        .next_delivery("the join's StageFinished, redelivered")
        .await;
    assert_eq!(again.message, last.message);
    rig.deliver(&again.message, 1).await;
    rig.acknowledge(&again).await;
    assert_eq!(
        rig.pipeline_machine_outcome(&id).await,
        MachineStatus::Succeeded
    );
    let execution = rig.load(&id).await.execution;
    assert_eq!(execution, crashed, "the redelivery only acted");
    assert_eq!(rig.stage_runs(&id).await, one_run_per_stage(&execution));
    rig.stop().await;
}

/// Lambda hands the orchestrator up to ten messages of one FIFO group at once, and the
/// orchestrator applies consecutive stage reports of one execution together. Branch reports
/// arriving in one batch, one of them twice, each count once and start the join.
#[tokio::test]
async fn branch_reports_arriving_in_one_batch_are_each_applied_once() {
    let rig = Rig::start().await;
    let width = 4;
    let id = rig.launch(wide_fan_out("batched", width)).await;
    let start = rig.next_delivery("the StartExecution message").await;
    rig.deliver(&start.message, 1).await;
    rig.acknowledge(&start).await;
    let first_stage = rig
        .load(&id)
        .await
        .execution
        .stage_by_ref_id("1")
        .unwrap()
        .id
        .clone();
    let first = rig.deliver_until_finished(&first_stage).await;
    rig.deliver(&first.message, 1).await;
    rig.acknowledge(&first).await;

    let reports = rig.receive_together(width).await;
    assert_eq!(reports.len(), width, "only the branch reports are queued");
    let mut batch = aws_lambda_events::sqs::SqsEvent::default();
    for (index, message) in reports.iter().chain(reports.first()).enumerate() {
        let mut record = aws_lambda_events::sqs::SqsMessage::default();
        record.message_id = Some(format!("m{index}"));
        record.body = message.body.clone();
        record
            .attributes
            .insert("MessageGroupId".into(), id.clone());
        batch.records.push(record);
    }
    let response = rig.orchestrator.handle_batch(batch).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "every message of the batch succeeds"
    );
    let execution = rig.load(&id).await.execution;
    for branch in 2..width + 2 {
        assert_eq!(
            stage_status(&execution, &branch.to_string()),
            ExecutionStatus::Succeeded
        );
    }
    assert_eq!(stage_status(&execution, "join"), ExecutionStatus::Running);
    for message in &reports {
        let receipt = message.receipt_handle().expect("a receipt handle");
        rig.sqs
            .delete_message()
            .queue_url(&rig.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .expect("DeleteMessage");
    }

    let execution = rig.pump_until_complete(&id, 1).await;
    assert_succeeded_throughout(&execution);
    assert_eq!(rig.stage_runs(&id).await, one_run_per_stage(&execution));
    rig.stop().await;
}

#[tokio::test]
async fn a_stale_attempt_report_changes_nothing() {
    let rig = Rig::start().await;
    let id = rig.launch(fan_out_and_join("stale")).await;
    let start = rig.next_delivery("the StartExecution message").await;
    rig.deliver(&start.message, 1).await;
    rig.acknowledge(&start).await;

    let before = rig.load(&id).await;
    let stage_one = before.execution.stage_by_ref_id("1").unwrap();
    assert_eq!(stage_one.status, ExecutionStatus::Running);
    assert_eq!(stage_one.attempt, 1);
    let stale = terminal_report(&id, &stage_one.id, 7);
    rig.deliver(&stale, 1).await;
    let after = rig.load(&id).await;
    assert_eq!(
        after.execution, before.execution,
        "the stale report changed nothing"
    );
    assert_eq!(after.header_version(), before.header_version());
    assert_eq!(
        after.stage_version(&stage_one.id),
        before.stage_version(&stage_one.id)
    );

    let unknown = terminal_report(&new_id(), &stage_one.id, 1);
    let error = rig
        .orchestrator
        .handle(unknown)
        .await
        .expect_err("a report for an unknown execution fails (and goes to the DLQ)");
    assert!(
        matches!(error, OrchestratorError::UnknownExecution(_)),
        "{error:?}"
    );
    assert!(error.to_string().ends_with("does not exist"), "{error}");

    // The real attempt still counts: the execution runs to success.
    let execution = rig.pump_until_complete(&id, 1).await;
    assert_succeeded_throughout(&execution);
    assert_eq!(rig.stage_runs(&id).await, one_run_per_stage(&execution));
    rig.stop().await;
}
