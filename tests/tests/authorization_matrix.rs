//! Every route of `/openapi.json` × {anonymous, reader, writer, executor, another
//! application's user, admin} × {restricted, unrestricted application}: each cell's
//! allow/deny is asserted, and lists are checked for what they show. The expectations are
//! this file's own table ([`NEEDS`]), written from Fiat's rules: a route added to the API
//! without a line here fails the test. Beyond the routes, the lists that gather several
//! applications (`/applications`, `/pipelineConfigs`, `/executions`, the search across
//! all applications and the UI's application list) are checked for what they show.
//!
//! One local instance serves every cell; the cells of different routes run concurrently
//! (those that delete go last, so that what the others look at still exists).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gennaker_local::{LocalAuth, LocalOptions};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;
use tokio::task::JoinSet;

/// What a route needs, for an application it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// No token.
    Open,
    /// A token; no application data is shown.
    SignedIn,
    /// A token; the answer is a list filtered to what the caller may READ.
    Listed,
    /// These permissions on the application (all of them).
    On(&'static [&'static str]),
}

use Need::*;

const READ: Need = On(&["READ"]);
const WRITE: Need = On(&["WRITE"]);
const EXECUTE: Need = On(&["EXECUTE"]);

/// Every route of the API and what it needs (Fiat's enforcement points).
const NEEDS: &[(&str, &str, Need)] = &[
    ("get", "/version", Open),
    ("get", "/health", Open),
    ("post", "/webhooks/{type}/{source}", Open),
    ("get", "/openapi.json", SignedIn),
    ("get", "/capabilities/expressions", SignedIn),
    ("get", "/auth/user", SignedIn),
    ("get", "/auth/user/serviceAccounts", SignedIn),
    ("get", "/credentials", SignedIn),
    ("get", "/credentials/{account}", SignedIn),
    ("get", "/credentials/type/{account_type}", SignedIn),
    ("get", "/cron/validate", SignedIn),
    ("get", "/webhooks/preconfigured", SignedIn),
    ("get", "/bakery/options", SignedIn),
    ("get", "/bakery/options/{cloud_provider}", SignedIn),
    (
        "get",
        "/bakery/options/{cloud_provider}/baseImages/{image_id}",
        SignedIn,
    ),
    ("get", "/v2/builds", SignedIn),
    ("get", "/v2/builds/{master}/jobs", SignedIn),
    ("get", "/v2/builds/{master}/builds/{job}", SignedIn),
    ("get", "/v2/builds/{master}/build/{number}/{job}", SignedIn),
    ("get", "/securityGroups", SignedIn),
    ("get", "/securityGroups/{account}", SignedIn),
    ("get", "/securityGroups/{account}/{region}/{name}", SignedIn),
    ("get", "/loadBalancers", SignedIn),
    ("get", "/loadBalancers/{name}", SignedIn),
    ("get", "/loadBalancers/{account}/{region}/{name}", SignedIn),
    ("get", "/instances/{account}/{region}/{id}", SignedIn),
    ("get", "/images/find", SignedIn),
    ("get", "/serverGroups", READ),
    ("get", "/applications", Listed),
    ("get", "/applications/{application}", READ),
    ("get", "/applications/{application}/history", READ),
    ("post", "/tasks", WRITE),
    ("post", "/applications/{application}/tasks", WRITE),
    ("get", "/applications/{application}/tasks", READ),
    ("get", "/tasks/{id}", READ),
    ("get", "/applications/{application}/tasks/{id}", READ),
    ("delete", "/tasks/{id}", WRITE),
    ("put", "/tasks/{id}/cancel", EXECUTE),
    ("put", "/tasks/cancel", EXECUTE),
    ("post", "/pipelines", WRITE),
    ("put", "/pipelines/{id}", WRITE),
    ("post", "/pipelines/bulksave", WRITE),
    ("get", "/applications/{application}/pipelineConfigs", READ),
    (
        "get",
        "/applications/{application}/pipelineConfigs/{name}",
        READ,
    ),
    ("delete", "/pipelines/{application}/{name_or_id}", WRITE),
    ("get", "/pipelineConfigs", Listed),
    ("get", "/pipelineConfigs/{id}/history", READ),
    ("get", "/pipelineConfigs/{id}/compatibility", READ),
    ("post", "/pipelines/import", WRITE),
    ("post", "/actions/pipelines/reorder", WRITE),
    ("post", "/actions/strategies/reorder", WRITE),
    ("post", "/strategies", WRITE),
    ("put", "/strategies/{id}", WRITE),
    ("delete", "/strategies/{application}/{name}", WRITE),
    ("get", "/applications/{application}/strategyConfigs", READ),
    (
        "get",
        "/applications/{application}/strategyConfigs/{name}",
        READ,
    ),
    ("get", "/strategyConfigs/{id}/history", READ),
    ("get", "/notifications/application/{application}", READ),
    ("post", "/notifications/application/{application}", WRITE),
    ("post", "/pipelines/{application}/{name_or_id}", EXECUTE),
    ("post", "/pipelines/v2/{application}/{name_or_id}", EXECUTE),
    ("post", "/pipelines/start", On(&["WRITE", "EXECUTE"])),
    ("get", "/pipelines/{id}", READ),
    ("delete", "/pipelines/{id}", WRITE),
    ("patch", "/pipelines/{id}/stages/{stage_id}", EXECUTE),
    ("put", "/pipelines/{id}/cancel", EXECUTE),
    (
        "put",
        "/applications/{application}/pipelines/{id}/cancel",
        EXECUTE,
    ),
    ("put", "/pipelines/{id}/pause", EXECUTE),
    // Pipelines named like an execution's sub-path: `{id}` is the application.
    ("post", "/pipelines/{id}/cancel", EXECUTE),
    ("delete", "/pipelines/{id}/cancel", WRITE),
    ("post", "/pipelines/{id}/pause", EXECUTE),
    ("delete", "/pipelines/{id}/pause", WRITE),
    ("post", "/pipelines/{id}/resume", EXECUTE),
    ("delete", "/pipelines/{id}/resume", WRITE),
    ("delete", "/pipelines/{id}/evaluateExpression", WRITE),
    ("put", "/pipelines/{id}/resume", EXECUTE),
    ("put", "/pipelines/{id}/stages/{stage_id}/restart", EXECUTE),
    ("get", "/pipelines/{id}/evaluateExpression", READ),
    ("post", "/pipelines/{id}/evaluateExpression", READ),
    ("get", "/pipelines/{id}/{stage_id}/evaluateExpression", READ),
    ("get", "/applications/{application}/pipelines", READ),
    ("get", "/executions", Listed),
    ("get", "/applications/{application}/executions/search", READ),
    ("get", "/applications/{application}/clusters", READ),
    (
        "get",
        "/applications/{application}/clusters/{account}",
        READ,
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}",
        READ,
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/serverGroups",
        READ,
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/serverGroups/{server_group}",
        READ,
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/{cloud_provider}/{region}/serverGroups/target/{target}",
        READ,
    ),
    ("get", "/applications/{application}/serverGroups", READ),
    (
        "get",
        "/applications/{application}/serverGroups/{account}/{region}/{server_group}",
        READ,
    ),
    ("get", "/applications/{application}/loadBalancers", READ),
];

