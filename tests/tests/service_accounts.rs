//! Service accounts end to end, as Front50, Echo and Orca use Fiat's: who may name one as a
//! trigger's `runAsUser`, what a trigger fires as (and that it fires only with EXECUTE on
//! the application), which accounts its execution may deploy to, and the managed service
//! account of a pipeline with `roles`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestApp, eventually};

const APP: &str = "shop";

fn service_accounts() -> String {
    json!([
        {"name": "shop-runner", "memberOf": ["shop-team"]},
        {"name": "deploy-bot", "memberOf": ["deployers"]},
    ])
    .to_string()
}

fn accounts() -> String {
    json!([
        {"name": "default", "type": "aws"},
        {"name": "prod", "type": "aws", "permissions": {"READ": ["deployers"], "WRITE": ["deployers"]}},
    ])
    .to_string()
}

fn pipeline(name: &str, triggers: Value) -> Value {
    json!({"application": APP, "name": name, "triggers": triggers,
        "stages": [{"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Wait", "waitTime": 1}]})
}

fn webhook(run_as_user: Option<&str>) -> Value {
    let mut trigger = json!({"type": "webhook", "enabled": true, "source": "shop-build"});
    if let Some(user) = run_as_user {
        trigger["runAsUser"] = json!(user);
    }
    trigger
}

