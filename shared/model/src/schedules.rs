//! The EventBridge Scheduler schedules a pipeline's `cron` triggers need (Echo's
//! `PipelineConfigsPollingJob` keeps one Quartz job per enabled cron trigger of an enabled pipeline). Pure: the
//! config-sync function makes the Scheduler match [`desired_schedules`], and the triggers
//! function reads the fired message back with [`CronFire`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::PipelineConfig;
use crate::cron;
use crate::json::str_field;
use crate::triggers::is_enabled;

pub const CRON: &str = "cron";

/// What the Scheduler fills in when it fires (its context attributes).
pub const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";

/// One schedule as config-sync creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSchedule {
    pub name: String,
    /// `cron(min hour dom month dow year)`, `H` already hashed from the trigger id.
    pub expression: String,
    /// The target input: a [`CronFire`] with the scheduled time left for the Scheduler.
    pub input: String,
}

/// The message a cron schedule sends to the triggers queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronFire {
    pub pipeline_id: String,
    pub trigger_id: String,
    pub schedule_name: String,
    pub scheduled_time: String,
}

/// The body of a scheduled message: `{"cronTrigger": CronFire}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledMessage {
    pub cron_trigger: CronFire,
}

/// What the self-test schedule (`SelfTestRunSchedule` in template.yaml) sends the triggers
/// queue: the self-test's pipeline configs, every child before the pipeline that runs it; the
/// last one is started, once per scheduled time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfTestRun {
    pub scheduled_time: String,
    pub pipelines: Vec<Map<String, Value>>,
}

/// The body of the self-test schedule's message: `{"selfTest": SelfTestRun}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfTestMessage {
    pub self_test: SelfTestRun,
}

/// Every schedule of one pipeline starts with this, so config-sync can list them by prefix.
/// Scheduler names allow `[0-9a-zA-Z-_.]`, at most 64 characters: a Front50 id (a UUID) is
/// used as it is, anything else by its hash.
pub fn schedule_prefix(pipeline_id: &str) -> String {
    let plain = pipeline_id.len() <= 40
        && !pipeline_id.is_empty()
        && pipeline_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match plain {
        true => format!("{pipeline_id}."),
        false => format!("h{}.", short_hash(pipeline_id)),
    }
}

