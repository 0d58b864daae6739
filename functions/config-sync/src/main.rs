//! Lambda wiring only: the pipelines table's stream drives the cron schedules.

#![recursion_limit = "256"]

use gennaker_config_sync::{ConfigSync, ConfigSyncConfig};
use gennaker_env::FunctionEnv;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let config = ConfigSyncConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let sync = ConfigSync::new(&sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let sync = sync.clone();
        async move { Ok::<_, Error>(sync.handle_stream_batch(event.payload).await) }
    }))
    .await
}
