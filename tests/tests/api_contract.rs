//! The HTTP API's contract for this slice: saved configs read back as submitted, and bad
//! input gets a 4xx JSON error in Gate's shape that names the problem, changing nothing.

mod support;

use serde_json::{Value, json};
use support::{TestApp, stage};

/// Fields the server sets on save; everything else must come back as submitted.
const SERVER_FIELDS: [&str; 4] = ["id", "updateTs", "lastModifiedBy", "index"];

fn without_server_fields(config: &Value) -> Value {
    let mut config = config.clone();
    for field in SERVER_FIELDS {
        config.as_object_mut().unwrap().remove(field);
    }
    config
}

fn pipeline(name: &str) -> Value {
    json!({
        "application": "contract",
        "name": name,
        "stages": [
            {"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Wait", "waitTime": 30,
             "comments": "kept", "someFutureStageField": {"nested": [1, "two", null]}},
            {"refId": 2, "requisiteStageRefIds": [1], "type": "manualJudgment", "name": "Judge"}
        ],
        "triggers": [{"type": "webhook", "enabled": false, "source": "x", "unknownTriggerField": true}],
        "notifications": [{"type": "email", "address": "a@example.com", "when": ["pipeline.failed"]}],
        "parameterConfig": [{"name": "tag", "required": true, "default": null, "label": "Tag"}],
        "limitConcurrent": true,
        "keepWaitingPipelines": false,
        "description": "a pipeline with fields Gennaker does not model",
        "locked": {"ui": true, "allowUnlockUi": true},
        "tags": [{"name": "team", "value": "cd"}],
        "nullField": null
    })
}

#[tokio::test]
async fn a_saved_pipeline_reads_back_as_submitted_with_unknown_fields() {
    let app = TestApp::spawn().await;
    // Saving needs WRITE on a known application (Fiat's allowAccessToUnknownApplications
    // is off): the administrator creates it, unrestricted, so alice may write.
    app.create_application("contract").await;
    let submitted = pipeline("Round Trip");
    let (status, body) = app
        .http
        .post(app.url("/pipelines"))
        .header("content-type", "application/json")
        .header("authorization", app.bearer("alice@example.com"))
        .body(submitted.to_string())
        .send()
        .await
        .map(|response| (response.status().as_u16(), response))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body.text().await.unwrap(),
        "",
        "Gate answers a save with an empty body"
    );

    let (status, stored) = app
        .get("/applications/contract/pipelineConfigs/Round%20Trip")
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(without_server_fields(&stored), submitted);
    assert!(stored["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        stored["updateTs"]
            .as_str()
            .is_some_and(|ts| ts.parse::<i64>().is_ok()),
        "updateTs is a string of millis"
    );
    assert_eq!(stored["lastModifiedBy"], "alice@example.com");
    assert_eq!(stored["index"], 0);

    let (status, listed) = app.get("/applications/contract/pipelineConfigs").await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0], stored);

    let (status, missing) = app
        .get("/applications/contract/pipelineConfigs/round%20trip")
        .await;
    assert_eq!(status, 404, "names are matched exactly: {missing}");
    app.stop().await;
}

/// Asserts a Gate-shaped 4xx whose message mentions every one of `mentions`.
fn assert_error(status: u16, body: &Value, expected_status: u16, path: &str, mentions: &[&str]) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["status"], expected_status);
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(body["timestamp"].as_i64().is_some(), "{body}");
    assert_eq!(body["path"], path);
    let message = body["message"].as_str().unwrap_or_default();
    for mention in mentions {
        assert!(
            message.contains(mention),
            "message {message:?} should mention {mention:?}"
        );
    }
}

#[tokio::test]
async fn bad_pipeline_configs_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (status, _) = app.post("/pipelines", &pipeline("Original")).await;
    assert_eq!(status, 200);
    let (_, before) = app.get("/applications/contract/pipelineConfigs").await;

    let (status, body) = app.post_raw("/pipelines", "{\"name\": \"broken\",").await;
    assert_error(status, &body, 400, "/pipelines", &["not valid JSON"]);

    let mut missing_name = pipeline("x");
    missing_name.as_object_mut().unwrap().remove("name");
    let (status, body) = app.post("/pipelines", &missing_name).await;
    assert_error(status, &body, 400, "/pipelines", &["name"]);
    assert!(
        body["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "name"),
        "{body}"
    );

    let mut cycle = pipeline("Cycle");
    cycle["stages"][0]["requisiteStageRefIds"] = json!(["2"]);
    let (status, body) = app.post("/pipelines", &cycle).await;
    assert_error(
        status,
        &body,
        400,
        "/pipelines",
        &["cycle", "Wait", "Judge"],
    );

    let mut dangling = pipeline("Dangling");
    dangling["stages"][1]["requisiteStageRefIds"] = json!(["9"]);
    let (status, body) = app.post("/pipelines", &dangling).await;
    assert_error(status, &body, 400, "/pipelines", &["'9'"]);

    // A stage type Gennaker cannot run is stored (see tests/tests/migration.rs); a stage
    // without any type is a broken config.
    let mut no_type = pipeline("No Type");
    no_type["stages"][0].as_object_mut().unwrap().remove("type");
    let (status, body) = app.post("/pipelines", &no_type).await;
    assert_error(
        status,
        &body,
        400,
        "/pipelines",
        &["stages[0].type", "has no type"],
    );

    let (status, body) = app.post("/pipelines", &pipeline("  ORIGINAL ")).await;
    assert_error(status, &body, 400, "/pipelines", &["already exists"]);

    let (_, after) = app.get("/applications/contract/pipelineConfigs").await;
    assert_eq!(after, before, "no refused save changed anything");
    app.stop().await;
}

