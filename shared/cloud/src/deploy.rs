//! The `deploy` stage (Orca's `CreateServerGroupStage` and its strategies) read into checked deployments, and the pure rules of
//! its strategies: which older groups a red/black shrinks away, how far a rolling
//! red/black step sizes the new group, how many old instances a step takes out of service.
//!
//! Orca plans a deploy as synthetic child stages; Gennaker has only top-level stages, so
//! one worker runs every deployment of the stage (one per cluster and region) step by step.

use serde_json::{Map, Value};

use crate::capacity::Capacity;
use crate::requests::{self, CreateRequest, RequestError, invalid};
use crate::server_group::{ServerGroup, newest_first};

/// How the new group replaces the cluster's older ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `none` (or absent): only create the new group.
    None,
    /// `highlander`: once the new group is up, destroy every older group.
    Highlander,
    /// `redblack`: once the new group is up, disable the older ones (then optionally
    /// scale them down, and destroy beyond `maxRemainingAsgs`).
    RedBlack,
    /// `rollingredblack`: grow the new group through `targetPercentages`, taking the
    /// same share of the old groups out of service at each step.
    RollingRedBlack,
}

impl Strategy {
    fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("") {
            "" | "none" => Ok(Self::None),
            "highlander" => Ok(Self::Highlander),
            "redblack" => Ok(Self::RedBlack),
            "rollingredblack" => Ok(Self::RollingRedBlack),
            other => Err(format!(
                "'{other}' is not supported (none, highlander, redblack, rollingredblack)"
            )),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Highlander => "highlander",
            Self::RedBlack => "redblack",
            Self::RollingRedBlack => "rollingredblack",
        }
    }
}

/// The strategy settings of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyOptions {
    pub strategy: Strategy,
    /// `scaleDown`: scale the disabled groups to zero.
    pub scale_down: bool,
    /// `maxRemainingAsgs`: how many groups (the new one included) a red/black keeps.
    pub max_remaining_asgs: Option<usize>,
    /// `delayBeforeDisableSec` (alias `delayBeforeCleanup`).
    pub delay_before_disable_seconds: u64,
    /// `delayBeforeScaleDownSec`.
    pub delay_before_scale_down_seconds: u64,
    /// `targetPercentages` of a rolling red/black, ascending, always ending at 100.
    pub target_percentages: Vec<u32>,
    /// `rollback.onFailure`: re-enable the old groups and destroy the new one on failure.
    pub rollback_on_failure: bool,
    /// `useSourceCapacity` (or `source.useSourceCapacity`): copy the current group's size.
    pub use_source_capacity: bool,
}

/// One deployment: one cluster in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// `clusters[i]` in error messages and progress.
    pub index: usize,
    pub request: CreateRequest,
    pub options: StrategyOptions,
}

impl Deployment {
    /// A stable key of this deployment within the stage: `"<index>:<region>"`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.index, self.request.location.region)
    }
}

/// Reads a deploy stage context: `clusters[]` (or a legacy single `cluster` object), each
/// expanded to one deployment per region. A cluster without `imageId`/`amiName` takes the
/// image of the `deploymentDetails` entry for its region (what bake and findImage output).
pub fn deployments(context: &Map<String, Value>) -> Result<Vec<Deployment>, RequestError> {
    let clusters: Vec<&Map<String, Value>> = match (context.get("clusters"), context.get("cluster"))
    {
        (Some(Value::Array(clusters)), _) => clusters
            .iter()
            .enumerate()
            .map(|(i, cluster)| {
                cluster
                    .as_object()
                    .ok_or_else(|| invalid(&format!("clusters[{i}]"), "must be an object"))
            })
            .collect::<Result<_, _>>()?,
        (None | Some(Value::Null), Some(Value::Object(cluster))) => vec![cluster],
        (Some(_), _) => return Err(invalid("clusters", "must be an array of clusters")),
        _ => return Err(invalid("clusters", "give at least one cluster to deploy")),
    };
    if clusters.is_empty() {
        return Err(invalid("clusters", "give at least one cluster to deploy"));
    }
    let details = deployment_details(context);
    let mut deployments = Vec::new();
    for (index, cluster) in clusters.into_iter().enumerate() {
        let prefix = format!("clusters[{index}]");
        let options = strategy_options(cluster).map_err(|e| prefixed(&prefix, e))?;
        let regions = requests::regions(cluster);
        if regions.is_empty() {
            return Err(invalid(&format!("{prefix}.region"), "name the region"));
        }
        for region in regions {
            let single = single_region(cluster, &region, &details, options.use_source_capacity);
            let request = requests::create(&single).map_err(|e| prefixed(&prefix, e))?;
            deployments.push(Deployment {
                index,
                request,
                options: options.clone(),
            });
        }
    }
    Ok(deployments)
}

