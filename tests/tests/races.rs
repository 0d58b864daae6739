//! Operations racing each other through the public API: many executions at once, each
//! receiving cancel, pause, resume, restart and judgments concurrently or back to back.
//! Every operation the API acknowledges takes effect in the order it was acknowledged
//! (Orca's handlers applied one message at a time, here one FIFO message group per
//! execution), so each execution must end in a state its operations allow.
//!
//! The pipeline is [manual judgment 1 ‖ wait 2] → join 3. Invariants checked for every
//! execution: it ends within a deadline; no stage is left running; the join never started
//! over a parent that did not succeed; the outcome is one the operations allow; every stage
//! attempt ran exactly one stage machine, and no stage or pipeline machine is left running.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gennaker_local::{Delivery, LocalOptions};
use serde_json::{Value, json};
use support::{TestApp, judgment, stage, wait};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Executions run at once for each scenario; every scenario runs at the same time.
const EXECUTIONS_PER_SCENARIO: usize = 25;
/// How long one wait of a client may take (its judgment to wait, its execution to end): far
/// beyond what an execution needs, so a loaded machine stays green and a lost operation
/// still fails.
const DEADLINE: Duration = Duration::from_secs(480);
/// Between two reads of one execution.
const POLL_EVERY: Duration = Duration::from_millis(300);
/// Reads of executions in flight at once, whichever client makes them: 175 clients polling
/// freely would keep the emulator busy answering them instead of running the executions.
/// The clients take turns, so each execution is still read every few hundred milliseconds.
const POLLS_AT_ONCE: usize = 2;
/// Triggers in flight at once: each starts a state machine, and the emulator refuses
/// connections when 175 arrive in the same instant. The executions still all run at once.
const TRIGGERS_AT_ONCE: usize = 8;
/// Seconds the wait stage beside the judgment runs.
const WAIT_SECONDS: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    /// Two identical judgments at the same instant.
    DuplicateJudgments,
    /// `continue` and `stop` at the same instant.
    ContinueAndStop,
    /// A cancel and a `continue` at the same instant.
    CancelRacingJudgment,
    /// pause, judge, resume, back to back.
    PauseJudgeResume,
    /// `stop`, restart of the judgment, `continue`, back to back.
    StopRestartJudge,
    /// `stop`, then two restarts of the judgment at the same instant.
    RestartTwice,
    /// A finished execution: restart of the judgment, then cancel, back to back.
    CancelDuringRestart,
}

const SCENARIOS: [Scenario; 7] = [
    Scenario::DuplicateJudgments,
    Scenario::ContinueAndStop,
    Scenario::CancelRacingJudgment,
    Scenario::PauseJudgeResume,
    Scenario::StopRestartJudge,
    Scenario::RestartTwice,
    Scenario::CancelDuringRestart,
];

/// One execution of a scenario: the answers the API gave, in the order sent, and how the
/// execution ended.
#[derive(Debug)]
struct Run {
    scenario: Scenario,
    id: String,
    answers: Vec<(&'static str, u16)>,
    ended: Value,
    /// From its trigger to its end.
    took: Duration,
}

/// Whether an answer names a lifecycle operation (which the orchestrator records in
/// `appliedOperationIds`) rather than a judgment.
fn is_lifecycle_operation(name: &str) -> bool {
    matches!(
        name,
        "pause" | "resume" | "cancel" | "restart" | "restart again"
    )
}

impl Run {
    fn answer(&self, operation: &str) -> u16 {
        self.answers
            .iter()
            .find(|(name, _)| *name == operation)
            .map(|(_, status)| *status)
            .unwrap_or_else(|| panic!("{operation} was not sent: {self:?}"))
    }

    fn stage(&self, ref_id: &str) -> &Value {
        stage(&self.ended, ref_id)
    }

    fn status_of(&self, ref_id: &str) -> &str {
        self.stage(ref_id)["status"].as_str().unwrap_or_default()
    }

    fn attempt_of(&self, ref_id: &str) -> u64 {
        self.stage(ref_id)["attempt"].as_u64().unwrap_or_default()
    }

    fn status(&self) -> &str {
        self.ended["status"].as_str().unwrap_or_default()
    }

