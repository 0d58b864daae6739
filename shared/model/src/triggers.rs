//! Matching events against pipeline triggers (Echo's `WebhookEventHandler`): pure rules shared by the
//! webhook route and the triggers function.
//!
//! Webhook `payloadConstraints` (`{key: regex}`): a key that is a top-level payload key
//! must have a value whose string form *contains* a match of the regex (Java `find`);
//! any other key is read as a path into the payload — the JsonPath subset `$.a.b`, `a.b`
//! and `$['a']['b']`-free dotted forms, with `[n]` array indexes (`$.a[0].b`); no filters,
//! wildcards or recursive descent. A path that names nothing fails the constraint; a
//! constraint whose value is null only requires the key/path to exist.

use hmac::{KeyInit, Mac};
use regex::Regex;
use serde_json::{Map, Value};

use crate::PipelineConfig;
use crate::json::{bool_field, str_field};

/// Trigger types with an index of the pipelines that listen for them.
pub const WEBHOOK: &str = "webhook";
pub const PIPELINE: &str = "pipeline";
pub const JENKINS: &str = "jenkins";
/// The one index value of Jenkins triggers: the poller needs every watched job, so all
/// pipelines with a Jenkins trigger share one index partition.
pub const ALL_JOBS: &str = "*";

/// Whether a trigger is enabled (Front50: a boolean, or "true" in any case).
pub fn is_enabled(trigger: &Map<String, Value>) -> bool {
    bool_field(trigger, "enabled").unwrap_or(false)
}

/// The index keys a config is found by: `webhook#{source}` for each webhook trigger,
/// `pipeline#{upstream config id}` for each pipeline trigger and `jenkins#*` for any Jenkins
/// trigger (enabled or not: the flags are checked when an event arrives).
pub fn index_keys(config: &PipelineConfig) -> Vec<String> {
    let mut keys: Vec<String> = config
        .triggers()
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|trigger| {
            let kind = str_field(trigger, "type")?.to_ascii_lowercase();
            let field = match kind.as_str() {
                WEBHOOK => "source",
                PIPELINE => "pipeline",
                JENKINS => return Some(index_key(JENKINS, ALL_JOBS)),
                _ => return None,
            };
            let value = str_field(trigger, field).filter(|v| !v.is_empty())?;
            Some(index_key(&kind, value))
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

pub fn index_key(kind: &str, value: &str) -> String {
    format!("{kind}#{value}")
}

/// The enabled webhook triggers of `config` listening on `source` (exact match).
pub fn webhook_triggers<'a>(
    config: &'a PipelineConfig,
    source: &str,
) -> Vec<&'a Map<String, Value>> {
    config
        .triggers()
        .iter()
        .filter_map(Value::as_object)
        .filter(|trigger| {
            str_field(trigger, "type").is_some_and(|kind| kind.eq_ignore_ascii_case(WEBHOOK))
                && str_field(trigger, "source") == Some(source)
                && is_enabled(trigger)
        })
        .collect()
}

/// The enabled Jenkins triggers of `config` (Igor's build triggers), whatever their job.
pub fn jenkins_triggers(config: &PipelineConfig) -> impl Iterator<Item = &Map<String, Value>> {
    config
        .triggers()
        .iter()
        .filter_map(Value::as_object)
        .filter(|trigger| {
            str_field(trigger, "type").is_some_and(|kind| kind.eq_ignore_ascii_case(JENKINS))
                && is_enabled(trigger)
                && str_field(trigger, "master").is_some_and(|m| !m.is_empty())
                && str_field(trigger, "job").is_some_and(|j| !j.is_empty())
        })
}

/// The `(master, job)` a Jenkins trigger watches.
pub fn jenkins_job(trigger: &Map<String, Value>) -> Option<(&str, &str)> {
    Some((str_field(trigger, "master")?, str_field(trigger, "job")?))
}

/// Whether every payload constraint of the trigger holds (see the module docs).
pub fn payload_matches(trigger: &Map<String, Value>, payload: &Map<String, Value>) -> bool {
    let Some(Value::Object(constraints)) = trigger.get("payloadConstraints") else {
        return true;
    };
    constraints.iter().all(|(key, pattern)| {
        let found = match payload.get(key) {
            Some(value) => Some(value),
            None => lookup_path(payload, key),
        };
        let Some(value) = found else {
            return false;
        };
        let pattern = match pattern {
            Value::Null => return true,
            Value::String(pattern) => pattern.clone(),
            other => other.to_string(),
        };
        let Ok(regex) = Regex::new(&pattern) else {
            return false;
        };
        regex.is_match(&string_form(value))
    })
}

fn string_form(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `$.a.b[0].c` / `a.b` into the payload.
fn lookup_path<'a>(payload: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let path = path.strip_prefix('$').unwrap_or(path);
    let path = path.strip_prefix('.').unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    let mut segments = path.split('.');
    let first = segments.next()?;
    let mut current = segment(payload, first)?;
    for name in segments {
        current = segment(current.as_object()?, name)?;
    }
    Some(current)
}

/// One `name` or `name[0][1]` path segment.
fn segment<'a>(object: &'a Map<String, Value>, text: &str) -> Option<&'a Value> {
    let (name, mut rest) = text.split_once('[').map_or((text, ""), |(n, r)| (n, r));
    let mut current = object.get(name)?;
    while !rest.is_empty() {
        let (index, after) = rest.split_once(']')?;
        current = current
            .as_array()?
            .get(index.trim().parse::<usize>().ok()?)?;
        rest = after.strip_prefix('[').unwrap_or(after);
    }
    Some(current)
}

