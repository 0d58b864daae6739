//! Which stages of a pipeline Gennaker cannot run, and whether that stops a run.
//!
//! Front50 stores a stage of any type; Orca finds out only when the stage starts and its
//! `StageDefinitionBuilderFactory` knows no builder for the type, which fails the execution.
//! Gennaker stores such pipelines too, keeps the stages as submitted, and says which stages
//! it cannot run: when the config is read ([`unrunnable_stages`]) and, before anything of an
//! execution runs, when it is started ([`blocking_stages`], [`refusal`]).
//!
//! A stage that cannot run blocks a run unless its `stageEnabled` condition is already false
//! for the trigger: such a stage would be skipped by Orca's `StartStageHandler` without
//! being built, so it may have any type. A condition that needs more than the trigger (stage
//! outputs, say) may still turn out true, so that stage blocks.

use gennaker_expressions::{EvaluationContext, evaluate_condition};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::execution::Execution;
use crate::pipeline::PipelineConfig;
use crate::preconfigured::PreconfiguredWebhooks;
use crate::stage_types;

/// A stage Gennaker stores but cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnrunnableStage {
    /// Where the stage is in the config, e.g. `stages[2]`.
    pub field: String,
    pub ref_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub stage_type: String,
    pub reason: String,
    /// The stage's `stageEnabled` expression, when it runs only on a condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_enabled: Option<String>,
}

impl UnrunnableStage {
    /// `None` when Gennaker can run the stage.
    fn of(
        position: usize,
        ref_id: &str,
        name: &str,
        stage_type: &str,
        context: &Map<String, Value>,
        preconfigured: &PreconfiguredWebhooks,
    ) -> Option<Self> {
        if preconfigured.contains(stage_type) {
            return None;
        }
        Some(Self {
            field: format!("stages[{position}]"),
            ref_id: ref_id.to_string(),
            name: name.to_string(),
            stage_type: stage_type.to_string(),
            reason: unrunnable_reason(stage_type, context)?,
            stage_enabled: stage_enabled_expression(context).map(str::to_string),
        })
    }

    /// `2 (Deploy manifest) of type 'deployManifest'` (or, for a stage of a type Gennaker
    /// runs, `2 (Deploy stack): <reason>`), for messages listing several stages.
    pub fn describe(&self) -> String {
        if is_runnable_type(&self.stage_type) {
            format!("{} ({}): {}", self.ref_id, self.name, self.reason)
        } else {
            format!(
                "{} ({}) of type '{}'",
                self.ref_id, self.name, self.stage_type
            )
        }
    }
}

/// Whether Gennaker runs stages of this type (a blank type is a config error, not this).
pub fn is_runnable_type(stage_type: &str) -> bool {
    stage_types::stage_type(stage_type).is_some()
}

/// Why Gennaker cannot run this stage: its type, or a setting of a type it runs that it
/// does not support yet (a CloudFormation template from an artifact).
fn unrunnable_reason(stage_type: &str, context: &Map<String, Value>) -> Option<String> {
    if !is_runnable_type(stage_type) {
        return Some(format!(
            "Gennaker cannot run stages of type '{stage_type}' yet"
        ));
    }
    let source = context.get("source").and_then(Value::as_str).map(str::trim);
    (stage_type == "deployCloudFormation" && source == Some("artifact")).then(|| {
        "Gennaker cannot fetch CloudFormation templates from artifacts yet (source: \
         artifact); put the template in the stage (source: text, templateBody)"
            .to_string()
    })
}

