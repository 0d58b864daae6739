//! Jenkins build triggers (Igor's `JenkinsBuildMonitor`): the scheduled poller looks at
//! each job an enabled `jenkins` trigger watches and starts the pipeline once for every build
//! that completed SUCCESS since its last look — never for builds from before the first look,
//! never for failed builds — with `buildInfo` and the build's property file as `properties`.

mod support;

use std::time::Duration;

use gennaker_local::LocalOptions;
use serde_json::{Value, json};
use support::fake_jenkins::{FakeJenkins, JobScript};
use support::{TestApp, eventually, wait};

const DEADLINE: Duration = Duration::from_secs(60);
const JOB: &str = "app-build";

async fn spawn(masters: Value) -> TestApp {
    TestApp::spawn_with(LocalOptions {
        parameters: [("JenkinsMasters".to_string(), masters.to_string())].into(),
        schedule_every: Some(Duration::from_millis(500)),
        ..LocalOptions::default()
    })
    .await
}

/// Waits until the poller has read the job's build list `count` more times than `since`.
async fn looks_at_job(ci: &FakeJenkins, since: u32, count: u32) {
    eventually("the poller to look at the job", DEADLINE, || async {
        (ci.build_list_reads(JOB) >= since + count).then_some(())
    })
    .await;
}

#[tokio::test]
async fn each_new_successful_build_starts_the_watching_pipeline_once() {
    let ci = FakeJenkins::start("token-1").await;
    ci.add_job(
        JOB,
        JobScript::ending("SUCCESS").with_artifact("out/build.properties", "VERSION=2.0.1\n"),
    );
    ci.add_finished_build(JOB, "SUCCESS");
    let app = spawn(json!([ci.master("ci")])).await;
    // Triggers fire as anonymous, who may EXECUTE only applications Gennaker knows.
    app.create_application("igor").await;
    let pipeline = json!({
        "application": "igor", "name": "on-build", "stages": [wait("1", &[], 0)],
        "triggers": [{"type": "jenkins", "enabled": true, "master": "ci", "job": JOB,
                      "propertyFile": "build.properties"}]
    });
    let (status, body) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{body}");
    looks_at_job(&ci, 0, 1).await;

    let good = ci.add_finished_build(JOB, "SUCCESS");
    ci.add_finished_build(JOB, "FAILURE");
    let started = eventually("the new build to start the pipeline", DEADLINE, || async {
        let executions = app.executions_named("igor", "on-build").await;
        (!executions.is_empty()).then_some(executions)
    })
    .await;
    looks_at_job(&ci, ci.build_list_reads(JOB), 3).await;

    let executions = app.executions_named("igor", "on-build").await;
    assert_eq!(
        executions.len(),
        1,
        "one execution: not for the build before the first look, not for the failed one, not twice"
    );
    assert_eq!(executions[0]["id"], started[0]["id"]);
    let trigger = &executions[0]["trigger"];
    assert_eq!(trigger["type"], "jenkins");
    assert_eq!(trigger["buildNumber"], good);
    assert_eq!(trigger["buildInfo"]["number"], good);
    assert_eq!(trigger["buildInfo"]["result"], "SUCCESS");
    assert_eq!(trigger["properties"]["VERSION"], "2.0.1");
    assert_eq!(trigger["user"], "anonymous");
    app.stop().await;
}

#[tokio::test]
async fn disabled_triggers_and_disabled_pipelines_start_nothing() {
    let ci = FakeJenkins::start("token-2").await;
    ci.add_job(JOB, JobScript::ending("SUCCESS"));
    let app = spawn(json!([ci.master("ci")])).await;
    // Triggers fire as anonymous, who may EXECUTE only applications Gennaker knows.
    app.create_application("igor").await;
    let watching = |name: &str, trigger_enabled: bool, disabled: bool| {
        json!({
            "application": "igor", "name": name, "disabled": disabled, "stages": [wait("1", &[], 0)],
            "triggers": [{"type": "jenkins", "enabled": trigger_enabled, "master": "ci", "job": JOB}]
        })
    };
    for pipeline in [
        watching("trigger-off", false, false),
        watching("pipeline-off", true, true),
        watching("watching", true, false),
    ] {
        let (status, body) = app.post("/pipelines", &pipeline).await;
        assert_eq!(status, 200, "{body}");
    }
    looks_at_job(&ci, 0, 1).await;
    ci.add_finished_build(JOB, "SUCCESS");
    eventually("the enabled one to start", DEADLINE, || async {
        let executions = app.executions_named("igor", "watching").await;
        (!executions.is_empty()).then_some(())
    })
    .await;
    looks_at_job(&ci, ci.build_list_reads(JOB), 2).await;
    assert!(app.executions_named("igor", "trigger-off").await.is_empty());
    assert!(
        app.executions_named("igor", "pipeline-off")
            .await
            .is_empty()
    );
    app.stop().await;
}
