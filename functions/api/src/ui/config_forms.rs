//! Form editors for a pipeline config's triggers, parameters and notifications (Deck's
//! "Automated triggers", "Parameters" and "Notifications" sections). Each form rewrites only
//! the fields it shows and keeps every other field of an entry as stored, so a trigger type
//! or a field this page does not know survives an edit here (the JSON editor shows it all).
//!
//! Field names are `{entry}.{index}.{field}` for existing entries and `{entry}.new.{field}`
//! for the one entry a form may add.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::config::{edit_and_save, section_back};
use super::gate::Gate;
use super::layout;
use super::{CsrfToken, Fields};

/// Trigger types with fields this page edits; others are listed and kept, edited as JSON.
const TRIGGER_TYPES: [&str; 4] = ["cron", "webhook", "jenkins", "pipeline"];
/// Execution statuses a pipeline trigger can wait for (Deck's choices).
const PIPELINE_TRIGGER_STATUSES: [&str; 3] = ["successful", "failed", "canceled"];
/// Channels the notifier sends to.
const NOTIFICATION_TYPES: [&str; 2] = ["email", "slack"];
/// Pipeline-level moments a notification can fire on.
const NOTIFICATION_WHEN: [(&str, &str); 3] = [
    ("pipeline.starting", "Pipeline starts"),
    ("pipeline.complete", "Pipeline completes"),
    ("pipeline.failed", "Pipeline fails"),
];

/// The three sections, each with its own form and, after a refused save, its own alert;
/// without `editable`, each entry's fields as text.
pub fn sections(
    config: &Value,
    base: &str,
    token: &CsrfToken,
    refused: Option<(&str, &str)>,
    editable: bool,
) -> Markup {
    let alert_for = |section: &str| {
        refused
            .filter(|(name, _)| *name == section)
            .map(|(_, message)| message)
    };
    html! {
        @for section in [&TRIGGERS, &PARAMETERS, &NOTIFICATIONS] {
            @if editable {
                (entries_section(section, entries(config, section.key), base, token, alert_for(section.name)))
            } @else {
                (read_only_section(section, entries(config, section.key), alert_for(section.name)))
            }
        }
    }
}

fn entries<'a>(config: &'a Value, key: &str) -> &'a [Value] {
    config
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn text<'a>(entry: &'a Value, field: &str) -> &'a str {
    entry.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// A text input with its label; `id` is unique on the page.
fn input(id: &str, name: &str, label: &str, value: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) value=(value);
        }
    }
}

fn checkbox(id: &str, name: &str, label: &str, checked: bool) -> Markup {
    checkbox_with_value(id, name, label, "true", checked)
}

/// A checkbox of a group sharing `name`: the form sends each ticked one's `value`.
fn checkbox_with_value(id: &str, name: &str, label: &str, value: &str, checked: bool) -> Markup {
    html! {
        div.field.checkbox {
            input id=(id) type="checkbox" name=(name) value=(value) checked[checked];
            label for=(id) { (label) }
        }
    }
}

fn section_alert(message: Option<&str>, id: &str) -> Markup {
    html! {
        @if let Some(message) = message {
            p.alert role="alert" id=(id) { "Not saved: " (message) }
        }
    }
}

/// A section's form: one fieldset per stored entry, then a blank one to add.
fn entries_section(
    section: &Section,
    stored: &[Value],
    base: &str,
    token: &CsrfToken,
    refused: Option<&str>,
) -> Markup {
    let (name, entry) = (section.name, section.entry);
    html! {
        section aria-labelledby={ (name) "-heading" } {
            h2 id={ (name) "-heading" } { (section.heading) }
            (section_alert(refused, &format!("{name}-error")))
            form.entries method="post" action={ (base) "/" (name) } {
                (layout::csrf(token))
                @for (index, value) in stored.iter().enumerate() {
                    ((section.fields)(&format!("{entry}.{index}"), Some(value)))
                }
                details {
                    summary { "Add " (entry) }
                    ((section.fields)(&format!("{entry}.new"), None))
                }
                button.primary type="submit" { "Save " (name) }
            }
        }
    }
}

