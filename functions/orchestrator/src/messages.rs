//! The engine event each orchestration message stands for. The messages themselves are
//! defined once, in `gennaker-protocol`.

use gennaker_engine::Event;
use gennaker_protocol::OrchestrationMessage;

/// The engine event `message` stands for, stamped with `now`. Starting a child pipeline is
/// work the orchestrator does for a running stage, not an engine event.
pub fn engine_event(message: &OrchestrationMessage, now: i64) -> Option<Event> {
    use OrchestrationMessage as M;
    Some(match message {
        M::StartChildPipeline { .. } => return None,
        M::Abort {
            reason, stage_id, ..
        } => Event::Abort {
            reason: reason.clone(),
            stage_id: stage_id.clone(),
            now,
        },
        M::StartExecution { .. } | M::WakeUp { .. } => Event::Start { now },
        M::StageFinished {
            stage_id,
            attempt,
            result,
            ..
        } => Event::StageFinished {
            stage_id: stage_id.clone(),
            attempt: *attempt,
            // An attempt cannot end RUNNING: a non-final status is a failure.
            status: result.final_status(),
            context: result.context.clone(),
            outputs: result.outputs.clone(),
            now,
        },
        M::CancelExecution { user, reason, .. } => Event::Cancel {
            user: user.clone(),
            reason: reason.clone(),
            now,
        },
        M::PauseExecution { user, .. } => Event::Pause {
            user: user.clone(),
            now,
        },
        M::ResumeExecution { user, .. } => Event::Resume {
            user: user.clone(),
            now,
        },
        M::RestartStage { stage_id, user, .. } => Event::RestartStage {
            stage_id: stage_id.clone(),
            user: user.clone(),
            now,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_model::ExecutionStatus;
    use serde_json::json;

    #[test]
    fn a_stage_that_reports_a_non_final_status_failed() {
        let message: OrchestrationMessage = serde_json::from_value(json!({
            "type": "StageFinished", "executionId": "e", "stageId": "s", "attempt": 2,
            "result": {"status": "RUNNING"}
        }))
        .unwrap();
        let Some(Event::StageFinished { status, .. }) = engine_event(&message, 0) else {
            panic!("not a stage event")
        };
        assert_eq!(status, ExecutionStatus::Terminal);
    }
}
