//! EC2 instances and the region's availability zones.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;

use super::{CloudError, RegionClients, aws_error};

/// An EC2 instance as `GET /instances/{account}/{region}/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDetails {
    pub instance_id: String,
    pub state: String,
    pub instance_type: String,
    pub image_id: String,
    pub availability_zone: String,
    pub launch_time: Option<i64>,
    pub private_ip_address: Option<String>,
    pub public_dns_name: Option<String>,
    pub security_groups: Vec<String>,
    /// The Auto Scaling group that launched it.
    pub server_group: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl RegionClients {
    /// EC2's description of one instance, `None` when EC2 does not know it.
    pub(crate) async fn describe_instance(
        &self,
        instance_id: &str,
    ) -> Result<Option<ec2::Instance>, CloudError> {
        let found = match self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(found) => found,
            Err(error)
                if error
                    .code()
                    .is_some_and(|c| c.starts_with("InvalidInstanceID")) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(aws_error("DescribeInstances")(error)),
        };
        Ok(found
            .reservations()
            .iter()
            .flat_map(|reservation| reservation.instances())
            .next()
            .cloned())
    }

    /// One EC2 instance, `None` when it does not exist.
    pub async fn instance(&self, instance_id: &str) -> Result<Option<InstanceDetails>, CloudError> {
        let instance = self.describe_instance(instance_id).await?;
        Ok(instance.map(|instance| {
            let tags: BTreeMap<String, String> = instance
                .tags()
                .iter()
                .filter_map(|tag| {
                    Some((
                        tag.key()?.to_string(),
                        tag.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            InstanceDetails {
                instance_id: instance.instance_id().unwrap_or_default().to_string(),
                state: instance
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                instance_type: instance
                    .instance_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                image_id: instance.image_id().unwrap_or_default().to_string(),
                availability_zone: instance
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .unwrap_or_default()
                    .to_string(),
                launch_time: instance.launch_time().and_then(|t| t.to_millis().ok()),
                private_ip_address: instance.private_ip_address().map(str::to_string),
                public_dns_name: instance
                    .public_dns_name()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
                security_groups: instance
                    .security_groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect(),
                server_group: tags.get("aws:autoscaling:groupName").cloned(),
                tags,
            }
        }))
    }

    /// The availability zones of the region that are available.
    pub async fn available_zones(&self) -> Result<Vec<String>, CloudError> {
        let zones = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(aws_error("DescribeAvailabilityZones"))?;
        Ok(zones
            .availability_zones()
            .iter()
            .filter(|zone| {
                zone.state()
                    .is_none_or(|s| *s == ec2::AvailabilityZoneState::Available)
            })
            .filter_map(|zone| zone.zone_name().map(str::to_string))
            .collect())
    }
}
