//! Focused tests of the scheduling rules (Orca's `StartExecutionHandler`, `StartStageHandler`,
//! `CompleteStageHandler`, `CompleteExecutionHandler`).

mod common;

use common::{execution_of, finished, stage, stage_id, status_of};
use gennaker_engine::{Effect, Event, apply, pending_effects};
use gennaker_model::{Execution, ExecutionStatus::*};
use serde_json::{Map, Value, json};

fn start_stage(ref_id: &str, attempt: u32) -> Effect {
    Effect::StartStage {
        stage_id: stage_id(ref_id),
        attempt,
    }
}

fn started(stages: Vec<Value>) -> Execution {
    let (execution, _) = apply(execution_of(stages), &Event::Start { now: 10 });
    execution
}

fn diamond() -> Vec<Value> {
    vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({})),
        stage("3", &["1"], json!({})),
        stage("4", &["2", "3"], json!({})),
    ]
}

#[test]
fn start_runs_every_initial_stage_in_parallel() {
    let (execution, effects) = apply(
        execution_of(vec![
            stage("a", &[], json!({})),
            stage("b", &[], json!({})),
            stage("c", &["a"], json!({})),
        ]),
        &Event::Start { now: 10 },
    );
    assert_eq!(effects, vec![start_stage("a", 1), start_stage("b", 1)]);
    assert_eq!(execution.status, Running);
    assert_eq!(execution.start_time, Some(10));
    let a = execution.stage_by_ref_id("a").unwrap();
    assert_eq!((a.status, a.start_time, a.attempt), (Running, Some(10), 1));
    assert_eq!(a.tasks[0].status, Running);
    assert_eq!(a.tasks[0].start_time, Some(10));
    assert_eq!(status_of(&execution, "c"), NotStarted);
}

#[test]
fn start_is_ignored_unless_not_started_and_not_canceled() {
    let running = started(diamond());
    let (again, effects) = apply(running.clone(), &Event::Start { now: 99 });
    assert_eq!((again, effects), (running, vec![]));

    let mut canceled = execution_of(diamond());
    canceled.canceled = true;
    let (after, effects) = apply(canceled.clone(), &Event::Start { now: 99 });
    assert_eq!((after, effects), (canceled, vec![]));
}

#[test]
fn an_execution_without_initial_stages_is_terminal() {
    for stages in [
        vec![],
        vec![stage("1", &["2"], json!({})), stage("2", &["1"], json!({}))],
    ] {
        let (execution, effects) = apply(execution_of(stages), &Event::Start { now: 5 });
        assert_eq!(
            effects,
            vec![Effect::CompleteExecution { status: Terminal }]
        );
        assert_eq!((execution.status, execution.end_time), (Terminal, Some(5)));
    }
}

#[test]
fn diamond_join_waits_for_both_parents() {
    let execution = started(diamond());
    let (execution, effects) = apply(execution, &finished("1", 1, Succeeded, 20));
    assert_eq!(effects, vec![start_stage("2", 1), start_stage("3", 1)]);

    let (execution, effects) = apply(execution, &finished("3", 1, Succeeded, 30));
    assert_eq!(effects, vec![], "the join still waits for stage 2");
    assert_eq!(status_of(&execution, "4"), NotStarted);

    let (execution, effects) = apply(execution, &finished("2", 1, FailedContinue, 40));
    assert_eq!(effects, vec![start_stage("4", 1)]);

    let (execution, effects) = apply(execution, &finished("4", 1, Succeeded, 50));
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Succeeded }]
    );
    assert_eq!(
        (execution.status, execution.end_time),
        (Succeeded, Some(50))
    );
}

