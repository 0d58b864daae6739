//! Spinnaker's Fiat permission model as pure rules, with no I/O: which authorizations a
//! user's roles give on an application or an account.
//!
//! - `Permissions` map an [`Authorization`] to role names (trimmed, lower-cased). A resource
//!   whose permissions name no role at all is **unrestricted**: everyone holds every
//!   authorization on it.
//! - Otherwise a user holds exactly the authorizations whose roles meet theirs: WRITE does
//!   not imply READ.
//! - An application that is restricted but names no EXECUTE roles lets its READ roles
//!   execute (Fiat's `executeFallback`, READ by default).
//! - Administrators hold everything.
//! - An application Gennaker does not know is denied unless
//!   `allowAccessToUnknownApplications`; creating one needs nothing unless
//!   `restrictApplicationCreation`, when it needs an administrator or a creator role.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

pub mod service_accounts;

/// What a user may do with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Authorization {
    Read,
    Write,
    Execute,
    Create,
}

impl Authorization {
    pub const ALL: [Authorization; 4] = [Self::Read, Self::Write, Self::Execute, Self::Create];

    /// The name Fiat and Front50 use (`READ`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::Execute => "EXECUTE",
            Self::Create => "CREATE",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|auth| auth.name() == name)
    }
}

impl std::fmt::Display for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A resource's permissions: authorization → roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    roles: BTreeMap<Authorization, BTreeSet<String>>,
}

/// Why a `permissions` value was refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionsError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for PermissionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Permissions {
    /// Reads `{"READ": ["role", ...], ...}`; `field` names the value in errors. A missing or
    /// null value is unrestricted. `allowed` lists the authorizations this kind of resource
    /// has (applications: all four; accounts: READ and WRITE).
    pub fn parse(
        value: Option<&Value>,
        field: &str,
        allowed: &[Authorization],
    ) -> Result<Self, PermissionsError> {
        let error = |field: String, message: &str| PermissionsError {
            field,
            message: message.to_string(),
        };
        let Some(value) = value.filter(|value| !value.is_null()) else {
            return Ok(Self::default());
        };
        let object = value.as_object().ok_or_else(|| {
            error(
                field.to_string(),
                "must be an object mapping READ, WRITE, EXECUTE or CREATE to role lists",
            )
        })?;
        let mut roles = BTreeMap::new();
        for (name, list) in object {
            let key = format!("{field}.{name}");
            let authorization = Authorization::parse(&name.to_uppercase())
                .filter(|authorization| allowed.contains(authorization))
                .ok_or_else(|| {
                    let names: Vec<_> = allowed.iter().map(|a| a.name()).collect();
                    error(key.clone(), &format!("must be one of {}", names.join(", ")))
                })?;
            let list = list
                .as_array()
                .ok_or_else(|| error(key.clone(), "must be a list of role names"))?;
            let mut set = BTreeSet::new();
            for role in list {
                let role = role
                    .as_str()
                    .ok_or_else(|| error(key.clone(), "role names must be strings"))?;
                let role = normalize_role(role);
                if !role.is_empty() {
                    set.insert(role);
                }
            }
            roles
                .entry(authorization)
                .or_insert_with(BTreeSet::new)
                .extend(set);
        }
        Ok(Self { roles })
    }

    /// Builds permissions from `(authorization, roles)` pairs (tests, configuration).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (Authorization, &'a [&'a str])>) -> Self {
        let mut roles: BTreeMap<Authorization, BTreeSet<String>> = BTreeMap::new();
        for (authorization, names) in pairs {
            roles
                .entry(authorization)
                .or_default()
                .extend(names.iter().map(|role| normalize_role(role)));
        }
        Self { roles }
    }

    /// Whether any authorization names a role.
    pub fn is_restricted(&self) -> bool {
        self.roles.values().any(|roles| !roles.is_empty())
    }

    pub fn roles(&self, authorization: Authorization) -> impl Iterator<Item = &str> {
        self.roles
            .get(&authorization)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// As Front50 returns them: every authorization present, role lists sorted.
    pub fn to_json(&self, kinds: &[Authorization]) -> Value {
        let mut object = Map::new();
        for authorization in kinds {
            let roles: Vec<Value> = self
                .roles(*authorization)
                .map(|role| Value::String(role.to_string()))
                .collect();
            object.insert(authorization.name().to_string(), Value::Array(roles));
        }
        Value::Object(object)
    }

    /// The authorizations `principal` holds on a resource with these permissions, without
    /// the application-only fallback.
    fn granted(&self, principal: &Principal) -> BTreeSet<Authorization> {
        if principal.admin || !self.is_restricted() {
            return Authorization::ALL.into_iter().collect();
        }
        Authorization::ALL
            .into_iter()
            .filter(|authorization| {
                self.roles(*authorization)
                    .any(|role| principal.roles.contains(role))
            })
            .collect()
    }
}

