//! Baking (Spinnaker's Rosco and Orca's `BakeStage`), the pure part: the base images operators
//! offer (`BakeryBaseImages`, served as Rosco's bake options), a bake stage's context read
//! into a checked request, the key that decides whether an earlier image can be reused,
//! the new image's name and tags, the builder's user data, and the per-region progress a
//! bake stage carries from poll to poll.
//!
//! # How a bake runs
//! For each region the bake stage either reuses an available image tagged with the same
//! bake key, or launches one builder instance from the base image whose user data installs
//! the packages and then **signals** by tagging its own instance
//! [`SIGNAL_TAG`] = `succeeded` or `failed` (EC2 runs the user data; the worker only reads
//! the tag). After `succeeded` the worker creates the image from the builder, waits until
//! it is available and terminates the builder. The builder needs an instance profile that
//! allows `ec2:CreateTags` on itself, and the AWS CLI on its base image.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::requests::{RequestError, invalid, text};
use crate::server_group::Image;

mod base_images;

pub use base_images::{
    BaseImage, BaseImageSource, BaseImages, BaseImagesError, DEFAULT_BASE_IMAGES,
    DEFAULT_BUILDER_INSTANCE_TYPE, PackageType,
};

/// The tag a builder's user data sets on its own instance when the install has ended.
pub const SIGNAL_TAG: &str = "gennaker:bake-status";
/// The signal of an install that worked.
pub const SIGNAL_SUCCEEDED: &str = "succeeded";
/// The signal of an install that failed.
pub const SIGNAL_FAILED: &str = "failed";
/// A note the signaller may add beside its signal; the bake records it in the stage
/// context (local mode says here that it simulated the install).
pub const SIGNAL_NOTE_TAG: &str = "gennaker:bake-note";
/// Tag naming what a builder instance is (Name shows in the EC2 console too).
pub const BUILDER_ROLE_TAG: &str = "gennaker:role";
pub const BUILDER_ROLE: &str = "bake-builder";
/// Tag carrying the builder's launch token, so a retried launch finds the builder it
/// already started.
pub const BUILDER_TOKEN_TAG: &str = "gennaker:bake-token";
/// Image tag: the bake key; an available image with the same key is reused.
pub const BAKE_KEY_TAG: &str = "gennaker:bake-key";
/// Image tag: the builder the image was made from (tells our image from a namesake).
pub const BUILDER_INSTANCE_TAG: &str = "gennaker:builder-instance";

/// Bumped whenever the builder's recipe (the user data) changes, so images baked by an
/// older recipe are not reused.
const RECIPE_VERSION: &str = "1";

/// Package names (deb `name=version`, rpm `name-version`) a shell command may carry as is.
static PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+_:~=-]*$").unwrap());

/// A bake stage's context, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeRequest {
    pub account: String,
    pub regions: Vec<String>,
    pub packages: Vec<String>,
    pub base_os: BaseImage,
    pub base_label: String,
    pub vm_type: String,
    pub store_type: String,
    /// `baseAmi`: bake on this image instead of the label's.
    pub base_ami: Option<String>,
    /// `amiName`: the exact name of the new image.
    pub ami_name: Option<String>,
    pub ami_suffix: String,
    /// `rebake` (the trigger's `rebake` is added by the worker).
    pub rebake: bool,
    pub user: Option<String>,
    pub extended_attributes: BTreeMap<String, String>,
}

