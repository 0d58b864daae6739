//! Turning a pipeline config and a trigger into a NOT_STARTED execution (Orca's
//! `ExecutionLauncher` + `PipelineBuilder`).

use gennaker_expressions::{EvaluationContext, evaluate_pipeline_at_trigger};
use serde_json::{Map, Value};

use crate::ExecutionStatus;
use crate::execution::{Authentication, Execution, ExecutionType, StageExecution, TaskExecution};
use crate::pipeline::PipelineConfig;
use crate::stage_types::stage_type;

/// Who started an execution, from the identity headers.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: Option<String>,
    pub origin: Option<String>,
    /// The accounts the caller may WRITE, recorded as the execution's
    /// `authentication.allowedAccounts`.
    pub allowed_accounts: Vec<String>,
}

/// A required parameter that has neither a value nor a default.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Required parameter {0} is missing")]
pub struct MissingParameter(pub String);

/// Completes a trigger as Gate and Orca do: `type` defaults to "manual", `user` to the caller
/// (or "[anonymous]"), `parameters` are filled from `parameterConfig` defaults, and a
/// required parameter without value or default is refused. Extra parameters are kept.
pub fn resolve_trigger(
    config: &PipelineConfig,
    mut trigger: Map<String, Value>,
    caller: &Caller,
) -> Result<Map<String, Value>, MissingParameter> {
    trigger
        .entry("type")
        .or_insert_with(|| Value::String("manual".to_string()));
    if trigger.get("user").is_none_or(Value::is_null) {
        let user = caller
            .user
            .clone()
            .unwrap_or_else(|| "[anonymous]".to_string());
        trigger.insert("user".to_string(), Value::String(user));
    }
    let mut parameters = match trigger.remove("parameters") {
        Some(Value::Object(parameters)) => parameters,
        _ => Map::new(),
    };
    for param in config.parameter_config() {
        let supplied = parameters
            .get(&param.name)
            .is_some_and(|value| !value.is_null());
        if supplied {
            continue;
        }
        match param.default {
            Some(default) => {
                parameters.insert(param.name, default);
            }
            None if param.required => return Err(MissingParameter(param.name)),
            None => {
                parameters.entry(param.name).or_insert(Value::Null);
            }
        }
    }
    trigger.insert("parameters".to_string(), Value::Object(parameters));
    for key in [
        "artifacts",
        "notifications",
        "resolvedExpectedArtifacts",
        "expectedArtifacts",
    ] {
        trigger.entry(key).or_insert_with(|| Value::Array(vec![]));
    }
    for key in ["rebake", "dryRun", "strategy"] {
        trigger.entry(key).or_insert(Value::Bool(false));
    }
    Ok(trigger)
}

/// Builds the NOT_STARTED execution of `config`. `new_id` supplies stage ids (ULIDs in
/// production), in stage order.
pub fn build_execution(
    config: &PipelineConfig,
    execution_id: String,
    trigger: Map<String, Value>,
    caller: &Caller,
    now: i64,
    mut new_id: impl FnMut() -> String,
) -> Execution {
    let config = &evaluated_at_trigger(config, &trigger);
    let stages = config
        .stages()
        .into_iter()
        .map(|stage| {
            let tasks = stage_type(&stage.stage_type)
                .map(|known| {
                    vec![TaskExecution::single(
                        known.task_name,
                        known.implementing_class,
                    )]
                })
                .unwrap_or_default();
            StageExecution {
                id: new_id(),
                ref_id: stage.ref_id,
                stage_type: stage.stage_type,
                name: stage.name,
                status: ExecutionStatus::NotStarted,
                start_time: None,
                end_time: None,
                start_time_expiry: stage.start_time_expiry,
                scheduled_time: None,
                requisite_stage_ref_ids: stage.requisite_stage_ref_ids,
                parent_stage_id: None,
                synthetic_stage_owner: None,
                context: stage.context,
                outputs: Map::new(),
                tasks,
                last_modified: None,
                attempt: 0,
            }
        })
        .collect();
    let user = trigger
        .get("user")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| caller.user.clone());
    Execution {
        execution_type: ExecutionType::Pipeline,
        id: execution_id,
        application: config.application().unwrap_or_default().to_string(),
        name: config.name().map(str::to_string),
        description: None,
        pipeline_config_id: config.id().map(str::to_string),
        status: ExecutionStatus::NotStarted,
        build_time: Some(now),
        start_time: None,
        end_time: None,
        start_time_expiry: None,
        canceled: false,
        canceled_by: None,
        cancellation_reason: None,
        limit_concurrent: config.limit_concurrent(),
        max_concurrent_executions: config.max_concurrent_executions(),
        keep_waiting_pipelines: config.keep_waiting_pipelines(),
        origin: Some(
            caller
                .origin
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
        ),
        authentication: Authentication {
            user,
            allowed_accounts: caller.allowed_accounts.clone(),
        },
        paused: None,
        notifications: config.notifications().to_vec(),
        initial_config: Map::new(),
        system_notifications: vec![],
        spel_evaluator: config.spel_evaluator().map(str::to_string),
        trigger,
        stages,
        extra: Map::new(),
    }
}

