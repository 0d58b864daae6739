//! Skipping, cancel, pause/resume and restart (Orca's `SkipStageHandler`, `CancelExecutionHandler`,
//! `PauseStageHandler`, `ResumeStageHandler`, `RestartStageHandler`).

mod common;

use common::{execution_of, finished, stage, stage_id, status_of};
use gennaker_engine::{
    Effect, Event, StageConditions, apply, apply_with, can_restart, operation_applied,
    queue_restart, record_operation, take_queued_restart,
};
use gennaker_model::{Execution, ExecutionStatus::*, StageExecution};
use serde_json::{Value, json};

fn start(ref_id: &str, attempt: u32) -> Effect {
    Effect::StartStage {
        stage_id: stage_id(ref_id),
        attempt,
    }
}

fn cancel(ref_id: &str, attempt: u32) -> Effect {
    Effect::CancelStage {
        stage_id: stage_id(ref_id),
        attempt,
    }
}

fn started(stages: Vec<Value>) -> Execution {
    apply(execution_of(stages), &Event::Start { now: 10 }).0
}

fn enabled(expression: &str) -> Value {
    json!({"stageEnabled": {"type": "expression", "expression": expression}})
}

fn user_event(kind: &str, now: i64) -> Event {
    let user = "alice".to_string();
    match kind {
        "pause" => Event::Pause { user, now },
        "resume" => Event::Resume { user, now },
        _ => Event::Cancel {
            user,
            reason: Some("no longer needed".into()),
            now,
        },
    }
}

#[test]
fn a_disabled_stage_is_skipped_and_its_children_still_run() {
    let (execution, effects) = apply(
        execution_of(vec![
            stage("1", &[], enabled("false")),
            stage("2", &["1"], json!({})),
            stage("3", &[], enabled("true")),
        ]),
        &Event::Start { now: 10 },
    );
    assert_eq!(status_of(&execution, "1"), Skipped);
    let skipped = execution.stage_by_ref_id("1").unwrap();
    assert_eq!(
        (skipped.start_time, skipped.end_time, skipped.attempt),
        (Some(10), Some(10), 0)
    );
    assert_eq!(effects, vec![start("3", 1), start("2", 1)]);
}

#[test]
fn an_expression_that_cannot_be_evaluated_skips_without_an_evaluator() {
    let execution = started(vec![
        stage("1", &[], enabled("${trigger.parameters.deploy}")),
        stage("2", &["1"], json!({})),
    ]);
    assert_eq!(status_of(&execution, "1"), Skipped);
    assert_eq!(status_of(&execution, "2"), Running);
}

struct DeployOnly;
impl StageConditions for DeployOnly {
    fn is_enabled(&self, expression: &str, _: &Execution, stage: &StageExecution) -> bool {
        expression == "parameters.deploy" && stage.ref_id == "1"
    }
}

#[test]
fn the_callers_evaluator_decides_stage_enabled() {
    let (execution, effects) = apply_with(
        execution_of(vec![
            stage("1", &[], enabled("parameters.deploy")),
            stage("2", &[], enabled("parameters.deploy")),
        ]),
        &Event::Start { now: 10 },
        &DeployOnly,
    );
    assert_eq!(effects, vec![start("1", 1)]);
    assert_eq!(status_of(&execution, "2"), Skipped);
}

#[test]
fn skipped_parents_satisfy_a_join_and_all_skipped_succeeds() {
    let (execution, effects) = apply(
        execution_of(vec![
            stage("1", &[], enabled("false")),
            stage("2", &[], enabled("false")),
            stage("3", &["1", "2"], enabled("false")),
        ]),
        &Event::Start { now: 10 },
    );
    assert_eq!(execution.status, Succeeded);
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Succeeded }]
    );
}

#[test]
fn a_stage_past_its_start_time_expiry_is_skipped() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({"startTimeExpiry": "15"})),
        stage("3", &["1"], json!({"startTimeExpiry": 1000})),
    ]);
    let (execution, effects) = apply(execution, &finished("1", 1, Succeeded, 20));
    assert_eq!(status_of(&execution, "2"), Skipped);
    assert_eq!(effects, vec![start("3", 1)]);
}

