//! `template.yaml` is the one source of truth: it passes cfn-lint, and local mode deploys
//! exactly its tables, queues and state machines into the emulator, with every function's
//! environment and event sources resolved to those resources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use aws_sdk_sqs::types::QueueAttributeName;
use gennaker_local::emulator::{Emulator, gennaker_home, project_root};
use gennaker_local::template::{Deployment, Template, deploy};
use serde_json::{Value as Json, json};

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    scheduler: aws_sdk_scheduler::Client,
}

#[tokio::test]
async fn local_mode_deploys_every_resource_of_the_template() -> anyhow::Result<()> {
    let emulator = Emulator::start().await?;
    let outcome = deploy_and_check(emulator.endpoint()).await;
    emulator.stop().await;
    outcome
}

/// moto rewrote `<RequestId>…</RequestId>` in every response, JSON included, so a message
/// quoting an AWS XML error came back cut short (the emulator now keeps that rewrite to XML).
#[tokio::test]
async fn the_emulator_returns_message_bodies_quoting_aws_xml_errors_unchanged() -> anyhow::Result<()>
{
    let emulator = Emulator::start().await?;
    let sdk = gennaker_runtime::aws::sdk_config(Some(emulator.endpoint())).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name("quoted-errors")
        .send()
        .await?;
    let queue_url = queue.queue_url().context("queue url")?;
    let error = "<ErrorResponse><Error><Code>InvalidTarget</Code></Error><RequestId>1BX</RequestId></ErrorResponse>";
    let body = json!({"status": "TERMINAL", "context": {"exception": {"details": {
        "error": error, "errors": [error]}}}})
    .to_string();
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(&body)
        .send()
        .await?;
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .wait_time_seconds(1)
        .send()
        .await?;
    let returned = received
        .messages()
        .first()
        .and_then(|message| message.body())
        .context("the message")?;
    emulator.stop().await;
    ensure!(returned == body, "the body came back changed: {returned}");
    Ok(())
}

async fn deploy_and_check(endpoint: &str) -> anyhow::Result<()> {
    let sdk = gennaker_runtime::aws::sdk_config(Some(endpoint)).await;
    let template = Template::load(&project_root().join("template.yaml"))?;
    let deployment = deploy(&template, &sdk, &unique_stack_name()).await?;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        sfn: aws_sdk_sfn::Client::new(&sdk),
        scheduler: aws_sdk_scheduler::Client::new(&sdk),
    };
    let mut checked = BTreeSet::new();
    for id in template.logical_ids() {
        let properties = template.properties(id).context("properties")?;
        let check = match template.resource_type(id).unwrap_or_default() {
            "AWS::DynamoDB::Table" => check_table(&clients, &deployment, id, properties).await,
            "AWS::SQS::Queue" => check_queue(&clients, &deployment, id, properties).await,
            "AWS::Serverless::StateMachine" => {
                check_state_machine(&clients, &deployment, id, properties).await
            }
            "AWS::Serverless::Function" => {
                check_function(&clients, &template, &deployment, id, properties).await
            }
            "AWS::Scheduler::ScheduleGroup" => {
                check_schedule_group(&clients, &deployment, id).await
            }
            _ => continue,
        };
        check.with_context(|| format!("checking {id}"))?;
        checked.insert(id);
    }
    // The resources the rest of Gennaker relies on are all there.
    for id in [
        "ApplicationsTable",
        "PipelinesTable",
        "ExecutionsTable",
        "OrchestrationQueue",
        "OrchestrationDeadLetterQueue",
        "ManualJudgmentQueue",
        "ManualJudgmentDeadLetterQueue",
        "PipelineStateMachine",
        "StageStateMachine",
        "ApiFunction",
        "OrchestratorFunction",
        "ManualJudgmentFunction",
        "PipelineTriggerQueue",
        "PipelineTriggerDeadLetterQueue",
        "PipelineTriggersFunction",
        "NotificationQueue",
        "NotificationDeadLetterQueue",
        "NotifierFunction",
        "WebhookQueue",
        "WebhookDeadLetterQueue",
        "WebhookFunction",
        "JenkinsQueue",
        "JenkinsDeadLetterQueue",
        "JenkinsFunction",
        "ScriptQueue",
        "ScriptDeadLetterQueue",
        "ScriptFunction",
        "PreconditionsQueue",
        "PreconditionsDeadLetterQueue",
        "PreconditionsFunction",
        "CronScheduleGroup",
        "ConfigSyncFunction",
        "ServerGroupQueue",
        "ServerGroupDeadLetterQueue",
        "ServerGroupFunction",
        "BakeQueue",
        "BakeDeadLetterQueue",
        "BakeFunction",
    ] {
        ensure!(
            checked.contains(id),
            "{id} is missing from the template or was not checked"
        );
    }
    Ok(())
}

