//! `deployCloudFormation` stages (Orca's `DeployCloudFormationStage`, Clouddriver's
//! `DeployCloudFormationAtomicOperation`): the stage context read into a checked request,
//! how a stack or change set status reads (Orca's `WaitForCloudFormationCompletionTask`),
//! which stack events explain a failure, and the stack as the stage outputs it (Clouddriver's
//! CloudFormation stack model). Pure: the calls are in `aws/stacks.rs`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::requests::{Location, RequestError, account, invalid, strings, text};

/// What a `deployCloudFormation` stage asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployStackRequest {
    pub location: Location,
    pub stack_name: String,
    /// The template as CloudFormation takes it (JSON when the stage held an object).
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub role_arn: Option<String>,
    /// `isChangeSet`: create a change set instead of changing the stack directly.
    pub change_set: Option<ChangeSetRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetRequest {
    pub name: String,
    /// `executeChangeSet`: execute it once it is ready.
    pub execute: bool,
    /// What to do when executing would replace resources.
    pub on_replacement: OnReplacement,
}

/// `actionOnReplacement` (or the `changeSetExecutionChoice` Deck records for `ask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnReplacement {
    /// Ask someone (Deck's buttons): Gennaker offers no such choice, so the stage fails
    /// with a message saying how to decide in the config instead.
    Ask,
    Execute,
    Skip,
    Fail,
}

/// Why a stage with this context cannot run even though its type can: a template held in
/// an artifact (`source: artifact`), which Gennaker cannot fetch yet.
pub fn unsupported_template_source(context: &Map<String, Value>) -> Option<String> {
    (text(context, "source") == Some("artifact")).then(|| {
        "Gennaker cannot fetch CloudFormation templates from artifacts yet (source: artifact); \
         put the template in the stage (source: text, templateBody)"
            .to_string()
    })
}

/// Reads a `deployCloudFormation` stage context (Deck's shape) into a checked request.
pub fn deploy_stack(context: &Map<String, Value>) -> Result<DeployStackRequest, RequestError> {
    if let Some(reason) = unsupported_template_source(context) {
        return Err(invalid("source", reason));
    }
    if let Some(source) = text(context, "source")
        && source != "text"
    {
        return Err(invalid(
            "source",
            format!("'{source}' is not a template source (text or artifact)"),
        ));
    }
    // Orca deploys to the first region of `regions` only.
    let region = strings(context, "regions")
        .into_iter()
        .next()
        .or_else(|| text(context, "region").map(str::to_string))
        .ok_or_else(|| {
            invalid(
                "regions",
                "No regions selected. At least one region must be chosen.",
            )
        })?;
    let stack_name = text(context, "stackName")
        .ok_or_else(|| invalid("stackName", "name the stack"))?
        .to_string();
    let change_set = match flag(context, "isChangeSet")? {
        false => None,
        true => Some(ChangeSetRequest {
            name: text(context, "changeSetName")
                .ok_or_else(|| invalid("changeSetName", "name the change set (isChangeSet)"))?
                .to_string(),
            execute: flag(context, "executeChangeSet")?,
            on_replacement: on_replacement(context)?,
        }),
    };
    Ok(DeployStackRequest {
        location: Location {
            account: account(context)?,
            region,
        },
        stack_name,
        template_body: template_body(context)?,
        parameters: string_map(context, "parameters")?,
        tags: string_map(context, "tags")?,
        capabilities: strings(context, "capabilities"),
        role_arn: text(context, "roleARN").map(str::to_string),
        change_set,
    })
}

/// `templateBody`: text as given; an object (what Deck keeps after parsing the editor's
/// YAML) as JSON; a list of one such object (Deck's multi-document form) as that object.
fn template_body(context: &Map<String, Value>) -> Result<String, RequestError> {
    let missing = || invalid("templateBody", "give the stack's template (text or object)");
    match context.get("templateBody") {
        Some(Value::String(body)) if !body.trim().is_empty() => Ok(body.clone()),
        Some(Value::Object(body)) if !body.is_empty() => {
            Ok(Value::Object(body.clone()).to_string())
        }
        Some(Value::Array(documents)) => match documents.as_slice() {
            [Value::Object(body)] if !body.is_empty() => {
                Ok(Value::Object(body.clone()).to_string())
            }
            [] => Err(missing()),
            _ => Err(invalid(
                "templateBody",
                "a CloudFormation stack takes one template document",
            )),
        },
        None | Some(Value::Null) | Some(Value::String(_)) | Some(Value::Object(_)) => {
            Err(missing())
        }
        Some(_) => Err(invalid("templateBody", "must be text or an object")),
    }
}

