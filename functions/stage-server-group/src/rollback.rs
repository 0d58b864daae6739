//! `rollbackServerGroup` (`EXPLICIT`) and `cloneServerGroup`.

use gennaker_cloud::capacity::Capacity;
use gennaker_cloud::requests;
use gennaker_cloud::{RegionClients, ServerGroup};
use gennaker_worker::{Answer, Step, Stop};
use serde_json::{Map, Value, json};

use crate::operations::{Poll, is_up};

impl Poll<'_> {
    /// Puts the restore group back into service, at least as large as the group being
    /// rolled back, waits until it is up, then disables the rolled-back group.
    pub(crate) async fn rollback(&self) -> Step<Answer> {
        let request = requests::rollback(&self.context())?;
        let clients = self.clients(&request.location).await?;
        let rollback = existing(&clients, &request.rollback).await?;
        let restore = existing(&clients, &request.restore).await?;
        let previous = self.input.previous_context();
        let target: Capacity = match previous.get("targetCapacity") {
            Some(recorded) => serde_json::from_value(recorded.clone())
                .map_err(|e| Stop::Failed(format!("targetCapacity: {e}")))?,
            None => larger(restore.capacity, rollback.capacity),
        };
        let mut context = Map::from_iter([
            ("targetCapacity".to_string(), json!(target)),
            (
                "rollbackServerGroupName".to_string(),
                json!(request.rollback),
            ),
            ("restoreServerGroupName".to_string(), json!(request.restore)),
        ]);
        if previous.get("restored") != Some(&json!(true)) {
            if restore.is_disabled() {
                clients.enable(&restore).await?;
            }
            clients.register_instances(&restore).await?;
            if restore.capacity != target {
                clients.resize(&restore.name, target).await?;
            }
            context.insert("restored".into(), json!(true));
            return Ok(self.running(context));
        }
        context.insert("restored".into(), json!(true));
        let serving = is_up(&restore, target.desired)
            && !restore.is_disabled()
            && gennaker_cloud::aws::recorded_target_groups(&restore).is_empty();
        if !serving {
            return Ok(self.running(context));
        }
        if !rollback.is_disabled() {
            clients.disable(&rollback).await?;
        }
        Ok(Answer::succeeded(context, Map::new()))
    }

    /// Creates a new group in the source's cluster (or the one the stage names) from the
    /// source group's settings, overridden by the stage's own fields.
    pub(crate) async fn clone_server_group(&self) -> Step<Answer> {
        let given = self.context();
        let source = requests::clone_source(&given)?;
        let clients = self.clients(&source.location).await?;
        let group = clients
            .server_group(&source.server_group)
            .await?
            .ok_or_else(|| {
                Stop::Failed(format!(
                    "source server group {} not found in {}",
                    source.server_group, source.location.region
                ))
            })?;
        let context = requests::clone_context(&group, &given);
        let mut answer = self.create_with(&context).await?;
        answer.context.insert(
            "source".into(),
            given.get("source").cloned().unwrap_or(Value::Null),
        );
        Ok(answer)
    }
}

async fn existing(clients: &RegionClients, name: &str) -> Step<ServerGroup> {
    clients.server_group(name).await?.ok_or_else(|| {
        Stop::Failed(format!(
            "server group {name} not found in {}",
            clients.region
        ))
    })
}

/// The capacity that keeps at least as many instances as either group: the larger of each
/// bound.
fn larger(a: Capacity, b: Capacity) -> Capacity {
    Capacity {
        min: a.min.max(b.min),
        max: a.max.max(b.max),
        desired: a.desired.max(b.desired),
    }
}
