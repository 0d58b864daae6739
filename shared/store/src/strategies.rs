//! Strategy configs (Spinnaker's deploy strategies): stored like pipeline configs, with the
//! same save semantics, in a name space and history of their own. Plus the cross-application
//! listing of pipeline configs.

use gennaker_model::PipelineConfig;
use serde_json::{Map, Value};

use crate::Store;
use crate::error::{Result, sdk};
use crate::item::{self, s};
use crate::keys::{APP_PREFIX, ConfigKind, PIPELINE_PREFIX, PK, SK};

impl Store {
    /// Saves (upserts by id) a strategy config; as [`Store::save_pipeline`].
    pub async fn save_strategy(
        &self,
        config: PipelineConfig,
        user: &str,
    ) -> Result<PipelineConfig> {
        self.save_config(ConfigKind::Strategy, config, user).await
    }

    /// An application's strategies, ordered and indexed like its pipelines.
    pub async fn list_strategies(&self, application: &str) -> Result<Vec<PipelineConfig>> {
        self.list_configs(ConfigKind::Strategy, application).await
    }

    /// The application a strategy id belongs to.
    pub async fn find_strategy_application(&self, id: &str) -> Result<Option<String>> {
        self.find_config_application(ConfigKind::Strategy, id).await
    }

    /// Saved revisions of a strategy, newest first, at most `limit`.
    pub async fn strategy_history(&self, id: &str, limit: usize) -> Result<Vec<PipelineConfig>> {
        self.config_history(ConfigKind::Strategy, id, limit).await
    }

    /// Deletes a strategy (history is kept); false when there was none.
    pub async fn delete_strategy(&self, application: &str, id: &str) -> Result<bool> {
        self.delete_config(ConfigKind::Strategy, application, id)
            .await
    }

    /// Every pipeline config of every application (Gate's admin `GET /pipelineConfigs`),
    /// sorted by application, then name. A Scan of the pipelines table: configs are few
    /// (thousands) and this listing is rare; executions live elsewhere.
    pub async fn list_all_pipelines(&self) -> Result<Vec<PipelineConfig>> {
        let mut configs = Vec::new();
        let mut start = None;
        loop {
            let output = (self.client.scan())
                .table_name(&self.tables.pipelines)
                // Configs only: trigger index items share the `PIPELINE#` sort key prefix.
                .filter_expression("begins_with(#pk, :app) AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":app", s(APP_PREFIX))
                .expression_attribute_values(":prefix", s(PIPELINE_PREFIX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            for found in output.items() {
                let doc = item::doc::<Map<String, Value>>(found)?;
                configs.push(PipelineConfig::from_value(Value::Object(doc)).expect("an object"));
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        configs.sort_by_cached_key(|config| {
            (
                config.application().unwrap_or_default().to_string(),
                config.name().unwrap_or_default().to_lowercase(),
            )
        });
        Ok(configs)
    }
}
