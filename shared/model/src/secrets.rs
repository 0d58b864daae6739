//! Write-only trigger secrets (a webhook trigger's HMAC `secret`).
//!
//! Reads never show a secret: [`redact_secrets`] drops each trigger's `secret` and marks the
//! trigger `"secretSet": true` when it had a non-empty one. Saves keep what the reader could
//! not see: [`keep_stored_secrets`] gives a submitted trigger without a `secret` the secret
//! of the stored trigger it stands for, so a read-edit-save round trip (Deck, the UI's JSON
//! editor, a revision restore) neither loses nor exposes it. On save:
//! - `"secret": "<value>"` sets or replaces the secret;
//! - `"secret": ""` (or `null`) removes it;
//! - no `secret` keeps the stored one. `secretSet` is a read-only marker, ignored on save.
//!
//! The stored trigger a submitted one stands for: the stored trigger with the same `id`
//! (Deck gives every trigger an id). A submitted trigger without an id — or whose id names
//! no stored trigger while the stored trigger at its position has none — is matched to the
//! stored trigger at the same position in `triggers` when both have the same `type` and
//! `source`.

use serde_json::{Map, Value};

use crate::PipelineConfig;
use crate::json::str_field;

/// The trigger field holding a secret.
pub const SECRET: &str = "secret";
/// The read-only marker a read puts on a trigger whose secret it dropped.
pub const SECRET_SET: &str = "secretSet";

/// `config` as reads show it: no trigger carries its `secret`; those that had a non-empty
/// one say `"secretSet": true`.
pub fn redact_secrets(config: &mut PipelineConfig) {
    edit_triggers(config, |_, trigger| {
        let had_secret = match trigger.remove(SECRET) {
            Some(Value::String(secret)) => !secret.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        };
        trigger.remove(SECRET_SET);
        if had_secret {
            trigger.insert(SECRET_SET.into(), Value::Bool(true));
        }
    });
}

/// Applies the save rules of the module docs to `submitted` against `stored` (the config
/// with the same id as saved before, if any).
pub fn keep_stored_secrets(submitted: &mut PipelineConfig, stored: Option<&PipelineConfig>) {
    let stored_triggers: Vec<&Map<String, Value>> = stored
        .map(|stored| {
            stored
                .triggers()
                .iter()
                .filter_map(Value::as_object)
                .collect()
        })
        .unwrap_or_default();
    let positions: Vec<Option<&Map<String, Value>>> = stored
        .map(|stored| stored.triggers().iter().map(Value::as_object).collect())
        .unwrap_or_default();
    edit_triggers(submitted, |position, trigger| {
        trigger.remove(SECRET_SET);
        match trigger.get(SECRET) {
            Some(Value::String(secret)) if secret.is_empty() => {
                trigger.remove(SECRET);
            }
            Some(Value::Null) => {
                trigger.remove(SECRET);
            }
            Some(_) => {}
            None => {
                let at_position = positions.get(position).copied().flatten();
                if let Some(secret) = stored_counterpart(trigger, &stored_triggers, at_position)
                    .and_then(|stored| stored.get(SECRET))
                {
                    trigger.insert(SECRET.into(), secret.clone());
                }
            }
        }
    });
}

/// The stored trigger `submitted` stands for (see the module docs).
fn stored_counterpart<'a>(
    submitted: &Map<String, Value>,
    stored: &[&'a Map<String, Value>],
    at_position: Option<&'a Map<String, Value>>,
) -> Option<&'a Map<String, Value>> {
    if let Some(id) = trigger_id(submitted)
        && let Some(same_id) = stored.iter().find(|stored| trigger_id(stored) == Some(id))
    {
        return Some(same_id);
    }
    let candidate = at_position?;
    let id_free = trigger_id(candidate).is_none();
    let same_kind = |field: &str| {
        str_field(candidate, field).map(str::to_ascii_lowercase)
            == str_field(submitted, field).map(str::to_ascii_lowercase)
    };
    let same_source = str_field(candidate, "source") == str_field(submitted, "source");
    (id_free && same_kind("type") && same_source).then_some(candidate)
}

fn trigger_id(trigger: &Map<String, Value>) -> Option<&str> {
    str_field(trigger, "id").filter(|id| !id.is_empty())
}

