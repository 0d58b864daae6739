//! The task queues of stage workers, by stage type, for the messages the orchestrator sends
//! them directly (cancel notices). Standard queues: no group, no deduplication id.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("sending to the {stage_type} worker queue failed: {message}")]
pub struct WorkerQueueError {
    pub stage_type: String,
    pub message: String,
}

#[derive(Clone)]
pub struct WorkerQueues {
    client: aws_sdk_sqs::Client,
    /// Stage type -> queue URL.
    urls: BTreeMap<String, String>,
}

impl WorkerQueues {
    pub fn new(client: aws_sdk_sqs::Client, urls: BTreeMap<String, String>) -> Self {
        Self { client, urls }
    }

    pub fn has(&self, stage_type: &str) -> bool {
        self.urls.contains_key(stage_type)
    }

    /// Sends `message` to the worker queue of `stage_type`; `false` if it has none.
    pub async fn send(
        &self,
        stage_type: &str,
        message: &impl Serialize,
    ) -> Result<bool, WorkerQueueError> {
        let Some(url) = self.urls.get(stage_type) else {
            return Ok(false);
        };
        self.client
            .send_message()
            .queue_url(url)
            .message_body(serde_json::to_string(message).expect("protocol messages serialize"))
            .send()
            .await
            .map(|_| true)
            .map_err(|error| WorkerQueueError {
                stage_type: stage_type.to_string(),
                message: format!("{error:?}").chars().take(600).collect(),
            })
    }
}