/// Every stage of `config` whose type Gennaker cannot run, in config order (the types of
/// `preconfigured` webhooks run).
pub fn unrunnable_stages(
    config: &PipelineConfig,
    preconfigured: &PreconfiguredWebhooks,
) -> Vec<UnrunnableStage> {
    let positions = config
        .document()
        .get("stages")
        .and_then(Value::as_array)
        .map(|raw| {
            raw.iter()
                .enumerate()
                .filter(|(_, stage)| stage.is_object())
                .map(|(position, _)| position)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // `stages()` skips non-objects, so its order matches `positions`.
    positions
        .into_iter()
        .zip(config.stages())
        .filter(|(_, stage)| !stage.stage_type.trim().is_empty())
        .filter_map(|(position, stage)| {
            UnrunnableStage::of(
                position,
                &stage.ref_id,
                &stage.name,
                &stage.stage_type,
                &stage.context,
                preconfigured,
            )
        })
        .collect()
}

/// The stages of a NOT_STARTED execution that cannot run and may be enabled for its trigger.
pub fn blocking_stages(
    execution: &Execution,
    preconfigured: &PreconfiguredWebhooks,
) -> Vec<UnrunnableStage> {
    let trigger = Value::Object(execution.trigger.clone());
    execution
        .stages
        .iter()
        .enumerate()
        .filter(|(_, stage)| stage.parent_stage_id.is_none())
        .filter(|(_, stage)| may_be_enabled(&stage.context, &trigger))
        .filter_map(|(position, stage)| {
            UnrunnableStage::of(
                position,
                &stage.ref_id,
                &stage.name,
                &stage.stage_type,
                &stage.context,
                preconfigured,
            )
        })
        .collect()
}

/// Why `execution` must not start, naming every stage that blocks it; `None` when it may.
pub fn refusal(execution: &Execution, preconfigured: &PreconfiguredWebhooks) -> Option<String> {
    let blocking = blocking_stages(execution, preconfigured);
    if blocking.is_empty() {
        return None;
    }
    let stages: Vec<String> = blocking.iter().map(UnrunnableStage::describe).collect();
    Some(format!(
        "Pipeline '{}' has stages Gennaker cannot run yet: {}",
        execution.name.as_deref().unwrap_or_default(),
        stages.join(", ")
    ))
}

/// False only when the stage's `stageEnabled` condition is false for the trigger alone
/// (Orca evaluates it when the stage is reached; anything it cannot decide now may be true).
fn may_be_enabled(context: &Map<String, Value>, trigger: &Value) -> bool {
    let Some(expression) = stage_enabled_expression(context) else {
        return true;
    };
    let at_trigger = EvaluationContext::for_trigger(trigger);
    !matches!(evaluate_condition(expression, &at_trigger), Ok(false))
}

/// `stageEnabled: {type: "expression", expression: "…"}`; none, another type or a blank
/// expression means the stage always runs.
fn stage_enabled_expression(context: &Map<String, Value>) -> Option<&str> {
    let condition = context.get("stageEnabled")?.as_object()?;
    let is_expression = condition
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.eq_ignore_ascii_case("expression"));
    if !is_expression {
        return None;
    }
    condition
        .get("expression")?
        .as_str()
        .map(str::trim)
        .filter(|expression| !expression.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::{Caller, build_execution, resolve_trigger};
    use serde_json::json;

    fn none() -> PreconfiguredWebhooks {
        PreconfiguredWebhooks::default()
    }

    fn config(value: Value) -> PipelineConfig {
        PipelineConfig::from_value(value).unwrap()
    }

    fn execution_of(config: &PipelineConfig, parameters: Value) -> Execution {
        let caller = Caller::default();
        let mut supplied = Map::new();
        supplied.insert("parameters".into(), parameters);
        let trigger = resolve_trigger(config, supplied, &caller).unwrap();
        let mut ids = 0;
        build_execution(config, "E".into(), trigger, &caller, 0, || {
            ids += 1;
            ids.to_string()
        })
    }

    fn mixed() -> PipelineConfig {
        config(json!({"name": "Mixed", "application": "app", "stages": [
            {"refId": "1", "type": "wait", "name": "Wait"},
            null,
            {"refId": "2", "type": "deployManifest", "name": "Deploy manifest",
             "requisiteStageRefIds": ["1"], "manifests": [{"kind": "Deployment"}]},
            {"refId": "3", "type": "Vendor. Custom stage", "requisiteStageRefIds": ["1"]},
            {"refId": "4", "type": "kayentaCanary", "name": "Canary", "requisiteStageRefIds": ["1"],
             "stageEnabled": {"type": "expression", "expression": "parameters.canary == 'true'"}},
            {"refId": "5", "type": "runJob", "name": "Migrate", "requisiteStageRefIds": ["1"],
             "stageEnabled": {"type": "expression", "expression": "#stage('Wait').status == 'SUCCEEDED'"}}
        ]}))
    }

    #[test]
    fn preconfigured_webhook_types_run() {
        let hooks = PreconfiguredWebhooks::parse(Some(
            r#"[{"type": "Vendor. Custom stage", "url": "https://x.example.com"}]"#,
        ))
        .unwrap();
        let types: Vec<String> = unrunnable_stages(&mixed(), &hooks)
            .into_iter()
            .map(|stage| stage.stage_type)
            .collect();
        assert_eq!(types, ["deployManifest", "kayentaCanary", "runJob"]);
    }

    #[test]
    fn unrunnable_stages_name_position_ref_id_and_type() {
        let found = unrunnable_stages(&mixed(), &none());
        let summary: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|s| (s.field.as_str(), s.ref_id.as_str(), s.stage_type.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("stages[2]", "2", "deployManifest"),
                ("stages[3]", "3", "Vendor. Custom stage"),
                ("stages[4]", "4", "kayentaCanary"),
                ("stages[5]", "5", "runJob"),
            ]
        );
        assert_eq!(
            found[1].name, "Vendor. Custom stage",
            "name defaults to the type"
        );
        assert_eq!(
            found[0].reason,
            "Gennaker cannot run stages of type 'deployManifest' yet"
        );
        assert_eq!(
            found[2].stage_enabled.as_deref(),
            Some("parameters.canary == 'true'")
        );
        assert_eq!(
            serde_json::to_value(&found[0]).unwrap(),
            json!({"field": "stages[2]", "refId": "2", "name": "Deploy manifest",
                   "type": "deployManifest",
                   "reason": "Gennaker cannot run stages of type 'deployManifest' yet"})
        );
    }

    #[test]
    fn a_stage_disabled_for_the_trigger_does_not_block_and_an_undecidable_one_does() {
        let config = mixed();
        let off = execution_of(&config, json!({"canary": "false"}));
        let blocking: Vec<String> = blocking_stages(&off, &none())
            .into_iter()
            .map(|s| s.ref_id)
            .collect();
        assert_eq!(blocking, vec!["2", "3", "5"]);
        let on = execution_of(&config, json!({"canary": "true"}));
        let blocking: Vec<String> = blocking_stages(&on, &none())
            .into_iter()
            .map(|s| s.ref_id)
            .collect();
        assert_eq!(blocking, vec!["2", "3", "4", "5"]);
        assert_eq!(
            refusal(&off, &none()).unwrap(),
            "Pipeline 'Mixed' has stages Gennaker cannot run yet: 2 (Deploy manifest) of type \
             'deployManifest', 3 (Vendor. Custom stage) of type 'Vendor. Custom stage', \
             5 (Migrate) of type 'runJob'"
        );
    }

    #[test]
    fn a_cloudformation_template_from_an_artifact_cannot_run_yet() {
        let config = config(json!({"name": "Stacks", "application": "app", "stages": [
            {"refId": "1", "type": "deployCloudFormation", "name": "From text",
             "source": "text", "templateBody": {"Resources": {}}},
            {"refId": "2", "type": "deployCloudFormation", "name": "From artifact",
             "source": "artifact", "stackArtifactId": "a1", "stackArtifactAccount": "s3"}
        ]}));
        let found = unrunnable_stages(&config, &none());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].ref_id, "2");
        assert!(found[0].reason.contains("artifacts"), "{}", found[0].reason);
        let execution = execution_of(&config, json!({}));
        let refusal = refusal(&execution, &none()).unwrap();
        assert!(
            refusal.ends_with("2 (From artifact): Gennaker cannot fetch CloudFormation templates from artifacts yet (source: artifact); put the template in the stage (source: text, templateBody)"),
            "{refusal}"
        );
    }

    #[test]
    fn runnable_pipelines_and_literal_false_conditions_are_not_refused() {
        let config = config(json!({"name": "Ok", "application": "app", "stages": [
            {"refId": "1", "type": "wait"},
            {"refId": "2", "type": "deployManifest", "requisiteStageRefIds": ["1"],
             "stageEnabled": {"type": "expression", "expression": "false"}}
        ]}));
        let execution = execution_of(&config, json!({}));
        assert_eq!(refusal(&execution, &none()), None);
        assert_eq!(unrunnable_stages(&config, &none()).len(), 1);
    }
}