#[test]
fn an_execution_past_its_start_time_expiry_is_canceled() {
    let mut execution = execution_of(vec![stage("1", &[], json!({}))]);
    execution.start_time_expiry = Some(5);
    let (execution, effects) = apply(execution, &Event::Start { now: 10 });
    assert_eq!(execution.status, Canceled);
    assert_eq!(execution.canceled_by.as_deref(), Some("spinnaker"));
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Canceled }]
    );
}

#[test]
fn cancel_stops_running_stages_and_ends_canceled() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &[], json!({})),
        stage("3", &["1"], json!({})),
    ]);
    let (execution, effects) = apply(execution, &user_event("cancel", 20));
    assert_eq!(execution.status, Canceled);
    assert!(execution.canceled);
    assert_eq!(execution.canceled_by.as_deref(), Some("alice"));
    assert_eq!(
        execution.cancellation_reason.as_deref(),
        Some("no longer needed")
    );
    assert_eq!(
        (status_of(&execution, "1"), status_of(&execution, "3")),
        (Canceled, NotStarted)
    );
    assert_eq!(
        effects,
        vec![
            cancel("1", 1),
            cancel("2", 1),
            Effect::CompleteExecution { status: Canceled }
        ]
    );
    let (again, effects) = apply(execution.clone(), &user_event("cancel", 30));
    assert_eq!(
        (again, effects),
        (execution, vec![]),
        "a finished execution is left alone"
    );
}

#[test]
fn a_queued_execution_is_canceled_without_running() {
    let (execution, effects) = apply(
        execution_of(vec![stage("1", &[], json!({}))]),
        &user_event("cancel", 20),
    );
    assert_eq!(
        (execution.status, status_of(&execution, "1")),
        (Canceled, NotStarted)
    );
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Canceled }]
    );
    let (after, effects) = apply(execution.clone(), &Event::Start { now: 30 });
    assert_eq!((after, effects), (execution, vec![]));
}

#[test]
fn a_pause_holds_new_stages_until_resumed() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({})),
    ]);
    let (execution, effects) = apply(execution, &user_event("pause", 20));
    assert_eq!(
        (execution.status, status_of(&execution, "1")),
        (Paused, Paused)
    );
    assert_eq!(execution.paused.as_ref().unwrap()["pausedBy"], "alice");
    assert!(effects.is_empty());

    let (execution, effects) = apply(execution, &finished("1", 1, Succeeded, 30));
    assert_eq!(
        (status_of(&execution, "1"), status_of(&execution, "2")),
        (Succeeded, NotStarted)
    );
    assert!(effects.is_empty(), "nothing starts while paused");

    let (execution, effects) = apply(execution, &user_event("resume", 50));
    assert_eq!(execution.status, Running);
    assert_eq!(effects, vec![start("2", 1)]);
    let paused = execution.paused.as_ref().unwrap();
    assert_eq!(
        (
            paused["resumedBy"].clone(),
            paused["pausedMs"].clone(),
            paused["paused"].clone()
        ),
        (json!("alice"), json!(30), json!(false))
    );
}

#[test]
fn pause_and_resume_are_ignored_in_the_wrong_state() {
    let not_started = execution_of(vec![stage("1", &[], json!({}))]);
    assert_eq!(
        apply(not_started.clone(), &user_event("pause", 20)).0,
        not_started
    );
    let running = started(vec![stage("1", &[], json!({}))]);
    assert_eq!(apply(running.clone(), &user_event("resume", 20)).0, running);
}

#[test]
fn a_failure_while_paused_halts_on_resume() {
    let execution = started(vec![stage("1", &[], json!({})), stage("2", &[], json!({}))]);
    let (execution, _) = apply(execution, &user_event("pause", 20));
    let (execution, _) = apply(execution, &finished("1", 1, Terminal, 30));
    assert_eq!(execution.status, Paused);
    let (execution, effects) = apply(execution, &user_event("resume", 40));
    assert_eq!(execution.status, Terminal);
    assert_eq!(
        effects,
        vec![
            cancel("2", 1),
            Effect::CompleteExecution { status: Terminal }
        ]
    );
}

