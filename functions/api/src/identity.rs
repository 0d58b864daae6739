//! Identity headers Gate propagates (`X-SPINNAKER-USER`, `X-SPINNAKER-USER-ORIGIN`).
//! Authorization comes later; for now these only record who did what.

use axum::http::HeaderMap;
use gennaker_model::launch::Caller;

pub fn caller(headers: &HeaderMap) -> Caller {
    Caller {
        user: header(headers, "x-spinnaker-user"),
        origin: header(headers, "x-spinnaker-user-origin"),
    }
}

/// The user to record in `lastModifiedBy` and similar fields.
pub fn user_name(headers: &HeaderMap) -> String {
    header(headers, "x-spinnaker-user").unwrap_or_else(|| "anonymous".to_string())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}
