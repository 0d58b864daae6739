//! The server-group stages that start from existing groups: an explicit rollback (two
//! groups of one cluster) and a clone (a source group's settings under the stage's).

use serde_json::{Map, Value};

use super::{Location, RequestError, invalid, single_location, text};
use crate::naming::ServerGroupName;

/// A `rollbackServerGroup` request (`rollbackType: EXPLICIT`): put `restore` back into
/// service at the size of `rollback`, then disable `rollback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRequest {
    pub location: Location,
    pub rollback: String,
    pub restore: String,
}

pub fn rollback(context: &Map<String, Value>) -> Result<RollbackRequest, RequestError> {
    let location = single_location(context)?;
    match text(context, "rollbackType").unwrap_or("EXPLICIT") {
        "EXPLICIT" => {}
        other => {
            return Err(invalid(
                "rollbackType",
                format!(
                    "'{other}' is not supported (EXPLICIT, naming rollbackContext.rollbackServerGroupName and restoreServerGroupName)"
                ),
            ));
        }
    }
    let Some(Value::Object(rollback_context)) = context.get("rollbackContext") else {
        return Err(invalid(
            "rollbackContext",
            "name rollbackServerGroupName and restoreServerGroupName",
        ));
    };
    let group = |key: &str| -> Result<ServerGroupName, RequestError> {
        let field = format!("rollbackContext.{key}");
        let name = text(rollback_context, key).ok_or_else(|| invalid(&field, "is required"))?;
        ServerGroupName::parse(name).map_err(|e| invalid(&field, e.to_string()))
    };
    let rollback = group("rollbackServerGroupName")?;
    let restore = group("restoreServerGroupName")?;
    if rollback.cluster != restore.cluster {
        return Err(invalid(
            "rollbackContext.restoreServerGroupName",
            format!(
                "{restore} is not in the cluster of {rollback} ({})",
                rollback.cluster
            ),
        ));
    }
    if rollback == restore {
        return Err(invalid(
            "rollbackContext.restoreServerGroupName",
            "must differ from rollbackServerGroupName",
        ));
    }
    Ok(RollbackRequest {
        location,
        rollback: rollback.to_string(),
        restore: restore.to_string(),
    })
}

/// Where a `cloneServerGroup` copies from: `source: {account, region, asgName}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneSource {
    pub location: Location,
    pub server_group: String,
}

pub fn clone_source(context: &Map<String, Value>) -> Result<CloneSource, RequestError> {
    let Some(Value::Object(source)) = context.get("source") else {
        return Err(invalid(
            "source",
            "name the server group to clone ({account, region, asgName})",
        ));
    };
    let name = text(source, "asgName")
        .or_else(|| text(source, "serverGroupName"))
        .ok_or_else(|| invalid("source.asgName", "is required"))?;
    ServerGroupName::parse(name).map_err(|e| invalid("source.asgName", e.to_string()))?;
    let account = text(source, "account")
        .or_else(|| text(source, "credentials"))
        .ok_or_else(|| invalid("source.account", "is required"))?;
    let region = text(source, "region").ok_or_else(|| invalid("source.region", "is required"))?;
    Ok(CloneSource {
        location: Location {
            account: account.to_string(),
            region: region.to_string(),
        },
        server_group: name.to_string(),
    })
}

/// A clone's create request fields: the source group's settings, with every field the
/// stage gives laid over them (Deck sends only what the user changed or kept).
pub fn clone_context(
    source: &crate::server_group::ServerGroup,
    given: &Map<String, Value>,
) -> Map<String, Value> {
    use serde_json::json;
    let mut context = Map::new();
    if let Some(name) = source.parsed_name() {
        context.insert("application".into(), json!(name.cluster.app));
        context.insert("stack".into(), json!(name.cluster.stack));
        context.insert("freeFormDetails".into(), json!(name.cluster.detail));
    }
    context.insert("credentials".into(), json!(source.account));
    context.insert(
        "availabilityZones".into(),
        json!({ source.region.clone(): source.zones }),
    );
    context.insert(
        "capacity".into(),
        serde_json::to_value(source.capacity).unwrap_or_default(),
    );
    if let Some(launch) = &source.launch {
        context.insert("imageId".into(), json!(launch.image_id));
        context.insert("instanceType".into(), json!(launch.instance_type));
        context.insert("keyPair".into(), json!(launch.key_name));
        context.insert("securityGroups".into(), json!(launch.security_groups));
        context.insert("base64UserData".into(), json!(launch.user_data));
        context.insert("iamRole".into(), json!(launch.iam_instance_profile));
    }
    let mut target_groups = source.target_groups.clone();
    for name in crate::aws::recorded_target_groups(source) {
        if !target_groups.contains(&name) {
            target_groups.push(name);
        }
    }
    context.insert("targetGroups".into(), json!(target_groups));
    let own_tags: Map<String, Value> = source
        .tags
        .iter()
        .filter(|(key, _)| !is_managed_tag(key))
        .map(|(key, value)| (key.clone(), json!(value)))
        .collect();
    context.insert("tags".into(), Value::Object(own_tags));
    let given_location = ["region", "regions", "availabilityZones"]
        .iter()
        .any(|key| given.get(*key).is_some_and(|v| !v.is_null()));
    if given_location {
        context.remove("availabilityZones");
    }
    if ["credentials", "account"]
        .iter()
        .any(|key| given.get(*key).is_some_and(|v| !v.is_null()))
    {
        context.remove("credentials");
    }
    for (key, value) in given {
        if !value.is_null() && key != "source" && key != "type" {
            context.insert(key.clone(), value.clone());
        }
    }
    // An image given by name replaces the source's image id.
    let given_text = |key: &str| given.get(key).and_then(Value::as_str).is_some();
    if given_text("amiName") && !given_text("imageId") {
        context.remove("imageId");
    }
    context
}