fn restart(ref_id: &str, now: i64) -> Event {
    Event::RestartStage {
        stage_id: stage_id(ref_id),
        user: "bob".into(),
        now,
    }
}

#[test]
fn restarting_a_stage_of_a_finished_execution_reruns_it_and_its_downstream() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({"type": "manualJudgment"})),
        stage("3", &["2"], json!({})),
    ]);
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    let mut execution = execution;
    execution
        .stage_mut(&stage_id("2"))
        .unwrap()
        .context
        .insert("judgmentStatus".into(), json!("stop"));
    let (execution, _) = apply(execution, &finished("2", 1, Terminal, 30));
    assert_eq!(execution.status, Terminal);

    let (execution, effects) = apply(execution, &restart("2", 40));
    assert_eq!(execution.status, Running);
    assert_eq!(execution.end_time, None);
    assert_eq!(
        effects,
        vec![
            Effect::ReopenExecution {
                stage_id: stage_id("2"),
                attempt: 2
            },
            start("2", 2)
        ]
    );
    let restarted = execution.stage_by_ref_id("2").unwrap();
    assert_eq!(
        (restarted.status, restarted.attempt, restarted.start_time),
        (Running, 2, Some(40))
    );
    assert!(restarted.context.get("judgmentStatus").is_none());
    assert_eq!(restarted.context["restartDetails"]["restartedBy"], "bob");
    assert_eq!(
        status_of(&execution, "1"),
        Succeeded,
        "upstream stays as it was"
    );
    assert_eq!(status_of(&execution, "3"), NotStarted);

    let (execution, effects) = apply(execution, &finished("2", 2, Succeeded, 50));
    assert_eq!(effects, vec![start("3", 1)]);
    let (execution, effects) = apply(execution, &finished("3", 1, Succeeded, 60));
    assert_eq!(execution.status, Succeeded);
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Succeeded }]
    );
}

/// start → [judgment ‖ wait] → join; the judgment says stop while the wait runs, so the wait
/// ends CANCELED. Restarting the judgment runs it again (it is not canceled at once by its
/// canceled sibling); the join never runs over the canceled wait, so the execution ends
/// CANCELED once the judgment has run.
#[test]
fn a_restarted_stage_runs_again_whatever_a_sibling_branch_ended() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({"type": "manualJudgment"})),
        stage("3", &["1"], json!({"type": "wait"})),
        stage("4", &["2", "3"], json!({})),
    ]);
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    let (execution, _) = apply(execution, &finished("2", 1, Terminal, 30));
    assert_eq!(execution.status, Terminal);
    assert_eq!(status_of(&execution, "3"), Canceled);

    let (execution, effects) = apply(execution, &restart("2", 40));
    assert_eq!(execution.status, Running);
    assert_eq!(status_of(&execution, "2"), Running);
    assert!(effects.contains(&start("2", 2)), "{effects:?}");
    assert!(
        !effects
            .iter()
            .any(|effect| matches!(effect, Effect::CompleteExecution { .. })),
        "{effects:?}"
    );

    let (execution, effects) = apply(execution, &finished("2", 2, Succeeded, 50));
    assert_eq!(status_of(&execution, "2"), Succeeded);
    assert_eq!(
        status_of(&execution, "4"),
        NotStarted,
        "the join waits for 3"
    );
    assert_eq!(execution.status, Canceled);
    assert_eq!(
        effects,
        vec![Effect::CompleteExecution { status: Canceled }]
    );
}

#[test]
fn restarting_moves_the_exception_into_restart_details_and_resets_completed_descendants() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({})),
    ]);
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    let (mut execution, _) = apply(execution, &finished("2", 1, Succeeded, 30));
    execution
        .stage_mut(&stage_id("1"))
        .unwrap()
        .context
        .insert("exception".into(), json!({"details": {"error": "boom"}}));
    let (execution, effects) = apply(execution, &restart("1", 40));
    assert_eq!(
        status_of(&execution, "2"),
        NotStarted,
        "completed downstream is reset"
    );
    let details = &execution.stage_by_ref_id("1").unwrap().context["restartDetails"];
    assert_eq!(details["previousException"]["details"]["error"], "boom");
    assert!(
        execution
            .stage_by_ref_id("1")
            .unwrap()
            .context
            .get("exception")
            .is_none()
    );
    assert_eq!(effects[1], start("1", 2));
}