/// A section as text: each entry's fields (all of them, as stored).
fn read_only_section(section: &Section, stored: &[Value], refused: Option<&str>) -> Markup {
    let name = section.name;
    html! {
        section aria-labelledby={ (name) "-heading" } {
            h2 id={ (name) "-heading" } { (section.heading) }
            (section_alert(refused, &format!("{name}-error")))
            @if stored.is_empty() { p.empty { "None." } }
            @for entry in stored {
                dl.facts.entry {
                    @for (field, value) in entry.as_object().into_iter().flatten() {
                        dt { (field) } dd { (shown(value)) }
                    }
                }
            }
        }
    }
}

/// A field's value as text: lists joined, Deck's `{"value": …}` options by their value.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| option_value(item).unwrap_or_else(|| item.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        other => scalar_text(other),
    }
}

/// One trigger's fieldset; `None` is the blank "add" entry with a type select.
fn trigger_fields(prefix: &str, trigger: Option<&Value>) -> Markup {
    let id = prefix.replace('.', "-");
    let kind = trigger.map(|t| text(t, "type")).unwrap_or_default();
    let blank = Value::Null;
    let entry = trigger.unwrap_or(&blank);
    let shows = |wanted: &str| trigger.is_none() || kind == wanted;
    let cron_feedback = format!("{id}-cron-feedback");
    html! {
        fieldset.entry {
            @if trigger.is_some() {
                legend { (kind) " trigger" }
                (checkbox(&format!("{id}-enabled"), &format!("{prefix}.enabled"), "Enabled", entry.get("enabled").and_then(Value::as_bool).unwrap_or(true)))
                @if !TRIGGER_TYPES.contains(&kind) {
                    p.help { "Edit this trigger's fields in the JSON below." }
                }
            } @else {
                legend { "New trigger" }
                div.field {
                    label for={ (id) "-type" } { "Type" }
                    select id={ (id) "-type" } name={ (prefix) ".type" } {
                        option value="" { "Choose a type" }
                        @for kind in TRIGGER_TYPES { option value=(kind) { (kind) } }
                    }
                }
            }
            @if shows("cron") {
                div.field {
                    label for={ (id) "-cron" } { "Cron expression" @if trigger.is_none() { " (cron)" } }
                    input id={ (id) "-cron" } name={ (prefix) ".cronExpression" } value=(text(entry, "cronExpression"))
                        data-cron-validate=(cron_feedback) aria-describedby=(cron_feedback);
                    span.help id=(cron_feedback) aria-live="polite" {}
                }
            }
            @if shows("webhook") {
                (input(&format!("{id}-source"), &format!("{prefix}.source"), if trigger.is_none() { "Source (webhook)" } else { "Source" }, text(entry, "source")))
            }
            @if shows("jenkins") {
                (input(&format!("{id}-master"), &format!("{prefix}.master"), if trigger.is_none() { "Jenkins master (jenkins)" } else { "Jenkins master" }, text(entry, "master")))
                (input(&format!("{id}-job"), &format!("{prefix}.job"), if trigger.is_none() { "Job (jenkins)" } else { "Job" }, text(entry, "job")))
            }
            @if shows("pipeline") {
                (input(&format!("{id}-application"), &format!("{prefix}.application"), if trigger.is_none() { "Application (pipeline)" } else { "Application" }, text(entry, "application")))
                (input(&format!("{id}-pipeline"), &format!("{prefix}.pipeline"), if trigger.is_none() { "Pipeline id (pipeline)" } else { "Pipeline id" }, text(entry, "pipeline")))
                div.field {
                    span { "When the pipeline is" }
                    @for status in PIPELINE_TRIGGER_STATUSES {
                        @let checked = entry.get("status").and_then(Value::as_array).is_some_and(|list| list.iter().any(|s| s.as_str() == Some(status)));
                        (checkbox_with_value(&format!("{id}-status-{status}"), &format!("{prefix}.status"), status, status, checked))
                    }
                }
            }
            @if trigger.is_some() {
                (checkbox(&format!("{id}-remove"), &format!("{prefix}.remove"), "Remove this trigger", false))
            }
        }
    }
}

