//! The execution lifecycle through the public API (Orca's `CompleteStageHandler` through
//! `RestartStageHandler`): failure options,
//! skipping, cancel, pause/resume, restart, delete and `GET /executions`.

mod support;

use serde_json::{Value, json};
use support::{TestApp, judgment, stage, wait};

impl TestApp {
    async fn wait_for_stage(&self, id: &str, ref_id: &str, status: &str) -> Value {
        self.wait_for_execution(id, &format!("stage {ref_id} to be {status}"), |e| {
            stage(e, ref_id)["status"] == status
        })
        .await
    }

    /// Polls until the orchestrator has applied `count` operations to the execution (each
    /// one, even one that changed nothing, is remembered by its id).
    async fn operations_applied(&self, id: &str, count: usize) -> Value {
        self.wait_for_execution(id, &format!("{count} operations to be applied"), |e| {
            e["appliedOperationIds"]
                .as_array()
                .is_some_and(|ids| ids.len() >= count)
        })
        .await
    }

    async fn stage_machine_runs(&self, prefix: &str) -> Vec<(String, String)> {
        let machine = self
            .running
            .deployment
            .resource("StageStateMachine")
            .unwrap()
            .ref_value
            .clone();
        runs(self, &machine, prefix).await
    }
}

/// The execution without the ids of the operations the orchestrator applied.
fn without_operations(execution: &Value) -> Value {
    let mut execution = execution.clone();
    if let Some(fields) = execution.as_object_mut() {
        fields.remove("appliedOperationIds");
    }
    execution
}

async fn runs(app: &TestApp, machine: &str, prefix: &str) -> Vec<(String, String)> {
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let listed = sfn
        .list_executions()
        .state_machine_arn(machine)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let mut runs: Vec<(String, String)> = listed
        .executions()
        .iter()
        .filter(|run| run.name().starts_with(prefix))
        .map(|run| (run.name().to_string(), run.status().as_str().to_string()))
        .collect();
    runs.sort();
    runs
}