#[test]
fn terminal_halts_and_cancels_a_running_sibling() {
    let execution = started(diamond());
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    let (execution, effects) = apply(execution, &finished("2", 1, Terminal, 30));
    assert_eq!(
        effects,
        vec![
            Effect::CancelStage {
                stage_id: stage_id("3"),
                attempt: 1
            },
            Effect::CompleteExecution { status: Terminal },
        ]
    );
    assert_eq!((execution.status, execution.end_time), (Terminal, Some(30)));
    let sibling = execution.stage_by_ref_id("3").unwrap();
    assert_eq!((sibling.status, sibling.end_time), (Canceled, Some(30)));
    assert_eq!(sibling.tasks[0].status, Canceled);
    assert_eq!(status_of(&execution, "4"), NotStarted);

    // The canceled sibling's machine may still report; the execution is already complete.
    let (after, effects) = apply(execution.clone(), &finished("3", 1, Succeeded, 40));
    assert_eq!((after, effects), (execution, vec![]));
}

#[test]
fn a_canceled_stage_cancels_the_execution() {
    let execution = started(vec![stage("a", &[], json!({})), stage("b", &[], json!({}))]);
    let (execution, effects) = apply(execution, &finished("a", 1, Canceled, 30));
    assert_eq!(
        effects.last(),
        Some(&Effect::CompleteExecution { status: Canceled })
    );
    assert_eq!(status_of(&execution, "b"), Canceled);
}

#[test]
fn duplicate_and_stale_stage_finished_are_no_ops() {
    let execution = started(diamond());
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    for stale in [
        finished("1", 1, Succeeded, 25), // duplicate of the delivered result
        finished("2", 2, Terminal, 25),  // an attempt that is not the current one
        finished("4", 1, Succeeded, 25), // a stage that has not started
        finished("nope", 1, Terminal, 25), // no such stage
    ] {
        let (after, effects) = apply(execution.clone(), &stale);
        assert_eq!((after, effects), (execution.clone(), vec![]), "{stale:?}");
    }
}

#[test]
fn context_and_outputs_are_merged_and_tasks_follow_the_stage() {
    let execution = started(vec![stage("1", &[], json!({"waitTime": 1}))]);
    let event = Event::StageFinished {
        stage_id: stage_id("1"),
        attempt: 1,
        status: Succeeded,
        context: json!({"note": "x"}).as_object().unwrap().clone(),
        outputs: json!({"image": "ami-1", "stageTimeoutMs": 5})
            .as_object()
            .unwrap()
            .clone(),
        now: 20,
    };
    let (execution, _) = apply(execution, &event);
    let stage = execution.stage_by_ref_id("1").unwrap();
    assert_eq!(
        Value::Object(stage.context.clone()),
        json!({"waitTime": 1, "note": "x"})
    );
    assert_eq!(
        Value::Object(stage.outputs.clone()),
        json!({"image": "ami-1"})
    );
    assert_eq!(
        (stage.tasks[0].status, stage.tasks[0].end_time),
        (Succeeded, Some(20))
    );
}

#[test]
fn continue_pipeline_turns_a_failure_into_failed_continue_and_downstream_runs() {
    let execution = started(vec![
        stage(
            "1",
            &[],
            json!({"continuePipeline": "true", "failPipeline": true}),
        ),
        stage("2", &["1"], json!({})),
    ]);
    let (execution, effects) = apply(execution, &finished("1", 1, Terminal, 20));
    assert_eq!(status_of(&execution, "1"), FailedContinue);
    assert_eq!(effects, vec![start_stage("2", 1)]);
    let (execution, _) = apply(execution, &finished("2", 1, Succeeded, 30));
    assert_eq!(execution.status, Succeeded);
}

#[test]
fn halt_this_branch_lets_other_branches_finish_then_succeeds() {
    let execution = started(vec![
        stage("1", &[], json!({"failPipeline": false})),
        stage("2", &["1"], json!({})),
        stage("3", &[], json!({})),
    ]);
    let (execution, effects) = apply(execution, &finished("1", 1, Terminal, 20));
    assert_eq!(effects, vec![], "branch stopped, stage 3 still runs");
    assert_eq!(
        (status_of(&execution, "1"), execution.status),
        (Stopped, Running)
    );
    let (execution, effects) = apply(execution, &finished("3", 1, Succeeded, 30));
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Succeeded }]
    );
    assert_eq!(status_of(&execution, "2"), NotStarted);
}

