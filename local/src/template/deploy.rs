//! Creating each resource in the emulator and describing each function for the local host.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow, bail};
use aws_sdk_dynamodb::types as ddb;
use aws_sdk_sfn::types::StateMachineType;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use super::parse::{as_object, scalar_text};
use super::properties::{
    EventProperties, HttpApiEventProperties, ScheduleEventProperties, SqsEventProperties,
    StateMachineProperties, StreamEventProperties, TableProperties, key_schema, throughput,
};
use super::resolve::Scope;
use super::*;

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
        let resource_type = resource.resource_type.as_str();
        if PLAYED_LOCALLY.contains(&resource_type) || OPERATIONS_ONLY.contains(&resource_type) {
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
    for (id, resource) in &template.resources {
        if resource.resource_type != FUNCTION || !template.is_active(id)? {
            continue;
        }
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
pub(super) fn substitute_definition(
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

pub(super) fn without_ignored_properties(properties: &Json) -> Json {
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
pub(super) fn from_properties<T: DeserializeOwned>(properties: Json) -> anyhow::Result<T> {
    serde_json::from_value(properties)
        .map_err(|e| anyhow!("unsupported or invalid properties: {e}"))
}

pub(super) fn describe_function(
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
        open_routes: vec![],
        schedule_every: None,
    };
    for (name, event) in as_object(properties.get("Events"), "Events")? {
        let event: EventProperties =
            from_properties(event.clone()).with_context(|| format!("the event {name}"))?;
        match event.event_type.as_str() {
            "HttpApi" => {
                function.has_http_api = true;
                let route: HttpApiEventProperties = from_properties(event.properties)
                    .with_context(|| format!("the event {name}"))?;
                if route.is_open() {
                    function.open_routes.push(super::HttpRoute {
                        method: route.method.to_uppercase(),
                        path: route.path,
                    });
                }
            }
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
pub(super) fn rate_period(expression: &str) -> anyhow::Result<std::time::Duration> {
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
