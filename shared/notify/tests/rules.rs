//! The dispatch rules of Echo's notification agents (`AbstractEventNotificationAgent`), the texts
//! and the channel payloads.

use gennaker_notify::{Outgoing, execution_link, merge_application_notifications, payload, plan};
use serde_json::{Value, json};

const UI: &str = "https://deck.example.com/";

fn execution(status: &str, notifications: Value, stages: Value) -> Value {
    json!({
        "type": "PIPELINE", "id": "01JEXEC", "application": "demo", "name": "ship",
        "status": status, "canceled": false,
        "trigger": {"type": "manual", "parameters": {"env": "prod"}},
        "notifications": notifications, "stages": stages,
    })
}

fn pipeline_event(execution: &Value) -> Value {
    json!({"eventId": "e1", "executionId": execution["id"], "execution": execution})
}

fn stage_event(execution: &Value, stage_index: usize) -> Value {
    let stage = &execution["stages"][stage_index];
    json!({
        "eventId": "e2", "standalone": false, "canceled": execution["canceled"],
        "context": stage["context"], "executionId": execution["id"], "stageId": stage["id"],
        "isSynthetic": stage.get("parentStageId").is_some(), "name": stage["name"],
        "execution": execution,
    })
}

fn slack(address: &str, when: &[&str]) -> Value {
    json!({"type": "slack", "address": address, "level": "pipeline", "when": when})
}

fn sent(planned: &[Outgoing]) -> Vec<(String, String, String)> {
    planned
        .iter()
        .map(|o| (o.channel.clone(), o.address.clone(), o.when.clone()))
        .collect()
}

fn triple(channel: &str, address: &str, when: &str) -> (String, String, String) {
    (channel.into(), address.into(), when.into())
}

#[test]
fn pipeline_events_fire_the_entries_naming_their_when() {
    let notifications = json!([
        slack("#all", &["pipeline.starting", "pipeline.complete", "pipeline.failed"]),
        slack("#done", &["pipeline.complete"]),
        {"type": "email", "address": "a@example.com", "when": ["pipeline.failed"]},
    ]);
    let running = execution("RUNNING", notifications.clone(), json!([]));
    let starting = plan("orca:pipeline:starting", &pipeline_event(&running), &[], UI);
    assert_eq!(
        sent(&starting),
        vec![triple("slack", "#all", "pipeline.starting")]
    );
    let done = execution("SUCCEEDED", notifications.clone(), json!([]));
    let complete = plan("orca:pipeline:complete", &pipeline_event(&done), &[], UI);
    assert_eq!(
        sent(&complete),
        vec![
            triple("slack", "#all", "pipeline.complete"),
            triple("slack", "#done", "pipeline.complete")
        ]
    );
    let failed = execution("TERMINAL", notifications, json!([]));
    let failing = plan("orca:pipeline:failed", &pipeline_event(&failed), &[], UI);
    assert_eq!(
        sent(&failing),
        vec![
            triple("slack", "#all", "pipeline.failed"),
            triple("email", "a@example.com", "pipeline.failed")
        ]
    );
}

#[test]
fn canceled_executions_notify_nothing() {
    let notifications = json!([slack("#all", &["pipeline.failed", "stage.failed"])]);
    let canceled = execution("CANCELED", notifications.clone(), json!([]));
    assert!(plan("orca:pipeline:failed", &pipeline_event(&canceled), &[], UI).is_empty());
    let mut flagged = execution("TERMINAL", notifications, json!([]));
    flagged["canceled"] = json!(true);
    assert!(plan("orca:pipeline:failed", &pipeline_event(&flagged), &[], UI).is_empty());
}

#[test]
fn entries_without_type_or_address_and_unknown_events_fire_nothing() {
    let notifications = json!([
        {"type": "slack", "when": ["pipeline.complete"]},
        {"address": "#x", "when": ["pipeline.complete"]},
        {"type": "slack", "address": " ", "when": ["pipeline.complete"]},
    ]);
    let done = execution("SUCCEEDED", notifications, json!([]));
    assert!(plan("orca:pipeline:complete", &pipeline_event(&done), &[], UI).is_empty());
    assert!(plan("orca:pipeline:paused", &pipeline_event(&done), &[], UI).is_empty());
    assert!(plan("webhook", &pipeline_event(&done), &[], UI).is_empty());
}