/// A caller: its name, roles and whether it sends a token at all.
struct User {
    name: &'static str,
    roles: &'static [&'static str],
    token: bool,
}

const USERS: [User; 6] = [
    User {
        name: "anonymous",
        roles: &[],
        token: false,
    },
    User {
        name: "rita-reader",
        roles: &["readers"],
        token: true,
    },
    User {
        name: "walt-writer",
        roles: &["writers"],
        token: true,
    },
    User {
        name: "ed-executor",
        roles: &["executors"],
        token: true,
    },
    User {
        name: "olga-other",
        roles: &["other-team"],
        token: true,
    },
    User {
        name: "ada-admin",
        roles: &["gennaker-local-admin"],
        token: true,
    },
];

const ADMIN: usize = 5;

/// The permissions `user` holds on the restricted application (READ → readers, WRITE →
/// writers, EXECUTE → executors); everyone signed in holds all on the unrestricted one.
fn holds(user: &User, restricted: bool) -> BTreeSet<&'static str> {
    let all = ["READ", "WRITE", "EXECUTE", "CREATE"].into_iter().collect();
    if !user.token {
        return BTreeSet::new();
    }
    if !restricted || user.roles.contains(&"gennaker-local-admin") {
        return all;
    }
    let mut held = BTreeSet::new();
    for (role, permission) in [
        ("readers", "READ"),
        ("writers", "WRITE"),
        ("executors", "EXECUTE"),
    ] {
        if user.roles.contains(&role) {
            held.insert(permission);
        }
    }
    held
}

