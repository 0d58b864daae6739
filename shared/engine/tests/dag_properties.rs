//! Property tests: random DAGs, random worker outcomes and failure options, random completion
//! order with duplicate and stale deliveries, checked against an oracle written straight from
//! the tables of docs/spinnaker-behaviour.md ("Stage failure options", "Final status of an
//! execution").

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{execution_of, finished, stage, stage_id};
use gennaker_engine::{Effect, Event, apply};
use gennaker_model::{Execution, ExecutionStatus, ExecutionStatus::*};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// What one stage of a generated pipeline does.
#[derive(Debug, Clone)]
struct StagePlan {
    parents: BTreeSet<usize>,
    reported: ExecutionStatus,
    fail_pipeline: Option<Value>,
    continue_pipeline: Option<Value>,
    complete_other_branches_then_fail: Option<Value>,
}

fn ref_id(index: usize) -> String {
    format!("r{index}")
}

fn flag() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(json!(true))),
        1 => Just(Some(json!(false))),
        1 => Just(Some(json!("true"))),
        1 => Just(Some(json!("false"))),
    ]
}

fn reported_status() -> impl Strategy<Value = ExecutionStatus> {
    prop_oneof![
        12 => Just(Succeeded),
        3 => Just(Terminal),
        1 => Just(Canceled),
        1 => Just(Skipped),
        1 => Just(FailedContinue),
        1 => Just(Stopped),
    ]
}

fn stage_plan(index: usize) -> BoxedStrategy<StagePlan> {
    let parents = if index == 0 {
        Just(BTreeSet::new()).boxed()
    } else {
        prop::collection::btree_set(0..index, 0..=index.min(3)).boxed()
    };
    (parents, reported_status(), flag(), flag(), flag())
        .prop_map(|(parents, reported, fail, cont, then_fail)| StagePlan {
            parents,
            reported,
            fail_pipeline: fail,
            continue_pipeline: cont,
            complete_other_branches_then_fail: then_fail,
        })
        .boxed()
}

fn pipeline() -> impl Strategy<Value = Vec<StagePlan>> {
    (1usize..=12).prop_flat_map(|count| (0..count).map(stage_plan).collect::<Vec<_>>())
}

fn stage_json(index: usize, plan: &StagePlan) -> Value {
    let parents: Vec<String> = plan.parents.iter().map(|&p| ref_id(p)).collect();
    let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
    let mut flags = Map::new();
    let options = [
        ("failPipeline", &plan.fail_pipeline),
        ("continuePipeline", &plan.continue_pipeline),
        (
            "completeOtherBranchesThenFail",
            &plan.complete_other_branches_then_fail,
        ),
    ];
    for (key, value) in options {
        if let Some(value) = value {
            flags.insert(key.to_string(), value.clone());
        }
    }
    stage(&ref_id(index), &parents, Value::Object(flags))
}

// ---------------------------------------------------------------------------------------
// The oracle: docs/spinnaker-behaviour.md's failure-option and final-status tables, on plain
// data.

fn is_true(flag: &Option<Value>) -> bool {
    matches!(flag, Some(Value::Bool(true))) || matches!(flag, Some(Value::String(s)) if s == "true")
}

fn is_false(flag: &Option<Value>) -> bool {
    matches!(flag, Some(Value::Bool(false)))
        || matches!(flag, Some(Value::String(s)) if s == "false")
}

/// "Stage failure options": the status a stage ends with.
fn oracle_stage_status(plan: &StagePlan) -> ExecutionStatus {
    let failed = plan.reported == Terminal || plan.reported == Canceled;
    if !failed {
        plan.reported
    } else if is_true(&plan.continue_pipeline) {
        FailedContinue
    } else if is_false(&plan.fail_pipeline) {
        Stopped
    } else {
        plan.reported
    }
}

fn lets_downstream_run(status: ExecutionStatus) -> bool {
    status == Succeeded || status == FailedContinue || status == Skipped
}

fn halts_pipeline(status: ExecutionStatus) -> bool {
    status == Terminal || status == Canceled
}