/// `true`, or the text "true" (a parameter expression evaluates to text).
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Reads a bake stage's context. `default_account` is used when the stage names none (Deck's
/// AWS bake stage usually does not); `started_at` (epoch millis of the stage start) gives the
/// default `amiSuffix`, the same on every poll.
pub fn bake_request(
    context: &Map<String, Value>,
    base_images: &BaseImages,
    default_account: Option<&str>,
    started_at: i64,
) -> Result<BakeRequest, RequestError> {
    let cloud = text(context, "cloudProviderType").unwrap_or("aws");
    if cloud != "aws" {
        return Err(invalid(
            "cloudProviderType",
            format!("only aws bakes are supported, not '{cloud}'"),
        ));
    }
    let packages = packages(context)?;
    let base_os_id = text(context, "baseOs").ok_or_else(|| {
        invalid(
            "baseOs",
            format!("name the base OS ({})", base_images.ids()),
        )
    })?;
    let base_os = base_images.get(base_os_id).ok_or_else(|| {
        invalid(
            "baseOs",
            format!(
                "unknown base OS '{base_os_id}' (known: {})",
                base_images.ids()
            ),
        )
    })?;
    let base_label = text(context, "baseLabel").unwrap_or("release").to_string();
    let base_ami = text(context, "baseAmi").map(str::to_string);
    if base_ami.is_none() && !base_os.base_labels.contains_key(&base_label) {
        let labels: Vec<&str> = base_os.base_labels.keys().map(String::as_str).collect();
        return Err(invalid(
            "baseLabel",
            format!(
                "base OS '{base_os_id}' has no image labelled '{base_label}' (labels: {})",
                labels.join(", ")
            ),
        ));
    }
    let vm_type = text(context, "vmType").unwrap_or("hvm").to_string();
    if !base_os.vm_types.contains(&vm_type) {
        return Err(invalid(
            "vmType",
            format!(
                "base OS '{base_os_id}' offers vmTypes {}, not '{vm_type}'",
                base_os.vm_types.join(", ")
            ),
        ));
    }
    let store_type = text(context, "storeType").unwrap_or("ebs").to_string();
    if store_type != "ebs" {
        return Err(invalid(
            "storeType",
            format!("only ebs-backed images are baked, not '{store_type}'"),
        ));
    }
    let ami_name = text(context, "amiName").map(str::to_string);
    if let Some(name) = &ami_name {
        check_image_name(name).map_err(|message| invalid("amiName", message))?;
    }
    Ok(BakeRequest {
        account: account(context, default_account)?,
        regions: regions(context)?,
        packages,
        base_os: base_os.clone(),
        base_label,
        vm_type,
        store_type,
        base_ami,
        ami_name,
        ami_suffix: ami_suffix(context, started_at)?,
        rebake: truthy(context.get("rebake")),
        user: text(context, "user").map(str::to_string),
        extended_attributes: extended_attributes(context)?,
    })
}

/// `package`: package names separated by spaces (or commas), each safe in a shell command.
fn packages(context: &Map<String, Value>) -> Result<Vec<String>, RequestError> {
    let packages: Vec<String> = text(context, "package")
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    if packages.is_empty() {
        return Err(invalid("package", "name the package(s) to bake"));
    }
    if let Some(bad) = packages.iter().find(|name| !PACKAGE.is_match(name)) {
        return Err(invalid(
            "package",
            format!("'{bad}' is not a package name (letters, digits and . + _ : ~ = -)"),
        ));
    }
    Ok(packages)
}

/// The account a bake runs in: `credentials` or `account`, else `default_account`.
pub fn account(
    context: &Map<String, Value>,
    default_account: Option<&str>,
) -> Result<String, RequestError> {
    match (text(context, "credentials"), text(context, "account")) {
        (Some(a), Some(b)) if a != b => Err(invalid(
            "account",
            format!("credentials '{a}' and account '{b}' differ"),
        )),
        (Some(name), _) | (None, Some(name)) => Ok(name.to_string()),
        (None, None) => default_account
            .map(str::to_string)
            .ok_or_else(|| invalid("account", "name the account (none is configured)")),
    }
}

/// `region` and `regions`, in order, without repeats.
fn regions(context: &Map<String, Value>) -> Result<Vec<String>, RequestError> {
    let mut regions: Vec<String> = Vec::new();
    let listed = context
        .get("regions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for region in text(context, "region").into_iter().chain(listed) {
        let region = region.trim();
        if !region.is_empty() && !regions.iter().any(|known| known == region) {
            regions.push(region.to_string());
        }
    }
    if regions.is_empty() {
        return Err(invalid("regions", "name the region(s) to bake in"));
    }
    Ok(regions)
}

