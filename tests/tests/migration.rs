//! Moving a team over from Spinnaker, through the public API: pipelines exported from Deck
//! ("Edit as JSON"), `spin pipeline get` and the AWS Lambda plugin (the corpus in
//! `tests/corpus/migration/`) import in one go; stages Gennaker cannot run are stored as
//! submitted and reported; pipelines with such a stage are refused before anything of them
//! runs, whatever starts them; fields Spinnaker's Jackson reads leniently are read as
//! leniently; and pipelines may be named like Gate's sub-paths.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestApp, eventually, stage};

/// The corpus, in the order it is imported.
const CORPUS: [&str; 7] = [
    include_str!("../corpus/migration/deck-kubernetes-deploy.json"),
    include_str!("../corpus/migration/spin-canary-release.json"),
    include_str!("../corpus/migration/lambda-plugin-release.json"),
    include_str!("../corpus/migration/vendor-stages.json"),
    include_str!("../corpus/migration/legacy-linear-waits.json"),
    include_str!("../corpus/migration/conditional-kubernetes.json"),
    include_str!("../corpus/migration/broken-cycle.json"),
];

fn corpus(name: &str) -> Value {
    CORPUS
        .iter()
        .map(|text| serde_json::from_str::<Value>(text).unwrap())
        .find(|config| config["name"] == name)
        .unwrap_or_else(|| panic!("no corpus config named {name}"))
}

/// Fields the server sets on save; everything else must come back as submitted.
const SERVER_FIELDS: [&str; 4] = ["id", "updateTs", "lastModifiedBy", "index"];

fn without_server_fields(config: &Value) -> Value {
    let mut config = config.clone();
    for field in SERVER_FIELDS {
        config.as_object_mut().unwrap().remove(field);
    }
    config
}

fn path_segment(name: &str) -> String {
    name.replace(' ', "%20")
}

fn execution_id(answer: &Value) -> String {
    answer["ref"]
        .as_str()
        .unwrap_or_else(|| panic!("no ref in {answer}"))
        .trim_start_matches("/pipelines/")
        .to_string()
}

impl TestApp {
    async fn save_config(&self, config: &Value) -> String {
        let (status, body) = self.post("/pipelines", config).await;
        assert_eq!(status, 200, "{body}");
        let (application, name) = (
            config["application"].as_str().unwrap(),
            config["name"].as_str().unwrap(),
        );
        let (status, saved) = self
            .get(&format!(
                "/applications/{application}/pipelineConfigs/{}",
                path_segment(name)
            ))
            .await;
        assert_eq!(status, 200, "{saved}");
        saved["id"].as_str().unwrap().to_string()
    }

    async fn stored(&self, application: &str, name: &str) -> Value {
        let (status, stored) = self
            .get(&format!(
                "/applications/{application}/pipelineConfigs/{}",
                path_segment(name)
            ))
            .await;
        assert_eq!(status, 200, "{stored}");
        stored
    }

    /// The first execution of `name` whose trigger has `trigger_type`, once it exists.
    async fn execution_by(&self, application: &str, name: &str, trigger_type: &str) -> Value {
        eventually(
            &format!("a {trigger_type} execution of {name}"),
            Duration::from_secs(45),
            || async {
                self.executions_named(application, name)
                    .await
                    .into_iter()
                    .find(|execution| execution["trigger"]["type"] == trigger_type)
            },
        )
        .await
    }
}

