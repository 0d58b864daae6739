//! The `deploy` stage: one new server group per cluster and region, brought up and then
//! swapped in by its strategy (Orca's `AbstractDeployStrategyStage`).
//!
//! The first poll plans every deployment — the new group's name, the older groups it
//! replaces and the capacity it aims at — and records that plan on the stage with a
//! version-conditioned write, so a redelivered message never names a second group. Each
//! later poll moves every deployment on by its phase, carried in the answer's context
//! (`deployments`). Every action is safe to repeat, so a crash between an action and the
//! answer only repeats it.

use gennaker_cloud::capacity::Capacity;
use gennaker_cloud::deploy::{
    self, Deployment, Strategy, groups_beyond, instances_out_of_service, rolling_capacity,
};
use gennaker_cloud::server_group::{Instance, ServerGroup, newest_first};
use gennaker_cloud::{RegionClients, next_sequence};
use gennaker_model::json::now_millis;
use gennaker_worker::{Answer, Step, Stop};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::operations::{Poll, cluster_groups, is_up_for, resolve_image};

/// How many phases one poll may move a deployment through when they need no waiting.
const MAX_PHASES_PER_POLL: usize = 12;

/// What the plan records for one deployment before anything is created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Planned {
    key: String,
    server_group_name: String,
    account: String,
    region: String,
    cluster: String,
    /// The capacity the new group ends at.
    capacity: Capacity,
    /// The image the new group launches (resolved once).
    image_id: String,
    /// The cluster's groups when the deploy began, newest first.
    older_groups: Vec<String>,
    /// Those of them that were enabled then (what a rollback re-enables).
    enabled_before: Vec<String>,
    /// Their capacity then (what a rollback restores if a scale-down already ran).
    #[serde(default)]
    capacity_before: std::collections::BTreeMap<String, Capacity>,
}

/// Where one deployment is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Progress {
    phase: Phase,
    /// The rolling step (index into `targetPercentages`).
    #[serde(default)]
    step: usize,
    /// Epoch millis a delay phase waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
    /// Rolling steps done, in percent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    completed_percentages: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum Phase {
    #[default]
    Create,
    WaitForUp,
    Roll,
    WaitForRollingStep,
    Shrink,
    DelayBeforeDisable,
    Disable,
    DelayBeforeScaleDown,
    ScaleDown,
    DestroyOlder,
    RollbackEnable,
    RollbackDestroy,
    Succeeded,
    Failed,
}

impl Phase {
    fn is_over(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }

    fn waits_for_health(self) -> bool {
        matches!(
            self,
            Phase::Create | Phase::WaitForUp | Phase::Roll | Phase::WaitForRollingStep
        )
    }

    fn is_rollback(self) -> bool {
        matches!(self, Phase::RollbackEnable | Phase::RollbackDestroy)
    }
}

/// What a phase asks next.
enum Next {
    /// Go on to this progress in the same poll.
    Now(Progress),
    /// Keep this progress until the next poll.
    Later(Progress),
}

