//! Webhook stages through the public API against local mode (Orca's `WebhookStage`), calling a
//! service the test runs on 127.0.0.1 (allowed through `AllowedUrlPrefixes`).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::webhook_target::WebhookTarget;
use support::{TestApp, eventually, stage};

fn webhook(ref_id: &str, fields: Value) -> Value {
    let mut stage = json!({"refId": ref_id, "requisiteStageRefIds": [], "type": "webhook", "name": format!("Hook {ref_id}")});
    stage
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    stage
}

async fn spawn(target: &WebhookTarget) -> TestApp {
    let prefix = target.prefix();
    TestApp::spawn_with_parameters(&[("AllowedUrlPrefixes", &prefix), ("StagePollSeconds", "1")])
        .await
}

#[tokio::test]
async fn each_status_url_mode_polls_until_the_work_is_done() {
    let target = WebhookTarget::start().await;
    let app = spawn(&target).await;
    let waiting = json!({
        "waitForCompletion": true, "statusJsonPath": "$.state", "progressJsonPath": "$.message",
        "successStatuses": "DONE", "terminalStatuses": "FAILED", "canceledStatuses": "CANCELED",
    });
    let with = |extra: Value| {
        let mut fields = waiting.clone();
        fields
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        fields
    };
    let id = app
        .save_and_trigger(
            "hooks",
            "modes",
            vec![
                webhook(
                    "get",
                    with(json!({
                        "url": target.url("/jobs/get?polls=2"),
                        "statusUrlResolution": "getMethod",
                        "method": "post",
                        "customHeaders": {"X-Deploy-Token": "secret-1"},
                        "payload": {"service": "demo", "version": 7},
                    })),
                ),
                webhook(
                    "location",
                    with(json!({
                        "url": target.url("/jobs/location?polls=1"),
                        "statusUrlResolution": "locationHeader",
                    })),
                ),
                webhook(
                    "body",
                    with(json!({
                        "url": target.url("/jobs/body?polls=1"),
                        "statusUrlResolution": "webhookResponse",
                        "statusUrlJsonPath": "$.links.status",
                    })),
                ),
                webhook(
                    "fire",
                    json!({"url": target.url("/status/204"), "method": "DELETE"}),
                ),
            ],
        )
        .await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");

    let get = stage(&execution, "get");
    assert_eq!(
        get["context"]["webhook"]["statusEndpoint"],
        json!(target.url("/jobs/get?polls=2"))
    );
    assert_eq!(get["context"]["webhook"]["statusCodeValue"], 202);
    assert_eq!(get["context"]["webhook"]["statusCode"], "ACCEPTED");
    assert_eq!(get["context"]["webhook"]["body"]["name"], "get");
    assert_eq!(
        get["context"]["webhook"]["monitor"]["body"]["state"],
        "DONE"
    );
    assert_eq!(
        get["context"]["webhook"]["monitor"]["progressMessage"],
        "finished"
    );
    let created = target.received("/jobs/get");
    assert_eq!(created[0].method, "POST");
    assert_eq!(created[0].headers["x-deploy-token"], "secret-1");
    assert_eq!(
        serde_json::from_str::<Value>(&created[0].body).unwrap(),
        json!({"service": "demo", "version": 7})
    );
    assert!(
        created[1..].iter().all(|r| r.method == "GET") && created.len() >= 4,
        "one create, then polls until DONE: {created:?}"
    );

    assert_eq!(
        stage(&execution, "location")["context"]["webhook"]["statusEndpoint"],
        json!(target.url("/jobs/location"))
    );
    assert_eq!(
        stage(&execution, "body")["context"]["webhook"]["statusEndpoint"],
        json!(target.url("/jobs/location").replace("location", "body"))
    );
    let fire = stage(&execution, "fire");
    assert_eq!(fire["status"], "SUCCEEDED");
    assert_eq!(fire["context"]["webhook"]["statusCodeValue"], 204);
    assert_eq!(target.received("/status/204")[0].method, "DELETE");
    app.stop().await;
}

