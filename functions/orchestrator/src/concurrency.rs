//! Concurrency limits per pipeline config (Orca's `StartWaitingExecutionsHandler`), around the engine: a Start is
//! admitted into the config's ledger or waits there NOT_STARTED; a completed execution frees
//! its slot and wakes (or, without `keepWaitingPipelines`, supersedes) the waiting ones.

use gennaker_model::Execution;
use gennaker_model::concurrency::{Admission, ConcurrencyLedger, slot_limit};
use gennaker_protocol::OrchestrationMessage;

use crate::{Orchestrator, OrchestratorError};

const SUPERSEDED_REASON: &str =
    "This pipeline execution was superseded by a newer one waiting to run";

impl Orchestrator {
    /// Admits a NOT_STARTED execution of a limited config, or records it as waiting.
    pub(crate) async fn admit(
        &self,
        execution: &Execution,
    ) -> Result<Admission, OrchestratorError> {
        let (Some(limit), Some(config_id)) = (
            slot_limit(execution),
            execution.pipeline_config_id.as_deref(),
        ) else {
            return Ok(Admission::Run);
        };
        let (mut ledger, version) = self.store.load_concurrency_ledger(config_id).await?;
        let before = ledger.clone();
        let admission = ledger.admit(&execution.id, limit);
        if ledger != before {
            self.store
                .save_concurrency_ledger(config_id, &ledger, version)
                .await?;
        }
        Ok(admission)
    }

    /// Frees a completed execution's slot, then makes the ledger true: slot holders are
    /// woken, superseded executions canceled. Repeating it is harmless, so a redelivered
    /// completion heals a crash in between.
    pub(crate) async fn release(&self, execution: &Execution) -> Result<(), OrchestratorError> {
        let (Some(limit), Some(config_id)) = (
            slot_limit(execution),
            execution.pipeline_config_id.as_deref(),
        ) else {
            return Ok(());
        };
        let ledger = self
            .release_in_ledger(
                config_id,
                &execution.id,
                limit,
                execution.keep_waiting_pipelines,
            )
            .await?;
        for id in ledger.running.iter().filter(|id| **id != execution.id) {
            self.queue
                .send(
                    id,
                    &OrchestrationMessage::WakeUp {
                        execution_id: id.clone(),
                    },
                )
                .await?;
        }
        for id in &ledger.superseded {
            let cancel = OrchestrationMessage::CancelExecution {
                execution_id: id.clone(),
                user: "spinnaker".into(),
                reason: Some(SUPERSEDED_REASON.into()),
                operation_id: None,
            };
            self.queue.send(id, &cancel).await?;
        }
        Ok(())
    }

    async fn release_in_ledger(
        &self,
        config_id: &str,
        execution_id: &str,
        limit: usize,
        keep_waiting: bool,
    ) -> Result<ConcurrencyLedger, OrchestratorError> {
        let (mut ledger, version) = self.store.load_concurrency_ledger(config_id).await?;
        let before = ledger.clone();
        ledger.release(execution_id, limit, keep_waiting);
        if ledger != before {
            self.store
                .save_concurrency_ledger(config_id, &ledger, version)
                .await?;
        }
        Ok(ledger)
    }
}
