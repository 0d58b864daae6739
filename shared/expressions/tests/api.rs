//! The public entry points as the engine, orchestrator and API call them.

mod common;

use gennaker_expressions::{
    EvaluationContext, SUMMARY_KEY, StageEnabled, SummaryLevel, capabilities, evaluate_condition,
    evaluate_expression, evaluate_pipeline_at_trigger, evaluate_value,
    include_summary_in_exception, should_fail_on_failed_expressions, stage_enabled,
};
use serde_json::{Value, json};

#[test]
fn a_stage_context_is_evaluated_in_place_with_typed_results() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let context = json!({
        "waitTime": "${trigger.parameters.env == 'prod' ? 3 : 1}",
        "ami": "${#stage('Bake')['context']['ami']}",
        "name": "deploy-${parameters.name}",
        "clusters": ["${parameters.env}", "static"],
        "nested": {"deep": {"flag": "${1 > 0}"}},
        "${parameters.env}Region": "us-east-1",
        "count": 4,
        "untouched": "no expressions here"
    });
    let evaluated = evaluate_value(&context, &ctx);
    assert_eq!(
        evaluated.value,
        json!({
            "waitTime": 3,
            "ami": "ami-0abc",
            "name": "deploy-web-app",
            "clusters": ["prod", "static"],
            "nested": {"deep": {"flag": true}},
            "prodRegion": "us-east-1",
            "count": 4,
            "untouched": "no expressions here"
        })
    );
    assert!(evaluated.summary.is_empty());
    assert_eq!(evaluated.summary.total_evaluated(), 6);
}

#[test]
fn failures_keep_the_text_and_are_summarised_like_orca() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let context = json!({
        "waitTime": "${#stage('Nope').context.x}",
        "message": "v-${missing}-${parameters.env}",
        "zones": ["${missing.child}"]
    });
    let evaluated = evaluate_value(&context, &ctx);
    assert_eq!(
        evaluated.value,
        context
            .as_object()
            .map(|m| {
                let mut m = m.clone();
                m.insert("message".into(), json!("v-${missing}-prod"));
                Value::Object(m)
            })
            .unwrap()
    );
    let summary = evaluated.summary.to_json();
    assert_eq!(
        summary["#stage('Nope').context.x"],
        json!([{
            "description": "Failed to evaluate [waitTime] Unable to locate [Nope] using #stage(Nope) in execution 01HEXEC",
            "exceptionType": "com.netflix.spinnaker.kork.expressions.SpelHelperFunctionException",
            "timestamp": common::NOW,
            "level": "ERROR"
        }])
    );
    // Composite strings are keyed by their parts joined; unresolved parts are INFO.
    assert_eq!(
        summary["v-missing-parameters.env"],
        json!([{
            "description": "Failed to evaluate [message] : v-missing-parameters.env not found",
            "timestamp": common::NOW,
            "level": "INFO"
        }])
    );
    // Inside a list Orca cannot name the field and shows the text without `$`.
    let zone_entry = &summary["missing.child"][0];
    assert_eq!(zone_entry["level"], json!("ERROR"));
    assert!(
        zone_entry["description"]
            .as_str()
            .unwrap()
            .starts_with("Failed to evaluate {missing.child} EL1007E"),
        "{zone_entry}"
    );
    assert_eq!(evaluated.summary.failure_count(), 3);
    assert!(evaluated.summary.has_errors());
}

#[test]
fn the_summary_lands_in_the_stage_context_and_then_in_the_exception() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let mut context = json!({
        "failOnFailedExpressions": true,
        "a": "${missing.child}",
        SUMMARY_KEY: {"old.expression": [{"description": "stale", "level": "ERROR", "timestamp": 1}]}
    })
    .as_object()
    .unwrap()
    .clone();
    let evaluated = evaluate_value(&Value::Object(context.clone()), &ctx);
    evaluated.summary.apply_to_context(&mut context);
    assert!(context[SUMMARY_KEY].get("missing.child").is_some());
    assert!(context[SUMMARY_KEY].get("old.expression").is_none());
    assert!(should_fail_on_failed_expressions(&context));
    include_summary_in_exception(&mut context);
    assert_eq!(
        context["exception"]["details"]["error"],
        json!("Failed Expression Evaluation")
    );
    assert!(
        context["exception"]["details"]["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Failed to evaluate [a]")
    );
}

#[test]
fn stale_summary_entries_go_once_the_expression_succeeds() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let mut context = json!({
        "a": "${parameters.env}",
        SUMMARY_KEY: {"parameters.env": [{"description": "was missing", "level": "INFO", "timestamp": 1}],
                      "other": [{"description": "kept", "level": "ERROR", "timestamp": 1}]}
    })
    .as_object()
    .unwrap()
    .clone();
    let evaluated = evaluate_value(&json!({"a": "${parameters.env}"}), &ctx);
    evaluated.summary.apply_to_context(&mut context);
    assert_eq!(
        context[SUMMARY_KEY],
        json!({"other": [{"description": "kept", "level": "ERROR", "timestamp": 1}]})
    );
    let mut clean = json!({SUMMARY_KEY: {"parameters.env": []}})
        .as_object()
        .unwrap()
        .clone();
    evaluated.summary.apply_to_context(&mut clean);
    assert!(!clean.contains_key(SUMMARY_KEY));
    assert!(!should_fail_on_failed_expressions(&clean));
}