#[test]
fn application_entries_merge_and_pipeline_entries_override_overlapping_whens() {
    let own = vec![slack("#team", &["pipeline.complete"])];
    let application = vec![
        slack("#team", &["pipeline.complete", "pipeline.failed"]),
        slack("#other", &["pipeline.complete"]),
        slack("#team", &["pipeline.complete"]),
    ];
    let merged = merge_application_notifications(&own, &application);
    assert_eq!(
        merged,
        vec![
            slack("#team", &["pipeline.complete"]),
            slack("#team", &["pipeline.failed"]),
            slack("#other", &["pipeline.complete"]),
        ]
    );
    let done = execution("SUCCEEDED", json!(own), json!([]));
    let planned = plan(
        "orca:pipeline:complete",
        &pipeline_event(&done),
        &application,
        UI,
    );
    assert_eq!(
        sent(&planned),
        vec![
            triple("slack", "#team", "pipeline.complete"),
            triple("slack", "#other", "pipeline.complete")
        ]
    );
}

fn stage(id: &str, stage_type: &str, status: &str, context: Value) -> Value {
    json!({"id": id, "refId": id, "type": stage_type, "name": format!("Stage {id}"),
           "status": status, "context": context})
}

#[test]
fn stage_events_need_send_notifications_and_skip_synthetic_stages() {
    let entries = json!([slack(
        "#stage",
        &["stage.starting", "stage.complete", "stage.failed"]
    )]);
    let stages = json!([
        stage(
            "a",
            "wait",
            "SUCCEEDED",
            json!({"sendNotifications": true, "notifications": entries})
        ),
        stage("b", "wait", "SUCCEEDED", json!({"notifications": entries})),
        stage(
            "c",
            "wait",
            "SUCCEEDED",
            json!({"sendNotifications": "true", "notifications": entries})
        ),
    ]);
    let mut run = execution("RUNNING", json!([]), stages);
    let complete = plan("orca:stage:complete", &stage_event(&run, 0), &[], UI);
    assert_eq!(
        sent(&complete),
        vec![triple("slack", "#stage", "stage.complete")]
    );
    assert_eq!(complete[0].message.stage_name.as_deref(), Some("Stage a"));
    assert!(plan("orca:stage:complete", &stage_event(&run, 1), &[], UI).is_empty());
    assert!(plan("orca:stage:complete", &stage_event(&run, 2), &[], UI).is_empty());
    assert!(plan("orca:stage:skipped", &stage_event(&run, 0), &[], UI).is_empty());
    run["stages"][0]["parentStageId"] = json!("x");
    assert!(plan("orca:stage:complete", &stage_event(&run, 0), &[], UI).is_empty());
}

#[test]
fn stage_events_of_a_canceled_execution_notify_nothing() {
    let entries = json!([slack("#stage", &["stage.failed"])]);
    let stages = json!([stage(
        "a",
        "wait",
        "CANCELED",
        json!({"sendNotifications": true, "notifications": entries})
    )]);
    let mut canceled = execution("CANCELED", json!([]), stages);
    canceled["canceled"] = json!(true);
    assert!(plan("orca:stage:failed", &stage_event(&canceled, 0), &[], UI).is_empty());
}

#[test]
fn manual_judgment_whens_come_from_the_judgment_not_from_stage_events() {
    let entries = json!([
        slack(
            "#judge",
            &[
                "manualJudgment",
                "manualJudgmentContinue",
                "manualJudgmentStop",
                "stage.complete"
            ]
        ),
        slack("#plain", &["stage.starting", "stage.complete"]),
    ]);
    let context = |status: Option<&str>| {
        let mut context = json!({"sendNotifications": true, "notifications": entries,
                                 "instructions": "Ship it?", "judgmentInputs": [{"value": "yes"}, {"value": "no"}]});
        if let Some(status) = status {
            context["judgmentStatus"] = json!(status);
            context["lastModifiedBy"] = json!("alice");
        }
        context
    };
    let waiting = execution(
        "RUNNING",
        json!([]),
        json!([stage("j", "manualJudgment", "RUNNING", context(None))]),
    );
    let starting = plan("orca:stage:starting", &stage_event(&waiting, 0), &[], UI);
    assert_eq!(
        sent(&starting),
        vec![
            triple("slack", "#plain", "stage.starting"),
            triple("slack", "#judge", "manualJudgment")
        ]
    );
    let waiting_text = &starting[1].message.text;
    assert!(
        waiting_text.contains("awaiting manual judgment"),
        "{waiting_text}"
    );
    assert!(
        waiting_text.contains("Ship it?") && waiting_text.contains("yes, no"),
        "{waiting_text}"
    );

    let continued = execution(
        "RUNNING",
        json!([]),
        json!([stage(
            "j",
            "manualJudgment",
            "SUCCEEDED",
            context(Some("Continue"))
        )]),
    );
    let complete = plan("orca:stage:complete", &stage_event(&continued, 0), &[], UI);
    assert_eq!(
        sent(&complete),
        vec![
            triple("slack", "#plain", "stage.complete"),
            triple("slack", "#judge", "manualJudgmentContinue")
        ]
    );
    assert!(
        complete[1]
            .message
            .subject
            .contains("judged to continue by alice")
    );

    let stopped = execution(
        "RUNNING",
        json!([]),
        json!([stage(
            "j",
            "manualJudgment",
            "TERMINAL",
            context(Some("stop"))
        )]),
    );
    let failed = plan("orca:stage:failed", &stage_event(&stopped, 0), &[], UI);
    assert_eq!(
        sent(&failed),
        vec![triple("slack", "#judge", "manualJudgmentStop")]
    );

    // Only manual judgment stages send judgment notifications.
    let other = execution(
        "RUNNING",
        json!([]),
        json!([stage("w", "wait", "RUNNING", context(None))]),
    );
    assert_eq!(
        sent(&plan(
            "orca:stage:starting",
            &stage_event(&other, 0),
            &[],
            UI
        )),
        vec![triple("slack", "#plain", "stage.starting")]
    );
}

