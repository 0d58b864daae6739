//! The JSON Deck reads for security groups and load balancers (Clouddriver's AWS shapes,
//! trimmed to the fields Deck uses).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::network::{IngressRule, LoadBalancerInfo, SecurityGroupInfo, Source, moniker};
use crate::server_group::ServerGroup;

fn moniker_json(name: &str) -> Value {
    serde_json::to_value(moniker(name)).expect("a moniker serializes")
}

// ------------------------------------------------------------------ security groups

/// What the security group listings show of one group.
pub fn security_group_summary(group: &SecurityGroupInfo) -> Value {
    json!({"id": group.id, "name": group.name, "vpcId": group.vpc_id})
}

/// `{aws: {region: [summary]}}` (`GET /securityGroups/{account}`).
pub fn security_groups_by_region(groups: &[SecurityGroupInfo]) -> Value {
    let mut by_region: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for group in groups {
        by_region
            .entry(group.region.as_str())
            .or_default()
            .push(security_group_summary(group));
    }
    json!({"aws": by_region})
}

/// `{account: {aws: {region: [summary]}}}` (`GET /securityGroups`).
pub fn security_groups_by_account(groups: &[SecurityGroupInfo]) -> Value {
    let mut by_account: BTreeMap<&str, Vec<SecurityGroupInfo>> = BTreeMap::new();
    for group in groups {
        by_account
            .entry(group.account.as_str())
            .or_default()
            .push(group.clone());
    }
    let by_account: BTreeMap<&str, Value> = by_account
        .into_iter()
        .map(|(account, groups)| (account, security_groups_by_region(&groups)))
        .collect();
    json!(by_account)
}

fn port_range(rule: &IngressRule) -> Value {
    let (start, end) = rule.ports.unzip();
    json!({"startPort": start, "endPort": end})
}

/// One inbound rule per source and protocol with all its port ranges, as Clouddriver
/// groups them: `{protocol, portRanges, securityGroup}` for a source group, `{protocol,
/// portRanges, range: {ip, cidr}}` for an address range.
fn inbound_rules(group: &SecurityGroupInfo, known: &[SecurityGroupInfo]) -> Vec<Value> {
    let mut grouped: BTreeMap<(&Source, &str), Vec<Value>> = BTreeMap::new();
    for rule in &group.ingress {
        grouped
            .entry((&rule.source, rule.protocol.as_str()))
            .or_default()
            .push(port_range(rule));
    }
    grouped
        .into_iter()
        .map(|((source, protocol), port_ranges)| {
            let mut rule = json!({"protocol": protocol, "portRanges": port_ranges});
            match source {
                Source::Cidr(cidr) => {
                    let (ip, prefix) = cidr.split_once('/').unwrap_or((cidr, ""));
                    rule["range"] = json!({"ip": ip, "cidr": format!("/{prefix}")});
                }
                Source::GroupId(id) | Source::GroupName(id) => {
                    let other = known.iter().find(|g| &g.id == id || &g.name == id);
                    rule["securityGroup"] = json!({
                        "id": other.map_or(id.as_str(), |g| g.id.as_str()),
                        "name": other.map(|g| g.name.as_str()),
                        "type": "aws",
                        "accountName": group.account,
                        "region": group.region,
                        "vpcId": other.and_then(|g| g.vpc_id.as_deref()),
                    });
                }
            }
            rule
        })
        .collect()
}

/// One security group with its rules (`GET /securityGroups/{account}/{region}/{name}`);
/// `known` names the source groups its rules refer to by id.
pub fn security_group_view(group: &SecurityGroupInfo, known: &[SecurityGroupInfo]) -> Value {
    let inbound = inbound_rules(group, known);
    let (ranges, groups): (Vec<Value>, Vec<Value>) = inbound
        .iter()
        .cloned()
        .partition(|rule| rule.get("range").is_some());
    let moniker = moniker_json(&group.name);
    json!({
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "vpcId": group.vpc_id,
        "accountName": group.account,
        "account": group.account,
        "region": group.region,
        "type": "aws",
        "cloudProvider": "aws",
        "application": moniker["app"],
        "moniker": moniker,
        "inboundRules": inbound,
        "ipRangeRules": ranges,
        "securityGroupRules": groups,
    })
}

