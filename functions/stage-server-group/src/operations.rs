//! One poll of one server-group stage.

mod cloudformation;
mod cluster;
mod network;

use gennaker_cloud::capacity::Capacity;
use gennaker_cloud::cluster::ClusterOperation;
use gennaker_cloud::requests::{self, ImageRef, Location, TargetSpec};
use gennaker_cloud::server_group::{Image, ServerGroup, newest_first, select_image_source};
use gennaker_cloud::views::build_info;
use gennaker_cloud::{RegionClients, next_sequence};
use gennaker_model::ExecutionStatus;
use gennaker_store::LoadedStage;
use gennaker_worker::{Answer, StageInput, Step, Stop, WorkerError};
use serde_json::{Map, Value, json};

use crate::ServerGroupWorker;

pub(crate) struct Poll<'a> {
    pub worker: &'a ServerGroupWorker,
    pub input: &'a StageInput,
    pub loaded: LoadedStage,
}

impl Poll<'_> {
    pub async fn run(self) -> Result<Answer, WorkerError> {
        let outcome = match self.input.stage_type.as_str() {
            "createServerGroup" => self.create().await,
            "deploy" => self.deploy().await,
            "cloneServerGroup" => self.clone_server_group().await,
            "rollbackServerGroup" => self.rollback().await,
            "resizeServerGroup" => self.on_target(Operation::Resize).await,
            "disableServerGroup" => self.on_target(Operation::Disable).await,
            "enableServerGroup" => self.on_target(Operation::Enable).await,
            "destroyServerGroup" => self.on_target(Operation::Destroy).await,
            "findImage" => self.find_image().await,
            "findImageFromTags" => self.find_image_from_tags().await,
            "upsertSecurityGroup" => self.upsert_security_group().await,
            "deleteSecurityGroup" => self.delete_security_group().await,
            "upsertLoadBalancer" => self.upsert_load_balancer().await,
            "deleteLoadBalancer" => self.delete_load_balancer().await,
            "disableCluster" => self.on_cluster(ClusterOperation::Disable).await,
            "scaleDownCluster" => self.on_cluster(ClusterOperation::ScaleDown).await,
            "shrinkCluster" => self.on_cluster(ClusterOperation::Shrink).await,
            "deployCloudFormation" => self.deploy_cloud_formation().await,
            other => Err(Stop::Failed(format!(
                "the server-group worker does not run '{other}' stages"
            ))),
        };
        match outcome {
            Ok(answer) => Ok(answer),
            Err(Stop::Failed(message)) => {
                Ok(Answer::terminal(message, self.input.previous_context()))
            }
            Err(Stop::Over) => Ok(Answer::finished(
                ExecutionStatus::Canceled,
                Map::new(),
                Map::new(),
            )),
            Err(Stop::Worker(error)) => Err(error),
        }
    }

    pub(crate) fn context(&self) -> Map<String, Value> {
        self.input.current_context()
    }

    pub(crate) async fn clients(&self, location: &Location) -> Step<RegionClients> {
        Ok(self
            .worker
            .cloud
            .region(&location.account, &location.region)
            .await?)
    }

    pub(crate) fn running(&self, context: Map<String, Value>) -> Answer {
        Answer::running(self.worker.poll_seconds, context)
    }

    /// Records `entries` unless the stored context already has `key`; the stored context.
    pub(crate) async fn record_once(
        &self,
        key: &str,
        entries: Map<String, Value>,
    ) -> Step<Map<String, Value>> {
        let stored = self
            .worker
            .progress
            .record_with(self.input, self.loaded.clone(), |stored| {
                (!stored.contains_key(key)).then(|| entries.clone())
            })
            .await?
            .ok_or(Stop::Over)?;
        Ok(stored.stage.context)
    }

    // ------------------------------------------------------------------ create

    async fn create(&self) -> Step<Answer> {
        self.create_with(&self.context()).await
    }

    /// Creates the group `context` describes (a create stage's own context, or a clone's
    /// source settings with the stage's fields laid over them).
    pub(crate) async fn create_with(&self, context: &Map<String, Value>) -> Step<Answer> {
        let request = requests::create(context)?;
        let clients = self.clients(&request.location).await?;
        let image = resolve_image(&clients, &request.image).await?;
        let region = &request.location.region;
        let name = match recorded_group(&self.loaded.stage.context, region) {
            Some(name) => name,
            None => {
                let cluster = request.cluster.to_string();
                let groups = cluster_groups(&clients, &cluster).await?;
                let latest = newest_first(groups.iter())
                    .first()
                    .and_then(|group| group.parsed_name())
                    .map(|name| name.sequence);
                let name = request.cluster.server_group(next_sequence(latest));
                if groups.iter().any(|group| group.name == name) {
                    return Err(Stop::Failed(format!(
                        "server group {name} already exists (the cluster has used every push number up to it)"
                    )));
                }
                let entries = Map::from_iter([
                    (
                        "deploy.server.groups".to_string(),
                        json!({ region.clone(): [name] }),
                    ),
                    (
                        "deploy.account.name".to_string(),
                        json!(request.location.account),
                    ),
                ]);
                let stored = self.record_once("deploy.server.groups", entries).await?;
                recorded_group(&stored, region).ok_or_else(|| {
                    Stop::Failed("deploy.server.groups has no group for this region".into())
                })?
            }
        };
        let done = Map::from_iter([
            (
                "deploy.server.groups".to_string(),
                json!({ region.clone(): [name] }),
            ),
            (
                "deploy.account.name".to_string(),
                json!(request.location.account),
            ),
            ("serverGroupName".to_string(), json!(name)),
        ]);
        if self.input.previous_context().get("created") != Some(&json!(true)) {
            let spec = request.spec(&name, &image.image_id, request.capacity);
            clients.create_server_group(&spec).await?;
            let mut context = done;
            context.insert("created".into(), json!(true));
            return Ok(self.running(context));
        }
        let group = clients.server_group(&name).await?.ok_or_else(|| {
            Stop::Failed(format!(
                "server group {name} disappeared while it was being created"
            ))
        })?;
        let mut context = done;
        context.insert("created".into(), json!(true));
        if is_up_for(&group, request.capacity.desired, &request.health_providers) {
            Ok(Answer::succeeded(context, Map::new()))
        } else {
            Ok(self.running(context))
        }
    }

    // ------------------------------------------------------------------ targets

    /// Resize, disable, enable or destroy the target group in every region of the stage
    /// (Orca plans one child stage per region; here one poll goes through them all).
    async fn on_target(&self, operation: Operation) -> Step<Answer> {
        let context = self.context();
        let locations = requests::locations(&context)?;
        let spec = requests::target_spec(&context)?;
        let resize = match operation {
            Operation::Resize => Some(requests::resize(&context)?),
            _ => None,
        };
        let mut clients = Vec::new();
        for location in &locations {
            clients.push(self.clients(location).await?);
        }
        let stored = &self.loaded.stage.context;
        let targets = match recorded_targets(stored, &locations) {
            Some(targets) => targets,
            None => {
                let mut targets = Map::new();
                for region_clients in &clients {
                    let group = resolve_target(region_clients, &spec).await?;
                    let mut target =
                        Map::from_iter([("serverGroupName".into(), json!(group.name))]);
                    if let Some(resize) = resize {
                        let capacity = resize
                            .apply(group.capacity)
                            .map_err(|e| Stop::Failed(e.to_string()))?;
                        target.insert("targetCapacity".into(), json!(capacity));
                    }
                    targets.insert(region_clients.region.clone(), Value::Object(target));
                }
                let mut entries = first_target_entries(&targets, &locations);
                entries.insert("targets".into(), Value::Object(targets));
                entries.insert("targetResolved".into(), json!(true));
                let stored = self.record_once("targetResolved", entries).await?;
                recorded_targets(&stored, &locations).ok_or_else(|| {
                    Stop::Failed("the resolved targets could not be read back".into())
                })?
            }
        };
        let acted = self.input.previous_context().get("acted") == Some(&json!(true));
        let mut all_reached = true;
        for region_clients in &clients {
            let target = targets
                .get(&region_clients.region)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let reached = self
                .act_on_target(region_clients, operation, &target, acted)
                .await?;
            all_reached &= reached;
        }
        let mut context = first_target_entries(&targets, &locations);
        if locations.len() > 1 {
            context.insert("targets".into(), Value::Object(targets));
        }
        context.insert("acted".into(), json!(true));
        if all_reached {
            Ok(Answer::succeeded(context, Map::new()))
        } else {
            Ok(self.running(context))
        }
    }

    /// Acts on one region's target (on the first poll) or checks that it reached the
    /// wanted state (on later ones).
    async fn act_on_target(
        &self,
        clients: &RegionClients,
        operation: Operation,
        target: &Map<String, Value>,
        acted: bool,
    ) -> Step<bool> {
        let name = target
            .get("serverGroupName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(group) = clients.server_group(&name).await? else {
            return match operation {
                Operation::Destroy if acted => Ok(true),
                _ => Err(Stop::Failed(format!(
                    "server group {name} not found in {}",
                    clients.region
                ))),
            };
        };
        let reached = match operation {
            Operation::Resize => {
                let capacity: Capacity = serde_json::from_value(
                    target.get("targetCapacity").cloned().unwrap_or_default(),
                )
                .map_err(|e| Stop::Failed(format!("targetCapacity: {e}")))?;
                if !acted {
                    clients.resize(&name, capacity).await?;
                }
                acted && group.capacity == capacity && is_up(&group, capacity.desired)
            }
            Operation::Disable => {
                if !acted {
                    clients.disable(&group).await?;
                }
                acted && group.is_disabled() && group.target_groups.is_empty()
            }
            Operation::Enable => {
                if !acted {
                    clients.enable(&group).await?;
                }
                acted
                    && !group.is_disabled()
                    && gennaker_cloud::aws::recorded_target_groups(&group).is_empty()
            }
            Operation::Destroy => {
                if !acted {
                    clients.destroy(&name).await?;
                }
                false
            }
        };
        Ok(reached)
    }

    // ------------------------------------------------------------------ images

    async fn find_image(&self) -> Step<Answer> {
        let request = requests::find_image(&self.context())?;
        let mut details = Vec::new();
        for region in &request.regions {
            let location = Location {
                account: request.account.clone(),
                region: region.clone(),
            };
            let clients = self.clients(&location).await?;
            let groups = cluster_groups(&clients, &request.cluster).await?;
            let source = select_image_source(
                &groups,
                &request.cluster,
                region,
                request.only_enabled,
                request.selection,
            )
            .map_err(|e| Stop::Failed(e.to_string()))?;
            let image_id = source
                .launch
                .as_ref()
                .map(|launch| launch.image_id.clone())
                .unwrap_or_default();
            let mut detail = json!({
                "ami": image_id,
                "imageId": image_id,
                "imageName": source.image.as_ref().map(|image| image.name.clone()),
                "cloudProvider": "aws",
                "region": region,
                "sourceServerGroup": source.name,
            });
            merge_build_info(&mut detail, source.image.as_ref());
            details.push(detail);
        }
        Ok(image_answer(details))
    }

    async fn find_image_from_tags(&self) -> Step<Answer> {
        let request = requests::find_image_from_tags(&self.context())?;
        let account = match &request.account {
            Some(account) => account.clone(),
            None => self
                .worker
                .cloud
                .accounts()
                .all()
                .first()
                .map(|account| account.name.clone())
                .ok_or_else(|| Stop::Failed("no AWS account is configured".into()))?,
        };
        let mut details = Vec::new();
        for region in &request.regions {
            let location = Location {
                account: account.clone(),
                region: region.clone(),
            };
            let clients = self.clients(&location).await?;
            let pattern = format!("{}*", request.package_name);
            let images = clients
                .images_by_tags(&request.tags, Some(pattern.as_str()))
                .await?;
            let image = images.first().ok_or_else(|| {
                Stop::Failed(format!(
                    "no image of package '{}' with tags {:?} in {region}",
                    request.package_name, request.tags
                ))
            })?;
            let mut detail = json!({
                "ami": image.image_id,
                "imageId": image.image_id,
                "imageName": image.name,
                "cloudProvider": "aws",
                "region": region,
                "package": request.package_name,
            });
            merge_build_info(&mut detail, Some(image));
            details.push(detail);
        }
        Ok(image_answer(details))
    }
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Resize,
    Disable,
    Enable,
    Destroy,
}