/// Stages that run when no halt interrupts: every parent ran and let downstream run.
fn oracle_reachable(plans: &[StagePlan]) -> Vec<bool> {
    let mut reachable = vec![false; plans.len()];
    for (index, plan) in plans.iter().enumerate() {
        reachable[index] = plan
            .parents
            .iter()
            .all(|&p| reachable[p] && lets_downstream_run(oracle_stage_status(&plans[p])));
    }
    reachable
}

/// "Final status of an execution": the first halting stage decides (the pipeline ends at once, the rest is canceled);
/// otherwise all-success -> SUCCEEDED, stopped branches -> SUCCEEDED or, with
/// completeOtherBranchesThenFail on a stopped stage, TERMINAL.
fn oracle_final_status(
    plans: &[StagePlan],
    first_halt: Option<ExecutionStatus>,
) -> ExecutionStatus {
    if let Some(halt) = first_halt {
        return halt;
    }
    let reachable = oracle_reachable(plans);
    let ran: Vec<&StagePlan> = plans
        .iter()
        .zip(&reachable)
        .filter(|(_, r)| **r)
        .map(|(p, _)| p)
        .collect();
    let stopped: Vec<&&StagePlan> = ran
        .iter()
        .filter(|p| oracle_stage_status(p) == Stopped)
        .collect();
    if stopped.is_empty() {
        Succeeded
    } else if stopped
        .iter()
        .any(|p| is_true(&p.complete_other_branches_then_fail))
    {
        Terminal
    } else {
        Succeeded
    }
}

// ---------------------------------------------------------------------------------------
// The driver: delivers events like the orchestrator would, in an order chosen by proptest.

struct Run<'a> {
    plans: &'a [StagePlan],
    execution: Execution,
    running: Vec<(String, u32)>,
    starts: HashMap<String, u32>,
    completions: u32,
    delivered: Vec<Event>,
    canceled: Vec<(String, u32)>,
    first_halt: Option<ExecutionStatus>,
    now: i64,
}

impl<'a> Run<'a> {
    fn new(plans: &'a [StagePlan]) -> Self {
        let stages = plans
            .iter()
            .enumerate()
            .map(|(i, p)| stage_json(i, p))
            .collect();
        Self {
            plans,
            execution: execution_of(stages),
            running: vec![],
            starts: HashMap::new(),
            completions: 0,
            delivered: vec![],
            canceled: vec![],
            first_halt: None,
            now: 0,
        }
    }

    fn index_of(&self, id: &str) -> usize {
        (0..self.plans.len())
            .find(|&i| stage_id(&ref_id(i)) == id)
            .unwrap()
    }

    fn deliver(&mut self, event: Event) -> Result<(), TestCaseError> {
        let (next, effects) = apply(self.execution.clone(), &event);
        self.execution = next;
        for effect in effects {
            self.observe(effect)?;
        }
        if self.execution.status.is_complete() {
            prop_assert!(self.execution.stages.iter().all(|s| s.status != Running));
        }
        self.delivered.push(event);
        Ok(())
    }

    fn observe(&mut self, effect: Effect) -> Result<(), TestCaseError> {
        match effect {
            Effect::StartStage { stage_id, attempt } => {
                let count = self.starts.entry(stage_id.clone()).or_default();
                *count += 1;
                prop_assert_eq!(*count, 1, "stage {} started twice", stage_id);
                prop_assert_eq!(attempt, 1);
                let index = self.index_of(&stage_id);
                for &parent in &self.plans[index].parents {
                    let status = self.execution.stages[parent].status;
                    prop_assert!(
                        lets_downstream_run(status),
                        "{} started after parent {}",
                        stage_id,
                        status
                    );
                }
                prop_assert_eq!(self.execution.stages[index].status, Running);
                self.running.push((stage_id, attempt));
            }
            Effect::CancelStage { stage_id, attempt } => {
                let position = self
                    .running
                    .iter()
                    .position(|r| *r == (stage_id.clone(), attempt));
                prop_assert!(
                    position.is_some(),
                    "canceled {} which was not running",
                    stage_id
                );
                self.running.remove(position.unwrap_or_default());
                self.canceled.push((stage_id, attempt));
            }
            Effect::CompleteExecution { status } => {
                self.completions += 1;
                prop_assert_eq!(status, self.execution.status);
            }
            Effect::ReopenExecution { .. } => {
                prop_assert!(false, "nothing is restarted in this property");
            }
        }
        Ok(())
    }

