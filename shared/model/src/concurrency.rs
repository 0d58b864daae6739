//! Concurrency limits of a pipeline config (Front50's `Pipeline`, Orca's
//! `StartWaitingExecutionsHandler`): `limitConcurrent`,
//! `maxConcurrentExecutions` and `keepWaitingPipelines`, as a pure ledger of which
//! executions hold a slot and which wait. The store keeps one ledger per config and changes
//! it with conditional writes, so two executions finishing at once cannot lose a wake-up.

use serde::{Deserialize, Serialize};

use crate::Execution;

/// How many executions of one config may run at once, if limited at all.
pub fn slot_limit(execution: &Execution) -> Option<usize> {
    if execution.limit_concurrent {
        Some(1)
    } else if execution.max_concurrent_executions > 0 {
        Some(execution.max_concurrent_executions as usize)
    } else {
        None
    }
}

/// The executions of one config that hold a slot, wait for one, or were superseded by a
/// newer waiting execution and still have to be canceled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcurrencyLedger {
    pub running: Vec<String>,
    pub waiting: Vec<String>,
    #[serde(default)]
    pub superseded: Vec<String>,
}

/// Whether an execution may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Run,
    Wait,
}

/// What releasing a slot asks for: executions to start, executions to cancel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promotion {
    pub start: Vec<String>,
    pub cancel: Vec<String>,
}

impl ConcurrencyLedger {
    /// Admits `id` if a slot is free (or it already holds one); otherwise it waits, in
    /// trigger order.
    pub fn admit(&mut self, id: &str, limit: usize) -> Admission {
        if self.running.iter().any(|running| running == id) {
            return Admission::Run;
        }
        if self.running.len() < limit && !self.superseded.iter().any(|s| s == id) {
            self.waiting.retain(|waiting| waiting != id);
            self.running.push(id.to_string());
            return Admission::Run;
        }
        // Waiting executions are ordered by id: ULIDs sort by trigger time, so "oldest" and
        // "newest" follow when they were triggered, not when their start reached us.
        if let Err(position) = self
            .waiting
            .binary_search_by(|waiting| waiting.as_str().cmp(id))
        {
            self.waiting.insert(position, id.to_string());
        }
        Admission::Wait
    }

    /// Frees `id`'s slot (or its place in the queue) and fills free slots: the oldest
    /// waiting first when `keep_waiting`, else only the newest, the others superseded.
    pub fn release(&mut self, id: &str, limit: usize, keep_waiting: bool) {
        self.running.retain(|running| running != id);
        self.waiting.retain(|waiting| waiting != id);
        self.superseded.retain(|superseded| superseded != id);
        while self.running.len() < limit && !self.waiting.is_empty() {
            let next = if keep_waiting {
                self.waiting.remove(0)
            } else {
                let newest = self.waiting.pop().expect("not empty");
                self.superseded.append(&mut self.waiting);
                newest
            };
            self.running.push(next);
        }
    }

    /// What must happen for the ledger to be true: slot holders that have not started yet
    /// are started, superseded executions canceled. Derived from the ledger alone, so a
    /// crash after saving it is healed by doing this again.
    pub fn pending(&self, not_started: impl Fn(&str) -> bool) -> Promotion {
        Promotion {
            start: self
                .running
                .iter()
                .filter(|id| not_started(id))
                .cloned()
                .collect(),
            cancel: self.superseded.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty() && self.waiting.is_empty() && self.superseded.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(running: &[&str], waiting: &[&str]) -> ConcurrencyLedger {
        ConcurrencyLedger {
            running: running.iter().map(|s| s.to_string()).collect(),
            waiting: waiting.iter().map(|s| s.to_string()).collect(),
            superseded: vec![],
        }
    }

    #[test]
    fn a_full_ledger_makes_newcomers_wait_in_trigger_order() {
        let mut slots = ledger(&["a"], &[]);
        assert_eq!(
            slots.admit("a", 1),
            Admission::Run,
            "a slot holder is re-admitted"
        );
        assert_eq!(slots.admit("b", 1), Admission::Wait);
        assert_eq!(slots.admit("d", 1), Admission::Wait);
        assert_eq!(slots.admit("c", 1), Admission::Wait);
        assert_eq!(slots.admit("b", 1), Admission::Wait);
        assert_eq!(
            slots,
            ledger(&["a"], &["b", "c", "d"]),
            "ordered by id, i.e. trigger time"
        );
    }

    #[test]
    fn keep_waiting_starts_the_oldest_first() {
        let mut slots = ledger(&["a"], &["b", "c"]);
        slots.release("a", 1, true);
        assert_eq!(slots, ledger(&["b"], &["c"]));
    }

    #[test]
    fn without_keep_waiting_the_newest_starts_and_the_rest_are_superseded() {
        let mut slots = ledger(&["a"], &["b", "c", "d"]);
        slots.release("a", 1, false);
        assert_eq!(
            (slots.running.clone(), slots.waiting.clone()),
            (vec!["d".to_string()], vec![])
        );
        assert_eq!(slots.pending(|_| false).cancel, vec!["b", "c"]);
        slots.release("b", 1, false);
        assert_eq!(
            slots.superseded,
            vec!["c"],
            "a canceled execution leaves the ledger"
        );
    }

    #[test]
    fn max_concurrent_admits_several_and_pending_restates_unstarted_holders() {
        let mut slots = ConcurrencyLedger::default();
        assert_eq!(slots.admit("a", 2), Admission::Run);
        assert_eq!(slots.admit("b", 2), Admission::Run);
        assert_eq!(slots.admit("c", 2), Admission::Wait);
        slots.release("a", 2, true);
        assert_eq!(slots.pending(|id| id == "c").start, vec!["c"]);
        slots.release("b", 2, true);
        slots.release("c", 2, true);
        assert!(slots.is_empty());
    }

    #[test]
    fn releasing_twice_is_harmless() {
        let mut slots = ledger(&["a"], &["b"]);
        slots.release("a", 1, true);
        let once = slots.clone();
        slots.release("a", 1, true);
        assert_eq!(slots, once);
    }
}
