//! Lambda wiring only: the manual judgment worker serves its task queue.

#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    gennaker_worker::run_on_lambda::<gennaker_stage_manual_judgment::ManualJudgmentWorker>().await
}
