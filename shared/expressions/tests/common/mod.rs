//! A realistic execution (Orca's JSON shape) and fake services shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;

use gennaker_expressions::{
    EvaluationContext, FetchRequest, HostResolver, PipelineIdLookup, UrlError, UrlFetcher,
};
use serde_json::{Value, json};

/// 2024-03-05T07:08:09.010Z, a Tuesday.
pub const NOW: i64 = 1_709_622_489_010;

pub fn execution() -> Value {
    json!({
        "id": "01HEXEC", "type": "PIPELINE", "application": "demo", "name": "ship",
        "status": "RUNNING", "spelEvaluator": "v4",
        "authentication": {"user": "alice@example.com", "allowedAccounts": ["prod"]},
        "trigger": {
            "type": "jenkins", "user": "alice@example.com",
            "parameters": {"env": "prod", "name": "web-app", "tag": "v42",
                           "cfg": "{\"region\":\"eu-west-1\"}", "count": "5"},
            "buildInfo": {"number": 42, "url": "https://ci.example.com/job/42",
                          "scm": [{"branch": "master", "sha1": "aaa"},
                                  {"branch": "feature/x", "sha1": "bbb"}]},
            "properties": {"VERSION": "1.2.3"},
            "resolvedExpectedArtifacts": [
                {"id": "ea1", "boundArtifact": {"type": "docker/image", "name": "image",
                                                "reference": "docker.io/demo:1.2.3"}}
            ]
        },
        "stages": [
            {"id": "s-bake", "refId": "1", "type": "bake", "name": "Bake", "status": "SUCCEEDED",
             "requisiteStageRefIds": [],
             "context": {"ami": "ami-0abc", "region": "us-east-1"},
             "outputs": {"deploymentDetails": [
                 {"ami": "ami-0abc", "region": "us-east-1", "imageName": "demo-img"}]}},
            {"id": "s-deploy", "refId": "2", "type": "createServerGroup",
             "name": "Deploy in us-east-1", "status": "SUCCEEDED", "requisiteStageRefIds": ["1"],
             "context": {"account": "prod", "region": "us-east-1",
                         "capacity": {"min": 1, "max": 3, "desired": 2},
                         "deploy.server.groups": {"us-east-1": ["demo-v001"]},
                         "kato.tasks": [{"resultObjects": [
                             {"deployments": [{"serverGroupName": "demo-v001"}]}]}]},
             "outputs": {}},
            {"id": "s-canary", "refId": "c", "type": "wait", "name": "Canary", "status": "TERMINAL",
             "requisiteStageRefIds": ["2"], "context": {}, "outputs": {}},
            {"id": "s-judge", "refId": "3", "type": "manualJudgment", "name": "Approve",
             "status": "SUCCEEDED", "requisiteStageRefIds": ["2"],
             "context": {"judgmentStatus": "continue", "judgmentInput": "ship it"}, "outputs": {}},
            {"id": "s-templated", "refId": "t", "type": "wait", "name": "Templated",
             "status": "NOT_STARTED", "requisiteStageRefIds": [],
             "context": {"waitTime": "${parameters.wait}"}, "outputs": {}},
            {"id": "s-notify", "refId": "4", "type": "wait", "name": "Notify", "status": "RUNNING",
             "requisiteStageRefIds": ["3"],
             "context": {"waitTime": 30, "regions": ["us-east-1", "us-west-2"],
                         "nested": {"level1": {"level2": "deep"}}, "emptyText": "",
                         "status": "RUNNING", "nullValue": null},
             "outputs": {}}
        ]
    })
}

/// Resolves every name to one public address (no DNS in tests).
pub struct PublicResolver;

impl HostResolver for PublicResolver {
    fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, UrlError> {
        Ok(vec!["93.184.216.34".parse().unwrap()])
    }
}

/// Serves a few canned documents; records nothing, touches no network.
pub struct CannedFetcher;

impl UrlFetcher for CannedFetcher {
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<String, UrlError> {
        match request.url.path() {
            "/v.txt" => Ok("1.2.3\n".into()),
            "/app.json" => Ok(r#"{"replicas": 3, "image": {"tag": "1.2.3"}}"#.into()),
            "/app.yaml" => Ok("image: demo\nports:\n  - 80\n  - 443\n".into()),
            "/app.properties" => Ok("# build\nversion=1.2.3\nowner: team-a\n".into()),
            "/big" => Ok("x".repeat(request.max_bytes + 1)),
            other => Err(UrlError(format!("404 for {other}"))),
        }
    }
}

pub struct Pipelines;

impl PipelineIdLookup for Pipelines {
    fn pipeline_id(&self, application: &str, name: &str) -> Result<Option<String>, String> {
        Ok(match (application, name) {
            ("demo", "deploy-prod") => Some("pipe-123".into()),
            ("other", "cleanup") => Some("pipe-456".into()),
            _ => None,
        })
    }
}

pub static RESOLVER: PublicResolver = PublicResolver;
pub static FETCHER: CannedFetcher = CannedFetcher;
pub static PIPELINES: Pipelines = Pipelines;

/// The evaluation context of the running "Notify" stage, with fake services and a fixed clock.
pub fn stage_context(execution: &Value) -> EvaluationContext<'_> {
    EvaluationContext::for_stage(execution, "s-notify")
        .with_clock(NOW)
        .with_host_resolver(&RESOLVER)
        .with_url_fetcher(&FETCHER)
        .with_pipeline_id_lookup(&PIPELINES)
}
