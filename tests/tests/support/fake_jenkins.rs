//! A Jenkins that speaks the JSON API Gennaker uses, on 127.0.0.1: basic authentication, a
//! crumb issuer whose crumb is bound to a session cookie, jobs (also in folders) that queue,
//! build and end with a scripted result, artifacts, stop and queue cancel. Jenkins is not
//! an AWS service, so a fake of it is fair game; it follows the real API's paths and shapes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const USER: &str = "gennaker";
pub const CRUMB: &str = "c0ffee";
const SESSION: &str = "JSESSIONID=node0abc";

/// How a job's builds go.
#[derive(Debug, Clone)]
pub struct JobScript {
    /// Queue polls before the build starts.
    pub queued_polls: u32,
    /// Build polls while it is building (`u32::MAX`: until stopped).
    pub building_polls: u32,
    pub result: &'static str,
    /// `(relativePath, content)`
    pub artifacts: Vec<(&'static str, &'static str)>,
}

impl JobScript {
    pub fn ending(result: &'static str) -> JobScript {
        JobScript {
            queued_polls: 1,
            building_polls: 1,
            result,
            artifacts: vec![],
        }
    }

    pub fn with_artifact(mut self, path: &'static str, content: &'static str) -> JobScript {
        self.artifacts.push((path, content));
        self
    }

    pub fn forever() -> JobScript {
        JobScript {
            queued_polls: 0,
            building_polls: u32::MAX,
            result: "SUCCESS",
            artifacts: vec![],
        }
    }
}

#[derive(Debug, Clone)]
struct Build {
    number: u64,
    polls_left: u32,
    result: Option<String>,
    stopped: bool,
    timestamp: i64,
}

#[derive(Debug, Clone)]
struct QueueItem {
    job: String,
    polls_left: u32,
    build: Option<u64>,
    cancelled: bool,
}

#[derive(Default)]
struct Inner {
    jobs: BTreeMap<String, JobScript>,
    builds: HashMap<String, Vec<Build>>,
    queue: HashMap<u64, QueueItem>,
    next_queue_id: u64,
    /// (job, parameters) of every trigger.
    triggers: Vec<(String, HashMap<String, String>)>,
    /// (job, number) of every stop.
    stops: Vec<(String, u64)>,
    /// POSTs refused for a missing or wrong crumb.
    refused_without_crumb: u32,
    /// Reads of each job's build list.
    build_list_reads: HashMap<String, u32>,
}

#[derive(Clone)]
struct Shared {
    base: String,
    token: String,
    inner: Arc<Mutex<Inner>>,
}

pub struct FakeJenkins {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeJenkins {
    pub async fn start(token: &str) -> FakeJenkins {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            next_queue_id: 100,
            ..Inner::default()
        }));
        let shared = Shared {
            base: base.clone(),
            token: token.to_string(),
            inner: inner.clone(),
        };
        let app = Router::new().fallback(dispatch).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeJenkins {
            base,
            token: token.to_string(),
            inner,
        }
    }

    pub fn add_job(&self, name: &str, script: JobScript) {
        self.inner
            .lock()
            .unwrap()
            .jobs
            .insert(name.to_string(), script);
    }

    /// The `JenkinsMasters` entry of this fake, named `name`, with its token given inline.
    pub fn master(&self, name: &str) -> Value {
        json!({"name": name, "address": self.base, "username": USER, "apiToken": self.token})
    }

    pub fn triggers(&self, job: &str) -> Vec<HashMap<String, String>> {
        let inner = self.inner.lock().unwrap();
        inner
            .triggers
            .iter()
            .filter(|(j, _)| j == job)
            .map(|(_, p)| p.clone())
            .collect()
    }

    pub fn stops(&self, job: &str) -> Vec<u64> {
        let inner = self.inner.lock().unwrap();
        inner
            .stops
            .iter()
            .filter(|(j, _)| j == job)
            .map(|(_, n)| *n)
            .collect()
    }

    /// A build that ran without Gennaker (a push, a timer) and ended with `result`; its
    /// number is the next of the job.
    pub fn add_finished_build(&self, job: &str, result: &str) -> u64 {
        let mut inner = self.inner.lock().unwrap();
        let builds = inner.builds.entry(job.to_string()).or_default();
        let number = builds.len() as u64 + 1;
        builds.push(Build {
            number,
            polls_left: 0,
            result: Some(result.to_string()),
            stopped: false,
            timestamp: 1_700_000_000_000 + number as i64,
        });
        number
    }

    /// How often the job's build list (`/job/{name}/api/json`) was read.
    pub fn build_list_reads(&self, job: &str) -> u32 {
        let inner = self.inner.lock().unwrap();
        inner.build_list_reads.get(job).copied().unwrap_or(0)
    }

    pub fn refused_without_crumb(&self) -> u32 {
        self.inner.lock().unwrap().refused_without_crumb
    }
}

