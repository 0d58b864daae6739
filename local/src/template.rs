//! Deploys `template.yaml` into the local emulator, so local mode and AWS share one
//! definition of every table, queue and state machine.
//!
//! This is a small interpreter for the part of CloudFormation/SAM the template uses: it
//! resolves intrinsic functions, creates DynamoDB tables, SQS queues and Step Functions
//! state machines in dependency order, and describes each serverless function (resolved
//! environment, event sources) for the local host, which plays Lambda, API Gateway and their
//! event sources itself. Anything it does not understand fails loudly instead of being
//! skipped, so the template cannot silently drift from what local mode runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use aws_sdk_dynamodb::types as ddb;
use aws_sdk_sfn::types::StateMachineType;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value as Json};

/// moto's account id: the `AWS::AccountId` pseudo parameter and the account of dummy roles.
pub const ACCOUNT_ID: &str = "123456789012";
const DEFAULT_REGION: &str = "us-east-1";

const TABLE: &str = "AWS::DynamoDB::Table";
const QUEUE: &str = "AWS::SQS::Queue";
const STATE_MACHINE: &str = "AWS::Serverless::StateMachine";
const EVENT_BUS: &str = "AWS::Events::EventBus";
const EVENT_RULE: &str = "AWS::Events::Rule";
const QUEUE_POLICY: &str = "AWS::SQS::QueuePolicy";
const FUNCTION: &str = "AWS::Serverless::Function";
const HTTP_API: &str = "AWS::Serverless::HttpApi";
const SCHEDULE_GROUP: &str = "AWS::Scheduler::ScheduleGroup";
const ROLE: &str = "AWS::IAM::Role";
/// Resource types local mode plays itself instead of creating them in the emulator.
const PLAYED_LOCALLY: [&str; 2] = [FUNCTION, HTTP_API];
const CREATED_IN_EMULATOR: [&str; 8] = [
    TABLE,
    QUEUE,
    STATE_MACHINE,
    EVENT_BUS,
    EVENT_RULE,
    QUEUE_POLICY,
    SCHEDULE_GROUP,
    ROLE,
];

/// Properties with no local meaning (IAM, encryption, tags, backups): IAM is not enforced
/// by the emulator, so they are dropped before resolution rather than reported as unsupported.
const IGNORED_PROPERTIES: [&str; 14] = [
    "Tags",
    "Policies",
    "Role",
    "RolePath",
    "PermissionsBoundary",
    "Tracing",
    "Logging",
    "PropagateTags",
    "PointInTimeRecoverySpecification",
    "SSESpecification",
    "DeletionProtectionEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

/// Queue properties that are passed to CreateQueue as attributes of the same name.
const QUEUE_ATTRIBUTES: [&str; 11] = [
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
];

/// A parsed `template.yaml`. Intrinsic functions are kept in their long form
/// (`{"Ref": ..}`, `{"Fn::GetAtt": ..}`), whether the file used the short `!Tag` form or not.
#[derive(Debug, Clone)]
pub struct Template {
    folder: PathBuf,
    parameter_defaults: BTreeMap<String, String>,
    function_globals: Map<String, Json>,
    resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Clone)]
struct Resource {
    resource_type: String,
    properties: Json,
    depends_on: Vec<String>,
}

/// One resource created in the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_name: String,
    /// What `!Ref` returns: table name, queue URL, state machine ARN.
    pub ref_value: String,
    /// What `!GetAtt` returns: Arn, QueueUrl, QueueName, Name, StreamArn …
    pub attributes: BTreeMap<String, String>,
}

/// An SQS event source of a function, which local mode plays with a poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEventSource {
    pub queue_logical_id: String,
    pub queue_url: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// A DynamoDB stream event source of a function, which local mode plays with a poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEventSource {
    pub table_logical_id: String,
    pub stream_arn: String,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// A serverless function as local mode hosts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// Globals and the function's own variables, every intrinsic resolved.
    pub environment: BTreeMap<String, String>,
    pub sqs_event_sources: Vec<SqsEventSource>,
    pub stream_event_sources: Vec<StreamEventSource>,
    pub has_http_api: bool,
    /// The period of the function's `Schedule` event (`rate(...)`), if it has one.
    pub schedule_every: Option<std::time::Duration>,
}

/// Everything [`deploy`] created or described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub resources: BTreeMap<String, DeployedResource>,
    pub functions: BTreeMap<String, FunctionSpec>,
}

impl Deployment {
    pub fn resource(&self, logical_id: &str) -> anyhow::Result<&DeployedResource> {
        self.resources
            .get(logical_id)
            .with_context(|| format!("the deployment has no resource {logical_id}"))
    }

    pub fn function(&self, logical_id: &str) -> anyhow::Result<&FunctionSpec> {
        self.functions
            .get(logical_id)
            .with_context(|| format!("the deployment has no function {logical_id}"))
    }
}