/// `amiSuffix`, or `yyyyMMddHHmmss` (UTC) of the stage start.
fn ami_suffix(context: &Map<String, Value>, started_at: i64) -> Result<String, RequestError> {
    if let Some(suffix) = text(context, "amiSuffix") {
        return Ok(suffix.to_string());
    }
    chrono::DateTime::from_timestamp_millis(started_at)
        .map(|time| time.format("%Y%m%d%H%M%S").to_string())
        .ok_or_else(|| invalid("amiSuffix", "the stage has no valid start time"))
}

fn extended_attributes(
    context: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, RequestError> {
    match context.get("extendedAttributes") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(attributes)) => Ok(attributes
            .iter()
            .map(|(key, value)| {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                (key.clone(), value)
            })
            .collect()),
        Some(_) => Err(invalid(
            "extendedAttributes",
            "must be an object of attribute values",
        )),
    }
}

/// EC2's rule for image names: 3-128 characters of letters, digits and `( ) [ ] . / - ' @ _`
/// and spaces.
fn check_image_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "()[]./-'@_ ".contains(c);
    if !(3..=128).contains(&name.len()) {
        return Err(format!("'{name}' must be 3 to 128 characters long"));
    }
    match name.chars().find(|c| !allowed(*c)) {
        Some(bad) => Err(format!("'{name}' may not contain '{bad}'")),
        None => Ok(()),
    }
}

impl BakeRequest {
    /// The packages as the stage names them (`bakePackageName`, the image's package tag).
    pub fn package_list(&self) -> String {
        self.packages.join(" ")
    }

    /// The key of everything that makes a baked image what it is. An available image with
    /// the same key in the region is reused unless the stage rebakes.
    pub fn bake_key(&self, base_ami_id: &str) -> String {
        let recipe = json!({
            "recipe": RECIPE_VERSION,
            "packages": self.packages,
            "baseOs": self.base_os.id,
            "baseLabel": self.base_label,
            "baseAmi": base_ami_id,
            "vmType": self.vm_type,
            "storeType": self.store_type,
            "extendedAttributes": self.extended_attributes,
        });
        let digest = Sha256::digest(recipe.to_string().as_bytes());
        hex::encode(&digest[..16])
    }

    /// `amiName`, or `<package>-<vmType>-<amiSuffix>-<baseOs>` (Rosco's shape) with the
    /// first package's name made fit for an image name.
    pub fn image_name(&self) -> String {
        if let Some(name) = &self.ami_name {
            return name.clone();
        }
        let package: String = self.packages[0]
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let name = format!(
            "{package}-{}-{}-{}",
            self.vm_type, self.ami_suffix, self.base_os.id
        );
        name.chars().take(128).collect()
    }

    /// The new image's tags: what it was baked from and its bake key (plus `appversion`
    /// when the first package is named like one, `<name>-<version>-<build>`, so find-image
    /// and Deck read build info from it).
    pub fn image_tags(
        &self,
        base_ami_id: &str,
        builder_id: &str,
        bake_key: &str,
    ) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::from([
            ("Name".to_string(), self.image_name()),
            (BAKE_KEY_TAG.to_string(), bake_key.to_string()),
            (BUILDER_INSTANCE_TAG.to_string(), builder_id.to_string()),
            ("gennaker:package".to_string(), self.package_list()),
            ("gennaker:base-ami".to_string(), base_ami_id.to_string()),
            ("gennaker:base-os".to_string(), self.base_os.id.clone()),
            ("gennaker:base-label".to_string(), self.base_label.clone()),
            ("base_ami_id".to_string(), base_ami_id.to_string()),
        ]);
        if let Some(user) = &self.user {
            tags.insert("creator".to_string(), user.clone());
        }
        let first = &self.packages[0];
        let candidate = Image {
            tags: BTreeMap::from([("appversion".to_string(), first.clone())]),
            ..Image::default()
        };
        if crate::views::build_info(Some(&candidate)) != json!({}) {
            tags.insert("appversion".to_string(), first.clone());
        }
        tags
    }

    /// The builder's tags: its role, the launch token, and the packages it installs.
    pub fn builder_tags(&self, token: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("Name".to_string(), format!("bake {}", self.image_name())),
            (BUILDER_ROLE_TAG.to_string(), BUILDER_ROLE.to_string()),
            (BUILDER_TOKEN_TAG.to_string(), token.to_string()),
            ("gennaker:package".to_string(), self.package_list()),
        ])
    }

    /// The builder's user data: install the packages, then tag the instance itself with
    /// the outcome ([`SIGNAL_TAG`]). Instance metadata (IMDSv2) names the instance and
    /// region; the AWS CLI on the base image makes the call with the instance profile's
    /// credentials.
    pub fn builder_user_data(&self) -> String {
        let packages = self.packages.join(" ");
        let install = match self.base_os.package_type {
            PackageType::Deb => format!(
                "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y {packages}"
            ),
            PackageType::Rpm => format!("yum install -y {packages}"),
        };
        format!(
            r#"#!/bin/bash
# Gennaker bake builder: install the packages, then signal the outcome by tagging this
# instance {SIGNAL_TAG}={SIGNAL_SUCCEEDED}|{SIGNAL_FAILED}. The bake stage polls for the tag.
set -u
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 600')
metadata() {{ curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }}
INSTANCE=$(metadata instance-id)
REGION=$(metadata placement/region)
signal() {{ aws ec2 create-tags --region "$REGION" --resources "$INSTANCE" --tags "Key={SIGNAL_TAG},Value=$1"; }}
if ( {install} ); then signal {SIGNAL_SUCCEEDED}; else signal {SIGNAL_FAILED}; fi
"#
        )
    }
}

