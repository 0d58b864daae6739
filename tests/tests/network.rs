//! Security group and load balancer stages and reads against local mode: pipelines run the
//! stages through the public API, and every effect is checked through the EC2 and ELBv2
//! APIs of the emulator — not through Gennaker's own records.

mod support;

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, SecurityGroup};
use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::cloud::Cloud;
use support::{TestApp, stage};

const REGION: &str = "us-east-1";

/// What these tests read of the emulator's security groups and load balancers.
trait NetworkReads {
    async fn security_groups(&self, name: &str) -> Vec<SecurityGroup>;
    async fn security_group(&self, name: &str) -> SecurityGroup;
    async fn security_group_count(&self) -> usize;
    async fn load_balancers(&self) -> Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>;
    async fn target_groups(&self) -> Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup>;
    async fn listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Vec<aws_sdk_elasticloadbalancingv2::types::Listener>;
}

impl NetworkReads for Cloud {
    async fn security_groups(&self, name: &str) -> Vec<SecurityGroup> {
        self.ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build())
            .send()
            .await
            .unwrap()
            .security_groups()
            .to_vec()
    }

    async fn security_group(&self, name: &str) -> SecurityGroup {
        let mut found = self.security_groups(name).await;
        assert_eq!(found.len(), 1, "one security group named {name}");
        found.remove(0)
    }

    async fn security_group_count(&self) -> usize {
        self.ec2
            .describe_security_groups()
            .send()
            .await
            .unwrap()
            .security_groups()
            .len()
    }

    async fn load_balancers(&self) -> Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancer> {
        self.elbv2
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .to_vec()
    }

    async fn target_groups(&self) -> Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup> {
        self.elbv2
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .to_vec()
    }

    async fn listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Vec<aws_sdk_elasticloadbalancingv2::types::Listener> {
        self.elbv2
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .send()
            .await
            .unwrap()
            .listeners()
            .to_vec()
    }
}

