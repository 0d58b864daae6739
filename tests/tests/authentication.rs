//! Authentication at the front door: local mode plays API Gateway's JWT authorizer with
//! its local issuer. Identity comes from the verified token only; bad tokens are a 401 in
//! Gate's error shape and write nothing; the open routes need no token.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use gennaker_local::authorizer::{AUDIENCE, ISSUER};
use gennaker_local::{LocalAuth, LocalOptions};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

async fn spawn_requiring_tokens() -> TestApp {
    TestApp::spawn_with(LocalOptions {
        auth: LocalAuth {
            require_token: true,
            issuer_dir: None,
        },
        ..LocalOptions::default()
    })
    .await
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("content-type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Tokens that must be refused, each with what it shows.
fn bad_tokens(app: &TestApp) -> Vec<(&'static str, String)> {
    let issuer = app.running.issuer();
    let claims = |iss: &str, aud: &str, exp: u64| {
        json!({"iss": iss, "aud": aud, "sub": "mallory", "email": "mallory", "groups": ["gennaker-local-admin"],
               "exp": exp, "nbf": now() - 5})
    };
    let expired = issuer.sign(&claims(ISSUER, AUDIENCE, now() - 10)).unwrap();
    let wrong_issuer = issuer
        .sign(&claims("https://evil.example.com", AUDIENCE, now() + 600))
        .unwrap();
    let wrong_audience = issuer
        .sign(&claims(ISSUER, "someone-else", now() + 600))
        .unwrap();
    let valid = app.running.token("mallory", &["gennaker-local-admin"]);
    let (signed, signature) = valid.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let bad_signature = format!("{signed}.{flipped}{}", &signature[1..]);
    let (_, payload) = signed.split_once('.').unwrap();
    let none_header = base64url(&json!({"alg": "none", "typ": "JWT"}).to_string());
    let alg_none = format!("{none_header}.{payload}.");
    vec![
        ("expired", expired),
        ("wrong issuer", wrong_issuer),
        ("wrong audience", wrong_audience),
        ("bad signature", bad_signature),
        ("alg none", alg_none),
        ("garbage", "not-a-token".to_string()),
    ]
}

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn assert_gate_401(status: u16, body: &Value, path: &str, what: &str) {
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["status"], 401, "{what}: {body}");
    assert_eq!(body["error"], "Unauthorized", "{what}: {body}");
    assert_eq!(body["path"], path, "{what}: {body}");
    assert!(body["timestamp"].is_number(), "{what}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn pipeline(name: &str) -> Value {
    json!({"application": "authapp", "name": name, "stages": [], "triggers": []})
}

#[tokio::test]
async fn with_tokens_required_bad_or_missing_tokens_are_401_and_write_nothing() {
    let app = spawn_requiring_tokens().await;
    let admin = app.bearer_with_roles("root", &["gennaker-local-admin"]);

    // The open routes need no token.
    for path in ["/version", "/health"] {
        let (status, body) = send(&app, Method::GET, path, None, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, body) = send(
        &app,
        Method::POST,
        "/webhooks/webhook/nobody-listens",
        None,
        Some(&json!({})),
    )
    .await;
    assert_ne!(status, 401, "webhook routes are open: {body}");

    // Missing token.
    let (status, body) = send(&app, Method::GET, "/applications", None, None).await;
    assert_gate_401(status, &body, "/applications", "missing token");
    let (status, body) = send(
        &app,
        Method::POST,
        "/pipelines",
        None,
        Some(&pipeline("missing")),
    )
    .await;
    assert_gate_401(status, &body, "/pipelines", "missing token");

    // Each bad token: 401, and the save it carried wrote nothing.
    for (what, token) in bad_tokens(&app) {
        let bearer = format!("Bearer {token}");
        let (status, body) = send(
            &app,
            Method::POST,
            "/pipelines",
            Some(&bearer),
            Some(&pipeline(what)),
        )
        .await;
        assert_gate_401(status, &body, "/pipelines", what);
    }
    let (status, saved) = send(
        &app,
        Method::GET,
        "/applications/authapp/pipelineConfigs",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, json!([]), "refused requests wrote nothing");

    // A good token: the user and roles are the token's, whatever headers claim. Saving
    // needs WRITE on a known application: the administrator creates authapp, unrestricted.
    let create = json!({"application": "authapp", "job": [{"type": "createApplication",
        "application": {"name": "authapp", "email": "team@example.com"}}]});
    let (status, body) = send(&app, Method::POST, "/tasks", Some(&admin), Some(&create)).await;
    assert_eq!(status, 200, "{body}");
    let alice = app.bearer_with_roles("alice", &["Dev", "ops"]);
    let request = app
        .http
        .get(app.url("/auth/user"))
        .header("authorization", &alice)
        .header("x-spinnaker-user", "root");
    let user: Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(user["username"], "alice");
    assert_eq!(user["roles"], json!(["dev", "ops"]));
    assert_eq!(user["admin"], false);
    let response = app
        .http
        .post(app.url("/pipelines"))
        .header("content-type", "application/json")
        .header("authorization", &alice)
        .header("x-spinnaker-user", "root")
        .body(pipeline("by alice").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (_, config) = send(
        &app,
        Method::GET,
        "/applications/authapp/pipelineConfigs/by%20alice",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(config["lastModifiedBy"], "alice", "{config}");
    app.stop().await;
}

#[tokio::test]
async fn by_default_a_request_without_a_token_is_the_local_administrator() {
    let app = TestApp::spawn().await;
    let (status, user) = app.get("/auth/user").await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "anonymous");
    assert_eq!(user["admin"], true, "{user}");
    // A token that is sent is still verified.
    for (what, token) in bad_tokens(&app) {
        let (status, body) = send(
            &app,
            Method::GET,
            "/applications",
            Some(&format!("Bearer {token}")),
            None,
        )
        .await;
        assert_gate_401(status, &body, "/applications", what);
    }
    let (status, user) = send(
        &app,
        Method::GET,
        "/auth/user",
        Some(&app.bearer("bob")),
        None,
    )
    .await;
    assert_eq!((status, user["username"].clone()), (200, json!("bob")));
    assert_eq!(user["admin"], false);
    app.stop().await;
}