/// Short (queue and machine names have an 80-character limit) and unique per run.
fn unique_stack_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{}-{}", std::process::id(), nanos % 1_000_000_000)
}

async fn check_table(
    clients: &Clients,
    deployment: &Deployment,
    id: &str,
    expected: &Json,
) -> anyhow::Result<()> {
    let deployed = deployment.resource(id)?;
    let table = clients
        .dynamodb
        .describe_table()
        .table_name(&deployed.physical_name)
        .send()
        .await?
        .table
        .context("no table description")?;
    ensure!(
        table.table_arn.as_deref() == deployed.attributes.get("Arn").map(String::as_str),
        "Arn attribute"
    );

    let key_schema: Vec<Json> = table
        .key_schema()
        .iter()
        .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
        .collect();
    ensure!(
        json!(key_schema) == expected["KeySchema"],
        "key schema {key_schema:?} differs from the template"
    );

    let attributes: BTreeSet<String> = table
        .attribute_definitions()
        .iter()
        .map(|a| format!("{}:{}", a.attribute_name(), a.attribute_type().as_str()))
        .collect();
    let expected_attributes: BTreeSet<String> = as_array(&expected["AttributeDefinitions"])
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                text(&a["AttributeName"]),
                text(&a["AttributeType"])
            )
        })
        .collect();
    ensure!(
        attributes == expected_attributes,
        "attribute definitions {attributes:?}"
    );

    let billing = table
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map(|m| m.as_str());
    ensure!(
        billing == expected["BillingMode"].as_str(),
        "billing mode {billing:?}"
    );

    let indexes: BTreeMap<String, Json> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let keys: Vec<Json> = index
                .key_schema()
                .iter()
                .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
                .collect();
            let projection = index.projection().and_then(|p| p.projection_type()).map(|t| t.as_str());
            let name = index.index_name().unwrap_or_default().to_string();
            (name, json!({"KeySchema": keys, "Projection": {"ProjectionType": projection}}))
        })
        .collect();
    let expected_indexes: BTreeMap<String, Json> = as_array(&expected["GlobalSecondaryIndexes"])
        .iter()
        .map(|index| {
            let value = json!({"KeySchema": index["KeySchema"], "Projection": index["Projection"]});
            (text(&index["IndexName"]), value)
        })
        .collect();
    ensure!(
        indexes == expected_indexes,
        "global secondary indexes {indexes:?}"
    );

    let ttl = clients
        .dynamodb
        .describe_time_to_live()
        .table_name(&deployed.physical_name)
        .send()
        .await?
        .time_to_live_description
        .context("no TTL description")?;
    let ttl_status = ttl
        .time_to_live_status()
        .map(|s| s.as_str())
        .unwrap_or("DISABLED");
    match expected.get("TimeToLiveSpecification") {
        Some(spec) => {
            ensure!(ttl_status == "ENABLED", "TTL is {ttl_status}");
            ensure!(
                ttl.attribute_name() == spec["AttributeName"].as_str(),
                "TTL attribute {:?}",
                ttl.attribute_name()
            );
        }
        None => ensure!(
            ttl_status == "DISABLED",
            "TTL is {ttl_status} but the template sets none"
        ),
    }

    let stream = table.stream_specification();
    match expected.get("StreamSpecification") {
        Some(spec) => {
            let view = stream
                .and_then(|s| s.stream_view_type())
                .map(|v| v.as_str());
            ensure!(
                stream.is_some_and(|s| s.stream_enabled()),
                "stream not enabled"
            );
            ensure!(
                view == spec["StreamViewType"].as_str(),
                "stream view type {view:?}"
            );
            ensure!(
                deployed.attributes.contains_key("StreamArn"),
                "no StreamArn attribute"
            );
        }
        None => ensure!(
            !stream.is_some_and(|s| s.stream_enabled()),
            "a stream the template does not ask for"
        ),
    }
    Ok(())
}

