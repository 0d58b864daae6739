//! How far the Jenkins trigger poller has looked at a job: the newest build number it has
//! seen, per (master, job), moved forward only by conditional writes so two pollers never
//! both act on the same builds.

use crate::Store;
use crate::error::{Result, is_condition_failure, sdk};
use crate::item::{self, n};
use crate::keys::{PK, key};

const LAST_BUILD: &str = "lastBuild";
const WATERMARK_SK: &str = "WATERMARK";

fn watermark_pk(master: &str, job: &str) -> String {
    format!("JENKINS#{master}#{job}")
}

impl Store {
    /// The newest build number of `job` on `master` the poller has seen, if it has looked.
    pub async fn build_watermark(&self, master: &str, job: &str) -> Result<Option<u64>> {
        let output = (self.client.get_item())
            .table_name(&self.tables.pipelines)
            .set_key(Some(key(watermark_pk(master, job), WATERMARK_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        output
            .item()
            .map(|found| item::number(found, LAST_BUILD))
            .transpose()
    }

    /// Moves the watermark from `seen` (`None`: never looked) to `newest`; false when another
    /// poller moved it first.
    pub async fn advance_build_watermark(
        &self,
        master: &str,
        job: &str,
        seen: Option<u64>,
        newest: u64,
    ) -> Result<bool> {
        let mut record = key(watermark_pk(master, job), WATERMARK_SK);
        record.insert(LAST_BUILD.to_string(), n(newest));
        let put = (self.client.put_item())
            .table_name(&self.tables.pipelines)
            .set_item(Some(record))
            .expression_attribute_names("#pk", PK);
        let put = match seen {
            None => put.condition_expression("attribute_not_exists(#pk)"),
            Some(seen) => put
                .condition_expression("attribute_exists(#pk) AND #last = :seen")
                .expression_attribute_names("#last", LAST_BUILD)
                .expression_attribute_values(":seen", n(seen)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(sdk(err)),
        }
    }
}
