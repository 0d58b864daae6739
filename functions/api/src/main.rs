//! Lambda wiring only: API Gateway HTTP API events into the shared axum router.

#![recursion_limit = "256"]

use gennaker_api::{ApiConfig, AppState, router};
use gennaker_env::FunctionEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gennaker_runtime::logging::init(true);
    let config = ApiConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    lambda_http::run(router(AppState::new(&sdk, config))).await
}