async fn check_queue(
    clients: &Clients,
    deployment: &Deployment,
    id: &str,
    expected: &Json,
) -> anyhow::Result<()> {
    let deployed = deployment.resource(id)?;
    let url = clients
        .sqs
        .get_queue_url()
        .queue_name(&deployed.physical_name)
        .send()
        .await?
        .queue_url;
    ensure!(
        url.as_deref() == Some(deployed.ref_value.as_str()),
        "Ref is not the queue's URL: {url:?}"
    );
    let attributes = queue_attributes(clients, &deployed.ref_value).await?;
    ensure!(
        attributes.get("QueueArn") == deployed.attributes.get("Arn"),
        "Arn attribute"
    );

    let fifo = expected["FifoQueue"].as_bool().unwrap_or(false);
    ensure!(
        attributes.get("FifoQueue").map(String::as_str) == fifo.then_some("true"),
        "FifoQueue {attributes:?}"
    );
    ensure!(
        deployed.physical_name.ends_with(".fifo") == fifo,
        "FIFO queue names end in .fifo"
    );
    for attribute in ["VisibilityTimeout", "MessageRetentionPeriod"] {
        if let Some(value) = expected.get(attribute) {
            ensure!(
                attributes.get(attribute) == Some(&value.to_string()),
                "{attribute} is {:?}",
                attributes.get(attribute)
            );
        }
    }

    match expected.get("RedrivePolicy") {
        Some(expected_policy) => {
            let policy: Json = serde_json::from_str(
                attributes
                    .get("RedrivePolicy")
                    .context("no RedrivePolicy")?,
            )?;
            let dlq_id = get_att_target(&expected_policy["deadLetterTargetArn"], "Arn")?;
            let dlq_arn = queue_attributes(clients, &deployment.resource(&dlq_id)?.ref_value)
                .await?["QueueArn"]
                .clone();
            ensure!(
                policy["deadLetterTargetArn"] == json!(dlq_arn),
                "redrive target {policy} is not {dlq_id}"
            );
            ensure!(
                text(&policy["maxReceiveCount"]) == text(&expected_policy["maxReceiveCount"]),
                "maxReceiveCount {policy}"
            );
        }
        None => ensure!(
            !attributes.contains_key("RedrivePolicy"),
            "a redrive policy the template does not set"
        ),
    }
    Ok(())
}

async fn queue_attributes(
    clients: &Clients,
    url: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await?
        .attributes
        .unwrap_or_default();
    Ok(attributes
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect())
}

