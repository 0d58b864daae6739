//! Load balancers (ELBv2) with their listeners, and the subnets they are placed in: reads
//! into [`LoadBalancerInfo`], and the upsert and delete the load balancer stages make.
//! The upsert describes first and creates only what is missing, so running it again (a
//! redelivered message, a second stage) converges on the same resources instead of
//! duplicating them; the delete treats "already gone" as done.

use std::collections::HashMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;
use aws_sdk_elasticloadbalancingv2::types as elb;

use super::target_groups::{target_group_name, target_group_of};
use super::{CloudError, RegionClients, aws_error, filter};
use crate::network::{
    ListenerInfo, ListenerSpec, LoadBalancerInfo, LoadBalancerKind, LoadBalancerRequest, Placement,
};

/// Subnet tag Spinnaker uses to name a subnet's purpose (`subnetType`):
/// `{"purpose": "internal (vpc0)", "target": "elb"}`.
const SUBNET_PURPOSE_TAG: &str = "immutable_metadata";

fn listener_of(listener: &elb::Listener) -> ListenerInfo {
    let mut target_groups = Vec::new();
    for action in listener.default_actions() {
        let forwarded = action.target_group_arn().into_iter().chain(
            action
                .forward_config()
                .into_iter()
                .flat_map(|config| config.target_groups())
                .filter_map(|tuple| tuple.target_group_arn()),
        );
        for arn in forwarded {
            let name = target_group_name(arn);
            if !target_groups.contains(&name) {
                target_groups.push(name);
            }
        }
    }
    ListenerInfo {
        arn: listener.listener_arn().unwrap_or_default().to_string(),
        protocol: listener
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        port: listener.port().unwrap_or_default(),
        certificate_arns: listener
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .collect(),
        target_groups,
    }
}

