//! Cluster-wide stages (Orca's `AbstractClusterWideClouddriverTask` with its
//! `DisableClusterTask`, `ScaleDownClusterTask` and `ShrinkClusterTask`): read from Deck's
//! stage context, and which groups of a cluster, region by region, each one acts on.
//!
//! Orca keeps the groups it ranks first and acts on the rest:
//! - `disableCluster` disables every enabled group but the `remainingEnabledServerGroups`
//!   (default 1) newest, or largest with `preferLargerOverNewer`;
//! - `scaleDownCluster` resizes to 0/0/0 every group but the `remainingFullSizeServerGroups`
//!   (default 1) it ranks first; enabled groups are spared, and count as kept, unless
//!   `allowScaleDownActive`, which then ranks enabled groups first;
//! - `shrinkCluster` destroys every group but the `shrinkToSize` (default 1) it ranks first,
//!   sparing enabled groups unless `allowDeleteActive` (`retainLargerOverNewer` ranks by size).
//!
//! Not modelled: Orca also spares groups an upstream deploy stage created (and newer ones)
//! and checks traffic guards; a group counts as enabled here when it is not disabled
//! (Orca also counts a disabled group with an instance still reporting Up).

use serde_json::{Map, Value};

use crate::requests::{RequestError, account, cluster, invalid, regions};
use crate::server_group::ServerGroup;

/// What a cluster-wide stage does to each group it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterOperation {
    Disable,
    ScaleDown,
    Shrink,
}

impl ClusterOperation {
    pub fn of_stage_type(stage_type: &str) -> Option<Self> {
        match stage_type {
            "disableCluster" => Some(Self::Disable),
            "scaleDownCluster" => Some(Self::ScaleDown),
            "shrinkCluster" => Some(Self::Shrink),
            _ => None,
        }
    }

    /// The context field that says how many groups stay.
    fn keep_field(self) -> &'static str {
        match self {
            Self::Disable => "remainingEnabledServerGroups",
            Self::ScaleDown => "remainingFullSizeServerGroups",
            Self::Shrink => "shrinkToSize",
        }
    }

    fn prefer_larger_field(self) -> &'static str {
        match self {
            Self::Shrink => "retainLargerOverNewer",
            _ => "preferLargerOverNewer",
        }
    }

    /// The flag that lets it act on enabled groups (a disable acts on nothing else).
    fn include_active_field(self) -> Option<&'static str> {
        match self {
            Self::Disable => None,
            Self::ScaleDown => Some("allowScaleDownActive"),
            Self::Shrink => Some("allowDeleteActive"),
        }
    }
}

/// A cluster-wide stage, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRequest {
    pub operation: ClusterOperation,
    pub account: String,
    pub regions: Vec<String>,
    pub cluster: String,
    /// How many groups per region stay as they are.
    pub keep: usize,
    pub prefer_larger: bool,
    pub include_active: bool,
    /// `continueIfClusterNotFound`: a cluster without groups is not a failure.
    pub continue_if_not_found: bool,
}

impl ClusterRequest {
    /// Whether finding no group at all is fine (Orca's `shrinkCluster` to 0 too).
    pub fn may_find_nothing(&self) -> bool {
        self.continue_if_not_found || (self.operation == ClusterOperation::Shrink && self.keep == 0)
    }
}

pub fn request(
    operation: ClusterOperation,
    context: &Map<String, Value>,
) -> Result<ClusterRequest, RequestError> {
    let regions = regions(context);
    if regions.is_empty() {
        return Err(invalid("regions", "name at least one region"));
    }
    let keep_field = operation.keep_field();
    let keep = match crate::requests::int(context.get(keep_field), keep_field)? {
        None => 1,
        Some(keep) => {
            usize::try_from(keep).map_err(|_| invalid(keep_field, "must not be negative"))?
        }
    };
    Ok(ClusterRequest {
        operation,
        account: account(context)?,
        regions,
        cluster: cluster(context)?,
        keep,
        prefer_larger: flag(context, operation.prefer_larger_field()),
        include_active: operation
            .include_active_field()
            .is_some_and(|field| flag(context, field)),
        continue_if_not_found: flag(context, "continueIfClusterNotFound"),
    })
}

/// Jackson reads `true` and `"true"` alike.
fn flag(context: &Map<String, Value>, key: &str) -> bool {
    match context.get(key) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(text)) => text.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn is_active(group: &ServerGroup) -> bool {
    !group.is_disabled()
}

