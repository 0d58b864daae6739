//! The web UI (Spinnaker's Deck, server-rendered): HTML pages under `/ui`, built from the
//! same Gate routes API clients call (see [`gate`]), with one small script of our own that
//! polls page fragments while executions run. No build step: templates are `maud` macros
//! compiled into the binary; the stylesheet and script are embedded files.
//!
//! Security: every value is escaped by `maud`; the Content-Security-Policy allows only our
//! own script and style and no framing; every state-changing form is a POST that must come
//! from this origin and carry the token of its `SameSite=Strict` cookie (see [`protect`]).

mod applications;
mod config;
mod config_forms;
mod execution;
mod format;
mod gate;
mod graph;
mod infrastructure;
mod layout;
mod pipelines;
mod tasks;
mod viewer;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};

pub use gate::Gate;

/// The UI's prefix: no Gate path starts with it.
pub const PREFIX: &str = "/ui";
const CSRF_COOKIE: &str = "gennaker_csrf";
pub(crate) const CSRF_FIELD: &str = "_csrf";
/// Form posts are small; a pipeline JSON edit is the biggest (the API caps configs near 400 KB).
const MAX_FORM_BYTES: usize = 1024 * 1024;

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Adds `/` (browsers land on the UI, API clients keep Gate's answer) and `/ui/...` to the
/// Gate router. `state` decides what each page offers its caller (see [`viewer`]).
pub fn mount(gate: Router, state: crate::AppState) -> Router {
    let client = Gate::new(gate.clone());
    let pages = pages()
        .layer(axum::middleware::from_fn_with_state(state, viewer::attach))
        .with_state(client.clone());
    gate.route("/", any(root).with_state(client))
        .nest(PREFIX, pages)
}

fn pages() -> Router<Gate> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/applications") }))
        .route("/assets/ui.css", get(stylesheet))
        .route("/assets/ui.js", get(script))
        .route(
            "/applications",
            get(applications::list).post(applications::create),
        )
        .route("/applications/{application}", get(applications::open))
        .route(
            "/applications/{application}/pipelines",
            get(pipelines::page).post(pipelines::create_config),
        )
        .route(
            "/applications/{application}/pipelines/live",
            get(pipelines::live),
        )
        .route(
            "/applications/{application}/pipelines/{config_id}/start",
            post(pipelines::start),
        )
        .route(
            "/applications/{application}/configs/{config_id}",
            get(config::page).post(config::save),
        )
        .route(
            "/applications/{application}/configs/{config_id}/enabled",
            post(config::set_enabled),
        )
        .route(
            "/applications/{application}/configs/{config_id}/rename",
            post(config::rename),
        )
        .route(
            "/applications/{application}/configs/{config_id}/delete",
            post(config::delete),
        )
        .route(
            "/applications/{application}/configs/{config_id}/restore",
            post(config::restore),
        )
        .route(
            "/applications/{application}/configs/{config_id}/triggers",
            post(config_forms::save_triggers),
        )
        .route(
            "/applications/{application}/configs/{config_id}/parameters",
            post(config_forms::save_parameters),
        )
        .route(
            "/applications/{application}/configs/{config_id}/notifications",
            post(config_forms::save_notifications),
        )
        .route("/executions/{id}", get(execution::page))
        .route("/executions/{id}/live", get(execution::live))
        .route("/executions/{id}/cancel", post(execution::cancel))
        .route("/executions/{id}/pause", post(execution::pause))
        .route("/executions/{id}/resume", post(execution::resume))
        .route(
            "/executions/{id}/stages/{stage_id}/restart",
            post(execution::restart),
        )
        .route(
            "/executions/{id}/stages/{stage_id}/judgment",
            post(execution::judge),
        )
        .route(
            "/applications/{application}/clusters",
            get(infrastructure::clusters),
        )
        .route(
            "/applications/{application}/loadBalancers",
            get(infrastructure::load_balancers),
        )
        .route(
            "/applications/{application}/firewalls",
            get(infrastructure::firewalls),
        )
        .route("/applications/{application}/tasks", get(tasks::list))
        .route("/user", get(tasks::who_am_i))
        .fallback(|| async { layout::not_found("No such page.") })
        .layer(axum::middleware::from_fn(protect))
}

