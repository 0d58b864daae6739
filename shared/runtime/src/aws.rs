//! AWS SDK configuration.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Region used against the local emulator.
pub const LOCAL_REGION: &str = "us-east-1";

/// SDK configuration: against AWS (credentials and region from the environment) when
/// `endpoint` is `None`, otherwise against the emulator at `endpoint` with dummy credentials.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    match endpoint {
        None => aws_config::defaults(BehaviorVersion::latest()).load().await,
        Some(endpoint) => {
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(LOCAL_REGION))
                .endpoint_url(endpoint)
                .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "gennaker-local",
                ))
                .load()
                .await
        }
    }
}
