//! The network stages (Clouddriver's security group and load balancer operations):
//! `upsertSecurityGroup`, `deleteSecurityGroup`, `upsertLoadBalancer`, `deleteLoadBalancer`.
//!
//! Upserts are named by the stage, so they make no choice that could differ on a second
//! delivery: each describes first, creates only what is missing and updates the rest, and
//! repeating it converges on the same resources. The one thing recorded before acting is
//! which target groups a load balancer deletion will delete, because once the load balancer
//! is gone ELBv2 can no longer say which were its own.

use gennaker_cloud::network::{
    self, LoadBalancerInfo, LoadBalancerRequest, SecurityGroupInfo, TargetGroupInfo,
};
use gennaker_worker::{Answer, Step, Stop};
use serde_json::{Map, Value, json};

use super::Poll;

/// Context key of the target groups a `deleteLoadBalancer` deletes after the load balancer.
const TARGET_GROUPS_TO_DELETE: &str = "targetGroupsToDelete";

impl Poll<'_> {
    pub(super) async fn upsert_security_group(&self) -> Step<Answer> {
        let request = network::upsert_security_group(&self.context())?;
        let clients = self.clients(&request.location).await?;
        let group = clients.upsert_security_group(&request).await?;
        let context = security_group_context(&request.location.account, &group);
        Ok(Answer::succeeded(context, Map::new()))
    }

    pub(super) async fn delete_security_group(&self) -> Step<Answer> {
        let reference = network::delete_security_group(&self.context())?;
        let clients = self.clients(&reference.location).await?;
        let deleted = clients.delete_security_group(&reference).await?;
        let context = Map::from_iter([
            (
                "targets".to_string(),
                json!([{"credentials": reference.location.account,
                        "region": reference.location.region,
                        "name": reference.name, "vpcId": reference.vpc_id}]),
            ),
            // False when it was already gone (a second delivery, or never created).
            ("deleted".to_string(), json!(deleted)),
        ]);
        Ok(Answer::succeeded(context, Map::new()))
    }

    pub(super) async fn upsert_load_balancer(&self) -> Step<Answer> {
        let request = network::upsert_load_balancer(&self.context())?;
        let clients = self.clients(&request.location).await?;
        let acted = self.input.previous_context().get("acted") == Some(&json!(true));
        let balancer = if acted {
            clients.load_balancer(&request.name).await?.ok_or_else(|| {
                Stop::Failed(format!(
                    "load balancer {} disappeared while it was being created",
                    request.name
                ))
            })?
        } else {
            let placement = clients.placement(&request).await?;
            clients.upsert_load_balancer(&request, &placement).await?
        };
        if balancer.has_failed() {
            return Err(Stop::Failed(format!(
                "load balancer {} failed to provision (state: failed)",
                request.name
            )));
        }
        let mut context = load_balancer_context(&request, &balancer);
        context.insert("acted".into(), json!(true));
        if balancer.is_active() {
            let outputs = Map::from_iter([(
                "loadBalancers".to_string(),
                json!([{"name": balancer.name, "dnsName": balancer.dns_name,
                        "account": balancer.account, "region": balancer.region}]),
            )]);
            Ok(Answer::succeeded(context, outputs))
        } else {
            Ok(self.running(context))
        }
    }

    pub(super) async fn delete_load_balancer(&self) -> Step<Answer> {
        let reference = network::delete_load_balancer(&self.context())?;
        let clients = self.clients(&reference.location).await?;
        let balancer = clients.load_balancer(&reference.name).await?;
        let stored = if self
            .loaded
            .stage
            .context
            .contains_key(TARGET_GROUPS_TO_DELETE)
        {
            self.loaded.stage.context.clone()
        } else {
            let Some(balancer) = &balancer else {
                // Gone before this stage recorded anything: nothing of it is left to delete.
                return Ok(Answer::succeeded(
                    deleted_context(&reference.name, &[]),
                    Map::new(),
                ));
            };
            let entries = Map::from_iter([(
                TARGET_GROUPS_TO_DELETE.to_string(),
                json!(own_target_groups(balancer)),
            )]);
            self.record_once(TARGET_GROUPS_TO_DELETE, entries).await?
        };
        let target_groups: Vec<String> = stored
            .get(TARGET_GROUPS_TO_DELETE)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if let Some(balancer) = &balancer {
            clients.delete_load_balancer(&balancer.arn).await?;
        }
        let still_in_use = clients.delete_target_groups(&target_groups).await?;
        let context = deleted_context(&reference.name, &target_groups);
        if still_in_use.is_empty() {
            Ok(Answer::succeeded(context, Map::new()))
        } else {
            Ok(self.running(context))
        }
    }
}

