//! The self-test pipeline of template.yaml (`SelfTest=true`) runs in local mode: its
//! schedule's message, sent to the triggers queue as the Scheduler would send it, saves the
//! two pipelines and runs the parent — a wait, a webhook call to this API's /version, an
//! expression check of the answer, and the child through a pipeline stage — to SUCCEEDED.
//! The same scheduled time again starts nothing and saves nothing.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use gennaker_local::LocalOptions;
use gennaker_local::emulator::project_root;
use gennaker_local::template::Template;
use support::{TestApp, eventually, stage};

const APPLICATION: &str = "gennakerselftest";

/// Local mode on a port chosen first, so the webhook may call its /version (loopback is
/// refused unless its URL prefix is trusted, as `AllowedUrlPrefixes` does in AWS).
async fn spawn_with_trusted_version_url() -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let parameters = BTreeMap::from([(
        "AllowedUrlPrefixes".to_string(),
        format!("http://127.0.0.1:{port}/version"),
    )]);
    let running = gennaker_local::start(LocalOptions {
        api_port: port,
        stack_name: format!("t{}", &gennaker_model::new_id()[16..]).to_lowercase(),
        parameters,
        ..LocalOptions::default()
    })
    .await
    .expect("local mode starts");
    let base_url = running.api_url();
    TestApp {
        running,
        base_url,
        http: reqwest::Client::new(),
    }
}

/// The schedule's input as the Scheduler sends it: `${VersionUrl}` resolved, the scheduled
/// time filled in.
fn scheduled_message(version_url: &str, scheduled_time: &str) -> String {
    let template = Template::load(&project_root().join("template.yaml")).expect("template");
    let input = template
        .properties("SelfTestRunSchedule")
        .expect("the schedule")["Target"]["Input"]["Fn::Sub"][0]
        .as_str()
        .expect("a !Sub text")
        .to_string();
    input
        .replace("${VersionUrl}", version_url)
        .replace("<aws.scheduler.scheduled-time>", scheduled_time)
}

async fn send_to_triggers(app: &TestApp, body: &str) {
    let queue_url = &app
        .running
        .deployment
        .resource("PipelineTriggerQueue")
        .expect("the triggers queue")
        .ref_value;
    aws_sdk_sqs::Client::new(&app.running.sdk)
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .expect("sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_test_pipeline_runs_once_per_scheduled_time_and_succeeds() {
    let app = spawn_with_trusted_version_url().await;
    let message = scheduled_message(&app.url("/version"), "2026-12-04T20:00:00Z");
    send_to_triggers(&app, &message).await;

    let id = eventually(
        "the self-test to start",
        Duration::from_secs(30),
        || async {
            let runs = app.executions_named(APPLICATION, "Self-test").await;
            runs.first()
                .and_then(|run| run["id"].as_str().map(str::to_string))
        },
    )
    .await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    for ref_id in ["1", "2", "3", "4"] {
        assert_eq!(
            stage(&execution, ref_id)["status"],
            "SUCCEEDED",
            "stage {ref_id}"
        );
    }
    let call = &stage(&execution, "2")["context"]["webhook"];
    assert_eq!(call["statusCodeValue"], 200, "{call}");
    let child = app.executions_named(APPLICATION, "Self-test child").await;
    assert_eq!(child.len(), 1);
    assert_eq!(child[0]["status"], "SUCCEEDED");

    // A redelivery of the same scheduled time: no second run, no new version of the configs.
    let history_before = history_length(&app, "gennaker-self-test").await;
    send_to_triggers(&app, &message).await;
    let queue_url = app
        .running
        .deployment
        .resource("PipelineTriggerQueue")
        .unwrap()
        .ref_value
        .clone();
    app.drained(&queue_url).await;
    assert_eq!(
        app.executions_named(APPLICATION, "Self-test").await.len(),
        1
    );
    assert_eq!(
        history_length(&app, "gennaker-self-test").await,
        history_before
    );
    app.stop().await;
}

async fn history_length(app: &TestApp, id: &str) -> usize {
    let (status, history) = app.get(&format!("/pipelineConfigs/{id}/history")).await;
    assert_eq!(status, 200, "{history}");
    history.as_array().map_or(0, Vec::len)
}
