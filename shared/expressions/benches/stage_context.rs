//! Evaluating a typical stage context at stage start: 20 fields, 10 of them with expressions
//! (`cargo bench -p gennaker-expressions`).

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gennaker_expressions::{EvaluationContext, evaluate_condition, evaluate_value};
use serde_json::{Value, json};

/// A deploy-like stage context: 20 top-level fields, 10 holding expressions of the kinds real
/// pipelines use (parameters, ternaries, helper functions, interpolation, selection, methods).
fn typical_stage_context() -> Value {
    json!({
        "name": "Deploy ${parameters.name}",
        "account": "${parameters.env == 'prod' ? 'prod-account' : 'test-account'}",
        "ami": "${#stage('Bake')['context']['ami']}",
        "capacity": {"min": 1, "max": "${parameters.env == 'prod' ? 10 : 2}", "desired": 2},
        "stack": "${#alphanumerical(parameters.name)}",
        "freeFormDetails": "build-${trigger.buildInfo.number}",
        "region": "${execution.stages.?[type == 'bake'][0].context.region}",
        "approved": "${#judgment('Approve') == 'ship it'}",
        "tags": {"version": "${trigger.properties.VERSION}", "owner": "team-a"},
        "zones": "${regions.![#this + 'a']}",
        "cloudProvider": "aws",
        "provider": "aws",
        "strategy": "redblack",
        "maxRemainingAsgs": 2,
        "scaleDown": true,
        "targetHealthyDeployPercentage": 100,
        "useSourceCapacity": false,
        "loadBalancers": ["web-frontend"],
        "securityGroups": ["sg-1", "sg-2"],
        "instanceType": "m5.large"
    })
}

fn benchmarks(c: &mut Criterion) {
    let execution = common::execution();
    let context = typical_stage_context();
    {
        // Sanity: every expression resolves.
        let ctx = EvaluationContext::for_stage(&execution, "s-notify");
        let evaluated = evaluate_value(&context, &ctx);
        assert!(evaluated.summary.is_empty(), "{:?}", evaluated.summary);
        assert_eq!(evaluated.summary.total_evaluated(), 10);
        assert_eq!(context.as_object().map(|m| m.len()), Some(20));
    }
    c.bench_function("stage context (20 fields, 10 expressions)", |b| {
        b.iter(|| {
            let ctx = EvaluationContext::for_stage(&execution, "s-notify");
            evaluate_value(black_box(&context), &ctx)
        })
    });
    let single = json!("${parameters.env}");
    c.bench_function("one property expression", |b| {
        b.iter(|| {
            let ctx = EvaluationContext::for_stage(&execution, "s-notify");
            evaluate_value(black_box(&single), &ctx)
        })
    });
    c.bench_function("stageEnabled condition", |b| {
        b.iter(|| {
            let ctx = EvaluationContext::for_stage(&execution, "s-notify");
            evaluate_condition(
                black_box("parameters.env == 'prod' and #stage('Bake').hasSucceeded"),
                &ctx,
            )
        })
    });
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
