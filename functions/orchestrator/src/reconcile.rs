//! Reconciliation: finds running stages whose stage state machine run is gone (an emulator
//! or region incident lost it) or ended without its report being applied (the report was
//! lost, or the run was stopped from outside), and runs them again. Nothing else notices such
//! a stage: the execution would stay RUNNING forever. Likewise an execution written but not
//! started whose pipeline machine run is gone (lost with the emulator, or never started)
//! gets its machine started again, or it would stay NOT_STARTED forever.
//!
//! Stateless and safe to run twice at once: re-runs are named `{run}-r1`, `{run}-r2`, … and
//! started by name, so two reconcilers start the same run once. Workers key their progress on
//! the stage attempt, so a re-run resumes what the lost run started instead of repeating it.

use gennaker_model::execution::stage_machine_name;
use gennaker_model::json::now_millis;
use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use gennaker_protocol::OrchestrationMessage;
use gennaker_runtime::step_functions::{RunState, execution_arn};

use crate::{Orchestrator, OrchestratorError};

/// The reconciler's grace period from `STAGE_RERUN_AFTER_SECONDS` (default five minutes).
pub fn rerun_after_millis(env: &gennaker_env::FunctionEnv) -> i64 {
    env.optional("STAGE_RERUN_AFTER_SECONDS")
        .and_then(|seconds| seconds.parse::<i64>().ok())
        .unwrap_or(300)
        * 1000
}

/// After this many re-runs of one stage attempt ended without effect, the stage is failed.
pub const MAX_RERUNS: u32 = 3;

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Executions looked at (those not completed).
    pub examined: usize,
    /// Names of the stage state machine runs started again.
    pub rerun: Vec<String>,
    /// `(execution id, stage id)` of stages given up on (aborted TERMINAL).
    pub abandoned: Vec<(String, String)>,
    /// Ids of executions not yet started whose pipeline machine was started again.
    pub relaunched: Vec<String>,
}

enum Verdict {
    Healthy,
    Rerun(String),
    GiveUp,
}

impl Orchestrator {
    /// One pass over every execution that has not completed. A run that ended less than
    /// `grace_millis` ago is left alone: its report may still be on its way.
    pub async fn reconcile(&self, grace_millis: i64) -> Result<Reconciliation, OrchestratorError> {
        let mut done = Reconciliation::default();
        for id in self.store.active_execution_ids().await? {
            let Some(stored) = self.store.load_execution(&id).await? else {
                continue;
            };
            done.examined += 1;
            let execution = &stored.execution;
            if execution.status == ExecutionStatus::NotStarted
                && self.relaunch_if_lost(execution).await?
            {
                done.relaunched.push(execution.id.clone());
            }
            if execution.status != ExecutionStatus::Running {
                continue;
            }
            for stage in running_stages(execution) {
                match self.verdict(execution, stage, grace_millis).await? {
                    Verdict::Healthy => {}
                    Verdict::Rerun(name) => {
                        self.rerun(execution, stage, &name).await?;
                        done.rerun.push(name);
                    }
                    Verdict::GiveUp => {
                        self.abandon(execution, stage).await?;
                        done.abandoned
                            .push((execution.id.clone(), stage.id.clone()));
                    }
                }
            }
        }
        Ok(done)
    }

    /// Walks the runs of the stage's attempt in order: the first that is running (or ended
    /// recently) means all is well; the first missing one is the next to start.
    async fn verdict(
        &self,
        execution: &Execution,
        stage: &StageExecution,
        grace_millis: i64,
    ) -> Result<Verdict, OrchestratorError> {
        let first = stage_machine_name(&execution.id, &stage.id, stage.attempt);
        for rerun in 0..=MAX_RERUNS {
            let name = match rerun {
                0 => first.clone(),
                n => format!("{first}-r{n}"),
            };
            let arn = execution_arn(&self.stage_state_machine_arn, &name);
            match self.step_functions.run_state(&arn).await? {
                RunState::Running => return Ok(Verdict::Healthy),
                RunState::Ended { at_millis } if now_millis() - at_millis < grace_millis => {
                    return Ok(Verdict::Healthy);
                }
                RunState::Ended { .. } => continue,
                RunState::Missing => return Ok(Verdict::Rerun(name)),
            }
        }
        Ok(Verdict::GiveUp)
    }

    /// Starts the pipeline machine of a NOT_STARTED execution when no run of it exists. One
    /// that runs (waiting for a concurrency slot, say) or ended is left alone; the start is
    /// named after the execution, so a launch doing the same at once starts one run.
    async fn relaunch_if_lost(&self, execution: &Execution) -> Result<bool, OrchestratorError> {
        let arn = execution_arn(&self.pipeline_state_machine_arn, &execution.id);
        if self.step_functions.run_state(&arn).await? != RunState::Missing {
            return Ok(false);
        }
        tracing::warn!(execution_id = %execution.id,
            "an execution that has not started has no pipeline machine run; starting it again");
        self.launcher
            .start_machine_named(execution, &execution.id)
            .await?;
        Ok(true)
    }

    async fn rerun(
        &self,
        execution: &Execution,
        stage: &StageExecution,
        name: &str,
    ) -> Result<(), OrchestratorError> {
        tracing::warn!(execution_id = %execution.id, stage_id = %stage.id, run = name,
            "a running stage has no live state machine run; running it again");
        self.run_stage_machine(execution, stage, name).await
    }

    async fn abandon(
        &self,
        execution: &Execution,
        stage: &StageExecution,
    ) -> Result<(), OrchestratorError> {
        let reason = format!(
            "Stage '{}' stopped reporting: its state machine ended {} times without its result arriving",
            stage.name,
            MAX_RERUNS + 1
        );
        tracing::error!(execution_id = %execution.id, stage_id = %stage.id, %reason, "giving up on a stage");
        let abort = OrchestrationMessage::Abort {
            execution_id: execution.id.clone(),
            stage_id: Some(stage.id.clone()),
            reason,
        };
        self.queue.send(&execution.id, &abort).await?;
        Ok(())
    }
}

/// Stages that have a stage state machine run of their current attempt in flight.
fn running_stages(execution: &Execution) -> impl Iterator<Item = &StageExecution> {
    execution
        .stages
        .iter()
        .filter(|stage| stage.status == ExecutionStatus::Running && stage.attempt > 0)
}
