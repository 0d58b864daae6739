//! The channels notifications go out through, one file each behind [`Channel`]: adding
//! Microsoft Teams or Google Chat is one more file and one more line in [`Channels::new`].

mod email;
mod slack;
mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use gennaker_notify::Outgoing;
use gennaker_outbound::{Outbound, OutboundResponse};

use crate::NotifierConfig;

/// A send in progress; the error is the reason, fit for the log.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// One notification channel (a notification `type`).
pub trait Channel: Send + Sync {
    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> Sending<'a>;
}

/// The channels by notification type.
pub struct Channels {
    by_type: BTreeMap<&'static str, Box<dyn Channel>>,
}

impl Channels {
    pub fn new(sdk: &aws_config::SdkConfig, outbound: Outbound, config: &NotifierConfig) -> Self {
        let mut by_type: BTreeMap<&'static str, Box<dyn Channel>> = BTreeMap::new();
        by_type.insert(
            "slack",
            Box::new(slack::Slack::new(sdk, outbound.clone(), config)),
        );
        by_type.insert("webhook", Box::new(webhook::Webhook::new(outbound)));
        by_type.insert("email", Box::new(email::Email::new(sdk, config)));
        Self { by_type }
    }

    pub async fn send(&self, outgoing: &Outgoing) -> Result<(), String> {
        match self.by_type.get(outgoing.channel.as_str()) {
            Some(channel) => channel.send(outgoing).await,
            // Spinnaker types Gennaker has no channel for (sms, pubsub, ...) are skipped, as
            // Echo skips types without an agent.
            None => {
                tracing::info!(channel = %outgoing.channel, "no channel for this notification type; skipped");
                Ok(())
            }
        }
    }
}

/// POSTs `payload` as JSON to `url` (checked by the outbound URL rules); any answer but 2xx
/// is a failure. The reason never names the URL: webhook URLs carry secrets in their path.
pub(crate) async fn post_json(
    outbound: &Outbound,
    url: &str,
    payload: &serde_json::Value,
    bearer: Option<&str>,
) -> Result<OutboundResponse, String> {
    let mut request = outbound
        .request(gennaker_outbound::Method::POST, url)
        .map_err(|error| error.to_string())?
        .json(payload);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = outbound
        .send(request)
        .await
        .map_err(|error| error.to_string())?;
    if !response.is_success() {
        return Err(format!("the receiver answered HTTP {}", response.status));
    }
    Ok(response)
}
