//! Which notifications a lifecycle event fires (Echo's AbstractEventNotificationAgent,
//! and the manual judgment notifications of Orca's `ManualJudgmentStage`).

use serde_json::{Map, Value, json};

use crate::MANUAL_JUDGMENT_WHENS;
use crate::message::{self, Message};

/// One notification to send: the configured entry, the `when` that fired, and its message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The entry's `type` (`slack`, `email`, `webhook`, ...).
    pub channel: String,
    pub address: String,
    pub when: String,
    /// The configured entry as saved (`cc`, `message`, unknown fields).
    pub notification: Map<String, Value>,
    pub message: Message,
}

impl Outgoing {
    /// Names this send within its event (for "already sent" markers).
    pub fn key(&self) -> String {
        format!("{}#{}#{}", self.channel, self.address, self.when)
    }
}

/// The notifications `detail_type` (`orca:pipeline:complete`, `orca:stage:starting`, ...)
/// with `detail` (Echo's `content`: `execution`, and for stages `stageId`, `context`, ...)
/// fires. `application_notifications` are the application-level entries, merged into
/// pipeline-level events only.
pub fn plan(
    detail_type: &str,
    detail: &Value,
    application_notifications: &[Value],
    ui_base_url: &str,
) -> Vec<Outgoing> {
    let Some(execution) = detail.get("execution").filter(|e| e.is_object()) else {
        return vec![];
    };
    if is_canceled(execution) || detail.get("canceled") == Some(&Value::Bool(true)) {
        return vec![];
    }
    let parts: Vec<&str> = detail_type.split(':').collect();
    match parts.as_slice() {
        [
            "orca",
            kind @ ("pipeline" | "orchestration"),
            phase @ ("starting" | "complete" | "failed"),
        ] => {
            let when = format!("{kind}.{phase}");
            let configured = array(execution, "notifications");
            let notifications =
                merge_application_notifications(configured, application_notifications);
            selected(&notifications, &when, |_| true)
                .map(|entry| outgoing(entry, &when, execution, None, ui_base_url))
                .collect()
        }
        ["orca", "stage", phase] => stage_notifications(phase, detail, execution, ui_base_url),
        _ => vec![],
    }
}

/// Application-level entries merged into an execution's (Echo's `NotificationService`): an execution entry
/// with the same type and address takes over the `when` values both name; what is left of the
/// application entry still applies.
pub fn merge_application_notifications(execution: &[Value], application: &[Value]) -> Vec<Value> {
    let mut merged = execution.to_vec();
    for entry in application {
        let overridden: Vec<&str> = execution
            .iter()
            .filter(|own| same_target(own, entry))
            .flat_map(whens)
            .collect();
        let remaining: Vec<&str> = whens(entry)
            .filter(|when| !overridden.contains(when))
            .collect();
        if remaining.is_empty() {
            continue;
        }
        let mut entry = entry.clone();
        entry["when"] = json!(remaining);
        merged.push(entry);
    }
    merged
}

/// Stage events notify only when the stage asks for it (`sendNotifications: true`), never for
/// synthetic stages, and never for entries that name a manual judgment `when` (those are
/// sent for the judgment itself: waiting, continued, stopped).
fn stage_notifications(
    phase: &str,
    detail: &Value,
    execution: &Value,
    ui_base_url: &str,
) -> Vec<Outgoing> {
    if detail.get("isSynthetic") == Some(&Value::Bool(true)) {
        return vec![];
    }
    let Some(context) = detail.get("context").filter(|c| c.is_object()) else {
        return vec![];
    };
    if context.get("sendNotifications") != Some(&Value::Bool(true)) {
        return vec![];
    }
    let stage_id = detail
        .get("stageId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let stage = stage_of(execution, stage_id);
    let notifications = array(context, "notifications");
    let stage_view = message::StageView {
        id: stage_id,
        name: detail
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        status: stage
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            .unwrap_or_default(),
        context,
    };
    let mut fired = Vec::new();
    if matches!(phase, "starting" | "complete" | "failed") {
        let when = format!("stage.{phase}");
        fired.extend(
            selected(notifications, &when, |entry| !names_manual_judgment(entry))
                .map(|entry| outgoing(entry, &when, execution, Some(&stage_view), ui_base_url)),
        );
    }
    let is_judgment =
        stage.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("manualJudgment");
    if let Some(when) = judgment_when(phase, context).filter(|_| is_judgment) {
        fired.extend(
            selected(notifications, when, |_| true)
                .map(|entry| outgoing(entry, when, execution, Some(&stage_view), ui_base_url)),
        );
    }
    fired
}

/// `manualJudgment` when the judgment starts waiting; `manualJudgmentContinue` or
/// `manualJudgmentStop` when it ends with that `judgmentStatus` (any case).
fn judgment_when(phase: &str, context: &Value) -> Option<&'static str> {
    let status = context
        .get("judgmentStatus")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    match (phase, status.as_deref()) {
        ("starting", _) => Some("manualJudgment"),
        ("complete" | "failed", Some("continue")) => Some("manualJudgmentContinue"),
        ("complete" | "failed", Some("stop")) => Some("manualJudgmentStop"),
        _ => None,
    }
}

fn outgoing(
    entry: &Value,
    when: &str,
    execution: &Value,
    stage: Option<&message::StageView>,
    ui_base_url: &str,
) -> Outgoing {
    Outgoing {
        channel: text(entry, "type").to_string(),
        address: text(entry, "address").to_string(),
        when: when.to_string(),
        notification: entry.as_object().cloned().unwrap_or_default(),
        message: message::compose(entry, when, execution, stage, ui_base_url),
    }
}

/// Entries with a type and an address whose `when` names `when` and that `keep` accepts.
fn selected<'a>(
    entries: &'a [Value],
    when: &'a str,
    keep: impl Fn(&Value) -> bool + 'a,
) -> impl Iterator<Item = &'a Value> + 'a {
    entries.iter().filter(move |entry| {
        !text(entry, "type").is_empty()
            && !text(entry, "address").trim().is_empty()
            && whens(entry).any(|named| named == when)
            && keep(entry)
    })
}

fn names_manual_judgment(entry: &Value) -> bool {
    whens(entry).any(|when| MANUAL_JUDGMENT_WHENS.contains(&when))
}

fn same_target(a: &Value, b: &Value) -> bool {
    text(a, "type") == text(b, "type") && text(a, "address") == text(b, "address")
}

fn whens(entry: &Value) -> impl Iterator<Item = &str> {
    array(entry, "when").iter().filter_map(Value::as_str)
}

fn is_canceled(execution: &Value) -> bool {
    execution.get("canceled") == Some(&Value::Bool(true))
        || execution.get("status").and_then(Value::as_str) == Some("CANCELED")
}

fn stage_of<'a>(execution: &'a Value, stage_id: &str) -> Option<&'a Value> {
    array(execution, "stages")
        .iter()
        .find(|stage| stage.get("id").and_then(Value::as_str) == Some(stage_id))
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}
