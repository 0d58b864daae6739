//! `deployCloudFormation` against local mode: pipelines run through the public API, and
//! every effect is checked through the emulator's CloudFormation and SQS APIs.
//!
//! What the emulator (moto 5.2.5) cannot show, and so is not asserted here: stacks settle
//! within the call that changes them (the stage's RUNNING polls are not exercised here), a
//! resource that fails makes the API call itself fail (no CREATE_FAILED or ROLLBACK_COMPLETE
//! stack, no per-resource events; the failed-resource report is tested in
//! `gennaker_cloud::cloudformation`), change sets never carry `Replacement`, and a stack's
//! outputs are not refreshed when a change set runs.

mod support;

use aws_sdk_cloudformation::types::Stack;
use serde_json::{Value, json};
use support::{TestApp, judgment, stage};

const REGION: &str = "us-east-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/cloudformation-deployer";

/// A queue named after the `Env` parameter, and its URL and ARN as outputs.
fn queue_template() -> Value {
    json!({
        "Parameters": {"Env": {"Type": "String"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                "Properties": {"QueueName": {"Fn::Sub": "orders-${Env}"}}}},
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}},
                    "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}}
    })
}

/// The same queue and a dead-letter queue, as YAML text (what Deck's text editor keeps).
const WITH_DEAD_LETTERS: &str = "\
Parameters:
  Env:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub orders-${Env}
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub orders-${Env}-dlq
Outputs:
  QueueUrl:
    Value: !Ref Queue
";

/// A Deck-shaped `deployCloudFormation` stage with `extra` laid over it.
fn stack_stage(ref_id: &str, requisites: &[&str], name: &str, extra: Value) -> Value {
    let mut stage = json!({
        "refId": ref_id, "requisiteStageRefIds": requisites, "type": "deployCloudFormation",
        "name": name, "cloudProvider": "aws", "credentials": "default", "regions": [REGION],
        "source": "text", "stackName": "orders", "templateBody": queue_template(),
        "parameters": {"Env": "prod"}, "tags": {"team": "orders"},
        "capabilities": ["CAPABILITY_IAM"], "roleARN": ROLE, "isChangeSet": false
    });
    for (key, value) in extra.as_object().unwrap() {
        stage[key] = value.clone();
    }
    stage
}

async fn stack(cloudformation: &aws_sdk_cloudformation::Client, name: &str) -> Stack {
    let found = cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .expect("the stack exists");
    found.stacks()[0].clone()
}

async fn queue_exists(sqs: &aws_sdk_sqs::Client, name: &str) -> bool {
    sqs.get_queue_url().queue_name(name).send().await.is_ok()
}

