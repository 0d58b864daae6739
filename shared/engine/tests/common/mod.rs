//! Helpers shared by the engine's integration tests.

#![allow(dead_code)]

use gennaker_engine::Event;
use gennaker_model::launch::{Caller, build_execution};
use gennaker_model::{Execution, ExecutionStatus, PipelineConfig};
use serde_json::{Map, Value, json};

/// A NOT_STARTED execution of a pipeline with these stage JSON objects. Stage ids are
/// `id-<refId>` so tests can name them.
pub fn execution_of(stages: Vec<Value>) -> Execution {
    let ids: Vec<String> = stages
        .iter()
        .map(|stage| format!("id-{}", stage["refId"].as_str().unwrap_or("?")))
        .collect();
    let config = PipelineConfig::from_value(json!({
        "id": "config", "application": "app", "name": "pipeline", "stages": stages
    }))
    .unwrap();
    let mut ids = ids.into_iter();
    build_execution(
        &config,
        "execution".to_string(),
        Map::new(),
        &Caller::default(),
        0,
        || ids.next().unwrap(),
    )
}

/// A wait stage with these requisites and extra context fields.
pub fn stage(ref_id: &str, requisites: &[&str], extra: Value) -> Value {
    let mut stage = json!({
        "refId": ref_id, "name": format!("stage {ref_id}"), "type": "wait",
        "requisiteStageRefIds": requisites
    });
    if let (Some(stage), Some(extra)) = (stage.as_object_mut(), extra.as_object()) {
        stage.extend(extra.clone());
    }
    stage
}

pub fn stage_id(ref_id: &str) -> String {
    format!("id-{ref_id}")
}

pub fn finished(ref_id: &str, attempt: u32, status: ExecutionStatus, now: i64) -> Event {
    Event::StageFinished {
        stage_id: stage_id(ref_id),
        attempt,
        status,
        context: Map::new(),
        outputs: Map::new(),
        now,
    }
}

pub fn status_of(execution: &Execution, ref_id: &str) -> ExecutionStatus {
    execution.stage_by_ref_id(ref_id).unwrap().status
}