fn forward_to(target_group_arn: &str) -> elb::Action {
    elb::Action::builder()
        .r#type(elb::ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

impl RegionClients {
    /// Every load balancer of the region, with listeners and target groups.
    pub async fn load_balancers(&self) -> Result<Vec<LoadBalancerInfo>, CloudError> {
        let mut balancers = Vec::new();
        let mut pages = self.elbv2.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws_error("DescribeLoadBalancers"))?;
            balancers.extend(page.load_balancers().iter().cloned());
        }
        let mut read = Vec::with_capacity(balancers.len());
        for balancer in &balancers {
            read.push(self.read_load_balancer(balancer).await?);
        }
        Ok(read)
    }

    /// The load balancer called `name`, `None` when absent.
    pub async fn load_balancer(&self, name: &str) -> Result<Option<LoadBalancerInfo>, CloudError> {
        let found = self
            .elbv2
            .describe_load_balancers()
            .names(name)
            .send()
            .await;
        let found = match found {
            Ok(found) => found,
            Err(error) if error.code() == Some("LoadBalancerNotFound") => return Ok(None),
            Err(error) => return Err(aws_error("DescribeLoadBalancers")(error)),
        };
        match found.load_balancers().first() {
            Some(balancer) => Ok(Some(self.read_load_balancer(balancer).await?)),
            None => Ok(None),
        }
    }

    async fn read_load_balancer(
        &self,
        balancer: &elb::LoadBalancer,
    ) -> Result<LoadBalancerInfo, CloudError> {
        let arn = balancer.load_balancer_arn().unwrap_or_default().to_string();
        let listeners = self
            .elbv2
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
            .map_err(aws_error("DescribeListeners"))?;
        let target_groups = self
            .elbv2
            .describe_target_groups()
            .load_balancer_arn(&arn)
            .send()
            .await
            .map_err(aws_error("DescribeTargetGroups"))?;
        let zones = balancer.availability_zones();
        Ok(LoadBalancerInfo {
            name: balancer
                .load_balancer_name()
                .unwrap_or_default()
                .to_string(),
            account: self.account.clone(),
            region: self.region.clone(),
            kind: balancer
                .r#type()
                .map_or("application", |t| t.as_str())
                .to_string(),
            scheme: balancer
                .scheme()
                .map_or("internet-facing", |s| s.as_str())
                .to_string(),
            state: balancer
                .state()
                .and_then(|state| state.code())
                .map(|code| code.as_str().to_string())
                .unwrap_or_default(),
            vpc_id: balancer.vpc_id().map(str::to_string),
            dns_name: balancer.dns_name().unwrap_or_default().to_string(),
            created_time: balancer
                .created_time()
                .map_or(0, |t| t.to_millis().unwrap_or(0)),
            zones: zones
                .iter()
                .filter_map(|zone| zone.zone_name().map(str::to_string))
                .collect(),
            subnets: zones
                .iter()
                .filter_map(|zone| zone.subnet_id().map(str::to_string))
                .collect(),
            security_groups: balancer.security_groups().to_vec(),
            listeners: listeners.listeners().iter().map(listener_of).collect(),
            target_groups: target_groups
                .target_groups()
                .iter()
                .map(target_group_of)
                .collect(),
            arn,
        })
    }

    /// Resolves where a load balancer goes: explicit subnets, else the subnets tagged with
    /// its `subnetType`, else the default subnets; narrowed to its zones; all in one VPC.
    /// Nothing is created here, so a bad placement fails the stage first.
    pub async fn placement(&self, request: &LoadBalancerRequest) -> Result<Placement, CloudError> {
        let mut subnets = self.candidate_subnets(request).await?;
        if !request.zones.is_empty() {
            subnets.retain(|subnet| {
                subnet
                    .availability_zone()
                    .is_some_and(|zone| request.zones.iter().any(|z| z == zone))
            });
        }
        let Some(vpc_id) = subnets.first().and_then(|s| s.vpc_id()).map(str::to_string) else {
            return Err(CloudError::Invalid(format!(
                "no subnet for load balancer {} in {} (zones: {})",
                request.name,
                self.region,
                if request.zones.is_empty() {
                    "any".to_string()
                } else {
                    request.zones.join(", ")
                }
            )));
        };
        if subnets.iter().any(|s| s.vpc_id() != Some(vpc_id.as_str())) {
            return Err(CloudError::Invalid(format!(
                "the subnets of load balancer {} are in more than one VPC",
                request.name
            )));
        }
        Ok(Placement {
            security_group_ids: self
                .security_group_ids(&request.security_groups, &vpc_id)
                .await?,
            subnet_ids: subnets
                .iter()
                .filter_map(|s| s.subnet_id().map(str::to_string))
                .collect(),
            vpc_id,
        })
    }

    async fn candidate_subnets(
        &self,
        request: &LoadBalancerRequest,
    ) -> Result<Vec<ec2::Subnet>, CloudError> {
        let mut describe = self.ec2.describe_subnets();
        if !request.subnet_ids.is_empty() {
            describe = describe.set_subnet_ids(Some(request.subnet_ids.clone()));
        } else if request.subnet_type.is_none() {
            describe = describe.filters(filter("default-for-az", "true"));
        }
        let found = describe.send().await.map_err(|error| {
            if error
                .code()
                .is_some_and(|c| c.starts_with("InvalidSubnetID"))
            {
                CloudError::Invalid(format!(
                    "subnets not found in {}: {}",
                    self.region,
                    request.subnet_ids.join(", ")
                ))
            } else {
                aws_error("DescribeSubnets")(error)
            }
        })?;
        let subnets = found.subnets().to_vec();
        let Some(purpose) = request
            .subnet_type
            .as_deref()
            .filter(|_| request.subnet_ids.is_empty())
        else {
            return Ok(subnets);
        };
        let tagged: Vec<_> = subnets
            .into_iter()
            .filter(|subnet| subnet_purpose(subnet).as_deref() == Some(purpose))
            .collect();
        if tagged.is_empty() {
            return Err(CloudError::Invalid(format!(
                "no subnet of subnetType '{purpose}' in {} (tag {SUBNET_PURPOSE_TAG} {{\"purpose\": \"{purpose}\"}})",
                self.region
            )));
        }
        Ok(tagged)
    }

    /// Creates or updates the load balancer, its target groups and listeners so they match
    /// the request; listeners on ports the request does not name are deleted. The scheme,
    /// type and subnets of an existing load balancer are kept (ELBv2 cannot change the
    /// first two; Clouddriver does not move the last). Target groups the request no longer
    /// names are left in place. Returns the load balancer as read afterwards.
    pub async fn upsert_load_balancer(
        &self,
        request: &LoadBalancerRequest,
        placement: &Placement,
    ) -> Result<LoadBalancerInfo, CloudError> {
        let existing = self.load_balancer(&request.name).await?;
        let arn = match &existing {
            Some(balancer) => {
                self.update_security_groups(balancer, request, placement)
                    .await?;
                balancer.arn.clone()
            }
            None => self.create_load_balancer(request, placement).await?,
        };
        let mut target_group_arns = HashMap::new();
        for spec in &request.target_groups {
            let arn = self.upsert_target_group(spec, &placement.vpc_id).await?;
            target_group_arns.insert(spec.name.clone(), arn);
        }
        let current = match existing {
            Some(balancer) => balancer.listeners,
            None => vec![],
        };
        for spec in &request.listeners {
            let target = &target_group_arns[&spec.target_group];
            let found = current.iter().find(|listener| listener.port == spec.port);
            self.upsert_listener(&arn, found, spec, target).await?;
        }
        for stale in current
            .iter()
            .filter(|listener| !request.listeners.iter().any(|s| s.port == listener.port))
        {
            self.delete_listener(&stale.arn).await?;
        }
        self.load_balancer(&request.name).await?.ok_or_else(|| {
            CloudError::Invalid(format!(
                "load balancer {} disappeared while it was being updated",
                request.name
            ))
        })
    }

    async fn create_load_balancer(
        &self,
        request: &LoadBalancerRequest,
        placement: &Placement,
    ) -> Result<String, CloudError> {
        let scheme = if request.internal {
            elb::LoadBalancerSchemeEnum::Internal
        } else {
            elb::LoadBalancerSchemeEnum::InternetFacing
        };
        let created = self
            .elbv2
            .create_load_balancer()
            .name(&request.name)
            .r#type(elb::LoadBalancerTypeEnum::from(request.kind.as_str()))
            .scheme(scheme)
            .set_subnets(Some(placement.subnet_ids.clone()))
            .set_security_groups(
                (!placement.security_group_ids.is_empty())
                    .then(|| placement.security_group_ids.clone()),
            )
            .tags(
                elb::Tag::builder()
                    .key("spinnaker:application")
                    .value(&request.application)
                    .build(),
            )
            .send()
            .await
            .map_err(aws_error("CreateLoadBalancer"))?;
        created
            .load_balancers()
            .first()
            .and_then(|balancer| balancer.load_balancer_arn())
            .map(str::to_string)
            .ok_or_else(|| CloudError::Aws {
                operation: "CreateLoadBalancer",
                message: "the answer names no load balancer".into(),
            })
    }

    async fn update_security_groups(
        &self,
        balancer: &LoadBalancerInfo,
        request: &LoadBalancerRequest,
        placement: &Placement,
    ) -> Result<(), CloudError> {
        let mut current = balancer.security_groups.clone();
        let mut wanted = placement.security_group_ids.clone();
        current.sort();
        wanted.sort();
        // Network load balancers created without security groups cannot gain any.
        if current == wanted || request.kind == LoadBalancerKind::Network && current.is_empty() {
            return Ok(());
        }
        self.elbv2
            .set_security_groups()
            .load_balancer_arn(&balancer.arn)
            .set_security_groups(Some(wanted))
            .send()
            .await
            .map_err(aws_error("SetSecurityGroups"))?;
        Ok(())
    }

    /// Creates the listener, or modifies the one on its port when it differs.
    async fn upsert_listener(
        &self,
        load_balancer_arn: &str,
        current: Option<&ListenerInfo>,
        spec: &ListenerSpec,
        target_group_arn: &str,
    ) -> Result<(), CloudError> {
        let certificates = spec
            .certificate_arn
            .as_ref()
            .map(|arn| vec![elb::Certificate::builder().certificate_arn(arn).build()]);
        let Some(current) = current else {
            let created = self
                .elbv2
                .create_listener()
                .load_balancer_arn(load_balancer_arn)
                .protocol(elb::ProtocolEnum::from(spec.protocol.as_str()))
                .port(spec.port)
                .set_certificates(certificates)
                .default_actions(forward_to(target_group_arn))
                .send()
                .await;
            return match created {
                Ok(_) => Ok(()),
                // Created by a concurrent delivery of the same upsert since our describe.
                Err(error) if error.code() == Some("DuplicateListener") => Ok(()),
                Err(error) => Err(aws_error("CreateListener")(error)),
            };
        };
        let unchanged = current.protocol == spec.protocol
            && current.target_groups == [spec.target_group.clone()]
            && current.certificate_arns.first() == spec.certificate_arn.as_ref();
        if unchanged {
            return Ok(());
        }
        self.elbv2
            .modify_listener()
            .listener_arn(&current.arn)
            .protocol(elb::ProtocolEnum::from(spec.protocol.as_str()))
            .port(spec.port)
            .set_certificates(certificates)
            .default_actions(forward_to(target_group_arn))
            .send()
            .await
            .map_err(aws_error("ModifyListener"))?;
        Ok(())
    }

    async fn delete_listener(&self, arn: &str) -> Result<(), CloudError> {
        match self.elbv2.delete_listener().listener_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ListenerNotFound") => Ok(()),
            Err(error) => Err(aws_error("DeleteListener")(error)),
        }
    }

    /// Deletes the load balancer (its listeners go with it); gone already is done.
    pub async fn delete_load_balancer(&self, arn: &str) -> Result<(), CloudError> {
        let deleted = self
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("LoadBalancerNotFound") => Ok(()),
            Err(error) => Err(aws_error("DeleteLoadBalancer")(error)),
        }
    }
}

/// The `purpose` of Spinnaker's `immutable_metadata` subnet tag.
fn subnet_purpose(subnet: &ec2::Subnet) -> Option<String> {
    let tag = subnet
        .tags()
        .iter()
        .find(|tag| tag.key() == Some(SUBNET_PURPOSE_TAG))?;
    let metadata: serde_json::Value = serde_json::from_str(tag.value()?).ok()?;
    metadata.get("purpose")?.as_str().map(str::to_string)
}
