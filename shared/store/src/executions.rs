//! Executions: a header item plus one item per stage, each versioned on its own so that
//! parallel stages never contend and no execution meets DynamoDB's item size limit.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use gennaker_model::json::now_millis;
use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use tokio::task::JoinSet;

use crate::Store;
use crate::error::{Result, StoreError, is_condition_failure, sdk};
use crate::item::{self, DOC, Item, VERSION, n, s};
use crate::keys::{self, HEADER_SK, PK, SK, STAGE_PREFIX, key};
use crate::write::{self, Bindings, Write};

const APPLICATION: &str = "application";
const EXECUTION_ID: &str = "executionId";
const PIPELINE_CONFIG_ID: &str = "pipelineConfigId";
const APPLICATION_TYPE: &str = "applicationType";
const STATUS: &str = "status";
/// Present (as [`ACTIVE`]) on the header of an execution that has not completed: the sparse
/// `byActivity` index lists exactly those, for the reconciler.
const ACTIVITY: &str = "activity";
const ACTIVE: &str = "active";
const PIPELINE_TASK_TOKEN: &str = "pipelineTaskToken";
const POSITION: &str = "position";
const ATTEMPT: &str = "attempt";
const TASK_TOKEN: &str = "taskToken";
const EXPIRES_AT: &str = "expiresAt";
const VERSION_CONDITION: &str = "#version = :version";
const NEW_ITEM: &str = "attribute_not_exists(#pk)";
/// How many executions a listing loads at once.
const LOAD_CONCURRENCY: usize = 16;

/// An execution as loaded, with the versions (and parked task tokens) read along with it.
/// Pass it unchanged to [`Store::save_execution`] as `before`.
#[derive(Debug, Clone)]
pub struct StoredExecution {
    pub execution: Execution,
    pub pipeline_task_token: Option<String>,
    header_version: u64,
    /// The header JSON as stored: saving compares against it, not against `execution`.
    header_doc: String,
    expires_at: Option<i64>,
    stages: HashMap<String, StoredStage>,
}

#[derive(Debug, Clone)]
struct StoredStage {
    version: u64,
    position: u64,
    doc: String,
    task_token: Option<String>,
}

impl StoredExecution {
    /// The task token parked on a stage (see [`Store::park_stage_task_token`]).
    pub fn stage_task_token(&self, stage_id: &str) -> Option<&str> {
        self.stages.get(stage_id)?.task_token.as_deref()
    }

    /// The version of a stage item as read (for [`Store::update_stage`]).
    pub fn stage_version(&self, stage_id: &str) -> Option<u64> {
        Some(self.stages.get(stage_id)?.version)
    }

    /// The version of the header item as read.
    pub fn header_version(&self) -> u64 {
        self.header_version
    }

    /// Assembles an execution from its items; `None` without a header (not created yet, or
    /// a create that failed before its commit point).
    fn from_items(items: &[Item]) -> Result<Option<Self>> {
        let Some(header) = items
            .iter()
            .find(|found| sort_key(found) == Some(HEADER_SK))
        else {
            return Ok(None);
        };
        let mut execution: Execution = item::doc(header)?;
        let mut stages = Vec::new();
        let mut stored = HashMap::new();
        for found in items.iter().filter(|found| is_stage(found)) {
            let stage: StageExecution = item::doc(found)?;
            let record = StoredStage {
                version: item::number(found, VERSION)?,
                position: item::number(found, POSITION)?,
                doc: item::string(found, DOC)?.to_string(),
                task_token: item::optional_string(found, TASK_TOKEN).map(str::to_string),
            };
            stored.insert(stage.id.clone(), record);
            stages.push(stage);
        }
        // Items arrive in sort key order, so equal positions (never written) stay stable.
        stages.sort_by_key(|stage| stored[&stage.id].position);
        execution.stages = stages;
        Ok(Some(Self {
            execution,
            pipeline_task_token: item::optional_string(header, PIPELINE_TASK_TOKEN)
                .map(str::to_string),
            header_version: item::number(header, VERSION)?,
            header_doc: item::string(header, DOC)?.to_string(),
            expires_at: item::number(header, EXPIRES_AT).ok(),
            stages: stored,
        }))
    }
}

