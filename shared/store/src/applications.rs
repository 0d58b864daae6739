//! Applications: one item per application, keyed by name, attributes as a JSON document.

use aws_sdk_dynamodb::types::ReturnValue;
use gennaker_model::json::{now_millis, str_field};
use serde_json::{Map, Value};

use crate::Store;
use crate::error::{Result, StoreError, sdk};
use crate::item::{self, DOC, Item, VERSION, n, s};
use crate::keys::APP_NAME;
use crate::write::{self, Bindings};

type Attributes = Map<String, Value>;

impl Store {
    pub async fn get_application(&self, name: &str) -> Result<Option<Attributes>> {
        Ok(self.read_application(name).await?.map(|(doc, _)| doc))
    }

    /// All applications, sorted by name. This is a Scan: the applications table holds one
    /// small item per application (hundreds, rarely thousands), so a full read is cheap and
    /// there is no other access pattern it would justify an index for.
    pub async fn list_applications(&self) -> Result<Vec<Attributes>> {
        let mut applications = Vec::new();
        let mut start = None;
        loop {
            let output = (self.client.scan())
                .table_name(&self.tables.applications)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            for found in output.items() {
                applications.push(item::doc::<Attributes>(found)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        applications.sort_by_key(|doc| str_field(doc, "name").unwrap_or_default().to_string());
        Ok(applications)
    }

    /// Creates or replaces an application's attributes (the caller merges, if it wants a
    /// merge), keyed by `attributes.name` as given (the caller normalizes it). Sets
    /// `createTs` on the first write and keeps it afterwards, `updateTs` and
    /// `lastModifiedBy`. Returns the previous attributes. A concurrent write -> `Conflict`.
    pub async fn put_application(
        &self,
        mut attributes: Attributes,
        user: &str,
    ) -> Result<Option<Attributes>> {
        let name = str_field(&attributes, "name")
            .filter(|name| !name.is_empty())
            .ok_or_else(|| StoreError::Corrupt("an application needs a name".to_string()))?
            .to_string();
        let previous = self.read_application(&name).await?;
        let now = Value::String(now_millis().to_string());
        let created = previous
            .as_ref()
            .and_then(|(doc, _)| doc.get("createTs").cloned())
            .unwrap_or_else(|| now.clone());
        attributes.insert("createTs".to_string(), created);
        attributes.insert("updateTs".to_string(), now);
        attributes.insert(
            "lastModifiedBy".to_string(),
            Value::String(user.to_string()),
        );
        let version = previous.as_ref().map(|(_, version)| *version);
        self.write_application(&name, &attributes, version).await?;
        Ok(previous.map(|(doc, _)| doc))
    }

    /// Deletes an application; false when there was none.
    pub async fn delete_application(&self, name: &str) -> Result<bool> {
        let output = (self.client.delete_item())
            .table_name(&self.tables.applications)
            .key(APP_NAME, s(name))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk)?;
        Ok(output.attributes().is_some())
    }

    async fn read_application(&self, name: &str) -> Result<Option<(Attributes, u64)>> {
        let output = (self.client.get_item())
            .table_name(&self.tables.applications)
            .key(APP_NAME, s(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        output
            .item()
            .map(|found: &Item| Ok((item::doc(found)?, item::number(found, VERSION)?)))
            .transpose()
    }

    /// Puts the item, conditional on the version read (or on absence when there was none),
    /// together with a revision for the application's history, in one transaction.
    async fn write_application(
        &self,
        name: &str,
        attributes: &Attributes,
        read_version: Option<u64>,
    ) -> Result<()> {
        let version = read_version.unwrap_or(0) + 1;
        let doc = item::to_json(attributes)?;
        let mut application = Item::new();
        application.insert(APP_NAME.to_string(), s(name));
        application.insert(DOC.to_string(), s(&doc));
        application.insert(VERSION.to_string(), n(version));
        let put = match read_version {
            None => write::put(
                &self.tables.applications,
                application,
                "attribute_not_exists(#name)",
                Bindings::new().name(APP_NAME),
            )?,
            Some(read) => write::put(
                &self.tables.applications,
                application,
                "#version = :version",
                Bindings::new().name(VERSION).value(":version", n(read)),
            )?,
        };
        let revision = self.application_revision(name, &doc, attributes, version)?;
        self.transact(vec![put.item, revision.item])
            .await
            .map_err(|(err, _)| err)
    }
}
