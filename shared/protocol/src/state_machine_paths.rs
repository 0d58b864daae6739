//! The state machines write and read some of the protocol's messages themselves: their JSON
//! paths and message bodies are checked here against the types, so renaming a field on one
//! side fails a test instead of an execution.

use serde_json::{Map, Value, json};

use crate::{
    Answer, OrchestrationMessage, PipelineMachineInput, PipelineOutcome, StageInput, TaskMessage,
    WorkerMessage,
};

fn definition(file: &str) -> Value {
    let path = format!("{}/../../statemachines/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every object in the definition, depth first.
fn objects(value: &Value) -> Vec<&Map<String, Value>> {
    let mut found = Vec::new();
    match value {
        Value::Object(map) => {
            found.push(map);
            for child in map.values() {
                found.extend(objects(child));
            }
        }
        Value::Array(items) => items.iter().for_each(|item| found.extend(objects(item))),
        _ => {}
    }
    found
}

/// A stage machine state with every field the orchestrator may write, as the machine holds
/// it when it sends a worker message or reports (`result` already set).
fn full_stage_state() -> Value {
    let input = StageInput {
        execution_id: "e".into(),
        application: "app".into(),
        stage_id: "s".into(),
        ref_id: "1".into(),
        attempt: 1,
        stage_type: "webhook".into(),
        name: "n".into(),
        wait_seconds: 0,
        timeout_seconds: Some(60),
        start_time: Some(1),
        start_child_deduplication_id: "e-s-1-start-child".into(),
        context: Map::new(),
        not_before: Some("2026-01-01T00:00:00Z".into()),
        result: Some(Answer::running(1, Map::new())),
        allowed_accounts: vec!["prod".into()],
    };
    serde_json::to_value(input).unwrap()
}

/// Replaces every `"key.$": "path"` by `"key": <the value at path in state>`.
fn instantiate(template: &Value, state: &Value) -> Value {
    match template {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| match key.strip_suffix(".$") {
                    Some(key) => (key.to_string(), resolve(value.as_str().unwrap(), state)),
                    None => (key.clone(), instantiate(value, state)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn resolve(path: &str, state: &Value) -> Value {
    if path.starts_with("$$.") {
        return json!("from-the-context-object");
    }
    let pointer = path.trim_start_matches('$').replace('.', "/");
    state
        .pointer(&pointer)
        .cloned()
        .unwrap_or_else(|| panic!("{path} is not in the state {state}"))
}

/// The message bodies the machine sends, read as `T` and written back unchanged.
fn check_bodies<T>(file: &str, state: &Value, is_kind: impl Fn(&Map<String, Value>) -> bool)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let definition = definition(file);
    let bodies: Vec<_> = objects(&definition)
        .into_iter()
        .filter_map(|object| object.get("MessageBody")?.as_object())
        .filter(|body| is_kind(body))
        .collect();
    assert!(!bodies.is_empty(), "{file} sends no such message");
    for body in bodies {
        let message = instantiate(&Value::Object(body.clone()), state);
        let read: T = serde_json::from_value(message.clone())
            .unwrap_or_else(|error| panic!("{file}: {message} does not read: {error}"));
        let written = serde_json::to_value(read).unwrap();
        let keys = |value: &Value| {
            value
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut expected = keys(&message);
        let mut actual = keys(&written);
        expected.sort();
        actual.sort();
        assert_eq!(
            actual, expected,
            "{file}: the type and the machine disagree"
        );
    }
}

#[test]
fn orchestration_messages_of_the_machines_match_the_type() {
    let pipeline_input = serde_json::to_value(PipelineMachineInput {
        execution_id: "e".into(),
        application: "app".into(),
    })
    .unwrap();
    let is_orchestration = |body: &Map<String, Value>| body.contains_key("type");
    check_bodies::<OrchestrationMessage>("pipeline.asl.json", &pipeline_input, is_orchestration);
    let mut finished_state = full_stage_state();
    finished_state["result"] = json!({"status": "SUCCEEDED", "context": {}, "outputs": {}});
    check_bodies::<OrchestrationMessage>("stage.asl.json", &finished_state, is_orchestration);
}

#[test]
fn worker_task_messages_match_the_type() {
    let state = full_stage_state();
    check_bodies::<TaskMessage>("stage.asl.json", &state, |body| {
        body.contains_key("stage.$")
    });
    let message = instantiate(
        &json!({"taskToken.$": "$$.Task.Token", "stage.$": "$"}),
        &state,
    );
    assert!(matches!(
        serde_json::from_value::<WorkerMessage>(message).unwrap(),
        WorkerMessage::Task(_)
    ));
}

/// Every `$.field` the stage machine reads is written by the orchestrator, except what the
/// machine writes itself (its `ResultPath`s).
#[test]
fn every_path_the_stage_machine_reads_is_in_its_input() {
    let definition = definition("stage.asl.json");
    let all = objects(&definition);
    let machine_written: Vec<String> = all
        .iter()
        .filter_map(|object| object.get("ResultPath")?.as_str())
        .map(|path| path.trim_start_matches("$.").to_string())
        .collect();
    let state = full_stage_state();
    let input_fields = state.as_object().unwrap();
    let mut read = Vec::new();
    for object in &all {
        for (key, value) in object.iter() {
            let Some(path) = value.as_str().and_then(|text| text.strip_prefix("$.")) else {
                continue;
            };
            if key.ends_with(".$") || key.ends_with("Path") || key == "Variable" {
                read.push(path.to_string());
            }
        }
    }
    assert!(read.iter().any(|path| path == "notBefore"));
    for path in read {
        let field = path.split('.').next().unwrap();
        if machine_written.iter().any(|written| written == field) {
            continue;
        }
        assert!(
            input_fields.contains_key(field),
            "stage.asl.json reads $.{path}, which StageInput does not write"
        );
    }
}

/// What the machine writes into `$.result` (Pass states for waits, failures, timeouts) reads
/// as an answer, and the answer fields it reads exist.
#[test]
fn results_the_machine_writes_are_answers() {
    let definition = definition("stage.asl.json");
    let error_state = json!({"error": {"Error": "States.TaskFailed"}});
    for object in objects(&definition) {
        if object.get("Type") != Some(&json!("Pass"))
            || object.get("ResultPath") != Some(&json!("$.result"))
        {
            continue;
        }
        let written = object
            .get("Result")
            .or_else(|| object.get("Parameters"))
            .unwrap();
        let answer: Answer = serde_json::from_value(instantiate(written, &error_state)).unwrap();
        assert!(answer.status.is_complete());
    }
    let answer_fields = serde_json::to_value(Answer::running(1, Map::new())).unwrap();
    for path in ["status", "backoffSeconds"] {
        assert!(answer_fields.get(path).is_some());
    }
    let outcome = serde_json::to_value(PipelineOutcome {
        status: gennaker_model::ExecutionStatus::Succeeded,
        execution_id: "e".into(),
    })
    .unwrap();
    assert_eq!(outcome["status"], "SUCCEEDED");
}
