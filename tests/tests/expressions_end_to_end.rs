//! Pipeline expressions evaluated where Spinnaker evaluates them, through the public API:
//! stage contexts when each stage starts, and `stageEnabled`.

mod support;

use serde_json::{Value, json};
use support::{TestApp, stage};

fn pipeline(name: &str, stages: Value) -> Value {
    json!({"application": "spel", "name": name, "spelEvaluator": "v4", "stages": stages,
           "parameterConfig": [{"name": "env", "default": "test"}]})
}

impl TestApp {
    async fn run_to_end(&self, name: &str, parameters: Value) -> Value {
        let (status, body) = self
            .post(
                &format!("/pipelines/spel/{name}"),
                &json!({"parameters": parameters}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let id = body["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/pipelines/")
            .to_string();
        self.wait_for_execution(&id, "the execution to end", |e| {
            !matches!(e["status"].as_str(), Some("RUNNING" | "NOT_STARTED"))
        })
        .await
    }
}

#[tokio::test]
async fn stage_contexts_and_stage_enabled_use_expressions() {
    let app = TestApp::spawn().await;
    let stages = json!([
        {"refId": "1", "type": "wait", "name": "Bake", "waitTime": 0, "x": "ami-123"},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Deploy",
         "waitTime": "${trigger.parameters.env == 'prod' ? 1 : 0}",
         "image": "${#stage('Bake')['context']['x']}",
         "count": "${trigger.parameters.env == 'prod' ? 3 : 1}",
         "label": "deploying ${parameters.env.toUpperCase()} from ${execution.application}"},
        {"refId": "3", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Only in prod", "waitTime": 0,
         "stageEnabled": {"type": "expression", "expression": "parameters.env == 'prod'"}},
        {"refId": "4", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Only in test", "waitTime": 0,
         "stageEnabled": {"type": "expression", "expression": "parameters.env == 'test'"}},
        {"refId": "5", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Broken", "waitTime": 0,
         "broken": "${trigger.nothing.here}"}
    ]);
    let (status, body) = app
        .post("/pipelines", &pipeline("expressive", stages))
        .await;
    assert_eq!(status, 200, "{body}");
    let execution = app.run_to_end("expressive", json!({"env": "prod"})).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");

    let deploy = &stage(&execution, "2")["context"];
    assert_eq!(deploy["image"], "ami-123");
    assert_eq!(
        deploy["count"], 3,
        "a string that is one expression becomes its typed value"
    );
    assert_eq!(deploy["waitTime"], 1);
    assert_eq!(deploy["label"], "deploying PROD from spel");
    assert_eq!(stage(&execution, "3")["status"], "SUCCEEDED");
    assert_eq!(stage(&execution, "4")["status"], "SKIPPED");
    let broken = &stage(&execution, "5")["context"];
    assert_eq!(
        broken["broken"], "${trigger.nothing.here}",
        "a failed expression is left as written"
    );
    assert!(
        broken["expressionEvaluationSummary"].is_object(),
        "and recorded: {broken}"
    );

    let execution = app.run_to_end("expressive", json!({})).await;
    assert_eq!(
        stage(&execution, "2")["context"]["count"],
        1,
        "the default parameter applies"
    );
    assert_eq!(
        (
            stage(&execution, "3")["status"].clone(),
            stage(&execution, "4")["status"].clone()
        ),
        (json!("SKIPPED"), json!("SUCCEEDED"))
    );
    app.stop().await;
}

#[tokio::test]
async fn fail_on_failed_expressions_fails_the_stage_with_the_summary() {
    let app = TestApp::spawn().await;
    let stages = json!([{"refId": "1", "type": "wait", "name": "Strict", "waitTime": 0,
                         "failOnFailedExpressions": true, "value": "${trigger.nothing.here}"}]);
    let (status, _) = app.post("/pipelines", &pipeline("strict", stages)).await;
    assert_eq!(status, 200);
    let execution = app.run_to_end("strict", json!({})).await;
    assert_eq!(execution["status"], "TERMINAL");
    let strict = stage(&execution, "1");
    assert_eq!(strict["status"], "TERMINAL");
    let errors = &strict["context"]["exception"]["details"]["errors"];
    assert!(
        errors.as_array().is_some_and(|errors| !errors.is_empty()),
        "{strict}"
    );
    app.stop().await;
}

#[tokio::test]
async fn expressions_can_be_tried_against_an_execution_and_capabilities_are_listed() {
    let app = TestApp::spawn().await;
    let stages =
        json!([{"refId": "1", "type": "wait", "name": "Bake", "waitTime": 0, "x": "ami-9"}]);
    let (status, _) = app.post("/pipelines", &pipeline("probe", stages)).await;
    assert_eq!(status, 200);
    let execution = app.run_to_end("probe", json!({"env": "prod"})).await;
    let id = execution["id"].as_str().unwrap();
    let stage_id = stage(&execution, "1")["id"].as_str().unwrap();

    let (status, body) = app
        .get(&format!(
            "/pipelines/{id}/evaluateExpression?expression=%24%7Btrigger.parameters.env%7D"
        ))
        .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!("prod")),
        "{body}"
    );
    let (status, body) = app
        .post_raw(
            &format!("/pipelines/{id}/evaluateExpression"),
            "${#stage('Bake')['context']['x']}",
        )
        .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!("ami-9")),
        "{body}"
    );
    let (status, body) = app
        .get(&format!(
            "/pipelines/{id}/{stage_id}/evaluateExpression?expression=%24%7Bx%7D"
        ))
        .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!("ami-9")),
        "a stage sees its own context: {body}"
    );
    let (status, body) = app
        .get(&format!(
            "/pipelines/{id}/evaluateExpression?expression=%24%7Bnope.nothing%7D"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"], "${nope.nothing}",
        "a failed expression comes back as written"
    );
    assert!(body["detail"].is_object(), "{body}");
    let (status, _) = app
        .get(&format!("/pipelines/{id}/evaluateExpression"))
        .await;
    assert_eq!(status, 400, "the expression is required");

    let (status, body) = app.get("/capabilities/expressions").await;
    assert_eq!(status, 200);
    assert!(
        body["functions"].as_array().is_some_and(|f| !f.is_empty()),
        "{body}"
    );
    app.stop().await;
}
