//! Messages on the orchestration FIFO queue (message group = execution id, so one
//! execution's messages are handled in order, one at a time). The state machines write
//! `StartExecution`, `StageFinished` and `StartChildPipeline` themselves
//! (`statemachines/*.asl.json`); a test checks their bodies against this type.

use serde::{Deserialize, Serialize};

use crate::Answer;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OrchestrationMessage {
    /// From the pipeline state machine: run this execution, answer the token when done.
    #[serde(rename_all = "camelCase")]
    StartExecution {
        execution_id: String,
        task_token: String,
    },
    /// From a stage state machine: this attempt of the stage ended. Also from the API when a
    /// judge answers a manual judgment, so that the answer keeps its place among the
    /// operations on the execution (the stage machine's own report then comes too late and
    /// is ignored).
    #[serde(rename_all = "camelCase")]
    StageFinished {
        execution_id: String,
        stage_id: String,
        attempt: u32,
        result: Answer,
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
    /// From the dead-letter handler or the reconciler: a message about this execution could
    /// not be processed, or its stage machine is gone.
    #[serde(rename_all = "camelCase")]
    Abort {
        execution_id: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage_id: Option<String>,
    },
    /// From the API (or a newer execution superseding this one): cancel the execution.
    #[serde(rename_all = "camelCase")]
    CancelExecution {
        execution_id: String,
        user: String,
        #[serde(default)]
        reason: Option<String>,
        /// See [`OrchestrationMessage::operation_id`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_id: Option<String>,
    },
    /// From the API: pause a running execution.
    #[serde(rename_all = "camelCase")]
    PauseExecution {
        execution_id: String,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_id: Option<String>,
    },
    /// From the API: resume a paused execution.
    #[serde(rename_all = "camelCase")]
    ResumeExecution {
        execution_id: String,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_id: Option<String>,
    },
    /// From the API: restart a stage and what follows it.
    #[serde(rename_all = "camelCase")]
    RestartStage {
        execution_id: String,
        stage_id: String,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_id: Option<String>,
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

    /// The id the API gave a user's operation (cancel, pause, resume, restart). Unlike the
    /// other messages these are not idempotent as a sequence: a pause delivered again after
    /// the resume that followed it would pause again. The orchestrator remembers the ids it
    /// applied, so a redelivered operation is recognised and skipped.
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            Self::CancelExecution { operation_id, .. }
            | Self::PauseExecution { operation_id, .. }
            | Self::ResumeExecution { operation_id, .. }
            | Self::RestartStage { operation_id, .. } => operation_id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_model::ExecutionStatus;
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
    fn every_message_reads_back_what_it_wrote() {
        let messages = [
            OrchestrationMessage::WakeUp {
                execution_id: "e".into(),
            },
            OrchestrationMessage::CancelExecution {
                execution_id: "e".into(),
                user: "u".into(),
                reason: None,
                operation_id: None,
            },
            OrchestrationMessage::Abort {
                execution_id: "e".into(),
                reason: "r".into(),
                stage_id: Some("s".into()),
            },
            OrchestrationMessage::RestartStage {
                execution_id: "e".into(),
                stage_id: "s".into(),
                user: "u".into(),
                operation_id: Some("o".into()),
            },
        ];
        for message in messages {
            let json = serde_json::to_value(&message).unwrap();
            assert_eq!(json["executionId"], "e");
            let read: OrchestrationMessage = serde_json::from_value(json).unwrap();
            assert_eq!(read, message);
        }
    }
}
