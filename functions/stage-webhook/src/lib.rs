//! The webhook stage worker (Orca's `WebhookStage`): calls `url`, and with `waitForCompletion`
//! polls a status URL until the status says the work is done; on cancel it calls
//! `cancelEndpoint`. Every URL goes through the outbound rules (no metadata endpoint, no
//! private ranges unless configured). The stage ends with the response in `context.webhook`.
//!
//! A stage whose type is a preconfigured webhook (`PRECONFIGURED_WEBHOOKS`, see
//! `gennaker_model::preconfigured`) runs with the operator's fields instead of its own; the
//! headers the operator keeps in Secrets Manager are read here, when the call is made, and
//! are never written into the stage.

pub mod webhook;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_model::ExecutionStatus;
use gennaker_model::preconfigured::PreconfiguredWebhooks;
use gennaker_outbound::{Outbound, OutboundError, OutboundResponse, RulesConfigError, UrlRules};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{LoadedStage, Store, Tables};
use gennaker_worker::{
    Answer, CancelNotice, Progress, StageInput, StageWorker, Task, WorkerError, exception,
};
use serde_json::{Map, Value, json};

use crate::webhook::{Call, Next};

/// Default seconds between two polls of a status URL.
pub const DEFAULT_POLL_SECONDS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    Rules(#[from] RulesConfigError),
    #[error("POLL_SECONDS: '{0}' is not a number of seconds")]
    PollSeconds(String),
    #[error("{0}")]
    PreconfiguredWebhooks(String),
}

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub executions_table: String,
    /// `ALLOWED_URL_PREFIXES`, `ALLOW_PRIVATE_NETWORKS` (see `gennaker_outbound`).
    pub rules: UrlRules,
    /// `POLL_SECONDS`: seconds between status polls (default 10).
    pub poll_seconds: u64,
    /// `PRECONFIGURED_WEBHOOKS`: the operator's webhook stage types.
    pub preconfigured: PreconfiguredWebhooks,
}

impl WebhookConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, ConfigError> {
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
            rules: UrlRules::from_env(env)?,
            poll_seconds: poll_seconds(env)?,
            preconfigured: PreconfiguredWebhooks::parse(
                env.optional("PRECONFIGURED_WEBHOOKS").as_deref(),
            )
            .map_err(ConfigError::PreconfiguredWebhooks)?,
        })
    }
}

/// `POLL_SECONDS` (default 10), shared by the polling workers.
pub fn poll_seconds(env: &FunctionEnv) -> Result<u64, ConfigError> {
    match env.optional("POLL_SECONDS") {
        None => Ok(DEFAULT_POLL_SECONDS),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError::PollSeconds(text)),
    }
}

#[derive(Clone)]
pub struct WebhookWorker {
    progress: Progress,
    outbound: Outbound,
    poll_seconds: u64,
    preconfigured: Arc<PreconfiguredWebhooks>,
    secrets: HeaderSecrets,
}

/// A header read from Secrets Manager: (header name, secret id, prefix).
type SecretHeader = (String, String, String);

/// How long a header secret is used before it is read again.
const SECRET_CACHE: Duration = Duration::from_secs(300);

/// Preconfigured webhooks' header secrets, read on use and kept for five minutes.
#[derive(Clone)]
struct HeaderSecrets {
    client: aws_sdk_secretsmanager::Client,
    cache: Arc<Mutex<BTreeMap<String, (String, Instant)>>>,
}

impl HeaderSecrets {
    /// The headers' values; `Err` names the header whose secret could not be read (never a
    /// value).
    async fn resolve(&self, headers: &[SecretHeader]) -> Result<Vec<(String, String)>, String> {
        let mut resolved = Vec::new();
        for (name, id, prefix) in headers {
            let value = self.read(id).await.map_err(|detail| {
                format!("reading the secret of the {name} header failed: {detail}")
            })?;
            resolved.push((name.clone(), format!("{prefix}{value}")));
        }
        Ok(resolved)
    }

