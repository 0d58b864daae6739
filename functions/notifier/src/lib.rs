//! Notifications (Spinnaker's Echo notification agents): an EventBridge rule routes the
//! lifecycle events to this function's queue; each event is planned by `gennaker_notify`
//! (pipeline-, stage-, application-level and manual judgment notifications) and each
//! notification goes out through its channel. A failed send fails the message, so SQS
//! redelivers it and finally dead-letters it; sends that succeeded are marked (event id +
//! type + address + when) and not repeated when the event comes back.

mod channels;

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_notify::Outgoing;
use gennaker_outbound::{Outbound, RulesConfigError, UrlRules};
use gennaker_runtime::batch::{parse_body, process_each};
use gennaker_runtime::metrics;
use gennaker_store::{Store, StoreError, Tables};
use serde_json::Value;

use crate::channels::Channels;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    BadMessage(String),
    #[error("{failed} of {planned} notifications failed")]
    SendsFailed { failed: usize, planned: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    Rules(#[from] RulesConfigError),
}

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub pipelines_table: String,
    pub executions_table: String,
    /// Deck's address, for links to executions (`UI_BASE_URL`).
    pub ui_base_url: String,
    /// Slack's Web API (`SLACK_API_URL`, `https://slack.com/api` by default).
    pub slack_api_url: String,
    /// Secrets Manager secret holding the Slack bot token (`SLACK_BOT_TOKEN_SECRET`); without
    /// it only incoming-webhook addresses work.
    pub slack_bot_token_secret: Option<String>,
    /// The verified SES identity emails come from (`EMAIL_SENDER`).
    pub email_sender: Option<String>,
    pub rules: UrlRules,
    /// How long "already sent" markers are kept.
    pub marker_ttl_seconds: i64,
}

impl NotifierConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, ConfigError> {
        Ok(Self {
            pipelines_table: env.required("PIPELINES_TABLE")?,
            executions_table: env.required("EXECUTIONS_TABLE")?,
            ui_base_url: env.required("UI_BASE_URL")?,
            slack_api_url: env
                .optional("SLACK_API_URL")
                .unwrap_or_else(|| "https://slack.com/api".to_string()),
            slack_bot_token_secret: env.optional("SLACK_BOT_TOKEN_SECRET"),
            email_sender: env.optional("EMAIL_SENDER"),
            rules: UrlRules::from_env(env)?,
            marker_ttl_seconds: 7 * 24 * 3600,
        })
    }
}

#[derive(Clone)]
pub struct Notifier {
    store: Store,
    channels: Arc<Channels>,
    ui_base_url: String,
    marker_ttl_seconds: i64,
}

