//! Accounts and the current user (Gate's CredentialsController and AuthController).
//!
//! Accounts come from configuration: the `ACCOUNTS` environment variable of the API
//! function, a JSON array of objects with at least `name` and `type` (template parameter
//! `Accounts`). Every other field of an account (`accountId`, `regions`, `environment`,
//! `accountType`, `permissions`, …) is shown as configured when the list is expanded.
//!
//! Fiat's account permissions: `permissions {READ, WRITE}` on an entry; an account naming
//! no role is open to everyone. `authorized` tells the caller whether they hold WRITE on
//! it (they may deploy there); those accounts are the caller's `allowedAccounts`, which
//! `/auth/user` shows and every execution records when it is started.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Identity;
use gennaker_auth::Authorization;

/// Fields of the unexpanded account list (Gate's `Account`).
const SUMMARY_FIELDS: [&str; 5] = [
    "name",
    "type",
    "accountId",
    "requiredGroupMembership",
    "permissions",
];

/// Parses the `ACCOUNTS` configuration: entries without a string `name` are dropped (and
/// logged), `type` defaults to "aws".
pub use gennaker_cloud::accounts::parse_entries as parse_accounts;

/// The names of the accounts `identity` may WRITE: Fiat's `allowedAccounts`.
pub(crate) fn allowed_accounts_of(state: &AppState, identity: &Identity) -> Vec<String> {
    gennaker_auth::allowed_accounts(&identity.principal(), &state.accounts)
}

/// The `allowedAccounts` of the verified caller of a request (never a header the caller
/// sent: `X-SPINNAKER-ACCOUNTS` is removed on the way in).
pub(crate) fn allowed_accounts(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    allowed_accounts_of(state, &Identity::from_headers(headers))
}

/// The account as Gate expands it; an AWS account lists its regions as Clouddriver does
/// (`[{"name": ...}]`, `default_region` when none are configured).
fn expanded(account: &Map<String, Value>, default_region: &str, authorized: bool) -> Value {
    let mut account = account.clone();
    if account.get("type").and_then(Value::as_str) == Some("aws") {
        let regions = gennaker_cloud::accounts::expanded_regions(&account, default_region);
        account.insert("regions".into(), regions);
    }
    account
        .entry("requiredGroupMembership")
        .or_insert_with(|| json!([]));
    account.entry("permissions").or_insert_with(|| json!({}));
    account.insert("authorized".to_string(), Value::Bool(authorized));
    if let Some(kind) = account.get("type").cloned() {
        account.entry("cloudProvider").or_insert(kind);
    }
    Value::Object(account)
}

fn summary(account: &Map<String, Value>, authorized: bool) -> Value {
    let Value::Object(full) = expanded(account, "", authorized) else {
        unreachable!("expanded returns an object")
    };
    let mut summary: Map<String, Value> = SUMMARY_FIELDS
        .iter()
        .filter_map(|field| Some((field.to_string(), full.get(*field)?.clone())))
        .collect();
    summary.insert("authorized".to_string(), Value::Bool(authorized));
    Value::Object(summary)
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    expand: Option<bool>,
}

/// `GET /credentials?expand=false|true`
pub async fn list(
    State(state): State<AppState>,
    identity: Identity,
    Query(query): Query<ListQuery>,
) -> Json<Vec<Value>> {
    let region = state.default_region();
    let render = |account: &Map<String, Value>| {
        let authorized = gennaker_auth::may_write_account(&identity.principal(), account);
        if query.expand == Some(true) {
            expanded(account, &region, authorized)
        } else {
            summary(account, authorized)
        }
    };
    Json(state.accounts.iter().map(render).collect())
}

