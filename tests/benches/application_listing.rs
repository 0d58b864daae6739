//! Listing an application with many stored executions on local mode, p50/p99 over repeated
//! requests of what Deck and `spin` call:
//!
//! - `GET /applications/{app}/pipelines?limit=10&expand=false` (Deck's list view: one index
//!   Query per config plus the executions it shows, never a Scan);
//! - `GET /executions?pipelineConfigIds=…&limit=…` (one config's newest executions);
//! - `GET /pipelines/{id}` (one execution by id).
//!
//! Executions are spread over `CONFIGS` pipeline configs of one application and the last 30
//! days. They are loaded with BatchWriteItem of exactly the items the store's write path
//! (`Store::create_execution`, a transaction per execution) would write
//! (`Store::new_execution_items`), which takes minutes instead of most of an hour.
//!
//! Run with `cargo bench -p gennaker-tests --bench application_listing` (100,000 executions;
//! `GENNAKER_BENCH_EXECUTIONS=10000` for a quicker run). Under `cargo test` (no `--bench`
//! argument) it does nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use gennaker_local::{LocalOptions, start};
use gennaker_model::launch::{Caller, build_execution};
use gennaker_model::{ExecutionStatus, PipelineConfig};
use gennaker_store::Store;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

const CONFIGS: usize = 20;
const SAMPLES: usize = 200;
/// Concurrent BatchWriteItem requests while loading.
const WRITERS: usize = 4;
const BATCH: usize = 25;

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
    let listed: Vec<Value> =
        get_json(&http, &format!("{base}/applications/bench/pipelineConfigs")).await;
    let configs: Vec<PipelineConfig> = listed
        .into_iter()
        .map(|value| PipelineConfig::from_value(value).unwrap())
        .collect();

    let table = running
        .deployment
        .resource("ExecutionsTable")
        .unwrap()
        .ref_value
        .clone();
    let dynamodb = aws_sdk_dynamodb::Client::new(&running.sdk);
    let started = Instant::now();
    let ids = load(&dynamodb, &table, &configs, executions).await;
    println!(
        "stored {executions} executions over {CONFIGS} configs in {:.1?} (BatchWriteItem of the store's items)",
        started.elapsed()
    );

    measure(
        &http,
        "GET /applications/bench/pipelines?limit=10&expand=false",
        |_| format!("{base}/applications/bench/pipelines?limit=10&expand=false"),
        Some(CONFIGS * 10),
    )
    .await;
    measure(
        &http,
        "GET /executions?pipelineConfigIds={one config}&limit=10",
        |n| {
            format!(
                "{base}/executions?pipelineConfigIds={}&limit=10",
                configs[n % CONFIGS].id().unwrap_or_default()
            )
        },
        None,
    )
    .await;
    measure(
        &http,
        "GET /pipelines/{id}",
        |n| format!("{base}/pipelines/{}", ids[(n * 7919) % ids.len()]),
        None,
    )
    .await;
    println!(
        "RSS now: host {} MB, emulator {} MB",
        rss_mb(None),
        rss_mb(running.emulator_pid())
    );
    running.stop().await;
}

/// Writes `count` finished executions (newest last) and returns their ids.
async fn load(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    configs: &[PipelineConfig],
    count: usize,
) -> Vec<String> {
    let now = gennaker_model::json::now_millis();
    let mut ids = Vec::with_capacity(count);
    let mut requests: Vec<WriteRequest> = Vec::new();
    let mut writers = JoinSet::new();
    for n in 0..count {
        let config = &configs[n % configs.len()];
        // Spread over the last 30 days, newest last, so the 14-day rule applies.
        let built = now - ((count - n) as i64 * 30 * 24 * 3600 * 1000 / count as i64);
        let id = ulid::Ulid::from_parts(built as u64, n as u128).to_string();
        let mut execution = build_execution(
            config,
            id.clone(),
            Map::new(),
            &Caller::default(),
            built,
            gennaker_model::new_id,
        );
        execution.status = ExecutionStatus::Succeeded;
        execution.start_time = Some(built);
        execution.end_time = Some(built + 1000);
        ids.push(id);
        for item in Store::new_execution_items(&execution, 86_400).unwrap() {
            requests.push(put(item));
        }
        while requests.len() >= BATCH || (n + 1 == count && !requests.is_empty()) {
            let batch: Vec<WriteRequest> = requests.drain(..requests.len().min(BATCH)).collect();
            if writers.len() >= WRITERS {
                writers.join_next().await.unwrap().unwrap();
            }
            writers.spawn(write_batch(dynamodb.clone(), table.to_string(), batch));
        }
    }
    writers.join_all().await;
    ids
}

fn put(item: HashMap<String, AttributeValue>) -> WriteRequest {
    WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
        .build()
}

async fn write_batch(dynamodb: aws_sdk_dynamodb::Client, table: String, batch: Vec<WriteRequest>) {
    let mut pending = batch;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() {
        let output = dynamodb
            .batch_write_item()
            .request_items(&table, pending.clone())
            .send()
            .await
            .expect("BatchWriteItem");
        pending = output
            .unprocessed_items()
            .and_then(|left| left.get(&table).cloned())
            .unwrap_or_default();
        assert!(Instant::now() < deadline, "items left unprocessed");
    }
}

async fn measure(
    http: &reqwest::Client,
    what: &str,
    url: impl Fn(usize) -> String,
    expected_len: Option<usize>,
) {
    let mut times = Vec::with_capacity(SAMPLES);
    for n in 0..SAMPLES {
        let url = url(n);
        let started = Instant::now();
        let response = http.get(&url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let body: Value = response.json().await.unwrap();
        times.push(started.elapsed());
        if let Some(expected) = expected_len {
            assert_eq!(body.as_array().map(Vec::len), Some(expected), "{url}");
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{what}: p50 {:?}, p99 {:?}, max {:?} ({SAMPLES} requests)",
        at(0.5),
        at(0.99),
        times.last().copied().unwrap_or(Duration::ZERO),
    );
}

async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str) -> T {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// VmRSS of a process (this one when `pid` is None), in MB.
fn rss_mb(pid: Option<u32>) -> u64 {
    let path = pid.map_or("/proc/self/status".to_string(), |pid| {
        format!("/proc/{pid}/status")
    });
    std::fs::read_to_string(path)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
