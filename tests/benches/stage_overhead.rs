//! Orchestration overhead per stage, on local mode (moto + in-process functions).
//!
//! Runs a linear pipeline of `wait(0)` stages and reports, from the execution's own
//! timestamps: the time a stage spends between being started and being marked finished
//! (stage state machine start → Wait(0) → StageFinished on the FIFO queue → orchestrator),
//! and the
//! whole execution per stage. (A stage's end and its successor's start carry the same
//! timestamp: both are set by the one orchestrator event, so that gap is not measured.) Run with `cargo bench -p gennaker-tests --bench stage_overhead`.
//! Under `cargo test` (no `--bench` argument) it does nothing.

use std::time::{Duration, Instant};

use gennaker_local::{LocalOptions, start};
use serde_json::{Value, json};

const STAGES: usize = 20;
const RUNS: usize = 3;

#[tokio::main]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("stage_overhead: benchmark, run it with `cargo bench`");
        return;
    }
    let running = start(LocalOptions {
        api_port: 0,
        stack_name: "bench".to_string(),
        ..LocalOptions::default()
    })
    .await
    .expect("local mode");
    let http = reqwest::Client::new();
    let base = running.api_url();
    let stages: Vec<Value> = (0..STAGES)
        .map(|i| json!({"type": "wait", "name": format!("w{i}"), "waitTime": 0}))
        .collect();
    post(
        &http,
        &format!("{base}/pipelines"),
        json!({"application": "bench", "name": "linear", "stages": stages}),
    )
    .await;

    let (mut in_stage, mut per_stage_total) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let reference = post(&http, &format!("{base}/pipelines/bench/linear"), json!({})).await;
        let execution = wait_until_done(
            &http,
            &format!("{base}{}", reference["ref"].as_str().unwrap()),
        )
        .await;
        let wall = started.elapsed();
        assert_eq!(execution["status"], "SUCCEEDED");
        let stages = execution["stages"].as_array().unwrap();
        let time = |stage: &Value, key: &str| stage[key].as_i64().unwrap();
        in_stage.extend(
            stages
                .iter()
                .map(|s| time(s, "endTime") - time(s, "startTime")),
        );
        per_stage_total.push(wall.as_millis() as i64 / STAGES as i64);
    }
    report("stage started -> marked finished (ms)", &mut in_stage);
    report("trigger -> SUCCEEDED, per stage (ms)", &mut per_stage_total);
    running.stop().await;
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

async fn wait_until_done(http: &reqwest::Client, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let execution: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        if !matches!(
            execution["status"].as_str(),
            Some("RUNNING" | "NOT_STARTED")
        ) {
            return execution;
        }
        assert!(Instant::now() < deadline, "execution did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report(what: &str, samples: &mut [i64]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: n={} min={} p50={} p90={} max={}",
        samples.len(),
        samples[0],
        at(0.5),
        at(0.9),
        samples[samples.len() - 1]
    );
}
