//! Structured logs: JSON lines in AWS (CloudWatch), readable text in local mode.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(json: bool) {
    init_with_default(json, "info");
}

/// [`init`], logging at `default_filter` (e.g. `warn`) unless `RUST_LOG` says otherwise.
pub fn init_with_default(json: bool, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
}
