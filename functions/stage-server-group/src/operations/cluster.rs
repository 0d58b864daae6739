//! `disableCluster`, `scaleDownCluster` and `shrinkCluster`: the first poll picks, region by
//! region, the groups of the cluster the stage acts on (`gennaker_cloud::cluster`) and
//! records them (`clusterTargets`) before acting, so a redelivered poll acts on the same
//! groups; later polls wait until each is disabled, scaled to nothing or gone.

use gennaker_cloud::capacity::Capacity;
use gennaker_cloud::cluster::{self, ClusterOperation};
use gennaker_cloud::requests::Location;
use gennaker_cloud::{RegionClients, ServerGroup};
use gennaker_worker::{Answer, Step, Stop};
use serde_json::{Map, Value, json};

use super::{Poll, cluster_groups};

const TARGETS: &str = "clusterTargets";
const NOTHING: Capacity = Capacity {
    min: 0,
    max: 0,
    desired: 0,
};

impl Poll<'_> {
    pub(super) async fn on_cluster(&self, operation: ClusterOperation) -> Step<Answer> {
        let request = cluster::request(operation, &self.context())?;
        let mut clients = Vec::new();
        for region in &request.regions {
            let location = Location {
                account: request.account.clone(),
                region: region.clone(),
            };
            clients.push(self.clients(&location).await?);
        }
        let targets = match self.loaded.stage.context.get(TARGETS) {
            Some(Value::Object(recorded)) => recorded.clone(),
            _ => self.pick_targets(&request, &clients).await?,
        };
        let acted = self.input.previous_context().get("acted") == Some(&json!(true));
        let mut all_reached = true;
        for region_clients in &clients {
            for name in names_in(&targets, &region_clients.region) {
                let group = region_clients.server_group(&name).await?;
                all_reached &= act_or_check(region_clients, operation, &name, group, acted).await?;
            }
        }
        let mut context = Map::from_iter([
            (TARGETS.to_string(), Value::Object(targets.clone())),
            ("deploy.server.groups".to_string(), Value::Object(targets)),
            ("deploy.account.name".to_string(), json!(request.account)),
        ]);
        context.insert("acted".into(), json!(true));
        if acted && all_reached {
            Ok(Answer::succeeded(context, Map::new()))
        } else {
            Ok(self.running(context))
        }
    }

    /// Chooses the groups of every region and records the choice once.
    async fn pick_targets(
        &self,
        request: &cluster::ClusterRequest,
        clients: &[RegionClients],
    ) -> Step<Map<String, Value>> {
        let mut targets = Map::new();
        let mut found_any = false;
        for region_clients in clients {
            let groups = cluster_groups(region_clients, &request.cluster).await?;
            found_any |= !groups.is_empty();
            let names: Vec<&str> = cluster::targets(request, &groups)
                .into_iter()
                .map(|group| group.name.as_str())
                .collect();
            targets.insert(region_clients.region.clone(), json!(names));
        }
        if !found_any && !request.may_find_nothing() {
            return Err(Stop::Failed(format!(
                "No server groups found in cluster {} of account {} in {}",
                request.cluster,
                request.account,
                request.regions.join(", ")
            )));
        }
        let entries = Map::from_iter([(TARGETS.to_string(), Value::Object(targets))]);
        let stored = self.record_once(TARGETS, entries).await?;
        match stored.get(TARGETS) {
            Some(Value::Object(recorded)) => Ok(recorded.clone()),
            _ => Err(Stop::Failed(format!("{TARGETS} could not be read back"))),
        }
    }
}

fn names_in(targets: &Map<String, Value>, region: &str) -> Vec<String> {
    targets
        .get(region)
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Acts on one group (on the first poll), or says whether it reached the wanted state.
async fn act_or_check(
    clients: &RegionClients,
    operation: ClusterOperation,
    name: &str,
    group: Option<ServerGroup>,
    acted: bool,
) -> Step<bool> {
    let Some(group) = group else {
        return match operation {
            ClusterOperation::Shrink => Ok(true),
            _ => Err(Stop::Failed(format!(
                "server group {name} disappeared from {}",
                clients.region
            ))),
        };
    };
    Ok(match operation {
        ClusterOperation::Disable => {
            if !acted {
                clients.disable(&group).await?;
            }
            group.is_disabled() && group.target_groups.is_empty()
        }
        ClusterOperation::ScaleDown => {
            if !acted {
                clients.resize(name, NOTHING).await?;
            }
            group.capacity == NOTHING && group.instances.is_empty()
        }
        ClusterOperation::Shrink => {
            if !acted {
                clients.destroy(name).await?;
            }
            false
        }
    })
}
