//! Cron triggers against local mode (Echo's scheduler): pipeline saves keep EventBridge
//! Scheduler schedules (config-sync on the pipelines table's stream), the local host fires
//! them, and the triggers function starts the pipeline once per scheduled time.

mod support;

use std::time::Duration;

use aws_sdk_scheduler::types::FlexibleTimeWindowMode;
use gennaker_config_sync::{ConfigSync, ConfigSyncConfig};
use gennaker_env::FunctionEnv;
use gennaker_model::schedules::schedule_name;
use serde_json::{Value, json};
use support::{TestApp, eventually};

const APP: &str = "crons";

fn pipeline(id: &str, name: &str, triggers: Value) -> Value {
    json!({
        "id": id, "application": APP, "name": name,
        "parameterConfig": [{"name": "env", "default": "staging"}],
        "triggers": triggers,
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "w", "waitTime": 1}]
    })
}

fn cron(id: &str, expression: &str, enabled: bool) -> Value {
    json!({"type": "cron", "id": id, "cronExpression": expression, "enabled": enabled})
}

struct Schedules {
    client: aws_sdk_scheduler::Client,
    group: String,
}

impl Schedules {
    fn of(app: &TestApp) -> Schedules {
        let group = app
            .running
            .deployment
            .resource("CronScheduleGroup")
            .unwrap()
            .ref_value
            .clone();
        Schedules {
            client: aws_sdk_scheduler::Client::new(&app.running.sdk),
            group,
        }
    }

    async fn names(&self) -> Vec<String> {
        let listed = self
            .client
            .list_schedules()
            .group_name(&self.group)
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = listed
            .schedules()
            .iter()
            .filter_map(|s| s.name().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    async fn get(
        &self,
        name: &str,
    ) -> Option<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput> {
        self.client
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .ok()
    }

    /// Polls until the schedule `name` has `expression` (or, for None, is gone).
    async fn wait_for(&self, name: &str, expression: Option<&str>) {
        eventually(
            &format!("schedule {name} to be {expression:?}"),
            Duration::from_secs(20),
            || async {
                let found = self.get(name).await;
                let current = found.as_ref().and_then(|s| s.schedule_expression());
                (current == expression).then_some(())
            },
        )
        .await;
    }
}

impl TestApp {
    async fn save_pipeline(&self, config: &Value) {
        let (status, body) = self.post("/pipelines", config).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn executions_of(&self, name: &str) -> Vec<Value> {
        self.executions_named(APP, name).await
    }
}

/// The schedule is what the Scheduler needs, it fires within the minute at second 0 (the
/// Quartz seconds field cannot be expressed), and the execution carries Echo's cron trigger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_trigger_schedules_and_starts_its_pipeline_within_the_minute() {
    let app = TestApp::spawn().await;
    app.create_application(APP).await;
    let pipeline_id = "6a3c1b9e-0000-4000-8000-00000000c001";
    let trigger = json!({"type": "cron", "id": "every-minute", "enabled": true,
        "cronExpression": "30 * * * * ?", "parameters": {"env": "prod"}});
    app.save_pipeline(&pipeline(pipeline_id, "nightly", json!([trigger])))
        .await;

    let schedules = Schedules::of(&app);
    let name = schedule_name(pipeline_id, "every-minute");
    schedules.wait_for(&name, Some("cron(* * * * ? *)")).await;
    let schedule = schedules.get(&name).await.unwrap();
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("America/Los_Angeles")
    );
    assert_eq!(
        schedule.flexible_time_window().unwrap().mode(),
        &FlexibleTimeWindowMode::Off
    );
    let (queue_url, queue_arn) = app.queue("PipelineTriggerQueue");
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), queue_arn);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"cronTrigger": {"pipelineId": pipeline_id, "triggerId": "every-minute",
            "scheduleName": name, "scheduledTime": "<aws.scheduler.scheduled-time>"}})
    );

    let execution = eventually(
        "the cron trigger to start the pipeline",
        Duration::from_secs(90),
        || async { app.executions_of("nightly").await.into_iter().next() },
    )
    .await;
    let started = &execution["trigger"];
    assert_eq!(started["type"], "cron");
    assert_eq!(started["id"], "every-minute");
    assert_eq!(started["cronExpression"], "30 * * * * ?");
    assert_eq!(started["user"], "anonymous");
    assert_eq!(started["parameters"]["env"], "prod");
    let event_id = started["eventId"].as_str().unwrap();
    let (scheduled_name, scheduled_time) = event_id.split_once('@').unwrap();
    assert_eq!(scheduled_name, name);
    // Quartz said second 30; EventBridge has no seconds field, so it fires at second 0.
    assert!(scheduled_time.ends_with(":00Z"), "{scheduled_time}");

    // The same scheduled message delivered twice starts one execution.
    let duplicate = target
        .input()
        .unwrap()
        .replace("<aws.scheduler.scheduled-time>", "2030-01-01T00:00:00Z");
    let sqs = aws_sdk_sqs::Client::new(&app.running.sdk);
    for _ in 0..2 {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(&duplicate)
            .send()
            .await
            .unwrap();
    }
    let wanted = format!("{name}@2030-01-01T00:00:00Z");
    eventually(
        "the duplicated fire to start",
        Duration::from_secs(30),
        || async {
            app.executions_of("nightly")
                .await
                .iter()
                .any(|e| e["trigger"]["eventId"] == wanted.as_str())
                .then_some(())
        },
    )
    .await;
    app.drained(&queue_url).await;
    let started_for_it = app
        .executions_of("nightly")
        .await
        .into_iter()
        .filter(|e| e["trigger"]["eventId"] == wanted.as_str())
        .count();
    assert_eq!(started_for_it, 1);
    app.stop().await;
}