#[test]
fn halt_branch_then_fail_ends_terminal_once_others_complete() {
    let flags = json!({"failPipeline": "false", "completeOtherBranchesThenFail": true});
    let execution = started(vec![stage("1", &[], flags), stage("2", &[], json!({}))]);
    let (execution, effects) = apply(execution, &finished("1", 1, Terminal, 20));
    assert_eq!(effects, vec![]);
    let (execution, effects) = apply(execution, &finished("2", 1, Succeeded, 30));
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Terminal }]
    );
    assert_eq!(execution.status, Terminal);
}

#[test]
fn failure_options_set_by_the_worker_count() {
    let execution = started(vec![stage("1", &[], json!({})), stage("2", &[], json!({}))]);
    let event = Event::StageFinished {
        stage_id: stage_id("1"),
        attempt: 1,
        status: Terminal,
        context: json!({"failPipeline": false}).as_object().unwrap().clone(),
        outputs: Map::new(),
        now: 20,
    };
    let (execution, _) = apply(execution, &event);
    assert_eq!(
        (status_of(&execution, "1"), execution.status),
        (Stopped, Running)
    );
}

#[test]
fn a_non_final_reported_status_counts_as_a_terminal_failure() {
    let execution = started(vec![stage("1", &[], json!({}))]);
    let (execution, effects) = apply(execution, &finished("1", 1, Running, 20));
    assert_eq!(status_of(&execution, "1"), Terminal);
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Terminal }]
    );
}

#[test]
fn skipped_satisfies_downstream() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({})),
    ]);
    let (_, effects) = apply(execution, &finished("1", 1, Skipped, 20));
    assert_eq!(effects, vec![start_stage("2", 1)]);
}

#[test]
fn a_stage_with_an_unknown_requisite_never_starts_and_the_run_still_ends() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["9"], json!({})),
    ]);
    let (execution, effects) = apply(execution, &finished("1", 1, Succeeded, 20));
    assert_eq!(status_of(&execution, "2"), NotStarted);
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Terminal }]
    );
}

#[test]
fn pending_effects_restate_running_stages_and_completion() {
    assert_eq!(pending_effects(&execution_of(diamond())), vec![]);

    let execution = started(diamond());
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    assert_eq!(
        pending_effects(&execution),
        vec![start_stage("2", 1), start_stage("3", 1)]
    );

    // The halt canceled stage 3: a redelivery must still stop its state machine.
    let (execution, _) = apply(execution, &finished("2", 1, Terminal, 30));
    assert_eq!(
        pending_effects(&execution),
        vec![
            Effect::CancelStage {
                stage_id: stage_id("3"),
                attempt: 1
            },
            Effect::CompleteExecution { status: Terminal }
        ]
    );
}

#[test]
fn evaluate_variables_succeeds_when_it_starts_with_its_variables_as_outputs() {
    let (execution, effects) = apply(
        execution_of(vec![
            stage(
                "1",
                &[],
                json!({"type": "evaluateVariables", "variables": [
                    {"key": "region", "value": "us-east-1"}, {"key": "count", "value": 2},
                    {"value": "no key"}]}),
            ),
            stage("2", &["1"], json!({})),
        ]),
        &Event::Start { now: 10 },
    );
    assert_eq!(
        effects,
        vec![start_stage("2", 1)],
        "no stage machine runs for it; its child starts at once"
    );
    let variables = execution.stage_by_ref_id("1").unwrap();
    assert_eq!(
        (variables.status, variables.start_time, variables.end_time),
        (Succeeded, Some(10), Some(10))
    );
    assert_eq!(
        Value::Object(variables.outputs.clone()),
        json!({"region": "us-east-1", "count": 2})
    );
    assert_eq!(variables.tasks[0].name, "evaluateVariables");
    assert_eq!(variables.tasks[0].status, Succeeded);
}
