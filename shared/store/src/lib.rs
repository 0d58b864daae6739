//! Gennaker's DynamoDB storage: applications, pipeline configs (with history and unique
//! names) and executions (a header item plus one item per stage, never one blob).
//!
//! Every write that can race is conditional on the version that was read; a lost race is
//! [`StoreError::Conflict`] and the caller retries from a fresh read.

mod application_history;
mod applications;
mod build_watermarks;
mod concurrency;
mod error;
mod execution_lists;
mod executions;
mod item;
mod keys;
mod notifications;
mod pipelines;
mod query;
mod stage_items;
mod strategies;
mod trigger_events;
mod write;

use std::sync::Arc;

pub use error::StoreError;
pub use execution_lists::ExecutionFilter;
pub use executions::StoredExecution;
pub use keys::pipeline_config_id;
pub use stage_items::LoadedStage;

/// The table names (they differ per stack and per test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub applications: String,
    pub pipelines: String,
    pub executions: String,
}

/// The storage adapter. Cheap to clone (the SDK client is reference counted).
#[derive(Debug, Clone)]
pub struct Store {
    client: aws_sdk_dynamodb::Client,
    tables: Arc<Tables>,
}

impl Store {
    pub fn new(client: aws_sdk_dynamodb::Client, tables: Tables) -> Self {
        Self {
            client,
            tables: Arc::new(tables),
        }
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }
}
