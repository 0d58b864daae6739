//! Manual judgment: what a judge's answer means for the stage (Orca's `WaitForJudgmentTask`).

use serde_json::{Map, Value};

use crate::ExecutionStatus;

/// A judge's decision, read from `judgmentStatus` (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgment {
    Continue,
    Stop,
}

impl Judgment {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "continue" => Some(Self::Continue),
            "stop" => Some(Self::Stop),
            _ => None,
        }
    }

    /// The judgment recorded in a stage context, if any.
    pub fn from_context(context: &Map<String, Value>) -> Option<Self> {
        context
            .get("judgmentStatus")
            .and_then(Value::as_str)
            .and_then(Self::parse)
    }

    /// continue ⇒ SUCCEEDED; stop ⇒ TERMINAL (the stage's failure options then apply).
    pub fn stage_status(self) -> ExecutionStatus {
        match self {
            Self::Continue => ExecutionStatus::Succeeded,
            Self::Stop => ExecutionStatus::Terminal,
        }
    }

    /// The worker's answer to the stage state machine's task token.
    pub fn worker_answer(self) -> Value {
        serde_json::json!({ "status": self.stage_status() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judgments_parse_case_insensitively() {
        assert_eq!(Judgment::parse("Continue"), Some(Judgment::Continue));
        assert_eq!(Judgment::parse(" STOP "), Some(Judgment::Stop));
        assert_eq!(Judgment::parse("maybe"), None);
        let context = json!({"judgmentStatus": "stop"})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            Judgment::from_context(&context).unwrap().worker_answer(),
            json!({"status": "TERMINAL"})
        );
    }
}
