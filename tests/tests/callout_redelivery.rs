//! Stages that call out are idempotent under SQS redelivery: local mode hands every batch
//! to every worker twice, and each outside effect still happens once — one webhook sent,
//! one Jenkins build triggered, one script run.

mod support;

use std::time::Duration;

use gennaker_local::{Delivery, LocalOptions};
use serde_json::json;
use support::fake_jenkins::{FakeJenkins, JobScript};
use support::webhook_target::WebhookTarget;
use support::{TestApp, stage};

#[tokio::test]
async fn every_outside_effect_happens_once_when_messages_come_twice() {
    let target = WebhookTarget::start().await;
    let ci = FakeJenkins::start("token-r").await;
    ci.add_job("build", JobScript::ending("SUCCESS"));
    let marker_dir =
        std::env::temp_dir().join(format!("gennaker-redelivery-{}", std::process::id()));
    std::fs::create_dir_all(&marker_dir).unwrap();
    // The script may run as another user (`nobody` when the tests run as root).
    std::fs::set_permissions(
        &marker_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let options = LocalOptions {
        delivery: Delivery {
            duplicate: true,
            retry_failed_after: Some(Duration::ZERO),
        },
        parameters: [
            ("AllowedUrlPrefixes".to_string(), target.prefix()),
            (
                "JenkinsMasters".to_string(),
                json!([ci.master("ci")]).to_string(),
            ),
            ("StagePollSeconds".to_string(), "1".to_string()),
        ]
        .into(),
        ..LocalOptions::default()
    };
    let app = TestApp::spawn_with(options).await;
    let id = app
        .save_and_trigger(
            "twice",
            "everything-once",
            vec![
                json!({"refId": "1", "requisiteStageRefIds": [], "type": "webhook", "name": "notify",
                       "url": target.url("/flaky/notify")}),
                json!({"refId": "2", "requisiteStageRefIds": [], "type": "webhook", "name": "job",
                       "url": target.url("/jobs/once?polls=1"), "waitForCompletion": true,
                       "statusJsonPath": "$.state", "successStatuses": "DONE"}),
                json!({"refId": "3", "requisiteStageRefIds": [], "type": "jenkins", "name": "build",
                       "master": "ci", "job": "build"}),
                json!({"refId": "4", "requisiteStageRefIds": [], "type": "script", "name": "script",
                       "command": "echo ran >> \"$MARKER_DIR/runs\"",
                       "MARKER_DIR": marker_dir.to_str().unwrap()}),
            ],
        )
        .await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        stage(&execution, "3")["context"]["buildInfo"]["result"],
        "SUCCESS"
    );

    assert_eq!(
        target.received("/flaky/notify").len(),
        1,
        "one webhook sent"
    );
    let job_calls = target.received("/jobs/once");
    assert_eq!(
        job_calls.iter().filter(|r| r.method == "POST").count(),
        1,
        "one job started: {job_calls:?}"
    );
    assert_eq!(ci.triggers("build").len(), 1, "one build triggered");
    let runs = std::fs::read_to_string(marker_dir.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "one script run");
    std::fs::remove_dir_all(&marker_dir).unwrap();
    app.stop().await;
}
