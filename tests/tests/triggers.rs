//! Triggers through the public API against local mode: webhooks (Echo's `WebhooksController`).

mod support;

use serde_json::{Value, json};
use support::TestApp;

const APP: &str = "hooks";

fn pipeline(name: &str, extra: Value) -> Value {
    let mut pipeline = json!({
        "application": APP, "name": name,
        "parameterConfig": [{"name": "env", "default": "staging"}],
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "w", "waitTime": 1}]
    });
    pipeline
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    pipeline
}

impl TestApp {
    async fn save(&self, config: &Value) -> String {
        let (status, body) = self.post("/pipelines", config).await;
        assert_eq!(status, 200, "{body}");
        let name = config["name"].as_str().unwrap();
        let (_, saved) = self
            .get(&format!("/applications/{APP}/pipelineConfigs/{name}"))
            .await;
        saved["id"].as_str().unwrap().to_string()
    }

    async fn webhook(&self, source: &str, body: &Value, headers: &[(&str, &str)]) -> Value {
        let mut request = self
            .http
            .post(self.url(&format!("/webhooks/webhook/{source}")))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }

    /// The executions of the application started for the pipeline `name`.
    async fn executions_of(&self, name: &str) -> Vec<Value> {
        self.executions_named(APP, name).await
    }
}

