//! Server-group stages and infrastructure reads against local mode: pipelines run the
//! stages through the public API, and every effect is checked through the EC2, Auto
//! Scaling and ELBv2 APIs of the emulator — not through Gennaker's own records.

mod support;

use std::time::Duration;

use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::cloud::Cloud;
use support::{TestApp, stage};

const REGION: &str = "us-east-1";

fn create_stage(ref_id: &str, requisites: &[&str], image_id: &str, capacity: Value) -> Value {
    json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "createServerGroup",
           "name": format!("create {ref_id}"), "application": "shop", "stack": "web",
           "freeFormDetails": "", "credentials": "default", "region": REGION,
           "capacity": capacity, "imageId": image_id, "instanceType": "t3.micro",
           "keyPair": "deploy-key", "targetGroups": ["shop-web-tg"],
           "tags": {"team": "checkout"}})
}

fn spawn_options(duplicate: bool) -> LocalOptions {
    LocalOptions {
        delivery: Delivery {
            duplicate,
            retry_failed_after: duplicate.then_some(Duration::ZERO),
        },
        parameters: [("StagePollSeconds".to_string(), "1".to_string())].into(),
        ..LocalOptions::default()
    }
}

async fn run(app: &TestApp, name: &str, stages: Vec<Value>) -> Value {
    let id = app.save_and_trigger("shop", name, stages).await;
    app.ended(&id).await
}

