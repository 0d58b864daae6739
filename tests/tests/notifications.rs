//! Notifications against local mode (Echo's `AbstractEventNotificationAgent`): pipeline-, stage-,
//! application-level and manual judgment notifications reach a receiver the test runs on
//! 127.0.0.1 (Slack incoming-webhook and generic webhook shapes) and SES in the emulator;
//! a failing receiver is retried, then dead-lettered, and never touches the execution.

mod support;

use std::time::Duration;

use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::webhook_target::{Received, WebhookTarget};
use support::{TestApp, eventually, wait};

const SENDER: &str = "gennaker@example.com";
const UI: &str = "https://deck.example.com";

async fn spawn(target: &WebhookTarget, delivery: Delivery) -> TestApp {
    spawn_with(target, delivery, &[]).await
}

async fn spawn_with(
    target: &WebhookTarget,
    delivery: Delivery,
    extra: &[(&str, String)],
) -> TestApp {
    let parameters = [
        ("AllowedUrlPrefixes", target.prefix()),
        ("NotificationEmailSender", SENDER.to_string()),
        ("UiBaseUrl", UI.to_string()),
    ];
    TestApp::spawn_with(LocalOptions {
        parameters: parameters
            .iter()
            .chain(extra)
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
        delivery,
        ..LocalOptions::default()
    })
    .await
}

fn bodies(received: &[Received]) -> Vec<Value> {
    received
        .iter()
        .map(|r| serde_json::from_str(&r.body).expect("JSON notification"))
        .collect()
}

/// Waits until `path` received `count` notifications and returns their bodies.
async fn notifications_at(target: &WebhookTarget, path: &str, count: usize) -> Vec<Value> {
    eventually(
        &format!("{count} notifications at {path}"),
        Duration::from_secs(30),
        || async {
            let received = target.received(path);
            (received.len() >= count).then(|| bodies(&received))
        },
    )
    .await
}

fn link(app: &str, id: &str) -> String {
    format!("{UI}/#/applications/{app}/executions/details/{id}")
}

