//! No secret or token ever shows up in a log line, a stored item or an API read.
//!
//! Local mode runs with a canary value for every kind of secret Gennaker handles, and each
//! one is driven through a real flow:
//! * a Jenkins master's API token, read from Secrets Manager (`apiTokenSecret`), used by a
//!   `jenkins` stage against the Jenkins stand-in (which refuses a wrong token);
//! * the Slack bot token, read from Secrets Manager (`SlackBotTokenSecret`), sent to a local
//!   receiver playing Slack's `chat.postMessage`;
//! * a webhook trigger's `secret`, which signs the delivery that starts the pipeline (HMAC);
//! * a bearer token written into a webhook stage's `customHeaders`;
//! * a preconfigured webhook's header secret (Secrets Manager), sent by a stage of that type;
//! * the caller's own bearer token (a JWT of the local issuer) on every API request.
//!
//! Then the test fails if a canary appears in local mode's whole log output (every tracing
//! event at debug level and below, and the console's transition lines), in any item of any
//! DynamoDB table (Scan through the SDK), in any Step Functions execution's input or output,
//! or in the answer of any GET route of `/openapi.json` and of the UI's pages.
//!
//! Where a value legitimately lives, it is allowed there and only there, and the test checks
//! that it finds it there (so a scan that sees nothing cannot pass): the trigger secret in
//! the stored config's `triggers[].secret` (Echo needs it to check signatures), the literal
//! webhook-stage header in the `customHeaders` of the config and of the execution's stage
//! (the user wrote it into the pipeline; it is never logged). The receivers must have
//! received each token.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use gennaker_local::LocalOptions;
use gennaker_local::authorizer::LOCAL_ADMIN_ROLE;
use serde_json::{Map, Value, json};
use support::fake_jenkins::{self, FakeJenkins, JobScript};
use support::webhook_target::WebhookTarget;
use support::{TestApp, eventually};

const APP: &str = "canaries";
const PIPELINE: &str = "everything";
const JENKINS_SECRET: &str = "canaries/jenkins/ci";
const SLACK_SECRET: &str = "canaries/slack/bot";
const HOOK_SECRET: &str = "canaries/webhooks/deploys";

/// Everything the process logs (tracing at debug and below, and the console lines).
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("this test's log capture is the process's only subscriber");
        buffer
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which secret a canary stands for; decides where it may legitimately be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    JenkinsToken,
    SlackToken,
    TriggerSecret,
    LiteralStageHeader,
    PreconfiguredHeader,
    CallerToken,
}

struct Canary {
    kind: Kind,
    /// The value and the forms it travels in (e.g. inside a basic-authentication header).
    forms: Vec<String>,
}

impl Canary {
    fn new(kind: Kind, value: String) -> Canary {
        Canary {
            kind,
            forms: vec![value],
        }
    }

    fn found_in(&self, text: &str) -> bool {
        self.forms.iter().any(|form| text.contains(form.as_str()))
    }
}

/// A unique canary value (also unique across runs, so a stale file cannot match).
fn canary_value(label: &str) -> String {
    format!("canary-{label}-{}", gennaker_model::new_id().to_lowercase())
}

/// Where something was seen, and what.
#[derive(Default)]
struct Findings {
    leaks: Vec<String>,
    /// (kind, place) of every legitimate place a canary was found in.
    allowed: Vec<(Kind, String)>,
    places_checked: usize,
}

impl Findings {
    /// Checks a text that no canary may be in.
    fn text(&mut self, canaries: &[Canary], place: &str, text: &str) {
        self.places_checked += 1;
        for canary in canaries {
            if canary.found_in(text) {
                self.leaks.push(format!(
                    "{:?} in {place}: {}",
                    canary.kind,
                    excerpt(text, canary)
                ));
            }
        }
    }