fn prefixed(prefix: &str, error: RequestError) -> RequestError {
    RequestError {
        field: format!("{prefix}.{}", error.field),
        message: error.message,
    }
}

fn deployment_details(context: &Map<String, Value>) -> Vec<Map<String, Value>> {
    match context.get("deploymentDetails") {
        Some(Value::Array(details)) => details
            .iter()
            .filter_map(Value::as_object)
            .cloned()
            .collect(),
        _ => vec![],
    }
}

/// The cluster narrowed to `region`, with its image filled from `deploymentDetails` when
/// it names none, and a placeholder capacity when the source group's will be used.
fn single_region(
    cluster: &Map<String, Value>,
    region: &str,
    details: &[Map<String, Value>],
    use_source_capacity: bool,
) -> Map<String, Value> {
    let mut single = cluster.clone();
    single.remove("regions");
    single.insert("region".into(), Value::String(region.to_string()));
    if let Some(Value::Object(zones)) = cluster.get("availabilityZones") {
        let mine = zones.get(region).cloned().unwrap_or(Value::Array(vec![]));
        single.insert(
            "availabilityZones".into(),
            Value::Object(Map::from_iter([(region.to_string(), mine)])),
        );
    }
    let names_image = ["imageId", "amiName"].iter().any(|key| {
        cluster
            .get(*key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    });
    if !names_image && let Some(image) = image_in(details, region) {
        single.insert("imageId".into(), Value::String(image));
    }
    if use_source_capacity && !cluster.contains_key("capacity") {
        // Replaced by the source group's capacity before anything is created.
        single.insert(
            "capacity".into(),
            serde_json::json!({"min": 0, "max": 0, "desired": 0}),
        );
    }
    single
}

/// The image of the `deploymentDetails` entry for `region` (`ami`, else `imageId`).
pub(crate) fn image_for_region(context: &Map<String, Value>, region: &str) -> Option<String> {
    image_in(&deployment_details(context), region)
}

fn image_in(details: &[Map<String, Value>], region: &str) -> Option<String> {
    let for_region = details
        .iter()
        .find(|detail| detail.get("region").and_then(Value::as_str) == Some(region))?;
    ["ami", "imageId"]
        .iter()
        .find_map(|key| for_region.get(*key).and_then(Value::as_str))
        .map(str::to_string)
}

fn flag(context: &Map<String, Value>, key: &str) -> bool {
    match context.get(key) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(text)) => text.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn whole(context: &Map<String, Value>, key: &str) -> Result<Option<u64>, RequestError> {
    match context.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(key, "must be a whole number, not negative")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(key, format!("'{s}' is not a whole number"))),
        Some(_) => Err(invalid(key, "must be a whole number")),
    }
}

fn strategy_options(cluster: &Map<String, Value>) -> Result<StrategyOptions, RequestError> {
    let strategy = Strategy::parse(cluster.get("strategy").and_then(Value::as_str))
        .map_err(|message| invalid("strategy", message))?;
    if cluster
        .get("pipelineBeforeCleanup")
        .and_then(Value::as_object)
        .is_some_and(|before| before.get("pipelineId").is_some_and(|id| !id.is_null()))
    {
        return Err(invalid(
            "pipelineBeforeCleanup",
            "running a pipeline between rolling steps is not supported yet",
        ));
    }
    let max_remaining_asgs = whole(cluster, "maxRemainingAsgs")?
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        .filter(|n| *n > 0);
    let delay_before_disable_seconds = match whole(cluster, "delayBeforeDisableSec")? {
        Some(seconds) => seconds,
        None => whole(cluster, "delayBeforeCleanup")?.unwrap_or(0),
    };
    let target_percentages = match cluster.get("targetPercentages") {
        None | Some(Value::Null) => vec![50, 100],
        Some(Value::Array(items)) => target_percentages(items)?,
        Some(_) => {
            return Err(invalid(
                "targetPercentages",
                "must be a list of percentages",
            ));
        }
    };
    let rollback_on_failure = cluster
        .get("rollback")
        .and_then(Value::as_object)
        .is_some_and(|rollback| flag(rollback, "onFailure"));
    let use_source_capacity = flag(cluster, "useSourceCapacity")
        || cluster
            .get("source")
            .and_then(Value::as_object)
            .is_some_and(|source| flag(source, "useSourceCapacity"));
    Ok(StrategyOptions {
        strategy,
        scale_down: flag(cluster, "scaleDown"),
        max_remaining_asgs,
        delay_before_disable_seconds,
        delay_before_scale_down_seconds: whole(cluster, "delayBeforeScaleDownSec")?.unwrap_or(0),
        target_percentages,
        rollback_on_failure,
        use_source_capacity,
    })
}