#[test]
fn a_queued_restart_waits_not_started_and_later_applies_as_if_it_had_just_arrived() {
    let execution = started(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], json!({})),
    ]);
    let (execution, _) = apply(execution, &finished("1", 1, Succeeded, 20));
    let (finished_execution, _) = apply(execution, &finished("2", 1, Terminal, 30));
    assert!(can_restart(&finished_execution, &stage_id("2")));

    let queued = queue_restart(&finished_execution, &stage_id("2"), "bob", 40);
    assert_eq!(
        queued.status, NotStarted,
        "a queued restart shows as waiting"
    );
    assert_eq!(
        status_of(&queued, "2"),
        Terminal,
        "nothing is reset until it runs"
    );
    assert!(
        !can_restart(&queued, &stage_id("1")),
        "a waiting execution takes no second restart"
    );
    assert_eq!(
        apply(queued.clone(), &restart("2", 45)).0,
        queued,
        "a redelivered restart changes nothing while queued"
    );

    let (restored, event) = take_queued_restart(&queued, 50).expect("a queued restart");
    assert_eq!(
        restored, finished_execution,
        "the execution as it was before queueing"
    );
    assert_eq!(event, restart("2", 50));
    assert_eq!(
        apply(restored, &event),
        apply(finished_execution.clone(), &restart("2", 50))
    );
    assert!(take_queued_restart(&finished_execution, 50).is_none());
}

#[test]
fn a_running_stage_cannot_be_restarted() {
    let execution = started(vec![stage("1", &[], json!({}))]);
    let (after, effects) = apply(execution.clone(), &restart("1", 20));
    assert_eq!((after, effects), (execution, vec![]));
}

fn types(events: &[gennaker_engine::LifecycleEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event.detail_type.as_str())
        .collect()
}

#[test]
fn lifecycle_events_follow_the_transitions_of_one_change() {
    use gennaker_engine::lifecycle_events;
    let not_started = execution_of(vec![
        stage("1", &[], json!({})),
        stage("2", &["1"], enabled("false")),
    ]);
    let running = apply(not_started.clone(), &Event::Start { now: 10 }).0;
    assert_eq!(
        types(&lifecycle_events(&not_started, &running)),
        vec!["orca:pipeline:starting", "orca:stage:starting"]
    );
    let done = apply(running.clone(), &finished("1", 1, Succeeded, 20)).0;
    let events = lifecycle_events(&running, &done);
    assert_eq!(
        types(&events),
        vec![
            "orca:stage:complete",
            "orca:stage:skipped",
            "orca:pipeline:complete"
        ]
    );
    assert_eq!(events[0].detail["stageId"], stage_id("1"));
    assert_eq!(events[2].detail["execution"]["status"], "SUCCEEDED");
    assert!(
        lifecycle_events(&done, &done).is_empty(),
        "no change, no event"
    );

    let failed = apply(running.clone(), &finished("1", 1, Terminal, 20)).0;
    assert_eq!(
        types(&lifecycle_events(&running, &failed)),
        vec!["orca:stage:failed", "orca:pipeline:failed"]
    );
}

#[test]
fn a_timed_out_stage_succeeds_only_with_mark_successful_on_timeout() {
    let timed_out = |ref_id: &str| Event::StageFinished {
        stage_id: stage_id(ref_id),
        attempt: 1,
        status: Terminal,
        context: json!({"timedOut": true}).as_object().unwrap().clone(),
        outputs: serde_json::Map::new(),
        now: 20,
    };
    let execution = started(vec![
        stage("1", &[], json!({"markSuccessfulOnTimeout": true})),
        stage("2", &[], json!({})),
    ]);
    let (execution, _) = apply(execution, &timed_out("1"));
    assert_eq!(status_of(&execution, "1"), Succeeded);
    let (execution, _) = apply(execution, &timed_out("2"));
    assert_eq!(status_of(&execution, "2"), Terminal);
}

