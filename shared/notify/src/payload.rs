//! What each channel sends for a [`Message`]. One function per channel; a new channel (MS
//! Teams, Google Chat) adds one here and one sender in the notifier.

use serde_json::{Value, json};

use crate::Message;

/// Slack's message: `text` (the fallback line notifications show) and one attachment with the
/// colour of the outcome, the title linking to the execution, and the text. With `channel`
/// it is a `chat.postMessage` call; without, an incoming-webhook post.
pub fn slack(message: &Message, channel: Option<&str>) -> Value {
    let mut payload = json!({
        "text": format!("{}: {}", message.subject, message.link),
        "attachments": [{
            "fallback": message.text,
            "color": color(&message.when),
            "title": message.subject,
            "title_link": message.link,
            "text": message.text,
        }],
    });
    if let Some(channel) = channel {
        payload["channel"] = json!(channel.trim_start_matches('#'));
    }
    payload
}

/// The generic webhook's JSON body.
pub fn webhook(message: &Message) -> Value {
    json!({
        "event": message.when,
        "application": message.application,
        "pipeline": message.pipeline_name,
        "executionId": message.execution_id,
        "status": message.status,
        "stage": message.stage_id.as_ref().map(|id| json!({"id": id, "name": message.stage_name})),
        "subject": message.subject,
        "message": message.text,
        "link": message.link,
    })
}

/// An email's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

pub fn email(message: &Message) -> Email {
    Email {
        subject: message.subject.clone(),
        body: format!("{}\n\n{}\n", message.text, message.link),
    }
}

/// The addresses of an `address` or `cc` field: Deck lets users list several, separated by
/// commas, semicolons or spaces.
pub fn recipients(field: &str) -> Vec<String> {
    field
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(str::to_string)
        .collect()
}

fn color(when: &str) -> &'static str {
    match when {
        w if w.ends_with(".complete") || w == "manualJudgmentContinue" => "#2eb886",
        w if w.ends_with(".failed") || w == "manualJudgmentStop" => "#b82525",
        _ => "#439fe0",
    }
}
