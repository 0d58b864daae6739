//! Store errors and the one place SDK errors are mapped.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost a race: the caller retries from a fresh read.
    #[error("concurrent modification: {0}")]
    Conflict(String),
    #[error("a pipeline named '{name}' already exists in application '{application}'")]
    DuplicateName { application: String, name: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored item (or a value handed to the store) does not have the expected shape.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("DynamoDB error: {0}")]
    Aws(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Maps any SDK error: failed conditions and transaction conflicts become `Conflict`.
pub(crate) fn sdk<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&err).to_string();
    match err.code() {
        Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
            StoreError::Conflict(message)
        }
        _ => StoreError::Aws(message),
    }
}

/// True when the error is a failed condition of a single-item write.
pub(crate) fn is_condition_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.code() == Some("ConditionalCheckFailedException")
}

/// Maps a TransactWriteItems error and returns the positions of the items whose condition
/// failed (empty unless the transaction was canceled by failed conditions).
pub(crate) fn transaction(err: SdkError<TransactWriteItemsError>) -> (StoreError, Vec<usize>) {
    let reasons: Vec<Option<String>> = match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => canceled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().map(str::to_string))
            .collect(),
        _ => return (sdk(err), Vec::new()),
    };
    let failed: Vec<usize> = positions(&reasons, "ConditionalCheckFailed");
    let conflicted = !failed.is_empty() || !positions(&reasons, "TransactionConflict").is_empty();
    let message = DisplayErrorContext(&err).to_string();
    match conflicted {
        true => (StoreError::Conflict(message), failed),
        false => (StoreError::Aws(message), failed),
    }
}

fn positions(reasons: &[Option<String>], code: &str) -> Vec<usize> {
    reasons
        .iter()
        .enumerate()
        .filter(|(_, reason)| reason.as_deref() == Some(code))
        .map(|(position, _)| position)
        .collect()
}
