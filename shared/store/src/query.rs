//! Reading whole partitions.

use crate::Store;
use crate::error::{Result, sdk};
use crate::item::{Item, s};
use crate::keys::{PK, SK};

impl Store {
    /// Every item of partition `pk` (sort keys starting with `prefix`, when given), in sort
    /// key order, with consistent reads, across pages.
    pub(crate) async fn query_all(
        &self,
        table: &str,
        pk: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let query = (self.client.query())
                .table_name(table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            let query = match prefix {
                None => query.key_condition_expression("#pk = :pk"),
                Some(prefix) => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", s(prefix)),
            };
            let output = query.send().await.map_err(sdk)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}