/// Roles compare trimmed and lower-cased, as Fiat compares them.
pub fn normalize_role(role: &str) -> String {
    role.trim().to_lowercase()
}

/// Who is asking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub roles: BTreeSet<String>,
    pub admin: bool,
}

impl Principal {
    pub fn new<'a>(roles: impl IntoIterator<Item = &'a str>, admin: bool) -> Self {
        Self {
            roles: roles.into_iter().map(normalize_role).collect(),
            admin,
        }
    }
}

/// Fiat's switches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `allowAccessToUnknownApplications`: an application Gennaker has no record of is
    /// open (default: closed to all but administrators).
    pub allow_access_to_unknown_applications: bool,
    /// `restrictApplicationCreation`: creating an application needs an administrator or
    /// one of `creator_roles` (default: anyone may create one).
    pub restrict_application_creation: bool,
    /// Roles that may create applications when creation is restricted.
    pub creator_roles: BTreeSet<String>,
}

/// The authorizations `principal` holds on an application; `permissions` is `None` for an
/// application Gennaker does not know.
pub fn application_authorizations(
    principal: &Principal,
    permissions: Option<&Permissions>,
    settings: &Settings,
) -> BTreeSet<Authorization> {
    let Some(permissions) = permissions else {
        return if principal.admin || settings.allow_access_to_unknown_applications {
            Authorization::ALL.into_iter().collect()
        } else {
            BTreeSet::new()
        };
    };
    let mut granted = permissions.granted(principal);
    let names_executors = permissions.roles(Authorization::Execute).next().is_some();
    if permissions.is_restricted() && !names_executors && granted.contains(&Authorization::Read) {
        granted.insert(Authorization::Execute);
    }
    granted
}

/// Whether `principal` may `authorization` the application.
pub fn may_on_application(
    principal: &Principal,
    permissions: Option<&Permissions>,
    settings: &Settings,
    authorization: Authorization,
) -> bool {
    application_authorizations(principal, permissions, settings).contains(&authorization)
}

/// Whether `principal` may create a new application.
pub fn may_create_application(principal: &Principal, settings: &Settings) -> bool {
    principal.admin
        || !settings.restrict_application_creation
        || principal
            .roles
            .iter()
            .any(|role| settings.creator_roles.contains(role))
}

/// The authorizations `principal` holds on an account (READ, WRITE; unrestricted when
/// its permissions name no role).
pub fn account_authorizations(
    principal: &Principal,
    permissions: &Permissions,
) -> BTreeSet<Authorization> {
    permissions
        .granted(principal)
        .into_iter()
        .filter(|authorization| matches!(authorization, Authorization::Read | Authorization::Write))
        .collect()
}

/// The authorizations an account entry's `permissions` may name.
pub const ACCOUNT_AUTHORIZATIONS: [Authorization; 2] = [Authorization::Read, Authorization::Write];

/// An account entry's `permissions` (`{"READ": [roles], "WRITE": [roles]}`), or why they
/// cannot be read.
pub fn account_entry_permissions(
    entry: &Map<String, Value>,
) -> Result<Permissions, PermissionsError> {
    Permissions::parse(
        entry.get("permissions"),
        "permissions",
        &ACCOUNT_AUTHORIZATIONS,
    )
}

