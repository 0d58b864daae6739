//! Lambda wiring only: a scheduled pass that runs again the running stages whose state
//! machine run was lost or ended without its result arriving.

#![recursion_limit = "256"]

use gennaker_env::FunctionEnv;
use gennaker_orchestrator::{Orchestrator, OrchestratorConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let env = FunctionEnv::from_process();
    let config = OrchestratorConfig::from_env(&env)?;
    let grace_millis = gennaker_orchestrator::rerun_after_millis(&env);
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let orchestrator = Orchestrator::new(&sdk, config);
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let orchestrator = orchestrator.clone();
        async move {
            let done = orchestrator.reconcile(grace_millis).await?;
            tracing::info!(
                examined = done.examined,
                rerun = done.rerun.len(),
                abandoned = done.abandoned.len(),
                "reconciliation pass"
            );
            Ok::<_, Error>(())
        }
    }))
    .await
}