    /// Checks a JSON value of a `source` (`dynamodb:<table>`, `sfn`, `api`): each canary is
    /// looked for after removing the places it may legitimately be in.
    fn json(&mut self, canaries: &[Canary], source: &str, place: &str, value: &Value) {
        self.places_checked += 1;
        for canary in canaries {
            let whole = value.to_string();
            if !canary.found_in(&whole) {
                continue;
            }
            let rest = without_allowed(canary.kind, source, value).to_string();
            if canary.found_in(&rest) {
                self.leaks.push(format!(
                    "{:?} in {place}: {}",
                    canary.kind,
                    excerpt(&rest, canary)
                ));
            } else {
                self.allowed.push((canary.kind, place.to_string()));
            }
        }
    }
}

fn excerpt(text: &str, canary: &Canary) -> String {
    let at = canary
        .forms
        .iter()
        .find_map(|form| text.find(form.as_str()))
        .unwrap_or(0);
    let mut start = at.saturating_sub(200);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 200).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].to_string()
}

/// `value` without the places where a secret of `kind` may be kept when read from `source`.
fn without_allowed(kind: Kind, source: &str, value: &Value) -> Value {
    let mut value = value.clone();
    match kind {
        // The config is the trigger secret's storage of record (HMAC checks read it there);
        // its history keeps it so that a restored revision still verifies.
        Kind::TriggerSecret if source == "dynamodb:pipelines" => remove_trigger_secrets(&mut value),
        // The user typed it into the stage; it travels with the stage's context.
        Kind::LiteralStageHeader => remove_key(&mut value, "customHeaders"),
        _ => {}
    }
    value
}

fn remove_trigger_secrets(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::Array(triggers)) = fields.get_mut("triggers") {
                for trigger in triggers.iter_mut().filter_map(Value::as_object_mut) {
                    trigger.remove("secret");
                }
            }
            fields.values_mut().for_each(remove_trigger_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_trigger_secrets),
        _ => {}
    }
}

fn remove_key(value: &mut Value, key: &str) {
    match value {
        Value::Object(fields) => {
            fields.remove(key);
            fields.values_mut().for_each(|v| remove_key(v, key));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| remove_key(v, key)),
        _ => {}
    }
}

/// A DynamoDB item as JSON; string attributes holding JSON documents are parsed, so the
/// allowed places inside them can be told apart.
fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect(),
    )
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => embedded_json(text),
        AttributeValue::N(number) => json!(number),
        AttributeValue::Bool(flag) => json!(flag),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(fields) => item_json(fields),
        AttributeValue::L(items) => Value::Array(items.iter().map(attribute_json).collect()),
        AttributeValue::Ss(items) | AttributeValue::Ns(items) => json!(items),
        AttributeValue::B(blob) => json!(String::from_utf8_lossy(blob.as_ref())),
        AttributeValue::Bs(blobs) => json!(
            blobs
                .iter()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                .collect::<Vec<_>>()
        ),
        other => json!(format!("{other:?}")),
    }
}

/// Text that is a JSON object or array, parsed (recursively); other text as it is.
fn embedded_json(text: &str) -> Value {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(parsed) = serde_json::from_str::<Value>(text)
    {
        return parse_embedded(parsed);
    }
    json!(text)
}

fn parse_embedded(value: Value) -> Value {
    match value {
        Value::String(text) => embedded_json(&text),
        Value::Array(items) => Value::Array(items.into_iter().map(parse_embedded).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, parse_embedded(v)))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

/// The caller: the local issuer's token of an administrator, on every request.
struct Caller<'a> {
    app: &'a TestApp,
    authorization: String,
}