fn parameter_fields(prefix: &str, parameter: Option<&Value>) -> Markup {
    let id = prefix.replace('.', "-");
    let blank = Value::Null;
    let entry = parameter.unwrap_or(&blank);
    let options: Vec<String> = entry
        .get("options")
        .and_then(Value::as_array)
        .map(|options| options.iter().filter_map(option_value).collect())
        .unwrap_or_default();
    html! {
        fieldset.entry {
            legend { @if parameter.is_some() { "Parameter " (text(entry, "name")) } @else { "New parameter" } }
            (input(&format!("{id}-name"), &format!("{prefix}.name"), "Name", text(entry, "name")))
            (input(&format!("{id}-label"), &format!("{prefix}.label"), "Label", text(entry, "label")))
            (input(&format!("{id}-description"), &format!("{prefix}.description"), "Description", text(entry, "description")))
            (input(&format!("{id}-default"), &format!("{prefix}.default"), "Default value", &default_text(entry)))
            (input(&format!("{id}-options"), &format!("{prefix}.options"), "Options (comma-separated; empty for free text)", &options.join(", ")))
            (checkbox(&format!("{id}-required"), &format!("{prefix}.required"), "Required", entry.get("required").and_then(Value::as_bool).unwrap_or(false)))
            @if parameter.is_some() {
                (checkbox(&format!("{id}-remove"), &format!("{prefix}.remove"), "Remove this parameter", false))
            }
        }
    }
}

/// Deck stores options as `[{"value": "a"}]`; older configs have plain strings.
fn option_value(option: &Value) -> Option<String> {
    match option {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => object.get("value").map(scalar_text),
        _ => None,
    }
}

fn default_text(entry: &Value) -> String {
    entry.get("default").map(scalar_text).unwrap_or_default()
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn notification_fields(prefix: &str, notification: Option<&Value>) -> Markup {
    let id = prefix.replace('.', "-");
    let blank = Value::Null;
    let entry = notification.unwrap_or(&blank);
    let kind = text(entry, "type");
    let when: Vec<&str> = entry
        .get("when")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        fieldset.entry {
            legend { @if notification.is_some() { (kind) " notification" } @else { "New notification" } }
            div.field {
                label for={ (id) "-type" } { "Type" }
                select id={ (id) "-type" } name={ (prefix) ".type" } {
                    @if notification.is_none() { option value="" { "Choose a type" } }
                    @if notification.is_some() && !NOTIFICATION_TYPES.contains(&kind) { option value=(kind) selected { (kind) } }
                    @for choice in NOTIFICATION_TYPES { option value=(choice) selected[choice == kind] { (choice) } }
                }
            }
            (input(&format!("{id}-address"), &format!("{prefix}.address"), "Address (email address or Slack channel)", text(entry, "address")))
            div.field {
                span { "Notify when" }
                @for (value, label) in NOTIFICATION_WHEN {
                    (checkbox_with_value(&format!("{id}-when-{}", value.replace('.', "-")), &format!("{prefix}.when"), label, value, when.contains(&value)))
                }
            }
            @if notification.is_some() {
                (checkbox(&format!("{id}-remove"), &format!("{prefix}.remove"), "Remove this notification", false))
            }
        }
    }
}

/// The values of a field that may repeat (checkbox groups).
fn all<'a>(fields: &'a Fields, name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .collect()
}

fn ticked(fields: &Fields, name: &str) -> bool {
    fields.get(name) == Some("true")
}

/// Sets `field` to `value`, or removes it when the form left it empty.
fn set_text(entry: &mut Map<String, Value>, field: &str, value: &str) {
    if value.is_empty() {
        entry.remove(field);
    } else {
        entry.insert(field.to_string(), Value::String(value.to_string()));
    }
}

/// Applies the form to `list`: edits each shown entry, drops the removed ones, appends
/// the new one when `is_new` says the blank entry was filled in.
fn apply_entries(
    list: &mut Vec<Value>,
    fields: &Fields,
    entry_name: &str,
    edit: impl Fn(&mut Map<String, Value>, &Fields, &str),
    is_new: impl Fn(&Fields, &str) -> bool,
) {
    let mut kept = Vec::with_capacity(list.len() + 1);
    for (index, mut entry) in std::mem::take(list).into_iter().enumerate() {
        let prefix = format!("{entry_name}.{index}");
        if ticked(fields, &format!("{prefix}.remove")) {
            continue;
        }
        if let Some(object) = entry.as_object_mut() {
            edit(object, fields, &prefix);
        }
        kept.push(entry);
    }
    let prefix = format!("{entry_name}.new");
    if is_new(fields, &prefix) {
        let mut object = Map::new();
        edit(&mut object, fields, &prefix);
        kept.push(Value::Object(object));
    }
    *list = kept;
}

