//! What a notification says: a one-line subject, the text (the entry's custom `message` for
//! the `when`, evaluated as a pipeline expression, or a default), and the link to the
//! execution in the UI (Echo's `<spinnaker.base-url>/#/applications/...`).

use gennaker_expressions::{EvaluationContext, evaluate_value};
use serde_json::{Value, json};

/// The message of one notification, channel independent.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub when: String,
    pub subject: String,
    pub text: String,
    pub link: String,
    pub application: String,
    pub execution_id: String,
    pub pipeline_name: String,
    /// The execution's status for execution events, the stage's for stage events.
    pub status: String,
    pub stage_id: Option<String>,
    pub stage_name: Option<String>,
}

/// The stage a stage event is about.
pub(crate) struct StageView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub context: &'a Value,
}

/// Deck's page of the execution: `#/applications/{app}/executions/details/{id}` for
/// pipelines, `#/applications/{app}/tasks/{id}` for orchestrations (ad-hoc tasks).
pub fn execution_link(ui_base_url: &str, execution: &Value) -> String {
    let application = field(execution, "application");
    let id = field(execution, "id");
    let base = ui_base_url.trim_end_matches('/');
    match field(execution, "type") {
        "ORCHESTRATION" | "orchestration" => {
            format!("{base}/#/applications/{application}/tasks/{id}")
        }
        _ => format!("{base}/#/applications/{application}/executions/details/{id}"),
    }
}

pub(crate) fn compose(
    entry: &Value,
    when: &str,
    execution: &Value,
    stage: Option<&StageView>,
    ui_base_url: &str,
) -> Message {
    let subject = default_subject(when, execution, stage);
    let text =
        custom_text(entry, when, execution).unwrap_or_else(|| default_text(&subject, when, stage));
    Message {
        when: when.to_string(),
        subject,
        text,
        link: execution_link(ui_base_url, execution),
        application: field(execution, "application").to_string(),
        execution_id: field(execution, "id").to_string(),
        pipeline_name: execution_name(execution).to_string(),
        status: match stage {
            Some(stage) => stage.status.to_string(),
            None => field(execution, "status").to_string(),
        },
        stage_id: stage.map(|stage| stage.id.to_string()),
        stage_name: stage.map(|stage| stage.name.to_string()),
    }
}

/// The entry's `message.<when>.text`, as Deck saves it, with its expressions evaluated
/// against the execution. An expression that fails stays as written: a custom text never
/// stops a notification.
fn custom_text(entry: &Value, when: &str, execution: &Value) -> Option<String> {
    let raw = entry.get("message")?.get(when)?.get("text")?.as_str()?;
    if raw.trim().is_empty() {
        return None;
    }
    let evaluated = evaluate_value(&json!(raw), &EvaluationContext::for_execution(execution));
    Some(match evaluated.value {
        Value::String(text) => text,
        Value::Null => raw.to_string(),
        other => other.to_string(),
    })
}

fn default_subject(when: &str, execution: &Value, stage: Option<&StageView>) -> String {
    let application = field(execution, "application");
    let name = execution_name(execution);
    let kind = match field(execution, "type") {
        "ORCHESTRATION" | "orchestration" => "Task",
        _ => "Pipeline",
    };
    let what = match stage {
        Some(stage) => format!("Stage {} of pipeline {name} ({application})", stage.name),
        None => format!("{kind} {name} of {application}"),
    };
    let status = field(execution, "status");
    let happened = match when.rsplit('.').next().unwrap_or(when) {
        "starting" => "is starting".to_string(),
        "complete" => "completed".to_string(),
        "failed" if stage.is_some() => format!("failed ({})", stage.map_or("", |s| s.status)),
        "failed" => format!("failed ({status})"),
        "manualJudgment" => "is awaiting manual judgment".to_string(),
        "manualJudgmentContinue" => format!("was judged to continue{}", judged_by(stage)),
        "manualJudgmentStop" => format!("was judged to stop{}", judged_by(stage)),
        other => other.to_string(),
    };
    format!("{what} {happened}")
}

/// The subject, plus a waiting judgment's instructions and options, or the chosen option.
fn default_text(subject: &str, when: &str, stage: Option<&StageView>) -> String {
    let Some(context) = stage.map(|stage| stage.context) else {
        return subject.to_string();
    };
    let mut text = subject.to_string();
    if when == "manualJudgment" {
        if let Some(instructions) = context.get("instructions").and_then(Value::as_str) {
            text.push_str(&format!("\nInstructions: {instructions}"));
        }
        let options: Vec<&str> = context
            .get("judgmentInputs")
            .and_then(Value::as_array)
            .map(|inputs| {
                inputs
                    .iter()
                    .filter_map(|i| i.get("value")?.as_str())
                    .collect()
            })
            .unwrap_or_default();
        if !options.is_empty() {
            text.push_str(&format!("\nOptions: {}", options.join(", ")));
        }
    } else if let Some(input) = context.get("judgmentInput").and_then(Value::as_str) {
        text.push_str(&format!("\nInput: {input}"));
    }
    text
}

fn judged_by(stage: Option<&StageView>) -> String {
    stage
        .and_then(|stage| stage.context.get("lastModifiedBy")?.as_str())
        .map(|user| format!(" by {user}"))
        .unwrap_or_default()
}

fn execution_name(execution: &Value) -> &str {
    [
        field(execution, "name"),
        field(execution, "description"),
        field(execution, "id"),
    ]
    .into_iter()
    .find(|name| !name.is_empty())
    .unwrap_or_default()
}

fn field<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}