/// Ascending percentages in 1..=100; 100 is appended when missing (Orca always ends
/// a rolling red/black at full size).
fn target_percentages(items: &[Value]) -> Result<Vec<u32>, RequestError> {
    let mut percentages = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("targetPercentages[{i}]");
        let value = match item {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(&field, "must be a whole percentage"))?;
        if !(1..=100).contains(&value) {
            return Err(invalid(&field, format!("{value} is not between 1 and 100")));
        }
        let value = value as u32;
        if percentages.last().is_some_and(|last| *last >= value) {
            return Err(invalid(&field, "percentages must go up"));
        }
        percentages.push(value);
    }
    if percentages.last() != Some(&100) {
        percentages.push(100);
    }
    Ok(percentages)
}

/// The new group's capacity at one rolling step: `percent` of the final desired size,
/// rounded up; min follows desired down, max stays.
pub fn rolling_capacity(target: Capacity, percent: u32) -> Capacity {
    if percent >= 100 {
        return target;
    }
    let desired = (i64::from(target.desired) * i64::from(percent) + 99) / 100;
    let desired = i32::try_from(desired).unwrap_or(target.desired);
    Capacity {
        min: target.min.min(desired),
        max: target.max,
        desired,
    }
}

/// How many of `instances` a rolling step at `percent` takes out of service (rounded up).
pub fn instances_out_of_service(instances: usize, percent: u32) -> usize {
    (instances * percent.min(100) as usize).div_ceil(100)
}