/// As Orca's `ExecutionLauncher` does, the config's expressions are evaluated at trigger time against the
/// trigger and its parameters — all but `stages` with `spelEvaluator: v4` (each stage is
/// evaluated when it starts), everything with v3. What cannot be evaluated yet stays as
/// written and is evaluated again when its stage starts.
fn evaluated_at_trigger(config: &PipelineConfig, trigger: &Map<String, Value>) -> PipelineConfig {
    let trigger = Value::Object(trigger.clone());
    let context = EvaluationContext::for_trigger(&trigger);
    let document = Value::Object(config.document().clone());
    let evaluated = evaluate_pipeline_at_trigger(&document, &context);
    PipelineConfig::from_value(evaluated.value).unwrap_or_else(|_| config.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> PipelineConfig {
        PipelineConfig::from_value(value).unwrap()
    }

    #[test]
    fn trigger_gets_defaults_and_keeps_extra_parameters() {
        let config = config(json!({"parameterConfig": [
            {"name": "env", "default": "test"}, {"name": "region", "default": "us-east-1"}]}));
        let supplied = json!({"parameters": {"env": "prod", "extra": "kept"}});
        let trigger = resolve_trigger(
            &config,
            supplied.as_object().unwrap().clone(),
            &Caller {
                user: Some("alice".into()),
                ..Caller::default()
            },
        )
        .unwrap();
        assert_eq!(trigger["type"], "manual");
        assert_eq!(trigger["user"], "alice");
        assert_eq!(
            trigger["parameters"],
            json!({"env": "prod", "extra": "kept", "region": "us-east-1"})
        );
    }

    #[test]
    fn a_required_parameter_without_value_or_default_is_refused() {
        let config = config(json!({"parameterConfig": [{"name": "tag", "required": true}]}));
        let error = resolve_trigger(&config, Map::new(), &Caller::default()).unwrap_err();
        assert_eq!(error.to_string(), "Required parameter tag is missing");
    }

    #[test]
    fn config_expressions_are_evaluated_at_trigger_time_except_v4_stages() {
        let stages = json!([{"refId": "1", "type": "wait", "label": "${parameters.env}"}]);
        let trigger = json!({"parameters": {"env": "prod"}})
            .as_object()
            .unwrap()
            .clone();
        let build = |evaluator: &str| {
            let config = config(
                json!({"application": "app", "name": "p", "spelEvaluator": evaluator,
                "description": "deploy to ${parameters.env}", "stages": stages}),
            );
            let mut ids = ["s1".to_string()].into_iter();
            build_execution(
                &config,
                "e".into(),
                trigger.clone(),
                &Caller::default(),
                1,
                || ids.next().unwrap(),
            )
        };
        let v4 = build("v4");
        assert_eq!(
            v4.stages[0].context["label"], "${parameters.env}",
            "v4 stages wait for their start"
        );
        let v3 = build("v3");
        assert_eq!(
            v3.stages[0].context["label"], "prod",
            "v3 evaluates the whole config at trigger time"
        );
    }

    #[test]
    fn execution_lifts_stage_fields_and_keeps_the_rest_as_context() {
        let config = config(json!({"id": "cfg", "application": "app", "name": "p",
            "stages": [{"refId": "1", "type": "wait", "name": "w", "waitTime": 3}]}));
        let mut ids = ["s1".to_string()].into_iter();
        let execution = build_execution(
            &config,
            "e1".into(),
            Map::new(),
            &Caller::default(),
            42,
            || ids.next().unwrap(),
        );
        assert_eq!(execution.pipeline_config_id.as_deref(), Some("cfg"));
        assert_eq!(execution.build_time, Some(42));
        let stage = &execution.stages[0];
        assert_eq!(
            (
                stage.id.as_str(),
                stage.ref_id.as_str(),
                stage.stage_type.as_str()
            ),
            ("s1", "1", "wait")
        );
        assert_eq!(Value::Object(stage.context.clone()), json!({"waitTime": 3}));
        assert_eq!(stage.tasks[0].name, "wait");
        assert_eq!(execution.origin.as_deref(), Some("unknown"));
    }
}
