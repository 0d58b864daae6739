//! Orchestration overhead on local mode (moto + in-process functions), measured in one run:
//!
//! - per-transition overhead: stage N's state machine ended (it sent StageFinished) → stage
//!   N+1's state machine started, from Step Functions' own start/stop dates;
//! - a 100-stage linear pipeline of `wait(0)` stages, end to end;
//! - fan-out/fan-in DAGs of 10, 100 and 500 stages: the join's transition cost (last parent's
//!   machine ended → join's machine started), which must not grow with the DAG beyond what
//!   reading the execution costs;
//! - 100 concurrent executions: none lost, none failed;
//! - peak and final RSS of local mode (this process + the emulator);
//! - with `GENNAKER_EMULATOR_REQUEST_LOG=FILE`, the AWS requests the emulator served during
//!   the linear pipeline, by operation, per stage.
//!
//! Run with `cargo bench -p gennaker-tests --bench stage_overhead` (release build). Under
//! `cargo test` (no `--bench` argument) it does nothing.

use std::time::{Duration, Instant};

use aws_sdk_sfn::primitives::DateTime;
use gennaker_local::{LocalOptions, Running, start};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("stage_overhead: benchmark, run it with `cargo bench`");
        return;
    }
    // GENNAKER_BENCH_DATA_DIR=DIR measures with durable local state (journal in DIR).
    let running = start(LocalOptions {
        api_port: 0,
        stack_name: "bench".to_string(),
        data_dir: std::env::var_os("GENNAKER_BENCH_DATA_DIR").map(Into::into),
        reset_data: true,
        ..LocalOptions::default()
    })
    .await
    .expect("local mode");
    let bench = Bench {
        http: reqwest::Client::new(),
        base: running.api_url(),
        running: &running,
    };

    let stages: Vec<Value> = (0..100)
        .map(|i| json!({"type": "wait", "name": format!("w{i}"), "waitTime": 0}))
        .collect();
    bench.save("linear", stages).await;
    let started = Instant::now();
    let window_start = unix_seconds();
    let id = bench.run("linear").await;
    let wall = started.elapsed();
    report_requests(window_start, unix_seconds(), 100);
    let mut gaps = bench.transition_gaps(&id).await;
    println!(
        "100-stage linear pipeline: {:.2} s end to end ({:.0} ms per stage)",
        wall.as_secs_f64(),
        wall.as_millis() as f64 / 100.0
    );
    report(
        "per-transition overhead, stage N machine ended -> stage N+1 machine started (ms)",
        &mut gaps,
    );

    // GENNAKER_BENCH_FAN_WIDTHS=10,100 skips the 500-stage DAG, which moto struggles with.
    let widths: Vec<usize> = std::env::var("GENNAKER_BENCH_FAN_WIDTHS")
        .unwrap_or_else(|_| "10,100,500".to_string())
        .split(',')
        .filter_map(|width| width.trim().parse().ok())
        .collect();
    for width in widths {
        let mut stages = vec![json!({"refId": "start", "type": "wait", "waitTime": 0})];
        let parents: Vec<String> = (0..width - 2).map(|i| format!("p{i}")).collect();
        stages.extend(parents.iter().map(|p| json!({"refId": p, "requisiteStageRefIds": ["start"], "type": "wait", "waitTime": 0})));
        stages.push(json!({"refId": "join", "requisiteStageRefIds": parents, "type": "wait", "waitTime": 0}));
        let name = format!("fan-{width}");
        bench.save(&name, stages).await;
        let started = Instant::now();
        let id = bench.run(&name).await;
        let wall = started.elapsed();
        let join_cost = bench.join_transition(&id).await;
        println!(
            "fan-out/fan-in of {width} stages: {:.2} s end to end, join transition {join_cost} ms",
            wall.as_secs_f64()
        );
    }

    let three: Vec<Value> = (0..3)
        .map(|i| json!({"type": "wait", "name": format!("w{i}"), "waitTime": 0}))
        .collect();
    bench.save("concurrent", three).await;
    let started = Instant::now();
    let ids: Vec<String> = futures_join(&bench, 100).await;
    let mut succeeded = 0;
    for id in &ids {
        if bench.wait_until_done(id).await["status"] == "SUCCEEDED" {
            succeeded += 1;
        }
    }
    println!(
        "100 concurrent executions: {succeeded}/100 SUCCEEDED in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "peak RSS: host {} MB, emulator {} MB",
        status_mb(None, "VmHWM:"),
        status_mb(running.emulator_pid(), "VmHWM:")
    );
    println!(
        "RSS after the benchmark: host {} MB, emulator {} MB",
        status_mb(None, "VmRSS:"),
        status_mb(running.emulator_pid(), "VmRSS:")
    );
    running.stop().await;
}

