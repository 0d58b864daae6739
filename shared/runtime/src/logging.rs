//! Structured logs: one JSON object per line in AWS (CloudWatch), readable text in local
//! mode.
//!
//! A JSON line carries its event's fields and the fields of every span it happens in, at the
//! top level and in camelCase (`execution_id` becomes `executionId`), so each line of a
//! message's handling can be found by `executionId`, `stageId`, `application` or
//! `pipelineConfigId` with CloudWatch Logs Insights or a metric filter.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber once; later calls are no-ops. `json` is for Lambda; it
/// also turns on the Embedded Metric Format lines of [`crate::metrics`].
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
    let installed = if json {
        builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() && json {
        JSON_LOGS.store(true, Ordering::Relaxed);
    }
}

/// Whether this process writes JSON lines (and so metrics).
pub fn json_enabled() -> bool {
    JSON_LOGS.load(Ordering::Relaxed)
}

/// `{"level": .., <span fields, outermost first>, <event fields>, "message": ..}` on one line.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert("level".into(), event.metadata().level().as_str().into());
        if let Some(scope) = context.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                // JsonFields stores a span's fields as one JSON object.
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    for (name, value) in fields {
                        line.insert(camel_case(&name), value);
                    }
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        self.0.insert(camel_case(field.name()), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

/// `execution_id` → `executionId`, the way Spinnaker's JSON names things.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match c {
            '_' if !out.is_empty() => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn every_line_carries_the_ids_of_its_spans_in_camel_case() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!(
                "orchestrate",
                execution_id = "01J",
                application = tracing::field::Empty
            );
            let _outer = outer.enter();
            // Known only once the execution is loaded.
            outer.record("application", "shop");
            let inner = tracing::info_span!("stage", stage_id = "s1");
            let _inner = inner.enter();
            tracing::info!(status = "SUCCEEDED", attempts = 2, "execution completed");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "level": "INFO", "executionId": "01J", "application": "shop", "stageId": "s1",
                "message": "execution completed", "status": "SUCCEEDED", "attempts": 2
            })
        );
    }

    #[test]
    fn names_become_camel_case() {
        assert_eq!(camel_case("pipeline_config_id"), "pipelineConfigId");
        assert_eq!(camel_case("message"), "message");
        assert_eq!(camel_case("_private"), "_private");
    }
}