fn edit_trigger(trigger: &mut Map<String, Value>, fields: &Fields, prefix: &str) {
    let new = prefix.ends_with(".new");
    if new {
        trigger.insert(
            "type".to_string(),
            json!(fields.text(&format!("{prefix}.type"))),
        );
        trigger.insert("enabled".to_string(), json!(true));
    } else {
        trigger.insert(
            "enabled".to_string(),
            json!(ticked(fields, &format!("{prefix}.enabled"))),
        );
    }
    let kind = trigger
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let field = |name: &str| fields.text(&format!("{prefix}.{name}")).to_string();
    match kind.as_str() {
        "cron" => set_text(trigger, "cronExpression", &field("cronExpression")),
        "webhook" => set_text(trigger, "source", &field("source")),
        "jenkins" => {
            set_text(trigger, "master", &field("master"));
            set_text(trigger, "job", &field("job"));
        }
        "pipeline" => {
            set_text(trigger, "application", &field("application"));
            set_text(trigger, "pipeline", &field("pipeline"));
            let statuses = all(fields, &format!("{prefix}.status"));
            trigger.insert("status".to_string(), json!(statuses));
        }
        _ => {}
    }
}

fn edit_parameter(parameter: &mut Map<String, Value>, fields: &Fields, prefix: &str) {
    let field = |name: &str| fields.text(&format!("{prefix}.{name}")).to_string();
    parameter.insert("name".to_string(), json!(field("name")));
    for name in ["label", "description"] {
        set_text(parameter, name, &field(name));
    }
    parameter.insert("default".to_string(), json!(field("default")));
    parameter.insert(
        "required".to_string(),
        json!(ticked(fields, &format!("{prefix}.required"))),
    );
    let options: Vec<Value> = field("options")
        .split(',')
        .map(str::trim)
        .filter(|option| !option.is_empty())
        .map(|option| json!({"value": option}))
        .collect();
    parameter.insert("hasOptions".to_string(), json!(!options.is_empty()));
    parameter.insert("options".to_string(), Value::Array(options));
}

fn edit_notification(notification: &mut Map<String, Value>, fields: &Fields, prefix: &str) {
    let field = |name: &str| fields.text(&format!("{prefix}.{name}")).to_string();
    set_text(notification, "type", &field("type"));
    set_text(notification, "address", &field("address"));
    notification.insert("level".to_string(), json!("pipeline"));
    notification.insert(
        "when".to_string(),
        json!(all(fields, &format!("{prefix}.when"))),
    );
}

/// The part of the config a form edits, and how.
struct Section {
    /// The form's name in field names and in the page's error slot.
    name: &'static str,
    /// The config's field holding the list.
    key: &'static str,
    /// Field names' entry prefix, also the word in "Add trigger".
    entry: &'static str,
    heading: &'static str,
    /// The fieldset of one entry; `None` is the blank entry to add.
    fields: fn(&str, Option<&Value>) -> Markup,
    edit: fn(&mut Map<String, Value>, &Fields, &str),
    /// The field whose presence makes the blank entry a new one.
    required_for_new: &'static str,
    saved: &'static str,
}

const TRIGGERS: Section = Section {
    name: "triggers",
    key: "triggers",
    entry: "trigger",
    heading: "Automated triggers",
    fields: trigger_fields,
    edit: edit_trigger,
    required_for_new: "type",
    saved: "Triggers saved.",
};
const PARAMETERS: Section = Section {
    name: "parameters",
    key: "parameterConfig",
    entry: "parameter",
    heading: "Parameters",
    fields: parameter_fields,
    edit: edit_parameter,
    required_for_new: "name",
    saved: "Parameters saved.",
};
const NOTIFICATIONS: Section = Section {
    name: "notifications",
    key: "notifications",
    entry: "notification",
    heading: "Notifications",
    fields: notification_fields,
    edit: edit_notification,
    required_for_new: "type",
    saved: "Notifications saved.",
};