#[tokio::test]
async fn failure_options_decide_branches_and_the_final_status() {
    let app = TestApp::spawn().await;
    // halt this branch: STOPPED, its child never starts, the other branch finishes, SUCCEEDED
    let halt_branch = app
        .save_and_trigger(
            "life",
            "halt-branch",
            vec![
                judgment("1", &[], json!({"failPipeline": false})),
                wait("2", &["1"], 0),
                wait("3", &[], 0),
            ],
        )
        .await;
    // halt this branch and fail once the others complete: TERMINAL after branch 3
    let fail_later = app
        .save_and_trigger(
            "life",
            "fail-later",
            vec![
                judgment(
                    "1",
                    &[],
                    json!({"failPipeline": false, "completeOtherBranchesThenFail": true}),
                ),
                wait("3", &[], 1),
            ],
        )
        .await;
    // ignore the failure: FAILED_CONTINUE, downstream runs, SUCCEEDED
    let ignore = app
        .save_and_trigger(
            "life",
            "ignore",
            vec![
                judgment(
                    "1",
                    &[],
                    json!({"failPipeline": false, "continuePipeline": true}),
                ),
                wait("2", &["1"], 0),
            ],
        )
        .await;
    // default: halt the pipeline, a running sibling is canceled
    let halt_all = app
        .save_and_trigger(
            "life",
            "halt-all",
            vec![judgment("1", &[], json!({})), wait("2", &[], 60)],
        )
        .await;

    for id in [&halt_branch, &fail_later, &ignore, &halt_all] {
        app.judge(id, "1", "stop").await;
    }
    let execution = app.ended(&halt_branch).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        (
            stage(&execution, "1")["status"].clone(),
            stage(&execution, "2")["status"].clone()
        ),
        (json!("STOPPED"), json!("NOT_STARTED"))
    );
    assert_eq!(stage(&execution, "3")["status"], "SUCCEEDED");

    let execution = app.ended(&fail_later).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(
        stage(&execution, "3")["status"],
        "SUCCEEDED",
        "the other branch completed first"
    );

    let execution = app.ended(&ignore).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(
        (
            stage(&execution, "1")["status"].clone(),
            stage(&execution, "2")["status"].clone()
        ),
        (json!("FAILED_CONTINUE"), json!("SUCCEEDED"))
    );

    let execution = app.ended(&halt_all).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(stage(&execution, "2")["status"], "CANCELED");
    let wait_stage = stage(&execution, "2")["id"].as_str().unwrap().to_string();
    let machine_runs = app
        .stage_machine_runs(&format!("{halt_all}-{wait_stage}"))
        .await;
    assert_eq!(
        machine_runs,
        vec![(format!("{halt_all}-{wait_stage}-1"), "ABORTED".to_string())],
        "the sibling's machine was stopped"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_stage_is_skipped_and_downstream_runs() {
    let app = TestApp::spawn().await;
    let mut skipped = wait("1", &[], 30);
    skipped["stageEnabled"] = json!({"type": "expression", "expression": "false"});
    let id = app
        .save_and_trigger("life", "skipping", vec![skipped, wait("2", &["1"], 0)])
        .await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(
        (
            stage(&execution, "1")["status"].clone(),
            stage(&execution, "2")["status"].clone()
        ),
        (json!("SKIPPED"), json!("SUCCEEDED"))
    );
    assert_eq!(
        app.stage_machine_runs(&id).await.len(),
        1,
        "the skipped stage never ran"
    );
    app.stop().await;
}

#[tokio::test]
async fn cancel_stops_the_running_stages_and_records_who_and_why() {
    let app = TestApp::spawn().await;
    let id = app
        .save_and_trigger(
            "life",
            "cancel-me",
            vec![wait("1", &[], 120), wait("2", &["1"], 0)],
        )
        .await;
    app.wait_for_stage(&id, "1", "RUNNING").await;
    let (status, body) = app
        .put(
            &format!("/pipelines/{id}/cancel?reason=wrong%20build"),
            "carol",
        )
        .await;
    assert_eq!((status, body), (200, Value::Null));
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "CANCELED");
    assert_eq!(
        (
            execution["canceled"].clone(),
            execution["canceledBy"].clone(),
            execution["cancellationReason"].clone()
        ),
        (json!(true), json!("carol"), json!("wrong build"))
    );
    assert_eq!(
        (
            stage(&execution, "1")["status"].clone(),
            stage(&execution, "2")["status"].clone()
        ),
        (json!("CANCELED"), json!("NOT_STARTED"))
    );
    // The orchestrator stops the stage's run right after saving CANCELED.
    let machine_runs = support::eventually(
        "the stage run to be stopped",
        std::time::Duration::from_secs(30),
        || async {
            let runs = app.stage_machine_runs(&id).await;
            (runs.iter().all(|(_, status)| status == "ABORTED")).then_some(runs)
        },
    )
    .await;
    assert_eq!(machine_runs.len(), 1);

    // As in Gate, canceling a finished execution succeeds and changes nothing: the
    // orchestrator judges it in turn and only remembers that it saw it.
    let (status, body) = app.put(&format!("/pipelines/{id}/cancel"), "dave").await;
    assert_eq!((status, body), (200, Value::Null));
    let (status, _) = app
        .put(
            &format!("/applications/%7Bapplication%7D/pipelines/{id}/cancel"),
            "dave",
        )
        .await;
    assert_eq!(status, 200, "the deprecated path behaves the same");
    let after = app.operations_applied(&id, 3).await;
    assert_eq!(
        without_operations(&after),
        without_operations(&execution),
        "the late cancels changed nothing"
    );
    let (status, _) = app.put("/pipelines/nope/cancel", "dave").await;
    assert_eq!(status, 404, "an unknown execution is still refused");
    app.stop().await;
}

