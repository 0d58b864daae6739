//! Local mode's console (issue 16): one readable line per execution and stage transition,
//! with the time a stage took, and the reason of a failure.

mod support;

use std::sync::{Arc, Mutex};

use gennaker_local::LocalOptions;
use serde_json::json;
use support::{TestApp, wait};

#[tokio::test]
async fn a_three_stage_pipeline_prints_a_line_per_transition() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let collected = lines.clone();
    let app = TestApp::spawn_with(LocalOptions {
        transitions: Some(Arc::new(move |before, after| {
            collected
                .lock()
                .unwrap()
                .extend(gennaker_local::console::transition_lines(
                    before, after, false,
                ));
        })),
        ..LocalOptions::default()
    })
    .await;
    app.create_application("shop").await;
    let failing = json!({"refId": "3", "requisiteStageRefIds": ["2"], "type": "checkPreconditions",
        "name": "Gate", "preconditions": [{"type": "expression", "failPipeline": true,
        "context": {"expression": "${false}"}}]});
    let id = app
        .save_and_trigger(
            "shop",
            "ship",
            vec![wait("1", &[], 1), wait("2", &["1"], 0), failing],
        )
        .await;
    let ended = app.ended(&id).await;
    assert_eq!(ended["status"], "TERMINAL", "{ended}");

    let lines = lines.lock().unwrap().clone();
    let of_this: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|line| line.contains(&id))
        .collect();
    // "14:02:11  shop/ship  01J…  <what>"
    let what: Vec<&str> = of_this
        .iter()
        .map(|line| {
            let (clock, rest) = line.split_at(8);
            assert!(
                clock.chars().filter(|c| *c == ':').count() == 2,
                "a line starts with HH:MM:SS: {line}"
            );
            let prefix = format!("  shop/ship  {id}  ");
            rest.strip_prefix(prefix.as_str())
                .unwrap_or_else(|| panic!("application/pipeline and id after the time: {line}"))
        })
        .collect();
    let shape: Vec<String> = what
        .iter()
        .map(|what| match what.split_once(" in ") {
            Some((head, tail)) => {
                let (seconds, reason) = tail.split_once(" s").expect("a duration in seconds");
                assert!(seconds.parse::<f64>().is_ok(), "{what}");
                format!("{head} in _ s{reason}")
            }
            None => what.to_string(),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "execution RUNNING",
            "stage \"Wait 1\" RUNNING (waiting 1 s)",
            "stage \"Wait 1\" SUCCEEDED in _ s",
            "stage \"Wait 2\" RUNNING (waiting 0 s)",
            "stage \"Wait 2\" SUCCEEDED in _ s",
            "stage \"Gate\" RUNNING",
            "stage \"Gate\" TERMINAL in _ s: Expression 'false' is false",
            "execution TERMINAL in _ s",
        ],
        "{of_this:#?}"
    );
    let waited: f64 = what[2]
        .split_once(" in ")
        .and_then(|(_, tail)| tail.trim_end_matches(" s").parse().ok())
        .unwrap();
    assert!(waited >= 1.0, "the 1 s wait took {waited} s");
    app.stop().await;
}
