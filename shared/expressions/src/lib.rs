//! Spinnaker's pipeline expression language: `${…}` templates in Spring Expression Language
//! (SpEL) syntax, evaluated the way Orca evaluates them, in a sandbox with no reflection.
//!
//! # Calling it
//!
//! ```
//! use gennaker_expressions::{EvaluationContext, evaluate_value, stage_enabled, StageEnabled};
//! use serde_json::json;
//!
//! let execution = json!({
//!     "id": "01J", "application": "demo",
//!     "trigger": {"type": "manual", "parameters": {"env": "prod"}},
//!     "stages": [
//!         {"id": "s1", "refId": "1", "name": "Bake", "type": "bake", "status": "SUCCEEDED",
//!          "context": {"ami": "ami-123"}, "outputs": {}, "requisiteStageRefIds": []},
//!         {"id": "s2", "refId": "2", "name": "Deploy", "type": "deploy", "status": "RUNNING",
//!          "context": {"ami": "${#stage('Bake')['context']['ami']}",
//!                      "count": "${trigger.parameters.env == 'prod' ? 3 : 1}",
//!                      "stageEnabled": {"type": "expression", "expression": "parameters.env == 'prod'"}},
//!          "outputs": {}, "requisiteStageRefIds": ["1"]}
//!     ]
//! });
//! // At stage start: evaluate the stage's context against the execution, seen from the stage.
//! let ctx = EvaluationContext::for_stage(&execution, "s2");
//! let context = &execution["stages"][1]["context"];
//! assert_eq!(stage_enabled(context.get("stageEnabled"), &ctx), StageEnabled::Run);
//! let evaluated = evaluate_value(context, &ctx);
//! assert_eq!(evaluated.value["ami"], json!("ami-123"));
//! assert_eq!(evaluated.value["count"], json!(3));
//! assert!(evaluated.summary.is_empty());
//! ```
//!
//! Entry points:
//! * [`evaluate_value`] — any JSON (stage context, trigger, notification, parameters):
//!   returns the evaluated JSON and an [`ExpressionSummary`]; store it with
//!   [`ExpressionSummary::apply_to_context`] as `expressionEvaluationSummary`. At stage end,
//!   [`include_summary_in_exception`] and [`should_fail_on_failed_expressions`] implement
//!   Orca's reporting and `failOnFailedExpressions`.
//! * [`evaluate_condition`] / [`stage_enabled`] — `stageEnabled` and precondition expressions
//!   (written without `${}`).
//! * [`evaluate_expression`] — the `evaluateExpression` endpoints (`{"result", "detail"}`).
//! * [`evaluate_pipeline_at_trigger`] — a pipeline config at trigger time (v3 / v4 rules).
//! * [`capabilities`] — `GET /capabilities/expressions`.
//!
//! The [`EvaluationContext`] decides what is visible: a stage's context keys plus `execution`,
//! `trigger`, `parameters`, `scmInfo` and ancestor stages' outputs
//! ([`EvaluationContext::for_stage`]); execution level ([`EvaluationContext::for_execution`]);
//! or only `trigger`, `parameters` and `templateVariables` at trigger time
//! ([`EvaluationContext::for_trigger`]). Services are lent to it: a [`UrlFetcher`] for
//! `#fromUrl` and friends (checked by a [`UrlPolicy`] first), a [`PipelineIdLookup`] for
//! `#pipelineId`, and a clock.
//!
//! # Where Orca evaluates (and how to do the same)
//!
//! | moment | context | call |
//! |---|---|---|
//! | trigger time (v3 whole config, v4 all but `stages`) | [`EvaluationContext::for_trigger`]`(&trigger)` | [`evaluate_pipeline_at_trigger`] |
//! | stage start, `stageEnabled` | [`EvaluationContext::for_stage`]`(&execution, &stage_id)` | [`stage_enabled`]: `Skip` ⇒ SKIPPED (downstream still runs) |
//! | stage start, context (top-level stages; synthetic ones inherit) | same | [`evaluate_value`] on `stage.context`, then [`ExpressionSummary::apply_to_context`] and persist |
//! | stage completion | — | [`should_fail_on_failed_expressions`] ⇒ TERMINAL; [`include_summary_in_exception`] |
//! | `checkPreconditions` expression | stage | [`evaluate_condition`]: anything but `Ok(true)` fails the precondition |
//! | manual judgment instructions, pipeline-stage parameters | stage | [`evaluate_value`] |
//! | notifications (pipeline level) | [`EvaluationContext::for_execution`] | [`evaluate_value`] |
//! | `GET /pipelines/{id}/evaluateExpression` / `…/{stageId}/evaluateExpression` | execution / stage | [`evaluate_expression`] |
//! | `GET /capabilities/expressions` | — | [`capabilities`] |
//!
//! # Language
//!
//! Literals (`'it''s'`, `"x"`, `42`, `42L`, `1.5`, `1.5f`, `0x1F`, `true`, `null`, `{1,2}`,
//! `{a:1}`, `{}`, `{:}`), property access and indexing (`a.b`, `a['b']`, `a[0]`, `'abc'[1]`),
//! safe navigation (`a?.b`, `a?.m()`), operators (`+ - * / % ^`, `== != < <= > >=` and
//! `eq ne lt le gt ge`, `and or not ! && ||`, `div mod`, `matches`, `between`, `instanceof`),
//! ternary `c ? a : b`, Elvis `a ?: b`, selection `.?[…]`, `.^[…]`, `.$[…]`, projection
//! `.![…]`, `#this`, `#root`, helper functions `#name(…)`, `T(type)` and `new type(…)` for the
//! allow-listed types. Methods: strings (`toUpperCase`, `toLowerCase`, `trim`, `contains`,
//! `startsWith`, `endsWith`, `replace`, `replaceAll`, `replaceFirst`, `split`, `substring`,
//! `indexOf`, `lastIndexOf`, `charAt`, `length`, `isEmpty`, `equals`, `equalsIgnoreCase`,
//! `matches`, `concat`, ...), lists (`size`, `get`, `contains`, `indexOf`, `isEmpty`,
//! `subList`), maps (`size`, `get`, `getOrDefault`, `containsKey`, `containsValue`, `keySet`,
//! `values`, `entrySet`, `isEmpty`), numbers, dates, stages and executions (getters).
//!
//! Refused, with an error naming the reason: types outside Orca's allow-list (`T(java.lang.
//! System)`, `new java.net.URL(…)`), `getClass()`/`forName`/`wait`/other `Object` and `Class`
//! methods, `Boolean.getBoolean` & co., assignment, `++`/`--`, bean references (`@x`), array
//! construction.
//!
//! # Bounds
//!
//! Each bound fails fast with an error that the summary records (constants in [`limits`];
//! `tests/limits.rs` pins each one and prints its timing). Times measured on the 2-core build
//! machine, release build, including building the context and the summary:
//!
//! | input | limit | measured |
//! |---|---|---|
//! | template string length | 10,000 characters ([`limits::MAX_EXPRESSION_LENGTH`]) | a 1 MB template is refused in 2 ms; strings without `${` pass through untouched |
//! | nesting depth | 100 levels ([`limits::MAX_NESTING_DEPTH`]) | 4,900 nested `(` refused in 0.5 ms; 9,000 `!` in 0.15 ms |
//! | long operator chains | none needed (kept flat) | a 3,000-term sum evaluates in 0.45 ms |
//! | interpolated parts | bounded by the length limit | 2,000 `${1}` parts in 0.55 ms |
//! | regex pattern length | 1,000 characters ([`limits::MAX_REGEX_LENGTH`]) | refused in 10 µs |
//! | regex compiled size | 1 MiB ([`limits::MAX_REGEX_COMPILED_SIZE`]) | `a{1000}{1000}{1000}` refused in 1.4 ms |
//! | regex matching time | linear (`regex` crate) | `(a+)+b` against 9,000 `a`s: 0.11 ms (exponential in Java) |
//! | evaluation steps | 1,000,000 ([`limits::MAX_EVALUATION_STEPS`]) | 100×100×100 nested projections stop after 54 ms |
//! | built strings | 1 MiB ([`limits::MAX_STRING_LENGTH`]) | `'x' * 100000000` refused in 13 µs |
//! | YAML aliases | serde_yaml's repetition limit | a "billion laughs" document is refused in 66 ms |
//! | JSON parsed by `#readJson` | serde_json's depth limit (128) | error |
//! | JSON depth walked by [`evaluate_value`] | 128 ([`limits::MAX_VALUE_DEPTH`]) | a 2,000-deep value comes back unevaluated below level 128, in 0.2 ms |
//! | URL response | 1 MiB ([`limits::MAX_URL_RESPONSE_BYTES`]), 30 s timeout ([`UrlPolicy`]) | error |
//!
//! Typical cost (criterion, `cargo bench -p gennaker-expressions`): a stage context of 20
//! fields with 10 expressions evaluates in about 31 µs; a single `${parameters.env}` in
//! 1.4 µs; a `stageEnabled` condition in 5 µs.
//!
//! # Differences from Spinnaker
//!
//! * Regular expressions use the `regex` crate: linear time, but no backreferences,
//!   look-around, possessive quantifiers or atomic groups (refused with an error).
//! * String positions (`substring`, `indexOf`, `length`) count Unicode scalar values, not
//!   UTF-16 units (different only for characters outside the BMP, e.g. emoji).
//! * Map keys keep insertion order (Orca's maps are mostly `LinkedHashMap`s too); inline map
//!   keys are strings.
//! * Only the members of the allow-listed Java types that pipelines use are implemented
//!   (`Integer.parseInt`, `Math.max`, `UUID.randomUUID`, `new Date()`,
//!   `SimpleDateFormat.format`, `LocalDate.now()`, `Instant.now()`, `URLEncoder.encode`, ...);
//!   dates are UTC. `LocalDate`/`Instant` results serialize as ISO strings.
//! * `#fetchReference`, `#manifestLabelValue`, `#applicationMetadata`, `#cfServiceKey`,
//!   `#canaryConfigNameToId` and `#doNotEval` are not provided.
//! * Safe navigation applies per step, as in Spring 5 (`a?.b.c` fails when `a` is null).
//! * The sandbox refuses what Spring would evaluate but a pipeline has no business doing:
//!   assignment (`a = 1`), `++`/`--` and array construction (`new int[3]`) are parse errors.
//! * The 10,000-character limit applies to the whole template string (Spring applies it to
//!   each `${…}` part).
//! * `split()` returns a list: `.length` works as on Java's array, and so do list methods.
//! * `exceptionType` names the Java exception Orca would record (e.g.
//!   `org.springframework.expression.spel.SpelEvaluationException`,
//!   `java.lang.NumberFormatException`); descriptions carry Spring-like messages (with the
//!   `EL…` codes where Spring has one) but are not byte-for-byte Spring's.
//!
//! # HTTP
//!
//! The crate has no HTTP client by default. Turn on the `std-fetcher` feature for
//! `StdHttpFetcher`, a blocking `std::net` HTTP/1.1 client (plain `http://` only, one
//! deadline, size limit, no redirects, connects only to the vetted addresses), or implement
//! [`UrlFetcher`] (e.g. with TLS) and lend it with [`EvaluationContext::with_url_fetcher`].
//! Evaluation is synchronous: from async code, call it where blocking is acceptable (e.g.
//! `tokio::task::spawn_blocking`) when a fetcher is configured.

