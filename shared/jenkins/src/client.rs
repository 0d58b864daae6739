//! The Jenkins JSON API calls Igor makes: trigger a job (with the CSRF crumb when the master
//! issues one), follow the queue item to its build, read builds and artifacts, stop builds,
//! list jobs. Every URL is built from the configured master address; URLs that Jenkins
//! returns are never followed, only parsed for ids.
//!
//! Job names follow Igor: a job in a folder is `folder/job/child`, i.e. the path after the
//! first `job/` of its URL.

use gennaker_outbound::{Method, Outbound, OutboundError, OutboundResponse, UrlRules};
use reqwest::RequestBuilder;
use serde_json::{Map, Value, json};

use crate::masters::{Master, Masters};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JenkinsError {
    #[error("unknown Jenkins master '{name}' (configured: {known})")]
    UnknownMaster { name: String, known: String },
    /// 404: no such job, build, queue item or artifact.
    #[error("{0}")]
    NotFound(String),
    /// Jenkins refused the call (401/403), the URL rules refused it, or the answer is not
    /// what the API promises. Not worth retrying.
    #[error("{0}")]
    Refused(String),
    /// No answer or a 5xx: worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

impl JenkinsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, JenkinsError::Unavailable(_))
    }
}

/// A queue item as Jenkins reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    /// The build number once the item left the queue.
    pub build_number: Option<u64>,
    pub cancelled: bool,
    pub why: Option<String>,
}

/// Jenkins masters and the client that calls them.
#[derive(Clone, Debug)]
pub struct Jenkins {
    masters: Masters,
    outbound: Outbound,
}

impl Jenkins {
    /// `rules` are the deployment's outbound rules; every master address is trusted on top.
    pub fn new(masters: Masters, mut rules: UrlRules) -> Jenkins {
        for master in masters.all() {
            rules
                .trust_prefix(&master.address)
                .expect("master addresses are validated http(s) URLs");
        }
        Jenkins {
            masters,
            outbound: Outbound::new(rules),
        }
    }

    pub fn masters(&self) -> &Masters {
        &self.masters
    }

    pub fn master(&self, name: &str) -> Result<&Master, JenkinsError> {
        self.masters
            .get(name)
            .ok_or_else(|| JenkinsError::UnknownMaster {
                name: name.to_string(),
                known: match self.masters.names() {
                    names if names.is_empty() => "none".to_string(),
                    names => names.join(", "),
                },
            })
    }

    /// Triggers `job` (`buildWithParameters` when there are parameters, else `build`) and
    /// returns the id of its queue item.
    pub async fn trigger(
        &self,
        master: &Master,
        job: &str,
        parameters: &Map<String, Value>,
    ) -> Result<u64, JenkinsError> {
        let (action, form): (&str, Vec<(String, String)>) = if parameters.is_empty() {
            ("build", vec![])
        } else {
            (
                "buildWithParameters",
                parameters
                    .iter()
                    .map(|(name, value)| (name.clone(), parameter_text(value)))
                    .collect(),
            )
        };
        let path = format!("{}/{action}", job_path(job));
        let response = self
            .post(master, &path, |request| request.form(&form))
            .await?;
        let what = format!("triggering job {job} on {}", master.name);
        expect_success(&response, &what)?;
        let location = response.header("location").ok_or_else(|| {
            JenkinsError::Refused(format!("{what}: Jenkins answered without a queue location"))
        })?;
        queue_id_of(location).ok_or_else(|| {
            JenkinsError::Refused(format!(
                "{what}: the queue location '{location}' names no queue item"
            ))
        })
    }

    pub async fn queue_item(&self, master: &Master, id: u64) -> Result<QueueItem, JenkinsError> {
        let what = format!("reading queue item {id} on {}", master.name);
        let body = self
            .get_json(master, &format!("queue/item/{id}/api/json"), &what)
            .await?;
        Ok(QueueItem {
            build_number: body
                .get("executable")
                .and_then(|e| e.get("number"))
                .and_then(Value::as_u64),
            cancelled: body.get("cancelled").and_then(Value::as_bool) == Some(true),
            why: body.get("why").and_then(Value::as_str).map(str::to_string),
        })
    }

    /// A build as Igor's `GenericBuild` (what `buildInfo` holds).
    pub async fn build(
        &self,
        master: &Master,
        job: &str,
        number: u64,
    ) -> Result<Value, JenkinsError> {
        let what = format!("reading build {job} #{number} on {}", master.name);
        let body = self
            .get_json(
                master,
                &format!("{}/{number}/api/json", job_path(job)),
                &what,
            )
            .await?;
        Ok(generic_build(job, &body))
    }