async fn save_section(
    section: &Section,
    gate: &Gate,
    headers: &HeaderMap,
    application: &str,
    config_id: &str,
    body: &Bytes,
) -> Response {
    let fields = Fields::parse(body);
    let outcome = edit_and_save(gate, headers, application, config_id, |config| {
        let mut list = match config.remove(section.key) {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        apply_entries(
            &mut list,
            &fields,
            section.entry,
            section.edit,
            |fields, prefix| {
                !fields
                    .text(&format!("{prefix}.{}", section.required_for_new))
                    .is_empty()
            },
        );
        config.insert(section.key.to_string(), Value::Array(list));
    })
    .await;
    match outcome {
        Ok(Ok(())) => section_back(application, config_id, section.saved, None),
        Ok(Err(message)) => section_back(application, config_id, &message, Some(section.name)),
        Err(page) => page,
    }
}

/// `POST .../triggers`
pub async fn save_triggers(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    save_section(&TRIGGERS, &gate, &headers, &application, &config_id, &body).await
}

/// `POST .../parameters`
pub async fn save_parameters(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    save_section(
        &PARAMETERS,
        &gate,
        &headers,
        &application,
        &config_id,
        &body,
    )
    .await
}

/// `POST .../notifications`
pub async fn save_notifications(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    save_section(
        &NOTIFICATIONS,
        &gate,
        &headers,
        &application,
        &config_id,
        &body,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Fields {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Fields::parse(&Bytes::from(body))
    }

    #[test]
    fn a_trigger_edit_keeps_fields_the_form_does_not_show() {
        let mut triggers = vec![
            json!({"type": "cron", "enabled": true, "cronExpression": "0 0 * * * ?", "runAsUser": "svc", "id": "t1"}),
        ];
        let fields = form(&[
            ("trigger.0.enabled", "true"),
            ("trigger.0.cronExpression", "0 30 * * * ?"),
        ]);
        apply_entries(&mut triggers, &fields, "trigger", edit_trigger, |_, _| {
            false
        });
        assert_eq!(
            triggers,
            vec![
                json!({"type": "cron", "enabled": true, "cronExpression": "0 30 * * * ?", "runAsUser": "svc", "id": "t1"})
            ]
        );
    }

    #[test]
    fn a_new_trigger_is_appended_and_a_removed_one_dropped() {
        let mut triggers = vec![json!({"type": "webhook", "enabled": true, "source": "a"})];
        let fields = form(&[
            ("trigger.0.remove", "true"),
            ("trigger.new.type", "pipeline"),
            ("trigger.new.application", "app"),
            ("trigger.new.pipeline", "p-1"),
            ("trigger.new.status", "successful"),
            ("trigger.new.status", "failed"),
        ]);
        apply_entries(
            &mut triggers,
            &fields,
            "trigger",
            edit_trigger,
            |fields, prefix| !fields.text(&format!("{prefix}.type")).is_empty(),
        );
        assert_eq!(
            triggers,
            vec![
                json!({"type": "pipeline", "enabled": true, "application": "app", "pipeline": "p-1", "status": ["successful", "failed"]})
            ]
        );
    }

    #[test]
    fn a_read_only_config_shows_its_entries_as_text_without_a_form() {
        let config = json!({
            "triggers": [{"type": "webhook", "enabled": true, "source": "ship-hook"}],
            "parameterConfig": [{"name": "region", "options": [{"value": "eu"}, {"value": "us"}]}],
            "notifications": [],
        });
        let token = CsrfToken("0".repeat(32));
        let html = sections(&config, "/ui/x", &token, None, false).into_string();
        assert!(
            !html.contains("<form") && !html.contains("<input") && !html.contains(&token.0),
            "{html}"
        );
        assert!(
            html.contains("ship-hook") && html.contains("eu, us"),
            "{html}"
        );
        assert!(html.contains("None."), "no notifications: {html}");
        let editable = sections(&config, "/ui/x", &token, None, true).into_string();
        assert!(editable.contains("<form") && editable.contains(&token.0));
    }

    #[test]
    fn parameter_options_become_deck_option_objects() {
        let mut parameters = Vec::new();
        let fields = form(&[
            ("parameter.new.name", "region"),
            ("parameter.new.default", "eu-west-1"),
            ("parameter.new.options", "eu-west-1, us-east-1,"),
            ("parameter.new.required", "true"),
        ]);
        apply_entries(
            &mut parameters,
            &fields,
            "parameter",
            edit_parameter,
            |fields, prefix| !fields.text(&format!("{prefix}.name")).is_empty(),
        );
        assert_eq!(
            parameters,
            vec![
                json!({"name": "region", "default": "eu-west-1", "required": true, "hasOptions": true,
                        "options": [{"value": "eu-west-1"}, {"value": "us-east-1"}]})
            ]
        );
    }
}
