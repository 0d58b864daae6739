//! End to end through the HTTP API only: a Spinnaker pipeline with a fan-out, a join and a
//! manual judgment runs on local mode (API → DynamoDB → Step Functions → SQS → functions).

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::{TestApp, millis, stage};

fn skeleton_pipeline(application: &str) -> Value {
    json!({
        "application": application,
        "name": "Skeleton",
        "keepWaitingPipelines": false,
        "limitConcurrent": true,
        "spelEvaluator": "v4",
        "triggers": [],
        "parameterConfig": [{"name": "env", "default": "test", "required": true}],
        "stages": [
            {"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Wait 1", "waitTime": 1},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Wait 2", "waitTime": 1},
            {"refId": "3", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Wait 3", "waitTime": 2},
            {"refId": "4", "requisiteStageRefIds": ["2", "3"], "type": "manualJudgment", "name": "Judge",
             "instructions": "Ship it?", "judgmentInputs": [], "failPipeline": true}
        ]
    })
}

/// Saves the skeleton pipeline, runs it, and returns the execution id once the judgment
/// stage waits.
async fn run_until_judgment(app: &TestApp, application: &str) -> String {
    app.create_application(application).await;
    let (status, body) = app
        .post("/pipelines", &skeleton_pipeline(application))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            &format!("/pipelines/{application}/Skeleton"),
            &json!({"type": "manual"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let reference = body["ref"].as_str().expect("ref");
    let id = reference
        .strip_prefix("/pipelines/")
        .expect("ref is /pipelines/<id>")
        .to_string();
    app.wait_for_execution(&id, "the judgment stage to wait", |execution| {
        stage(execution, "4")["status"] == "RUNNING"
    })
    .await;
    id
}

async fn judge(app: &TestApp, execution_id: &str, decision: &str) {
    let (_, execution) = app.get(&format!("/pipelines/{execution_id}")).await;
    let judgment_stage_id = stage(&execution, "4")["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .patch(
            &format!("/pipelines/{execution_id}/stages/{judgment_stage_id}"),
            &json!({"judgmentStatus": decision, "judgmentInput": "ok"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stage(&body, "4")["context"]["judgmentStatus"], decision);
}

/// Names of the stage state machine executions of one pipeline execution.
async fn stage_machine_runs(app: &TestApp, execution_id: &str) -> Vec<String> {
    let machine = app
        .running
        .deployment
        .resource("StageStateMachine")
        .unwrap()
        .ref_value
        .clone();
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let mut names = Vec::new();
    let mut next_token = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .set_next_token(next_token)
            .send()
            .await
            .expect("ListExecutions");
        names.extend(page.executions().iter().map(|run| run.name().to_string()));
        next_token = page.next_token().map(str::to_string);
        if next_token.is_none() {
            break;
        }
    }
    names.retain(|name| name.starts_with(execution_id));
    names.sort();
    names
}

#[tokio::test]
async fn judged_continue_the_pipeline_succeeds_with_parallel_branches_and_a_join() {
    let app = TestApp::spawn().await;
    let id = run_until_judgment(&app, "skeleton").await;
    judge(&app, &id, "continue").await;
    let execution = app
        .wait_for_execution(&id, "the execution to finish", |execution| {
            execution["status"] != "RUNNING"
        })
        .await;

    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        execution["trigger"]["parameters"]["env"], "test",
        "parameter default applied"
    );
    for ref_id in ["1", "2", "3", "4"] {
        assert_eq!(
            stage(&execution, ref_id)["status"],
            "SUCCEEDED",
            "stage {ref_id}"
        );
    }
    let start = |ref_id: &str| millis(&stage(&execution, ref_id)["startTime"]);
    let end = |ref_id: &str| millis(&stage(&execution, ref_id)["endTime"]);
    let (one_start, one_end) = (start("1"), end("1"));
    let (two_start, two_end) = (start("2"), end("2"));
    let (three_start, three_end) = (start("3"), end("3"));
    assert!(one_end - one_start >= 1000, "wait 1 waited its second");
    assert!(
        two_start >= one_end && three_start >= one_end,
        "2 and 3 start after 1"
    );
    assert!(
        two_start < three_end && three_start < two_end,
        "2 and 3 overlapped"
    );
    assert!(
        start("4") >= two_end.max(three_end),
        "the join started after both parents ended"
    );

    let runs = stage_machine_runs(&app, &id).await;
    let mut per_stage: BTreeMap<String, usize> = BTreeMap::new();
    for name in &runs {
        let stage_part = name.strip_prefix(&format!("{id}-")).unwrap();
        *per_stage
            .entry(stage_part.rsplit_once('-').unwrap().0.to_string())
            .or_default() += 1;
    }
    assert_eq!(runs.len(), 4, "one stage machine run per stage: {runs:?}");
    assert!(
        per_stage.values().all(|count| *count == 1),
        "each stage ran exactly once: {runs:?}"
    );
    assert!(
        runs.iter().all(|name| name.ends_with("-1")),
        "first attempts only: {runs:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn judged_stop_the_pipeline_ends_terminal() {
    let app = TestApp::spawn().await;
    let id = run_until_judgment(&app, "stopper").await;
    judge(&app, &id, "stop").await;
    let execution = app
        .wait_for_execution(&id, "the execution to finish", |execution| {
            execution["status"] != "RUNNING"
        })
        .await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    assert_eq!(stage(&execution, "4")["status"], "TERMINAL");
    for ref_id in ["1", "2", "3"] {
        assert_eq!(stage(&execution, ref_id)["status"], "SUCCEEDED");
    }
    assert_eq!(stage_machine_runs(&app, &id).await.len(), 4);
    app.stop().await;
}