/// `/`: a browser (a GET asking for HTML) goes to the UI; anything else gets exactly what
/// the Gate router answers (its 404).
async fn root(State(gate): State<Gate>, request: Request) -> Response {
    let wants_html = request.method() == Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        Redirect::to("/ui/applications").into_response()
    } else {
        gate.forward(request).await
    }
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/ui.css"))
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/ui.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The token a page puts in its forms (the cookie's value).
#[derive(Debug, Clone)]
pub(crate) struct CsrfToken(pub String);

/// Security for every UI response and request: headers (CSP, no framing, no sniffing), the
/// CSRF cookie, and for POSTs the same-origin and token checks.
async fn protect(request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE).filter(|token| is_token(token));
    let https = served_over_https(&request);
    let token = existing
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let request = if request.method() == Method::POST {
        match checked_post(request, existing.as_deref()).await {
            Ok(request) => request,
            Err(refusal) => return secured(refusal, None, https),
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let response = next.run(request).await;
    secured(response, existing.is_none().then_some(token), https)
}

/// Whether the browser reached us over HTTPS: API Gateway says so in `X-Forwarded-Proto`
/// (the function itself is called over plain HTTP); local mode serves plain HTTP.
fn served_over_https(request: &Request) -> bool {
    request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// A POST from another site (no same-origin `Origin`) or without the page's token is refused.
async fn checked_post(request: Request, cookie_token: Option<&str>) -> Result<Request, Response> {
    let refuse = |reason: &str| {
        layout::error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            &format!("{reason} Reload the page and try again."),
        )
    };
    if !same_origin(request.headers()) {
        return Err(refuse("This form was not sent from this site."));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| refuse("The form is too large."))?;
    let sent = Fields::parse(&bytes).get(CSRF_FIELD).map(str::to_string);
    match (cookie_token, sent) {
        (Some(expected), Some(sent)) if expected == sent => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refuse("The form's security token is missing or stale.")),
    }
}

/// `Origin` names this host (browsers send it on every POST); without it, `Sec-Fetch-Site`
/// must say same-origin.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
        (None, _) => text("sec-fetch-site") == Some("same-origin"),
    }
}

