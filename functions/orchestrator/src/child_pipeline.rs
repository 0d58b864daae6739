//! The `pipeline` stage (Orca's `PipelineStage`): the orchestrator starts the child execution, links
//! it to its parent, and answers the stage's task token when the child ends — through the
//! orchestrator, never nested state machines.

use gennaker_model::json::{bool_field, now_millis, str_field};
use gennaker_model::launch::{Caller, build_execution, resolve_trigger};
use gennaker_model::{Execution, ExecutionStatus, StageExecution, new_id};
use gennaker_protocol::{Answer, OrchestrationMessage};
use gennaker_runtime::step_functions::TokenAnswer;
use serde_json::{Map, Value, json};

use crate::{Orchestrator, OrchestratorError};

/// Why a child could not be started; the stage ends TERMINAL with this message.
struct Refused(String);

impl Orchestrator {
    /// Handles `StartChildPipeline`: parks the stage's token, starts the child once (its id
    /// is recorded on the stage first, so a redelivery finds it), answers at once unless the
    /// stage waits for the child.
    pub(crate) async fn start_child(
        &self,
        execution_id: &str,
        stage_id: &str,
        attempt: u32,
        token: &str,
    ) -> Result<(), OrchestratorError> {
        let parked = self
            .store
            .park_stage_task_token(execution_id, stage_id, attempt, token)
            .await?;
        let active = parked.is_some_and(|stage| {
            matches!(
                stage.status,
                ExecutionStatus::Running | ExecutionStatus::Paused
            )
        });
        if !active {
            // Restarted, canceled or gone: this attempt is over.
            return self.answer(token, Answer::canceled()).await;
        }
        let parent = self
            .store
            .load_execution(execution_id)
            .await?
            .ok_or_else(|| OrchestratorError::UnknownExecution(execution_id.to_string()))?;
        let stage = parent
            .execution
            .stage(stage_id)
            .ok_or_else(|| OrchestratorError::BadMessage(format!("no stage {stage_id}")))?;
        let child_id = match str_field(&stage.context, "executionId") {
            Some(id) => id.to_string(),
            None => {
                let id = new_id();
                let mut recorded = stage.clone();
                recorded.context.insert("executionId".into(), json!(id));
                let version = parent.stage_version(stage_id).unwrap_or_default();
                self.store
                    .update_stage(execution_id, &recorded, version)
                    .await?;
                id
            }
        };
        match self
            .launch_child(&parent.execution, stage, &child_id)
            .await?
        {
            Err(Refused(reason)) => self.answer(token, failure(&reason)).await,
            Ok(child) if child.status.is_complete() => {
                self.answer(token, child_result(&child, stage)).await
            }
            Ok(child) if !waits_for_completion(stage) => {
                let context = Map::from_iter([
                    ("executionId".into(), json!(child.id)),
                    ("executionName".into(), json!(child.name)),
                ]);
                self.answer(token, Answer::succeeded(context, Map::new()))
                    .await
            }
            Ok(_) => Ok(()),
        }
    }

    /// When an execution started by a pipeline stage completes, the waiting parent stage
    /// gets the child's result.
    pub(crate) async fn notify_parent(&self, child: &Execution) -> Result<(), OrchestratorError> {
        let (Some(parent_id), Some(stage_id)) = (
            parent_execution_id(child),
            str_field(&child.trigger, "parentPipelineStageId"),
        ) else {
            return Ok(());
        };
        let Some(parent) = self.store.load_execution(parent_id).await? else {
            return Ok(());
        };
        let Some(stage) = parent.execution.stage(stage_id) else {
            return Ok(());
        };
        let is_its_child = str_field(&stage.context, "executionId") == Some(child.id.as_str());
        match parent.stage_task_token(stage_id) {
            Some(token) if is_its_child && waits_for_completion(stage) => {
                self.answer(token, child_result(child, stage)).await
            }
            _ => Ok(()),
        }
    }

    /// Canceling a pipeline stage cancels its child.
    pub(crate) async fn cancel_child(
        &self,
        stage: &StageExecution,
    ) -> Result<(), OrchestratorError> {
        let Some(child_id) = str_field(&stage.context, "executionId") else {
            return Ok(());
        };
        let message = OrchestrationMessage::CancelExecution {
            execution_id: child_id.to_string(),
            user: "parent pipeline".into(),
            reason: Some("The parent pipeline was canceled".into()),
            operation_id: None,
        };
        self.queue.send(child_id, &message).await?;
        Ok(())
    }

