//! EC2 calls of a bake: find base and earlier baked images, launch and watch the builder
//! instance, create the image from it and terminate it. Every mutating call is safe to
//! repeat: the launch carries a client token (and the builder a tag with it), and an image
//! create that finds its name taken by an image of the same builder takes that image.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;
use base64::Engine;

use super::{CloudError, RegionClients, aws_error, filter, image};
use crate::bake::{BUILDER_INSTANCE_TAG, BUILDER_TOKEN_TAG, SIGNAL_NOTE_TAG, SIGNAL_TAG};
use crate::server_group::Image;

/// An image with its state (`pending`, `available`, `failed`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakedImage {
    pub image: Image,
    pub state: String,
}

/// A builder instance as the bake watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub instance_id: String,
    /// `pending`, `running`, `shutting-down`, `terminated`, ...
    pub state: String,
    /// The value of the signal tag, once the user data has set it.
    pub signal: Option<String>,
    /// The note beside the signal ([`SIGNAL_NOTE_TAG`]).
    pub note: Option<String>,
    pub launch_time: Option<i64>,
}

impl Builder {
    pub fn is_gone(&self) -> bool {
        matches!(self.state.as_str(), "shutting-down" | "terminated")
    }
}

/// What a builder is launched with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderSpec {
    pub image_id: String,
    pub instance_type: String,
    /// Plain text; encoded for EC2 here.
    pub user_data: String,
    pub instance_profile: Option<String>,
    /// The idempotency token of the launch (also tagged [`BUILDER_TOKEN_TAG`]).
    pub client_token: String,
    pub tags: BTreeMap<String, String>,
}

fn tag_specification(
    kind: ec2::ResourceType,
    tags: &BTreeMap<String, String>,
) -> ec2::TagSpecification {
    ec2::TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(key, value)| ec2::Tag::builder().key(key).value(value).build())
                .collect(),
        ))
        .build()
}

fn builder_of(instance: &ec2::Instance) -> Builder {
    Builder {
        instance_id: instance.instance_id().unwrap_or_default().to_string(),
        state: instance
            .state()
            .and_then(|state| state.name())
            .map(|name| name.as_str().to_string())
            .unwrap_or_default(),
        signal: tag_value(instance, SIGNAL_TAG),
        note: tag_value(instance, SIGNAL_NOTE_TAG),
        launch_time: instance.launch_time().and_then(|t| t.to_millis().ok()),
    }
}

fn tag_value(instance: &ec2::Instance, key: &str) -> Option<String> {
    instance
        .tags()
        .iter()
        .find(|tag| tag.key() == Some(key))
        .and_then(|tag| tag.value())
        .map(str::to_string)
}

fn baked_image(found: &ec2::Image) -> BakedImage {
    BakedImage {
        image: image(found),
        state: found
            .state()
            .map(|state| state.as_str().to_string())
            .unwrap_or_default(),
    }
}

impl RegionClients {
    /// The newest available image whose name matches the EC2 wildcard `pattern`, owned by
    /// one of `owners` (anyone's when empty).
    pub async fn newest_image_matching(
        &self,
        pattern: &str,
        owners: &[String],
    ) -> Result<Option<Image>, CloudError> {
        let found = self
            .ec2
            .describe_images()
            .set_owners((!owners.is_empty()).then(|| owners.to_vec()))
            .filters(filter("name", pattern))
            .filters(filter("state", "available"))
            .send()
            .await
            .map_err(aws_error("DescribeImages"))?;
        let mut images: Vec<Image> = found.images().iter().map(image).collect();
        images.sort_by(|a, b| b.creation_date.cmp(&a.creation_date));
        Ok(images.into_iter().next())
    }

    /// Images carrying tag `key` = `value`, with their state, newest first.
    pub async fn images_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<BakedImage>, CloudError> {
        let found = self
            .ec2
            .describe_images()
            .owners("self")
            .filters(filter(&format!("tag:{key}"), value))
            .send()
            .await
            .map_err(aws_error("DescribeImages"))?;
        let mut images: Vec<BakedImage> = found.images().iter().map(baked_image).collect();
        images.sort_by(|a, b| b.image.creation_date.cmp(&a.image.creation_date));
        Ok(images)
    }

    /// Images of this account with exactly this name.
    pub async fn images_with_name(&self, name: &str) -> Result<Vec<BakedImage>, CloudError> {
        let found = self
            .ec2
            .describe_images()
            .owners("self")
            .filters(filter("name", name))
            .send()
            .await
            .map_err(aws_error("DescribeImages"))?;
        Ok(found
            .images()
            .iter()
            .map(baked_image)
            .filter(|baked| baked.image.name == name)
            .collect())
    }

    /// One image with its state, `None` when it does not exist.
    pub async fn baked_image(&self, image_id: &str) -> Result<Option<BakedImage>, CloudError> {
        match self.ec2.describe_images().image_ids(image_id).send().await {
            Ok(found) => Ok(found.images().first().map(baked_image)),
            Err(error) if error.code().is_some_and(|c| c.starts_with("InvalidAMIID")) => Ok(None),
            Err(error) => Err(aws_error("DescribeImages")(error)),
        }
    }

    /// The builder launched with `token` that has not been terminated, if any.
    pub async fn builder_with_token(&self, token: &str) -> Result<Option<Builder>, CloudError> {
        let found = self
            .ec2
            .describe_instances()
            .filters(filter(&format!("tag:{BUILDER_TOKEN_TAG}"), token))
            .send()
            .await
            .map_err(aws_error("DescribeInstances"))?;
        Ok(found
            .reservations()
            .iter()
            .flat_map(|reservation| reservation.instances())
            .map(builder_of)
            .find(|builder| !builder.is_gone()))
    }

