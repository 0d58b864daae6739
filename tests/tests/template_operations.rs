//! The operations rules of `template.yaml`, checked on the template itself: only the HTTP
//! API is public, roles grant no wildcard where IAM has something specific, and a deployed
//! stack is watched (log retention, alarms on every dead-letter queue and function, a
//! dashboard of every metric the functions write, tracing, the optional self-test).

use std::collections::BTreeSet;

use anyhow::{Context, bail, ensure};
use gennaker_local::emulator::project_root;
use gennaker_local::template::Template;
use gennaker_model::schedules::SelfTestMessage;
use serde_json::{Value as Json, json};

const FUNCTION: &str = "AWS::Serverless::Function";
const STATE_MACHINE: &str = "AWS::Serverless::StateMachine";
const QUEUE: &str = "AWS::SQS::Queue";
const LOG_GROUP: &str = "AWS::Logs::LogGroup";
const ALARM: &str = "AWS::CloudWatch::Alarm";

/// Actions granted on `"*"` because IAM cannot name their resource here, and why.
const UNSCOPABLE: &[(&str, &str)] = &[
    ("states:SendTask", "a task token names no ARN"),
    (
        "ec2:",
        "cloud operations act on resources named at run time in the configured accounts",
    ),
    ("autoscaling:", "as ec2"),
    ("elasticloadbalancing:", "as ec2"),
    (
        "sts:AssumeRole",
        "the roles are named in the Accounts parameter's JSON, which IAM cannot read",
    ),
    (
        "scheduler:ListSchedules",
        "listing cannot be scoped to a group",
    ),
    (
        "logs:CreateLogDelivery",
        "vended log delivery has no resource",
    ),
    ("logs:GetLogDelivery", "as above"),
    ("logs:UpdateLogDelivery", "as above"),
    ("logs:DeleteLogDelivery", "as above"),
    ("logs:ListLogDeliveries", "as above"),
    ("logs:PutResourcePolicy", "as above"),
    ("logs:DescribeResourcePolicies", "as above"),
    ("logs:DescribeLogGroups", "as above"),
    ("xray:", "trace segments have no resource"),
];

fn template() -> anyhow::Result<Template> {
    Template::load(&project_root().join("template.yaml"))
}

fn of_type<'a>(template: &'a Template, resource_type: &'a str) -> Vec<&'a str> {
    template
        .logical_ids()
        .filter(|id| template.resource_type(id) == Some(resource_type))
        .collect()
}

fn properties<'a>(template: &'a Template, id: &str) -> &'a Json {
    template.properties(id).expect("a resource's properties")
}

/// `[x]` for a single value, the items for a list.
fn items(value: &Json) -> Vec<Json> {
    match value {
        Json::Array(items) => items.clone(),
        Json::Null => vec![],
        other => vec![other.clone()],
    }
}

