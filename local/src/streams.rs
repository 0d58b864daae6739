//! Local stand-in for Lambda's DynamoDB stream event source mapping: reads every shard of a
//! table's stream through the DynamoDB Streams API (the emulator implements it), hands the
//! records to the function's handler in order, in batches shaped like Lambda's event, and
//! with `ReportBatchItemFailures` retries from the first failed record.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::template::StreamEventSource;

/// A function's stream handler, as Lambda would invoke it (event JSON in, response out).
pub type StreamHandler =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = Value> + Send>> + Send + Sync>;

/// Lambda polls a shard about four times a second.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

pub async fn run(
    client: Client,
    source: StreamEventSource,
    handler: StreamHandler,
    shutdown: watch::Receiver<bool>,
) {
    // The emulator's streams have one shard that never closes; new shards are picked up
    // when the poller restarts, which is all local mode needs.
    let shards = loop {
        match shard_ids(&client, &source.stream_arn).await {
            Ok(shards) => break shards,
            Err(error) => {
                tracing::warn!(stream = %source.stream_arn, %error, "describing the stream failed; retrying");
                if *shutdown.borrow() {
                    return;
                }
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
            }
        }
    };
    let readers = shards.into_iter().map(|shard| {
        let reader = ShardReader {
            client: client.clone(),
            source: source.clone(),
            shard,
            handler: handler.clone(),
        };
        tokio::spawn(reader.run(shutdown.clone()))
    });
    for reader in readers.collect::<Vec<_>>() {
        let _ = reader.await;
    }
}

async fn shard_ids(client: &Client, stream_arn: &str) -> Result<Vec<String>, String> {
    let description = client
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?
        .stream_description
        .ok_or("DescribeStream returned no description")?;
    Ok(description
        .shards()
        .iter()
        .filter_map(|shard| shard.shard_id().map(str::to_string))
        .collect())
}

struct ShardReader {
    client: Client,
    source: StreamEventSource,
    shard: String,
    handler: StreamHandler,
}

impl ShardReader {
    async fn run(self, shutdown: watch::Receiver<bool>) {
        let start = ShardIteratorType::from(self.source.starting_position.as_str());
        let mut iterator = None;
        // The sequence number to resume at after a failed batch.
        let mut resume_at: Option<String> = None;
        while !*shutdown.borrow() {
            if iterator.is_none() {
                iterator = match self.iterator(start.clone(), resume_at.take()).await {
                    Ok(found) => Some(found),
                    Err(error) => {
                        tracing::warn!(shard = %self.shard, %error, "no shard iterator; retrying");
                        tokio::time::sleep(RETRY_AFTER_ERROR).await;
                        continue;
                    }
                };
            }
            let Some(current) = iterator.take() else {
                continue;
            };
            let output = match (self.client.get_records())
                .shard_iterator(&current)
                .limit(self.source.batch_size.clamp(1, 1000))
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    tracing::warn!(shard = %self.shard, error = ?error, "reading the stream failed; retrying");
                    iterator = Some(current);
                    tokio::time::sleep(RETRY_AFTER_ERROR).await;
                    continue;
                }
            };
            iterator = output.next_shard_iterator().map(str::to_string);
            let records = output.records();
            if records.is_empty() {
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            if let Some(failed) = self.deliver(records).await {
                // Lambda retries the batch from the failed record; so does this poller.
                resume_at = Some(failed);
                iterator = None;
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
            }
        }
    }

    async fn iterator(
        &self,
        start: ShardIteratorType,
        resume_at: Option<String>,
    ) -> Result<String, String> {
        let request = (self.client.get_shard_iterator())
            .stream_arn(&self.source.stream_arn)
            .shard_id(&self.shard);
        let request = match resume_at {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(start),
        };
        request
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?
            .shard_iterator
            .ok_or_else(|| "GetShardIterator returned no iterator".to_string())
    }

    /// Invokes the handler; the sequence number to retry from when it reports a failure.
    async fn deliver(&self, records: &[Record]) -> Option<String> {
        let event = json!({
            "Records": records
                .iter()
                .map(|record| lambda_record(record, &self.source.stream_arn))
                .collect::<Vec<_>>()
        });
        let response = (self.handler)(event).await;
        if !self.source.report_batch_item_failures {
            return None;
        }
        response
            .pointer("/batchItemFailures/0/itemIdentifier")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// One record in the shape of Lambda's DynamoDB stream event.
fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let change = record.dynamodb();
    let mut dynamodb = Map::new();
    if let Some(change) = change {
        dynamodb.insert("Keys".into(), image(change.keys()));
        if let Some(new_image) = change.new_image() {
            dynamodb.insert("NewImage".into(), image(Some(new_image)));
        }
        if let Some(old_image) = change.old_image() {
            dynamodb.insert("OldImage".into(), image(Some(old_image)));
        }
        dynamodb.insert(
            "SequenceNumber".into(),
            json!(change.sequence_number().unwrap_or_default()),
        );
        if let Some(view) = change.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|name| name.as_str()),
        "eventSource": "aws:dynamodb",
        "eventSourceARN": stream_arn,
        "awsRegion": gennaker_runtime::aws::LOCAL_REGION,
        "dynamodb": dynamodb,
    })
}

fn image(attributes: Option<&std::collections::HashMap<String, AttributeValue>>) -> Value {
    Value::Object(
        attributes
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
    )
}

/// DynamoDB's JSON form of an attribute value (`{"S": "..."}`, `{"N": "1"}`, ...).
fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => json!({"S": text}),
        AttributeValue::N(number) => json!({"N": number}),
        AttributeValue::Bool(flag) => json!({"BOOL": flag}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(texts) => json!({"SS": texts}),
        AttributeValue::Ns(numbers) => json!({"NS": numbers}),
        AttributeValue::L(items) => json!({"L": items.iter().map(attribute).collect::<Vec<_>>()}),
        AttributeValue::M(fields) => json!({"M": image(Some(fields))}),
        // Binary attributes: no table of the template stores any, so they are not encoded.
        _ => Value::Null,
    }
}