/// The ids of one application's fixtures.
struct Fixtures {
    application: &'static str,
    restricted: bool,
    pipeline_name: String,
    pipeline_id: String,
    strategy_name: String,
    strategy_id: String,
    execution_id: String,
    stage_id: String,
    task_id: String,
}

/// What every cell needs, shared by the concurrent tasks.
struct Matrix {
    http: reqwest::Client,
    base_url: String,
    /// The `Authorization` value of each of [`USERS`] (none for anonymous).
    tokens: Vec<Option<String>>,
    fixtures: Vec<Fixtures>,
    /// Requests in flight at most (a thousand at once overflow the listener's backlog).
    in_flight: tokio::sync::Semaphore,
}

impl Matrix {
    async fn send(
        &self,
        user: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, String) {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore stays open");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", "application/json");
        if let Some(token) = &self.tokens[user] {
            request = request.header("authorization", token);
        }
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn send_json(
        &self,
        user: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, text) = self.send(user, method, path, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, body) = self.send_json(ADMIN, method, path, body).await;
        assert!(status < 300, "{method} {path}: {status} {body}");
        body
    }

    async fn fixtures(&self, application: &'static str, restricted: bool) -> Fixtures {
        let permissions = if restricted {
            json!({"READ": ["readers"], "WRITE": ["writers"], "EXECUTE": ["executors"]})
        } else {
            json!({})
        };
        let task = self
            .admin(
                "post",
                "/tasks",
                Some(&json!({"application": application, "job": [{"type": "createApplication",
                "application": {"name": application, "email": "t@example.com", "permissions": permissions}}]})),
            )
            .await;
        let task_id = task["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/tasks/")
            .to_string();
        let config = json!({"application": application, "name": "ship",
            "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 1, "requisiteStageRefIds": []}],
            "triggers": []});
        self.admin("post", "/pipelines", Some(&config)).await;
        let stored = self
            .admin(
                "get",
                &format!("/applications/{application}/pipelineConfigs/ship"),
                None,
            )
            .await;
        let strategy =
            json!({"application": application, "name": "strat", "stages": [], "triggers": []});
        self.admin("post", "/strategies", Some(&strategy)).await;
        let stored_strategy = self
            .admin(
                "get",
                &format!("/applications/{application}/strategyConfigs/strat"),
                None,
            )
            .await;
        let started = self
            .admin(
                "post",
                &format!("/pipelines/{application}/ship"),
                Some(&json!({})),
            )
            .await;
        let execution_id = started["ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("/pipelines/")
            .to_string();
        let execution = self
            .admin("get", &format!("/pipelines/{execution_id}"), None)
            .await;
        Fixtures {
            application,
            restricted,
            pipeline_name: "ship".to_string(),
            pipeline_id: stored["id"].as_str().unwrap().to_string(),
            strategy_name: "strat".to_string(),
            strategy_id: stored_strategy["id"].as_str().unwrap().to_string(),
            execution_id,
            stage_id: execution["stages"][0]["id"].as_str().unwrap().to_string(),
            task_id,
        }
    }
}

/// Routes whose `{id}` is an application (a pipeline named like an execution sub-path).
fn id_is_application(method: &str, template: &str) -> bool {
    let sub_path = ["cancel", "pause", "resume", "evaluateExpression"]
        .iter()
        .any(|name| template == format!("/pipelines/{{id}}/{name}"));
    sub_path && (method == "delete" || (method == "post" && !template.ends_with("Expression")))
}