/// `X` of `{"Ref": X}`, `{"Fn::GetAtt": "X.Attr"}` or `["X", "Attr"]`.
fn target(value: &Json) -> Option<String> {
    if let Some(name) = value.get("Ref").and_then(Json::as_str) {
        return Some(name.to_string());
    }
    match value.get("Fn::GetAtt")? {
        Json::String(path) => path.split('.').next().map(str::to_string),
        Json::Array(parts) => parts.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

/// Every IAM statement a resource grants its role: inline `Statement`s of SAM `Policies`
/// (both branches of an `Fn::If`) and the `Policies` of a plain role.
fn granted_statements(template: &Template, id: &str) -> anyhow::Result<Vec<Json>> {
    let props = properties(template, id);
    let mut statements = Vec::new();
    let mut pending: Vec<Json> = items(&props["Policies"]);
    while let Some(policy) = pending.pop() {
        match &policy {
            Json::String(managed) => bail!("{id} attaches the managed policy {managed}"),
            Json::Object(map) => {
                if let Some(branches) = map.get("Fn::If").and_then(Json::as_array) {
                    pending.extend(branches.iter().skip(1).cloned());
                } else if let Some(statement) = map.get("Statement") {
                    statements.extend(items(statement));
                } else if let Some(document) = map.get("PolicyDocument") {
                    statements.extend(items(&document["Statement"]));
                }
                // Otherwise a SAM policy template (e.g. SQSSendMessagePolicy), scoped by
                // the resource it names.
            }
            _ => {}
        }
    }
    Ok(statements)
}

#[test]
fn no_role_grants_a_wildcard_where_iam_has_something_specific() -> anyhow::Result<()> {
    let template = template()?;
    let granting: Vec<&str> = template
        .logical_ids()
        .filter(|id| {
            matches!(
                template.resource_type(id),
                Some(FUNCTION | STATE_MACHINE | "AWS::IAM::Role")
            )
        })
        .collect();
    ensure!(granting.len() > 10, "found only {granting:?}");
    for id in granting {
        for statement in granted_statements(&template, id)? {
            let actions: Vec<String> = items(&statement["Action"])
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_string())
                .collect();
            for action in &actions {
                ensure!(
                    !action.contains('*'),
                    "{id} grants the wildcard action {action}"
                );
            }
            let on_everything = items(&statement["Resource"]).contains(&json!("*"));
            if !on_everything {
                continue;
            }
            for action in &actions {
                let unscopable = UNSCOPABLE
                    .iter()
                    .any(|(prefix, _)| action.starts_with(prefix));
                // Passing a role to EC2 is allowed on any role, but only to EC2.
                let passes_only_to_ec2 = action == "iam:PassRole"
                    && statement.pointer("/Condition/StringEquals/iam:PassedToService")
                        == Some(&json!("ec2.amazonaws.com"));
                ensure!(
                    unscopable || passes_only_to_ec2,
                    "{id} grants {action} on every resource; name the resource"
                );
            }
        }
    }
    Ok(())
}

/// Every principal a policy anywhere in the template names.
fn principals(value: &Json, found: &mut Vec<(Json, Json)>) {
    match value {
        Json::Object(map) => {
            if let Some(principal) = map.get("Principal") {
                found.push((
                    principal.clone(),
                    map.get("Condition").cloned().unwrap_or(Json::Null),
                ));
            }
            map.values().for_each(|v| principals(v, found));
        }
        Json::Array(list) => list.iter().for_each(|v| principals(v, found)),
        _ => {}
    }
}

#[test]
fn only_the_http_api_is_public() -> anyhow::Result<()> {
    let template = template()?;
    for id in template.logical_ids() {
        let resource_type = template.resource_type(id).unwrap_or_default();
        ensure!(
            !resource_type.starts_with("AWS::ApiGateway")
                && !matches!(
                    resource_type,
                    "AWS::Serverless::Api"
                        | "AWS::Lambda::Permission"
                        | "AWS::Lambda::Url"
                        | "AWS::Events::EventBusPolicy"
                        | "AWS::SNS::TopicPolicy"
                        | "AWS::SQS::QueueInlinePolicy"
                ),
            "{id} ({resource_type}) opens a way in besides the HTTP API"
        );
        let props = properties(&template, id);
        ensure!(
            props.get("FunctionUrlConfig").is_none(),
            "{id} has a function URL"
        );
        // Resource policies let in AWS services only, each for one source (no confused deputy).
        let mut found = Vec::new();
        principals(props, &mut found);
        for (principal, condition) in found {
            let services = items(&principal["Service"]);
            ensure!(
                !services.is_empty() && principal.as_object().is_some_and(|p| p.len() == 1),
                "{id} lets in the principal {principal}"
            );
            ensure!(
                !condition.is_null(),
                "{id} lets in {principal} without a condition on the source"
            );
        }
        // Only the API function is reached over HTTP, and only through the one HttpApi.
        if template.resource_type(id) == Some(FUNCTION) {
            for event in props["Events"]
                .as_object()
                .into_iter()
                .flat_map(|e| e.values())
            {
                match event["Type"].as_str().unwrap_or_default() {
                    "HttpApi" => ensure!(
                        id == "ApiFunction"
                            && target(&event["Properties"]["ApiId"]).as_deref() == Some("HttpApi"),
                        "{id} is reached over HTTP"
                    ),
                    "SQS" | "Schedule" | "DynamoDB" => {}
                    other => bail!("{id} has an event source of type {other}"),
                }
            }
        }
    }
    ensure!(
        of_type(&template, "AWS::Serverless::HttpApi") == ["HttpApi"],
        "one HTTP API"
    );
    Ok(())
}

#[test]
fn every_function_and_state_machine_logs_to_a_group_with_bounded_retention() -> anyhow::Result<()> {
    let template = template()?;
    let retention = template.parameter_default("LogRetentionDays");
    ensure!(
        retention == Some("30"),
        "LogRetentionDays defaults to {retention:?}"
    );
    for id in of_type(&template, LOG_GROUP) {
        ensure!(
            properties(&template, id)["RetentionInDays"] == json!({"Ref": "LogRetentionDays"}),
            "{id} keeps its logs for ever"
        );
    }
    let groups: BTreeSet<&str> = of_type(&template, LOG_GROUP).into_iter().collect();
    for id in of_type(&template, FUNCTION) {
        let logging = &properties(&template, id)["LoggingConfig"];
        ensure!(logging["LogFormat"] == "JSON", "{id} does not log JSON");
        let group = target(&logging["LogGroup"]).with_context(|| format!("{id}'s log group"))?;
        ensure!(
            groups.contains(group.as_str()),
            "{id} logs to {group}, no log group here"
        );
    }
    for id in of_type(&template, STATE_MACHINE) {
        let logging = &properties(&template, id)["Logging"];
        let destination = &logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"];
        let group = target(destination).with_context(|| format!("{id} has no log group"))?;
        ensure!(groups.contains(group.as_str()), "{id} logs to {group}");
        ensure!(
            logging["IncludeExecutionData"] == json!(false),
            "{id} logs execution data (secrets in contexts)"
        );
    }
    Ok(())
}

#[test]
fn the_api_functions_and_state_machines_are_traced() -> anyhow::Result<()> {
    let template = template()?;
    ensure!(
        template.function_globals().get("Tracing") == Some(&json!("Active")),
        "functions are not traced"
    );
    for id in of_type(&template, FUNCTION) {
        let own = &properties(&template, id)["Tracing"];
        ensure!(own.is_null() || *own == "Active", "{id} turns tracing off");
    }
    for id in of_type(&template, STATE_MACHINE) {
        ensure!(
            properties(&template, id)["Tracing"]["Enabled"] == json!(true),
            "{id} is not traced"
        );
    }
    Ok(())
}

/// The alarms of the template, each as (metric, the resource its dimension names).
fn alarms(template: &Template) -> anyhow::Result<Vec<(String, String, Option<String>)>> {
    let mut found = Vec::new();
    for id in of_type(template, ALARM) {
        let props = properties(template, id);
        let actions = items(&props["AlarmActions"]);
        ensure!(
            actions
                .iter()
                .any(|a| target(a).as_deref() == Some("AlarmTopic")),
            "{id} notifies no one"
        );
        let metric = props["MetricName"].as_str().unwrap_or_default().to_string();
        let namespace = props["Namespace"].as_str().unwrap_or_default().to_string();
        let dimension = items(&props["Dimensions"])
            .first()
            .and_then(|d| target(&d["Value"]));
        found.push((namespace, metric, dimension));
    }
    Ok(found)
}

#[test]
fn dead_letter_queues_functions_and_the_orchestrator_queue_have_alarms() -> anyhow::Result<()> {
    let template = template()?;
    let alarms = alarms(&template)?;
    let has = |namespace: &str, metric: &str, dimension: Option<&str>| {
        alarms
            .iter()
            .any(|(n, m, d)| n == namespace && m == metric && d.as_deref() == dimension)
    };
    let dead_letter_queues: BTreeSet<String> = of_type(&template, QUEUE)
        .into_iter()
        .filter_map(|id| target(&properties(&template, id)["RedrivePolicy"]["deadLetterTargetArn"]))
        .collect();
    ensure!(dead_letter_queues.len() >= 10, "{dead_letter_queues:?}");
    for queue in &dead_letter_queues {
        ensure!(
            has("AWS/SQS", "ApproximateNumberOfMessagesVisible", Some(queue)),
            "no alarm on messages in {queue}"
        );
    }
    for function in of_type(&template, FUNCTION) {
        ensure!(
            has("AWS/Lambda", "Errors", Some(function)),
            "no alarm on {function}'s errors"
        );
    }
    ensure!(
        has("AWS/Lambda", "Throttles", None),
        "no alarm on throttled functions"
    );
    ensure!(
        has(
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            Some("OrchestrationQueue")
        ),
        "no alarm on the orchestrator falling behind"
    );
    let subscription = properties(&template, "AlarmEmailSubscription");
    ensure!(
        template.resource_type("AlarmTopic") == Some("AWS::SNS::Topic")
            && subscription["Protocol"] == "email"
            && subscription["Endpoint"] == json!({"Ref": "AlarmEmail"})
            && template.condition("AlarmEmailSubscription") == Some("HasAlarmEmail"),
        "the alarm topic's email subscription"
    );
    Ok(())
}

#[test]
fn the_dashboard_shows_every_metric_the_functions_write() -> anyhow::Result<()> {
    let template = template()?;
    let body = properties(&template, "Dashboard")["DashboardBody"]["Fn::Sub"]
        .as_str()
        .context("the dashboard body is one !Sub text")?;
    for metric in gennaker_runtime::metrics::ALL {
        ensure!(
            body.contains(&format!("{metric}\\\"")) || body.contains(&format!("\"{metric}\"")),
            "the dashboard does not show {metric}"
        );
    }
    // With its placeholders filled, the body is the JSON CloudWatch expects.
    let filled = fill_placeholders(body);
    let parsed: Json = serde_json::from_str(&filled).context("the dashboard body is not JSON")?;
    ensure!(
        parsed["widgets"].as_array().is_some_and(|w| !w.is_empty()),
        "no widgets"
    );
    Ok(())
}

/// The text with every `${...}` replaced by `x`.
fn fill_placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        out.push('x');
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_optional_self_test_runs_the_canary_pipeline_and_alarms_when_it_does_not_succeed()
-> anyhow::Result<()> {
    let template = template()?;
    ensure!(
        template.parameter_default("SelfTest") == Some("false"),
        "off by default"
    );
    ensure!(
        !template.condition_holds("SelfTestEnabled")?,
        "condition off by default"
    );
    for id in [
        "SelfTestRunSchedule",
        "SelfTestSucceededMetricFilter",
        "SelfTestAlarm",
    ] {
        ensure!(
            template.condition(id) == Some("SelfTestEnabled"),
            "{id} is not optional"
        );
    }
    let schedule = properties(&template, "SelfTestRunSchedule");
    ensure!(
        target(&schedule["Target"]["Arn"]).as_deref() == Some("PipelineTriggerQueue"),
        "the self-test goes to the triggers queue"
    );
    let input = schedule["Target"]["Input"]["Fn::Sub"][0]
        .as_str()
        .context("the schedule's input is a !Sub text")?;
    // The message the triggers function reads, with this API's /version to call.
    let message: SelfTestMessage = serde_json::from_str(&fill_placeholders(input))
        .context("the self-test message does not parse as the triggers function's")?;
    let pipelines = &message.self_test.pipelines;
    let parent = pipelines.last().context("no pipeline")?;
    let types: Vec<&str> = parent["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|stage| stage["type"].as_str())
        .collect();
    ensure!(
        types == ["wait", "webhook", "checkPreconditions", "pipeline"],
        "the parent's stages are {types:?}"
    );
    let child_id = parent["stages"][3]["pipeline"].as_str();
    ensure!(
        pipelines.first().and_then(|child| child["id"].as_str()) == child_id,
        "the child is saved before the parent that runs it"
    );
    ensure!(
        schedule["Target"]["Input"]["Fn::Sub"][1]["VersionUrl"]["Fn::Sub"]
            .as_str()
            .is_some_and(|url| url.contains("${HttpApi}") && url.ends_with("/version")),
        "the webhook calls this stack's /version"
    );
    let alarm = properties(&template, "SelfTestAlarm");
    ensure!(
        alarm["TreatMissingData"] == "breaching"
            && alarm["ComparisonOperator"] == "LessThanThreshold",
        "a self-test that does not complete alarms"
    );
    Ok(())
}