/// `{pipeline}.{hash of the trigger id}`: stable across saves, unique per trigger.
pub fn schedule_name(pipeline_id: &str, trigger_id: &str) -> String {
    format!("{}{}", schedule_prefix(pipeline_id), short_hash(trigger_id))
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// The schedules `config` needs: none when it is missing (deleted) or disabled; one per
/// enabled `cron` trigger with an id and a valid expression (invalid ones are refused on
/// save; older stored ones are skipped, as Echo skips them).
pub fn desired_schedules(
    pipeline_id: &str,
    config: Option<&PipelineConfig>,
) -> Vec<DesiredSchedule> {
    let Some(config) = config.filter(|config| !config.is_disabled()) else {
        return vec![];
    };
    let mut schedules: Vec<DesiredSchedule> = cron_triggers(config)
        .filter(|trigger| is_enabled(trigger))
        .filter_map(|trigger| {
            let trigger_id = str_field(trigger, "id").filter(|id| !id.is_empty())?;
            let quartz = str_field(trigger, "cronExpression")?;
            let expression = cron::to_eventbridge(&cron::fuzz(quartz, trigger_id)).ok()?;
            let name = schedule_name(pipeline_id, trigger_id);
            let message = ScheduledMessage {
                cron_trigger: CronFire {
                    pipeline_id: pipeline_id.to_string(),
                    trigger_id: trigger_id.to_string(),
                    schedule_name: name.clone(),
                    scheduled_time: SCHEDULED_TIME.to_string(),
                },
            };
            let input = serde_json::to_string(&message).expect("plain strings serialize");
            Some(DesiredSchedule {
                name,
                expression,
                input,
            })
        })
        .collect();
    schedules.sort_by(|a, b| a.name.cmp(&b.name));
    schedules.dedup_by(|a, b| a.name == b.name);
    schedules
}

/// The `cron` triggers of a config, enabled or not.
pub fn cron_triggers(config: &PipelineConfig) -> impl Iterator<Item = &Map<String, Value>> {
    config
        .triggers()
        .iter()
        .filter_map(Value::as_object)
        .filter(|trigger| str_field(trigger, "type").is_some_and(|t| t.eq_ignore_ascii_case(CRON)))
}

/// Front50 gives every cron trigger without an id a UUID on save (Echo keys its jobs and
/// hashes `H` by it).
pub fn assign_cron_trigger_ids(config: &mut PipelineConfig) {
    let Some(Value::Array(triggers)) = config.document().get("triggers").cloned() else {
        return;
    };
    let mut changed = false;
    let triggers: Vec<Value> = triggers
        .into_iter()
        .map(|mut trigger| {
            if let Value::Object(fields) = &mut trigger {
                let is_cron =
                    str_field(fields, "type").is_some_and(|t| t.eq_ignore_ascii_case(CRON));
                let has_id = str_field(fields, "id").is_some_and(|id| !id.is_empty());
                if is_cron && !has_id {
                    fields.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
                    changed = true;
                }
            }
            trigger
        })
        .collect();
    if changed {
        config.set("triggers", Value::Array(triggers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> PipelineConfig {
        PipelineConfig::from_value(value).unwrap()
    }

    #[test]
    fn one_schedule_per_enabled_cron_trigger_of_an_enabled_pipeline() {
        let pipeline = config(json!({"id": "p1", "triggers": [
            {"type": "cron", "id": "hello", "enabled": true, "cronExpression": "0 H 10 ? * MON-FRI"},
            {"type": "cron", "id": "off", "enabled": false, "cronExpression": "0 0 10 ? * *"},
            {"type": "cron", "id": "bad", "enabled": true, "cronExpression": "0 0 10 * * MON"},
            {"type": "webhook", "source": "x", "enabled": true}]}));
        let schedules = desired_schedules("p1", Some(&pipeline));
        assert_eq!(schedules.len(), 1);
        let schedule = &schedules[0];
        // java "hello".hashCode() = 99162322; % 60 = 22.
        assert_eq!(schedule.expression, "cron(22 10 ? * MON-FRI *)");
        assert_eq!(schedule.name, schedule_name("p1", "hello"));
        assert!(schedule.name.starts_with("p1."));
        let message: ScheduledMessage = serde_json::from_str(&schedule.input).unwrap();
        assert_eq!(message.cron_trigger.trigger_id, "hello");
        assert_eq!(message.cron_trigger.scheduled_time, SCHEDULED_TIME);

        let mut disabled = pipeline.clone();
        disabled.set("disabled", json!(true));
        assert!(desired_schedules("p1", Some(&disabled)).is_empty());
        assert!(desired_schedules("p1", None).is_empty());
    }

    #[test]
    fn names_fit_the_scheduler() {
        let uuid = "3f1b2c4d-0000-4000-8000-000000000001";
        let name = schedule_name(uuid, "5e0b2c4d-0000-4000-8000-000000000002");
        assert!(name.len() <= 64 && name.starts_with(&format!("{uuid}.")));
        let odd = schedule_name("my pipeline/with: odd chars and a very long id indeed", "t");
        assert!(odd.len() <= 64);
        assert!(
            odd.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert_ne!(schedule_prefix("a"), schedule_prefix("ab"));
        assert!(!schedule_name("ab", "t").starts_with(&schedule_prefix("a")));
    }

    #[test]
    fn cron_triggers_without_id_get_one() {
        let mut pipeline = config(json!({"triggers": [
            {"type": "cron", "cronExpression": "0 0 10 ? * *"},
            {"type": "cron", "id": "keep", "cronExpression": "0 0 10 ? * *"},
            {"type": "webhook", "source": "x"}]}));
        assign_cron_trigger_ids(&mut pipeline);
        let triggers = pipeline.triggers();
        assert_eq!(triggers[0]["id"].as_str().unwrap().len(), 36);
        assert_eq!(triggers[1]["id"], "keep");
        assert!(triggers[2].get("id").is_none());
    }
}
