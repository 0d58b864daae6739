//! Lambda wiring only: the notifier consumes its queue (fed by an EventBridge rule on the
//! lifecycle events).

#![recursion_limit = "256"]

use gennaker_env::FunctionEnv;
use gennaker_notifier::{Notifier, NotifierConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    gennaker_runtime::logging::init(true);
    let config = NotifierConfig::from_env(&FunctionEnv::from_process())?;
    let sdk = gennaker_runtime::aws::sdk_config(None).await;
    let notifier = Notifier::new(&sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let notifier = notifier.clone();
        async move { Ok::<_, Error>(notifier.handle_batch(event.payload).await) }
    }))
    .await
}