async fn config_names(app: &TestApp) -> Vec<String> {
    let (status, configs) = app
        .get(&format!("/applications/{APP}/pipelineConfigs"))
        .await;
    assert_eq!(status, 200, "{configs}");
    let mut names: Vec<String> = configs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|config| config["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_run_as_service_accounts_their_savers_may_use_and_only_with_execute() {
    let app = TestApp::spawn_with_parameters(&[
        ("ServiceAccounts", &service_accounts()),
        ("Accounts", &accounts()),
    ])
    .await;
    let team = json!(["shop-team"]);
    app.application_task(
        "createApplication",
        APP,
        json!({"permissions": {"READ": team, "WRITE": team, "EXECUTE": team}}),
    )
    .await;
    let sam = app.bearer_with_roles("sam", &["shop-team"]);
    let post = reqwest::Method::POST;

    // Saving: a service account the saver lacks a role of, an unknown one, and roles the
    // saver does not hold are refused with the field, and nothing is written.
    for (config, expected) in [
        (
            pipeline("as-bot", json!([webhook(Some("deploy-bot"))])),
            "sam may not use service account deploy-bot (triggers[0].runAsUser)",
        ),
        (
            pipeline("as-ghost", json!([webhook(None), webhook(Some("ghost"))])),
            "sam may not use service account ghost (triggers[1].runAsUser)",
        ),
        (
            json!({"roles": ["shop-team", "deployers"]})
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain(pipeline("granting", json!([])).as_object().unwrap().clone())
                .collect(),
            "may not grant roles they do not hold to a pipeline (roles: deployers)",
        ),
    ] {
        let (status, body) = app
            .as_user(&sam, post.clone(), "/pipelines", Some(&config))
            .await;
        assert_eq!(status, 403, "{config}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }
    assert_eq!(config_names(&app).await, Vec::<String>::new());

    // Allowed: a service account holding only the saver's roles; a pipeline with the saver's
    // roles (its triggers run as its managed service account); and, saved by the local
    // administrator, a trigger without runAsUser.
    for config in [
        pipeline("as-runner", json!([webhook(Some("shop-runner"))])),
        json!({"roles": ["shop-team"]})
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .chain(
                pipeline("managed", json!([webhook(None)]))
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .collect(),
    ] {
        let (status, body) = app
            .as_user(&sam, post.clone(), "/pipelines", Some(&config))
            .await;
        assert_eq!(status, 200, "{config}: {body}");
    }
    let (status, body) = app
        .post(
            "/pipelines",
            &pipeline("as-anonymous", json!([webhook(None)])),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, managed) = app
        .get(&format!("/applications/{APP}/pipelineConfigs/managed"))
        .await;
    let managed_account = format!(
        "{}@managed-service-account",
        managed["id"].as_str().unwrap()
    );
    assert_eq!(
        managed["triggers"][0]["runAsUser"],
        managed_account.as_str(),
        "{managed}"
    );

    // Deck's picker: what sam may use; for the application, only accounts that may run it.
    let get = reqwest::Method::GET;
    let (_, listed) = app
        .as_user(&sam, get.clone(), "/auth/user/serviceAccounts", None)
        .await;
    assert_eq!(listed, json!(["shop-runner"]));
    let (_, listed) = app.get("/auth/user/serviceAccounts").await;
    assert_eq!(listed, json!(["shop-runner", "deploy-bot"]));
    let (_, listed) = app
        .get(&format!("/auth/user/serviceAccounts?application={APP}"))
        .await;
    assert_eq!(listed, json!(["shop-runner"]));

    // One webhook event matches all three: the service accounts fire, anonymous (who may
    // not EXECUTE the restricted application) does not. The webhook answers after it
    // started what it starts.
    let (status, body) = app.post("/webhooks/webhook/shop-build", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["eventProcessed"], true, "{body}");
    let as_runner = app.executions_named(APP, "as-runner").await;
    assert_eq!(as_runner.len(), 1, "{as_runner:?}");
    assert_eq!(as_runner[0]["authentication"]["user"], "shop-runner");
    assert_eq!(as_runner[0]["trigger"]["user"], "shop-runner");
    // shop-team may not WRITE prod, so the execution may deploy to `default` only.
    assert_eq!(
        as_runner[0]["authentication"]["allowedAccounts"],
        json!(["default"])
    );
    let managed_runs = app.executions_named(APP, "managed").await;
    assert_eq!(managed_runs.len(), 1, "{managed_runs:?}");
    assert_eq!(
        managed_runs[0]["authentication"]["user"],
        managed_account.as_str()
    );
    assert_eq!(
        app.executions_named(APP, "as-anonymous").await,
        Vec::<Value>::new()
    );

    app.stop().await;
}

/// The end-to-end case: a cron trigger whose service account lost EXECUTE on the
/// application does not fire (the scheduler's message is played by sending it to the
/// trigger queue, as EventBridge Scheduler would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_trigger_whose_service_account_lost_execute_does_not_fire() {
    let app = TestApp::spawn_with_parameters(&[("ServiceAccounts", &service_accounts())]).await;
    let team = json!(["shop-team"]);
    app.application_task(
        "createApplication",
        APP,
        json!({"permissions": {"READ": team, "WRITE": team, "EXECUTE": team}}),
    )
    .await;
    let cron = json!({"type": "cron", "id": "nightly-trigger", "enabled": true,
        "cronExpression": "0 0 3 * * ?", "runAsUser": "shop-runner"});
    let (status, body) = app
        .post("/pipelines", &pipeline("nightly", json!([cron])))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, stored) = app
        .get(&format!("/applications/{APP}/pipelineConfigs/nightly"))
        .await;
    let pipeline_id = stored["id"].as_str().unwrap().to_string();

    let (queue_url, _) = app.queue("PipelineTriggerQueue");
    let sqs = aws_sdk_sqs::Client::new(&app.running.sdk);
    let fire = |time: &str| {
        json!({"cronTrigger": {"pipelineId": pipeline_id, "triggerId": "nightly-trigger",
            "scheduleName": "nightly", "scheduledTime": time}})
        .to_string()
    };
    // While shop-runner may EXECUTE, the fire starts the pipeline.
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(fire("2030-01-01T03:00:00Z"))
        .send()
        .await
        .unwrap();
    let started = eventually(
        "the first fire to start",
        Duration::from_secs(30),
        || async {
            app.executions_named(APP, "nightly")
                .await
                .into_iter()
                .next()
        },
    )
    .await;
    assert_eq!(started["authentication"]["user"], "shop-runner");

    // EXECUTE moves to another role; shop-team keeps READ and WRITE.
    app.application_task(
        "updateApplication",
        APP,
        json!({"permissions": {"READ": team, "WRITE": team, "EXECUTE": ["release-team"]}}),
    )
    .await;
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(fire("2030-01-02T03:00:00Z"))
        .send()
        .await
        .unwrap();
    app.drained(&queue_url).await;
    let runs = app.executions_named(APP, "nightly").await;
    assert_eq!(runs.len(), 1, "the second fire must not start: {runs:?}");

    app.stop().await;
}
