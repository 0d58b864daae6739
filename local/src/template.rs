//! Deploys `template.yaml` into the local emulator, so local mode and AWS share one
//! definition of every table, queue and state machine.
//!
//! This is a small interpreter for the part of CloudFormation/SAM the template uses: it
//! resolves intrinsic functions, creates DynamoDB tables, SQS queues and Step Functions
//! state machines in dependency order, and describes each serverless function (resolved
//! environment, event sources) for the local host, which plays Lambda, API Gateway and their
//! event sources itself. Anything it does not understand fails loudly instead of being
//! skipped, so the template cannot silently drift from what local mode runs. The
//! operations resources (log groups, alarms, dashboards and their topic) have no local
//! counterpart and are passed over by type; a resource with a `Condition` is deployed when
//! its condition holds for the parameter values in force.
//!
//! `parse` reads the YAML into a [`Template`], `resolve` evaluates intrinsic functions,
//! `deploy` creates the resources, and `properties` holds the shapes of the properties it
//! accepts for each resource type.

mod conditions;
mod deploy;
mod parse;
mod properties;
mod resolve;

pub use deploy::deploy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

use parse::{
    collect_references, function_globals, parameter_defaults, parse_resources, yaml_to_json,
};
use resolve::Scope;

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
/// CloudWatch and SNS resources that watch a deployed stack: local mode has no CloudWatch
/// (its console is the log), so these are skipped, as is everything that refers only to them.
const OPERATIONS_ONLY: [&str; 6] = [
    "AWS::Logs::LogGroup",
    "AWS::Logs::MetricFilter",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
];
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
const IGNORED_PROPERTIES: [&str; 15] = [
    "Tags",
    "Policies",
    "Role",
    "RolePath",
    "PermissionsBoundary",
    "Tracing",
    "Logging",
    "LoggingConfig",
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
    /// The `Conditions` section as written (long form), evaluated at deployment.
    conditions: Map<String, Json>,
    resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Clone)]
struct Resource {
    resource_type: String,
    /// The name of the condition the resource is created under, if any.
    condition: Option<String>,
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
    /// The function's HTTP API routes that need no token (`Auth: {Authorizer: NONE}`).
    pub open_routes: Vec<HttpRoute>,
    /// The period of the function's `Schedule` event (`rate(...)`), if it has one.
    pub schedule_every: Option<std::time::Duration>,
}

/// One route of an `HttpApi` event: `Method` (`ANY` or a verb) and `Path` (with `{name}`
/// segments and a final `{name+}`), as API Gateway matches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub method: String,
    pub path: String,
}

