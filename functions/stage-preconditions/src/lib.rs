//! The `checkPreconditions` stage worker (Orca's `CheckPreconditionsStage`). Each entry of `preconditions`
//! is checked in order against the execution, seen from this stage:
//!
//! * `{"type": "expression", "context": {"expression": "<SpEL without ${}>"}}` passes when
//!   the expression is `true`; `false`, another value or an error fails it.
//! * `{"type": "clusterSize", ...}` is not supported: this worker does not read clusters
//!   (`shared/cloud` can, but is not wired in here), so the stage fails saying so.
//!
//! All passing -> SUCCEEDED. The first failing one ends the stage: STOPPED when that
//! precondition says `"failPipeline": false` (Orca's synthetic child ends STOPPED, and so
//! does its parent), else TERMINAL, to which the stage's own failure options apply. Every
//! checked precondition is listed in `context.preconditionResults`; a failure's message is
//! its `failureMessage` when given.
//!
//! Orca runs one synthetic child stage per precondition; Gennaker has no synthetic stages,
//! so the results are reported on the stage itself.

use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_expressions::{EvaluationContext, evaluate_condition};
use gennaker_model::json::{bool_field, str_field};
use gennaker_model::{Execution, ExecutionStatus};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, Tables};
use gennaker_worker::{
    Answer, LoadedStage, Progress, StageInput, StageWorker, Task, WorkerError, exception,
};
use serde_json::{Map, Value, json};

/// Seconds to wait before checking again while the execution is paused.
const PAUSED_BACKOFF_SECONDS: u64 = 10;

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct PreconditionsConfig {
    pub executions_table: String,
}

impl PreconditionsConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, MissingVariable> {
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
        })
    }
}

#[derive(Clone)]
pub struct PreconditionsWorker {
    store: Store,
    progress: Progress,
}

impl StageWorker for PreconditionsWorker {
    const NAME: &'static str = "preconditions";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, PreconditionsConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn paused_backoff_seconds(&self) -> u64 {
        PAUSED_BACKOFF_SECONDS
    }

    /// Preconditions are checked in one go; only the stage machine times them out.
    async fn on_timeout(
        &self,
        _input: &StageInput,
        _loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        Ok(None)
    }

    async fn step(&self, task: &Task, _loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        self.check_stored(&task.stage).await.map(Some)
    }
}

impl PreconditionsWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: PreconditionsConfig) -> Self {
        let tables = Tables {
            // It reads executions only; the role has no access to other tables.
            applications: String::new(),
            pipelines: String::new(),
            executions: config.executions_table,
        };
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), tables),
            // Nothing to record: preconditions are checked in one go.
            progress: Progress::new(None, StepFunctions::new(aws_sdk_sfn::Client::new(sdk))),
        }
    }

    /// Checks the preconditions against the execution as stored now (they see the outputs
    /// of every stage before this one).
    async fn check_stored(&self, input: &StageInput) -> Result<Answer, WorkerError> {
        let execution = self
            .store
            .load_execution(&input.execution_id)
            .await?
            .map(|stored| stored.execution);
        let stage = execution
            .as_ref()
            .and_then(|execution| execution.stage(&input.stage_id))
            .filter(|stage| stage.attempt == input.attempt);
        let answer = match (execution.as_ref(), stage.map(|stage| stage.status)) {
            (Some(execution), Some(ExecutionStatus::Running)) => {
                check(execution, &input.stage_id, &input.context)
            }
            (_, Some(ExecutionStatus::Paused)) => {
                Answer::running(PAUSED_BACKOFF_SECONDS, Map::new())
            }
            _ => Answer::canceled(),
        };
        Ok(answer)
    }
}

/// Checks the stage's preconditions against `execution`.
pub fn check(execution: &Execution, stage_id: &str, context: &Map<String, Value>) -> Answer {
    let root = serde_json::to_value(execution).unwrap_or(Value::Null);
    let evaluation = EvaluationContext::for_stage(&root, stage_id);
    let preconditions = match context.get("preconditions") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Answer::terminal("preconditions must be a list", Map::new());
        }
    };
    let mut results = Vec::new();
    for (index, precondition) in preconditions.iter().enumerate() {
        let Some(entry) = precondition.as_object() else {
            return failed(
                &mut results,
                index,
                json!({}),
                "a precondition must be an object",
                None,
            );
        };
        let kind = str_field(entry, "type").unwrap_or("expression");
        let outcome = match kind {
            "expression" => expression_outcome(entry, &evaluation),
            "clusterSize" => Err(
                "clusterSize preconditions need the cloud integration, which Gennaker does not have yet"
                    .to_string(),
            ),
            other => Err(format!("unknown precondition type '{other}'")),
        };
        let mut result = json!({"type": kind});
        if let Some(expression) = entry.get("context").and_then(|c| c.get("expression")) {
            result["expression"] = expression.clone();
        }
        match outcome {
            Ok(()) => {
                result["passed"] = json!(true);
                results.push(result);
            }
            Err(reason) => {
                let message = str_field(entry, "failureMessage")
                    .filter(|m| !m.trim().is_empty())
                    .map(str::to_string)
                    .unwrap_or(reason);
                return failed(
                    &mut results,
                    index,
                    result,
                    &message,
                    bool_field(entry, "failPipeline"),
                );
            }
        }
    }
    let mut context = Map::new();
    context.insert("preconditionResults".into(), Value::Array(results));
    Answer::succeeded(context, Map::new())
}