impl Store {
    /// Writes a new execution: every stage item, then the header (the commit point) in the
    /// last transaction. All conditional on absence: an existing id -> `Conflict`. Items
    /// expire `ttl_seconds` from now.
    pub async fn create_execution(&self, execution: &Execution, ttl_seconds: i64) -> Result<()> {
        let table = &self.tables.executions;
        let writes = Self::new_execution_items(execution, ttl_seconds)?
            .into_iter()
            .map(|item| write::put(table, item, NEW_ITEM, Bindings::new().name(PK)))
            .collect::<Result<Vec<_>>>()?;
        self.transact_all(writes).await
    }

    /// The items [`Store::create_execution`] writes for a new execution: its stages in
    /// order, then its header (for bulk loaders that write them with BatchWriteItem).
    pub fn new_execution_items(
        execution: &Execution,
        ttl_seconds: i64,
    ) -> Result<Vec<HashMap<String, AttributeValue>>> {
        let expires_at = now_millis() / 1000 + ttl_seconds;
        let mut items = Vec::with_capacity(execution.stages.len() + 1);
        for (position, stage) in execution.stages.iter().enumerate() {
            items.push(new_stage_item(
                &execution.id,
                stage,
                position,
                Some(expires_at),
            )?);
        }
        items.push(header_item(execution, expires_at)?);
        Ok(items)
    }

    /// The execution with all its stages in order, or `None`.
    pub async fn load_execution(&self, id: &str) -> Result<Option<StoredExecution>> {
        let pk = keys::execution_pk(id);
        let items = self.query_all(&self.tables.executions, &pk, None).await?;
        StoredExecution::from_items(&items)
    }

    /// Writes what changed from `before` (as loaded) to `after`: the header if its JSON
    /// changed, stages whose JSON or position changed, new stages (conditional on absence)
    /// and removed stages — each conditional on the version read, so a stale `before`
    /// gets `Conflict`. Updates, not puts: parked task tokens survive. One transaction
    /// (chunked beyond 100 items, header last).
    pub async fn save_execution(&self, before: &StoredExecution, after: &Execution) -> Result<()> {
        if after.id != before.execution.id {
            return Err(StoreError::Corrupt(format!(
                "save_execution: before is {} but after is {}",
                before.execution.id, after.id
            )));
        }
        let mut writes = self.stage_writes(before, after)?;
        writes.extend(self.header_write(before, after)?);
        self.transact_all(writes).await
    }

