//! Execution listings: an application's executions per config (Orca's
//! `/v2/applications/{app}/pipelines`) and the search by trigger.
//!
//! Every list is one index Query per pipeline or strategy config, bounded by its limit; the
//! search filters execution headers read from the index and loads whole executions (stages
//! included) only for the page it answers.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use gennaker_model::json::now_millis;
use gennaker_model::listing::newest_per_config;
use gennaker_model::{Execution, PipelineConfig};
use gennaker_store::ExecutionFilter;
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::AppState;
use crate::access::Access;
use crate::error::ApiError;
use crate::routes::executions::{parse_statuses, trim_for_list_view};

/// Gate's `gate.execution.fetch.limit` default.
const DEFAULT_LIMIT_PER_CONFIG: usize = 10;
const MAX_LIMIT: usize = 1000;
/// The most executions of one config a search looks at (newest first, inside the window).
const SEARCH_READ_PER_CONFIG: usize = 1000;
const DEFAULT_SEARCH_SIZE: usize = 10;
/// Index Queries in flight at once.
const QUERY_CONCURRENCY: usize = 8;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    statuses: Option<String>,
    expand: Option<bool>,
}

/// `GET /applications/{application}/pipelines?limit=&statuses=&expand=`: per pipeline and
/// strategy config the newest `limit` executions (older than 14 days only when a config has
/// nothing recent), sorted by start time ascending.
pub async fn list_for_application(
    State(state): State<AppState>,
    Path(application): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT_PER_CONFIG);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    let filter = ExecutionFilter {
        statuses: parse_statuses(query.statuses.as_deref())?,
        limit,
        ..ExecutionFilter::default()
    };
    let config_ids = config_ids(&state, &application).await?;
    let headers = headers_per_config(&state, config_ids, filter).await?;
    let kept = newest_per_config(headers, limit, now_millis());
    let ids = kept.iter().map(|execution| execution.id.clone()).collect();
    let mut executions = state.store.load_many(ids).await?;
    gennaker_model::listing::sort_for_listing(&mut executions);
    if query.expand == Some(false) {
        executions.iter_mut().for_each(trim_for_list_view);
    }
    Ok(Json(executions))
}

/// The ids of an application's pipeline and strategy configs.
async fn config_ids(state: &AppState, application: &str) -> Result<Vec<String>, ApiError> {
    let (pipelines, strategies) = tokio::try_join!(
        state.store.list_pipelines(application),
        state.store.list_strategies(application)
    )?;
    Ok(pipelines
        .iter()
        .chain(&strategies)
        .filter_map(PipelineConfig::id)
        .map(str::to_string)
        .collect())
}

/// Execution headers (no stages) of each config, as `filter` says, concatenated.
async fn headers_per_config(
    state: &AppState,
    config_ids: Vec<String>,
    filter: ExecutionFilter,
) -> Result<Vec<Execution>, ApiError> {
    let mut headers = Vec::new();
    for batch in config_ids.chunks(QUERY_CONCURRENCY) {
        let mut queries = JoinSet::new();
        for id in batch {
            let id = id.clone();
            let (store, filter) = (state.store.clone(), filter.clone());
            queries
                .spawn(async move { store.find_execution_headers_for_config(&id, &filter).await });
        }
        for found in queries.join_all().await {
            headers.extend(found?);
        }
    }
    Ok(headers)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    trigger_types: Option<String>,
    pipeline_name: Option<String>,
    event_id: Option<String>,
    trigger: Option<String>,
    trigger_time_start_boundary: Option<i64>,
    trigger_time_end_boundary: Option<i64>,
    statuses: Option<String>,
    start_index: Option<usize>,
    size: Option<usize>,
    reverse: Option<bool>,
    expand: Option<bool>,
}

