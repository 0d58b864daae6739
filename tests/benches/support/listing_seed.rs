//! Seeding shared by the listing benchmarks: pipeline configs saved through the API, and
//! finished executions written straight through the store (as the API would), spread over
//! the last 30 days with the newest last.

use gennaker_local::Running;
use gennaker_model::launch::{Caller, build_execution};
use gennaker_model::{ExecutionStatus, PipelineConfig};
use gennaker_store::{Store, Tables};
use serde_json::{Map, Value, json};

/// Saves `count` configs (`p0`, `p1`, ...: a wait, then a manual judgment) of `application`.
pub async fn save_configs(
    http: &reqwest::Client,
    base: &str,
    application: &str,
    count: usize,
) -> Vec<PipelineConfig> {
    for i in 0..count {
        let config = json!({"application": application, "name": format!("p{i}"),
            "stages": [{"refId": "1", "type": "wait", "name": "w", "waitTime": 1},
                       {"refId": "2", "requisiteStageRefIds": ["1"], "type": "manualJudgment", "name": "j"}]});
        let response = http
            .post(format!("{base}/pipelines"))
            .header("content-type", "application/json")
            .body(config.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let listed: Vec<Value> = http
        .get(format!("{base}/applications/{application}/pipelineConfigs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed
        .into_iter()
        .map(|value| PipelineConfig::from_value(value).unwrap())
        .collect()
}

/// The store of a local-mode instance.
pub fn store(running: &Running) -> Store {
    let table = |id: &str| running.deployment.resource(id).unwrap().ref_value.clone();
    Store::new(
        aws_sdk_dynamodb::Client::new(&running.sdk),
        Tables {
            applications: table("ApplicationsTable"),
            pipelines: table("PipelinesTable"),
            executions: table("ExecutionsTable"),
        },
    )
}

/// Writes executions `first, first + step, ...` below `total`, round-robin over `configs`.
pub async fn write_executions(
    store: &Store,
    configs: &[PipelineConfig],
    total: usize,
    first: usize,
    step: usize,
) {
    let now = gennaker_model::json::now_millis();
    for n in (first..total).step_by(step) {
        let config = &configs[n % configs.len()];
        let built = now - ((total - n) as i64 * 30 * 24 * 3600 * 1000 / total as i64);
        let id = ulid::Ulid::from_parts(built as u64, n as u128).to_string();
        let mut execution = build_execution(
            config,
            id,
            Map::new(),
            &Caller::default(),
            built,
            gennaker_model::new_id,
        );
        execution.status = ExecutionStatus::Succeeded;
        execution.start_time = Some(built);
        execution.end_time = Some(built + 1000);
        // moto occasionally answers a concurrent transaction with a 500: retry it.
        let mut attempts = 0;
        while let Err(error) = store.create_execution(&execution, 86_400).await {
            attempts += 1;
            assert!(attempts < 5, "storing an execution: {error}");
            if matches!(error, gennaker_store::StoreError::Conflict(_)) {
                break; // written by the attempt whose answer was lost
            }
        }
    }
}
