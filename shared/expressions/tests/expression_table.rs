//! The expression table: each row is a string as it would appear in a stage context and the
//! result Spinnaker gives for it, written from the reference semantics (Spring SpEL as Orca
//! configures it, and Orca's helper functions) against the fixture in `common/mod.rs`,
//! evaluated as the running "Notify" stage.

mod common;

use gennaker_expressions::{SummaryLevel, evaluate_value};
use serde_json::{Value, json};

enum Expect {
    /// Evaluates to this JSON value, with an empty summary.
    Is(Value),
    /// Left as written (or partly resolved to the given text) with an INFO "not found" entry.
    NotFound(Option<&'static str>),
    /// Left as written with an ERROR entry whose exceptionType ends with this text.
    Fails(&'static str),
}

use Expect::*;

const SPEL: &str = "SpelEvaluationException";
const PARSE: &str = "SpelParseException";
const HELPER: &str = "SpelHelperFunctionException";
const ILLEGAL: &str = "IllegalArgumentException";
/// Broken `${…}` templates: Spring's `TemplateAwareExpressionParser` throws `ParseException`.
const TEMPLATE: &str = "expression.ParseException";

fn cases() -> Vec<(&'static str, Expect)> {
    vec![
        // ---- literals -------------------------------------------------------------------
        ("${'hello'}", Is(json!("hello"))),
        ("${'it''s'}", Is(json!("it's"))),
        (r#"${"double ""quoted"""}"#, Is(json!("double \"quoted\""))),
        ("${42}", Is(json!(42))),
        ("${-7}", Is(json!(-7))),
        ("${42L}", Is(json!(42))),
        ("${3.5}", Is(json!(3.5))),
        ("${1.5f}", Is(json!(1.5))),
        ("${0x1F}", Is(json!(31))),
        ("${1e3}", Is(json!(1000.0))),
        ("${true}", Is(json!(true))),
        ("${FALSE}", Is(json!(false))),
        ("${null}", NotFound(None)),
        ("${{1,2,3}}", Is(json!([1, 2, 3]))),
        ("${{a:1,'b':'x'}}", Is(json!({"a": 1, "b": "x"}))),
        ("${{}}", Is(json!([]))),
        ("${{:}}", Is(json!({}))),
        ("${{1,{2,3}}}", Is(json!([1, [2, 3]]))),
        // ---- arithmetic and concatenation ------------------------------------------------
        ("${1 + 2}", Is(json!(3))),
        ("${7 / 2}", Is(json!(3))),
        ("${7 % 3}", Is(json!(1))),
        ("${7.0 / 2}", Is(json!(3.5))),
        ("${2 * 3 + 4}", Is(json!(10))),
        ("${2 + 3 * 4}", Is(json!(14))),
        ("${(2 + 3) * 4}", Is(json!(20))),
        ("${10 - 4 - 3}", Is(json!(3))),
        ("${100 / 10 / 5}", Is(json!(2))),
        ("${2 ^ 10}", Is(json!(1024))),
        ("${10 div 3}", Is(json!(3))),
        ("${10 mod 3}", Is(json!(1))),
        ("${-(3)}", Is(json!(-3))),
        ("${2147483647 + 1}", Is(json!(-2147483648))),
        ("${1 + 2.5}", Is(json!(3.5))),
        ("${1 / 0}", Fails("ArithmeticException")),
        ("${'a' + 'b'}", Is(json!("ab"))),
        ("${'v' + 1}", Is(json!("v1"))),
        ("${1 + 'v'}", Is(json!("1v"))),
        ("${'x' + null}", Is(json!("xnull"))),
        ("${'v' + 1.0}", Is(json!("v1.0"))),
        ("${1 + null}", Fails(SPEL)),
        ("${'ab' * 3}", Is(json!("ababab"))),
        ("${true + 1}", Fails(SPEL)),
        // ---- comparison ---------------------------------------------------------------------
        ("${1 == 1}", Is(json!(true))),
        ("${1 == 1.0}", Is(json!(true))),
        ("${'a' == 'a'}", Is(json!(true))),
        ("${'1' == 1}", Is(json!(false))),
        ("${'true' == true}", Is(json!(false))),
        ("${null == null}", Is(json!(true))),
        ("${1 != 2}", Is(json!(true))),
        ("${2 > 1}", Is(json!(true))),
        ("${2 lt 1}", Is(json!(false))),
        ("${'abc' < 'abd'}", Is(json!(true))),
        ("${1 <= 1}", Is(json!(true))),
        ("${3 ge 4}", Is(json!(false))),
        ("${null < 1}", Is(json!(true))),
        ("${'a' < 1}", Fails(SPEL)),
        ("${2 between {1, 3}}", Is(json!(true))),
        ("${5 between {1, 3}}", Is(json!(false))),
        ("${1 < 2 < 3}", Fails(PARSE)),
        // ---- logic --------------------------------------------------------------------------
        ("${true and false}", Is(json!(false))),
        ("${true or false}", Is(json!(true))),
        ("${!true}", Is(json!(false))),
        ("${not false}", Is(json!(true))),
        ("${true && true}", Is(json!(true))),
        ("${false || true}", Is(json!(true))),
        ("${'true' and true}", Is(json!(true))),
        ("${'yes' and true}", Is(json!(true))),
        ("${'maybe' and true}", Fails(ILLEGAL)),
        ("${nullValue and true}", Fails(SPEL)),
        ("${false and nothing.foo}", Is(json!(false))),
        ("${true or nothing.foo}", Is(json!(true))),
        // ---- ternary and Elvis ----------------------------------------------------------------
        ("${trigger.parameters.env == 'prod' ? 3 : 1}", Is(json!(3))),
        (
            "${parameters.env == 'dev' ? 'us-west-2' : 'us-east-1'}",
            Is(json!("us-east-1")),
        ),
        ("${false ? 1 : 2}", Is(json!(2))),
        ("${'true' ? 'y' : 'n'}", Is(json!("y"))),
        ("${1 > 2 ? 'a' : 2 > 1 ? 'b' : 'c'}", Is(json!("b"))),
        ("${nullValue ? 1 : 2}", Fails(SPEL)),
        ("${missing ?: 'default'}", Is(json!("default"))),
        ("${emptyText ?: 'fallback'}", Is(json!("fallback"))),
        ("${parameters.env ?: 'x'}", Is(json!("prod"))),
        ("${0 ?: 5}", Is(json!(0))),
        ("${parameters['branch'] ?: 'noValue'}", Is(json!("noValue"))),
        // ---- the evaluation root -----------------------------------------------------------
        ("${trigger.parameters.env}", Is(json!("prod"))),
        ("${parameters.env}", Is(json!("prod"))),
        ("${parameters['env']}", Is(json!("prod"))),
        (r#"${parameters["env"]}"#, Is(json!("prod"))),
        ("${trigger.user}", Is(json!("alice@example.com"))),
        ("${trigger.type}", Is(json!("jenkins"))),
        ("${trigger.buildInfo.number}", Is(json!(42))),
        ("${trigger.properties.VERSION}", Is(json!("1.2.3"))),
        ("${trigger.buildInfo.scm[1].branch}", Is(json!("feature/x"))),
        ("${scmInfo.branch}", Is(json!("feature/x"))),
        ("${execution.id}", Is(json!("01HEXEC"))),
        ("${execution.name}", Is(json!("ship"))),
        ("${execution['application']}", Is(json!("demo"))),
        ("${execution.trigger.user}", Is(json!("alice@example.com"))),
        ("${execution.stages.size()}", Is(json!(6))),
        ("${execution.stages[0].name}", Is(json!("Bake"))),
        (
            "${execution.stages.?[type=='bake'][0].context.ami}",
            Is(json!("ami-0abc")),
        ),
        (
            r#"${execution["authentication"]["user"].split("@")[0]}"#,
            Is(json!("alice")),
        ),
        ("${execution.endTime}", NotFound(None)),
        ("${execution.nope}", Fails(ILLEGAL)),
        ("${waitTime}", Is(json!(30))),
        ("${#root.waitTime}", Is(json!(30))),
        ("${#root['waitTime']}", Is(json!(30))),
        ("${regions[1]}", Is(json!("us-west-2"))),
        ("${regions[5]}", Fails(SPEL)),
        ("${regions.size()}", Is(json!(2))),
        ("${nested.level1.level2}", Is(json!("deep"))),
        ("${nested['level1']['level2']}", Is(json!("deep"))),
        ("${nested[level1].level2}", Is(json!("deep"))),
        ("${deploymentDetails[0].ami}", Is(json!("ami-0abc"))),
        ("${trigger.parameters.missing}", NotFound(None)),
        ("${trigger.nope}", NotFound(None)),
        ("${missing.child}", Fails(SPEL)),
        ("${missing?.child}", NotFound(None)),
        ("${missing?.length()}", NotFound(None)),
        ("${missing[0]}", Fails(SPEL)),
        ("${'abc'[1]}", Is(json!("b"))),
        ("${status.metaClass}", Fails(ILLEGAL)),
        // ---- string methods --------------------------------------------------------------------
        ("${parameters.name.toUpperCase()}", Is(json!("WEB-APP"))),
        ("${'MiXeD'.toLowerCase()}", Is(json!("mixed"))),
        ("${'  pad  '.trim()}", Is(json!("pad"))),
        ("${'hello'.contains('ell')}", Is(json!(true))),
        ("${'hello'.startsWith('he')}", Is(json!(true))),
        ("${'hello'.endsWith('lo')}", Is(json!(true))),
        ("${'a-b-c'.replace('-', '_')}", Is(json!("a_b_c"))),
        (
            "${'stack-with-hyphens'.replaceAll('-', '')}",
            Is(json!("stackwithhyphens")),
        ),
        (r#"${ "jeyrs!".replaceAll("\W", "") }"#, Is(json!("jeyrs"))),
        (r"${'v1.2.3'.replaceFirst('\.', '-')}", Is(json!("v1-2.3"))),
        (
            r"${'build-42'.replaceAll('build-(\d+)', 'b$1')}",
            Is(json!("b42")),
        ),
        ("${'a,b,c'.split(',')}", Is(json!(["a", "b", "c"]))),
        ("${'a,b,c'.split(',')[1]}", Is(json!("b"))),
        ("${'a,b,,'.split(',').length}", Is(json!(2))),
        ("${'hello'.substring(1)}", Is(json!("ello"))),
        ("${'hello'.substring(1, 3)}", Is(json!("el"))),
        (
            "${'hello'.substring(9)}",
            Fails("StringIndexOutOfBoundsException"),
        ),
        ("${'hello'.indexOf('l')}", Is(json!(2))),
        ("${'hello'.indexOf('z')}", Is(json!(-1))),
        ("${'hello'.lastIndexOf('l')}", Is(json!(3))),
        ("${'hello'.length()}", Is(json!(5))),
        ("${''.isEmpty()}", Is(json!(true))),
        ("${'hello'.empty}", Is(json!(false))),
        ("${'abc'.equals('abc')}", Is(json!(true))),
        ("${'ABC'.equalsIgnoreCase('abc')}", Is(json!(true))),
        ("${'abc'.charAt(0)}", Is(json!("a"))),
        ("${'x'.concat('y')}", Is(json!("xy"))),
        ("${'v123'.matches('v[0-9]+')}", Is(json!(true))),
        ("${'hello'.toString()}", Is(json!("hello"))),
        ("${'abc'.foo()}", Fails(SPEL)),
        ("${nullValue.toUpperCase()}", Fails(SPEL)),
        ("${nullValue?.toUpperCase()}", NotFound(None)),
        // ---- matches --------------------------------------------------------------------------
        ("${parameters.tag matches 'v[0-9]+'}", Is(json!(true))),
        ("${'v42x' matches 'v[0-9]+'}", Is(json!(false))),
        ("${'ABC' matches '(?i)abc'}", Is(json!(true))),
        (
            "${'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' matches '(a+)+b'}",
            Is(json!(false)),
        ),
        ("${nullValue matches 'x'}", Fails(SPEL)),
        ("${1 matches '1'}", Fails(SPEL)),
        // ---- collections ------------------------------------------------------------------------
        ("${{1,2,3}.size()}", Is(json!(3))),
        ("${{1,2,3}.contains(2)}", Is(json!(true))),
        ("${{1,2,3}.get(0)}", Is(json!(1))),
        ("${{1,2,3}.isEmpty()}", Is(json!(false))),
        ("${{1,2,3}.indexOf(3)}", Is(json!(2))),
        ("${{a:1}.containsKey('a')}", Is(json!(true))),
        ("${{a:1,b:2}.keySet()}", Is(json!(["a", "b"]))),
        ("${{a:1,b:2}.values()}", Is(json!([1, 2]))),
        ("${{a:1,b:2}.size()}", Is(json!(2))),
        ("${{a:1}.get('a')}", Is(json!(1))),
        ("${{a:1}['zz']}", NotFound(None)),
        ("${{1,2,3,4}.?[#this > 2]}", Is(json!([3, 4]))),
        ("${{1,2,3,4}.^[#this > 1]}", Is(json!(2))),
        ("${{1,2,3,4}.$[#this > 1]}", Is(json!(4))),
        ("${{1,2,3}.^[#this > 5]}", NotFound(None)),
        ("${{1,2,3}.![#this * 10]}", Is(json!([10, 20, 30]))),
        ("${{a:1,b:2}.?[value > 1]}", Is(json!({"b": 2}))),
        ("${{a:1,b:2}.![key]}", Is(json!(["a", "b"]))),
        ("${{1,2}.?['x']}", Fails(SPEL)),
        ("${missing?.![#this]}", NotFound(None)),
        (
            "${regions.![#this.toUpperCase()]}",
            Is(json!(["US-EAST-1", "US-WEST-2"])),
        ),
        (
            "${execution.stages.?[status == 'SUCCEEDED'].![name]}",
            Is(json!(["Bake", "Deploy in us-east-1", "Approve"])),
        ),
        (
            "${execution.stages.^[type == 'manualJudgment'].context.judgmentInput}",
            Is(json!("ship it")),
        ),
        ("${'x'.?[true]}", Fails(SPEL)),
        // ---- stage helper functions -----------------------------------------------------------------
        ("${#stage('Bake')['context']['ami']}", Is(json!("ami-0abc"))),
        ("${#stage('Bake').context.ami}", Is(json!("ami-0abc"))),
        (
            "${#stage('Bake').outputs.deploymentDetails[0].region}",
            Is(json!("us-east-1")),
        ),
        ("${#stage('Bake').status}", Is(json!("SUCCEEDED"))),
        (
            "${#stage('Bake')['status'] == 'SUCCEEDED'}",
            Is(json!(true)),
        ),
        ("${#stage('Bake').hasSucceeded}", Is(json!(true))),
        ("${#stage('Bake').hasFailed}", Is(json!(false))),
        ("${#stage('Canary').hasFailed}", Is(json!(true))),
        ("${#stage('s-bake').name}", Is(json!("Bake"))),
        (
            "${#stage('Deploy in us-east-1').context.deploymentDetails[0].ami}",
            Is(json!("ami-0abc")),
        ),
        ("${#stage('Bake').nope}", Fails(ILLEGAL)),
        ("${#stage('Nope')}", Fails(HELPER)),
        ("${#stage()}", Fails(SPEL)),
        ("${#stageByRefId('1').name}", Is(json!("Bake"))),
        ("${#stageByRefId('99')}", Fails(HELPER)),
        ("${#stageExists('Bake')}", Is(json!(true))),
        ("${#stageExists('Nope')}", Is(json!(false))),
        ("${#judgment('Approve')}", Is(json!("ship it"))),
        ("${#judgement('Approve')}", Is(json!("ship it"))),
        ("${#judgment('Approve') == 'ship it'}", Is(json!(true))),
        ("${#judgment('Bake')}", Fails(HELPER)),
        ("${#currentStage().name}", Is(json!("Notify"))),
        ("${#currentStage().context.waitTime}", Is(json!(30))),
        ("${#currentUser()}", Is(json!("alice@example.com"))),
        (
            "${#deployedServerGroups()[0].serverGroup}",
            Is(json!("demo-v001")),
        ),
        ("${#deployedServerGroups()[0].ami}", Is(json!("ami-0abc"))),
        (
            "${#deployedServerGroups('Deploy in us-east-1')[0].capacity.desired}",
            Is(json!(2)),
        ),
        (
            "${#deployedServerGroups()[0].deployments[0].serverGroupName}",
            Is(json!("demo-v001")),
        ),
        ("${#deployedServerGroups('Bake').size()}", Is(json!(0))),
        ("${deployedServerGroups[0].region}", Is(json!("us-east-1"))),
        (
            "${#triggerResolvedArtifact('image').reference}",
            Is(json!("docker.io/demo:1.2.3")),
        ),
        ("${#triggerResolvedArtifact('nope')}", Fails(HELPER)),
        ("${#pipelineId('deploy-prod')}", Is(json!("pipe-123"))),
        ("${#pipelineId('unknown')}", Fails(HELPER)),
        ("${#pipelineIdOrNull('unknown')}", NotFound(None)),
        (
            "${#pipelineIdInApplication('cleanup', 'other')}",
            Is(json!("pipe-456")),
        ),
        ("${#nosuch()}", Fails(SPEL)),
        // ---- conversion and JSON helpers -------------------------------------------------------------
        (
            "${#toJson(trigger.parameters)}",
            Is(json!(
                r#"{"env":"prod","name":"web-app","tag":"v42","cfg":"{\"region\":\"eu-west-1\"}","count":"5"}"#
            )),
        ),
        ("${#toJson({1,2})}", Is(json!("[1,2]"))),
        (
            r#"${#toJson('regions'.split(',')).contains("regions")}"#,
            Is(json!(true)),
        ),
        ("${#toJson(#stage('Templated').context)}", Fails(HELPER)),
        ("${#toJson(execution)}", Fails(HELPER)),
        (r#"${#readJson('{"a": {"b": 2}}')['a']['b']}"#, Is(json!(2))),
        (
            "${#readJson(parameters.cfg).region}",
            Is(json!("eu-west-1")),
        ),
        ("${#readJson('[1,2]')[1]}", Is(json!(2))),
        ("${#readJson('not json')}", Fails("JsonParseException")),
        ("${#readYaml('a: 1')['a']}", Is(json!(1))),
        (
            "${#alphanumerical('feature/ABC-123')}",
            Is(json!("featureABC123")),
        ),
        ("${#toInt('42')}", Is(json!(42))),
        ("${#toInt(parameters.count) + 1}", Is(json!(6))),
        ("${#toInt('4x')}", Fails("NumberFormatException")),
        ("${#toFloat('7.5')}", Is(json!(7.5))),
        ("${#toBoolean('TRUE')}", Is(json!(true))),
        ("${#toBoolean('yes')}", Is(json!(false))),
        ("${#toBase64('Yo Dawg')}", Is(json!("WW8gRGF3Zw=="))),
        ("${#fromBase64('WW8gRGF3Zw==')}", Is(json!("Yo Dawg"))),
        ("${#fromBase64('%%%')}", Fails(ILLEGAL)),
        // ---- URL helpers (fake fetcher; the policy runs for real) -----------------------------------
        (
            "${#fromUrl('https://config.example.com/v.txt').trim()}",
            Is(json!("1.2.3")),
        ),
        (
            "${#jsonFromUrl('https://config.example.com/app.json').replicas}",
            Is(json!(3)),
        ),
        (
            "${#yamlFromUrl('https://config.example.com/app.yaml')['ports'][1]}",
            Is(json!(443)),
        ),
        (
            "${#propertiesFromUrl('https://config.example.com/app.properties')['owner']}",
            Is(json!("team-a")),
        ),
        (
            "${#fromUrl('https://config.example.com/big')}",
            Fails(HELPER),
        ),
        ("${#fromUrl('http://127.0.0.1/')}", Fails(ILLEGAL)),
        (
            "${#fromUrl('http://169.254.169.254/latest/meta-data/')}",
            Fails(ILLEGAL),
        ),
        ("${#fromUrl('http://10.0.0.1/secrets')}", Fails(ILLEGAL)),
        ("${#fromUrl('http://localhost/')}", Fails(ILLEGAL)),
        ("${#fromUrl('file:///etc/passwd')}", Fails(ILLEGAL)),
        (
            "${#jsonFromUrl('http://metadata.internal/x')}",
            Fails(ILLEGAL),
        ),
        ("${#fromUrl('http://metadata/')}", Fails(ILLEGAL)),
        // ---- types: the allow-list ---------------------------------------------------------------
        ("${T(java.lang.Integer).parseInt('12')}", Is(json!(12))),
        ("${T(Integer).parseInt('12') + 1}", Is(json!(13))),
        (
            "${T(java.lang.Integer).parseInt('x')}",
            Fails("NumberFormatException"),
        ),
        ("${T(java.lang.Math).max(3, 7)}", Is(json!(7))),
        ("${T(java.lang.Integer).MAX_VALUE}", Is(json!(2147483647))),
        (
            "${T(java.lang.Boolean).parseBoolean('TRUE')}",
            Is(json!(true)),
        ),
        ("${T(java.lang.String).valueOf(5)}", Is(json!("5"))),
        (
            "${T(java.lang.Long).parseLong('9000000000')}",
            Is(json!(9_000_000_000i64)),
        ),
        (
            "${T(java.lang.Double).parseDouble('2.5') * 2}",
            Is(json!(5.0)),
        ),
        (
            "${T(java.net.URLEncoder).encode('a b&c', 'UTF-8')}",
            Is(json!("a+b%26c")),
        ),
        (
            "${T(java.util.UUID).randomUUID().toString().length()}",
            Is(json!(36)),
        ),
        (
            "${new java.text.SimpleDateFormat('yyyyMMdd').format(new java.util.Date())}",
            Is(json!("20240305")),
        ),
        ("${new java.util.Date().getTime()}", Is(json!(common::NOW))),
        (
            "${T(java.time.LocalDate).now().toString()}",
            Is(json!("2024-03-05")),
        ),
        (
            "${T(java.time.Instant).now().toEpochMilli()}",
            Is(json!(common::NOW)),
        ),
        ("${new java.lang.Integer('5') + 1}", Is(json!(6))),
        ("${T(java.lang.System).exit(1)}", Fails(SPEL)),
        ("${T(java.lang.Runtime).runtime.exit(1)}", Fails(SPEL)),
        ("${T(java.lang.ProcessBuilder)}", Fails(SPEL)),
        (
            "${new java.net.URL('http://google.com').openConnection()}",
            Fails(SPEL),
        ),
        (
            "${T(java.lang.Boolean).forName('java.net.URI').getSimpleName()}",
            Fails(SPEL),
        ),
        (
            "${new java.lang.Integer(1).getClass().getSimpleName()}",
            Fails(SPEL),
        ),
        ("${new java.lang.Integer(1).wait(100000)}", Fails(SPEL)),
        ("${'x'.getClass()}", Fails(SPEL)),
        ("${T(java.lang.Boolean).getBoolean('x')}", Fails(SPEL)),
        ("${@someBean.call()}", Fails(SPEL)),
        ("${T(java.lang.Integer).NOPE}", Fails(ILLEGAL)),
        // ---- templates: interpolation and failures ------------------------------------------------
        ("just a string", Is(json!("just a string"))),
        ("v-${trigger.buildInfo.number}-x", Is(json!("v-42-x"))),
        (
            "${parameters.env}-${parameters.name}",
            Is(json!("prod-web-app")),
        ),
        ("${ parameters.env }", Is(json!("prod"))),
        (" ${parameters.env}", Is(json!(" prod"))),
        ("count: ${1 + 1}", Is(json!("count: 2"))),
        ("list: ${regions}", Is(json!("list: us-east-1,us-west-2"))),
        ("map: ${{a:1}}", Is(json!("map: {a=1}"))),
        ("d: ${1.0}", Is(json!("d: 1.0"))),
        ("bool: ${1 > 0}", Is(json!("bool: true"))),
        (
            "succeeded: ${#stage('Bake')['status'] == 'SUCCEEDED'}",
            Is(json!("succeeded: true")),
        ),
        ("a.${'${ESCAPED}'}.b", Is(json!("a.${ESCAPED}.b"))),
        ("${'}'}", Is(json!("}"))),
        (
            "a.${missing}.b.${parameters.env}",
            NotFound(Some("a.${missing}.b.prod")),
        ),
        ("a.${ missing }.b", NotFound(Some("a.${missing}.b"))),
        ("${parameters.env", Fails(TEMPLATE)),
        ("x ${} y", Fails(TEMPLATE)),
        ("${1 +}", Fails(PARSE)),
        ("${'a'} ${missing.x}", Fails(SPEL)),
        ("${'unterminated}", Fails(TEMPLATE)),
        ("${ (1 }", Fails(TEMPLATE)),
    ]
}

/// Where Gennaker deliberately differs from Spinnaker (documented in the crate docs): the
/// sandbox refuses assignment and array construction, which Spring would evaluate, and the
/// linear-time regex engine has no backreferences.
fn deliberate_differences() -> Vec<(&'static str, Expect)> {
    vec![
        ("${waitTime = 1}", Fails(PARSE)),
        ("${new int[3]}", Fails(PARSE)),
        ("${waitTime++}", Fails(PARSE)),
        (r"${'aa' matches '(a)\1'}", Fails(SPEL)),
        (r"${'ab' matches 'a(?=b)b'}", Fails(SPEL)),
    ]
}

#[test]
fn deliberate_differences_are_refused() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let failures = check(&ctx, &deliberate_differences());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn expression_table() {
    let execution = common::execution();
    let ctx = common::stage_context(&execution);
    let cases = cases();
    let failures = check(&ctx, &cases);
    assert!(cases.len() >= 150, "the table must keep at least 150 rows");
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn check(
    ctx: &gennaker_expressions::EvaluationContext<'_>,
    cases: &[(&'static str, Expect)],
) -> Vec<String> {
    let mut failures = Vec::new();
    for (input, expect) in cases {
        let evaluated = evaluate_value(&json!(input), ctx);
        let entries: Vec<_> = evaluated
            .summary
            .entries()
            .flat_map(|(key, entries)| entries.iter().map(move |e| (key.to_string(), e.clone())))
            .collect();
        let problem = match expect {
            Is(expected) => {
                if &evaluated.value != expected {
                    Some(format!(
                        "expected {expected}, got {} ({entries:?})",
                        evaluated.value
                    ))
                } else if !entries.is_empty() {
                    Some(format!("unexpected summary {entries:?}"))
                } else {
                    None
                }
            }
            NotFound(partial) => {
                let expected = json!(partial.unwrap_or(input));
                if evaluated.value != expected {
                    Some(format!("expected {expected} kept, got {}", evaluated.value))
                } else if !(entries.len() == 1 && entries[0].1.level == SummaryLevel::Info) {
                    Some(format!("expected one INFO entry, got {entries:?}"))
                } else {
                    None
                }
            }
            Fails(exception) => {
                if evaluated.value != json!(input) {
                    Some(format!("expected the text kept, got {}", evaluated.value))
                } else if !(entries.len() == 1
                    && entries[0].1.level == SummaryLevel::Error
                    && entries[0]
                        .1
                        .exception_type
                        .as_deref()
                        .is_some_and(|t| t.ends_with(exception)))
                {
                    Some(format!(
                        "expected one ERROR entry of {exception}, got {entries:?}"
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{input}\n    {problem}"));
        }
    }
    failures
}
