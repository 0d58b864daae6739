//! Durable local state (issue 16): local mode keeps what it was given in its data directory.
//! After a clean stop and a start everything reads back the same through the API; after a
//! `kill -9` of local mode (run as a child process, emulator killed too) every save that
//! was answered 200 is back, and executions that were running finish, their stages' work
//! not repeated.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gennaker_local::LocalOptions;
use serde_json::{Value, json};
use support::webhook_target::WebhookTarget;
use support::{TestApp, eventually, stage, wait};
use tokio::io::{AsyncBufReadExt, BufReader};

const DEADLINE: Duration = Duration::from_secs(60);

/// A data directory of its own for one test, removed when dropped.
struct DataDir(PathBuf);

impl DataDir {
    fn new(test: &str) -> DataDir {
        let path = std::env::temp_dir().join(format!(
            "gennaker-local-state-{test}-{}",
            gennaker_model::new_id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        DataDir(path)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Local mode in this process, keeping its state in `data_dir` under `stack` (the tables'
/// names, so a later start finds them).
async fn start_kept(stack: &str, data_dir: &Path, parameters: &[(&str, &str)]) -> TestApp {
    let running = gennaker_local::start(LocalOptions {
        api_port: 0,
        stack_name: stack.to_string(),
        data_dir: Some(data_dir.to_path_buf()),
        parameters: parameters
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        ..LocalOptions::default()
    })
    .await
    .expect("local mode starts with kept state");
    let base_url = running.api_url();
    TestApp {
        running,
        base_url,
        http: reqwest::Client::new(),
    }
}

/// Local mode as a child process (`local-mode-child`), to be killed with SIGKILL.
struct Child {
    process: tokio::process::Child,
    api_url: String,
    emulator_pid: u32,
}

impl Child {
    async fn start(stack: &str, data_dir: &Path, parameters: &[(&str, &str)]) -> Child {
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_local-mode-child"))
            .arg(stack)
            .arg(data_dir)
            .args(
                parameters
                    .iter()
                    .map(|(name, value)| format!("{name}={value}")),
            )
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("local-mode-child starts");
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let (mut api_url, mut emulator_pid) = (None, None);
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("API ") {
                    api_url = Some(url.to_string());
                }
                if let Some(pid) = line.strip_prefix("EMULATOR_PID ") {
                    emulator_pid = Some(pid.parse().unwrap());
                    break;
                }
            }
        };
        tokio::time::timeout(DEADLINE, read)
            .await
            .expect("local-mode-child announces its API");
        Child {
            process,
            api_url: api_url.expect("API line"),
            emulator_pid: emulator_pid.expect("EMULATOR_PID line"),
        }
    }

    /// SIGKILL to the emulator and to local mode, then waits until both are gone (the
    /// data directory's lock with them).
    async fn kill_9(mut self) {
        let killed = std::process::Command::new("kill")
            .args(["-9", &self.emulator_pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -9 of the emulator");
        self.process.start_kill().unwrap();
        self.process.wait().await.unwrap();
        let status = format!("/proc/{}/status", self.emulator_pid);
        eventually("the emulator to be gone", DEADLINE, || async {
            let gone =
                std::fs::read_to_string(&status).map_or(true, |text| text.contains("State:\tZ"));
            gone.then_some(())
        })
        .await;
    }
}

/// Everything the API says about application `app`, for comparing before and after.
async fn everything_about(app: &TestApp, application: &str) -> Value {
    let (_, application_record) = app.get(&format!("/applications/{application}")).await;
    let (_, application_history) = app
        .get(&format!("/applications/{application}/history"))
        .await;
    let (_, configs) = app
        .get(&format!("/applications/{application}/pipelineConfigs"))
        .await;
    let mut histories = serde_json::Map::new();
    for config in configs.as_array().unwrap() {
        let id = config["id"].as_str().unwrap();
        let (_, history) = app.get(&format!("/pipelineConfigs/{id}/history")).await;
        histories.insert(id.to_string(), history);
    }
    let (_, executions) = app
        .get(&format!("/applications/{application}/pipelines?limit=100"))
        .await;
    let mut full_executions = serde_json::Map::new();
    for execution in executions.as_array().unwrap() {
        let id = execution["id"].as_str().unwrap();
        let (_, full) = app.get(&format!("/pipelines/{id}")).await;
        full_executions.insert(id.to_string(), full);
    }
    let (_, tasks) = app.get(&format!("/applications/{application}/tasks")).await;
    let (_, notifications) = app
        .get(&format!("/notifications/application/{application}"))
        .await;
    json!({
        "application": application_record, "applicationHistory": application_history,
        "pipelineConfigs": configs, "pipelineHistories": histories, "executions": executions,
        "fullExecutions": full_executions, "tasks": tasks, "notifications": notifications,
    })
}

/// The cron schedules in the emulator: name → expression.
async fn cron_schedules(app: &TestApp) -> Vec<(String, String)> {
    let group = &app
        .running
        .deployment
        .resource("CronScheduleGroup")
        .unwrap()
        .ref_value;
    let client = aws_sdk_scheduler::Client::new(&app.running.sdk);
    let listed = client
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .unwrap();
    let mut schedules = Vec::new();
    for summary in listed.schedules() {
        let name = summary.name().unwrap_or_default().to_string();
        let schedule = client
            .get_schedule()
            .group_name(group)
            .name(&name)
            .send()
            .await
            .unwrap();
        schedules.push((
            name,
            schedule
                .schedule_expression()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    schedules.sort();
    schedules
}

#[tokio::test]
async fn a_clean_stop_and_start_gives_back_everything() {
    let data = DataDir::new("clean");
    let app = start_kept("kept", &data.0, &[]).await;

    let (status, body) = app
        .post(
            "/tasks",
            &json!({"application": "keep", "description": "Create Application: keep",
                "job": [{"type": "createApplication", "application": {
                    "name": "keep", "email": "team@example.com", "cloudProviders": "aws",
                    "permissions": {"READ": ["dev", "ops"], "WRITE": ["ops"]}}}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let task = body["ref"].as_str().unwrap().to_string();
    eventually("the application to be created", DEADLINE, || async {
        let (_, task) = app.get(&task).await;
        (task["status"] == "SUCCEEDED").then_some(())
    })
    .await;
    let (status, body) = app
        .post(
            "/notifications/application/keep",
            &json!({"slack": [{"address": "#deploys", "when": ["pipeline.complete"]}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let cron =
        json!({"type": "cron", "id": "nightly", "cronExpression": "0 0 2 * * ?", "enabled": true});
    let mut pipeline = json!({"application": "keep", "name": "ship",
        "stages": [wait("1", &[], 0)], "triggers": [cron], "keepWaitingPipelines": false});
    for description in ["first", "second"] {
        pipeline["description"] = json!(description);
        let (status, body) = app.post("/pipelines", &pipeline).await;
        assert_eq!(status, 200, "{body}");
        // The second save updates the first (same id), making a history of two.
        let (_, saved) = app.get("/applications/keep/pipelineConfigs/ship").await;
        pipeline["id"] = saved["id"].clone();
    }
    for _ in 0..2 {
        let id = app.trigger("keep", "ship").await;
        let ended = app.ended(&id).await;
        assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    }
    let schedules_before = eventually("the cron schedule", DEADLINE, || async {
        let schedules = cron_schedules(&app).await;
        (!schedules.is_empty()).then_some(schedules)
    })
    .await;
    let before = everything_about(&app, "keep").await;
    assert_eq!(before["pipelineHistories"].as_object().unwrap().len(), 1);
    assert_eq!(
        before["pipelineHistories"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2,
        "two saved versions: {before}"
    );
    assert_eq!(before["executions"].as_array().unwrap().len(), 2);
    app.stop().await;

    let app = start_kept("kept", &data.0, &[]).await;
    let after = everything_about(&app, "keep").await;
    for (field, value) in before.as_object().unwrap() {
        assert_eq!(&after[field], value, "{field} after the restart");
    }
    // The cron schedules live in the emulator's Scheduler, rebuilt from the pipeline
    // configs by the config-sync function as the restored items stream in.
    eventually("the cron schedules to be back", DEADLINE, || async {
        (cron_schedules(&app).await == schedules_before).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn every_save_answered_200_survives_a_kill_9() {
    let data = DataDir::new("storm");
    let child = Child::start("storm", &data.0, &[]).await;
    let http = reqwest::Client::new();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let savers: Vec<_> = (0..4)
        .map(|saver| {
            let (http, base, acknowledged) =
                (http.clone(), child.api_url.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let pipeline = json!({"application": "storm", "name": format!("p{saver}-{n}"),
                        "stages": [wait("1", &[], n)], "description": format!("saver {saver} save {n}")});
                    let answer = http
                        .post(format!("{base}/pipelines"))
                        .header("content-type", "application/json")
                        .body(pipeline.to_string())
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == 200 => {
                            acknowledged.lock().unwrap().push(pipeline)
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    eventually("saves to be answered", DEADLINE, || async {
        (acknowledged.lock().unwrap().len() >= 60).then_some(())
    })
    .await;
    child.kill_9().await;
    for saver in savers {
        let _ = tokio::time::timeout(DEADLINE, saver).await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let app = start_kept("storm", &data.0, &[]).await;
    let (status, configs) = app.get("/applications/storm/pipelineConfigs").await;
    assert_eq!(status, 200, "{configs}");
    let stored: std::collections::HashMap<&str, &Value> = configs
        .as_array()
        .unwrap()
        .iter()
        .map(|config| (config["name"].as_str().unwrap(), config))
        .collect();
    for saved in &acknowledged {
        let name = saved["name"].as_str().unwrap();
        let config = stored
            .get(name)
            .unwrap_or_else(|| panic!("{name} was answered 200 and is gone after kill -9"));
        assert_eq!(config["description"], saved["description"]);
        assert_eq!(
            config["stages"][0]["waitTime"],
            saved["stages"][0]["waitTime"]
        );
    }
    assert!(acknowledged.len() >= 60);
    app.stop().await;
}

#[tokio::test]
async fn executions_running_at_a_kill_9_finish_without_repeating_their_work() {
    let target = WebhookTarget::start().await;
    let prefix = target.prefix();
    let parameters = [
        ("AllowedUrlPrefixes", prefix.as_str()),
        ("StagePollSeconds", "1"),
    ];
    let data = DataDir::new("running");
    let child = Child::start("running", &data.0, &parameters).await;
    let client = ApiClient::new(&child.api_url);
    client.create_application("crash").await;

    // Each run: a remote job polled until done, beside a wait, then a last wait.
    let runs = 4;
    let mut ids = Vec::new();
    for run in 0..runs {
        let job = json!({"refId": "1", "requisiteStageRefIds": [], "type": "webhook",
            "name": "Remote job", "url": target.url(&format!("/jobs/run{run}?polls=6")),
            "method": "POST", "waitForCompletion": true, "statusJsonPath": "$.state",
            "successStatuses": "DONE"});
        let pipeline = json!({"application": "crash", "name": format!("run{run}"),
            "stages": [job, wait("2", &[], 4), wait("3", &["1", "2"], 1)]});
        let (status, body) = client.post("/pipelines", &pipeline).await;
        assert_eq!(status, 200, "{body}");
        ids.push(client.trigger("crash", &format!("run{run}")).await);
    }
    // Killed while every remote job is being polled: created and recorded, not done.
    for id in &ids {
        client
            .wait_for_execution(id, "the remote job to be polled", |execution| {
                stage(execution, "1")["context"]["webhook"]["statusEndpoint"].is_string()
            })
            .await;
    }
    child.kill_9().await;

    let app = start_kept("running", &data.0, &parameters).await;
    for id in &ids {
        // Every stage can resume (the job's status URL was recorded), so nothing needs to
        // end TERMINAL: the reconciler runs the lost stage machines again at the start.
        let ended = app.ended(id).await;
        assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    }
    for run in 0..runs {
        let created = target
            .received(&format!("/jobs/run{run}"))
            .into_iter()
            .filter(|request| request.method == "POST")
            .count();
        assert_eq!(
            created, 1,
            "the remote job of run{run} was created {created} times"
        );
    }
    app.stop().await;
}

/// The HTTP helpers of [`TestApp`] for a local mode this process does not own.
struct ApiClient {
    base_url: String,
    http: reqwest::Client,
}

impl ApiClient {
    fn new(base_url: &str) -> ApiClient {
        ApiClient {
            base_url: base_url.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base_url)))
            .await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    async fn create_application(&self, name: &str) {
        let (status, body) = self
            .post(
                "/tasks",
                &json!({"application": name, "description": "Create Application",
                    "job": [{"type": "createApplication", "application": {"name": name,
                        "email": "team@example.com", "cloudProviders": "aws"}}]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let task = body["ref"].as_str().unwrap().to_string();
        eventually("the application to be created", DEADLINE, || async {
            let (_, task) = self.get(&task).await;
            (task["status"] == "SUCCEEDED").then_some(())
        })
        .await;
    }

    async fn trigger(&self, application: &str, name: &str) -> String {
        let (status, body) = self
            .post(&format!("/pipelines/{application}/{name}"), &json!({}))
            .await;
        assert_eq!(status, 202, "{body}");
        body["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/pipelines/")
            .to_string()
    }

    async fn wait_for_execution(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) {
        let started = Instant::now();
        loop {
            let (status, execution) = self.get(&format!("/pipelines/{id}")).await;
            if status == 200 && done(&execution) {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "timed out waiting for {what}: {execution}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
