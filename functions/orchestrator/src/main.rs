//! Lambda wiring only: the orchestrator consumes the orchestration FIFO queue.

#![recursion_limit = "256"]

use gennaker_env::FunctionEnv;
use gennaker_orchestrator::{Orchestrator, OrchestratorConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let config = OrchestratorConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let orchestrator = Orchestrator::new(&sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let orchestrator = orchestrator.clone();
        async move { Ok::<_, Error>(orchestrator.handle_batch(event.payload).await) }
    }))
    .await
}