/// Saves move schedules, disables and deletes remove them, H hashes like Echo, invalid
/// expressions are refused, and replaying a stream record changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_follow_saves_disables_and_deletes() {
    let app = TestApp::spawn().await;
    app.create_application(APP).await;
    let schedules = Schedules::of(&app);
    let id = "6a3c1b9e-0000-4000-8000-00000000c002";
    // Java: "hello".hashCode() = 99162322; H minutes = 99162322 % 60 = 22, H hours = % 24 = 10.
    let hashed = cron("hello", "0 H H ? * MON-FRI", true);
    app.save_pipeline(&pipeline(id, "hashed", json!([hashed])))
        .await;
    let name = schedule_name(id, "hello");
    schedules
        .wait_for(&name, Some("cron(22 10 ? * MON-FRI *)"))
        .await;
    let written = schedules
        .get(&name)
        .await
        .unwrap()
        .last_modification_date()
        .copied();

    // A save that does not touch the cron triggers writes no schedule. A later save of
    // another pipeline (same stream, in order) shows the record was handled.
    let mut renamed_stage = pipeline(id, "hashed", json!([hashed]));
    renamed_stage["stages"][0]["name"] = json!("renamed");
    app.save_pipeline(&renamed_stage).await;
    let marker_id = "6a3c1b9e-0000-4000-8000-00000000c003";
    app.save_pipeline(&pipeline(
        marker_id,
        "marker",
        json!([cron("m", "0 0 1 ? * *", true)]),
    ))
    .await;
    let marker = schedule_name(marker_id, "m");
    schedules.wait_for(&marker, Some("cron(0 1 ? * * *)")).await;
    let unchanged = schedules.get(&name).await.unwrap();
    assert_eq!(unchanged.last_modification_date().copied(), written);

    // Replaying a stream record (Lambda delivers at least once) leaves the same schedules.
    let env = FunctionEnv::from_map(
        app.running
            .deployment
            .function("ConfigSyncFunction")
            .unwrap()
            .environment
            .clone(),
    );
    let sync = ConfigSync::new(&app.running.sdk, ConfigSyncConfig::from_env(&env).unwrap());
    let record = json!({"Records": [{"eventName": "MODIFY", "dynamodb": {
        "Keys": {"pk": {"S": format!("APP#{APP}")}, "sk": {"S": format!("PIPELINE#{id}")}},
        "SequenceNumber": "1"}}]});
    let before = schedules.names().await;
    for _ in 0..2 {
        let answer = sync.handle_stream_batch(record.clone()).await;
        assert_eq!(answer, json!({"batchItemFailures": []}));
    }
    assert_eq!(schedules.names().await, before);
    let replayed = schedules.get(&name).await.unwrap();
    assert_eq!(replayed.last_modification_date().copied(), written);

    // A changed expression moves the schedule.
    app.save_pipeline(&pipeline(
        id,
        "hashed",
        json!([cron("hello", "0 15 10 ? * 6L", true)]),
    ))
    .await;
    schedules
        .wait_for(&name, Some("cron(15 10 ? * 6L *)"))
        .await;

    // Disabling the trigger removes it; enabling brings it back.
    app.save_pipeline(&pipeline(
        id,
        "hashed",
        json!([cron("hello", "0 15 10 ? * 6L", false)]),
    ))
    .await;
    schedules.wait_for(&name, None).await;
    let enabled = pipeline(id, "hashed", json!([cron("hello", "0 15 10 ? * 6L", true)]));
    app.save_pipeline(&enabled).await;
    schedules
        .wait_for(&name, Some("cron(15 10 ? * 6L *)"))
        .await;

    // Disabling the pipeline removes it too.
    let mut disabled = enabled.clone();
    disabled["disabled"] = json!(true);
    app.save_pipeline(&disabled).await;
    schedules.wait_for(&name, None).await;
    app.save_pipeline(&enabled).await;
    schedules
        .wait_for(&name, Some("cron(15 10 ? * 6L *)"))
        .await;

    // An invalid expression is a 400 naming the field, and nothing is saved or scheduled.
    let invalid_id = "6a3c1b9e-0000-4000-8000-00000000c004";
    let (status, body) = app
        .post(
            "/pipelines",
            &pipeline(
                invalid_id,
                "invalid",
                json!([cron("bad", "0 61 10 ? * MON", true)]),
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("triggers[0].cronExpression"),
        "{body}"
    );
    assert!(body.to_string().contains("minutes field '61'"), "{body}");

    // Deleting the pipeline removes its schedule; the marker's stays.
    let response = app
        .http
        .delete(app.url(&format!("/pipelines/{APP}/hashed")))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    schedules.wait_for(&name, None).await;
    // Only the marker's schedule is left: none was made for the refused pipeline.
    assert_eq!(schedules.names().await, vec![marker]);
    app.stop().await;
}
