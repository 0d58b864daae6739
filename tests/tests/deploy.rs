//! The `deploy` stage and its strategies, `rollbackServerGroup` and `cloneServerGroup`,
//! against local mode. Pipelines run through the public API; every effect is checked
//! through the emulator's Auto Scaling and ELBv2 APIs, not through Gennaker's records.

mod support;

use std::time::Duration;

use aws_sdk_autoscaling::types::AutoScalingGroup;
use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::cloud::Cloud;
use support::{TestApp, eventually, stage};

const REGION: &str = "us-east-1";
const TARGET_GROUP: &str = "shop-web-tg";

fn options(duplicate: bool, poll_seconds: u64) -> LocalOptions {
    LocalOptions {
        delivery: Delivery {
            duplicate,
            retry_failed_after: duplicate.then_some(Duration::ZERO),
        },
        parameters: [("StagePollSeconds".to_string(), poll_seconds.to_string())].into(),
        ..LocalOptions::default()
    }
}

/// A Deck-shaped AWS cluster of `shop-web`, with `extra` laid over it.
fn cluster(image_id: Option<&str>, capacity: i32, extra: Value) -> Value {
    let mut cluster = json!({
        "application": "shop", "stack": "web", "freeFormDetails": "",
        "account": "default", "cloudProvider": "aws",
        "availabilityZones": {REGION: []},
        "capacity": {"min": capacity, "max": capacity, "desired": capacity},
        "instanceType": "t3.micro", "targetGroups": [TARGET_GROUP],
    });
    if let Some(image_id) = image_id {
        cluster["imageId"] = json!(image_id);
    }
    for (key, value) in extra.as_object().unwrap() {
        cluster[key] = value.clone();
    }
    cluster
}

fn deploy_stage(ref_id: &str, requisites: &[&str], clusters: Vec<Value>) -> Value {
    json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "deploy",
           "name": format!("Deploy {ref_id}"), "clusters": clusters})
}

async fn run(app: &TestApp, name: &str, stages: Vec<Value>) -> Value {
    let id = app.save_and_trigger("shop", name, stages).await;
    app.ended(&id).await
}

async fn succeeds(app: &TestApp, name: &str, stages: Vec<Value>) -> Value {
    let execution = run(app, name, stages).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    execution
}

fn is_disabled(group: &AutoScalingGroup) -> bool {
    group
        .suspended_processes()
        .iter()
        .any(|p| p.process_name() == Some("AddToLoadBalancer"))
}

fn size(group: &AutoScalingGroup) -> (i32, i32, i32) {
    (
        group.min_size().unwrap_or(-1),
        group.max_size().unwrap_or(-1),
        group.desired_capacity().unwrap_or(-1),
    )
}

/// Instances of `group` the target group reports healthy.
async fn healthy_in_target_group(cloud: &Cloud, arn: &str, group: &AutoScalingGroup) -> usize {
    let ids: Vec<&str> = group
        .instances()
        .iter()
        .filter_map(|i| i.instance_id())
        .collect();
    let health = cloud
        .elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .unwrap();
    health
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target()
                .and_then(|t| t.id())
                .is_some_and(|id| ids.contains(&id))
                && d.target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str())
                    == Some("healthy")
        })
        .count()
}

async fn serving(cloud: &Cloud, arn: &str, name: &str) -> usize {
    let group = cloud.group(name).await.expect(name);
    healthy_in_target_group(cloud, arn, &group).await
}