#[tokio::test]
async fn webhooks_start_matching_pipelines_once_per_event() {
    let app = TestApp::spawn().await;
    app.create_application(APP).await;
    let constraints = json!({"branch": "main", "$.repo.name": "^gennaker$"});
    app.save(&pipeline(
        "on-push",
        json!({"triggers": [
        {"type": "webhook", "enabled": true, "source": "gh", "payloadConstraints": constraints}]}),
    ))
    .await;
    app.save(&pipeline(
        "trigger-off",
        json!({"triggers": [
        {"type": "webhook", "enabled": false, "source": "gh"}]}),
    ))
    .await;
    app.save(&pipeline(
        "pipeline-off",
        json!({"disabled": true, "triggers": [
        {"type": "webhook", "enabled": true, "source": "gh"}]}),
    ))
    .await;

    // Constraints not met: processed (someone listens), nothing started.
    let miss = json!({"branch": "dev", "repo": {"name": "gennaker"}});
    let ack = app.webhook("gh", &miss, &[]).await;
    assert_eq!(ack["eventProcessed"], true);
    let wrong_path = json!({"branch": "main", "repo": {"name": "other"}});
    app.webhook("gh", &wrong_path, &[]).await;
    assert!(app.executions_of("on-push").await.is_empty());

    // Matching: one execution with the payload, parameters (defaults filled) and event id.
    let hit = json!({"branch": "refs/heads/main", "repo": {"name": "gennaker"},
        "parameters": {"sha": "abc"}});
    let ack = app
        .webhook("gh", &hit, &[("X-Event-Id", "delivery-1")])
        .await;
    assert_eq!(ack["eventProcessed"], true);
    assert_eq!(ack["eventId"], "delivery-1");
    let started = app.executions_of("on-push").await;
    assert_eq!(started.len(), 1);
    let trigger = &started[0]["trigger"];
    assert_eq!(trigger["type"], "webhook");
    assert_eq!(trigger["source"], "gh");
    assert_eq!(trigger["eventId"], "delivery-1");
    assert_eq!(trigger["payload"], hit);
    assert_eq!(
        trigger["parameters"],
        json!({"sha": "abc", "env": "staging"})
    );
    let id = started[0]["id"].as_str().unwrap().to_string();
    app.ended(&id).await;

    // The same delivery again starts nothing new; disabled trigger and pipeline never ran.
    app.webhook("gh", &hit, &[("X-Event-Id", "delivery-1")])
        .await;
    app.webhook(
        "gh",
        &json!({"eventId": "delivery-1", "branch": "main", "repo": {"name": "gennaker"}}),
        &[],
    )
    .await;
    assert_eq!(app.executions_of("on-push").await.len(), 1);
    assert!(app.executions_of("trigger-off").await.is_empty());
    assert!(app.executions_of("pipeline-off").await.is_empty());

    // A new delivery starts a second execution.
    app.webhook("gh", &hit, &[("X-Event-Id", "delivery-2")])
        .await;
    assert_eq!(app.executions_of("on-push").await.len(), 2);

    // Unknown source, other webhook types: not processed, nothing started.
    let ack = app.webhook("nobody-listens", &hit, &[]).await;
    assert_eq!(ack["eventProcessed"], false);
    let (status, ack) = app.post("/webhooks/git/gh", &hit).await;
    assert_eq!((status, &ack["eventProcessed"]), (200, &json!(false)));
    assert_eq!(app.executions_of("on-push").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn webhook_secrets_require_a_valid_signature() {
    let app = TestApp::spawn().await;
    app.create_application(APP).await;
    let id = app
        .save(&pipeline(
            "signed",
            json!({"triggers": [
            {"type": "webhook", "enabled": "true", "source": "signed", "secret": "s3cret"}]}),
        ))
        .await;
    let body = json!({"ref": "main"});
    let raw = body.to_string();
    let good = gennaker_model::triggers::sign("s3cret", raw.as_bytes());
    let bad = gennaker_model::triggers::sign("guess", raw.as_bytes());

    app.webhook("signed", &body, &[]).await;
    app.webhook("signed", &body, &[("X-Hub-Signature-256", bad.as_str())])
        .await;
    assert!(app.executions_of("signed").await.is_empty());

    app.webhook("signed", &body, &[("X-Hub-Signature-256", good.as_str())])
        .await;
    let started = app.executions_of("signed").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["pipelineConfigId"], id.as_str());
    assert!(
        started[0]["trigger"].get("secret").is_none(),
        "the secret is not copied"
    );

    // Deleting the pipeline removes it from the source's listeners.
    let (status, _) = app
        .http
        .delete(app.url(&format!("/pipelines/{APP}/signed")))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    let ack = app
        .webhook("signed", &body, &[("X-Hub-Signature-256", good.as_str())])
        .await;
    assert_eq!(ack["eventProcessed"], false);
    app.stop().await;
}

#[tokio::test]
async fn finished_pipelines_trigger_downstream_pipelines_on_listed_statuses() {
    let app = TestApp::spawn().await;
    app.create_application(APP).await;
    let upstream = app
        .save(&json!({"application": APP, "name": "build", "stages": [
            {"refId": "1", "requisiteStageRefIds": [], "type": "manualJudgment", "name": "ok?"}]}))
        .await;
    let on = |status: Value, enabled: bool| {
        json!({"triggers": [{"type": "pipeline", "enabled": enabled, "application": APP,
            "pipeline": upstream, "status": status}]})
    };
    app.save(&pipeline("deploy", on(json!(["successful"]), true)))
        .await;
    app.save(&pipeline(
        "rollback",
        on(json!(["failed", "canceled"]), true),
    ))
    .await;
    app.save(&pipeline(
        "switched-off",
        on(json!(["successful", "failed"]), false),
    ))
    .await;

    let run = |decision: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .post(&format!("/pipelines/{APP}/build"), &json!({}))
                .await;
            assert_eq!(status, 202, "{body}");
            let id = body["ref"]
                .as_str()
                .unwrap()
                .trim_start_matches("/pipelines/")
                .to_string();
            app.judge(&id, "1", decision).await;
            app.ended(&id).await;
            id
        }
    };
    let first = run("continue").await;
    let deploys = support::eventually(
        "deploy to start",
        std::time::Duration::from_secs(30),
        || async {
            let found = app.executions_of("deploy").await;
            (!found.is_empty()).then_some(found)
        },
    )
    .await;
    assert_eq!(deploys.len(), 1);
    let trigger = &deploys[0]["trigger"];
    assert_eq!(trigger["type"], "pipeline");
    assert_eq!(trigger["parentExecution"]["id"], first.as_str());
    assert_eq!(trigger["parentPipelineId"], upstream.as_str());
    assert_eq!(trigger["parameters"]["env"], "staging");
    let deploy_id = deploys[0]["id"].as_str().unwrap().to_string();
    assert_eq!(app.ended(&deploy_id).await["status"], "SUCCEEDED");
    assert!(app.executions_of("rollback").await.is_empty());

    let second = run("stop").await;
    let rollbacks = support::eventually(
        "rollback to start",
        std::time::Duration::from_secs(30),
        || async {
            let found = app.executions_of("rollback").await;
            (!found.is_empty()).then_some(found)
        },
    )
    .await;
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(
        rollbacks[0]["trigger"]["parentExecution"]["id"],
        second.as_str()
    );
    assert_eq!(
        rollbacks[0]["trigger"]["parentExecution"]["status"],
        "TERMINAL"
    );
    let rollback_id = rollbacks[0]["id"].as_str().unwrap().to_string();
    app.ended(&rollback_id).await;
    // The downstream runs ending trigger nothing; the disabled trigger never fired.
    assert_eq!(app.executions_of("deploy").await.len(), 1);
    assert!(app.executions_of("switched-off").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn cron_expressions_are_validated_as_quartz() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .get("/cron/validate?expression=0%200%2010%20%3F%20*%20MON-FRI")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"], "Cron expression is valid");
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()));
    let (status, _) = app
        .get("/cron/validate?expression=0%200%200%201W%201%2F1%20%3F%20*")
        .await;
    assert_eq!(status, 200);

    let (status, body) = app
        .get("/cron/validate?expression=0%2061%2010%20%3F%20*%20MON")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("minutes field"),
        "{body}"
    );
    let (status, body) = app.get("/cron/validate?expression=*%20*%20*%20*%20*").await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("6 or 7 fields"),
        "{body}"
    );
    assert_eq!(app.get("/cron/validate").await.0, 400);
    app.stop().await;
}

