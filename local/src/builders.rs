//! Local stand-in for a bake builder's user data, and base images the emulator has.
//!
//! On AWS a bake launches a builder instance whose user data installs the packages and then
//! tags the instance `gennaker:bake-status` with the outcome. The emulator launches the
//! instance but runs no user data, so nothing would ever signal and every bake would wait
//! for its timeout. When local mode plays the builders ([`LocalOptions::simulated_bakes`],
//! on for the `gennaker` command), this poller tags each running builder that has not
//! signalled `succeeded`, with a `gennaker:bake-note` saying that nothing was installed;
//! the bake stage copies the note into its context, so the image is never mistaken for a
//! real build.
//!
//! The default base images (Ubuntu 22.04, Amazon Linux 2023) are not among the emulator's
//! images either, so in the same mode local mode offers the newest of each it has, unless
//! the `BakeryBaseImages` parameter is given. Nothing here changes behaviour on AWS.
//!
//! [`LocalOptions::simulated_bakes`]: crate::LocalOptions::simulated_bakes

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, Instance, Tag};
use gennaker_cloud::bake::{
    BUILDER_ROLE, BUILDER_ROLE_TAG, SIGNAL_NOTE_TAG, SIGNAL_SUCCEEDED, SIGNAL_TAG,
};
use tokio::sync::watch;

const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What the note on a played builder says.
pub const SIMULATED_INSTALL_NOTE: &str = "local mode simulated this builder: nothing was installed, the image is the base image under the bake's name";

/// `BakeryBaseImages` in local mode: Deck's default choices (`ubuntu`, `amazonlinux`, label
/// `release`), pointing at the newest images of the same owners that the emulator has.
pub const LOCAL_BASE_IMAGES: &str = r#"[
  {"id": "ubuntu", "shortDescription": "v16.04 (emulator)", "detailedDescription": "Ubuntu Xenial Xerus v16.04, the newest Ubuntu image the local emulator has",
   "packageType": "deb", "vmTypes": ["hvm"], "owners": ["099720109477"],
   "baseLabels": {"release": "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*"}},
  {"id": "amazonlinux", "shortDescription": "2 (emulator)", "detailedDescription": "Amazon Linux 2, the newest Amazon Linux image the local emulator has",
   "packageType": "rpm", "vmTypes": ["hvm"], "owners": ["137112412989"],
   "baseLabels": {"release": "amzn2-ami-hvm-2.0.*-x86_64-gp2"}}
]"#;

/// Plays the builders of every region in `regions` until shutdown.
pub async fn run(sdk: SdkConfig, regions: Vec<String>, mut shutdown: watch::Receiver<bool>) {
    let clients: Vec<aws_sdk_ec2::Client> = regions
        .into_iter()
        .map(|region| {
            let config = aws_sdk_ec2::config::Builder::from(&sdk)
                .region(aws_config::Region::new(region))
                .build();
            aws_sdk_ec2::Client::from_conf(config)
        })
        .collect();
    while !*shutdown.borrow() {
        for ec2 in &clients {
            if let Err(error) = signal_waiting_builders(ec2).await {
                tracing::warn!(%error, "playing bake builders failed; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn signal_waiting_builders(ec2: &aws_sdk_ec2::Client) -> Result<(), aws_sdk_ec2::Error> {
    let found = ec2
        .describe_instances()
        .filters(filter(&format!("tag:{BUILDER_ROLE_TAG}"), BUILDER_ROLE))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .send()
        .await?;
    let waiting = found
        .reservations()
        .iter()
        .flat_map(|reservation| reservation.instances())
        .filter(|instance| !has_tag(instance, SIGNAL_TAG))
        .filter_map(Instance::instance_id);
    for builder in waiting {
        ec2.create_tags()
            .resources(builder)
            .tags(tag(SIGNAL_NOTE_TAG, SIMULATED_INSTALL_NOTE))
            .tags(tag(SIGNAL_TAG, SIGNAL_SUCCEEDED))
            .send()
            .await?;
        tracing::info!(
            builder,
            "local mode signalled a bake builder (install simulated)"
        );
    }
    Ok(())
}

fn has_tag(instance: &Instance, key: &str) -> bool {
    instance.tags().iter().any(|tag| tag.key() == Some(key))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}
