//! Concurrency limits per pipeline config (Orca's `StartWaitingExecutionsHandler`) and
//! lifecycle events on the EventBridge bus (Orca's `EchoNotifyingExecutionListener`), through the public API.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestApp, eventually, stage};

fn judged_pipeline(name: &str, flags: Value) -> Value {
    let mut pipeline = json!({
        "application": "limits", "name": name,
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "manualJudgment", "name": "Hold"}]
    });
    pipeline
        .as_object_mut()
        .unwrap()
        .extend(flags.as_object().unwrap().clone());
    pipeline
}

impl TestApp {
    async fn start(&self, name: &str) -> String {
        let (status, body) = self
            .post(&format!("/pipelines/limits/{name}"), &json!({}))
            .await;
        assert_eq!(status, 202, "{body}");
        body["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/pipelines/")
            .to_string()
    }

    async fn status(&self, id: &str) -> String {
        let (_, execution) = self.get(&format!("/pipelines/{id}")).await;
        execution["status"].as_str().unwrap_or_default().to_string()
    }

    async fn release(&self, id: &str) {
        let execution = self
            .wait_for_execution(id, "its judgment to wait", |e| {
                stage(e, "1")["status"] == "RUNNING"
            })
            .await;
        let stage_id = stage(&execution, "1")["id"].as_str().unwrap().to_string();
        let (status, body) = self
            .patch(
                &format!("/pipelines/{id}/stages/{stage_id}"),
                &json!({"judgmentStatus": "continue"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.wait_for_execution(id, "it to finish", |e| e["status"] == "SUCCEEDED")
            .await;
    }

    /// Starts `count` executions one after the other, each handled before the next is
    /// triggered: which of two simultaneous triggers gets a free slot first is a race.
    async fn start_in_turn(&self, name: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..count {
            let id = self.start(name).await;
            self.until_handled(&id).await;
            ids.push(id);
        }
        ids
    }

    /// Waits until the orchestrator has seen the StartExecution of `id` (queued or started).
    async fn until_handled(&self, id: &str) {
        let machine = self
            .running
            .deployment
            .resource("PipelineStateMachine")
            .unwrap()
            .ref_value
            .clone();
        let sfn = aws_sdk_sfn::Client::new(&self.running.sdk);
        let arn = gennaker_runtime::step_functions::execution_arn(&machine, id);
        let orchestration = self
            .running
            .deployment
            .resource("OrchestrationQueue")
            .unwrap()
            .ref_value
            .clone();
        let sqs = aws_sdk_sqs::Client::new(&self.running.sdk);
        eventually(
            "the StartExecution to be consumed",
            Duration::from_secs(30),
            || async {
                let history = sfn
                    .get_execution_history()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .ok()?;
                let submitted = history
                    .events()
                    .iter()
                    .any(|event| event.r#type().as_str() == "TaskSubmitted");
                let attributes = sqs
                    .get_queue_attributes()
                    .queue_url(&orchestration)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                    .send()
                    .await
                    .ok()?;
                let pending = attributes.attributes().map(|a| {
                    a.iter()
                        .filter(|(name, _)| {
                            name.as_str().starts_with("ApproximateNumberOfMessages")
                        })
                        .map(|(_, count)| count.parse::<u64>().unwrap_or(0))
                        .sum::<u64>()
                });
                (submitted && pending == Some(0)).then_some(())
            },
        )
        .await;
    }
}

#[tokio::test]
async fn limit_concurrent_runs_one_at_a_time_and_the_newest_waiting_one_wins() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .post(
            "/pipelines",
            &judged_pipeline("one-at-a-time", json!({"limitConcurrent": true})),
        )
        .await;
    assert_eq!(status, 200);
    let first = app.start("one-at-a-time").await;
    app.until_handled(&first).await;
    let second = app.start("one-at-a-time").await;
    app.until_handled(&second).await;
    let third = app.start("one-at-a-time").await;
    app.until_handled(&third).await;
    assert_eq!(app.status(&first).await, "RUNNING");
    assert_eq!(
        (app.status(&second).await, app.status(&third).await),
        ("NOT_STARTED".into(), "NOT_STARTED".into()),
        "queued executions wait"
    );

    app.release(&first).await;
    let superseded = app
        .wait_for_execution(&second, "the older waiting one to be canceled", |e| {
            e["status"] == "CANCELED"
        })
        .await;
    assert_eq!(superseded["canceledBy"], "spinnaker");
    assert_eq!(
        stage(&superseded, "1")["status"],
        "NOT_STARTED",
        "it never ran"
    );
    app.release(&third).await;
    app.stop().await;
}

/// Orca's `RestartStageHandler`: a restart reopens a finished execution, which then needs its pipeline's
/// slot like a new one; while another execution holds it, the restart waits NOT_STARTED.
#[tokio::test]
async fn restarting_a_finished_execution_of_a_limited_pipeline_waits_for_the_slot() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .post(
            "/pipelines",
            &judged_pipeline("restart-waits", json!({"limitConcurrent": true})),
        )
        .await;
    assert_eq!(status, 200);
    let first = app.start("restart-waits").await;
    app.release(&first).await;
    let second = app.start("restart-waits").await;
    app.wait_for_execution(&second, "the second to hold the slot", |e| {
        stage(e, "1")["status"] == "RUNNING"
    })
    .await;

    let (_, finished) = app.get(&format!("/pipelines/{first}")).await;
    let judgment = stage(&finished, "1")["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .put(
            &format!("/pipelines/{first}/stages/{judgment}/restart"),
            "frank",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let queued = app
        .wait_for_execution(&first, "the restart to queue", |e| {
            e["status"] == "NOT_STARTED"
        })
        .await;
    assert_eq!(
        stage(&queued, "1")["status"],
        "SUCCEEDED",
        "nothing reran yet"
    );
    assert_eq!(app.status(&second).await, "RUNNING");

    app.release(&second).await;
    let rerun = app
        .wait_for_execution(&first, "the restart to run once the slot is free", |e| {
            stage(e, "1")["status"] == "RUNNING"
        })
        .await;
    assert_eq!(
        stage(&rerun, "1")["context"]["restartDetails"]["restartedBy"],
        "frank"
    );
    app.release(&first).await;
    app.stop().await;
}

#[tokio::test]
async fn keep_waiting_pipelines_start_in_arrival_order_and_max_concurrency_allows_several() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .post(
            "/pipelines",
            &judged_pipeline(
                "fifo",
                json!({"limitConcurrent": true, "keepWaitingPipelines": true}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let ids = app.start_in_turn("fifo", 3).await;
    app.release(&ids[0]).await;
    app.wait_for_execution(&ids[1], "the second to start", |e| e["status"] == "RUNNING")
        .await;
    assert_eq!(app.status(&ids[2]).await, "NOT_STARTED");
    app.release(&ids[1]).await;
    app.release(&ids[2]).await;

    let (status, _) = app
        .post(
            "/pipelines",
            &judged_pipeline(
                "two-at-a-time",
                json!({"limitConcurrent": false, "maxConcurrentExecutions": 2}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let ids = app.start_in_turn("two-at-a-time", 3).await;
    let statuses = [
        app.status(&ids[0]).await,
        app.status(&ids[1]).await,
        app.status(&ids[2]).await,
    ];
    assert_eq!(
        statuses,
        ["RUNNING", "RUNNING", "NOT_STARTED"].map(String::from)
    );
    app.release(&ids[1]).await;
    app.release(&ids[2]).await;
    app.release(&ids[0]).await;
    app.stop().await;
}

#[tokio::test]
async fn lifecycle_events_reach_a_queue_subscribed_to_the_bus() {
    let app = TestApp::spawn().await;
    let sqs = aws_sdk_sqs::Client::new(&app.running.sdk);
    let events = aws_sdk_eventbridge::Client::new(&app.running.sdk);
    let bus = app
        .running
        .deployment
        .resource("EventBus")
        .unwrap()
        .ref_value
        .clone();
    let queue_url = sqs
        .create_queue()
        .queue_name("listener")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("all-orca-events")
        .event_bus_name(&bus)
        .event_pattern(json!({"source": ["orca"]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("listener")
        .arn(&queue_arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("all-orca-events")
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap();

    let (status, _) = app
        .post("/pipelines", &json!({"application": "limits", "name": "evented", "stages": [
            {"refId": "1", "type": "wait", "waitTime": 0, "requisiteStageRefIds": []},
            {"refId": "2", "type": "wait", "waitTime": 0, "requisiteStageRefIds": ["1"], "stageEnabled": {"type": "expression", "expression": "false"}}]}))
        .await;
    assert_eq!(status, 200);
    let id = app.start("evented").await;
    app.wait_for_execution(&id, "it to finish", |e| e["status"] == "SUCCEEDED")
        .await;

    let received = std::sync::Mutex::new(Vec::<Value>::new());
    eventually(
        "the five lifecycle events",
        Duration::from_secs(20),
        || async {
            let batch = sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .ok()?;
            let mut received = received.lock().unwrap();
            for message in batch.messages() {
                received.push(serde_json::from_str(message.body().unwrap()).unwrap());
            }
            (received.len() >= 5).then_some(())
        },
    )
    .await;
    let received = received.into_inner().unwrap();
    let types: Vec<&str> = received
        .iter()
        .map(|event| event["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "orca:pipeline:starting",
            "orca:stage:starting",
            "orca:stage:complete",
            "orca:stage:skipped",
            "orca:pipeline:complete"
        ]
    );
    assert!(received.iter().all(|event| event["source"] == "orca" && event["detail"]["executionId"] == id.as_str()));
    assert_eq!(received[4]["detail"]["execution"]["status"], "SUCCEEDED");
    app.stop().await;
}
