//! Sending orchestrator events (cancel, pause, resume, restart, …) to the orchestration FIFO
//! queue: one message group per execution, so its events are handled in order, one at a time.

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("sending to the orchestration queue failed: {0}")]
pub struct QueueError(String);

#[derive(Clone)]
pub struct OrchestrationQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl OrchestrationQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url }
    }

    /// Sends `message` in the execution's group. Each call is a distinct request (its own
    /// deduplication id); the orchestrator makes a repeated request harmless.
    pub async fn send(
        &self,
        execution_id: &str,
        message: &impl Serialize,
    ) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_group_id(execution_id)
            .message_deduplication_id(uuid::Uuid::new_v4().to_string())
            .message_body(serde_json::to_string(message).expect("protocol messages serialize"))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| QueueError(format!("{error:?}").chars().take(600).collect()))
    }
}
