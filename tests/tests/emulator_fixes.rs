//! The emulator fixes of `local/src/moto_fixes` change how fast moto is and how much it
//! keeps, never what it answers: the same DynamoDB, Streams, SQS and Step Functions calls
//! (`tests/emulator/differential.py`, through boto3) must observe the same on stock moto
//! and on fixed moto. And state moto would keep forever is trimmed after the retention, and a
//! stopped run ends at once.

use std::time::{Duration, Instant};

use gennaker_local::emulator::{Emulator, EmulatorSettings, ensure_installed, project_root};

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn stock_and_fixed_moto_observe_the_same() -> anyhow::Result<()> {
    let stock = EmulatorSettings {
        moto_fixes: false,
        retention: None,
        data_dir: None,
    };
    let fixed = EmulatorSettings {
        moto_fixes: true,
        retention: None,
        data_dir: None,
    };
    let (stock, fixed) =
        tokio::try_join!(Emulator::start_with(stock), Emulator::start_with(fixed))?;
    let venv = tokio::task::spawn_blocking(ensure_installed).await??;
    let root = project_root();
    let output = tokio::process::Command::new(venv.join("bin/python"))
        .arg(root.join("tests/emulator/differential.py"))
        .arg(stock.endpoint())
        .arg(fixed.endpoint())
        .arg(root.join("statemachines/stage.asl.json"))
        .output()
        .await?;
    stock.stop().await;
    fixed.stop().await;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "stock and fixed moto disagree:\n{report}"
    );
    assert!(report.contains("observed the same"), "{report}");
    Ok(())
}

#[tokio::test]
async fn finished_executions_are_dropped_after_the_retention_and_running_ones_kept()
-> anyhow::Result<()> {
    let emulator = Emulator::start_with(EmulatorSettings {
        moto_fixes: true,
        retention: Some(Duration::from_secs(1)),
        data_dir: None,
    })
    .await?;
    let config = gennaker_runtime::aws::sdk_config(Some(emulator.endpoint())).await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let definition = r#"{"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "SecondsPath": "$.seconds", "End": true}}}"#;
    let machine = sfn
        .create_state_machine()
        .name("retained")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/retained")
        .send()
        .await?
        .state_machine_arn()
        .to_string();
    let start = |name: &'static str, seconds: u32| {
        sfn.start_execution()
            .state_machine_arn(&machine)
            .name(name)
            .input(format!(r#"{{"seconds": {seconds}}}"#))
            .send()
    };
    let finished = start("finished", 0).await?.execution_arn().to_string();
    let running = start("running", 60).await?.execution_arn().to_string();

    let deadline = Instant::now() + DEADLINE;
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&finished)
            .send()
            .await;
        match described {
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                break;
            }
            Err(error) => return Err(error.into()),
            Ok(_) => {
                assert!(
                    Instant::now() < deadline,
                    "the finished execution was never dropped"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let still_running = sfn
        .describe_execution()
        .execution_arn(&running)
        .send()
        .await?;
    assert_eq!(
        still_running.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Running
    );
    emulator.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_run_waiting_for_its_task_token_is_stopped_at_once() -> anyhow::Result<()> {
    let emulator = Emulator::start_with(EmulatorSettings {
        moto_fixes: true,
        retention: None,
        data_dir: None,
    })
    .await?;
    let config = gennaker_runtime::aws::sdk_config(Some(emulator.endpoint())).await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs
        .create_queue()
        .queue_name("tokens")
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let definition = serde_json::json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": true}}});
    let machine = sfn
        .create_state_machine()
        .name("asking")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/asking")
        .send()
        .await?
        .state_machine_arn()
        .to_string();
    let run = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("waits")
        .send()
        .await?
        .execution_arn()
        .to_string();
    // The run waits for its token once the task message is out.
    let deadline = Instant::now() + DEADLINE;
    let token_message = loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .wait_time_seconds(1)
            .send()
            .await?;
        if let Some(message) = received.messages().first() {
            break message.body().unwrap_or_default().to_string();
        }
        assert!(Instant::now() < deadline, "the task message never came");
    };
    sfn.stop_execution().execution_arn(&run).send().await?;
    let stopped = sfn.describe_execution().execution_arn(&run).send().await?;
    assert_eq!(
        stopped.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Aborted,
        "a stopped run reads ABORTED at once, as in Step Functions"
    );
    let token: serde_json::Value = serde_json::from_str(&token_message)?;
    let late = sfn
        .send_task_success()
        .task_token(token["token"].as_str().unwrap_or_default())
        .output("{}")
        .send()
        .await;
    assert!(
        late.is_err(),
        "the token of a stopped run is no longer answered: {late:?}"
    );
    emulator.stop().await;
    Ok(())
}
