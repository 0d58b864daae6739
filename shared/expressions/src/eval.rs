//! Evaluates a parsed expression against an [`EvaluationContext`].
//!
//! Scoping follows SpEL: bare names are read from the *active object* (the root, or the element
//! inside `.?[…]`/`.![…]`), method arguments from the scope's root object, and indexer keys
//! from the evaluation root. Safe navigation (`?.`) applies to the one step it is written on.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::ast::*;
use crate::context::EvaluationContext;
use crate::error::{ErrorKind, ExpressionError, Result};
use crate::java_time;
use crate::javatypes::{self, JavaType};
use crate::limits::MAX_EVALUATION_STEPS;
use crate::ops;
use crate::value::{Val, double_to_json, java_float_to_string};

pub(crate) struct Evaluator<'c, 'a> {
    pub ctx: &'c EvaluationContext<'a>,
    steps: Cell<u64>,
}

/// Properties Orca's `PipelineExecution` has; absent ones read as null, others are errors.
const EXECUTION_PROPERTIES: [&str; 29] = [
    "type",
    "id",
    "application",
    "name",
    "buildTime",
    "canceled",
    "canceledBy",
    "cancellationReason",
    "limitConcurrent",
    "maxConcurrentExecutions",
    "keepWaitingPipelines",
    "context",
    "stages",
    "startTime",
    "endTime",
    "startTimeExpiry",
    "status",
    "authentication",
    "paused",
    "origin",
    "trigger",
    "description",
    "pipelineConfigId",
    "source",
    "notifications",
    "initialConfig",
    "systemNotifications",
    "spelEvaluator",
    "templateVariables",
];

/// Properties Orca's `StageExecution` has.
const STAGE_PROPERTIES: [&str; 20] = [
    "id",
    "refId",
    "type",
    "name",
    "execution",
    "startTime",
    "endTime",
    "startTimeExpiry",
    "status",
    "context",
    "outputs",
    "tasks",
    "syntheticStageOwner",
    "parentStageId",
    "requisiteStageRefIds",
    "scheduledTime",
    "lastModified",
    "hasSucceeded",
    "hasFailed",
    "parent",
];

/// kork's `FilteredPropertyAccessor` throws `IllegalArgumentException` for unknown
/// properties, which is what Orca's summary then reports.
fn not_found_on(name: &str, target: &Val<'_>) -> ExpressionError {
    ExpressionError::new(
        ErrorKind::IllegalArgument,
        format!(
            "EL1008E: Property or field '{name}' cannot be found on object of type '{}' - maybe not public or not visible?",
            target.type_name()
        ),
    )
}

impl<'c, 'a> Evaluator<'c, 'a> {
    pub fn new(ctx: &'c EvaluationContext<'a>) -> Self {
        Evaluator {
            ctx,
            steps: Cell::new(0),
        }
    }

