//! The messages that cross a queue or a state machine between Gennaker's functions, each as
//! one `Serialize + Deserialize` type that its sender writes and its receiver reads.
//!
//! | boundary | type | written by | read by |
//! |---|---|---|---|
//! | pipeline state machine input | [`PipelineMachineInput`] | every launch path (`gennaker-launch`), the orchestrator when it reopens an execution | `statemachines/pipeline.asl.json` |
//! | the pipeline machine's task token answer | [`PipelineOutcome`] | orchestrator | `pipeline.asl.json` (`$.result.status`) |
//! | orchestration FIFO queue | [`OrchestrationMessage`] | the state machines, the API, the orchestrator itself, the reconciler, the dead-letter handler | orchestrator |
//! | stage state machine input | [`StageInput`] | orchestrator | `statemachines/stage.asl.json` |
//! | a worker queue | [`WorkerMessage`]: a [`TaskMessage`] (from the stage machine) or a [`CancelNotice`] (from the orchestrator) | stage machine, orchestrator | stage workers |
//! | a worker's answer to its task token, a stage attempt's result | [`Answer`] | workers, the stage machine's Pass states, the orchestrator for pipeline stages | stage machine, orchestrator |
//!
//! The state machines write some of these messages themselves; the tests at the end of this
//! crate check their JSON paths against the types.

mod answer;
mod orchestration;
mod pipeline_machine;
mod stage_machine;

pub use answer::{Answer, exception};
pub use orchestration::OrchestrationMessage;
pub use pipeline_machine::{PipelineMachineInput, PipelineOutcome};
pub use stage_machine::{CancelNotice, StageInput, TaskMessage, WorkerMessage};

#[cfg(test)]
mod state_machine_paths;