/// Whether `principal` holds WRITE on the account `entry` (an unreadable `permissions`
/// value closes the account to all but administrators).
pub fn may_write_account(principal: &Principal, entry: &Map<String, Value>) -> bool {
    match account_entry_permissions(entry) {
        Ok(permissions) => {
            account_authorizations(principal, &permissions).contains(&Authorization::Write)
        }
        Err(_) => principal.admin,
    }
}

/// The names of the account entries `principal` may WRITE: Fiat's `allowedAccounts`, which
/// an execution records when it is started.
pub fn allowed_accounts(principal: &Principal, entries: &[Map<String, Value>]) -> Vec<String> {
    entries
        .iter()
        .filter(|entry| may_write_account(principal, entry))
        .filter_map(|entry| entry.get("name")?.as_str().map(str::to_string))
        .collect()
}

/// Parses the `ACCOUNTS` configuration (a JSON array of objects): entries without a
/// string `name` are dropped (and logged), `type` defaults to "aws".
pub fn parse_account_entries(configured: Option<&str>) -> Vec<Map<String, Value>> {
    let Some(text) = configured.filter(|text| !text.trim().is_empty()) else {
        return vec![];
    };
    let entries = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(entries)) => entries,
        _ => {
            tracing::error!("ACCOUNTS is not a JSON array of accounts; no accounts are configured");
            return vec![];
        }
    };
    entries
        .into_iter()
        .filter_map(|entry| match entry {
            Value::Object(mut account)
                if account
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty()) =>
            {
                account
                    .entry("type")
                    .or_insert_with(|| Value::String("aws".to_string()));
                Some(account)
            }
            other => {
                tracing::error!(entry = %other, "an ACCOUNTS entry without a name is ignored");
                None
            }
        })
        .collect()
}

/// The permissions stored with an application's attributes (Front50's `permissions`).
pub fn application_permissions(attributes: &Map<String, Value>) -> Permissions {
    // Stored permissions were checked when written; anything unreadable is treated as
    // restricted to administrators rather than open.
    Permissions::parse(
        attributes.get("permissions"),
        "permissions",
        &Authorization::ALL,
    )
    .unwrap_or_else(|_| Permissions::from_pairs([(Authorization::Read, &["\u{0}admins-only"][..])]))
}

/// Role names from a configured list (`ADMIN_ROLES`, a groups claim): separated by commas
/// or spaces, optionally in brackets as API Gateway hands array claims over (`[dev ops]`).
pub fn role_list(value: &str) -> Vec<String> {
    let value = value.trim();
    let inner = value
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(value);
    let mut roles: Vec<String> = inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|role| normalize_role(role.trim_matches('"')))
        .filter(|role| !role.is_empty())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// Fiat's switches from configuration (`lookup` reads a variable):
