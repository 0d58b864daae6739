//! A script stage sees none of the platform's credentials: this process (which hosts every
//! function in local mode, the script worker included) carries AWS credentials in its
//! environment, as a Lambda function does, and the script can neither see them in its own
//! environment nor read them from its parent's `/proc/<pid>/environ`.
//!
//! One test in its own binary: it sets environment variables before any other thread runs.

mod support;

use serde_json::json;
use support::{TestApp, stage};

const SECRET: &str = "wJalrXUtnFEMI-platform-secret";
const SESSION: &str = "IQoJb3JpZ2luX2VjEplatform-session";

#[test]
fn scripts_see_none_of_the_platforms_credentials() {
    // SAFETY: the only test of this binary sets these before it starts any thread of its own.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "ASIAPLATFORMKEY");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
        std::env::set_var("AWS_SESSION_TOKEN", SESSION);
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(check());
}

async fn check() {
    let app = TestApp::spawn_with_parameters(&[("StagePollSeconds", "1")]).await;
    let probe = r#"
        echo "--- env"; env
        echo "--- parent"; cat "/proc/$PPID/environ" 2>&1 | tr '\0' '\n' || true
        echo "--- all"; for f in /proc/[0-9]*/environ; do cat "$f" 2>/dev/null | tr '\0' '\n' | grep -a AWS_ || true; done
        n=$(env | grep -c '^AWS_' || true)
        echo "AWS_VARIABLES=$n" > out.properties
    "#;
    let id = app
        .save_and_trigger(
            "isolation",
            "probe",
            vec![
                json!({"refId": "1", "requisiteStageRefIds": [], "type": "script", "name": "probe",
                        "command": probe, "propertyFile": "out.properties"}),
            ],
        )
        .await;
    let execution = app.ended(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let probe = stage(&execution, "1");
    assert_eq!(probe["outputs"]["AWS_VARIABLES"], "0");
    let logs = probe["context"]["logs"].as_str().unwrap();
    assert!(
        logs.contains("--- env") && logs.contains("--- all"),
        "{logs}"
    );
    for secret in [SECRET, SESSION, "ASIAPLATFORMKEY", "AWS_LAMBDA_RUNTIME_API"] {
        assert!(!logs.contains(secret), "the script saw {secret}: {logs}");
    }
    assert!(
        logs.contains("Permission denied"),
        "the worker's /proc/<pid>/environ is not readable: {logs}"
    );
    app.stop().await;
}