/// The emails SES accepted, as moto keeps them (`/moto-api/data.json`, `ses.Message`).
async fn sent_emails(app: &TestApp) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", app.running.emulator_endpoint());
    let data: Value = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn pipeline_stage_application_and_judgment_notifications_reach_their_channels() {
    let target = WebhookTarget::start().await;
    let app = spawn(&target, Delivery::default()).await;
    app.create_application("notes").await;

    let slack_hook = target.url("/flaky/slack");
    let application_level = json!({
        "slack": [
            {"address": slack_hook, "when": ["pipeline.starting", "pipeline.complete"]},
            {"address": target.url("/flaky/app"), "when": ["pipeline.complete"]},
        ],
    });
    let (status, saved) = app
        .post("/notifications/application/notes", &application_level)
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["slack"][1]["level"], "application");
    let (status, read) = app.get("/notifications/application/notes").await;
    assert_eq!(status, 200);
    assert_eq!(read["slack"], saved["slack"]);
    assert_eq!(read["application"], "notes");

    let pipeline = json!({
        "application": "notes", "name": "ship",
        "notifications": [
            {"type": "slack", "address": slack_hook, "level": "pipeline",
             "when": ["pipeline.starting", "pipeline.complete", "pipeline.failed"],
             "message": {"pipeline.complete": {"text": "Shipped ${execution.name} (${trigger.type})"}}},
            {"type": "webhook", "address": target.url("/flaky/hook"), "level": "pipeline",
             "when": ["pipeline.starting", "pipeline.complete", "pipeline.failed"]},
            {"type": "email", "address": "team@example.com", "cc": "lead@example.com", "level": "pipeline",
             "when": ["pipeline.complete"],
             "message": {"pipeline.complete": {"text": "Mail for ${execution.application}"}}},
        ],
        "stages": [
            {"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Bake time", "waitTime": 1,
             "sendNotifications": true,
             "notifications": [{"type": "webhook", "address": target.url("/flaky/stage"), "level": "stage",
                                "when": ["stage.starting", "stage.complete", "stage.failed"]}]},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Quiet", "waitTime": 1,
             "notifications": [{"type": "webhook", "address": target.url("/flaky/quiet"), "level": "stage",
                                "when": ["stage.starting", "stage.complete"]}]},
            {"refId": "3", "requisiteStageRefIds": ["2"], "type": "manualJudgment", "name": "Go live?",
             "instructions": "Ship it?", "judgmentInputs": [{"value": "yes"}],
             "sendNotifications": true,
             "notifications": [{"type": "webhook", "address": target.url("/flaky/judgment"), "level": "stage",
                                "when": ["manualJudgment", "manualJudgmentContinue", "manualJudgmentStop"]}]},
        ],
    });
    let (status, body) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{body}");
    let id = app.trigger("notes", "ship").await;

    let waiting = notifications_at(&target, "/flaky/judgment", 1).await;
    assert_eq!(waiting[0]["event"], "manualJudgment");
    assert!(waiting[0]["message"].as_str().unwrap().contains("Ship it?"));
    app.judge(&id, "3", "continue").await;
    assert_eq!(app.ended(&id).await["status"], "SUCCEEDED");

    // Slack incoming webhook: starting and complete, once each although the application
    // names the same hook for both (the pipeline's entry takes those `when` values over).
    let slack = notifications_at(&target, "/flaky/slack", 2).await;
    let complete = slack
        .iter()
        .find(|m| m["attachments"][0]["color"] == "#2eb886")
        .expect("a completion message");
    assert_eq!(complete["attachments"][0]["text"], "Shipped ship (manual)");
    assert_eq!(
        complete["attachments"][0]["title_link"],
        json!(link("notes", &id))
    );
    assert!(
        complete["text"]
            .as_str()
            .unwrap()
            .contains(&link("notes", &id))
    );

    let hook = notifications_at(&target, "/flaky/hook", 2).await;
    let events: Vec<&str> = hook.iter().filter_map(|m| m["event"].as_str()).collect();
    assert!(
        events.contains(&"pipeline.starting") && events.contains(&"pipeline.complete"),
        "{events:?}"
    );
    for message in &hook {
        assert_eq!(message["executionId"], json!(id));
        assert_eq!(message["application"], "notes");
        assert_eq!(message["link"], json!(link("notes", &id)));
    }

    let application = notifications_at(&target, "/flaky/app", 1).await;
    assert_eq!(
        application[0]["attachments"][0]["title_link"],
        json!(link("notes", &id))
    );

    let stage = notifications_at(&target, "/flaky/stage", 2).await;
    let stage_events: Vec<&str> = stage.iter().filter_map(|m| m["event"].as_str()).collect();
    assert!(stage_events.contains(&"stage.starting") && stage_events.contains(&"stage.complete"));
    assert!(stage.iter().all(|m| m["stage"]["name"] == "Bake time"));

    let judged = notifications_at(&target, "/flaky/judgment", 2).await;
    assert!(
        judged
            .iter()
            .any(|m| m["event"] == "manualJudgmentContinue"),
        "{judged:?}"
    );

    let email = eventually("the email in SES", Duration::from_secs(30), || async {
        sent_emails(&app)
            .await
            .into_iter()
            .find(|m| m["source"] == SENDER)
    })
    .await;
    assert_eq!(
        email["destinations"]["ToAddresses"],
        json!(["team@example.com"])
    );
    assert_eq!(
        email["destinations"]["CcAddresses"],
        json!(["lead@example.com"])
    );
    assert_eq!(email["subject"], "Pipeline ship of notes completed");
    let text = email["body"].as_str().unwrap();
    assert!(
        text.contains("Mail for notes") && text.contains(&link("notes", &id)),
        "{text}"
    );

    // Every expected notification arrived; none twice, none for the wrong `when`.
    assert_eq!(target.received("/flaky/slack").len(), 2);
    assert_eq!(target.received("/flaky/hook").len(), 2);
    assert_eq!(target.received("/flaky/app").len(), 1);
    assert!(
        target.received("/flaky/quiet").is_empty(),
        "sendNotifications is not set"
    );
    app.stop().await;
}

