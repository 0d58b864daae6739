//! Slack: an `address` that is a URL is an incoming webhook and gets the message posted to
//! it; any other address is a channel, posted to through the Web API's `chat.postMessage`
//! with the bot token from Secrets Manager.

use gennaker_notify::{Outgoing, payload};
use gennaker_outbound::Outbound;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{Channel, Sending, post_json};
use crate::NotifierConfig;

pub struct Slack {
    outbound: Outbound,
    api_url: String,
    token: BotToken,
}

impl Slack {
    pub fn new(sdk: &aws_config::SdkConfig, outbound: Outbound, config: &NotifierConfig) -> Self {
        Self {
            outbound,
            api_url: config.slack_api_url.trim_end_matches('/').to_string(),
            token: BotToken {
                secret: config.slack_bot_token_secret.clone(),
                secrets: aws_sdk_secretsmanager::Client::new(sdk),
                value: OnceCell::new(),
            },
        }
    }

    async fn post_message(&self, outgoing: &Outgoing) -> Result<(), String> {
        let token = self.token.get().await?;
        let body = payload::slack(&outgoing.message, Some(&outgoing.address));
        let url = format!("{}/chat.postMessage", self.api_url);
        let response = post_json(&self.outbound, &url, &body, Some(token)).await?;
        // The Web API answers 200 with {"ok": false, "error": "..."} when it refuses.
        let answer = response.json().unwrap_or(Value::Null);
        if answer.get("ok") == Some(&Value::Bool(true)) {
            return Ok(());
        }
        let error = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no ok in the answer");
        Err(format!("Slack refused the message: {error}"))
    }
}

impl Channel for Slack {
    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let address = outgoing.address.trim();
            if address.starts_with("https://") || address.starts_with("http://") {
                let body = payload::slack(&outgoing.message, None);
                post_json(&self.outbound, address, &body, None)
                    .await
                    .map(|_| ())
            } else {
                self.post_message(outgoing).await
            }
        })
    }
}

/// The bot token, read from Secrets Manager on first use and kept for the function's life.
struct BotToken {
    secret: Option<String>,
    secrets: aws_sdk_secretsmanager::Client,
    value: OnceCell<String>,
}

impl BotToken {
    async fn get(&self) -> Result<&str, String> {
        let Some(secret) = &self.secret else {
            return Err("Slack channel addresses need a bot token (SlackBotTokenSecret); none is configured".into());
        };
        self.value
            .get_or_try_init(|| async {
                let output = self
                    .secrets
                    .get_secret_value()
                    .secret_id(secret)
                    .send()
                    .await
                    .map_err(|error| {
                        format!("reading the Slack bot token secret failed: {error}")
                    })?;
                output
                    .secret_string()
                    .map(str::trim)
                    .filter(|token| !token.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| "the Slack bot token secret is empty".to_string())
            })
            .await
            .map(String::as_str)
    }
}
