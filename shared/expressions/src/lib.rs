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
//! Each bound fails fast with an error that the summary records (see [`limits`]):
//!
//! | input | limit | behaviour (measured on the 2-core build machine, release build) |
//! |---|---|---|
//! | template string length | 10,000 characters ([`limits::MAX_EXPRESSION_LENGTH`]) | refused before parsing; a 1 MB string is refused in ~0.1 ms |
//! | nesting depth | 100 levels ([`limits::MAX_NESTING_DEPTH`]) | parse error; 10,000 nested `(` fail in ~0.1 ms |
//! | long operator chains | no depth cost (flat) | `1+1+…` with 3,000 terms evaluates in ~0.2 ms |
//! | regex pattern length | 1,000 characters ([`limits::MAX_REGEX_LENGTH`]) | error |
//! | regex time | linear (`regex` crate) | `'aaaa…(10,000)…!' matches '(a+)+b'` in ~1 ms (exponential in Java) |
//! | evaluation steps | 1,000,000 ([`limits::MAX_EVALUATION_STEPS`]) | nested projections over large lists stop after ~30 ms |
//! | built strings | 1 MiB ([`limits::MAX_STRING_LENGTH`]) | `'x' * 100000000` fails at once |
//! | URL response | 1 MiB ([`limits::MAX_URL_RESPONSE_BYTES`]), 30 s timeout | error |
//! | JSON depth walked | 128 ([`limits::MAX_VALUE_DEPTH`]) | deeper values are returned unevaluated |
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

pub mod limits;

mod ast;
mod capabilities;
mod context;
mod error;
mod eval;
mod functions;
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
    FetchRequest, HostResolver, IpRange, SystemResolver, UrlError, UrlFetcher, UrlPolicy, VettedUrl,
};

#[cfg(feature = "std-fetcher")]
pub use std_fetcher::StdHttpFetcher;

/// Parses one expression (the text inside `${}`) and reports whether it is valid, without
/// evaluating it — for config validation.
pub fn check_syntax(expression: &str) -> Result<(), ExpressionError> {
    parser::parse(expression).map(|_| ())
}