#[tokio::test]
async fn failures_retries_and_remote_statuses_decide_the_stage() {
    let target = WebhookTarget::start().await;
    let app = spawn(&target).await;
    let run = |name: &'static str, fields: Value| {
        let app = &app;
        async move {
            app.save_and_trigger("hooks", name, vec![webhook("1", fields)])
                .await
        }
    };
    let flaky = run("flaky", json!({"url": target.url("/flaky/a?failures=2")})).await;
    let fail_fast = run(
        "fail-fast",
        json!({"url": target.url("/flaky/b?failures=5"), "failFastStatusCodes": [503]}),
    )
    .await;
    let client_error = run("client-error", json!({"url": target.url("/status/404")})).await;
    let exhausted = run(
        "exhausted",
        json!({"url": target.url("/flaky/c?failures=9"), "retries": {"503": {"maxAttempts": 2}}}),
    )
    .await;
    let remote_failed = run(
        "remote-failed",
        json!({
            "url": target.url("/jobs/f?polls=1&final=FAILED"), "waitForCompletion": true,
            "statusJsonPath": "$.state", "successStatuses": "DONE", "terminalStatuses": "FAILED",
        }),
    )
    .await;
    let remote_canceled = run(
        "remote-canceled",
        json!({
            "url": target.url("/jobs/c?final=CANCELED"), "waitForCompletion": true,
            "statusJsonPath": "$.state", "successStatuses": "DONE", "canceledStatuses": "canceled",
        }),
    )
    .await;

    let never_done = json!({
        "url": target.url("/jobs/slow?polls=100000"), "waitForCompletion": true,
        "statusJsonPath": "$.state", "successStatuses": "DONE", "stageTimeoutMs": 2500,
    });
    let timed_out = run("timed-out", never_done.clone()).await;
    let mut lenient = never_done;
    lenient["markSuccessfulOnTimeout"] = json!(true);
    let timed_out_ok = run("timed-out-ok", lenient).await;

    let execution = app.ended(&flaky).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(target.received("/flaky/a").len(), 3, "two 503s, then 200");

    let execution = app.ended(&fail_fast).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(
        target.received("/flaky/b").len(),
        1,
        "no retry of a fail-fast code"
    );
    let error = error_of(&execution);
    assert!(error.contains("fail fast"), "{error}");

    let execution = app.ended(&client_error).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert!(error_of(&execution).contains("404"), "{execution}");

    let execution = app.ended(&exhausted).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(
        target.received("/flaky/c").len(),
        2,
        "retries: maxAttempts 2"
    );

    let execution = app.ended(&remote_failed).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert!(error_of(&execution).contains("failed"), "{execution}");

    let execution = app.ended(&remote_canceled).await;
    assert_eq!(execution["status"], "CANCELED", "{execution}");

    let execution = app.ended(&timed_out).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(stage(&execution, "1")["context"]["timedOut"], true);
    assert!(error_of(&execution).contains("timeout"), "{execution}");
    let execution = app.ended(&timed_out_ok).await;
    assert_eq!(execution["status"], "SUCCEEDED", "markSuccessfulOnTimeout");
    app.stop().await;
}

#[tokio::test]
async fn canceling_the_execution_calls_the_cancel_endpoint_once() {
    let target = WebhookTarget::start().await;
    let app = spawn(&target).await;
    let id = app
        .save_and_trigger(
            "hooks",
            "cancel-me",
            vec![webhook(
                "1",
                json!({
                    "url": target.url("/jobs/long?polls=100000"), "waitForCompletion": true,
                    "statusUrlResolution": "locationHeader", "statusJsonPath": "$.state",
                    "successStatuses": "DONE",
                    "cancelEndpoint": target.url("/jobs/long/cancel"),
                    "cancelPayload": {"reason": "pipeline canceled"},
                }),
            )],
        )
        .await;
    // The status URL is recorded on the stage while it runs.
    app.wait_for_execution(&id, "the status URL on the running stage", |e| {
        stage(e, "1")["context"]["statusEndpoint"] == json!(target.url("/jobs/long"))
            && stage(e, "1")["status"] == "RUNNING"
    })
    .await;
    app.cancel(&id).await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "CANCELED");
    let cancels = eventually(
        "the cancel endpoint to be called",
        Duration::from_secs(20),
        || async {
            let cancels = target.received("/jobs/long/cancel");
            (!cancels.is_empty()).then_some(cancels)
        },
    )
    .await;
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method, "POST");
    assert_eq!(
        serde_json::from_str::<Value>(&cancels[0].body).unwrap(),
        json!({"reason": "pipeline canceled"})
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_input_and_forbidden_urls_fail_the_stage_clearly() {
    let target = WebhookTarget::start().await;
    let app = spawn(&target).await;
    // The Gennaker API itself listens on 127.0.0.1 but is not an allowed prefix.
    let own_api = format!("{}/applications", app.base_url);
    let cases = [
        ("no-url", json!({}), "needs a url"),
        (
            "metadata",
            json!({"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}),
            "link-local",
        ),
        ("loopback", json!({"url": own_api}), "loopback"),
        (
            "internal-name",
            json!({"url": "http://metadata.google.internal/computeMetadata/v1/"}),
            ".internal",
        ),
        (
            "bad-method",
            json!({"url": target.url("/status/200"), "method": "TRACE"}),
            "TRACE",
        ),
        (
            "no-status-url",
            json!({
                "url": target.url("/status/200"), "waitForCompletion": true,
                "statusUrlResolution": "webhookResponse", "statusUrlJsonPath": "$.links.nope",
            }),
            "status check URL",
        ),
    ];
    let mut ids = Vec::new();
    for (name, fields, _) in &cases {
        ids.push(
            app.save_and_trigger("hooks", name, vec![webhook("1", fields.clone())])
                .await,
        );
    }
    for ((name, _, expected), id) in cases.iter().zip(&ids) {
        let execution = app.ended(id).await;
        assert_eq!(execution["status"], "TERMINAL", "{name}: {execution}");
        let error = error_of(&execution);
        assert!(error.contains(expected), "{name}: {error}");
    }
    assert!(
        target.received("/status/200").len() == 1,
        "only the no-status-url case reached the target"
    );
    app.stop().await;
}

fn error_of(execution: &Value) -> String {
    stage(execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {execution}"))
        .to_string()
}