/// An object of strings (`parameters`, `tags`); numbers and booleans as their text, as
/// Jackson reads them into Clouddriver's `Map<String, String>`.
fn string_map(
    context: &Map<String, Value>,
    key: &str,
) -> Result<BTreeMap<String, String>, RequestError> {
    match context.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok((name.clone(), text.clone())),
                Value::Number(_) | Value::Bool(_) => Ok((name.clone(), value.to_string())),
                _ => Err(invalid(
                    &format!("{key}.{name}"),
                    "must be text, a number or a boolean",
                )),
            })
            .collect(),
        Some(_) => Err(invalid(key, "must be an object of names to values")),
    }
}

/// A boolean field, absent = false; `"true"`/`"false"` as Jackson coerces them.
fn flag(context: &Map<String, Value>, key: &str) -> Result<bool, RequestError> {
    match context.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid(key, "must be true or false")),
    }
}

fn on_replacement(context: &Map<String, Value>) -> Result<OnReplacement, RequestError> {
    let (field, choice) = match text(context, "changeSetExecutionChoice") {
        Some(choice) => ("changeSetExecutionChoice", choice),
        None => (
            "actionOnReplacement",
            text(context, "actionOnReplacement").unwrap_or("ask"),
        ),
    };
    match choice {
        "ask" => Ok(OnReplacement::Ask),
        "execute" => Ok(OnReplacement::Execute),
        "skip" => Ok(OnReplacement::Skip),
        "fail" => Ok(OnReplacement::Fail),
        other => Err(invalid(
            field,
            format!("'{other}' is not one of ask, execute, skip, fail"),
        )),
    }
}

/// Where a stack stands, from its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackState {
    /// The last operation finished well.
    Settled,
    /// Still working: poll again.
    InProgress,
    /// The last operation failed (rolled back or stuck).
    Failed,
}

/// Reads a stack status as Orca's `WaitForCloudFormationCompletionTask` does, with one
/// difference: `UPDATE_ROLLBACK_COMPLETE` (an update that failed and was rolled back) is a
/// failure here, where Orca reports it as success.
pub fn stack_state(status: &str) -> StackState {
    if status.ends_with("ROLLBACK_COMPLETE") || status.ends_with("FAILED") {
        StackState::Failed
    } else if status.ends_with("IN_PROGRESS") {
        StackState::InProgress
    } else if status.ends_with("_COMPLETE") {
        StackState::Settled
    } else {
        StackState::Failed
    }
}

/// A change set as CloudFormation describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSet {
    pub id: String,
    pub name: String,
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED`, ...
    pub status: String,
    pub status_reason: Option<String>,
    /// `AVAILABLE`, `EXECUTE_IN_PROGRESS`, `EXECUTE_COMPLETE`, ...
    pub execution_status: Option<String>,
    pub changes: Vec<ResourceChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceChange {
    pub action: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` (absent when the emulator does not say).
    pub replacement: Option<String>,
}

/// Where a change set stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSetState {
    InProgress,
    Ready,
    /// Nothing to change: Orca deletes such a change set and succeeds.
    Empty,
    Failed(String),
}

pub fn change_set_state(change_set: &ChangeSet) -> ChangeSetState {
    match change_set.status.as_str() {
        "CREATE_COMPLETE" => ChangeSetState::Ready,
        "FAILED" => {
            let reason = change_set.status_reason.clone().unwrap_or_default();
            if reason.starts_with("The submitted information didn't contain changes")
                || reason.starts_with("No updates are to be performed")
            {
                ChangeSetState::Empty
            } else {
                ChangeSetState::Failed(reason)
            }
        }
        _ => ChangeSetState::InProgress,
    }
}

impl ChangeSet {
    /// The resources executing this change set would replace (`Replacement: True`).
    pub fn replacements(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|change| change.replacement.as_deref() == Some("True"))
            .map(|change| change.logical_resource_id.as_str())
            .collect()
    }

    /// Whether it was executed (or is being executed) already.
    pub fn executed(&self) -> bool {
        self.execution_status
            .as_deref()
            .is_some_and(|status| status.starts_with("EXECUTE_"))
    }

    /// Clouddriver's change set model, as Orca's outputs show it.
    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .changes
            .iter()
            .map(|change| {
                json!({"type": "Resource", "resourceChange": {
                    "action": change.action,
                    "logicalResourceId": change.logical_resource_id,
                    "physicalResourceId": change.physical_resource_id,
                    "resourceType": change.resource_type,
                    "replacement": change.replacement,
                }})
            })
            .collect();
        json!({"id": self.id, "name": self.name, "status": self.status,
               "statusReason": self.status_reason, "executionStatus": self.execution_status,
               "changes": changes})
    }
}