impl Template {
    pub fn load(path: &Path) -> anyhow::Result<Template> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, folder).with_context(|| format!("loading {}", path.display()))
    }

    /// Parses template text; relative `DefinitionUri`s are read from `folder`.
    pub fn parse(text: &str, folder: &Path) -> anyhow::Result<Template> {
        let document = yaml_to_json(serde_yaml::from_str(text).context("parsing YAML")?)?;
        let Json::Object(sections) = document else {
            bail!("the template is not a mapping");
        };
        for unsupported in ["Conditions", "Mappings", "Rules"] {
            if sections.contains_key(unsupported) {
                bail!("local mode does not support the template's {unsupported} section");
            }
        }
        Ok(Template {
            folder: folder.to_path_buf(),
            parameter_defaults: parameter_defaults(sections.get("Parameters"))?,
            function_globals: function_globals(sections.get("Globals"))?,
            resources: parse_resources(sections.get("Resources"))?,
        })
    }

    pub fn logical_ids(&self) -> impl Iterator<Item = &str> {
        self.resources.keys().map(String::as_str)
    }

    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources
            .get(logical_id)
            .map(|r| r.resource_type.as_str())
    }

    /// A resource's properties as written, intrinsics unresolved (in long form).
    pub fn properties(&self, logical_id: &str) -> Option<&Json> {
        self.resources.get(logical_id).map(|r| &r.properties)
    }

    pub fn parameter_default(&self, name: &str) -> Option<&str> {
        self.parameter_defaults.get(name).map(String::as_str)
    }

    /// The template with some parameters given values other than their defaults (as
    /// `sam deploy --parameter-overrides` does). A name the template does not declare is an
    /// error, so a typo cannot silently leave a default in place.
    pub fn with_parameter_values(
        mut self,
        values: &BTreeMap<String, String>,
    ) -> anyhow::Result<Template> {
        for (name, value) in values {
            let Some(slot) = self.parameter_defaults.get_mut(name) else {
                bail!("the template declares no parameter {name}");
            };
            *slot = value.clone();
        }
        Ok(self)
    }

    /// The folder the template was loaded from (DefinitionUri is relative to it).
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Logical ids ordered so that every resource comes after the resources it refers to.
    fn deployment_order(&self) -> anyhow::Result<Vec<String>> {
        let mut order = Vec::new();
        let mut visiting = BTreeSet::new();
        for id in self.resources.keys() {
            self.visit(id, &mut visiting, &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        id: &str,
        visiting: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        if order.iter().any(|done| done == id) {
            return Ok(());
        }
        if !visiting.insert(id.to_string()) {
            bail!("circular dependency between resources, through {id}");
        }
        for dependency in self.dependencies(id) {
            self.visit(&dependency, visiting, order)?;
        }
        visiting.remove(id);
        order.push(id.to_string());
        Ok(())
    }

    fn dependencies(&self, id: &str) -> BTreeSet<String> {
        let resource = &self.resources[id];
        let mut names = BTreeSet::new();
        collect_references(&resource.properties, &mut names);
        names.extend(resource.depends_on.iter().cloned());
        names.retain(|name| self.resources.contains_key(name));
        names
    }

    fn scope<'a>(
        &self,
        stack_name: &str,
        region: &str,
        resources: &'a BTreeMap<String, DeployedResource>,
    ) -> Scope<'a> {
        let mut names = BTreeMap::from([
            ("AWS::StackName".to_string(), stack_name.to_string()),
            ("AWS::Region".to_string(), region.to_string()),
            ("AWS::AccountId".to_string(), ACCOUNT_ID.to_string()),
            ("AWS::Partition".to_string(), "aws".to_string()),
            ("AWS::URLSuffix".to_string(), "amazonaws.com".to_string()),
        ]);
        names.extend(self.parameter_defaults.clone());
        Scope { names, resources }
    }
}

// ------------------------------------------------------------------------------ parsing

/// Converts YAML to JSON, turning CloudFormation's short-form tags (`!Ref X`, `!GetAtt X.Y`,
/// `!Sub ..`) into their long form (`{"Ref": "X"}`, `{"Fn::GetAtt": "X.Y"}`, ..).
fn yaml_to_json(value: serde_yaml::Value) -> anyhow::Result<Json> {
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

fn parameter_defaults(parameters: Option<&Json>) -> anyhow::Result<BTreeMap<String, String>> {
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

fn function_globals(globals: Option<&Json>) -> anyhow::Result<Map<String, Json>> {
    let globals = as_object(globals, "Globals")?;
    for section in globals.keys() {
        // Globals of resources local mode plays itself do not matter here.
        if !["Function", "HttpApi", "Api"].contains(&section.as_str()) {
            bail!("local mode does not support Globals.{section}");
        }
    }
    Ok(as_object(globals.get("Function"), "Globals.Function")?.clone())
}

fn parse_resources(resources: Option<&Json>) -> anyhow::Result<BTreeMap<String, Resource>> {
    let mut parsed = BTreeMap::new();
    for (id, resource) in as_object(resources, "Resources")? {
        let resource_type = resource
            .get("Type")
            .and_then(Json::as_str)
            .with_context(|| format!("resource {id} has no Type"))?;
        if !CREATED_IN_EMULATOR.contains(&resource_type) && !PLAYED_LOCALLY.contains(&resource_type)
        {
            bail!("resource {id}: local mode does not support the type {resource_type}");
        }
        if resource.get("Condition").is_some() {
            bail!("resource {id}: local mode does not support conditions");
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
                properties,
                depends_on,
            },
        );
    }
    Ok(parsed)
}

/// The object at `value` (absent = empty).
fn as_object<'a>(value: Option<&'a Json>, what: &str) -> anyhow::Result<&'a Map<String, Json>> {
    static EMPTY: std::sync::OnceLock<Map<String, Json>> = std::sync::OnceLock::new();
    match value {
        None | Some(Json::Null) => Ok(EMPTY.get_or_init(Map::new)),
        Some(Json::Object(map)) => Ok(map),
        Some(other) => bail!("{what} must be a mapping, not {other}"),
    }
}