async fn futures_join(bench: &Bench<'_>, count: usize) -> Vec<String> {
    let mut handles = Vec::new();
    for _ in 0..count {
        let (http, url) = (
            bench.http.clone(),
            format!("{}/pipelines/bench/concurrent", bench.base),
        );
        handles.push(tokio::spawn(async move {
            post(&http, &url, json!({})).await["ref"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(
            handle
                .await
                .unwrap()
                .trim_start_matches("/pipelines/")
                .to_string(),
        );
    }
    ids
}

struct Bench<'a> {
    http: reqwest::Client,
    base: String,
    running: &'a Running,
}

impl Bench<'_> {
    async fn save(&self, name: &str, stages: Vec<Value>) {
        post(
            &self.http,
            &format!("{}/pipelines", self.base),
            json!({"application": "bench", "name": name, "stages": stages}),
        )
        .await;
    }

    async fn run(&self, name: &str) -> String {
        let reference = post(
            &self.http,
            &format!("{}/pipelines/bench/{name}", self.base),
            json!({}),
        )
        .await;
        let id = reference["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/pipelines/")
            .to_string();
        let execution = self.wait_until_done(&id).await;
        assert_eq!(execution["status"], "SUCCEEDED", "{name}");
        id
    }

    async fn wait_until_done(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let execution: Value = self
                .http
                .get(format!("{}/pipelines/{id}", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !matches!(
                execution["status"].as_str(),
                Some("RUNNING" | "NOT_STARTED")
            ) {
                return execution;
            }
            assert!(Instant::now() < deadline, "execution {id} did not finish");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// (start, stop) of every stage machine run of `id`, keyed by stage id.
    async fn machine_times(&self, id: &str) -> Vec<(String, i64, i64)> {
        let sfn = aws_sdk_sfn::Client::new(&self.running.sdk);
        let machine = self
            .running
            .deployment
            .resource("StageStateMachine")
            .unwrap()
            .ref_value
            .clone();
        let mut runs = Vec::new();
        let mut token = None;
        loop {
            let page = sfn
                .list_executions()
                .state_machine_arn(&machine)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            for run in page
                .executions()
                .iter()
                .filter(|run| run.name().starts_with(id))
            {
                let stage_id = run.name()[id.len() + 1..]
                    .rsplit_once('-')
                    .unwrap()
                    .0
                    .to_string();
                runs.push((
                    stage_id,
                    millis(run.start_date()),
                    run.stop_date().map(millis).unwrap_or(0),
                ));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return runs;
            }
        }
    }

    async fn stage_ids(&self, id: &str) -> Vec<(String, String)> {
        let execution: Value = self
            .http
            .get(format!("{}/pipelines/{id}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        execution["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["refId"].as_str().unwrap().to_string(),
                    s["id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    async fn transition_gaps(&self, id: &str) -> Vec<i64> {
        let times = self.machine_times(id).await;
        let by_stage = |stage_id: &str| {
            times
                .iter()
                .find(|(s, _, _)| s == stage_id)
                .map(|(_, start, stop)| (*start, *stop))
        };
        let stages = self.stage_ids(id).await;
        stages
            .windows(2)
            .filter_map(|pair| Some(by_stage(&pair[1].1)?.0 - by_stage(&pair[0].1)?.1))
            .collect()
    }

    async fn join_transition(&self, id: &str) -> i64 {
        let times = self.machine_times(id).await;
        let stages = self.stage_ids(id).await;
        let join_id = &stages
            .iter()
            .find(|(ref_id, _)| ref_id == "join")
            .unwrap()
            .1;
        let join_start = times.iter().find(|(s, _, _)| s == join_id).unwrap().1;
        let last_parent_stop = times
            .iter()
            .filter(|(s, _, _)| s != join_id)
            .map(|(_, _, stop)| *stop)
            .max()
            .unwrap();
        join_start - last_parent_stop
    }
}

fn millis(date: &DateTime) -> i64 {
    date.to_millis().unwrap_or(0)
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{url}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn report(what: &str, samples: &mut [i64]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: n={} min={} p50={} p90={} p99={} max={}",
        samples.len(),
        samples[0],
        at(0.5),
        at(0.9),
        at(0.99),
        samples[samples.len() - 1]
    );
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// Counts the emulator's request log lines (`<time> <caller> <operation>`) between `from`
/// and `to`, by caller and operation, per stage.
fn report_requests(from: f64, to: f64, stages: usize) {
    let Ok(path) = std::env::var("GENNAKER_EMULATOR_REQUEST_LOG") else {
        return;
    };
    let log = std::fs::read_to_string(&path).unwrap_or_default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for line in log.lines() {
        let mut fields = line.splitn(3, ' ');
        let (Some(time), Some(caller), Some(operation)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if time
            .parse::<f64>()
            .is_ok_and(|time| time >= from && time <= to)
        {
            *counts.entry(format!("{caller} {operation}")).or_default() += 1;
        }
    }
    let total: usize = counts.values().sum();
    println!(
        "AWS requests during the linear pipeline: {total} ({:.1} per stage)",
        total as f64 / stages as f64
    );
    for (operation, count) in counts {
        println!(
            "  {operation}: {count} ({:.2} per stage)",
            count as f64 / stages as f64
        );
    }
}

/// A memory figure (`VmHWM:` peak, `VmRSS:` now) of a process (this one when `pid` is
/// None), in MB.
fn status_mb(pid: Option<u32>, field: &str) -> u64 {
    let path = pid.map_or("/proc/self/status".to_string(), |pid| {
        format!("/proc/{pid}/status")
    });
    std::fs::read_to_string(path)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .map(str::to_string)
        })
        .and_then(|line| {
            line.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
