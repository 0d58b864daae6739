//! One concurrency ledger per pipeline config (which executions hold a slot, which wait),
//! kept in the executions table and changed only with conditional writes.

use gennaker_model::concurrency::ConcurrencyLedger;

use crate::Store;
use crate::error::{Result, sdk};
use crate::item::{self, DOC, VERSION, n, s};
use crate::keys::{PK, SK, key};

const LEDGER_SK: &str = "LEDGER";

fn ledger_pk(config_id: &str) -> String {
    format!("CONCURRENCY#{config_id}")
}

impl Store {
    /// The ledger of `config_id` and its version (0 when none was written yet).
    pub async fn load_concurrency_ledger(
        &self,
        config_id: &str,
    ) -> Result<(ConcurrencyLedger, u64)> {
        let found = self
            .client
            .get_item()
            .table_name(&self.tables.executions)
            .set_key(Some(key(ledger_pk(config_id), LEDGER_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        match found.item {
            Some(stored) => Ok((item::doc(&stored)?, item::number(&stored, VERSION)?)),
            None => Ok((ConcurrencyLedger::default(), 0)),
        }
    }

    /// Saves the ledger if it is still at `expected_version`; a lost race is `Conflict`.
    pub async fn save_concurrency_ledger(
        &self,
        config_id: &str,
        ledger: &ConcurrencyLedger,
        expected_version: u64,
    ) -> Result<()> {
        let doc =
            serde_json::to_string(ledger).map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.executions)
            .item(PK, s(ledger_pk(config_id)))
            .item(SK, s(LEDGER_SK))
            .item(DOC, s(doc))
            .item(VERSION, n(expected_version + 1))
            .expression_attribute_names("#version", VERSION);
        put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(#version)")
        } else {
            put.condition_expression("#version = :version")
                .expression_attribute_values(":version", n(expected_version))
        };
        put.send().await.map(|_| ()).map_err(sdk)
    }
}