#[tokio::test]
async fn create_resize_disable_enable_destroy_through_the_aws_apis() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);
    let (image_id, image_name) = cloud.an_image().await;
    let target_group = cloud.target_group("shop-web-tg").await;

    let capacity = json!({"min": 1, "max": 3, "desired": 2});
    let execution = run(
        &app,
        "create",
        vec![create_stage("1", &[], &image_id, capacity.clone())],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let created = stage(&execution, "1");
    assert_eq!(
        created["context"]["deploy.server.groups"],
        json!({REGION: ["shop-web-v000"]})
    );

    let group = cloud.group("shop-web-v000").await.expect("the ASG exists");
    assert_eq!(
        (group.min_size(), group.max_size(), group.desired_capacity()),
        (Some(1), Some(3), Some(2))
    );
    assert_eq!(
        group
            .launch_template()
            .and_then(|t| t.launch_template_name()),
        Some("shop-web-v000")
    );
    assert_eq!(
        group.target_group_arns(),
        std::slice::from_ref(&target_group)
    );
    assert_eq!(group.instances().len(), 2);
    let versions = cloud
        .ec2
        .describe_launch_template_versions()
        .launch_template_name("shop-web-v000")
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    assert_eq!(data.image_id(), Some(image_id.as_str()));
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("t3.micro"));
    assert_eq!(data.key_name(), Some("deploy-key"));
    assert!(
        group
            .tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("checkout"))
    );
    assert_eq!(cloud.healthy_targets(&target_group).await, 2);

    // A second create in the same cluster makes v001.
    let execution = run(
        &app,
        "create-again",
        vec![create_stage("1", &[], &image_id, capacity)],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        cloud.group_names().await,
        ["shop-web-v000", "shop-web-v001"]
    );

    // The infrastructure reads show what was created, with Deck's fields.
    let (status, clusters) = app.get("/applications/shop/clusters").await;
    assert_eq!(status, 200, "{clusters}");
    assert_eq!(clusters, json!({"default": ["shop-web"]}));
    let (status, view) = app
        .get(&format!(
            "/applications/shop/serverGroups/default/{REGION}/shop-web-v001"
        ))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["moniker"],
        json!({"app": "shop", "cluster": "shop-web", "stack": "web", "detail": null, "sequence": 1})
    );
    assert_eq!(view["capacity"], json!({"min": 1, "max": 3, "desired": 2}));
    assert_eq!(view["isDisabled"], json!(false));
    assert_eq!(view["instanceCounts"]["total"], json!(2));
    assert_eq!(view["instanceCounts"]["up"], json!(2));
    assert_eq!(view["instances"][0]["healthState"], json!("Up"));
    assert_eq!(view["launchConfig"]["imageId"], json!(image_id));
    assert_eq!(view["image"]["name"], json!(image_name));
    assert_eq!(view["loadBalancers"], json!(["shop-web-tg"]));
    assert!(view["buildInfo"].is_object());
    let (status, cluster) = app
        .get("/applications/shop/clusters/default/shop-web")
        .await;
    assert_eq!(status, 200);
    assert_eq!(cluster["serverGroups"].as_array().unwrap().len(), 2);
    let (status, target) = app
        .get(&format!("/applications/shop/clusters/default/shop-web/aws/{REGION}/serverGroups/target/ancestor_asg_dynamic"))
        .await;
    assert_eq!(
        (status, target["name"].clone()),
        (200, json!("shop-web-v000"))
    );
    let instance_id = view["instances"][0]["id"].as_str().unwrap();
    let (status, instance) = app
        .get(&format!("/instances/default/{REGION}/{instance_id}"))
        .await;
    assert_eq!(status, 200, "{instance}");
    assert_eq!(instance["serverGroup"], json!("shop-web-v001"));
    assert_eq!(instance["healthState"], json!("Up"));
    let (status, error) = app.get("/applications/shop/clusters/nowhere").await;
    assert_eq!(status, 404, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("unknown account 'nowhere'"),
        "{error}"
    );
    let (status, error) = app
        .get("/applications/shop/serverGroups/default/eu-north-9/shop-web-v001")
        .await;
    assert_eq!(status, 404, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no region 'eu-north-9'"),
        "{error}"
    );

    // Resize the newest group by increment, disable the older, enable it, destroy it.
    let location = json!({"credentials": "default", "region": REGION, "cluster": "shop-web"});
    let with = |extra: Value| {
        let mut stage = location.clone();
        for (key, value) in extra.as_object().unwrap() {
            stage[key] = value.clone();
        }
        stage
    };
    let execution = run(
        &app,
        "operate",
        vec![
            with(json!({"refId": "1", "requisiteStageRefIds": [], "type": "resizeServerGroup", "name": "grow",
                        "target": "current_asg_dynamic", "action": "scale_up", "resizeType": "incr", "scaleNum": 1})),
            with(json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "disableServerGroup", "name": "disable",
                        "target": "ancestor_asg_dynamic"})),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let grown = cloud.group("shop-web-v001").await.unwrap();
    assert_eq!(
        (grown.min_size(), grown.max_size(), grown.desired_capacity()),
        (Some(2), Some(4), Some(3))
    );
    assert_eq!(grown.instances().len(), 3);
    let disabled = cloud.group("shop-web-v000").await.unwrap();
    assert!(
        disabled.target_group_arns().is_empty(),
        "detached from its target group"
    );
    let suspended: Vec<_> = disabled
        .suspended_processes()
        .iter()
        .filter_map(|p| p.process_name())
        .collect();
    assert!(
        suspended.contains(&"AddToLoadBalancer") && suspended.contains(&"Launch"),
        "{suspended:?}"
    );
    let (_, view) = app
        .get(&format!(
            "/applications/shop/serverGroups/default/{REGION}/shop-web-v000"
        ))
        .await;
    assert_eq!(view["isDisabled"], json!(true));

    let execution = run(
        &app,
        "re-enable",
        vec![with(json!({"refId": "1", "requisiteStageRefIds": [], "type": "enableServerGroup", "name": "enable",
                         "serverGroupName": "shop-web-v000"}))],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let enabled = cloud.group("shop-web-v000").await.unwrap();
    assert_eq!(
        enabled.target_group_arns(),
        std::slice::from_ref(&target_group)
    );
    assert!(enabled.suspended_processes().is_empty());

    let execution = run(
        &app,
        "destroy",
        vec![with(json!({"refId": "1", "requisiteStageRefIds": [], "type": "destroyServerGroup", "name": "destroy",
                         "target": "oldest_asg_dynamic"}))],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(cloud.group_names().await, ["shop-web-v001"]);
    app.stop().await;
}

#[tokio::test]
async fn find_image_reads_the_cluster_and_tags() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);
    let (image_id, image_name) = cloud.an_image().await;
    cloud.target_group("shop-web-tg").await;
    let baked = cloud
        .ec2
        .create_image()
        .instance_id({
            let run = cloud
                .ec2
                .run_instances()
                .image_id(&image_id)
                .min_count(1)
                .max_count(1)
                .send()
                .await
                .unwrap();
            run.instances()[0].instance_id().unwrap().to_string()
        })
        .name("shop-1.0.0-h7.abc123-x86_64-20261127")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Image)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("appversion")
                        .value("shop-1.0.0-h7.abc123/shop-build/7")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let baked_id = baked.image_id().unwrap().to_string();

    let execution = run(
        &app,
        "find",
        vec![
            create_stage("1", &[], &image_id, json!({"min": 1, "max": 1, "desired": 1})),
            create_stage("2", &["1"], &baked_id, json!({"min": 1, "max": 1, "desired": 1})),
            json!({"refId": "3", "requisiteStageRefIds": ["2"], "type": "findImage", "name": "newest",
                   "cluster": "shop-web", "credentials": "default", "regions": [REGION]}),
            json!({"refId": "4", "requisiteStageRefIds": ["2"], "type": "findImage", "name": "oldest",
                   "cluster": "shop-web", "credentials": "default", "regions": [REGION],
                   "selectionStrategy": "OLDEST"}),
            json!({"refId": "5", "requisiteStageRefIds": [], "type": "findImageFromTags", "name": "tags",
                   "packageName": "shop", "tags": {"appversion": "shop-1.0.0-h7.abc123/shop-build/7"},
                   "regions": [REGION]}),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let newest = &stage(&execution, "3")["outputs"]["deploymentDetails"][0];
    assert_eq!(newest["imageId"], json!(baked_id));
    assert_eq!(newest["sourceServerGroup"], json!("shop-web-v001"));
    assert_eq!(newest["package_name"], json!("shop"));
    let oldest = &stage(&execution, "4")["outputs"]["deploymentDetails"][0];
    assert_eq!(
        (oldest["imageId"].clone(), oldest["imageName"].clone()),
        (json!(image_id), json!(image_name))
    );
    let tagged = &stage(&execution, "5")["outputs"]["deploymentDetails"][0];
    assert_eq!(tagged["imageId"], json!(baked_id));
    let (status, found) = app.get("/images/find?q=shop-1.0.0").await;
    assert_eq!(status, 200);
    assert_eq!(found[0]["imageId"], json!(baked_id));
    app.stop().await;
}

#[tokio::test]
async fn every_message_twice_still_makes_one_group_per_create() {
    let app = TestApp::spawn_with(spawn_options(true)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    cloud.target_group("shop-web-tg").await;
    let capacity = json!({"min": 1, "max": 2, "desired": 1});
    for (attempt, expected) in [
        (1, vec!["shop-web-v000"]),
        (2, vec!["shop-web-v000", "shop-web-v001"]),
    ] {
        let execution = run(
            &app,
            &format!("create-{attempt}"),
            vec![create_stage("1", &[], &image_id, capacity.clone())],
        )
        .await;
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
        assert_eq!(cloud.group_names().await, expected);
    }
    let execution = run(
        &app,
        "shrink",
        vec![json!({"refId": "1", "requisiteStageRefIds": [], "type": "resizeServerGroup", "name": "grow",
                    "credentials": "default", "region": REGION, "cluster": "shop-web",
                    "target": "current_asg_dynamic", "action": "scale_up", "resizeType": "incr", "scaleNum": 1}),
             json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "destroyServerGroup", "name": "destroy",
                    "credentials": "default", "region": REGION, "cluster": "shop-web", "target": "oldest_asg_dynamic"})],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let grown = cloud.group("shop-web-v001").await.unwrap();
    assert_eq!(grown.desired_capacity(), Some(2), "one increment, not two");
    assert_eq!(
        cloud.group_names().await,
        ["shop-web-v001"],
        "one group destroyed, not two"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_input_fails_the_stage_and_creates_nothing() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    cloud.target_group("shop-web-tg").await;
    let capacity = json!({"min": 1, "max": 1, "desired": 1});
    let cases = [
        (
            json!({"credentials": "nowhere"}),
            "unknown account 'nowhere'",
        ),
        (json!({"region": "eu-north-9"}), "no region 'eu-north-9'"),
        (
            json!({"capacity": {"min": 3, "max": 2, "desired": 2}}),
            "capacity.min (3) must not exceed capacity.max (2)",
        ),
        (json!({"stack": "bad stack!"}), "is not a valid stack"),
        (
            json!({"imageId": "ami-00000000"}),
            "image ami-00000000 not found",
        ),
        (
            json!({"targetGroups": ["no-such-tg"]}),
            "target group not found",
        ),
    ];
    for (index, (patch, message)) in cases.iter().enumerate() {
        let mut create = create_stage("1", &[], &image_id, capacity.clone());
        for (key, value) in patch.as_object().unwrap() {
            create[key] = value.clone();
        }
        let execution = run(&app, &format!("bad-{index}"), vec![create]).await;
        assert_eq!(execution["status"], "TERMINAL", "{execution}");
        let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains(message), "expected '{message}' in '{error}'");
    }
    let execution = run(
        &app,
        "bad-target",
        vec![json!({"refId": "1", "requisiteStageRefIds": [], "type": "destroyServerGroup", "name": "destroy",
                    "credentials": "default", "region": REGION, "cluster": "shop-web", "target": "current_asg_dynamic"})],
    )
    .await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    assert!(
        cloud.group_names().await.is_empty(),
        "no Auto Scaling group was created"
    );
    assert_eq!(
        cloud.launch_template_count().await,
        0,
        "no launch template was created"
    );
    app.stop().await;
}

fn cluster_stage(stage_type: &str, cluster: &str, extra: Value) -> Value {
    let mut stage = json!({"refId": "1", "requisiteStageRefIds": [], "type": stage_type,
        "name": stage_type, "cluster": cluster, "credentials": "default", "regions": [REGION],
        "cloudProvider": "aws"});
    for (key, value) in extra.as_object().unwrap() {
        stage[key] = value.clone();
    }
    stage
}

fn is_disabled(group: &aws_sdk_autoscaling::types::AutoScalingGroup) -> bool {
    group
        .suspended_processes()
        .iter()
        .any(|process| process.process_name() == Some("AddToLoadBalancer"))
}

#[tokio::test]
async fn cluster_stages_disable_scale_down_and_shrink_all_but_the_newest_group() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    let target_group = cloud.target_group("shop-web-tg").await;
    let one = json!({"min": 1, "max": 1, "desired": 1});
    let execution = run(
        &app,
        "three-pushes",
        vec![
            create_stage("1", &[], &image_id, one.clone()),
            create_stage("2", &["1"], &image_id, one.clone()),
            create_stage("3", &["2"], &image_id, one),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let older = ["shop-web-v000", "shop-web-v001"];

    // Disable every enabled group but the newest (a count given as text, as Jackson reads it).
    let execution = run(
        &app,
        "disable-cluster",
        vec![cluster_stage(
            "disableCluster",
            "shop-web",
            json!({"remainingEnabledServerGroups": "1", "preferLargerOverNewer": false}),
        )],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        stage(&execution, "1")["context"]["deploy.server.groups"],
        json!({REGION: ["shop-web-v001", "shop-web-v000"]})
    );
    for name in older {
        let group = cloud.group(name).await.unwrap();
        assert!(is_disabled(&group), "{name} is disabled");
        assert!(
            group.target_group_arns().is_empty(),
            "{name} left its target group"
        );
    }
    let newest = cloud.group("shop-web-v002").await.unwrap();
    assert!(!is_disabled(&newest));
    assert_eq!(
        newest.target_group_arns(),
        std::slice::from_ref(&target_group)
    );

    // Scale the disabled ones down to nothing; the enabled one is spared.
    let execution = run(
        &app,
        "scale-down-cluster",
        vec![cluster_stage("scaleDownCluster", "shop-web", json!({}))],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    for name in older {
        let group = cloud.group(name).await.unwrap();
        assert_eq!(
            (group.min_size(), group.max_size(), group.desired_capacity()),
            (Some(0), Some(0), Some(0)),
            "{name}"
        );
        assert!(group.instances().is_empty(), "{name} has no instances left");
    }
    assert_eq!(
        cloud
            .group("shop-web-v002")
            .await
            .unwrap()
            .instances()
            .len(),
        1
    );

    // Shrink the cluster to its newest group.
    let execution = run(
        &app,
        "shrink-cluster",
        vec![cluster_stage(
            "shrinkCluster",
            "shop-web",
            json!({"shrinkToSize": 1}),
        )],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(cloud.group_names().await, ["shop-web-v002"]);

    // A cluster without groups fails the stage, unless told to go on.
    let execution = run(
        &app,
        "disable-nothing",
        vec![cluster_stage("disableCluster", "shop-nothing", json!({}))],
    )
    .await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    assert!(
        stage(&execution, "1")["context"]["exception"]
            .to_string()
            .contains("No server groups found in cluster shop-nothing"),
        "{execution}"
    );
    let execution = run(
        &app,
        "disable-nothing-fine",
        vec![cluster_stage(
            "disableCluster",
            "shop-nothing",
            json!({"continueIfClusterNotFound": true}),
        )],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    app.stop().await;
}
