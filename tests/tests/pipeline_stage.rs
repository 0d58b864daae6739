//! The `pipeline` stage (Orca's `PipelineStage`): a parent starts a child pipeline through the
//! orchestrator, waits for it (or not), fails with it, and cancels it.

mod support;

use serde_json::{Value, json};
use support::{TestApp, stage};

impl TestApp {
    async fn save(&self, pipeline: Value) -> String {
        let (status, body) = self.post("/pipelines", &pipeline).await;
        assert_eq!(status, 200, "{body}");
        let (application, name) = (
            pipeline["application"].as_str().unwrap(),
            pipeline["name"].as_str().unwrap(),
        );
        let (_, config) = self
            .get(&format!(
                "/applications/{application}/pipelineConfigs/{name}"
            ))
            .await;
        config["id"].as_str().unwrap().to_string()
    }

    /// The child started by the parent's stage 1, once the stage has recorded it.
    async fn child_of(&self, parent: &str) -> String {
        let execution = self
            .wait_for_execution(parent, "the child to be recorded", |e| {
                stage(e, "1")["context"]["executionId"].is_string()
            })
            .await;
        stage(&execution, "1")["context"]["executionId"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn child_pipeline(name: &str, stages: Value) -> Value {
    json!({"application": "child-app", "name": name, "stages": stages,
           "parameterConfig": [{"name": "env", "default": "test"}, {"name": "tag", "default": "none"}]})
}

fn parent_pipeline(name: &str, child_id: &str, extra: Value) -> Value {
    let mut pipeline_stage = json!({"refId": "1", "requisiteStageRefIds": [], "type": "pipeline", "name": "Run child",
        "application": "child-app", "pipeline": child_id, "pipelineParameters": {"env": "prod"}});
    pipeline_stage
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"application": "parent-app", "name": name, "stages": [pipeline_stage,
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "After", "waitTime": 0}]})
}

#[tokio::test]
async fn a_parent_waits_for_its_child_and_links_to_it() {
    let app = TestApp::spawn().await;
    let child_config = app
        .save(child_pipeline(
            "child",
            json!([{"refId": "1", "type": "wait", "waitTime": 1}]),
        ))
        .await;
    app.save(parent_pipeline("parent", &child_config, json!({})))
        .await;
    let parent = app.trigger("parent-app", "parent").await;
    let child = app.child_of(&parent).await;

    let parent_execution = app.ended(&parent).await;
    assert_eq!(
        parent_execution["status"], "SUCCEEDED",
        "{parent_execution}"
    );
    let child_execution = app.ended(&child).await;
    assert_eq!(child_execution["status"], "SUCCEEDED");
    let pipeline_stage = stage(&parent_execution, "1");
    assert_eq!(pipeline_stage["context"]["status"], "SUCCEEDED");
    assert!(
        stage(&parent_execution, "2")["startTime"].as_i64() >= child_execution["endTime"].as_i64(),
        "the parent went on only after the child ended"
    );
    let trigger = &child_execution["trigger"];
    assert_eq!(trigger["type"], "pipeline");
    assert_eq!(trigger["parentExecution"]["id"], parent.as_str());
    assert!(
        trigger["parentExecution"].get("stages").is_none(),
        "the parent is referenced, not copied"
    );
    assert_eq!(trigger["parentPipelineStageId"], pipeline_stage["id"]);
    assert_eq!(
        trigger["parameters"],
        json!({"env": "prod", "tag": "none"}),
        "pipelineParameters with defaults filled"
    );
    assert_eq!(child_execution["application"], "child-app");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_child_fails_the_parent_stage() {
    let app = TestApp::spawn().await;
    let child_config = app
        .save(child_pipeline(
            "judged",
            json!([{"refId": "1", "type": "manualJudgment", "name": "Approve"}]),
        ))
        .await;
    app.save(parent_pipeline("parent", &child_config, json!({})))
        .await;
    let parent = app.trigger("parent-app", "parent").await;
    let child = app.child_of(&parent).await;
    let waiting = app
        .wait_for_execution(&child, "the child's judgment", |e| {
            stage(e, "1")["status"] == "RUNNING"
        })
        .await;
    let judgment = stage(&waiting, "1")["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .patch(
            &format!("/pipelines/{child}/stages/{judgment}"),
            &json!({"judgmentStatus": "stop"}),
        )
        .await;
    assert_eq!(status, 200);

    let parent_execution = app.ended(&parent).await;
    assert_eq!(parent_execution["status"], "TERMINAL");
    let pipeline_stage = stage(&parent_execution, "1");
    assert_eq!(pipeline_stage["status"], "TERMINAL");
    let errors = pipeline_stage["context"]["exception"]["details"]["errors"].to_string();
    assert!(
        errors.contains("Approve"),
        "the child's failing stage is named: {errors}"
    );
    assert_eq!(stage(&parent_execution, "2")["status"], "NOT_STARTED");
    app.stop().await;
}

#[tokio::test]
async fn canceling_the_parent_cancels_a_waiting_child_and_fire_and_forget_does_not_wait() {
    let app = TestApp::spawn().await;
    let child_config = app
        .save(child_pipeline(
            "slow",
            json!([{"refId": "1", "type": "manualJudgment", "name": "Hold"}]),
        ))
        .await;
    app.save(parent_pipeline("waiting", &child_config, json!({})))
        .await;
    let parent = app.trigger("parent-app", "waiting").await;
    let child = app.child_of(&parent).await;
    app.wait_for_execution(&child, "the child to run", |e| e["status"] == "RUNNING")
        .await;
    let response = app
        .http
        .put(app.url(&format!("/pipelines/{parent}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.ended(&parent).await["status"], "CANCELED");
    let child_execution = app.ended(&child).await;
    assert_eq!(child_execution["status"], "CANCELED");
    assert_eq!(child_execution["canceledBy"], "parent pipeline");

    app.save(parent_pipeline(
        "detached",
        &child_config,
        json!({"waitForCompletion": false}),
    ))
    .await;
    let parent = app.trigger("parent-app", "detached").await;
    let parent_execution = app.ended(&parent).await;
    assert_eq!(parent_execution["status"], "SUCCEEDED");
    let child = stage(&parent_execution, "1")["context"]["executionId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, child_execution) = app.get(&format!("/pipelines/{child}")).await;
    assert_eq!(
        child_execution["status"], "RUNNING",
        "the parent did not wait for its child"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_missing_or_disabled_child_pipeline_fails_the_stage_with_a_reason() {
    let app = TestApp::spawn().await;
    app.save(parent_pipeline("dangling", "no-such-config", json!({})))
        .await;
    let parent = app.trigger("parent-app", "dangling").await;
    let execution = app.ended(&parent).await;
    assert_eq!(execution["status"], "TERMINAL");
    let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("cannot be located"), "{error}");

    let mut disabled = child_pipeline(
        "off",
        json!([{"refId": "1", "type": "wait", "waitTime": 0}]),
    );
    disabled["disabled"] = json!(true);
    let off = app.save(disabled).await;
    app.save(parent_pipeline("to-disabled", &off, json!({})))
        .await;
    let parent = app.trigger("parent-app", "to-disabled").await;
    let execution = app.ended(&parent).await;
    assert_eq!(execution["status"], "TERMINAL");
    let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("disabled"), "{error}");
    app.stop().await;
}
