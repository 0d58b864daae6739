//! Script stages through the public API against local mode: outputs from a property file,
//! failures with the log's tail, the stage timeout, an output flood, cancel, bad input.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestApp, eventually, stage};

fn script(ref_id: &str, requisites: &[&str], fields: Value) -> Value {
    let mut stage = json!({"refId": ref_id, "requisiteStageRefIds": requisites, "type": "script", "name": format!("Script {ref_id}")});
    stage
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    stage
}

async fn spawn() -> TestApp {
    TestApp::spawn_with_parameters(&[("StagePollSeconds", "1")]).await
}

#[tokio::test]
async fn scripts_succeed_fail_and_hand_their_properties_on() {
    let app = spawn().await;
    let ok = app
        .save_and_trigger(
            "scripts",
            "ok",
            vec![
                script(
                    "1",
                    &[],
                    json!({
                        "command": "echo \"building $SERVICE\"; echo 'to stderr' >&2; printf 'VERSION=%s-7\\nREGION=%s\\n' \"$BASE\" \"$region\" > out.properties",
                        "SERVICE": "demo", "BASE": "1.4", "region": "eu-west-1",
                        "propertyFile": "out.properties",
                    }),
                ),
                script(
                    "2",
                    &["1"],
                    json!({
                        "script": "echo \"{\\\"seen\\\": \\\"$PREVIOUS\\\", \\\"stage\\\": \\\"$GENNAKER_STAGE_ID\\\"}\" > result.json",
                        "PREVIOUS": "${VERSION}",
                        "propertyFile": "result.json",
                    }),
                ),
            ],
        )
        .await;
    let failing = app
        .save_and_trigger(
            "scripts",
            "failing",
            vec![script(
                "1",
                &[],
                json!({"command": "echo 'step one done'; echo 'cannot reach the database' >&2; exit 3"}),
            )],
        )
        .await;

    let execution = app.ended(&ok).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let first = stage(&execution, "1");
    assert_eq!(first["outputs"]["VERSION"], "1.4-7");
    assert_eq!(first["outputs"]["REGION"], "eu-west-1");
    assert_eq!(first["context"]["exitCode"], 0);
    let logs = first["context"]["logs"].as_str().unwrap();
    assert!(
        logs.contains("building demo") && logs.contains("to stderr"),
        "{logs}"
    );
    let second = stage(&execution, "2");
    assert_eq!(second["outputs"]["seen"], "1.4-7", "{second}");
    assert_eq!(second["outputs"]["stage"], second["id"]);

    let execution = app.ended(&failing).await;
    assert_eq!(execution["status"], "TERMINAL");
    let failed = stage(&execution, "1");
    assert_eq!(failed["context"]["exitCode"], 3);
    let details = &failed["context"]["exception"]["details"];
    assert!(details["error"].as_str().unwrap().contains("code 3"));
    let tail = details["logTail"].as_str().unwrap();
    assert!(tail.contains("cannot reach the database"), "{tail}");
    app.stop().await;
}

#[tokio::test]
async fn timeouts_floods_and_bad_input_end_the_stage_without_hanging() {
    let app = spawn().await;
    let slow = app
        .save_and_trigger(
            "scripts",
            "slow",
            vec![script(
                "1",
                &[],
                json!({"command": "echo started; sleep 60", "stageTimeoutMs": 2000}),
            )],
        )
        .await;
    let flood = app
        .save_and_trigger(
            "scripts",
            "flood",
            vec![script(
                "1",
                &[],
                json!({"command": "yes 'all work and no play'"}),
            )],
        )
        .await;
    let no_command = app
        .save_and_trigger("scripts", "no-command", vec![script("1", &[], json!({}))])
        .await;
    let no_root = app
        .save_and_trigger(
            "scripts",
            "no-root",
            vec![script(
                "1",
                &[],
                json!({"command": "./run.sh", "scriptPath": "deploy"}),
            )],
        )
        .await;
    let missing_properties = app
        .save_and_trigger(
            "scripts",
            "missing-properties",
            vec![script(
                "1",
                &[],
                json!({"command": "true", "propertyFile": "never-written.properties"}),
            )],
        )
        .await;

    let started = std::time::Instant::now();
    let execution = app.ended(&slow).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the script was stopped at the stage timeout"
    );
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(stage(&execution, "1")["context"]["timedOut"], true);

    let execution = app.ended(&flood).await;
    assert_eq!(execution["status"], "TERMINAL");
    let flooded = stage(&execution, "1");
    assert!(
        error_of(&execution).contains("bytes of output"),
        "{flooded}"
    );
    assert!(flooded["context"]["logs"].as_str().unwrap().len() <= 16 * 1024);

    for (id, expected) in [
        (&no_command, "needs a command"),
        (&no_root, "SCRIPT_ROOT"),
        (&missing_properties, "never-written.properties"),
    ] {
        let execution = app.ended(id).await;
        assert_eq!(execution["status"], "TERMINAL", "{execution}");
        assert!(error_of(&execution).contains(expected), "{execution}");
    }
    app.stop().await;
}

#[tokio::test]
async fn canceling_the_execution_kills_the_running_script() {
    let app = spawn().await;
    let marker_dir =
        std::env::temp_dir().join(format!("gennaker-script-cancel-{}", std::process::id()));
    std::fs::create_dir_all(&marker_dir).unwrap();
    // The script may run as another user (`nobody` when the tests run as root).
    std::fs::set_permissions(
        &marker_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let id = app
        .save_and_trigger(
            "scripts",
            "cancel-me",
            vec![script(
                "1",
                &[],
                json!({"command": "echo $$ > \"$MARKER_DIR/pid\"; sleep 120", "MARKER_DIR": marker_dir.to_str().unwrap()}),
            )],
        )
        .await;
    let pid: i32 = eventually("the script to start", Duration::from_secs(30), || async {
        std::fs::read_to_string(marker_dir.join("pid"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    })
    .await;
    assert!(alive(pid), "the script runs");
    app.cancel(&id).await;
    assert_eq!(app.ended(&id).await["status"], "CANCELED");
    eventually(
        "the script to be killed",
        Duration::from_secs(20),
        || async { (!alive(pid)).then_some(()) },
    )
    .await;
    std::fs::remove_dir_all(&marker_dir).unwrap();
    app.stop().await;
}

/// Running (a zombie waiting to be reaped counts as gone).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        })
        .unwrap_or(false)
}

fn error_of(execution: &Value) -> String {
    stage(execution, "1")["context"]["exception"]["details"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {execution}"))
        .to_string()
}
