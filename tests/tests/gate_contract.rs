//! Gate compatibility contract: the exact requests the `spin` CLI sends (its `gateapi` client)
//! and the Deck flows for applications, tasks, pipeline and strategy configs, executions,
//! webhooks and accounts, checking status codes and the fields clients read; and a batch
//! of malformed requests that must all get a 4xx in Gate's shape while nothing is written.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client as DynamoDb;
use gennaker_model::launch::{Caller, build_execution};
use gennaker_model::{ExecutionStatus, PipelineConfig};
use gennaker_store::{Store, Tables};
use reqwest::Method;
use serde_json::{Map, Value, json};
use support::{TestApp, eventually};

/// Any method, JSON body optional, identity headers as given. Checks the content type of
/// every non-empty answer (the harness does).
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.expect("body");
    if text.is_empty() {
        return (status, Value::Null);
    }
    assert!(
        content_type.contains("application/json"),
        "{path}: JSON answer without a JSON content type ({content_type}): {text}"
    );
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
    (status, value)
}

async fn put(app: &TestApp, path: &str, body: Option<&Value>) -> (u16, Value) {
    send(app, Method::PUT, path, body, &[]).await
}

async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    send(app, Method::DELETE, path, None, &[]).await
}

/// Polls a task as spin's `WaitForSuccessfulTask` does, until it is complete.
async fn wait_for_task(app: &TestApp, reference: &Value) -> Value {
    let path = reference["ref"].as_str().expect("ref").to_string();
    eventually("the task to finish", Duration::from_secs(20), || async {
        let (status, task) = app.get(&path).await;
        assert_eq!(status, 200, "{task}");
        let done = [
            "SUCCEEDED",
            "STOPPED",
            "SKIPPED",
            "TERMINAL",
            "FAILED_CONTINUE",
        ];
        done.contains(&task["status"].as_str().unwrap_or_default())
            .then_some(task)
    })
    .await
}

fn id_of(reference: &Value) -> String {
    reference["ref"]
        .as_str()
        .expect("ref")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

fn pipeline(application: &str, name: &str, wait_seconds: u64) -> Value {
    json!({
        "application": application, "name": name, "keepWaitingPipelines": false, "limitConcurrent": false,
        "parameterConfig": [{"name": "tag", "default": "latest"}],
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Bake time",
                    "waitTime": wait_seconds, "group": "g1", "comments": "context is kept"}],
        "triggers": [], "notifications": []
    })
}

