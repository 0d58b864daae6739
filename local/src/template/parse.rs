//! Reading `template.yaml`: YAML to JSON with the short-form tags in long form, the
//! parameters, globals and resources, and the names intrinsic functions refer to.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

use super::{CREATED_IN_EMULATOR, OPERATIONS_ONLY, PLAYED_LOCALLY, Resource};

/// A type local mode creates, plays itself or knowingly passes over.
pub(super) fn is_supported(resource_type: &str) -> bool {
    CREATED_IN_EMULATOR.contains(&resource_type)
        || PLAYED_LOCALLY.contains(&resource_type)
        || OPERATIONS_ONLY.contains(&resource_type)
}

/// Converts YAML to JSON, turning CloudFormation's short-form tags (`!Ref X`, `!GetAtt X.Y`,
/// `!Sub ..`) into their long form (`{"Ref": "X"}`, `{"Fn::GetAtt": "X.Y"}`, ..).
pub(super) fn yaml_to_json(value: serde_yaml::Value) -> anyhow::Result<Json> {
    use serde_yaml::Value as Yaml;
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n)?,
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.insert(scalar_text(&yaml_to_json(key)?)?, yaml_to_json(value)?);
            }
            Json::Object(map)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_string(),
                _ => format!("Fn::{name}"),
            };
            Json::Object(Map::from_iter([(key, yaml_to_json(tagged.value)?)]))
        }
    })
}

pub(super) fn parameter_defaults(
    parameters: Option<&Json>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut defaults = BTreeMap::new();
    for (name, parameter) in as_object(parameters, "Parameters")? {
        let default = parameter.get("Default").with_context(|| {
            format!("parameter {name} has no Default; local mode deploys with the defaults")
        })?;
        defaults.insert(
            name.clone(),
            scalar_text(default).with_context(|| format!("parameter {name}"))?,
        );
    }
    Ok(defaults)
}

pub(super) fn function_globals(globals: Option<&Json>) -> anyhow::Result<Map<String, Json>> {
    let globals = as_object(globals, "Globals")?;
    for section in globals.keys() {
        // Globals of resources local mode plays itself do not matter here.
        if !["Function", "HttpApi", "Api"].contains(&section.as_str()) {
            bail!("local mode does not support Globals.{section}");
        }
    }
    Ok(as_object(globals.get("Function"), "Globals.Function")?.clone())
}

pub(super) fn parse_resources(
    resources: Option<&Json>,
) -> anyhow::Result<BTreeMap<String, Resource>> {
    let mut parsed = BTreeMap::new();
    for (id, resource) in as_object(resources, "Resources")? {
        let resource_type = resource
            .get("Type")
            .and_then(Json::as_str)
            .with_context(|| format!("resource {id} has no Type"))?;
        let condition = match resource.get("Condition") {
            None => None,
            Some(Json::String(name)) => Some(name.clone()),
            Some(other) => bail!("resource {id}: Condition must be a name, not {other}"),
        };
        // A conditional resource's type is checked only if its condition holds.
        if condition.is_none() && !is_supported(resource_type) {
            bail!("resource {id}: local mode does not support the type {resource_type}");
        }
        let depends_on = match resource.get("DependsOn") {
            None => vec![],
            Some(Json::String(name)) => vec![name.clone()],
            Some(Json::Array(names)) => names.iter().map(scalar_text).collect::<Result<_, _>>()?,
            Some(other) => bail!("resource {id}: DependsOn must be a name or a list, not {other}"),
        };
        let properties = resource
            .get("Properties")
            .cloned()
            .unwrap_or_else(|| Json::Object(Map::new()));
        parsed.insert(
            id.clone(),
            Resource {
                resource_type: resource_type.to_string(),
                condition,
                properties,
                depends_on,
            },
        );
    }
    Ok(parsed)
}

/// The object at `value` (absent = empty).
pub(super) fn as_object<'a>(
    value: Option<&'a Json>,
    what: &str,
) -> anyhow::Result<&'a Map<String, Json>> {
    static EMPTY: std::sync::OnceLock<Map<String, Json>> = std::sync::OnceLock::new();
    match value {
        None | Some(Json::Null) => Ok(EMPTY.get_or_init(Map::new)),
        Some(Json::Object(map)) => Ok(map),
        Some(other) => bail!("{what} must be a mapping, not {other}"),
    }
}

/// Text of a scalar as CloudFormation passes it on: numbers and booleans become strings.
pub(super) fn scalar_text(value: &Json) -> anyhow::Result<String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => bail!("expected a string, number or boolean, found {other}"),
    }
}

/// Names referred to by `Ref`, `Fn::GetAtt` and `Fn::Sub` placeholders anywhere in `value`.
pub(super) fn collect_references(value: &Json, names: &mut BTreeSet<String>) {
    match value {
        Json::Object(map) => {
            if let Some((key, argument)) = single_entry(map) {
                match (key, argument) {
                    ("Ref", Json::String(name)) => {
                        names.insert(name.clone());
                    }
                    ("Fn::GetAtt", Json::String(path)) => {
                        names.insert(path.split('.').next().unwrap_or_default().to_string());
                    }
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        names.extend(parts.first().and_then(Json::as_str).map(str::to_string));
                    }
                    ("Fn::Sub", Json::String(text)) => names.extend(sub_references(text)),
                    ("Fn::Sub", Json::Array(parts)) => {
                        let variables = parts.get(1).and_then(Json::as_object);
                        if let Some(text) = parts.first().and_then(Json::as_str) {
                            let is_variable =
                                |name: &String| variables.is_some_and(|v| v.contains_key(name));
                            names.extend(
                                sub_references(text).into_iter().filter(|n| !is_variable(n)),
                            );
                        }
                        variables
                            .into_iter()
                            .flat_map(Map::values)
                            .for_each(|v| collect_references(v, names));
                    }
                    _ => map.values().for_each(|v| collect_references(v, names)),
                }
                return;
            }
            map.values().for_each(|v| collect_references(v, names));
        }
        Json::Array(items) => items.iter().for_each(|v| collect_references(v, names)),
        _ => {}
    }
}

pub(super) fn sub_references(text: &str) -> Vec<String> {
    split_sub(text)
        .into_iter()
        .filter_map(|part| match part {
            SubPart::Placeholder(name) => {
                Some(name.split('.').next().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn single_entry(map: &Map<String, Json>) -> Option<(&str, &Json)> {
    match map.len() {
        1 => map.iter().next().map(|(k, v)| (k.as_str(), v)),
        _ => None,
    }
}

/// Pieces of an `Fn::Sub` string.
#[derive(Debug, PartialEq)]
pub(super) enum SubPart<'a> {
    Text(&'a str),
    /// `${!Literal}`, which renders as `${Literal}`.
    Escaped(&'a str),
    /// `${Name}` or `${Resource.Attribute}`.
    Placeholder(&'a str),
}

pub(super) fn split_sub(text: &str) -> Vec<SubPart<'_>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        parts.push(SubPart::Text(&rest[..start]));
        let inner = &rest[start + 2..start + length];
        parts.push(match inner.strip_prefix('!') {
            Some(literal) => SubPart::Escaped(literal),
            None => SubPart::Placeholder(inner.trim()),
        });
        rest = &rest[start + length + 1..];
    }
    parts.push(SubPart::Text(rest));
    parts
}