#[tokio::test]
async fn application_notifications_answer_404_and_400() {
    let target = WebhookTarget::start().await;
    let app = spawn(&target, Delivery::default()).await;
    app.create_application("notes").await;
    let (status, _) = app.get("/notifications/application/nobody").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post("/notifications/application/nobody", &json!({"slack": []}))
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .post(
            "/notifications/application/notes",
            &json!({"slack": [{"address": "#x", "when": "pipeline.complete"}]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("slack[0].when"),
        "{body}"
    );
    let (_, unchanged) = app.get("/notifications/application/notes").await;
    assert_eq!(unchanged, json!({"application": "notes"}));
    app.stop().await;
}

async fn queue_depth(app: &TestApp, logical_id: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let url = app
        .running
        .deployment
        .resource(logical_id)
        .unwrap()
        .ref_value
        .clone();
    let sqs = aws_sdk_sqs::Client::new(&app.running.sdk);
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let read = |name: Name| -> u64 {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        read(Name::ApproximateNumberOfMessages),
        read(Name::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Waits until the notifier has handled every event on its queue.
async fn queue_drained(app: &TestApp) {
    eventually(
        "the notification queue to drain",
        Duration::from_secs(30),
        || async { (queue_depth(app, "NotificationQueue").await == (0, 0)).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn failures_are_retried_then_dead_lettered_and_canceled_runs_and_stops_behave() {
    let target = WebhookTarget::start().await;
    let delivery = Delivery {
        retry_failed_after: Some(Duration::from_millis(200)),
        ..Delivery::default()
    };
    let app = spawn(&target, delivery).await;
    app.create_application("flaky").await;

    // A receiver that answers 500: three attempts (maxReceiveCount), then the dead-letter
    // queue, while the execution succeeds.
    let failing = json!({
        "application": "flaky", "name": "failing",
        "notifications": [{"type": "webhook", "address": target.url("/status/500"),
                           "when": ["pipeline.complete"]}],
        "stages": [wait("1", &[], 0)],
    });
    assert_eq!(app.post("/pipelines", &failing).await.0, 200);
    let id = app.trigger("flaky", "failing").await;
    assert_eq!(app.ended(&id).await["status"], "SUCCEEDED");
    eventually(
        "the event in the dead-letter queue",
        Duration::from_secs(60),
        || async { (queue_depth(&app, "NotificationDeadLetterQueue").await.0 == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        target.received("/status/500").len(),
        3,
        "one call per receive"
    );
    assert_eq!(
        app.get(&format!("/pipelines/{id}")).await.1["status"],
        "SUCCEEDED"
    );

    // A stopped judgment notifies manualJudgmentStop.
    let judged = json!({
        "application": "flaky", "name": "judged",
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "manualJudgment", "name": "Go?",
                    "sendNotifications": true,
                    "notifications": [{"type": "webhook", "address": target.url("/flaky/judgment"),
                                       "when": ["manualJudgment", "manualJudgmentStop"]}]}],
    });
    assert_eq!(app.post("/pipelines", &judged).await.0, 200);
    let id = app.trigger("flaky", "judged").await;
    app.judge(&id, "1", "stop").await;
    assert_eq!(app.ended(&id).await["status"], "TERMINAL");
    let stops = notifications_at(&target, "/flaky/judgment", 2).await;
    assert!(
        stops.iter().any(|m| m["event"] == "manualJudgmentStop"),
        "{stops:?}"
    );

    // A canceled execution sends no pipeline notification (its stage's start still does).
    let canceled = json!({
        "application": "flaky", "name": "canceled",
        "notifications": [{"type": "webhook", "address": target.url("/flaky/canceled"),
                           "when": ["pipeline.failed", "pipeline.complete"]}],
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "long", "waitTime": 600,
                    "sendNotifications": true,
                    "notifications": [{"type": "webhook", "address": target.url("/flaky/long"),
                                       "when": ["stage.starting", "stage.failed"]}]}],
    });
    assert_eq!(app.post("/pipelines", &canceled).await.0, 200);
    let id = app.trigger("flaky", "canceled").await;
    notifications_at(&target, "/flaky/long", 1).await;
    app.cancel(&id).await;
    assert_eq!(app.ended(&id).await["status"], "CANCELED");
    // The notifier has handled every event once a later execution's completion arrived and
    // its queue is empty.
    let later = json!({
        "application": "flaky", "name": "later",
        "notifications": [{"type": "webhook", "address": target.url("/flaky/later"), "when": ["pipeline.complete"]}],
        "stages": [wait("1", &[], 0)],
    });
    assert_eq!(app.post("/pipelines", &later).await.0, 200);
    let later_id = app.trigger("flaky", "later").await;
    app.ended(&later_id).await;
    notifications_at(&target, "/flaky/later", 1).await;
    queue_drained(&app).await;
    assert!(target.received("/flaky/canceled").is_empty());
    assert_eq!(
        target.received("/flaky/long").len(),
        1,
        "no stage.failed for a canceled run"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_sends_each_notification_once() {
    let target = WebhookTarget::start().await;
    let delivery = Delivery {
        duplicate: true,
        retry_failed_after: Some(Duration::from_millis(200)),
    };
    let app = spawn(&target, delivery).await;
    app.create_application("twice").await;
    // Every batch is handled twice; one receiver fails its first call, so the event is also
    // retried. The healthy receiver still hears of the completion once.
    let pipeline = json!({
        "application": "twice", "name": "p",
        "notifications": [
            {"type": "webhook", "address": target.url("/flaky/once"), "when": ["pipeline.complete"]},
            {"type": "webhook", "address": target.url("/flaky/partial?failures=1"), "when": ["pipeline.complete"]},
        ],
        "stages": [wait("1", &[], 0)],
    });
    assert_eq!(app.post("/pipelines", &pipeline).await.0, 200);
    let id = app.trigger("twice", "p").await;
    assert_eq!(app.ended(&id).await["status"], "SUCCEEDED");
    notifications_at(&target, "/flaky/partial", 2).await;
    queue_drained(&app).await;
    assert_eq!(target.received("/flaky/once").len(), 1);
    assert_eq!(
        target.received("/flaky/partial").len(),
        2,
        "one failure, one success"
    );
    assert_eq!(queue_depth(&app, "NotificationDeadLetterQueue").await.0, 0);
    app.stop().await;
}

#[tokio::test]
async fn slack_channel_addresses_post_through_the_web_api_with_the_bot_token() {
    let target = WebhookTarget::start().await;
    let secret = "notifications-test/slack/bot";
    let extra = [
        ("SlackApiUrl", target.url("/flaky")),
        ("SlackBotTokenSecret", secret.to_string()),
    ];
    let app = spawn_with(&target, Delivery::default(), &extra).await;
    // The token is read on first use, so it may be stored after the notifier started.
    aws_sdk_secretsmanager::Client::new(&app.running.sdk)
        .create_secret()
        .name(secret)
        .secret_string("xoxb-test-token")
        .send()
        .await
        .unwrap();
    app.create_application("bot").await;
    let pipeline = json!({
        "application": "bot", "name": "p",
        "notifications": [{"type": "slack", "address": "#deploys", "when": ["pipeline.complete"]}],
        "stages": [wait("1", &[], 0)],
    });
    assert_eq!(app.post("/pipelines", &pipeline).await.0, 200);
    let id = app.trigger("bot", "p").await;
    assert_eq!(app.ended(&id).await["status"], "SUCCEEDED");
    let posted = eventually(
        "a chat.postMessage call",
        Duration::from_secs(30),
        || async {
            target
                .received("/flaky/chat.postMessage")
                .into_iter()
                .next()
        },
    )
    .await;
    assert_eq!(posted.headers["authorization"], "Bearer xoxb-test-token");
    let body: Value = serde_json::from_str(&posted.body).unwrap();
    assert_eq!(body["channel"], "deploys");
    assert_eq!(
        body["attachments"][0]["title_link"],
        json!(link("bot", &id))
    );
    app.stop().await;
}