    fn describe(&self) -> String {
        let stages: Vec<String> = ["1", "2", "3"]
            .iter()
            .map(|ref_id| {
                format!(
                    "{ref_id}:{}#{}",
                    self.status_of(ref_id),
                    self.attempt_of(ref_id)
                )
            })
            .collect();
        format!(
            "{:?} {} ended {} [{}] after {:?}",
            self.scenario,
            self.id,
            self.status(),
            stages.join(" "),
            self.answers
        )
    }
}

/// The API as one racing client uses it.
#[derive(Clone)]
struct Client {
    app: Arc<TestApp>,
    triggers: Arc<Semaphore>,
    polls: Arc<Semaphore>,
}

impl Client {
    async fn poll(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (status, execution) = {
                let _turn = self.polls.acquire().await.expect("never closed");
                self.app.get(&format!("/pipelines/{id}")).await
            };
            if status == 200 && done(&execution) {
                return execution;
            }
            if started.elapsed() > DEADLINE {
                let machines =
                    machine_runs(&self.app, &machine_arn(&self.app, "StageStateMachine"))
                        .await
                        .into_iter()
                        .filter(|(name, _)| name.starts_with(id))
                        .collect::<Vec<_>>();
                panic!(
                    "{id}: timed out waiting for {what}; its stage machine runs: {machines:?}; \
                     last seen ({status}): {execution}"
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Waits until the execution has ended and the orchestrator has applied the
    /// `operations` lifecycle operations acknowledged so far: until then a finished execution
    /// may only look finished because a restart is still queued.
    async fn ended(&self, id: &str, operations: usize) -> Value {
        self.poll(id, "the execution to end", |execution| {
            let applied = execution["appliedOperationIds"]
                .as_array()
                .map_or(0, Vec::len);
            let running = matches!(
                execution["status"].as_str(),
                Some("RUNNING" | "NOT_STARTED" | "PAUSED")
            );
            !running && applied >= operations
        })
        .await
    }

    /// Waits until attempt `attempt` of the judgment waits for an answer.
    async fn judgment_waits(&self, id: &str, attempt: u64) -> String {
        let execution = self
            .poll(id, &format!("attempt {attempt} of the judgment"), |e| {
                let judgment = stage(e, "1");
                judgment["status"] == "RUNNING" && judgment["attempt"] == attempt
            })
            .await;
        stage(&execution, "1")["id"].as_str().unwrap().to_string()
    }

    async fn judge(&self, id: &str, stage_id: &str, decision: &str) -> u16 {
        let path = format!("/pipelines/{id}/stages/{stage_id}");
        let (status, body) = self
            .app
            .patch(&path, &json!({"judgmentStatus": decision}))
            .await;
        assert!(
            status == 200 || status == 400,
            "{path}: {decision} answered {status}: {body}"
        );
        status
    }

    async fn put(&self, path: String, user: &str) -> u16 {
        let (status, body) = self.app.put(&path, user).await;
        assert_eq!(status, 200, "{path}: {body}");
        status
    }

    async fn restart(&self, id: &str, stage_id: &str) -> u16 {
        self.put(
            format!("/pipelines/{id}/stages/{stage_id}/restart"),
            "restarter",
        )
        .await
    }

    async fn cancel(&self, id: &str) -> u16 {
        self.put(format!("/pipelines/{id}/cancel?reason=race"), "canceler")
            .await
    }

    /// Triggers one execution, sends the scenario's operations and waits for its end.
    async fn run(self, scenario: Scenario) -> Run {
        let started = Instant::now();
        let id = {
            let _turn = self.triggers.acquire().await.expect("never closed");
            self.app.trigger("races", "judged").await
        };
        let judgment = self.judgment_waits(&id, 1).await;
        let (j, c) = (judgment.as_str(), self.clone());
        let mut answers = Vec::new();
        match scenario {
            Scenario::DuplicateJudgments => {
                let (first, second) =
                    tokio::join!(c.judge(&id, j, "continue"), c.judge(&id, j, "continue"));
                answers.extend([("continue", first), ("continue again", second)]);
            }
            Scenario::ContinueAndStop => {
                let (go, halt) = tokio::join!(c.judge(&id, j, "continue"), c.judge(&id, j, "stop"));
                answers.extend([("continue", go), ("stop", halt)]);
            }
            Scenario::CancelRacingJudgment => {
                let (canceled, go) = tokio::join!(c.cancel(&id), c.judge(&id, j, "continue"));
                answers.extend([("cancel", canceled), ("continue", go)]);
            }
            Scenario::PauseJudgeResume => {
                answers.push((
                    "pause",
                    c.put(format!("/pipelines/{id}/pause"), "pauser").await,
                ));
                answers.push(("continue", c.judge(&id, j, "continue").await));
                answers.push((
                    "resume",
                    c.put(format!("/pipelines/{id}/resume"), "resumer").await,
                ));
            }
            Scenario::StopRestartJudge => {
                answers.push(("stop", c.judge(&id, j, "stop").await));
                answers.push(("restart", c.restart(&id, j).await));
                answers.push(("continue", c.judge(&id, j, "continue").await));
                if answers[2].1 != 200 {
                    // Refused while the restart was still queued: the stage had its stop.
                    let again = c.judgment_waits(&id, 2).await;
                    answers.push(("continue again", c.judge(&id, &again, "continue").await));
                }
            }
            Scenario::RestartTwice => {
                answers.push(("stop", c.judge(&id, j, "stop").await));
                let (first, second) = tokio::join!(c.restart(&id, j), c.restart(&id, j));
                answers.extend([("restart", first), ("restart again", second)]);
                let again = c.judgment_waits(&id, 2).await;
                answers.push(("continue", c.judge(&id, &again, "continue").await));
            }
            Scenario::CancelDuringRestart => {
                answers.push(("stop", c.judge(&id, j, "stop").await));
                c.ended(&id, 0).await;
                answers.push(("restart", c.restart(&id, j).await));
                answers.push(("cancel", c.cancel(&id).await));
            }
        }
        let operations = answers
            .iter()
            .filter(|(name, _)| is_lifecycle_operation(name))
            .count();
        let ended = self.ended(&id, operations).await;
        Run {
            scenario,
            id,
            answers,
            ended,
            took: started.elapsed(),
        }
    }
}

/// Runs every scenario with [`EXECUTIONS_PER_SCENARIO`] executions at once on one local
/// mode instance and checks every invariant.
async fn race(options: LocalOptions) {
    let started = Instant::now();
    let app = Arc::new(TestApp::spawn_with(options).await);
    let pipeline = json!({"application": "races", "name": "judged", "stages": [
        judgment("1", &[], json!({})),
        wait("2", &[], WAIT_SECONDS),
        wait("3", &["1", "2"], 0),
    ]});
    let (status, body) = app.post("/pipelines", &pipeline).await;
    assert_eq!(status, 200, "{body}");

    // Every scenario at once: the executions of all of them race for the orchestrator and
    // the emulator together, which is both the harder test and the shorter run.
    let triggers = Arc::new(Semaphore::new(TRIGGERS_AT_ONCE));
    let polls = Arc::new(Semaphore::new(POLLS_AT_ONCE));
    let mut racing = JoinSet::new();
    for scenario in SCENARIOS {
        for _ in 0..EXECUTIONS_PER_SCENARIO {
            let client = Client {
                app: app.clone(),
                triggers: triggers.clone(),
                polls: polls.clone(),
            };
            racing.spawn(client.run(scenario));
        }
    }
    let runs: Vec<Run> = racing.join_all().await;
    for scenario in SCENARIOS {
        let took = runs
            .iter()
            .filter(|run| run.scenario == scenario)
            .map(|run| run.took)
            .max()
            .unwrap_or_default();
        eprintln!("races: {scenario:?}: the slowest execution took {took:?}");
    }
    for run in &runs {
        check_final_state(run);
        check_outcome(run);
    }
    check_machines(&app, &runs).await;

    let operations: usize = runs.iter().map(|run| run.answers.len()).sum();
    eprintln!(
        "races: {} executions, {operations} operations, {:?}",
        runs.len(),
        started.elapsed()
    );
    Arc::try_unwrap(app)
        .unwrap_or_else(|_| panic!("every client is done"))
        .stop()
        .await;
}

/// Ended, nothing left running, and the join only ever started over parents that let it.
fn check_final_state(run: &Run) {
    for ref_id in ["1", "2", "3"] {
        assert!(
            !matches!(run.status_of(ref_id), "RUNNING" | "PAUSED"),
            "a stage was left running: {}",
            run.describe()
        );
    }
    if run.status_of("3") != "NOT_STARTED" {
        for parent in ["1", "2"] {
            assert!(
                matches!(
                    run.status_of(parent),
                    "SUCCEEDED" | "FAILED_CONTINUE" | "SKIPPED"
                ),
                "the join started over parent {parent}: {}",
                run.describe()
            );
        }
    }
    let recorded = run.stage("1")["context"]["judgmentStatus"].as_str();
    let judged_status = match recorded {
        Some("continue") => Some("SUCCEEDED"),
        Some("stop") => Some("TERMINAL"),
        _ => None,
    };
    if let Some(expected) = judged_status
        && run.status_of("1") != "CANCELED"
    {
        assert_eq!(
            run.status_of("1"),
            expected,
            "the judgment's outcome contradicts its recorded answer: {}",
            run.describe()
        );
    }
}

/// The outcome is one the scenario's operations allow.
fn check_outcome(run: &Run) {
    let describe = run.describe();
    let wait_succeeded = run.status_of("2") == "SUCCEEDED";
    // After a stop, the wait beside it was canceled unless it had finished: the join below
    // a canceled branch never runs, and the execution ends CANCELED (Orca's
    // `RestartStageHandler`); otherwise the restarted judgment's continue lets it succeed.
    let after_restart = if wait_succeeded {
        ("SUCCEEDED", "SUCCEEDED")
    } else {
        ("CANCELED", "NOT_STARTED")
    };
    match run.scenario {
        Scenario::DuplicateJudgments => {
            assert_eq!(
                (run.answer("continue"), run.answer("continue again")),
                (200, 200),
                "a repeated judgment is accepted: {describe}"
            );
            assert_eq!(
                (run.status(), run.status_of("1"), run.status_of("3")),
                ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED"),
                "{describe}"
            );
        }
        Scenario::ContinueAndStop => {
            let answers = (run.answer("continue"), run.answer("stop"));
            let expected = match answers {
                (200, 400) => ("SUCCEEDED", "SUCCEEDED", "continue"),
                (400, 200) => ("TERMINAL", "TERMINAL", "stop"),
                _ => panic!("exactly one of two judgments is accepted: {describe}"),
            };
            let recorded = run.stage("1")["context"]["judgmentStatus"].as_str();
            assert_eq!(
                (
                    run.status(),
                    run.status_of("1"),
                    recorded.unwrap_or_default()
                ),
                expected,
                "{describe}"
            );
        }
        Scenario::CancelRacingJudgment => {
            assert_eq!(run.answer("cancel"), 200, "{describe}");
            match run.status() {
                "CANCELED" => {
                    assert_eq!(run.ended["canceledBy"], "canceler", "{describe}");
                    assert_ne!(run.status_of("3"), "SUCCEEDED", "{describe}");
                }
                // The cancel came after the whole pipeline had run: nothing to cancel.
                "SUCCEEDED" => assert_eq!(run.answer("continue"), 200, "{describe}"),
                _ => panic!("a canceled, unjudged execution: {describe}"),
            }
            if run.answer("continue") == 400 {
                assert_eq!(
                    (run.status(), run.status_of("1")),
                    ("CANCELED", "CANCELED"),
                    "the judgment was refused because the cancel came first: {describe}"
                );
            }
        }
        Scenario::PauseJudgeResume => {
            assert!(
                run.answers.iter().all(|(_, status)| *status == 200),
                "{describe}"
            );
            assert_eq!(
                (run.status(), run.status_of("3")),
                ("SUCCEEDED", "SUCCEEDED"),
                "the resume took effect: {describe}"
            );
            assert_eq!(
                (
                    &run.ended["paused"]["pausedBy"],
                    &run.ended["paused"]["resumedBy"]
                ),
                (&json!("pauser"), &json!("resumer")),
                "{describe}"
            );
        }
        Scenario::StopRestartJudge | Scenario::RestartTwice => {
            assert_eq!(run.answer("stop"), 200, "{describe}");
            let judged = run
                .answers
                .iter()
                .filter(|(name, status)| name.starts_with("continue") && *status == 200)
                .count();
            assert_eq!(judged, 1, "one continue was accepted: {describe}");
            assert_eq!(
                (run.status_of("1"), run.attempt_of("1")),
                ("SUCCEEDED", 2),
                "the judgment ran again, once: {describe}"
            );
            assert_eq!(
                (run.status(), run.status_of("3")),
                after_restart,
                "{describe}"
            );
        }
        Scenario::CancelDuringRestart => {
            assert_eq!(
                (run.answer("restart"), run.answer("cancel")),
                (200, 200),
                "{describe}"
            );
            assert_eq!(
                (run.status(), run.status_of("1"), run.attempt_of("1")),
                ("CANCELED", "CANCELED", 2),
                "the restart ran, then the cancel stopped it: {describe}"
            );
            assert_eq!(run.ended["canceledBy"], "canceler", "{describe}");
        }
    }
}

/// Every attempt of every stage ran exactly one stage machine, and no machine is left
/// running: each pipeline machine run was answered, each stage machine run ended.
async fn check_machines(app: &TestApp, runs: &[Run]) {
    let stage_machine = machine_arn(app, "StageStateMachine");
    let pipeline_machine = machine_arn(app, "PipelineStateMachine");
    // Listing every run is heavy for the emulator: once a second, not support::eventually's
    // twenty times.
    let started = Instant::now();
    let (stage_runs, pipeline_runs) = loop {
        let stage_runs = machine_runs(app, &stage_machine).await;
        let pipeline_runs = machine_runs(app, &pipeline_machine).await;
        let still_running: Vec<&String> = stage_runs
            .iter()
            .chain(&pipeline_runs)
            .filter(|(_, status)| *status == "RUNNING")
            .map(|(name, _)| name)
            .collect();
        if still_running.is_empty() {
            break (stage_runs, pipeline_runs);
        }
        assert!(
            started.elapsed() < DEADLINE,
            "machine runs left running: {still_running:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    for run in runs {
        for ref_id in ["1", "2", "3"] {
            let stage_id = run.stage(ref_id)["id"].as_str().unwrap();
            let prefix = format!("{}-{stage_id}-", run.id);
            let mut attempts: Vec<u64> = stage_runs
                .keys()
                .filter_map(|name| name.strip_prefix(&prefix)?.parse().ok())
                .collect();
            attempts.sort();
            let expected: Vec<u64> = (1..=run.attempt_of(ref_id)).collect();
            assert_eq!(
                attempts,
                expected,
                "stage {ref_id}: one machine per attempt: {}",
                run.describe()
            );
        }
        assert!(
            pipeline_runs.keys().any(|name| name.starts_with(&run.id)),
            "{}",
            run.describe()
        );
    }
}

fn machine_arn(app: &TestApp, logical_id: &str) -> String {
    app.running
        .deployment
        .resource(logical_id)
        .unwrap()
        .ref_value
        .clone()
}

/// Every run of a state machine: name -> status.
async fn machine_runs(app: &TestApp, machine: &str) -> BTreeMap<String, String> {
    let sfn = aws_sdk_sfn::Client::new(&app.running.sdk);
    let mut runs = BTreeMap::new();
    let mut next_token = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(machine)
            .max_results(1000)
            .set_next_token(next_token)
            .send()
            .await
            .expect("ListExecutions");
        for run in page.executions() {
            runs.insert(run.name().to_string(), run.status().as_str().to_string());
        }
        next_token = page.next_token().map(str::to_string);
        if next_token.is_none() {
            return runs;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a join's report is sometimes lost after pause, judge, resume on a heavily loaded machine (issue 20): seen green, not yet reliable"]
async fn racing_operations_take_effect_in_the_order_acknowledged() {
    race(LocalOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a join's report is sometimes lost after pause, judge, resume on a heavily loaded machine (issue 20): seen green, not yet reliable"]
async fn racing_operations_hold_with_every_message_delivered_twice() {
    race(LocalOptions {
        delivery: Delivery {
            duplicate: true,
            retry_failed_after: Some(Duration::ZERO),
        },
        ..LocalOptions::default()
    })
    .await;
}
