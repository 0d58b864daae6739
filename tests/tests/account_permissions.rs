//! Fiat's account permissions end to end: `permissions {READ, WRITE}` on the `Accounts`
//! entries, `authorized` in `/credentials` per user, the `allowedAccounts` an execution
//! records when it is started, and a deploy to an account its starter may not WRITE ending
//! TERMINAL before any AWS call — checked through the emulator's Auto Scaling and EC2 APIs.

mod support;

use gennaker_local::LocalOptions;
use serde_json::{Value, json};
use support::cloud::Cloud;
use support::{TestApp, stage};

const REGION: &str = "us-east-1";

fn accounts() -> String {
    json!([
        {"name": "default", "type": "aws"},
        {"name": "prod", "type": "aws", "permissions": {"READ": ["dev", "ops"], "WRITE": ["ops"]}},
    ])
    .to_string()
}

fn authorized(credentials: &Value, name: &str) -> Value {
    credentials
        .as_array()
        .unwrap()
        .iter()
        .find(|account| account["name"] == name)
        .map(|account| account["authorized"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_deploy_to_an_account_its_starter_may_not_write_ends_before_any_aws_call() {
    let app = TestApp::spawn_with(LocalOptions {
        parameters: [
            ("Accounts".to_string(), accounts()),
            ("StagePollSeconds".to_string(), "1".to_string()),
        ]
        .into(),
        ..LocalOptions::default()
    })
    .await;
    let cloud = Cloud::of(&app);
    let dev = app.bearer_with_roles("dana", &["dev"]);
    let ops = app.bearer_with_roles("omar", &["ops"]);

    // `authorized` and `allowedAccounts` follow each user's WRITE.
    let (status, listed) = app
        .as_user(&dev, reqwest::Method::GET, "/credentials", None)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(authorized(&listed, "prod"), json!(false), "{listed}");
    assert_eq!(authorized(&listed, "default"), json!(true), "{listed}");
    let (_, listed) = app
        .as_user(
            &ops,
            reqwest::Method::GET,
            "/credentials?expand=true",
            Some(&json!({})),
        )
        .await;
    assert_eq!(authorized(&listed, "prod"), json!(true), "{listed}");
    let (_, user) = app
        .as_user(&dev, reqwest::Method::GET, "/auth/user", None)
        .await;
    assert_eq!(user["allowedAccounts"], json!(["default"]), "{user}");

    // The application is open to everyone; the account is not.
    app.create_application("shop").await;
    let (image_id, _) = cloud.an_image().await;
    let deploy = json!({"refId": "1", "requisiteStageRefIds": [], "type": "deploy", "name": "Deploy",
        "clusters": [{"application": "shop", "stack": "web", "freeFormDetails": "", "account": "prod",
            "cloudProvider": "aws", "availabilityZones": {REGION: []}, "imageId": image_id,
            "capacity": {"min": 1, "max": 1, "desired": 1}, "instanceType": "t3.micro"}]});
    let pipeline = json!({"application": "shop", "name": "to-prod", "stages": [deploy]});
    let (status, body) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{body}");

    // dev may READ prod, not WRITE it: the run records that and stops before AWS.
    let (status, started) = app
        .as_user(
            &dev,
            reqwest::Method::POST,
            "/pipelines/shop/to-prod",
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("/pipelines/");
    let execution = app.ended(id).await;
    assert_eq!(
        execution["authentication"],
        json!({"user": "dana", "allowedAccounts": ["default"]})
    );
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("'prod'") && error.contains("allowedAccounts"),
        "{error}"
    );
    assert!(
        cloud.group_names().await.is_empty(),
        "no Auto Scaling group"
    );
    assert_eq!(cloud.launch_template_count().await, 0, "no launch template");

    // ops may WRITE prod: the same pipeline deploys.
    let (status, started) = app
        .as_user(
            &ops,
            reqwest::Method::POST,
            "/pipelines/shop/to-prod",
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("/pipelines/");
    let execution = app.ended(id).await;
    assert_eq!(
        execution["authentication"]["allowedAccounts"],
        json!(["default", "prod"])
    );
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(cloud.group_names().await, ["shop-web-v000"]);
    app.stop().await;
}