/// The launch token of a region's builder: the same for every delivery of one stage
/// attempt, different for another attempt (EC2 client tokens are at most 64 characters).
pub fn builder_token(execution_id: &str, stage_id: &str, attempt: u32, region: &str) -> String {
    let digest = Sha256::digest(format!("{execution_id}/{stage_id}/{attempt}/{region}"));
    format!("bake-{}", hex::encode(&digest[..20]))
}

/// One region's bake, carried in the stage context under [`PROGRESS_KEY`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionBake {
    /// The stage attempt this progress belongs to (a restarted stage starts afresh).
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ami_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    #[serde(default)]
    pub previously_baked: bool,
    /// What the builder said beside its signal ([`SIGNAL_NOTE_TAG`]), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_note: Option<String>,
    /// The image is available and the builder (if any) terminated.
    #[serde(default)]
    pub done: bool,
}

/// Context key of the per-region progress (`{region: RegionBake}`).
pub const PROGRESS_KEY: &str = "bakes";

pub type BakeProgress = BTreeMap<String, RegionBake>;

/// The progress of stage attempt `attempt` recorded in `context` (empty when there is
/// none or it is unreadable).
pub fn progress_of(context: &Map<String, Value>, attempt: u32) -> BakeProgress {
    let recorded: BakeProgress = context
        .get(PROGRESS_KEY)
        .cloned()
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default();
    recorded
        .into_iter()
        .filter(|(_, bake)| bake.attempt == attempt)
        .collect()
}

pub fn progress_value(progress: &BakeProgress) -> Value {
    serde_json::to_value(progress).expect("bake progress serializes")
}

