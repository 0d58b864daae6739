use super::*;
use serde_json::json;
use std::collections::BTreeMap;

fn context(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn security_group(extra: Value) -> Map<String, Value> {
    let mut base = json!({
        "securityGroupName": "shop-web", "credentials": "default", "regions": ["us-east-1"],
        "description": "web tier",
        "securityGroupIngress": [{"name": "shop-lb", "type": "tcp", "startPort": 7001, "endPort": 7002}],
        "ipIngress": [{"cidr": "10.0.0.0/8", "type": "tcp", "startPort": 443, "endPort": 443}],
    });
    for (key, value) in extra.as_object().unwrap() {
        base[key] = value.clone();
    }
    context(base)
}

fn error(result: Result<impl std::fmt::Debug, RequestError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn reads_deck_security_group_context() {
    let request = upsert_security_group(&security_group(json!({}))).unwrap();
    assert_eq!(request.name, "shop-web");
    assert_eq!(request.application, "shop");
    assert_eq!(request.location.region, "us-east-1");
    assert_eq!(request.description, "web tier");
    assert_eq!(
        request.ingress,
        vec![
            IngressRule {
                protocol: "tcp".into(),
                ports: Some((443, 443)),
                source: Source::Cidr("10.0.0.0/8".into()),
            },
            IngressRule {
                protocol: "tcp".into(),
                ports: Some((7001, 7002)),
                source: Source::GroupName("shop-lb".into()),
            },
        ]
    );
}

#[test]
fn security_group_errors_name_the_field() {
    let cases = [
        (
            json!({"securityGroupName": null}),
            "securityGroupName: name the security group",
        ),
        (
            json!({"securityGroupName": "sg-123"}),
            "securityGroupName: 'sg-123' may not start with sg-",
        ),
        (
            json!({"securityGroupName": "bad name!"}),
            "securityGroupName: 'bad name!' is not a valid application name",
        ),
        (
            json!({"application": "other"}),
            "does not belong to application 'other'",
        ),
        (
            json!({"ipIngress": [{"cidr": "10.0.0.0/33", "type": "tcp", "startPort": 1, "endPort": 2}]}),
            "ipIngress[0].cidr: '10.0.0.0/33' is not a CIDR range",
        ),
        (
            json!({"ipIngress": [{"type": "tcp", "startPort": 1, "endPort": 2}]}),
            "ipIngress[0].cidr: is required",
        ),
        (
            json!({"ipIngress": [{"cidr": "0.0.0.0/0", "type": "gre", "startPort": 1}]}),
            "ipIngress[0].type: 'gre' is not tcp, udp, icmp or -1",
        ),
        (
            json!({"ipIngress": [{"cidr": "0.0.0.0/0", "type": "tcp", "startPort": 9, "endPort": 8}]}),
            "ipIngress[0].startPort: 9 is greater than endPort 8",
        ),
        (
            json!({"securityGroupIngress": [{"type": "tcp", "startPort": 70000, "endPort": 70000, "name": "x"}]}),
            "securityGroupIngress[0].startPort: 70000 is outside 0..65535",
        ),
        (
            json!({"securityGroupIngress": [{"type": "tcp", "startPort": 1}]}),
            "securityGroupIngress[0].name: name the source security group",
        ),
        (
            json!({"regions": ["us-east-1", "us-west-2"]}),
            "regions: one region per stage",
        ),
        (
            json!({"credentials": null}),
            "credentials: name the account",
        ),
    ];
    for (patch, expected) in cases {
        let message = error(upsert_security_group(&security_group(patch.clone())));
        assert!(
            message.contains(expected),
            "{patch}: '{message}' lacks '{expected}'"
        );
    }
}

#[test]
fn every_protocol_and_icmp_need_no_ports() {
    let request = upsert_security_group(&security_group(json!({
        "securityGroupIngress": [],
        "ipIngress": [{"cidr": "::/0", "type": "-1"}, {"cidr": "10.0.0.0/8", "type": "icmp"}],
    })))
    .unwrap();
    assert_eq!(
        request.ingress,
        vec![
            IngressRule {
                protocol: "-1".into(),
                ports: None,
                source: Source::Cidr("::/0".into())
            },
            IngressRule {
                protocol: "icmp".into(),
                ports: Some((-1, -1)),
                source: Source::Cidr("10.0.0.0/8".into())
            },
        ]
    );
}

#[test]
fn ingress_changes_add_missing_and_revoke_extra() {
    let rule = |port: i32, cidr: &str| IngressRule {
        protocol: "tcp".into(),
        ports: Some((port, port)),
        source: Source::Cidr(cidr.into()),
    };
    let wanted = [rule(80, "10.0.0.0/8"), rule(443, "10.0.0.0/8")];
    let existing = [rule(80, "10.0.0.0/8"), rule(22, "0.0.0.0/0")];
    let changes = ingress_changes(&wanted, &existing, false);
    assert_eq!(changes.authorize, vec![rule(443, "10.0.0.0/8")]);
    assert_eq!(changes.revoke, vec![rule(22, "0.0.0.0/0")]);
    assert!(ingress_changes(&wanted, &wanted, false).is_empty());
    assert!(ingress_changes(&wanted, &existing, true).revoke.is_empty());
}

#[test]
fn reported_every_protocol_rule_has_no_ports() {
    let rule = IngressRule::reported("-1", Some(-1), Some(-1), Source::GroupId("sg-1".into()));
    assert_eq!(rule.ports, None);
}

fn load_balancer(extra: Value) -> Map<String, Value> {
    let mut base = json!({
        "name": "shop-web-lb", "loadBalancerType": "application", "credentials": "default",
        "region": "us-east-1", "isInternal": true, "securityGroups": ["shop-lb"],
        "availabilityZones": {"us-east-1": ["us-east-1a", "us-east-1b"]},
        "targetGroups": [{"name": "shop-web-tg", "protocol": "HTTP", "port": 7001,
                          "healthCheckProtocol": "HTTP", "healthCheckPath": "/health",
                          "healthCheckPort": "traffic-port",
                          "attributes": {"deregistrationDelay": 30, "stickinessEnabled": false}}],
        "listeners": [{"protocol": "HTTP", "port": 80,
                       "defaultActions": [{"type": "forward", "targetGroupName": "shop-web-tg"}]}],
    });
    for (key, value) in extra.as_object().unwrap() {
        base[key] = value.clone();
    }
    context(base)
}

#[test]
fn reads_deck_load_balancer_context() {
    let request = upsert_load_balancer(&load_balancer(json!({}))).unwrap();
    assert_eq!(request.name, "shop-web-lb");
    assert_eq!(request.application, "shop");
    assert_eq!(request.kind, LoadBalancerKind::Application);
    assert!(request.internal);
    assert_eq!(request.zones, ["us-east-1a", "us-east-1b"]);
    let group = &request.target_groups[0];
    assert_eq!((group.protocol.as_str(), group.port), ("HTTP", 7001));
    assert_eq!(group.health_check.path.as_deref(), Some("/health"));
    assert_eq!(group.health_check.port, "traffic-port");
    assert_eq!(
        group.attributes,
        BTreeMap::from([
            ("deregistration_delay.timeout_seconds".into(), "30".into()),
            ("stickiness.enabled".into(), "false".into()),
        ])
    );
    assert_eq!(
        request.listeners,
        vec![ListenerSpec {
            protocol: "HTTP".into(),
            port: 80,
            certificate_arn: None,
            target_group: "shop-web-tg".into()
        }]
    );
}

#[test]
fn network_load_balancers_use_tcp_and_check_health_over_tcp() {
    let request = upsert_load_balancer(&load_balancer(json!({
        "loadBalancerType": "network",
        "targetGroups": [{"name": "shop-tcp", "protocol": "TCP", "port": 7001}],
        "listeners": [{"protocol": "TCP", "port": 7001,
                       "defaultActions": [{"type": "forward", "targetGroupName": "shop-tcp"}]}],
    })))
    .unwrap();
    let check = &request.target_groups[0].health_check;
    assert_eq!((check.protocol.as_str(), check.path.clone()), ("TCP", None));
}

#[test]
fn load_balancer_errors_name_the_field() {
    let long = "shop-".to_string() + &"x".repeat(30);
    let cases = [
        (json!({"name": long}), "loadBalancerName: 'shop-xxx"),
        (
            json!({"name": "shop-web-"}),
            "not starting or ending with a hyphen",
        ),
        (
            json!({"name": "internal-shop"}),
            "may not start with internal-",
        ),
        (
            json!({"application": "other"}),
            "loadBalancerName: 'shop-web-lb' does not belong to application 'other'",
        ),
        (
            json!({"loadBalancerType": "classic"}),
            "loadBalancerType: classic load balancers are not supported",
        ),
        (
            json!({"listeners": []}),
            "listeners: give at least one listener",
        ),
        (
            json!({"listeners": [{"protocol": "TCP", "port": 80, "defaultActions": [{"targetGroupName": "shop-web-tg"}]}]}),
            "listeners[0].protocol: 'TCP' is not one of HTTP, HTTPS",
        ),
        (
            json!({"listeners": [{"protocol": "HTTPS", "port": 443, "defaultActions": [{"targetGroupName": "shop-web-tg"}]}]}),
            "listeners[0].certificates: a HTTPS listener needs a certificate",
        ),
        (
            json!({"listeners": [{"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward", "targetGroupName": "nope"}]}]}),
            "listeners[0].defaultActions[0].targetGroupName: 'nope' is not one of this load balancer's targetGroups",
        ),
        (
            json!({"listeners": [{"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "redirect"}]}]}),
            "listeners[0].defaultActions[0].type: 'redirect' actions are not supported",
        ),
        (
            json!({"listeners": [{"protocol": "HTTP", "port": 0, "defaultActions": [{"targetGroupName": "shop-web-tg"}]}]}),
            "listeners[0].port: 0 is outside 1..65535",
        ),
        (
            json!({"targetGroups": [{"name": "shop_tg", "port": 80}]}),
            "targetGroups[0].name: 'shop_tg' must be",
        ),
        (
            json!({"targetGroups": [{"name": "shop-tg"}]}),
            "targetGroups[0].port: is required",
        ),
        (
            json!({"targetGroups": [{"name": "shop-tg", "port": 80, "healthCheckPath": "health"}]}),
            "targetGroups[0].healthCheckPath: 'health' must start with /",
        ),
        (
            json!({"region": null, "availabilityZones": null}),
            "region: name the region",
        ),
    ];
    for (patch, expected) in cases {
        let message = error(upsert_load_balancer(&load_balancer(patch.clone())));
        assert!(
            message.contains(expected),
            "{patch}: '{message}' lacks '{expected}'"
        );
    }
}

#[test]
fn monikers_and_ownership_follow_frigga() {
    assert!(belongs_to("shop-web-lb", "shop"));
    assert!(!belongs_to("shopping-web", "shop"));
    assert!(!belongs_to("bad name", "bad"));
    let moniker = moniker("shop-web-lb");
    assert_eq!(
        (
            moniker.app.as_str(),
            moniker.stack.as_deref(),
            moniker.detail.as_deref()
        ),
        ("shop", Some("web"), Some("lb"))
    );
}
