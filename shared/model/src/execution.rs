//! Executions (pipeline runs and orchestration tasks) in Orca's JSON shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ExecutionStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionType {
    Pipeline,
    Orchestration,
}

/// One execution: the header fields plus its stages (a flat list, as Orca serializes it).
///
/// Optional fields are omitted when absent, like Orca's NON_NULL inclusion. Fields Gennaker
/// does not model yet survive in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    #[serde(rename = "type")]
    pub execution_type: ExecutionType,
    pub id: String,
    pub application: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_config_id: Option<String>,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_expiry: Option<i64>,
    #[serde(default)]
    pub canceled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<String>,
    #[serde(default)]
    pub limit_concurrent: bool,
    #[serde(default)]
    pub max_concurrent_executions: u64,
    #[serde(default)]
    pub keep_waiting_pipelines: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default)]
    pub authentication: Authentication,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Value>,
    #[serde(default)]
    pub notifications: Vec<Value>,
    #[serde(default)]
    pub initial_config: Map<String, Value>,
    #[serde(default)]
    pub system_notifications: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spel_evaluator: Option<String>,
    #[serde(default)]
    pub trigger: Map<String, Value>,
    #[serde(default)]
    pub stages: Vec<StageExecution>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub allowed_accounts: Vec<String>,
}

/// A stage of an execution. `attempt` counts how often the stage was started (restarts bump
/// it), which keeps stage state machine execution names unique.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageExecution {
    pub id: String,
    pub ref_id: String,
    #[serde(rename = "type")]
    pub stage_type: String,
    pub name: String,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_expiry: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<i64>,
    #[serde(default)]
    pub requisite_stage_ref_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_stage_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic_stage_owner: Option<String>,
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default)]
    pub outputs: Map<String, Value>,
    #[serde(default)]
    pub tasks: Vec<TaskExecution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Value>,
    #[serde(default)]
    pub attempt: u32,
}

/// A task of a stage, in Orca's `TaskExecution` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecution {
    pub id: String,
    pub name: String,
    pub implementing_class: String,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub stage_start: bool,
    pub stage_end: bool,
    pub loop_start: bool,
    pub loop_end: bool,
    #[serde(default)]
    pub task_exception_details: Map<String, Value>,
}

impl Execution {
    pub fn stage(&self, stage_id: &str) -> Option<&StageExecution> {
        self.stages.iter().find(|stage| stage.id == stage_id)
    }

    pub fn stage_mut(&mut self, stage_id: &str) -> Option<&mut StageExecution> {
        self.stages.iter_mut().find(|stage| stage.id == stage_id)
    }

    pub fn stage_by_ref_id(&self, ref_id: &str) -> Option<&StageExecution> {
        self.stages.iter().find(|stage| stage.ref_id == ref_id)
    }

    /// `key` from the `outputs` of the nearest upstream stage that has it (breadth first
    /// over `requisiteStageRefIds`), as Orca's context lookup falls back to ancestors'
    /// outputs (Orca's `StageContext`; docs/spinnaker-behaviour.md, "Reading a value from
    /// upstream stages").
    pub fn ancestor_output(&self, stage: &StageExecution, key: &str) -> Option<&Value> {
        let mut seen: Vec<&str> = vec![stage.ref_id.as_str()];
        let mut frontier: std::collections::VecDeque<&str> = stage
            .requisite_stage_ref_ids
            .iter()
            .map(String::as_str)
            .collect();
        while let Some(ref_id) = frontier.pop_front() {
            if seen.contains(&ref_id) {
                continue;
            }
            seen.push(ref_id);
            let Some(upstream) = self.stage_by_ref_id(ref_id) else {
                continue;
            };
            if let Some(value) = upstream.outputs.get(key) {
                return Some(value);
            }
            frontier.extend(upstream.requisite_stage_ref_ids.iter().map(String::as_str));
        }
        None
    }

    /// Top-level stages only (execution status considers only these).
    pub fn top_level_stages(&self) -> impl Iterator<Item = &StageExecution> {
        self.stages
            .iter()
            .filter(|stage| stage.parent_stage_id.is_none())
    }
}

/// A stage state machine execution's name: `{executionId}-{stageId}-{attempt}`, unique per
/// attempt, which makes starting it idempotent.
pub fn stage_machine_name(execution_id: &str, stage_id: &str, attempt: u32) -> String {
    format!("{execution_id}-{stage_id}-{attempt}")
}

impl StageExecution {
    /// Stage state machine execution name of the current attempt.
    pub fn state_machine_execution_name(&self, execution_id: &str) -> String {
        stage_machine_name(execution_id, &self.id, self.attempt)
    }
}

impl TaskExecution {
    /// The single task a simple stage runs (Orca gives each stage type its task graph; the
    /// types Gennaker runs today have one task each).
    pub fn single(name: &str, implementing_class: &str) -> Self {
        Self {
            id: "1".to_string(),
            name: name.to_string(),
            implementing_class: implementing_class.to_string(),
            status: ExecutionStatus::NotStarted,
            start_time: None,
            end_time: None,
            stage_start: true,
            stage_end: true,
            loop_start: false,
            loop_end: false,
            task_exception_details: Map::new(),
        }
    }
}
