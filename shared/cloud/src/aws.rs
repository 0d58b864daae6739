//! Adapters over EC2, Auto Scaling, ELBv2 and CloudFormation for one account and region: [`RegionClients`],
//! whose methods are split by the resource they touch (server groups, images, instances,
//! target groups, security groups, load balancers, bake builders, stacks). They read into the
//! crate's plain types and make the calls the stages need. Every mutating call is safe to
//! repeat (a redelivered worker message runs it again).

mod bake;
mod images;
mod instances;
mod load_balancers;
mod security_groups;
mod server_groups;
mod stacks;
mod target_groups;

pub use bake::{BakedImage, Builder, BuilderSpec};
pub(crate) use images::image;
pub use instances::InstanceDetails;
pub use server_groups::{DETACHED_TARGET_GROUPS_TAG, ServerGroupSpec, recorded_target_groups};

use aws_config::SdkConfig;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types as ec2;

use crate::accounts::{AccountError, Accounts};

/// A failed cloud call or a refused request.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Maps an SDK error of `operation` to a [`CloudError`] with the service's message.
pub(crate) fn aws_error<E>(operation: &'static str) -> impl FnOnce(E) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // The service's code and message when it sent them: the full error context carries
    // the raw response, which is noise in a stage's error and can be kilobytes long.
    move |error| {
        let message = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => aws_sdk_ec2::error::DisplayErrorContext(&error).to_string(),
        };
        CloudError::Aws { operation, message }
    }
}

/// Every configured account, reachable region by region.
#[derive(Debug, Clone)]
pub struct Cloud {
    base: SdkConfig,
    accounts: Accounts,
    /// The restricted accounts this handle may reach (an execution's `allowedAccounts`);
    /// `None`: every account (the API's reads, which check their own rules).
    allowed: Option<std::sync::Arc<std::collections::BTreeSet<String>>>,
}

impl Cloud {
    pub fn new(base: SdkConfig, accounts: Accounts) -> Self {
        Self {
            base,
            accounts,
            allowed: None,
        }
    }

    /// This cloud as an execution sees it: a restricted account not in `allowed_accounts`
    /// (the accounts its starter could WRITE) is refused before any AWS call. Accounts that
    /// name no role are open to everyone, so they are in every `allowedAccounts` anyway.
    pub fn acting_for(&self, allowed_accounts: &[String]) -> Self {
        Self {
            allowed: Some(std::sync::Arc::new(
                allowed_accounts.iter().cloned().collect(),
            )),
            ..self.clone()
        }
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The SDK configuration the per-region clients derive from.
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// Clients for one account and region, assuming the account's role when it has one.
    pub async fn region(&self, account: &str, region: &str) -> Result<RegionClients, CloudError> {
        let configured = self.accounts.locate(account, region)?;
        if configured.restricted
            && let Some(allowed) = &self.allowed
            && !allowed.contains(account)
        {
            return Err(AccountError::NotAllowed(account.to_string()).into());
        }
        let mut config = self
            .base
            .to_builder()
            .region(aws_config::Region::new(region.to_string()));
        if let Some(role) = &configured.assume_role {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("gennaker")
                .configure(&self.base)
                .build()
                .await;
            config = config.credentials_provider(
                aws_sdk_ec2::config::SharedCredentialsProvider::new(provider),
            );
        }
        Ok(RegionClients::new(&config.build(), account, region))
    }
}

/// EC2, Auto Scaling, ELBv2 and CloudFormation clients for one account and region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub account: String,
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
}

impl RegionClients {
    pub fn new(config: &SdkConfig, account: &str, region: &str) -> Self {
        Self {
            account: account.to_string(),
            region: region.to_string(),
            ec2: aws_sdk_ec2::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
        }
    }
}

fn filter(name: &str, value: &str) -> ec2::Filter {
    ec2::Filter::builder().name(name).values(value).build()
}