#[test]
fn conditions_follow_stage_enabled_rules() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    assert_eq!(
        evaluate_condition("parameters.env == 'prod'", &ctx),
        Ok(true)
    );
    assert_eq!(
        evaluate_condition("trigger.parameters.env != 'prod'", &ctx),
        Ok(false)
    );
    assert_eq!(evaluate_condition("'TRUE'", &ctx), Ok(true));
    assert_eq!(
        evaluate_condition("#stage('Bake').hasSucceeded", &ctx),
        Ok(true)
    );
    let error = evaluate_condition("parameters.missing", &ctx).unwrap_err();
    assert_eq!(error.resolved, json!("${parameters.missing}"));
    assert_eq!(
        error.summary.entries().next().unwrap().1[0].level,
        SummaryLevel::Info
    );
    assert!(evaluate_condition("'yes'", &ctx).is_err());
    assert!(evaluate_condition("1 +", &ctx).is_err());
    assert!(evaluate_condition("", &ctx).is_err());

    let enabled = |config: Value| stage_enabled(Some(&config), &ctx);
    assert_eq!(stage_enabled(None, &ctx), StageEnabled::Run);
    assert_eq!(
        enabled(json!({"type": "expression", "expression": "parameters.env == 'prod'"})),
        StageEnabled::Run
    );
    assert!(matches!(
        enabled(json!({"type": "expression", "expression": "false"})),
        StageEnabled::Skip { .. }
    ));
    assert!(matches!(
        enabled(json!({"type": "expression", "expression": "nope.nope"})),
        StageEnabled::Skip { .. }
    ));
    assert_eq!(
        enabled(json!({"type": "expression", "expression": "  "})),
        StageEnabled::Run
    );
    assert_eq!(
        enabled(json!({"type": "somethingElse", "expression": "false"})),
        StageEnabled::Run
    );
}

#[test]
fn evaluate_expression_answers_result_and_detail() {
    let execution = common::execution();
    let stage_ctx = common::stage_context(&execution);
    assert_eq!(
        evaluate_expression("${waitTime * 2}", &stage_ctx),
        json!({"result": 60, "detail": null})
    );
    let execution_ctx = EvaluationContext::for_execution(&execution).with_clock(common::NOW);
    // Execution level: the stage context is not in scope.
    let answer = evaluate_expression("${waitTime}", &execution_ctx);
    assert_eq!(answer["result"], json!("${waitTime}"));
    assert_eq!(answer["detail"]["waitTime"][0]["level"], json!("INFO"));
    assert_eq!(
        answer["detail"]["waitTime"][0]["description"],
        json!("Failed to evaluate [expression] : waitTime not found")
    );
    assert_eq!(
        evaluate_expression(
            "${execution.application}-${trigger.buildInfo.number}",
            &execution_ctx
        ),
        json!({"result": "demo-42", "detail": null})
    );
}

#[test]
fn trigger_time_sees_only_trigger_and_parameters_and_refuses_unknown_keys() {
    let trigger = json!({"type": "manual", "user": "bob", "parameters": {"env": "prod"}});
    let variables = json!({"replicas": 2});
    let ctx = EvaluationContext::for_trigger(&trigger).with_template_variables(&variables);
    let evaluated = evaluate_value(
        &json!({
            "name": "${parameters.env}-${trigger.user}",
            "replicas": "${templateVariables.replicas}",
            "unknown": "${noexists}-foo",
            "elvis": "${noexists ?: 'bacon'}",
            "execution": "${execution.id}",
            "stage": "${#stage('x')}"
        }),
        &ctx,
    );
    assert_eq!(evaluated.value["name"], json!("prod-bob"));
    assert_eq!(evaluated.value["replicas"], json!(2));
    // Orca's allowUnknownKeys=false: unknown keys fail, so even Elvis cannot rescue them.
    assert_eq!(evaluated.value["unknown"], json!("${noexists}-foo"));
    assert_eq!(evaluated.value["elvis"], json!("${noexists ?: 'bacon'}"));
    assert_eq!(evaluated.value["execution"], json!("${execution.id}"));
    assert_eq!(evaluated.value["stage"], json!("${#stage('x')}"));
    assert_eq!(evaluated.summary.failure_count(), 4);
}

