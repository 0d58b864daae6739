//! Walking JSON and evaluating every `${…}` in it (Orca's `ExpressionTransform`), plus the
//! condition, endpoint and trigger-time entry points built on it.

use serde_json::{Map, Value, json};

use crate::context::{EvaluationContext, SpelEvaluatorVersion};
use crate::error::ExpressionError;
use crate::eval::{Evaluator, to_json};
use crate::limits::{MAX_EXPRESSION_LENGTH, MAX_VALUE_DEPTH};
use crate::ops::convert_to_string;
use crate::parser::parse;
use crate::summary::{ExpressionSummary, SummaryEntry, SummaryLevel};
use crate::template::{
    TemplatePart, contains_expression, split_template, summary_key, summary_key_for_unparsable,
};
use crate::value::Val;

/// The result of evaluating a JSON value: the new value and what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub value: Value,
    pub summary: ExpressionSummary,
}

/// Evaluates every string in `value` (map keys too), recursively. A string that is exactly one
/// `${…}` becomes the typed result (number, boolean, map, list, ...); other strings are
/// interpolated. Failures never abort: the original text stays and the summary records it
/// (`ERROR`, or `INFO` for expressions that resolved to null). Strings without `${` are
/// untouched.
pub fn evaluate_value(value: &Value, ctx: &EvaluationContext<'_>) -> Evaluated {
    let mut walker = Walker {
        evaluator: Evaluator::new(ctx),
        summary: ExpressionSummary::default(),
    };
    let value = walker.walk(value, None, 0);
    Evaluated {
        value,
        summary: walker.summary,
    }
}

struct Walker<'c, 'a> {
    evaluator: Evaluator<'c, 'a>,
    summary: ExpressionSummary,
}

impl Walker<'_, '_> {
    /// `parent` is the map the value sits in (directly, or through lists), which names the
    /// failing field in descriptions.
    fn walk(&mut self, value: &Value, parent: Option<&Map<String, Value>>, depth: usize) -> Value {
        if depth > MAX_VALUE_DEPTH {
            return value.clone();
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| {
                        let key = match self.transform_string(key, Some(map)) {
                            Value::String(s) => s,
                            other => convert_to_string(&Val::from_json(&other)),
                        };
                        (key, self.walk(item, Some(map), depth + 1))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.walk(item, parent, depth + 1))
                    .collect(),
            ),
            Value::String(text) => self.transform_string(text, parent),
            other => other.clone(),
        }
    }

    fn transform_string(&mut self, source: &str, parent: Option<&Map<String, Value>>) -> Value {
        if !contains_expression(source) {
            return Value::String(source.to_string());
        }
        let fields = abbreviate(&describe_fields(source, parent));
        let outcome = self.evaluate_template(source);
        let key = outcome.key;
        match outcome.result {
            Ok(TemplateResult::Value(value)) => {
                self.summary.attempted(&key);
                value
            }
            Ok(TemplateResult::Unresolved(value)) => {
                // `$` is stripped (Orca strips it from ERROR entries only) so a stored summary
                // never holds a live expression that the next evaluation would pick up.
                let description =
                    format!("Failed to evaluate {fields} : {key} not found").replace('$', "");
                self.record(&key, description, None, SummaryLevel::Info);
                self.summary.attempted(&key);
                value.unwrap_or_else(|| Value::String(source.to_string()))
            }
            Err(error) => {
                // Orca strips `$` from error descriptions so the UI shows no live expressions.
                let description =
                    format!("Failed to evaluate {fields} {}", error.message).replace('$', "");
                self.record(
                    &key,
                    description,
                    Some(error.exception_type().to_string()),
                    SummaryLevel::Error,
                );
                self.summary.attempted(&key);
                Value::String(source.to_string())
            }
        }
    }

    fn record(
        &mut self,
        key: &str,
        description: String,
        exception_type: Option<String>,
        level: SummaryLevel,
    ) {
        let timestamp = self.evaluator.ctx.now();
        self.summary.add(
            key,
            SummaryEntry {
                description,
                exception_type,
                timestamp,
                level,
            },
        );
    }

    fn evaluate_template(&mut self, source: &str) -> TemplateOutcome {
        if source.len() > MAX_EXPRESSION_LENGTH {
            return TemplateOutcome {
                key: abbreviate(&summary_key_for_unparsable(source)),
                result: Err(ExpressionError::eval(format!(
                    "EL1079E: Expression is too long: {} characters exceed the limit of {MAX_EXPRESSION_LENGTH}",
                    source.len()
                ))),
            };
        }
        let parts = match split_template(source) {
            Ok(parts) => parts,
            Err(error) => {
                return TemplateOutcome {
                    key: summary_key_for_unparsable(source),
                    result: Err(error),
                };
            }
        };
        let key = summary_key(&parts);
        // Spring parses every part before evaluating any.
        let mut parsed = Vec::with_capacity(parts.len());
        for part in &parts {
            match part {
                TemplatePart::Literal(text) => parsed.push(Part::Literal(text)),
                TemplatePart::Expression(text) => match parse(text) {
                    Ok(expr) => parsed.push(Part::Expression(text, expr)),
                    Err(error) => {
                        return TemplateOutcome {
                            key: summary_key_for_unparsable(source),
                            result: Err(error),
                        };
                    }
                },
            }
        }
        let ctx = self.evaluator.ctx;
        let result = if let [Part::Expression(_, expr)] = parsed.as_slice() {
            let evaluator = Evaluator::new(ctx);
            match evaluator.evaluate(expr) {
                Ok(Val::Null) => Ok(TemplateResult::Unresolved(None)),
                Ok(value) => Ok(TemplateResult::Value(to_json(&value, ctx))),
                Err(error) => Err(error),
            }
        } else {
            let mut text = String::new();
            let mut unresolved = false;
            let mut failure = None;
            for part in &parsed {
                match part {
                    Part::Literal(literal) => text.push_str(literal),
                    Part::Expression(source, expr) => match Evaluator::new(ctx).evaluate(expr) {
                        Ok(Val::Null) => {
                            unresolved = true;
                            text.push_str("${");
                            text.push_str(source);
                            text.push('}');
                        }
                        Ok(value) => text.push_str(&convert_to_string(&value)),
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    },
                }
            }
            match failure {
                Some(error) => Err(error),
                None if unresolved => Ok(TemplateResult::Unresolved(Some(Value::String(text)))),
                None => Ok(TemplateResult::Value(Value::String(text))),
            }
        };
        TemplateOutcome { key, result }
    }
}