    /// Deletes an execution as read: the header first (the commit point, conditioned on the
    /// version read, so a concurrent change wins with `Conflict`), then its stage items.
    pub async fn delete_execution(&self, stored: &StoredExecution) -> Result<()> {
        let table = &self.tables.executions;
        let id = &stored.execution.id;
        let header_key = key(keys::execution_pk(id), HEADER_SK.to_string());
        let bindings = Bindings::new()
            .name(VERSION)
            .value(":version", n(stored.header_version));
        let header = write::delete(table, header_key, VERSION_CONDITION, bindings)?;
        self.transact_all(vec![header]).await?;
        let stages = stored
            .stages
            .keys()
            .map(|stage_id| {
                let exists = Bindings::new().name(PK);
                write::delete(
                    table,
                    stage_key(id, stage_id),
                    "attribute_exists(#pk)",
                    exists,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        self.transact_all(stages).await
    }

    /// Parks the pipeline state machine's task token on the header; a token already parked is
    /// replaced. Missing execution -> `NotFound`.
    pub async fn set_pipeline_task_token(&self, execution_id: &str, token: &str) -> Result<()> {
        let result = (self.client.update_item())
            .table_name(&self.tables.executions)
            .set_key(Some(key(keys::execution_pk(execution_id), HEADER_SK)))
            .update_expression("SET #pipelineTaskToken = :token")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pipelineTaskToken", PIPELINE_TASK_TOKEN)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => {
                Err(StoreError::NotFound(format!("execution {execution_id}")))
            }
            Err(err) => Err(sdk(err)),
        }
    }

    /// Parks `token` on a stage if it is still at `attempt`; returns the stage as stored
    /// then, or `None` when the attempt moved on or the stage is gone.
    pub async fn park_stage_task_token(
        &self,
        execution_id: &str,
        stage_id: &str,
        attempt: u32,
        token: &str,
    ) -> Result<Option<StageExecution>> {
        let result = (self.client.update_item())
            .table_name(&self.tables.executions)
            .set_key(Some(stage_key(execution_id, stage_id)))
            .update_expression("SET #taskToken = :token")
            .condition_expression("#attempt = :attempt")
            .expression_attribute_names("#taskToken", TASK_TOKEN)
            .expression_attribute_names("#attempt", ATTEMPT)
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":attempt", n(attempt))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes().map(item::doc).transpose(),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(sdk(err)),
        }
    }

    /// Rewrites one stage if its item is still at `expected_version` (else `Conflict`, also
    /// when the stage does not exist). Returns the task token parked on it after the write.
    pub async fn update_stage(
        &self,
        execution_id: &str,
        stage: &StageExecution,
        expected_version: u64,
    ) -> Result<Option<String>> {
        let (set, bindings) = stage_update(stage, item::to_json(stage)?, None, expected_version);
        let output = (self.client.update_item())
            .table_name(&self.tables.executions)
            .set_key(Some(stage_key(execution_id, &stage.id)))
            .update_expression(set)
            .condition_expression(VERSION_CONDITION)
            .set_expression_attribute_names(bindings.names())
            .set_expression_attribute_values(bindings.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk)?;
        let token = output
            .attributes()
            .and_then(|found| item::optional_string(found, TASK_TOKEN));
        Ok(token.map(str::to_string))
    }

    /// An application's executions, newest first, at most `limit`, optionally only those in
    /// `statuses` (an empty slice means all), each with its stages.
    pub async fn list_executions_for_application(
        &self,
        application: &str,
        limit: usize,
        statuses: Option<&[ExecutionStatus]>,
    ) -> Result<Vec<Execution>> {
        let ids = (self.execution_ids(keys::BY_APPLICATION, APPLICATION, application))
            .find(limit, statuses)
            .await?;
        self.load_executions(ids).await
    }

    /// Ids of every execution that has not completed, newest first.
    pub async fn active_execution_ids(&self) -> Result<Vec<String>> {
        (self.execution_ids(keys::BY_ACTIVITY, ACTIVITY, ACTIVE))
            .find(usize::MAX, None)
            .await
    }

    /// A pipeline config's executions, newest first (as for applications).
    pub async fn list_executions_for_pipeline_config(
        &self,
        pipeline_config_id: &str,
        limit: usize,
        statuses: Option<&[ExecutionStatus]>,
    ) -> Result<Vec<Execution>> {
        let ids = (self.execution_ids(
            keys::BY_PIPELINE_CONFIG,
            PIPELINE_CONFIG_ID,
            pipeline_config_id,
        ))
        .find(limit, statuses)
        .await?;
        self.load_executions(ids).await
    }

    fn execution_ids<'a>(
        &'a self,
        index: &'a str,
        attribute: &'a str,
        value: &'a str,
    ) -> IdQuery<'a> {
        IdQuery {
            store: self,
            index,
            attribute,
            value,
        }
    }

    async fn load_executions(&self, ids: Vec<String>) -> Result<Vec<Execution>> {
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
                // Gone since it was listed (expired, or the index lags): skip it.
                executions.extend(result?.map(|stored| stored.execution));
            }
        }
        Ok(executions)
    }

    fn stage_writes(&self, before: &StoredExecution, after: &Execution) -> Result<Vec<Write>> {
        let table = &self.tables.executions;
        let mut writes = Vec::new();
        for (position, stage) in after.stages.iter().enumerate() {
            let doc = item::to_json(stage)?;
            match before.stages.get(&stage.id) {
                Some(stored) if stored.doc == doc && stored.position == position as u64 => {}
                Some(stored) => {
                    let (set, bindings) = stage_update(stage, doc, Some(position), stored.version);
                    let stage_key = stage_key(&after.id, &stage.id);
                    writes.push(write::update(
                        table,
                        stage_key,
                        &set,
                        VERSION_CONDITION,
                        bindings,
                    )?);
                }
                None => {
                    let new = stage_item(&after.id, stage, doc, position, before.expires_at);
                    writes.push(write::put(table, new, NEW_ITEM, Bindings::new().name(PK))?);
                }
            }
        }
        let kept: HashSet<&str> = after.stages.iter().map(|stage| stage.id.as_str()).collect();
        for (stage_id, stored) in &before.stages {
            if !kept.contains(stage_id.as_str()) {
                let bindings = Bindings::new()
                    .name(VERSION)
                    .value(":version", n(stored.version));
                let stage_key = stage_key(&after.id, stage_id);
                writes.push(write::delete(
                    table,
                    stage_key,
                    VERSION_CONDITION,
                    bindings,
                )?);
            }
        }
        Ok(writes)
    }

    fn header_write(&self, before: &StoredExecution, after: &Execution) -> Result<Option<Write>> {
        let doc = header_json(after)?;
        if doc == before.header_doc {
            return Ok(None);
        }
        let bindings = Bindings::new()
            .name(DOC)
            .name(VERSION)
            .name(STATUS)
            .name(ACTIVITY)
            .value(":doc", s(doc))
            .value(":one", n(1))
            .value(":status", s(after.status.as_str()))
            .value(":version", n(before.header_version));
        let set = "SET #doc = :doc, #version = #version + :one, #status = :status";
        let (set, bindings) = if after.status.is_complete() {
            (format!("{set} REMOVE #activity"), bindings)
        } else {
            (
                format!("{set}, #activity = :active"),
                bindings.value(":active", s(ACTIVE)),
            )
        };
        let header_key = key(keys::execution_pk(&after.id), HEADER_SK);
        let table = &self.tables.executions;
        write::update(table, header_key, &set, VERSION_CONDITION, bindings).map(Some)
    }
}

