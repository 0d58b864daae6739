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
use serde_json::Value;
use tokio::task::JoinSet;

#[path = "support/listing_seed.rs"]
mod listing_seed;

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
    let configs = listing_seed::save_configs(&http, &base, "bench", CONFIGS).await;
    let store = listing_seed::store(&running);
    let started = Instant::now();
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let (store, configs) = (store.clone(), configs.clone());
        writers.spawn(async move {
            listing_seed::write_executions(&store, &configs, executions, writer, WRITERS).await;
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