    async fn read(&self, id: &str) -> Result<String, String> {
        if let Some((value, read)) = self.cache.lock().expect("cache lock").get(id)
            && read.elapsed() < SECRET_CACHE
        {
            return Ok(value.clone());
        }
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|error| {
                error
                    .as_service_error()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| error.to_string())
            })?;
        let value = output
            .secret_string()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or("the secret has no text value")?
            .to_string();
        self.cache
            .lock()
            .expect("cache lock")
            .insert(id.to_string(), (value.clone(), Instant::now()));
        Ok(value)
    }
}

impl StageWorker for WebhookWorker {
    const NAME: &'static str = "webhook";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, WebhookConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn paused_backoff_seconds(&self) -> u64 {
        self.poll_seconds
    }

    async fn on_timeout(
        &self,
        input: &StageInput,
        loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        Ok(Some(Answer::timed_out(wrap(recorded_webhook(
            input, loaded,
        )))))
    }

    async fn step(&self, task: &Task, loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        // The stage machine knows a preconfigured webhook's stage as `webhook`; its stored
        // stage has the operator's type.
        let stage_type = loaded.stage.stage_type.clone();
        if stage_type == "webhook" {
            return self.poll(&task.stage, loaded, &[]).await.map(Some);
        }
        let Some(hook) = self.preconfigured.get(&stage_type) else {
            let error = format!("no preconfigured webhook has the type '{stage_type}'");
            return Ok(Some(terminal(error, Map::new())));
        };
        let resolved = match hook.resolve(&task.stage.context) {
            Ok(resolved) => resolved,
            Err(error) => return Ok(Some(terminal(error, Map::new()))),
        };
        let mut input = task.stage.clone();
        input.context = resolved.context;
        self.poll(&input, loaded, &resolved.secret_headers)
            .await
            .map(Some)
    }

    async fn cancel(&self, notice: CancelNotice) -> Result<(), WorkerError> {
        self.handle_cancel(notice).await
    }
}