/// `(protocol, from, to, source)` of every ingress rule, sources as CIDRs or group ids.
fn ingress(group: &SecurityGroup) -> Vec<(String, i32, i32, String)> {
    let mut rules = Vec::new();
    for permission in group.ip_permissions() {
        let key = |source: &str| {
            (
                permission.ip_protocol().unwrap_or_default().to_string(),
                permission.from_port().unwrap_or_default(),
                permission.to_port().unwrap_or_default(),
                source.to_string(),
            )
        };
        for range in permission.ip_ranges() {
            rules.push(key(range.cidr_ip().unwrap()));
        }
        for pair in permission.user_id_group_pairs() {
            rules.push(key(pair.group_id().unwrap()));
        }
    }
    rules.sort();
    rules
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

fn with(base: Value, extra: Value) -> Value {
    let mut stage = base;
    for (key, value) in extra.as_object().unwrap() {
        stage[key] = value.clone();
    }
    stage
}

fn upsert_security_group(name: &str, extra: Value) -> Value {
    with(
        json!({"refId": "1", "requisiteStageRefIds": [], "type": "upsertSecurityGroup",
               "name": "upsert sg", "securityGroupName": name, "credentials": "default",
               "regions": [REGION], "description": "shop web tier"}),
        extra,
    )
}

fn upsert_load_balancer(extra: Value) -> Value {
    with(
        json!({"refId": "1", "requisiteStageRefIds": [], "type": "upsertLoadBalancer",
               "name": "upsert lb", "loadBalancerName": "shop-web", "loadBalancerType": "application",
               "credentials": "default", "region": REGION, "isInternal": true,
               "securityGroups": ["shop-elb"],
               "targetGroups": [{"name": "shop-web-tg", "protocol": "HTTP", "port": 7001,
                                 "healthCheckProtocol": "HTTP", "healthCheckPath": "/health",
                                 "healthCheckPort": "traffic-port",
                                 "attributes": {"deregistrationDelay": 30}}],
               "listeners": [{"protocol": "HTTP", "port": 80,
                              "defaultActions": [{"type": "forward", "targetGroupName": "shop-web-tg"}]}]}),
        extra,
    )
}

fn error_of(execution: &Value) -> String {
    stage(execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn security_groups_are_created_converged_read_and_deleted() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);

    // The load balancer's group first, then the web tier's, which lets it in.
    let execution = run(
        &app,
        "sg-elb",
        vec![upsert_security_group(
            "shop-elb",
            json!({"ipIngress": [{"cidr": "0.0.0.0/0", "type": "tcp", "startPort": 80, "endPort": 80}]}),
        )],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let elb_group = cloud.security_group("shop-elb").await;
    let elb_id = elb_group.group_id().unwrap().to_string();

    let web_rules = json!({
        "securityGroupIngress": [{"name": "shop-elb", "type": "tcp", "startPort": 7001, "endPort": 7002}],
        "ipIngress": [{"cidr": "10.0.0.0/8", "type": "tcp", "startPort": 22, "endPort": 22}],
    });
    let execution = run(
        &app,
        "sg-web",
        vec![upsert_security_group("shop-web", web_rules)],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let web = cloud.security_group("shop-web").await;
    assert_eq!(web.description(), Some("shop web tier"));
    assert_eq!(
        ingress(&web),
        [
            ("tcp".into(), 22, 22, "10.0.0.0/8".into()),
            ("tcp".into(), 7001, 7002, elb_id.clone()),
        ]
    );
    let context = &stage(&execution, "1")["context"];
    assert_eq!(context["securityGroupIds"][REGION], json!(web.group_id()));
    assert_eq!(context["targets"][0]["name"], json!("shop-web"));

    // A changed rule converges: 22 is revoked, 443 authorized, the group rule kept.
    let changed = json!({
        "securityGroupIngress": [{"name": "shop-elb", "type": "tcp", "startPort": 7001, "endPort": 7002}],
        "ipIngress": [{"cidr": "10.0.0.0/8", "type": "tcp", "startPort": 443, "endPort": 443}],
    });
    let execution = run(
        &app,
        "sg-web-again",
        vec![upsert_security_group("shop-web", changed)],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let web = cloud.security_group("shop-web").await;
    assert_eq!(
        ingress(&web),
        [
            ("tcp".into(), 443, 443, "10.0.0.0/8".into()),
            ("tcp".into(), 7001, 7002, elb_id.clone()),
        ]
    );

    // The reads show the group with Deck's fields.
    let (status, all) = app.get("/securityGroups").await;
    assert_eq!(status, 200, "{all}");
    let listed = all["default"]["aws"][REGION].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|g| g["name"] == "shop-web" && g["id"] == json!(web.group_id()))
    );
    let (status, in_account) = app
        .get(&format!("/securityGroups/default?region={REGION}"))
        .await;
    assert_eq!(status, 200, "{in_account}");
    assert!(in_account["aws"][REGION].as_array().unwrap().len() >= 2);
    let (status, view) = app
        .get(&format!("/securityGroups/default/{REGION}/shop-web"))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["id"], json!(web.group_id()));
    assert_eq!(view["accountName"], json!("default"));
    assert_eq!(view["type"], json!("aws"));
    assert_eq!(view["moniker"]["app"], json!("shop"));
    assert_eq!(view["vpcId"], json!(web.vpc_id()));
    assert_eq!(
        view["ipRangeRules"],
        json!([{"protocol": "tcp", "portRanges": [{"startPort": 443, "endPort": 443}],
                "range": {"ip": "10.0.0.0", "cidr": "/8"}}])
    );
    assert_eq!(
        view["securityGroupRules"][0]["securityGroup"]["name"],
        json!("shop-elb")
    );
    assert_eq!(view["inboundRules"].as_array().unwrap().len(), 2);
    let (status, missing) = app
        .get(&format!("/securityGroups/default/{REGION}/shop-nothing"))
        .await;
    assert_eq!(status, 404, "{missing}");
    let (status, error) = app.get("/securityGroups/nowhere").await;
    assert_eq!(status, 404, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("unknown account 'nowhere'")
    );

    // Delete, and a delete of a group already gone succeeds too.
    let delete = json!({"refId": "1", "requisiteStageRefIds": [], "type": "deleteSecurityGroup",
                        "name": "delete sg", "securityGroupName": "shop-web",
                        "credentials": "default", "regions": [REGION]});
    for attempt in ["delete", "delete-again"] {
        let execution = run(&app, attempt, vec![delete.clone()]).await;
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
        assert!(cloud.security_groups("shop-web").await.is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn every_message_twice_still_makes_one_security_group_and_one_load_balancer() {
    let app = TestApp::spawn_with(spawn_options(true)).await;
    let cloud = Cloud::of(&app);
    let execution = run(
        &app,
        "twice",
        vec![
            upsert_security_group(
                "shop-elb",
                json!({"ipIngress": [{"cidr": "0.0.0.0/0", "type": "tcp", "startPort": 80, "endPort": 80}]}),
            ),
            upsert_load_balancer(json!({"refId": "2", "requisiteStageRefIds": ["1"]})),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let group = cloud.security_group("shop-elb").await;
    assert_eq!(ingress(&group).len(), 1);
    let balancers = cloud.load_balancers().await;
    assert_eq!(balancers.len(), 1, "one load balancer, not two");
    assert_eq!(cloud.target_groups().await.len(), 1);
    let arn = balancers[0].load_balancer_arn().unwrap();
    assert_eq!(cloud.listeners(arn).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn load_balancers_are_created_updated_read_and_deleted() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);
    let execution = run(
        &app,
        "lb",
        vec![
            upsert_security_group("shop-elb", json!({})),
            upsert_load_balancer(json!({"refId": "2", "requisiteStageRefIds": ["1"]})),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let balancers = cloud.load_balancers().await;
    assert_eq!(balancers.len(), 1);
    let balancer = &balancers[0];
    assert_eq!(balancer.load_balancer_name(), Some("shop-web"));
    assert_eq!(balancer.r#type().map(|t| t.as_str()), Some("application"));
    assert_eq!(balancer.scheme().map(|s| s.as_str()), Some("internal"));
    let elb_group = cloud.security_group("shop-elb").await;
    assert_eq!(
        balancer.security_groups(),
        [elb_group.group_id().unwrap().to_string()]
    );
    let target_groups = cloud.target_groups().await;
    assert_eq!(target_groups.len(), 1);
    let target_group = &target_groups[0];
    assert_eq!(target_group.target_group_name(), Some("shop-web-tg"));
    assert_eq!(target_group.port(), Some(7001));
    assert_eq!(target_group.health_check_path(), Some("/health"));
    let attributes = cloud
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(target_group.target_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        attributes
            .attributes()
            .iter()
            .any(|a| a.key() == Some("deregistration_delay.timeout_seconds")
                && a.value() == Some("30")),
        "{attributes:?}"
    );
    let listeners = cloud.listeners(balancer.load_balancer_arn().unwrap()).await;
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].port(), Some(80));
    assert_eq!(
        listeners[0].default_actions()[0].target_group_arn(),
        target_group.target_group_arn()
    );
    let context = &stage(&execution, "2")["context"];
    assert_eq!(context["dnsName"], json!(balancer.dns_name()));
    assert_eq!(
        stage(&execution, "2")["outputs"]["loadBalancers"][0]["name"],
        json!("shop-web")
    );

    // A second upsert changes the health check path and moves the listener to 8080.
    let changed = upsert_load_balancer(json!({
        "targetGroups": [{"name": "shop-web-tg", "protocol": "HTTP", "port": 7001,
                          "healthCheckPath": "/ready"}],
        "listeners": [{"protocol": "HTTP", "port": 8080,
                       "defaultActions": [{"type": "forward", "targetGroupName": "shop-web-tg"}]}],
    }));
    let execution = run(&app, "lb-again", vec![changed]).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(cloud.load_balancers().await.len(), 1);
    let target_groups = cloud.target_groups().await;
    assert_eq!(target_groups.len(), 1);
    assert_eq!(target_groups[0].health_check_path(), Some("/ready"));
    let ports: Vec<_> = cloud
        .listeners(balancer.load_balancer_arn().unwrap())
        .await
        .iter()
        .map(|l| l.port())
        .collect();
    assert_eq!(ports, [Some(8080)]);

    // A server group created into the target group shows under the load balancer.
    let (image_id, _) = cloud.an_image().await;
    let execution = run(
        &app,
        "deploy",
        vec![
            json!({"refId": "1", "requisiteStageRefIds": [], "type": "createServerGroup",
                    "name": "create", "application": "shop", "stack": "web",
                    "credentials": "default", "region": REGION,
                    "capacity": {"min": 1, "max": 1, "desired": 1}, "imageId": image_id,
                    "instanceType": "t3.micro", "targetGroups": ["shop-web-tg"]}),
        ],
    )
    .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let (status, listed) = app.get("/applications/shop/loadBalancers").await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let view = &listed[0];
    assert_eq!(view["name"], json!("shop-web"));
    assert_eq!(view["account"], json!("default"));
    assert_eq!(view["region"], json!(REGION));
    assert_eq!(view["type"], json!("aws"));
    assert_eq!(view["cloudProvider"], json!("aws"));
    assert_eq!(view["loadBalancerType"], json!("application"));
    assert_eq!(view["vpcId"], json!(balancer.vpc_id()));
    assert_eq!(view["dnsname"], json!(balancer.dns_name()));
    assert_eq!(view["moniker"]["app"], json!("shop"));
    assert_eq!(view["targetGroups"][0]["healthCheckPath"], json!("/ready"));
    assert_eq!(view["listeners"][0]["port"], json!(8080));
    assert_eq!(view["serverGroups"][0]["name"], json!("shop-web-v000"));
    assert_eq!(
        view["targetGroups"][0]["serverGroups"][0]["name"],
        json!("shop-web-v000")
    );
    let (status, other_app) = app.get("/applications/cart/loadBalancers").await;
    assert_eq!((status, other_app), (200, json!([])));
    let (status, summaries) = app.get("/loadBalancers?provider=aws").await;
    assert_eq!(status, 200, "{summaries}");
    assert_eq!(summaries[0]["name"], json!("shop-web"));
    assert_eq!(
        summaries[0]["accounts"][0]["regions"][0]["name"],
        json!(REGION)
    );
    let (status, by_name) = app.get("/loadBalancers/shop-web").await;
    assert_eq!((status, by_name["name"].clone()), (200, json!("shop-web")));
    let (status, _) = app.get("/loadBalancers/shop-nothing").await;
    assert_eq!(status, 404);
    let (status, details) = app
        .get(&format!("/loadBalancers/default/{REGION}/shop-web"))
        .await;
    assert_eq!(status, 200, "{details}");
    assert_eq!(
        details[0]["loadBalancerArn"],
        json!(balancer.load_balancer_arn())
    );
    let (status, error) = app.get("/loadBalancers/default/eu-north-9/shop-web").await;
    assert_eq!(status, 404, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no region 'eu-north-9'")
    );

    // Delete: the load balancer and its own target group go; a second delete succeeds.
    let delete = json!({"refId": "1", "requisiteStageRefIds": [], "type": "deleteLoadBalancer",
                        "name": "delete lb", "loadBalancerName": "shop-web",
                        "credentials": "default", "region": REGION});
    for attempt in ["delete", "delete-again"] {
        let execution = run(&app, attempt, vec![delete.clone()]).await;
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
        assert!(cloud.load_balancers().await.is_empty());
        assert!(cloud.target_groups().await.is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_network_input_fails_the_stage_and_creates_nothing() {
    let app = TestApp::spawn_with(spawn_options(false)).await;
    let cloud = Cloud::of(&app);
    let groups_before = cloud.security_group_count().await;
    let security_group_cases = [
        (
            json!({"credentials": "nowhere"}),
            "unknown account 'nowhere'",
        ),
        (json!({"regions": ["eu-north-9"]}), "no region 'eu-north-9'"),
        (
            json!({"securityGroupName": "sg-web"}),
            "may not start with sg-",
        ),
        (
            json!({"ipIngress": [{"cidr": "10.0.0.0/40", "type": "tcp", "startPort": 1, "endPort": 1}]}),
            "ipIngress[0].cidr: '10.0.0.0/40' is not a CIDR range",
        ),
        (
            json!({"securityGroupIngress": [{"name": "shop-missing", "type": "tcp", "startPort": 1, "endPort": 1}]}),
            "security group shop-missing not found",
        ),
    ];
    for (index, (patch, message)) in security_group_cases.iter().enumerate() {
        let execution = run(
            &app,
            &format!("bad-sg-{index}"),
            vec![upsert_security_group("shop-web", patch.clone())],
        )
        .await;
        assert_eq!(execution["status"], "TERMINAL", "{execution}");
        let error = error_of(&execution);
        assert!(error.contains(message), "expected '{message}' in '{error}'");
    }
    assert_eq!(cloud.security_group_count().await, groups_before);

    let load_balancer_cases = [
        (
            json!({"loadBalancerName": "shop-web-load-balancer-with-a-long-name"}),
            "loadBalancerName:",
        ),
        (
            json!({"loadBalancerType": "classic"}),
            "classic load balancers are not supported",
        ),
        (
            json!({"securityGroups": ["shop-missing"]}),
            "security group shop-missing not found",
        ),
        (
            json!({"subnetType": "internal (vpc0)"}),
            "no subnet of subnetType 'internal (vpc0)'",
        ),
        (
            json!({"listeners": [{"protocol": "HTTP", "port": 80,
                                  "defaultActions": [{"type": "forward", "targetGroupName": "shop-other"}]}]}),
            "listeners[0].defaultActions[0].targetGroupName: 'shop-other' is not one of",
        ),
    ];
    for (index, (patch, message)) in load_balancer_cases.iter().enumerate() {
        let execution = run(
            &app,
            &format!("bad-lb-{index}"),
            vec![upsert_load_balancer(patch.clone())],
        )
        .await;
        assert_eq!(execution["status"], "TERMINAL", "{execution}");
        let error = error_of(&execution);
        assert!(error.contains(message), "expected '{message}' in '{error}'");
    }
    assert!(cloud.load_balancers().await.is_empty(), "no load balancer");
    assert!(cloud.target_groups().await.is_empty(), "no target group");
    app.stop().await;
}
