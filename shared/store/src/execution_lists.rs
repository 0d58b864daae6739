//! Listing executions through the executions table's indexes: every list is a Query of one
//! index partition, newest first, bounded by a limit, never a Scan.
//!
//! Execution ids are ULIDs, whose first ten characters encode the build time in
//! milliseconds, so a build-time window is a range condition on the index's sort key.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use gennaker_model::{Execution, ExecutionStatus, ExecutionType};
use tokio::task::JoinSet;

use crate::Store;
use crate::error::{Result, sdk};
use crate::executions::with_status_filter;
use crate::item::{self, Item, s};
use crate::keys;

const EXECUTION_ID: &str = "executionId";
const PIPELINE_CONFIG_ID: &str = "pipelineConfigId";
const APPLICATION_TYPE: &str = "applicationType";
/// How many executions are loaded at once.
const LOAD_CONCURRENCY: usize = 16;
/// Items DynamoDB reads per page when a status filter may discard most of them.
const FILTERED_PAGE: usize = 200;

/// Which executions of an index partition to return.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only these statuses (`None` or empty: all).
    pub statuses: Option<Vec<ExecutionStatus>>,
    /// Only executions built at or after this time (epoch ms).
    pub built_from: Option<i64>,
    /// Only executions built at or before this time (epoch ms).
    pub built_until: Option<i64>,
    /// Matching executions to skip first (pagination).
    pub skip: usize,
    /// At most this many executions.
    pub limit: usize,
}

impl Store {
    /// A pipeline (or strategy) config's executions, newest first.
    pub async fn find_executions_for_config(
        &self,
        pipeline_config_id: &str,
        filter: &ExecutionFilter,
    ) -> Result<Vec<Execution>> {
        let items = self
            .index_items(
                keys::BY_PIPELINE_CONFIG,
                PIPELINE_CONFIG_ID,
                pipeline_config_id,
                filter,
            )
            .await?;
        self.load_many(ids_of(&items)?).await
    }

    /// Like [`Store::find_executions_for_config`], but only the header of each execution
    /// (everything but `stages`, which stays empty), read from the index alone: one Query,
    /// whatever the number of executions. For filtering before loading whole executions.
    pub async fn find_execution_headers_for_config(
        &self,
        pipeline_config_id: &str,
        filter: &ExecutionFilter,
    ) -> Result<Vec<Execution>> {
        let items = self
            .index_items(
                keys::BY_PIPELINE_CONFIG,
                PIPELINE_CONFIG_ID,
                pipeline_config_id,
                filter,
            )
            .await?;
        items.iter().map(item::doc).collect()
    }

    /// An application's executions of one type (pipelines, or orchestration tasks), newest
    /// first.
    pub async fn find_executions_of_type(
        &self,
        application: &str,
        kind: ExecutionType,
        filter: &ExecutionFilter,
    ) -> Result<Vec<Execution>> {
        let key = keys::application_type_key(application, type_name(kind));
        let items = self
            .index_items(keys::BY_APPLICATION_TYPE, APPLICATION_TYPE, &key, filter)
            .await?;
        self.load_many(ids_of(&items)?).await
    }

    /// Header items of one index partition, newest first, as `filter` says.
    async fn index_items(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
        filter: &ExecutionFilter,
    ) -> Result<Vec<Item>> {
        let statuses = filter.statuses.as_deref().filter(|s| !s.is_empty());
        let wanted = filter.skip + filter.limit;
        let mut ids = Vec::new();
        let mut start = None;
        while ids.len() < wanted && filter.limit > 0 {
            let missing = wanted - ids.len();
            let page = if statuses.is_some() {
                missing.max(FILTERED_PAGE)
            } else {
                missing
            };
            let query = (self.client.query())
                .table_name(&self.tables.executions)
                .index_name(index)
                .expression_attribute_names("#key", attribute)
                .expression_attribute_values(":key", s(value))
                .scan_index_forward(false)
                .limit(i32::try_from(page.clamp(1, 1000)).unwrap_or(1000))
                .set_exclusive_start_key(start);
            let query = with_time_window(query, filter);
            let output = with_status_filter(query, statuses)
                .send()
                .await
                .map_err(sdk)?;
            ids.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        ids.truncate(wanted);
        Ok(ids.split_off(filter.skip.min(ids.len())))
    }

    /// Loads executions concurrently, keeping the order; ids gone since they were listed
    /// (expired, deleted) are skipped.
    pub async fn load_many(&self, ids: Vec<String>) -> Result<Vec<Execution>> {
        let mut executions = Vec::with_capacity(ids.len());
        for batch in ids.chunks(LOAD_CONCURRENCY) {
            let mut tasks = JoinSet::new();
            for (position, id) in batch.iter().cloned().enumerate() {
                let store = self.clone();
                tasks.spawn(async move { (position, store.load_execution(&id).await) });
            }
            let mut loaded = tasks.join_all().await;
            loaded.sort_by_key(|(position, _)| *position);
            for (_, result) in loaded {
                executions.extend(result?.map(|stored| stored.execution));
            }
        }
        Ok(executions)
    }
}

fn ids_of(items: &[Item]) -> Result<Vec<String>> {
    items
        .iter()
        .map(|found| item::string(found, EXECUTION_ID).map(str::to_string))
        .collect()
}

pub(crate) fn type_name(kind: ExecutionType) -> &'static str {
    match kind {
        ExecutionType::Pipeline => "PIPELINE",
        ExecutionType::Orchestration => "ORCHESTRATION",
    }
}

/// The key condition, with the build-time window as a sort key range.
fn with_time_window(query: QueryFluentBuilder, filter: &ExecutionFilter) -> QueryFluentBuilder {
    let from = filter.built_from.map(|ms| ulid_bound(ms, false));
    let until = filter.built_until.map(|ms| ulid_bound(ms, true));
    let (condition, bounds) = match (from, until) {
        (None, None) => return query.key_condition_expression("#key = :key"),
        (Some(from), None) => ("#key = :key AND #id >= :from", vec![(":from", from)]),
        (None, Some(until)) => ("#key = :key AND #id <= :until", vec![(":until", until)]),
        (Some(from), Some(until)) => {
            // DynamoDB refuses BETWEEN with bounds in the wrong order.
            let until = until.max(from.clone());
            let bounds = vec![(":from", from), (":until", until)];
            ("#key = :key AND #id BETWEEN :from AND :until", bounds)
        }
    };
    let mut query = query
        .key_condition_expression(condition)
        .expression_attribute_names("#id", EXECUTION_ID);
    for (placeholder, bound) in bounds {
        query = query.expression_attribute_values(placeholder, s(bound));
    }
    query
}

/// The smallest (or largest) ULID of millisecond `ms`.
fn ulid_bound(ms: i64, upper: bool) -> String {
    let ms = u64::try_from(ms.max(0)).unwrap_or(0).min((1 << 48) - 1);
    let random = if upper { u128::MAX >> 48 } else { 0 };
    ulid::Ulid::from_parts(ms, random).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulid_bounds_enclose_every_id_of_their_millisecond() {
        let id = ulid::Ulid::from_parts(1_700_000_000_123, 42).to_string();
        assert!(ulid_bound(1_700_000_000_123, false) <= id);
        assert!(ulid_bound(1_700_000_000_123, true) >= id);
        assert!(ulid_bound(1_700_000_000_124, false) > id);
        assert!(ulid_bound(-5, false) < id);
    }
}
