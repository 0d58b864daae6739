//! What a server group is, as read from AWS (an Auto Scaling group, its launch template,
//! instances and target health), and the pure rules over a cluster's groups: Orca's
//! dynamic targets and find-image selection.

use std::collections::BTreeMap;

use crate::capacity::Capacity;
use crate::naming::ServerGroupName;

/// The Auto Scaling process whose suspension marks a server group disabled (Clouddriver's
/// rule): a disabled group takes no traffic from its target groups.
pub const ADD_TO_LOAD_BALANCER: &str = "AddToLoadBalancer";
/// Processes a disable suspends and an enable resumes.
pub const DISABLE_PROCESSES: [&str; 2] = ["Launch", ADD_TO_LOAD_BALANCER];

/// The launch settings of a server group (its launch template version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchSettings {
    pub image_id: String,
    pub instance_type: String,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    pub user_data: Option<String>,
    pub iam_instance_profile: Option<String>,
}

/// An image (AMI) as Deck and find-image read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    pub image_id: String,
    pub name: String,
    pub creation_date: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// One health report of an instance, in Spinnaker's vocabulary (`Up`, `Down`, `Starting`,
/// `OutOfService`, `Unknown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `Amazon` (the Auto Scaling group's view) or `TargetGroup`.
    pub kind: &'static str,
    pub state: &'static str,
    /// The target group (name) for `TargetGroup` health.
    pub target_group: Option<String>,
}

/// An instance of a server group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: String,
    pub availability_zone: String,
    pub health: Vec<Health>,
}

impl Instance {
    /// Clouddriver's overall health: any `Down` wins, then `OutOfService`, then
    /// `Starting`; `Up` when some report is `Up`; otherwise `Unknown`.
    pub fn health_state(&self) -> &'static str {
        ["Down", "OutOfService", "Starting", "Up"]
            .into_iter()
            .find(|state| self.health.iter().any(|health| health.state == *state))
            .unwrap_or("Unknown")
    }
}

impl Instance {
    /// Whether the instance counts as up for a deploy: with no `providers`, by its overall
    /// health; with Deck's `interestingHealthProviderNames` (`Amazon`, `TargetGroup`,
    /// `LoadBalancer`), by those reports only — some Up and none Down, as Orca decides.
    pub fn is_up_for(&self, providers: &[String]) -> bool {
        if providers.is_empty() {
            return self.health_state() == "Up";
        }
        let interesting: Vec<&Health> = self
            .health
            .iter()
            .filter(|health| {
                providers.iter().any(|provider| match provider.as_str() {
                    "LoadBalancer" | "TargetGroup" => health.kind == "TargetGroup",
                    other => health.kind == other,
                })
            })
            .collect();
        interesting.iter().any(|health| health.state == "Up")
            && !interesting.iter().any(|health| health.state == "Down")
    }
}

/// Spinnaker state of an instance as its Auto Scaling group reports it.
pub fn auto_scaling_health(lifecycle_state: &str, health_status: &str) -> &'static str {
    match (lifecycle_state, health_status) {
        (_, "Unhealthy") => "Down",
        ("InService", _) => "Up",
        ("Pending" | "Pending:Wait" | "Pending:Proceed", _) => "Starting",
        ("Standby" | "Detaching" | "Detached", _) => "OutOfService",
        (state, _) if state.starts_with("Terminat") => "Down",
        _ => "Unknown",
    }
}

/// Spinnaker state of a target as ELBv2 reports it.
pub fn target_group_health(target_state: &str) -> &'static str {
    match target_state {
        "healthy" => "Up",
        "initial" => "Starting",
        "unhealthy" => "Down",
        "unused" | "draining" => "OutOfService",
        _ => "Unknown",
    }
}

