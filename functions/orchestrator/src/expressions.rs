//! Pipeline expressions in the engine's decisions: `stageEnabled` and a stage's context
//! evaluated when the stage starts (Spinnaker's v4 evaluation; docs/spinnaker-behaviour.md,
//! "When expressions are evaluated").

use gennaker_engine::StageConditions;
use gennaker_expressions::{EvaluationContext, evaluate_condition, evaluate_value};
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
        let context = EvaluationContext::for_stage(&root, &stage.id);
        let evaluated = evaluate_value(&Value::Object(stage.context.clone()), &context);
        let Value::Object(mut prepared) = evaluated.value else {
            return None;
        };
        evaluated.summary.apply_to_context(&mut prepared);
        Some(prepared)
    }
}

fn as_json(execution: &Execution) -> Value {
    serde_json::to_value(execution).unwrap_or(Value::Null)
}