/// Oversized texts are cut in summary keys and descriptions, which end up in stage contexts.
fn abbreviate(text: &str) -> String {
    const SHOWN: usize = 200;
    if text.len() <= MAX_EXPRESSION_LENGTH {
        return text.to_string();
    }
    let cut: String = text.chars().take(SHOWN).collect();
    format!("{cut}… ({} characters)", text.chars().count())
}

enum Part<'s> {
    Literal(&'s str),
    Expression(&'s str, crate::ast::Expr),
}

enum TemplateResult {
    Value(Value),
    /// Resolved to null: keep the original (or, in a composite, the partly resolved) text.
    Unresolved(Option<Value>),
}

struct TemplateOutcome {
    key: String,
    result: Result<TemplateResult, ExpressionError>,
}

/// Orca names a failing field by the keys of the enclosing map whose value (looking through
/// nested maps, not lists) contains the string: `[waitTime]`; otherwise the text itself.
fn describe_fields(source: &str, parent: Option<&Map<String, Value>>) -> String {
    let keys: Vec<&str> = parent
        .map(|map| {
            map.iter()
                .filter(|(_, value)| flattened_contains(value, source, 0))
                .map(|(key, _)| key.as_str())
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        source.to_string()
    } else {
        format!("[{}]", keys.join(", "))
    }
}

fn flattened_contains(value: &Value, needle: &str, depth: usize) -> bool {
    if depth > MAX_VALUE_DEPTH {
        return false;
    }
    match value {
        Value::String(s) => s == needle,
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k == needle || flattened_contains(v, needle, depth + 1)),
        _ => false,
    }
}

/// Why a condition did not resolve to `true` or `false`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Conditional Expression '{expression}' could not be evaluated")]
pub struct ConditionError {
    pub expression: String,
    /// What the expression produced (the original `${…}` text when it failed).
    pub resolved: Value,
    pub summary: Box<ExpressionSummary>,
}

/// Evaluates a `stageEnabled` or precondition expression, written without `${}`. Orca wraps it
/// in `${…}` and accepts a result whose text is `true` or `false` (any case); anything else —
/// failures, null, other values — is an error. For `stageEnabled`, an error means **skip**; for
/// `checkPreconditions`, it means the precondition fails. A blank expression is an error too;
/// see [`stage_enabled`] for the `stageEnabled` rules around it.
pub fn evaluate_condition(
    expression: &str,
    ctx: &EvaluationContext<'_>,
) -> Result<bool, ConditionError> {
    let mut source = Map::new();
    source.insert(
        "expression".into(),
        Value::String(format!("${{{expression}}}")),
    );
    let evaluated = evaluate_value(&Value::Object(source), ctx);
    let resolved = evaluated
        .value
        .get("expression")
        .cloned()
        .unwrap_or(Value::Null);
    let text = match &resolved {
        Value::String(s) => s.clone(),
        other => convert_to_string(&Val::from_json(other)),
    };
    match text.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConditionError {
            expression: expression.to_string(),
            resolved,
            summary: Box::new(evaluated.summary),
        }),
    }
}