/// A server group in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGroup {
    pub name: String,
    pub account: String,
    pub region: String,
    /// Creation time, epoch milliseconds.
    pub created_time: i64,
    pub capacity: Capacity,
    pub suspended_processes: Vec<String>,
    pub zones: Vec<String>,
    /// Names of the target groups the group is attached to.
    pub target_groups: Vec<String>,
    pub launch_template: Option<LaunchTemplateRef>,
    pub launch: Option<LaunchSettings>,
    pub image: Option<Image>,
    pub instances: Vec<Instance>,
    pub tags: BTreeMap<String, String>,
}

/// The launch template a group launches from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplateRef {
    pub id: String,
    pub name: String,
    pub version: String,
}

impl ServerGroup {
    pub fn is_disabled(&self) -> bool {
        self.suspended_processes
            .iter()
            .any(|process| process == ADD_TO_LOAD_BALANCER)
    }

    pub fn parsed_name(&self) -> Option<ServerGroupName> {
        ServerGroupName::parse(&self.name).ok()
    }

    pub fn cluster(&self) -> Option<String> {
        self.parsed_name().map(|name| name.cluster.to_string())
    }
}

/// Orca's dynamic server group targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `current_asg_dynamic` (and legacy `current_asg`): the newest group.
    Current,
    /// `ancestor_asg_dynamic` (and legacy `ancestor_asg`): the one before the newest.
    Ancestor,
    /// `oldest_asg_dynamic`: the oldest group.
    Oldest,
    /// `largest_asg_dynamic`: the group with the most instances (newest on a tie).
    Largest,
}

impl Target {
    pub fn parse(target: &str) -> Option<Self> {
        match target {
            "current_asg_dynamic" | "current_asg" => Some(Self::Current),
            "ancestor_asg_dynamic" | "ancestor_asg" => Some(Self::Ancestor),
            "oldest_asg_dynamic" | "oldest_asg" => Some(Self::Oldest),
            "largest_asg_dynamic" | "largest_asg" => Some(Self::Largest),
            _ => None,
        }
    }

    /// The group of `groups` (one cluster in one location) this target names.
    pub fn resolve<'a>(&self, groups: &'a [ServerGroup]) -> Option<&'a ServerGroup> {
        let newest_first = newest_first(groups.iter());
        match self {
            Self::Current => newest_first.first().copied(),
            Self::Ancestor => newest_first.get(1).copied(),
            Self::Oldest => newest_first.last().copied(),
            Self::Largest => newest_first
                .iter()
                .rev()
                .max_by_key(|group| group.instances.len())
                .copied(),
        }
    }
}

/// Groups ordered newest first (by creation time, then push number for equal times).
pub fn newest_first<'a>(groups: impl Iterator<Item = &'a ServerGroup>) -> Vec<&'a ServerGroup> {
    let mut groups: Vec<_> = groups.collect();
    groups.sort_by_key(|group| {
        let sequence = group.parsed_name().map_or(0, |name| name.sequence);
        std::cmp::Reverse((group.created_time, sequence))
    });
    groups
}

/// Find-image's `selectionStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSelection {
    Newest,
    Largest,
    Oldest,
    /// Fail when the cluster has more than one candidate group.
    Fail,
}

impl ImageSelection {
    pub fn parse(strategy: Option<&str>) -> Option<Self> {
        match strategy.map(str::to_ascii_uppercase).as_deref() {
            None | Some("NEWEST") => Some(Self::Newest),
            Some("LARGEST") => Some(Self::Largest),
            Some("OLDEST") => Some(Self::Oldest),
            Some("FAIL") => Some(Self::Fail),
            Some(_) => None,
        }
    }
}

/// Why find-image found nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindImageError {
    #[error("no {qualifier}server group of cluster '{cluster}' in {region}")]
    NoServerGroup {
        qualifier: &'static str,
        cluster: String,
        region: String,
    },
    #[error(
        "cluster '{cluster}' has {count} server groups in {region} and the selection strategy is FAIL"
    )]
    Ambiguous {
        cluster: String,
        region: String,
        count: usize,
    },
}

