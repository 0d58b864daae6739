//! Bake stages against local mode: pipelines run through the public API, and every effect
//! is checked through the emulator's EC2 API (builders launched and terminated, images and
//! their tags) — not through Gennaker's own records.
//!
//! The emulator runs no user data, so nothing on a builder installs packages or signals.
//! [`BuilderPlayer`] plays the builder's user data the way the fake Jenkins plays Jenkins:
//! it watches for builder instances and tags each one `gennaker:bake-status` with the
//! outcome a real builder would report.

mod support;

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, Tag};
use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::{TestApp, eventually, stage};
use tokio::task::JoinHandle;

const REGION: &str = "us-east-1";
/// A base image moto preloads (Canonical's), named by pattern as operators configure it.
const BASE_IMAGES: &str = r#"[{"id": "ubuntu", "shortDescription": "v14.04",
  "detailedDescription": "Ubuntu Trusty Tahr v14.04", "packageType": "deb", "owners": ["099720109477"],
  "baseLabels": {"release": "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-*",
                 "candidate": "ami-00000000"}}]"#;
const TRUSTY: &str = "ami-1e749f67";

fn spawn_options(duplicate: bool) -> LocalOptions {
    LocalOptions {
        delivery: Delivery {
            duplicate,
            retry_failed_after: duplicate.then_some(Duration::ZERO),
        },
        parameters: [
            ("StagePollSeconds".to_string(), "1".to_string()),
            ("BakeryBaseImages".to_string(), BASE_IMAGES.to_string()),
        ]
        .into(),
        ..LocalOptions::default()
    }
}

fn bake_stage(extra: Value) -> Value {
    let mut stage = json!({"refId": "1", "requisiteStageRefIds": [], "type": "bake", "name": "Bake",
        "package": "shop", "baseOs": "ubuntu", "baseLabel": "release", "region": REGION,
        "user": "ana", "cloudProviderType": "aws", "vmType": "hvm", "storeType": "ebs"});
    for (key, value) in extra.as_object().unwrap() {
        stage[key] = value.clone();
    }
    stage
}

async fn run(app: &TestApp, name: &str, stages: Vec<Value>) -> Value {
    let id = app.save_and_trigger("shop", name, stages).await;
    app.ended(&id).await
}

fn error_of(execution: &Value) -> String {
    stage(execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A builder instance as EC2 shows it.
#[derive(Debug, Clone)]
struct Builder {
    id: String,
    state: String,
}

fn ec2(app: &TestApp) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&app.running.sdk)
}

/// Every bake builder ever launched, in any state.
async fn builders(ec2: &aws_sdk_ec2::Client) -> Vec<Builder> {
    let found = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag:gennaker:role")
                .values("bake-builder")
                .build(),
        )
        .send()
        .await
        .unwrap();
    found
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| Builder {
            id: i.instance_id().unwrap().to_string(),
            state: i.state().unwrap().name().unwrap().as_str().to_string(),
        })
        .collect()
}

async fn image(ec2: &aws_sdk_ec2::Client, id: &str) -> aws_sdk_ec2::types::Image {
    ec2.describe_images()
        .image_ids(id)
        .send()
        .await
        .unwrap()
        .images()[0]
        .clone()
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(Tag::value)
}

/// Plays the builders' user data: tags every running builder that has not signalled yet
/// with `outcome`, as the install-then-signal script would.
struct BuilderPlayer(JoinHandle<()>);