/// `GET /applications/{application}/executions/search`: executions of the application's
/// configs (all applications for `*`) whose trigger matches, newest build first (`reverse`:
/// oldest first), `size` from `startIndex`. For `*`, only applications the caller may READ.
pub async fn search(
    State(state): State<AppState>,
    access: Access,
    Path(application): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let from = query.trigger_time_start_boundary.unwrap_or(0);
    let until = query.trigger_time_end_boundary.unwrap_or(i64::MAX);
    if from < 0 || until < 0 || from > until {
        return Err(ApiError::invalid_field(
            "triggerTimeStartBoundary",
            format!(
                "the boundaries must be non-negative with start <= end, got {from} and {until}"
            ),
        ));
    }
    let size = query.size.unwrap_or(DEFAULT_SEARCH_SIZE);
    if !(1..=MAX_LIMIT).contains(&size) {
        return Err(ApiError::invalid_field(
            "size",
            format!("size must be between 1 and {MAX_LIMIT}, got {size}"),
        ));
    }
    let start_index = query.start_index.unwrap_or(0);
    let expected_trigger = decode_trigger(query.trigger.as_deref())?;
    let trigger_types: Option<HashSet<String>> = query.trigger_types.as_deref().map(|csv| {
        csv.split(',')
            .map(|kind| kind.trim().to_string())
            .filter(|kind| !kind.is_empty())
            .collect()
    });
    let configs = if application == "*" {
        let all = state.store.list_all_pipelines().await?;
        access
            .readable(all, |config| config.application().map(str::to_string))
            .await?
    } else {
        state.store.list_pipelines(&application).await?
    };
    let config_ids = configs
        .iter()
        .filter(|config| {
            query
                .pipeline_name
                .as_deref()
                .is_none_or(|name| config.name() == Some(name))
        })
        .filter_map(PipelineConfig::id)
        .map(str::to_string)
        .collect();
    let filter = ExecutionFilter {
        statuses: parse_statuses(query.statuses.as_deref())?,
        built_from: Some(from),
        built_until: (until != i64::MAX).then_some(until),
        limit: SEARCH_READ_PER_CONFIG,
        skip: 0,
    };
    let mut matching: Vec<Execution> = headers_per_config(&state, config_ids, filter)
        .await?
        .into_iter()
        .filter(|execution| {
            let kind = execution
                .trigger
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            trigger_types
                .as_ref()
                .is_none_or(|types| types.contains(kind))
        })
        .filter(|execution| {
            query.event_id.as_deref().is_none_or(|event| {
                execution.trigger.get("eventId").and_then(Value::as_str) == Some(event)
            })
        })
        .filter(|execution| {
            expected_trigger.as_ref().is_none_or(|expected| {
                subset_matches(expected, &Value::Object(execution.trigger.clone()))
            })
        })
        .collect();
    matching.sort_by(|a, b| {
        let order = b
            .build_time
            .unwrap_or(0)
            .cmp(&a.build_time.unwrap_or(0))
            .then_with(|| b.id.cmp(&a.id));
        if query.reverse == Some(true) {
            order.reverse()
        } else {
            order
        }
    });
    let page: Vec<String> = matching
        .into_iter()
        .skip(start_index)
        .take(size)
        .map(|execution| execution.id)
        .collect();
    let mut executions = state.store.load_many(page).await?;
    if query.expand != Some(true) {
        executions.iter_mut().for_each(trim_for_list_view);
    }
    Ok(Json(executions))
}

/// The `trigger` parameter: base64 of a JSON object.
fn decode_trigger(encoded: Option<&str>) -> Result<Option<Value>, ApiError> {
    let Some(encoded) = encoded.filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    let invalid = |reason: String| ApiError::invalid_field("trigger", reason);
    let bytes = base64_decode(encoded.trim())
        .ok_or_else(|| invalid("trigger must be base64 of a JSON object".to_string()))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(Some(Value::Object(object))),
        Ok(_) => Err(invalid("trigger must decode to a JSON object".to_string())),
        Err(error) => Err(invalid(format!("trigger does not decode to JSON: {error}"))),
    }
}

/// Standard or URL-safe base64, padding optional.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.trim_end_matches('=').chars() {
        let value = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// Orca's trigger matching: every key of `expected` must match `actual`; strings compare
/// case-insensitively or as a regular expression over the whole value, objects recursively,
/// arrays as "each expected element matches some actual element".
fn subset_matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => expected.iter().all(|(key, value)| {
            actual
                .get(key)
                .is_some_and(|found| subset_matches(value, found))
        }),
        (Value::Array(expected), Value::Array(actual)) => expected
            .iter()
            .all(|wanted| actual.iter().any(|found| subset_matches(wanted, found))),
        (Value::String(expected), Value::String(actual)) => {
            expected.eq_ignore_ascii_case(actual) || simple_pattern_matches(expected, actual)
        }
        (Value::String(expected), other) if !other.is_object() && !other.is_array() => {
            expected.eq_ignore_ascii_case(&scalar_text(other))
        }
        (expected, actual) => expected == actual,
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The regular expressions search terms use in practice: `.*` wildcards, anchored at both
/// ends, case-insensitive.
fn simple_pattern_matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains(".*") {
        return false;
    }
    let pattern = pattern.to_lowercase();
    let text = text.to_lowercase();
    let parts: Vec<&str> = pattern.split(".*").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn triggers_match_as_subsets_case_insensitively_and_with_wildcards() {
        let actual = json!({"type": "webhook", "source": "GitHub", "payload": {"ref": "refs/heads/main", "n": 3},
                            "artifacts": [{"name": "a"}, {"name": "b"}]});
        assert!(subset_matches(&json!({"source": "github"}), &actual));
        assert!(subset_matches(
            &json!({"payload": {"ref": "refs/heads/.*"}}),
            &actual
        ));
        assert!(subset_matches(&json!({"payload": {"n": 3}}), &actual));
        assert!(subset_matches(
            &json!({"artifacts": [{"name": "b"}]}),
            &actual
        ));
        assert!(!subset_matches(&json!({"source": "gitlab"}), &actual));
        assert!(!subset_matches(&json!({"missing": "x"}), &actual));
        assert!(!subset_matches(
            &json!({"payload": {"ref": "refs/tags/.*"}}),
            &actual
        ));
    }

    #[test]
    fn base64_decodes_standard_and_url_safe_text() {
        assert_eq!(base64_decode("eyJhIjoxfQ==").unwrap(), br#"{"a":1}"#);
        assert_eq!(base64_decode("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert!(base64_decode("not base64!").is_none());
    }
}
