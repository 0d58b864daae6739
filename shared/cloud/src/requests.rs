//! Server-group stage contexts (Deck's JSON) read into checked requests. Everything here
//! runs before any cloud call, so bad input fails the stage before anything is created.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::capacity::{Capacity, Direction, Resize};
use crate::naming::{ClusterName, ServerGroupName};
use crate::server_group::{ImageSelection, LaunchSettings, Target};

mod rollback_and_clone;

pub use rollback_and_clone::{CloneSource, RollbackRequest, clone_context, clone_source, rollback};

/// A stage context the worker cannot act on; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.to_string(),
        message: message.into(),
    }
}

pub(crate) fn text<'a>(context: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    context
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub(crate) fn strings(context: &Map<String, Value>, key: &str) -> Vec<String> {
    match context.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::String(csv)) => csv
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

/// `tags`: an object of tag values (non-string values as their JSON text).
fn tags(context: &Map<String, Value>) -> Result<BTreeMap<String, String>, RequestError> {
    match context.get("tags") {
        Some(Value::Object(tags)) => Ok(tags
            .iter()
            .map(|(key, value)| {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                (key.clone(), value)
            })
            .collect()),
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(_) => Err(invalid("tags", "must be an object of tag values")),
    }
}

/// Where an operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub account: String,
    pub region: String,
}

/// The account (`credentials`, or `account`; both given and different is an error).
pub fn account(context: &Map<String, Value>) -> Result<String, RequestError> {
    match (text(context, "credentials"), text(context, "account")) {
        (Some(a), Some(b)) if a != b => Err(invalid(
            "account",
            format!("credentials '{a}' and account '{b}' differ"),
        )),
        (Some(name), _) | (None, Some(name)) => Ok(name.to_string()),
        (None, None) => Err(invalid("credentials", "name the account")),
    }
}

/// The regions: `regions`, `region`, or the keys of `availabilityZones`.
pub fn regions(context: &Map<String, Value>) -> Vec<String> {
    let mut regions = strings(context, "regions");
    if let Some(region) = text(context, "region")
        && !regions.iter().any(|r| r == region)
    {
        regions.push(region.to_string());
    }
    if let Some(Value::Object(zones)) = context.get("availabilityZones") {
        for region in zones.keys() {
            if !regions.contains(region) {
                regions.push(region.clone());
            }
        }
    }
    regions
}

/// The single location a mutating operation runs in (one region per stage).
pub fn single_location(context: &Map<String, Value>) -> Result<Location, RequestError> {
    let account = account(context)?;
    match regions(context).as_slice() {
        [region] => Ok(Location {
            account,
            region: region.clone(),
        }),
        [] => Err(invalid("region", "name the region")),
        many => Err(invalid(
            "regions",
            format!("one region per stage is supported, got {}", many.join(", ")),
        )),
    }
}

/// Every location of a stage that may act in several regions (one account).
pub fn locations(context: &Map<String, Value>) -> Result<Vec<Location>, RequestError> {
    let account = account(context)?;
    let regions = regions(context);
    if regions.is_empty() {
        return Err(invalid("region", "name the region"));
    }
    Ok(regions
        .into_iter()
        .map(|region| Location {
            account: account.clone(),
            region,
        })
        .collect())
}

/// Which server group an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// `serverGroupName` (or `asgName`).
    Named(String),
    /// `cluster` (or `moniker.cluster`) + `target`.
    Dynamic { cluster: String, target: Target },
}

pub fn target_spec(context: &Map<String, Value>) -> Result<TargetSpec, RequestError> {
    if let Some(name) = text(context, "serverGroupName").or_else(|| text(context, "asgName")) {
        ServerGroupName::parse(name).map_err(|e| invalid("serverGroupName", e.to_string()))?;
        return Ok(TargetSpec::Named(name.to_string()));
    }
    let cluster = cluster(context)?;
    let target = text(context, "target").ok_or_else(|| {
        invalid(
            "target",
            "name the server group (serverGroupName) or a cluster and a target",
        )
    })?;
    let target = Target::parse(target).ok_or_else(|| {
        invalid(
            "target",
            format!("unknown target '{target}' (current_asg_dynamic, ancestor_asg_dynamic, oldest_asg_dynamic, largest_asg_dynamic)"),
        )
    })?;
    Ok(TargetSpec::Dynamic { cluster, target })
}

/// The cluster (`cluster` or `moniker.cluster`), checked to be a Frigga cluster name.
pub fn cluster(context: &Map<String, Value>) -> Result<String, RequestError> {
    let name = text(context, "cluster")
        .or_else(|| context.get("moniker")?.get("cluster")?.as_str())
        .ok_or_else(|| invalid("cluster", "name the cluster"))?;
    ClusterName::parse(name).map_err(|e| invalid("cluster", e.to_string()))?;
    Ok(name.to_string())
}