impl Poll<'_> {
    pub(crate) async fn deploy(&self) -> Step<Answer> {
        let context = self.context();
        let deployments = deploy::deployments(&context)?;
        let plan = match recorded_plan(&self.loaded.stage.context) {
            Some(plan) => plan,
            None => self.plan(&deployments).await?,
        };
        let mut progress: Map<String, Value> = self
            .input
            .previous_context()
            .get("deployments")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let deadline = self.deadline();
        for deployment in &deployments {
            let key = deployment.key();
            let planned = plan
                .iter()
                .find(|planned| planned.key == key)
                .ok_or_else(|| {
                    Stop::Failed(format!(
                        "the recorded deploy plan has no deployment {key}; the stage context changed after it started"
                    ))
                })?;
            let current: Progress = progress
                .get(&key)
                .and_then(|value| serde_json::from_value(value.clone()).ok())
                .unwrap_or_default();
            let moved = self.advance(deployment, planned, current, deadline).await?;
            progress.insert(key, json!(moved));
        }
        Ok(self.deploy_answer(&plan, progress))
    }

    /// Epoch millis past which the deploy gives up (start + stage timeout).
    fn deadline(&self) -> Option<i64> {
        let left = self.input.remaining_millis(now_millis())?;
        Some(now_millis() + left)
    }

    fn deploy_answer(&self, plan: &[Planned], progress: Map<String, Value>) -> Answer {
        let mut groups: Map<String, Value> = Map::new();
        for planned in plan {
            let names = groups
                .entry(planned.region.clone())
                .or_insert_with(|| json!([]));
            if let Value::Array(names) = names {
                names.push(json!(planned.server_group_name));
            }
        }
        // Each planned deployment with its progress, matched by key.
        let states: Vec<(&Planned, Progress)> = plan
            .iter()
            .map(|planned| {
                let state = progress
                    .get(&planned.key)
                    .and_then(|value| serde_json::from_value(value.clone()).ok())
                    .unwrap_or_default();
                (planned, state)
            })
            .collect();
        let mut context = Map::from_iter([
            ("deploy.server.groups".to_string(), Value::Object(groups)),
            (
                "deploy.account.name".to_string(),
                json!(plan.first().map(|p| p.account.clone())),
            ),
            ("deployments".to_string(), Value::Object(progress)),
        ]);
        if !states.iter().all(|(_, state)| state.phase.is_over()) {
            return self.running(context);
        }
        let failures: Vec<String> = states
            .iter()
            .filter(|(_, state)| state.phase == Phase::Failed)
            .map(|(planned, state)| {
                format!(
                    "{} in {}: {}",
                    planned.cluster,
                    planned.region,
                    state.message.clone().unwrap_or_default()
                )
            })
            .collect();
        if failures.is_empty() {
            Answer::succeeded(context, Map::new())
        } else {
            context.remove("deploy.server.groups");
            Answer::terminal(failures.join("; "), context)
        }
    }

    /// Names every new group and records the plan before anything is created.
    async fn plan(&self, deployments: &[Deployment]) -> Step<Vec<Planned>> {
        let mut plan: Vec<Planned> = Vec::new();
        for deployment in deployments {
            let request = &deployment.request;
            let clients = self.clients(&request.location).await?;
            let image = resolve_image(&clients, &request.image).await?;
            let cluster = request.cluster.to_string();
            if plan
                .iter()
                .any(|p| p.cluster == cluster && p.region == request.location.region)
            {
                return Err(Stop::Failed(format!(
                    "clusters[{}]: cluster {cluster} is deployed twice in {}",
                    deployment.index, request.location.region
                )));
            }
            let groups = cluster_groups(&clients, &cluster).await?;
            let newest = newest_first(groups.iter());
            let latest = newest
                .first()
                .and_then(|group| group.parsed_name())
                .map(|name| name.sequence);
            let name = request.cluster.server_group(next_sequence(latest));
            if groups.iter().any(|group| group.name == name) {
                return Err(Stop::Failed(format!(
                    "server group {name} already exists (the cluster has used every push number up to it)"
                )));
            }
            let enabled: Vec<&ServerGroup> = newest
                .iter()
                .copied()
                .filter(|group| !group.is_disabled())
                .collect();
            let capacity = if deployment.options.use_source_capacity {
                source_capacity(&enabled, &newest, request.capacity, deployment)?
            } else {
                request.capacity
            };
            plan.push(Planned {
                key: deployment.key(),
                server_group_name: name,
                account: request.location.account.clone(),
                region: request.location.region.clone(),
                cluster,
                capacity,
                image_id: image.image_id,
                older_groups: newest.iter().map(|group| group.name.clone()).collect(),
                enabled_before: enabled.iter().map(|group| group.name.clone()).collect(),
                capacity_before: enabled
                    .iter()
                    .map(|group| (group.name.clone(), group.capacity))
                    .collect(),
            });
        }
        let entries = Map::from_iter([("deployPlan".to_string(), json!(plan))]);
        let stored = self.record_once("deployPlan", entries).await?;
        recorded_plan(&stored)
            .ok_or_else(|| Stop::Failed("the deploy plan could not be read back".into()))
    }

    /// Moves one deployment on as far as it can go without waiting.
    async fn advance(
        &self,
        deployment: &Deployment,
        planned: &Planned,
        mut progress: Progress,
        deadline: Option<i64>,
    ) -> Step<Progress> {
        let clients = self.clients(&deployment.request.location).await?;
        for _ in 0..MAX_PHASES_PER_POLL {
            if progress.phase.is_over() {
                return Ok(progress);
            }
            let expired = deadline.is_some_and(|deadline| now_millis() > deadline);
            // The stage timeout bounds the wait for a healthy new group; the cleanup after
            // it (with its configured delays) always runs to the end.
            if expired && progress.phase.waits_for_health() {
                let message = timeout_message(planned, self.input.timeout_seconds);
                progress = failed(deployment, message);
                continue;
            }
            let run = Run {
                clients: &clients,
                deployment,
                planned,
            };
            let next = match run.phase(progress.clone()).await {
                Ok(next) => next,
                Err(Stop::Failed(message)) if !progress.phase.is_rollback() => {
                    Next::Now(failed(deployment, message))
                }
                Err(other) => return Err(other),
            };
            match next {
                Next::Now(moved) => progress = moved,
                Next::Later(moved) => return Ok(moved),
            }
        }
        Ok(progress)
    }
}

