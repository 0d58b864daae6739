//! Security groups (EC2) and load balancers (ELBv2): reads into the plain types of
//! [`crate::network`], and the upserts and deletes the network stages make. Every upsert
//! describes first and creates only what is missing, so running it again (a redelivered
//! message, a second stage) converges on the same resources instead of duplicating them;
//! every delete treats "already gone" as done.

use std::collections::HashMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;
use aws_sdk_elasticloadbalancingv2::types as elb;

use super::{CloudError, RegionClients, aws_error};
use crate::network::{
    HealthCheck, IngressRule, ListenerInfo, ListenerSpec, LoadBalancerInfo, LoadBalancerKind,
    LoadBalancerRequest, Placement, SecurityGroupInfo, SecurityGroupRef, SecurityGroupRequest,
    Source, TargetGroupInfo, TargetGroupSpec, ingress_changes,
};

/// Subnet tag Spinnaker uses to name a subnet's purpose (`subnetType`):
/// `{"purpose": "internal (vpc0)", "target": "elb"}`.
const SUBNET_PURPOSE_TAG: &str = "immutable_metadata";

fn filter(name: &str, value: &str) -> ec2::Filter {
    ec2::Filter::builder().name(name).values(value).build()
}

/// A rule of EC2's `IpPermission`s, one per source.
fn rules_of(permission: &ec2::IpPermission) -> Vec<IngressRule> {
    let protocol = permission.ip_protocol().unwrap_or("-1");
    let rule = |source| {
        IngressRule::reported(
            protocol,
            permission.from_port(),
            permission.to_port(),
            source,
        )
    };
    let ranges = permission
        .ip_ranges()
        .iter()
        .filter_map(|range| range.cidr_ip());
    let ranges6 = permission
        .ipv6_ranges()
        .iter()
        .filter_map(|range| range.cidr_ipv6());
    let groups = permission
        .user_id_group_pairs()
        .iter()
        .filter_map(|pair| pair.group_id());
    ranges
        .chain(ranges6)
        .map(|cidr| rule(Source::Cidr(cidr.to_string())))
        .chain(groups.map(|id| rule(Source::GroupId(id.to_string()))))
        .collect()
}

/// EC2's `IpPermission` for one rule (sources already resolved to ranges or ids).
fn permission_of(rule: &IngressRule) -> ec2::IpPermission {
    let mut permission = ec2::IpPermission::builder().ip_protocol(&rule.protocol);
    if let Some((from, to)) = rule.ports {
        permission = permission.from_port(from).to_port(to);
    }
    match &rule.source {
        Source::Cidr(cidr) if cidr.contains(':') => permission
            .ipv6_ranges(ec2::Ipv6Range::builder().cidr_ipv6(cidr).build())
            .build(),
        Source::Cidr(cidr) => permission
            .ip_ranges(ec2::IpRange::builder().cidr_ip(cidr).build())
            .build(),
        Source::GroupId(id) | Source::GroupName(id) => permission
            .user_id_group_pairs(ec2::UserIdGroupPair::builder().group_id(id).build())
            .build(),
    }
}

/// The target group name in an ARN (`…:targetgroup/<name>/<id>`).
fn target_group_name(arn: &str) -> String {
    arn.split('/').rev().nth(1).unwrap_or(arn).to_string()
}

fn health_check_of(group: &elb::TargetGroup) -> HealthCheck {
    HealthCheck {
        protocol: group
            .health_check_protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        port: group
            .health_check_port()
            .unwrap_or("traffic-port")
            .to_string(),
        path: group.health_check_path().map(str::to_string),
        interval_seconds: group.health_check_interval_seconds(),
        timeout_seconds: group.health_check_timeout_seconds(),
        healthy_threshold: group.healthy_threshold_count(),
        unhealthy_threshold: group.unhealthy_threshold_count(),
        matcher: group
            .matcher()
            .and_then(|m| m.http_code())
            .map(str::to_string),
    }
}

fn target_group_of(group: &elb::TargetGroup) -> TargetGroupInfo {
    TargetGroupInfo {
        arn: group.target_group_arn().unwrap_or_default().to_string(),
        name: group.target_group_name().unwrap_or_default().to_string(),
        protocol: group
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        port: group.port().unwrap_or_default(),
        target_type: group
            .target_type()
            .map_or("instance", |t| t.as_str())
            .to_string(),
        vpc_id: group.vpc_id().map(str::to_string),
        health_check: health_check_of(group),
        load_balancer_arns: group.load_balancer_arns().to_vec(),
    }
}

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

