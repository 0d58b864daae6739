//! Listing an application with many stored executions: `GET /applications/{app}/pipelines`
//! (Deck's list view, `expand=false`, 10 per config) on local mode, p50/p99 over repeated
//! requests. Executions are written straight through the store (as the API would) across
//! `CONFIGS` pipeline configs; listing reads one index Query per config plus the executions
//! it shows, never a Scan.
//!
//! Run with `cargo bench -p gennaker-tests --bench application_listing` (100,000 executions;
//! `GENNAKER_BENCH_EXECUTIONS=10000` for a quicker run). Under `cargo test` (no `--bench`
//! argument) it does nothing.

use std::time::{Duration, Instant};

use gennaker_local::{LocalOptions, start};
use gennaker_model::launch::{Caller, build_execution};
use gennaker_model::{ExecutionStatus, PipelineConfig};
use gennaker_store::{Store, Tables};
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

const CONFIGS: usize = 20;
const SAMPLES: usize = 50;
const WRITERS: usize = 1;

#[tokio::main]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("application_listing: benchmark, run it with `cargo bench`");
        return;
    }
    let executions: usize = std::env::var("GENNAKER_BENCH_EXECUTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let running = start(LocalOptions {
        api_port: 0,
        stack_name: "listbench".to_string(),
        ..LocalOptions::default()
    })
    .await
    .expect("local mode");
    let http = reqwest::Client::new();
    let base = running.api_url();
    for i in 0..CONFIGS {
        let config = json!({"application": "bench", "name": format!("p{i}"),
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
        .get(format!("{base}/applications/bench/pipelineConfigs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let configs: Vec<PipelineConfig> = listed
        .into_iter()
        .map(|value| PipelineConfig::from_value(value).unwrap())
        .collect();

    let table = |id: &str| running.deployment.resource(id).unwrap().ref_value.clone();
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(&running.sdk),
        Tables {
            applications: table("ApplicationsTable"),
            pipelines: table("PipelinesTable"),
            executions: table("ExecutionsTable"),
        },
    );
    let started = Instant::now();
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let (store, configs) = (store.clone(), configs.clone());
        writers.spawn(async move {
            let now = gennaker_model::json::now_millis();
            for n in (writer..executions).step_by(WRITERS) {
                let config = &configs[n % configs.len()];
                // Spread over the last 30 days, newest last, so the 14-day rule applies.
                let built =
                    now - ((executions - n) as i64 * 30 * 24 * 3600 * 1000 / executions as i64);
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
        });
    }
    writers.join_all().await;
    println!(
        "stored {executions} executions over {CONFIGS} configs in {:.1?}",
        started.elapsed()
    );

    let url = format!("{base}/applications/bench/pipelines?limit=10&expand=false");
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = http.get(&url).send().await.unwrap();
        assert!(response.status().is_success());
        let body: Vec<Value> = response.json().await.unwrap();
        times.push(started.elapsed());
        assert_eq!(body.len(), CONFIGS * 10);
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "GET /applications/bench/pipelines?limit=10&expand=false with {executions} executions: p50 {:?}, p99 {:?}, max {:?} ({SAMPLES} requests, {} executions each)",
        at(0.5),
        at(0.99),
        times.last().copied().unwrap_or(Duration::ZERO),
        CONFIGS * 10
    );
    running.stop().await;
}