#[test]
fn pipeline_configs_at_trigger_time_follow_the_evaluator_version() {
    let trigger = json!({"parameters": {"env": "prod"}});
    let ctx = EvaluationContext::for_trigger(&trigger);
    let config = |version: &str| {
        json!({
            "name": "ship-${parameters.env}", "spelEvaluator": version,
            "stages": [{"refId": "1", "type": "wait", "waitTime": "${parameters.env == 'prod' ? 5 : 1}"}]
        })
    };
    let v4 = evaluate_pipeline_at_trigger(&config("v4"), &ctx);
    assert_eq!(v4.value["name"], json!("ship-prod"));
    assert_eq!(
        v4.value["stages"][0]["waitTime"],
        json!("${parameters.env == 'prod' ? 5 : 1}")
    );
    let v3 = evaluate_pipeline_at_trigger(&config("v3"), &ctx);
    assert_eq!(v3.value["stages"][0]["waitTime"], json!(5));
}

#[test]
fn notifications_and_judgment_instructions_evaluate_at_execution_or_stage_level() {
    let execution = common::execution();
    let notification = json!({
        "type": "slack", "address": "#deploys",
        "message": {"pipeline.complete": {"text": "${execution.name} of ${execution.application} finished for ${trigger.user}"}}
    });
    let evaluated = evaluate_value(&notification, &EvaluationContext::for_execution(&execution));
    assert_eq!(
        evaluated.value["message"]["pipeline.complete"]["text"],
        json!("ship of demo finished for alice@example.com")
    );
    let judgment = json!({"instructions": "Deploy ${parameters.name} (${#stage('Bake').context.ami}) to ${parameters.env}?"});
    let evaluated = evaluate_value(
        &judgment,
        &EvaluationContext::for_stage(&execution, "s-judge"),
    );
    assert_eq!(
        evaluated.value["instructions"],
        json!("Deploy web-app (ami-0abc) to prod?")
    );
}

#[test]
fn capabilities_have_gates_shape() {
    let caps = capabilities();
    let functions = caps["functions"].as_array().unwrap();
    let stage = functions.iter().find(|f| f["name"] == "stage").unwrap();
    assert_eq!(stage["description"], json!("Locates a stage by name"));
    assert_eq!(
        stage["parameters"],
        json!([{"name": "idOrName", "description": "The name or id of the stage to find", "type": "String"}])
    );
    assert_eq!(
        stage["documentation"]["examples"][0]["usage"],
        json!("#stage('bake').hasSucceeded")
    );
    for name in [
        "fromUrl",
        "toJson",
        "judgment",
        "judgement",
        "pipelineId",
        "deployedServerGroups",
        "alphanumerical",
    ] {
        assert!(
            functions.iter().any(|f| f["name"] == name),
            "{name} missing"
        );
    }
    // The hidden execution parameter is not listed.
    assert!(functions.iter().all(|f| {
        f["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["type"] != "PipelineExecution")
    }));
    assert_eq!(
        caps["spelEvaluators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["versionKey"].clone())
            .collect::<Vec<_>>(),
        vec![json!("v4"), json!("v3"), json!("v2")]
    );
    assert_eq!(caps["spelEvaluators"][2]["deprecated"], json!(true));
}

#[test]
fn url_functions_need_a_fetcher_and_respect_a_configured_policy() {
    let execution = common::execution();
    let ctx =
        EvaluationContext::for_stage(&execution, "s-notify").with_host_resolver(&common::RESOLVER);
    let evaluated = evaluate_value(
        &json!("${#fromUrl('https://config.example.com/v.txt')}"),
        &ctx,
    );
    assert_eq!(
        evaluated.value,
        json!("${#fromUrl('https://config.example.com/v.txt')}")
    );
    let description = &evaluated.summary.entries().next().unwrap().1[0].description;
    assert!(
        description.contains("no URL fetcher is configured"),
        "{description}"
    );

    let policy = gennaker_expressions::UrlPolicy {
        reject_verbatim_ips: false,
        reject_private: false,
        ..Default::default()
    };
    let ctx = common::stage_context(&execution).with_url_policy(&policy);
    let evaluated = evaluate_value(&json!("${#fromUrl('http://10.0.0.1/v.txt')}"), &ctx);
    assert_eq!(evaluated.value, json!("1.2.3\n"));
    let evaluated = evaluate_value(&json!("${#fromUrl('http://169.254.169.254/v.txt')}"), &ctx);
    assert!(evaluated.summary.has_errors(), "link-local stays refused");
}

#[test]
fn a_stored_summary_is_never_evaluated_again() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let first = evaluate_value(&json!({"zones": ["${missing}"], "x": "${missing.y}"}), &ctx);
    let mut context = first.value.as_object().unwrap().clone();
    first.summary.apply_to_context(&mut context);
    assert!(!context[SUMMARY_KEY].to_string().contains("${"));
    // Evaluating the context again (as Orca does at task start) leaves the summary alone.
    let second = evaluate_value(&Value::Object(context.clone()), &ctx);
    assert_eq!(second.value[SUMMARY_KEY], context[SUMMARY_KEY]);
}
