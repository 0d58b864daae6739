//! Local stand-in for Lambda's SQS event source mapping: long-polls a queue, hands batches
//! to a function's handler, deletes what the handler did not report as failed, and leaves
//! failed messages to reappear after the queue's visibility timeout (then its DLQ).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use tokio::sync::watch;

use crate::template::SqsEventSource;

/// A function's SQS handler, as Lambda would invoke it.
pub type BatchHandler =
    Arc<dyn Fn(SqsEvent) -> Pin<Box<dyn Future<Output = SqsBatchResponse> + Send>> + Send + Sync>;

/// How a poller delivers, beyond what Lambda does by default; the knobs exist so tests can
/// prove handlers safe under SQS's at-least-once delivery.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery {
    /// Hand every batch to the handler twice (SQS may deliver a message more than once).
    pub duplicate: bool,
    /// Make failed messages visible again after this long instead of the queue's
    /// visibility timeout (Lambda waits for the timeout; tests need not).
    pub retry_failed_after: Option<Duration>,
}

/// Long-poll wait; short enough that shutdown is prompt.
const LONG_POLL_SECONDS: i32 = 1;
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

pub async fn run(
    sqs: aws_sdk_sqs::Client,
    source: SqsEventSource,
    queue_arn: String,
    handler: BatchHandler,
    delivery: Delivery,
    shutdown: watch::Receiver<bool>,
) {
    // A receive is never abandoned half-way: messages SQS hands out are invisible to everyone
    // else until their visibility timeout, so the poller finishes the current long poll (at
    // most LONG_POLL_SECONDS) and delivers what it got before it stops.
    while !*shutdown.borrow() {
        match receive(&sqs, &source).await {
            Ok(messages) if messages.is_empty() => {}
            Ok(messages) => deliver(&sqs, &source, &queue_arn, &handler, delivery, messages).await,
            Err(error) => {
                if *shutdown.borrow() {
                    return;
                }
                tracing::warn!(queue = %source.queue_logical_id, %error, "receiving failed; retrying");
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
            }
        }
    }
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    source: &SqsEventSource,
) -> Result<Vec<Message>, String> {
    sqs.receive_message()
        .queue_url(&source.queue_url)
        .max_number_of_messages(source.batch_size.clamp(1, 10))
        .wait_time_seconds(LONG_POLL_SECONDS)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map(|output| output.messages.unwrap_or_default())
        .map_err(|error| format!("{error:?}"))
}

async fn deliver(
    sqs: &aws_sdk_sqs::Client,
    source: &SqsEventSource,
    queue_arn: &str,
    handler: &BatchHandler,
    delivery: Delivery,
    messages: Vec<Message>,
) {
    let records: Vec<SqsMessage> = messages
        .iter()
        .map(|message| to_lambda_record(message, queue_arn))
        .collect();
    let mut event = SqsEvent::default();
    event.records = records;
    let mut failures = Vec::new();
    let deliveries = if delivery.duplicate { 2 } else { 1 };
    for _ in 0..deliveries {
        let response = handler(event.clone()).await;
        failures.extend(
            response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier),
        );
    }
    let failed: Vec<&str> = failures.iter().map(String::as_str).collect();
    if let Some(delay) = delivery.retry_failed_after {
        retry_soon(sqs, source, &messages, &failed, delay).await;
    }
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|message| !failed.contains(&message.message_id().unwrap_or_default()))
        .enumerate()
        .filter_map(|(index, message)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .build()
                .ok()
        })
        .collect();
    if done.is_empty() {
        return;
    }
    let deleted = sqs
        .delete_message_batch()
        .queue_url(&source.queue_url)
        .set_entries(Some(done))
        .send()
        .await;
    if let Err(error) = deleted {
        // Undeleted messages come back after the visibility timeout; handlers are idempotent.
        tracing::warn!(queue = %source.queue_logical_id, error = ?error, "deleting processed messages failed");
    }
}

async fn retry_soon(
    sqs: &aws_sdk_sqs::Client,
    source: &SqsEventSource,
    messages: &[Message],
    failed: &[&str],
    delay: Duration,
) {
    for message in messages
        .iter()
        .filter(|m| failed.contains(&m.message_id().unwrap_or_default()))
    {
        let changed = sqs
            .change_message_visibility()
            .queue_url(&source.queue_url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .visibility_timeout(delay.as_secs() as i32)
            .send()
            .await;
        if let Err(error) = changed {
            tracing::warn!(error = ?error, "could not shorten a failed message's visibility");
        }
    }
}

fn to_lambda_record(message: &Message, queue_arn: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_string);
    record.receipt_handle = message.receipt_handle().map(str::to_string);
    record.body = message.body().map(str::to_string);
    record.md5_of_body = message.md5_of_body().map(str::to_string);
    record.attributes = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(key, value)| (key.as_str().to_string(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record.event_source = Some("aws:sqs".to_string());
    record.event_source_arn = Some(queue_arn.to_string());
    record.aws_region = Some(gennaker_runtime::aws::LOCAL_REGION.to_string());
    record
}
