//! User operations (cancel, pause, resume, restart) are applied once, however often their
//! message is delivered.

use gennaker_model::Execution;
use serde_json::Value;

/// The execution's extra field listing the ids of the latest operations applied.
const APPLIED_OPERATIONS: &str = "appliedOperationIds";

/// How many operation ids are remembered. A message comes back only while it is the oldest
/// unfinished one of its group (SQS FIFO), so only the last batch (at most 10) matters.
const REMEMBERED_OPERATIONS: usize = 32;

/// Whether the operation with this id was applied already (its message was delivered
/// again).
pub fn operation_applied(execution: &Execution, operation_id: &str) -> bool {
    match execution.extra.get(APPLIED_OPERATIONS) {
        Some(Value::Array(ids)) => ids.iter().any(|id| id.as_str() == Some(operation_id)),
        _ => false,
    }
}

/// Remembers that the operation with this id was applied — also when it changed nothing: a
/// cancel ignored by a finished execution must stay ignored when it is delivered again after
/// a restart reopened the execution.
pub fn record_operation(execution: &mut Execution, operation_id: &str) {
    let ids = execution
        .extra
        .entry(APPLIED_OPERATIONS)
        .or_insert_with(|| Value::Array(vec![]));
    if !ids.is_array() {
        *ids = Value::Array(vec![]);
    }
    if let Value::Array(ids) = ids {
        ids.push(Value::String(operation_id.to_string()));
        let excess = ids.len().saturating_sub(REMEMBERED_OPERATIONS);
        ids.drain(..excess);
    }
}
