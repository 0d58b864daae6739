//! Whether a ready stage runs or is skipped (Orca's `StartStageHandler`): `stageEnabled` and
//! `startTimeExpiry`.
//!
//! Expression evaluation plugs in through [`StageConditions`]; the engine stays pure and the
//! orchestrator supplies an evaluator that can resolve `${…}`.

use gennaker_model::{Execution, StageExecution};
use serde_json::{Map, Value};

/// Decides whether a stage's `stageEnabled` expression allows it to run.
pub trait StageConditions {
    /// `expression` is the text of `stageEnabled.expression`, without `${}`. Spinnaker runs
    /// the stage only when it evaluates to "true"; anything else, including an expression
    /// that cannot be evaluated, skips it.
    fn is_enabled(&self, expression: &str, execution: &Execution, stage: &StageExecution) -> bool;

    /// The context the stage runs with. Spinnaker evaluates a stage's `${…}` expressions when
    /// the stage starts (and records failures in `expressionEvaluationSummary`); `None` keeps
    /// the context as it is.
    fn prepare_context(
        &self,
        _execution: &Execution,
        _stage: &StageExecution,
    ) -> Option<Map<String, Value>> {
        None
    }
}

/// Without an expression evaluator: only the literals `true` and `false` are understood;
/// anything else cannot be evaluated and, as in Spinnaker, skips the stage.
pub struct LiteralConditions;

impl StageConditions for LiteralConditions {
    fn is_enabled(&self, expression: &str, _: &Execution, _: &StageExecution) -> bool {
        expression.trim().eq_ignore_ascii_case("true")
    }
}

/// Why a ready stage is skipped instead of started, if it is.
pub(crate) fn skip_reason(
    conditions: &dyn StageConditions,
    execution: &Execution,
    stage: &StageExecution,
    now: i64,
) -> Option<String> {
    if let Some(expression) = stage_enabled_expression(stage)
        && !conditions.is_enabled(expression, execution, stage)
    {
        return Some(format!(
            "stageEnabled expression '{expression}' did not evaluate to true"
        ));
    }
    match epoch_millis(stage.start_time_expiry.as_ref()) {
        Some(expiry) if now > expiry => {
            Some("the stage could not start before its startTimeExpiry".to_string())
        }
        _ => None,
    }
}

/// `stageEnabled: {type: "expression", expression: "…"}`; a missing or blank expression
/// means "run".
fn stage_enabled_expression(stage: &StageExecution) -> Option<&str> {
    stage
        .context
        .get("stageEnabled")?
        .get("expression")?
        .as_str()
        .map(str::trim)
        .filter(|expression| !expression.is_empty())
}

/// Spinnaker writes `startTimeExpiry` as epoch millis, as a number or a string.
pub(crate) fn epoch_millis(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}
