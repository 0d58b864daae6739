//! Fiat's service accounts: named sets of roles that triggered pipelines run as.
//!
//! A trigger's `runAsUser` names one. When the trigger fires, the execution acts with the
//! service account's roles (its `memberOf`): the trigger fires only if those roles hold
//! EXECUTE on the application, and the execution may change the cloud accounts those roles
//! may WRITE. Without `runAsUser` a trigger fires as `anonymous`, who has no roles.
//!
//! Who may name a service account in a trigger (Fiat's default, AND mode): an administrator,
//! or a user holding every role of its `memberOf`. A service account with no roles is
//! granted to nobody but administrators.
//!
//! Managed service accounts (Orca's `SavePipelineTask`): a pipeline config with `roles`
//! runs its triggers as `<pipeline id>@managed-service-account`, whose roles are that
//! config's `roles`. They are not configured anywhere: the pipeline config is their record,
//! so they change and disappear with it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::{Principal, normalize_role};

/// The name every trigger without `runAsUser` fires as.
pub const ANONYMOUS: &str = "anonymous";

/// How the name of a pipeline's managed service account ends.
pub const MANAGED_SUFFIX: &str = "@managed-service-account";

/// One service account: a name and the roles it acts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub name: String,
    pub member_of: BTreeSet<String>,
}

impl ServiceAccount {
    pub fn new<'a>(name: &str, member_of: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            name: name.to_string(),
            member_of: member_of
                .into_iter()
                .map(normalize_role)
                .filter(|role| !role.is_empty())
                .collect(),
        }
    }

    /// Whether `user` may let pipelines run as this service account.
    pub fn usable_by(&self, user: &Principal) -> bool {
        user.admin || (!self.member_of.is_empty() && self.member_of.is_subset(&user.roles))
    }

    /// The principal a trigger running as this account acts as; it is an administrator
    /// when one of its roles is.
    pub fn principal(&self, admin_roles: &BTreeSet<String>) -> Principal {
        Principal {
            admin: self.member_of.iter().any(|role| admin_roles.contains(role)),
            roles: self.member_of.clone(),
        }
    }
}

/// The managed service account's name for pipeline `pipeline_id`.
pub fn managed_name(pipeline_id: &str) -> String {
    format!("{pipeline_id}{MANAGED_SUFFIX}")
}

/// The pipeline id a managed service account's name belongs to.
pub fn managed_pipeline_id(name: &str) -> Option<&str> {
    name.strip_suffix(MANAGED_SUFFIX)
        .filter(|id| !id.is_empty())
}

