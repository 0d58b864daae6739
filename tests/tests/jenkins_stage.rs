//! Jenkins stages and Deck's build pickers through the public API against local mode
//! (Orca's `JenkinsStage`), with a Jenkins-JSON-API fake on 127.0.0.1 that demands basic
//! authentication and a CSRF crumb bound to its session cookie.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake_jenkins::{FakeJenkins, JobScript};
use support::{TestApp, eventually, stage};

fn jenkins(ref_id: &str, requisites: &[&str], fields: Value) -> Value {
    let mut stage = json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "jenkins", "name": format!("Jenkins {ref_id}")});
    stage
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    stage
}

async fn spawn(masters: Value) -> TestApp {
    TestApp::spawn_with_parameters(&[
        ("JenkinsMasters", &masters.to_string()),
        ("StagePollSeconds", "1"),
    ])
    .await
}

#[tokio::test]
async fn build_results_map_to_stage_statuses_and_properties_feed_later_stages() {
    let ci = FakeJenkins::start("token-1").await;
    ci.add_job(
        "app/job/build",
        JobScript::ending("SUCCESS")
            .with_artifact(
                "out/build.properties",
                "# built\nVERSION=1.2.3\nCOMMIT : abc123\n",
            )
            .with_artifact("out/report.txt", "not read"),
    );
    ci.add_job("deploy", JobScript::ending("SUCCESS"));
    ci.add_job("flaky-tests", JobScript::ending("UNSTABLE"));
    ci.add_job("broken", JobScript::ending("FAILURE"));
    ci.add_job("aborted-by-someone", JobScript::ending("ABORTED"));
    let app = spawn(json!([ci.master("ci")])).await;

    let shipped = app
        .save_and_trigger(
            "builds",
            "ship",
            vec![
                jenkins(
                    "1",
                    &[],
                    json!({"master": "ci", "job": "app/job/build", "parameters": {"BRANCH": "main", "DRY_RUN": false},
                           "propertyFile": "build.properties"}),
                ),
                jenkins(
                    "2",
                    &["1"],
                    json!({"master": "ci", "job": "deploy",
                           "parameters": {"VERSION": "${VERSION}", "FROM_BUILD": "${#stage('Jenkins 1')['context']['buildNumber']}"}}),
                ),
            ],
        )
        .await;
    let lenient = app
        .save_and_trigger(
            "builds",
            "unstable-ok",
            vec![jenkins(
                "1",
                &[],
                json!({"master": "ci", "job": "flaky-tests", "markUnstableAsSuccessful": true}),
            )],
        )
        .await;
    let strict = app
        .save_and_trigger(
            "builds",
            "unstable-fails",
            vec![jenkins(
                "1",
                &[],
                json!({"master": "ci", "job": "flaky-tests"}),
            )],
        )
        .await;
    let broken = app
        .save_and_trigger(
            "builds",
            "broken",
            vec![jenkins("1", &[], json!({"master": "ci", "job": "broken"}))],
        )
        .await;

    let aborted = app
        .save_and_trigger(
            "builds",
            "aborted",
            vec![jenkins(
                "1",
                &[],
                json!({"master": "ci", "job": "aborted-by-someone"}),
            )],
        )
        .await;

    let execution = app.ended(&shipped).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let build = stage(&execution, "1");
    assert_eq!(build["context"]["buildNumber"], 1);
    let queued = build["context"]["queuedBuild"].as_str().unwrap_or_default();
    assert!(
        queued.parse::<u64>().is_ok(),
        "queue ids are kept as text: {queued}"
    );
    assert_eq!(build["context"]["buildInfo"]["result"], "SUCCESS");
    assert_eq!(build["context"]["buildInfo"]["number"], 1);
    assert_eq!(build["outputs"]["buildInfo"]["name"], "app/job/build");
    assert_eq!(build["outputs"]["VERSION"], "1.2.3");
    assert_eq!(build["outputs"]["COMMIT"], "abc123");
    assert_eq!(build["context"]["VERSION"], "1.2.3");
    assert_eq!(
        build["outputs"]["propertyFileContents"],
        json!({"VERSION": "1.2.3", "COMMIT": "abc123"})
    );
    assert_eq!(
        ci.triggers("app/job/build"),
        vec![
            [("BRANCH", "main"), ("DRY_RUN", "false")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        ]
    );
    // The property file fed the next stage's parameters through expressions.
    let deploy = ci.triggers("deploy");
    assert_eq!(deploy.len(), 1);
    assert_eq!(deploy[0]["VERSION"], "1.2.3");
    assert_eq!(deploy[0]["FROM_BUILD"], "1");
    assert_eq!(
        ci.refused_without_crumb(),
        0,
        "every POST carried the crumb"
    );

    let execution = app.ended(&lenient).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(
        stage(&execution, "1")["context"]["buildInfo"]["result"],
        "UNSTABLE"
    );
    let execution = app.ended(&strict).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert!(error_of(&execution).contains("UNSTABLE"), "{execution}");
    let execution = app.ended(&broken).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert!(error_of(&execution).contains("FAILURE"), "{execution}");

    let execution = app.ended(&aborted).await;
    assert_eq!(
        execution["status"], "CANCELED",
        "ABORTED builds cancel the stage"
    );

    // Deck's pickers.
    let (status, masters) = app.get("/v2/builds").await;
    assert_eq!((status, masters), (200, json!(["ci"])));
    let (status, jobs) = app.get("/v2/builds/ci/jobs").await;
    assert_eq!(status, 200);
    assert_eq!(
        jobs,
        json!([
            "aborted-by-someone",
            "app/job/build",
            "broken",
            "deploy",
            "flaky-tests"
        ])
    );
    let (status, builds) = app.get("/v2/builds/ci/builds/app/job/build").await;
    assert_eq!(status, 200, "{builds}");
    assert_eq!(builds[0]["number"], 1);
    assert_eq!(builds[0]["result"], "SUCCESS");
    assert_eq!(builds[0]["artifacts"][0]["fileName"], "build.properties");
    let (status, one) = app.get("/v2/builds/ci/build/1/deploy").await;
    assert_eq!((status, one["result"].clone()), (200, json!("SUCCESS")));
    let (status, error) = app.get("/v2/builds/nope/jobs").await;
    assert_eq!(status, 404, "{error}");
    assert!(error["message"].as_str().unwrap().contains("nope"));
    app.stop().await;
}

#[tokio::test]
async fn canceling_the_execution_stops_the_running_build() {
    let ci = FakeJenkins::start("token-2").await;
    ci.add_job("endless", JobScript::forever());
    let app = spawn(json!([ci.master("ci")])).await;
    let id = app
        .save_and_trigger(
            "builds",
            "endless",
            vec![jenkins("1", &[], json!({"master": "ci", "job": "endless"}))],
        )
        .await;
    // The build number is recorded on the stage while it runs.
    app.wait_for_execution(&id, "the build number on the running stage", |e| {
        stage(e, "1")["context"]["buildNumber"] == 1 && stage(e, "1")["status"] == "RUNNING"
    })
    .await;
    app.cancel(&id).await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "CANCELED");
    let stops = eventually(
        "the build to be stopped",
        Duration::from_secs(20),
        || async {
            let stops = ci.stops("endless");
            (!stops.is_empty()).then_some(stops)
        },
    )
    .await;
    assert_eq!(stops, vec![1]);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_fails_the_stage_clearly_and_tokens_come_from_secrets_manager() {
    let ci = FakeJenkins::start("token-3").await;
    ci.add_job("job", JobScript::ending("SUCCESS"));
    let mut wrong_token = ci.master("wrong-token");
    wrong_token["apiToken"] = json!("not-the-token");
    let vault = json!({"name": "vault", "address": ci.base, "username": support::fake_jenkins::USER,
                       "apiTokenSecret": "gennaker-test/jenkins/vault"});
    let app = spawn(json!([ci.master("ci"), wrong_token, vault])).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&app.running.sdk);
    secrets
        .create_secret()
        .name("gennaker-test/jenkins/vault")
        .secret_string(json!({"apiToken": ci.token}).to_string())
        .send()
        .await
        .expect("the secret is created in the emulator");

    let cases = [
        ("no-master", json!({"job": "job"}), "needs a master"),
        ("no-job", json!({"master": "ci"}), "needs a job"),
        (
            "unknown-master",
            json!({"master": "elsewhere", "job": "job"}),
            "unknown Jenkins master 'elsewhere'",
        ),
        ("unknown-job", json!({"master": "ci", "job": "nope"}), "404"),
        (
            "wrong-token",
            json!({"master": "wrong-token", "job": "job"}),
            "refused the credentials",
        ),
        (
            "no-property-file",
            json!({"master": "ci", "job": "job", "propertyFile": "missing.properties"}),
            "missing.properties",
        ),
    ];
    let mut ids = Vec::new();
    for (name, fields, _) in &cases {
        ids.push(
            app.save_and_trigger("builds", name, vec![jenkins("1", &[], fields.clone())])
                .await,
        );
    }
    let vault_run = app
        .save_and_trigger(
            "builds",
            "vault",
            vec![jenkins("1", &[], json!({"master": "vault", "job": "job"}))],
        )
        .await;
    for ((name, _, expected), id) in cases.iter().zip(&ids) {
        let execution = app.ended(id).await;
        assert_eq!(execution["status"], "TERMINAL", "{name}: {execution}");
        let error = error_of(&execution);
        assert!(error.contains(expected), "{name}: {error}");
    }
    let execution = app.ended(&vault_run).await;
    assert_eq!(
        execution["status"], "SUCCEEDED",
        "the token read from Secrets Manager: {execution}"
    );
    app.stop().await;
}

fn error_of(execution: &Value) -> String {
    stage(execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {execution}"))
        .to_string()
}