pub(crate) fn int(value: Option<&Value>, field: &str) -> Result<Option<i64>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(field, "must be a whole number")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(field, format!("'{s}' is not a whole number"))),
        Some(_) => Err(invalid(field, "must be a whole number")),
    }
}

/// `capacity: {min, max, desired}` (desired defaults to min), checked.
pub fn capacity(context: &Map<String, Value>) -> Result<Capacity, RequestError> {
    let Some(Value::Object(capacity)) = context.get("capacity") else {
        return Err(invalid("capacity", "give capacity {min, max, desired}"));
    };
    let field = |key: &str| -> Result<Option<i32>, RequestError> {
        let path = format!("capacity.{key}");
        int(capacity.get(key), &path)?
            .map(|n| i32::try_from(n).map_err(|_| invalid(&path, "is out of range")))
            .transpose()
    };
    let min = field("min")?.ok_or_else(|| invalid("capacity.min", "is required"))?;
    let max = field("max")?.ok_or_else(|| invalid("capacity.max", "is required"))?;
    let desired = field("desired")?.unwrap_or(min);
    Capacity::new(min, max, desired).map_err(|e| invalid("capacity", e.to_string()))
}

/// A `resizeServerGroup` request: `action` (`scale_exact`, `scale_up`, `scale_down`) with
/// `capacity`, or `resizeType` (`pct` with `scalePct`, `incr` with `scaleNum`).
pub fn resize(context: &Map<String, Value>) -> Result<Resize, RequestError> {
    let action = text(context, "action").unwrap_or("scale_exact");
    let direction = match action {
        "scale_exact" => return capacity(context).map(Resize::Exact),
        "scale_up" => Direction::Up,
        "scale_down" => Direction::Down,
        other => {
            return Err(invalid(
                "action",
                format!("unsupported resize action '{other}' (scale_exact, scale_up, scale_down)"),
            ));
        }
    };
    let amount = |key: &str| -> Result<u32, RequestError> {
        let value = int(context.get(key), key)?.ok_or_else(|| invalid(key, "is required"))?;
        u32::try_from(value).map_err(|_| invalid(key, "must not be negative"))
    };
    let by_percent = match text(context, "resizeType") {
        Some("pct") => true,
        Some("incr") => false,
        Some(other) => {
            return Err(invalid(
                "resizeType",
                format!("'{other}' is not pct or incr"),
            ));
        }
        None => context.contains_key("scalePct"),
    };
    Ok(if by_percent {
        Resize::Percentage {
            direction,
            percent: amount("scalePct")?,
        }
    } else {
        Resize::Increment {
            direction,
            count: amount("scaleNum")?,
        }
    })
}

/// The image a new group launches: an AMI id or an exact image name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    Id(String),
    Name(String),
}

/// A `createServerGroup` (or a deploy cluster) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub location: Location,
    pub cluster: ClusterName,
    pub capacity: Capacity,
    pub image: ImageRef,
    pub launch: LaunchSettings,
    pub zones: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub target_groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// `interestingHealthProviderNames`: the health reports that decide "up" (all when
    /// empty).
    pub health_providers: Vec<String>,
}

impl CreateRequest {
    /// What to create for this request: group `name` launching `image_id` at `capacity`,
    /// tagged with its Frigga parts as Spinnaker tags them.
    pub fn spec(
        &self,
        name: &str,
        image_id: &str,
        capacity: Capacity,
    ) -> crate::aws::ServerGroupSpec {
        let mut tags = self.tags.clone();
        tags.insert("spinnaker:application".into(), self.cluster.app.clone());
        if let Some(stack) = &self.cluster.stack {
            tags.insert("spinnaker:stack".into(), stack.clone());
        }
        if let Some(detail) = &self.cluster.detail {
            tags.insert("spinnaker:details".into(), detail.clone());
        }
        let mut launch = self.launch.clone();
        launch.image_id = image_id.to_string();
        crate::aws::ServerGroupSpec {
            name: name.to_string(),
            capacity,
            launch,
            zones: self.zones.clone(),
            subnet_ids: self.subnet_ids.clone(),
            target_group_names: self.target_groups.clone(),
            tags,
        }
    }
}

