//! The JSON Deck reads for server groups, clusters and instances (Clouddriver's AWS
//! shapes, trimmed to the fields Deck uses).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use crate::aws::InstanceDetails;
use crate::naming::{ClusterName, Moniker};
use crate::server_group::{Image, Instance, ServerGroup};

/// Frigga's `AppVersion`: `package-version-release[.commit][/job/buildNumber]`, the
/// `appversion` tag a bake writes on the image.
static APP_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([\w.+-]+?)-([0-9][\w.~+]*)-(\w+)(?:\.(\w+))?(?:/([\w.-]+)/(\d+))?$").unwrap()
});

/// `buildInfo` from an image's `appversion` tag (and `build_host`), as Clouddriver does.
pub fn build_info(image: Option<&Image>) -> Value {
    let Some(tags) = image.map(|image| &image.tags) else {
        return json!({});
    };
    let Some(captures) = tags.get("appversion").and_then(|v| APP_VERSION.captures(v)) else {
        return json!({});
    };
    let mut info = json!({
        "package_name": &captures[1],
        "version": &captures[2],
        "commit": captures.get(4).map(|c| c.as_str()),
    });
    if let (Some(job), Some(number)) = (captures.get(5), captures.get(6)) {
        info["jenkins"] = json!({
            "name": job.as_str(),
            "number": number.as_str(),
            "host": tags.get("build_host"),
        });
    }
    info
}

fn moniker(group: &ServerGroup) -> Value {
    let moniker = group
        .parsed_name()
        .map(|name| name.moniker())
        .unwrap_or(Moniker {
            app: group.name.clone(),
            cluster: group.name.clone(),
            stack: None,
            detail: None,
            sequence: None,
        });
    serde_json::to_value(moniker).expect("a moniker serializes")
}

/// One instance as Deck lists it.
pub fn instance_view(instance: &Instance, group: &ServerGroup) -> Value {
    let health: Vec<Value> = instance
        .health
        .iter()
        .map(|health| {
            let mut view = json!({"type": health.kind, "state": health.state});
            if let Some(target_group) = &health.target_group {
                view["targetGroups"] = json!([{"name": target_group, "state": health.state}]);
            }
            view
        })
        .collect();
    let state = instance.health_state();
    json!({
        "name": instance.instance_id,
        "id": instance.instance_id,
        "instanceId": instance.instance_id,
        "availabilityZone": instance.availability_zone,
        "zone": instance.availability_zone,
        "cloudProvider": "aws",
        "provider": "aws",
        "account": group.account,
        "region": group.region,
        "serverGroup": group.name,
        "health": health,
        "healthState": state,
        "isHealthy": state == "Up",
    })
}

/// Deck's `instanceCounts`.
fn instance_counts(group: &ServerGroup) -> Value {
    let count = |state: &str| {
        group
            .instances
            .iter()
            .filter(|instance| instance.health_state() == state)
            .count()
    };
    json!({
        "total": group.instances.len(),
        "up": count("Up"),
        "down": count("Down"),
        "unknown": count("Unknown"),
        "outOfService": count("OutOfService"),
        "starting": count("Starting"),
    })
}