    /// The builds of a job, newest first, as Igor lists them.
    pub async fn builds(&self, master: &Master, job: &str) -> Result<Vec<Value>, JenkinsError> {
        let what = format!("listing builds of {job} on {}", master.name);
        let tree = "builds[number,url,result,building,duration,timestamp,fullDisplayName,displayName,artifacts[fileName,relativePath,displayPath]]";
        let body = self
            .get_json(
                master,
                &format!("{}/api/json?tree={tree}", job_path(job)),
                &what,
            )
            .await?;
        Ok(body
            .get("builds")
            .and_then(Value::as_array)
            .map(|builds| builds.iter().map(|b| generic_build(job, b)).collect())
            .unwrap_or_default())
    }

    /// Every job name of the master, folders walked (`folder/job/child`).
    pub async fn jobs(&self, master: &Master) -> Result<Vec<String>, JenkinsError> {
        let what = format!("listing jobs on {}", master.name);
        let tree = "jobs[name,jobs[name,jobs[name,jobs[name]]]]";
        let body = self
            .get_json(master, &format!("api/json?tree={tree}"), &what)
            .await?;
        let mut names = Vec::new();
        collect_jobs(&body, "", &mut names);
        names.sort();
        Ok(names)
    }

    /// The text of a build artifact (`relativePath` as the build lists it).
    pub async fn artifact(
        &self,
        master: &Master,
        job: &str,
        number: u64,
        relative_path: &str,
    ) -> Result<String, JenkinsError> {
        let what = format!(
            "reading {relative_path} of {job} #{number} on {}",
            master.name
        );
        let encoded: Vec<String> = relative_path.split('/').map(encode_segment).collect();
        let path = format!("{}/{number}/artifact/{}", job_path(job), encoded.join("/"));
        let response = self.get(master, &path).await?;
        expect_success(&response, &what)?;
        Ok(response.text())
    }

    pub async fn stop_build(
        &self,
        master: &Master,
        job: &str,
        number: u64,
    ) -> Result<(), JenkinsError> {
        let path = format!("{}/{number}/stop", job_path(job));
        let response = self.post(master, &path, |request| request).await?;
        // Jenkins answers a stop with a redirect to the build page.
        if response.status >= 400 && response.status != 404 {
            expect_success(
                &response,
                &format!("stopping {job} #{number} on {}", master.name),
            )?;
        }
        Ok(())
    }

    pub async fn cancel_queue_item(&self, master: &Master, id: u64) -> Result<(), JenkinsError> {
        let path = format!("queue/cancelItem?id={id}");
        let response = self.post(master, &path, |request| request).await?;
        if response.status >= 400 && response.status != 404 {
            expect_success(
                &response,
                &format!("canceling queue item {id} on {}", master.name),
            )?;
        }
        Ok(())
    }

    async fn get_json(
        &self,
        master: &Master,
        path: &str,
        what: &str,
    ) -> Result<Value, JenkinsError> {
        let response = self.get(master, path).await?;
        expect_success(&response, what)?;
        response
            .json()
            .ok_or_else(|| JenkinsError::Refused(format!("{what}: Jenkins answered with no JSON")))
    }

    async fn get(&self, master: &Master, path: &str) -> Result<OutboundResponse, JenkinsError> {
        let request = self.request(master, Method::GET, path).await?;
        self.outbound.send(request).await.map_err(from_outbound)
    }

    /// A POST with the master's CSRF crumb (and its session cookie) when it issues one.
    async fn post(
        &self,
        master: &Master,
        path: &str,
        body: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<OutboundResponse, JenkinsError> {
        let crumb = self.crumb(master).await?;
        let mut request = self.request(master, Method::POST, path).await?;
        if let Some((field, value, cookies)) = crumb {
            request = request.header(field, value);
            if !cookies.is_empty() {
                request = request.header("cookie", cookies);
            }
        }
        self.outbound
            .send(body(request))
            .await
            .map_err(from_outbound)
    }

    /// `(header, crumb, cookies)` from the crumb issuer; `None` when the master has none.
    async fn crumb(
        &self,
        master: &Master,
    ) -> Result<Option<(String, String, String)>, JenkinsError> {
        let response = self.get(master, "crumbIssuer/api/json").await?;
        if response.status == 404 {
            return Ok(None);
        }
        expect_success(
            &response,
            &format!("reading the CSRF crumb of {}", master.name),
        )?;
        let body = response.json().unwrap_or(Value::Null);
        let (Some(field), Some(crumb)) = (
            body.get("crumbRequestField").and_then(Value::as_str),
            body.get("crumb").and_then(Value::as_str),
        ) else {
            return Err(JenkinsError::Refused(format!(
                "the crumb issuer of {} answered without a crumb",
                master.name
            )));
        };
        let cookies: Vec<String> = response
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|cookie| cookie.split(';').next())
            .map(str::to_string)
            .collect();
        Ok(Some((
            field.to_string(),
            crumb.to_string(),
            cookies.join("; "),
        )))
    }