/// The older groups a red/black destroys so that `max_remaining` groups (the new one
/// included) are left: the oldest first.
pub fn groups_beyond(older: &[ServerGroup], max_remaining: usize) -> Vec<&ServerGroup> {
    let newest = newest_first(older.iter());
    let keep_older = max_remaining.saturating_sub(1);
    newest.into_iter().skip(keep_older).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(extra: Value) -> Value {
        let mut cluster = json!({
            "application": "shop", "stack": "web", "account": "default",
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
            "capacity": {"min": 2, "max": 4, "desired": 2},
            "instanceType": "t3.micro", "imageId": "ami-12345678",
        });
        for (key, value) in extra.as_object().unwrap() {
            cluster[key] = value.clone();
        }
        cluster
    }

    fn read(context: Value) -> Result<Vec<Deployment>, RequestError> {
        deployments(context.as_object().unwrap())
    }

    #[test]
    fn each_cluster_and_region_is_one_deployment() {
        let two_regions = cluster(json!({
            "availabilityZones": {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2b"]}
        }));
        let found =
            read(json!({"clusters": [two_regions, cluster(json!({"stack": "api"}))]})).unwrap();
        let keys: Vec<_> = found.iter().map(Deployment::key).collect();
        assert_eq!(keys, ["0:us-east-1", "0:us-west-2", "1:us-east-1"]);
        assert_eq!(found[1].request.zones, ["us-west-2b"]);
        assert_eq!(found[2].request.cluster.to_string(), "shop-api");
    }

    #[test]
    fn the_image_comes_from_deployment_details_of_the_region() {
        let mut without_image = cluster(json!({}));
        without_image.as_object_mut().unwrap().remove("imageId");
        let context = json!({
            "clusters": [without_image],
            "deploymentDetails": [
                {"region": "eu-west-1", "ami": "ami-eu"},
                {"region": "us-east-1", "ami": "ami-us", "imageId": "ignored"}
            ]
        });
        let found = read(context).unwrap();
        assert_eq!(
            found[0].request.image,
            requests::ImageRef::Id("ami-us".into())
        );
    }

    #[test]
    fn bad_clusters_name_the_field() {
        let error = read(json!({"clusters": [cluster(json!({"capacity": {"min": 3, "max": 1}}))]}))
            .unwrap_err();
        assert_eq!(error.field, "clusters[0].capacity");
        let error =
            read(json!({"clusters": [cluster(json!({"strategy": "custom"}))]})).unwrap_err();
        assert_eq!(error.field, "clusters[0].strategy");
        assert!(error.message.contains("custom"), "{error}");
        let error = read(json!({"clusters": []})).unwrap_err();
        assert_eq!(error.field, "clusters");
        let error = read(json!({"clusters": [cluster(json!({"targetPercentages": [50, 20]}))]}))
            .unwrap_err();
        assert_eq!(error.field, "clusters[0].targetPercentages[1]");
    }

    #[test]
    fn strategy_options_follow_decks_fields() {
        let found = read(json!({"cluster": cluster(json!({
            "strategy": "rollingredblack", "targetPercentages": [25, 50], "scaleDown": true,
            "maxRemainingAsgs": 3, "delayBeforeCleanup": 5, "delayBeforeScaleDownSec": "7",
            "rollback": {"onFailure": true}, "source": {"useSourceCapacity": true}
        }))}))
        .unwrap();
        let options = &found[0].options;
        assert_eq!(options.strategy, Strategy::RollingRedBlack);
        assert_eq!(options.target_percentages, [25, 50, 100]);
        assert!(options.scale_down && options.rollback_on_failure && options.use_source_capacity);
        assert_eq!(options.max_remaining_asgs, Some(3));
        assert_eq!(options.delay_before_disable_seconds, 5);
        assert_eq!(options.delay_before_scale_down_seconds, 7);
    }

    #[test]
    fn strategy_numbers_may_be_strings_and_nulls_mean_unset() {
        let found = read(json!({"cluster": cluster(json!({
            "strategy": "redblack", "maxRemainingAsgs": "2", "delayBeforeDisableSec": null,
            "delayBeforeScaleDownSec": "", "targetPercentages": null, "scaleDown": "true"
        }))}))
        .unwrap();
        let options = &found[0].options;
        assert_eq!(options.max_remaining_asgs, Some(2));
        assert_eq!(options.delay_before_disable_seconds, 0);
        assert_eq!(options.delay_before_scale_down_seconds, 0);
        assert!(options.scale_down);
    }

    #[test]
    fn use_source_capacity_needs_no_capacity() {
        let mut sized_by_source = cluster(json!({"useSourceCapacity": true}));
        sized_by_source.as_object_mut().unwrap().remove("capacity");
        assert!(read(json!({"clusters": [sized_by_source]})).is_ok());
    }

    #[test]
    fn shrinking_keeps_the_newest_older_groups() {
        let group = |name: &str, created_time: i64| ServerGroup {
            name: name.into(),
            account: "default".into(),
            region: "us-east-1".into(),
            created_time,
            capacity: Capacity {
                min: 1,
                max: 1,
                desired: 1,
            },
            suspended_processes: vec![],
            zones: vec![],
            target_groups: vec![],
            launch_template: None,
            launch: None,
            image: None,
            instances: vec![],
            tags: Default::default(),
        };
        let older = [
            group("shop-v000", 1),
            group("shop-v002", 3),
            group("shop-v001", 2),
        ];
        let names = |groups: Vec<&ServerGroup>| -> Vec<String> {
            groups.iter().map(|g| g.name.clone()).collect()
        };
        assert_eq!(names(groups_beyond(&older, 2)), ["shop-v001", "shop-v000"]);
        assert_eq!(names(groups_beyond(&older, 1)).len(), 3);
        assert!(groups_beyond(&older, 4).is_empty());
    }

    #[test]
    fn rolling_steps_round_up_and_end_at_the_target() {
        let target = Capacity {
            min: 2,
            max: 6,
            desired: 3,
        };
        assert_eq!(
            rolling_capacity(target, 50),
            Capacity {
                min: 2,
                max: 6,
                desired: 2
            }
        );
        assert_eq!(rolling_capacity(target, 10).desired, 1);
        assert_eq!(rolling_capacity(target, 10).min, 1);
        assert_eq!(rolling_capacity(target, 100), target);
        assert_eq!(instances_out_of_service(3, 50), 2);
        assert_eq!(instances_out_of_service(4, 50), 2);
        assert_eq!(instances_out_of_service(0, 50), 0);
        assert_eq!(instances_out_of_service(3, 100), 3);
    }
}