/// One server group with the fields Deck reads.
pub fn server_group_view(group: &ServerGroup) -> Value {
    let launch = group.launch.as_ref();
    let launch_config = launch.map(|launch| {
        json!({
            "imageId": launch.image_id,
            "instanceType": launch.instance_type,
            "keyName": launch.key_name,
            "securityGroups": launch.security_groups,
            "userData": launch.user_data,
            "iamInstanceProfile": launch.iam_instance_profile,
        })
    });
    let launch_template = group.launch_template.as_ref().map(|template| {
        json!({
            "launchTemplateId": template.id,
            "launchTemplateName": template.name,
            "version": template.version,
            "launchTemplateData": launch_config,
        })
    });
    let image = group.image.as_ref().map(|image| {
        json!({"imageId": image.image_id, "name": image.name, "creationDate": image.creation_date, "tags": image.tags})
    });
    let disabled = group.is_disabled();
    json!({
        "name": group.name,
        "type": "aws",
        "cloudProvider": "aws",
        "account": group.account,
        "region": group.region,
        "cluster": group.cluster().unwrap_or_else(|| group.name.clone()),
        "moniker": moniker(group),
        "createdTime": group.created_time,
        "capacity": group.capacity,
        "isDisabled": disabled,
        "disabled": disabled,
        "instanceCounts": instance_counts(group),
        "instances": group.instances.iter().map(|i| instance_view(i, group)).collect::<Vec<_>>(),
        "zones": group.zones,
        "loadBalancers": group.target_groups,
        "targetGroups": group.target_groups,
        "securityGroups": launch.map(|l| l.security_groups.clone()).unwrap_or_default(),
        "launchConfig": launch_config,
        "launchTemplate": launch_template,
        "image": image,
        "buildInfo": build_info(group.image.as_ref()),
        "suspendedProcesses": group.suspended_processes.iter()
            .map(|process| json!({"processName": process})).collect::<Vec<_>>(),
        "tags": group.tags,
        "asg": {
            "autoScalingGroupName": group.name,
            "minSize": group.capacity.min,
            "maxSize": group.capacity.max,
            "desiredCapacity": group.capacity.desired,
        },
    })
}

/// The summary `GET /applications/{app}/serverGroups` lists (Clouddriver's
/// `ServerGroupViewModel`).
pub fn server_group_summary(group: &ServerGroup) -> Value {
    let mut view = server_group_view(group);
    let full = view.as_object_mut().expect("an object");
    full.retain(|key, _| {
        !matches!(
            key.as_str(),
            "launchConfig" | "launchTemplate" | "image" | "asg" | "suspendedProcesses" | "tags"
        )
    });
    view
}

/// The clusters of `groups` (all of one application), as `GET /applications/{app}/clusters`
/// answers: `{account: [clusterName]}`.
pub fn cluster_names_by_account(groups: &[ServerGroup]) -> Value {
    let mut by_account: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for group in groups {
        let clusters = by_account.entry(group.account.as_str()).or_default();
        let cluster = group.cluster().unwrap_or_else(|| group.name.clone());
        if !clusters.contains(&cluster) {
            clusters.push(cluster);
        }
    }
    for clusters in by_account.values_mut() {
        clusters.sort();
    }
    json!(by_account)
}

/// One cluster in one account with its server groups (`GET
/// /applications/{app}/clusters/{account}/{cluster}`).
pub fn cluster_view(account: &str, cluster: &str, groups: &[ServerGroup]) -> Value {
    let moniker = ClusterName::parse(cluster).ok().map(|name| {
        json!({"app": name.app, "cluster": cluster, "stack": name.stack, "detail": name.detail})
    });
    let mut target_groups: Vec<&String> = groups
        .iter()
        .flat_map(|group| &group.target_groups)
        .collect();
    target_groups.sort();
    target_groups.dedup();
    json!({
        "name": cluster,
        "accountName": account,
        "type": "aws",
        "cloudProvider": "aws",
        "moniker": moniker,
        "serverGroups": groups.iter().map(server_group_view).collect::<Vec<_>>(),
        "loadBalancers": target_groups,
    })
}