    async fn request(
        &self,
        master: &Master,
        method: Method,
        path: &str,
    ) -> Result<RequestBuilder, JenkinsError> {
        let url = format!("{}{path}", master.address);
        let mut request = self.outbound.request(method, &url).map_err(from_outbound)?;
        let credentials = self
            .masters
            .credentials(master)
            .await
            .map_err(JenkinsError::Refused)?;
        if let Some((user, token)) = credentials {
            request = request.basic_auth(user, Some(token));
        }
        Ok(request)
    }
}

/// `folder/job/child` -> `job/folder/job/child`, each segment percent-encoded.
pub fn job_path(job: &str) -> String {
    let segments: Vec<String> = job
        .trim_matches('/')
        .split('/')
        .map(encode_segment)
        .collect();
    format!("job/{}", segments.join("/"))
}

fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `.../queue/item/42/` -> 42.
fn queue_id_of(location: &str) -> Option<u64> {
    let path = location.split(['?', '#']).next()?;
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let id = parts.next()?.parse().ok()?;
    (parts.next() == Some("item")).then_some(id)
}

fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn collect_jobs(node: &Value, prefix: &str, names: &mut Vec<String>) {
    let Some(jobs) = node.get("jobs").and_then(Value::as_array) else {
        return;
    };
    for job in jobs {
        let Some(name) = job.get("name").and_then(Value::as_str) else {
            continue;
        };
        let full = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/job/{name}")
        };
        if job.get("jobs").and_then(Value::as_array).is_some() {
            collect_jobs(job, &full, names);
        } else {
            names.push(full);
        }
    }
}

/// Igor's `GenericBuild` from Jenkins' build JSON.
fn generic_build(job: &str, build: &Value) -> Value {
    let artifacts: Vec<Value> = build
        .get("artifacts")
        .and_then(Value::as_array)
        .map(|artifacts| {
            artifacts
                .iter()
                .map(|a| {
                    json!({
                        "fileName": a.get("fileName"),
                        "displayPath": a.get("displayPath"),
                        "relativePath": a.get("relativePath"),
                        "name": job,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "building": build.get("building").and_then(Value::as_bool).unwrap_or(false),
        "fullDisplayName": build.get("fullDisplayName"),
        "name": job,
        "number": build.get("number"),
        "duration": build.get("duration"),
        "timestamp": build.get("timestamp").map(|t| match t {
            Value::Number(n) => Value::String(n.to_string()),
            other => other.clone(),
        }),
        "result": build.get("result").cloned().unwrap_or(Value::Null),
        "url": build.get("url"),
        "artifacts": artifacts,
    })
}

fn expect_success(response: &OutboundResponse, what: &str) -> Result<(), JenkinsError> {
    match response.status {
        200..=399 => Ok(()),
        404 => Err(JenkinsError::NotFound(format!(
            "{what}: Jenkins answered 404 Not Found"
        ))),
        401 | 403 => Err(JenkinsError::Refused(format!(
            "{what}: Jenkins refused the credentials ({})",
            response.status
        ))),
        status if status >= 500 => Err(JenkinsError::Unavailable(format!(
            "{what}: Jenkins answered {status}"
        ))),
        status => Err(JenkinsError::Refused(format!(
            "{what}: Jenkins answered {status}"
        ))),
    }
}

fn from_outbound(error: OutboundError) -> JenkinsError {
    if error.is_retryable() {
        JenkinsError::Unavailable(error.to_string())
    } else {
        JenkinsError::Refused(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_follow_igor() {
        assert_eq!(job_path("build"), "job/build");
        assert_eq!(job_path("folder/job/child"), "job/folder/job/child");
        assert_eq!(job_path("my job"), "job/my%20job");
    }

    #[test]
    fn queue_ids_come_from_the_location() {
        assert_eq!(
            queue_id_of("http://ci.example.com/queue/item/42/"),
            Some(42)
        );
        assert_eq!(queue_id_of("/queue/item/7"), Some(7));
        assert_eq!(queue_id_of("http://ci.example.com/job/x/"), None);
    }

    #[test]
    fn jobs_in_folders_are_named_like_igor() {
        let tree = json!({"jobs": [
            {"name": "a"},
            {"name": "f", "jobs": [{"name": "b"}, {"name": "g", "jobs": [{"name": "c"}]}]}
        ]});
        let mut names = Vec::new();
        collect_jobs(&tree, "", &mut names);
        assert_eq!(names, ["a", "f/job/b", "f/job/g/job/c"]);
    }

    #[test]
    fn builds_take_igors_shape() {
        let build = generic_build(
            "app",
            &json!({"number": 3, "building": false, "result": "SUCCESS", "timestamp": 1700000000000_i64,
                    "artifacts": [{"fileName": "b.properties", "relativePath": "out/b.properties"}]}),
        );
        assert_eq!(build["timestamp"], "1700000000000");
        assert_eq!(build["name"], "app");
        assert_eq!(build["artifacts"][0]["relativePath"], "out/b.properties");
    }
}
