//! Lambda wiring only: a scheduled look at the Jenkins jobs that pipelines' `jenkins`
//! triggers watch.

#![recursion_limit = "256"]

use gennaker_env::FunctionEnv;
use gennaker_triggers::{JenkinsPoller, JenkinsPollerConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let config = JenkinsPollerConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let poller = JenkinsPoller::new(&sdk, config);
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let poller = poller.clone();
        async move {
            let fired = poller.poll().await?;
            tracing::info!(fired, "Jenkins build triggers polled");
            Ok::<_, Error>(())
        }
    }))
    .await
}
