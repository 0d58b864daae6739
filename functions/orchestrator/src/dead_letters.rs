//! The orchestration queue's dead-letter queue: a message that failed every retry ends its
//! execution TERMINAL with a readable reason, instead of leaving it RUNNING forever. Other
//! executions are not touched.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gennaker_runtime::batch::process_each;
use serde_json::Value;

use crate::{OrchestrationMessage, Orchestrator, OrchestratorError};

/// How much of the failed message the reason quotes.
const QUOTED_BODY_CHARS: usize = 300;

impl Orchestrator {
    /// Lambda entry point of the dead-letter consumer.
    pub async fn handle_dead_letters(&self, event: SqsEvent) -> SqsBatchResponse {
        process_each(
            event,
            |message| async move { self.abort_for(&message).await },
        )
        .await
    }

    async fn abort_for(&self, message: &SqsMessage) -> Result<(), OrchestratorError> {
        let body = message.body.as_deref().unwrap_or_default();
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let Some(execution_id) = parsed.get("executionId").and_then(Value::as_str) else {
            tracing::error!(body = %quote(body), "a dead letter names no execution; dropping it");
            return Ok(());
        };
        let kind = parsed
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let reason = format!(
            "Gennaker could not process a {kind} message for this execution after repeated attempts, so it was stopped. Message: {}",
            quote(body)
        );
        let abort = OrchestrationMessage::Abort {
            execution_id: execution_id.to_string(),
            reason,
            stage_id: parsed
                .get("stageId")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        match self.handle(abort).await {
            Err(OrchestratorError::UnknownExecution(id)) => {
                tracing::error!(execution_id = %id, "a dead letter names an unknown execution; dropping it");
                Ok(())
            }
            other => other,
        }
    }
}

fn quote(body: &str) -> String {
    body.chars().take(QUOTED_BODY_CHARS).collect()
}