impl Caller<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, String) {
        let mut request = self
            .app
            .http
            .request(method, self.app.url(path))
            .header("authorization", &self.authorization);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let (status, text) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get_json(&self, path: &str) -> Value {
        let (status, text) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).expect("JSON")
    }
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_a_stored_item_or_a_read() {
    let log = log();
    let console = log.clone();
    let jenkins_token = canary_value("jenkins");
    let jenkins = FakeJenkins::start(&jenkins_token).await;
    jenkins.add_job("build", JobScript::ending("SUCCESS"));
    let target = WebhookTarget::start().await;
    let masters = json!([{"name": "ci", "address": jenkins.base, "username": fake_jenkins::USER,
                          "apiTokenSecret": JENKINS_SECRET}]);
    let preconfigured = json!([{
        "type": "announceDeploy", "label": "Announce a deploy",
        "url": target.url("/flaky/announce-${parameterValues['service']}"), "method": "POST",
        "customHeaders": {"Authorization": {"secret": HOOK_SECRET, "prefix": "Bearer "},
                          "X-Team": "platform"},
        "payload": {"service": "${parameterValues['service']}",
                    "version": "${parameterValues['version']}"},
        "parameters": [{"name": "service", "label": "Service"},
                       {"name": "version", "defaultValue": "1.0"}],
    }]);
    let parameters = [
        ("JenkinsMasters", masters.to_string()),
        ("AllowedUrlPrefixes", target.prefix()),
        ("SlackApiUrl", target.url("/flaky")),
        ("SlackBotTokenSecret", SLACK_SECRET.to_string()),
        ("UiBaseUrl", "https://deck.example.com".to_string()),
        ("StagePollSeconds", "1".to_string()),
        ("PreconfiguredWebhooks", preconfigured.to_string()),
    ];
    let app = TestApp::spawn_with(LocalOptions {
        parameters: parameters
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
        transitions: Some(Arc::new(move |before, after| {
            let mut out = console.lock().unwrap_or_else(|e| e.into_inner());
            for line in gennaker_local::console::transition_lines(before, after, false) {
                let _ = writeln!(out, "{line}");
            }
        })),
        ..LocalOptions::default()
    })
    .await;

    let slack_token = format!("xoxb-{}", canary_value("slack"));
    let hook_token = canary_value("preconfigured");
    let secrets = aws_sdk_secretsmanager::Client::new(&app.running.sdk);
    for (name, value) in [
        (
            JENKINS_SECRET,
            json!({"apiToken": jenkins_token}).to_string(),
        ),
        (SLACK_SECRET, slack_token.clone()),
        (HOOK_SECRET, hook_token.clone()),
    ] {
        secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("the secret is stored in the emulator");
    }
    let jwt = app.bearer_with_roles("canary-caller", &[LOCAL_ADMIN_ROLE]);
    let trigger_secret = canary_value("trigger");
    let header_token = canary_value("header");
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{jenkins_token}", fake_jenkins::USER));
    let mut jenkins_canary = Canary::new(Kind::JenkinsToken, jenkins_token.clone());
    jenkins_canary.forms.push(basic);
    let canaries = [
        jenkins_canary,
        Canary::new(Kind::SlackToken, slack_token.clone()),
        Canary::new(Kind::TriggerSecret, trigger_secret.clone()),
        Canary::new(Kind::LiteralStageHeader, header_token.clone()),
        Canary::new(Kind::PreconfiguredHeader, hook_token.clone()),
        Canary::new(
            Kind::CallerToken,
            jwt.trim_start_matches("Bearer ").to_string(),
        ),
    ];
    let caller = Caller {
        app: &app,
        authorization: jwt.clone(),
    };

    // An application and a pipeline using every secret.
    let task = caller
        .post(
            "/tasks",
            &json!({"application": APP, "description": "Create Application",
                    "job": [{"type": "createApplication",
                             "application": {"name": APP, "email": "team@example.com"}}]}),
        )
        .await;
    let task_path = task["ref"].as_str().expect("a task ref").to_string();
    eventually("the application", Duration::from_secs(30), || async {
        let (_, text) = caller.send(reqwest::Method::GET, &task_path, None).await;
        text.contains("SUCCEEDED").then_some(())
    })
    .await;
    let pipeline = json!({
        "application": APP, "name": PIPELINE,
        "triggers": [{"id": "hook", "type": "webhook", "enabled": true, "source": "canaries",
                      "secret": trigger_secret}],
        "notifications": [{"type": "slack", "address": "#deploys", "level": "pipeline",
                           "when": ["pipeline.complete"]}],
        "stages": [
            {"refId": "1", "requisiteStageRefIds": [], "type": "jenkins", "name": "Build",
             "master": "ci", "job": "build"},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "webhook", "name": "Notify deploy",
             "url": target.url("/flaky/deploy"), "method": "POST",
             "customHeaders": {"Authorization": format!("Bearer {header_token}")},
             "payload": {"service": "canaries"}},
            {"refId": "3", "requisiteStageRefIds": ["2"], "type": "announceDeploy",
             "name": "Announce", "parameterValues": {"service": "shop"}},
        ],
    });
    caller.post("/pipelines", &pipeline).await;
    let config = caller
        .get_json(&format!("/applications/{APP}/pipelineConfigs/{PIPELINE}"))
        .await;
    let pipeline_id = config["id"].as_str().expect("id").to_string();

    // One run from a signed webhook delivery, one started by the caller.
    let delivery = json!({"ref": "main"}).to_string();
    let signature = gennaker_model::triggers::sign(&trigger_secret, delivery.as_bytes());
    let answer = app
        .http
        .post(app.url("/webhooks/webhook/canaries"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(delivery)
        .send()
        .await
        .expect("webhook delivery");
    assert_eq!(answer.status().as_u16(), 200);
    let by_webhook = eventually(
        "the webhook's execution",
        Duration::from_secs(30),
        || async {
            let executions = app.executions_named(APP, PIPELINE).await;
            executions
                .first()
                .and_then(|e| e["id"].as_str())
                .map(str::to_string)
        },
    )
    .await;
    let started = caller
        .post(&format!("/pipelines/{APP}/{PIPELINE}"), &json!({}))
        .await;
    let by_caller = started["ref"]
        .as_str()
        .expect("ref")
        .trim_start_matches("/pipelines/")
        .to_string();
    let mut executions = Vec::new();
    for id in [&by_webhook, &by_caller] {
        let execution = app.ended(id).await;
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
        executions.push(execution);
    }
    assert_eq!(executions[0]["trigger"]["type"], "webhook");

    // Every receiver got its token: the test looks for values that really travel.
    assert_eq!(
        jenkins.triggers("build").len(),
        2,
        "the Jenkins stand-in took the token"
    );
    let hooks = target.received("/flaky/deploy");
    assert_eq!(hooks.len(), 2);
    for hook in &hooks {
        assert_eq!(
            hook.headers["authorization"],
            format!("Bearer {header_token}")
        );
    }
    let announced = target.received("/flaky/announce-shop");
    assert_eq!(announced.len(), 2, "the preconfigured webhook was called");
    for call in &announced {
        assert_eq!(
            call.headers["authorization"],
            format!("Bearer {hook_token}")
        );
        assert_eq!(call.headers["x-team"], "platform");
        let body: Value = serde_json::from_str(&call.body).unwrap();
        assert_eq!(body, json!({"service": "shop", "version": "1.0"}));
    }
    let listed = caller.get_json("/webhooks/preconfigured").await;
    assert_eq!(listed[0]["type"], "announceDeploy", "{listed}");
    assert_eq!(listed[0]["parameters"][0]["name"], "service", "{listed}");
    let slack = eventually("two Slack messages", Duration::from_secs(30), || async {
        let posted = target.received("/flaky/chat.postMessage");
        (posted.len() >= 2).then_some(posted)
    })
    .await;
    for message in &slack {
        assert_eq!(
            message.headers["authorization"],
            format!("Bearer {slack_token}")
        );
    }

    let mut findings = Findings::default();
    let reads = read_everything(&caller, &pipeline_id, &executions).await;
    for (path, text) in &reads {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => findings.json(&canaries, "api", &format!("GET {path}"), &value),
            // Pages: the literal header is in the config's JSON editor and the execution's
            // details, where the user put it; every other canary is looked for.
            Err(_) => findings.text(
                &canaries
                    .iter()
                    .filter(|c| c.kind != Kind::LiteralStageHeader)
                    .map(|c| Canary {
                        kind: c.kind,
                        forms: c.forms.clone(),
                    })
                    .collect::<Vec<_>>(),
                &format!("GET {path}"),
                text,
            ),
        }
    }
    scan_tables(&app, &canaries, &mut findings).await;
    scan_state_machines(&app, &canaries, &mut findings).await;

    app.stop().await;
    let text = String::from_utf8_lossy(&log.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        text.contains(&by_webhook) && text.contains("SUCCEEDED") && text.lines().count() > 100,
        "the log capture sees local mode's logs and console lines ({} lines)",
        text.lines().count()
    );
    findings.text(&canaries, "the log output", &text);

    assert!(
        findings.leaks.is_empty(),
        "{} leaks in {} places checked:\n{}",
        findings.leaks.len(),
        findings.places_checked,
        findings.leaks.join("\n")
    );
    // The scans looked where the secrets legitimately are, so they could find them.
    let allowed: BTreeSet<String> = findings
        .allowed
        .iter()
        .map(|(kind, place)| format!("{kind:?} {}", place.split(' ').next().unwrap_or("")))
        .collect();
    for expected in [
        "TriggerSecret dynamodb:pipelines",
        "LiteralStageHeader dynamodb:pipelines",
        "LiteralStageHeader dynamodb:executions",
        "LiteralStageHeader sfn",
        "LiteralStageHeader GET",
    ] {
        assert!(
            allowed.contains(expected),
            "expected to find a canary where it belongs ({expected}); found: {allowed:?}"
        );
    }
    eprintln!(
        "secret canaries: {} places checked ({} API and UI reads, {} log bytes), 0 leaks",
        findings.places_checked,
        reads.len(),
        text.len()
    );
}

