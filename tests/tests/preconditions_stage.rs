//! checkPreconditions stages through the public API against local mode (Orca's `CheckPreconditionsStage`):
//! expression preconditions see the execution; a false one fails the stage (or, with
//! `failPipeline: false`, halts only its branch).

mod support;

use serde_json::{Value, json};
use support::{TestApp, stage};

fn setup() -> Value {
    json!({"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Setup", "waitTime": 0,
           "region": "eu-west-1", "approved": true})
}

fn check(preconditions: Value) -> Value {
    json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions",
           "name": "Check", "preconditions": preconditions})
}

fn after() -> Value {
    json!({"refId": "3", "requisiteStageRefIds": ["2"], "type": "wait", "name": "After", "waitTime": 0})
}

#[tokio::test]
async fn preconditions_gate_the_pipeline() {
    let app = TestApp::spawn().await;
    let passing = app
        .save_and_trigger(
            "gates",
            "passing",
            vec![
                setup(),
                check(json!([
                    {"type": "expression", "context": {"expression": "#stage('Setup')['context']['approved'] == true"}},
                    {"type": "expression", "context": {"expression": "#stage('Setup').context.region.startsWith('eu-')"}, "failPipeline": true},
                ])),
                after(),
            ],
        )
        .await;
    let failing = app
        .save_and_trigger(
            "gates",
            "failing",
            vec![
                setup(),
                check(json!([
                    {"type": "expression", "context": {"expression": "#stage('Setup')['context']['region'] == 'us-east-1'"},
                     "failureMessage": "only in us-east-1"},
                ])),
                after(),
            ],
        )
        .await;
    let branch_only = app
        .save_and_trigger(
            "gates",
            "branch-only",
            vec![
                setup(),
                check(json!([
                    {"type": "expression", "context": {"expression": "false"}, "failPipeline": false},
                ])),
                after(),
            ],
        )
        .await;

    let execution = app.ended(&passing).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(stage(&execution, "3")["status"], "SUCCEEDED");
    assert_eq!(
        stage(&execution, "2")["context"]["preconditionResults"][1]["passed"],
        true
    );

    let execution = app.ended(&failing).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(stage(&execution, "2")["status"], "TERMINAL");
    assert_eq!(stage(&execution, "3")["status"], "NOT_STARTED");
    assert_eq!(
        stage(&execution, "2")["context"]["exception"]["details"]["error"],
        "only in us-east-1"
    );

    let execution = app.ended(&branch_only).await;
    assert_eq!(stage(&execution, "2")["status"], "STOPPED");
    assert_eq!(stage(&execution, "3")["status"], "NOT_STARTED");
    assert_eq!(
        execution["status"], "SUCCEEDED",
        "halting a branch: {execution}"
    );
    app.stop().await;
}