fn lines(report: &Value) -> Vec<String> {
    report["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["line"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_exported_corpus_imports_in_one_go_reports_what_cannot_run_and_reads_back_as_submitted()
{
    let app = TestApp::spawn().await;
    let exported: Vec<Value> = CORPUS
        .iter()
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    let (status, report) = app
        .post("/pipelines/import?application=migrated", &json!(exported))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            &report["saved"],
            &report["savedCannotRun"],
            &report["refused"]
        ),
        (&json!(1), &json!(5), &json!(1)),
        "{report:#}"
    );
    let lines = lines(&report);
    assert_eq!(
        lines[..6],
        [
            "Deploy to staging: saved, cannot run yet: 1 (Bake (Manifest)) of type 'bakeManifest', \
             2 (Deploy (Manifest)) of type 'deployManifest'",
            "Canary release: saved, cannot run yet: 2 (Canary Analysis) of type 'kayentaCanary', \
             3 (Run database migration) of type 'runJobManifest'",
            "Release payments function: saved, cannot run yet: 1 (Deploy function) of type \
             'Aws.LambdaDeploymentStage', 2 (Shift 10% to the new version) of type \
             'Aws.LambdaTrafficRoutingStage', 3 (Smoke test) of type 'Aws.LambdaInvokeStage'",
            "Notify and audit: saved, cannot run yet: 1 (Audit) of type \
             'com.acme.spinnaker.AuditStage', 2 (Tell the channel) of type 'Acme Notify. Slack v2'",
            "Legacy linear waits: saved",
            "Maybe deploy to Kubernetes: saved, cannot run yet: 2 (Deploy (Manifest)) of type \
             'deployManifest'",
        ]
        .map(String::from)
    );
    assert!(
        lines[6].starts_with("Broken cycle: refused: stages: stages form a cycle"),
        "{}",
        lines[6]
    );
    assert_eq!(report["pipelines"][6]["errors"][0]["field"], "stages");

    // Every saved config reads back as exported, only moved into the application.
    for original in &exported[..6] {
        let mut expected = without_server_fields(original);
        expected["application"] = json!("migrated");
        let stored = app
            .stored("migrated", original["name"].as_str().unwrap())
            .await;
        assert_eq!(without_server_fields(&stored), expected);
    }
    let deck = app.stored("migrated", "Deploy to staging").await;
    assert_eq!(
        deck["id"], "3b2f4e1a-5a0b-4d8c-9e2f-1f0c9a7b6d01",
        "exported ids are kept, so pipeline triggers and stages still point at them"
    );

    // The dedicated check says which stages cannot run and why.
    let (status, check) = app
        .get("/pipelineConfigs/3b2f4e1a-5a0b-4d8c-9e2f-1f0c9a7b6d01/compatibility")
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["runnable"], false);
    assert_eq!(check["application"], "migrated");
    assert_eq!(
        check["unrunnableStages"][1],
        json!({"field": "stages[1]", "refId": "2", "name": "Deploy (Manifest)",
               "type": "deployManifest",
               "reason": "Gennaker cannot run stages of type 'deployManifest' yet"})
    );
    let conditional = app.stored("migrated", "Maybe deploy to Kubernetes").await;
    let (_, check) = app
        .get(&format!(
            "/pipelineConfigs/{}/compatibility",
            conditional["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        check["unrunnableStages"][0]["stageEnabled"],
        "parameters.kubernetes == 'true'"
    );
    let legacy = app.stored("migrated", "Legacy linear waits").await;
    let (_, check) = app
        .get(&format!(
            "/pipelineConfigs/{}/compatibility",
            legacy["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(check["runnable"], true);
    assert_eq!(check["unrunnableStages"], json!([]));
    let (status, _) = app.get("/pipelineConfigs/nope/compatibility").await;
    assert_eq!(status, 404);

    // Importing again updates the same pipelines instead of refusing their names.
    let (status, again) = app
        .post("/pipelines/import?application=migrated", &json!(exported))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refused"], 1, "{again:#}");
    for (first, second) in report["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .zip(again["pipelines"].as_array().unwrap())
        .take(6)
    {
        assert_eq!(first["id"], second["id"]);
    }
    let (_, listed) = app.get("/applications/migrated/pipelineConfigs").await;
    assert_eq!(listed.as_array().unwrap().len(), 6);

    // Into another application the exported ids are taken: saved under new ones.
    let (_, elsewhere) = app
        .post(
            "/pipelines/import?application=elsewhere",
            &json!([corpus("Deploy to staging")]),
        )
        .await;
    assert_eq!(elsewhere["savedCannotRun"], 1, "{elsewhere:#}");
    assert_ne!(
        elsewhere["pipelines"][0]["id"],
        "3b2f4e1a-5a0b-4d8c-9e2f-1f0c9a7b6d01"
    );
    assert!(
        elsewhere["pipelines"][0]["line"]
            .as_str()
            .unwrap()
            .ends_with("(id '3b2f4e1a-5a0b-4d8c-9e2f-1f0c9a7b6d01' belongs to a pipeline of application migrated; saved under a new id)")
    );

    // `spin pipeline save` and Deck save through POST /pipelines, bulk save too.
    let mut vendor = corpus("Notify and audit");
    vendor["application"] = json!("spin-saved");
    app.save_config(&vendor).await;
    assert_eq!(
        without_server_fields(&app.stored("spin-saved", "Notify and audit").await),
        vendor
    );
    let mut canary = corpus("Canary release");
    canary.as_object_mut().unwrap().remove("id");
    canary["application"] = json!("bulk");
    let (status, bulk) = app.post("/pipelines/bulksave", &json!([canary])).await;
    assert_eq!(status, 200, "{bulk}");
    assert_eq!(bulk["successful_pipelines_count"], 1, "{bulk}");
    app.stop().await;
}

#[tokio::test]
async fn what_cannot_run_is_refused_before_any_stage_starts_whatever_starts_it() {
    let app = TestApp::spawn().await;
    app.create_application("payments").await;
    app.create_application("storefront").await;
    let upstream = app
        .save_config(&json!({"application": "payments", "name": "build",
            "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}))
        .await;
    let mut lambda = corpus("Release payments function");
    lambda["triggers"] = json!([
        {"type": "webhook", "enabled": true, "source": "payments-build"},
        {"type": "cron", "id": "yearly", "enabled": true, "cronExpression": "0 0 3 1 1 ?"},
        {"type": "pipeline", "enabled": true, "application": "payments", "pipeline": upstream,
         "status": ["successful"]}
    ]);
    let lambda_id = app.save_config(&lambda).await;
    let name = "Release payments function";
    let every_stage = [
        "1 (Deploy function) of type 'Aws.LambdaDeploymentStage'",
        "2 (Shift 10% to the new version) of type 'Aws.LambdaTrafficRoutingStage'",
        "3 (Smoke test) of type 'Aws.LambdaInvokeStage'",
    ];

    // Manual triggers (spin and Deck's paths) are answered 400 naming every such stage.
    for path in [
        format!("/pipelines/payments/{}", path_segment(name)),
        format!("/pipelines/v2/payments/{}", path_segment(name)),
    ] {
        let (status, body) = app
            .post(&path, &json!({"parameters": {"version": "v1"}}))
            .await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "Pipeline 'Release payments function' has stages Gennaker cannot run yet"
            ),
            "{message}"
        );
        for stage in every_stage {
            assert!(message.contains(stage), "{message} should name {stage}");
        }
    }

    // Automatic triggers record the execution TERMINAL with the reason at once.
    let (status, _) = app
        .post("/webhooks/webhook/payments-build", &json!({"ref": "main"}))
        .await;
    assert_eq!(status, 200);
    let queue_url = app
        .running
        .deployment
        .resource("PipelineTriggerQueue")
        .unwrap()
        .ref_value
        .clone();
    aws_sdk_sqs::Client::new(&app.running.sdk)
        .send_message()
        .queue_url(&queue_url)
        .message_body(
            json!({"cronTrigger": {"pipelineId": lambda_id, "triggerId": "yearly",
                "scheduleName": "yearly-test", "scheduledTime": "2030-01-01T00:00:00Z"}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let build = app.trigger("payments", "build").await;
    assert_eq!(app.ended(&build).await["status"], "SUCCEEDED");

    let mut refused_ids = Vec::new();
    for trigger_type in ["manual", "webhook", "cron", "pipeline"] {
        let execution = app.execution_by("payments", name, trigger_type).await;
        assert_eq!(
            execution["status"], "TERMINAL",
            "{trigger_type}: {execution}"
        );
        assert_eq!(execution["canceled"], true);
        assert_eq!(execution["canceledBy"], "system");
        let reason = execution["cancellationReason"].as_str().unwrap();
        assert!(
            reason.starts_with("Failed on startup: Pipeline 'Release payments function' has stages Gennaker cannot run yet"),
            "{trigger_type}: {reason}"
        );
        for stage in execution["stages"].as_array().unwrap() {
            assert_eq!(stage["status"], "NOT_STARTED", "{trigger_type}: {stage}");
        }
        refused_ids.push(execution["id"].as_str().unwrap().to_string());
    }
    let machine = app
        .running
        .deployment
        .resource("PipelineStateMachine")
        .unwrap()
        .ref_value
        .clone();
    let runs = aws_sdk_sfn::Client::new(&app.running.sdk)
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    for run in runs.executions() {
        assert!(
            !refused_ids.iter().any(|id| run.name() == id.as_str()),
            "no pipeline machine ran for a refused execution"
        );
    }

    // A pipeline stage running it fails with the reason.
    let parent = app
        .save_config(
            &json!({"application": "payments", "name": "parent", "stages": [
            {"refId": "1", "type": "pipeline", "name": "Release", "application": "payments",
             "pipeline": lambda_id}]}),
        )
        .await;
    assert!(!parent.is_empty());
    let parent = app.trigger("payments", "parent").await;
    let parent = app.ended(&parent).await;
    assert_eq!(parent["status"], "TERMINAL", "{parent}");
    let error = &stage(&parent, "1")["context"]["exception"]["details"]["error"];
    assert!(
        error
            .as_str()
            .is_some_and(|error| error.contains("3 (Smoke test) of type 'Aws.LambdaInvokeStage'")),
        "{error}"
    );

    // A stage whose stageEnabled is false for the trigger may be of any type: it is skipped.
    let conditional = corpus("Maybe deploy to Kubernetes");
    app.save_config(&conditional).await;
    let skipping = app
        .trigger("storefront", "Maybe%20deploy%20to%20Kubernetes")
        .await;
    let skipping = app.ended(&skipping).await;
    assert_eq!(skipping["status"], "SUCCEEDED", "{skipping}");
    assert_eq!(stage(&skipping, "2")["status"], "SKIPPED");
    assert_eq!(stage(&skipping, "3")["status"], "SUCCEEDED");
    let (status, body) = app
        .post(
            "/pipelines/storefront/Maybe%20deploy%20to%20Kubernetes",
            &json!({"parameters": {"kubernetes": "true"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("cannot run yet: 2 (Deploy (Manifest)) of type 'deployManifest'"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn fields_spinnaker_reads_leniently_run_and_legacy_fields_are_kept_untouched() {
    let app = TestApp::spawn().await;
    let legacy = corpus("Legacy linear waits");
    app.save_config(&legacy).await;
    let stored = app.stored("storefront", "Legacy linear waits").await;
    assert_eq!(
        without_server_fields(&stored),
        without_server_fields(&legacy)
    );
    for (field, value) in [
        ("parallel", json!(false)),
        ("stageCounter", json!(2)),
        ("appConfig", json!({})),
        ("executionEngine", json!("v3")),
        ("schema", json!("1")),
        ("locked", json!({"ui": false})),
        ("roles", json!([])),
        ("triggers", json!(null)),
        ("notifications", json!(null)),
    ] {
        assert_eq!(stored[field], value, "{field}");
    }

    let id = app.trigger("storefront", "Legacy%20linear%20waits").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let short_wait = stage(&execution, "0");
    assert_eq!(short_wait["context"]["waitTime"], "1", "kept as given");
    let waited =
        short_wait["endTime"].as_i64().unwrap() - short_wait["startTime"].as_i64().unwrap();
    assert!(
        waited >= 1000,
        "waitTime \"1\" waits one second, as Jackson reads it (waited {waited} ms)"
    );
    assert_eq!(stage(&execution, "1")["requisiteStageRefIds"], json!(["0"]));
    app.stop().await;
}

/// Gate's sub-paths of `/pipelines/{id}/…` and other words a pipeline may be named.
const SUB_PATH_NAMES: [&str; 12] = [
    "cancel",
    "pause",
    "resume",
    "history",
    "stages",
    "evaluateExpression",
    "evaluateVariables",
    "v2",
    "start",
    "bulksave",
    "import",
    "compatibility",
];

#[tokio::test]
async fn pipelines_named_like_gate_sub_paths_run_and_delete_through_every_path() {
    let app = TestApp::spawn().await;
    for name in SUB_PATH_NAMES {
        app.save_config(&json!({"application": "paths", "name": name,
            "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}))
            .await;
    }
    for name in SUB_PATH_NAMES {
        for path in [
            format!("/pipelines/paths/{name}"),
            format!("/pipelines/v2/paths/{name}"),
        ] {
            let (status, body) = app.post(&path, &json!({})).await;
            assert_eq!(status, 202, "{path}: {body}");
            let execution = app.ended(&execution_id(&body)).await;
            assert_eq!(execution["name"], name, "{path}");
            assert_eq!(execution["status"], "SUCCEEDED", "{path}");
        }
    }

    // The sub-paths still act on executions.
    app.save_config(&json!({"application": "paths", "name": "judged",
        "stages": [{"refId": "1", "type": "manualJudgment"}]}))
        .await;
    let id = app.trigger("paths", "judged").await;
    app.wait_for_execution(&id, "the judgment to wait", |execution| {
        stage(execution, "1")["status"] == "RUNNING"
    })
    .await;
    let (status, evaluated) = app
        .post(
            &format!("/pipelines/{id}/evaluateExpression"),
            &json!({"expression": "${trigger.type}"}),
        )
        .await;
    assert_eq!(status, 200, "{evaluated}");
    assert_eq!(evaluated["result"], "manual");
    let (status, _) = app.put(&format!("/pipelines/{id}/cancel"), "alice").await;
    assert_eq!(status, 200);
    assert_eq!(app.ended(&id).await["status"], "CANCELED");

    // An application may be named like one too.
    app.save_config(&json!({"application": "v2", "name": "deploy",
        "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}))
        .await;
    let (status, body) = app.post("/pipelines/v2/deploy", &json!({})).await;
    assert_eq!(status, 202, "{body}");

    for name in SUB_PATH_NAMES {
        let response = app
            .http
            .delete(app.url(&format!("/pipelines/paths/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "DELETE {name}");
        let (status, _) = app
            .get(&format!("/applications/paths/pipelineConfigs/{name}"))
            .await;
        assert_eq!(status, 404, "{name} was deleted");
    }
    app.stop().await;
}

#[tokio::test]
async fn evaluate_variables_evaluates_in_order_and_later_stages_read_the_outputs() {
    let app = TestApp::spawn().await;
    app.save_config(
        &json!({"application": "vars", "name": "release", "spelEvaluator": "v4",
        "parameterConfig": [{"name": "version", "default": "v2.1"}],
        "stages": [
            {"refId": "1", "requisiteStageRefIds": [], "type": "evaluateVariables", "name": "Set",
             "variables": [
                {"key": "version", "value": "${trigger.parameters.version}"},
                {"key": "candidate", "value": "${version + '-rc'}"},
                {"key": "beta", "value": "${candidate.startsWith('v2')}"},
                {"key": "broken", "value": "${#stage('Nope').context}"},
                {"key": "replicas", "value": 3}
             ]},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Use",
             "waitTime": 0, "note": "${candidate} beta=${beta} replicas=${replicas}"}
        ]}),
    )
    .await;
    let id = app.trigger("vars", "release").await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let set = stage(&execution, "1");
    assert_eq!(set["status"], "SUCCEEDED");
    assert_eq!(
        set["outputs"],
        json!({"version": "v2.1", "candidate": "v2.1-rc", "beta": true,
               "broken": "${#stage('Nope').context}", "replicas": 3})
    );
    assert_eq!(
        set["context"]["variables"][1]["sourceValue"],
        "{version + '-rc'}"
    );
    assert!(
        set["context"]["expressionEvaluationSummary"]
            .to_string()
            .contains("Nope"),
        "{set}"
    );
    assert_eq!(set["tasks"][0]["name"], "evaluateVariables");
    assert_eq!(set["tasks"][0]["status"], "SUCCEEDED");
    assert_eq!(
        stage(&execution, "2")["context"]["note"],
        "v2.1-rc beta=true replicas=3"
    );
    app.stop().await;
}
