//! Target groups (ELBv2): their ARNs by name, reads into [`TargetGroupInfo`], and the
//! upserts and deletes the load balancer stages make. An upsert describes first and
//! creates only what is missing; a delete treats "already gone" as done.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types as elb;

use super::{CloudError, RegionClients, aws_error};
use crate::network::{HealthCheck, TargetGroupInfo, TargetGroupSpec};

/// The target group name in an ARN (`…:targetgroup/<name>/<id>`).
pub(super) fn target_group_name(arn: &str) -> String {
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

pub(super) fn target_group_of(group: &elb::TargetGroup) -> TargetGroupInfo {
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

/// The HTTP codes a health check counts as healthy, when the stage names them.
fn matcher(check: &HealthCheck) -> Option<elb::Matcher> {
    check
        .matcher
        .as_ref()
        .map(|code| elb::Matcher::builder().http_code(code).build())
}

impl RegionClients {
    /// ARNs of the named target groups; a missing one is an [`CloudError::Invalid`].
    pub async fn target_group_arns(&self, names: &[String]) -> Result<Vec<String>, CloudError> {
        if names.is_empty() {
            return Ok(vec![]);
        }
        let found = self
            .elbv2
            .describe_target_groups()
            .set_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|error| match error.code() {
                Some("TargetGroupNotFound") => CloudError::Invalid(format!(
                    "target group not found in {}: {}",
                    self.region,
                    names.join(", ")
                )),
                _ => aws_error("DescribeTargetGroups")(error),
            })?;
        Ok(found
            .target_groups()
            .iter()
            .filter_map(|group| group.target_group_arn().map(str::to_string))
            .collect())
    }

    /// The target group's ARN after creating it (when missing) or setting its health check.
    pub(super) async fn upsert_target_group(
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
