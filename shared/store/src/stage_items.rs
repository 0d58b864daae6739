//! Single stage items, for workers that record a running stage's progress (a Jenkins build
//! number, a webhook's status URL) where the orchestrator and the API can see it. Every
//! write is conditional on the version read, so a worker never overwrites what the
//! orchestrator changed in between (a cancel, a pause): it gets `Conflict` and re-reads.

use aws_sdk_dynamodb::types::ReturnValue;
use gennaker_model::StageExecution;
use serde_json::{Map, Value};

use crate::Store;
use crate::error::{Result, is_condition_failure, sdk};
use crate::item::{self, VERSION, n};
use crate::keys::{self, key};

/// Set on a stage item once a worker has cleaned up after the cancel of an attempt.
const CANCEL_HANDLED: &str = "cancelHandled";

/// A stage as stored, with the version of its item.
#[derive(Debug, Clone)]
pub struct LoadedStage {
    pub stage: StageExecution,
    pub version: u64,
    /// The last attempt whose cancel a worker has handled.
    pub cancel_handled_attempt: Option<u32>,
}

impl Store {
    /// One stage of an execution (a consistent read), or `None`.
    pub async fn load_stage(
        &self,
        execution_id: &str,
        stage_id: &str,
    ) -> Result<Option<LoadedStage>> {
        let output = (self.client.get_item())
            .table_name(&self.tables.executions)
            .set_key(Some(stage_item_key(execution_id, stage_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        let Some(found) = output.item else {
            return Ok(None);
        };
        Ok(Some(LoadedStage {
            stage: item::doc(&found)?,
            version: item::number(&found, VERSION)?,
            cancel_handled_attempt: item::number(&found, CANCEL_HANDLED).ok(),
        }))
    }

    /// Merges `entries` into the stage's context if its item is still at the version read
    /// (else `Conflict`). Returns the stage as written.
    pub async fn merge_stage_context(
        &self,
        execution_id: &str,
        loaded: &LoadedStage,
        entries: &Map<String, Value>,
    ) -> Result<LoadedStage> {
        let mut stage = loaded.stage.clone();
        stage
            .context
            .extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.update_stage(execution_id, &stage, loaded.version)
            .await?;
        Ok(LoadedStage {
            stage,
            version: loaded.version + 1,
            cancel_handled_attempt: loaded.cancel_handled_attempt,
        })
    }

    /// Records that the cancel of `attempt` was handled; `false` if it already was.
    pub async fn mark_stage_cancel_handled(
        &self,
        execution_id: &str,
        stage_id: &str,
        attempt: u32,
    ) -> Result<bool> {
        let result = (self.client.update_item())
            .table_name(&self.tables.executions)
            .set_key(Some(stage_item_key(execution_id, stage_id)))
            .update_expression("SET #handled = :attempt")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#handled) OR #handled < :attempt)",
            )
            .expression_attribute_names("#handled", CANCEL_HANDLED)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":attempt", n(attempt))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(sdk(err)),
        }
    }
}

fn stage_item_key(
    execution_id: &str,
    stage_id: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    key(keys::execution_pk(execution_id), keys::stage_sk(stage_id))
}