#[tokio::test]
async fn a_completion_event_delivered_twice_starts_one_downstream_execution() {
    let delivery = gennaker_local::Delivery {
        duplicate: true,
        ..Default::default()
    };
    let app = TestApp::spawn_with(gennaker_local::LocalOptions {
        delivery,
        ..Default::default()
    })
    .await;
    app.create_application(APP).await;
    let upstream = app.save(&pipeline("first", json!({}))).await;
    app.save(&pipeline(
        "second",
        json!({"triggers": [{"type": "pipeline", "enabled": true,
        "application": APP, "pipeline": upstream, "status": ["successful"]}]}),
    ))
    .await;
    let (status, body) = app
        .post(&format!("/pipelines/{APP}/first"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("/pipelines/")
        .to_string();
    assert_eq!(app.ended(&id).await["status"], "SUCCEEDED");
    let started = support::eventually(
        "second to start",
        std::time::Duration::from_secs(30),
        || async {
            let found = app.executions_of("second").await;
            (!found.is_empty()).then_some(found)
        },
    )
    .await;
    app.ended(started[0]["id"].as_str().unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(app.executions_of("second").await.len(), 1);
    app.stop().await;
}

/// Trigger secrets are write-only: every read shows `secretSet`, never the value, and a
/// read-edit-save round trip keeps the stored secret working.
#[tokio::test]
async fn webhook_secrets_are_write_only_and_survive_a_round_trip() {
    const CANARY: &str = "canary-3c1f9a-webhook-secret";
    let app = TestApp::spawn().await;
    app.create_application(APP).await;
    let id = app
        .save(&pipeline(
            "guarded",
            json!({"triggers": [{"id": "hook-1", "type": "webhook", "enabled": true,
                "source": "guarded", "secret": CANARY}]}),
        ))
        .await;
    let named = format!("/applications/{APP}/pipelineConfigs/guarded");
    let (_, read) = app.get(&named).await;
    assert_eq!(read["triggers"][0]["secretSet"], true, "{read}");
    assert!(read["triggers"][0].get("secret").is_none(), "{read}");

    // Read, edit, save back what was read: the secret is kept, not exposed.
    let mut edited = read.clone();
    edited["description"] = json!("edited without seeing the secret");
    let (status, body) = app.post("/pipelines", &edited).await;
    assert_eq!(status, 200, "{body}");
    let reads = [
        format!("/applications/{APP}/pipelineConfigs"),
        named.clone(),
        "/pipelineConfigs".to_string(),
        format!("/pipelineConfigs/{id}/history"),
    ];
    for path in &reads {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            !body.to_string().contains(CANARY),
            "{path} shows the secret"
        );
    }
    let (_, history) = app.get(&format!("/pipelineConfigs/{id}/history")).await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    let page = app
        .http
        .get(app.url(&format!("/ui/applications/{APP}/configs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("secretSet"), "the UI says a secret is set");
    assert!(
        !page.contains(CANARY),
        "the UI config page shows the secret"
    );

    // The kept secret still verifies signatures; the execution does not carry it.
    let body = json!({"ref": "main"});
    let raw = body.to_string();
    let signed_with = |secret: &str| gennaker_model::triggers::sign(secret, raw.as_bytes());
    let old = signed_with(CANARY);
    app.webhook("guarded", &body, &[("X-Hub-Signature-256", old.as_str())])
        .await;
    let started = app.executions_of("guarded").await;
    assert_eq!(started.len(), 1);
    let execution = app.ended(started[0]["id"].as_str().unwrap()).await;
    assert!(!execution.to_string().contains(CANARY), "{execution}");

    // An explicit new secret replaces the old one.
    let (_, mut rotated) = app.get(&named).await;
    rotated["triggers"][0]["secret"] = json!("rotated-secret");
    let (status, body_text) = app.post("/pipelines", &rotated).await;
    assert_eq!(status, 200, "{body_text}");
    app.webhook("guarded", &body, &[("X-Hub-Signature-256", old.as_str())])
        .await;
    assert_eq!(
        app.executions_of("guarded").await.len(),
        1,
        "old secret refused"
    );
    let new = signed_with("rotated-secret");
    app.webhook("guarded", &body, &[("X-Hub-Signature-256", new.as_str())])
        .await;
    assert_eq!(
        app.executions_of("guarded").await.len(),
        2,
        "new secret accepted"
    );

    // An empty secret removes it: unsigned deliveries start the pipeline.
    let (_, mut cleared) = app.get(&named).await;
    cleared["triggers"][0]["secret"] = json!("");
    let (status, body_text) = app.post("/pipelines", &cleared).await;
    assert_eq!(status, 200, "{body_text}");
    let (_, read) = app.get(&named).await;
    assert!(read["triggers"][0].get("secretSet").is_none(), "{read}");
    app.webhook("guarded", &body, &[]).await;
    assert_eq!(
        app.executions_of("guarded").await.len(),
        3,
        "no secret left"
    );
    app.stop().await;
}