/// Orca's decision for a stage's `stageEnabled` value (`{"type": "expression", "expression": …}`).
#[derive(Debug, Clone, PartialEq)]
pub enum StageEnabled {
    Run,
    /// Skip the stage (status SKIPPED); `reason` is what Orca logs.
    Skip {
        reason: String,
    },
}

/// Decides whether a stage runs: no `stageEnabled`, another `type`, or a blank expression ⇒
/// run; `true` ⇒ run; `false` or anything unresolvable ⇒ skip. (Synthetic stages without their
/// own `stageEnabled` follow their parent's decision; that walk is the caller's.)
pub fn stage_enabled(stage_enabled: Option<&Value>, ctx: &EvaluationContext<'_>) -> StageEnabled {
    let Some(config) = stage_enabled else {
        return StageEnabled::Run;
    };
    let is_expression = config
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("expression"));
    if !is_expression {
        return StageEnabled::Run;
    }
    let expression = match config.get("expression") {
        None | Some(Value::Null) => return StageEnabled::Run,
        Some(Value::String(s)) if s.trim().is_empty() => return StageEnabled::Run,
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match evaluate_condition(&expression, ctx) {
        Ok(true) => StageEnabled::Run,
        Ok(false) => StageEnabled::Skip {
            reason: format!("Conditional Expression '{expression}' evaluated to false"),
        },
        Err(error) => StageEnabled::Skip {
            reason: error.to_string(),
        },
    }
}

/// Gate/Orca's `evaluateExpression` endpoints: `{"result": <value or original text>,
/// "detail": <expressionEvaluationSummary or null>}`. Build `ctx` with
/// [`EvaluationContext::for_execution`] (`GET /pipelines/{id}/evaluateExpression`) or
/// [`EvaluationContext::for_stage`] (`GET /pipelines/{id}/{stageId}/evaluateExpression`).
pub fn evaluate_expression(text: &str, ctx: &EvaluationContext<'_>) -> Value {
    let mut source = Map::new();
    source.insert("expression".into(), Value::String(text.to_string()));
    let evaluated = evaluate_value(&Value::Object(source), ctx);
    let result = evaluated
        .value
        .get("expression")
        .cloned()
        .unwrap_or(Value::Null);
    let detail = if evaluated.summary.is_empty() {
        Value::Null
    } else {
        evaluated.summary.to_json()
    };
    json!({"result": result, "detail": detail})
}

/// A pipeline config at trigger time (Orca's `processPipeline`), with
/// [`EvaluationContext::for_trigger`]: with `spelEvaluator: "v4"` the `stages` are left for
/// stage start; otherwise (v3, the default) everything is evaluated now and what fails stays
/// as text to be evaluated again when the stage starts.
pub fn evaluate_pipeline_at_trigger(config: &Value, ctx: &EvaluationContext<'_>) -> Evaluated {
    let version =
        SpelEvaluatorVersion::from_key(config.get("spelEvaluator").and_then(Value::as_str));
    match (version, config) {
        (SpelEvaluatorVersion::V4, Value::Object(map)) if map.contains_key("stages") => {
            let mut without_stages = map.clone();
            let stages = without_stages.remove("stages");
            let mut evaluated = evaluate_value(&Value::Object(without_stages), ctx);
            if let (Value::Object(result), Some(stages)) = (&mut evaluated.value, stages) {
                result.insert("stages".into(), stages);
            }
            evaluated
        }
        _ => evaluate_value(config, ctx),
    }
}