async fn dispatch(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    if !authorized(&parts.headers, &shared.token) {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"Jenkins\"")],
        )
            .into_response();
    }
    let path = parts.uri.path().trim_matches('/').to_string();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if parts.method == Method::POST && !crumb_ok(&parts.headers) {
        shared.inner.lock().unwrap().refused_without_crumb += 1;
        return (
            StatusCode::FORBIDDEN,
            "No valid crumb was included in the request",
        )
            .into_response();
    }
    let segments: Vec<String> = path
        .split('/')
        .map(|s| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (parts.method.clone(), segments.as_slice()) {
        (Method::GET, ["crumbIssuer", "api", "json"]) => (
            [("set-cookie", format!("{SESSION}; Path=/; HttpOnly"))],
            axum::Json(json!({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": CRUMB, "crumbRequestField": "Jenkins-Crumb"})),
        )
            .into_response(),
        (Method::GET, ["api", "json"]) => list_jobs(&shared),
        (Method::GET, ["queue", "item", id, "api", "json"]) => queue_item(&shared, id),
        (Method::POST, ["queue", "cancelItem"]) => {
            let id: u64 = query.get("id").and_then(|i| i.parse().ok()).unwrap_or(0);
            let mut inner = shared.inner.lock().unwrap();
            match inner.queue.get_mut(&id) {
                Some(item) => {
                    item.cancelled = true;
                    StatusCode::NO_CONTENT.into_response()
                }
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        (method, ["job", rest @ ..]) => job_route(&shared, method, rest, &body),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let expected = format!(
        "Basic {}",
        base64_encode(format!("{USER}:{token}").as_bytes())
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn crumb_ok(headers: &HeaderMap) -> bool {
    let crumb = headers.get("jenkins-crumb").and_then(|v| v.to_str().ok());
    let cookie = headers.get("cookie").and_then(|v| v.to_str().ok());
    crumb == Some(CRUMB) && cookie.is_some_and(|c| c.contains(SESSION))
}

/// `a/job/b/<action...>` -> ("a/job/b", [action...]).
fn split_job<'a>(rest: &'a [&'a str]) -> (String, &'a [&'a str]) {
    let mut name = vec![rest[0]];
    let mut index = 1;
    while index + 1 < rest.len() && rest[index] == "job" {
        name.push(rest[index + 1]);
        index += 2;
    }
    (name.join("/job/"), &rest[index..])
}

fn job_route(shared: &Shared, method: Method, rest: &[&str], body: &Bytes) -> Response {
    if rest.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (job, action) = split_job(rest);
    let mut inner = shared.inner.lock().unwrap();
    let Some(script) = inner.jobs.get(&job).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match (method, action) {
        (Method::POST, ["build"]) | (Method::POST, ["buildWithParameters"]) => {
            let parameters: HashMap<String, String> =
                url::form_urlencoded::parse(body).into_owned().collect();
            inner.triggers.push((job.clone(), parameters));
            let id = inner.next_queue_id;
            inner.next_queue_id += 1;
            inner.queue.insert(
                id,
                QueueItem {
                    job: job.clone(),
                    polls_left: script.queued_polls,
                    build: None,
                    cancelled: false,
                },
            );
            (
                StatusCode::CREATED,
                [("location", format!("{}/queue/item/{id}/", shared.base))],
            )
                .into_response()
        }
        (Method::GET, ["api", "json"]) => {
            *inner.build_list_reads.entry(job.clone()).or_default() += 1;
            let builds: Vec<Value> = inner
                .builds
                .get(&job)
                .map(|builds| {
                    builds
                        .iter()
                        .rev()
                        .map(|b| build_json(&shared.base, &job, &script, b))
                        .collect()
                })
                .unwrap_or_default();
            axum::Json(json!({"name": job, "builds": builds})).into_response()
        }
        (Method::GET, [number, "api", "json"]) => {
            let number: u64 = number.parse().unwrap_or(0);
            let Some(build) = inner
                .builds
                .get_mut(&job)
                .and_then(|builds| builds.iter_mut().find(|b| b.number == number))
            else {
                return StatusCode::NOT_FOUND.into_response();
            };
            if build.result.is_none() {
                if build.polls_left == 0 {
                    build.result = Some(script.result.to_string());
                } else if build.polls_left != u32::MAX {
                    build.polls_left -= 1;
                }
            }
            axum::Json(build_json(&shared.base, &job, &script, build)).into_response()
        }
        (Method::GET, [number, "artifact", path @ ..]) => {
            let number: u64 = number.parse().unwrap_or(0);
            let exists = inner
                .builds
                .get(&job)
                .is_some_and(|builds| builds.iter().any(|b| b.number == number));
            let path = path.join("/");
            match script.artifacts.iter().find(|(p, _)| *p == path) {
                Some((_, content)) if exists => (*content).into_response(),
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
        (Method::POST, [number, "stop"]) => {
            let number: u64 = number.parse().unwrap_or(0);
            inner.stops.push((job.clone(), number));
            if let Some(build) = inner
                .builds
                .get_mut(&job)
                .and_then(|builds| builds.iter_mut().find(|b| b.number == number))
                && build.result.is_none()
            {
                build.stopped = true;
                build.result = Some("ABORTED".into());
            }
            // Jenkins redirects to the build page after a stop.
            (
                StatusCode::FOUND,
                [("location", format!("{}/job/{job}/{number}/", shared.base))],
            )
                .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn queue_item(shared: &Shared, id: &str) -> Response {
    let id: u64 = id.parse().unwrap_or(0);
    let mut inner = shared.inner.lock().unwrap();
    let Some(mut item) = inner.queue.get(&id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if item.build.is_none() && !item.cancelled {
        if item.polls_left > 0 {
            item.polls_left -= 1;
        } else {
            let script = inner.jobs[&item.job].clone();
            let builds = inner.builds.entry(item.job.clone()).or_default();
            let number = builds.len() as u64 + 1;
            builds.push(Build {
                number,
                polls_left: script.building_polls,
                result: None,
                stopped: false,
                timestamp: 1_700_000_000_000 + number as i64,
            });
            item.build = Some(number);
        }
        inner.queue.insert(id, item.clone());
    }
    let executable = item.build.map(|number| {
        json!({"number": number, "url": format!("{}/job/{}/{number}/", shared.base, item.job)})
    });
    axum::Json(json!({
        "_class": "hudson.model.Queue$Item", "id": id, "cancelled": item.cancelled,
        "why": if executable.is_none() { json!("Waiting for next available executor") } else { Value::Null },
        "executable": executable,
    }))
    .into_response()
}

fn build_json(base: &str, job: &str, script: &JobScript, build: &Build) -> Value {
    let finished = build.result.is_some();
    let artifacts: Vec<Value> = if finished && !build.stopped {
        script
            .artifacts
            .iter()
            .map(|(path, _)| {
                let file = path.rsplit('/').next().unwrap_or(path);
                json!({"displayPath": file, "fileName": file, "relativePath": path})
            })
            .collect()
    } else {
        vec![]
    };
    json!({
        "_class": "hudson.model.FreeStyleBuild",
        "number": build.number,
        "building": !finished,
        "result": build.result,
        "duration": if finished { 1234 } else { 0 },
        "timestamp": build.timestamp,
        "fullDisplayName": format!("{job} #{}", build.number),
        "url": format!("{base}/job/{job}/{}/", build.number),
        "artifacts": artifacts,
    })
}

fn list_jobs(shared: &Shared) -> Response {
    let inner = shared.inner.lock().unwrap();
    // Top-level jobs, and jobs in folders ("folder/job/child") under their folder.
    let mut top: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plain = Vec::new();
    for name in inner.jobs.keys() {
        match name.split_once("/job/") {
            Some((folder, child)) => top
                .entry(folder.to_string())
                .or_default()
                .push(child.to_string()),
            None => plain.push(name.clone()),
        }
    }
    let mut jobs: Vec<Value> = plain.into_iter().map(|n| json!({"name": n})).collect();
    for (folder, children) in top {
        let children: Vec<Value> = children.into_iter().map(|c| json!({"name": c})).collect();
        jobs.push(json!({"_class": "com.cloudbees.hudson.plugins.folder.Folder", "name": folder, "jobs": children}));
    }
    axum::Json(json!({"jobs": jobs})).into_response()
}

fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