#[tokio::test]
async fn a_paused_execution_starts_nothing_until_resumed() {
    let app = TestApp::spawn().await;
    let id = app
        .save_and_trigger(
            "life",
            "pausable",
            vec![judgment("1", &[], json!({})), wait("2", &["1"], 0)],
        )
        .await;
    app.wait_for_stage(&id, "1", "RUNNING").await;
    let (status, _) = app.put(&format!("/pipelines/{id}/pause"), "dave").await;
    assert_eq!(status, 200);
    let execution = app
        .wait_for_execution(&id, "the execution to pause", |e| e["status"] == "PAUSED")
        .await;
    assert_eq!(execution["paused"]["pausedBy"], "dave");
    assert_eq!(stage(&execution, "1")["status"], "PAUSED");

    let judge_id = stage(&execution, "1")["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .patch(
            &format!("/pipelines/{id}/stages/{judge_id}"),
            &json!({"judgmentStatus": "continue"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let execution = app.wait_for_stage(&id, "1", "SUCCEEDED").await;
    assert_eq!(execution["status"], "PAUSED");
    assert_eq!(
        stage(&execution, "2")["status"],
        "NOT_STARTED",
        "no new stage while paused"
    );
    assert_eq!(app.stage_machine_runs(&id).await.len(), 1);

    let (status, _) = app.put(&format!("/pipelines/{id}/resume"), "erin").await;
    assert_eq!(status, 200);
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(execution["paused"]["resumedBy"], "erin");
    assert!(execution["paused"]["pausedMs"].as_i64().unwrap() > 0);
    let (status, _) = app.put(&format!("/pipelines/{id}/pause"), "dave").await;
    assert_eq!(
        status, 200,
        "pausing a finished execution is a no-op, as in Spinnaker"
    );
    app.stop().await;
}

#[tokio::test]
async fn restarting_a_failed_stage_runs_it_again_with_a_new_attempt() {
    let app = TestApp::spawn().await;
    let id = app
        .save_and_trigger(
            "life",
            "restartable",
            vec![
                wait("1", &[], 0),
                judgment("2", &["1"], json!({})),
                wait("3", &["2"], 0),
            ],
        )
        .await;
    app.judge(&id, "2", "stop").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "TERMINAL");
    let judge_id = stage(&execution, "2")["id"].as_str().unwrap().to_string();

    let (status, body) = app
        .put(
            &format!("/pipelines/{id}/stages/{judge_id}/restart"),
            "frank",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let execution = app
        .wait_for_execution(&id, "the restarted stage to wait again", |e| {
            stage(e, "2")["status"] == "RUNNING" && e["status"] == "RUNNING"
        })
        .await;
    assert_eq!(
        stage(&execution, "2")["context"]["restartDetails"]["restartedBy"],
        "frank"
    );
    assert!(
        stage(&execution, "2")["context"]
            .get("judgmentStatus")
            .is_none()
    );
    app.judge(&id, "2", "continue").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(stage(&execution, "3")["status"], "SUCCEEDED");

    let names: Vec<String> = app
        .stage_machine_runs(&format!("{id}-{judge_id}"))
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        vec![format!("{id}-{judge_id}-1"), format!("{id}-{judge_id}-2")],
        "attempts keep machine names unique"
    );
    let pipeline_machine = app
        .running
        .deployment
        .resource("PipelineStateMachine")
        .unwrap()
        .ref_value
        .clone();
    let pipeline_runs = runs(&app, &pipeline_machine, &id).await;
    assert_eq!(
        pipeline_runs.len(),
        2,
        "the finished execution was reopened: {pipeline_runs:?}"
    );
    assert!(
        pipeline_runs.iter().all(|(_, status)| status != "RUNNING"),
        "{pipeline_runs:?}"
    );

    let running = app
        .save_and_trigger("life", "busy", vec![wait("1", &[], 120)])
        .await;
    let execution = app.wait_for_stage(&running, "1", "RUNNING").await;
    let busy_stage = stage(&execution, "1")["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .put(
            &format!("/pipelines/{running}/stages/{busy_stage}/restart"),
            "frank",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let execution = app.operations_applied(&running, 1).await;
    assert_eq!(
        (
            stage(&execution, "1")["status"].clone(),
            stage(&execution, "1")["attempt"].clone()
        ),
        (json!("RUNNING"), json!(1)),
        "as in Orca, a restart of a stage that still runs is ignored"
    );
    let (status, body) = app
        .put(
            &format!("/pipelines/{running}/stages/nope/restart"),
            "frank",
        )
        .await;
    assert_eq!(status, 404, "an unknown stage is refused: {body}");
    app.cancel(&running).await;
    app.ended(&running).await;
    app.stop().await;
}

#[tokio::test]
async fn finished_executions_can_be_deleted_and_executions_listed_by_config_or_id() {
    let app = TestApp::spawn().await;
    let first = app
        .save_and_trigger("life", "listed", vec![wait("1", &[], 0)])
        .await;
    app.ended(&first).await;
    let second = app.trigger("life", "listed").await;
    let third = app.trigger("life", "listed").await;
    let (_, config) = app.get("/applications/life/pipelineConfigs/listed").await;
    let config_id = config["id"].as_str().unwrap();
    app.ended(&second).await;
    app.ended(&third).await;

    let (status, body) = app
        .get(&format!("/executions?executionIds={first},nope"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1, "unknown ids are dropped");
    assert_eq!(body[0]["id"], first.as_str());
    let (status, body) = app
        .get(&format!(
            "/executions?pipelineConfigIds={config_id}&limit=2&statuses=SUCCEEDED"
        ))
        .await;
    assert_eq!(status, 200);
    let listed = body.as_array().unwrap();
    let mut ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let start_times: Vec<i64> = listed
        .iter()
        .map(|e| e["startTime"].as_i64().unwrap())
        .collect();
    assert!(
        start_times.is_sorted(),
        "listed by start time, oldest first: {start_times:?}"
    );
    // Triggered back to back, either may have started first.
    let mut expected = vec![second.as_str(), third.as_str()];
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected, "the two newest that succeeded");
    let (status, body) = app
        .get(&format!("/executions?pipelineConfigIds={config_id}"))
        .await;
    assert_eq!(
        (status, body.as_array().unwrap().len()),
        (200, 1),
        "limit defaults to 1"
    );
    let (status, _) = app
        .get(&format!(
            "/executions?pipelineConfigIds={config_id}&executionIds={first}"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, body) = app.get("/executions").await;
    assert_eq!((status, body), (200, json!([])));

    let (status, _) = app
        .http
        .delete(app.url(&format!("/pipelines/{first}")))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = app.get(&format!("/pipelines/{first}")).await;
    assert_eq!(status, 404, "deleted");
    let running = app
        .save_and_trigger("life", "long", vec![wait("1", &[], 120)])
        .await;
    let (status, _) = app
        .http
        .delete(app.url(&format!("/pipelines/{running}")))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 400, "a running execution cannot be deleted");
    let (status, _) = app.get(&format!("/pipelines/{running}")).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_stage_that_outlives_its_timeout_fails_or_counts_as_success_when_asked() {
    let app = TestApp::spawn().await;
    let strict = app
        .save_and_trigger(
            "life",
            "strict",
            vec![judgment("1", &[], json!({"stageTimeoutMs": 1000}))],
        )
        .await;
    let lenient = app
        .save_and_trigger(
            "life",
            "lenient",
            vec![
                judgment(
                    "1",
                    &[],
                    json!({"stageTimeoutMs": 1000, "markSuccessfulOnTimeout": true}),
                ),
                wait("2", &["1"], 0),
            ],
        )
        .await;
    let execution = app.ended(&strict).await;
    assert_eq!(execution["status"], "TERMINAL");
    let details = &stage(&execution, "1")["context"]["exception"]["details"];
    assert!(
        details["error"].as_str().unwrap().contains("timed out"),
        "{details}"
    );
    let execution = app.ended(&lenient).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(stage(&execution, "1")["status"], "SUCCEEDED");
    assert_eq!(stage(&execution, "2")["status"], "SUCCEEDED");
    app.stop().await;
}

#[tokio::test]
async fn a_stage_waits_for_its_execution_window() {
    let app = TestApp::spawn().await;
    let window = |hours: Value| json!({"restrictExecutionDuringTimeWindow": true, "restrictedExecutionWindow": {"whitelist": hours}});
    // Open all day: runs at once. Open for one minute at a wall-clock time that is 12 hours
    // ahead in UTC, read in the default zone (Los Angeles, UTC-8/-7): it opens 19-20 hours
    // from now, so the stage waits.
    let mut open = wait("1", &[], 0);
    open.as_object_mut()
        .unwrap()
        .extend(window(json!([])).as_object().unwrap().clone());
    let now = gennaker_model::json::now_millis();
    let minute_of_day = |millis: i64| ((millis / 60_000) % (24 * 60)) as u64;
    let later = minute_of_day(now + 12 * 3600 * 1000);
    let mut closed = wait("1", &[], 0);
    let hours = json!([{"startHour": later / 60, "startMin": later % 60, "endHour": (later + 1) / 60 % 24, "endMin": (later + 1) % 60}]);
    closed
        .as_object_mut()
        .unwrap()
        .extend(window(hours).as_object().unwrap().clone());

    let runs_now = app
        .save_and_trigger("life", "open-window", vec![open])
        .await;
    assert_eq!(app.ended(&runs_now).await["status"], "SUCCEEDED");

    let waits = app
        .save_and_trigger("life", "closed-window", vec![closed])
        .await;
    let execution = app.wait_for_stage(&waits, "1", "RUNNING").await;
    let stage_id = stage(&execution, "1")["id"].as_str().unwrap().to_string();
    let machine = app
        .running
        .deployment
        .resource("StageStateMachine")
        .unwrap()
        .ref_value
        .clone();
    let arn =
        gennaker_runtime::step_functions::execution_arn(&machine, &format!("{waits}-{stage_id}-1"));
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let input: Value = support::eventually(
        "the stage machine to start",
        std::time::Duration::from_secs(20),
        || async {
            let described = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .ok()?;
            serde_json::from_str(described.input()?).ok()
        },
    )
    .await;
    let not_before = input["notBefore"]
        .as_str()
        .expect("the stage waits for its window")
        .to_string();
    assert!(
        not_before.as_str()
            > gennaker_model::execution_window::iso8601(now + 11 * 3600 * 1000).as_str(),
        "{not_before}"
    );
    let (_, still) = app.get(&format!("/pipelines/{waits}")).await;
    assert_eq!(
        stage(&still, "1")["status"],
        "RUNNING",
        "it has not run yet"
    );
    let response = app
        .http
        .put(app.url(&format!("/pipelines/{waits}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.ended(&waits).await["status"], "CANCELED");
    app.stop().await;
}

/// The first judgment of an attempt decides it: a repeat is accepted and changes nothing, a
/// different judgment is refused, so the recorded answer never contradicts the outcome.
#[tokio::test]
async fn the_first_judgment_decides_and_a_repeat_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app
        .save_and_trigger(
            "life",
            "judged-once",
            vec![judgment("1", &[], json!({})), wait("2", &["1"], 0)],
        )
        .await;
    app.judge(&id, "1", "continue").await;
    let (_, execution) = app.get(&format!("/pipelines/{id}")).await;
    let path = format!(
        "/pipelines/{id}/stages/{}",
        stage(&execution, "1")["id"].as_str().unwrap()
    );
    let (status, body) = app.patch(&path, &json!({"judgmentStatus": "stop"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("already judged"),
        "{body}"
    );
    let (status, body) = app
        .patch(&path, &json!({"judgmentStatus": "Continue"}))
        .await;
    assert_eq!(status, 200, "a repeated judgment is accepted: {body}");
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(
        stage(&execution, "1")["context"]["judgmentStatus"],
        "continue"
    );
    app.stop().await;
}

/// stop, then restart at once (both acknowledged, in that order): the restart runs the
/// judged stage again. The API reports the judgment in the execution's message group before
/// it answers, so the restart cannot overtake it and find the stage still running.
#[tokio::test]
async fn a_restart_right_after_a_stop_runs_the_judged_stage_again() {
    let app = TestApp::spawn().await;
    let id = app
        .save_and_trigger(
            "life",
            "stop-restart",
            vec![judgment("1", &[], json!({})), wait("2", &["1"], 0)],
        )
        .await;
    app.judge(&id, "1", "stop").await;
    let (_, execution) = app.get(&format!("/pipelines/{id}")).await;
    let judge_id = stage(&execution, "1")["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .put(
            &format!("/pipelines/{id}/stages/{judge_id}/restart"),
            "frank",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_execution(&id, "the judgment to wait again", |e| {
        stage(e, "1")["status"] == "RUNNING" && stage(e, "1")["attempt"] == 2
    })
    .await;
    app.judge(&id, "1", "continue").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    app.stop().await;
}

/// restart, then cancel at once, on a finished execution: the cancel is judged after the
/// restart reopened the execution, so it cancels the restarted run (it used to be refused
/// because the execution was still stored as finished).
#[tokio::test]
async fn a_cancel_right_after_a_restart_cancels_the_restarted_run() {
    let app = TestApp::spawn().await;
    let id = app
        .save_and_trigger(
            "life",
            "restart-cancel",
            vec![judgment("1", &[], json!({}))],
        )
        .await;
    app.judge(&id, "1", "stop").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "TERMINAL");
    let judge_id = stage(&execution, "1")["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .put(
            &format!("/pipelines/{id}/stages/{judge_id}/restart"),
            "frank",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.put(&format!("/pipelines/{id}/cancel"), "grace").await;
    assert_eq!((status, body), (200, Value::Null));
    let execution = app
        .wait_for_execution(&id, "the restarted run to be canceled", |e| {
            e["status"] == "CANCELED"
        })
        .await;
    assert_eq!(
        (
            stage(&execution, "1")["status"].clone(),
            stage(&execution, "1")["attempt"].clone(),
            execution["canceledBy"].clone()
        ),
        (json!("CANCELED"), json!(2), json!("grace"))
    );
    app.stop().await;
}