    pub fn evaluate(&self, expr: &Expr) -> Result<Val<'a>> {
        self.eval(expr, &Val::Root)
    }

    /// Charges one unit of the evaluation budget.
    pub fn tick(&self) -> Result<()> {
        let used = self.steps.get() + 1;
        self.steps.set(used);
        if used > MAX_EVALUATION_STEPS {
            Err(ExpressionError::eval(format!(
                "Expression evaluation exceeded the limit of {MAX_EVALUATION_STEPS} steps"
            )))
        } else {
            Ok(())
        }
    }

    fn eval(&self, expr: &Expr, this: &Val<'a>) -> Result<Val<'a>> {
        self.tick()?;
        match expr {
            Expr::Literal(literal) => Ok(match literal {
                Literal::Null => Val::Null,
                Literal::Bool(b) => Val::Bool(*b),
                Literal::Int(v) => Val::Int(*v),
                Literal::Long(v) => Val::Long(*v),
                Literal::Float(v) => Val::Float(*v),
                Literal::Double(v) => Val::Double(*v),
                Literal::Str(s) => Val::Str(s.clone()),
            }),
            Expr::InlineList(items) => {
                let values = items
                    .iter()
                    .map(|item| self.eval(item, this))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Val::list(values))
            }
            Expr::InlineMap(entries) => {
                let mut map: Vec<(Rc<str>, Val<'a>)> = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let key: Rc<str> = match key {
                        MapKey::Name(name) => Rc::from(name.as_str()),
                        MapKey::Expr(expr) => {
                            Rc::from(ops::to_java_string(&self.eval(expr, this)?))
                        }
                    };
                    let value = self.eval(value, this)?;
                    match map.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = value,
                        None => map.push((key, value)),
                    }
                }
                Ok(Val::Map(Rc::new(map)))
            }
            Expr::Property(name) => {
                if matches!(this, Val::Root)
                    && name == "deployedServerGroups"
                    && self.ctx.execution.is_some()
                {
                    // Orca rewrites the legacy variable to `#deployedServerGroups()`.
                    return crate::functions::call_function(self, "deployedServerGroups", &[]);
                }
                self.property(this, name, false)
            }
            Expr::MethodCall { name, args } => {
                let args = self.eval_args(args, this)?;
                self.method(this, name, &args, false)
            }
            Expr::Variable(name) => Ok(match name.as_str() {
                "this" => this.clone(),
                "root" => Val::Root,
                _ => Val::Null,
            }),
            Expr::FunctionCall { name, args } => {
                let args = self.eval_args(args, this)?;
                crate::functions::call_function(self, name, &args)
            }
            Expr::TypeReference(name) => Ok(Val::Type(JavaType::resolve(name)?)),
            Expr::BeanReference(name) => Err(ExpressionError::eval(format!(
                "EL1057E: No bean resolver registered in the context to resolve access to bean '{name}'"
            ))),
            Expr::Constructor { type_name, args } => {
                // Resolve first so refused types fail before their arguments run.
                JavaType::resolve(type_name)?;
                let args = self.eval_args(args, this)?;
                javatypes::construct(type_name, &args, self.ctx.now())
            }
            Expr::Navigate { target, steps } => {
                let mut current = self.eval(target, this)?;
                for step in steps {
                    self.tick()?;
                    current = self.step(current, step, this)?;
                }
                Ok(current)
            }
            Expr::Unary { op, operand } => {
                let value = self.eval(operand, this)?;
                match op {
                    UnaryOp::Not => Ok(Val::Bool(!ops::to_boolean(&value, "'!'")?)),
                    UnaryOp::Minus => ops::negate(&value),
                    UnaryOp::Plus if value.is_number() => Ok(value),
                    UnaryOp::Plus => Err(ExpressionError::eval(format!(
                        "EL1030E: The operator 'ADD' is not supported for an operand of type '{}'",
                        value.type_name()
                    ))),
                }
            }
            Expr::Fold { first, rest } => {
                let mut value = self.eval(first, this)?;
                for (op, operand) in rest {
                    let right = self.eval(operand, this)?;
                    value = ops::arithmetic(*op, &value, &right)?;
                }
                Ok(value)
            }
            Expr::Logical { op, operands } => {
                let role = match op {
                    LogicalOp::And => "'and'",
                    LogicalOp::Or => "'or'",
                };
                for operand in operands {
                    let value = ops::to_boolean(&self.eval(operand, this)?, role)?;
                    match (op, value) {
                        (LogicalOp::And, false) => return Ok(Val::Bool(false)),
                        (LogicalOp::Or, true) => return Ok(Val::Bool(true)),
                        _ => {}
                    }
                }
                Ok(Val::Bool(*op == LogicalOp::And))
            }
            Expr::Binary { op, left, right } => self.binary(*op, left, right, this),
            Expr::Ternary {
                condition,
                when_true,
                when_false,
            } => {
                let condition = self.eval(condition, this)?;
                if ops::to_boolean(&condition, "the ternary condition")? {
                    self.eval(when_true, this)
                } else {
                    self.eval(when_false, this)
                }
            }
            Expr::Elvis { value, fallback } => {
                let value = self.eval(value, this)?;
                let is_empty = match &value {
                    Val::Null => true,
                    Val::Str(s) => s.is_empty(),
                    _ => false,
                };
                if is_empty {
                    self.eval(fallback, this)
                } else {
                    Ok(value)
                }
            }
        }
    }

    fn eval_args(&self, args: &[Expr], scope: &Val<'a>) -> Result<Vec<Val<'a>>> {
        args.iter().map(|arg| self.eval(arg, scope)).collect()
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr, this: &Val<'a>) -> Result<Val<'a>> {
        let left_value = self.eval(left, this)?;
        if op == BinaryOp::InstanceOf {
            let right_value = self.eval(right, this)?;
            let Val::Type(ty) = right_value else {
                return Err(ExpressionError::eval(
                    "EL1064E: Right operand for the 'instanceof' operator must be a class, not a null",
                ));
            };
            return Ok(Val::Bool(left_value.type_name() == ty.class_name()));
        }
        let right_value = self.eval(right, this)?;
        use std::cmp::Ordering::*;
        let result = match op {
            BinaryOp::Equal => ops::equals(&left_value, &right_value),
            BinaryOp::NotEqual => !ops::equals(&left_value, &right_value),
            BinaryOp::Less => ops::compare(&left_value, &right_value)? == Less,
            BinaryOp::LessEqual => ops::compare(&left_value, &right_value)? != Greater,
            BinaryOp::Greater => ops::compare(&left_value, &right_value)? == Greater,
            BinaryOp::GreaterEqual => ops::compare(&left_value, &right_value)? != Less,
            BinaryOp::Matches => {
                let Val::Str(text) = &left_value else {
                    return Err(ExpressionError::eval(format!(
                        "EL1039E: Cannot perform match on type '{}': the left operand of 'matches' must be a String",
                        left_value.type_name()
                    )));
                };
                let Val::Str(pattern) = &right_value else {
                    return Err(ExpressionError::eval(format!(
                        "EL1040E: The right operand of 'matches' must be a String regular expression, not '{}'",
                        right_value.type_name()
                    )));
                };
                crate::regex_support::full_match(pattern, text)?
            }
            BinaryOp::Between => {
                let bounds = right_value.list_items().filter(|b| b.len() == 2).ok_or_else(|| {
                    ExpressionError::eval(
                        "EL1038E: Right operand for the 'between' operator has to be a two-element list",
                    )
                })?;
                ops::compare(&left_value, &bounds[0])? != Less
                    && ops::compare(&left_value, &bounds[1])? != Greater
            }
            BinaryOp::Power => return ops::power(&left_value, &right_value),
            BinaryOp::InstanceOf => unreachable!("handled above"),
        };
        Ok(Val::Bool(result))
    }

    fn step(&self, current: Val<'a>, step: &Step, scope: &Val<'a>) -> Result<Val<'a>> {
        match step {
            Step::Property { name, null_safe } => self.property(&current, name, *null_safe),
            Step::Method {
                name,
                args,
                null_safe,
            } => {
                if current.is_null() && *null_safe {
                    return Ok(Val::Null);
                }
                let args = self.eval_args(args, scope)?;
                self.method(&current, name, &args, *null_safe)
            }
            Step::Index { index, null_safe } => self.index(current, index, *null_safe),
            Step::Select {
                kind,
                condition,
                null_safe,
            } => self.select(current, *kind, condition, *null_safe),
            Step::Project {
                expression,
                null_safe,
            } => self.project(current, expression, *null_safe),
        }
    }

    pub fn property(&self, target: &Val<'a>, name: &str, null_safe: bool) -> Result<Val<'a>> {
        match target {
            Val::Null if null_safe => Ok(Val::Null),
            Val::Null => Err(ExpressionError::eval(format!(
                "EL1007E: Property or field '{name}' cannot be found on null"
            ))),
            Val::Root => self.ctx.root_property(name),
            Val::StageContext(stage) => match self.ctx.stage_context_get(stage, name) {
                Some(value) => Ok(value),
                None => self.unknown_key(name, target),
            },
            Val::Json(Value::Object(_)) | Val::Map(_) => match target.own_entry(name) {
                Some(Some(value)) => Ok(value),
                _ => self.unknown_key(name, target),
            },
            Val::Execution(execution) => self.execution_property(execution, name, target),
            Val::Stage(stage) => self.stage_property(stage, name, target),
            Val::Type(ty) => javatypes::static_field(*ty, name),
            Val::Str(s) if name == "empty" => Ok(Val::Bool(s.is_empty())),
            Val::Str(s) if name == "blank" => Ok(Val::Bool(s.trim().is_empty())),
            Val::Json(Value::Array(_)) | Val::List(_) if name == "empty" => {
                Ok(Val::Bool(target.list_len() == Some(0)))
            }
            // `split()` gives a Java array in Orca, whose size is the `length` property.
            Val::Json(Value::Array(_)) | Val::List(_) if name == "length" => {
                Ok(Val::Int(target.list_len().unwrap_or(0) as i32))
            }
            Val::Date(ms) if name == "time" => Ok(Val::Long(*ms)),
            Val::Instant(ms) if name == "epochSecond" => Ok(Val::Long(ms.div_euclid(1000))),
            _ => Err(not_found_on(name, target)),
        }
    }

    fn unknown_key(&self, name: &str, target: &Val<'a>) -> Result<Val<'a>> {
        if self.ctx.allow_unknown_keys {
            Ok(Val::Null)
        } else {
            Err(not_found_on(name, target))
        }
    }

    fn execution_property(
        &self,
        execution: &'a Value,
        name: &str,
        target: &Val<'a>,
    ) -> Result<Val<'a>> {
        match name {
            "stages" => Ok(Val::list(
                self.ctx.stages().iter().map(Val::Stage).collect(),
            )),
            "context" => Ok(Val::Map(Rc::new(merged_outputs(self.ctx.stages())))),
            _ => match execution.get(name) {
                Some(value) => Ok(Val::from_json(value)),
                None if EXECUTION_PROPERTIES.contains(&name) => Ok(Val::Null),
                None => Err(not_found_on(name, target)),
            },
        }
    }

    fn stage_property(&self, stage: &'a Value, name: &str, target: &Val<'a>) -> Result<Val<'a>> {
        let status = stage.get("status").and_then(Value::as_str);
        match name {
            "context" => Ok(Val::StageContext(stage)),
            "hasSucceeded" => Ok(Val::Bool(status == Some("SUCCEEDED"))),
            "hasFailed" => Ok(Val::Bool(status == Some("TERMINAL"))),
            "execution" => Ok(self.ctx.execution.map(Val::Execution).unwrap_or(Val::Null)),
            "parent" => Ok(stage
                .get("parentStageId")
                .and_then(Value::as_str)
                .and_then(|id| {
                    self.ctx
                        .execution
                        .and_then(|e| crate::context::find_stage_by_id(e, id))
                })
                .map(Val::Stage)
                .unwrap_or(Val::Null)),
            "outputs" => Ok(stage
                .get("outputs")
                .map(Val::from_json)
                .unwrap_or(Val::Map(Rc::new(Vec::new())))),
            _ => match stage.get(name) {
                Some(value) => Ok(Val::from_json(value)),
                None if STAGE_PROPERTIES.contains(&name) => Ok(Val::Null),
                None => Err(not_found_on(name, target)),
            },
        }
    }

    fn index(&self, target: Val<'a>, index: &Expr, null_safe: bool) -> Result<Val<'a>> {
        if target.is_null() {
            return if null_safe {
                Ok(Val::Null)
            } else {
                Err(ExpressionError::eval(
                    "EL1012E: Cannot index into a null value",
                ))
            };
        }
        let is_map_like = target.is_map() || matches!(target, Val::Root);
        // `map[name]` means the key "name" (Spring avoids a double dereference).
        let key = match (is_map_like, index) {
            (true, Expr::Property(name)) => Val::str(name),
            _ => self.eval(index, &Val::Root)?,
        };
        match &target {
            Val::Root => Ok(match &key {
                Val::Str(name) => self.ctx.root_property(name).unwrap_or(Val::Null),
                _ => Val::Null,
            }),
            Val::StageContext(stage) => Ok(match &key {
                Val::Str(name) => self.ctx.stage_context_get(stage, name).unwrap_or(Val::Null),
                _ => Val::Null,
            }),
            Val::Json(Value::Object(_)) | Val::Map(_) => Ok(match &key {
                Val::Str(name) => target.own_entry(name).flatten().unwrap_or(Val::Null),
                _ => Val::Null,
            }),
            Val::Json(Value::Array(_)) | Val::List(_) => {
                let len = target.list_len().unwrap_or(0);
                let position = index_number(&key)?;
                usize::try_from(position)
                    .ok()
                    .and_then(|p| target.list_get(p))
                    .ok_or_else(|| {
                        ExpressionError::eval(format!(
                            "EL1025E: The collection has '{len}' elements, index '{position}' is invalid"
                        ))
                    })
            }
            Val::Str(text) => {
                let position = index_number(&key)?;
                usize::try_from(position)
                    .ok()
                    .and_then(|p| text.chars().nth(p))
                    .map(|c| Val::str(c.to_string()))
                    .ok_or_else(|| {
                        ExpressionError::eval(format!(
                            "EL1026E: The string has '{}' characters, index '{position}' is invalid",
                            text.chars().count()
                        ))
                    })
            }
            Val::Stage(_) | Val::Execution(_) | Val::Type(_) => match &key {
                Val::Str(name) => self.property(&target, name, false),
                _ => Err(ExpressionError::eval(format!(
                    "EL1027E: Indexing into type '{}' is not supported",
                    target.type_name()
                ))),
            },
            _ => Err(ExpressionError::eval(format!(
                "EL1027E: Indexing into type '{}' is not supported",
                target.type_name()
            ))),
        }
    }

    /// Elements (or map entries as `{key, value}`) a selection or projection iterates.
    fn elements(&self, target: &Val<'a>) -> Option<(Vec<Val<'a>>, bool)> {
        if let Some(items) = target.list_items() {
            return Some((items, false));
        }
        let entries = target.map_entries()?;
        Some((
            entries
                .into_iter()
                .map(|(key, value)| {
                    Val::Map(Rc::new(vec![
                        (Rc::from("key"), Val::str(key.as_ref())),
                        (Rc::from("value"), value),
                    ]))
                })
                .collect(),
            true,
        ))
    }

    fn select(
        &self,
        target: Val<'a>,
        kind: SelectionKind,
        condition: &Expr,
        null_safe: bool,
    ) -> Result<Val<'a>> {
        if target.is_null() && null_safe {
            return Ok(Val::Null);
        }
        let Some((elements, is_map)) = self.elements(&target) else {
            return Err(ExpressionError::eval(format!(
                "EL1015E: Cannot perform selection on input data of type '{}'",
                target.type_name()
            )));
        };
        let mut selected = Vec::new();
        let iterate: Box<dyn Iterator<Item = Val<'a>>> = if kind == SelectionKind::Last {
            Box::new(elements.into_iter().rev())
        } else {
            Box::new(elements.into_iter())
        };
        for element in iterate {
            match self.eval(condition, &element)? {
                Val::Bool(true) => {
                    selected.push(element);
                    if kind != SelectionKind::All {
                        break;
                    }
                }
                Val::Bool(false) => {}
                _ => {
                    return Err(ExpressionError::eval(
                        "EL1016E: Result of selection criteria is not boolean",
                    ));
                }
            }
        }
        if is_map {
            let entries: Vec<(Rc<str>, Val<'a>)> = selected
                .iter()
                .map(|entry| {
                    let key = entry.own_entry("key").flatten().unwrap_or(Val::Null);
                    let value = entry.own_entry("value").flatten().unwrap_or(Val::Null);
                    (Rc::from(ops::to_java_string(&key)), value)
                })
                .collect();
            if kind != SelectionKind::All && entries.is_empty() {
                return Ok(Val::Null);
            }
            return Ok(Val::Map(Rc::new(entries)));
        }
        Ok(match kind {
            SelectionKind::All => Val::list(selected),
            _ => selected.pop().unwrap_or(Val::Null),
        })
    }

    fn project(&self, target: Val<'a>, expression: &Expr, null_safe: bool) -> Result<Val<'a>> {
        if target.is_null() && null_safe {
            return Ok(Val::Null);
        }
        let Some((elements, _)) = self.elements(&target) else {
            return Err(ExpressionError::eval(format!(
                "EL1014E: Projection is not supported on the type '{}'",
                target.type_name()
            )));
        };
        let values = elements
            .iter()
            .map(|element| self.eval(expression, element))
            .collect::<Result<Vec<_>>>()?;
        Ok(Val::list(values))
    }

    fn method(
        &self,
        target: &Val<'a>,
        name: &str,
        args: &[Val<'a>],
        null_safe: bool,
    ) -> Result<Val<'a>> {
        if target.is_null() {
            return if null_safe {
                Ok(Val::Null)
            } else {
                Err(ExpressionError::eval(format!(
                    "EL1011E: Method call: Attempted to call method {name}() on null context object"
                )))
            };
        }
        crate::methods::call_method(self, target, name, args)
    }
}

fn index_number(key: &Val<'_>) -> Result<i64> {
    match key {
        Val::Int(v) => Ok(*v as i64),
        Val::Long(v) => Ok(*v),
        Val::Str(s) => s.trim().parse::<i64>().map_err(|_| {
            ExpressionError::eval(format!(
                "EL1001E: Type conversion problem, cannot convert from java.lang.String ('{s}') to java.lang.Integer"
            ))
        }),
        other => Err(ExpressionError::eval(format!(
            "EL1001E: Type conversion problem, cannot convert from {} to java.lang.Integer",
            other.type_name()
        ))),
    }
}

/// `execution.context`: every stage's outputs merged in stage order, collections concatenated
/// without duplicates, other values last-wins (Orca's `PipelineExecutionImpl.getContext`).
fn merged_outputs<'a>(stages: &'a [Value]) -> Vec<(Rc<str>, Val<'a>)> {
    let mut merged: Vec<(Rc<str>, Val<'a>)> = Vec::new();
    for outputs in stages
        .iter()
        .filter_map(|s| s.get("outputs").and_then(Value::as_object))
    {
        for (key, value) in outputs {
            let incoming = Val::from_json(value);
            match merged.iter_mut().find(|(k, _)| k.as_ref() == key) {
                Some(entry) => {
                    entry.1 = match (entry.1.list_items(), incoming.list_items()) {
                        (Some(mut existing), Some(more)) => {
                            for item in more {
                                if !existing.iter().any(|e| ops::java_equals(e, &item)) {
                                    existing.push(item);
                                }
                            }
                            Val::list(existing)
                        }
                        _ => incoming,
                    }
                }
                None => merged.push((Rc::from(key.as_str()), incoming)),
            }
        }
    }
    merged
}

/// The JSON form of a value (what lands in a stage context).
pub fn to_json(value: &Val<'_>, ctx: &EvaluationContext<'_>) -> Value {
    match value {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Int(v) => Value::from(*v),
        Val::Long(v) => Value::from(*v),
        // Through Java's text so 0.1f stays 0.1 rather than 0.10000000149011612.
        Val::Float(v) => java_float_to_string(*v)
            .parse::<f64>()
            .map(double_to_json)
            .unwrap_or(Value::Null),
        Val::Double(v) => double_to_json(*v),
        Val::Str(s) => Value::String(s.to_string()),
        Val::Json(json) | Val::Execution(json) | Val::Stage(json) => (*json).clone(),
        Val::StageContext(stage) => stage
            .get("context")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        Val::List(items) => Value::Array(items.iter().map(|item| to_json(item, ctx)).collect()),
        Val::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v, ctx)))
                .collect(),
        ),
        Val::Root => ctx.root_as_json(),
        Val::Type(ty) => Value::String(ty.class_name().to_string()),
        Val::Date(ms) => Value::from(*ms),
        other => Value::String(java_time::temporal_to_string(other).unwrap_or_default()),
    }
}