/// The concrete request for a route against one application's fixtures.
fn request_for(method: &str, template: &str, f: &Fixtures) -> (String, Option<Value>) {
    let id = if id_is_application(method, template) {
        f.application.to_string()
    } else if template.starts_with("/tasks/") || template.contains("/tasks/{id}") {
        f.task_id.clone()
    } else if template.starts_with("/pipelineConfigs/")
        || template == "/pipelines/{id}" && method == "put"
    {
        f.pipeline_id.clone()
    } else if template.starts_with("/strategyConfigs/") || template.starts_with("/strategies/{id}")
    {
        f.strategy_id.clone()
    } else if template.starts_with("/instances/") {
        "i-0123456789abcdef0".to_string()
    } else {
        f.execution_id.clone()
    };
    let name = if template.contains("strateg") {
        &f.strategy_name
    } else {
        &f.pipeline_name
    };
    let values: BTreeMap<&str, String> = [
        ("application", f.application.to_string()),
        ("id", id),
        ("name", name.clone()),
        ("name_or_id", f.pipeline_name.clone()),
        ("stage_id", f.stage_id.clone()),
        ("account", "default".to_string()),
        ("account_type", "aws".to_string()),
        ("region", "us-east-1".to_string()),
        ("cluster", f.application.to_string()),
        ("server_group", format!("{}-v000", f.application)),
        ("cloud_provider", "aws".to_string()),
        ("target", "current_asg".to_string()),
        ("image_id", "ami-1".to_string()),
        ("master", "nomaster".to_string()),
        ("job", "job".to_string()),
        ("number", "1".to_string()),
        ("type", "webhook".to_string()),
        ("source", "nobody".to_string()),
    ]
    .into_iter()
    .collect();
    let mut path = String::new();
    for segment in template.split('/').skip(1) {
        path.push('/');
        match segment
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some(variable) => path.push_str(&values[variable]),
            None => path.push_str(segment),
        }
    }
    let application = f.application;
    let query = match template {
        "/serverGroups" => format!("?applications={application}"),
        "/tasks/cancel" => format!("?ids={}", f.task_id),
        "/executions" => format!("?executionIds={}", f.execution_id),
        "/pipelines/{id}/evaluateExpression" | "/pipelines/{id}/{stage_id}/evaluateExpression"
            if method == "get" =>
        {
            "?expression=%24%7B1%7D".to_string()
        }
        "/cron/validate" => "?expression=0%200%2012%20*%20*%20%3F".to_string(),
        _ => String::new(),
    };
    let config = json!({"application": application, "name": f.pipeline_name, "id": f.pipeline_id,
        "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 1, "requisiteStageRefIds": []}],
        "triggers": []});
    let body = match (method, template) {
        ("post", "/tasks") | ("post", "/applications/{application}/tasks") => Some(json!({
            "application": application,
            "job": [{"type": "updateApplication", "application": {"name": application, "description": "touched"}}]})),
        ("post", "/pipelines") | ("put", "/pipelines/{id}") => Some(config.clone()),
        ("post", "/pipelines/bulksave") | ("post", "/pipelines/import") => Some(json!([config])),
        ("post", "/actions/pipelines/reorder") | ("post", "/actions/strategies/reorder") => {
            Some(json!({"application": application, "idsToIndices": {}}))
        }
        ("post", "/strategies") | ("put", "/strategies/{id}") => {
            Some(json!({"application": application,
            "name": f.strategy_name, "id": f.strategy_id, "stages": [], "triggers": []}))
        }
        ("post", "/pipelines/start") => {
            Some(json!({"application": application, "name": "adhoc", "stages": []}))
        }
        ("post", "/pipelines/{id}/evaluateExpression") => Some(json!({"expression": "${1}"})),
        ("patch", _) => Some(json!({"judgmentStatus": "continue"})),
        ("post", _) => Some(json!({})),
        _ => None,
    };
    (format!("{path}{query}"), body)
}