/// The capacity of the group the deploy replaces (the newest enabled one, else the newest).
fn source_capacity(
    enabled: &[&ServerGroup],
    newest: &[&ServerGroup],
    given: Capacity,
    deployment: &Deployment,
) -> Step<Capacity> {
    match enabled.first().or(newest.first()) {
        Some(source) => Ok(source.capacity),
        None if given.max > 0 => Ok(given),
        None => Err(Stop::Failed(format!(
            "clusters[{}].useSourceCapacity: cluster {} has no server group to copy the capacity from, and no capacity is given",
            deployment.index, deployment.request.cluster
        ))),
    }
}

fn recorded_plan(context: &Map<String, Value>) -> Option<Vec<Planned>> {
    serde_json::from_value(context.get("deployPlan")?.clone()).ok()
}

fn timeout_message(planned: &Planned, timeout_seconds: Option<u64>) -> String {
    let waited = format!(
        "{} did not become healthy (every instance InService and healthy in its target groups)",
        planned.server_group_name
    );
    match timeout_seconds {
        Some(seconds) => format!("{waited} within the stage timeout of {seconds} s"),
        None => format!("{waited} in time"),
    }
}

/// The progress after a failure: a rollback when the cluster asks for one.
fn failed(deployment: &Deployment, message: String) -> Progress {
    let phase = if deployment.options.rollback_on_failure {
        Phase::RollbackEnable
    } else {
        Phase::Failed
    };
    Progress {
        phase,
        step: 0,
        until: None,
        completed_percentages: vec![],
        message: Some(message),
    }
}

/// One deployment's phase, with what it needs.
struct Run<'a> {
    clients: &'a RegionClients,
    deployment: &'a Deployment,
    planned: &'a Planned,
}

