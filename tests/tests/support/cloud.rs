//! The emulator's EC2, Auto Scaling and ELBv2 APIs as a test reads them: cloud tests check
//! effects here, never through Gennaker's own records.

use aws_sdk_autoscaling::types::AutoScalingGroup;

use super::TestApp;

/// The emulator's AWS APIs, as a test sees them.
pub struct Cloud {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

impl Cloud {
    pub fn of(app: &TestApp) -> Cloud {
        let sdk = &app.running.sdk;
        Cloud {
            ec2: aws_sdk_ec2::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
        }
    }

    /// Any image the emulator has preloaded.
    pub async fn an_image(&self) -> (String, String) {
        let images = self.ec2.describe_images().send().await.unwrap();
        let image = images
            .images()
            .iter()
            .find(|i| i.name().is_some())
            .expect("moto preloads images");
        (
            image.image_id().unwrap().to_string(),
            image.name().unwrap().to_string(),
        )
    }

    /// A target group in the default VPC; its ARN.
    pub async fn target_group(&self, name: &str) -> String {
        let vpcs = self.ec2.describe_vpcs().send().await.unwrap();
        let vpc = vpcs
            .vpcs()
            .iter()
            .find(|v| v.is_default() == Some(true))
            .expect("a default VPC");
        let created = self
            .elbv2
            .create_target_group()
            .name(name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(vpc.vpc_id().unwrap())
            .send()
            .await
            .unwrap();
        created.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string()
    }

    pub async fn groups(&self) -> Vec<AutoScalingGroup> {
        let found = self
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        let mut groups = found.auto_scaling_groups().to_vec();
        groups.sort_by(|a, b| {
            a.auto_scaling_group_name()
                .cmp(&b.auto_scaling_group_name())
        });
        groups
    }

    pub async fn group_names(&self) -> Vec<String> {
        self.groups()
            .await
            .iter()
            .map(|g| g.auto_scaling_group_name().unwrap().to_string())
            .collect()
    }

    pub async fn group(&self, name: &str) -> Option<AutoScalingGroup> {
        self.groups()
            .await
            .into_iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
    }

    /// The image the latest version of a server group's launch template runs.
    pub async fn launch_image(&self, launch_template: &str) -> Option<String> {
        let found = self
            .ec2
            .describe_launch_template_versions()
            .launch_template_name(launch_template)
            .versions("$Latest")
            .send()
            .await
            .unwrap();
        found
            .launch_template_versions()
            .first()?
            .launch_template_data()?
            .image_id()
            .map(str::to_string)
    }

    pub async fn healthy_targets(&self, target_group_arn: &str) -> usize {
        let health = self
            .elbv2
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .unwrap();
        health
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                d.target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str())
                    == Some("healthy")
            })
            .count()
    }

    pub async fn launch_template_count(&self) -> usize {
        self.ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
            .len()
    }
}
