//! Images (AMIs): by id, by tags and by name.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;

use super::{CloudError, RegionClients, aws_error};
use crate::server_group::Image;

impl RegionClients {
    /// One image by id, `None` when it does not exist (or is not visible).
    pub async fn image(&self, image_id: &str) -> Result<Option<Image>, CloudError> {
        if image_id.is_empty() {
            return Ok(None);
        }
        match self.ec2.describe_images().image_ids(image_id).send().await {
            Ok(found) => Ok(found.images().first().map(image)),
            Err(error) if error.code().is_some_and(|c| c.starts_with("InvalidAMIID")) => Ok(None),
            Err(error) => Err(aws_error("DescribeImages")(error)),
        }
    }

    /// Images carrying every tag of `tags` (and, when given, whose name matches the EC2
    /// wildcard `name`), newest first.
    pub async fn images_by_tags(
        &self,
        tags: &BTreeMap<String, String>,
        name: Option<&str>,
    ) -> Result<Vec<Image>, CloudError> {
        let mut request = self.ec2.describe_images();
        for (key, value) in tags {
            request = request.filters(
                ec2::Filter::builder()
                    .name(format!("tag:{key}"))
                    .values(value)
                    .build(),
            );
        }
        if let Some(name) = name {
            request = request.filters(ec2::Filter::builder().name("name").values(name).build());
        }
        let found = request.send().await.map_err(aws_error("DescribeImages"))?;
        let mut images: Vec<Image> = found.images().iter().map(image).collect();
        images.sort_by(|a, b| b.creation_date.cmp(&a.creation_date));
        Ok(images)
    }

    /// Images whose name matches the EC2 wildcard `pattern` (`*` and `?`), newest first.
    pub async fn images_named(&self, pattern: &str) -> Result<Vec<Image>, CloudError> {
        self.images_by_tags(&BTreeMap::new(), Some(pattern)).await
    }
}

pub(crate) fn image(image: &ec2::Image) -> Image {
    Image {
        image_id: image.image_id().unwrap_or_default().to_string(),
        name: image.name().unwrap_or_default().to_string(),
        creation_date: image.creation_date().map(str::to_string),
        tags: image
            .tags()
            .iter()
            .filter_map(|tag| {
                Some((
                    tag.key()?.to_string(),
                    tag.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    }
}
