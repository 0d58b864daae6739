//! Key layout of the three tables (the SAM template defines the same schemas).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
/// Partition key of the applications table.
pub(crate) const APP_NAME: &str = "name";

pub(crate) const ID_SK: &str = "ID";
pub(crate) const HEADER_SK: &str = "HEADER";
/// The partition key prefix of an application's items (its configs among them).
pub(crate) const APP_PREFIX: &str = "APP#";
pub(crate) const PIPELINE_PREFIX: &str = "PIPELINE#";
pub(crate) const STAGE_PREFIX: &str = "STAGE#";
pub(crate) const STRATEGY_PREFIX: &str = "STRATEGY#";

/// Global secondary indexes of the executions table.
pub(crate) const BY_APPLICATION: &str = "byApplication";
pub(crate) const BY_PIPELINE_CONFIG: &str = "byPipelineConfig";
/// Keyed by `applicationType` = `{application}#{PIPELINE|ORCHESTRATION}`: an application's
/// tasks without wading through its pipeline executions.
pub(crate) const BY_APPLICATION_TYPE: &str = "byApplicationType";
/// Executions that have not completed (header items carry `activity` only then).
pub(crate) const BY_ACTIVITY: &str = "byActivity";

/// The `applicationType` index key of an execution header.
pub(crate) fn application_type_key(application: &str, kind: &str) -> String {
    format!("{application}#{kind}")
}

pub(crate) fn app_pk(application: &str) -> String {
    format!("{APP_PREFIX}{application}")
}

pub(crate) fn pipeline_sk(id: &str) -> String {
    format!("{PIPELINE_PREFIX}{id}")
}

/// The pipeline id of a pipeline config item's key (`APP#{application}` /
/// `PIPELINE#{id}`); None for every other item of the pipelines table.
pub fn pipeline_config_id<'a>(pk: &str, sk: &'a str) -> Option<&'a str> {
    pk.starts_with(&app_pk(""))
        .then(|| sk.strip_prefix(PIPELINE_PREFIX))
        .flatten()
}

/// Names are unique per application, compared trimmed and case-insensitively.
pub(crate) fn name_sk(name: &str) -> String {
    format!("NAME#{}", name.trim().to_lowercase())
}

pub(crate) fn id_pk(id: &str) -> String {
    format!("ID#{id}")
}

/// Index of the pipelines listening on a trigger key (`webhook#{source}`,
/// `pipeline#{upstream id}`); sort key = `PIPELINE#{id}`.
pub(crate) fn trigger_index_pk(index: &str) -> String {
    format!("TRIGGER#{index}")
}

/// An idempotency record: the execution an event started for one pipeline.
pub(crate) fn trigger_event_pk(event_id: &str, pipeline_id: &str) -> String {
    format!("TRIGGER_EVENT#{event_id}#{pipeline_id}")
}

pub(crate) fn history_pk(id: &str) -> String {
    format!("HISTORY#{id}")
}

/// Sorts by time, then version: newest first with a backwards query.
pub(crate) fn history_sk(update_ts: i64, version: u64) -> String {
    format!("{update_ts:015}#{version:010}")
}

pub(crate) fn execution_pk(id: &str) -> String {
    format!("EXECUTION#{id}")
}

pub(crate) fn stage_sk(stage_id: &str) -> String {
    format!("{STAGE_PREFIX}{stage_id}")
}

/// The two kinds of config Front50 stores alike: pipelines and (deploy) strategies. They
/// share the pipelines table under different key prefixes, so each kind has its own name
/// space, id lookups and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigKind {
    Pipeline,
    Strategy,
}

impl ConfigKind {
    pub(crate) fn config_prefix(self) -> &'static str {
        match self {
            ConfigKind::Pipeline => PIPELINE_PREFIX,
            ConfigKind::Strategy => STRATEGY_PREFIX,
        }
    }

    pub(crate) fn config_sk(self, id: &str) -> String {
        match self {
            ConfigKind::Pipeline => pipeline_sk(id),
            ConfigKind::Strategy => format!("{STRATEGY_PREFIX}{id}"),
        }
    }

    pub(crate) fn name_sk(self, name: &str) -> String {
        match self {
            ConfigKind::Pipeline => name_sk(name),
            ConfigKind::Strategy => format!("STRATEGY_NAME#{}", name.trim().to_lowercase()),
        }
    }

    pub(crate) fn id_pk(self, id: &str) -> String {
        match self {
            ConfigKind::Pipeline => id_pk(id),
            ConfigKind::Strategy => format!("STRATEGY_ID#{id}"),
        }
    }

    pub(crate) fn history_pk(self, id: &str) -> String {
        match self {
            ConfigKind::Pipeline => history_pk(id),
            ConfigKind::Strategy => format!("STRATEGY_HISTORY#{id}"),
        }
    }
}

/// Revisions of an application's attributes (in the pipelines table, Front50's config store).
pub(crate) fn application_history_pk(name: &str) -> String {
    format!("APPLICATION_HISTORY#{name}")
}

/// A composite primary key.
pub(crate) fn key(pk: String, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(pk)),
        (SK.to_string(), AttributeValue::S(sk.into())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_lower_cased() {
        assert_eq!(name_sk("  Deploy Prod "), "NAME#deploy prod");
    }

    #[test]
    fn history_keys_sort_by_time_then_version() {
        assert_eq!(
            history_sk(1_700_000_000_000, 3),
            "001700000000000#0000000003"
        );
        assert!(history_sk(5, 10) > history_sk(5, 9));
        assert!(history_sk(6, 1) > history_sk(5, 99));
    }
}
