//! Shared test harness: Gennaker in local mode per test (own emulator, own resources), and a
//! small HTTP client for its Gate-compatible API.

#![allow(dead_code)]

pub mod cloud;
pub mod fake_jenkins;
pub mod webhook_target;

use std::future::Future;
use std::time::{Duration, Instant};

use gennaker_local::{LocalOptions, Running};
use serde_json::{Value, json};

pub struct TestApp {
    pub running: Running,
    pub base_url: String,
    pub http: reqwest::Client,
}

impl TestApp {
    /// Starts local mode on a free port with a stack name unique to this test.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(LocalOptions::default()).await
    }

    /// [`TestApp::spawn`] with template parameters set (`("AllowedUrlPrefixes", "...")`),
    /// as `sam deploy --parameter-overrides` would set them.
    pub async fn spawn_with_parameters(parameters: &[(&str, &str)]) -> TestApp {
        Self::spawn_with(LocalOptions {
            parameters: parameters
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            ..LocalOptions::default()
        })
        .await
    }

    /// Starts local mode with these options (delivery and fault knobs), on a free port and
    /// a stack name unique to this test.
    pub async fn spawn_with(options: LocalOptions) -> TestApp {
        if std::env::var_os("GENNAKER_TEST_LOG").is_some() {
            gennaker_runtime::logging::init(false);
        }
        let stack_name = format!("t{}", &gennaker_model::new_id()[16..]).to_lowercase();
        let running = gennaker_local::start(LocalOptions {
            api_port: 0,
            stack_name,
            ..options
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

    /// `Authorization` value for `user` with `roles`: a token from the local issuer.
    pub fn bearer_with_roles(&self, user: &str, roles: &[&str]) -> String {
        format!("Bearer {}", self.running.token(user, roles))
    }

    /// A request with `authorization` (a [`TestApp::bearer_with_roles`] value) and, if
    /// given, a JSON body; the status and the JSON answer (null when it is not JSON).
    pub async fn as_user(
        &self,
        authorization: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = (self.http)
            .request(method, self.url(path))
            .header("authorization", authorization);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `Authorization` value for `user` (no roles).
    pub fn bearer(&self, user: &str) -> String {
        self.bearer_with_roles(user, &[])
    }

    /// The URL and ARN of the queue `logical_id` of the template.
    pub fn queue(&self, logical_id: &str) -> (String, String) {
        let queue = self.running.deployment.resource(logical_id).unwrap();
        (queue.ref_value.clone(), queue.attributes["Arn"].clone())
    }

    /// Waits until the queue holds no message, visible or in flight.
    pub async fn drained(&self, queue_url: &str) {
        let sqs = aws_sdk_sqs::Client::new(&self.running.sdk);
        eventually("the queue to drain", Duration::from_secs(20), || async {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let count = |name| {
                attributes
                    .attributes()
                    .and_then(|a| a.get(&name))
                    .map_or(0, |v| v.parse::<u64>().unwrap())
            };
            let waiting = count(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
            ) + count(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            );
            (waiting == 0).then_some(())
        })
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        into_parts(
            self.http.get(self.url(path)).send().await.expect("GET"),
            path,
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        into_parts(request.send().await.expect("POST"), path).await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        into_parts(request.send().await.expect("POST"), path).await
    }

    /// A PUT without a body as `user` (cancel, pause, resume, restart). The user holds the
    /// local administrator's role: these tests are about who is recorded, not who may act
    /// (that is `authorization_matrix.rs`), and their applications are never created, which
    /// Fiat closes to everyone else.
    pub async fn put(&self, path: &str, user: &str) -> (u16, Value) {
        let request = self.http.put(self.url(path)).header(
            "authorization",
            self.bearer_with_roles(user, &[gennaker_local::authorizer::LOCAL_ADMIN_ROLE]),
        );
        into_parts(request.send().await.expect("PUT"), path).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self
            .http
            .patch(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        into_parts(request.send().await.expect("PATCH"), path).await
    }

    /// Creates an application through an orchestration task and waits for the task.
    pub async fn create_application(&self, name: &str) {
        self.application_task("createApplication", name, json!({}))
            .await;
    }

    /// Runs a `createApplication` or `updateApplication` task as the local administrator
    /// with these attributes (e.g. `permissions`) and waits for it.
    pub async fn application_task(&self, job: &str, name: &str, attributes: Value) {
        let mut application =
            json!({"name": name, "email": "team@example.com", "cloudProviders": "aws"});
        application
            .as_object_mut()
            .unwrap()
            .extend(attributes.as_object().cloned().unwrap_or_default());
        let (status, body) = self
            .post(
                "/tasks",
                &serde_json::json!({
                    "application": name, "description": format!("{job}: {name}"),
                    "job": [{"type": job, "application": application}]
                }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let task_path = body["ref"].as_str().expect("ref").to_string();
        let task = eventually(
            &format!("the {job} task to finish"),
            Duration::from_secs(20),
            || async {
                let (_, task) = self.get(&task_path).await;
                (task["status"] == "SUCCEEDED").then_some(task)
            },
        )
        .await;
        assert_eq!(
            task["application"],
            name.to_lowercase(),
            "applications are stored lower-cased"
        );
    }

    /// Polls `GET /pipelines/{id}` until `done` accepts the execution.
    pub async fn wait_for_execution(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, execution) = self.get(&format!("/pipelines/{id}")).await;
            if status == 200 && done(&execution) {
                return execution;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last seen ({status}): {}",
                    summary(&execution)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Triggers `application`/`name` like `spin pipeline execute` (202) and returns the
    /// execution id.
    pub async fn trigger(&self, application: &str, name: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/pipelines/{application}/{name}"),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/pipelines/")
            .to_string()
    }

    /// Saves a pipeline of `stages` in `application` and triggers it.
    pub async fn save_and_trigger(
        &self,
        application: &str,
        name: &str,
        stages: Vec<Value>,
    ) -> String {
        let pipeline =
            serde_json::json!({"application": application, "name": name, "stages": stages});
        let (status, body) = self.post("/pipelines", &pipeline).await;
        assert_eq!(status, 200, "{body}");
        self.trigger(application, name).await
    }

    /// The executions of `application` started for the pipeline named `name` (newest 100).
    pub async fn executions_named(&self, application: &str, name: &str) -> Vec<Value> {
        let (status, list) = self
            .get(&format!("/applications/{application}/pipelines?limit=100"))
            .await;
        assert_eq!(status, 200, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .filter(|execution| execution["name"] == name)
            .cloned()
            .collect()
    }

    /// Polls until the execution has ended (any status but RUNNING, NOT_STARTED, PAUSED).
    pub async fn ended(&self, id: &str) -> Value {
        self.wait_for_execution(id, "the execution to end", |execution| {
            !matches!(
                execution["status"].as_str(),
                Some("RUNNING" | "NOT_STARTED" | "PAUSED")
            )
        })
        .await
    }

    /// Waits until the manual judgment stage `ref_id` runs, then judges it.
    pub async fn judge(&self, id: &str, ref_id: &str, decision: &str) {
        let execution = self
            .wait_for_execution(id, "a judgment to wait", |execution| {
                stage(execution, ref_id)["status"] == "RUNNING"
            })
            .await;
        let stage_id = stage(&execution, ref_id)["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/pipelines/{id}/stages/{stage_id}");
        let (status, body) = self
            .patch(&path, &serde_json::json!({"judgmentStatus": decision}))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Cancels an execution through the API.
    pub async fn cancel(&self, id: &str) {
        let response = self
            .http
            .put(self.url(&format!("/pipelines/{id}/cancel")))
            .send()
            .await
            .expect("PUT cancel");
        assert!(
            response.status().is_success(),
            "cancel: {}",
            response.status()
        );
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}

async fn into_parts(response: reqwest::Response, path: &str) -> (u16, Value) {
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
        "{path}: JSON answer without JSON content type ({content_type}): {text}"
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}")),
    )
}

/// Polls `probe` every 50 ms until it yields a value; panics naming `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn stage<'a>(execution: &'a Value, ref_id: &str) -> &'a Value {
    execution["stages"]
        .as_array()
        .and_then(|stages| stages.iter().find(|stage| stage["refId"] == ref_id))
        .unwrap_or_else(|| panic!("no stage {ref_id} in {execution}"))
}

pub fn millis(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("expected epoch millis, got {value}"))
}

/// Status, name and stage statuses of an execution, for failure messages.
fn summary(execution: &Value) -> String {
    let stages: Vec<String> = execution["stages"]
        .as_array()
        .map(|stages| {
            stages
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}:{}#{}",
                        s["refId"], s["type"], s["status"], s["attempt"]
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{} {} {} [{}]",
        execution["name"],
        execution["id"],
        execution["status"],
        stages.join(", ")
    )
}

/// A `wait` stage of `seconds`.
pub fn wait(ref_id: &str, requisites: &[&str], seconds: u64) -> Value {
    json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "wait",
           "name": format!("Wait {ref_id}"), "waitTime": seconds})
}

/// A `manualJudgment` stage with `extra` context fields.
pub fn judgment(ref_id: &str, requisites: &[&str], extra: Value) -> Value {
    let mut stage = json!({"refId": ref_id, "requisiteStageRefIds": requisites,
                           "type": "manualJudgment", "name": format!("Judge {ref_id}")});
    if let (Some(stage), Some(extra)) = (stage.as_object_mut(), extra.as_object()) {
        stage.extend(extra.clone());
    }
    stage
}
