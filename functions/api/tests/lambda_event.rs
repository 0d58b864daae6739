//! The API behind API Gateway: the sample event in `events/` goes through `lambda_http`'s
//! request conversion into the same router local mode serves.

use gennaker_api::identity::AuthSettings;
use gennaker_api::{ApiConfig, AppState, router};
use tower::ServiceExt;

/// The JSON answer of the router to the sample event `name` in `events/`.
async fn answer(name: &str, auth: AuthSettings) -> (u16, serde_json::Value) {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let request = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // No AWS call is made for these routes; the endpoint only has to be well-formed.
    let sdk = gennaker_runtime::aws::sdk_config(Some("http://127.0.0.1:9")).await;
    let config = ApiConfig {
        applications_table: "a".into(),
        pipelines_table: "p".into(),
        executions_table: "e".into(),
        pipeline_state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:p".into(),
        orchestration_queue_url: "http://127.0.0.1:9/queue.fifo".into(),
        execution_retention_days: 1,
        accounts: None,
        jenkins_masters: None,
        infrastructure_cache_seconds: 0,
        base_images: Default::default(),
        auth,
        fiat: Default::default(),
        run_as: Default::default(),
        preconfigured_webhooks: Default::default(),
    };
    let response = router(AppState::new(&sdk, config))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn an_http_api_event_reaches_the_router() {
    let (status, json) = answer("api-get-version.json", AuthSettings::default()).await;
    assert_eq!(status, 200);
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
}

/// In AWS the caller is who the JWT authorizer's verified claims say, whatever headers
/// they send: the event carries `x-spinnaker-user: mallory` and claims for alice.
#[tokio::test]
async fn the_caller_is_the_verified_claims_user_not_the_header() {
    let auth = AuthSettings {
        admin_roles: ["ops".to_string()].into(),
        ..AuthSettings::default()
    };
    let (status, user) = answer("api-get-auth-user.json", auth).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "alice@example.com");
    assert_eq!(user["roles"], serde_json::json!(["deployers", "ops"]));
    assert_eq!(user["admin"], true);
}