/// Reads the configured service accounts (`SERVICE_ACCOUNTS`, template parameter
/// `ServiceAccounts`): a JSON array of `{"name": "...", "memberOf": ["role", ...]}` as
/// Front50 stores them. Absent or blank means none. Anything else is refused with the
/// position and the reason: a mistyped list must not silently grant or drop roles.
pub fn parse_service_accounts(text: Option<&str>) -> Result<Vec<ServiceAccount>, String> {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(vec![]);
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|error| format!("SERVICE_ACCOUNTS is not JSON: {error}"))?;
    let entries = value
        .as_array()
        .ok_or("SERVICE_ACCOUNTS must be a JSON array of {\"name\", \"memberOf\"} objects")?;
    let mut accounts: Vec<ServiceAccount> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let field = |name: &str| format!("SERVICE_ACCOUNTS[{index}].{name}");
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| format!("{}: must be a non-empty string", field("name")))?;
        if managed_pipeline_id(name).is_some() {
            return Err(format!(
                "{}: names ending in {MANAGED_SUFFIX} belong to pipelines with roles",
                field("name")
            ));
        }
        if accounts.iter().any(|known| known.name == name) {
            return Err(format!("{}: '{name}' is listed twice", field("name")));
        }
        let roles = match entry.get("memberOf") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(roles)) => roles
                .iter()
                .map(|role| {
                    role.as_str()
                        .ok_or_else(|| format!("{}: role names must be strings", field("memberOf")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(format!("{}: must be a list of roles", field("memberOf"))),
        };
        accounts.push(ServiceAccount::new(name, roles));
    }
    Ok(accounts)
}

/// The roles of a pipeline config's `roles` field (absent, null or not a list of strings:
/// none).
pub fn pipeline_roles(roles: Option<&Value>) -> BTreeSet<String> {
    roles
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(normalize_role)
        .filter(|role| !role.is_empty())
        .collect()
}

/// Orca's managed service account on save: a pipeline config with `roles` runs every
/// trigger as its managed service account; without `roles`, triggers that ran as it lose
/// their `runAsUser` (the account is gone with the roles). Other `runAsUser` values of a
/// config without roles are kept. Returns whether the document changed.
pub fn apply_managed_service_account(document: &mut Map<String, Value>, pipeline_id: &str) -> bool {
    let managed = managed_name(pipeline_id);
    let has_roles = !pipeline_roles(document.get("roles")).is_empty();
    let Some(Value::Array(triggers)) = document.get_mut("triggers") else {
        return false;
    };
    let mut changed = false;
    for trigger in triggers.iter_mut().filter_map(Value::as_object_mut) {
        let current = trigger.get("runAsUser").and_then(Value::as_str);
        if has_roles {
            if current != Some(managed.as_str()) {
                trigger.insert("runAsUser".into(), Value::String(managed.clone()));
                changed = true;
            }
        } else if current == Some(managed.as_str()) {
            trigger.remove("runAsUser");
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[&str]) -> Principal {
        Principal::new(roles.iter().copied(), false)
    }

    #[test]
    fn a_user_needs_every_role_of_the_service_account() {
        let account = ServiceAccount::new("deployer", ["Dev", "ops "]);
        assert!(account.usable_by(&user(&["dev", "ops", "qa"])));
        assert!(!account.usable_by(&user(&["dev"])));
        assert!(!account.usable_by(&user(&[])));
        assert!(account.usable_by(&Principal::new([], true)));
    }

    #[test]
    fn a_service_account_without_roles_is_for_administrators_only() {
        let account = ServiceAccount::new("empty", []);
        assert!(!account.usable_by(&user(&["dev"])));
        assert!(account.usable_by(&Principal::new([], true)));
    }

    #[test]
    fn a_service_account_with_an_admin_role_acts_as_an_administrator() {
        let admin_roles: BTreeSet<String> = ["ops-admin".to_string()].into();
        assert!(
            ServiceAccount::new("a", ["ops-admin"])
                .principal(&admin_roles)
                .admin
        );
        let plain = ServiceAccount::new("b", ["dev"]).principal(&admin_roles);
        assert!(!plain.admin);
        assert_eq!(plain.roles, ["dev".to_string()].into());
    }

    #[test]
    fn managed_names_round_trip() {
        let name = managed_name("p-1");
        assert_eq!(name, "p-1@managed-service-account");
        assert_eq!(managed_pipeline_id(&name), Some("p-1"));
        assert_eq!(managed_pipeline_id("svc@example.com"), None);
        assert_eq!(managed_pipeline_id(MANAGED_SUFFIX), None);
    }

    #[test]
    fn configuration_is_read_strictly() {
        let accounts = parse_service_accounts(Some(
            r#"[{"name": "deployer", "memberOf": ["Dev"]}, {"name": "nobody"}]"#,
        ))
        .unwrap();
        assert_eq!(
            accounts,
            vec![
                ServiceAccount::new("deployer", ["dev"]),
                ServiceAccount::new("nobody", [])
            ]
        );
        assert_eq!(parse_service_accounts(Some("  ")).unwrap(), vec![]);
        assert_eq!(parse_service_accounts(None).unwrap(), vec![]);
        for (text, expected) in [
            ("{}", "must be a JSON array"),
            (
                "[{}]",
                "SERVICE_ACCOUNTS[0].name: must be a non-empty string",
            ),
            (
                r#"[{"name": "a", "memberOf": "dev"}]"#,
                "SERVICE_ACCOUNTS[0].memberOf: must be a list of roles",
            ),
            (
                r#"[{"name": "a", "memberOf": [1]}]"#,
                "SERVICE_ACCOUNTS[0].memberOf: role names must be strings",
            ),
            (
                r#"[{"name": "a"}, {"name": "a"}]"#,
                "SERVICE_ACCOUNTS[1].name: 'a' is listed twice",
            ),
            (
                r#"[{"name": "x@managed-service-account"}]"#,
                "belong to pipelines with roles",
            ),
        ] {
            let error = parse_service_accounts(Some(text)).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn pipeline_roles_are_normalised_and_lenient() {
        let roles = pipeline_roles(Some(&serde_json::json!(["Dev", " ops", 3, ""])));
        assert_eq!(roles, ["dev".to_string(), "ops".to_string()].into());
        assert!(pipeline_roles(Some(&Value::Null)).is_empty());
        assert!(pipeline_roles(None).is_empty());
    }
    #[test]
    fn roles_make_every_trigger_run_as_the_managed_account_and_dropping_them_undoes_it() {
        let mut document = serde_json::json!({
            "roles": ["dev"],
            "triggers": [{"type": "cron"}, {"type": "webhook", "runAsUser": "other"}]
        });
        let map = document.as_object_mut().unwrap();
        assert!(apply_managed_service_account(map, "p1"));
        assert_eq!(
            map["triggers"][0]["runAsUser"],
            "p1@managed-service-account"
        );
        assert_eq!(
            map["triggers"][1]["runAsUser"],
            "p1@managed-service-account"
        );
        assert!(!apply_managed_service_account(map, "p1"));
        map.insert("roles".into(), serde_json::json!([]));
        map["triggers"][1]["runAsUser"] = serde_json::json!("kept");
        assert!(apply_managed_service_account(map, "p1"));
        assert!(map["triggers"][0].get("runAsUser").is_none());
        assert_eq!(map["triggers"][1]["runAsUser"], "kept");
    }
}
