//! Server groups: Auto Scaling groups launched from launch templates and attached to ELBv2
//! target groups. Reads them (with their instances' health and image) into
//! [`ServerGroup`]s, and creates, resizes, disables, enables and destroys them.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_autoscaling::types as asg;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;
use aws_sdk_elasticloadbalancingv2::types as elb;

use super::{CloudError, RegionClients, aws_error};
use crate::capacity::Capacity;
use crate::server_group::{
    DISABLE_PROCESSES, Health, Image, Instance, LaunchSettings, LaunchTemplateRef, ServerGroup,
    auto_scaling_health, target_group_health,
};

/// Tag on a disabled group naming the target groups its disable detached, so an enable
/// can attach them again.
pub const DETACHED_TARGET_GROUPS_TAG: &str = "gennaker:detached-target-groups";
/// Longest tag value Auto Scaling accepts.
const TAG_VALUE_LIMIT: usize = 256;

/// What a new server group is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGroupSpec {
    pub name: String,
    pub capacity: Capacity,
    pub launch: LaunchSettings,
    /// Availability zones; empty means every available zone of the region.
    pub zones: Vec<String>,
    /// Subnets (`VPCZoneIdentifier`); when given, they place the instances instead of zones.
    pub subnet_ids: Vec<String>,
    pub target_group_names: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl RegionClients {
    /// The server groups of `application` (every Frigga-named group when `None`).
    pub async fn server_groups(
        &self,
        application: Option<&str>,
    ) -> Result<Vec<ServerGroup>, CloudError> {
        let mut groups = Vec::new();
        let mut pages = self
            .autoscaling
            .describe_auto_scaling_groups()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws_error("DescribeAutoScalingGroups"))?;
            groups.extend(page.auto_scaling_groups().iter().cloned());
        }
        let groups: Vec<_> = groups
            .into_iter()
            .filter(|group| {
                let name = group.auto_scaling_group_name().unwrap_or_default();
                crate::naming::ServerGroupName::parse(name)
                    .is_ok_and(|parsed| application.is_none_or(|app| parsed.cluster.app == app))
            })
            .collect();
        self.read_groups(groups).await
    }

    /// One server group by name, `None` when no Auto Scaling group has that name.
    pub async fn server_group(&self, name: &str) -> Result<Option<ServerGroup>, CloudError> {
        let found = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(aws_error("DescribeAutoScalingGroups"))?;
        let groups = found.auto_scaling_groups().to_vec();
        Ok(self.read_groups(groups).await?.into_iter().next())
    }

    async fn read_groups(
        &self,
        groups: Vec<asg::AutoScalingGroup>,
    ) -> Result<Vec<ServerGroup>, CloudError> {
        let mut target_groups = TargetGroupCache::default();
        let mut images: HashMap<String, Option<Image>> = HashMap::new();
        let mut read = Vec::with_capacity(groups.len());
        for group in groups {
            let launch_template = group.launch_template().map(|template| LaunchTemplateRef {
                id: template
                    .launch_template_id()
                    .unwrap_or_default()
                    .to_string(),
                name: template
                    .launch_template_name()
                    .unwrap_or_default()
                    .to_string(),
                version: template.version().unwrap_or("$Default").to_string(),
            });
            let launch = match &launch_template {
                Some(template) => self.launch_settings(template).await?,
                None => None,
            };
            let image = match &launch {
                Some(launch) => match images.get(&launch.image_id) {
                    Some(image) => image.clone(),
                    None => {
                        let image = self.image(&launch.image_id).await?;
                        images.insert(launch.image_id.clone(), image.clone());
                        image
                    }
                },
                None => None,
            };
            let mut names = Vec::new();
            for arn in group.target_group_arns() {
                names.push(target_groups.describe(self, arn).await?.name.clone());
            }
            let mut instances = Vec::new();
            for instance in group.instances() {
                let id = instance.instance_id().unwrap_or_default().to_string();
                let lifecycle = instance
                    .lifecycle_state()
                    .map(|s| s.as_str())
                    .unwrap_or_default();
                let mut health = vec![Health {
                    kind: "Amazon",
                    state: auto_scaling_health(
                        lifecycle,
                        instance.health_status().unwrap_or_default(),
                    ),
                    target_group: None,
                }];
                for arn in group.target_group_arns() {
                    let target_group = target_groups.describe(self, arn).await?;
                    let state = target_group
                        .health
                        .get(&id)
                        .map_or("Unknown", |s| target_group_health(s));
                    health.push(Health {
                        kind: "TargetGroup",
                        state,
                        target_group: Some(target_group.name.clone()),
                    });
                }
                instances.push(Instance {
                    instance_id: id,
                    availability_zone: instance.availability_zone().unwrap_or_default().to_string(),
                    health,
                });
            }
            read.push(ServerGroup {
                name: group
                    .auto_scaling_group_name()
                    .unwrap_or_default()
                    .to_string(),
                account: self.account.clone(),
                region: self.region.clone(),
                created_time: group
                    .created_time()
                    .map_or(0, |t| t.to_millis().unwrap_or(0)),
                capacity: Capacity {
                    min: group.min_size().unwrap_or(0),
                    max: group.max_size().unwrap_or(0),
                    desired: group.desired_capacity().unwrap_or(0),
                },
                suspended_processes: group
                    .suspended_processes()
                    .iter()
                    .filter_map(|p| p.process_name().map(str::to_string))
                    .collect(),
                zones: group.availability_zones().to_vec(),
                target_groups: names,
                launch_template,
                launch,
                image,
                instances,
                tags: group
                    .tags()
                    .iter()
                    .filter_map(|tag| {
                        Some((
                            tag.key()?.to_string(),
                            tag.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect(),
            });
        }
        Ok(read)
    }

    async fn launch_settings(
        &self,
        template: &LaunchTemplateRef,
    ) -> Result<Option<LaunchSettings>, CloudError> {
        let mut request = self
            .ec2
            .describe_launch_template_versions()
            .versions(&template.version);
        request = if template.id.is_empty() {
            request.launch_template_name(&template.name)
        } else {
            request.launch_template_id(&template.id)
        };
        let versions = match request.send().await {
            Ok(versions) => versions,
            // A template deleted under a group (destroy in progress) leaves it without settings.
            Err(error)
                if error
                    .code()
                    .is_some_and(|c| c.starts_with("InvalidLaunchTemplate")) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(aws_error("DescribeLaunchTemplateVersions")(error)),
        };
        Ok(versions
            .launch_template_versions()
            .first()
            .and_then(|version| version.launch_template_data())
            .map(|data| LaunchSettings {
                image_id: data.image_id().unwrap_or_default().to_string(),
                instance_type: data
                    .instance_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                key_name: data.key_name().map(str::to_string),
                security_groups: data.security_group_ids().to_vec(),
                user_data: data.user_data().map(str::to_string),
                iam_instance_profile: data
                    .iam_instance_profile()
                    .and_then(|profile| profile.name().or(profile.arn()))
                    .map(str::to_string),
            }))
    }

    /// Creates the launch template and Auto Scaling group of `spec`. Running it again
    /// after a partial or complete success finishes the same group: both resources are
    /// named after the server group, and an existing one is reused.
    pub async fn create_server_group(&self, spec: &ServerGroupSpec) -> Result<(), CloudError> {
        let target_group_arns = self.target_group_arns(&spec.target_group_names).await?;
        self.create_launch_template(spec).await?;
        let zones = if spec.zones.is_empty() && spec.subnet_ids.is_empty() {
            self.available_zones().await?
        } else {
            spec.zones.clone()
        };
        let tags = spec.tags.iter().map(|(key, value)| {
            asg::Tag::builder()
                .key(key)
                .value(value)
                .propagate_at_launch(true)
                .resource_id(&spec.name)
                .resource_type("auto-scaling-group")
                .build()
        });
        let created = self
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&spec.name)
            .launch_template(
                asg::LaunchTemplateSpecification::builder()
                    .launch_template_name(&spec.name)
                    .version("$Latest")
                    .build(),
            )
            .min_size(spec.capacity.min)
            .max_size(spec.capacity.max)
            .desired_capacity(spec.capacity.desired)
            .set_availability_zones((!zones.is_empty()).then_some(zones))
            .set_vpc_zone_identifier(
                (!spec.subnet_ids.is_empty()).then(|| spec.subnet_ids.join(",")),
            )
            .set_target_group_arns((!target_group_arns.is_empty()).then_some(target_group_arns))
            .set_tags(Some(tags.collect()))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("AlreadyExists") => Ok(()),
            Err(error) => Err(aws_error("CreateAutoScalingGroup")(error)),
        }
    }

    async fn create_launch_template(&self, spec: &ServerGroupSpec) -> Result<(), CloudError> {
        let launch = &spec.launch;
        let data = ec2::RequestLaunchTemplateData::builder()
            .image_id(&launch.image_id)
            .instance_type(ec2::InstanceType::from(launch.instance_type.as_str()))
            .set_key_name(launch.key_name.clone())
            .set_security_group_ids(
                (!launch.security_groups.is_empty()).then(|| launch.security_groups.clone()),
            )
            .set_user_data(launch.user_data.clone())
            .set_iam_instance_profile(launch.iam_instance_profile.as_ref().map(|profile| {
                let builder = ec2::LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
                let builder = if profile.starts_with("arn:") {
                    builder.arn(profile)
                } else {
                    builder.name(profile)
                };
                builder.build()
            }))
            .build();
        let created = self
            .ec2
            .create_launch_template()
            .launch_template_name(&spec.name)
            .client_token(&spec.name)
            .launch_template_data(data)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.code().is_some_and(|c| c.contains("AlreadyExists")) => Ok(()),
            Err(error) => Err(aws_error("CreateLaunchTemplate")(error)),
        }
    }

    /// Sets the group's capacity.
    pub async fn resize(&self, name: &str, capacity: Capacity) -> Result<(), CloudError> {
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(capacity.min)
            .max_size(capacity.max)
            .desired_capacity(capacity.desired)
            .send()
            .await
            .map_err(aws_error("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    /// Disables a group: records its target groups on a tag, detaches them, and suspends
    /// Launch and AddToLoadBalancer. Repeating it keeps the recorded target groups.
    pub async fn disable(&self, group: &ServerGroup) -> Result<(), CloudError> {
        let mut detached = recorded_target_groups(group);
        for name in &group.target_groups {
            if !detached.contains(name) {
                detached.push(name.clone());
            }
        }
        let recorded = detached.join(",");
        if recorded.len() > TAG_VALUE_LIMIT {
            return Err(CloudError::Invalid(format!(
                "server group {} has too many target groups to record for a later enable",
                group.name
            )));
        }
        if !detached.is_empty() {
            self.tag(&group.name, DETACHED_TARGET_GROUPS_TAG, &recorded)
                .await?;
        }
        if !group.target_groups.is_empty() {
            let arns = self.target_group_arns(&group.target_groups).await?;
            let detach = || {
                self.autoscaling
                    .detach_load_balancer_target_groups()
                    .auto_scaling_group_name(&group.name)
                    .set_target_group_arns(Some(arns.clone()))
                    .send()
            };
            match detach().await {
                Ok(_) => {}
                // The emulator refuses to detach a group some of whose instances a rolling
                // red/black already deregistered (AWS detaches it): register them again
                // and detach once more.
                Err(error) if error.code() == Some("InvalidTarget") => {
                    self.register_instances(group).await?;
                    detach()
                        .await
                        .map_err(aws_error("DetachLoadBalancerTargetGroups"))?;
                }
                Err(error) => return Err(aws_error("DetachLoadBalancerTargetGroups")(error)),
            }
        }
        self.autoscaling
            .suspend_processes()
            .auto_scaling_group_name(&group.name)
            .set_scaling_processes(Some(DISABLE_PROCESSES.map(str::to_string).to_vec()))
            .send()
            .await
            .map_err(aws_error("SuspendProcesses"))?;
        Ok(())
    }

    /// Enables a group: attaches the target groups its disable recorded, resumes Launch
    /// and AddToLoadBalancer, then forgets the record.
    pub async fn enable(&self, group: &ServerGroup) -> Result<(), CloudError> {
        let recorded = recorded_target_groups(group);
        if !recorded.is_empty() {
            let arns = self.target_group_arns(&recorded).await?;
            self.autoscaling
                .attach_load_balancer_target_groups()
                .auto_scaling_group_name(&group.name)
                .set_target_group_arns(Some(arns))
                .send()
                .await
                .map_err(aws_error("AttachLoadBalancerTargetGroups"))?;
        }
        self.autoscaling
            .resume_processes()
            .auto_scaling_group_name(&group.name)
            .set_scaling_processes(Some(DISABLE_PROCESSES.map(str::to_string).to_vec()))
            .send()
            .await
            .map_err(aws_error("ResumeProcesses"))?;
        if group.tags.contains_key(DETACHED_TARGET_GROUPS_TAG) {
            self.autoscaling
                .delete_tags()
                .tags(asg_tag(&group.name, DETACHED_TARGET_GROUPS_TAG, None))
                .send()
                .await
                .map_err(aws_error("DeleteTags"))?;
        }
        Ok(())
    }

    /// Takes `instance_ids` of `group` out of its target groups (a rolling red/black's
    /// partial disable); the group stays attached, so later launches still register.
    pub async fn deregister_instances(
        &self,
        group: &ServerGroup,
        instance_ids: &[String],
    ) -> Result<(), CloudError> {
        self.set_registration(group, instance_ids, false).await
    }

    /// Puts every instance of `group` back into its target groups (undoes
    /// `deregister_instances`; registering a registered target is a no-op).
    pub async fn register_instances(&self, group: &ServerGroup) -> Result<(), CloudError> {
        let ids: Vec<String> = group
            .instances
            .iter()
            .map(|instance| instance.instance_id.clone())
            .collect();
        self.set_registration(group, &ids, true).await
    }

    async fn set_registration(
        &self,
        group: &ServerGroup,
        instance_ids: &[String],
        registered: bool,
    ) -> Result<(), CloudError> {
        if instance_ids.is_empty() || group.target_groups.is_empty() {
            return Ok(());
        }
        let targets: Vec<elb::TargetDescription> = instance_ids
            .iter()
            .map(|id| elb::TargetDescription::builder().id(id).build())
            .collect();
        for arn in self.target_group_arns(&group.target_groups).await? {
            if registered {
                self.elbv2
                    .register_targets()
                    .target_group_arn(&arn)
                    .set_targets(Some(targets.clone()))
                    .send()
                    .await
                    .map_err(aws_error("RegisterTargets"))?;
            } else {
                self.elbv2
                    .deregister_targets()
                    .target_group_arn(&arn)
                    .set_targets(Some(targets.clone()))
                    .send()
                    .await
                    .map_err(aws_error("DeregisterTargets"))?;
            }
        }
        Ok(())
    }

    async fn tag(&self, group: &str, key: &str, value: &str) -> Result<(), CloudError> {
        self.autoscaling
            .create_or_update_tags()
            .tags(asg_tag(group, key, Some(value)))
            .send()
            .await
            .map_err(aws_error("CreateOrUpdateTags"))?;
        Ok(())
    }

    /// Deletes the group (terminating its instances) and its launch template. A group or
    /// template already gone is not an error.
    pub async fn destroy(&self, name: &str) -> Result<(), CloudError> {
        let deleted = self
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await;
        if let Err(error) = deleted {
            let message = error.message().unwrap_or_default().to_string();
            let gone = error.code() == Some("ValidationError") && message.contains("not found");
            if !gone && error.code() != Some("ResourceInUse") {
                return Err(aws_error("DeleteAutoScalingGroup")(error));
            }
        }
        let template = self
            .ec2
            .delete_launch_template()
            .launch_template_name(name)
            .send()
            .await;
        match template {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .code()
                    .is_some_and(|c| c.starts_with("InvalidLaunchTemplate")) =>
            {
                Ok(())
            }
            Err(error) => Err(aws_error("DeleteLaunchTemplate")(error)),
        }
    }
}

fn asg_tag(group: &str, key: &str, value: Option<&str>) -> asg::Tag {
    asg::Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .set_value(value.map(str::to_string))
        .propagate_at_launch(false)
        .build()
}

/// Target group names a disable recorded on the group.
pub fn recorded_target_groups(group: &ServerGroup) -> Vec<String> {
    group
        .tags
        .get(DETACHED_TARGET_GROUPS_TAG)
        .map(|names| {
            names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A target group's name and the health of its targets by instance id, read once per
/// listing.
struct TargetGroupRead {
    name: String,
    health: HashMap<String, String>,
}

#[derive(Default)]
struct TargetGroupCache {
    read: HashMap<String, TargetGroupRead>,
}

impl TargetGroupCache {
    async fn describe(
        &mut self,
        clients: &RegionClients,
        arn: &str,
    ) -> Result<&TargetGroupRead, CloudError> {
        if !self.read.contains_key(arn) {
            let health = clients
                .elbv2
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(aws_error("DescribeTargetHealth"))?;
            let health = health
                .target_health_descriptions()
                .iter()
                .filter_map(|description| {
                    let id = description.target()?.id()?.to_string();
                    let state = description.target_health()?.state()?.as_str().to_string();
                    Some((id, state))
                })
                .collect();
            // The name is the ARN's `targetgroup/<name>/<id>` part.
            let name = arn.split('/').rev().nth(1).unwrap_or(arn).to_string();
            self.read
                .insert(arn.to_string(), TargetGroupRead { name, health });
        }
        Ok(&self.read[arn])
    }
}