/// The group whose image find-image reports, among `groups` of one cluster in one region.
pub fn select_image_source<'a>(
    groups: &'a [ServerGroup],
    cluster: &str,
    region: &str,
    only_enabled: bool,
    selection: ImageSelection,
) -> Result<&'a ServerGroup, FindImageError> {
    let candidates: Vec<ServerGroup> = groups
        .iter()
        .filter(|group| !only_enabled || !group.is_disabled())
        .filter(|group| group.launch.is_some())
        .cloned()
        .collect();
    let none = || FindImageError::NoServerGroup {
        qualifier: if only_enabled { "enabled " } else { "" },
        cluster: cluster.to_string(),
        region: region.to_string(),
    };
    let target = match selection {
        ImageSelection::Newest => Target::Current,
        ImageSelection::Oldest => Target::Oldest,
        ImageSelection::Largest => Target::Largest,
        ImageSelection::Fail if candidates.len() > 1 => {
            return Err(FindImageError::Ambiguous {
                cluster: cluster.to_string(),
                region: region.to_string(),
                count: candidates.len(),
            });
        }
        ImageSelection::Fail => Target::Current,
    };
    let chosen = target.resolve(&candidates).ok_or_else(none)?;
    Ok(groups
        .iter()
        .find(|group| group.name == chosen.name)
        .expect("the candidate comes from groups"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn interesting_health_providers_decide_whether_an_instance_is_up() {
        let instance = Instance {
            instance_id: "i-1".into(),
            availability_zone: "us-east-1a".into(),
            health: vec![
                Health {
                    kind: "Amazon",
                    state: "Up",
                    target_group: None,
                },
                Health {
                    kind: "TargetGroup",
                    state: "OutOfService",
                    target_group: Some("tg".into()),
                },
            ],
        };
        assert!(!instance.is_up_for(&[]));
        assert!(instance.is_up_for(&["Amazon".to_string()]));
        assert!(!instance.is_up_for(&["TargetGroup".to_string()]));
        assert!(
            !instance.is_up_for(&["Discovery".to_string()]),
            "no report of it: not up"
        );
        let down = Instance {
            health: vec![
                Health {
                    kind: "Amazon",
                    state: "Down",
                    target_group: None,
                },
                Health {
                    kind: "TargetGroup",
                    state: "Up",
                    target_group: Some("tg".into()),
                },
            ],
            ..instance
        };
        assert!(!down.is_up_for(&["Amazon".to_string(), "LoadBalancer".to_string()]));
    }

    pub(crate) fn group(name: &str, created_time: i64, instances: usize) -> ServerGroup {
        ServerGroup {
            name: name.to_string(),
            account: "prod".into(),
            region: "us-east-1".into(),
            created_time,
            capacity: Capacity {
                min: 0,
                max: 5,
                desired: instances as i32,
            },
            suspended_processes: vec![],
            zones: vec!["us-east-1a".into()],
            target_groups: vec![],
            launch_template: None,
            launch: Some(LaunchSettings {
                image_id: format!("ami-{name}"),
                instance_type: "t3.micro".into(),
                ..LaunchSettings::default()
            }),
            image: None,
            instances: (0..instances)
                .map(|i| Instance {
                    instance_id: format!("i-{name}-{i}"),
                    availability_zone: "us-east-1a".into(),
                    health: vec![],
                })
                .collect(),
            tags: BTreeMap::new(),
        }
    }

    fn disabled(mut group: ServerGroup) -> ServerGroup {
        group.suspended_processes = DISABLE_PROCESSES.iter().map(|p| p.to_string()).collect();
        group
    }

    #[test]
    fn dynamic_targets_follow_creation_time() {
        let groups = [
            group("app-v001", 20, 1),
            group("app-v000", 10, 3),
            group("app-v002", 30, 2),
        ];
        let resolve = |target: &str| {
            Target::parse(target)
                .unwrap()
                .resolve(&groups)
                .map(|g| g.name.as_str())
        };
        assert_eq!(resolve("current_asg_dynamic"), Some("app-v002"));
        assert_eq!(resolve("ancestor_asg_dynamic"), Some("app-v001"));
        assert_eq!(resolve("oldest_asg_dynamic"), Some("app-v000"));
        assert_eq!(resolve("largest_asg_dynamic"), Some("app-v000"));
        assert_eq!(resolve("current_asg"), Some("app-v002"));
        assert_eq!(Target::parse("newest"), None);
    }

    #[test]
    fn wrapped_sequences_are_ordered_by_time_not_number() {
        let groups = [group("app-v999", 10, 1), group("app-v000", 20, 1)];
        assert_eq!(Target::Current.resolve(&groups).unwrap().name, "app-v000");
        assert_eq!(Target::Ancestor.resolve(&groups).unwrap().name, "app-v999");
    }

    #[test]
    fn largest_prefers_the_newest_on_a_tie() {
        let groups = [group("app-v000", 10, 2), group("app-v001", 20, 2)];
        assert_eq!(Target::Largest.resolve(&groups).unwrap().name, "app-v001");
    }

    #[test]
    fn ancestor_of_a_single_group_is_none() {
        assert!(
            Target::Ancestor
                .resolve(&[group("app-v000", 1, 1)])
                .is_none()
        );
        assert!(Target::Current.resolve(&[]).is_none());
    }

    #[test]
    fn find_image_skips_disabled_groups_when_asked() {
        let groups = [group("app-v000", 10, 1), disabled(group("app-v001", 20, 1))];
        let pick = |only_enabled, selection| {
            select_image_source(&groups, "app", "us-east-1", only_enabled, selection)
                .map(|g| g.name.clone())
        };
        assert_eq!(pick(true, ImageSelection::Newest).unwrap(), "app-v000");
        assert_eq!(pick(false, ImageSelection::Newest).unwrap(), "app-v001");
        assert_eq!(pick(false, ImageSelection::Oldest).unwrap(), "app-v000");
        assert!(matches!(
            pick(false, ImageSelection::Fail),
            Err(FindImageError::Ambiguous { count: 2, .. })
        ));
        assert_eq!(pick(true, ImageSelection::Fail).unwrap(), "app-v000");
        let none = select_image_source(
            &groups[1..],
            "app",
            "us-east-1",
            true,
            ImageSelection::Newest,
        );
        assert_eq!(
            none.unwrap_err().to_string(),
            "no enabled server group of cluster 'app' in us-east-1"
        );
        assert_eq!(
            ImageSelection::parse(Some("largest")),
            Some(ImageSelection::Largest)
        );
        assert_eq!(ImageSelection::parse(Some("biggest")), None);
    }

    #[test]
    fn health_states_combine_like_clouddriver() {
        let instance = |states: &[&'static str]| Instance {
            instance_id: "i".into(),
            availability_zone: "z".into(),
            health: states
                .iter()
                .map(|state| Health {
                    kind: "Amazon",
                    state,
                    target_group: None,
                })
                .collect(),
        };
        assert_eq!(instance(&["Up", "Up"]).health_state(), "Up");
        assert_eq!(instance(&["Up", "Down"]).health_state(), "Down");
        assert_eq!(instance(&["Up", "Starting"]).health_state(), "Starting");
        assert_eq!(instance(&[]).health_state(), "Unknown");
        assert_eq!(auto_scaling_health("InService", "Healthy"), "Up");
        assert_eq!(auto_scaling_health("InService", "Unhealthy"), "Down");
        assert_eq!(auto_scaling_health("Pending", "Healthy"), "Starting");
        assert_eq!(target_group_health("healthy"), "Up");
        assert_eq!(target_group_health("draining"), "OutOfService");
    }
}