pub fn create(context: &Map<String, Value>) -> Result<CreateRequest, RequestError> {
    let location = single_location(context)?;
    let application =
        text(context, "application").ok_or_else(|| invalid("application", "is required"))?;
    let cluster = ClusterName::new(
        application,
        text(context, "stack"),
        text(context, "freeFormDetails"),
    )
    .map_err(|e| invalid("cluster", e.to_string()))?;
    let capacity = capacity(context)?;
    let image = match (text(context, "imageId"), text(context, "amiName")) {
        (Some(id), _) if id.starts_with("ami-") => ImageRef::Id(id.to_string()),
        (_, Some(name)) => ImageRef::Name(name.to_string()),
        (Some(name), None) => ImageRef::Name(name.to_string()),
        (None, None) => match crate::deploy::image_for_region(context, &location.region) {
            Some(id) => ImageRef::Id(id),
            None => {
                return Err(invalid(
                    "imageId",
                    "name the image (imageId or amiName), or run a bake or find-image stage upstream",
                ));
            }
        },
    };
    let instance_type =
        text(context, "instanceType").ok_or_else(|| invalid("instanceType", "is required"))?;
    let zones = match context.get("availabilityZones") {
        Some(Value::Object(by_region)) => by_region
            .get(&location.region)
            .map(|zones| strings(&Map::from_iter([("z".to_string(), zones.clone())]), "z"))
            .unwrap_or_default(),
        _ => vec![],
    };
    let mut target_groups = strings(context, "targetGroups");
    for name in &target_groups {
        if name.len() > 32 {
            return Err(invalid(
                "targetGroups",
                format!("'{name}' is longer than 32 characters"),
            ));
        }
    }
    target_groups.dedup();
    let tags = tags(context)?;
    Ok(CreateRequest {
        location,
        cluster,
        capacity,
        image,
        launch: LaunchSettings {
            image_id: String::new(),
            instance_type: instance_type.to_string(),
            key_name: text(context, "keyPair").map(str::to_string),
            security_groups: strings(context, "securityGroups"),
            user_data: text(context, "base64UserData")
                .or_else(|| text(context, "userData"))
                .map(str::to_string),
            iam_instance_profile: text(context, "iamRole").map(str::to_string),
        },
        zones,
        subnet_ids: strings(context, "subnetIds"),
        target_groups,
        tags,
        health_providers: strings(context, "interestingHealthProviderNames"),
    })
}

/// A `findImage` (from cluster) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindImageRequest {
    pub account: String,
    pub regions: Vec<String>,
    pub cluster: String,
    pub only_enabled: bool,
    pub selection: ImageSelection,
}

pub fn find_image(context: &Map<String, Value>) -> Result<FindImageRequest, RequestError> {
    let regions = regions(context);
    if regions.is_empty() {
        return Err(invalid("regions", "name at least one region"));
    }
    let strategy = text(context, "selectionStrategy");
    Ok(FindImageRequest {
        account: account(context)?,
        regions,
        cluster: cluster(context)?,
        only_enabled: context
            .get("onlyEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        selection: ImageSelection::parse(strategy).ok_or_else(|| {
            invalid(
                "selectionStrategy",
                format!(
                    "'{}' is not NEWEST, LARGEST, OLDEST or FAIL",
                    strategy.unwrap_or_default()
                ),
            )
        })?,
    })
}

/// A `findImageFromTags` request: the newest image whose name starts with `packageName`
/// and that carries every tag of `tags`, in each region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindImageFromTagsRequest {
    pub account: Option<String>,
    pub regions: Vec<String>,
    pub package_name: String,
    pub tags: BTreeMap<String, String>,
}