/// `ALLOW_ACCESS_TO_UNKNOWN_APPLICATIONS`, `RESTRICT_APPLICATION_CREATION`,
/// `APPLICATION_CREATOR_ROLES`.
pub fn settings_from(lookup: impl Fn(&str) -> Option<String>) -> Settings {
    let flag =
        |name: &str| lookup(name).is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    Settings {
        allow_access_to_unknown_applications: flag("ALLOW_ACCESS_TO_UNKNOWN_APPLICATIONS"),
        restrict_application_creation: flag("RESTRICT_APPLICATION_CREATION"),
        creator_roles: lookup("APPLICATION_CREATOR_ROLES")
            .map(|roles| role_list(&roles).into_iter().collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::Authorization::*;
    use super::*;
    use serde_json::json;

    fn user(roles: &[&str]) -> Principal {
        Principal::new(roles.iter().copied(), false)
    }

    fn app(value: Value) -> Permissions {
        Permissions::parse(Some(&value), "permissions", &Authorization::ALL).unwrap()
    }

    fn granted(principal: &Principal, permissions: &Permissions) -> Vec<Authorization> {
        application_authorizations(principal, Some(permissions), &Settings::default())
            .into_iter()
            .collect()
    }

    #[test]
    fn an_application_without_roles_is_open_to_everyone() {
        for permissions in [json!({}), json!({"READ": [], "WRITE": []}), json!(null)] {
            let permissions = app(permissions);
            assert!(!permissions.is_restricted());
            assert_eq!(granted(&user(&[]), &permissions), Authorization::ALL);
        }
    }

    #[test]
    fn write_does_not_imply_read() {
        let permissions =
            app(json!({"READ": ["readers"], "WRITE": ["writers"], "EXECUTE": ["runners"]}));
        assert_eq!(granted(&user(&["writers"]), &permissions), vec![Write]);
        assert_eq!(granted(&user(&["readers"]), &permissions), vec![Read]);
        assert_eq!(granted(&user(&["runners"]), &permissions), vec![Execute]);
        assert_eq!(granted(&user(&["others"]), &permissions), vec![]);
    }

    #[test]
    fn execute_falls_back_to_read_when_no_executors_are_named() {
        let permissions = app(json!({"READ": ["readers"], "WRITE": ["writers"]}));
        assert_eq!(
            granted(&user(&["readers"]), &permissions),
            vec![Read, Execute]
        );
        assert_eq!(granted(&user(&["writers"]), &permissions), vec![Write]);
    }

    #[test]
    fn roles_compare_trimmed_and_lower_cased_and_admins_hold_everything() {
        let permissions = app(json!({"read": [" Readers "]}));
        assert_eq!(
            permissions.to_json(&Authorization::ALL)["READ"],
            json!(["readers"])
        );
        assert_eq!(
            granted(&user(&["READERS"]), &permissions),
            vec![Read, Execute]
        );
        let admin = Principal::new([], true);
        assert_eq!(granted(&admin, &permissions), Authorization::ALL);
    }

    #[test]
    fn unknown_applications_are_closed_unless_allowed() {
        let closed = Settings::default();
        assert!(application_authorizations(&user(&[]), None, &closed).is_empty());
        assert!(may_on_application(
            &Principal::new([], true),
            None,
            &closed,
            Read
        ));
        let open = Settings {
            allow_access_to_unknown_applications: true,
            ..Settings::default()
        };
        assert!(may_on_application(&user(&[]), None, &open, Write));
    }

    #[test]
    fn creation_is_open_unless_restricted() {
        assert!(may_create_application(&user(&[]), &Settings::default()));
        let restricted = Settings {
            restrict_application_creation: true,
            creator_roles: ["founders".to_string()].into(),
            ..Settings::default()
        };
        assert!(!may_create_application(&user(&["dev"]), &restricted));
        assert!(may_create_application(&user(&["founders"]), &restricted));
        assert!(may_create_application(
            &Principal::new([], true),
            &restricted
        ));
    }

    #[test]
    fn bad_permissions_name_the_field() {
        let error = Permissions::parse(
            Some(&json!({"DELETE": ["x"]})),
            "application.permissions",
            &Authorization::ALL,
        )
        .unwrap_err();
        assert_eq!(error.field, "application.permissions.DELETE");
        let error =
            Permissions::parse(Some(&json!({"READ": "x"})), "p", &Authorization::ALL).unwrap_err();
        assert_eq!(error.field, "p.READ");
        let error =
            Permissions::parse(Some(&json!({"EXECUTE": ["x"]})), "p", &[Read, Write]).unwrap_err();
        assert_eq!(error.field, "p.EXECUTE");
        assert!(Permissions::parse(Some(&json!([])), "p", &Authorization::ALL).is_err());
    }

    #[test]
    fn accounts_know_read_and_write_only() {
        let permissions = Permissions::from_pairs([(Read, &["dev"][..]), (Write, &["ops"][..])]);
        let ops = user(&["ops"]);
        assert_eq!(
            account_authorizations(&ops, &permissions)
                .into_iter()
                .collect::<Vec<_>>(),
            vec![Write]
        );
        assert_eq!(
            account_authorizations(&user(&[]), &Permissions::default()).len(),
            2
        );
    }
}