#[tokio::test]
async fn bad_execution_requests_are_refused_and_nothing_starts() {
    let app = TestApp::spawn().await;
    let (status, _) = app.post("/pipelines", &pipeline("Runnable")).await;
    assert_eq!(status, 200);

    let (status, body) = app.post("/pipelines/contract/Nope", &json!({})).await;
    assert_error(status, &body, 404, "/pipelines/contract/Nope", &["Nope"]);

    let (status, body) = app
        .post("/pipelines/contract/Runnable", &json!({"type": "manual"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        "/pipelines/contract/Runnable",
        &["Required parameter tag is missing"],
    );

    let (status, body) = app.get("/applications/contract/pipelines").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]), "no execution was recorded");
    let pipeline_machine = app
        .running
        .deployment
        .resource("PipelineStateMachine")
        .unwrap()
        .ref_value
        .clone();
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let runs = sfn
        .list_executions()
        .state_machine_arn(&pipeline_machine)
        .send()
        .await
        .unwrap();
    assert!(
        runs.executions().is_empty(),
        "no pipeline state machine was started"
    );

    let (status, body) = app.get("/pipelines/01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_error(
        status,
        &body,
        404,
        "/pipelines/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &["01ARZ3NDEKTSV4RRFFQ69G5FAV"],
    );
    let (status, body) = app.get("/applications/nobody").await;
    assert_error(status, &body, 404, "/applications/nobody", &["nobody"]);
    app.stop().await;
}

#[tokio::test]
async fn judging_a_stage_that_is_not_waiting_is_refused() {
    let app = TestApp::spawn().await;
    let (status, _) = app.post("/pipelines", &pipeline("Judged")).await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post(
            "/pipelines/contract/Judged",
            &json!({"parameters": {"tag": "v1"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("/pipelines/")
        .to_string();
    let execution = app
        .wait_for_execution(&id, "the wait stage to run", |execution| {
            stage(execution, "1")["status"] == "RUNNING"
        })
        .await;
    let wait_stage = stage(&execution, "1")["id"].as_str().unwrap().to_string();
    let judge_stage = stage(&execution, "2")["id"].as_str().unwrap().to_string();

    let path = format!("/pipelines/{id}/stages/{judge_stage}");
    let (status, body) = app
        .patch(&path, &json!({"judgmentStatus": "continue"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        &path,
        &["not waiting for a judgment", "NOT_STARTED"],
    );

    let path = format!("/pipelines/{id}/stages/{wait_stage}");
    let (status, body) = app
        .patch(&path, &json!({"judgmentStatus": "continue"}))
        .await;
    assert_error(status, &body, 400, &path, &["not a manual judgment"]);

    let path = format!("/pipelines/{id}/stages/{judge_stage}");
    let (status, body) = app
        .patch(&path, &json!({"judgmentStatus": "perhaps"}))
        .await;
    assert_error(status, &body, 400, &path, &["continue", "stop"]);

    let path = format!("/pipelines/{id}/stages/nope");
    let (status, body) = app
        .patch(&path, &json!({"judgmentStatus": "continue"}))
        .await;
    assert_error(status, &body, 404, &path, &["nope"]);

    let (_, after) = app.get(&format!("/pipelines/{id}")).await;
    assert!(
        stage(&after, "2")["context"]
            .get("judgmentStatus")
            .is_none(),
        "no judgment was recorded"
    );
    assert_eq!(stage(&after, "2")["status"], "NOT_STARTED");
    app.stop().await;
}

#[tokio::test]
async fn applications_are_created_and_listed_through_tasks() {
    let app = TestApp::spawn().await;
    app.create_application("MyApp").await;
    let (status, body) = app.get("/applications/myapp").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "myapp");
    assert_eq!(body["attributes"]["email"], "team@example.com");
    let (status, list) = app.get("/applications").await;
    assert_eq!(status, 200);
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"] == "myapp")
            .count(),
        1
    );

    let (status, body) = app
        .post(
            "/tasks",
            &json!({"job": [{"type": "createApplication", "application": {"name": "bad name!"}}]}),
        )
        .await;
    assert_error(status, &body, 400, "/tasks", &["bad name!"]);
    let (status, body) = app.post("/tasks", &json!({"application": "x"})).await;
    assert_error(status, &body, 400, "/tasks", &["job"]);
    let (status, body) = app.get("/applications/bad%20name!").await;
    assert_eq!(status, 404, "{body}");

    let (status, version) = app.get("/version").await;
    assert_eq!(status, 200);
    assert!(version["version"].as_str().is_some());
    let (status, body) = app.get("/no/such/route").await;
    assert_error(status, &body, 404, "/no/such/route", &["No such endpoint"]);
    app.stop().await;
}
