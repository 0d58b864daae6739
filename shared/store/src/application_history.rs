//! Revisions of applications (Front50's application history): every write of an
//! application's attributes also writes a revision item, newest read first.

use gennaker_model::json::str_field;
use serde_json::{Map, Value};

use crate::Store;
use crate::error::{Result, sdk};
use crate::item::{self, DOC, s};
use crate::keys::{self, PK, key};
use crate::write::{self, Bindings, Write};

type Attributes = Map<String, Value>;

impl Store {
    /// An application's saved revisions, newest first, at most `limit` (empty when unknown).
    pub async fn application_history(&self, name: &str, limit: usize) -> Result<Vec<Attributes>> {
        let mut revisions = Vec::new();
        let mut start = None;
        while revisions.len() < limit {
            let output = (self.client.query())
                .table_name(&self.tables.pipelines)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(keys::application_history_pk(name)))
                .scan_index_forward(false)
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            for found in output.items() {
                revisions.push(item::doc::<Attributes>(found)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        revisions.truncate(limit);
        Ok(revisions)
    }

    /// The revision item written with version `version` of an application.
    pub(crate) fn application_revision(
        &self,
        name: &str,
        doc: &str,
        attributes: &Attributes,
        version: u64,
    ) -> Result<Write> {
        let update_ts = str_field(attributes, "updateTs")
            .and_then(|ts| ts.parse::<i64>().ok())
            .unwrap_or(0);
        let mut revision = key(
            keys::application_history_pk(name),
            keys::history_sk(update_ts, version),
        );
        revision.insert(DOC.to_string(), s(doc));
        write::put(
            &self.tables.pipelines,
            revision,
            "attribute_not_exists(#pk)",
            Bindings::new().name(PK),
        )
    }
}
