//! Spinnaker's `ExecutionStatus`: one enum for executions, stages and tasks.

use serde::{Deserialize, Serialize};

/// Status of an execution, a stage or a task, serialized as Spinnaker's upper-case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    NotStarted,
    Running,
    Paused,
    Suspended,
    Succeeded,
    FailedContinue,
    Terminal,
    Canceled,
    Redirect,
    Stopped,
    Skipped,
    Buffered,
}

use ExecutionStatus::*;

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 12] = [
        NotStarted,
        Running,
        Paused,
        Suspended,
        Succeeded,
        FailedContinue,
        Terminal,
        Canceled,
        Redirect,
        Stopped,
        Skipped,
        Buffered,
    ];
    /// Orca's `COMPLETED`: finished its work, one way or another.
    pub const COMPLETED: [ExecutionStatus; 6] = [
        Canceled,
        Succeeded,
        Stopped,
        Skipped,
        Terminal,
        FailedContinue,
    ];
    /// Orca's `SUCCESSFUL` (note: STOPPED counts as successful here, as in Spinnaker).
    pub const SUCCESSFUL: [ExecutionStatus; 3] = [Succeeded, Stopped, Skipped];
    /// Orca's `FAILURE`.
    pub const FAILURE: [ExecutionStatus; 3] = [Terminal, Stopped, FailedContinue];
    /// Parent statuses that let a downstream stage start (join satisfied).
    pub const UPSTREAM_SATISFIED: [ExecutionStatus; 3] = [Succeeded, FailedContinue, Skipped];
    /// Parent statuses that block downstream stages forever.
    pub const UPSTREAM_BLOCKING: [ExecutionStatus; 3] = [Terminal, Stopped, Canceled];

    pub fn is_complete(self) -> bool {
        Self::COMPLETED.contains(&self)
    }
    /// Abnormal end: nothing downstream may run.
    pub fn is_halt(self) -> bool {
        matches!(self, Terminal | Canceled | Stopped)
    }
    pub fn is_successful(self) -> bool {
        Self::SUCCESSFUL.contains(&self)
    }
    pub fn is_failure(self) -> bool {
        Self::FAILURE.contains(&self)
    }
    pub fn satisfies_downstream(self) -> bool {
        Self::UPSTREAM_SATISFIED.contains(&self)
    }
    pub fn blocks_downstream(self) -> bool {
        Self::UPSTREAM_BLOCKING.contains(&self)
    }
    /// The wire name, e.g. `NOT_STARTED`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotStarted => "NOT_STARTED",
            Running => "RUNNING",
            Paused => "PAUSED",
            Suspended => "SUSPENDED",
            Succeeded => "SUCCEEDED",
            FailedContinue => "FAILED_CONTINUE",
            Terminal => "TERMINAL",
            Canceled => "CANCELED",
            Redirect => "REDIRECT",
            Stopped => "STOPPED",
            Skipped => "SKIPPED",
            Buffered => "BUFFERED",
        }
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ExecutionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not an execution status"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for status in ExecutionStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<ExecutionStatus>(&json).unwrap(),
                status
            );
            assert_eq!(status.as_str().parse::<ExecutionStatus>().unwrap(), status);
        }
    }

    #[test]
    fn sets_match_orca() {
        let complete: Vec<_> = ExecutionStatus::ALL
            .into_iter()
            .filter(|s| s.is_complete())
            .collect();
        assert_eq!(
            complete,
            vec![
                Succeeded,
                FailedContinue,
                Terminal,
                Canceled,
                Stopped,
                Skipped
            ]
        );
        assert!(Stopped.is_successful() && Stopped.is_failure());
        assert!(!FailedContinue.is_halt() && FailedContinue.satisfies_downstream());
        assert!(!Redirect.is_complete() && !Buffered.is_complete() && !Paused.is_complete());
        assert!(Canceled.is_halt() && !Canceled.is_failure() && !Canceled.is_successful());
    }
}
