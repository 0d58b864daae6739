//! Intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, ...) evaluated against
//! the parameters and the resources deployed so far.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

use super::DeployedResource;
use super::parse::{SubPart, as_object, scalar_text, single_entry, split_sub};

/// What intrinsic functions can see: pseudo parameters, parameters and deployed resources.
pub(super) struct Scope<'a> {
    pub(super) names: BTreeMap<String, String>,
    pub(super) resources: &'a BTreeMap<String, DeployedResource>,
}

impl Scope<'_> {
    /// `value` with every intrinsic function replaced by its result.
    pub(super) fn resolve(&self, value: &Json) -> anyhow::Result<Json> {
        match value {
            Json::Object(map) => match single_entry(map) {
                Some((name, argument)) if name == "Ref" || name.starts_with("Fn::") => self
                    .intrinsic(name, argument)
                    .with_context(|| format!("resolving {value}")),
                _ => map
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), self.resolve(value)?)))
                    .collect::<anyhow::Result<Map<_, _>>>()
                    .map(Json::Object),
            },
            Json::Array(items) => items
                .iter()
                .map(|item| self.resolve(item))
                .collect::<anyhow::Result<_>>()
                .map(Json::Array),
            scalar => Ok(scalar.clone()),
        }
    }

    pub(super) fn resolve_text(&self, value: &Json) -> anyhow::Result<String> {
        scalar_text(&self.resolve(value)?)
    }

    pub(super) fn intrinsic(&self, name: &str, argument: &Json) -> anyhow::Result<Json> {
        let text = match (name, argument) {
            ("Ref", Json::String(target)) => self.reference(target)?,
            ("Fn::GetAtt", Json::String(path)) => {
                let (id, attribute) = path
                    .split_once('.')
                    .with_context(|| format!("GetAtt {path} names no attribute"))?;
                self.attribute(id, attribute)?
            }
            ("Fn::GetAtt", Json::Array(parts)) if parts.len() == 2 => {
                self.attribute(&scalar_text(&parts[0])?, &self.resolve_text(&parts[1])?)?
            }
            ("Fn::Sub", Json::String(text)) => self.substitute(text, &BTreeMap::new())?,
            ("Fn::Sub", Json::Array(parts)) if parts.len() == 2 => {
                let variables = as_object(Some(&parts[1]), "the variables of Fn::Sub")?
                    .iter()
                    .map(|(name, value)| Ok((name.clone(), self.resolve_text(value)?)))
                    .collect::<anyhow::Result<_>>()?;
                self.substitute(&scalar_text(&parts[0])?, &variables)?
            }
            ("Fn::Join", Json::Array(parts)) if parts.len() == 2 => {
                let items = self.resolve_list(&parts[1])?;
                items
                    .iter()
                    .map(scalar_text)
                    .collect::<anyhow::Result<Vec<_>>>()?
                    .join(&scalar_text(&parts[0])?)
            }
            ("Fn::Select", Json::Array(parts)) if parts.len() == 2 => {
                let index: usize = self
                    .resolve_text(&parts[0])?
                    .parse()
                    .context("Fn::Select needs a numeric index")?;
                let items = self.resolve_list(&parts[1])?;
                return items
                    .get(index)
                    .cloned()
                    .with_context(|| format!("Fn::Select: no item {index} in {items:?}"));
            }
            ("Fn::Split", Json::Array(parts)) if parts.len() == 2 => {
                let delimiter = scalar_text(&parts[0])?;
                let text = self.resolve_text(&parts[1])?;
                return Ok(Json::Array(
                    text.split(delimiter.as_str())
                        .map(|s| Json::String(s.to_string()))
                        .collect(),
                ));
            }
            _ => bail!(
                "local mode does not support the intrinsic function {name} with argument {argument}"
            ),
        };
        Ok(Json::String(text))
    }

    pub(super) fn resolve_list(&self, value: &Json) -> anyhow::Result<Vec<Json>> {
        match self.resolve(value)? {
            Json::Array(items) => Ok(items),
            other => bail!("expected a list, found {other}"),
        }
    }

    /// `Ref`: a parameter, a pseudo parameter or a deployed resource.
    pub(super) fn reference(&self, name: &str) -> anyhow::Result<String> {
        if let Some(value) = self.names.get(name) {
            return Ok(value.clone());
        }
        match self.resources.get(name) {
            Some(resource) => Ok(resource.ref_value.clone()),
            None => bail!(
                "Ref {name}: not a parameter, a supported pseudo parameter or a resource created in the emulator"
            ),
        }
    }

    pub(super) fn attribute(&self, id: &str, attribute: &str) -> anyhow::Result<String> {
        let resource = self.resources.get(id).with_context(|| {
            format!("GetAtt {id}.{attribute}: {id} is not a resource created in the emulator")
        })?;
        resource
            .attributes
            .get(attribute)
            .cloned()
            .with_context(|| {
                let known: Vec<_> = resource.attributes.keys().collect();
                format!("GetAtt {id}.{attribute}: {id} has only the attributes {known:?}")
            })
    }

    pub(super) fn substitute(
        &self,
        text: &str,
        variables: &BTreeMap<String, String>,
    ) -> anyhow::Result<String> {
        let mut out = String::new();
        for part in split_sub(text) {
            match part {
                SubPart::Text(text) => out.push_str(text),
                SubPart::Escaped(literal) => out.push_str(&format!("${{{literal}}}")),
                SubPart::Placeholder(name) => match (variables.get(name), name.split_once('.')) {
                    (Some(value), _) => out.push_str(value),
                    (None, Some((id, attribute))) => out.push_str(&self.attribute(id, attribute)?),
                    (None, None) => out.push_str(&self.reference(name)?),
                },
            }
        }
        Ok(out)
    }
}