#[test]
fn an_abort_ends_the_execution_terminal_with_a_readable_exception() {
    let execution = started(vec![stage("1", &[], json!({})), stage("2", &[], json!({}))]);
    let abort = Event::Abort {
        reason: "poison message".into(),
        stage_id: Some(stage_id("1")),
        now: 30,
    };
    let (execution, effects) = apply(execution, &abort);
    assert_eq!(execution.status, Terminal);
    assert_eq!(
        (status_of(&execution, "1"), status_of(&execution, "2")),
        (Terminal, Canceled)
    );
    assert_eq!(
        execution.stage_by_ref_id("1").unwrap().context["exception"]["details"]["error"],
        "poison message"
    );
    assert_eq!(
        execution.extra["exception"]["details"]["error"],
        "poison message"
    );
    assert_eq!(
        effects,
        vec![
            cancel("2", 1),
            Effect::CompleteExecution { status: Terminal }
        ]
    );
    let (again, effects) = apply(execution.clone(), &abort);
    assert_eq!(
        (again, effects),
        (execution, vec![]),
        "a finished execution is left alone"
    );
}

#[test]
fn restarting_forgets_the_previous_build_or_webhook_of_the_stage() {
    let execution = started(vec![
        stage(
            "1",
            &[],
            json!({"type": "jenkins", "master": "ci", "job": "build"}),
        ),
        stage(
            "2",
            &[],
            json!({"type": "webhook", "url": "https://x.example.com"}),
        ),
    ]);
    let build = |status| {
        Event::StageFinished {
        stage_id: stage_id("1"),
        attempt: 1,
        status,
        context: json!({"buildNumber": 7, "queuedBuild": "12", "buildInfo": {"number": 7, "result": "FAILURE"}})
            .as_object()
            .cloned()
            .unwrap(),
        outputs: Default::default(),
        now: 20,
    }
    };
    let (execution, _) = apply(execution, &build(Terminal));
    let (execution, effects) = apply(execution, &restart("1", 40));
    assert_eq!(effects[1], start("1", 2));
    let context = &execution.stage_by_ref_id("1").unwrap().context;
    assert!(context.get("buildNumber").is_none() && context.get("queuedBuild").is_none());
    assert!(context.get("buildInfo").is_none());
    assert_eq!(context["restartDetails"]["previousBuildInfo"]["number"], 7);
    assert_eq!(context["master"], "ci", "the stage's configuration stays");

    let hook = Event::StageFinished {
        stage_id: stage_id("2"),
        attempt: 1,
        status: Succeeded,
        context: json!({"webhook": {"statusCodeValue": 200}, "statusEndpoint": "https://x.example.com/1"})
            .as_object()
            .cloned()
            .unwrap(),
        outputs: Default::default(),
        now: 50,
    };
    let (execution, _) = apply(execution, &hook);
    let (execution, _) = apply(execution, &finished("1", 2, Succeeded, 60));
    let (execution, _) = apply(execution, &restart("2", 70));
    let context = &execution.stage_by_ref_id("2").unwrap().context;
    assert!(context.get("webhook").is_none() && context.get("statusEndpoint").is_none());
    assert_eq!(context["url"], "https://x.example.com");
}