/// Tags AWS, Spinnaker or Gennaker manage themselves, which a clone does not copy.
fn is_managed_tag(key: &str) -> bool {
    key.starts_with("aws:") || key.starts_with("spinnaker:") || key.starts_with("gennaker:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Capacity;
    use crate::requests::{ImageRef, create};
    use crate::server_group::LaunchSettings;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn an_explicit_rollback_names_two_groups_of_one_cluster() {
        let context = |rollback: &str, restore: &str| {
            map(json!({"credentials": "default", "regions": ["us-east-1"],
                "rollbackType": "EXPLICIT", "rollbackContext": {
                    "rollbackServerGroupName": rollback, "restoreServerGroupName": restore}}))
        };
        let request = rollback(&context("shop-web-v001", "shop-web-v000")).unwrap();
        assert_eq!(
            (request.rollback.as_str(), request.restore.as_str()),
            ("shop-web-v001", "shop-web-v000")
        );
        let error = rollback(&context("shop-web-v001", "shop-api-v000")).unwrap_err();
        assert_eq!(error.field, "rollbackContext.restoreServerGroupName");
        let error = rollback(&context("shop-web-v001", "shop-web-v001")).unwrap_err();
        assert_eq!(error.field, "rollbackContext.restoreServerGroupName");
        let mut previous_image = context("shop-web-v001", "shop-web-v000");
        previous_image.insert("rollbackType".into(), json!("PREVIOUS_IMAGE"));
        assert_eq!(rollback(&previous_image).unwrap_err().field, "rollbackType");
    }

    #[test]
    fn a_clone_copies_the_source_and_takes_the_stages_fields_over_it() {
        let source = crate::server_group::ServerGroup {
            name: "shop-web-v003".into(),
            account: "prod".into(),
            region: "eu-west-1".into(),
            created_time: 1,
            capacity: Capacity {
                min: 2,
                max: 4,
                desired: 3,
            },
            suspended_processes: vec![],
            zones: vec!["eu-west-1a".into()],
            target_groups: vec!["shop-tg".into()],
            launch_template: None,
            launch: Some(LaunchSettings {
                image_id: "ami-source".into(),
                instance_type: "m5.large".into(),
                ..LaunchSettings::default()
            }),
            image: None,
            instances: vec![],
            tags: [
                ("team".to_string(), "a".to_string()),
                ("spinnaker:application".to_string(), "shop".to_string()),
            ]
            .into(),
        };
        let context = clone_context(
            &source,
            &map(json!({
            "source": {"asgName": "shop-web-v003"}, "instanceType": "m5.xlarge", "keyPair": null})),
        );
        let request = create(&context).unwrap();
        assert_eq!(request.cluster.to_string(), "shop-web");
        assert_eq!(
            request.location,
            Location {
                account: "prod".into(),
                region: "eu-west-1".into()
            }
        );
        assert_eq!(
            request.capacity,
            Capacity {
                min: 2,
                max: 4,
                desired: 3
            }
        );
        assert_eq!(request.image, ImageRef::Id("ami-source".into()));
        assert_eq!(request.launch.instance_type, "m5.xlarge");
        assert_eq!(request.target_groups, ["shop-tg"]);
        assert_eq!(request.tags.keys().collect::<Vec<_>>(), ["team"]);
        let renamed = clone_context(
            &source,
            &map(json!({"amiName": "shop-1.2", "region": "us-east-1", "credentials": "test"})),
        );
        let request = create(&renamed).unwrap();
        assert_eq!(request.image, ImageRef::Name("shop-1.2".into()));
        assert_eq!(
            request.location,
            Location {
                account: "test".into(),
                region: "us-east-1".into()
            }
        );
    }
}