impl Notifier {
    pub fn new(sdk: &aws_config::SdkConfig, config: NotifierConfig) -> Self {
        let tables = Tables {
            applications: String::new(),
            pipelines: config.pipelines_table.clone(),
            executions: config.executions_table.clone(),
        };
        let outbound = Outbound::new(config.rules.clone());
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), tables),
            channels: Arc::new(Channels::new(sdk, outbound, &config)),
            ui_base_url: config.ui_base_url,
            marker_ttl_seconds: config.marker_ttl_seconds,
        }
    }

    /// Each message is an EventBridge event (`detail-type` = Echo's type, `detail` = its
    /// content); failed messages are reported one by one.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_each(event, |message| async move {
            let event: Value = parse_body(&message).map_err(NotifyError::BadMessage)?;
            self.handle(&event).await
        })
        .await
    }

    pub async fn handle(&self, event: &Value) -> Result<(), NotifyError> {
        let detail_type = event
            .get("detail-type")
            .and_then(Value::as_str)
            .ok_or_else(|| NotifyError::BadMessage("no detail-type".into()))?;
        let detail = event
            .get("detail")
            .ok_or_else(|| NotifyError::BadMessage("no detail".into()))?;
        let event_id = detail
            .get("eventId")
            .and_then(Value::as_str)
            .or_else(|| event.get("id").and_then(Value::as_str))
            .unwrap_or_default();
        let application_notifications = self.application_notifications(detail_type, detail).await?;
        let planned = gennaker_notify::plan(
            detail_type,
            detail,
            &application_notifications,
            &self.ui_base_url,
        );
        let mut failed = 0;
        for outgoing in &planned {
            if !self.send_once(event_id, outgoing).await? {
                failed += 1;
            }
        }
        if failed > 0 {
            return Err(NotifyError::SendsFailed {
                failed,
                planned: planned.len(),
            });
        }
        Ok(())
    }

    /// Sends unless an earlier delivery of the event sent it; false when the send failed
    /// (logged with the execution, channel and reason).
    async fn send_once(&self, event_id: &str, outgoing: &Outgoing) -> Result<bool, NotifyError> {
        let key = outgoing.key();
        if self.store.notification_sent(event_id, &key).await? {
            return Ok(true);
        }
        let execution_id = &outgoing.message.execution_id;
        match self.channels.send(outgoing).await {
            Ok(()) => {
                tracing::info!(execution_id, channel = %outgoing.channel, when = %outgoing.when, "notification sent");
                notification_metric(metrics::NOTIFICATIONS_SENT, outgoing);
                self.store
                    .mark_notification_sent(event_id, &key, self.marker_ttl_seconds)
                    .await?;
                Ok(true)
            }
            Err(reason) => {
                tracing::warn!(execution_id, channel = %outgoing.channel, when = %outgoing.when, %reason, "notification failed; the event will be retried");
                notification_metric(metrics::NOTIFICATION_FAILURES, outgoing);
                Ok(false)
            }
        }
    }

    /// Application-level preferences apply to execution events only; they are read at send
    /// time, so a change applies to every later notification (Echo merges them when it
    /// handles each event, too).
    async fn application_notifications(
        &self,
        detail_type: &str,
        detail: &Value,
    ) -> Result<Vec<Value>, NotifyError> {
        if detail_type.starts_with("orca:stage:") {
            return Ok(vec![]);
        }
        let Some(application) = detail
            .pointer("/execution/application")
            .and_then(Value::as_str)
        else {
            return Ok(vec![]);
        };
        let preferences = self.store.application_notifications(application).await?;
        Ok(application_entries(preferences.unwrap_or_default()))
    }
}

/// Front50's `{slack: [...], email: [...]}` flattened, each entry with its `type`.
fn application_entries(preferences: serde_json::Map<String, Value>) -> Vec<Value> {
    preferences
        .into_iter()
        .filter_map(|(kind, entries)| match entries {
            Value::Array(entries) => Some((kind, entries)),
            _ => None,
        })
        .flat_map(|(kind, entries)| {
            entries
                .into_iter()
                .filter(Value::is_object)
                .map(move |mut entry| {
                    if entry.get("type").is_none() {
                        entry["type"] = Value::String(kind.clone());
                    }
                    entry
                })
        })
        .collect()
}

/// A notification sent or failed, by channel (`slack`, `email`, `webhook`, ...).
fn notification_metric(name: &str, outgoing: &Outgoing) {
    metrics::count(
        name,
        &[("NotificationType", &outgoing.channel)],
        &[("executionId", &outgoing.message.execution_id)],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The sample event in `events/` (used with `cargo lambda invoke`) plans the judgment's
    /// Slack notification.
    #[test]
    fn sample_event_plans_a_manual_judgment_notification() {
        let path = format!(
            "{}/../../events/notification-stage-starting-event.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let planned = gennaker_notify::plan(
            event["detail-type"].as_str().unwrap(),
            &event["detail"],
            &[],
            "https://deck.example.com",
        );
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].when, "manualJudgment");
        assert_eq!(planned[0].channel, "slack");
    }

    #[test]
    fn application_preferences_flatten_with_their_type() {
        let preferences = json!({
            "application": "demo",
            "slack": [{"address": "#a", "when": ["pipeline.complete"]}],
            "email": [{"address": "x@example.com", "when": ["pipeline.failed"], "type": "email"}, "junk"],
        });
        let entries = application_entries(preferences.as_object().unwrap().clone());
        let types: Vec<&str> = entries.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(types, vec!["slack", "email"]);
    }
}
