//! Pipeline configs as Spinnaker (Front50/Deck) writes them.
//!
//! The stored form is the submitted JSON document itself ([`PipelineConfig::document`]), so
//! every field a client sent survives a round trip byte-for-value, unknown ones included.
//! [`PipelineConfig::parse`] gives a typed view of the fields Gennaker acts on.

use serde_json::{Map, Value};

use crate::json::{bool_field, str_field, to_id_string, whole_number};

/// A pipeline config: the opaque JSON document plus typed accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    document: Map<String, Value>,
}

/// One stage of a config, split the way Orca splits it: lifted fields and everything else as
/// `context`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageConfig {
    pub ref_id: String,
    pub requisite_stage_ref_ids: Vec<String>,
    pub stage_type: String,
    pub name: String,
    pub start_time_expiry: Option<Value>,
    pub context: Map<String, Value>,
}

/// One entry of `parameterConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterConfig {
    pub name: String,
    pub default: Option<Value>,
    pub required: bool,
}

impl PipelineConfig {
    /// Wraps a JSON object. Fails only when the value is not an object.
    pub fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Object(document) => Ok(Self { document }),
            other => Err(format!(
                "a pipeline config must be a JSON object, got {}",
                kind(&other)
            )),
        }
    }

    pub fn document(&self) -> &Map<String, Value> {
        &self.document
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.document)
    }

    pub fn id(&self) -> Option<&str> {
        str_field(&self.document, "id").filter(|id| !id.is_empty())
    }

    pub fn application(&self) -> Option<&str> {
        str_field(&self.document, "application")
    }

    pub fn name(&self) -> Option<&str> {
        str_field(&self.document, "name")
    }

    pub fn index(&self) -> Option<i64> {
        let index = self.document.get("index")?;
        index
            .as_i64()
            .or_else(|| whole_number(index).and_then(|n| i64::try_from(n).ok()))
    }

    pub fn is_disabled(&self) -> bool {
        bool_field(&self.document, "disabled").unwrap_or(false)
    }

    pub fn limit_concurrent(&self) -> bool {
        bool_field(&self.document, "limitConcurrent").unwrap_or(false)
    }

    pub fn keep_waiting_pipelines(&self) -> bool {
        bool_field(&self.document, "keepWaitingPipelines").unwrap_or(false)
    }

    pub fn max_concurrent_executions(&self) -> u64 {
        self.document
            .get("maxConcurrentExecutions")
            .and_then(whole_number)
            .unwrap_or(0)
    }

    pub fn spel_evaluator(&self) -> Option<&str> {
        str_field(&self.document, "spelEvaluator")
    }

    pub fn triggers(&self) -> &[Value] {
        array_field(&self.document, "triggers")
    }

    pub fn notifications(&self) -> &[Value] {
        array_field(&self.document, "notifications")
    }

    /// Sets a field the server owns (`id`, `updateTs`, `lastModifiedBy`, `index`, …).
    pub fn set(&mut self, key: &str, value: Value) {
        self.document.insert(key.to_string(), value);
    }

    /// The `parameterConfig` entries that have a name.
    pub fn parameter_config(&self) -> Vec<ParameterConfig> {
        array_field(&self.document, "parameterConfig")
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|param| {
                let name = str_field(param, "name")?.to_string();
                Some(ParameterConfig {
                    name,
                    default: param.get("default").filter(|v| !v.is_null()).cloned(),
                    required: bool_field(param, "required").unwrap_or(false),
                })
            })
            .collect()
    }

    /// The stages as Orca plans them. When no stage has a `refId` the pipeline is linear:
    /// stages get refIds "0", "1", … and each requires the previous one (Orca's `ExecutionLauncher`).
    pub fn stages(&self) -> Vec<StageConfig> {
        let raw: Vec<&Map<String, Value>> = array_field(&self.document, "stages")
            .iter()
            .filter_map(Value::as_object)
            .collect();
        let linear = raw.iter().all(|stage| ref_id_of(stage).is_none());
        raw.iter()
            .enumerate()
            .map(|(position, stage)| {
                let mut stage_config = StageConfig::from_object(stage);
                if linear {
                    stage_config.ref_id = position.to_string();
                    stage_config.requisite_stage_ref_ids = match position {
                        0 => vec![],
                        _ => vec![(position - 1).to_string()],
                    };
                }
                stage_config
            })
            .collect()
    }
}

