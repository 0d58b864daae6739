//! Messages on the orchestration FIFO queue. They are written by the state machines
//! (`statemachines/*.asl.json`), so field names here must match those definitions.

use gennaker_engine::Event;
use gennaker_model::ExecutionStatus;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum OrchestrationMessage {
    /// From the pipeline state machine: run this execution, answer the token when done.
    #[serde(rename_all = "camelCase")]
    StartExecution {
        execution_id: String,
        task_token: String,
    },
    /// From a stage state machine: this attempt of the stage ended.
    #[serde(rename_all = "camelCase")]
    StageFinished {
        execution_id: String,
        stage_id: String,
        attempt: u32,
        result: StageResult,
    },
    /// A slot of the pipeline's concurrency limit was freed for this waiting execution.
    #[serde(rename_all = "camelCase")]
    WakeUp { execution_id: String },
    /// From a pipeline stage's state machine: start its child pipeline; answer the task
    /// token when the child ends (at once without `waitForCompletion`).
    #[serde(rename_all = "camelCase")]
    StartChildPipeline {
        execution_id: String,
        stage_id: String,
        attempt: u32,
        task_token: String,
    },
    /// From the dead-letter handler: a message about this execution could not be processed.
    #[serde(rename_all = "camelCase")]
    Abort {
        execution_id: String,
        reason: String,
        #[serde(default)]
        stage_id: Option<String>,
    },
    /// From the API: cancel the execution.
    #[serde(rename_all = "camelCase")]
    CancelExecution {
        execution_id: String,
        user: String,
        #[serde(default)]
        reason: Option<String>,
    },
    /// From the API: pause a running execution.
    #[serde(rename_all = "camelCase")]
    PauseExecution { execution_id: String, user: String },
    /// From the API: resume a paused execution.
    #[serde(rename_all = "camelCase")]
    ResumeExecution { execution_id: String, user: String },
    /// From the API: restart a stage and what follows it.
    #[serde(rename_all = "camelCase")]
    RestartStage {
        execution_id: String,
        stage_id: String,
        user: String,
    },
}

impl OrchestrationMessage {
    pub fn execution_id(&self) -> &str {
        match self {
            Self::StartExecution { execution_id, .. }
            | Self::StageFinished { execution_id, .. }
            | Self::WakeUp { execution_id }
            | Self::CancelExecution { execution_id, .. }
            | Self::PauseExecution { execution_id, .. }
            | Self::ResumeExecution { execution_id, .. }
            | Self::RestartStage { execution_id, .. }
            | Self::StartChildPipeline { execution_id, .. }
            | Self::Abort { execution_id, .. } => execution_id,
        }
    }

    /// The engine event this message stands for, stamped with `now`. Starting a child
    /// pipeline is work the orchestrator does for a running stage, not an engine event.
    pub fn engine_event(&self, now: i64) -> Option<Event> {
        Some(match self {
            Self::StartChildPipeline { .. } => return None,
            Self::Abort {
                reason, stage_id, ..
            } => Event::Abort {
                reason: reason.clone(),
                stage_id: stage_id.clone(),
                now,
            },
            Self::StartExecution { .. } | Self::WakeUp { .. } => Event::Start { now },
            Self::StageFinished {
                stage_id,
                attempt,
                result,
                ..
            } => Event::StageFinished {
                stage_id: stage_id.clone(),
                attempt: *attempt,
                status: result.status,
                context: result.context.clone(),
                outputs: result.outputs.clone(),
                now,
            },
            Self::CancelExecution { user, reason, .. } => Event::Cancel {
                user: user.clone(),
                reason: reason.clone(),
                now,
            },
            Self::PauseExecution { user, .. } => Event::Pause {
                user: user.clone(),
                now,
            },
            Self::ResumeExecution { user, .. } => Event::Resume {
                user: user.clone(),
                now,
            },
            Self::RestartStage { stage_id, user, .. } => Event::RestartStage {
                stage_id: stage_id.clone(),
                user: user.clone(),
                now,
            },
        })
    }
}

/// A worker's (or the Wait state's) result for a stage attempt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StageResult {
    #[serde(deserialize_with = "status_or_terminal")]
    pub status: ExecutionStatus,
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default)]
    pub outputs: Map<String, Value>,
}

/// An unknown or non-final status from a worker is a failure, never a silent success.
fn status_or_terminal<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<ExecutionStatus, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(text
        .parse::<ExecutionStatus>()
        .ok()
        .filter(|status| status.is_complete())
        .unwrap_or(ExecutionStatus::Terminal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stage_finished_reads_the_state_machine_shape() {
        let message: OrchestrationMessage = serde_json::from_value(json!({
            "type": "StageFinished", "executionId": "e", "stageId": "s", "attempt": 2,
            "result": {"status": "SUCCEEDED"}
        }))
        .unwrap();
        let OrchestrationMessage::StageFinished {
            attempt, result, ..
        } = message
        else {
            panic!()
        };
        assert_eq!(attempt, 2);
        assert_eq!(result.status, ExecutionStatus::Succeeded);
    }

    #[test]
    fn unknown_worker_status_counts_as_terminal() {
        let result: StageResult = serde_json::from_value(json!({"status": "WHATEVER"})).unwrap();
        assert_eq!(result.status, ExecutionStatus::Terminal);
    }
}
