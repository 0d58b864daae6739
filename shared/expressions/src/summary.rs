//! `expressionEvaluationSummary`: what failed (ERROR) or resolved to nothing (INFO), keyed by
//! the expression text without `${}` — Orca's `ExpressionEvaluationSummary`.

use serde_json::{Map, Value, json};

/// Context key under which Orca keeps the summary.
pub const SUMMARY_KEY: &str = "expressionEvaluationSummary";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryLevel {
    /// The expression failed; the original text was kept.
    Error,
    /// The expression resolved to null ("… not found"); the original text was kept.
    Info,
}

impl SummaryLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryLevel::Error => "ERROR",
            SummaryLevel::Info => "INFO",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryEntry {
    pub description: String,
    /// Java exception class name (`ERROR` entries only; Orca omits it for `INFO`).
    pub exception_type: Option<String>,
    /// Epoch milliseconds.
    pub timestamp: i64,
    pub level: SummaryLevel,
}

impl SummaryEntry {
    pub fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert(
            "description".into(),
            Value::String(self.description.clone()),
        );
        if let Some(exception_type) = &self.exception_type {
            entry.insert(
                "exceptionType".into(),
                Value::String(exception_type.clone()),
            );
        }
        entry.insert("timestamp".into(), Value::from(self.timestamp));
        entry.insert("level".into(), Value::String(self.level.as_str().into()));
        Value::Object(entry)
    }
}

/// The outcome of one evaluation pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpressionSummary {
    results: Vec<(String, Vec<SummaryEntry>)>,
    attempted: Vec<String>,
    total_evaluated: usize,
    failure_count: usize,
}

impl ExpressionSummary {
    pub(crate) fn add(&mut self, key: &str, entry: SummaryEntry) {
        self.failure_count += 1;
        match self.results.iter_mut().find(|(k, _)| k == key) {
            Some((_, entries)) => {
                // Orca keeps a set: the same failure twice is one entry.
                let duplicate = entries.iter().any(|e| {
                    e.description == entry.description
                        && e.exception_type == entry.exception_type
                        && e.level == entry.level
                });
                if !duplicate {
                    entries.push(entry);
                }
            }
            None => self.results.push((key.to_string(), vec![entry])),
        }
    }

    pub(crate) fn attempted(&mut self, key: &str) {
        self.total_evaluated += 1;
        if !self.attempted.iter().any(|k| k == key) {
            self.attempted.push(key.to_string());
        }
    }

    /// No expression failed or resolved to nothing.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// How many failures (ERROR and INFO) were recorded, counting repeats.
    pub fn failure_count(&self) -> usize {
        self.failure_count
    }

    /// How many template strings were evaluated.
    pub fn total_evaluated(&self) -> usize {
        self.total_evaluated
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &[SummaryEntry])> {
        self.results.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn was_attempted(&self, key: &str) -> bool {
        self.attempted.iter().any(|k| k == key)
    }

    pub fn has_failed(&self, key: &str) -> bool {
        self.results.iter().any(|(k, _)| k == key)
    }

    pub fn has_errors(&self) -> bool {
        self.results
            .iter()
            .any(|(_, entries)| entries.iter().any(|e| e.level == SummaryLevel::Error))
    }

    /// Every entry's description, in order.
    pub fn descriptions(&self) -> Vec<String> {
        self.results
            .iter()
            .flat_map(|(_, entries)| entries.iter().map(|e| e.description.clone()))
            .collect()
    }

    /// The JSON Orca stores: `{"<expr>": [{"description", "exceptionType", "timestamp", "level"}]}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.results
                .iter()
                .map(|(k, entries)| {
                    (
                        k.clone(),
                        Value::Array(entries.iter().map(SummaryEntry::to_json).collect()),
                    )
                })
                .collect(),
        )
    }

    /// Updates `context["expressionEvaluationSummary"]` after evaluating that context, as Orca
    /// does at stage start: new failures replace the stored summary; otherwise entries for
    /// expressions that were evaluated again and now succeed are removed (stale errors), and an
    /// empty summary is dropped.
    pub fn apply_to_context(&self, context: &mut Map<String, Value>) {
        if !self.is_empty() {
            context.insert(SUMMARY_KEY.into(), self.to_json());
            return;
        }
        if let Some(Value::Object(stored)) = context.get_mut(SUMMARY_KEY) {
            stored.retain(|key, _| !self.was_attempted(key) || self.has_failed(key));
            if stored.is_empty() {
                context.remove(SUMMARY_KEY);
            }
        }
    }
}

/// At stage completion Orca copies the summary's descriptions into
/// `context.exception.details.errors` (where Deck shows them). Does nothing without failures.
pub fn include_summary_in_exception(context: &mut Map<String, Value>) {
    let Some(Value::Object(summary)) = context.get(SUMMARY_KEY) else {
        return;
    };
    let errors: Vec<Value> = summary
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("description").cloned())
        .filter(|d| d.as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    if errors.is_empty() {
        return;
    }
    let exception = match context.get("exception").and_then(|e| e.get("details")) {
        Some(details) => {
            let mut merged: Vec<Value> = details
                .get("errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            merged.extend(errors);
            json!({"details": {"errors": merged}})
        }
        None => json!({"details": {"error": "Failed Expression Evaluation", "errors": errors}}),
    };
    context.insert("exception".into(), exception);
}

/// True when the stage asked to fail on failed expressions (`failOnFailedExpressions: true`)
/// and its summary is not empty — Orca then ends the stage TERMINAL.
pub fn should_fail_on_failed_expressions(context: &Map<String, Value>) -> bool {
    let has_failures =
        matches!(context.get(SUMMARY_KEY), Some(Value::Object(map)) if !map.is_empty());
    has_failures && context.get("failOnFailedExpressions") == Some(&Value::Bool(true))
}
