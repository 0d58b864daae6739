//! Notifications: an application's notification preferences (Front50's
//! `/notifications/application/{app}`), kept beside its pipelines in the pipelines table, and
//! the "already sent" markers that keep a redelivered event from notifying twice.

use gennaker_model::json::now_millis;
use serde_json::{Map, Value};

use crate::Store;
use crate::error::{Result, sdk};
use crate::item::{self, DOC, Item, s};
use crate::keys::{self, key};

const NOTIFICATIONS_SK: &str = "NOTIFICATIONS";
const SENT_SK: &str = "SENT";
const EXPIRES_AT: &str = "expiresAt";

impl Store {
    /// The application's notification preferences as saved (`{slack: [...], email: [...]}`),
    /// `None` when none were saved.
    pub async fn application_notifications(
        &self,
        application: &str,
    ) -> Result<Option<Map<String, Value>>> {
        let output = (self.client.get_item())
            .table_name(&self.tables.pipelines)
            .set_key(Some(application_key(application)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        output.item().map(item::doc).transpose()
    }

    /// Replaces the application's notification preferences.
    pub async fn save_application_notifications(
        &self,
        application: &str,
        preferences: &Map<String, Value>,
    ) -> Result<()> {
        let mut record = application_key(application);
        record.insert(DOC.to_string(), s(item::to_json(preferences)?));
        (self.client.put_item())
            .table_name(&self.tables.pipelines)
            .set_item(Some(record))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// Whether the notification `send_key` of event `event_id` was sent already.
    pub async fn notification_sent(&self, event_id: &str, send_key: &str) -> Result<bool> {
        let output = (self.client.get_item())
            .table_name(&self.tables.executions)
            .set_key(Some(sent_key(event_id, send_key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(output.item().is_some())
    }

    /// Records that the notification was sent; the marker expires after `ttl_seconds`.
    pub async fn mark_notification_sent(
        &self,
        event_id: &str,
        send_key: &str,
        ttl_seconds: i64,
    ) -> Result<()> {
        let mut record = sent_key(event_id, send_key);
        record.insert(
            EXPIRES_AT.to_string(),
            item::n(now_millis() / 1000 + ttl_seconds),
        );
        (self.client.put_item())
            .table_name(&self.tables.executions)
            .set_item(Some(record))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }
}

fn application_key(application: &str) -> Item {
    key(keys::app_pk(application), NOTIFICATIONS_SK)
}

fn sent_key(event_id: &str, send_key: &str) -> Item {
    key(format!("NOTIFICATION#{event_id}#{send_key}"), SENT_SK)
}