#[tokio::test]
async fn stacks_deploy_with_outputs_change_sets_wait_for_a_judgment_and_failures_say_why() {
    let app = TestApp::spawn().await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&app.running.sdk);
    let sqs = aws_sdk_sqs::Client::new(&app.running.sdk);

    // 1. Create the stack; a later stage reads its outputs.
    let deploy = vec![
        stack_stage("1", &[], "Deploy stack", json!({})),
        json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "evaluateVariables",
               "name": "Read outputs", "variables": [{"key": "queueUrl",
               "value": "${#stage('Deploy stack')['outputs']['outputs']['QueueUrl']}"}]}),
    ];
    let id = app.save_and_trigger("shop", "Deploy stack", deploy).await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let created = stack(&cloudformation, "orders").await;
    assert_eq!(created.stack_status().unwrap().as_str(), "CREATE_COMPLETE");
    assert_eq!(created.role_arn(), Some(ROLE));
    let tags: Vec<(&str, &str)> = created
        .tags()
        .iter()
        .map(|tag| (tag.key().unwrap(), tag.value().unwrap()))
        .collect();
    assert_eq!(tags, [("team", "orders")]);
    assert!(queue_exists(&sqs, "orders-prod").await);
    let outputs = &stage(&execution, "1")["outputs"];
    assert_eq!(outputs["stackId"], created.stack_id().unwrap());
    assert_eq!(outputs["stackStatus"], "CREATE_COMPLETE");
    let queue_url = outputs["outputs"]["QueueUrl"].as_str().unwrap();
    assert!(queue_url.ends_with("/orders-prod"), "{outputs}");
    assert!(
        outputs["outputs"]["QueueArn"]
            .as_str()
            .unwrap()
            .ends_with(":orders-prod")
    );
    assert_eq!(stage(&execution, "2")["outputs"]["queueUrl"], queue_url);

    // 2. Deploying the same template again changes nothing and succeeds.
    let again = app.trigger("shop", "Deploy stack").await;
    let execution = app.ended(&again).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        stage(&execution, "1")["outputs"]["stackId"],
        created.stack_id().unwrap()
    );

    // 3. A change set is created, reviewed behind a manual judgment, then executed.
    let change_set = json!({"isChangeSet": true, "changeSetName": "add-dead-letters",
                            "templateBody": WITH_DEAD_LETTERS, "actionOnReplacement": "fail"});
    let mut execute = change_set.clone();
    execute["executeChangeSet"] = json!(true);
    let release = vec![
        stack_stage("1", &[], "Plan", change_set),
        judgment(
            "2",
            &["1"],
            json!({"instructions": "Review the change set"}),
        ),
        stack_stage("3", &["2"], "Release", execute),
    ];
    let id = app.save_and_trigger("shop", "Release", release).await;
    let waiting = app
        .wait_for_execution(&id, "the judgment", |execution| {
            stage(execution, "2")["status"] == "RUNNING"
        })
        .await;
    let planned = cloudformation
        .describe_change_set()
        .stack_name("orders")
        .change_set_name("add-dead-letters")
        .send()
        .await
        .unwrap();
    assert_eq!(planned.status().unwrap().as_str(), "CREATE_COMPLETE");
    assert_eq!(planned.execution_status().unwrap().as_str(), "AVAILABLE");
    assert!(
        !queue_exists(&sqs, "orders-prod-dlq").await,
        "nothing changes before the judgment"
    );
    let plan = &stage(&waiting, "1")["outputs"]["changeSets"][0];
    assert_eq!(plan["name"], "add-dead-letters");
    assert_eq!(
        plan["changes"][0]["resourceChange"],
        json!({"action": "Add", "logicalResourceId": "DeadLetters",
               "physicalResourceId": null, "resourceType": "AWS::SQS::Queue",
               "replacement": null})
    );
    app.judge(&id, "2", "continue").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert!(queue_exists(&sqs, "orders-prod-dlq").await);
    let released = stack(&cloudformation, "orders").await;
    assert_eq!(released.stack_status().unwrap().as_str(), "UPDATE_COMPLETE");
    let release_stage = stage(&execution, "3");
    assert_eq!(release_stage["context"]["isChangeSetExecution"], true);
    assert_eq!(release_stage["outputs"]["stackStatus"], "UPDATE_COMPLETE");

    // 4. A stack whose resource cannot be created fails the stage with the reason (in the
    // emulator the call itself fails; AWS would report the resource's event instead).
    let broken = json!({"stackName": "broken", "parameters": {}, "templateBody": {
        "Resources": {"Fifo": {"Type": "AWS::SQS::Queue",
                               "Properties": {"QueueName": "not-fifo", "FifoQueue": true}}}}});
    let id = app
        .save_and_trigger(
            "shop",
            "Broken",
            vec![stack_stage("1", &[], "Broken", broken)],
        )
        .await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("CreateStack failed") && error.contains("must end in .fifo"),
        "{error}"
    );

    // 5. A template from an artifact is stored but reported and refused before it runs.
    let from_artifact = json!({"source": "artifact", "stackArtifactId": "template",
                               "stackArtifactAccount": "s3-account"});
    let pipeline = json!({"application": "shop", "name": "FromArtifact",
                          "stages": [stack_stage("1", &[], "FromArtifact", from_artifact)]});
    let (status, saved) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{saved}");
    let (_, config) = app
        .get("/applications/shop/pipelineConfigs/FromArtifact")
        .await;
    let config_id = config["id"].as_str().unwrap();
    let (_, check) = app
        .get(&format!("/pipelineConfigs/{config_id}/compatibility"))
        .await;
    assert_eq!(check["runnable"], false, "{check}");
    assert_eq!(check["unrunnableStages"][0]["type"], "deployCloudFormation");
    let (status, refused) = app.post("/pipelines/shop/FromArtifact", &json!({})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("artifacts"), "{refused}");

    app.stop().await;
}
