//! Cloud accounts, from the `Accounts` template parameter (`ACCOUNTS`), the same list
//! `GET /credentials` serves.
//!
//! An AWS account entry may name its regions (`"regions": ["us-east-1"]` or Clouddriver's
//! `[{"name": "us-east-1"}]`) and a role to assume (`"assumeRole": "arn:aws:iam::…:role/…"`,
//! Clouddriver's field). Without `regions` an account serves the region the functions run
//! in; without `assumeRole` the functions' own credentials are used (always so in local
//! mode, where the emulator accepts any credentials).
//!
//! An entry may carry Fiat's account `permissions` (`{"READ": [roles], "WRITE": [roles]}`):
//! WRITE is needed to change resources in the account. An account naming no role is open
//! to everyone; an entry whose permissions cannot be read is closed to all but
//! administrators (and logged), never open.

use serde_json::{Map, Value};

pub use gennaker_auth::{ACCOUNT_AUTHORIZATIONS, account_entry_permissions as entry_permissions};

/// Whether an entry's permissions restrict it (unreadable ones do).
fn entry_is_restricted(entry: &Map<String, Value>) -> bool {
    match entry_permissions(entry) {
        Ok(permissions) => permissions.is_restricted(),
        Err(error) => {
            tracing::error!(account = ?entry.get("name"), %error, "unreadable account permissions: the account is closed");
            true
        }
    }
}

/// Parses the `ACCOUNTS` configuration (a JSON array of objects): entries without a
/// string `name` are dropped (and logged), `type` defaults to "aws".
pub use gennaker_auth::parse_account_entries as parse_entries;

/// One configured AWS account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub regions: Vec<String>,
    /// The IAM role the cloud calls of this account assume, if any.
    pub assume_role: Option<String>,
    /// Whether its `permissions` name roles: then only users who held WRITE on it when
    /// they started an execution (its `allowedAccounts`) may change resources in it.
    pub restricted: bool,
}

/// Why an account/region pair cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("unknown account '{0}'")]
    UnknownAccount(String),
    #[error(
        "account '{0}' is not among this execution's allowedAccounts: whoever started it may not WRITE to it"
    )]
    NotAllowed(String),
    #[error("account '{account}' has no region '{region}' (it has: {known})")]
    UnknownRegion {
        account: String,
        region: String,
        known: String,
    },
}

/// The configured AWS accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    accounts: Vec<Account>,
}

impl Accounts {
    /// The AWS accounts among `entries` (entries of another `type` are skipped); an
    /// account without regions gets `default_region`.
    pub fn from_entries(entries: &[Map<String, Value>], default_region: &str) -> Self {
        let accounts = entries
            .iter()
            .filter(|entry| entry.get("type").and_then(Value::as_str).unwrap_or("aws") == "aws")
            .filter_map(|entry| {
                let name = entry.get("name")?.as_str()?.to_string();
                let mut regions = region_names(entry.get("regions"));
                if regions.is_empty() {
                    regions.push(default_region.to_string());
                }
                let assume_role = entry
                    .get("assumeRole")
                    .and_then(Value::as_str)
                    .filter(|role| !role.is_empty())
                    .map(str::to_string);
                Some(Account {
                    name,
                    regions,
                    assume_role,
                    restricted: entry_is_restricted(entry),
                })
            })
            .collect();
        Self { accounts }
    }

    pub fn all(&self) -> &[Account] {
        &self.accounts
    }

    pub fn get(&self, name: &str) -> Result<&Account, AccountError> {
        self.accounts
            .iter()
            .find(|account| account.name == name)
            .ok_or_else(|| AccountError::UnknownAccount(name.to_string()))
    }

    /// The account, checked to serve `region`.
    pub fn locate(&self, name: &str, region: &str) -> Result<&Account, AccountError> {
        let account = self.get(name)?;
        if account.regions.iter().any(|known| known == region) {
            Ok(account)
        } else {
            Err(AccountError::UnknownRegion {
                account: name.to_string(),
                region: region.to_string(),
                known: account.regions.join(", "),
            })
        }
    }
}

/// Region names of a `regions` value: strings or objects with a `name`.
fn region_names(regions: Option<&Value>) -> Vec<String> {
    regions
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|region| match region {
            Value::String(name) => Some(name.clone()),
            Value::Object(fields) => fields.get("name")?.as_str().map(str::to_string),
            _ => None,
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Clouddriver's expanded `regions` field (`[{"name": "us-east-1"}]`) for an account entry.
pub fn expanded_regions(entry: &Map<String, Value>, default_region: &str) -> Value {
    let mut names = region_names(entry.get("regions"));
    if names.is_empty() {
        names.push(default_region.to_string());
    }
    Value::Array(
        names
            .into_iter()
            .map(|name| serde_json::json!({ "name": name }))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(value: Value) -> Vec<Map<String, Value>> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn reads_regions_in_both_shapes_and_the_role() {
        let accounts = Accounts::from_entries(
            &entries(json!([
                {"name": "prod", "type": "aws", "regions": ["us-west-2", {"name": "eu-west-1"}],
                 "assumeRole": "arn:aws:iam::123456789012:role/spinnaker",
                 "permissions": {"READ": ["dev"], "WRITE": ["ops"]}},
                {"name": "test", "permissions": {"READ": []}},
                {"name": "k8s", "type": "kubernetes"}
            ])),
            "us-east-1",
        );
        assert_eq!(
            accounts.all(),
            &[
                Account {
                    name: "prod".into(),
                    regions: vec!["us-west-2".into(), "eu-west-1".into()],
                    assume_role: Some("arn:aws:iam::123456789012:role/spinnaker".into()),
                    restricted: true,
                },
                Account {
                    name: "test".into(),
                    regions: vec!["us-east-1".into()],
                    assume_role: None,
                    restricted: false,
                },
            ]
        );
    }

    #[test]
    fn unreadable_permissions_close_the_account() {
        let accounts = Accounts::from_entries(
            &entries(json!([{"name": "odd", "permissions": {"EXECUTE": ["x"]}}])),
            "us-east-1",
        );
        assert!(accounts.get("odd").unwrap().restricted);
    }

    #[test]
    fn locating_names_the_unknown_part() {
        let accounts = Accounts::from_entries(
            &entries(json!([{"name": "prod", "regions": ["us-west-2"]}])),
            "x",
        );
        assert!(accounts.locate("prod", "us-west-2").is_ok());
        assert_eq!(
            accounts
                .locate("nope", "us-west-2")
                .unwrap_err()
                .to_string(),
            "unknown account 'nope'"
        );
        assert_eq!(
            accounts
                .locate("prod", "us-east-1")
                .unwrap_err()
                .to_string(),
            "account 'prod' has no region 'us-east-1' (it has: us-west-2)"
        );
    }

    #[test]
    fn expanded_regions_have_names() {
        let entry = &entries(json!([{"name": "a", "regions": ["r1"]}, {"name": "b"}]));
        assert_eq!(expanded_regions(&entry[0], "d"), json!([{"name": "r1"}]));
        assert_eq!(expanded_regions(&entry[1], "d"), json!([{"name": "d"}]));
    }
}