/// Whether a list answer shows the application's fixture.
fn list_shows(template: &str, body: &Value, f: &Fixtures) -> bool {
    let items = body.as_array().cloned().unwrap_or_default();
    items.iter().any(|item| match template {
        "/applications" => item["name"] == f.application,
        "/pipelineConfigs" => item["id"] == f.pipeline_id.as_str(),
        "/executions" => item["id"] == f.execution_id.as_str(),
        _ => item["application"] == f.application,
    })
}

/// What the cells of one route and one application found.
#[derive(Default)]
struct Findings {
    cells: usize,
    leaks: Vec<String>,
    refusals: Vec<String>,
    /// The slowest cell's time and request, to see where the run time goes.
    slowest: Option<(std::time::Duration, String)>,
}

impl Findings {
    fn add(&mut self, other: Findings) {
        self.cells += other.cells;
        self.leaks.extend(other.leaks);
        self.refusals.extend(other.refusals);
        if other.slowest > self.slowest {
            self.slowest = other.slowest;
        }
    }
}

/// Callers in the order a route's cells run: those to be refused first, since an allowed
/// DELETE removes what they would probe.
fn refused_first(need: Need, restricted: bool) -> Vec<usize> {
    let mut users: Vec<usize> = (0..USERS.len()).collect();
    users.sort_by_key(|user| match need {
        On(needed) => needed
            .iter()
            .all(|p| holds(&USERS[*user], restricted).contains(p)),
        _ => true,
    });
    users
}

/// The cells of one route on one application for `users`, one after the other.
async fn route_cells(
    matrix: Arc<Matrix>,
    (method, template, need): (&'static str, &'static str, Need),
    fixture: usize,
    users: Vec<usize>,
) -> Findings {
    let f = &matrix.fixtures[fixture];
    let mut findings = Findings::default();
    for user in users {
        let (path, body) = request_for(method, template, f);
        let sent = std::time::Instant::now();
        let (status, answer) = matrix.send_json(user, method, &path, body.as_ref()).await;
        let took = Some((sent.elapsed(), format!("{method} {path}")));
        if took > findings.slowest {
            findings.slowest = took;
        }
        findings.cells += 1;
        let cell = format!(
            "{} {path} as {} ({status}): {answer}",
            method.to_uppercase(),
            USERS[user].name
        );
        let held = holds(&USERS[user], f.restricted);
        let refused = status == 401 || status == 403;
        match need {
            Open => {
                if refused {
                    findings.refusals.push(cell);
                }
            }
            _ if !USERS[user].token => {
                if status != 401 {
                    findings.leaks.push(cell);
                }
            }
            SignedIn => {
                if refused {
                    findings.refusals.push(cell);
                }
            }
            Listed => {
                if status != 200 {
                    findings.refusals.push(cell);
                } else if list_shows(template, &answer, f) != held.contains("READ") {
                    if held.contains("READ") {
                        findings
                            .refusals
                            .push(format!("{cell} (missing from the list)"));
                    } else {
                        findings.leaks.push(format!("{cell} (listed)"));
                    }
                }
            }
            On(needed) => {
                let allowed = needed.iter().all(|permission| held.contains(permission));
                if allowed && refused {
                    findings.refusals.push(cell);
                } else if !allowed {
                    // Gate's error shape, naming the permission that is missing.
                    let names_permission = answer["message"]
                        .as_str()
                        .is_some_and(|m| needed.iter().any(|p| m.contains(p)));
                    let gate_shape = answer["status"] == 403 && answer["error"] == "Forbidden";
                    if status != 403 || !names_permission || !gate_shape {
                        findings.leaks.push(cell);
                    }
                }
            }
        }
    }
    findings
}