/// `GET /credentials/{account}`: the expanded account; 404 when none has that name.
pub async fn get_one(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .accounts
        .iter()
        .find(|account| account.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .map(|account| {
            let authorized = gennaker_auth::may_write_account(&identity.principal(), account);
            Json(expanded(account, &state.default_region(), authorized))
        })
        .ok_or_else(|| ApiError::not_found(format!("Account '{name}' not found")))
}

/// `GET /credentials/type/{accountType}`: the expanded accounts of one type.
pub async fn list_of_type(
    State(state): State<AppState>,
    identity: Identity,
    Path(kind): Path<String>,
) -> Json<Vec<Value>> {
    Json(
        state
            .accounts
            .iter()
            .filter(|account| account.get("type").and_then(Value::as_str) == Some(kind.as_str()))
            .map(|account| {
                let authorized = gennaker_auth::may_write_account(&identity.principal(), account);
                expanded(account, &state.default_region(), authorized)
            })
            .collect(),
    )
}

/// `GET /auth/user`: the caller as the verified token describes them, with the roles of
/// its groups claim (`anonymous` and no roles without one).
pub async fn current_user(State(state): State<AppState>, identity: Identity) -> Json<Value> {
    let username = identity.user.clone();
    let allowed = allowed_accounts_of(&state, &identity);
    let email = username.contains('@').then(|| username.clone());
    Json(json!({
        "username": username,
        "email": email,
        "firstName": null,
        "lastName": null,
        "roles": identity.roles,
        "admin": identity.admin,
        "allowedAccounts": allowed,
        "enabled": true,
        "accountNonExpired": true,
        "accountNonLocked": true,
        "credentialsNonExpired": true,
        "authorities": if identity.authenticated { vec!["ROLE_USER"] } else { vec![] },
    }))
}

#[derive(Debug, Deserialize)]
pub struct ServiceAccountsQuery {
    application: Option<String>,
}

/// `GET /auth/user/serviceAccounts?application=`: the names of the configured service
/// accounts the caller may name as a trigger's `runAsUser` (Deck's picker); with
/// `application`, only those that may run its pipelines (EXECUTE). Managed service
/// accounts are not listed (Gate leaves them out too): a pipeline's `roles` make them.
pub async fn service_accounts(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(query): Query<ServiceAccountsQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let principal = access.identity.principal();
    let application = query
        .application
        .map(|name| name.trim().to_lowercase())
        .filter(|name| !name.is_empty());
    let permissions = match &application {
        Some(name) => Some(
            (state.store.get_application(name).await?)
                .map(|attributes| gennaker_auth::application_permissions(&attributes)),
        ),
        None => None,
    };
    let names = state
        .run_as
        .service_accounts()
        .iter()
        .filter(|account| account.usable_by(&principal))
        .filter(|account| match &permissions {
            None => true,
            Some(permissions) => gennaker_auth::may_on_application(
                &state.run_as.principal_of_account(account),
                permissions.as_ref(),
                &state.fiat,
                Authorization::Execute,
            ),
        })
        .map(|account| account.name.clone())
        .collect();
    Ok(Json(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_need_a_name_and_default_to_aws() {
        let accounts = parse_accounts(Some(
            r#"[{"name": "prod", "accountId": "1"}, {"type": "aws"}, {"name": "k8s", "type": "kubernetes"}]"#,
        ));
        let names: Vec<_> = accounts
            .iter()
            .map(|a| (a["name"].clone(), a["type"].clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                (json!("prod"), json!("aws")),
                (json!("k8s"), json!("kubernetes"))
            ]
        );
        assert!(parse_accounts(Some("not json")).is_empty());
        assert!(parse_accounts(None).is_empty());
    }

    #[test]
    fn the_summary_keeps_gate_account_fields_only() {
        let account = parse_accounts(Some(
            r#"[{"name": "prod", "accountId": "1", "regions": []}]"#,
        ))
        .remove(0);
        assert_eq!(
            summary(&account, true),
            json!({"name": "prod", "type": "aws", "accountId": "1", "requiredGroupMembership": [],
                   "permissions": {}, "authorized": true})
        );
        assert_eq!(
            expanded(&account, "us-east-1", true)["regions"],
            json!([{"name": "us-east-1"}])
        );
        assert_eq!(
            expanded(&account, "us-east-1", true)["cloudProvider"],
            json!("aws")
        );
    }
}
