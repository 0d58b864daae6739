//! Pipeline configs with Front50's save semantics: upsert by id, names unique per
//! application (case-insensitive), one history item per save.

use gennaker_model::PipelineConfig;
use gennaker_model::json::now_millis;
use gennaker_model::triggers;
use serde_json::{Map, Value};

use crate::Store;
use crate::error::{Result, StoreError, sdk};
use crate::item::{self, DOC, Item, VERSION, n, s};
use crate::keys::{self, ConfigKind, PK, key};
use crate::write::{self, Bindings, Write};

const NAME: &str = "name";
const PIPELINE_ID: &str = "pipelineId";
const APPLICATION: &str = "application";
/// Position of the name reservation in the save transaction (tells DuplicateName apart).
const NAME_WRITE: usize = 0;

/// A config as stored, with what a conditional rewrite needs.
struct Current {
    application: String,
    config: PipelineConfig,
    version: u64,
    name: String,
}

impl Store {
    /// Saves (upserts by id) a config that has `application` and `name` (the caller
    /// validated them). Assigns a UUID `id` when missing, keeps the stored `index` when the
    /// document has none, sets `updateTs` and `lastModifiedBy`. Config, name reservation, id
    /// lookup and a history item are written in one transaction: another pipeline holding
    /// the name -> `DuplicateName`; a concurrent save -> `Conflict`. Returns the saved
    /// document.
    pub async fn save_pipeline(
        &self,
        config: PipelineConfig,
        user: &str,
    ) -> Result<PipelineConfig> {
        self.save_config(ConfigKind::Pipeline, config, user).await
    }

    /// [`Store::save_pipeline`] for either kind of config.
    pub(crate) async fn save_config(
        &self,
        kind: ConfigKind,
        mut config: PipelineConfig,
        user: &str,
    ) -> Result<PipelineConfig> {
        let (application, name) = required(&config)?;
        let id = config
            .id()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        let current = self.read_config_by_id(kind, &id).await?;
        // Reads never show trigger secrets, so a save that omits one keeps the stored one.
        gennaker_model::secrets::keep_stored_secrets(
            &mut config,
            current.as_ref().map(|current| &current.config),
        );
        let update_ts = stamp(&mut config, &id, current.as_ref(), user);
        let writes = self.save_writes(kind, &config, &id, current.as_ref(), update_ts)?;
        let items = writes.into_iter().map(|write| write.item).collect();
        self.transact(items)
            .await
            .map_err(|(err, failed)| match failed.contains(&NAME_WRITE) {
                true => StoreError::DuplicateName { application, name },
                false => err,
            })?;
        Ok(config)
    }

    pub async fn get_pipeline(
        &self,
        application: &str,
        id: &str,
    ) -> Result<Option<PipelineConfig>> {
        Ok(self
            .read_config(ConfigKind::Pipeline, application, id)
            .await?
            .map(|current| current.config))
    }

    /// The pipeline with this id, wherever it lives.
    pub async fn get_pipeline_by_id(&self, id: &str) -> Result<Option<PipelineConfig>> {
        match self.find_pipeline_application(id).await? {
            Some(application) => self.get_pipeline(&application, id).await,
            None => Ok(None),
        }
    }

    /// The application a pipeline id belongs to.
    pub async fn find_pipeline_application(&self, id: &str) -> Result<Option<String>> {
        self.find_config_application(ConfigKind::Pipeline, id).await
    }

