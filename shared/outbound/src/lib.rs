//! Outbound HTTP for stages that call out (webhook, Jenkins): the URL rules of Orca's
//! `UserConfiguredUrlRestrictions`, enforced on the URL text and on every address a host resolves to, and a client
//! that never follows redirects and reads bounded responses.

mod client;
pub mod jsonpath;
mod rules;

pub use client::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT, Outbound, OutboundError, OutboundResponse,
    parse_url, shown,
};
pub use reqwest::Method;
pub use rules::{Allowance, Refusal, RulesConfigError, UrlRules};