pub mod limits;

mod ast;
mod capabilities;
mod context;
mod error;
mod eval;
mod functions;
mod java_format;
mod java_random;
mod java_time;
mod javatypes;
mod lexer;
mod methods;
mod ops;
mod parser;
mod properties;
mod regex_support;
mod summary;
mod template;
mod transform;
mod url_policy;
mod value;

#[cfg(feature = "std-fetcher")]
mod std_fetcher;

pub use capabilities::capabilities;
pub use context::{EvaluationContext, PipelineIdLookup, SpelEvaluatorVersion};
pub use error::{ErrorKind, ExpressionError};
pub use properties::parse_properties;
pub use summary::{
    ExpressionSummary, SUMMARY_KEY, SummaryEntry, SummaryLevel, include_summary_in_exception,
    should_fail_on_failed_expressions,
};
pub use template::contains_expression;
pub use transform::{
    ConditionError, Evaluated, StageEnabled, evaluate_condition, evaluate_expression,
    evaluate_pipeline_at_trigger, evaluate_value, stage_enabled,
};
pub use url_policy::{
    AddressClass, FetchRequest, HostResolver, INTERNAL_DOMAINS, IpRange, SystemResolver, UrlError,
    UrlFetcher, UrlPolicy, VettedUrl, classify_address,
};

#[cfg(feature = "std-fetcher")]
pub use std_fetcher::StdHttpFetcher;

/// Parses one expression (the text inside `${}`) and reports whether it is valid, without
/// evaluating it — for config validation.
pub fn check_syntax(expression: &str) -> Result<(), ExpressionError> {
    parser::parse(expression).map(|_| ())
}
