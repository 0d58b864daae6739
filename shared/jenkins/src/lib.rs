//! Jenkins for Gennaker (Spinnaker's Igor): the masters a deployment may use, the JSON API
//! calls the Jenkins stage and Deck's pickers need.

mod client;
mod masters;

pub use client::{Jenkins, JenkinsError, QueueItem, job_path};
pub use masters::{Master, Masters, MastersConfigError, TokenSource};