async fn check_state_machine(
    clients: &Clients,
    deployment: &Deployment,
    id: &str,
    expected: &Json,
) -> anyhow::Result<()> {
    let deployed = deployment.resource(id)?;
    let machine = clients
        .sfn
        .describe_state_machine()
        .state_machine_arn(&deployed.ref_value)
        .send()
        .await?;
    ensure!(
        machine.name() == deployed.physical_name,
        "name {}",
        machine.name()
    );
    ensure!(
        Some(machine.r#type().as_str()) == expected["Type"].as_str(),
        "type {}",
        machine.r#type()
    );

    let definition = machine.definition();
    ensure!(
        !definition.contains("${"),
        "unsubstituted placeholders left in {definition}"
    );
    // The ASL file with each substitution looked up independently in the emulator.
    let mut expected_definition =
        std::fs::read_to_string(project_root().join(text(&expected["DefinitionUri"])))?;
    let substitutions = expected["DefinitionSubstitutions"]
        .as_object()
        .context("no DefinitionSubstitutions")?;
    for (key, value) in substitutions {
        let queue_id = get_att_target(value, "QueueUrl")?;
        let physical_name = &deployment.resource(&queue_id)?.physical_name;
        let url = clients
            .sqs
            .get_queue_url()
            .queue_name(physical_name)
            .send()
            .await?
            .queue_url
            .context("url")?;
        expected_definition = expected_definition.replace(&format!("${{{key}}}"), &url);
    }
    ensure!(
        definition == expected_definition,
        "the definition differs from the substituted ASL file"
    );
    serde_json::from_str::<Json>(definition).context("the deployed definition is not JSON")?;
    Ok(())
}

async fn check_function(
    clients: &Clients,
    template: &Template,
    deployment: &Deployment,
    id: &str,
    expected: &Json,
) -> anyhow::Result<()> {
    let function = deployment.function(id)?;
    // Globals' variables, then the function's own (which win).
    let mut variables = template
        .global_function_environment()
        .cloned()
        .unwrap_or_default();
    if let Some(own) = expected["Environment"]["Variables"].as_object() {
        variables.extend(own.clone());
    }
    let expected_names: BTreeSet<&String> = variables.keys().collect();
    ensure!(
        function.environment.keys().collect::<BTreeSet<_>>() == expected_names,
        "environment names"
    );
    for (name, value) in &function.environment {
        let raw = &variables[name];
        // Optional settings (an empty parameter default) may be empty; nothing else.
        let optional = raw
            .get("Ref")
            .and_then(Json::as_str)
            .and_then(|target| template.parameter_default(target))
            == Some("");
        ensure!(
            (optional || !value.is_empty()) && !value.contains("${"),
            "{name} is not resolved: {value:?}"
        );
        match raw.get("Ref").and_then(Json::as_str) {
            Some(target) if template.parameter_default(target).is_some() => {
                ensure!(
                    Some(value.as_str()) == template.parameter_default(target),
                    "{name} = {value}"
                );
            }
            Some(target) => {
                ensure!(
                    *value == deployment.resource(target)?.ref_value,
                    "{name} = {value} is not {target}"
                );
            }
            None if raw.get("Fn::GetAtt").is_some() => {
                let target = get_att_target(raw, "Arn")?;
                ensure!(
                    Some(value) == deployment.resource(&target)?.attributes.get("Arn"),
                    "{name} = {value} is not the ARN of {target}"
                );
            }
            // A text built from pseudo parameters (e.g. the metrics namespace): resolved above.
            None if raw.get("Fn::Sub").is_some() => {}
            None => bail!("the test does not know how to check {name} = {raw}"),
        }
        if name.ends_with("_TABLE") {
            clients
                .dynamodb
                .describe_table()
                .table_name(value)
                .send()
                .await
                .with_context(|| name.to_string())?;
        }
        if name.ends_with("_STATE_MACHINE_ARN") {
            clients
                .sfn
                .describe_state_machine()
                .state_machine_arn(value)
                .send()
                .await
                .with_context(|| name.to_string())?;
        }
    }

    let events = expected["Events"].as_object().context("no Events")?;
    let expected_sqs: Vec<&Json> = events.values().filter(|e| e["Type"] == "SQS").collect();
    ensure!(
        function.sqs_event_sources.len() == expected_sqs.len(),
        "SQS event sources {:?}",
        function.sqs_event_sources
    );
    for (source, event) in function.sqs_event_sources.iter().zip(expected_sqs) {
        let properties = &event["Properties"];
        let queue_id = get_att_target(&properties["Queue"], "Arn")?;
        ensure!(
            source.queue_logical_id == queue_id,
            "event source queue {}",
            source.queue_logical_id
        );
        ensure!(
            source.queue_url == deployment.resource(&queue_id)?.ref_value,
            "queue URL {}",
            source.queue_url
        );
        ensure!(
            Some(i64::from(source.batch_size)) == properties["BatchSize"].as_i64(),
            "batch size"
        );
        let reports_failures = as_array(&properties["FunctionResponseTypes"])
            .contains(&json!("ReportBatchItemFailures"));
        ensure!(
            source.report_batch_item_failures == reports_failures,
            "ReportBatchItemFailures"
        );
    }
    let expected_streams: Vec<&Json> = events
        .values()
        .filter(|e| e["Type"] == "DynamoDB")
        .collect();
    ensure!(
        function.stream_event_sources.len() == expected_streams.len(),
        "stream event sources {:?}",
        function.stream_event_sources
    );
    for (source, event) in function.stream_event_sources.iter().zip(expected_streams) {
        let properties = &event["Properties"];
        let table_id = get_att_target(&properties["Stream"], "StreamArn")?;
        ensure!(
            source.table_logical_id == table_id
                && Some(&source.stream_arn)
                    == deployment.resource(&table_id)?.attributes.get("StreamArn"),
            "stream of {}",
            source.table_logical_id
        );
        ensure!(
            Some(source.starting_position.as_str()) == properties["StartingPosition"].as_str()
                && Some(i64::from(source.batch_size)) == properties["BatchSize"].as_i64(),
            "starting position and batch size"
        );
        let reports_failures = as_array(&properties["FunctionResponseTypes"])
            .contains(&json!("ReportBatchItemFailures"));
        ensure!(
            source.report_batch_item_failures == reports_failures,
            "ReportBatchItemFailures"
        );
    }
    let has_http_api = events.values().any(|e| e["Type"] == "HttpApi");
    ensure!(function.has_http_api == has_http_api, "has_http_api");
    Ok(())
}

/// The group exists in the emulator under the template's name.
async fn check_schedule_group(
    clients: &Clients,
    deployment: &Deployment,
    id: &str,
) -> anyhow::Result<()> {
    let deployed = deployment.resource(id)?;
    let group = clients
        .scheduler
        .get_schedule_group()
        .name(&deployed.ref_value)
        .send()
        .await?;
    ensure!(group.name() == Some(deployed.ref_value.as_str()), "name");
    Ok(())
}

/// `X` from `{"Fn::GetAtt": "X.<attribute>"}` (or the list form).
fn get_att_target(value: &Json, attribute: &str) -> anyhow::Result<String> {
    let path = match &value["Fn::GetAtt"] {
        Json::String(path) => path.clone(),
        Json::Array(parts) => format!("{}.{}", text(&parts[0]), text(&parts[1])),
        _ => bail!("expected !GetAtt X.{attribute}, found {value}"),
    };
    match path.split_once('.') {
        Some((id, found)) if found == attribute => Ok(id.to_string()),
        _ => bail!("expected !GetAtt X.{attribute}, found {value}"),
    }
}

fn as_array(value: &Json) -> Vec<Json> {
    value.as_array().cloned().unwrap_or_default()
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn template_passes_cfn_lint() -> anyhow::Result<()> {
    let root = project_root();
    let Some(cfn_lint) = find_cfn_lint(&root) else {
        bail!(
            "cfn-lint was found neither in .gennaker/venv/bin nor on PATH; run the project's test \
             script, which installs it into .gennaker/venv (or: .gennaker/venv/bin/pip install cfn-lint)"
        );
    };
    let output = std::process::Command::new(&cfn_lint)
        .arg("template.yaml")
        .current_dir(&root)
        .output()
        .with_context(|| format!("running {}", cfn_lint.display()))?;
    ensure!(
        output.status.success(),
        "cfn-lint template.yaml failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

fn find_cfn_lint(root: &std::path::Path) -> Option<PathBuf> {
    let in_venvs =
        [gennaker_home(), root.join(".gennaker")].map(|home| home.join("venv/bin/cfn-lint"));
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("cfn-lint"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    in_venvs
        .into_iter()
        .chain(on_path)
        .find(|candidate| candidate.is_file())
}