/// Lists that gather several applications, beyond `NEEDS`' own: the search across all
/// applications and the UI's application list show an application only to its readers.
async fn list_cells(matrix: Arc<Matrix>, user: usize, fixture: usize) -> Findings {
    let f = &matrix.fixtures[fixture];
    let reads = holds(&USERS[user], f.restricted).contains("READ");
    let mut findings = Findings::default();
    let (status, answer) = matrix
        .send_json(
            user,
            "get",
            "/applications/*/executions/search?size=100",
            None,
        )
        .await;
    findings.cells += 1;
    let cell = format!("search of * as {} ({status})", USERS[user].name);
    match (USERS[user].token, status, list_shows("search", &answer, f)) {
        (false, 401, _) => {}
        (true, 200, shown) if shown == reads => {}
        (true, 200, true) => findings
            .leaks
            .push(format!("{cell}: shows {}", f.application)),
        (false, _, _) => findings.leaks.push(cell),
        _ => findings.refusals.push(format!("{cell}: {answer}")),
    }
    let (status, page) = matrix.send(user, "get", "/ui/applications", None).await;
    findings.cells += 1;
    let shown = page.contains(&format!("/ui/applications/{}", f.application));
    let cell = format!("/ui/applications as {} ({status})", USERS[user].name);
    match (USERS[user].token, status) {
        (false, 401) => {}
        (true, 200) if shown == reads => {}
        (true, 200) if shown => findings
            .leaks
            .push(format!("{cell}: shows {}", f.application)),
        (false, _) => findings.leaks.push(cell),
        _ => findings.refusals.push(cell),
    }
    findings
}

#[tokio::test]
async fn every_route_for_every_kind_of_user_on_restricted_and_open_applications() {
    let app = TestApp::spawn_with(LocalOptions {
        auth: LocalAuth {
            require_token: true,
            issuer_dir: None,
        },
        ..LocalOptions::default()
    })
    .await;
    let tokens = USERS
        .iter()
        .map(|user| {
            user.token
                .then(|| app.bearer_with_roles(user.name, user.roles))
        })
        .collect();
    let mut matrix = Matrix {
        http: app.http.clone(),
        base_url: app.base_url.clone(),
        tokens,
        fixtures: vec![],
        in_flight: tokio::sync::Semaphore::new(16),
    };

    // The table covers exactly the documented routes.
    let (_, document) = matrix.send_json(ADMIN, "get", "/openapi.json", None).await;
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = NEEDS
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let unclassified: Vec<_> = documented.difference(&tabled).collect();
    assert!(
        unclassified.is_empty(),
        "routes without an expectation here: {unclassified:?}"
    );
    let stale: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "expectations for routes that are gone: {stale:?}"
    );

    let started = std::time::Instant::now();
    let restricted = matrix.fixtures("guarded", true).await;
    let open = matrix.fixtures("commons", false).await;
    matrix.fixtures = vec![restricted, open];
    let matrix = Arc::new(matrix);

    let mut findings = Findings::default();
    // Every cell but the DELETEs' at once; then each DELETE route's cells in order (those
    // refused first), the routes at once.
    for deleting in [false, true] {
        let mut cells = JoinSet::new();
        for &(method, template, need) in NEEDS {
            if (method == "delete") != deleting {
                continue;
            }
            for fixture in 0..matrix.fixtures.len() {
                let users = refused_first(need, matrix.fixtures[fixture].restricted);
                let route = (method, template, need);
                if deleting {
                    cells.spawn(route_cells(matrix.clone(), route, fixture, users));
                } else {
                    for user in users {
                        cells.spawn(route_cells(matrix.clone(), route, fixture, vec![user]));
                    }
                }
            }
        }
        if !deleting {
            for user in 0..USERS.len() {
                for fixture in 0..matrix.fixtures.len() {
                    cells.spawn(list_cells(matrix.clone(), user, fixture));
                }
            }
        }
        while let Some(found) = cells.join_next().await {
            findings.add(found.expect("cells run"));
        }
    }
    println!(
        "authorization matrix: {} cells, {} leaks, {} wrong refusals ({:.1} s with fixtures)",
        findings.cells,
        findings.leaks.len(),
        findings.refusals.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some((took, request)) = &findings.slowest {
        println!("slowest cell: {request} ({took:?})");
    }
    assert!(
        findings.leaks.is_empty(),
        "{} leaks:\n{}",
        findings.leaks.len(),
        findings.leaks.join("\n")
    );
    assert!(
        findings.refusals.is_empty(),
        "{} wrong refusals:\n{}",
        findings.refusals.len(),
        findings.refusals.join("\n")
    );
    app.stop().await;
}