pub fn find_image_from_tags(
    context: &Map<String, Value>,
) -> Result<FindImageFromTagsRequest, RequestError> {
    let regions = regions(context);
    if regions.is_empty() {
        return Err(invalid("regions", "name at least one region"));
    }
    let package_name =
        text(context, "packageName").ok_or_else(|| invalid("packageName", "is required"))?;
    let tags = tags(context)?;
    Ok(FindImageFromTagsRequest {
        account: text(context, "credentials")
            .or_else(|| text(context, "account"))
            .map(str::to_string),
        regions,
        package_name: package_name.to_string(),
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn create_reads_deck_fields() {
        let request = create(&context(json!({
            "application": "app", "stack": "prod", "freeFormDetails": "", "credentials": "test",
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
            "capacity": {"min": 1, "max": 3, "desired": 2}, "imageId": "ami-123",
            "instanceType": "t3.micro", "keyPair": "kp", "securityGroups": ["sg-1"],
            "targetGroups": ["app-tg"], "iamRole": "role", "tags": {"team": "x"}
        })))
        .unwrap();
        assert_eq!(
            request.location,
            Location {
                account: "test".into(),
                region: "us-east-1".into()
            }
        );
        assert_eq!(request.cluster.to_string(), "app-prod");
        assert_eq!(
            request.capacity,
            Capacity {
                min: 1,
                max: 3,
                desired: 2
            }
        );
        assert_eq!(request.image, ImageRef::Id("ami-123".into()));
        assert_eq!(request.zones, vec!["us-east-1a"]);
        assert_eq!(request.launch.key_name.as_deref(), Some("kp"));
        assert_eq!(request.tags["team"], "x");
    }

    #[test]
    fn capacities_given_as_strings_read_as_numbers_and_nulls_as_absent() {
        let as_strings = context(json!({"capacity": {"min": "1", "max": " 3", "desired": "2"}}));
        assert_eq!(
            capacity(&as_strings).unwrap(),
            Capacity {
                min: 1,
                max: 3,
                desired: 2
            }
        );
        let desired_null = context(json!({"capacity": {"min": "2", "max": 4, "desired": null}}));
        assert_eq!(capacity(&desired_null).unwrap().desired, 2);
        let not_a_number = context(json!({"capacity": {"min": "one", "max": 4}}));
        assert_eq!(capacity(&not_a_number).unwrap_err().field, "capacity.min");
    }

    #[test]
    fn create_refuses_bad_input_naming_the_field() {
        let base = json!({"application": "app", "credentials": "test", "region": "us-east-1",
                          "capacity": {"min": 1, "max": 1}, "imageId": "ami-1", "instanceType": "t3.micro"});
        let refused = |patch: Value| {
            let mut value = base.clone();
            for (key, field) in patch.as_object().unwrap() {
                value[key] = field.clone();
            }
            create(&context(value)).unwrap_err()
        };
        assert_eq!(
            refused(json!({"capacity": {"min": 3, "max": 2}})).field,
            "capacity"
        );
        assert!(
            refused(json!({"capacity": {"min": 3, "max": 2}}))
                .message
                .contains("must not exceed")
        );
        assert_eq!(refused(json!({"application": "bad app"})).field, "cluster");
        assert_eq!(refused(json!({"stack": "v001"})).field, "cluster");
        assert_eq!(refused(json!({"imageId": null})).field, "imageId");
        assert_eq!(refused(json!({"credentials": null})).field, "credentials");
        assert_eq!(refused(json!({"region": null})).field, "region");
        assert_eq!(
            refused(json!({"regions": ["a", "b"], "region": null})).field,
            "regions"
        );
        assert!(create(&context(base)).is_ok());
    }

    #[test]
    fn targets_are_static_or_dynamic() {
        assert_eq!(
            target_spec(&context(json!({"serverGroupName": "app-v001"}))).unwrap(),
            TargetSpec::Named("app-v001".into())
        );
        assert_eq!(
            target_spec(&context(
                json!({"cluster": "app-prod", "target": "ancestor_asg_dynamic"})
            ))
            .unwrap(),
            TargetSpec::Dynamic {
                cluster: "app-prod".into(),
                target: Target::Ancestor
            }
        );
        assert_eq!(
            target_spec(&context(json!({"cluster": "app", "target": "x"})))
                .unwrap_err()
                .field,
            "target"
        );
        assert_eq!(
            target_spec(&context(json!({"cluster": "a b", "target": "x"})))
                .unwrap_err()
                .field,
            "cluster"
        );
        assert_eq!(
            target_spec(&context(json!({"serverGroupName": "app"})))
                .unwrap_err()
                .field,
            "serverGroupName"
        );
    }

    #[test]
    fn resizes_read_every_form() {
        assert_eq!(
            resize(&context(
                json!({"action": "scale_exact", "capacity": {"min": 1, "max": 2, "desired": 2}})
            ))
            .unwrap(),
            Resize::Exact(Capacity {
                min: 1,
                max: 2,
                desired: 2
            })
        );
        assert_eq!(
            resize(&context(
                json!({"action": "scale_up", "resizeType": "pct", "scalePct": 50})
            ))
            .unwrap(),
            Resize::Percentage {
                direction: Direction::Up,
                percent: 50
            }
        );
        assert_eq!(
            resize(&context(
                json!({"action": "scale_down", "resizeType": "incr", "scaleNum": "2"})
            ))
            .unwrap(),
            Resize::Increment {
                direction: Direction::Down,
                count: 2
            }
        );
        assert_eq!(
            resize(&context(json!({"action": "scale_up", "scaleNum": -1})))
                .unwrap_err()
                .field,
            "scaleNum"
        );
        assert_eq!(
            resize(&context(json!({"action": "grow"})))
                .unwrap_err()
                .field,
            "action"
        );
    }

    #[test]
    fn find_image_defaults() {
        let request = find_image(&context(
            json!({"cluster": "app", "credentials": "test", "regions": ["r1", "r2"]}),
        ))
        .unwrap();
        assert!(request.only_enabled);
        assert_eq!(request.selection, ImageSelection::Newest);
        assert_eq!(request.regions, vec!["r1", "r2"]);
        let bad = find_image(&context(
            json!({"cluster": "app", "credentials": "t", "region": "r", "selectionStrategy": "BEST"}),
        ));
        assert_eq!(bad.unwrap_err().field, "selectionStrategy");
    }
}
