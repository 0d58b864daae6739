//! The AWS cloud provider (Spinnaker's Clouddriver): accounts, Frigga naming, capacity
//! rules, server groups (Auto Scaling groups launched from launch templates and attached
//! to ELBv2 target groups), dynamic targets, find-image selection, Deck's view models and
//! bake requests (`bake`), CloudFormation stage requests (`cloudformation`) — all pure —
//! plus the adapters over the EC2, Auto Scaling, ELBv2 and CloudFormation APIs (`aws`, one
//! module per kind of resource).

pub mod accounts;
pub mod aws;
pub mod bake;
pub mod cache;
pub mod capacity;
pub mod cloudformation;
pub mod cluster;
pub mod deploy;
pub mod naming;
pub mod network;
pub mod network_views;
pub mod requests;
pub mod server_group;
pub mod views;

pub use accounts::{Account, AccountError, Accounts};
pub use aws::{
    BakedImage, Builder, BuilderSpec, Cloud, CloudError, InstanceDetails, RegionClients,
    ServerGroupSpec,
};
pub use capacity::{Capacity, CapacityError, Direction, Resize};
pub use naming::{ClusterName, Moniker, NamingError, ServerGroupName, next_sequence};
pub use server_group::{ImageSelection, LaunchSettings, ServerGroup, Target};