/// A stack as CloudFormation describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stack {
    pub stack_id: String,
    pub stack_name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Stack {
    /// The stage outputs: Clouddriver's stack model (`stackId`, `stackName`, `stackStatus`,
    /// `outputs` as an object of output values, `tags`, `changeSets`), which Orca puts in
    /// the stage outputs, so later stages read `${#stage('…')['outputs']['outputs']['Url']}`.
    pub fn to_outputs(
        &self,
        location: &Location,
        change_sets: &[&ChangeSet],
    ) -> Map<String, Value> {
        let change_sets: Vec<Value> = change_sets.iter().map(|set| set.to_json()).collect();
        let value = json!({
            "stackId": self.stack_id,
            "stackName": self.stack_name,
            "stackStatus": self.status,
            "stackStatusReason": self.status_reason,
            "region": location.region,
            "accountName": location.account,
            "outputs": self.outputs,
            "tags": self.tags,
            "changeSets": change_sets,
        });
        match value {
            Value::Object(outputs) => outputs,
            _ => Map::new(),
        }
    }
}

/// One entry of a stack's event history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackEvent {
    pub logical_resource_id: String,
    pub resource_type: String,
    pub status: String,
    pub status_reason: Option<String>,
}

/// Why the last operation failed: the failed resources' events (newest first, as
/// CloudFormation lists them) of the last operation, that is up to the first event of the
/// stack itself that started it (`*_IN_PROGRESS` with reason `User Initiated`).
pub fn failure_report(stack: &Stack, events_newest_first: &[StackEvent]) -> String {
    let failures: Vec<String> = events_newest_first
        .iter()
        .take_while(|event| {
            !(event.resource_type == "AWS::CloudFormation::Stack"
                && event.status.ends_with("_IN_PROGRESS")
                && event.status_reason.as_deref() == Some("User Initiated"))
        })
        .filter(|event| event.status.ends_with("_FAILED"))
        .filter(|event| event.resource_type != "AWS::CloudFormation::Stack")
        .map(|event| {
            format!(
                "{} ({}) {}: {}",
                event.logical_resource_id,
                event.resource_type,
                event.status,
                event.status_reason.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    let mut report = format!("Stack {} is {}", stack.stack_name, stack.status);
    if let Some(reason) = stack.status_reason.as_deref().filter(|r| !r.is_empty()) {
        report.push_str(&format!(" ({reason})"));
    }
    if !failures.is_empty() {
        report.push_str(&format!(
            "; failed resources: {}",
            failures.into_iter().rev().collect::<Vec<_>>().join("; ")
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    /// What Deck writes for a text template.
    fn deck_stage() -> Map<String, Value> {
        context(json!({
            "type": "deployCloudFormation", "name": "Deploy stack", "cloudProvider": "aws",
            "source": "text", "credentials": "default", "regions": ["us-east-1", "eu-west-1"],
            "stackName": "orders",
            "templateBody": {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}},
            "parameters": {"Env": "prod", "Size": 3}, "tags": {"team": "orders"},
            "capabilities": ["CAPABILITY_IAM"], "roleARN": "arn:aws:iam::123456789012:role/cfn",
            "isChangeSet": false
        }))
    }

    #[test]
    fn a_deck_stage_reads_into_a_request_for_its_first_region() {
        let request = deploy_stack(&deck_stage()).unwrap();
        assert_eq!(
            request.location,
            Location {
                account: "default".into(),
                region: "us-east-1".into()
            }
        );
        assert_eq!(request.stack_name, "orders");
        let template: Value = serde_json::from_str(&request.template_body).unwrap();
        assert_eq!(template["Resources"]["Queue"]["Type"], "AWS::SQS::Queue");
        assert_eq!(request.parameters["Size"], "3");
        assert_eq!(request.tags["team"], "orders");
        assert_eq!(request.capabilities, ["CAPABILITY_IAM"]);
        assert_eq!(
            request.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/cfn")
        );
        assert_eq!(request.change_set, None);
    }

    #[test]
    fn a_text_template_is_passed_as_written() {
        let mut stage = deck_stage();
        let yaml = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n";
        stage.insert("templateBody".into(), json!(yaml));
        assert_eq!(deploy_stack(&stage).unwrap().template_body, yaml);
        stage.insert("templateBody".into(), json!([{"Resources": {}}]));
        assert_eq!(
            deploy_stack(&stage).unwrap().template_body,
            r#"{"Resources":{}}"#
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            ("templateBody", json!(null), "templateBody"),
            ("templateBody", json!({}), "templateBody"),
            ("templateBody", json!([{"a": 1}, {"b": 2}]), "templateBody"),
            ("stackName", json!(""), "stackName"),
            ("regions", json!([]), "regions"),
            ("parameters", json!(["Env"]), "parameters"),
            ("parameters", json!({"Env": {"a": 1}}), "parameters.Env"),
            ("isChangeSet", json!("maybe"), "isChangeSet"),
            ("source", json!("git"), "source"),
            ("source", json!("artifact"), "source"),
        ];
        for (key, value, field) in cases {
            let mut stage = deck_stage();
            stage.insert(key.into(), value.clone());
            let error = deploy_stack(&stage).unwrap_err();
            assert_eq!(error.field, field, "{key} = {value}: {error}");
        }
    }

    #[test]
    fn a_change_set_needs_a_name_and_reads_its_replacement_choice() {
        let mut stage = deck_stage();
        stage.insert("isChangeSet".into(), json!(true));
        assert_eq!(deploy_stack(&stage).unwrap_err().field, "changeSetName");
        stage.insert("changeSetName".into(), json!("review"));
        stage.insert("executeChangeSet".into(), json!("true"));
        let change_set = deploy_stack(&stage).unwrap().change_set.unwrap();
        assert_eq!(
            change_set,
            ChangeSetRequest {
                name: "review".into(),
                execute: true,
                on_replacement: OnReplacement::Ask
            }
        );
        stage.insert("actionOnReplacement".into(), json!("skip"));
        let change_set = deploy_stack(&stage).unwrap().change_set.unwrap();
        assert_eq!(change_set.on_replacement, OnReplacement::Skip);
        stage.insert("changeSetExecutionChoice".into(), json!("execute"));
        let change_set = deploy_stack(&stage).unwrap().change_set.unwrap();
        assert_eq!(change_set.on_replacement, OnReplacement::Execute);
    }

    #[test]
    fn stack_statuses_read_as_orca_reads_them_but_a_rolled_back_update_fails() {
        for status in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"] {
            assert_eq!(stack_state(status), StackState::Settled, "{status}");
        }
        for status in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            assert_eq!(stack_state(status), StackState::InProgress, "{status}");
        }
        for status in [
            "ROLLBACK_COMPLETE",
            "CREATE_FAILED",
            "UPDATE_ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_FAILED",
        ] {
            assert_eq!(stack_state(status), StackState::Failed, "{status}");
        }
    }

    #[test]
    fn an_empty_change_set_is_told_from_a_failed_one() {
        let mut change_set = ChangeSet {
            status: "FAILED".into(),
            status_reason: Some("The submitted information didn't contain changes. Submit different information to create a change set.".into()),
            ..ChangeSet::default()
        };
        assert_eq!(change_set_state(&change_set), ChangeSetState::Empty);
        change_set.status_reason = Some("Template format error".into());
        assert_eq!(
            change_set_state(&change_set),
            ChangeSetState::Failed("Template format error".into())
        );
        change_set.status = "CREATE_PENDING".into();
        assert_eq!(change_set_state(&change_set), ChangeSetState::InProgress);
    }

    fn event(id: &str, kind: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            logical_resource_id: id.into(),
            resource_type: kind.into(),
            status: status.into(),
            status_reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn a_failure_reports_the_failed_resources_of_the_last_operation() {
        let stack = Stack {
            stack_name: "orders".into(),
            status: "UPDATE_ROLLBACK_COMPLETE".into(),
            ..Stack::default()
        };
        let stack_type = "AWS::CloudFormation::Stack";
        // Newest first, as DescribeStackEvents lists them.
        let events = [
            event("orders", stack_type, "UPDATE_ROLLBACK_COMPLETE", None),
            event(
                "Queue",
                "AWS::SQS::Queue",
                "UPDATE_FAILED",
                Some("Queue name taken"),
            ),
            event("Topic", "AWS::SNS::Topic", "UPDATE_COMPLETE", None),
            event(
                "orders",
                stack_type,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event(
                "Old",
                "AWS::SQS::Queue",
                "CREATE_FAILED",
                Some("from an earlier run"),
            ),
        ];
        assert_eq!(
            failure_report(&stack, &events),
            "Stack orders is UPDATE_ROLLBACK_COMPLETE; failed resources: \
             Queue (AWS::SQS::Queue) UPDATE_FAILED: Queue name taken"
        );
    }

    #[test]
    fn outputs_have_clouddrivers_stack_shape() {
        let stack = Stack {
            stack_id: "arn:stack".into(),
            stack_name: "orders".into(),
            status: "CREATE_COMPLETE".into(),
            outputs: [("QueueUrl".to_string(), "https://q".to_string())].into(),
            ..Stack::default()
        };
        let location = Location {
            account: "default".into(),
            region: "us-east-1".into(),
        };
        let outputs = Value::Object(stack.to_outputs(&location, &[]));
        assert_eq!(outputs["outputs"]["QueueUrl"], "https://q");
        assert_eq!(outputs["stackStatus"], "CREATE_COMPLETE");
        assert_eq!(outputs["changeSets"], json!([]));
    }
}