/// The security headers of every UI response, and the CSRF cookie when it is new (`Secure`
/// whenever the page came over HTTPS, so the token never travels in clear afterwards).
fn secured(mut response: Response, new_token: Option<String>, https: bool) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(token) = new_token {
        let secure = if https { "; Secure" } else { "" };
        let cookie =
            format!("{CSRF_COOKIE}={token}; Path={PREFIX}; HttpOnly; SameSite=Strict{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn is_token(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// A submitted form's fields, in order (a name may repeat).
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &Bytes) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The field, trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_posts_pass() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8084"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8084"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.remove(header::ORIGIN);
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
    }

    /// State whose AWS clients point nowhere: these checks make no AWS call.
    pub(super) async fn offline_state(fiat: gennaker_auth::Settings) -> crate::AppState {
        let sdk = gennaker_runtime::aws::sdk_config(Some("http://127.0.0.1:9")).await;
        let config = crate::ApiConfig {
            applications_table: "a".into(),
            pipelines_table: "p".into(),
            executions_table: "e".into(),
            pipeline_state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:p"
                .into(),
            orchestration_queue_url: "http://127.0.0.1:9/queue.fifo".into(),
            execution_retention_days: 1,
            accounts: None,
            jenkins_masters: None,
            infrastructure_cache_seconds: 0,
            base_images: Default::default(),
            auth: Default::default(),
            fiat,
            run_as: Default::default(),
            preconfigured_webhooks: Default::default(),
        };
        crate::AppState::new(&sdk, config)
    }

    /// The UI over a stand-in for the Gate router (no AWS needed for these checks).
    async fn ui_with(fiat: gennaker_auth::Settings) -> Router {
        let gate = Router::new()
            .route(
                "/applications",
                get(|| async { axum::Json(serde_json::json!([])) }),
            )
            .fallback(|| async { (StatusCode::NOT_FOUND, "gate fallback") });
        mount(gate, offline_state(fiat).await)
    }

    async fn send(request: Request) -> Response {
        send_with(gennaker_auth::Settings::default(), request).await
    }

    async fn send_with(fiat: gennaker_auth::Settings, request: Request) -> Response {
        use tower::ServiceExt;
        ui_with(fiat)
            .await
            .oneshot(request)
            .await
            .expect("infallible")
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn browsers_at_the_root_go_to_the_ui_and_api_clients_keep_gates_answer() {
        let browser = Request::get("/")
            .header("accept", "text/html,*/*")
            .body(Body::empty());
        let response = send(browser.unwrap()).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()["location"], "/ui/applications");
        let client = Request::get("/")
            .header("accept", "application/json")
            .body(Body::empty());
        let response = send(client.unwrap()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body_text(response).await, "gate fallback");
        let post = Request::post("/")
            .header("accept", "text/html")
            .body(Body::empty());
        assert_eq!(send(post.unwrap()).await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn pages_carry_the_security_headers_and_the_token_cookie() {
        let response = send(
            Request::get("/ui/applications")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.starts_with("gennaker_csrf=") && cookie.contains("SameSite=Strict"));
        assert!(
            !cookie.contains("Secure"),
            "plain HTTP (local mode): {cookie}"
        );
        let token = cookie
            .trim_start_matches("gennaker_csrf=")
            .split(';')
            .next()
            .unwrap();
        let page = body_text(response).await;
        assert!(
            page.contains(token),
            "the create form carries the cookie's token"
        );
    }

    #[tokio::test]
    async fn behind_api_gateway_over_https_the_token_cookie_is_secure() {
        let response = send(
            Request::get("/ui/applications")
                .header("x-forwarded-proto", "https")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.ends_with("; Secure"), "{cookie}");
    }

    #[tokio::test]
    async fn posts_need_this_origin_and_the_cookies_token() {
        let token = "0123456789abcdef0123456789abcdef";
        let post = |origin: &str, cookie: &str, body: &str| {
            Request::post("/ui/applications")
                .header("host", "127.0.0.1:8084")
                .header("origin", origin)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let cookie = format!("gennaker_csrf={token}");
        let good_body = format!("_csrf={token}&name=");
        let cross_site = post("https://evil.example", &cookie, &good_body);
        assert_eq!(send(cross_site).await.status(), StatusCode::FORBIDDEN);
        let no_token = post("http://127.0.0.1:8084", &cookie, "name=x");
        assert_eq!(send(no_token).await.status(), StatusCode::FORBIDDEN);
        let wrong_token = post(
            "http://127.0.0.1:8084",
            "gennaker_csrf=ffffffffffffffffffffffffffffffff",
            &good_body,
        );
        assert_eq!(send(wrong_token).await.status(), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn unknown_ui_paths_are_html_not_found_pages() {
        let response = send(
            Request::get("/ui/nothing/here")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body_text(response).await.contains("Not found"));
    }

    /// An identity as `identity::establish` leaves it on the request.
    fn as_user(mut request: Request, user: &str, roles: &[&str], admin: bool) -> Request {
        request.extensions_mut().insert(crate::identity::Identity {
            user: user.to_string(),
            roles: roles.iter().map(|role| role.to_string()).collect(),
            admin,
            authenticated: true,
        });
        request
    }

    #[tokio::test]
    async fn the_header_shows_the_user_their_roles_and_admin() {
        let request = Request::get("/ui/applications")
            .body(Body::empty())
            .unwrap();
        let page =
            body_text(send(as_user(request, "ada@example.com", &["ops", "dev"], true)).await).await;
        let header = page
            .split("<header")
            .nth(1)
            .and_then(|rest| rest.split("</header>").next())
            .unwrap();
        assert!(header.contains("ada@example.com"), "{header}");
        assert!(header.contains("ops, dev"), "{header}");
        assert!(header.contains("ADMIN"), "{header}");
        let request = Request::get("/ui/nothing").body(Body::empty()).unwrap();
        let page = body_text(send(as_user(request, "bob", &[], false)).await).await;
        assert!(
            page.contains("bob") && !page.contains("ADMIN"),
            "error pages too"
        );
    }

    #[tokio::test]
    async fn create_application_is_offered_only_to_who_may_create() {
        let restricted = gennaker_auth::Settings {
            restrict_application_creation: true,
            creator_roles: ["creators".to_string()].into(),
            ..Default::default()
        };
        let page = |user: &'static str, roles: &'static [&'static str]| {
            let restricted = restricted.clone();
            async move {
                let request = Request::get("/ui/applications")
                    .body(Body::empty())
                    .unwrap();
                body_text(send_with(restricted, as_user(request, user, roles, false)).await).await
            }
        };
        let denied = page("rita", &["readers"]).await;
        assert!(!denied.contains("method=\"post\""), "{denied}");
        assert!(denied.contains("needs CREATE permission, which rita does not have"));
        let creator = page("cora", &["creators"]).await;
        assert!(
            creator.contains("method=\"post\" action=\"/ui/applications\""),
            "{creator}"
        );
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gennaker_csrf=abc; b=2"),
        );
        assert_eq!(cookie(&headers, CSRF_COOKIE).as_deref(), Some("abc"));
        assert!(!is_token("abc"));
        assert!(is_token(&"f".repeat(32)));
    }
}