// ------------------------------------------------------------------ load balancers

/// Deck's view of a server group behind a target group: its instances with their health
/// in that target group.
fn server_group_behind(group: &ServerGroup, target_group: &str) -> Value {
    let instances: Vec<Value> = group
        .instances
        .iter()
        .map(|instance| {
            let state = instance
                .health
                .iter()
                .find(|h| h.target_group.as_deref() == Some(target_group))
                .map_or("Unknown", |h| h.state);
            json!({
                "id": instance.instance_id,
                "name": instance.instance_id,
                "zone": instance.availability_zone,
                "health": {"type": "TargetGroup", "state": state, "targetGroup": target_group},
                "healthState": state,
            })
        })
        .collect();
    json!({
        "name": group.name,
        "account": group.account,
        "region": group.region,
        "cloudProvider": "aws",
        "isDisabled": group.is_disabled(),
        "instances": instances,
        "detachedInstances": [],
    })
}

fn instance_counts(server_groups: &[Value]) -> Value {
    let states: Vec<&str> = server_groups
        .iter()
        .flat_map(|group| group["instances"].as_array().into_iter().flatten())
        .filter_map(|instance| instance["healthState"].as_str())
        .collect();
    let count = |state: &str| states.iter().filter(|s| **s == state).count();
    json!({
        "total": states.len(),
        "up": count("Up"),
        "down": count("Down"),
        "outOfService": count("OutOfService"),
        "starting": count("Starting"),
        "unknown": count("Unknown"),
    })
}