/// An instance looked up by id (`GET /instances/{account}/{region}/{id}`), with its health
/// as its server group reports it when it belongs to one.
pub fn instance_details_view(
    details: &InstanceDetails,
    account: &str,
    region: &str,
    group: Option<&ServerGroup>,
) -> Value {
    let from_group = group.and_then(|group| {
        let instance = group
            .instances
            .iter()
            .find(|i| i.instance_id == details.instance_id)?;
        Some(instance_view(instance, group))
    });
    let (health, state) = match &from_group {
        Some(view) => (view["health"].clone(), view["healthState"].clone()),
        None => (json!([]), json!("Unknown")),
    };
    json!({
        "name": details.instance_id,
        "instanceId": details.instance_id,
        "account": account,
        "region": region,
        "cloudProvider": "aws",
        "provider": "aws",
        "availabilityZone": details.availability_zone,
        "zone": details.availability_zone,
        "instanceType": details.instance_type,
        "imageId": details.image_id,
        "launchTime": details.launch_time,
        "state": {"name": details.state},
        "privateIpAddress": details.private_ip_address,
        "publicDnsName": details.public_dns_name,
        "securityGroups": details.security_groups.iter().map(|id| json!({"groupId": id})).collect::<Vec<_>>(),
        "serverGroup": details.server_group,
        "tags": details.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "health": health,
        "healthState": state,
        "isHealthy": state == "Up",
    })
}

/// An image as `GET /images/find` lists it (Clouddriver's `NamedImage`).
pub fn image_view(image: &Image, account: &str, region: &str) -> Value {
    json!({
        "imageName": image.name,
        "attributes": {"creationDate": image.creation_date},
        "tagsByImageId": {(image.image_id.clone()): image.tags},
        "accounts": [account],
        "amis": {(region.to_string()): [image.image_id]},
        "imageId": image.image_id,
        "region": region,
        "cloudProvider": "aws",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_group::Health;
    use crate::server_group::tests::group;

    #[test]
    fn build_info_comes_from_the_appversion_tag() {
        let image = Image {
            tags: [
                (
                    "appversion".to_string(),
                    "hello-1.2.3-h42.abc123/hello-build/42".to_string(),
                ),
                ("build_host".to_string(), "https://jenkins/".to_string()),
            ]
            .into(),
            ..Image::default()
        };
        assert_eq!(
            build_info(Some(&image)),
            json!({"package_name": "hello", "version": "1.2.3", "commit": "abc123",
                   "jenkins": {"name": "hello-build", "number": "42", "host": "https://jenkins/"}})
        );
        assert_eq!(build_info(None), json!({}));
    }

    #[test]
    fn server_group_view_has_deck_fields() {
        let mut group = group("app-prod-v001", 5, 2);
        group.target_groups = vec!["app-tg".into()];
        group.suspended_processes = vec!["AddToLoadBalancer".into()];
        group.instances[0].health = vec![
            Health {
                kind: "Amazon",
                state: "Up",
                target_group: None,
            },
            Health {
                kind: "TargetGroup",
                state: "Up",
                target_group: Some("app-tg".into()),
            },
        ];
        let view = server_group_view(&group);
        assert_eq!(
            view["moniker"],
            json!({"app": "app", "cluster": "app-prod", "stack": "prod", "detail": null, "sequence": 1})
        );
        assert_eq!(view["isDisabled"], json!(true));
        assert_eq!(view["capacity"], json!({"min": 0, "max": 5, "desired": 2}));
        assert_eq!(view["instanceCounts"]["total"], json!(2));
        assert_eq!(view["instanceCounts"]["up"], json!(1));
        assert_eq!(view["instanceCounts"]["unknown"], json!(1));
        assert_eq!(
            view["instances"][0]["health"][1]["targetGroups"][0]["name"],
            json!("app-tg")
        );
        assert_eq!(view["launchConfig"]["imageId"], json!("ami-app-prod-v001"));
        assert_eq!(view["loadBalancers"], json!(["app-tg"]));
        assert_eq!(view["cluster"], json!("app-prod"));
    }

    #[test]
    fn clusters_are_grouped_by_account() {
        let groups = [
            group("app-v000", 1, 0),
            group("app-v001", 2, 0),
            group("app-prod-v000", 3, 0),
        ];
        assert_eq!(
            cluster_names_by_account(&groups),
            json!({"prod": ["app", "app-prod"]})
        );
        let cluster = cluster_view("prod", "app", &groups[..2]);
        assert_eq!(cluster["serverGroups"].as_array().unwrap().len(), 2);
        assert_eq!(cluster["moniker"]["app"], json!("app"));
    }
}