/// One region's entry of `deploymentDetails` (and the per-region context keys).
pub fn deployment_detail(
    request: &BakeRequest,
    region: &str,
    bake: &RegionBake,
    ref_id: &str,
) -> Value {
    json!({
        "ami": bake.image_id,
        "amiName": bake.image_name,
        "imageId": bake.image_id,
        "imageName": bake.image_name,
        "amiSuffix": request.ami_suffix,
        "baseLabel": request.base_label,
        "baseOs": request.base_os.id,
        "refId": ref_id,
        "storeType": request.store_type,
        "vmType": request.vm_type,
        "region": region,
        "package": request.package_list(),
        "cloudProviderType": "aws",
        "cloudProvider": "aws",
        "baseAmiId": bake.base_ami_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STARTED: i64 = 1_764_245_730_000; // 2025-11-27T12:15:30Z

    fn images() -> BaseImages {
        BaseImages::parse(Some(
            r#"[{"id": "ubuntu", "shortDescription": "v14.04", "detailedDescription": "Ubuntu Trusty",
                 "packageType": "deb", "baseLabels": {"release": "ubuntu/images/*trusty*", "candidate": "ami-12345678"}}]"#,
        ))
        .unwrap()
    }

    fn context(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn request(value: Value) -> Result<BakeRequest, RequestError> {
        bake_request(&context(value), &images(), Some("default"), STARTED)
    }

    fn minimal() -> Value {
        json!({"package": "shop", "baseOs": "ubuntu", "region": "us-east-1"})
    }

    #[test]
    fn defaults_fill_a_minimal_context() {
        let request = request(minimal()).unwrap();
        assert_eq!(request.account, "default");
        assert_eq!(request.regions, ["us-east-1"]);
        assert_eq!(request.base_label, "release");
        assert_eq!(request.vm_type, "hvm");
        assert_eq!(request.store_type, "ebs");
        assert_eq!(request.ami_suffix, "20251127121530");
        assert!(!request.rebake);
        assert_eq!(request.image_name(), "shop-hvm-20251127121530-ubuntu");
    }

    #[test]
    fn packages_regions_and_names_are_read_as_deck_writes_them() {
        let request = request(
            json!({"package": "shop  shop-tools=1.2", "baseOs": "ubuntu",
            "region": "us-east-1", "regions": ["eu-west-1", "us-east-1"], "amiSuffix": "x1",
            "credentials": "prod", "rebake": "true", "baseLabel": "candidate"}),
        )
        .unwrap();
        assert_eq!(request.packages, ["shop", "shop-tools=1.2"]);
        assert_eq!(request.package_list(), "shop shop-tools=1.2");
        assert_eq!(request.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(request.account, "prod");
        assert!(request.rebake);
        assert_eq!(request.image_name(), "shop-hvm-x1-ubuntu");
        assert_eq!(
            request.base_os.source("candidate"),
            Some(BaseImageSource::Id("ami-12345678".into()))
        );
        assert_eq!(
            request.base_os.source("release"),
            Some(BaseImageSource::NamePattern(
                "ubuntu/images/*trusty*".into()
            ))
        );
    }

    #[test]
    fn bad_contexts_name_the_field() {
        let cases = [
            (json!({"package": " "}), "package"),
            (json!({"package": "shop; rm -rf /"}), "package"),
            (json!({"baseOs": "windows"}), "baseOs"),
            (json!({"baseOs": null}), "baseOs"),
            (json!({"baseLabel": "unstable"}), "baseLabel"),
            (json!({"region": null}), "regions"),
            (json!({"vmType": "pv"}), "vmType"),
            (json!({"storeType": "s3"}), "storeType"),
            (json!({"amiName": "bad|name"}), "amiName"),
            (json!({"account": "a", "credentials": "b"}), "account"),
            (json!({"cloudProviderType": "gce"}), "cloudProviderType"),
            (json!({"extendedAttributes": [1]}), "extendedAttributes"),
        ];
        for (patch, field) in cases {
            let mut value = minimal();
            for (key, v) in patch.as_object().unwrap() {
                value[key] = v.clone();
            }
            let error = request(value.clone()).unwrap_err();
            assert_eq!(error.field, field, "{value}: {error}");
        }
        let error = bake_request(&context(minimal()), &images(), None, STARTED).unwrap_err();
        assert_eq!(error.field, "account");
    }

    #[test]
    fn a_base_ami_needs_no_label() {
        let mut value = minimal();
        value["baseLabel"] = json!("unstable");
        value["baseAmi"] = json!("ami-0abc");
        assert_eq!(
            request(value).unwrap().base_ami.as_deref(),
            Some("ami-0abc")
        );
    }

    #[test]
    fn the_bake_key_changes_with_what_goes_into_the_image_only() {
        let base = request(minimal()).unwrap();
        let key = base.bake_key("ami-1");
        assert_eq!(key.len(), 32);
        assert_eq!(key, base.bake_key("ami-1"), "stable");
        assert_ne!(key, base.bake_key("ami-2"), "base image matters");
        let mut other_suffix = minimal();
        other_suffix["amiSuffix"] = json!("later");
        other_suffix["rebake"] = json!(true);
        assert_eq!(
            request(other_suffix).unwrap().bake_key("ami-1"),
            key,
            "name and rebake do not"
        );
        let mut other_package = minimal();
        other_package["package"] = json!("shop extra");
        assert_ne!(request(other_package).unwrap().bake_key("ami-1"), key);
        let mut attributes = minimal();
        attributes["extendedAttributes"] = json!({"a": 1});
        assert_ne!(request(attributes).unwrap().bake_key("ami-1"), key);
    }

    #[test]
    fn image_tags_record_the_origin_and_appversion_when_derivable() {
        let mut value = minimal();
        value["package"] = json!("shop-1.2.3-h42.abc1234 tools");
        value["user"] = json!("ana");
        let request = request(value).unwrap();
        let tags = request.image_tags("ami-base", "i-1", "k");
        assert_eq!(tags[BAKE_KEY_TAG], "k");
        assert_eq!(tags[BUILDER_INSTANCE_TAG], "i-1");
        assert_eq!(tags["gennaker:base-ami"], "ami-base");
        assert_eq!(tags["gennaker:package"], "shop-1.2.3-h42.abc1234 tools");
        assert_eq!(tags["appversion"], "shop-1.2.3-h42.abc1234");
        assert_eq!(tags["creator"], "ana");
        let plain = self::request(minimal())
            .unwrap()
            .image_tags("ami-base", "i-1", "k");
        assert!(!plain.contains_key("appversion"));
    }

    #[test]
    fn image_names_are_fit_for_ec2() {
        let mut value = minimal();
        value["package"] = json!("shop=1.2+b");
        assert_eq!(
            request(value).unwrap().image_name(),
            "shop-1.2-b-hvm-20251127121530-ubuntu"
        );
    }

    #[test]
    fn user_data_installs_then_signals() {
        let data = request(minimal()).unwrap().builder_user_data();
        assert!(data.starts_with("#!/bin/bash"));
        assert!(data.contains("apt-get install -y shop"));
        assert!(data.contains("Key=gennaker:bake-status,Value=$1"));
        assert!(data.contains("then signal succeeded; else signal failed; fi"));
    }

    #[test]
    fn builder_tokens_differ_per_attempt_and_region_and_fit_ec2() {
        let token = builder_token("01J", "s1", 1, "us-east-1");
        assert!(token.len() <= 64);
        assert_eq!(token, builder_token("01J", "s1", 1, "us-east-1"));
        assert_ne!(token, builder_token("01J", "s1", 2, "us-east-1"));
        assert_ne!(token, builder_token("01J", "s1", 1, "eu-west-1"));
    }

    #[test]
    fn base_images_parse_with_defaults_and_refuse_nonsense() {
        let defaults = BaseImages::parse(None).unwrap();
        assert!(defaults.get("ubuntu").is_some());
        assert_eq!(BaseImages::parse(Some("  ")).unwrap(), defaults);
        assert!(BaseImages::parse(Some("{}")).is_err());
        assert!(
            BaseImages::parse(Some(
                r#"[{"id": "a", "packageType": "deb", "baseLabels": {}}]"#
            ))
            .is_err()
        );
        assert!(
            BaseImages::parse(Some(
                r#"[{"id": "a", "packageType": "msi", "baseLabels": {"release": "x"}}]"#
            ))
            .is_err()
        );
        let options = images().options();
        assert_eq!(options["cloudProvider"], "aws");
        assert_eq!(
            options["baseImages"][0],
            json!({"id": "ubuntu", "shortDescription": "v14.04", "detailedDescription": "Ubuntu Trusty",
                   "displayName": "Ubuntu Trusty", "packageType": "deb", "vmTypes": ["hvm"],
                   "baseLabels": ["candidate", "release"]})
        );
    }

    #[test]
    fn progress_round_trips_through_the_context() {
        let mut progress = BakeProgress::new();
        progress.insert(
            "us-east-1".into(),
            RegionBake {
                attempt: 2,
                builder_instance_id: Some("i-1".into()),
                ..RegionBake::default()
            },
        );
        let context = Map::from_iter([(PROGRESS_KEY.to_string(), progress_value(&progress))]);
        assert_eq!(progress_of(&context, 2), progress);
        assert!(
            progress_of(&context, 3).is_empty(),
            "another attempt's progress is not ours"
        );
        assert!(progress_of(&Map::new(), 2).is_empty());
    }
}