#[tokio::test]
async fn the_spin_cli_call_map_works_unchanged() {
    let app = TestApp::spawn().await;
    // Every command first calls GET /version.
    let (status, version) = app.get("/version").await;
    assert_eq!(status, 200);
    assert!(version["version"].is_string());

    // application save / get / list
    let save = json!({"job": [{"type": "createApplication", "application":
        {"cloudProviders": "aws", "instancePort": 80, "name": "spinapp", "email": "owner@example.com"}}],
        "application": "spinapp", "description": "Create Application: spinapp"});
    let (status, reference) = app.post("/tasks", &save).await;
    assert_eq!(status, 200, "{reference}");
    assert_eq!(wait_for_task(&app, &reference).await["status"], "SUCCEEDED");
    let (status, got) = app.get("/applications/spinapp?expand=false").await;
    assert_eq!(status, 200);
    assert_eq!(got["attributes"]["email"], "owner@example.com");
    let (status, got) = app.get("/applications/spinapp?expand=true").await;
    assert_eq!((status, got["name"].clone()), (200, json!("spinapp")));
    let (status, _) = app.get("/applications/nosuchapp?expand=false").await;
    assert_eq!(status, 404);
    let (status, list) = app.get("/applications").await;
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "spinapp")
    );

    // pipeline save: probe (404 -> new), save, probe again (200 -> reuse id), save again
    let (status, _) = app
        .get("/applications/spinapp/pipelineConfigs/deploy")
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .post("/pipelines", &pipeline("spinapp", "deploy", 60))
        .await;
    assert_eq!((status, body), (200, Value::Null));
    let (status, stored) = app
        .get("/applications/spinapp/pipelineConfigs/deploy")
        .await;
    assert_eq!(status, 200);
    let config_id = stored["id"].as_str().unwrap().to_string();
    let mut again = pipeline("spinapp", "deploy", 60);
    again["id"] = json!(config_id);
    let (status, _) = app.post("/pipelines", &again).await;
    assert_eq!(status, 200);
    // pipeline update --disabled / --enabled
    let (_, mut current) = app
        .get("/applications/spinapp/pipelineConfigs/deploy")
        .await;
    current["disabled"] = json!(true);
    assert_eq!(app.post("/pipelines", &current).await.0, 200);
    let (_, mut current) = app
        .get("/applications/spinapp/pipelineConfigs/deploy")
        .await;
    assert_eq!(current["disabled"], true);
    current["disabled"] = json!(false);
    assert_eq!(app.post("/pipelines", &current).await.0, 200);
    // pipeline list / get
    let (status, configs) = app.get("/applications/spinapp/pipelineConfigs").await;
    assert_eq!(status, 200);
    assert_eq!(configs.as_array().unwrap().len(), 1);
    assert_eq!(configs[0]["id"], json!(config_id));

    // pipeline execute: exactly 202
    let (status, reference) = app
        .post(
            "/pipelines/spinapp/deploy",
            &json!({"type": "manual", "parameters": {"tag": "v1"}}),
        )
        .await;
    assert_eq!(status, 202, "{reference}");
    let execution_id = id_of(&reference);

    // application pipelines get -a APP [-s S] [-x]
    let (status, listed) = app
        .get("/applications/spinapp/pipelines?expand=false&statuses=RUNNING,NOT_STARTED")
        .await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == json!(execution_id))
    );
    let (status, listed) = app.get("/applications/spinapp/pipelines").await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["trigger"]["parameters"]["tag"], "v1");

    // pipeline execution list -i / get
    let path =
        format!("/executions?pipelineConfigIds={config_id}&limit=5&statuses=RUNNING,NOT_STARTED");
    let (status, by_config) = app.get(&path).await;
    assert_eq!(status, 200, "{by_config}");
    assert!(by_config.is_array());
    let (status, by_id) = app
        .get(&format!("/executions?executionIds={execution_id}&limit=1"))
        .await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(by_id[0]["id"], json!(execution_id));

    // pipeline execution cancel: 200 (spin sends no body and a JSON content type)
    app.wait_for_execution(&execution_id, "the execution to run", |e| {
        e["status"] == "RUNNING"
    })
    .await;
    let (status, body) = put(&app, &format!("/pipelines/{execution_id}/cancel"), None).await;
    assert_eq!(status, 200, "{body}");
    // the deprecated path spin's generated client uses, with the literal "{application}"
    let (status, _) = put(
        &app,
        "/applications/%7Bapplication%7D/pipelines/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel",
        None,
    )
    .await;
    assert_eq!(status, 404, "an unknown execution");

    // account list [--expand] / get / whoami
    let (status, accounts) = app.get("/credentials").await;
    assert_eq!(status, 200);
    let account = &accounts[0];
    for field in [
        "name",
        "type",
        "requiredGroupMembership",
        "permissions",
        "authorized",
    ] {
        assert!(account.get(field).is_some(), "{field} in {account}");
    }
    let (status, expanded) = app.get("/credentials?expand=true").await;
    assert_eq!(status, 200);
    assert!(expanded[0]["environment"].is_string(), "{expanded}");
    let name = account["name"].as_str().unwrap();
    let (status, one) = app.get(&format!("/credentials/{name}")).await;
    assert_eq!((status, one["name"].clone()), (200, json!(name)));
    let (status, _) = app.get("/credentials/nope").await;
    assert_eq!(status, 404);
    let (status, user) = send(
        &app,
        Method::GET,
        "/auth/user",
        None,
        &[("authorization", app.bearer("alice@example.com").as_str())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "alice@example.com");
    assert!(user["allowedAccounts"].is_array() && user["roles"].is_array());

    // pipeline delete: 200; deleting again is a no-op 200
    let (status, body) = delete(&app, "/pipelines/spinapp/deploy").await;
    assert_eq!((status, body), (200, Value::Null));
    assert_eq!(
        app.get("/applications/spinapp/pipelineConfigs/deploy")
            .await
            .0,
        404
    );
    assert_eq!(delete(&app, "/pipelines/spinapp/deploy").await.0, 200);

    // application delete
    assert_eq!(app.get("/applications/spinapp?expand=false").await.0, 200);
    let (status, reference) = app
        .post(
            "/tasks",
            &json!({"job": [{"type": "deleteApplication", "application": {"name": "spinapp"}}],
            "application": "spinapp", "description": "Delete Application: spinapp"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(wait_for_task(&app, &reference).await["status"], "SUCCEEDED");
    assert_eq!(app.get("/applications/spinapp?expand=false").await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn deck_flows_for_applications_tasks_and_configs() {
    let app = TestApp::spawn().await;
    // create, then update (attributes merge), history, tasks list, cancel, delete a task
    app.create_application("deckapp").await;
    let update = json!({"application": "deckapp", "description": "Update Application: deckapp",
        "job": [{"type": "updateApplication", "user": "alice",
                 "application": {"name": "deckapp", "description": "now described", "cloudProviders": ["aws", "kubernetes"]}}]});
    let (status, reference) = send(
        &app,
        Method::POST,
        "/applications/deckapp/tasks",
        Some(&update),
        &[("authorization", app.bearer("alice").as_str())],
    )
    .await;
    assert_eq!(status, 200);
    let task = wait_for_task(&app, &reference).await;
    assert_eq!(task["status"], "SUCCEEDED");
    let (_, got) = app.get("/applications/deckapp").await;
    assert_eq!(
        got["attributes"]["email"], "team@example.com",
        "kept from the create"
    );
    assert_eq!(got["attributes"]["description"], "now described");
    assert_eq!(got["attributes"]["cloudProviders"], "aws,kubernetes");
    assert_eq!(got["attributes"]["lastModifiedBy"], "alice");
    let (status, history) = app.get("/applications/deckapp/history?limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(history[0]["description"], "now described", "newest first");
    let (status, tasks) = app
        .get("/applications/deckapp/tasks?statuses=SUCCEEDED&limit=1&page=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    assert_eq!(tasks[0]["id"], json!(id_of(&reference)), "newest first");
    assert!(tasks[0]["variables"].is_array() && tasks[0]["steps"].is_array());
    let (_, page_two) = app.get("/applications/deckapp/tasks?limit=1&page=2").await;
    assert_eq!(page_two.as_array().unwrap().len(), 1);
    assert_ne!(page_two[0]["id"], tasks[0]["id"]);
    let (_, none) = app
        .get("/applications/deckapp/tasks?statuses=RUNNING")
        .await;
    assert_eq!(none, json!([]));
    let task_path = format!("/tasks/{}", id_of(&reference));
    assert_eq!(put(&app, &format!("{task_path}/cancel"), None).await.0, 200);
    let (_, canceled) = app.get(&task_path).await;
    assert_eq!(
        (
            canceled["status"].clone(),
            canceled["execution"]["canceled"].clone()
        ),
        (json!("SUCCEEDED"), json!(true))
    );
    assert_eq!(
        put(
            &app,
            &format!("/tasks/cancel?ids={},unknown", id_of(&reference)),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(delete(&app, &task_path).await.0, 200);
    assert_eq!(app.get(&task_path).await.0, 404);

    // pipeline configs: save with staleCheck, stale save refused, rename via PUT, history,
    // reorder, strategies, bulk save
    assert_eq!(
        app.post(
            "/pipelines?staleCheck=true",
            &pipeline("deckapp", "first", 1)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.post(
            "/pipelines?staleCheck=true",
            &pipeline("deckapp", "second", 1)
        )
        .await
        .0,
        200
    );
    let (_, first) = app.get("/applications/deckapp/pipelineConfigs/first").await;
    let id = first["id"].as_str().unwrap().to_string();
    let mut stale = first.clone();
    stale["updateTs"] = json!("1");
    let (status, body) = app.post("/pipelines?staleCheck=true", &stale).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("stale"));
    let mut renamed = first.clone();
    renamed["name"] = json!("renamed");
    let (status, stored) = send(
        &app,
        Method::PUT,
        &format!("/pipelines/{id}"),
        Some(&renamed),
        &[("authorization", app.bearer("bob").as_str())],
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        (
            stored["name"].clone(),
            stored["id"].clone(),
            stored["lastModifiedBy"].clone()
        ),
        (json!("renamed"), json!(id), json!("bob"))
    );
    assert_eq!(
        app.get("/applications/deckapp/pipelineConfigs/first")
            .await
            .0,
        404
    );
    let (status, _) = put(
        &app,
        "/pipelines/no-such-id",
        Some(&pipeline("deckapp", "x", 1)),
    )
    .await;
    assert_eq!(status, 404);
    let (status, history) = app
        .get(&format!("/pipelineConfigs/{id}/history?limit=10"))
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["renamed", "first"]);
    let (_, second) = app
        .get("/applications/deckapp/pipelineConfigs/second")
        .await;
    let reorder = json!({"application": "deckapp", "idsToIndices": {second["id"].as_str().unwrap(): 0, id.as_str(): 1}});
    assert_eq!(
        app.post("/actions/pipelines/reorder", &reorder).await.0,
        200
    );
    let (_, ordered) = app.get("/applications/deckapp/pipelineConfigs").await;
    let names: Vec<&str> = ordered
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["second", "renamed"]);
    let (status, all) = app.get("/pipelineConfigs").await;
    assert_eq!(status, 200);
    assert_eq!(all.as_array().unwrap().len(), 2);

    let mut strategy = pipeline("deckapp", "rolling red/black", 1);
    strategy["name"] = json!("rolling");
    strategy["strategy"] = json!(true);
    assert_eq!(app.post("/strategies", &strategy).await.0, 200);
    let (status, strategies) = app.get("/applications/deckapp/strategyConfigs").await;
    assert_eq!(status, 200);
    assert_eq!(strategies.as_array().unwrap().len(), 1);
    let strategy_id = strategies[0]["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .get("/applications/deckapp/strategyConfigs/rolling")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get("/applications/deckapp/pipelineConfigs/rolling")
            .await
            .0,
        404,
        "strategies are not pipelines"
    );
    let mut changed = strategies[0].clone();
    changed["description"] = json!("v2");
    assert_eq!(
        put(&app, &format!("/strategies/{strategy_id}"), Some(&changed))
            .await
            .0,
        200
    );
    let (_, revisions) = app
        .get(&format!("/strategyConfigs/{strategy_id}/history"))
        .await;
    assert_eq!(revisions.as_array().unwrap().len(), 2);
    assert_eq!(
        delete(&app, "/strategies/deckapp/ROLLING").await.0,
        200,
        "names match case-insensitively"
    );
    assert_eq!(
        app.get("/applications/deckapp/strategyConfigs").await.1,
        json!([])
    );

    let bulk = json!([pipeline("deckapp", "bulk one", 1), {"name": "bulk two", "stages": []}, {"application": "deckapp"}]);
    let (status, result) = app
        .post("/pipelines/bulksave?application=deckapp", &bulk)
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["successful_pipelines_count"], 2);
    assert_eq!(
        result["successful_pipelines"],
        json!(["bulk one", "bulk two"])
    );
    assert_eq!(result["failed_pipelines_count"], 1);
    assert!(
        result["failed_pipelines"][0]["errorMsg"]
            .as_str()
            .unwrap()
            .contains("name")
    );

    // webhooks are accepted; nobody listens on this source
    let (status, ack) = app
        .post(
            "/webhooks/webhook/my-source",
            &json!({"parameters": {"a": "b"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ack["eventProcessed"], false);
    assert!(ack["eventId"].as_str().is_some_and(|id| id.len() == 36));
    assert_eq!(app.post_raw("/webhooks/webhook/my-source", "").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn deck_flows_for_executions() {
    let app = TestApp::spawn().await;
    // carol (no roles) triggers below: runapp is a known, unrestricted application.
    app.create_application("runapp").await;
    assert_eq!(
        app.post("/pipelines", &pipeline("runapp", "ship", 60))
            .await
            .0,
        200
    );
    let (_, config) = app.get("/applications/runapp/pipelineConfigs/ship").await;
    let config_id = config["id"].as_str().unwrap().to_string();

    // POST /pipelines/v2: 202 {eventId, ref}; the execution is there when Deck polls
    let carol = app.bearer("carol");
    let headers = [
        ("authorization", carol.as_str()),
        ("x-spinnaker-user-origin", "deck"),
        // Claimed accounts are ignored: they come from the verified user's permissions.
        ("x-spinnaker-accounts", "prod,test"),
    ];
    let trigger =
        json!({"type": "manual", "parameters": {"tag": "v7"}, "dryRun": false, "user": "carol"});
    let (status, reference) = send(
        &app,
        Method::POST,
        "/pipelines/v2/runapp/ship",
        Some(&trigger),
        &headers,
    )
    .await;
    assert_eq!(status, 202, "{reference}");
    let event_id = reference["eventId"].as_str().unwrap().to_string();
    let execution_id = id_of(&reference);
    let (status, execution) = app.get(&format!("/pipelines/{execution_id}")).await;
    assert_eq!(status, 200, "{execution}");
    assert_execution_shape(&execution);
    assert_eq!(execution["trigger"]["eventId"], json!(event_id));
    assert_eq!(execution["trigger"]["executionId"], json!(execution_id));
    assert_eq!(execution["origin"], "deck");
    assert_eq!(execution["authentication"]["user"], "carol");
    assert!(
        !execution["authentication"]["allowedAccounts"]
            .as_array()
            .unwrap()
            .contains(&json!("prod")),
        "accounts a caller claims in a header are not taken: {execution}"
    );
    let (status, _) = app.post("/pipelines/v2/runapp/nope", &json!({})).await;
    assert_eq!(status, 404);

    // by config id too, then list with expand=false: trimmed stages
    let (status, second) = app
        .post(&format!("/pipelines/v2/runapp/{config_id}"), &json!({}))
        .await;
    assert_eq!(status, 202);
    let (status, listed) = app
        .get("/applications/runapp/pipelines?limit=1&expand=false")
        .await;
    assert_eq!(status, 200);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "limit is per config");
    assert_eq!(listed[0]["id"], json!(id_of(&second)), "the newest");
    assert_eq!(listed[0]["stages"][0]["context"], json!({"group": "g1"}));
    assert_eq!(listed[0]["stages"][0]["tasks"], json!([]));
    let (_, full) = app.get("/applications/runapp/pipelines?limit=5").await;
    assert_eq!(full.as_array().unwrap().len(), 2);
    assert_eq!(
        full[0]["stages"][0]["context"]["comments"],
        "context is kept"
    );

    // search by event id, by trigger subset, by time window
    let (status, found) = app
        .get(&format!(
            "/applications/runapp/executions/search?eventId={event_id}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], json!(execution_id));
    let trigger = base64(r#"{"parameters": {"tag": "V7"}}"#);
    let (_, found) = app
        .get(&format!(
            "/applications/runapp/executions/search?trigger={trigger}&triggerTypes=manual"
        ))
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let (_, found) = app
        .get("/applications/runapp/executions/search?triggerTimeEndBoundary=1000")
        .await;
    assert_eq!(found, json!([]));
    let (_, found) = app
        .get("/applications/runapp/executions/search?pipelineName=ship&size=1&reverse=true")
        .await;
    assert_eq!(found[0]["id"], json!(execution_id), "oldest first");

    // ad-hoc pipeline
    let ad_hoc = json!({"application": "runapp", "name": "one-off", "stages": [{"refId": "1", "type": "wait", "waitTime": 0}],
        "trigger": {"type": "manual", "user": "dave"}});
    let (status, reference) = app.post("/pipelines/start", &ad_hoc).await;
    assert_eq!(status, 200, "{reference}");
    let done = app
        .wait_for_execution(&id_of(&reference), "the ad-hoc pipeline", |e| {
            e["status"] == "SUCCEEDED"
        })
        .await;
    assert_eq!(done["name"], "one-off");
    assert_eq!(done["trigger"]["user"], "dave");
    app.stop().await;
}

/// Fields of Gate's execution JSON that `spin` and Deck read, on a freshly triggered execution.
fn assert_execution_shape(execution: &Value) {
    for field in [
        "type",
        "id",
        "application",
        "name",
        "pipelineConfigId",
        "status",
        "buildTime",
        "canceled",
        "limitConcurrent",
        "maxConcurrentExecutions",
        "keepWaitingPipelines",
        "origin",
        "authentication",
        "notifications",
        "initialConfig",
        "systemNotifications",
        "trigger",
        "stages",
    ] {
        assert!(
            execution.get(field).is_some(),
            "execution lacks {field}: {execution}"
        );
    }
    assert_eq!(execution["type"], "PIPELINE");
    for field in [
        "type",
        "user",
        "parameters",
        "artifacts",
        "notifications",
        "rebake",
        "dryRun",
        "strategy",
        "resolvedExpectedArtifacts",
        "expectedArtifacts",
    ] {
        assert!(
            execution["trigger"].get(field).is_some(),
            "trigger lacks {field}"
        );
    }
    let stage = &execution["stages"][0];
    for field in [
        "id",
        "refId",
        "type",
        "name",
        "status",
        "requisiteStageRefIds",
        "context",
        "outputs",
        "tasks",
    ] {
        assert!(stage.get(field).is_some(), "stage lacks {field}: {stage}");
    }
    let task = &stage["tasks"][0];
    for field in [
        "id",
        "name",
        "implementingClass",
        "status",
        "stageStart",
        "stageEnd",
        "loopStart",
        "loopEnd",
        "taskExceptionDetails",
    ] {
        assert!(task.get(field).is_some(), "task lacks {field}: {task}");
    }
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

fn store_of(app: &TestApp) -> Store {
    let table = |id: &str| {
        app.running
            .deployment
            .resource(id)
            .unwrap()
            .ref_value
            .clone()
    };
    Store::new(
        DynamoDb::new(&app.running.sdk),
        Tables {
            applications: table("ApplicationsTable"),
            pipelines: table("PipelinesTable"),
            executions: table("ExecutionsTable"),
        },
    )
}

#[tokio::test]
async fn listings_keep_fourteen_days_unless_a_config_has_nothing_recent() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post("/pipelines", &pipeline("oldapp", "busy", 1))
            .await
            .0,
        200
    );
    assert_eq!(
        app.post("/pipelines", &pipeline("oldapp", "quiet", 1))
            .await
            .0,
        200
    );
    let (_, configs) = app.get("/applications/oldapp/pipelineConfigs").await;
    let config = |name: &str| {
        let value = configs
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone();
        PipelineConfig::from_value(value).unwrap()
    };
    let store = store_of(&app);
    let day = 24 * 3600 * 1000;
    let now = gennaker_model::json::now_millis();
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let runs = [
        ("busy", 30),
        ("busy", 20),
        ("busy", 1),
        ("quiet", 40),
        ("quiet", 30),
        ("quiet", 20),
    ];
    for (position, (name, days_ago)) in runs.into_iter().enumerate() {
        let built = now - days_ago * day - position as i64;
        let id = ulid::Ulid::from_parts(built as u64, position as u128).to_string();
        let mut execution = build_execution(
            &config(name),
            id.clone(),
            Map::new(),
            &Caller::default(),
            built,
            gennaker_model::new_id,
        );
        execution.status = ExecutionStatus::Succeeded;
        execution.start_time = Some(built);
        execution.end_time = Some(built + 1000);
        store.create_execution(&execution, 3600).await.unwrap();
        expected.entry(name).or_default().push(id);
    }
    let (status, listed) = app.get("/applications/oldapp/pipelines?limit=10").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    // busy: only the recent one; quiet: its 2 newest old ones; sorted by start time ascending
    let wanted = vec![
        expected["quiet"][1].as_str(),
        expected["quiet"][2].as_str(),
        expected["busy"][2].as_str(),
    ];
    assert_eq!(ids, wanted);
    let (_, succeeded) = app
        .get("/applications/oldapp/pipelines?statuses=RUNNING")
        .await;
    assert_eq!(succeeded, json!([]));
    app.stop().await;
}

/// Counts every item of the three tables.
async fn item_counts(app: &TestApp) -> BTreeMap<String, usize> {
    let dynamodb = DynamoDb::new(&app.running.sdk);
    let mut counts = BTreeMap::new();
    for id in ["ApplicationsTable", "PipelinesTable", "ExecutionsTable"] {
        let table = app
            .running
            .deployment
            .resource(id)
            .unwrap()
            .ref_value
            .clone();
        let output = dynamodb.scan().table_name(&table).send().await.unwrap();
        counts.insert(id.to_string(), output.items().len());
    }
    counts
}

#[tokio::test]
async fn malformed_requests_get_gate_errors_and_write_nothing() {
    let app = TestApp::spawn().await;
    app.create_application("guarded").await;
    assert_eq!(
        app.post("/pipelines", &pipeline("guarded", "p", 1)).await.0,
        200
    );
    assert_eq!(
        app.post("/strategies", &pipeline("guarded", "s", 1))
            .await
            .0,
        200
    );
    let (_, stored) = app.get("/applications/guarded/pipelineConfigs/p").await;
    let pipeline_id = stored["id"].as_str().unwrap().to_string();
    let before = item_counts(&app).await;

    let bad_bodies = [
        "{",
        "[1,2",
        "\"text\"",
        "42",
        "null",
        "[]",
        "{\"a\": }",
        "\u{1}",
        "true",
        "{\"name\": \"x\",}",
    ];
    let writes = [
        (Method::POST, "/pipelines".to_string()),
        (Method::PUT, format!("/pipelines/{pipeline_id}")),
        (Method::POST, "/pipelines/bulksave".to_string()),
        (Method::POST, "/tasks".to_string()),
        (Method::POST, "/applications/guarded/tasks".to_string()),
        (Method::POST, "/strategies".to_string()),
        (Method::POST, "/actions/pipelines/reorder".to_string()),
        (Method::POST, "/pipelines/start".to_string()),
        (Method::POST, "/pipelines/v2/guarded/p".to_string()),
        (Method::POST, "/pipelines/guarded/p".to_string()),
        (Method::POST, "/webhooks/webhook/src".to_string()),
    ];
    let mut requests: Vec<(Method, String, Option<String>, u16)> = Vec::new();
    for (method, path) in &writes {
        for body in bad_bodies {
            // An empty/null body is a valid "no trigger" / "no payload" for some routes.
            let lenient = path.contains("/pipelines/guarded/")
                || path.contains("/v2/")
                || path.contains("webhooks");
            if lenient && body == "null" {
                continue;
            }
            if path.contains("bulksave") && body == "[]" {
                continue;
            }
            requests.push((method.clone(), path.clone(), Some(body.to_string()), 400));
        }
    }
    let wrong_types = [
        ("/pipelines", json!({"application": "guarded", "name": 5})),
        (
            "/pipelines",
            json!({"application": ["guarded"], "name": "x"}),
        ),
        (
            "/pipelines",
            json!({"application": "guarded", "name": "x", "stages": "wait"}),
        ),
        (
            "/pipelines",
            json!({"application": "guarded", "name": "x", "stages": [{"refId": "1", "type": 3}]}),
        ),
        (
            "/pipelines",
            json!({"application": "guarded", "name": "x", "id": {"no": 1}}),
        ),
        (
            "/pipelines",
            json!({"application": "../../etc", "name": "x"}),
        ),
        (
            "/pipelines",
            json!({"application": "guarded", "name": "../../etc/passwd"}),
        ),
        ("/pipelines", json!({"application": "bad app", "name": "x"})),
        (
            "/pipelines",
            json!({"application": "guarded", "name": "a%2Fb"}),
        ),
        (
            "/pipelines",
            json!({"application": "guarded", "name": "x".repeat(300)}),
        ),
        ("/pipelines", json!({"application": "guarded", "name": " "})),
        ("/tasks", json!({"job": "createApplication"})),
        (
            "/tasks",
            json!({"job": [{"type": "createApplication", "application": {"name": "../x"}}]}),
        ),
        (
            "/tasks",
            json!({"job": [{"type": "createApplication", "application": {"name": "a b"}}]}),
        ),
        (
            "/tasks",
            json!({"job": [{"type": "createApplication", "application": {"name": "x".repeat(300)}}]}),
        ),
        (
            "/tasks",
            json!({"job": [{"type": "createApplication", "application": "x"}]}),
        ),
        (
            "/tasks",
            json!({"job": [{"type": "dropTables", "application": {"name": "x"}}]}),
        ),
        (
            "/tasks",
            json!({"job": [{"type": "createApplication", "application": {"name": 7}}]}),
        ),
        ("/tasks", json!({"job": []})),
        ("/strategies", json!({"application": "guarded"})),
        (
            "/actions/pipelines/reorder",
            json!({"application": "guarded", "idsToIndices": {"x": "first"}}),
        ),
        (
            "/actions/pipelines/reorder",
            json!({"application": "guarded", "idsToIndices": [1]}),
        ),
        (
            "/actions/pipelines/reorder",
            json!({"application": "../x", "idsToIndices": {}}),
        ),
        ("/actions/pipelines/reorder", json!({"idsToIndices": {}})),
        (
            "/pipelines/start",
            json!({"application": "guarded", "name": "x", "stages": [{"refId": "1", "type": "teleport"}]}),
        ),
        (
            "/pipelines/start",
            json!({"application": "guarded", "name": "x", "stages": [], "trigger": "manual"}),
        ),
        (
            "/pipelines/start",
            json!({"application": "bad/app", "name": "x", "stages": []}),
        ),
        ("/pipelines/bulksave", json!({"application": "guarded"})),
    ];
    for (path, body) in wrong_types {
        requests.push((Method::POST, path.to_string(), Some(body.to_string()), 400));
    }
    let mut renamed_elsewhere = stored.clone();
    renamed_elsewhere["id"] = json!("another-id");
    requests.push((
        Method::PUT,
        format!("/pipelines/{pipeline_id}"),
        Some(renamed_elsewhere.to_string()),
        400,
    ));
    let unknown = [
        (Method::GET, "/pipelines/01ARZ3NDEKTSV4RRFFQ69G5FAV", 404),
        (Method::GET, "/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV", 404),
        (Method::PUT, "/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel", 404),
        (Method::DELETE, "/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV", 404),
        (Method::GET, "/applications/nobody", 404),
        (
            Method::GET,
            "/applications/guarded/pipelineConfigs/nobody",
            404,
        ),
        (
            Method::GET,
            "/applications/guarded/strategyConfigs/nobody",
            404,
        ),
        (Method::GET, "/credentials/nobody", 404),
        (Method::POST, "/pipelines/guarded/nobody", 404),
        (Method::POST, "/pipelines/v2/guarded/nobody", 404),
        (Method::PUT, "/pipelines/unknown-id", 404),
        (Method::PUT, "/strategies/unknown-id", 404),
        (Method::GET, "/applications/..%2F..%2Fetc%2Fpasswd", 404),
        (
            Method::GET,
            "/applications/guarded/pipelineConfigs/..%2F..%2Fetc",
            404,
        ),
        (Method::POST, "/pipelines/..%2F..%2Fetc/p", 404),
        (Method::GET, "/../../etc/passwd", 404),
        (Method::GET, "/no/such/route", 404),
        (Method::DELETE, "/version", 405),
        (Method::PATCH, "/applications", 405),
        (
            Method::GET,
            "/applications/guarded/pipelines?limit=abc",
            400,
        ),
        (Method::GET, "/applications/guarded/pipelines?limit=0", 400),
        (
            Method::GET,
            "/applications/guarded/pipelines?statuses=DONE",
            400,
        ),
        (
            Method::GET,
            "/applications/guarded/pipelines?expand=maybe",
            400,
        ),
        (Method::GET, "/applications/guarded/tasks?page=0", 400),
        (Method::GET, "/applications/guarded/tasks?limit=-1", 400),
        (
            Method::GET,
            "/applications/guarded/executions/search?size=0",
            400,
        ),
        (
            Method::GET,
            "/applications/guarded/executions/search?trigger=%%%",
            400,
        ),
        (
            Method::GET,
            "/applications/guarded/executions/search?triggerTimeStartBoundary=5&triggerTimeEndBoundary=1",
            400,
        ),
        (Method::GET, "/pipelineConfigs/x/history?limit=0", 400),
        (
            Method::GET,
            "/applications/guarded/history?limit=100000",
            400,
        ),
    ];
    for (method, path, status) in unknown {
        let body = matches!(method, Method::PUT | Method::POST)
            .then(|| pipeline("guarded", "x", 1).to_string());
        requests.push((method, path.to_string(), body, status));
    }
    let too_big = format!(
        "{{\"application\": \"guarded\", \"name\": \"big\", \"blob\": \"{}\"}}",
        "x".repeat(3_000_000)
    );
    requests.push((
        Method::POST,
        "/pipelines".to_string(),
        Some(too_big.clone()),
        413,
    ));
    requests.push((Method::POST, "/tasks".to_string(), Some(too_big), 413));
    let large = format!(
        "{{\"application\": \"guarded\", \"name\": \"large\", \"blob\": \"{}\"}}",
        "x".repeat(500_000)
    );
    requests.push((Method::POST, "/pipelines".to_string(), Some(large), 413));
    assert!(
        requests.len() >= 100,
        "only {} malformed requests",
        requests.len()
    );

    for (method, path, body, expected) in &requests {
        let mut request = app
            .http
            .request(method.clone(), app.url(path))
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().await.unwrap();
        let shown = || {
            format!(
                "{method} {} -> {status}: {}",
                &path[..path.len().min(80)],
                &text[..text.len().min(300)]
            )
        };
        assert_eq!(status, *expected, "{}", shown());
        assert!(content_type.contains("application/json"), "{}", shown());
        let error: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}", shown()));
        assert_eq!(error["status"], *expected, "{}", shown());
        assert!(
            error["timestamp"].is_i64() && error["error"].is_string() && error["path"].is_string(),
            "{}",
            shown()
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            shown()
        );
    }
    assert_eq!(
        item_counts(&app).await,
        before,
        "a refused request wrote something"
    );
    app.stop().await;
}