    pub(crate) async fn find_config_application(
        &self,
        kind: ConfigKind,
        id: &str,
    ) -> Result<Option<String>> {
        let output = (self.client.get_item())
            .table_name(&self.tables.pipelines)
            .set_key(Some(key(kind.id_pk(id), keys::ID_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        output
            .item()
            .map(|found| item::string(found, APPLICATION).map(str::to_string))
            .transpose()
    }

    /// An application's pipelines the way Front50 lists them: by `index` (missing last),
    /// ties by name case-insensitively, then `index` renumbered 0..n-1.
    pub async fn list_pipelines(&self, application: &str) -> Result<Vec<PipelineConfig>> {
        self.list_configs(ConfigKind::Pipeline, application).await
    }

    pub(crate) async fn list_configs(
        &self,
        kind: ConfigKind,
        application: &str,
    ) -> Result<Vec<PipelineConfig>> {
        let items = self
            .query_all(
                &self.tables.pipelines,
                &keys::app_pk(application),
                Some(kind.config_prefix()),
            )
            .await?;
        let mut configs = items.iter().map(config_of).collect::<Result<Vec<_>>>()?;
        configs.sort_by_cached_key(|config| {
            let name = config.name().unwrap_or_default().to_lowercase();
            (config.index().is_none(), config.index().unwrap_or(0), name)
        });
        for (position, config) in configs.iter_mut().enumerate() {
            config.set("index", Value::from(position));
        }
        Ok(configs)
    }

    /// Saved revisions of a pipeline, newest first, at most `limit`.
    pub async fn pipeline_history(&self, id: &str, limit: usize) -> Result<Vec<PipelineConfig>> {
        self.config_history(ConfigKind::Pipeline, id, limit).await
    }

    pub(crate) async fn config_history(
        &self,
        kind: ConfigKind,
        id: &str,
        limit: usize,
    ) -> Result<Vec<PipelineConfig>> {
        let mut revisions = Vec::new();
        let mut start = None;
        while revisions.len() < limit {
            let output = (self.client.query())
                .table_name(&self.tables.pipelines)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(kind.history_pk(id)))
                .scan_index_forward(false)
                .limit(page_size(limit - revisions.len()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            for found in output.items() {
                revisions.push(config_of(found)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        revisions.truncate(limit);
        Ok(revisions)
    }

    /// Deletes the config, its name reservation and id lookup (history is kept). False
    /// when there was no such pipeline; a concurrent save -> `Conflict`.
    pub async fn delete_pipeline(&self, application: &str, id: &str) -> Result<bool> {
        self.delete_config(ConfigKind::Pipeline, application, id)
            .await
    }

    pub(crate) async fn delete_config(
        &self,
        kind: ConfigKind,
        application: &str,
        id: &str,
    ) -> Result<bool> {
        let Some(current) = self.read_config(kind, application, id).await? else {
            return Ok(false);
        };
        let table = &self.tables.pipelines;
        let mut writes = vec![
            delete_config(kind, table, &current)?,
            release_name(kind, table, &current.application, &current.name, id)?,
            write::delete(
                table,
                key(kind.id_pk(id), keys::ID_SK),
                "attribute_not_exists(#pk) OR #application = :application",
                Bindings::new()
                    .name(PK)
                    .name(APPLICATION)
                    .value(":application", s(application)),
            )?,
        ];
        if kind == ConfigKind::Pipeline {
            for index in triggers::index_keys(&current.config) {
                writes.push(delete_trigger_index(table, &index, id)?);
            }
        }
        let items = writes.into_iter().map(|write| write.item).collect();
        self.transact(items).await.map_err(|(err, _)| err)?;
        Ok(true)
    }

    /// The pipelines with a trigger of `kind` (`webhook`, `pipeline`) on `value` (a webhook
    /// source, an upstream config id), from the index items saves maintain: no scan of
    /// every config. Enabled flags are the caller's to check.
    pub async fn find_triggered_pipelines(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<Vec<PipelineConfig>> {
        let pk = keys::trigger_index_pk(&triggers::index_key(kind, value));
        let items = self.query_all(&self.tables.pipelines, &pk, None).await?;
        let mut configs = Vec::with_capacity(items.len());
        for found in &items {
            let application = item::string(found, APPLICATION)?;
            let id = item::string(found, PIPELINE_ID)?;
            if let Some(config) = self.get_pipeline(application, id).await? {
                configs.push(config);
            }
        }
        Ok(configs)
    }

    async fn read_config_by_id(&self, kind: ConfigKind, id: &str) -> Result<Option<Current>> {
        match self.find_config_application(kind, id).await? {
            Some(application) => self.read_config(kind, &application, id).await,
            None => Ok(None),
        }
    }

    async fn read_config(
        &self,
        kind: ConfigKind,
        application: &str,
        id: &str,
    ) -> Result<Option<Current>> {
        let output = (self.client.get_item())
            .table_name(&self.tables.pipelines)
            .set_key(Some(key(keys::app_pk(application), kind.config_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        let Some(found) = output.item() else {
            return Ok(None);
        };
        Ok(Some(Current {
            application: application.to_string(),
            config: config_of(found)?,
            version: item::number(found, VERSION)?,
            name: item::string(found, NAME)?.to_string(),
        }))
    }

    /// The save transaction; the name reservation comes first (see [`NAME_WRITE`]).
    fn save_writes(
        &self,
        kind: ConfigKind,
        config: &PipelineConfig,
        id: &str,
        current: Option<&Current>,
        update_ts: i64,
    ) -> Result<Vec<Write>> {
        let table = &self.tables.pipelines;
        let (application, name) = required(config)?;
        let version = current.map_or(0, |current| current.version) + 1;
        let doc = item::to_json(config.document())?;
        let mut writes = vec![
            reserve_name(kind, table, &application, &name, id)?,
            put_config(kind, table, &application, id, &name, &doc, version, current)?,
            put_id_lookup(kind, table, &application, id, current)?,
            put_history(kind, table, id, &doc, update_ts, version)?,
        ];
        if kind == ConfigKind::Pipeline {
            let old_keys = current.map_or_else(Vec::new, |c| triggers::index_keys(&c.config));
            let new_keys = triggers::index_keys(config);
            for index in &new_keys {
                writes.push(put_trigger_index(table, index, &application, id)?);
            }
            for index in old_keys.iter().filter(|old| !new_keys.contains(old)) {
                writes.push(delete_trigger_index(table, index, id)?);
            }
        }
        if let Some(current) = current {
            if current.application != application {
                writes.push(delete_config(kind, table, current)?);
            }
            let old_name = (current.application.as_str(), kind.name_sk(&current.name));
            if old_name != (application.as_str(), kind.name_sk(&name)) {
                writes.push(release_name(
                    kind,
                    table,
                    &current.application,
                    &current.name,
                    id,
                )?);
            }
        }
        Ok(writes)
    }
}

fn required(config: &PipelineConfig) -> Result<(String, String)> {
    match (config.application(), config.name()) {
        (Some(application), Some(name)) if !application.is_empty() && !name.trim().is_empty() => {
            Ok((application.to_string(), name.to_string()))
        }
        _ => Err(StoreError::Corrupt(
            "a pipeline requires name and application fields".to_string(),
        )),
    }
}

/// Sets the server-owned fields; returns `updateTs`, kept after the stored one so that
/// history stays in save order even when clocks disagree.
fn stamp(config: &mut PipelineConfig, id: &str, current: Option<&Current>, user: &str) -> i64 {
    let stored = current.map(|current| current.config.document());
    let previous_ts = stored
        .and_then(|doc| doc.get("updateTs"))
        .and_then(|ts| ts.as_str()?.parse::<i64>().ok())
        .unwrap_or(0);
    let update_ts = now_millis().max(previous_ts + 1);
    let stored_index = stored
        .and_then(|doc| doc.get("index"))
        .filter(|i| !i.is_null());
    let submitted_index = config.document().get("index").filter(|i| !i.is_null());
    if let (None, Some(index)) = (submitted_index, stored_index) {
        config.set("index", index.clone());
    }
    config.set("id", Value::String(id.to_string()));
    config.set("updateTs", Value::String(update_ts.to_string()));
    config.set("lastModifiedBy", Value::String(user.to_string()));
    update_ts
}

fn config_of(found: &Item) -> Result<PipelineConfig> {
    Ok(
        PipelineConfig::from_value(Value::Object(item::doc::<Map<String, Value>>(found)?))
            .expect("an object"),
    )
}

fn page_size(wanted: usize) -> i32 {
    i32::try_from(wanted.clamp(1, 1000)).unwrap_or(1000)
}

fn reserve_name(
    kind: ConfigKind,
    table: &str,
    application: &str,
    name: &str,
    id: &str,
) -> Result<Write> {
    let mut reservation = key(keys::app_pk(application), kind.name_sk(name));
    reservation.insert(PIPELINE_ID.to_string(), s(id));
    write::put(
        table,
        reservation,
        "attribute_not_exists(#pk) OR #pipelineId = :id",
        Bindings::new()
            .name(PK)
            .name(PIPELINE_ID)
            .value(":id", s(id)),
    )
}

fn release_name(
    kind: ConfigKind,
    table: &str,
    application: &str,
    name: &str,
    id: &str,
) -> Result<Write> {
    write::delete(
        table,
        key(keys::app_pk(application), kind.name_sk(name)),
        "attribute_not_exists(#pk) OR #pipelineId = :id",
        Bindings::new()
            .name(PK)
            .name(PIPELINE_ID)
            .value(":id", s(id)),
    )
}

#[allow(clippy::too_many_arguments)]
fn put_config(
    kind: ConfigKind,
    table: &str,
    application: &str,
    id: &str,
    name: &str,
    doc: &str,
    version: u64,
    current: Option<&Current>,
) -> Result<Write> {
    let mut config = key(keys::app_pk(application), kind.config_sk(id));
    config.insert(DOC.to_string(), s(doc));
    config.insert(VERSION.to_string(), n(version));
    config.insert(NAME.to_string(), s(name));
    match current.filter(|current| current.application == application) {
        Some(current) => write::put(
            table,
            config,
            "#version = :version",
            Bindings::new()
                .name(VERSION)
                .value(":version", n(current.version)),
        ),
        None => write::put(
            table,
            config,
            "attribute_not_exists(#pk)",
            Bindings::new().name(PK),
        ),
    }
}

fn delete_config(kind: ConfigKind, table: &str, current: &Current) -> Result<Write> {
    let id = current.config.id().unwrap_or_default();
    write::delete(
        table,
        key(keys::app_pk(&current.application), kind.config_sk(id)),
        "#version = :version",
        Bindings::new()
            .name(VERSION)
            .value(":version", n(current.version)),
    )
}

fn put_id_lookup(
    kind: ConfigKind,
    table: &str,
    application: &str,
    id: &str,
    current: Option<&Current>,
) -> Result<Write> {
    let mut lookup = key(kind.id_pk(id), keys::ID_SK);
    lookup.insert(APPLICATION.to_string(), s(application));
    match current {
        Some(current) => write::put(
            table,
            lookup,
            "#application = :application",
            Bindings::new()
                .name(APPLICATION)
                .value(":application", s(&current.application)),
        ),
        None => write::put(
            table,
            lookup,
            "attribute_not_exists(#pk)",
            Bindings::new().name(PK),
        ),
    }
}

fn put_history(
    kind: ConfigKind,
    table: &str,
    id: &str,
    doc: &str,
    update_ts: i64,
    version: u64,
) -> Result<Write> {
    let mut revision = key(kind.history_pk(id), keys::history_sk(update_ts, version));
    revision.insert(DOC.to_string(), s(doc));
    write::put(
        table,
        revision,
        "attribute_not_exists(#pk)",
        Bindings::new().name(PK),
    )
}

/// An index item: pipeline `id` (of `application`) listens on trigger index key `index`.
fn put_trigger_index(table: &str, index: &str, application: &str, id: &str) -> Result<Write> {
    let mut entry = key(keys::trigger_index_pk(index), keys::pipeline_sk(id));
    entry.insert(PIPELINE_ID.to_string(), s(id));
    entry.insert(APPLICATION.to_string(), s(application));
    write::put(
        table,
        entry,
        "attribute_not_exists(#pk) OR #pipelineId = :id",
        Bindings::new()
            .name(PK)
            .name(PIPELINE_ID)
            .value(":id", s(id)),
    )
}

fn delete_trigger_index(table: &str, index: &str, id: &str) -> Result<Write> {
    write::delete(
        table,
        key(keys::trigger_index_pk(index), keys::pipeline_sk(id)),
        "attribute_not_exists(#pk) OR #pipelineId = :id",
        Bindings::new()
            .name(PK)
            .name(PIPELINE_ID)
            .value(":id", s(id)),
    )
}
