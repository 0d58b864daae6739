//! Function configuration. In AWS the variables come from the process environment that
//! `template.yaml` sets; in local mode the host resolves the same template entries and hands
//! them over as a map, so both paths read the same names.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {0} is not set")]
pub struct MissingVariable(pub String);

/// The environment variables of one function.
#[derive(Debug, Clone, Default)]
pub struct FunctionEnv {
    variables: BTreeMap<String, String>,
}

impl FunctionEnv {
    pub fn from_process() -> Self {
        Self {
            variables: std::env::vars().collect(),
        }
    }

    pub fn from_map(variables: BTreeMap<String, String>) -> Self {
        Self { variables }
    }

    pub fn required(&self, name: &str) -> Result<String, MissingVariable> {
        self.variables
            .get(name)
            .filter(|value| !value.is_empty())
            .cloned()
            .ok_or_else(|| MissingVariable(name.to_string()))
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.variables
            .get(name)
            .filter(|value| !value.is_empty())
            .cloned()
    }

    /// `EXECUTION_RETENTION_DAYS`: how long executions are kept, in days (the template's
    /// default of 90 when unset or unreadable).
    pub fn execution_retention_days(&self) -> i64 {
        self.optional("EXECUTION_RETENTION_DAYS")
            .and_then(|days| days.parse().ok())
            .unwrap_or(90)
    }
}
