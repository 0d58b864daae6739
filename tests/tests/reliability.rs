//! Nothing lost, nothing run twice: the same pipelines under duplicated delivery of every
//! message, under a crash right before each effect, and with a poison message.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::{TestApp, eventually, judgment, stage};

fn wait(ref_id: &str, requisites: &[&str]) -> Value {
    support::wait(ref_id, requisites, 0)
}

/// Failed messages come back at once instead of after the queue's visibility timeout.
fn fast_retries() -> Delivery {
    Delivery {
        duplicate: false,
        retry_failed_after: Some(Duration::ZERO),
    }
}

impl TestApp {
    /// Stage state machine runs of an execution, per stage id.
    async fn runs_per_stage(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        let machine = self
            .running
            .deployment
            .resource("StageStateMachine")
            .unwrap()
            .ref_value
            .clone();
        let listed = aws_sdk_sfn::Client::new(&self.running.sdk)
            .list_executions()
            .state_machine_arn(machine)
            .max_results(1000)
            .send()
            .await
            .unwrap();
        let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for run in listed
            .executions()
            .iter()
            .filter(|run| run.name().starts_with(&format!("{id}-")))
        {
            let (stage_and_attempt, attempt) = run.name().rsplit_once('-').unwrap();
            let stage_id = stage_and_attempt.trim_start_matches(&format!("{id}-"));
            runs.entry(stage_id.to_string())
                .or_default()
                .push(attempt.to_string());
        }
        runs
    }

    /// Final statuses by refId, plus the assertion that every stage that ran did so once
    /// per attempt.
    async fn outcome(&self, id: &str) -> (String, BTreeMap<String, String>) {
        let execution = self.ended(id).await;
        let runs = self.runs_per_stage(id).await;
        let mut statuses = BTreeMap::new();
        for stage in execution["stages"].as_array().unwrap() {
            let attempts = stage["attempt"].as_u64().unwrap_or(0);
            let mut ran = runs
                .get(stage["id"].as_str().unwrap())
                .cloned()
                .unwrap_or_default();
            ran.sort();
            let expected: Vec<String> = (1..=attempts).map(|a| a.to_string()).collect();
            assert_eq!(
                ran, expected,
                "stage {} ran once per attempt",
                stage["refId"]
            );
            statuses.insert(
                stage["refId"].as_str().unwrap().to_string(),
                stage["status"].as_str().unwrap().to_string(),
            );
        }
        (execution["status"].as_str().unwrap().to_string(), statuses)
    }
}

