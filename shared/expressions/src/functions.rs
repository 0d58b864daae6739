//! Helper functions (`#name(…)`) of Orca's expression function providers.
//!
//! Functions that take the execution in Orca (`#stage`, `#judgment`, ...) get it implicitly;
//! an explicit leading `#root.execution` argument is accepted and ignored. String parameters
//! accept any value and use its string form, as Spring's argument conversion does.

use std::rc::Rc;

use base64::Engine;
use serde_json::Value;

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::eval::{Evaluator, to_json};
use crate::limits::MAX_VALUE_DEPTH;
use crate::ops::convert_to_string;
use crate::url_policy::FetchRequest;
use crate::value::Val;

/// Helper functions, with parameters (excluding the implicit execution) and descriptions, as
/// `GET /capabilities/expressions` lists them.
pub(crate) struct FunctionDefinition {
    pub name: &'static str,
    pub description: &'static str,
    /// (type, name, description)
    pub parameters: &'static [(&'static str, &'static str, &'static str)],
    /// Orca passes the execution as a hidden first parameter to these.
    pub takes_execution: bool,
}

const STAGE_PARAM: (&str, &str, &str) =
    ("String", "idOrName", "The name or id of the stage to find");

pub(crate) const FUNCTIONS: &[FunctionDefinition] = &[
    FunctionDefinition {
        name: "triggerResolvedArtifact",
        description: "Looks up a resolved artifact in the current execution trigger given its name. If multiple artifacts are found, only 1 will be returned.",
        parameters: &[("String", "name", "The name of the resolved artifact")],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "triggerResolvedArtifactByType",
        description: "Looks up a resolved artifact in the current execution trigger given its type. If multiple artifacts are found, only 1 will be returned.",
        parameters: &[("String", "type", "The type of the resolved artifact")],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "resolvedArtifacts",
        description: "Looks up resolved artifacts in the current execution.",
        parameters: &[],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "deployedServerGroups",
        description: "Returns the list of server groups that were deployed in the specified stages",
        parameters: &[(
            "String[]",
            "ids",
            "A list of stage name or stage IDs to search",
        )],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "currentStage",
        description: "Returns the current stage object",
        parameters: &[],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "currentUser",
        description: "Looks up the current authenticated user within the execution context.",
        parameters: &[],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "stageByRefId",
        description: "Locates and returns a stage with the given refId",
        parameters: &[("String", "refId", "A valid stage reference identifier")],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "stage",
        description: "Locates a stage by name",
        parameters: &[STAGE_PARAM],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "stageExists",
        description: "Checks if the stage with the specified name exists in the current execution",
        parameters: &[STAGE_PARAM],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "judgment",
        description: "Returns the judgement made by the user in the given manual judgement stage",
        parameters: &[STAGE_PARAM],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "judgement",
        description: "Returns the judgement made by the user in the given manual judgement stage",
        parameters: &[STAGE_PARAM],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "fromUrl",
        description: "Downloads text from the given URL",
        parameters: &[("String", "url", "A URL to retrieve text from")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "jsonFromUrl",
        description: "Downloads and parses JSON from the given URL",
        parameters: &[("String", "url", "A URL to retrieve a JSON file from")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "yamlFromUrl",
        description: "Downloads and parses YAML from the given URL",
        parameters: &[("String", "url", "A URL to retrieve a YAML file from")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "propertiesFromUrl",
        description: "Downloads and parses Java style properties from the given URL",
        parameters: &[("String", "url", "A URL to retrieve a Properties file from")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "readJson",
        description: "Parses JSON from a string to be accessed, parsed JSON can be accessed as an object",
        parameters: &[("String", "value", "A String containing JSON text")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "readYaml",
        description: "Parses YAML from a string to be accessed, parsed YAML can be accessed as an object",
        parameters: &[("String", "value", "A String containing YAML text")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "readAllYaml",
        description: "Parses multi-doc YAML from a string to be accessed, list of parsed YAML can be accessed as objects",
        parameters: &[("String", "value", "A String containing YAML text")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "pipelineId",
        description: "Lookup pipeline ID given the name of the pipeline in the current application",
        parameters: &[(
            "String",
            "pipelineName",
            "A valid stage reference identifier",
        )],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "pipelineIdOrNull",
        description: "Lookup pipeline ID (or null if not found) given the name of the pipeline in the current application",
        parameters: &[(
            "String",
            "pipelineName",
            "A valid stage reference identifier",
        )],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "pipelineIdInApplication",
        description: "Lookup pipeline ID (or null if not found) given the name of the pipeline and the name of the application",
        parameters: &[
            ("String", "pipelineName", "The name of the pipeline"),
            ("String", "applicationName", "The name of the application"),
        ],
        takes_execution: true,
    },
    FunctionDefinition {
        name: "toJson",
        description: "Converts an object to JSON string",
        parameters: &[("Object", "value", "An Object to marshall to a JSON String")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "toInt",
        description: "Converts a string to integer",
        parameters: &[("String", "value", "A String value to convert to an int")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "toFloat",
        description: "Converts a string to float",
        parameters: &[("String", "value", "A String value to convert to a float")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "toBoolean",
        description: "Converts a string value to boolean",
        parameters: &[("String", "value", "A String value to convert to a boolean")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "toBase64",
        description: "Encodes a string to base64 string",
        parameters: &[("String", "value", "A String value to base64 encode")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "fromBase64",
        description: "Decodes a base64 string",
        parameters: &[("String", "value", "A base64-encoded String value to decode")],
        takes_execution: false,
    },
    FunctionDefinition {
        name: "alphanumerical",
        description: "Removes all non-alphanumeric characters from a string",
        parameters: &[(
            "String",
            "value",
            "A String value to strip of all non-alphanumeric characters",
        )],
        takes_execution: false,
    },
];

/// Calls `#name(args)`.
pub(crate) fn call_function<'a>(
    evaluator: &Evaluator<'_, 'a>,
    name: &str,
    args: &[Val<'a>],
) -> Result<Val<'a>> {
    let Some(definition) = FUNCTIONS.iter().find(|f| f.name == name) else {
        return Err(ExpressionError::eval(format!(
            "EL1006E: Function '{name}' could not be found"
        )));
    };
    let args = match args.first() {
        Some(Val::Execution(_)) if definition.takes_execution => &args[1..],
        _ => args,
    };
    let variadic = definition
        .parameters
        .first()
        .is_some_and(|p| p.0.ends_with("[]"));
    if !variadic && args.len() != definition.parameters.len() {
        return Err(ExpressionError::eval(format!(
            "EL1014E: Incorrect number of arguments for function '{name}': {} supplied but function takes {}",
            args.len(),
            definition.parameters.len()
        )));
    }
    let ctx = evaluator.ctx;
    match name {
        "stage" => {
            let id = string_param(args, 0);
            let execution = ctx.require_execution(name)?;
            find_stage(ctx.stages(), id.as_deref())
                .map(Val::Stage)
                .ok_or_else(|| {
                    let id = id.unwrap_or_else(|| "null".into());
                    ExpressionError::helper(format!(
                        "Unable to locate [{id}] using #stage({id}) in execution {}",
                        execution_id(execution)
                    ))
                })
        }
        "stageExists" => {
            ctx.require_execution(name)?;
            Ok(Val::Bool(
                find_stage(ctx.stages(), string_param(args, 0).as_deref()).is_some(),
            ))
        }
        "stageByRefId" => {
            let execution = ctx.require_execution(name)?;
            let Some(ref_id) = string_param(args, 0) else {
                return Err(ExpressionError::helper(format!(
                    "Stage refId must not be null in #stageByRefId in execution {}",
                    execution_id(execution)
                )));
            };
            ctx.stages()
                .iter()
                .find(|s| s.get("refId").and_then(Value::as_str) == Some(ref_id.as_str()))
                .map(Val::Stage)
                .ok_or_else(|| {
                    ExpressionError::helper(format!(
                        "Unable to locate [{ref_id}] using #stageByRefId({ref_id}) in execution {}",
                        execution_id(execution)
                    ))
                })
        }
        "currentStage" => {
            ctx.require_execution(name)?;
            let Some(id) = ctx.current_stage_id else {
                return Err(ExpressionError::helper(
                    "An execution context is required for this function",
                ));
            };
            ctx.stages()
                .iter()
                .find(|s| {
                    s.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|sid| sid.eq_ignore_ascii_case(id))
                })
                .map(Val::Stage)
                .ok_or_else(|| ExpressionError::helper(format!("No stage found with id '{id}'")))
        }
        "currentUser" => Ok(Val::str(
            ctx.execution
                .and_then(|e| e.pointer("/authentication/user"))
                .and_then(Value::as_str)
                .unwrap_or("anonymous"),
        )),
        "judgment" | "judgement" => {
            let execution = ctx.require_execution(name)?;
            let id = string_param(args, 0);
            let found = ctx.stages().iter().find(|s| {
                id.is_some()
                    && s.get("name").and_then(Value::as_str) == id.as_deref()
                    && s.get("type").and_then(Value::as_str) == Some("manualJudgment")
                    && s.pointer("/context/judgmentInput")
                        .is_some_and(|v| !v.is_null())
            });
            match found.and_then(|s| s.pointer("/context/judgmentInput")) {
                Some(input) => Ok(Val::from_json(input)),
                None => {
                    let id = id.unwrap_or_else(|| "null".into());
                    Err(ExpressionError::helper(format!(
                        "Unable to locate manual Judgment stage [{id}] using #{name}({id}) in execution {}. Stage doesn't exist or doesn't contain judgmentInput in its context ",
                        execution_id(execution)
                    )))
                }
            }
        }
        "deployedServerGroups" => {
            ctx.require_execution(name)?;
            let ids: Vec<String> = args.iter().map(convert_to_string).collect();
            Ok(deployed_server_groups(evaluator, &ids))
        }
        "triggerResolvedArtifact" | "triggerResolvedArtifactByType" => {
            let execution = ctx.require_execution(name)?;
            let wanted = string_param(args, 0);
            let field = if name == "triggerResolvedArtifact" {
                "name"
            } else {
                "type"
            };
            ctx.trigger
                .get("resolvedExpectedArtifacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|expected| expected.get("boundArtifact").filter(|b| b.is_object()))
                .find(|bound| {
                    wanted.is_some()
                        && bound.get(field).and_then(Value::as_str) == wanted.as_deref()
                })
                .map(Val::Json)
                .ok_or_else(|| {
                    ExpressionError::helper(format!(
                        "Unable to locate resolved artifact {} in trigger execution {}.",
                        wanted.unwrap_or_else(|| "null".into()),
                        execution_id(execution)
                    ))
                })
        }
        "resolvedArtifacts" => {
            ctx.require_execution(name)?;
            Ok(Val::list(
                ctx.stages()
                    .iter()
                    .filter_map(|s| s.pointer("/outputs/artifacts").and_then(Value::as_array))
                    .flatten()
                    .map(Val::from_json)
                    .collect(),
            ))
        }
        "pipelineId" | "pipelineIdOrNull" | "pipelineIdInApplication" => {
            pipeline_id(evaluator, name, args)
        }
        "toJson" => {
            let json = to_json(&args[0], ctx);
            let text = serde_json::to_string(&json)
                .map_err(|e| ExpressionError::helper(format!("#toJson failed: {e}")))?;
            if text.contains("${") {
                return Err(ExpressionError::helper(
                    "result for toJson cannot contain an expression",
                ));
            }
            Ok(Val::str(crate::ops::bounded(text)?))
        }
        "readJson" => {
            let text = required_text(args, name)?;
            read_json(&text).map(owned_from_json)
        }
        "readYaml" => {
            let text = required_text(args, name)?;
            read_yaml(&text).map(owned_from_json)
        }
        "readAllYaml" => {
            let text = required_text(args, name)?;
            read_all_yaml(&text).map(owned_from_json)
        }
        "fromUrl" => Ok(Val::str(fetch(evaluator, args, name)?)),
        "jsonFromUrl" => read_json(&fetch(evaluator, args, name)?).map(owned_from_json),
        "yamlFromUrl" => read_yaml(&fetch(evaluator, args, name)?).map(owned_from_json),
        "propertiesFromUrl" => {
            let text = fetch(evaluator, args, name)?;
            Ok(Val::Map(Rc::new(
                crate::properties::parse_properties(&text)
                    .into_iter()
                    .map(|(k, v)| (Rc::from(k.as_str()), Val::str(v)))
                    .collect(),
            )))
        }
        "alphanumerical" => {
            let text = required_text(args, name)?;
            Ok(Val::str(
                text.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>(),
            ))
        }
        "toInt" => match string_param(args, 0) {
            Some(text) => Ok(Val::Int(crate::javatypes::parse_java_int(&text, 10)?)),
            None => Err(ExpressionError::new(
                ErrorKind::NumberFormat,
                "Cannot parse null string: null",
            )),
        },
        "toFloat" => match string_param(args, 0) {
            Some(text) => Ok(Val::Float(
                crate::javatypes::parse_java_double(&text)? as f32
            )),
            None => Err(ExpressionError::helper(
                "#toFloat(null): cannot convert null",
            )),
        },
        "toBoolean" => Ok(Val::Bool(
            string_param(args, 0).is_some_and(|t| t.eq_ignore_ascii_case("true")),
        )),
        "toBase64" => {
            let text = required_text(args, name)?;
            Ok(Val::str(
                base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            ))
        }
        "fromBase64" => {
            let text = required_text(args, name)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|e| {
                    ExpressionError::new(
                        ErrorKind::IllegalArgument,
                        format!("Illegal base64 input: {e}"),
                    )
                })?;
            Ok(Val::str(String::from_utf8_lossy(&bytes)))
        }
        _ => Err(ExpressionError::eval(format!(
            "EL1006E: Function '{name}' could not be found"
        ))),
    }
}

/// A String parameter: `None` for null, else the value's string form.
fn string_param(args: &[Val<'_>], index: usize) -> Option<String> {
    match args.get(index) {
        None | Some(Val::Null) => None,
        Some(Val::Str(s)) => Some(s.to_string()),
        Some(other) => Some(convert_to_string(other)),
    }
}

fn required_text(args: &[Val<'_>], function: &str) -> Result<String> {
    string_param(args, 0).ok_or_else(|| {
        ExpressionError::helper(format!("#{function}(null): the argument must not be null"))
    })
}

fn execution_id(execution: &Value) -> &str {
    execution.get("id").and_then(Value::as_str).unwrap_or("")
}

/// The first stage whose name or id is `id` (Orca's `#stage` lookup).
fn find_stage<'v>(stages: &'v [Value], id: Option<&str>) -> Option<&'v Value> {
    let id = id?;
    stages.iter().find(|s| {
        s.get("name").and_then(Value::as_str) == Some(id)
            || s.get("id").and_then(Value::as_str) == Some(id)
    })
}

/// `#readJson`: a list when the text starts with `[`, else a map (as Orca reads it).
fn read_json(text: &str) -> Result<Value> {
    let failed = |detail: String| {
        let shown: String = text.chars().take(200).collect();
        ExpressionError::helper(format!("#readJson({shown}) failed: {detail}"))
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let shown: String = text.chars().take(200).collect();
        ExpressionError::new(
            ErrorKind::JsonParse,
            format!("{e} - #readJson({shown}) failed"),
        )
    })?;
    match (&value, text.starts_with('[')) {
        (Value::Array(_), true) | (Value::Object(_), false) => Ok(value),
        _ => Err(failed(
            "expected a JSON object (or a list when the text starts with '[')".into(),
        )),
    }
}

fn read_yaml(text: &str) -> Result<Value> {
    serde_yaml::from_str::<Value>(text)
        .map_err(|e| ExpressionError::helper(format!("#readYaml failed: {e}")))
}

fn read_all_yaml(text: &str) -> Result<Value> {
    use serde::Deserialize;
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        documents.push(
            Value::deserialize(document)
                .map_err(|e| ExpressionError::helper(format!("#readAllYaml failed: {e}")))?,
        );
    }
    Ok(Value::Array(documents))
}

/// Turns parsed JSON (owned) into a value; depth is bounded by the parsers' own limits.
pub(crate) fn owned_from_json<'a>(value: Value) -> Val<'a> {
    owned_from_json_at(value, 0)
}

fn owned_from_json_at<'a>(value: Value, depth: usize) -> Val<'a> {
    if depth > MAX_VALUE_DEPTH {
        return Val::Null;
    }
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Number(_) => match Val::from_json(&value) {
            Val::Int(v) => Val::Int(v),
            Val::Long(v) => Val::Long(v),
            Val::Double(v) => Val::Double(v),
            _ => Val::Null,
        },
        Value::String(s) => Val::Str(Rc::from(s)),
        Value::Array(items) => Val::list(
            items
                .into_iter()
                .map(|v| owned_from_json_at(v, depth + 1))
                .collect(),
        ),
        Value::Object(map) => Val::Map(Rc::new(
            map.into_iter()
                .map(|(k, v)| (Rc::from(k.as_str()), owned_from_json_at(v, depth + 1)))
                .collect(),
        )),
    }
}

fn fetch(evaluator: &Evaluator<'_, '_>, args: &[Val<'_>], function: &str) -> Result<String> {
    let ctx = evaluator.ctx;
    let url = string_param(args, 0).unwrap_or_else(|| "null".into());
    let refused = |message: String| {
        ExpressionError::new(
            ErrorKind::IllegalArgument,
            format!("{message} - #{function}({url}) failed"),
        )
    };
    let vetted = ctx
        .url_policy
        .check(&url, ctx.resolver)
        .map_err(|e| refused(e.0))?;
    let Some(fetcher) = ctx.url_fetcher else {
        return Err(ExpressionError::helper(format!(
            "#{function}({url}) failed: no URL fetcher is configured for expression evaluation"
        )));
    };
    let request = FetchRequest {
        url: &vetted.url,
        addresses: &vetted.addresses,
        timeout: ctx.url_policy.timeout,
        max_bytes: ctx.url_policy.max_response_bytes,
    };
    let body = fetcher
        .fetch(&request)
        .map_err(|e| ExpressionError::helper(format!("{} - #{function}({url}) failed", e.0)))?;
    if body.len() > ctx.url_policy.max_response_bytes {
        return Err(ExpressionError::helper(format!(
            "response of {} bytes exceeds the limit of {} - #{function}({url}) failed",
            body.len(),
            ctx.url_policy.max_response_bytes
        )));
    }
    Ok(body)
}

fn pipeline_id<'a>(evaluator: &Evaluator<'_, 'a>, name: &str, args: &[Val<'a>]) -> Result<Val<'a>> {
    let ctx = evaluator.ctx;
    let execution = ctx.require_execution(name)?;
    let pipeline_name = string_param(args, 0).filter(|n| !n.is_empty());
    let application = if name == "pipelineIdInApplication" {
        match string_param(args, 1).filter(|a| !a.is_empty()) {
            Some(app) => app,
            None => {
                return Err(ExpressionError::helper(
                    "applicationName must be specified for function #pipelineIdInApplication",
                ));
            }
        }
    } else {
        execution
            .get("application")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let Some(pipeline_name) = pipeline_name else {
        return Err(ExpressionError::helper(format!(
            "pipelineName must be specified for function #{name}"
        )));
    };
    let Some(lookup) = ctx.pipeline_ids else {
        return Err(ExpressionError::helper(format!(
            "the pipeline store is missing. It's required when using #{name} function"
        )));
    };
    let found = lookup
        .pipeline_id(&application, &pipeline_name)
        .map_err(|e| {
            ExpressionError::helper(format!("Failed to evaluate #{name} function: {e}"))
        })?;
    match (found, name) {
        (Some(id), _) => Ok(Val::str(id)),
        (None, "pipelineId") => Err(ExpressionError::helper(format!(
            "Pipeline with name '{pipeline_name}' could not be found on application {application}"
        ))),
        (None, _) => Ok(Val::Null),
    }
}

const DEPLOY_STAGE_TYPES: [&str; 4] = [
    "deploy",
    "createServerGroup",
    "cloneServerGroup",
    "rollingPush",
];

/// Orca's `DeployedServerGroupsExpressionFunctionProvider.deployedServerGroups`.
fn deployed_server_groups<'a>(evaluator: &Evaluator<'_, 'a>, ids: &[String]) -> Val<'a> {
    let ctx = evaluator.ctx;
    let mut groups = Vec::new();
    for stage in ctx.stages() {
        let text = |key: &str| stage.get(key).and_then(Value::as_str);
        let Some(context) = stage.get("context") else {
            continue;
        };
        let matches = text("type").is_some_and(|t| DEPLOY_STAGE_TYPES.contains(&t))
            && context.get("deploy.server.groups").is_some()
            && text("status") == Some("SUCCEEDED")
            && (ids.is_empty()
                || ids.iter().any(|id| {
                    Some(id.as_str()) == text("name") || Some(id.as_str()) == text("id")
                }));
        if !matches {
            continue;
        }
        let region = context
            .get("region")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                context
                    .get("availabilityZones")
                    .and_then(Value::as_object)
                    .and_then(|zones| zones.keys().next().cloned())
            });
        let Some(region) = region else { continue };
        let field = |key: &str| context.get(key).map(Val::from_json).unwrap_or(Val::Null);
        let mut details: Vec<(Rc<str>, Val<'a>)> = vec![
            (Rc::from("account"), field("account")),
            (Rc::from("capacity"), field("capacity")),
            (Rc::from("parentStage"), field("parentStage")),
            (Rc::from("region"), Val::str(&region)),
        ];
        let mut put =
            |key: &str, value: Val<'a>| match details.iter_mut().find(|(k, _)| k.as_ref() == key) {
                Some(entry) => entry.1 = value,
                None => details.push((Rc::from(key), value)),
            };
        // Deployment details (from bake/find-image outputs upstream) for this region.
        if let Some(existing) = ctx
            .stage_context_get(stage, "deploymentDetails")
            .and_then(|d| d.list_items())
        {
            for detail in existing {
                let same_region = detail
                    .own_entry("region")
                    .flatten()
                    .is_some_and(|r| r.as_str() == Some(region.as_str()));
                if same_region {
                    for (key, value) in detail.map_entries().unwrap_or_default() {
                        put(&key, value);
                    }
                }
            }
        }
        if let Some(first) = context
            .get("deploy.server.groups")
            .and_then(|g| g.get(&region))
            .and_then(Value::as_array)
            .and_then(|groups| groups.first())
        {
            put("serverGroup", Val::from_json(first));
        }
        let deployments: Vec<Val<'a>> = context
            .get("kato.tasks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|task| task.get("resultObjects").and_then(Value::as_array))
            .flatten()
            .filter_map(|result| result.get("deployments").and_then(Value::as_array))
            .flatten()
            .map(Val::from_json)
            .collect();
        put("deployments", Val::list(deployments));
        groups.push(Val::Map(Rc::new(details)));
    }
    Val::list(groups)
}
