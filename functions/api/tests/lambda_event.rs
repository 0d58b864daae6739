//! The API behind API Gateway: the sample event in `events/` goes through `lambda_http`'s
//! request conversion into the same router local mode serves.

use gennaker_api::{ApiConfig, AppState, router};
use tower::ServiceExt;

#[tokio::test]
async fn an_http_api_event_reaches_the_router() {
    let path = format!(
        "{}/../../events/api-get-version.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let request = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // No AWS call is made for /version; the endpoint only has to be well-formed.
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
    };
    let response = router(AppState::new(&sdk, config))
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
}
