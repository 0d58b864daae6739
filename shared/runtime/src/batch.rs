//! SQS batches as Lambda's event source mapping delivers them, answered with partial batch
//! failures so that only the failed messages come back.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// Processes a FIFO batch in order. A failure fails that message and every later message of
/// the same message group, so a group never skips ahead of a failed message; messages of
/// other groups are processed as usual (and not retried for nothing).
pub async fn process_in_order<F, Fut, E>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut failures = Vec::new();
    let mut failed_groups: Vec<Option<String>> = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let group = message.attributes.get("MessageGroupId").cloned();
        if failed_groups.contains(&group) {
            failures.push(id);
            continue;
        }
        if let Err(error) = handle(message).await {
            tracing::warn!(message_id = %id, %error, "message failed; it and the later messages of its group will be retried");
            failed_groups.push(group);
            failures.push(id);
        }
    }
    response(failures)
}

/// A group's handler stopped at message `processed` (the messages before it are done).
#[derive(Debug)]
pub struct GroupFailure<E> {
    pub processed: usize,
    pub error: E,
}

/// Processes a FIFO batch by message group, handing the handler all of a group's messages
/// (in order) at once, so it can apply several messages about one thing with one read and
/// one write. Groups are independent of each other (one execution each), so they are handled
/// at the same time, as Lambda handles different groups in parallel invocations; within a
/// group the order holds. When the handler stops at a message, that message and the rest of
/// its group are reported as failures; other groups are unaffected.
pub async fn process_groups_in_order<F, Fut, E>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(Vec<SqsMessage>) -> Fut,
    Fut: Future<Output = Result<(), GroupFailure<E>>>,
    E: std::fmt::Display,
{
    let mut groups: Vec<(Option<String>, Vec<SqsMessage>)> = Vec::new();
    for message in event.records {
        let group = message.attributes.get("MessageGroupId").cloned();
        match groups.iter_mut().find(|(known, _)| *known == group) {
            Some((_, messages)) => messages.push(message),
            None => groups.push((group, vec![message])),
        }
    }
    let handled = groups.into_iter().map(|(_, messages)| {
        let ids: Vec<String> = messages
            .iter()
            .map(|message| message.message_id.clone().unwrap_or_default())
            .collect();
        let outcome = handle(messages);
        async move { (ids, outcome.await) }
    });
    let mut failures = Vec::new();
    for (ids, outcome) in futures::future::join_all(handled).await {
        if let Err(GroupFailure { processed, error }) = outcome {
            let failed = &ids[processed.min(ids.len())..];
            tracing::warn!(message_id = ?failed.first(), %error, "message failed; it and the later messages of its group will be retried");
            failures.extend_from_slice(failed);
        }
    }
    response(failures)
}

/// Processes a standard-queue batch: each message on its own.
pub async fn process_each<F, Fut, E>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut failures = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        if let Err(error) = handle(message).await {
            tracing::warn!(message_id = %id, %error, "message failed; it will be retried");
            failures.push(id);
        }
    }
    response(failures)
}

fn response(failed_ids: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed_ids
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Parses a message body as JSON of type `T`.
pub fn parse_body<T: serde::de::DeserializeOwned>(message: &SqsMessage) -> Result<T, String> {
    let body = message.body.as_deref().unwrap_or_default();
    serde_json::from_str(body).map_err(|error| format!("unreadable message body: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages `id` in group `id`'s first letter.
    fn event(ids: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = ids
            .iter()
            .map(|id| {
                let mut message = SqsMessage::default();
                message.message_id = Some(id.to_string());
                message
                    .attributes
                    .insert("MessageGroupId".into(), id[..1].to_string());
                message
            })
            .collect();
        event
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn in_order_holds_back_the_rest_of_a_failed_group_only() {
        let mut seen = Vec::new();
        let response = process_in_order(event(&["a1", "b1", "a2", "b2", "c1"]), |message| {
            let id = message.message_id.unwrap();
            seen.push(id.clone());
            async move { if id == "a1" { Err("boom") } else { Ok(()) } }
        })
        .await;
        assert_eq!(seen, vec!["a1", "b1", "b2", "c1"]);
        assert_eq!(failed(&response), vec!["a1", "a2"]);
    }

    #[tokio::test]
    async fn groups_get_their_messages_together_and_fail_from_where_they_stopped() {
        let seen = std::cell::RefCell::new(Vec::new());
        let response =
            process_groups_in_order(event(&["a1", "b1", "a2", "b2", "a3", "c1"]), |messages| {
                let ids: Vec<String> = messages
                    .into_iter()
                    .map(|m| m.message_id.unwrap())
                    .collect();
                seen.borrow_mut().push(ids.join(","));
                let stop_at = if ids[0] == "a1" { Some(1) } else { None };
                async move {
                    match stop_at {
                        Some(processed) => Err(GroupFailure {
                            processed,
                            error: "boom",
                        }),
                        None => Ok(()),
                    }
                }
            })
            .await;
        assert_eq!(seen.into_inner(), vec!["a1,a2,a3", "b1,b2", "c1"]);
        assert_eq!(failed(&response), vec!["a2", "a3"]);
    }

    #[tokio::test]
    async fn each_reports_only_the_failed_messages() {
        let response = process_each(event(&["a", "b", "c"]), |message| {
            let id = message.message_id.unwrap();
            async move { if id == "b" { Err("boom") } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed(&response), vec!["b"]);
    }
}
