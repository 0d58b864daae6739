//! Reconciliation (issue 3, "running stages are detected and re-driven"): a running stage
//! whose stage state machine run is lost or ends without its result arriving is run again by
//! the scheduled reconciler, and given up on (TERMINAL, with a readable reason) when its runs
//! keep ending that way. A run stopped from outside stands for one the emulator lost: it
//! ends without reporting, exactly like a run that vanished.

mod support;

use std::time::Duration;

use gennaker_local::LocalOptions;
use gennaker_orchestrator::MAX_RERUNS;
use gennaker_runtime::step_functions::execution_arn;
use support::{TestApp, eventually, stage, wait};

const DEADLINE: Duration = Duration::from_secs(60);

async fn spawn_with_fast_reconciler() -> TestApp {
    TestApp::spawn_with(LocalOptions {
        parameters: [("StageRerunAfterSeconds".to_string(), "1".to_string())].into(),
        schedule_every: Some(Duration::from_millis(500)),
        ..LocalOptions::default()
    })
    .await
}

impl TestApp {
    fn stage_machine_run(&self, name: &str) -> String {
        let machine = &self
            .running
            .deployment
            .resource("StageStateMachine")
            .unwrap()
            .ref_value;
        execution_arn(machine, name)
    }

    /// Waits until the stage state machine run `name` is running, then stops it from
    /// outside: it ends ABORTED and never reports.
    async fn lose_run(&self, name: &str) {
        let sfn = aws_sdk_sfn::Client::new(&self.running.sdk);
        let arn = self.stage_machine_run(name);
        eventually(&format!("the run {name} to start"), DEADLINE, || async {
            let described = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .ok()?;
            (described.status() == &aws_sdk_sfn::types::ExecutionStatus::Running).then_some(())
        })
        .await;
        sfn.stop_execution()
            .execution_arn(&arn)
            .cause("lost (test)")
            .send()
            .await
            .expect("StopExecution");
    }

    /// The first attempt's stage state machine run of stage `ref_id`, once it is running.
    async fn first_run_of(&self, id: &str, ref_id: &str) -> String {
        let execution = self
            .wait_for_execution(id, "the stage to run", |e| {
                stage(e, ref_id)["status"] == "RUNNING"
            })
            .await;
        format!(
            "{id}-{}-1",
            stage(&execution, ref_id)["id"].as_str().unwrap()
        )
    }
}

#[tokio::test]
async fn a_stage_whose_run_ended_without_reporting_is_run_again_and_the_execution_finishes() {
    let app = spawn_with_fast_reconciler().await;
    let id = app
        .save_and_trigger(
            "reconcile",
            "lost-run",
            vec![wait("1", &[], 3), wait("2", &["1"], 0)],
        )
        .await;
    let first = app.first_run_of(&id, "1").await;
    app.lose_run(&first).await;

    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(stage(&execution, "1")["status"], "SUCCEEDED");
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let rerun = sfn
        .describe_execution()
        .execution_arn(app.stage_machine_run(&format!("{first}-r1")))
        .send()
        .await
        .expect("the stage was run again under the next re-run name");
    assert_eq!(
        rerun.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stage_whose_runs_keep_ending_without_reporting_is_given_up_on() {
    let app = spawn_with_fast_reconciler().await;
    let id = app
        .save_and_trigger("reconcile", "never-reports", vec![wait("1", &[], 30)])
        .await;
    let first = app.first_run_of(&id, "1").await;
    app.lose_run(&first).await;
    for rerun in 1..=MAX_RERUNS {
        app.lose_run(&format!("{first}-r{rerun}")).await;
    }

    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let exception = stage(&execution, "1")["context"]["exception"].to_string();
    assert!(exception.contains("stopped reporting"), "{exception}");
    app.stop().await;
}

/// A launch that wrote its execution but whose pipeline machine run is gone (an emulator
/// restart lost it, or the launcher crashed before starting it): the reconciler starts the
/// machine, and the execution runs instead of staying NOT_STARTED forever.
#[tokio::test]
async fn an_execution_whose_pipeline_machine_never_started_is_started() {
    use gennaker_model::launch::{Caller, build_execution, resolve_trigger};
    use gennaker_model::{PipelineConfig, new_id};

    let app = spawn_with_fast_reconciler().await;
    app.create_application("reconcile").await;
    let pipeline = serde_json::json!({"application": "reconcile", "name": "unstarted",
        "stages": [wait("1", &[], 0)]});
    let (status, body) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{body}");
    let (_, saved) = app
        .get("/applications/reconcile/pipelineConfigs/unstarted")
        .await;
    let config = PipelineConfig::from_value(saved).unwrap();
    let caller = Caller::default();
    let trigger = resolve_trigger(&config, serde_json::Map::new(), &caller).unwrap();
    let execution = build_execution(
        &config,
        new_id(),
        trigger,
        &caller,
        gennaker_model::json::now_millis(),
        new_id,
    );
    let reference = |id: &str| {
        app.running
            .deployment
            .resource(id)
            .unwrap()
            .ref_value
            .clone()
    };
    let store = gennaker_store::Store::new(
        aws_sdk_dynamodb::Client::new(&app.running.sdk),
        gennaker_store::Tables {
            applications: reference("ApplicationsTable"),
            pipelines: reference("PipelinesTable"),
            executions: reference("ExecutionsTable"),
        },
    );
    store.create_execution(&execution, 3600).await.unwrap();

    let ended = app.ended(&execution.id).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    app.stop().await;
}