    /// The stage state machine of a running stage reports its worker's outcome.
    fn finish(&mut self, pick: usize) -> Result<(), TestCaseError> {
        let (id, attempt) = self.running.remove(pick % self.running.len());
        let plan = &self.plans[self.index_of(&id)];
        let resolved = oracle_stage_status(plan);
        if halts_pipeline(resolved) && self.first_halt.is_none() {
            self.first_halt = Some(resolved);
        }
        self.now += 1;
        let event = Event::StageFinished {
            stage_id: id,
            attempt,
            status: plan.reported,
            context: Map::new(),
            outputs: Map::new(),
            now: self.now,
        };
        self.deliver(event)
    }

    /// A redelivered, stale or premature event must change nothing.
    fn deliver_noise(&mut self, choice: u32) -> Result<(), TestCaseError> {
        let pick = (choice / 8) as usize;
        let event = match choice % 4 {
            0 => self.delivered[pick % self.delivered.len()].clone(),
            1 if !self.running.is_empty() => {
                let (id, attempt) = &self.running[pick % self.running.len()];
                let ref_id = ref_id(self.index_of(id));
                finished(&ref_id, attempt + 1, Terminal, self.now)
            }
            2 => {
                let index = pick % self.plans.len();
                let not_started = self.execution.stages[index].status == NotStarted;
                let stage = ref_id(index);
                if not_started {
                    finished(&stage, 1, Terminal, self.now)
                } else {
                    finished(&stage, 0, Terminal, self.now)
                }
            }
            _ => Event::Start { now: self.now },
        };
        let (after, effects) = apply(self.execution.clone(), &event);
        prop_assert!(effects.is_empty(), "{:?} produced {:?}", event, effects);
        prop_assert_eq!(&after, &self.execution);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_dags_run_to_the_oracle_status(
        plans in pipeline(),
        choices in prop::collection::vec(any::<u32>(), 1..48),
    ) {
        let mut run = Run::new(&plans);
        run.deliver(Event::Start { now: 0 })?;
        let mut step = 0usize;
        while !run.running.is_empty() {
            prop_assert!(step < 10_000, "the run does not terminate");
            let choice = choices[step % choices.len()];
            step += 1;
            // Noise is bounded so the run always makes progress.
            if choice % 3 == 0 && step < 64 {
                run.deliver_noise(choice / 3)?;
            } else {
                run.finish(choice as usize / 3)?;
            }
        }
        // Late reports from canceled stage machines and full redelivery change nothing.
        for (id, attempt) in run.canceled.clone() {
            let ref_id = ref_id(run.index_of(&id));
            let late = finished(&ref_id, attempt, Succeeded, run.now);
            let (after, effects) = apply(run.execution.clone(), &late);
            prop_assert!(effects.is_empty());
            prop_assert_eq!(&after, &run.execution);
        }
        for event in run.delivered.clone() {
            let (after, effects) = apply(run.execution.clone(), &event);
            prop_assert!(effects.is_empty());
            prop_assert_eq!(&after, &run.execution);
        }

        prop_assert!(run.execution.status.is_complete());
        prop_assert!(run.execution.end_time.is_some());
        prop_assert_eq!(run.completions, 1, "CompleteExecution must be emitted exactly once");
        prop_assert_eq!(run.execution.status, oracle_final_status(&plans, run.first_halt));
        if run.first_halt.is_none() {
            // Without a halt, exactly the reachable stages ran and the rest never started.
            let reachable = oracle_reachable(&plans);
            for (index, stage) in run.execution.stages.iter().enumerate() {
                prop_assert_eq!(run.starts.contains_key(&stage.id), reachable[index]);
                if reachable[index] {
                    prop_assert_eq!(stage.status, oracle_stage_status(&plans[index]));
                } else {
                    prop_assert_eq!(stage.status, NotStarted);
                }
            }
        }
    }
}