#[test]
fn restarting_a_deploy_or_a_dynamic_operation_forgets_the_groups_it_chose() {
    let execution = started(vec![
        stage(
            "1",
            &[],
            json!({"type": "deploy", "clusters": [{"application": "shop"}]}),
        ),
        stage(
            "2",
            &[],
            json!({"type": "disableServerGroup", "cluster": "shop-web", "target": "ancestor_asg_dynamic"}),
        ),
    ]);
    let finish = |ref_id: &str, context: Value, now| Event::StageFinished {
        stage_id: stage_id(ref_id),
        attempt: 1,
        status: Terminal,
        context: context.as_object().cloned().unwrap(),
        outputs: Default::default(),
        now,
    };
    let deployed = json!({"deployPlan": [{"serverGroupName": "shop-v001"}],
        "deploy.server.groups": {"us-east-1": ["shop-v001"]}, "deploy.account.name": "default",
        "deployments": {}});
    let (execution, _) = apply(execution, &finish("1", deployed, 20));
    let (execution, _) = apply(execution, &restart("1", 30));
    let context = &execution.stage_by_ref_id("1").unwrap().context;
    for key in [
        "deployPlan",
        "deploy.server.groups",
        "deploy.account.name",
        "deployments",
    ] {
        assert!(context.get(key).is_none(), "{key} is forgotten");
    }
    assert!(context.get("clusters").is_some(), "the configuration stays");

    let resolved = json!({"targetResolved": true, "serverGroupName": "shop-web-v000",
        "targets": {"us-east-1": {"serverGroupName": "shop-web-v000"}}});
    let (execution, _) = apply(execution, &finish("2", resolved, 40));
    let (execution, _) = apply(execution, &restart("2", 50));
    let context = &execution.stage_by_ref_id("2").unwrap().context;
    for key in ["targetResolved", "serverGroupName", "targets"] {
        assert!(context.get(key).is_none(), "{key} is forgotten");
    }
    assert_eq!(context["target"], "ancestor_asg_dynamic");
}

#[test]
fn restarting_a_load_balancer_stage_acts_again() {
    let execution = started(vec![
        stage(
            "1",
            &[],
            json!({"type": "upsertLoadBalancer", "loadBalancerName": "shop-web"}),
        ),
        stage(
            "2",
            &[],
            json!({"type": "deleteLoadBalancer", "loadBalancerName": "shop-web"}),
        ),
    ]);
    let finish = |ref_id: &str, context: Value, now| Event::StageFinished {
        stage_id: stage_id(ref_id),
        attempt: 1,
        status: Terminal,
        context: context.as_object().cloned().unwrap(),
        outputs: Default::default(),
        now,
    };
    let (execution, _) = apply(execution, &finish("1", json!({"acted": true}), 20));
    let (execution, _) = apply(execution, &restart("1", 30));
    let context = &execution.stage_by_ref_id("1").unwrap().context;
    assert!(context.get("acted").is_none());
    let (execution, _) = apply(
        execution,
        &finish("2", json!({"targetGroupsToDelete": ["shop-web-tg"]}), 40),
    );
    let (execution, _) = apply(execution, &restart("2", 50));
    let context = &execution.stage_by_ref_id("2").unwrap().context;
    assert!(context.get("targetGroupsToDelete").is_none());
    assert_eq!(context["loadBalancerName"], "shop-web");
}

#[test]
fn restarting_a_stack_deployment_submits_it_again() {
    let execution = started(vec![stage(
        "1",
        &[],
        json!({"type": "deployCloudFormation", "stackName": "orders", "isChangeSet": true}),
    )]);
    let finished = Event::StageFinished {
        stage_id: stage_id("1"),
        attempt: 1,
        status: Terminal,
        context: json!({"stackId": "arn:stack", "isChangeSetExecution": true})
            .as_object()
            .cloned()
            .unwrap(),
        outputs: Default::default(),
        now: 20,
    };
    let (execution, _) = apply(execution, &finished);
    let (execution, _) = apply(execution, &restart("1", 30));
    let context = &execution.stage_by_ref_id("1").unwrap().context;
    for key in ["stackId", "isChangeSetExecution"] {
        assert!(context.get(key).is_none(), "{key} is forgotten");
    }
    assert_eq!(context["stackName"], "orders");
}

#[test]
fn applied_operations_are_remembered_and_only_the_latest_ones() {
    let mut execution = started(vec![stage("1", &[], json!({}))]);
    assert!(!operation_applied(&execution, "op-1"));
    for number in 1..=40 {
        record_operation(&mut execution, &format!("op-{number}"));
    }
    assert!(operation_applied(&execution, "op-40"));
    assert!(operation_applied(&execution, "op-9"));
    assert!(!operation_applied(&execution, "op-8"), "32 are remembered");
}
