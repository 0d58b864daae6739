//! The parser and evaluator never panic, whatever the input.
//!
//! The normal run tries a few hundred inputs per strategy (about a second). A long run:
//!
//! ```sh
//! EXPRESSIONS_FUZZ_SECONDS=600 cargo test --release -p gennaker-expressions --test parser_fuzz -- --nocapture
//! ```
//!
//! keeps generating until the time is up and prints how many inputs it tried. Inputs that ever
//! crashed are kept in `tests/fuzz_regressions.txt` (one JSON string per line) and replayed by
//! `recorded_crashes_stay_fixed`.

mod common;

use std::time::{Duration, Instant};

use gennaker_expressions::{
    EvaluationContext, check_syntax, evaluate_condition, evaluate_expression, evaluate_value,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// Pieces of the language, so random sequences reach deep into the parser and evaluator.
const VOCABULARY: &[&str] = &[
    "${",
    "}",
    "{",
    "[",
    "]",
    "(",
    ")",
    "'",
    "\"",
    "''",
    ".",
    "?.",
    ".?[",
    ".^[",
    ".$[",
    ".![",
    ",",
    ":",
    "?",
    "?:",
    "#this",
    "#root",
    "#stage(",
    "#stageByRefId(",
    "#judgment(",
    "#toJson(",
    "#readJson(",
    "#fromUrl(",
    "#toInt(",
    "#deployedServerGroups(",
    "#currentStage()",
    "#alphanumerical(",
    "#fromBase64(",
    "#readYaml(",
    "T(",
    "T(java.lang.Integer)",
    "T(java.lang.Math)",
    "new ",
    "java.util.Date()",
    "java.text.SimpleDateFormat(",
    "trigger",
    "parameters",
    "execution",
    "stages",
    "context",
    "outputs",
    "waitTime",
    "regions",
    "nested",
    "level1",
    "status",
    "env",
    "'Bake'",
    "'prod'",
    "'a,b'",
    "'[1,2]'",
    "'{\"a\":1}'",
    "0",
    "1",
    "-1",
    "2147483647",
    "1.5",
    "1e308",
    "0x1F",
    "9L",
    "true",
    "false",
    "null",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "and",
    "or",
    "not",
    "!",
    "&&",
    "||",
    "matches",
    "'(a+)+b'",
    "'['",
    "between",
    "instanceof",
    "div",
    "mod",
    "=",
    "++",
    "@",
    "size()",
    "split(",
    "substring(",
    "toUpperCase()",
    "replaceAll(",
    "'x' * 99999999",
    "get(",
    "keySet()",
    " ",
    "  ",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..40).prop_map(|parts| parts.concat())
}

fn templated_soup() -> impl Strategy<Value = String> {
    token_soup().prop_map(|body| format!("${{{body}}}"))
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,80}".prop_map(|s| format!("${{{s}}}")),
        "[${}'\"()\\[\\]{}.?!#:a-z0-9 ]{0,60}",
    ]
}

/// Evaluates `input` every way the crate offers; returns normally unless something panics.
fn exercise(input: &str, execution: &Value) {
    let _ = check_syntax(input);
    let ctx = common::stage_context(execution);
    let _ = evaluate_value(&json!(input), &ctx);
    let _ = evaluate_value(&json!({ input: [input] }), &ctx);
    let _ = evaluate_condition(input, &ctx);
    let _ = evaluate_expression(input, &ctx);
    let trigger = execution["trigger"].clone();
    let _ = evaluate_value(&json!(input), &EvaluationContext::for_trigger(&trigger));
}

fn strategies() -> Vec<(&'static str, BoxedStrategy<String>)> {
    vec![
        ("token soup", token_soup().boxed()),
        ("templated token soup", templated_soup().boxed()),
        ("arbitrary text", arbitrary_text().boxed()),
    ]
}

fn run(cases_per_round: u32, deadline: Option<Instant>) -> u64 {
    let execution = common::execution();
    let mut tried = 0u64;
    loop {
        for (name, strategy) in strategies() {
            let mut runner = TestRunner::new(Config {
                cases: cases_per_round,
                failure_persistence: None,
                ..Config::default()
            });
            let result = runner.run(&strategy, |input| {
                exercise(&input, &execution);
                Ok(())
            });
            if let Err(failure) = result {
                panic!("{name}: {failure}");
            }
            tried += cases_per_round as u64;
        }
        match deadline {
            Some(deadline) if Instant::now() < deadline => continue,
            _ => return tried,
        }
    }
}

#[test]
fn never_panics_on_arbitrary_input() {
    let seconds: Option<u64> = std::env::var("EXPRESSIONS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let started = Instant::now();
    let tried = match seconds {
        Some(seconds) => run(2_000, Some(started + Duration::from_secs(seconds))),
        None => run(1_000, None),
    };
    println!(
        "tried {tried} inputs in {:.1} s without a panic",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn recorded_crashes_stay_fixed() {
    let execution = common::execution();
    let recorded = include_str!("fuzz_regressions.txt");
    let mut replayed = 0;
    for line in recorded
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
    {
        let input: String = serde_json::from_str(line).expect("each line is a JSON string");
        exercise(&input, &execution);
        replayed += 1;
    }
    assert!(replayed > 0);
}
