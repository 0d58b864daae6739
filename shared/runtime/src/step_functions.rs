//! Step Functions adapter: named (idempotent) starts, task-token answers and stops, with the
//! "already done" answers of the service treated as success.

use aws_sdk_sfn::Client;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("Step Functions {operation} failed: {message}")]
pub struct StepFunctionsError {
    pub operation: &'static str,
    pub message: String,
}

/// What became of a task-token answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAnswer {
    Delivered,
    /// The token was already answered, timed out or belongs to a stopped execution.
    NoLongerWaiting,
}

/// Where a named state machine execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Ended (in any way) at this time, epoch milliseconds.
    Ended {
        at_millis: i64,
    },
    /// No execution of that name (never started, or lost by the service).
    Missing,
}

#[derive(Clone)]
pub struct StepFunctions {
    client: Client,
}

impl StepFunctions {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Starts `name` unless an execution of that name already exists (a redelivered message
    /// must not start a stage twice).
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &impl Serialize,
    ) -> Result<(), StepFunctionsError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(to_json(input))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(())
            }
            Err(error) => Err(failure("StartExecution", error)),
        }
    }

    pub async fn send_task_success(
        &self,
        task_token: &str,
        output: &impl Serialize,
    ) -> Result<TokenAnswer, StepFunctionsError> {
        let result = self
            .client
            .send_task_success()
            .task_token(task_token)
            .output(to_json(output))
            .send()
            .await;
        match result {
            Ok(_) => Ok(TokenAnswer::Delivered),
            Err(error)
                if error.as_service_error().is_some_and(|e| {
                    e.is_task_does_not_exist() || e.is_task_timed_out() || e.is_invalid_token()
                }) =>
            {
                Ok(TokenAnswer::NoLongerWaiting)
            }
            Err(error) => Err(failure("SendTaskSuccess", error)),
        }
    }

    /// Tells Step Functions the task of `task_token` is still being worked on. Also the way a
    /// worker learns that nobody waits for its answer any more: the token was answered, timed
    /// out, or its execution was stopped (a canceled stage) -> `NoLongerWaiting`.
    pub async fn send_task_heartbeat(
        &self,
        task_token: &str,
    ) -> Result<TokenAnswer, StepFunctionsError> {
        let result = self
            .client
            .send_task_heartbeat()
            .task_token(task_token)
            .send()
            .await;
        match result {
            Ok(_) => Ok(TokenAnswer::Delivered),
            Err(error)
                if error.as_service_error().is_some_and(|e| {
                    e.is_task_does_not_exist() || e.is_task_timed_out() || e.is_invalid_token()
                }) =>
            {
                Ok(TokenAnswer::NoLongerWaiting)
            }
            Err(error) => Err(failure("SendTaskHeartbeat", error)),
        }
    }

    pub async fn run_state(&self, execution_arn: &str) -> Result<RunState, StepFunctionsError> {
        let result = self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await;
        match result {
            Ok(described) => Ok(match described.status() {
                aws_sdk_sfn::types::ExecutionStatus::Running
                | aws_sdk_sfn::types::ExecutionStatus::PendingRedrive => RunState::Running,
                _ => RunState::Ended {
                    at_millis: described
                        .stop_date()
                        .and_then(|date| date.to_millis().ok())
                        .unwrap_or(0),
                },
            }),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(RunState::Missing)
            }
            Err(error) => Err(failure("DescribeExecution", error)),
        }
    }

    /// Stops an execution; one that does not exist or already ended is fine.
    pub async fn stop_execution(
        &self,
        execution_arn: &str,
        cause: &str,
    ) -> Result<(), StepFunctionsError> {
        let result = self
            .client
            .stop_execution()
            .execution_arn(execution_arn)
            .cause(cause)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(())
            }
            Err(error) => Err(failure("StopExecution", error)),
        }
    }
}

/// ARN of the execution `name` of the state machine `state_machine_arn`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

fn failure<E: std::error::Error + 'static>(
    operation: &'static str,
    error: aws_sdk_sfn::error::SdkError<E>,
) -> StepFunctionsError {
    let message = match &error {
        aws_sdk_sfn::error::SdkError::ServiceError(service) => service.err().to_string(),
        other => other.to_string(),
    };
    StepFunctionsError {
        operation,
        message: format!("{message} ({error:?})").chars().take(600).collect(),
    }
}

/// A message as JSON text; the protocol's types always serialize.
fn to_json(message: &impl Serialize) -> String {
    serde_json::to_string(message).expect("protocol messages serialize")
}

#[cfg(test)]
mod tests {
    #[test]
    fn execution_arn_follows_the_machine_arn() {
        assert_eq!(
            super::execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:stage",
                "e-s-1"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:stage:e-s-1"
        );
    }
}