/// Runs `edit` on every trigger object of `config` with its position in `triggers`.
fn edit_triggers(
    config: &mut PipelineConfig,
    mut edit: impl FnMut(usize, &mut Map<String, Value>),
) {
    let Some(Value::Array(triggers)) = config.document().get("triggers") else {
        return;
    };
    let mut triggers = triggers.clone();
    for (position, trigger) in triggers.iter_mut().enumerate() {
        if let Value::Object(fields) = trigger {
            edit(position, fields);
        }
    }
    config.set("triggers", Value::Array(triggers));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> PipelineConfig {
        PipelineConfig::from_value(value).unwrap()
    }

    fn triggers(config: &PipelineConfig) -> Value {
        Value::Array(config.triggers().to_vec())
    }

    #[test]
    fn reads_show_that_a_secret_is_set_never_its_value() {
        let mut stored = config(json!({"triggers": [
            {"id": "a", "type": "webhook", "source": "gh", "secret": "canary"},
            {"id": "b", "type": "webhook", "source": "gh", "secret": ""},
            {"id": "c", "type": "webhook", "source": "gh", "secretSet": true},
            {"id": "d", "type": "cron", "cronExpression": "0 0 * * * ?"}]}));
        redact_secrets(&mut stored);
        assert_eq!(
            triggers(&stored),
            json!([
                {"id": "a", "type": "webhook", "source": "gh", "secretSet": true},
                {"id": "b", "type": "webhook", "source": "gh"},
                {"id": "c", "type": "webhook", "source": "gh"},
                {"id": "d", "type": "cron", "cronExpression": "0 0 * * * ?"}])
        );
    }

    #[test]
    fn a_save_without_a_secret_keeps_the_stored_one_by_id() {
        let stored = config(json!({"triggers": [
            {"id": "x", "type": "webhook", "source": "one", "secret": "old-x"},
            {"id": "y", "type": "webhook", "source": "two", "secret": "old-y"}]}));
        // Reordered, edited, and read back with the marker.
        let mut submitted = config(json!({"triggers": [
            {"id": "y", "type": "webhook", "source": "renamed", "secretSet": true},
            {"id": "x", "type": "webhook", "source": "one", "secretSet": true}]}));
        keep_stored_secrets(&mut submitted, Some(&stored));
        assert_eq!(
            triggers(&submitted),
            json!([
                {"id": "y", "type": "webhook", "source": "renamed", "secret": "old-y"},
                {"id": "x", "type": "webhook", "source": "one", "secret": "old-x"}])
        );
    }

    #[test]
    fn a_new_secret_replaces_and_an_empty_one_removes() {
        let stored = config(json!({"triggers": [
            {"id": "x", "type": "webhook", "source": "s", "secret": "old"},
            {"id": "y", "type": "webhook", "source": "s", "secret": "old"},
            {"id": "z", "type": "webhook", "source": "s", "secret": "old"}]}));
        let mut submitted = config(json!({"triggers": [
            {"id": "x", "type": "webhook", "source": "s", "secret": "new"},
            {"id": "y", "type": "webhook", "source": "s", "secret": ""},
            {"id": "z", "type": "webhook", "source": "s", "secret": null}]}));
        keep_stored_secrets(&mut submitted, Some(&stored));
        assert_eq!(
            triggers(&submitted),
            json!([
                {"id": "x", "type": "webhook", "source": "s", "secret": "new"},
                {"id": "y", "type": "webhook", "source": "s"},
                {"id": "z", "type": "webhook", "source": "s"}])
        );
    }

    #[test]
    fn id_free_triggers_match_by_type_and_source_at_the_same_position() {
        let stored = config(json!({"triggers": [
            {"type": "webhook", "source": "a", "secret": "sa"},
            {"type": "webhook", "source": "b", "secret": "sb"},
            {"type": "webhook", "source": "c", "secret": "sc"}]}));
        let mut submitted = config(json!({"triggers": [
            {"type": "WEBHOOK", "source": "a"},
            {"type": "webhook", "source": "c"},
            {"id": "deck-new-id", "type": "webhook", "source": "c"}]}));
        keep_stored_secrets(&mut submitted, Some(&stored));
        assert_eq!(
            triggers(&submitted),
            json!([
                {"type": "WEBHOOK", "source": "a", "secret": "sa"},
                {"type": "webhook", "source": "c"},
                {"id": "deck-new-id", "type": "webhook", "source": "c", "secret": "sc"}])
        );
    }

    #[test]
    fn a_trigger_with_an_unknown_id_or_no_stored_config_gets_no_secret() {
        let stored = config(json!({"triggers": [
            {"id": "x", "type": "webhook", "source": "s", "secret": "old"}]}));
        let mut submitted = config(json!({"triggers": [
            {"id": "other", "type": "webhook", "source": "s", "secretSet": true}]}));
        keep_stored_secrets(&mut submitted, Some(&stored));
        assert_eq!(
            triggers(&submitted),
            json!([{"id": "other", "type": "webhook", "source": "s"}])
        );
        let mut fresh = config(json!({"triggers": [{"type": "webhook", "source": "s"}]}));
        keep_stored_secrets(&mut fresh, None);
        assert_eq!(
            triggers(&fresh),
            json!([{"type": "webhook", "source": "s"}])
        );
    }
}
