//! A service webhook stages call in tests (on 127.0.0.1): long-running jobs with a status
//! URL, flaky endpoints, fixed status codes, and a log of every request it received.
//!
//! * `POST /jobs/{name}?polls=N&final=STATE` starts a job that reports `RUNNING` for N status
//!   polls, then `STATE` (default `DONE`); answers 202 with `Location: /jobs/{name}` and a
//!   body `{"name", "links": {"status": "<absolute status URL>"}}`.
//! * `GET /jobs/{name}` reports `{"state", "message"}`; 404 for an unknown job.
//! * `POST /jobs/{name}/cancel` cancels the job (it then reports `CANCELED`).
//! * `POST /flaky/{name}?failures=N` answers 503 N times, then 200.
//! * `ANY /status/{code}` answers that status code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Value, json};

/// One request the target received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Job {
    polls_left: u32,
    final_state: String,
    canceled: bool,
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<String, Job>,
    flaky: HashMap<String, u32>,
    received: Vec<Received>,
}

#[derive(Clone)]
struct Shared {
    base: String,
    inner: Arc<Mutex<Inner>>,
}

pub struct WebhookTarget {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl WebhookTarget {
    pub async fn start() -> WebhookTarget {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = Shared {
            base: base.clone(),
            inner: inner.clone(),
        };
        let app = Router::new()
            .route("/jobs/{name}", post(start_job).get(job_status))
            .route("/jobs/{name}/cancel", post(cancel_job))
            .route("/flaky/{name}", post(flaky))
            .route("/status/{code}", any(fixed_status))
            .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebhookTarget { base, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The prefix to allow in `AllowedUrlPrefixes`.
    pub fn prefix(&self) -> String {
        format!("{}/", self.base)
    }

    /// Requests received on paths starting with `path_prefix`.
    pub fn received(&self, path_prefix: &str) -> Vec<Received> {
        self.inner
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }
}

async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let received = Received {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    shared.inner.lock().unwrap().received.push(received);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

async fn start_job(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let job = Job {
        polls_left: query.get("polls").and_then(|p| p.parse().ok()).unwrap_or(0),
        final_state: query.get("final").cloned().unwrap_or_else(|| "DONE".into()),
        canceled: false,
    };
    shared.inner.lock().unwrap().jobs.insert(name.clone(), job);
    let status_url = format!("{}/jobs/{name}", shared.base);
    (
        StatusCode::ACCEPTED,
        [("location", format!("/jobs/{name}"))],
        axum::Json(json!({"name": name, "links": {"status": status_url}})),
    )
        .into_response()
}

async fn job_status(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    let Some(job) = inner.jobs.get_mut(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body: Value = if job.canceled {
        json!({"state": "CANCELED", "message": "canceled"})
    } else if job.polls_left > 0 {
        job.polls_left -= 1;
        json!({"state": "RUNNING", "message": format!("{} polls to go", job.polls_left)})
    } else {
        json!({"state": job.final_state, "message": "finished"})
    };
    axum::Json(body).into_response()
}

async fn cancel_job(State(shared): State<Shared>, Path(name): Path<String>) -> StatusCode {
    match shared.inner.lock().unwrap().jobs.get_mut(&name) {
        Some(job) => {
            job.canceled = true;
            StatusCode::OK
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn flaky(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let failures: u32 = query
        .get("failures")
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    let mut inner = shared.inner.lock().unwrap();
    let calls = inner.flaky.entry(name).or_default();
    *calls += 1;
    if *calls <= failures {
        (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
    } else {
        axum::Json(json!({"ok": true, "calls": *calls})).into_response()
    }
}

async fn fixed_status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(json!({"status": code}))).into_response()
}
