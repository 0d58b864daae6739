//! Lambda wiring only: pipeline-completion triggers consume their queue (fed by an
//! EventBridge rule on the lifecycle events).

#![recursion_limit = "256"]

use gennaker_env::FunctionEnv;
use gennaker_triggers::{PipelineTriggers, TriggersConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let config = TriggersConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let triggers = PipelineTriggers::new(&sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let triggers = triggers.clone();
        async move { Ok::<_, Error>(triggers.handle_batch(event.payload).await) }
    }))
    .await
}
