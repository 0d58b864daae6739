//! The pipeline state machine (`statemachines/pipeline.asl.json`): its input, and the answer
//! the orchestrator gives its task token when the execution ends.

use gennaker_model::ExecutionStatus;
use serde::{Deserialize, Serialize};

/// The input of one run of the pipeline state machine (named after the execution id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineMachineInput {
    pub execution_id: String,
    pub application: String,
}

/// How the execution ended; the machine succeeds only on `SUCCEEDED`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineOutcome {
    pub status: ExecutionStatus,
    pub execution_id: String,
}