/// One load balancer as Deck lists it: listeners, target groups each with the server
/// groups attached to it, and those server groups once more at the top (Deck's
/// `serverGroups`). `server_groups` are the groups of the same account and region.
pub fn load_balancer_view(balancer: &LoadBalancerInfo, server_groups: &[ServerGroup]) -> Value {
    let mut attached: Vec<Value> = Vec::new();
    let target_groups: Vec<Value> = balancer
        .target_groups
        .iter()
        .map(|target_group| {
            let behind: Vec<Value> = server_groups
                .iter()
                .filter(|group| group.target_groups.contains(&target_group.name))
                .map(|group| server_group_behind(group, &target_group.name))
                .collect();
            for group in &behind {
                if !attached.iter().any(|known| known["name"] == group["name"]) {
                    attached.push(group.clone());
                }
            }
            let check = &target_group.health_check;
            json!({
                "name": target_group.name,
                "targetGroupName": target_group.name,
                "targetGroupArn": target_group.arn,
                "protocol": target_group.protocol,
                "port": target_group.port,
                "targetType": target_group.target_type,
                "vpcId": target_group.vpc_id,
                "healthCheckProtocol": check.protocol,
                "healthCheckPort": check.port,
                "healthCheckPath": check.path,
                "healthCheckIntervalSeconds": check.interval_seconds,
                "healthCheckTimeoutSeconds": check.timeout_seconds,
                "healthyThresholdCount": check.healthy_threshold,
                "unhealthyThresholdCount": check.unhealthy_threshold,
                "matcher": check.matcher.as_ref().map(|code| json!({"httpCode": code})),
                "loadBalancerNames": [balancer.name],
                "serverGroups": behind,
                "instanceCounts": instance_counts(&behind),
                "cloudProvider": "aws",
                "account": balancer.account,
                "region": balancer.region,
            })
        })
        .collect();
    let listeners: Vec<Value> = balancer
        .listeners
        .iter()
        .map(|listener| {
            json!({
                "listenerArn": listener.arn,
                "protocol": listener.protocol,
                "port": listener.port,
                "certificates": listener.certificate_arns.iter()
                    .map(|arn| json!({"certificateArn": arn})).collect::<Vec<_>>(),
                "defaultActions": listener.target_groups.iter()
                    .map(|name| json!({"type": "forward", "targetGroupName": name}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let counts = instance_counts(&attached);
    json!({
        "name": balancer.name,
        "loadBalancerName": balancer.name,
        "loadBalancerArn": balancer.arn,
        "account": balancer.account,
        "region": balancer.region,
        "type": "aws",
        "cloudProvider": "aws",
        "loadBalancerType": balancer.kind,
        "scheme": balancer.scheme,
        "isInternal": balancer.scheme == "internal",
        "state": {"code": balancer.state},
        "vpcId": balancer.vpc_id,
        "vpcid": balancer.vpc_id,
        "dnsname": balancer.dns_name,
        "createdTime": balancer.created_time,
        "availabilityZones": balancer.zones,
        "subnets": balancer.subnets,
        "securityGroups": balancer.security_groups,
        "moniker": moniker_json(&balancer.name),
        "listeners": listeners,
        "targetGroups": target_groups,
        "serverGroups": attached,
        "instanceCounts": counts,
    })
}

/// One entry of `GET /loadBalancers`: a name with the accounts and regions holding a
/// load balancer of that name (Clouddriver's `AmazonLoadBalancerSummary`).
pub fn load_balancer_summary(name: &str, balancers: &[LoadBalancerInfo]) -> Value {
    let mut accounts: BTreeMap<&str, BTreeMap<&str, Vec<Value>>> = BTreeMap::new();
    for balancer in balancers.iter().filter(|b| b.name == name) {
        accounts
            .entry(balancer.account.as_str())
            .or_default()
            .entry(balancer.region.as_str())
            .or_default()
            .push(json!({
                "account": balancer.account,
                "region": balancer.region,
                "name": balancer.name,
                "type": "aws",
                "loadBalancerType": balancer.kind,
                "vpcId": balancer.vpc_id,
            }));
    }
    let accounts: Vec<Value> = accounts
        .into_iter()
        .map(|(account, regions)| {
            let regions: Vec<Value> = regions
                .into_iter()
                .map(|(region, found)| json!({"name": region, "loadBalancers": found}))
                .collect();
            json!({"name": account, "regions": regions})
        })
        .collect();
    json!({"name": name, "accounts": accounts})
}

/// `GET /loadBalancers`: one summary per load balancer name.
pub fn load_balancer_summaries(balancers: &[LoadBalancerInfo]) -> Vec<Value> {
    let mut names: Vec<&str> = balancers.iter().map(|b| b.name.as_str()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| load_balancer_summary(name, balancers))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Capacity;
    use crate::network::{HealthCheck, ListenerInfo, TargetGroupInfo};
    use crate::server_group::{Health, Instance};

    fn group(id: &str, name: &str, ingress: Vec<IngressRule>) -> SecurityGroupInfo {
        SecurityGroupInfo {
            id: id.into(),
            name: name.into(),
            description: "d".into(),
            vpc_id: Some("vpc-1".into()),
            account: "prod".into(),
            region: "us-east-1".into(),
            ingress,
        }
    }

    fn rule(port: i32, source: Source) -> IngressRule {
        IngressRule {
            protocol: "tcp".into(),
            ports: Some((port, port)),
            source,
        }
    }

    #[test]
    fn security_group_rules_group_ports_by_source() {
        let lb = group("sg-lb", "shop-lb", vec![]);
        let web = group(
            "sg-web",
            "shop-web",
            vec![
                rule(7001, Source::GroupId("sg-lb".into())),
                rule(7002, Source::GroupId("sg-lb".into())),
                rule(443, Source::Cidr("10.0.0.0/8".into())),
            ],
        );
        let view = security_group_view(&web, &[lb, web.clone()]);
        assert_eq!(view["application"], json!("shop"));
        assert_eq!(view["accountName"], json!("prod"));
        assert_eq!(
            view["ipRangeRules"],
            json!([{"protocol": "tcp", "portRanges": [{"startPort": 443, "endPort": 443}],
                    "range": {"ip": "10.0.0.0", "cidr": "/8"}}])
        );
        let group_rules = view["securityGroupRules"].as_array().unwrap();
        assert_eq!(group_rules.len(), 1);
        assert_eq!(group_rules[0]["securityGroup"]["name"], json!("shop-lb"));
        assert_eq!(
            group_rules[0]["portRanges"],
            json!([{"startPort": 7001, "endPort": 7001}, {"startPort": 7002, "endPort": 7002}])
        );
        assert_eq!(view["inboundRules"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn security_group_listings_nest_account_provider_region() {
        let groups = [group("sg-1", "shop-web", vec![])];
        assert_eq!(
            security_groups_by_account(&groups),
            json!({"prod": {"aws": {"us-east-1": [{"id": "sg-1", "name": "shop-web", "vpcId": "vpc-1"}]}}})
        );
    }

    fn balancer() -> LoadBalancerInfo {
        LoadBalancerInfo {
            arn: "arn:lb".into(),
            name: "shop-web".into(),
            account: "prod".into(),
            region: "us-east-1".into(),
            kind: "application".into(),
            scheme: "internal".into(),
            state: "active".into(),
            vpc_id: Some("vpc-1".into()),
            dns_name: "shop-web-1.elb".into(),
            created_time: 5,
            zones: vec!["us-east-1a".into()],
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            listeners: vec![ListenerInfo {
                arn: "arn:listener".into(),
                protocol: "HTTP".into(),
                port: 80,
                certificate_arns: vec![],
                target_groups: vec!["shop-web-tg".into()],
            }],
            target_groups: vec![TargetGroupInfo {
                arn: "arn:tg".into(),
                name: "shop-web-tg".into(),
                protocol: "HTTP".into(),
                port: 7001,
                target_type: "instance".into(),
                vpc_id: Some("vpc-1".into()),
                health_check: HealthCheck {
                    protocol: "HTTP".into(),
                    port: "traffic-port".into(),
                    path: Some("/health".into()),
                    interval_seconds: Some(30),
                    timeout_seconds: None,
                    healthy_threshold: None,
                    unhealthy_threshold: None,
                    matcher: None,
                },
                load_balancer_arns: vec!["arn:lb".into()],
            }],
        }
    }

    fn server_group(name: &str, target_groups: &[&str]) -> ServerGroup {
        ServerGroup {
            name: name.into(),
            account: "prod".into(),
            region: "us-east-1".into(),
            created_time: 1,
            capacity: Capacity {
                min: 1,
                max: 1,
                desired: 1,
            },
            suspended_processes: vec![],
            zones: vec![],
            target_groups: target_groups.iter().map(|s| s.to_string()).collect(),
            launch_template: None,
            launch: None,
            image: None,
            instances: vec![Instance {
                instance_id: "i-1".into(),
                availability_zone: "us-east-1a".into(),
                health: vec![Health {
                    kind: "TargetGroup",
                    state: "Up",
                    target_group: Some("shop-web-tg".into()),
                }],
            }],
            tags: Default::default(),
        }
    }

    #[test]
    fn load_balancers_show_the_server_groups_behind_their_target_groups() {
        let groups = [
            server_group("shop-web-v000", &["shop-web-tg"]),
            server_group("shop-api-v000", &[]),
        ];
        let view = load_balancer_view(&balancer(), &groups);
        assert_eq!(view["type"], json!("aws"));
        assert_eq!(view["loadBalancerType"], json!("application"));
        assert_eq!(view["dnsname"], json!("shop-web-1.elb"));
        assert_eq!(view["moniker"]["app"], json!("shop"));
        assert_eq!(
            view["listeners"][0]["defaultActions"],
            json!([{"type": "forward", "targetGroupName": "shop-web-tg"}])
        );
        assert_eq!(view["targetGroups"][0]["healthCheckPath"], json!("/health"));
        assert_eq!(
            view["targetGroups"][0]["serverGroups"][0]["name"],
            json!("shop-web-v000")
        );
        assert_eq!(view["serverGroups"].as_array().unwrap().len(), 1);
        assert_eq!(
            view["serverGroups"][0]["instances"][0]["healthState"],
            json!("Up")
        );
        assert_eq!(view["instanceCounts"]["up"], json!(1));
    }

    #[test]
    fn summaries_nest_accounts_and_regions_under_the_name() {
        let mut other = balancer();
        other.region = "us-west-2".into();
        let summaries = load_balancer_summaries(&[balancer(), other]);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0]["name"], json!("shop-web"));
        let regions = &summaries[0]["accounts"][0]["regions"];
        assert_eq!(regions.as_array().unwrap().len(), 2);
        assert_eq!(regions[0]["loadBalancers"][0]["type"], json!("aws"));
    }
}