    /// One builder, `None` when EC2 no longer knows the instance.
    pub async fn builder(&self, instance_id: &str) -> Result<Option<Builder>, CloudError> {
        Ok(self
            .describe_instance(instance_id)
            .await?
            .as_ref()
            .map(builder_of))
    }

    /// Launches one builder; its instance id.
    pub async fn launch_builder(&self, spec: &BuilderSpec) -> Result<String, CloudError> {
        let user_data = base64::engine::general_purpose::STANDARD.encode(&spec.user_data);
        let mut tags = spec.tags.clone();
        tags.insert(BUILDER_TOKEN_TAG.to_string(), spec.client_token.clone());
        let launched = self
            .ec2
            .run_instances()
            .image_id(&spec.image_id)
            .instance_type(ec2::InstanceType::from(spec.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .client_token(&spec.client_token)
            .user_data(user_data)
            // A builder that stops itself is gone, not waiting to be started again.
            .instance_initiated_shutdown_behavior(ec2::ShutdownBehavior::Terminate)
            .set_iam_instance_profile(spec.instance_profile.as_ref().map(|profile| {
                let builder = ec2::IamInstanceProfileSpecification::builder();
                if profile.starts_with("arn:") {
                    builder.arn(profile).build()
                } else {
                    builder.name(profile).build()
                }
            }))
            .tag_specifications(tag_specification(ec2::ResourceType::Instance, &tags))
            .send()
            .await
            .map_err(aws_error("RunInstances"))?;
        launched
            .instances()
            .first()
            .and_then(|instance| instance.instance_id())
            .map(str::to_string)
            .ok_or_else(|| CloudError::Invalid("RunInstances returned no instance".into()))
    }

    /// Creates the image `name` from the builder (rebooting it, so the disk is consistent)
    /// and returns its id. An image already made from this builder (by an earlier try of
    /// the same create) is the answer instead; a name taken by another image is an error.
    pub async fn create_image_from_builder(
        &self,
        builder_id: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, CloudError> {
        // Looked up by tag first: not every EC2 (the emulator) refuses a second image of
        // the same name.
        if let Some(earlier) = self
            .images_tagged(BUILDER_INSTANCE_TAG, builder_id)
            .await?
            .first()
        {
            return Ok(earlier.image.image_id.clone());
        }
        let created = self
            .ec2
            .create_image()
            .instance_id(builder_id)
            .name(name)
            .description(format!("Baked by Gennaker from builder {builder_id}"))
            .tag_specifications(tag_specification(ec2::ResourceType::Image, tags))
            .send()
            .await;
        match created {
            Ok(created) => created
                .image_id()
                .map(str::to_string)
                .ok_or_else(|| CloudError::Invalid("CreateImage returned no image id".into())),
            Err(error) if error.code() == Some("InvalidAMIName.Duplicate") => {
                self.image_of_builder_named(builder_id, name).await
            }
            Err(error) => Err(aws_error("CreateImage")(error)),
        }
    }

    async fn image_of_builder_named(
        &self,
        builder_id: &str,
        name: &str,
    ) -> Result<String, CloudError> {
        let namesakes = self.images_with_name(name).await?;
        image_of_builder(&namesakes, builder_id, name, &self.region)
    }

    /// Terminates instances; ones already gone are fine.
    pub async fn terminate(&self, instance_ids: &[String]) -> Result<(), CloudError> {
        if instance_ids.is_empty() {
            return Ok(());
        }
        let terminated = self
            .ec2
            .terminate_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await;
        match terminated {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("InvalidInstanceID.NotFound") => Ok(()),
            Err(error) => Err(aws_error("TerminateInstances")(error)),
        }
    }
}

/// After EC2 refused a duplicate image name: the namesake this builder made (an earlier
/// try of the same create), or an error naming the other image that holds the name.
fn image_of_builder(
    namesakes: &[BakedImage],
    builder_id: &str,
    name: &str,
    region: &str,
) -> Result<String, CloudError> {
    namesakes
        .iter()
        .find(|baked| {
            baked
                .image
                .tags
                .get(BUILDER_INSTANCE_TAG)
                .map(String::as_str)
                == Some(builder_id)
        })
        .map(|baked| baked.image.image_id.clone())
        .ok_or_else(|| {
            let other = namesakes
                .first()
                .map(|baked| baked.image.image_id.as_str())
                .unwrap_or("another image");
            CloudError::Invalid(format!(
                "an image named '{name}' already exists in {region} ({other})"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baked(image_id: &str, builder: &str) -> BakedImage {
        BakedImage {
            image: Image {
                image_id: image_id.into(),
                name: "shop-hvm-1-ubuntu".into(),
                creation_date: None,
                tags: [(BUILDER_INSTANCE_TAG.to_string(), builder.to_string())].into(),
            },
            state: "available".into(),
        }
    }

    /// Real EC2 refuses a second image of one name (the emulator does not, so this path
    /// only runs against AWS): the retried create finds its own image, and another
    /// builder's image is an error naming it.
    #[test]
    fn a_duplicate_name_is_this_builders_image_or_an_error() {
        let namesakes = [baked("ami-other", "i-2"), baked("ami-mine", "i-1")];
        let found = image_of_builder(&namesakes, "i-1", "shop-hvm-1-ubuntu", "us-east-1");
        assert_eq!(found.unwrap(), "ami-mine");
        let error = image_of_builder(&namesakes[..1], "i-1", "shop-hvm-1-ubuntu", "us-east-1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("already exists in us-east-1 (ami-other)"),
            "{error}"
        );
    }
}