/// A query of one of the executions table's indexes for execution ids, newest first.
struct IdQuery<'a> {
    store: &'a Store,
    index: &'a str,
    attribute: &'a str,
    value: &'a str,
}

impl IdQuery<'_> {
    async fn find(
        &self,
        limit: usize,
        statuses: Option<&[ExecutionStatus]>,
    ) -> Result<Vec<String>> {
        let statuses = statuses.filter(|statuses| !statuses.is_empty());
        let mut ids = Vec::new();
        let mut start = None;
        while ids.len() < limit {
            // Limit counts items read before the filter: read more when filtering.
            let wanted = limit - ids.len();
            let page = if statuses.is_some() {
                wanted.max(100)
            } else {
                wanted
            };
            let query = self.query(page).set_exclusive_start_key(start);
            let output = with_status_filter(query, statuses)
                .send()
                .await
                .map_err(sdk)?;
            for found in output.items() {
                ids.push(item::string(found, EXECUTION_ID)?.to_string());
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        ids.truncate(limit);
        Ok(ids)
    }

    fn query(&self, page: usize) -> QueryFluentBuilder {
        (self.store.client.query())
            .table_name(&self.store.tables.executions)
            .index_name(self.index)
            .key_condition_expression("#key = :key")
            .expression_attribute_names("#key", self.attribute)
            .expression_attribute_values(":key", s(self.value))
            .scan_index_forward(false)
            .limit(i32::try_from(page.min(1000)).unwrap_or(1000))
    }
}

/// Keeps only items whose `status` is one of `statuses` (all when `None`).
pub(crate) fn with_status_filter(
    query: QueryFluentBuilder,
    statuses: Option<&[ExecutionStatus]>,
) -> QueryFluentBuilder {
    let Some(statuses) = statuses else {
        return query;
    };
    let placeholders: Vec<String> = (0..statuses.len()).map(|i| format!(":status{i}")).collect();
    let mut query = query
        .filter_expression(format!("#status IN ({})", placeholders.join(", ")))
        .expression_attribute_names("#status", STATUS);
    for (placeholder, status) in placeholders.iter().zip(statuses) {
        query = query.expression_attribute_values(placeholder, s(status.as_str()));
    }
    query
}

fn sort_key(found: &Item) -> Option<&str> {
    item::optional_string(found, SK)
}

fn is_stage(found: &Item) -> bool {
    sort_key(found).is_some_and(|sk| sk.starts_with(STAGE_PREFIX))
}

fn stage_key(execution_id: &str, stage_id: &str) -> Item {
    key(keys::execution_pk(execution_id), keys::stage_sk(stage_id))
}

/// The header JSON: the execution without its stages (they are items of their own).
fn header_json(execution: &Execution) -> Result<String> {
    let header = Execution {
        stages: Vec::new(),
        ..execution.clone()
    };
    item::to_json(&header)
}

fn header_item(execution: &Execution, expires_at: i64) -> Result<Item> {
    let mut header = key(keys::execution_pk(&execution.id), HEADER_SK);
    let mut attribute = |name: &str, value| header.insert(name.to_string(), value);
    attribute(DOC, s(header_json(execution)?));
    attribute(VERSION, n(1));
    attribute(APPLICATION, s(&execution.application));
    attribute(EXECUTION_ID, s(&execution.id));
    let kind = crate::execution_lists::type_name(execution.execution_type);
    let application_type = keys::application_type_key(&execution.application, kind);
    attribute(APPLICATION_TYPE, s(application_type));
    attribute(STATUS, s(execution.status.as_str()));
    if !execution.status.is_complete() {
        attribute(ACTIVITY, s(ACTIVE));
    }
    attribute(EXPIRES_AT, n(expires_at));
    if let Some(config_id) = &execution.pipeline_config_id {
        attribute(PIPELINE_CONFIG_ID, s(config_id));
    }
    Ok(header)
}

fn new_stage_item(
    execution_id: &str,
    stage: &StageExecution,
    position: usize,
    expires_at: Option<i64>,
) -> Result<Item> {
    let doc = item::to_json(stage)?;
    Ok(stage_item(execution_id, stage, doc, position, expires_at))
}

fn stage_item(
    execution_id: &str,
    stage: &StageExecution,
    doc: String,
    position: usize,
    expires_at: Option<i64>,
) -> Item {
    let mut found = stage_key(execution_id, &stage.id);
    let mut attribute = |name: &str, value| found.insert(name.to_string(), value);
    attribute(DOC, s(doc));
    attribute(VERSION, n(1));
    attribute(POSITION, n(position));
    attribute(ATTEMPT, n(stage.attempt));
    attribute(STATUS, s(stage.status.as_str()));
    if let Some(expires_at) = expires_at {
        attribute(EXPIRES_AT, n(expires_at));
    }
    found
}

/// The update of a stage item read at `version` (position only when it moved).
fn stage_update(
    stage: &StageExecution,
    doc: String,
    position: Option<usize>,
    version: u64,
) -> (String, Bindings) {
    let mut set =
        "SET #doc = :doc, #version = #version + :one, #status = :status, #attempt = :attempt"
            .to_string();
    let mut bindings = Bindings::new()
        .name(DOC)
        .name(VERSION)
        .name(STATUS)
        .name(ATTEMPT)
        .value(":doc", s(doc))
        .value(":one", n(1))
        .value(":status", s(stage.status.as_str()))
        .value(":attempt", n(stage.attempt))
        .value(":version", n(version));
    if let Some(position) = position {
        set.push_str(", #position = :position");
        bindings = bindings.name(POSITION).value(":position", n(position));
    }
    (set, bindings)
}