impl BuilderPlayer {
    fn start(app: &TestApp, outcome: &'static str) -> BuilderPlayer {
        let ec2 = ec2(app);
        BuilderPlayer(tokio::spawn(async move {
            loop {
                for builder in builders(&ec2).await {
                    if builder.state != "running" && builder.state != "pending" {
                        continue;
                    }
                    let signalled = ec2
                        .describe_tags()
                        .filters(
                            Filter::builder()
                                .name("resource-id")
                                .values(&builder.id)
                                .build(),
                        )
                        .filters(
                            Filter::builder()
                                .name("key")
                                .values("gennaker:bake-status")
                                .build(),
                        )
                        .send()
                        .await
                        .unwrap();
                    if signalled.tags().is_empty() {
                        ec2.create_tags()
                            .resources(&builder.id)
                            .tags(
                                Tag::builder()
                                    .key("gennaker:bake-status")
                                    .value(outcome)
                                    .build(),
                            )
                            .send()
                            .await
                            .unwrap();
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }))
    }
}

impl Drop for BuilderPlayer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn a_bake_makes_an_image_that_later_bakes_reuse_unless_they_rebake() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let ec2 = ec2(&app);
    let _player = BuilderPlayer::start(&app, "succeeded");

    // Stages after the bake take its image: a deploy from the bake's deploymentDetails by
    // itself, a createServerGroup through an expression.
    let create = json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "createServerGroup",
        "name": "Create", "application": "shop", "stack": "baked", "freeFormDetails": "",
        "credentials": "default", "region": REGION, "capacity": {"min": 1, "max": 1, "desired": 1},
        "imageId": "${deploymentDetails[0].ami}", "instanceType": "t3.micro"});
    let deploy = json!({"refId": "3", "requisiteStageRefIds": ["1"], "type": "deploy",
        "name": "Deploy", "clusters": [{"application": "shop", "stack": "deployed",
        "freeFormDetails": "", "account": "default", "cloudProvider": "aws",
        "availabilityZones": {REGION: []}, "capacity": {"min": 1, "max": 1, "desired": 1},
        "instanceType": "t3.micro"}]});
    let execution = run(
        &app,
        "bake",
        vec![bake_stage(json!({"amiSuffix": "first"})), create, deploy],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let baked = stage(&execution, "1");
    let ami = baked["context"]["ami"].as_str().unwrap().to_string();
    assert_eq!(baked["context"]["imageId"], ami);
    assert_eq!(baked["context"]["imageName"], "shop-hvm-first-ubuntu");
    assert_eq!(baked["context"]["baseAmiId"], TRUSTY);
    assert_eq!(baked["context"]["region"], REGION);
    assert_eq!(baked["context"]["previouslyBaked"], false);
    let details = &baked["outputs"]["deploymentDetails"];
    assert_eq!(
        details,
        &json!([{"ami": ami, "amiName": "shop-hvm-first-ubuntu", "imageId": ami,
                 "imageName": "shop-hvm-first-ubuntu", "amiSuffix": "first", "baseLabel": "release",
                 "baseOs": "ubuntu", "refId": "1", "storeType": "ebs", "vmType": "hvm",
                 "region": REGION, "package": "shop", "cloudProviderType": "aws",
                 "cloudProvider": "aws", "baseAmiId": TRUSTY}])
    );
    let made = image(&ec2, &ami).await;
    assert_eq!(made.state().unwrap().as_str(), "available");
    assert_eq!(made.name(), Some("shop-hvm-first-ubuntu"));
    assert_eq!(tag(made.tags(), "gennaker:package"), Some("shop"));
    assert_eq!(tag(made.tags(), "gennaker:base-ami"), Some(TRUSTY));
    assert_eq!(tag(made.tags(), "gennaker:base-os"), Some("ubuntu"));
    assert!(tag(made.tags(), "gennaker:bake-key").is_some());
    let launched = builders(&ec2).await;
    assert_eq!(launched.len(), 1, "{launched:?}");
    assert_eq!(launched[0].state, "terminated", "the builder is gone");
    assert_eq!(
        tag(made.tags(), "gennaker:builder-instance"),
        Some(launched[0].id.as_str())
    );
    for group in ["shop-baked-v000", "shop-deployed-v000"] {
        let template = ec2
            .describe_launch_template_versions()
            .launch_template_name(group)
            .versions("$Latest")
            .send()
            .await
            .unwrap();
        let data = template.launch_template_versions()[0]
            .launch_template_data()
            .unwrap();
        assert_eq!(
            data.image_id(),
            Some(ami.as_str()),
            "{group} runs the baked image"
        );
    }

    let again = run(&app, "bake-again", vec![bake_stage(json!({}))]).await;
    assert_eq!(again["status"], "SUCCEEDED", "{again}");
    assert_eq!(stage(&again, "1")["context"]["ami"], ami, "reused");
    assert_eq!(stage(&again, "1")["context"]["previouslyBaked"], true);
    assert_eq!(builders(&ec2).await.len(), 1, "no second builder");

    let rebaked = run(&app, "rebake", vec![bake_stage(json!({"rebake": true}))]).await;
    assert_eq!(rebaked["status"], "SUCCEEDED", "{rebaked}");
    let new_ami = stage(&rebaked, "1")["context"]["ami"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_ami, ami, "a new image");
    assert_eq!(stage(&rebaked, "1")["context"]["previouslyBaked"], false);
    let launched = builders(&ec2).await;
    assert_eq!(launched.len(), 2, "{launched:?}");
    assert!(
        launched.iter().all(|b| b.state == "terminated"),
        "{launched:?}"
    );

    // A trigger asking to rebake (Orca's trigger.rebake) bakes anew too.
    let (status, body) = app
        .post("/pipelines/shop/bake-again", &json!({"rebake": true}))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("/pipelines/");
    let triggered = app.ended(id).await;
    assert_eq!(triggered["status"], "SUCCEEDED", "{triggered}");
    assert_eq!(stage(&triggered, "1")["context"]["previouslyBaked"], false);
    assert_eq!(builders(&ec2).await.len(), 3, "a third builder");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_install_or_bad_input_ends_terminal_without_a_running_builder() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let ec2 = ec2(&app);

    // Rosco's bake options, from the BakeryBaseImages parameter.
    let (status, options) = app.get("/bakery/options").await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options[0]["cloudProvider"], "aws");
    assert_eq!(
        options[0]["baseImages"][0],
        json!({"id": "ubuntu", "shortDescription": "v14.04", "detailedDescription": "Ubuntu Trusty Tahr v14.04",
               "displayName": "Ubuntu Trusty Tahr v14.04", "packageType": "deb", "vmTypes": ["hvm"],
               "baseLabels": ["candidate", "release"]})
    );
    let (status, aws) = app.get("/bakery/options/aws").await;
    assert_eq!((status, &aws), (200, &options[0]));
    let (status, ubuntu) = app.get("/bakery/options/aws/baseImages/ubuntu").await;
    assert_eq!((status, &ubuntu), (200, &options[0]["baseImages"][0]));
    assert_eq!(app.get("/bakery/options/gce").await.0, 404);
    assert_eq!(
        app.get("/bakery/options/aws/baseImages/windows").await.0,
        404
    );