/// The HTTP codes a health check counts as healthy, when the stage names them.
fn matcher(check: &HealthCheck) -> Option<elb::Matcher> {
    check
        .matcher
        .as_ref()
        .map(|code| elb::Matcher::builder().http_code(code).build())
}

fn forward_to(target_group_arn: &str) -> elb::Action {
    elb::Action::builder()
        .r#type(elb::ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

impl RegionClients {
    // ------------------------------------------------------------ security groups

    /// The region's default VPC, if it has one.
    pub async fn default_vpc(&self) -> Result<Option<String>, CloudError> {
        let found = self
            .ec2
            .describe_vpcs()
            .filters(filter("is-default", "true"))
            .send()
            .await
            .map_err(aws_error("DescribeVpcs"))?;
        Ok(found
            .vpcs()
            .first()
            .and_then(|vpc| vpc.vpc_id())
            .map(str::to_string))
    }

    async fn vpc_or_default(&self, vpc_id: Option<&str>) -> Result<String, CloudError> {
        match vpc_id {
            Some(vpc) => Ok(vpc.to_string()),
            None => self.default_vpc().await?.ok_or_else(|| {
                CloudError::Invalid(format!(
                    "{} has no default VPC: name the vpcId",
                    self.region
                ))
            }),
        }
    }

    async fn describe_security_groups(
        &self,
        filters: Vec<ec2::Filter>,
    ) -> Result<Vec<SecurityGroupInfo>, CloudError> {
        let mut groups = Vec::new();
        let mut pages = self
            .ec2
            .describe_security_groups()
            .set_filters((!filters.is_empty()).then_some(filters))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws_error("DescribeSecurityGroups"))?;
            groups.extend(
                page.security_groups()
                    .iter()
                    .map(|group| SecurityGroupInfo {
                        id: group.group_id().unwrap_or_default().to_string(),
                        name: group.group_name().unwrap_or_default().to_string(),
                        description: group.description().unwrap_or_default().to_string(),
                        vpc_id: group.vpc_id().map(str::to_string),
                        account: self.account.clone(),
                        region: self.region.clone(),
                        ingress: group.ip_permissions().iter().flat_map(rules_of).collect(),
                    }),
            );
        }
        Ok(groups)
    }

    /// Every security group of the region.
    pub async fn security_groups(&self) -> Result<Vec<SecurityGroupInfo>, CloudError> {
        self.describe_security_groups(vec![]).await
    }

    /// The security group called `name` (in `vpc_id` when given), `None` when absent.
    pub async fn security_group(
        &self,
        name: &str,
        vpc_id: Option<&str>,
    ) -> Result<Option<SecurityGroupInfo>, CloudError> {
        let mut filters = vec![filter("group-name", name)];
        if let Some(vpc) = vpc_id {
            filters.push(filter("vpc-id", vpc));
        }
        Ok(self
            .describe_security_groups(filters)
            .await?
            .into_iter()
            .next())
    }

    /// Ids of security groups given by name or id, all in `vpc_id`; a missing one is a
    /// [`CloudError::Invalid`] naming it.
    pub async fn security_group_ids(
        &self,
        names_or_ids: &[String],
        vpc_id: &str,
    ) -> Result<Vec<String>, CloudError> {
        let in_vpc = self
            .describe_security_groups(vec![filter("vpc-id", vpc_id)])
            .await?;
        names_or_ids
            .iter()
            .map(|wanted| {
                in_vpc
                    .iter()
                    .find(|group| &group.id == wanted || &group.name == wanted)
                    .map(|group| group.id.clone())
                    .ok_or_else(|| {
                        CloudError::Invalid(format!(
                            "security group {wanted} not found in {} ({vpc_id})",
                            self.region
                        ))
                    })
            })
            .collect()
    }

    /// Creates the group if it is missing, then makes its ingress the request's: missing
    /// rules are authorized, others revoked (unless append-only). Source groups are
    /// resolved before anything is created, so a missing one creates nothing.
    pub async fn upsert_security_group(
        &self,
        request: &SecurityGroupRequest,
    ) -> Result<SecurityGroupInfo, CloudError> {
        let vpc_id = self.vpc_or_default(request.vpc_id.as_deref()).await?;
        let others: Vec<String> = request
            .ingress
            .iter()
            .filter_map(|rule| match &rule.source {
                Source::GroupName(name) if *name != request.name => Some(name.clone()),
                _ => None,
            })
            .collect();
        let other_ids: HashMap<String, String> = others
            .iter()
            .cloned()
            .zip(self.security_group_ids(&others, &vpc_id).await?)
            .collect();
        let group = match self.security_group(&request.name, Some(&vpc_id)).await? {
            Some(group) => group,
            None => self.create_security_group(request, &vpc_id).await?,
        };
        let wanted: Vec<IngressRule> = request
            .ingress
            .iter()
            .map(|rule| {
                let source = match &rule.source {
                    Source::GroupName(name) if *name == request.name => {
                        Source::GroupId(group.id.clone())
                    }
                    Source::GroupName(name) => Source::GroupId(other_ids[name].clone()),
                    other => other.clone(),
                };
                IngressRule {
                    source,
                    ..rule.clone()
                }
            })
            .collect();
        let changes = ingress_changes(&wanted, &group.ingress, request.append_only);
        for rule in &changes.authorize {
            self.authorize(&group.id, rule).await?;
        }
        for rule in &changes.revoke {
            self.revoke(&group.id, rule).await?;
        }
        self.security_group(&request.name, Some(&vpc_id))
            .await?
            .ok_or_else(|| {
                CloudError::Invalid(format!(
                    "security group {} disappeared while it was being updated",
                    request.name
                ))
            })
    }

    async fn create_security_group(
        &self,
        request: &SecurityGroupRequest,
        vpc_id: &str,
    ) -> Result<SecurityGroupInfo, CloudError> {
        let created = self
            .ec2
            .create_security_group()
            .group_name(&request.name)
            .description(&request.description)
            .vpc_id(vpc_id)
            .send()
            .await;
        match created {
            Ok(created) => Ok(SecurityGroupInfo {
                id: created.group_id().unwrap_or_default().to_string(),
                name: request.name.clone(),
                description: request.description.clone(),
                vpc_id: Some(vpc_id.to_string()),
                account: self.account.clone(),
                region: self.region.clone(),
                ingress: vec![],
            }),
            // Created by a concurrent delivery between our describe and this call.
            Err(error) if error.code() == Some("InvalidGroup.Duplicate") => self
                .security_group(&request.name, Some(vpc_id))
                .await?
                .ok_or_else(|| aws_error("CreateSecurityGroup")(error)),
            Err(error) => Err(aws_error("CreateSecurityGroup")(error)),
        }
    }

    async fn authorize(&self, group_id: &str, rule: &IngressRule) -> Result<(), CloudError> {
        let authorized = self
            .ec2
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission_of(rule))
            .send()
            .await;
        match authorized {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("InvalidPermission.Duplicate") => Ok(()),
            Err(error) => Err(aws_error("AuthorizeSecurityGroupIngress")(error)),
        }
    }

    async fn revoke(&self, group_id: &str, rule: &IngressRule) -> Result<(), CloudError> {
        let revoked = self
            .ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission_of(rule))
            .send()
            .await;
        match revoked {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("InvalidPermission.NotFound") => Ok(()),
            Err(error) => Err(aws_error("RevokeSecurityGroupIngress")(error)),
        }
    }

    /// Deletes the group; `Ok(false)` when it was already gone.
    pub async fn delete_security_group(
        &self,
        reference: &SecurityGroupRef,
    ) -> Result<bool, CloudError> {
        let vpc_id = self.vpc_or_default(reference.vpc_id.as_deref()).await?;
        let Some(group) = self.security_group(&reference.name, Some(&vpc_id)).await? else {
            return Ok(false);
        };
        let deleted = self
            .ec2
            .delete_security_group()
            .group_id(&group.id)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("InvalidGroup.NotFound") => Ok(false),
            Err(error) if error.code() == Some("DependencyViolation") => {
                Err(CloudError::Invalid(format!(
                    "security group {} is still in use: {}",
                    reference.name,
                    error.message().unwrap_or("another resource references it")
                )))
            }
            Err(error) => Err(aws_error("DeleteSecurityGroup")(error)),
        }
    }

    // ------------------------------------------------------------ load balancers

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

    /// The target group's ARN after creating it (when missing) or setting its health check.
    async fn upsert_target_group(
        &self,
        spec: &TargetGroupSpec,
        vpc_id: &str,
    ) -> Result<String, CloudError> {
        let arn = match self.target_group_arn_named(&spec.name).await? {
            Some(arn) => {
                self.set_health_check(&arn, &spec.health_check).await?;
                arn
            }
            None => self.create_target_group(spec, vpc_id).await?,
        };
        self.set_target_group_attributes(&arn, spec).await?;
        Ok(arn)
    }

    /// The ARN of the target group called `name`, `None` when absent.
    async fn target_group_arn_named(&self, name: &str) -> Result<Option<String>, CloudError> {
        let found = self.elbv2.describe_target_groups().names(name).send().await;
        match found {
            Ok(found) => Ok(found
                .target_groups()
                .first()
                .and_then(|group| group.target_group_arn())
                .map(str::to_string)),
            Err(error) if error.code() == Some("TargetGroupNotFound") => Ok(None),
            Err(error) => Err(aws_error("DescribeTargetGroups")(error)),
        }
    }

    async fn create_target_group(
        &self,
        spec: &TargetGroupSpec,
        vpc_id: &str,
    ) -> Result<String, CloudError> {
        let check = &spec.health_check;
        let created = self
            .elbv2
            .create_target_group()
            .name(&spec.name)
            .protocol(elb::ProtocolEnum::from(spec.protocol.as_str()))
            .port(spec.port)
            .vpc_id(vpc_id)
            .target_type(elb::TargetTypeEnum::from(spec.target_type.as_str()))
            .health_check_protocol(elb::ProtocolEnum::from(check.protocol.as_str()))
            .health_check_port(&check.port)
            .set_health_check_path(check.path.clone())
            .set_health_check_interval_seconds(check.interval_seconds)
            .set_health_check_timeout_seconds(check.timeout_seconds)
            .set_healthy_threshold_count(check.healthy_threshold)
            .set_unhealthy_threshold_count(check.unhealthy_threshold)
            .set_matcher(matcher(check))
            .send()
            .await
            .map_err(aws_error("CreateTargetGroup"))?;
        created
            .target_groups()
            .first()
            .and_then(|group| group.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| CloudError::Aws {
                operation: "CreateTargetGroup",
                message: "the answer names no target group".into(),
            })
    }

    async fn set_health_check(&self, arn: &str, check: &HealthCheck) -> Result<(), CloudError> {
        self.elbv2
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_protocol(elb::ProtocolEnum::from(check.protocol.as_str()))
            .health_check_port(&check.port)
            .set_health_check_path(check.path.clone())
            .set_health_check_interval_seconds(check.interval_seconds)
            .set_health_check_timeout_seconds(check.timeout_seconds)
            .set_healthy_threshold_count(check.healthy_threshold)
            .set_unhealthy_threshold_count(check.unhealthy_threshold)
            .set_matcher(matcher(check))
            .send()
            .await
            .map_err(aws_error("ModifyTargetGroup"))?;
        Ok(())
    }

    /// Sets the attributes the stage names (the others keep their values).
    async fn set_target_group_attributes(
        &self,
        arn: &str,
        spec: &TargetGroupSpec,
    ) -> Result<(), CloudError> {
        if spec.attributes.is_empty() {
            return Ok(());
        }
        let attributes = spec.attributes.iter().map(|(key, value)| {
            elb::TargetGroupAttribute::builder()
                .key(key)
                .value(value)
                .build()
        });
        self.elbv2
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .set_attributes(Some(attributes.collect()))
            .send()
            .await
            .map_err(aws_error("ModifyTargetGroupAttributes"))?;
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

    /// Deletes target groups by name; gone already is done. Returns the names ELBv2 refused
    /// because a listener still uses them (right after the load balancer's deletion, until
    /// ELBv2 has caught up).
    pub async fn delete_target_groups(&self, names: &[String]) -> Result<Vec<String>, CloudError> {
        let mut kept = Vec::new();
        for name in names {
            let Some(arn) = self.target_group_arn_named(name).await? else {
                continue;
            };
            let deleted = self
                .elbv2
                .delete_target_group()
                .target_group_arn(&arn)
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(error) if error.code() == Some("TargetGroupNotFound") => {}
                Err(error) if error.code() == Some("ResourceInUse") => kept.push(name.clone()),
                Err(error) => return Err(aws_error("DeleteTargetGroup")(error)),
            }
        }
        Ok(kept)
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
