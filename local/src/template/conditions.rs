//! The template's `Conditions`: `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` and
//! `Condition` over parameters and literals, as CloudFormation evaluates them.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

use super::parse::{scalar_text, single_entry};

/// Conditions may refer to each other; deeper than this is a cycle.
const MAX_DEPTH: usize = 16;

pub(super) fn holds(
    definition: &Json,
    conditions: &Map<String, Json>,
    parameters: &BTreeMap<String, String>,
) -> anyhow::Result<bool> {
    Evaluation {
        conditions,
        parameters,
    }
    .holds(definition, 0)
}

struct Evaluation<'a> {
    conditions: &'a Map<String, Json>,
    parameters: &'a BTreeMap<String, String>,
}

impl Evaluation<'_> {
    fn holds(&self, definition: &Json, depth: usize) -> anyhow::Result<bool> {
        if depth > MAX_DEPTH {
            bail!("conditions refer to each other in a cycle");
        }
        let Some((function, argument)) = definition.as_object().and_then(single_entry) else {
            bail!("a condition must be one condition function, not {definition}");
        };
        let operands = || -> anyhow::Result<&Vec<Json>> {
            argument
                .as_array()
                .with_context(|| format!("{function} takes a list, not {argument}"))
        };
        match function {
            "Fn::Equals" => match operands()?.as_slice() {
                [left, right] => Ok(self.value(left)? == self.value(right)?),
                _ => bail!("Fn::Equals takes two values"),
            },
            "Fn::Not" => match operands()?.as_slice() {
                [inner] => Ok(!self.holds(inner, depth + 1)?),
                _ => bail!("Fn::Not takes one condition"),
            },
            "Fn::And" => self
                .all(operands()?, depth)
                .map(|all| all.iter().all(|b| *b)),
            "Fn::Or" => self
                .all(operands()?, depth)
                .map(|all| all.iter().any(|b| *b)),
            "Condition" => {
                let name = argument.as_str().context("Condition takes a name")?;
                let definition = self
                    .conditions
                    .get(name)
                    .with_context(|| format!("no condition {name}"))?;
                self.holds(definition, depth + 1)
            }
            other => bail!("local mode does not support the condition function {other}"),
        }
    }

    fn all(&self, definitions: &[Json], depth: usize) -> anyhow::Result<Vec<bool>> {
        definitions
            .iter()
            .map(|definition| self.holds(definition, depth + 1))
            .collect()
    }

    /// A literal, or `Ref` to a parameter.
    fn value(&self, operand: &Json) -> anyhow::Result<String> {
        match operand.get("Ref").and_then(Json::as_str) {
            Some(name) => self
                .parameters
                .get(name)
                .cloned()
                .with_context(|| format!("a condition refers to {name}, which is no parameter")),
            None => scalar_text(operand),
        }
    }
}
