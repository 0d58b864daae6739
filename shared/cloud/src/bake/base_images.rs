//! The base images operators offer a bake (the `BakeryBaseImages` parameter, served as
//! Rosco's bake options): which operating system, how it installs packages, and the AMI
//! id or name pattern each label points to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The base images offered when the `BakeryBaseImages` parameter is empty: the newest
/// Canonical Ubuntu 22.04 and Amazon Linux 2023 images, looked up by name and owner.
pub const DEFAULT_BASE_IMAGES: &str = r#"[
  {"id": "ubuntu", "shortDescription": "v22.04", "detailedDescription": "Ubuntu Jammy Jellyfish v22.04",
   "packageType": "deb", "vmTypes": ["hvm"], "owners": ["099720109477"],
   "baseLabels": {"release": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"}},
  {"id": "amazonlinux", "shortDescription": "2023", "detailedDescription": "Amazon Linux 2023",
   "packageType": "rpm", "vmTypes": ["hvm"], "owners": ["137112412989"],
   "baseLabels": {"release": "al2023-ami-2023.*-x86_64"}}
]"#;

/// The instance type of a builder when its base image names none.
pub const DEFAULT_BUILDER_INSTANCE_TYPE: &str = "t3.small";

/// How a base image installs packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    Deb,
    Rpm,
}

/// One base operating system operators offer (Rosco's `BaseImage` plus where to find it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseImage {
    pub id: String,
    #[serde(default)]
    pub short_description: String,
    #[serde(default)]
    pub detailed_description: String,
    pub package_type: PackageType,
    #[serde(default = "default_vm_types")]
    pub vm_types: Vec<String>,
    /// Accounts whose images the name patterns may match (empty: any owner).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Builder instance type (default [`DEFAULT_BUILDER_INSTANCE_TYPE`]).
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Label (`release`, `candidate`, ...) -> an AMI id or an EC2 name pattern (`*`, `?`);
    /// a pattern picks the newest available image matching it.
    pub base_labels: BTreeMap<String, String>,
}

fn default_vm_types() -> Vec<String> {
    vec!["hvm".to_string()]
}

/// Where a base label points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImageSource {
    Id(String),
    NamePattern(String),
}

impl BaseImage {
    pub fn source(&self, label: &str) -> Option<BaseImageSource> {
        let value = self.base_labels.get(label)?.trim();
        Some(if value.starts_with("ami-") {
            BaseImageSource::Id(value.to_string())
        } else {
            BaseImageSource::NamePattern(value.to_string())
        })
    }

    pub fn builder_instance_type(&self) -> &str {
        self.instance_type
            .as_deref()
            .unwrap_or(DEFAULT_BUILDER_INSTANCE_TYPE)
    }

    /// Rosco's view of the base image (`GET /bakery/options/aws/baseImages/{id}`).
    pub fn option_view(&self) -> Value {
        json!({
            "id": self.id,
            "shortDescription": self.short_description,
            "detailedDescription": self.detailed_description,
            "displayName": self.detailed_description,
            "packageType": self.package_type,
            "vmTypes": self.vm_types,
            "baseLabels": self.base_labels.keys().collect::<Vec<_>>(),
        })
    }
}

/// The configured base images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImages(Vec<BaseImage>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BAKERY_BASE_IMAGES (template parameter BakeryBaseImages): {0}")]
pub struct BaseImagesError(String);

impl Default for BaseImages {
    /// [`DEFAULT_BASE_IMAGES`].
    fn default() -> Self {
        Self::parse(None).expect("the default base images parse")
    }
}

impl BaseImages {
    /// Parses the configuration; empty or absent means [`DEFAULT_BASE_IMAGES`].
    pub fn parse(configured: Option<&str>) -> Result<Self, BaseImagesError> {
        let text = configured
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .unwrap_or(DEFAULT_BASE_IMAGES);
        let images: Vec<BaseImage> = serde_json::from_str(text)
            .map_err(|e| BaseImagesError(format!("not a JSON array of base images: {e}")))?;
        for (index, image) in images.iter().enumerate() {
            if image.id.trim().is_empty() {
                return Err(BaseImagesError(format!("entry {index} has no id")));
            }
            if images[..index].iter().any(|other| other.id == image.id) {
                return Err(BaseImagesError(format!("id '{}' appears twice", image.id)));
            }
            if image.base_labels.is_empty() {
                return Err(BaseImagesError(format!("'{}' has no baseLabels", image.id)));
            }
        }
        Ok(Self(images))
    }

    pub fn all(&self) -> &[BaseImage] {
        &self.0
    }

    pub fn get(&self, id: &str) -> Option<&BaseImage> {
        self.0.iter().find(|image| image.id == id)
    }

    /// Rosco's `BakeOptions` of the AWS provider.
    pub fn options(&self) -> Value {
        json!({
            "cloudProvider": "aws",
            "baseImages": self.0.iter().map(BaseImage::option_view).collect::<Vec<_>>(),
        })
    }

    pub(super) fn ids(&self) -> String {
        let ids: Vec<&str> = self.0.iter().map(|image| image.id.as_str()).collect();
        ids.join(", ")
    }
}