impl Run<'_> {
    async fn phase(&self, progress: Progress) -> Step<Next> {
        match progress.phase {
            Phase::Create => self.create().await.map(|()| {
                let phase = match self.strategy() {
                    Strategy::RollingRedBlack => Phase::Roll,
                    _ => Phase::WaitForUp,
                };
                Next::Later(Progress { phase, ..progress })
            }),
            Phase::WaitForUp => {
                let group = self.new_group().await?;
                if self.is_up(&group, self.planned.capacity.desired) {
                    Ok(Next::Now(self.after_up(progress)))
                } else {
                    Ok(Next::Later(progress))
                }
            }
            Phase::Roll => self.roll(progress).await,
            Phase::WaitForRollingStep => self.finish_rolling_step(progress).await,
            Phase::Shrink => self.shrink(progress).await,
            Phase::DelayBeforeDisable => Ok(self.delay(
                progress,
                self.deployment.options.delay_before_disable_seconds,
                Phase::Disable,
            )),
            Phase::Disable => self.disable_older(progress).await,
            Phase::DelayBeforeScaleDown => Ok(self.delay(
                progress,
                self.deployment.options.delay_before_scale_down_seconds,
                Phase::ScaleDown,
            )),
            Phase::ScaleDown => self.scale_down_older(progress).await,
            Phase::DestroyOlder => {
                for name in &self.planned.older_groups {
                    self.clients.destroy(name).await?;
                }
                Ok(Next::Now(Progress {
                    phase: Phase::Succeeded,
                    ..progress
                }))
            }
            Phase::RollbackEnable => self.rollback_enable(progress).await,
            Phase::RollbackDestroy => {
                self.clients
                    .destroy(&self.planned.server_group_name)
                    .await?;
                let message = format!(
                    "{}; rolled back: {} destroyed{}",
                    progress.message.clone().unwrap_or_default(),
                    self.planned.server_group_name,
                    restored_note(&self.planned.enabled_before),
                );
                Ok(Next::Now(Progress {
                    phase: Phase::Failed,
                    message: Some(message),
                    ..progress
                }))
            }
            Phase::Succeeded | Phase::Failed => Ok(Next::Later(progress)),
        }
    }

    fn is_up(&self, group: &ServerGroup, desired: i32) -> bool {
        is_up_for(group, desired, &self.deployment.request.health_providers)
    }

    fn strategy(&self) -> Strategy {
        self.deployment.options.strategy
    }

    async fn create(&self) -> Step<()> {
        let capacity = match self.strategy() {
            // A rolling red/black starts empty and grows step by step.
            Strategy::RollingRedBlack => rolling_capacity(self.planned.capacity, 0),
            _ => self.planned.capacity,
        };
        let spec = self.deployment.request.spec(
            &self.planned.server_group_name,
            &self.planned.image_id,
            capacity,
        );
        self.clients.create_server_group(&spec).await?;
        Ok(())
    }

    async fn new_group(&self) -> Step<ServerGroup> {
        let name = &self.planned.server_group_name;
        self.clients.server_group(name).await?.ok_or_else(|| {
            Stop::Failed(format!(
                "server group {name} disappeared while it was being deployed"
            ))
        })
    }

    /// The older groups that still exist.
    async fn older(&self) -> Step<Vec<ServerGroup>> {
        let groups = cluster_groups(self.clients, &self.planned.cluster).await?;
        Ok(groups
            .into_iter()
            .filter(|group| self.planned.older_groups.contains(&group.name))
            .collect())
    }

    /// What comes once the new group is up at full size.
    fn after_up(&self, progress: Progress) -> Progress {
        let phase = match self.strategy() {
            Strategy::None => Phase::Succeeded,
            Strategy::Highlander => Phase::DestroyOlder,
            Strategy::RedBlack | Strategy::RollingRedBlack => Phase::Shrink,
        };
        Progress { phase, ..progress }
    }

    async fn roll(&self, progress: Progress) -> Step<Next> {
        let percent = self.percent(progress.step);
        let capacity = rolling_capacity(self.planned.capacity, percent);
        self.clients
            .resize(&self.planned.server_group_name, capacity)
            .await?;
        Ok(Next::Later(Progress {
            phase: Phase::WaitForRollingStep,
            ..progress
        }))
    }

    fn percent(&self, step: usize) -> u32 {
        let percentages = &self.deployment.options.target_percentages;
        percentages.get(step).copied().unwrap_or(100)
    }

    /// Once the new group is up at this step's size, takes the same share of the old
    /// groups out of service, then moves to the next step.
    async fn finish_rolling_step(&self, progress: Progress) -> Step<Next> {
        let percent = self.percent(progress.step);
        let capacity = rolling_capacity(self.planned.capacity, percent);
        let group = self.new_group().await?;
        if !self.is_up(&group, capacity.desired) {
            return Ok(Next::Later(progress));
        }
        for old in self.older().await? {
            if !self.planned.enabled_before.contains(&old.name) {
                continue;
            }
            if percent >= 100 {
                if !old.is_disabled() {
                    self.clients.disable(&old).await?;
                }
            } else {
                let ids = still_serving_to_take_out(&old, percent);
                self.clients.deregister_instances(&old, &ids).await?;
            }
        }
        let mut completed = progress.completed_percentages.clone();
        if !completed.contains(&percent) {
            completed.push(percent);
        }
        let last = progress.step + 1 >= self.deployment.options.target_percentages.len();
        let next = if last {
            Progress {
                phase: Phase::Shrink,
                completed_percentages: completed,
                ..progress
            }
        } else {
            Progress {
                phase: Phase::Roll,
                step: progress.step + 1,
                completed_percentages: completed,
                ..progress
            }
        };
        Ok(if last {
            Next::Now(next)
        } else {
            Next::Later(next)
        })
    }

    /// Destroys the oldest groups beyond `maxRemainingAsgs` (the new one counts).
    async fn shrink(&self, progress: Progress) -> Step<Next> {
        if let Some(max_remaining) = self.deployment.options.max_remaining_asgs {
            let older = self.older().await?;
            for group in groups_beyond(&older, max_remaining) {
                self.clients.destroy(&group.name).await?;
            }
        }
        let phase = match self.strategy() {
            // A rolling red/black disabled the old groups at its last step.
            Strategy::RollingRedBlack => self.scale_down_or_done(),
            _ => Phase::DelayBeforeDisable,
        };
        Ok(Next::Now(Progress { phase, ..progress }))
    }

    fn scale_down_or_done(&self) -> Phase {
        if self.deployment.options.scale_down {
            Phase::DelayBeforeScaleDown
        } else {
            Phase::Succeeded
        }
    }

    fn delay(&self, progress: Progress, seconds: u64, then: Phase) -> Next {
        let now = now_millis();
        let until = progress
            .until
            .unwrap_or(now + i64::try_from(seconds).unwrap_or(i64::MAX / 2_000) * 1000);
        if now >= until {
            Next::Now(Progress {
                phase: then,
                until: None,
                ..progress
            })
        } else {
            Next::Later(Progress {
                until: Some(until),
                ..progress
            })
        }
    }

    async fn disable_older(&self, progress: Progress) -> Step<Next> {
        for old in self.older().await? {
            if !old.is_disabled() {
                self.clients.disable(&old).await?;
            }
        }
        Ok(Next::Now(Progress {
            phase: self.scale_down_or_done(),
            ..progress
        }))
    }

    async fn scale_down_older(&self, progress: Progress) -> Step<Next> {
        for old in self.older().await? {
            if old.capacity.desired > 0 || old.capacity.min > 0 {
                let zero = Capacity {
                    min: 0,
                    max: old.capacity.max,
                    desired: 0,
                };
                self.clients.resize(&old.name, zero).await?;
            }
        }
        Ok(Next::Now(Progress {
            phase: Phase::Succeeded,
            ..progress
        }))
    }

    /// Puts the groups that served before the deploy back into service.
    async fn rollback_enable(&self, progress: Progress) -> Step<Next> {
        for old in self.older().await? {
            if !self.planned.enabled_before.contains(&old.name) {
                continue;
            }
            if old.is_disabled() {
                self.clients.enable(&old).await?;
            }
            if let Some(before) = self.planned.capacity_before.get(&old.name)
                && old.capacity.desired < before.desired
            {
                self.clients.resize(&old.name, *before).await?;
            }
            // A rolling step may have taken some of its instances out of service.
            if let Some(old) = self.clients.server_group(&old.name).await? {
                self.clients.register_instances(&old).await?;
            }
        }
        Ok(Next::Now(Progress {
            phase: Phase::RollbackDestroy,
            ..progress
        }))
    }
}

fn restored_note(enabled_before: &[String]) -> String {
    if enabled_before.is_empty() {
        String::new()
    } else {
        format!(", {} serving again", enabled_before.join(", "))
    }
}

/// The instances of `old` to take out of its target groups so that `percent` of them are
/// out of service; those an earlier step (or an earlier delivery of this one) took out
/// count, so repeating a step takes out no more.
fn still_serving_to_take_out(old: &ServerGroup, percent: u32) -> Vec<String> {
    // A target group lists only registered targets: a deregistered instance reads as
    // Unknown (or OutOfService while it drains).
    let out_of_service = |instance: &&Instance| {
        instance.health.iter().any(|health| {
            health.kind == "TargetGroup" && matches!(health.state, "OutOfService" | "Unknown")
        })
    };
    let wanted_out = instances_out_of_service(old.instances.len(), percent);
    let already_out = old.instances.iter().filter(out_of_service).count();
    let mut serving: Vec<String> = old
        .instances
        .iter()
        .filter(|instance| !out_of_service(instance))
        .map(|instance| instance.instance_id.clone())
        .collect();
    serving.sort();
    serving.truncate(wanted_out.saturating_sub(already_out));
    serving
}
