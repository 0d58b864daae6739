//! Counts the AWS requests one 5-stage execution makes (wait, manual judgment, webhook,
//! deploy, pipeline stage), for docs/cost-model.md. A measurement, not a check: run it on
//! demand with
//!   GENNAKER_EMULATOR_REQUEST_LOG=/tmp/requests.log \
//!     cargo test --workspace --test cost_model_calls -- --ignored --nocapture
//! It prints the requests the emulator served between the trigger and the end (by caller and
//! operation) and the state transitions of every Step Functions execution.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gennaker_local::LocalOptions;
use serde_json::json;
use support::TestApp;
use support::cloud::Cloud;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/cost-model.md; run with --ignored"]
async fn count_the_aws_requests_of_a_five_stage_execution() {
    let log = std::env::var("GENNAKER_EMULATOR_REQUEST_LOG")
        .expect("set GENNAKER_EMULATOR_REQUEST_LOG to a file");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let running = gennaker_local::start(LocalOptions {
        api_port: port,
        stack_name: format!("t{}", &gennaker_model::new_id()[16..]).to_lowercase(),
        parameters: [(
            "AllowedUrlPrefixes".to_string(),
            format!("http://127.0.0.1:{port}/version"),
        )]
        .into(),
        ..LocalOptions::default()
    })
    .await
    .expect("local mode starts");
    let base_url = running.api_url();
    let app = TestApp {
        running,
        base_url,
        http: reqwest::Client::new(),
    };
    app.create_application("costmodel").await;
    let (image, _) = Cloud::of(&app).an_image().await;
    let child = json!({"application": "costmodel", "name": "child", "stages": [
        {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 1, "requisiteStageRefIds": []}]});
    let (status, saved) = app.post("/pipelines", &child).await;
    assert_eq!(status, 200, "{saved}");
    let (_, configs) = app.get("/applications/costmodel/pipelineConfigs").await;
    let child_id = configs.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stages = vec![
        json!({"refId": "1", "type": "wait", "name": "Wait", "waitTime": 1, "requisiteStageRefIds": []}),
        json!({"refId": "2", "type": "manualJudgment", "name": "Judge", "requisiteStageRefIds": ["1"]}),
        json!({"refId": "3", "type": "webhook", "name": "Hook", "method": "GET",
               "url": app.url("/version"), "requisiteStageRefIds": ["2"]}),
        json!({"refId": "4", "type": "deploy", "name": "Deploy", "requisiteStageRefIds": ["3"],
               "clusters": [{"application": "costmodel", "stack": "web", "freeFormDetails": "",
                 "account": "default", "cloudProvider": "aws", "availabilityZones": {"us-east-1": []},
                 "capacity": {"min": 1, "max": 1, "desired": 1}, "instanceType": "t3.micro",
                 "imageId": image}]}),
        json!({"refId": "5", "type": "pipeline", "name": "Child", "application": "costmodel",
               "pipeline": child_id, "waitForCompletion": true, "requisiteStageRefIds": ["4"]}),
    ];
    let pipeline = json!({"application": "costmodel", "name": "five", "stages": stages});
    let (status, saved) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{saved}");

    let mark = std::fs::read_to_string(&log).unwrap().lines().count();
    let started = Instant::now();
    let id = app.trigger("costmodel", "five").await;
    app.judge(&id, "2", "continue").await;
    let execution = app.ended(&id).await;
    let took = started.elapsed();
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");

    let text = std::fs::read_to_string(&log).unwrap();
    let mut counts: BTreeMap<(String, String), u32> = BTreeMap::new();
    for line in text.lines().skip(mark) {
        let mut parts = line.splitn(3, ' ');
        let (_, caller, operation) = (parts.next(), parts.next(), parts.next());
        let key = (
            caller.unwrap_or("").to_string(),
            operation.unwrap_or("").to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    println!("requests during the execution ({took:?}):");
    for ((caller, operation), count) in &counts {
        println!("{count:6} {caller:9} {operation}");
    }

    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    for name in ["PipelineStateMachine", "StageStateMachine"] {
        let arn = &app.running.deployment.resource(name).unwrap().ref_value;
        let executions = sfn
            .list_executions()
            .state_machine_arn(arn)
            .send()
            .await
            .unwrap();
        for run in executions.executions() {
            let history = sfn
                .get_execution_history()
                .execution_arn(run.execution_arn())
                .max_results(1000)
                .send()
                .await;
            let entered = history.map(|h| {
                h.events()
                    .iter()
                    .filter(|e| e.r#type().as_str().ends_with("StateEntered"))
                    .count()
            });
            println!("transitions {name} {} {entered:?}", run.name());
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.stop().await;
}
