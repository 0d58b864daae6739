//! Hostile input fails fast with an error in the summary. Each test prints how long it took
//! (`cargo test --release -p gennaker-expressions --test limits -- --nocapture` gives the
//! figures quoted in the crate docs); the assertions only guard against blow-ups.

mod common;

use std::time::{Duration, Instant};

use gennaker_expressions::{ExpressionSummary, evaluate_value, limits};
use serde_json::{Value, json};

/// Evaluates `input` as the running stage; returns the result, its summary and the time taken.
fn timed(input: &str) -> (Value, ExpressionSummary, Duration) {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let started = Instant::now();
    let evaluated = evaluate_value(&json!(input), &ctx);
    (evaluated.value, evaluated.summary, started.elapsed())
}

fn assert_refused(name: &str, input: &str, message_part: &str) -> Duration {
    let (value, summary, elapsed) = timed(input);
    println!("{name}: refused in {elapsed:?}");
    assert_eq!(value, json!(input), "{name}: the text must be kept");
    let descriptions = summary.descriptions();
    assert!(
        descriptions.iter().any(|d| d.contains(message_part)),
        "{name}: expected '{message_part}' in {descriptions:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "{name} took {elapsed:?}");
    elapsed
}

#[test]
fn huge_strings_are_refused_before_parsing() {
    let huge = format!("${{'{}'}}", "x".repeat(1_000_000));
    assert_refused("1 MB template", &huge, "too long");
    let just_over = format!("${{'{}'}}", "x".repeat(limits::MAX_EXPRESSION_LENGTH));
    assert_refused("template just over the limit", &just_over, "too long");
    // Strings without `${` are not expressions and pass through whatever their size.
    let plain = "y".repeat(1_000_000);
    let (value, summary, _) = timed(&plain);
    assert_eq!(value, json!(plain));
    assert!(summary.is_empty());
}

#[test]
fn deep_nesting_is_refused() {
    let parens = format!("${{{}1{}}}", "(".repeat(4_900), ")".repeat(4_900));
    assert_refused("4,900 nested parentheses", &parens, "nests deeper");
    let negations = format!("${{{}true}}", "!".repeat(9_000));
    assert_refused("9,000 negations", &negations, "nests deeper");
    let lists = format!("${{{}{}}}", "{".repeat(4_000), "}".repeat(4_000));
    assert_refused("4,000 nested inline lists", &lists, "nests deeper");
    let ternaries = format!("${{{}1}}", "true ? 1 : ".repeat(900));
    assert_refused("900 chained ternaries", &ternaries, "nests deeper");
    // Exactly at the limit still works.
    let depth = limits::MAX_NESTING_DEPTH - 1;
    let (value, summary, _) = timed(&format!("${{{}1{}}}", "(".repeat(depth), ")".repeat(depth)));
    assert_eq!(value, json!(1), "{summary:?}");
}

#[test]
fn long_flat_chains_are_fine() {
    let sum = format!("${{{}}}", vec!["1"; 3_000].join("+"));
    let (value, summary, elapsed) = timed(&sum);
    println!("3,000-term sum: evaluated in {elapsed:?}");
    assert_eq!(value, json!(3_000), "{summary:?}");
    assert_eq!(timed("${nested.level1.level2.length()}").0, json!(4));
    let many_parts = "${1}".repeat(2_000);
    let (value, _, elapsed) = timed(&many_parts);
    println!("2,000 interpolated parts: evaluated in {elapsed:?}");
    assert_eq!(value, json!("1".repeat(2_000)));
}

#[test]
fn pathological_regexes_run_in_linear_time_or_are_refused() {
    let exponential = format!("${{'{}!' matches '(a+)+b'}}", "a".repeat(9_000));
    let (value, summary, elapsed) = timed(&exponential);
    println!("(a+)+b against 9,000 a's: {elapsed:?}");
    assert_eq!(value, json!(false), "{summary:?}");
    assert!(elapsed < Duration::from_secs(2));
    let nested = format!("${{'{}' matches '((a*)*)*b'}}", "a".repeat(9_000));
    let (value, _, elapsed) = timed(&nested);
    println!("((a*)*)*b against 9,000 a's: {elapsed:?}");
    assert_eq!(value, json!(false));
    let long_pattern = format!("${{'a' matches '{}'}}", "a?".repeat(600));
    assert_refused("1,200-character pattern", &long_pattern, "too long");
    let huge_repetition = "${'a' matches 'a{1000}{1000}{1000}'}";
    assert_refused(
        "pattern compiling beyond the size limit",
        huge_repetition,
        "regular expression",
    );
}

#[test]
fn runaway_evaluation_is_stopped() {
    let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let list = format!("{{{}}}", hundred.join(","));
    let cube = format!("${{{list}.![{list}.![{list}.![#this]]]}}");
    let elapsed = assert_refused("100×100×100 nested projections", &cube, "steps");
    println!(
        "evaluation budget of {} steps exhausted in {elapsed:?}",
        limits::MAX_EVALUATION_STEPS
    );
    assert_refused("'x' * 100,000,000", "${'x' * 100000000}", "exceed");
    assert_refused(
        "replace blow-up",
        &format!(
            "${{'{}'.replace('a', '{}')}}",
            "a".repeat(2_000),
            "b".repeat(2_000)
        ),
        "exceeds",
    );
}

#[test]
fn deeply_nested_json_is_walked_up_to_the_limit() {
    let mut value = json!("${parameters.env}");
    for _ in 0..2_000 {
        value = Value::Array(vec![value]);
    }
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let started = Instant::now();
    let evaluated = evaluate_value(&value, &ctx);
    println!("2,000-deep JSON: walked in {:?}", started.elapsed());
    // Below the walk limit the string is evaluated; beyond it the value comes back unchanged.
    assert_eq!(evaluated.value, value);
    let mut shallow = json!("${parameters.env}");
    for _ in 0..100 {
        shallow = Value::Array(vec![shallow]);
    }
    let evaluated = evaluate_value(&shallow, &ctx);
    let mut inner = &evaluated.value;
    while let Value::Array(items) = inner {
        inner = &items[0];
    }
    assert_eq!(inner, &json!("prod"));
}

#[test]
fn yaml_alias_bombs_are_refused() {
    // "Billion laughs": nine levels of nine aliases would expand to 387 million strings.
    let mut yaml = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..9 {
        let previous = format!("*a{}", level - 1);
        yaml.push_str(&format!(
            "a{level}: &a{level} [{}]\n",
            vec![previous; 9].join(", ")
        ));
    }
    let input = format!("${{#readYaml('{yaml}')}}");
    assert_refused("YAML alias bomb", &input, "repetition limit");
}