impl StageConfig {
    fn from_object(stage: &Map<String, Value>) -> Self {
        let stage_type = str_field(stage, "type").unwrap_or_default().to_string();
        let name = str_field(stage, "name")
            .filter(|name| !name.is_empty())
            .unwrap_or(&stage_type)
            .to_string();
        let requisite_stage_ref_ids = stage
            .get("requisiteStageRefIds")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(to_id_string).collect())
            .unwrap_or_default();
        let context = stage
            .iter()
            .filter(|(key, _)| !LIFTED_STAGE_FIELDS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Self {
            ref_id: ref_id_of(stage).unwrap_or_default(),
            requisite_stage_ref_ids,
            stage_type,
            name,
            start_time_expiry: stage
                .get("startTimeExpiry")
                .filter(|v| !v.is_null())
                .cloned(),
            context,
        }
    }
}

/// Stage fields Orca lifts out of the stage map; everything else becomes the stage context.
pub const LIFTED_STAGE_FIELDS: [&str; 5] = [
    "refId",
    "requisiteStageRefIds",
    "type",
    "name",
    "startTimeExpiry",
];

fn ref_id_of(stage: &Map<String, Value>) -> Option<String> {
    stage.get("refId").and_then(to_id_string)
}

fn array_field<'a>(object: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    object
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stages_without_ref_ids_become_linear() {
        let config = PipelineConfig::from_value(json!({
            "name": "p", "application": "a",
            "stages": [{"type": "wait", "waitTime": 1}, {"type": "wait", "name": "second"}, {"type": "wait"}]
        }))
        .unwrap();
        let stages = config.stages();
        let shape: Vec<(&str, Vec<String>)> = stages
            .iter()
            .map(|s| (s.ref_id.as_str(), s.requisite_stage_ref_ids.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("0", vec![]),
                ("1", vec!["0".to_string()]),
                ("2", vec!["1".to_string()])
            ]
        );
        assert_eq!(stages[0].name, "wait", "name defaults to the type");
        assert_eq!(stages[1].name, "second");
        assert_eq!(
            stages[0].context,
            json!({"waitTime": 1}).as_object().unwrap().clone()
        );
    }

    #[test]
    fn numeric_ref_ids_are_coerced_to_strings_and_context_keeps_everything_else() {
        let config = PipelineConfig::from_value(json!({
            "stages": [{"refId": 1, "requisiteStageRefIds": [], "type": "wait", "name": "w",
                        "waitTime": 5, "comments": "x", "failPipeline": true},
                       {"refId": "2", "requisiteStageRefIds": [1], "type": "wait"}]
        }))
        .unwrap();
        let stages = config.stages();
        assert_eq!(stages[0].ref_id, "1");
        assert_eq!(stages[1].requisite_stage_ref_ids, vec!["1"]);
        assert_eq!(
            Value::Object(stages[0].context.clone()),
            json!({"waitTime": 5, "comments": "x", "failPipeline": true})
        );
    }

    #[test]
    fn numbers_as_strings_and_nulls_read_as_jackson_reads_them() {
        let config = PipelineConfig::from_value(json!({
            "name": "p", "application": "a", "index": "3", "maxConcurrentExecutions": "2",
            "limitConcurrent": "true", "keepWaitingPipelines": null, "disabled": null,
            "triggers": null, "notifications": null, "parameterConfig": null,
            "stages": [{"refId": 1, "requisiteStageRefIds": null, "type": "wait", "name": null,
                        "startTimeExpiry": null, "stageEnabled": null}]
        }))
        .unwrap();
        assert_eq!(config.index(), Some(3));
        assert_eq!(config.max_concurrent_executions(), 2);
        assert!(config.limit_concurrent());
        assert!(!config.keep_waiting_pipelines() && !config.is_disabled());
        assert!(config.triggers().is_empty() && config.notifications().is_empty());
        assert!(config.parameter_config().is_empty());
        let stage = &config.stages()[0];
        assert_eq!((stage.ref_id.as_str(), stage.name.as_str()), ("1", "wait"));
        assert!(stage.requisite_stage_ref_ids.is_empty() && stage.start_time_expiry.is_none());
    }

    #[test]
    fn document_is_kept_verbatim() {
        let original =
            json!({"name": "p", "application": "a", "stages": [], "somethingNew": {"x": [1, 2]}});
        let config = PipelineConfig::from_value(original.clone()).unwrap();
        assert_eq!(config.into_value(), original);
    }

    #[test]
    fn parameter_config_reads_defaults_and_required() {
        let config = PipelineConfig::from_value(json!({
            "parameterConfig": [{"name": "env", "default": "test", "required": true},
                                {"name": "tag", "required": true, "default": null},
                                {"label": "nameless"}]
        }))
        .unwrap();
        let params = config.parameter_config();
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].default, Some(json!("test")));
        assert_eq!(params[1].default, None);
        assert!(params[1].required);
    }
}
