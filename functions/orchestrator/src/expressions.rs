//! Pipeline expressions in the engine's decisions: `stageEnabled` and a stage's context
//! evaluated when the stage starts (Spinnaker's v4 evaluation; docs/spinnaker-behaviour.md,
//! "When expressions are evaluated").

use gennaker_engine::StageConditions;
use gennaker_expressions::{
    EvaluationContext, ExpressionSummary, SUMMARY_KEY, evaluate_condition, evaluate_value,
};
use gennaker_model::{Execution, StageExecution};
use serde_json::{Map, Value};

/// Evaluates expressions against the execution as seen from the stage.
pub struct ExpressionConditions;

impl StageConditions for ExpressionConditions {
    fn is_enabled(&self, expression: &str, execution: &Execution, stage: &StageExecution) -> bool {
        let root = as_json(execution);
        let context = EvaluationContext::for_stage(&root, &stage.id);
        // Anything but a clear "true" skips the stage, as in Orca's `StartStageHandler`.
        evaluate_condition(expression, &context).unwrap_or(false)
    }

    fn prepare_context(
        &self,
        execution: &Execution,
        stage: &StageExecution,
    ) -> Option<Map<String, Value>> {
        let root = as_json(execution);
        if stage.stage_type == gennaker_engine::EVALUATE_VARIABLES {
            return Some(evaluate_variables(root, stage));
        }
        let context = EvaluationContext::for_stage(&root, &stage.id);
        let evaluated = evaluate_value(&Value::Object(stage.context.clone()), &context);
        let Value::Object(mut prepared) = evaluated.value else {
            return None;
        };
        evaluated.summary.apply_to_context(&mut prepared);
        Some(prepared)
    }
}

/// Orca's `EvaluateVariablesStage.processExpressions`: the context but `variables` is
/// evaluated as any stage's; then each variable's `value` in order, with the variables
/// evaluated before it visible by key (as top-level names of the stage's context). A
/// variable whose expression fails keeps its text and its failure joins the stage's summary.
/// Each evaluated string variable keeps its source as `sourceValue` (`${` written `{`), which
/// a restart evaluates again.
fn evaluate_variables(mut root: Value, stage: &StageExecution) -> Map<String, Value> {
    let mut rest = stage.context.clone();
    let variables = match rest.remove("variables") {
        Some(Value::Array(variables)) => variables,
        _ => vec![],
    };
    let (mut prepared, mut summary) = {
        let context = EvaluationContext::for_stage(&root, &stage.id);
        let evaluated = evaluate_value(&Value::Object(rest), &context);
        let prepared = match evaluated.value {
            Value::Object(prepared) => prepared,
            _ => Map::new(),
        };
        (prepared, summary_entries(&evaluated.summary))
    };
    let mut evaluated_variables = Vec::with_capacity(variables.len());
    for variable in variables {
        let Value::Object(mut variable) = variable else {
            evaluated_variables.push(variable);
            continue;
        };
        let source = match variable.get("sourceValue").and_then(Value::as_str) {
            Some(restarted) => Some(restarted.replace('{', "${")),
            None => variable
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if let Some(source) = source {
            let context = EvaluationContext::for_stage(&root, &stage.id);
            let evaluated = evaluate_value(&Value::String(source.clone()), &context);
            variable
                .entry("sourceValue")
                .or_insert_with(|| Value::String(source.replace("${", "{")));
            if evaluated.summary.failure_count() == 0 {
                variable.insert("value".into(), evaluated.value.clone());
                if let Some(key) = variable.get("key").and_then(Value::as_str) {
                    make_visible(&mut root, &stage.id, key, evaluated.value);
                }
            } else {
                variable.insert("value".into(), Value::String(source));
                summary.extend(summary_entries(&evaluated.summary));
            }
        }
        evaluated_variables.push(Value::Object(variable));
    }
    prepared.insert("variables".into(), Value::Array(evaluated_variables));
    prepared.remove(SUMMARY_KEY);
    if !summary.is_empty() {
        prepared.insert(SUMMARY_KEY.into(), Value::Object(summary));
    }
    prepared
}

fn summary_entries(summary: &ExpressionSummary) -> Map<String, Value> {
    match summary.to_json() {
        Value::Object(entries) => entries,
        _ => Map::new(),
    }
}

/// Puts `key` into the stage's context inside the execution JSON, where the next
/// evaluation sees it as a top-level name.
fn make_visible(root: &mut Value, stage_id: &str, key: &str, value: Value) {
    let stage = root
        .get_mut("stages")
        .and_then(Value::as_array_mut)
        .and_then(|stages| {
            stages
                .iter_mut()
                .find(|stage| stage.get("id").and_then(Value::as_str) == Some(stage_id))
        });
    if let Some(Value::Object(context)) = stage.and_then(|stage| stage.get_mut("context")) {
        context.insert(key.to_string(), value);
    }
}

fn as_json(execution: &Execution) -> Value {
    serde_json::to_value(execution).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_model::PipelineConfig;
    use gennaker_model::launch::{Caller, build_execution};
    use serde_json::json;

    fn execution(variables: Value) -> Execution {
        let config = PipelineConfig::from_value(json!({"application": "app", "name": "p",
            "stages": [{"refId": "1", "type": "evaluateVariables", "variables": variables,
                        "note": "${trigger.parameters.env}"}]}))
        .unwrap();
        let mut trigger = Map::new();
        trigger.insert("parameters".into(), json!({"env": "prod"}));
        build_execution(&config, "e".into(), trigger, &Caller::default(), 0, || {
            "s".to_string()
        })
    }

    #[test]
    fn variables_are_evaluated_in_order_each_seeing_the_earlier_ones() {
        let execution = execution(json!([
            {"key": "env", "value": "${trigger.parameters.env}"},
            {"key": "bucket", "value": "${'artifacts-' + env}"},
            {"key": "size", "value": 3},
            {"key": "missing", "value": "${#stage('Nope').context}"},
            {"key": "after", "value": "${bucket + '/x'}"}
        ]));
        let prepared = ExpressionConditions
            .prepare_context(&execution, &execution.stages[0])
            .unwrap();
        let values: Vec<&Value> = prepared["variables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|variable| &variable["value"])
            .collect();
        assert_eq!(
            values,
            [
                &json!("prod"),
                &json!("artifacts-prod"),
                &json!(3),
                &json!("${#stage('Nope').context}"),
                &json!("artifacts-prod/x")
            ]
        );
        assert_eq!(
            prepared["variables"][1]["sourceValue"],
            "{'artifacts-' + env}"
        );
        assert_eq!(
            prepared["note"], "prod",
            "the rest of the context is evaluated too"
        );
        let summary = prepared[SUMMARY_KEY].as_object().unwrap();
        assert_eq!(summary.len(), 1, "{summary:?}");
        assert!(summary.keys().all(|key| key.contains("Nope")));
    }
}
