//! Lambda wiring only: the bake stage worker consumes its task queue.

#![recursion_limit = "256"]

use gennaker_runtime::env::FunctionEnv;
use gennaker_stage_bake::{BakeConfig, BakeWorker};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let config = BakeConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let worker = BakeWorker::new(&sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(worker.handle_batch(event.payload).await) }
    }))
    .await
}
