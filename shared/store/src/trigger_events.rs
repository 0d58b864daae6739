//! Idempotency of triggers: the execution an event started for one pipeline is recorded
//! once, so the same event delivered twice starts one execution.

use gennaker_model::json::now_millis;

use crate::Store;
use crate::error::{Result, StoreError, is_condition_failure, sdk};
use crate::item::{self, n, s};
use crate::keys::{self, PK, key};

const EXECUTION_ID: &str = "executionId";
const EXPIRES_AT: &str = "expiresAt";
const RECORD_SK: &str = "EVENT";

impl Store {
    /// Records `candidate` as the execution event `event_id` starts for `pipeline_id`,
    /// unless one is recorded already; returns the recorded id (the candidate when this
    /// call recorded it). The record expires with executions (`ttl_seconds`).
    pub async fn claim_trigger_event(
        &self,
        event_id: &str,
        pipeline_id: &str,
        candidate: &str,
        ttl_seconds: i64,
    ) -> Result<String> {
        let record_key = key(keys::trigger_event_pk(event_id, pipeline_id), RECORD_SK);
        let mut record = record_key.clone();
        record.insert(EXECUTION_ID.to_string(), s(candidate));
        record.insert(EXPIRES_AT.to_string(), n(now_millis() / 1000 + ttl_seconds));
        let put = (self.client.put_item())
            .table_name(&self.tables.executions)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match put {
            Ok(_) => Ok(candidate.to_string()),
            Err(err) if is_condition_failure(&err) => {
                let output = (self.client.get_item())
                    .table_name(&self.tables.executions)
                    .set_key(Some(record_key))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(sdk)?;
                let found = output.item().ok_or_else(|| {
                    StoreError::Conflict("trigger event record vanished".to_string())
                })?;
                Ok(item::string(found, EXECUTION_ID)?.to_string())
            }
            Err(err) => Err(sdk(err)),
        }
    }
}