    async fn launch_child(
        &self,
        parent: &Execution,
        stage: &StageExecution,
        child_id: &str,
    ) -> Result<Result<Execution, Refused>, OrchestratorError> {
        if let Some(existing) = self.launcher.relaunch_if_stored(child_id).await? {
            return Ok(Ok(existing));
        }
        let application = str_field(&stage.context, "application").unwrap_or(&parent.application);
        let Some(config_id) = str_field(&stage.context, "pipeline") else {
            return Ok(Err(Refused(
                "The pipeline stage names no pipeline (context.pipeline)".into(),
            )));
        };
        let Some(config) = self.store.get_pipeline(application, config_id).await? else {
            return Ok(Err(Refused(format!(
                "The referenced pipeline cannot be located ({application}/{config_id})"
            ))));
        };
        if config.is_disabled() {
            return Ok(Err(Refused(format!(
                "The referenced pipeline is disabled ({application}/{config_id})"
            ))));
        }
        // The child runs with its parent's credentials (Orca's pipeline stage passes the
        // parent's authentication on), never more.
        let caller = Caller {
            user: str_field(&parent.trigger, "user").map(str::to_string),
            origin: parent.origin.clone(),
            allowed_accounts: parent.authentication.allowed_accounts.clone(),
        };
        let trigger =
            match resolve_trigger(&config, child_trigger(parent, stage, config_id), &caller) {
                Ok(trigger) => trigger,
                Err(missing) => return Ok(Err(Refused(missing.to_string()))),
            };
        let child = build_execution(
            &config,
            child_id.to_string(),
            trigger,
            &caller,
            now_millis(),
            new_id,
        );
        // The parent stage fails with the reason; nothing of the child is written or run.
        if let Some(reason) = self.launcher.refusal(&child) {
            return Ok(Err(Refused(reason)));
        }
        self.launcher.launch(&child).await?;
        Ok(Ok(child))
    }

    async fn answer(&self, token: &str, output: Answer) -> Result<(), OrchestratorError> {
        if self
            .step_functions
            .send_task_success(token, &output)
            .await?
            == TokenAnswer::NoLongerWaiting
        {
            tracing::info!("the stage no longer waits for this answer");
        }
        Ok(())
    }
}

/// The child's trigger: a reference to the parent (not the whole parent execution, which
/// could be megabytes), the parent stage, and the stage's `pipelineParameters`.
fn child_trigger(
    parent: &Execution,
    stage: &StageExecution,
    config_id: &str,
) -> Map<String, Value> {
    let parameters = stage
        .context
        .get("pipelineParameters")
        .filter(|p| p.is_object())
        .cloned()
        .unwrap_or(json!({}));
    let trigger = json!({
        "type": "pipeline",
        "user": parent.trigger.get("user").cloned().unwrap_or(json!("[anonymous]")),
        "parentExecution": {
            "id": parent.id, "type": parent.execution_type, "application": parent.application,
            "name": parent.name, "pipelineConfigId": parent.pipeline_config_id, "status": parent.status,
        },
        "parentPipelineStageId": stage.id,
        "parentPipelineId": parent.pipeline_config_id,
        "parentPipelineName": parent.name,
        "parentPipelineApplication": parent.application,
        "parentStatus": parent.status,
        "isPipeline": true,
        "parameters": parameters,
        "correlationId": format!("{}_{}_{config_id}_{}", parent.id, stage.id, parent.start_time.unwrap_or(0)),
    });
    trigger.as_object().cloned().unwrap_or_default()
}

fn parent_execution_id(child: &Execution) -> Option<&str> {
    child.trigger.get("parentExecution")?.get("id")?.as_str()
}

fn waits_for_completion(stage: &StageExecution) -> bool {
    bool_field(&stage.context, "waitForCompletion").unwrap_or(true)
}

fn failure(reason: &str) -> Answer {
    let exception = json!({ "details": { "error": reason, "errors": [reason] } });
    Answer::finished(
        ExecutionStatus::Terminal,
        Map::from_iter([("exception".into(), exception)]),
        Map::new(),
    )
}

/// Orca's `monitorPipeline`: SUCCEEDED → SUCCEEDED, CANCELED → CANCELED, any other end →
/// TERMINAL with the child's stage errors; the child's outputs become the stage's outputs
/// unless `skipDownstreamOutput`.
fn child_result(child: &Execution, stage: &StageExecution) -> Answer {
    let status = match child.status {
        ExecutionStatus::Succeeded => ExecutionStatus::Succeeded,
        ExecutionStatus::Canceled => ExecutionStatus::Canceled,
        _ => ExecutionStatus::Terminal,
    };
    let mut context =
        json!({ "status": child.status, "executionId": child.id, "executionName": child.name });
    if status == ExecutionStatus::Terminal {
        let errors: Vec<String> = child
            .stages
            .iter()
            .filter(|stage| {
                stage.status.is_halt() || stage.status == ExecutionStatus::FailedContinue
            })
            .map(|stage| {
                format!(
                    "Stage '{}' of the child pipeline ended {}",
                    stage.name, stage.status
                )
            })
            .collect();
        context["exception"] =
            json!({ "details": { "error": "The child pipeline failed", "errors": errors } });
    }
    let mut outputs = Map::new();
    if !bool_field(&stage.context, "skipDownstreamOutput").unwrap_or(false) {
        for child_stage in &child.stages {
            outputs.extend(child_stage.outputs.clone());
        }
    }
    let context = match context {
        Value::Object(context) => context,
        _ => Map::new(),
    };
    Answer::finished(status, context, outputs)
}
