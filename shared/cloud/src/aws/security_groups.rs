//! Security groups (EC2): reads into [`SecurityGroupInfo`], and the upsert and delete the
//! security group stages make. The upsert describes first and creates only what is
//! missing, so running it again (a redelivered message, a second stage) converges on the
//! same group instead of duplicating it; the delete treats "already gone" as done.

use std::collections::HashMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;

use super::{CloudError, RegionClients, aws_error, filter};
use crate::network::{
    IngressRule, SecurityGroupInfo, SecurityGroupRef, SecurityGroupRequest, Source, ingress_changes,
};

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

impl RegionClients {
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
}
