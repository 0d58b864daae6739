//! What local mode prints while it runs: one readable line per execution and stage
//! transition, from the orchestrator's saved changes (its transition hook), e.g.
//!
//! ```text
//! 14:02:11  demo/ship  01JF3…  stage "Canary" SUCCEEDED in 2.1 s
//! ```
//!
//! Times are UTC, like the log lines `RUST_LOG` adds. A failure carries its reason, in red
//! when the output is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use gennaker_orchestrator::TransitionHook;
use serde_json::Value;

const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// A hook that prints the lines of every transition to standard output.
pub fn printer() -> TransitionHook {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    Arc::new(move |before, after| {
        let lines = transition_lines(before, after, colour);
        if lines.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    })
}

/// The console lines for the change from `before` to `after`.
pub fn transition_lines(before: &Execution, after: &Execution, colour: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let prefix = |at: Option<i64>| {
        format!(
            "{}  {}/{}  {}",
            clock(at),
            after.application,
            after.name.as_deref().unwrap_or("(task)"),
            after.id
        )
    };
    if before.status != after.status && after.status == ExecutionStatus::Running {
        lines.push(format!("{}  execution RUNNING", prefix(after.start_time)));
    }
    for stage in &after.stages {
        let previous = before.stage(&stage.id);
        let restarted = previous.is_some_and(|p| p.attempt != stage.attempt);
        let status_changed = previous.is_none_or(|p| p.status != stage.status) || restarted;
        if !status_changed || stage.synthetic_stage_owner.is_some() {
            continue;
        }
        match stage.status {
            ExecutionStatus::Running => lines.push(format!(
                "{}  stage \"{}\" RUNNING{}",
                prefix(stage.start_time),
                stage.name,
                waiting_for(stage)
            )),
            status if status.is_complete() => {
                let line = format!(
                    "{}  stage \"{}\" {status}{}{}",
                    prefix(stage.end_time),
                    stage.name,
                    took(stage.start_time, stage.end_time),
                    stage_reason(stage)
                        .map(|reason| format!(": {reason}"))
                        .unwrap_or_default()
                );
                lines.push(paint(line, status, colour));
            }
            _ => {}
        }
    }
    if after.status.is_complete() && !before.status.is_complete() {
        let line = format!(
            "{}  execution {}{}{}",
            prefix(after.end_time),
            after.status,
            took(after.start_time, after.end_time),
            execution_reason(after)
                .map(|reason| format!(": {reason}"))
                .unwrap_or_default()
        );
        lines.push(paint(line, after.status, colour));
    }
    lines
}

/// What a stage that takes a while waits for, so a quiet console is not a stuck one.
fn waiting_for(stage: &StageExecution) -> String {
    let text = match stage.stage_type.as_str() {
        "wait" => match stage.context.get("waitTime").and_then(Value::as_u64) {
            Some(seconds) => format!("waiting {seconds} s"),
            None => return String::new(),
        },
        "manualJudgment" => {
            "waiting for a judgment (UI or PATCH /pipelines/{id}/stages/{stageId})".to_string()
        }
        "bake" => "waiting for the image to be baked".to_string(),
        "deploy" | "createServerGroup" | "cloneServerGroup" => {
            "waiting for the server group to be up and healthy".to_string()
        }
        "jenkins" => "waiting for the Jenkins build".to_string(),
        "webhook" => "waiting for the webhook".to_string(),
        "pipeline" => "waiting for the child pipeline".to_string(),
        _ => return String::new(),
    };
    format!(" ({text})")
}

fn stage_reason(stage: &StageExecution) -> Option<String> {
    if stage.status.is_successful() || stage.status == ExecutionStatus::Skipped {
        return None;
    }
    exception_reason(stage.context.get("exception"))
}

fn execution_reason(execution: &Execution) -> Option<String> {
    if execution.status.is_successful() {
        return None;
    }
    execution
        .cancellation_reason
        .clone()
        .or_else(|| exception_reason(execution.extra.get("exception")))
}

/// Orca's `exception.details.error`, else its first `errors` entry.
fn exception_reason(exception: Option<&Value>) -> Option<String> {
    let details = exception?.get("details")?;
    details
        .get("error")
        .and_then(Value::as_str)
        .or_else(|| details.get("errors")?.get(0)?.as_str())
        .map(str::to_string)
}

fn paint(line: String, status: ExecutionStatus, colour: bool) -> String {
    if colour && !status.is_successful() && status != ExecutionStatus::Skipped {
        format!("{RED}{line}{RESET}")
    } else {
        line
    }
}

fn took(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(start), Some(end)) if end >= start => {
            format!(" in {:.1} s", (end - start) as f64 / 1000.0)
        }
        _ => String::new(),
    }
}

/// `HH:MM:SS` (UTC) of epoch millis, or of now.
fn clock(at: Option<i64>) -> String {
    let millis = at.unwrap_or_else(gennaker_model::json::now_millis);
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|time| time.format("%H:%M:%S").to_string())
        .unwrap_or_default()
}