    let cases = [
        (
            json!({"package": ""}),
            "package: name the package(s) to bake",
        ),
        (json!({"package": "shop;reboot"}), "is not a package name"),
        (json!({"baseOs": "windows"}), "unknown base OS 'windows'"),
        (
            json!({"baseLabel": "unstable"}),
            "has no image labelled 'unstable'",
        ),
        (json!({"account": "nowhere"}), "unknown account 'nowhere'"),
        (json!({"region": "eu-north-9"}), "no region 'eu-north-9'"),
        (
            json!({"baseLabel": "candidate"}),
            "base image for ubuntu/candidate not found",
        ),
        (json!({"baseAmi": "ami-12345678"}), "image ami-12345678"),
    ];
    for (index, (patch, message)) in cases.iter().enumerate() {
        let execution = run(
            &app,
            &format!("bad-{index}"),
            vec![bake_stage(patch.clone())],
        )
        .await;
        assert_eq!(execution["status"], "TERMINAL", "{execution}");
        let error = error_of(&execution);
        assert!(error.contains(message), "expected '{message}' in '{error}'");
    }
    assert!(
        builders(&ec2).await.is_empty(),
        "bad input launches nothing"
    );

    let player = BuilderPlayer::start(&app, "failed");
    let execution = run(&app, "fails", vec![bake_stage(json!({}))]).await;
    drop(player);
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let error = error_of(&execution);
    assert!(
        error.contains("signalled gennaker:bake-status=failed: installing shop failed"),
        "{error}"
    );
    let launched = builders(&ec2).await;
    assert_eq!(launched.len(), 1, "{launched:?}");
    assert_eq!(
        launched[0].state, "terminated",
        "the failed builder is terminated"
    );
    app.stop().await;
}