fn statuses(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The suite of pipelines both fault modes must survive, with the outcome each must reach.
async fn run_suite(app: &TestApp) {
    let diamond = app
        .save_and_trigger(
            "sturdy",
            "diamond",
            vec![
                wait("1", &[]),
                wait("2", &["1"]),
                wait("3", &["1"]),
                wait("4", &["2", "3"]),
            ],
        )
        .await;
    let halt_branch = app
        .save_and_trigger(
            "sturdy",
            "halt-branch",
            vec![
                judgment("1", &[], json!({"failPipeline": false})),
                wait("2", &["1"]),
                wait("3", &[]),
            ],
        )
        .await;
    let halt_all = app
        .save_and_trigger(
            "sturdy",
            "halt-all",
            vec![judgment("1", &[], json!({})), judgment("2", &[], json!({}))],
        )
        .await;
    let canceled = app
        .save_and_trigger(
            "sturdy",
            "canceled",
            vec![judgment("1", &[], json!({})), wait("2", &["1"])],
        )
        .await;
    let restarted = app
        .save_and_trigger(
            "sturdy",
            "restarted",
            vec![judgment("1", &[], json!({})), wait("2", &["1"])],
        )
        .await;

    app.judge(&halt_branch, "1", "stop").await;
    app.judge(&halt_all, "1", "stop").await;
    app.wait_for_execution(&canceled, "the judgment to wait", |e| {
        stage(e, "1")["status"] == "RUNNING"
    })
    .await;
    let response = app
        .http
        .put(app.url(&format!("/pipelines/{canceled}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.judge(&restarted, "1", "stop").await;
    let failed = app.ended(&restarted).await;
    let judge_id = stage(&failed, "1")["id"].as_str().unwrap().to_string();
    let response = app
        .http
        .put(app.url(&format!("/pipelines/{restarted}/stages/{judge_id}/restart")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.wait_for_execution(&restarted, "the restarted judgment", |e| {
        stage(e, "1")["attempt"] == 2 && stage(e, "1")["status"] == "RUNNING"
    })
    .await;
    app.judge(&restarted, "1", "continue").await;

    let all_succeeded = statuses(&[
        ("1", "SUCCEEDED"),
        ("2", "SUCCEEDED"),
        ("3", "SUCCEEDED"),
        ("4", "SUCCEEDED"),
    ]);
    assert_eq!(
        app.outcome(&diamond).await,
        ("SUCCEEDED".into(), all_succeeded)
    );
    let expected = statuses(&[("1", "STOPPED"), ("2", "NOT_STARTED"), ("3", "SUCCEEDED")]);
    assert_eq!(
        app.outcome(&halt_branch).await,
        ("SUCCEEDED".into(), expected)
    );
    let expected = statuses(&[("1", "TERMINAL"), ("2", "CANCELED")]);
    assert_eq!(app.outcome(&halt_all).await, ("TERMINAL".into(), expected));
    let expected = statuses(&[("1", "CANCELED"), ("2", "NOT_STARTED")]);
    assert_eq!(app.outcome(&canceled).await, ("CANCELED".into(), expected));
    let expected = statuses(&[("1", "SUCCEEDED"), ("2", "SUCCEEDED")]);
    assert_eq!(
        app.outcome(&restarted).await,
        ("SUCCEEDED".into(), expected)
    );
}

#[tokio::test]
async fn every_message_delivered_twice_changes_nothing() {
    let options = LocalOptions {
        delivery: Delivery {
            duplicate: true,
            retry_failed_after: Some(Duration::ZERO),
        },
        ..LocalOptions::default()
    };
    let app = TestApp::spawn_with(options).await;
    run_suite(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_crash_before_each_effect_is_healed_by_redelivery() {
    let crashed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen = crashed.clone();
    let hook: gennaker_local::FaultHook =
        Arc::new(move |effect| seen.lock().unwrap().insert(format!("{effect:?}")));
    let options = LocalOptions {
        delivery: fast_retries(),
        orchestrator_fault: Some(hook),
        ..LocalOptions::default()
    };
    let app = TestApp::spawn_with(options).await;
    run_suite(&app).await;
    let crashes = crashed.lock().unwrap().clone();
    for kind in [
        "StartStage",
        "CancelStage",
        "CompleteExecution",
        "ReopenExecution",
    ] {
        assert!(
            crashes.iter().any(|effect| effect.starts_with(kind)),
            "a crash was injected before a {kind}: {crashes:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_poison_message_lands_in_the_dead_letter_queue_and_ends_only_its_execution() {
    let app = TestApp::spawn_with(LocalOptions {
        delivery: fast_retries(),
        ..LocalOptions::default()
    })
    .await;
    let poisoned = app
        .save_and_trigger("sturdy", "poisoned", vec![judgment("1", &[], json!({}))])
        .await;
    let bystander = app
        .save_and_trigger("sturdy", "bystander", vec![judgment("1", &[], json!({}))])
        .await;
    let execution = app
        .wait_for_execution(&poisoned, "the judgment to wait", |e| {
            stage(e, "1")["status"] == "RUNNING"
        })
        .await;
    let stage_id = stage(&execution, "1")["id"].as_str().unwrap().to_string();

    let queue = app
        .running
        .deployment
        .resource("OrchestrationQueue")
        .unwrap()
        .ref_value
        .clone();
    let poison = json!({"type": "StageFinished", "executionId": poisoned, "stageId": stage_id, "attempt": 1, "result": {"status": 42}});
    aws_sdk_sqs::Client::new(&app.running.sdk)
        .send_message()
        .queue_url(queue)
        .message_group_id(&poisoned)
        .message_deduplication_id("poison")
        .message_body(poison.to_string())
        .send()
        .await
        .unwrap();

    let execution = app.ended(&poisoned).await;
    assert_eq!(execution["status"], "TERMINAL");
    let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("could not process a StageFinished message"),
        "{error}"
    );
    let (_, still_running) = app.get(&format!("/pipelines/{bystander}")).await;
    assert_eq!(
        still_running["status"], "RUNNING",
        "the other execution is untouched"
    );
    app.judge(&bystander, "1", "continue").await;
    assert_eq!(app.ended(&bystander).await["status"], "SUCCEEDED");

    let dead_letters = app
        .running
        .deployment
        .resource("OrchestrationDeadLetterQueue")
        .unwrap()
        .ref_value
        .clone();
    let sqs = aws_sdk_sqs::Client::new(&app.running.sdk);
    eventually(
        "the dead-letter queue to be drained",
        Duration::from_secs(20),
        || async {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&dead_letters)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
                .send()
                .await
                .ok()?;
            let count = attributes
                .attributes()?
                .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)?
                .clone();
            (count == "0").then_some(())
        },
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn executions_resume_when_local_mode_restarts_its_functions() {
    let mut app = TestApp::spawn().await;
    let stages = vec![
        json!({"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Wait", "waitTime": 2}),
        judgment("2", &["1"], json!({})),
        wait("3", &["2"]),
    ];
    let id = app
        .save_and_trigger("sturdy", "restartable-host", stages)
        .await;
    app.wait_for_execution(&id, "the wait to run", |e| {
        stage(e, "1")["status"] == "RUNNING"
    })
    .await;
    app.running
        .restart_functions()
        .await
        .expect("functions restart");
    // The wait ends while the new pollers run; then restart again while the judgment waits.
    app.wait_for_execution(&id, "the judgment to wait", |e| {
        stage(e, "2")["status"] == "RUNNING"
    })
    .await;
    app.running
        .restart_functions()
        .await
        .expect("functions restart");
    app.judge(&id, "2", "continue").await;
    let expected = statuses(&[("1", "SUCCEEDED"), ("2", "SUCCEEDED"), ("3", "SUCCEEDED")]);
    assert_eq!(app.outcome(&id).await, ("SUCCEEDED".into(), expected));
    app.stop().await;
}