#[test]
fn custom_messages_are_evaluated_and_a_failing_expression_stays_raw() {
    let notifications = json!([
        {"type": "slack", "address": "#a", "when": ["pipeline.complete"],
         "message": {"pipeline.complete": {"text": "Shipped ${execution.name} to ${trigger.parameters.env}"}}},
        {"type": "slack", "address": "#b", "when": ["pipeline.complete"],
         "message": {"pipeline.complete": {"text": "Broken ${#nope(}"}}},
        {"type": "slack", "address": "#c", "when": ["pipeline.complete"],
         "message": {"pipeline.failed": {"text": "only on failure"}}},
    ]);
    let done = execution("SUCCEEDED", notifications, json!([]));
    let planned = plan("orca:pipeline:complete", &pipeline_event(&done), &[], UI);
    assert_eq!(planned[0].message.text, "Shipped ship to prod");
    assert_eq!(planned[1].message.text, "Broken ${#nope(}");
    assert_eq!(planned[2].message.text, "Pipeline ship of demo completed");
}

#[test]
fn links_point_at_the_execution_in_deck() {
    let done = execution("SUCCEEDED", json!([]), json!([]));
    assert_eq!(
        execution_link(UI, &done),
        "https://deck.example.com/#/applications/demo/executions/details/01JEXEC"
    );
    let mut task = done.clone();
    task["type"] = json!("ORCHESTRATION");
    assert_eq!(
        execution_link("http://localhost:9000", &task),
        "http://localhost:9000/#/applications/demo/tasks/01JEXEC"
    );
}

#[test]
fn payloads_per_channel() {
    let notifications = json!([slack("#team", &["pipeline.failed"])]);
    let failed = execution("TERMINAL", notifications, json!([]));
    let planned = plan("orca:pipeline:failed", &pipeline_event(&failed), &[], UI);
    let message = &planned[0].message;
    assert_eq!(message.subject, "Pipeline ship of demo failed (TERMINAL)");

    let hook = payload::slack(message, None);
    assert!(hook.get("channel").is_none());
    assert_eq!(hook["attachments"][0]["title_link"], json!(message.link));
    assert_eq!(hook["attachments"][0]["color"], "#b82525");
    assert!(hook["text"].as_str().unwrap().contains(&message.link));
    assert_eq!(payload::slack(message, Some("#team"))["channel"], "team");

    let body = payload::webhook(message);
    assert_eq!(body["event"], "pipeline.failed");
    assert_eq!(body["executionId"], "01JEXEC");
    assert_eq!(body["status"], "TERMINAL");
    assert_eq!(body["stage"], Value::Null);

    let email = payload::email(message);
    assert_eq!(email.subject, message.subject);
    assert!(email.body.contains(&message.link));
    assert_eq!(
        payload::recipients("a@example.com, b@example.com;c@example.com"),
        vec!["a@example.com", "b@example.com", "c@example.com"]
    );
}

#[test]
fn send_keys_tell_the_notifications_of_one_event_apart() {
    let notifications = json!([
        slack("#a", &["pipeline.complete"]),
        {"type": "email", "address": "#a", "when": ["pipeline.complete"]},
    ]);
    let done = execution("SUCCEEDED", notifications, json!([]));
    let planned = plan("orca:pipeline:complete", &pipeline_event(&done), &[], UI);
    assert_ne!(planned[0].key(), planned[1].key());
}