fn expression_outcome(
    entry: &Map<String, Value>,
    evaluation: &EvaluationContext<'_>,
) -> Result<(), String> {
    let expression = entry.get("context").and_then(|c| c.get("expression"));
    let passed = match expression {
        // Already evaluated at stage start (it was written with `${}`).
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) if !text.trim().is_empty() => {
            evaluate_condition(text, evaluation).map_err(|error| error.to_string())?
        }
        _ => return Err("an expression precondition needs context.expression".to_string()),
    };
    if passed {
        Ok(())
    } else {
        let shown = match expression {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Err(format!("Expression '{shown}' is false"))
    }
}

/// Ends the stage at the precondition `index`: STOPPED when it says `failPipeline: false`.
fn failed(
    results: &mut Vec<Value>,
    index: usize,
    mut result: Value,
    message: &str,
    fail_pipeline: Option<bool>,
) -> Answer {
    result["passed"] = json!(false);
    result["index"] = json!(index);
    result["message"] = json!(message);
    results.push(result);
    let mut context = Map::new();
    context.insert(
        "preconditionResults".into(),
        Value::Array(std::mem::take(results)),
    );
    context.insert("exception".into(), exception(message));
    let status = if fail_pipeline == Some(false) {
        ExecutionStatus::Stopped
    } else {
        ExecutionStatus::Terminal
    };
    Answer::finished(status, context, Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use gennaker_runtime::batch::parse_body;
    use gennaker_worker::WorkerMessage;

    /// The sample event in `events/` (used with `cargo lambda invoke`) must stay readable.
    #[test]
    fn sample_event_parses_into_a_task_message() {
        let path = format!(
            "{}/../../events/preconditions-task.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let WorkerMessage::Task(task) = parse_body(&event.records[0]).unwrap() else {
            panic!("not a task message");
        };
        assert_eq!(task.stage.stage_type, "checkPreconditions");
    }

    fn execution(parameters: Value) -> Execution {
        serde_json::from_value(json!({
            "id": "e1", "application": "demo", "type": "PIPELINE", "status": "RUNNING",
            "trigger": {"type": "manual", "parameters": parameters},
            "stages": [
                {"id": "s0", "refId": "0", "type": "wait", "name": "Bake", "status": "SUCCEEDED",
                 "context": {"ami": "ami-1"}, "outputs": {"version": "7"}},
                {"id": "s1", "refId": "1", "type": "checkPreconditions", "name": "Check", "status": "RUNNING",
                 "requisiteStageRefIds": ["0"], "context": {}, "attempt": 1}
            ]
        }))
        .expect("an execution")
    }

    fn context(preconditions: Value) -> Map<String, Value> {
        Map::from_iter([("preconditions".to_string(), preconditions)])
    }

    #[test]
    fn true_expressions_pass_and_the_first_false_one_fails() {
        let execution = execution(json!({"env": "prod"}));
        let answer = check(
            &execution,
            "s1",
            &context(json!([
                {"type": "expression", "context": {"expression": "parameters.env == 'prod'"}},
                {"type": "expression", "context": {"expression": "#stage('Bake')['context']['ami'] == 'ami-1'"}},
                {"type": "expression", "context": {"expression": true}},
            ])),
        );
        assert_eq!(answer.status, ExecutionStatus::Succeeded, "{answer:?}");
        assert_eq!(
            answer.context["preconditionResults"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        let answer = check(
            &execution,
            "s1",
            &context(json!([
                {"type": "expression", "context": {"expression": "true"}},
                {"type": "expression", "context": {"expression": "parameters.env == 'test'"}, "failureMessage": "only for test"},
                {"type": "expression", "context": {"expression": "true"}},
            ])),
        );
        assert_eq!(answer.status, ExecutionStatus::Terminal);
        assert_eq!(
            answer.context["exception"]["details"]["error"],
            "only for test"
        );
        assert_eq!(
            answer.context["preconditionResults"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn fail_pipeline_false_stops_only_this_branch() {
        let answer = check(
            &execution(json!({})),
            "s1",
            &context(
                json!([{"type": "expression", "context": {"expression": "1 > 2"}, "failPipeline": false}]),
            ),
        );
        assert_eq!(answer.status, ExecutionStatus::Stopped);
    }

    #[test]
    fn unusable_preconditions_fail_clearly() {
        let execution = execution(json!({}));
        for (preconditions, expected) in [
            (
                json!([{"type": "expression", "context": {"expression": "trigger.nope.deeper"}}]),
                "could not be evaluated",
            ),
            (
                json!([{"type": "expression", "context": {}}]),
                "needs context.expression",
            ),
            (
                json!([{"type": "clusterSize", "context": {"cluster": "app-main"}}]),
                "cloud integration",
            ),
            (json!([{"type": "weird"}]), "unknown precondition type"),
            (json!("nope"), "must be a list"),
        ] {
            let answer = check(&execution, "s1", &context(preconditions));
            assert_eq!(answer.status, ExecutionStatus::Terminal);
            let error = answer.context["exception"]["details"]["error"]
                .as_str()
                .unwrap();
            assert!(error.contains(expected), "{error}");
        }
        assert_eq!(
            check(&execution, "s1", &Map::new()).status,
            ExecutionStatus::Succeeded,
            "no preconditions: nothing to check"
        );
    }
}