/// Every GET route of `/openapi.json` for this application, its config and executions, and
/// the UI's pages. Returns (path, body) of every answer.
async fn read_everything(
    caller: &Caller<'_>,
    pipeline_id: &str,
    executions: &[Value],
) -> Vec<(String, String)> {
    let document = caller.get_json("/openapi.json").await;
    let execution_ids: Vec<String> = executions
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let stage_ids: Vec<String> = executions
        .iter()
        .flat_map(|e| e["stages"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    let mut paths = BTreeSet::new();
    for (template, methods) in document["paths"].as_object().expect("paths") {
        if methods.get("get").is_none() {
            continue;
        }
        let ids: Vec<String> = if template.starts_with("/pipelineConfigs/")
            || template.contains("/pipelineConfigs/{id}")
        {
            vec![pipeline_id.to_string()]
        } else {
            execution_ids.clone()
        };
        for id in &ids {
            let stage_choices = if template.contains("{stage_id}") {
                stage_ids.clone()
            } else {
                vec![String::new()]
            };
            for stage_id in &stage_choices {
                let mut path = String::new();
                for segment in template.split('/').skip(1) {
                    path.push('/');
                    let value = match segment
                        .strip_prefix('{')
                        .and_then(|rest| rest.strip_suffix('}'))
                    {
                        None => segment.to_string(),
                        Some("application") | Some("cluster") => APP.to_string(),
                        Some("id") => id.clone(),
                        Some("stage_id") => stage_id.clone(),
                        Some("name") | Some("name_or_id") => PIPELINE.to_string(),
                        Some("master") => "ci".to_string(),
                        Some("job") => "build".to_string(),
                        Some("number") => "1".to_string(),
                        Some("account") => "default".to_string(),
                        Some("account_type") | Some("cloud_provider") => "aws".to_string(),
                        Some("region") => "us-east-1".to_string(),
                        Some("type") => "webhook".to_string(),
                        Some("source") => "canaries".to_string(),
                        Some(other) => format!("{other}-unknown"),
                    };
                    path.push_str(&value);
                }
                let query = match template.as_str() {
                    "/executions" => format!("?executionIds={}", execution_ids.join(",")),
                    "/serverGroups" => format!("?applications={APP}"),
                    "/cron/validate" => "?expression=0%200%2012%20*%20*%20%3F".to_string(),
                    t if t.ends_with("/pipelines") => "?expand=true".to_string(),
                    t if t.ends_with("evaluateExpression") => {
                        "?expression=%24%7Btrigger%7D".to_string()
                    }
                    _ => String::new(),
                };
                paths.insert(format!("{path}{query}"));
            }
        }
    }
    paths.insert(format!("/pipelineConfigs?pipelineConfigIds={pipeline_id}"));
    paths.insert(format!(
        "/applications/{APP}/pipelines?expand=true&limit=100"
    ));
    for page in [
        "/ui/applications".to_string(),
        format!("/ui/applications/{APP}"),
        format!("/ui/applications/{APP}/pipelines"),
        format!("/ui/applications/{APP}/pipelines/live"),
        format!("/ui/applications/{APP}/configs/{pipeline_id}"),
        format!("/ui/applications/{APP}/tasks"),
    ] {
        paths.insert(page);
    }
    for id in &execution_ids {
        paths.insert(format!("/ui/executions/{id}"));
        paths.insert(format!("/ui/executions/{id}/live"));
    }
    let mut answers = Vec::new();
    let mut answered = 0;
    for path in paths {
        let (status, text) = caller.send(reqwest::Method::GET, &path, None).await;
        answered += usize::from(status == 200);
        answers.push((format!("{path} ({status})"), text));
    }
    assert!(answered > 40, "most reads answer 200 ({answered})");
    answers
}

/// Every item of every table in the emulator (this test's own).
async fn scan_tables(app: &TestApp, canaries: &[Canary], findings: &mut Findings) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&app.running.sdk);
    let tables = dynamodb
        .list_tables()
        .send()
        .await
        .expect("ListTables")
        .table_names
        .unwrap_or_default();
    assert!(tables.len() >= 3, "{tables:?}");
    let mut items = 0;
    for table in &tables {
        // The table's role decides what it may hold (names carry the logical id).
        let name = table.to_ascii_lowercase();
        let role = if name.contains("pipeline") {
            "pipelines"
        } else if name.contains("execution") {
            "executions"
        } else {
            "other"
        };
        let mut start = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan");
            for item in page.items() {
                items += 1;
                findings.json(
                    canaries,
                    &format!("dynamodb:{role}"),
                    &format!("dynamodb:{role} item of {table}"),
                    &item_json(item),
                );
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    assert!(items > 10, "the scans read the tables ({items} items)");
}

/// The input and output of every Step Functions execution (stage and pipeline machines).
async fn scan_state_machines(app: &TestApp, canaries: &[Canary], findings: &mut Findings) {
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let machines = sfn
        .list_state_machines()
        .send()
        .await
        .expect("ListStateMachines");
    let mut runs = 0;
    for machine in machines.state_machines() {
        let listed = sfn
            .list_executions()
            .state_machine_arn(machine.state_machine_arn())
            .send()
            .await
            .expect("ListExecutions");
        for run in listed.executions() {
            let described = sfn
                .describe_execution()
                .execution_arn(run.execution_arn())
                .send()
                .await
                .expect("DescribeExecution");
            runs += 1;
            for text in [described.input(), described.output()]
                .into_iter()
                .flatten()
            {
                findings.json(
                    canaries,
                    "sfn",
                    &format!("sfn execution {}", run.name()),
                    &embedded_json(text),
                );
            }
        }
    }
    assert!(runs >= 4, "the stage machines' runs were read ({runs})");
}
