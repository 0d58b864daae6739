//! Email through SES (v2 API): plain text, from the configured sender (a verified SES
//! identity) to the entry's `address` list, with its `cc` list.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use gennaker_notify::{Outgoing, payload};
use serde_json::Value;

use super::{Channel, Sending};
use crate::NotifierConfig;

pub struct Email {
    ses: aws_sdk_sesv2::Client,
    sender: Option<String>,
}

impl Email {
    pub fn new(sdk: &aws_config::SdkConfig, config: &NotifierConfig) -> Self {
        Self {
            ses: aws_sdk_sesv2::Client::new(sdk),
            sender: config.email_sender.clone(),
        }
    }

    async fn send_email(&self, outgoing: &Outgoing) -> Result<(), String> {
        let sender = self.sender.as_deref().ok_or(
            "email notifications need a sender (NotificationEmailSender); none is configured",
        )?;
        let to = payload::recipients(&outgoing.address);
        let cc = outgoing
            .notification
            .get("cc")
            .and_then(Value::as_str)
            .map(payload::recipients)
            .unwrap_or_default();
        let email = payload::email(&outgoing.message);
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|error| error.to_string())
        };
        let message = Message::builder()
            .subject(text(&email.subject)?)
            .body(Body::builder().text(text(&email.body)?).build())
            .build();
        self.ses
            .send_email()
            .from_email_address(sender)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to))
                    .set_cc_addresses((!cc.is_empty()).then_some(cc))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|error| {
                format!(
                    "SES refused the email: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&error)
                )
            })?;
        Ok(())
    }
}

impl Channel for Email {
    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> Sending<'a> {
        Box::pin(self.send_email(outgoing))
    }
}