/// Checks a GitHub-style `sha256=<hex>` HMAC-SHA256 signature of `body` under `secret`.
/// A trigger without a (non-empty) `secret` needs no signature.
pub fn signature_ok(trigger: &Map<String, Value>, body: &[u8], header: Option<&str>) -> bool {
    let Some(secret) = str_field(trigger, "secret").filter(|s| !s.is_empty()) else {
        return true;
    };
    let Some(hex_digest) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The GitHub-style signature header value of `body` under `secret` (for clients and tests).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The trigger an execution started by a webhook gets: the stored trigger (without its
/// `secret`) plus `payload`, `parameters` (the body's `parameters` object) and `eventId`.
pub fn webhook_trigger(
    stored: &Map<String, Value>,
    payload: &Map<String, Value>,
    event_id: &str,
) -> Map<String, Value> {
    let mut trigger = stored.clone();
    trigger.remove("secret");
    trigger.insert("type".into(), Value::String(WEBHOOK.into()));
    trigger.insert("payload".into(), Value::Object(payload.clone()));
    let parameters = match payload.get("parameters") {
        Some(Value::Object(parameters)) => parameters.clone(),
        _ => Map::new(),
    };
    trigger.insert("parameters".into(), Value::Object(parameters));
    trigger.insert("eventId".into(), Value::String(event_id.into()));
    trigger
}

/// The `status` word a pipeline trigger lists for an upstream execution's final status
/// (Orca's DependentPipelineExecutionListener).
pub fn completion_word(status: crate::ExecutionStatus) -> &'static str {
    use crate::ExecutionStatus::*;
    match status {
        Succeeded => "successful",
        Canceled => "canceled",
        Suspended => "suspended",
        _ => "failed",
    }
}

/// The enabled pipeline triggers of `config` that fire when an execution of
/// `upstream_config_id` ends with `status`.
pub fn pipeline_triggers<'a>(
    config: &'a PipelineConfig,
    upstream_config_id: &str,
    status: crate::ExecutionStatus,
) -> Vec<&'a Map<String, Value>> {
    let word = completion_word(status);
    config
        .triggers()
        .iter()
        .filter_map(Value::as_object)
        .filter(|trigger| {
            str_field(trigger, "type").is_some_and(|kind| kind.eq_ignore_ascii_case(PIPELINE))
                && str_field(trigger, "pipeline") == Some(upstream_config_id)
                && is_enabled(trigger)
                && trigger
                    .get("status")
                    .and_then(Value::as_array)
                    .is_some_and(|listed| {
                        listed
                            .iter()
                            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(word)))
                    })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn top_level_constraints_are_unanchored_regexes() {
        let trigger = object(json!({"payloadConstraints": {"branch": "main", "n": "^4"}}));
        assert!(payload_matches(
            &trigger,
            &object(json!({"branch": "refs/main", "n": 42}))
        ));
        assert!(!payload_matches(
            &trigger,
            &object(json!({"branch": "dev", "n": 42}))
        ));
        assert!(!payload_matches(&trigger, &object(json!({"n": 42}))));
    }

    #[test]
    fn other_keys_are_paths() {
        let trigger = object(json!({"payloadConstraints": {
            "$.repo.name": "^gennaker$", "commits[1].id": "b", "repo.owner": null}}));
        let payload = object(json!({"repo": {"name": "gennaker", "owner": "x"},
            "commits": [{"id": "a"}, {"id": "b"}]}));
        assert!(payload_matches(&trigger, &payload));
        let other = object(json!({"repo": {"name": "gennaker-2", "owner": "x"},
            "commits": [{"id": "a"}, {"id": "b"}]}));
        assert!(!payload_matches(&trigger, &other));
    }

    #[test]
    fn signatures_are_github_style_hmac_sha256() {
        let trigger = object(json!({"secret": "s3cret"}));
        let signature = sign("s3cret", b"{}");
        assert!(signature_ok(&trigger, b"{}", Some(&signature)));
        assert!(!signature_ok(&trigger, b"{ }", Some(&signature)));
        assert!(!signature_ok(&trigger, b"{}", None));
        assert!(signature_ok(&object(json!({})), b"{}", None));
    }

    #[test]
    fn index_keys_cover_webhook_and_pipeline_triggers() {
        let config = PipelineConfig::from_value(json!({"triggers": [
            {"type": "webhook", "source": "gh"}, {"type": "pipeline", "pipeline": "up"},
            {"type": "cron", "cronExpression": "* * * * * ?"}]}))
        .unwrap();
        assert_eq!(index_keys(&config), vec!["pipeline#up", "webhook#gh"]);
        let watching = PipelineConfig::from_value(json!({"triggers": [
            {"type": "jenkins", "master": "ci", "job": "a"},
            {"type": "jenkins", "master": "ci", "job": "b", "enabled": false}]}))
        .unwrap();
        assert_eq!(index_keys(&watching), vec!["jenkins#*"]);
    }

    #[test]
    fn jenkins_triggers_are_the_enabled_ones_naming_a_master_and_a_job() {
        let config = PipelineConfig::from_value(json!({"triggers": [
            {"type": "jenkins", "master": "ci", "job": "a", "enabled": true},
            {"type": "jenkins", "master": "ci", "job": "b", "enabled": false},
            {"type": "jenkins", "master": "ci", "enabled": true},
            {"type": "webhook", "source": "a", "enabled": true}]}))
        .unwrap();
        let watched: Vec<_> = jenkins_triggers(&config).filter_map(jenkins_job).collect();
        assert_eq!(watched, vec![("ci", "a")]);
    }
}