impl HttpRoute {
    /// Whether a request with this method and path takes this route.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let mut wanted = self.path.trim_matches('/').split('/');
        let mut given = path.trim_matches('/').split('/');
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return true,
                (Some(pattern), _) if pattern.starts_with('{') && pattern.ends_with("+}") => {
                    return !path.trim_matches('/').is_empty();
                }
                (Some(pattern), Some(segment)) => {
                    let variable = pattern.starts_with('{') && pattern.ends_with('}');
                    if segment.is_empty() || (!variable && pattern != segment) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }
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
        for unsupported in ["Mappings", "Rules"] {
            if sections.contains_key(unsupported) {
                bail!("local mode does not support the template's {unsupported} section");
            }
        }
        Ok(Template {
            folder: folder.to_path_buf(),
            parameter_defaults: parameter_defaults(sections.get("Parameters"))?,
            function_globals: function_globals(sections.get("Globals"))?,
            conditions: parse::as_object(sections.get("Conditions"), "Conditions")?.clone(),
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

    /// The condition a resource is created under, if any.
    pub fn condition(&self, logical_id: &str) -> Option<&str> {
        self.resources.get(logical_id)?.condition.as_deref()
    }

    /// Whether the condition `name` holds for the parameter values in force.
    pub fn condition_holds(&self, name: &str) -> anyhow::Result<bool> {
        let definition = self
            .conditions
            .get(name)
            .with_context(|| format!("the template declares no condition {name}"))?;
        conditions::holds(definition, &self.conditions, &self.parameter_defaults)
            .with_context(|| format!("evaluating the condition {name}"))
    }

    /// `Globals.Function` as written, intrinsics unresolved (in long form).
    pub fn function_globals(&self) -> &Map<String, Json> {
        &self.function_globals
    }

    /// `Globals.Function.Environment.Variables` as written, intrinsics unresolved.
    pub fn global_function_environment(&self) -> Option<&Map<String, Json>> {
        self.function_globals
            .get("Environment")?
            .get("Variables")?
            .as_object()
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

    /// Logical ids ordered so that every resource comes after the resources it refers to;
    /// resources whose condition does not hold are left out.
    fn deployment_order(&self) -> anyhow::Result<Vec<String>> {
        let mut order = Vec::new();
        let mut visiting = BTreeSet::new();
        for id in self.resources.keys() {
            self.visit(id, &mut visiting, &mut order)?;
        }
        let mut active = Vec::new();
        for id in order {
            if self.is_active(&id)? {
                active.push(id);
            }
        }
        Ok(active)
    }

    /// Whether the resource is created: it has no condition or its condition holds. A
    /// conditional resource of a type local mode cannot play fails only when it is active.
    fn is_active(&self, id: &str) -> anyhow::Result<bool> {
        let resource = &self.resources[id];
        let Some(condition) = &resource.condition else {
            return Ok(true);
        };
        let holds = self.condition_holds(condition)?;
        if holds && !parse::is_supported(&resource.resource_type) {
            bail!(
                "resource {id}: local mode does not support the type {} (its condition {condition} holds)",
                resource.resource_type
            );
        }
        Ok(holds)
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

#[cfg(test)]
mod tests {
    use super::deploy::{rate_period, substitute_definition};
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
            "Resources: {Vm: {Type: 'AWS::EC2::Instance'}}",
            Path::new("."),
        )
        .unwrap_err();
        assert!(error.to_string().contains("AWS::EC2::Instance"), "{error}");
    }

    #[test]
    fn operations_resources_are_passed_over() {
        let template = Template::parse(
            concat!(
                "Resources:\n",
                "  Q: {Type: 'AWS::SQS::Queue'}\n",
                "  Logs: {Type: 'AWS::Logs::LogGroup', Properties: {RetentionInDays: 30}}\n",
                "  Alarm: {Type: 'AWS::CloudWatch::Alarm', Properties: {Dimensions: [{Name: QueueName, Value: !GetAtt Q.QueueName}]}}\n",
            ),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(template.resource_type("Logs"), Some("AWS::Logs::LogGroup"));
    }

    #[test]
    fn conditional_resources_follow_their_condition() {
        let text = concat!(
            "Parameters: {SelfTest: {Type: String, Default: 'false'}, Email: {Type: String, Default: ''}}\n",
            "Conditions:\n",
            "  SelfTestEnabled: !Equals [!Ref SelfTest, 'true']\n",
            "  HasEmail: !Not [!Equals [!Ref Email, '']]\n",
            "  Both: !And [!Condition SelfTestEnabled, !Condition HasEmail]\n",
            "Resources:\n",
            "  Q: {Type: 'AWS::SQS::Queue'}\n",
            "  Canary: {Type: 'AWS::Scheduler::Schedule', Condition: SelfTestEnabled}\n",
            "  Extra: {Type: 'AWS::SQS::Queue', Condition: Both}\n",
        );
        let template = Template::parse(text, Path::new(".")).unwrap();
        assert_eq!(template.condition("Canary"), Some("SelfTestEnabled"));
        assert!(!template.condition_holds("HasEmail").unwrap());
        assert_eq!(template.deployment_order().unwrap(), ["Q"]);

        let values = BTreeMap::from([
            ("SelfTest".to_string(), "true".to_string()),
            ("Email".to_string(), "ops@example.com".to_string()),
        ]);
        let enabled = template.with_parameter_values(&values).unwrap();
        assert!(enabled.condition_holds("Both").unwrap());
        let error = format!("{:#}", enabled.deployment_order().unwrap_err());
        assert!(error.contains("AWS::Scheduler::Schedule"), "{error}");
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