/// The webhook's progress: the previous answer of this attempt, else what an earlier
/// delivery of this message recorded on the stage.
fn recorded_webhook(input: &StageInput, loaded: &LoadedStage) -> Map<String, Value> {
    input
        .previous_context()
        .get("webhook")
        .or_else(|| loaded.stage.context.get("webhook"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

impl WebhookWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: WebhookConfig) -> Self {
        let tables = Tables {
            // Only stage items of executions; the role has no access to other tables.
            applications: String::new(),
            pipelines: String::new(),
            executions: config.executions_table,
        };
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), tables);
        Self {
            progress: Progress::new(
                Some(store),
                StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
            ),
            outbound: Outbound::new(config.rules),
            poll_seconds: config.poll_seconds,
            preconfigured: Arc::new(config.preconfigured),
            secrets: HeaderSecrets {
                client: aws_sdk_secretsmanager::Client::new(sdk),
                cache: Arc::default(),
            },
        }
    }

    /// One poll: create the webhook, or check its status. `secret` headers are read from
    /// Secrets Manager and sent, never recorded.
    async fn poll(
        &self,
        input: &StageInput,
        loaded: LoadedStage,
        secret: &[SecretHeader],
    ) -> Result<Answer, WorkerError> {
        let webhook = recorded_webhook(input, &loaded);
        if webhook.get("sent") == Some(&json!(true)) {
            // A redelivery of the poll that sent a fire-and-forget webhook: never twice.
            return Ok(finish(ExecutionStatus::Succeeded, None, webhook));
        }
        let extra = match self.secrets.resolve(secret).await {
            Ok(extra) => extra,
            Err(error) => return Ok(terminal(error, webhook)),
        };
        if let Some(endpoint) = webhook.get("statusEndpoint").and_then(Value::as_str) {
            return Ok(self
                .monitor(input, endpoint.to_string(), webhook, &extra)
                .await);
        }
        self.create(input, loaded, webhook, &extra).await
    }

    async fn create(
        &self,
        input: &StageInput,
        loaded: LoadedStage,
        previous: Map<String, Value>,
        extra: &[(String, String)],
    ) -> Result<Answer, WorkerError> {
        let config = &input.context;
        let call = match webhook::create_call(config) {
            Ok(call) => call,
            Err(error) => return Ok(terminal(error, Map::new())),
        };
        let attempt = previous
            .get("createAttempts")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32
            + 1;
        let response = match self.send(&call, extra).await {
            Ok(response) => response,
            Err(error) if error.is_retryable() => {
                let mut webhook = Map::new();
                webhook.insert("error".into(), json!(error.to_string()));
                if attempt < webhook::DEFAULT_CREATE_ATTEMPTS {
                    webhook.insert("createAttempts".into(), json!(attempt));
                    return Ok(Answer::running(self.poll_seconds, wrap(webhook)));
                }
                let message = format!("{error} (tried {attempt} times)");
                return Ok(terminal(message, webhook));
            }
            Err(error) => {
                let webhook = Map::from_iter([("error".to_string(), json!(error.to_string()))]);
                return Ok(terminal(error.to_string(), webhook));
            }
        };
        let mut webhook = webhook::response_context(&response);
        match webhook::after_create(config, &response, attempt) {
            Next::Poll { .. } => {
                webhook.insert("createAttempts".into(), json!(attempt));
                Ok(Answer::running(self.poll_seconds, wrap(webhook)))
            }
            Next::Finish {
                status,
                error: Some(error),
            } => {
                webhook.insert("error".into(), json!(error));
                Ok(finish(status, Some(error), webhook))
            }
            Next::Finish {
                status,
                error: None,
            } if !webhook::waits_for_completion(config) => {
                // Recorded before answering, so a redelivered message does not send it again.
                webhook.insert("sent".into(), json!(true));
                let context = wrap(webhook.clone());
                if self
                    .progress
                    .record(input, loaded, &context)
                    .await?
                    .is_none()
                {
                    return Ok(Answer::finished(
                        ExecutionStatus::Canceled,
                        context,
                        Map::new(),
                    ));
                }
                Ok(finish(status, None, webhook))
            }
            Next::Finish { .. } => {
                let endpoint = match webhook::status_endpoint(config, &response) {
                    Ok(endpoint) => endpoint,
                    Err(error) => {
                        let error = format!("Exception while resolving status check URL: {error}");
                        webhook.insert("error".into(), json!(error));
                        return Ok(terminal(error, webhook));
                    }
                };
                webhook.insert("statusEndpoint".into(), json!(endpoint));
                let progress = wrap(webhook.clone());
                let mut context = progress.clone();
                context.insert("statusEndpoint".into(), json!(endpoint));
                if self
                    .progress
                    .record(input, loaded, &context)
                    .await?
                    .is_none()
                {
                    // Canceled while the webhook was being called: nobody else knows it was.
                    tracing::info!("the stage was canceled while its webhook was called");
                    self.call_cancel_endpoint(config).await?;
                    return Ok(Answer::finished(
                        ExecutionStatus::Canceled,
                        context,
                        Map::new(),
                    ));
                }
                let wait = webhook::wait_before_monitor(config).unwrap_or(self.poll_seconds);
                Ok(Answer::running(wait, context))
            }
        }
    }

    async fn monitor(
        &self,
        input: &StageInput,
        endpoint: String,
        mut webhook: Map<String, Value>,
        extra: &[(String, String)],
    ) -> Answer {
        let config = &input.context;
        let call = match webhook::monitor_call(config, &endpoint) {
            Ok(call) => call,
            Err(error) => return terminal(error, webhook),
        };
        let mut monitor = webhook
            .get("monitor")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let next = match self.send(&call, extra).await {
            Ok(response) => {
                monitor.remove("error");
                webhook::after_monitor(config, &response, &mut monitor)
            }
            Err(error) if error.is_retryable() => {
                let failures = monitor
                    .get("unreachable")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    + 1;
                monitor.insert("unreachable".into(), json!(failures));
                monitor.insert("error".into(), json!(error.to_string()));
                if failures >= u64::from(webhook::MAX_MONITOR_ERRORS) {
                    Next::Finish {
                        status: ExecutionStatus::Terminal,
                        error: Some(format!("{error} ({failures} times in a row)")),
                    }
                } else {
                    Next::Poll { wait: None }
                }
            }
            Err(error) => {
                monitor.insert("error".into(), json!(error.to_string()));
                Next::Finish {
                    status: ExecutionStatus::Terminal,
                    error: Some(error.to_string()),
                }
            }
        };
        if matches!(next, Next::Finish { .. }) || !monitor.contains_key("error") {
            monitor.remove("unreachable");
        }
        webhook.insert("monitor".into(), Value::Object(monitor));
        match next {
            Next::Poll { wait } => {
                Answer::running(wait.unwrap_or(self.poll_seconds), wrap(webhook))
            }
            Next::Finish { status, error } => finish(status, error, webhook),
        }
    }

    /// Calls `cancelEndpoint` of a canceled stage whose webhook was sent.
    pub async fn handle_cancel(&self, notice: CancelNotice) -> Result<(), WorkerError> {
        let Some(context) = self.progress.cancel_to_handle(&notice).await? else {
            return Ok(());
        };
        // Preconfigured webhooks offer no cancel endpoint; the stage's own fields do not count.
        if context.contains_key("webhook") && notice.stage_type == "webhook" {
            self.call_cancel_endpoint(&context).await?;
        }
        self.progress.cancel_handled(&notice).await
    }

    /// `Err` (the message comes back) only when the endpoint could not be reached.
    async fn call_cancel_endpoint(&self, context: &Map<String, Value>) -> Result<(), WorkerError> {
        let call = match webhook::cancel_call(context) {
            Ok(Some(call)) => call,
            Ok(None) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, "the cancel endpoint is misconfigured");
                return Ok(());
            }
        };
        match self.send(&call, &[]).await {
            Ok(response) => {
                tracing::info!(status = response.status, "called the cancel endpoint");
                Ok(())
            }
            Err(error) if error.is_retryable() => Err(WorkerError::BadMessage(format!(
                "the cancel endpoint could not be reached: {error}"
            ))),
            Err(error) => {
                tracing::warn!(%error, "the cancel endpoint was not called");
                Ok(())
            }
        }
    }

    /// Sends `call` with the `extra` headers (read from secrets, never part of the call's
    /// recorded context).
    async fn send(
        &self,
        call: &Call,
        extra: &[(String, String)],
    ) -> Result<OutboundResponse, OutboundError> {
        let mut request = self.outbound.request(call.method.clone(), &call.url)?;
        for (name, value) in call.headers.iter().chain(extra) {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        self.outbound.send(request).await
    }
}

fn wrap(webhook: Map<String, Value>) -> Map<String, Value> {
    Map::from_iter([("webhook".to_string(), Value::Object(webhook))])
}

fn terminal(error: String, webhook: Map<String, Value>) -> Answer {
    finish(ExecutionStatus::Terminal, Some(error), webhook)
}

fn finish(status: ExecutionStatus, error: Option<String>, webhook: Map<String, Value>) -> Answer {
    let mut context = wrap(webhook);
    if let Some(error) = error {
        context.insert("exception".into(), exception(&error));
    }
    Answer::finished(status, context, Map::new())
}

#[cfg(test)]
mod sample_events {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use gennaker_runtime::batch::parse_body;
    use gennaker_worker::WorkerMessage;

    /// The sample event in `events/` (used with `cargo lambda invoke`) must stay readable.
    #[test]
    fn sample_event_parses_into_a_task_message() {
        let path = format!(
            "{}/../../events/webhook-task.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let WorkerMessage::Task(task) = parse_body(&event.records[0]).unwrap() else {
            panic!("not a task message");
        };
        assert_eq!(task.stage.stage_type, "webhook");
        assert!(webhook::create_call(&task.stage.context).is_ok());
    }
}