/// The groups of one region of the cluster that the stage acts on.
pub fn targets<'a>(request: &ClusterRequest, groups: &'a [ServerGroup]) -> Vec<&'a ServerGroup> {
    let (candidates, spared): (Vec<&ServerGroup>, usize) = match request.operation {
        // Orca counts only groups it must not touch at all against the number kept, not
        // the disabled ones: a disable keeps `keep` enabled groups.
        ClusterOperation::Disable => (groups.iter().filter(|g| is_active(g)).collect(), 0),
        _ if request.include_active => (groups.iter().collect(), 0),
        _ => {
            let inactive: Vec<&ServerGroup> = groups.iter().filter(|g| !is_active(g)).collect();
            let spared = groups.len() - inactive.len();
            (inactive, spared)
        }
    };
    let mut ranked = candidates;
    ranked.sort_by_key(|group| {
        let active_first = request.operation != ClusterOperation::Disable
            && request.include_active
            && is_active(group);
        let size = if request.prefer_larger {
            group.instances.len()
        } else {
            0
        };
        let sequence = group.parsed_name().map_or(0, |name| name.sequence);
        std::cmp::Reverse((active_first, size, group.created_time, sequence))
    });
    let keep = request.keep.saturating_sub(spared);
    ranked.into_iter().skip(keep).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Capacity;
    use serde_json::json;

    fn group(name: &str, created_time: i64, disabled: bool, instances: usize) -> ServerGroup {
        ServerGroup {
            name: name.into(),
            account: "default".into(),
            region: "us-east-1".into(),
            created_time,
            capacity: Capacity {
                min: 0,
                max: 4,
                desired: instances as i32,
            },
            suspended_processes: if disabled {
                vec!["AddToLoadBalancer".into()]
            } else {
                vec![]
            },
            zones: vec![],
            target_groups: vec![],
            launch_template: None,
            launch: None,
            image: None,
            instances: (0..instances)
                .map(|i| crate::server_group::Instance {
                    instance_id: format!("i-{name}-{i}"),
                    availability_zone: "us-east-1a".into(),
                    health: vec![],
                })
                .collect(),
            tags: Default::default(),
        }
    }

    fn request_of(stage_type: &str, extra: Value) -> ClusterRequest {
        let mut context =
            json!({"cluster": "shop-web", "credentials": "default", "regions": ["us-east-1"]});
        for (key, value) in extra.as_object().unwrap() {
            context[key] = value.clone();
        }
        request(
            ClusterOperation::of_stage_type(stage_type).unwrap(),
            context.as_object().unwrap(),
        )
        .unwrap()
    }

    fn names(targets: Vec<&ServerGroup>) -> Vec<&str> {
        targets
            .into_iter()
            .map(|group| group.name.as_str())
            .collect()
    }

    /// v000 (oldest, largest, enabled), v001 (disabled), v002 (enabled), v003 (newest, enabled).
    fn cluster_groups() -> Vec<ServerGroup> {
        vec![
            group("shop-web-v000", 1, false, 3),
            group("shop-web-v001", 2, true, 1),
            group("shop-web-v002", 3, false, 1),
            group("shop-web-v003", 4, false, 1),
        ]
    }

    #[test]
    fn requests_read_decks_fields_with_defaults_and_strings() {
        let request = request_of("scaleDownCluster", json!({}));
        assert_eq!(
            (request.keep, request.prefer_larger, request.include_active),
            (1, false, false)
        );
        let request = request_of(
            "shrinkCluster",
            json!({"shrinkToSize": "2", "allowDeleteActive": "true", "retainLargerOverNewer": true}),
        );
        assert_eq!(
            (request.keep, request.prefer_larger, request.include_active),
            (2, true, true)
        );
        let mut context = json!({"cluster": "shop-web", "credentials": "default", "regions": []});
        let error =
            super::request(ClusterOperation::Disable, context.as_object().unwrap()).unwrap_err();
        assert_eq!(error.field, "regions");
        context["regions"] = json!(["us-east-1"]);
        context["remainingEnabledServerGroups"] = json!(-1);
        let error =
            super::request(ClusterOperation::Disable, context.as_object().unwrap()).unwrap_err();
        assert_eq!(error.field, "remainingEnabledServerGroups");
    }

    #[test]
    fn disable_keeps_the_newest_or_largest_enabled_groups() {
        let groups = cluster_groups();
        let request = request_of("disableCluster", json!({}));
        assert_eq!(
            names(targets(&request, &groups)),
            ["shop-web-v002", "shop-web-v000"]
        );
        let request = request_of(
            "disableCluster",
            json!({"remainingEnabledServerGroups": 1, "preferLargerOverNewer": true}),
        );
        assert_eq!(
            names(targets(&request, &groups)),
            ["shop-web-v003", "shop-web-v002"]
        );
        let request = request_of("disableCluster", json!({"remainingEnabledServerGroups": 0}));
        assert_eq!(targets(&request, &groups).len(), 3);
    }

    #[test]
    fn scale_down_and_shrink_spare_enabled_groups_unless_allowed() {
        let groups = cluster_groups();
        // The three enabled groups are spared and count as kept, more than the one asked
        // for: every disabled group is scaled down.
        let request = request_of(
            "scaleDownCluster",
            json!({"remainingFullSizeServerGroups": 1}),
        );
        assert_eq!(names(targets(&request, &groups)), ["shop-web-v001"]);
        let request = request_of("shrinkCluster", json!({"shrinkToSize": 0}));
        assert_eq!(names(targets(&request, &groups)), ["shop-web-v001"]);
        // Allowed to act on enabled groups, it keeps enabled ones first, newest first.
        let request = request_of(
            "shrinkCluster",
            json!({"shrinkToSize": 2, "allowDeleteActive": true}),
        );
        assert_eq!(
            names(targets(&request, &groups)),
            ["shop-web-v000", "shop-web-v001"]
        );
        let request = request_of(
            "scaleDownCluster",
            json!({"remainingFullSizeServerGroups": 1, "allowScaleDownActive": true,
                   "preferLargerOverNewer": true}),
        );
        assert_eq!(
            names(targets(&request, &groups)),
            ["shop-web-v003", "shop-web-v002", "shop-web-v001"]
        );
    }

    #[test]
    fn a_cluster_of_disabled_groups_is_scaled_down_to_the_kept_number() {
        let groups = vec![
            group("shop-web-v000", 1, true, 1),
            group("shop-web-v001", 2, true, 1),
            group("shop-web-v002", 3, false, 1),
        ];
        let request = request_of("scaleDownCluster", json!({}));
        assert_eq!(
            names(targets(&request, &groups)),
            ["shop-web-v001", "shop-web-v000"]
        );
        let request = request_of("shrinkCluster", json!({}));
        assert_eq!(
            names(targets(&request, &groups)),
            ["shop-web-v001", "shop-web-v000"]
        );
        let request = request_of("shrinkCluster", json!({"shrinkToSize": 2}));
        assert_eq!(names(targets(&request, &groups)), ["shop-web-v000"]);
    }
}
