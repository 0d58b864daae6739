//! Building conditional writes: expression bindings, transaction items, transactions.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::Store;
use crate::error::{self, Result, StoreError};
use crate::item::Item;

/// DynamoDB's limits for one TransactWriteItems call (4 MB; stay clear of it).
const MAX_TRANSACTION_ITEMS: usize = 100;
const MAX_TRANSACTION_BYTES: usize = 3_500_000;

/// Placeholders of an expression: attribute `x` is always `#x`; values are named freely.
#[derive(Debug, Default, Clone)]
pub(crate) struct Bindings {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Bindings {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Binds `#attribute` to `attribute`.
    pub(crate) fn name(mut self, attribute: &str) -> Self {
        self.names
            .insert(format!("#{attribute}"), attribute.to_string());
        self
    }

    pub(crate) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    pub(crate) fn names(&self) -> Option<HashMap<String, String>> {
        Some(self.names.clone()).filter(|names| !names.is_empty())
    }

    pub(crate) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        Some(self.values.clone()).filter(|values| !values.is_empty())
    }
}

/// One transaction item with its approximate size (for chunking).
pub(crate) struct Write {
    pub(crate) item: TransactWriteItem,
    pub(crate) bytes: usize,
}

pub(crate) fn put(table: &str, item: Item, condition: &str, bindings: Bindings) -> Result<Write> {
    let bytes = approximate_size(&item);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(bindings.names())
        .set_expression_attribute_values(bindings.values())
        .build()
        .map_err(build)?;
    let item = TransactWriteItem::builder().put(put).build();
    Ok(Write { item, bytes })
}

pub(crate) fn delete(table: &str, key: Item, condition: &str, bindings: Bindings) -> Result<Write> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition)
        .set_expression_attribute_names(bindings.names())
        .set_expression_attribute_values(bindings.values())
        .build()
        .map_err(build)?;
    let item = TransactWriteItem::builder().delete(delete).build();
    Ok(Write { item, bytes: 200 })
}

/// An Update: `set` is the update expression, `condition` its condition.
pub(crate) fn update(
    table: &str,
    key: Item,
    set: &str,
    condition: &str,
    bindings: Bindings,
) -> Result<Write> {
    let bytes = bindings.values.values().map(value_size).sum::<usize>() + 200;
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(set)
        .condition_expression(condition)
        .set_expression_attribute_names(bindings.names())
        .set_expression_attribute_values(bindings.values())
        .build()
        .map_err(build)?;
    let item = TransactWriteItem::builder().update(update).build();
    Ok(Write { item, bytes })
}

fn build(err: BuildError) -> StoreError {
    StoreError::Aws(format!("building a request: {err}"))
}

fn approximate_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
        _ => 64,
    }
}

/// Splits writes into transactions within DynamoDB's limits, keeping their order: the
/// last write is always in the last transaction.
pub(crate) fn chunks(writes: Vec<Write>) -> Vec<Vec<TransactWriteItem>> {
    let mut chunks: Vec<Vec<TransactWriteItem>> = Vec::new();
    let mut bytes = 0;
    for write in writes {
        let full = chunks.last().is_none_or(|chunk| {
            chunk.len() >= MAX_TRANSACTION_ITEMS || bytes + write.bytes > MAX_TRANSACTION_BYTES
        });
        if full {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += write.bytes;
        chunks.last_mut().expect("pushed above").push(write.item);
    }
    chunks
}

impl Store {
    /// One atomic TransactWriteItems. On failure: the mapped error and the positions of the
    /// writes whose condition failed.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> std::result::Result<(), (StoreError, Vec<usize>)> {
        (self.client.transact_write_items())
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(error::transaction)?;
        Ok(())
    }

    /// Writes in order, as few transactions as the limits allow. Atomic only when they fit
    /// in one; otherwise each chunk is atomic and the last one commits last.
    pub(crate) async fn transact_all(&self, writes: Vec<Write>) -> Result<()> {
        for chunk in chunks(writes) {
            self.transact(chunk).await.map_err(|(err, _)| err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: usize) -> Write {
        let item = Item::from([("pk".to_string(), AttributeValue::S("x".repeat(bytes)))]);
        put(
            "t",
            item,
            "attribute_not_exists(#pk)",
            Bindings::new().name("pk"),
        )
        .unwrap()
    }

    #[test]
    fn chunks_respect_count_and_size_limits() {
        let sizes: Vec<usize> = chunks((0..250).map(|_| write(10)).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let big = chunks((0..5).map(|_| write(1_000_000)).collect());
        assert_eq!(big.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2]);
        assert!(chunks(Vec::new()).is_empty());
    }
}