#[tokio::test]
async fn canceling_a_bake_terminates_its_builder() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let ec2 = ec2(&app);
    // Nobody signals: the bake waits for its builder until it is canceled.
    let id = app
        .save_and_trigger("shop", "bake-to-cancel", vec![bake_stage(json!({}))])
        .await;
    let builder = eventually("a builder to launch", Duration::from_secs(30), || async {
        builders(&ec2).await.into_iter().next()
    })
    .await;
    assert_eq!(builder.state, "running");
    app.cancel(&id).await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "CANCELED", "{execution}");
    eventually(
        "the builder to be terminated",
        Duration::from_secs(30),
        || async {
            let launched = builders(&ec2).await;
            (launched.len() == 1 && launched[0].state == "terminated").then_some(())
        },
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn every_message_twice_still_launches_one_builder() {
    let app = TestApp::spawn_with(spawn_options(true)).await;
    let ec2 = ec2(&app);
    let _player = BuilderPlayer::start(&app, "succeeded");
    let execution = run(
        &app,
        "twice",
        vec![bake_stage(json!({"package": "shop tools"}))],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let launched = builders(&ec2).await;
    assert_eq!(launched.len(), 1, "one builder: {launched:?}");
    assert_eq!(launched[0].state, "terminated");
    let images = ec2
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name("tag:gennaker:package")
                .values("shop tools")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(images.images().len(), 1, "one image");
    app.stop().await;
}

#[tokio::test]
async fn a_builder_that_never_signals_times_out_and_is_terminated() {
    // What a person sees in local mode, where nothing runs the builder's user data.
    let mut options = spawn_options(false);
    options
        .parameters
        .insert("BakeTimeoutSeconds".to_string(), "2".to_string());
    let app = TestApp::spawn_with(options).await;
    let ec2 = ec2(&app);
    let execution = run(&app, "silent", vec![bake_stage(json!({}))]).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let error = error_of(&execution);
    assert!(
        error.contains("did not signal within 2 s") && error.contains("gennaker:bake-status"),
        "{error}"
    );
    let launched = builders(&ec2).await;
    assert_eq!(launched.len(), 1, "{launched:?}");
    assert_eq!(launched[0].state, "terminated");
    app.stop().await;
}

#[tokio::test]
async fn bake_then_two_red_black_deploys_leave_the_second_group_serving_the_baked_image() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = support::cloud::Cloud::of(&app);
    let arn = cloud.target_group("shop-web-tg").await;
    let _player = BuilderPlayer::start(&app, "succeeded");
    let red_black = |ref_id: &str, requisite: &str| {
        json!({"refId": ref_id, "requisiteStageRefIds": [requisite], "type": "deploy",
            "name": format!("Deploy {ref_id}"), "clusters": [{"application": "shop", "stack": "web",
            "freeFormDetails": "", "account": "default", "cloudProvider": "aws",
            "availabilityZones": {REGION: []}, "capacity": {"min": 2, "max": 2, "desired": 2},
            "instanceType": "t3.micro", "targetGroups": ["shop-web-tg"], "strategy": "redblack",
            "scaleDown": true, "maxRemainingAsgs": 2}]})
    };
    let execution = run(
        &app,
        "bake-and-deploy",
        vec![
            bake_stage(json!({})),
            red_black("2", "1"),
            red_black("3", "2"),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let ami = stage(&execution, "1")["context"]["ami"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        cloud.group_names().await,
        ["shop-web-v000", "shop-web-v001"]
    );
    let serving = cloud.group("shop-web-v001").await.unwrap();
    assert_eq!(serving.target_group_arns(), std::slice::from_ref(&arn));
    assert_eq!(
        cloud.healthy_targets(&arn).await,
        2,
        "only v001's two instances serve"
    );
    let old = cloud.group("shop-web-v000").await.unwrap();
    assert!(
        old.target_group_arns().is_empty(),
        "v000 left the target group"
    );
    assert!(
        old.suspended_processes()
            .iter()
            .any(|p| p.process_name() == Some("AddToLoadBalancer")),
        "v000 is disabled"
    );
    assert_eq!(old.desired_capacity(), Some(0), "and scaled down");
    for group in ["shop-web-v000", "shop-web-v001"] {
        assert_eq!(
            cloud.launch_image(group).await.as_deref(),
            Some(ami.as_str()),
            "{group} runs the baked image"
        );
    }
}

/// Deck's defaults and nothing configured: no `BakeryBaseImages`, no player of the test's
/// own. Local mode offers a base image the emulator has and plays the builder (saying so in
/// the stage), so a bake → red/black deploy runs as it would on AWS; run twice, v000 is
/// disabled and v001 serves the baked image.
#[tokio::test]
async fn with_decks_defaults_local_mode_bakes_then_deploys_red_black() {
    let app = TestApp::spawn_with(LocalOptions {
        simulated_bakes: true,
        parameters: [("StagePollSeconds".to_string(), "1".to_string())].into(),
        ..LocalOptions::default()
    })
    .await;
    let cloud = support::cloud::Cloud::of(&app);
    // What Deck's bake and deploy stage editors save when only the package and the cluster's
    // stack are typed in.
    let bake = json!({"refId": "1", "requisiteStageRefIds": [], "type": "bake", "name": "Bake",
        "package": "nginx", "baseOs": "ubuntu", "baseLabel": "release", "regions": [REGION],
        "user": "anonymous", "cloudProviderType": "aws", "vmType": "hvm", "storeType": "ebs",
        "extendedAttributes": {}});
    let deploy = json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "deploy",
        "name": "Deploy", "clusters": [{"application": "shop", "stack": "web",
        "freeFormDetails": "", "account": "default", "cloudProvider": "aws", "provider": "aws",
        "availabilityZones": {REGION: []}, "capacity": {"min": 1, "max": 1, "desired": 1},
        "instanceType": "t3.micro", "strategy": "redblack"}]});

    let first = run(&app, "ship", vec![bake.clone(), deploy.clone()]).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    let baked = stage(&first, "1");
    assert_eq!(
        baked["context"]["bakes"][REGION]["builderNote"],
        gennaker_local::builders::SIMULATED_INSTALL_NOTE,
        "the stage says the install was simulated: {baked}"
    );
    assert_eq!(
        baked["context"]["baseAmiId"], "ami-785db401",
        "Ubuntu 16.04"
    );
    let ami = baked["context"]["ami"].as_str().unwrap().to_string();
    assert_eq!(
        tag(image(&ec2(&app), &ami).await.tags(), "gennaker:package"),
        Some("nginx")
    );

    let again = app.trigger("shop", "ship").await;
    let second = app.ended(&again).await;
    assert_eq!(second["status"], "SUCCEEDED", "{second}");
    assert_eq!(stage(&second, "1")["context"]["ami"], ami.as_str());
    assert_eq!(
        cloud.group_names().await,
        ["shop-web-v000", "shop-web-v001"]
    );
    let old = cloud.group("shop-web-v000").await.unwrap();
    assert!(
        old.suspended_processes()
            .iter()
            .any(|process| process.process_name() == Some("AddToLoadBalancer")),
        "v000 is disabled"
    );
    assert_eq!(
        cloud.launch_image("shop-web-v001").await,
        Some(ami),
        "v001 runs the baked image"
    );
}
