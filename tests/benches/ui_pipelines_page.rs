//! The web UI's pipelines page against the bare listing it is built on: an application with
//! 50 pipeline configs and 2,000 executions on local mode. Reports p50/p99 server time of
//! `GET /ui/applications/bench/pipelines` and of `GET /applications/bench/pipelines?limit=3
//! &expand=false` (the listing with the page's limit), their ratio (the budget is 2×), and
//! the page's size (budget 150 KB with its assets).
//!
//! Run with `cargo bench --workspace --bench ui_pipelines_page`. Under `cargo test`
//! (no `--bench` argument) it does nothing. `GENNAKER_BENCH_EXECUTIONS=150` seeds fewer
//! executions: the page's size depends only on the newest three per config, so that measures
//! the size budget in a minute instead of the seed's many.

use std::time::{Duration, Instant};

use gennaker_local::{LocalOptions, start};
use tokio::task::JoinSet;

#[path = "support/listing_seed.rs"]
mod listing_seed;

const CONFIGS: usize = 50;
const DEFAULT_EXECUTIONS: usize = 2_000;
const SAMPLES: usize = 40;
// One writer: moto answers concurrent transactions with 500s.
const WRITERS: usize = 1;

#[tokio::main]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("ui_pipelines_page: benchmark, run it with `cargo bench`");
        return;
    }
    let executions: usize = std::env::var("GENNAKER_BENCH_EXECUTIONS")
        .map(|count| {
            count
                .parse()
                .expect("GENNAKER_BENCH_EXECUTIONS is a number")
        })
        .unwrap_or(DEFAULT_EXECUTIONS);
    let running = start(LocalOptions {
        api_port: 0,
        stack_name: "uibench".to_string(),
        ..LocalOptions::default()
    })
    .await
    .expect("local mode");
    let http = reqwest::Client::new();
    let base = running.api_url();
    let task = serde_json::json!({"job": [{"type": "createApplication", "application": {"name": "bench"}}]});
    let created = http
        .post(format!("{base}/tasks"))
        .header("content-type", "application/json")
        .body(task.to_string())
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let configs = listing_seed::save_configs(&http, &base, "bench", CONFIGS).await;
    let store = listing_seed::store(&running);
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let (store, configs) = (store.clone(), configs.clone());
        writers.spawn(async move {
            listing_seed::write_executions(&store, &configs, executions, writer, WRITERS).await;
        });
    }
    writers.join_all().await;

    let listing = format!("{base}/applications/bench/pipelines?limit=3&expand=false");
    let page = format!("{base}/ui/applications/bench/pipelines");
    let mut page_bytes = 0;
    let mut listing_times = Vec::with_capacity(SAMPLES);
    let mut page_times = Vec::with_capacity(SAMPLES);
    // Interleaved so both see the same emulator load.
    for _ in 0..SAMPLES {
        listing_times.push(timed(&http, &listing).await.0);
        let (took, bytes) = timed(&http, &page).await;
        page_times.push(took);
        page_bytes = bytes;
    }
    let mut assets = 0;
    for asset in ["ui.css", "ui.js"] {
        assets += timed(&http, &format!("{base}/ui/assets/{asset}")).await.1;
    }
    let (listing_p50, listing_p99) = percentiles(&mut listing_times);
    let (page_p50, page_p99) = percentiles(&mut page_times);
    println!(
        "bare listing (limit=3, expand=false): p50 {listing_p50:?}, p99 {listing_p99:?}\n\
         UI pipelines page: p50 {page_p50:?}, p99 {page_p99:?}, ratio at p50 {:.2}× (budget 2×)\n\
         page {page_bytes} bytes + assets {assets} bytes = {} bytes (budget 153600)\n\
         ({CONFIGS} configs, {executions} executions, {SAMPLES} requests each)",
        page_p50.as_secs_f64() / listing_p50.as_secs_f64(),
        page_bytes + assets,
    );
    running.stop().await;
}

async fn timed(http: &reqwest::Client, url: &str) -> (Duration, usize) {
    let started = Instant::now();
    let response = http.get(url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let bytes = response.bytes().await.unwrap().len();
    (started.elapsed(), bytes)
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    (at(0.5), at(0.99))
}