fn security_group_context(account: &str, group: &SecurityGroupInfo) -> Map<String, Value> {
    Map::from_iter([
        (
            "targets".to_string(),
            json!([{"credentials": account, "region": group.region,
                    "name": group.name, "vpcId": group.vpc_id}]),
        ),
        ("securityGroupId".to_string(), json!(group.id)),
        (
            "securityGroupIds".to_string(),
            json!({ group.region.clone(): group.id }),
        ),
    ])
}

fn load_balancer_context(
    request: &LoadBalancerRequest,
    balancer: &LoadBalancerInfo,
) -> Map<String, Value> {
    let target_groups: Vec<&str> = balancer
        .target_groups
        .iter()
        .map(|group| group.name.as_str())
        .collect();
    Map::from_iter([
        (
            "targets".to_string(),
            json!([{"credentials": request.location.account,
                    "availabilityZones": { balancer.region.clone(): balancer.zones },
                    "vpcId": balancer.vpc_id, "name": balancer.name}]),
        ),
        ("loadBalancerName".to_string(), json!(balancer.name)),
        ("loadBalancerArn".to_string(), json!(balancer.arn)),
        ("dnsName".to_string(), json!(balancer.dns_name)),
        ("loadBalancerState".to_string(), json!(balancer.state)),
        ("targetGroups".to_string(), json!(target_groups)),
    ])
}

fn deleted_context(name: &str, target_groups: &[String]) -> Map<String, Value> {
    Map::from_iter([
        ("loadBalancerName".to_string(), json!(name)),
        (TARGET_GROUPS_TO_DELETE.to_string(), json!(target_groups)),
    ])
}

/// Target groups only this load balancer forwards to: deleted with it (as Clouddriver's
/// delete does). A target group another load balancer also uses is left in place.
fn own_target_groups(balancer: &LoadBalancerInfo) -> Vec<String> {
    let own = |group: &&TargetGroupInfo| {
        group
            .load_balancer_arns
            .iter()
            .all(|arn| *arn == balancer.arn)
    };
    balancer
        .target_groups
        .iter()
        .filter(own)
        .map(|group| group.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_cloud::network::HealthCheck;

    fn target_group(name: &str, load_balancer_arns: &[&str]) -> TargetGroupInfo {
        TargetGroupInfo {
            arn: format!("arn:{name}"),
            name: name.into(),
            protocol: "HTTP".into(),
            port: 80,
            target_type: "instance".into(),
            vpc_id: None,
            health_check: HealthCheck {
                protocol: "HTTP".into(),
                port: "traffic-port".into(),
                path: Some("/".into()),
                interval_seconds: None,
                timeout_seconds: None,
                healthy_threshold: None,
                unhealthy_threshold: None,
                matcher: None,
            },
            load_balancer_arns: load_balancer_arns.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_deletion_takes_only_the_target_groups_no_other_load_balancer_uses() {
        let balancer = LoadBalancerInfo {
            arn: "arn:lb".into(),
            name: "shop-web".into(),
            account: "default".into(),
            region: "us-east-1".into(),
            kind: "application".into(),
            scheme: "internal".into(),
            state: "active".into(),
            vpc_id: None,
            dns_name: String::new(),
            created_time: 0,
            zones: vec![],
            subnets: vec![],
            security_groups: vec![],
            listeners: vec![],
            target_groups: vec![
                target_group("shop-own", &["arn:lb"]),
                target_group("shop-shared", &["arn:lb", "arn:other"]),
            ],
        };
        assert_eq!(own_target_groups(&balancer), ["shop-own"]);
    }
}