#[tokio::test]
async fn red_black_twice_keeps_the_newest_serving_and_disables_scales_down_and_shrinks_the_rest() {
    // Every message is delivered twice: still one new group per deploy.
    let app = TestApp::spawn_with(options(true, 1)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    let arn = cloud.target_group(TARGET_GROUP).await;
    let red_black = json!({"strategy": "redblack", "scaleDown": true, "maxRemainingAsgs": 2});

    let first = succeeds(
        &app,
        "first",
        vec![deploy_stage(
            "1",
            &[],
            vec![cluster(Some(&image_id), 2, red_black.clone())],
        )],
    )
    .await;
    assert_eq!(
        stage(&first, "1")["context"]["deploy.server.groups"],
        json!({REGION: ["shop-web-v000"]})
    );
    assert_eq!(serving(&cloud, &arn, "shop-web-v000").await, 2);

    // The second deploy names no image: it takes the one findImage found upstream.
    let find_image = json!({"refId": "1", "requisiteStageRefIds": [], "type": "findImage",
        "name": "Find image", "cluster": "shop-web", "credentials": "default",
        "regions": [REGION], "selectionStrategy": "NEWEST", "onlyEnabled": true});
    let second = succeeds(
        &app,
        "second",
        vec![
            find_image,
            deploy_stage("2", &["1"], vec![cluster(None, 2, red_black.clone())]),
        ],
    )
    .await;
    assert_eq!(
        stage(&second, "2")["context"]["deploy.server.groups"],
        json!({REGION: ["shop-web-v001"]})
    );
    assert_eq!(
        cloud.group_names().await,
        ["shop-web-v000", "shop-web-v001"]
    );
    let new = cloud.group("shop-web-v001").await.unwrap();
    assert_eq!(new.target_group_arns(), std::slice::from_ref(&arn));
    assert!(!is_disabled(&new));
    assert_eq!(serving(&cloud, &arn, "shop-web-v001").await, 2);
    assert_eq!(
        cloud.launch_image("shop-web-v001").await.as_deref(),
        Some(image_id.as_str()),
        "the image came from findImage's deploymentDetails"
    );
    let old = cloud.group("shop-web-v000").await.unwrap();
    assert!(is_disabled(&old), "the old group is disabled");
    assert!(
        old.target_group_arns().is_empty(),
        "and out of the target group"
    );
    assert_eq!(size(&old), (0, 2, 0), "and scaled down");

    // A third deploy keeps two groups: v000 goes, v001 is disabled, v002 serves.
    succeeds(
        &app,
        "third",
        vec![deploy_stage(
            "1",
            &[],
            vec![cluster(Some(&image_id), 2, red_black)],
        )],
    )
    .await;
    let names = eventually("v000 destroyed", Duration::from_secs(30), || async {
        let names = cloud.group_names().await;
        (!names.contains(&"shop-web-v000".to_string())).then_some(names)
    })
    .await;
    assert_eq!(names, ["shop-web-v001", "shop-web-v002"]);
    assert!(is_disabled(&cloud.group("shop-web-v001").await.unwrap()));
    assert_eq!(serving(&cloud, &arn, "shop-web-v002").await, 2);
}

#[tokio::test]
async fn highlander_leaves_exactly_one_group() {
    let app = TestApp::spawn_with(options(false, 1)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    let arn = cloud.target_group(TARGET_GROUP).await;
    for name in ["v000", "v001"] {
        succeeds(
            &app,
            name,
            vec![deploy_stage(
                "1",
                &[],
                vec![cluster(Some(&image_id), 1, json!({}))],
            )],
        )
        .await;
    }
    assert_eq!(
        cloud.group_names().await,
        ["shop-web-v000", "shop-web-v001"]
    );
    succeeds(
        &app,
        "highlander",
        vec![deploy_stage(
            "1",
            &[],
            vec![cluster(
                Some(&image_id),
                1,
                json!({"strategy": "highlander"}),
            )],
        )],
    )
    .await;
    let names = eventually(
        "older groups destroyed",
        Duration::from_secs(30),
        || async {
            let names = cloud.group_names().await;
            (names.len() == 1).then_some(names)
        },
    )
    .await;
    assert_eq!(names, ["shop-web-v002"]);
    assert_eq!(serving(&cloud, &arn, "shop-web-v002").await, 1);
}

#[tokio::test]
async fn rolling_red_black_moves_through_its_percentages() {
    let app = TestApp::spawn_with(options(false, 1)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    let arn = cloud.target_group(TARGET_GROUP).await;
    succeeds(
        &app,
        "v000",
        vec![deploy_stage(
            "1",
            &[],
            vec![cluster(Some(&image_id), 4, json!({}))],
        )],
    )
    .await;

    let rolling = json!({"strategy": "rollingredblack", "targetPercentages": [25, 50]});
    let id = app
        .save_and_trigger(
            "shop",
            "rolling",
            vec![deploy_stage(
                "1",
                &[],
                vec![cluster(Some(&image_id), 4, rolling)],
            )],
        )
        .await;
    // Watch the new group's size and the old group's serving instances while it rolls.
    let mut seen: Vec<(i32, usize)> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let execution = loop {
        if let Some(new) = cloud.group("shop-web-v001").await {
            let old_serving = serving(&cloud, &arn, "shop-web-v000").await;
            let observed = (new.desired_capacity().unwrap_or(0), old_serving);
            if seen.last() != Some(&observed) {
                seen.push(observed);
            }
        }
        let (_, execution) = app.get(&format!("/pipelines/{id}")).await;
        if !["RUNNING", "NOT_STARTED"].contains(&execution["status"].as_str().unwrap_or_default()) {
            break execution;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rolling deploy did not end in 120 s; seen {seen:?}\n{execution}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let mut steps: Vec<i32> = seen.iter().map(|(desired, _)| *desired).collect();
    steps.dedup();
    steps.retain(|desired| *desired > 0);
    assert_eq!(steps, [1, 2, 4], "new group sizes seen: {seen:?}");
    // Each step took the same share of the old group out of service: at 25% one of its
    // four instances, at 50% two.
    let old_serving_at = |desired: i32| {
        seen.iter()
            .filter(|(d, _)| *d == desired)
            .map(|(_, serving)| *serving)
            .min()
    };
    assert_eq!(old_serving_at(1), Some(3), "{seen:?}");
    assert_eq!(old_serving_at(2), Some(2), "{seen:?}");
    assert_eq!(
        stage(&execution, "1")["context"]["deployments"]["0:us-east-1"]["completedPercentages"],
        json!([25, 50, 100])
    );
    assert_eq!(serving(&cloud, &arn, "shop-web-v001").await, 4);
    let old = cloud.group("shop-web-v000").await.unwrap();
    assert!(is_disabled(&old) && old.target_group_arns().is_empty());
}

#[tokio::test]
async fn a_deploy_that_never_becomes_healthy_times_out_and_rolls_back() {
    // Three seconds between polls leave the stand-in for a broken build time to stop the
    // new instances before the deploy first looks at them.
    let app = TestApp::spawn_with(options(false, 3)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    let arn = cloud.target_group(TARGET_GROUP).await;
    succeeds(
        &app,
        "v000",
        vec![deploy_stage(
            "1",
            &[],
            vec![cluster(Some(&image_id), 2, json!({}))],
        )],
    )
    .await;

    let mut failing = deploy_stage(
        "1",
        &[],
        vec![cluster(
            Some(&image_id),
            2,
            json!({"strategy": "redblack", "rollback": {"onFailure": true}}),
        )],
    );
    failing["stageTimeoutMs"] = json!(20_000);
    let id = app.save_and_trigger("shop", "broken", vec![failing]).await;
    // The new build never serves: its instances stop as soon as they launch, so the target
    // group never reports them healthy.
    let stopped = eventually(
        "the new group's instances",
        Duration::from_secs(60),
        || async {
            let group = cloud.group("shop-web-v001").await?;
            let ids: Vec<String> = group
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect();
            (ids.len() == 2).then_some(ids)
        },
    )
    .await;
    cloud
        .ec2
        .stop_instances()
        .set_instance_ids(Some(stopped))
        .send()
        .await
        .unwrap();

    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let message = stage(&execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("shop-web-v001 did not become healthy")
            && message.contains("rolled back: shop-web-v001 destroyed"),
        "{execution}"
    );
    let names = eventually(
        "the failed group destroyed",
        Duration::from_secs(30),
        || async {
            let names = cloud.group_names().await;
            (names.len() == 1).then_some(names)
        },
    )
    .await;
    assert_eq!(names, ["shop-web-v000"]);
    let old = cloud.group("shop-web-v000").await.unwrap();
    assert!(!is_disabled(&old));
    assert_eq!(
        serving(&cloud, &arn, "shop-web-v000").await,
        2,
        "the old group serves"
    );
}

#[tokio::test]
async fn rollback_restores_the_previous_group_and_clone_copies_a_group() {
    let app = TestApp::spawn_with(options(false, 1)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    let arn = cloud.target_group(TARGET_GROUP).await;
    let red_black = json!({"strategy": "redblack", "scaleDown": true});
    for name in ["v000", "v001"] {
        succeeds(
            &app,
            name,
            vec![deploy_stage(
                "1",
                &[],
                vec![cluster(Some(&image_id), 2, red_black.clone())],
            )],
        )
        .await;
    }
    assert_eq!(
        size(&cloud.group("shop-web-v000").await.unwrap()),
        (0, 2, 0)
    );

    let rollback = json!({"refId": "1", "requisiteStageRefIds": [], "type": "rollbackServerGroup",
        "name": "Rollback", "credentials": "default", "regions": [REGION], "cloudProvider": "aws",
        "rollbackType": "EXPLICIT", "rollbackContext": {
            "rollbackServerGroupName": "shop-web-v001", "restoreServerGroupName": "shop-web-v000"}});
    succeeds(&app, "rollback", vec![rollback]).await;
    let restored = cloud.group("shop-web-v000").await.unwrap();
    assert!(!is_disabled(&restored));
    assert_eq!(size(&restored), (2, 2, 2));
    assert_eq!(serving(&cloud, &arn, "shop-web-v000").await, 2);
    let rolled_back = cloud.group("shop-web-v001").await.unwrap();
    assert!(is_disabled(&rolled_back) && rolled_back.target_group_arns().is_empty());

    let clone = json!({"refId": "1", "requisiteStageRefIds": [], "type": "cloneServerGroup",
        "name": "Clone", "credentials": "default", "region": REGION,
        "source": {"account": "default", "region": REGION, "asgName": "shop-web-v000"},
        "capacity": {"min": 1, "max": 1, "desired": 1}});
    let execution = succeeds(&app, "clone", vec![clone]).await;
    assert_eq!(
        stage(&execution, "1")["context"]["deploy.server.groups"],
        json!({REGION: ["shop-web-v002"]})
    );
    let copy = cloud.group("shop-web-v002").await.unwrap();
    assert_eq!(size(&copy), (1, 1, 1));
    assert_eq!(copy.target_group_arns(), std::slice::from_ref(&arn));
    let versions = cloud
        .ec2
        .describe_launch_template_versions()
        .launch_template_name("shop-web-v002")
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    assert_eq!(data.image_id(), Some(image_id.as_str()));
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("t3.micro"));
}

#[tokio::test]
async fn bad_deploys_fail_before_anything_is_created() {
    let app = TestApp::spawn_with(options(false, 1)).await;
    let cloud = Cloud::of(&app);
    let (image_id, _) = cloud.an_image().await;
    cloud.target_group(TARGET_GROUP).await;
    let cases = [
        (json!({"account": "nowhere"}), "unknown account 'nowhere'"),
        (
            json!({"capacity": {"min": 3, "max": 1, "desired": 1}}),
            "clusters[0].capacity",
        ),
        (json!({"strategy": "custom"}), "clusters[0].strategy"),
        (json!({"stack": "we b"}), "clusters[0].cluster"),
        (
            json!({"imageId": "ami-00000000"}),
            "image ami-00000000 not found",
        ),
        (
            json!({"rollback": {"onFailure": true}, "strategy": "rollingredblack",
                   "pipelineBeforeCleanup": {"application": "shop", "pipelineId": "p"}}),
            "clusters[0].pipelineBeforeCleanup",
        ),
    ];
    for (i, (extra, expected)) in cases.into_iter().enumerate() {
        let execution = run(
            &app,
            &format!("bad-{i}"),
            vec![deploy_stage(
                "1",
                &[],
                vec![cluster(Some(&image_id), 1, extra)],
            )],
        )
        .await;
        assert_eq!(execution["status"], "TERMINAL", "{execution}");
        let error = stage(&execution, "1")["context"]["exception"]["details"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains(expected), "case {i}: {error}");
    }
    assert!(cloud.group_names().await.is_empty());
    assert_eq!(cloud.launch_template_count().await, 0);
}

#[tokio::test]
async fn a_deploy_and_a_disable_span_every_region_of_the_stage() {
    let mut spawn = options(false, 1);
    spawn.parameters.insert(
        "Accounts".to_string(),
        json!([{"name": "default", "type": "aws", "regions": [REGION, "us-west-2"]}]).to_string(),
    );
    let app = TestApp::spawn_with(spawn).await;
    let cloud = Cloud::of(&app);
    let west_config = aws_sdk_autoscaling::config::Builder::from(&app.running.sdk)
        .region(aws_sdk_autoscaling::config::Region::new("us-west-2"))
        .build();
    let west = aws_sdk_autoscaling::Client::from_conf(west_config);
    let west_groups = || async {
        west.describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .to_vec()
    };

    // The image is named, so each region finds its own copy of moto's preloaded image.
    let (_, image_name) = cloud.an_image().await;
    let both = cluster(
        None,
        1,
        json!({"amiName": image_name, "targetGroups": [],
               "availabilityZones": {REGION: [], "us-west-2": []}}),
    );
    let execution = succeeds(&app, "both", vec![deploy_stage("1", &[], vec![both])]).await;
    assert_eq!(
        stage(&execution, "1")["context"]["deploy.server.groups"],
        json!({REGION: ["shop-web-v000"], "us-west-2": ["shop-web-v000"]})
    );
    assert_eq!(cloud.group_names().await, ["shop-web-v000"]);
    let in_west = west_groups().await;
    assert_eq!(in_west.len(), 1);
    assert_eq!(in_west[0].instances().len(), 1);

    let disable = json!({"refId": "1", "requisiteStageRefIds": [], "type": "disableServerGroup",
        "name": "Disable", "credentials": "default", "regions": [REGION, "us-west-2"],
        "cluster": "shop-web", "target": "current_asg_dynamic"});
    let execution = succeeds(&app, "disable-both", vec![disable]).await;
    assert_eq!(
        stage(&execution, "1")["context"]["targets"]["us-west-2"]["serverGroupName"],
        json!("shop-web-v000")
    );
    assert!(is_disabled(&cloud.group("shop-web-v000").await.unwrap()));
    assert!(is_disabled(&west_groups().await[0]));
}
