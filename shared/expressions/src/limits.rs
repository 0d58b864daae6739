//! Bounds that keep hostile or accidental input from costing more than a few milliseconds.
//!
//! The figures are documented (with measurements) in the crate documentation; tests in
//! `tests/limits.rs` pin the behaviour at each bound.

/// Longest string containing `${` that is parsed at all (Spring's default
/// `expression.maxExpressionLength`). Longer strings fail with a parse error and are kept as
/// they are.
pub const MAX_EXPRESSION_LENGTH: usize = 10_000;

/// Deepest expression tree: nested parentheses, brackets, inline collections, unary operators
/// and chains of binary operators all add a level. Evaluation recurses along the tree, so this
/// also bounds the evaluator's stack use.
pub const MAX_NESTING_DEPTH: usize = 100;

/// Longest regular expression accepted by `matches`, `split`, `replaceAll`, ... (Spring
/// caps `matches` patterns at 1,000 characters as well).
pub const MAX_REGEX_LENGTH: usize = 1_000;

/// Compiled size limit handed to the `regex` crate (its matching is linear in the input, so
/// "catastrophic backtracking" patterns cannot happen; this bounds compilation instead).
pub const MAX_REGEX_COMPILED_SIZE: usize = 1 << 20;

/// Node evaluations allowed for one expression. Nested projections over large lists are the
/// only way to get near it (`{..1000 items..}.![{..}.![{..}]]`); ordinary expressions use
/// tens of steps.
pub const MAX_EVALUATION_STEPS: u64 = 1_000_000;

/// Largest string an operator or method may build (`'x' * n`, `replace`, `join`, ...).
pub const MAX_STRING_LENGTH: usize = 1 << 20;

/// Largest response body `#fromUrl` and friends accept from a `UrlFetcher`.
pub const MAX_URL_RESPONSE_BYTES: usize = 1 << 20;

/// Nesting depth of JSON values walked by `evaluate_value` (deeper values are left as they are,
/// with an error in the summary).
pub const MAX_VALUE_DEPTH: usize = 128;