/// The per-region targets a first poll recorded: `targets: {region: {serverGroupName,
/// targetCapacity}}`, or for a stage recorded before targets were kept per region, its
/// single `serverGroupName`/`targetCapacity`.
fn recorded_targets(
    stored: &Map<String, Value>,
    locations: &[Location],
) -> Option<Map<String, Value>> {
    if stored.get("targetResolved") != Some(&json!(true)) {
        return None;
    }
    if let Some(Value::Object(targets)) = stored.get("targets") {
        return Some(targets.clone());
    }
    let mut single = Map::new();
    for key in ["serverGroupName", "targetCapacity"] {
        if let Some(value) = stored.get(key) {
            single.insert(key.to_string(), value.clone());
        }
    }
    let region = locations.first()?.region.clone();
    Some(Map::from_iter([(region, Value::Object(single))]))
}

/// `serverGroupName` (and `targetCapacity`) of the first region at the top of the context,
/// where Deck and `#stage(...)` expressions read them.
fn first_target_entries(
    targets: &Map<String, Value>,
    locations: &[Location],
) -> Map<String, Value> {
    locations
        .first()
        .and_then(|location| targets.get(&location.region))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The group a create recorded for `region` (`deploy.server.groups: {region: [name]}`).
fn recorded_group(context: &Map<String, Value>, region: &str) -> Option<String> {
    context
        .get("deploy.server.groups")?
        .get(region)?
        .get(0)?
        .as_str()
        .map(str::to_string)
}

/// Whether the group runs `desired` instances, each InService and healthy in every target
/// group.
pub(crate) fn is_up(group: &ServerGroup, desired: i32) -> bool {
    is_up_for(group, desired, &[])
}

/// [`is_up`] judged by the given health providers only (`interestingHealthProviderNames`).
pub(crate) fn is_up_for(group: &ServerGroup, desired: i32, providers: &[String]) -> bool {
    usize::try_from(desired).is_ok_and(|desired| group.instances.len() == desired)
        && group
            .instances
            .iter()
            .all(|instance| instance.is_up_for(providers))
}

pub(crate) async fn cluster_groups(
    clients: &RegionClients,
    cluster: &str,
) -> Step<Vec<ServerGroup>> {
    let app = cluster.split('-').next().unwrap_or(cluster);
    Ok(clients
        .server_groups(Some(app))
        .await?
        .into_iter()
        .filter(|group| group.cluster().as_deref() == Some(cluster))
        .collect())
}

async fn resolve_target(clients: &RegionClients, spec: &TargetSpec) -> Step<ServerGroup> {
    match spec {
        TargetSpec::Named(name) => clients.server_group(name).await?.ok_or_else(|| {
            Stop::Failed(format!(
                "server group {name} not found in {}",
                clients.region
            ))
        }),
        TargetSpec::Dynamic { cluster, target } => {
            let groups = cluster_groups(clients, cluster).await?;
            target.resolve(&groups).cloned().ok_or_else(|| {
                Stop::Failed(format!(
                    "cluster {cluster} has no server group for target {target:?} in {}",
                    clients.region
                ))
            })
        }
    }
}

pub(crate) async fn resolve_image(clients: &RegionClients, image: &ImageRef) -> Step<Image> {
    let found = match image {
        ImageRef::Id(id) => clients.image(id).await?,
        ImageRef::Name(name) => clients
            .images_named(name)
            .await?
            .into_iter()
            .find(|i| &i.name == name),
    };
    found.ok_or_else(|| {
        let shown = match image {
            ImageRef::Id(id) | ImageRef::Name(id) => id,
        };
        Stop::Failed(format!("image {shown} not found in {}", clients.region))
    })
}

fn merge_build_info(detail: &mut Value, image: Option<&Image>) {
    if let (Value::Object(detail), Value::Object(info)) = (detail, build_info(image)) {
        for (key, value) in info {
            detail.entry(key).or_insert(value);
        }
    }
}

/// find-image's answer: `amiDetails` in the context, `deploymentDetails` in the outputs.
fn image_answer(details: Vec<Value>) -> Answer {
    let context = Map::from_iter([("amiDetails".to_string(), json!(details))]);
    let outputs = Map::from_iter([("deploymentDetails".to_string(), json!(details))]);
    Answer::succeeded(context, outputs)
}
