//! Who a triggered execution runs as (Echo's permission check before it fires a trigger,
//! and the `authentication` Orca records on the execution).
//!
//! A cron, webhook, pipeline or CI trigger fires as its `runAsUser` (a service account, see
//! [`gennaker_auth::service_accounts`]) or, without one, as `anonymous`. It fires only if
//! that principal holds EXECUTE on the pipeline's application; the execution then records
//! the principal's name and the cloud accounts it may WRITE as its `allowedAccounts`, which
//! every cloud stage checks before it calls AWS.
//!
//! A service account the configuration does not name acts without roles (Fiat treats an
//! unknown user so): it may run pipelines of unrestricted applications only.

use std::collections::BTreeSet;

use gennaker_auth::service_accounts::{
    ANONYMOUS, ServiceAccount, managed_pipeline_id, parse_service_accounts, pipeline_roles,
};
use gennaker_auth::{Authorization, Principal, Settings};
use gennaker_model::PipelineConfig;
use gennaker_model::execution::Authentication;
use gennaker_store::{Store, StoreError};
use serde_json::{Map, Value};

/// What deciding who a trigger runs as needs: the configured service accounts, cloud
/// accounts, administrator roles and Fiat's switches.
#[derive(Debug, Clone, Default)]
pub struct RunAs {
    service_accounts: Vec<ServiceAccount>,
    accounts: Vec<Map<String, Value>>,
    admin_roles: BTreeSet<String>,
    fiat: Settings,
}

impl RunAs {
    /// From configuration (`lookup` reads a variable): `SERVICE_ACCOUNTS`, `ACCOUNTS`,
    /// `ADMIN_ROLES` and Fiat's switches. A service account list that cannot be read is an
    /// error: firing triggers with guessed roles would be worse than not starting.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        Ok(Self {
            service_accounts: parse_service_accounts(lookup("SERVICE_ACCOUNTS").as_deref())?,
            accounts: gennaker_auth::parse_account_entries(lookup("ACCOUNTS").as_deref()),
            admin_roles: lookup("ADMIN_ROLES")
                .map(|roles| gennaker_auth::role_list(&roles).into_iter().collect())
                .unwrap_or_default(),
            fiat: gennaker_auth::settings_from(&lookup),
        })
    }

    /// The principal a trigger running as `account` acts as.
    pub fn principal_of_account(&self, account: &ServiceAccount) -> Principal {
        account.principal(&self.admin_roles)
    }

    /// The configured service accounts.
    pub fn service_accounts(&self) -> &[ServiceAccount] {
        &self.service_accounts
    }

    /// The configured service account named `name`.
    pub fn service_account(&self, name: &str) -> Option<&ServiceAccount> {
        self.service_accounts
            .iter()
            .find(|account| account.name == name)
    }

    /// Who a trigger of `config` naming `run_as_user` fires as: its name and the accounts
    /// it may deploy to, or (`Ok(Err(reason))`) why it may not start the pipeline.
    pub async fn authenticate(
        &self,
        store: &Store,
        config: &PipelineConfig,
        run_as_user: Option<&str>,
    ) -> Result<Result<Authentication, String>, StoreError> {
        let name = run_as_user
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .unwrap_or(ANONYMOUS);
        let principal = self.principal_of(store, config, name).await?;
        let application = config.application().unwrap_or_default();
        let permissions = store
            .get_application(&application.trim().to_lowercase())
            .await?
            .map(|attributes| gennaker_auth::application_permissions(&attributes));
        if !gennaker_auth::may_on_application(
            &principal,
            permissions.as_ref(),
            &self.fiat,
            Authorization::Execute,
        ) {
            return Ok(Err(format!(
                "{name} lacks EXECUTE permission on application {application}"
            )));
        }
        Ok(Ok(Authentication {
            user: Some(name.to_string()),
            allowed_accounts: gennaker_auth::allowed_accounts(&principal, &self.accounts),
        }))
    }

    /// The roles `name` acts with: none for `anonymous` and unknown names, a managed
    /// account's pipeline `roles`, a configured account's `memberOf`.
    async fn principal_of(
        &self,
        store: &Store,
        config: &PipelineConfig,
        name: &str,
    ) -> Result<Principal, StoreError> {
        if name == ANONYMOUS {
            return Ok(Principal::default());
        }
        let roles = if let Some(pipeline_id) = managed_pipeline_id(name) {
            if config.id() == Some(pipeline_id) {
                pipeline_roles(config.document().get("roles"))
            } else {
                (store.get_pipeline_by_id(pipeline_id).await?)
                    .map(|owner| pipeline_roles(owner.document().get("roles")))
                    .unwrap_or_default()
            }
        } else if let Some(account) = self.service_account(name) {
            account.member_of.clone()
        } else {
            tracing::warn!(
                service_account = name,
                "runAsUser names no configured service account: it acts without roles"
            );
            BTreeSet::new()
        };
        let account = ServiceAccount {
            name: name.to_string(),
            member_of: roles,
        };
        Ok(account.principal(&self.admin_roles))
    }
}
