//! Which executions a listing shows (Orca's rules behind Gate's execution lists).

use std::collections::HashMap;

use crate::Execution;

const FOURTEEN_DAYS_MS: i64 = 14 * 24 * 3600 * 1000;
/// How many old executions a config keeps in a listing when it has no recent one.
const OLD_KEPT_WHEN_NONE_RECENT: usize = 2;

/// Per pipeline config, the newest `limit` executions — executions older than 14 days are
/// dropped unless the config has no recent one, then its 2 newest old ones stay. The result
/// is sorted by `startTime` ascending (unstarted = 0), ties by id descending, as Orca sorts.
/// `executions` must be newest first.
pub fn newest_per_config(executions: Vec<Execution>, limit: usize, now: i64) -> Vec<Execution> {
    let mut by_config: HashMap<String, Vec<Execution>> = HashMap::new();
    for execution in executions {
        let config = execution.pipeline_config_id.clone().unwrap_or_default();
        by_config.entry(config).or_default().push(execution);
    }
    let mut kept: Vec<Execution> = by_config
        .into_values()
        .flat_map(|newest_first| keep_for_config(newest_first, limit, now))
        .collect();
    sort_for_listing(&mut kept);
    kept
}

fn keep_for_config(newest_first: Vec<Execution>, limit: usize, now: i64) -> Vec<Execution> {
    let is_recent =
        |execution: &Execution| now - execution.build_time.unwrap_or(0) <= FOURTEEN_DAYS_MS;
    let (recent, old): (Vec<Execution>, Vec<Execution>) =
        newest_first.into_iter().partition(is_recent);
    if recent.is_empty() {
        old.into_iter()
            .take(OLD_KEPT_WHEN_NONE_RECENT.min(limit))
            .collect()
    } else {
        recent.into_iter().take(limit).collect()
    }
}

/// Orca's listing order: `startTime` ascending (unstarted = 0), ties by id descending.
pub fn sort_for_listing(executions: &mut [Execution]) {
    executions.sort_by(|a, b| {
        (a.start_time.unwrap_or(0).cmp(&b.start_time.unwrap_or(0))).then_with(|| b.id.cmp(&a.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PipelineConfig;
    use crate::launch::{Caller, build_execution};
    use serde_json::{Map, json};

    const DAY: i64 = 24 * 3600 * 1000;
    const NOW: i64 = 100 * DAY;

    fn execution(id: &str, config: &str, built_days_ago: i64, started: Option<i64>) -> Execution {
        let config =
            PipelineConfig::from_value(json!({"id": config, "application": "a", "name": config}))
                .unwrap();
        let mut execution = build_execution(
            &config,
            id.into(),
            Map::new(),
            &Caller::default(),
            NOW - built_days_ago * DAY,
            || "s".into(),
        );
        execution.start_time = started;
        execution
    }

    fn ids(executions: &[Execution]) -> Vec<&str> {
        executions
            .iter()
            .map(|execution| execution.id.as_str())
            .collect()
    }

    #[test]
    fn keeps_the_newest_recent_ones_per_config_sorted_by_start_time() {
        let newest_first = vec![
            execution("a3", "A", 1, Some(30)),
            execution("b1", "B", 2, Some(25)),
            execution("a2", "A", 3, Some(20)),
            execution("a1", "A", 4, Some(10)),
        ];
        assert_eq!(
            ids(&newest_per_config(newest_first, 2, NOW)),
            vec!["a2", "b1", "a3"]
        );
    }

    #[test]
    fn old_executions_drop_out_unless_a_config_has_no_recent_one() {
        let newest_first = vec![
            execution("a2", "A", 1, Some(20)),
            execution("a1", "A", 20, Some(10)),
            execution("b3", "B", 30, Some(9)),
            execution("b2", "B", 31, Some(8)),
            execution("b1", "B", 32, Some(7)),
        ];
        assert_eq!(
            ids(&newest_per_config(newest_first, 10, NOW)),
            vec!["b2", "b3", "a2"]
        );
    }

    #[test]
    fn unstarted_executions_sort_first_and_ties_go_by_id_descending() {
        let mut executions = vec![
            execution("x1", "A", 1, Some(5)),
            execution("x2", "A", 1, None),
            execution("x3", "A", 1, Some(5)),
        ];
        sort_for_listing(&mut executions);
        assert_eq!(ids(&executions), vec!["x2", "x3", "x1"]);
    }
}
