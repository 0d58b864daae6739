//! Publishing lifecycle events on the Gennaker EventBridge bus, where notifications and
//! pipeline-completion triggers listen (rules route them to SQS queues).

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;

/// EventBridge's `source` of execution and stage events: Echo's `details.source`.
pub const EVENT_SOURCE: &str = "orca";
/// PutEvents takes at most this many entries per call.
const ENTRIES_PER_CALL: usize = 10;
/// Above this size a detail drops the full execution (EventBridge's limit is 256 KB a call).
const MAX_DETAIL_BYTES: usize = 200 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("publishing events failed: {0}")]
pub struct PublishError(String);

#[derive(Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl EventBus {
    pub fn new(client: aws_sdk_eventbridge::Client, name: String) -> Self {
        Self { client, name }
    }

    /// Publishes `(detail type, detail)` pairs; every entry must be accepted.
    pub async fn publish(&self, events: Vec<(String, Value)>) -> Result<(), PublishError> {
        let entries: Vec<PutEventsRequestEntry> = events
            .into_iter()
            .map(|(detail_type, detail)| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.name)
                    .source(EVENT_SOURCE)
                    .detail_type(detail_type)
                    .detail(bounded(detail).to_string())
                    .build()
            })
            .collect();
        for chunk in entries.chunks(ENTRIES_PER_CALL) {
            let output = self
                .client
                .put_events()
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|error| PublishError(format!("{error:?}").chars().take(600).collect()))?;
            if output.failed_entry_count() > 0 {
                return Err(PublishError(format!(
                    "{} entries were refused",
                    output.failed_entry_count()
                )));
            }
        }
        Ok(())
    }
}

/// A detail too large for EventBridge keeps a summary of the execution instead of all of it.
fn bounded(mut detail: Value) -> Value {
    if detail.to_string().len() <= MAX_DETAIL_BYTES {
        return detail;
    }
    if let Some(execution) = detail.get("execution").cloned() {
        let summary: serde_json::Map<String, Value> = [
            "id",
            "application",
            "name",
            "status",
            "pipelineConfigId",
            "type",
        ]
        .iter()
        .filter_map(|key| Some((key.to_string(), execution.get(*key)?.clone())))
        .collect();
        detail["execution"] = Value::Object(summary);
        detail["truncated"] = Value::Bool(true);
    }
    detail
}
