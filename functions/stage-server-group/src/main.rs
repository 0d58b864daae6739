//! Lambda wiring only: the server-group stage worker serves its task queue.

#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    gennaker_worker::run_on_lambda::<gennaker_stage_server_group::ServerGroupWorker>().await
}