/// Text of a scalar as CloudFormation passes it on: numbers and booleans become strings.
fn scalar_text(value: &Json) -> anyhow::Result<String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => bail!("expected a string, number or boolean, found {other}"),
    }
}

/// Names referred to by `Ref`, `Fn::GetAtt` and `Fn::Sub` placeholders anywhere in `value`.
fn collect_references(value: &Json, names: &mut BTreeSet<String>) {
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

fn sub_references(text: &str) -> Vec<String> {
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

fn single_entry(map: &Map<String, Json>) -> Option<(&str, &Json)> {
    match map.len() {
        1 => map.iter().next().map(|(k, v)| (k.as_str(), v)),
        _ => None,
    }
}

/// Pieces of an `Fn::Sub` string.
#[derive(Debug, PartialEq)]
enum SubPart<'a> {
    Text(&'a str),
    /// `${!Literal}`, which renders as `${Literal}`.
    Escaped(&'a str),
    /// `${Name}` or `${Resource.Attribute}`.
    Placeholder(&'a str),
}

fn split_sub(text: &str) -> Vec<SubPart<'_>> {
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

// ------------------------------------------------------------------------------ resolution

/// What intrinsic functions can see: pseudo parameters, parameters and deployed resources.
struct Scope<'a> {
    names: BTreeMap<String, String>,
    resources: &'a BTreeMap<String, DeployedResource>,
}

impl Scope<'_> {
    /// `value` with every intrinsic function replaced by its result.
    fn resolve(&self, value: &Json) -> anyhow::Result<Json> {
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

    fn resolve_text(&self, value: &Json) -> anyhow::Result<String> {
        scalar_text(&self.resolve(value)?)
    }

    fn intrinsic(&self, name: &str, argument: &Json) -> anyhow::Result<Json> {
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

    fn resolve_list(&self, value: &Json) -> anyhow::Result<Vec<Json>> {
        match self.resolve(value)? {
            Json::Array(items) => Ok(items),
            other => bail!("expected a list, found {other}"),
        }
    }

    /// `Ref`: a parameter, a pseudo parameter or a deployed resource.
    fn reference(&self, name: &str) -> anyhow::Result<String> {
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

    fn attribute(&self, id: &str, attribute: &str) -> anyhow::Result<String> {
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

    fn substitute(
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

// ------------------------------------------------------------------------------ deployment

/// Creates the template's tables, queues and state machines in the emulator `sdk` points at,
/// named `{stack_name}-{LogicalId}` unless the template names them, and describes its
/// functions. Stops at the first resource that cannot be created.
pub async fn deploy(
    template: &Template,
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
) -> anyhow::Result<Deployment> {
    let region = sdk
        .region()
        .map_or(DEFAULT_REGION.to_string(), ToString::to_string);
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        sqs: aws_sdk_sqs::Client::new(sdk),
        sfn: aws_sdk_sfn::Client::new(sdk),
        events: aws_sdk_eventbridge::Client::new(sdk),
        scheduler: aws_sdk_scheduler::Client::new(sdk),
    };
    let mut resources = BTreeMap::new();
    for id in template.deployment_order()? {
        let resource = &template.resources[&id];
        if PLAYED_LOCALLY.contains(&resource.resource_type.as_str()) {
            continue;
        }
        let scope = template.scope(stack_name, &region, &resources);
        let properties = scope
            .resolve(&without_ignored_properties(&resource.properties))
            .with_context(|| format!("resolving the properties of {id}"))?;
        let request = Request {
            clients: &clients,
            template,
            stack_name,
            logical_id: &id,
            properties,
        };
        let deployed = request
            .create(&resource.resource_type)
            .await
            .with_context(|| {
                format!("creating {id} ({}) in the emulator", resource.resource_type)
            })?;
        resources.insert(id, deployed);
    }
    let scope = template.scope(stack_name, &region, &resources);
    let mut functions = BTreeMap::new();
    for (id, resource) in template
        .resources
        .iter()
        .filter(|(_, r)| r.resource_type == FUNCTION)
    {
        let function =
            describe_function(id, &resource.properties, &template.function_globals, &scope)
                .with_context(|| format!("describing the function {id}"))?;
        functions.insert(id.clone(), function);
    }
    Ok(Deployment {
        resources,
        functions,
    })
}

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    events: aws_sdk_eventbridge::Client,
    scheduler: aws_sdk_scheduler::Client,
}

/// One resource to create, its properties already resolved.
struct Request<'a> {
    clients: &'a Clients,
    template: &'a Template,
    stack_name: &'a str,
    logical_id: &'a str,
    properties: Json,
}

impl Request<'_> {
    async fn create(self, resource_type: &str) -> anyhow::Result<DeployedResource> {
        match resource_type {
            TABLE => self.create_table().await,
            QUEUE => self.create_queue().await,
            STATE_MACHINE => self.create_state_machine().await,
            EVENT_BUS => self.create_event_bus().await,
            EVENT_RULE => self.create_event_rule().await,
            QUEUE_POLICY => self.create_queue_policy().await,
            SCHEDULE_GROUP => self.create_schedule_group().await,
            ROLE => self.describe_role(),
            other => bail!("local mode cannot create {other}"),
        }
    }

    /// `{stack}-{LogicalId}`, as CloudFormation would prefix a generated name.
    fn default_name(&self) -> String {
        format!("{}-{}", self.stack_name, self.logical_id)
    }

    fn deployed(
        &self,
        resource_type: &str,
        physical_name: String,
        ref_value: String,
        attributes: &[(&str, String)],
    ) -> DeployedResource {
        DeployedResource {
            logical_id: self.logical_id.to_string(),
            resource_type: resource_type.to_string(),
            physical_name,
            ref_value,
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    async fn create_table(self) -> anyhow::Result<DeployedResource> {
        let properties: TableProperties = from_properties(self.properties.clone())?;
        let name = properties
            .table_name
            .clone()
            .unwrap_or_else(|| self.default_name());
        let client = &self.clients.dynamodb;
        let created = client
            .create_table()
            .table_name(&name)
            .set_billing_mode(
                properties
                    .billing_mode
                    .as_deref()
                    .map(ddb::BillingMode::from),
            )
            .set_attribute_definitions(Some(properties.attribute_definitions()?))
            .set_key_schema(Some(key_schema(&properties.key_schema)?))
            .set_global_secondary_indexes(properties.global_secondary_indexes()?)
            .set_provisioned_throughput(
                properties
                    .provisioned_throughput
                    .as_ref()
                    .map(throughput)
                    .transpose()?,
            )
            .set_stream_specification(properties.stream_specification()?)
            .send()
            .await?;
        let description = created
            .table_description
            .context("CreateTable returned no description")?;
        if let Some(ttl) = properties
            .time_to_live_specification
            .filter(|ttl| ttl.enabled.0)
        {
            let specification = ddb::TimeToLiveSpecification::builder()
                .attribute_name(ttl.attribute_name)
                .enabled(true)
                .build()?;
            client
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(specification)
                .send()
                .await?;
        }
        let mut attributes = vec![(
            "Arn",
            description
                .table_arn
                .context("CreateTable returned no ARN")?,
        )];
        attributes.extend(description.latest_stream_arn.map(|arn| ("StreamArn", arn)));
        Ok(self.deployed(TABLE, name.clone(), name, &attributes))
    }

    async fn create_queue(self) -> anyhow::Result<DeployedResource> {
        let properties = as_object(Some(&self.properties), "Properties")?;
        let is_fifo = properties
            .get("FifoQueue")
            .map(scalar_text)
            .transpose()?
            .as_deref()
            == Some("true");
        let name = match properties.get("QueueName") {
            Some(name) => scalar_text(name)?,
            None if is_fifo => format!("{}.fifo", self.default_name()),
            None => self.default_name(),
        };
        let mut request = self.clients.sqs.create_queue().queue_name(&name);
        for (property, value) in properties
            .iter()
            .filter(|(property, _)| *property != "QueueName")
        {
            if !QUEUE_ATTRIBUTES.contains(&property.as_str()) {
                bail!("local mode does not support the queue property {property}");
            }
            // Policies written as objects in the template are JSON strings in the SQS API.
            let text = match value {
                Json::Object(_) | Json::Array(_) => value.to_string(),
                scalar => scalar_text(scalar)?,
            };
            request = request.attributes(QueueAttributeName::from(property.as_str()), text);
        }
        let url = request
            .send()
            .await?
            .queue_url
            .context("CreateQueue returned no URL")?;
        let arn = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .context("GetQueueAttributes returned no QueueArn")?;
        let attributes = [
            ("Arn", arn),
            ("QueueUrl", url.clone()),
            ("QueueName", name.clone()),
        ];
        Ok(self.deployed(QUEUE, name, url, &attributes))
    }

    /// A rule on a bus with its targets (SQS queues here; the emulator delivers to them).
    /// `!Ref` is the rule name.
    async fn create_event_rule(self) -> anyhow::Result<DeployedResource> {
        let properties = as_object(Some(&self.properties), "Properties")?;
        let supported = [
            "Name",
            "Description",
            "EventBusName",
            "EventPattern",
            "State",
            "Targets",
        ];
        if let Some(unknown) = properties
            .keys()
            .find(|key| !supported.contains(&key.as_str()))
        {
            bail!("local mode does not support the rule property {unknown}");
        }
        let name = match properties.get("Name") {
            Some(name) => scalar_text(name)?,
            None => self.default_name(),
        };
        let bus = properties
            .get("EventBusName")
            .map(scalar_text)
            .transpose()?;
        let pattern = properties
            .get("EventPattern")
            .context("a rule needs an EventPattern here")?
            .to_string();
        let state = match properties
            .get("State")
            .map(scalar_text)
            .transpose()?
            .as_deref()
        {
            Some("DISABLED") => aws_sdk_eventbridge::types::RuleState::Disabled,
            _ => aws_sdk_eventbridge::types::RuleState::Enabled,
        };
        let events = &self.clients.events;
        let arn = events
            .put_rule()
            .name(&name)
            .set_event_bus_name(bus.clone())
            .event_pattern(pattern)
            .state(state)
            .send()
            .await?
            .rule_arn
            .context("PutRule returned no ARN")?;
        let mut targets = Vec::new();
        for target in properties
            .get("Targets")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let target = as_object(Some(target), "Targets[]")?;
            let field = |key: &str| {
                target
                    .get(key)
                    .map(scalar_text)
                    .transpose()?
                    .with_context(|| format!("a rule target needs {key}"))
            };
            targets.push(
                aws_sdk_eventbridge::types::Target::builder()
                    .id(field("Id")?)
                    .arn(field("Arn")?)
                    .build()?,
            );
        }
        if !targets.is_empty() {
            events
                .put_targets()
                .rule(&name)
                .set_event_bus_name(bus)
                .set_targets(Some(targets))
                .send()
                .await?;
        }
        let attributes = [("Arn", arn)];
        Ok(self.deployed(EVENT_RULE, name.clone(), name, &attributes))
    }

    /// Sets the `Policy` of each queue in `Queues` (URLs).
    async fn create_queue_policy(self) -> anyhow::Result<DeployedResource> {
        let properties = as_object(Some(&self.properties), "Properties")?;
        let document = properties
            .get("PolicyDocument")
            .context("a queue policy needs a PolicyDocument")?
            .to_string();
        for url in properties
            .get("Queues")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            self.clients
                .sqs
                .set_queue_attributes()
                .queue_url(scalar_text(url)?)
                .attributes(QueueAttributeName::Policy, &document)
                .send()
                .await?;
        }
        let name = self.default_name();
        Ok(self.deployed(QUEUE_POLICY, name.clone(), name, &[]))
    }

    /// `!Ref` of a schedule group is its name.
    async fn create_schedule_group(self) -> anyhow::Result<DeployedResource> {
        let properties = as_object(Some(&self.properties), "Properties")?;
        if let Some(unknown) = properties.keys().find(|key| *key != "Name") {
            bail!("local mode does not support the schedule group property {unknown}");
        }
        let name = match properties.get("Name") {
            Some(name) => scalar_text(name)?,
            None => self.default_name(),
        };
        let arn = self
            .clients
            .scheduler
            .create_schedule_group()
            .name(&name)
            .send()
            .await?
            .schedule_group_arn;
        let attributes = [("Arn", arn)];
        Ok(self.deployed(SCHEDULE_GROUP, name.clone(), name, &attributes))
    }

    /// The emulator does not enforce IAM, so a role is only named: `!Ref` is its name and
    /// `!GetAtt .Arn` its ARN in the emulator's account (a schedule target needs one).
    fn describe_role(self) -> anyhow::Result<DeployedResource> {
        let properties = as_object(Some(&self.properties), "Properties")?;
        let supported = ["RoleName", "AssumeRolePolicyDocument", "Description"];
        if let Some(unknown) = properties
            .keys()
            .find(|key| !supported.contains(&key.as_str()))
        {
            bail!("local mode does not support the role property {unknown}");
        }
        let name = match properties.get("RoleName") {
            Some(name) => scalar_text(name)?,
            None => self.default_name(),
        };
        let attributes = [("Arn", format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}"))];
        Ok(self.deployed(ROLE, name.clone(), name, &attributes))
    }

    /// `!Ref` of an event bus is its name.
    async fn create_event_bus(self) -> anyhow::Result<DeployedResource> {
        let properties = as_object(Some(&self.properties), "Properties")?;
        if let Some(unknown) = properties.keys().find(|key| *key != "Name") {
            bail!("local mode does not support the event bus property {unknown}");
        }
        let name = match properties.get("Name") {
            Some(name) => scalar_text(name)?,
            None => self.default_name(),
        };
        let arn = self
            .clients
            .events
            .create_event_bus()
            .name(&name)
            .send()
            .await?
            .event_bus_arn
            .context("CreateEventBus returned no ARN")?;
        let attributes = [("Arn", arn), ("Name", name.clone())];
        Ok(self.deployed(EVENT_BUS, name.clone(), name, &attributes))
    }

    async fn create_state_machine(self) -> anyhow::Result<DeployedResource> {
        let properties: StateMachineProperties = from_properties(self.properties.clone())?;
        let name = properties
            .name
            .clone()
            .unwrap_or_else(|| self.default_name());
        let definition = match (&properties.definition_uri, &properties.definition) {
            (Some(uri), None) => {
                let path = self.template.folder.join(uri);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
            }
            (None, Some(definition)) => serde_json::to_string_pretty(definition)?,
            _ => bail!("a state machine needs exactly one of DefinitionUri and Definition"),
        };
        let definition = substitute_definition(&definition, &properties.definition_substitutions)?;
        let created = self
            .clients
            .sfn
            .create_state_machine()
            .name(&name)
            .definition(definition)
            // IAM is not enforced by the emulator; the role only has to look like one.
            .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}"))
            .r#type(StateMachineType::from(
                properties.machine_type.as_deref().unwrap_or("STANDARD"),
            ))
            .send()
            .await?;
        let arn = created.state_machine_arn;
        Ok(self.deployed(
            STATE_MACHINE,
            name.clone(),
            arn.clone(),
            &[("Arn", arn), ("Name", name)],
        ))
    }
}

/// SAM's DefinitionSubstitutions: a textual replacement of every `${Key}`.
fn substitute_definition(
    definition: &str,
    substitutions: &BTreeMap<String, Json>,
) -> anyhow::Result<String> {
    let mut text = definition.to_string();
    for (key, value) in substitutions {
        let value = scalar_text(value).with_context(|| format!("DefinitionSubstitutions.{key}"))?;
        text = text.replace(&format!("${{{key}}}"), &value);
    }
    Ok(text)
}

fn without_ignored_properties(properties: &Json) -> Json {
    match properties {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(key, _)| !IGNORED_PROPERTIES.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Deserializes resolved properties; unknown properties are an error that names them.
fn from_properties<T: DeserializeOwned>(properties: Json) -> anyhow::Result<T> {
    serde_json::from_value(properties)
        .map_err(|e| anyhow!("unsupported or invalid properties: {e}"))
}

fn describe_function(
    id: &str,
    properties: &Json,
    globals: &Map<String, Json>,
    scope: &Scope,
) -> anyhow::Result<FunctionSpec> {
    let mut environment = BTreeMap::new();
    for source in [&Json::Object(globals.clone()), properties] {
        let variables = source.pointer("/Environment/Variables");
        for (name, value) in as_object(variables, "Environment.Variables")? {
            let value = scope
                .resolve_text(value)
                .with_context(|| format!("the environment variable {name}"))?;
            environment.insert(name.clone(), value);
        }
    }
    let mut function = FunctionSpec {
        logical_id: id.to_string(),
        environment,
        sqs_event_sources: vec![],
        stream_event_sources: vec![],
        has_http_api: false,
        schedule_every: None,
    };
    for (name, event) in as_object(properties.get("Events"), "Events")? {
        let event: EventProperties =
            from_properties(event.clone()).with_context(|| format!("the event {name}"))?;
        match event.event_type.as_str() {
            "HttpApi" => function.has_http_api = true,
            "SQS" => {
                let sqs: SqsEventProperties = from_properties(event.properties)
                    .with_context(|| format!("the event {name}"))?;
                function.sqs_event_sources.push(
                    sqs.into_source(scope)
                        .with_context(|| format!("the event {name}"))?,
                );
            }
            "Schedule" => {
                let schedule: ScheduleEventProperties = from_properties(event.properties)
                    .with_context(|| format!("the event {name}"))?;
                function.schedule_every = Some(
                    rate_period(&schedule.schedule).with_context(|| format!("the event {name}"))?,
                );
            }
            "DynamoDB" => {
                let stream: StreamEventProperties = from_properties(event.properties)
                    .with_context(|| format!("the event {name}"))?;
                function.stream_event_sources.push(
                    stream
                        .into_source(scope)
                        .with_context(|| format!("the event {name}"))?,
                );
            }
            other => bail!("the event {name} has the type {other}, which local mode does not play"),
        }
    }
    Ok(function)
}

/// The period of an EventBridge `rate(value unit)` expression.
fn rate_period(expression: &str) -> anyhow::Result<std::time::Duration> {
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
        .with_context(|| format!("local mode plays only rate(...) schedules, not {expression}"))?;
    let (value, unit) = inner
        .split_once(' ')
        .with_context(|| format!("{expression}: expected rate(value unit)"))?;
    let value: u64 = value
        .parse()
        .with_context(|| format!("{expression}: the value must be a whole number"))?;
    let seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        other => bail!("{expression}: unknown unit {other}"),
    };
    Ok(std::time::Duration::from_secs(value * seconds))
}

// ------------------------------------------------------------------------------ property shapes

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct TableProperties {
    table_name: Option<String>,
    billing_mode: Option<String>,
    attribute_definitions: Vec<AttributeDefinition>,
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    global_secondary_indexes: Vec<SecondaryIndex>,
    provisioned_throughput: Option<Throughput>,
    stream_specification: Option<StreamSpecification>,
    time_to_live_specification: Option<TimeToLive>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AttributeDefinition {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct KeyElement {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SecondaryIndex {
    index_name: String,
    key_schema: Vec<KeyElement>,
    projection: Projection,
    provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Projection {
    projection_type: Option<String>,
    non_key_attributes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Throughput {
    read_capacity_units: Lenient<i64>,
    write_capacity_units: Lenient<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StreamSpecification {
    stream_view_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct TimeToLive {
    attribute_name: String,
    enabled: Lenient<bool>,
}

impl TableProperties {
    fn attribute_definitions(&self) -> anyhow::Result<Vec<ddb::AttributeDefinition>> {
        self.attribute_definitions
            .iter()
            .map(|a| {
                Ok(ddb::AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ddb::ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()?)
            })
            .collect()
    }

    fn global_secondary_indexes(&self) -> anyhow::Result<Option<Vec<ddb::GlobalSecondaryIndex>>> {
        if self.global_secondary_indexes.is_empty() {
            return Ok(None);
        }
        let indexes = self.global_secondary_indexes.iter().map(|index| {
            let projection = ddb::Projection::builder()
                .set_projection_type(
                    index
                        .projection
                        .projection_type
                        .as_deref()
                        .map(ddb::ProjectionType::from),
                )
                .set_non_key_attributes(index.projection.non_key_attributes.clone())
                .build();
            Ok(ddb::GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(projection)
                .set_provisioned_throughput(
                    index
                        .provisioned_throughput
                        .as_ref()
                        .map(throughput)
                        .transpose()?,
                )
                .build()?)
        });
        indexes.collect::<anyhow::Result<_>>().map(Some)
    }

    fn stream_specification(&self) -> anyhow::Result<Option<ddb::StreamSpecification>> {
        let Some(stream) = &self.stream_specification else {
            return Ok(None);
        };
        let specification = ddb::StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(ddb::StreamViewType::from(stream.stream_view_type.as_str()))
            .build()?;
        Ok(Some(specification))
    }
}

fn key_schema(elements: &[KeyElement]) -> anyhow::Result<Vec<ddb::KeySchemaElement>> {
    elements
        .iter()
        .map(|e| {
            Ok(ddb::KeySchemaElement::builder()
                .attribute_name(&e.attribute_name)
                .key_type(ddb::KeyType::from(e.key_type.as_str()))
                .build()?)
        })
        .collect()
}

fn throughput(throughput: &Throughput) -> anyhow::Result<ddb::ProvisionedThroughput> {
    Ok(ddb::ProvisionedThroughput::builder()
        .read_capacity_units(throughput.read_capacity_units.0)
        .write_capacity_units(throughput.write_capacity_units.0)
        .build()?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StateMachineProperties {
    name: Option<String>,
    #[serde(rename = "Type")]
    machine_type: Option<String>,
    definition_uri: Option<String>,
    definition: Option<Json>,
    #[serde(default)]
    definition_substitutions: BTreeMap<String, Json>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventProperties {
    #[serde(rename = "Type")]
    event_type: String,
    #[serde(rename = "Properties", default)]
    properties: Json,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ScheduleEventProperties {
    schedule: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SqsEventProperties {
    queue: Json,
    batch_size: Option<Lenient<i32>>,
    #[serde(default)]
    function_response_types: Vec<String>,
}

impl SqsEventProperties {
    fn into_source(self, scope: &Scope) -> anyhow::Result<SqsEventSource> {
        let arn = scope.resolve_text(&self.queue)?;
        let queue = scope
            .resources
            .values()
            .find(|r| r.resource_type == QUEUE && r.attributes.get("Arn") == Some(&arn))
            .with_context(|| format!("no queue of the template has the ARN {arn}"))?;
        Ok(SqsEventSource {
            queue_logical_id: queue.logical_id.clone(),
            queue_url: queue.ref_value.clone(),
            // SAM's default batch size for SQS.
            batch_size: self.batch_size.map_or(10, |size| size.0),
            report_batch_item_failures: self
                .function_response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StreamEventProperties {
    stream: Json,
    starting_position: String,
    batch_size: Option<Lenient<i32>>,
    /// Lambda's retry limit; the local poller retries a failed batch until it succeeds.
    #[allow(dead_code)]
    maximum_retry_attempts: Option<Lenient<i32>>,
    #[serde(default)]
    function_response_types: Vec<String>,
}

impl StreamEventProperties {
    fn into_source(self, scope: &Scope) -> anyhow::Result<StreamEventSource> {
        let arn = scope.resolve_text(&self.stream)?;
        let table = scope
            .resources
            .values()
            .find(|r| r.resource_type == TABLE && r.attributes.get("StreamArn") == Some(&arn))
            .with_context(|| format!("no table of the template has the stream {arn}"))?;
        Ok(StreamEventSource {
            table_logical_id: table.logical_id.clone(),
            stream_arn: arn,
            starting_position: self.starting_position,
            // SAM's default batch size for DynamoDB streams.
            batch_size: self.batch_size.map_or(100, |size| size.0),
            report_batch_item_failures: self
                .function_response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
        })
    }
}

/// A number or boolean that CloudFormation also accepts as a string (`"60"`, `"true"`).
struct Lenient<T>(T);

impl<'de, T: FromStr<Err: Display>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        let text = scalar_text(&value).map_err(D::Error::custom)?;
        text.parse()
            .map(Lenient)
            .map_err(|e| D::Error::custom(format!("{text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn queue() -> DeployedResource {
        DeployedResource {
            logical_id: "Queue".into(),
            resource_type: QUEUE.into(),
            physical_name: "stack-Queue.fifo".into(),
            ref_value: "http://emulator/123456789012/stack-Queue.fifo".into(),
            attributes: BTreeMap::from([
                (
                    "Arn".into(),
                    "arn:aws:sqs:us-east-1:123456789012:stack-Queue.fifo".into(),
                ),
                ("QueueName".into(), "stack-Queue.fifo".into()),
            ]),
        }
    }

    fn resolve(yaml: &str) -> anyhow::Result<Json> {
        let resources = BTreeMap::from([("Queue".to_string(), queue())]);
        let template = Template::parse(
            "Parameters: {Days: {Type: Number, Default: 90}}",
            Path::new("."),
        )?;
        let value = yaml_to_json(serde_yaml::from_str(yaml)?)?;
        template
            .scope("stack", "us-east-1", &resources)
            .resolve(&value)
    }

    #[test]
    fn short_form_tags_become_long_form_intrinsics() {
        let value = yaml_to_json(
            serde_yaml::from_str("a: !Ref X\nb: !GetAtt Y.Arn\nc: !Sub '${X}'").unwrap(),
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"a": {"Ref": "X"}, "b": {"Fn::GetAtt": "Y.Arn"}, "c": {"Fn::Sub": "${X}"}})
        );
    }

    #[test]
    fn refs_resolve_parameters_pseudo_parameters_and_resources() {
        assert_eq!(resolve("!Ref Days").unwrap(), json!("90"));
        assert_eq!(resolve("!Ref AWS::StackName").unwrap(), json!("stack"));
        assert_eq!(
            resolve("{Ref: Queue}").unwrap(),
            json!("http://emulator/123456789012/stack-Queue.fifo")
        );
    }

    #[test]
    fn get_att_takes_both_forms() {
        let arn = json!("arn:aws:sqs:us-east-1:123456789012:stack-Queue.fifo");
        assert_eq!(resolve("!GetAtt Queue.Arn").unwrap(), arn);
        assert_eq!(resolve("{'Fn::GetAtt': [Queue, Arn]}").unwrap(), arn);
        let error = format!("{:#}", resolve("!GetAtt Queue.Missing").unwrap_err());
        assert!(error.contains("has only the attributes"), "{error}");
    }

    #[test]
    fn sub_resolves_placeholders_variables_and_escapes() {
        let text = "!Sub 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:x:${Queue.QueueName}:${!Literal}'";
        assert_eq!(
            resolve(text).unwrap(),
            json!("arn:aws:states:us-east-1:123456789012:x:stack-Queue.fifo:${Literal}")
        );
        assert_eq!(
            resolve("!Sub ['${A}-${Days}', {A: !Ref AWS::Region}]").unwrap(),
            json!("us-east-1-90")
        );
    }

    #[test]
    fn join_select_and_split() {
        assert_eq!(
            resolve("!Join ['-', [a, !Ref Days]]").unwrap(),
            json!("a-90")
        );
        assert_eq!(
            resolve("!Select [1, !Split [',', 'x,y,z']]").unwrap(),
            json!("y")
        );
    }

    #[test]
    fn schedule_rates_become_periods() {
        let minutes = rate_period("rate(5 minutes)").unwrap();
        assert_eq!(minutes, std::time::Duration::from_secs(300));
        assert_eq!(rate_period("rate(1 hour)").unwrap().as_secs(), 3600);
        assert!(rate_period("cron(0 12 * * ? *)").is_err());
        assert!(rate_period("rate(5 fortnights)").is_err());
    }

    #[test]
    fn unsupported_intrinsics_and_unknown_names_fail_clearly() {
        let error = format!("{:#}", resolve("!ImportValue Other").unwrap_err());
        assert!(
            error.contains("does not support the intrinsic function Fn::ImportValue"),
            "{error}"
        );
        let error = format!("{:#}", resolve("!Ref Nowhere").unwrap_err());
        assert!(error.contains("Ref Nowhere"), "{error}");
    }

    #[test]
    fn unsupported_resource_types_fail_at_load() {
        let error = Template::parse(
            "Resources: {Topic: {Type: 'AWS::SNS::Topic'}}",
            Path::new("."),
        )
        .unwrap_err();
        assert!(error.to_string().contains("AWS::SNS::Topic"), "{error}");
    }

    #[test]
    fn resources_are_ordered_after_what_they_refer_to() {
        let template = Template::parse(
            concat!(
                "Resources:\n",
                "  A: {Type: 'AWS::SQS::Queue', Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Z.Arn}}}\n",
                "  M: {Type: 'AWS::Serverless::StateMachine', Properties: {DefinitionSubstitutions: {Q: !Sub '${A.QueueUrl}'}}}\n",
                "  Z: {Type: 'AWS::SQS::Queue'}\n",
            ),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(template.deployment_order().unwrap(), ["Z", "A", "M"]);
    }

    #[test]
    fn definition_substitutions_are_textual() {
        let substitutions = BTreeMap::from([("QueueUrl".to_string(), json!("http://q"))]);
        let text = substitute_definition(
            r#"{"QueueUrl": "${QueueUrl}", "Other": "${Other}"}"#,
            &substitutions,
        )
        .unwrap();
        assert_eq!(text, r#"{"QueueUrl": "http://q", "Other": "${Other}"}"#);
    }
}
