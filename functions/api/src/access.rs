//! Fiat's enforcement at every route: each route of the Gate router has a [`Rule`] in
//! [`RULES`], checked by [`enforce`] before the handler runs. A route without a rule is
//! refused (and a test fails), so a new route cannot be added without deciding who may
//! call it. The rules themselves are `gennaker_auth`'s pure model; this module finds the
//! application a request concerns (path, execution, task, config or body) and loads its
//! permissions.
//!
//! Lists (`/applications`, `/pipelineConfigs`, `/executions`) are filtered by their
//! handlers through [`Access`]: what a caller cannot READ never appears.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gennaker_auth::{Authorization, Permissions, Principal, Settings};
use gennaker_env::FunctionEnv;
use gennaker_model::ExecutionType;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Identity;

use Authorization::{Execute, Read, Write};

/// The largest body [`enforce`] reads to find the application it names.
const MAX_INSPECTED_BODY: usize = 16 * 1024 * 1024;

/// Which kind of config a [`Rule::SavedConfigs`] saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Pipeline,
    Strategy,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No token needed (`Auth: NONE` in the template); the probes and the webhook
    /// triggers, which their per-trigger secret protects.
    Open,
    /// Any signed-in caller: the route shows no application's data (capabilities,
    /// account lists, build masters, network and image lookups).
    SignedIn,
    /// The `{application}` path parameter's application.
    Application(Authorization),
    /// The application of the pipeline execution the `{id}` path parameter names.
    Execution(Authorization),
    /// The application of the orchestration task `{id}`; its own caller may always read it.
    Task(Authorization),
    /// The application of each task in the `ids` query parameter.
    TasksInQuery(Authorization),
    /// The application of the pipeline config `{id}`.
    PipelineConfig(Authorization),
    /// The application of the strategy config `{id}`.
    StrategyConfig(Authorization),
    /// The `application` of the JSON body.
    BodyApplication(Authorization),
    /// Pipeline (or strategy) configs being saved, one in the body or an array of them:
    /// WRITE on each one's `application` (bulk save's `?application=` stands in for a
    /// missing one), and WRITE on the application that holds a config of the same `id`
    /// now, since saving by id moves it.
    SavedConfigs(ConfigKind),
    /// Imported pipeline configs: WRITE on `?application=` when given (it replaces each
    /// config's own), else on each config's `application`. Import never takes over an id
    /// another application holds, so stored ids are not checked.
    ImportedConfigs,
    /// Application `{id}`: `POST`/`DELETE /pipelines/{application}/cancel` (and `pause`,
    /// `resume`, `evaluateExpression`) trigger or delete the pipeline of that name.
    IdAsApplication(Authorization),
    /// `POST /pipelines/{id}/evaluateExpression`: READ on execution `{id}`'s application
    /// when it exists, else EXECUTE on application `{id}` (it triggers the pipeline named
    /// `evaluateExpression`).
    EvaluateOrTrigger,
    /// The `{application}` path parameter, or, for `*`, every application: the handler
    /// filters to what the caller may READ.
    ApplicationOrAll(Authorization),
    /// The applications of the `applications` query parameter.
    QueryApplications(Authorization),
    /// Application tasks: CREATE rules for a new application, WRITE for an existing one.
    ApplicationTasks,
    /// A list the handler filters to what the caller may READ.
    FilteredList,
}

/// Every route of the Gate router with the rules a request must pass (all of them).
pub const RULES: &[(&str, &str, &[Rule])] = &[
    ("get", "/version", &[Rule::Open]),
    ("get", "/health", &[Rule::Open]),
    ("post", "/webhooks/{type}/{source}", &[Rule::Open]),
    ("get", "/openapi.json", &[Rule::SignedIn]),
    ("get", "/capabilities/expressions", &[Rule::SignedIn]),
    ("get", "/auth/user", &[Rule::SignedIn]),
    ("get", "/auth/user/serviceAccounts", &[Rule::SignedIn]),
    ("get", "/credentials", &[Rule::SignedIn]),
    ("get", "/credentials/{account}", &[Rule::SignedIn]),
    ("get", "/credentials/type/{account_type}", &[Rule::SignedIn]),
    ("get", "/cron/validate", &[Rule::SignedIn]),
    ("get", "/webhooks/preconfigured", &[Rule::SignedIn]),
    ("get", "/bakery/options", &[Rule::SignedIn]),
    ("get", "/bakery/options/{cloud_provider}", &[Rule::SignedIn]),
    (
        "get",
        "/bakery/options/{cloud_provider}/baseImages/{image_id}",
        &[Rule::SignedIn],
    ),
    ("get", "/v2/builds", &[Rule::SignedIn]),
    ("get", "/v2/builds/{master}/jobs", &[Rule::SignedIn]),
    (
        "get",
        "/v2/builds/{master}/builds/{*job}",
        &[Rule::SignedIn],
    ),
    (
        "get",
        "/v2/builds/{master}/build/{number}/{*job}",
        &[Rule::SignedIn],
    ),
    ("get", "/securityGroups", &[Rule::SignedIn]),
    ("get", "/securityGroups/{account}", &[Rule::SignedIn]),
    (
        "get",
        "/securityGroups/{account}/{region}/{name}",
        &[Rule::SignedIn],
    ),
    ("get", "/loadBalancers", &[Rule::SignedIn]),
    ("get", "/loadBalancers/{name}", &[Rule::SignedIn]),
    (
        "get",
        "/loadBalancers/{account}/{region}/{name}",
        &[Rule::SignedIn],
    ),
    (
        "get",
        "/instances/{account}/{region}/{id}",
        &[Rule::SignedIn],
    ),
    ("get", "/images/find", &[Rule::SignedIn]),
    ("get", "/serverGroups", &[Rule::QueryApplications(Read)]),
    // Applications and their tasks.
    ("get", "/applications", &[Rule::FilteredList]),
    (
        "get",
        "/applications/{application}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/history",
        &[Rule::Application(Read)],
    ),
    ("post", "/tasks", &[Rule::ApplicationTasks]),
    (
        "post",
        "/applications/{application}/tasks",
        &[Rule::ApplicationTasks],
    ),
    (
        "get",
        "/applications/{application}/tasks",
        &[Rule::Application(Read)],
    ),
    ("get", "/tasks/{id}", &[Rule::Task(Read)]),
    (
        "get",
        "/applications/{application}/tasks/{id}",
        &[Rule::Task(Read)],
    ),
    ("delete", "/tasks/{id}", &[Rule::Task(Write)]),
    ("put", "/tasks/{id}/cancel", &[Rule::Task(Execute)]),
    ("put", "/tasks/cancel", &[Rule::TasksInQuery(Execute)]),
    // Pipeline and strategy configs.
    (
        "post",
        "/pipelines",
        &[Rule::SavedConfigs(ConfigKind::Pipeline)],
    ),
    (
        "put",
        "/pipelines/{id}",
        &[
            Rule::PipelineConfig(Write),
            Rule::SavedConfigs(ConfigKind::Pipeline),
        ],
    ),
    (
        "post",
        "/pipelines/bulksave",
        &[Rule::SavedConfigs(ConfigKind::Pipeline)],
    ),
    ("post", "/pipelines/import", &[Rule::ImportedConfigs]),
    (
        "get",
        "/applications/{application}/pipelineConfigs",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/pipelineConfigs/{name}",
        &[Rule::Application(Read)],
    ),
    (
        "delete",
        "/pipelines/{application}/{name_or_id}",
        &[Rule::Application(Write)],
    ),
    ("get", "/pipelineConfigs", &[Rule::FilteredList]),
    (
        "get",
        "/pipelineConfigs/{id}/history",
        &[Rule::PipelineConfig(Read)],
    ),
    (
        "get",
        "/pipelineConfigs/{id}/compatibility",
        &[Rule::PipelineConfig(Read)],
    ),
    (
        "post",
        "/actions/pipelines/reorder",
        &[Rule::BodyApplication(Write)],
    ),
    (
        "post",
        "/actions/strategies/reorder",
        &[Rule::BodyApplication(Write)],
    ),
    (
        "post",
        "/strategies",
        &[Rule::SavedConfigs(ConfigKind::Strategy)],
    ),
    (
        "put",
        "/strategies/{id}",
        &[
            Rule::StrategyConfig(Write),
            Rule::SavedConfigs(ConfigKind::Strategy),
        ],
    ),
    (
        "delete",
        "/strategies/{application}/{name}",
        &[Rule::Application(Write)],
    ),
    (
        "get",
        "/applications/{application}/strategyConfigs",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/strategyConfigs/{name}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/strategyConfigs/{id}/history",
        &[Rule::StrategyConfig(Read)],
    ),
    (
        "get",
        "/notifications/application/{application}",
        &[Rule::Application(Read)],
    ),
    (
        "post",
        "/notifications/application/{application}",
        &[Rule::Application(Write)],
    ),
    // Executions.
    (
        "post",
        "/pipelines/{application}/{name_or_id}",
        &[Rule::Application(Execute)],
    ),
    (
        "post",
        "/pipelines/v2/{application}/{name_or_id}",
        &[Rule::Application(Execute)],
    ),
    // An ad hoc pipeline is a config and a run at once.
    (
        "post",
        "/pipelines/start",
        &[Rule::BodyApplication(Write), Rule::BodyApplication(Execute)],
    ),
    ("get", "/pipelines/{id}", &[Rule::Execution(Read)]),
    ("delete", "/pipelines/{id}", &[Rule::Execution(Write)]),
    (
        "patch",
        "/pipelines/{id}/stages/{stage_id}",
        &[Rule::Execution(Execute)],
    ),
    ("put", "/pipelines/{id}/cancel", &[Rule::Execution(Execute)]),
    // Pipelines named like an execution sub-path (see `routes::sub_paths`).
    (
        "post",
        "/pipelines/{id}/cancel",
        &[Rule::IdAsApplication(Execute)],
    ),
    (
        "delete",
        "/pipelines/{id}/cancel",
        &[Rule::IdAsApplication(Write)],
    ),
    (
        "post",
        "/pipelines/{id}/pause",
        &[Rule::IdAsApplication(Execute)],
    ),
    (
        "delete",
        "/pipelines/{id}/pause",
        &[Rule::IdAsApplication(Write)],
    ),
    (
        "post",
        "/pipelines/{id}/resume",
        &[Rule::IdAsApplication(Execute)],
    ),
    (
        "delete",
        "/pipelines/{id}/resume",
        &[Rule::IdAsApplication(Write)],
    ),
    (
        "delete",
        "/pipelines/{id}/evaluateExpression",
        &[Rule::IdAsApplication(Write)],
    ),
    (
        "put",
        "/applications/{application}/pipelines/{id}/cancel",
        &[Rule::Execution(Execute)],
    ),
    ("put", "/pipelines/{id}/pause", &[Rule::Execution(Execute)]),
    ("put", "/pipelines/{id}/resume", &[Rule::Execution(Execute)]),
    (
        "put",
        "/pipelines/{id}/stages/{stage_id}/restart",
        &[Rule::Execution(Execute)],
    ),
    (
        "get",
        "/pipelines/{id}/evaluateExpression",
        &[Rule::Execution(Read)],
    ),
    (
        "post",
        "/pipelines/{id}/evaluateExpression",
        &[Rule::EvaluateOrTrigger],
    ),
    (
        "get",
        "/pipelines/{id}/{stage_id}/evaluateExpression",
        &[Rule::Execution(Read)],
    ),
    (
        "get",
        "/applications/{application}/pipelines",
        &[Rule::Application(Read)],
    ),
    ("get", "/executions", &[Rule::FilteredList]),
    (
        "get",
        "/applications/{application}/executions/search",
        &[Rule::ApplicationOrAll(Read)],
    ),
    // Infrastructure of one application.
    (
        "get",
        "/applications/{application}/clusters",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/serverGroups",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/serverGroups/{server_group}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/{cloud_provider}/{region}/serverGroups/target/{target}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/serverGroups",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/serverGroups/{account}/{region}/{server_group}",
        &[Rule::Application(Read)],
    ),
    (
        "get",
        "/applications/{application}/loadBalancers",
        &[Rule::Application(Read)],
    ),
];

/// The rules of a route, by method and path template.
pub fn rules_of(method: &str, path: &str) -> Option<&'static [Rule]> {
    RULES
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map(|(_, _, rules)| *rules)
}

/// Fiat's switches, from the function's environment.
pub fn settings_from_env(env: &FunctionEnv) -> Settings {
    gennaker_auth::settings_from(|name| env.optional(name))
}

/// The application permissions a request has looked at, cached for the request.
#[derive(Clone)]
pub struct Access {
    pub identity: Identity,
    principal: Principal,
    settings: Arc<Settings>,
    state: AppState,
    /// `None` for an application Gennaker does not know.
    cache: Arc<Mutex<HashMap<String, Option<Permissions>>>>,
}

impl Access {
    pub fn new(state: &AppState, identity: Identity) -> Self {
        Self {
            principal: identity.principal(),
            identity,
            settings: state.fiat.clone(),
            state: state.clone(),
            cache: Arc::default(),
        }
    }

    /// The stored permissions of `application`, `None` when it is unknown.
    async fn permissions(&self, application: &str) -> Result<Option<Permissions>, ApiError> {
        let name = application.trim().to_lowercase();
        if let Some(known) = self.cache.lock().await.get(&name) {
            return Ok(known.clone());
        }
        let permissions = self
            .state
            .store
            .get_application(&name)
            .await?
            .map(|attributes| stored_permissions(&attributes));
        self.cache.lock().await.insert(name, permissions.clone());
        Ok(permissions)
    }

    /// Whether the caller holds `authorization` on `application`.
    pub async fn may(
        &self,
        application: &str,
        authorization: Authorization,
    ) -> Result<bool, ApiError> {
        if self.principal.admin {
            return Ok(true);
        }
        let permissions = self.permissions(application).await?;
        Ok(gennaker_auth::may_on_application(
            &self.principal,
            permissions.as_ref(),
            &self.settings,
            authorization,
        ))
    }

    /// A 403 unless the caller holds `authorization` on `application`.
    pub async fn require(
        &self,
        application: &str,
        authorization: Authorization,
    ) -> Result<(), ApiError> {
        if self.may(application, authorization).await? {
            Ok(())
        } else {
            Err(denied(&self.identity.user, application, authorization))
        }
    }

    /// Whether the caller may create the application `name`.
    pub fn may_create(&self) -> bool {
        gennaker_auth::may_create_application(&self.principal, &self.settings)
    }

    /// `items` without those whose application (per `application_of`) the caller may not READ.
    pub async fn readable<T>(
        &self,
        items: Vec<T>,
        application_of: impl Fn(&T) -> Option<String>,
    ) -> Result<Vec<T>, ApiError> {
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            let Some(application) = application_of(&item) else {
                if self.principal.admin {
                    kept.push(item);
                }
                continue;
            };
            if self.may(&application, Read).await? {
                kept.push(item);
            }
        }
        Ok(kept)
    }
}

/// A handler's [`Access`], made by [`enforce`] (or fresh for the caller's identity).
impl FromRequestParts<AppState> for Access {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(access) = parts.extensions.get::<Access>() {
            return Ok(access.clone());
        }
        let identity = Identity::from_request_parts(parts, state).await?;
        Ok(Access::new(state, identity))
    }
}

/// The permissions stored with an application's attributes (Front50's `permissions`).
pub use gennaker_auth::application_permissions as stored_permissions;

/// A 403 naming the permission that is missing.
pub fn denied(user: &str, application: &str, authorization: Authorization) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Access denied: {user} lacks {authorization} permission on application {application}"
        ),
    )
}

/// Middleware on the Gate router: checks the route's rules before its handler runs.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let identity = match Identity::from_request_parts(&mut parts, &state).await {
        Ok(identity) => identity,
        Err(never) => match never {},
    };
    let access = Access::new(&state, identity);
    let Some(route) = parts.extensions.get::<MatchedPath>().cloned() else {
        // No route matched: the fallback answers 404.
        return next.run(Request::from_parts(parts, body)).await;
    };
    // HEAD is answered by the GET handler, so it passes GET's rules.
    let method = if parts.method == axum::http::Method::HEAD {
        "get"
    } else {
        parts.method.as_str()
    };
    let Some(rules) = rules_of(method, route.as_str()) else {
        if RULES.iter().any(|(_, path, _)| *path == route.as_str()) {
            // A method the route does not serve: the router's answer, without running
            // anything.
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request method is not supported by this endpoint",
            )
            .into_response();
        }
        tracing::error!(method = %parts.method, route = route.as_str(), "a route without an access rule");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} {} has no access rule; refusing it",
                parts.method,
                route.as_str()
            ),
        )
        .into_response();
    };
    // Only the open routes serve callers without verified claims; API Gateway's authorizer
    // already refuses them elsewhere, this keeps a misconfigured deployment closed.
    if !access.identity.authenticated && !rules.contains(&Rule::Open) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a verified bearer token is required",
        )
        .into_response();
    }
    let needs_body = rules.iter().any(|rule| {
        matches!(
            rule,
            Rule::BodyApplication(_)
                | Rule::SavedConfigs(_)
                | Rule::ImportedConfigs
                | Rule::ApplicationTasks
        )
    });
    let (bytes, body) = if needs_body {
        match axum::body::to_bytes(body, MAX_INSPECTED_BODY).await {
            Ok(bytes) => (Some(bytes.clone()), Body::from(bytes)),
            Err(_) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is too large",
                )
                .into_response();
            }
        }
    } else {
        (None, body)
    };
    let path = match axum::extract::RawPathParams::from_request_parts(&mut parts, &state).await {
        Ok(params) => params
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        Err(rejection) => return rejection.into_response(),
    };
    let context = RequestFacts {
        path,
        query: parts.uri.query().unwrap_or_default().to_string(),
        body: bytes
            .as_deref()
            .and_then(|bytes| serde_json::from_slice(bytes).ok()),
    };
    for rule in rules {
        if let Err(error) = check(&access, *rule, &context).await {
            return error.into_response();
        }
    }
    parts.extensions.insert(access);
    next.run(Request::from_parts(parts, body)).await
}

/// What a rule may look at.
struct RequestFacts {
    path: HashMap<String, String>,
    query: String,
    body: Option<Value>,
}

async fn check(access: &Access, rule: Rule, facts: &RequestFacts) -> Result<(), ApiError> {
    match rule {
        Rule::Open | Rule::SignedIn | Rule::FilteredList => Ok(()),
        Rule::Application(authorization) => match facts.path.get("application") {
            Some(application) => access.require(application, authorization).await,
            None => Ok(()),
        },
        Rule::Execution(authorization) => {
            let Some(id) = facts.path.get("id") else {
                return Ok(());
            };
            match access.state.store.load_execution(id).await? {
                Some(stored) => {
                    access
                        .require(&stored.execution.application, authorization)
                        .await
                }
                // The handler answers 404.
                None => Ok(()),
            }
        }
        Rule::Task(authorization) => match facts.path.get("id") {
            Some(id) => check_task(access, id, authorization).await,
            None => Ok(()),
        },
        Rule::TasksInQuery(authorization) => {
            for id in query_list(&facts.query, "ids") {
                check_task(access, &id, authorization).await?;
            }
            Ok(())
        }
        Rule::PipelineConfig(authorization) => {
            let Some(id) = facts.path.get("id") else {
                return Ok(());
            };
            match access.state.store.find_pipeline_application(id).await? {
                Some(application) => access.require(&application, authorization).await,
                None => Ok(()),
            }
        }
        Rule::StrategyConfig(authorization) => {
            let Some(id) = facts.path.get("id") else {
                return Ok(());
            };
            match access.state.store.find_strategy_application(id).await? {
                Some(application) => access.require(&application, authorization).await,
                None => Ok(()),
            }
        }
        Rule::BodyApplication(authorization) => {
            match facts.body.as_ref().and_then(application_of) {
                Some(application) => access.require(&application, authorization).await,
                // The handler refuses a body without an application (400).
                None => Ok(()),
            }
        }
        Rule::SavedConfigs(kind) => check_saved_configs(access, kind, facts).await,
        Rule::ImportedConfigs => {
            let target = query_list(&facts.query, "application");
            let applications = if target.is_empty() {
                configs_in(facts.body.as_ref())
                    .filter_map(application_of)
                    .collect()
            } else {
                target
            };
            for application in &applications {
                access.require(application, Write).await?;
            }
            for config in configs_in(facts.body.as_ref()) {
                let application = application_of(config).or_else(|| applications.first().cloned());
                if let Some(application) = application {
                    check_run_as(access, config, &application).await?;
                }
            }
            Ok(())
        }
        Rule::IdAsApplication(authorization) => match facts.path.get("id") {
            Some(application) => access.require(application, authorization).await,
            None => Ok(()),
        },
        Rule::EvaluateOrTrigger => {
            let Some(id) = facts.path.get("id") else {
                return Ok(());
            };
            match access.state.store.load_execution(id).await? {
                Some(stored) => access.require(&stored.execution.application, Read).await,
                None => access.require(id, Execute).await,
            }
        }
        Rule::ApplicationOrAll(authorization) => match facts.path.get("application") {
            Some(application) if application != "*" => {
                access.require(application, authorization).await
            }
            _ => Ok(()),
        },
        Rule::QueryApplications(authorization) => {
            for application in query_list(&facts.query, "applications") {
                access.require(&application, authorization).await?;
            }
            Ok(())
        }
        Rule::ApplicationTasks => check_application_tasks(access, facts).await,
    }
}

/// The configs of a body: the object itself, or each object of an array.
fn configs_in(body: Option<&Value>) -> impl Iterator<Item = &Value> {
    let (one, many) = match body {
        Some(Value::Array(items)) => (None, items.as_slice()),
        Some(object @ Value::Object(_)) => (Some(object), &[][..]),
        _ => (None, &[][..]),
    };
    one.into_iter().chain(many)
}

async fn check_saved_configs(
    access: &Access,
    kind: ConfigKind,
    facts: &RequestFacts,
) -> Result<(), ApiError> {
    let fallback = query_list(&facts.query, "application").into_iter().next();
    for config in configs_in(facts.body.as_ref()) {
        // A config without an application is refused by the handler (400).
        if let Some(application) = application_of(config).or_else(|| fallback.clone()) {
            access.require(&application, Write).await?;
            if kind == ConfigKind::Pipeline {
                check_run_as(access, config, &application).await?;
            }
        }
        // An id no store key can hold is refused by the handler (400).
        let Some(id) = config
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= crate::routes::configs::MAX_ID_LENGTH)
        else {
            continue;
        };
        let store = &access.state.store;
        let holder = match kind {
            ConfigKind::Pipeline => store.find_pipeline_application(id).await?,
            ConfigKind::Strategy => store.find_strategy_application(id).await?,
        };
        if let Some(holder) = holder {
            access.require(&holder, Write).await?;
        }
    }
    Ok(())
}

/// Front50's check when a pipeline is saved: the saver may grant the pipeline's `roles`
/// (its managed service account) and may use every service account its triggers run as,
/// and each of those may EXECUTE the application. Administrators may name any.
async fn check_run_as(access: &Access, config: &Value, application: &str) -> Result<(), ApiError> {
    use gennaker_auth::service_accounts::{ServiceAccount, managed_pipeline_id, pipeline_roles};
    if access.principal.admin {
        return Ok(());
    }
    let user = &access.identity.user;
    let forbidden = |message: String| ApiError::new(StatusCode::FORBIDDEN, message);
    let roles = pipeline_roles(config.get("roles"));
    if !roles.is_empty() {
        let missing: Vec<&str> = roles
            .difference(&access.principal.roles)
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(forbidden(format!(
                "Access denied: {user} may not grant roles they do not hold to a pipeline (roles: {})",
                missing.join(", ")
            )));
        }
        // Every trigger will run as the pipeline's managed service account.
        return Ok(());
    }
    let triggers = config.get("triggers").and_then(Value::as_array);
    for (index, trigger) in triggers.into_iter().flatten().enumerate() {
        let Some(name) = trigger
            .get("runAsUser")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|name| !name.is_empty())
        else {
            continue;
        };
        let field = format!("triggers[{index}].runAsUser");
        let account =
            match managed_pipeline_id(name) {
                Some(pipeline_id) => (access.state.store.get_pipeline_by_id(pipeline_id).await?)
                    .map(|owner| ServiceAccount {
                        name: name.to_string(),
                        member_of: pipeline_roles(owner.document().get("roles")),
                    }),
                None => access.state.run_as.service_account(name).cloned(),
            };
        let Some(account) = account.filter(|account| account.usable_by(&access.principal)) else {
            return Err(forbidden(format!(
                "Access denied: {user} may not use service account {name} ({field})"
            )));
        };
        let principal = access.state.run_as.principal_of_account(&account);
        let permissions = access.permissions(application).await?;
        if !gennaker_auth::may_on_application(
            &principal,
            permissions.as_ref(),
            &access.settings,
            Execute,
        ) {
            return Err(forbidden(format!(
                "Access denied: service account {name} ({field}) lacks EXECUTE permission on application {application}"
            )));
        }
    }
    Ok(())
}

/// An orchestration task: its own caller may read it (spin polls the task that deleted
/// an application), everyone else needs `authorization` on its application.
async fn check_task(
    access: &Access,
    id: &str,
    authorization: Authorization,
) -> Result<(), ApiError> {
    let Some(stored) = access.state.store.load_execution(id).await? else {
        return Ok(());
    };
    let task = &stored.execution;
    let own = task.execution_type == ExecutionType::Orchestration
        && authorization == Read
        && access.identity.authenticated
        && task.authentication.user.as_deref() == Some(access.identity.user.as_str());
    if own {
        return Ok(());
    }
    access.require(&task.application, authorization).await
}

/// `createApplication` of an unknown application needs the right to create one; any job
/// on an existing application needs WRITE on it.
async fn check_application_tasks(access: &Access, facts: &RequestFacts) -> Result<(), ApiError> {
    let jobs = facts
        .body
        .as_ref()
        .and_then(|body| body.get("job"))
        .and_then(Value::as_array);
    let mut names: Vec<String> = jobs
        .into_iter()
        .flatten()
        .filter_map(|job| job.pointer("/application/name")?.as_str())
        .map(|name| name.trim().to_lowercase())
        .collect();
    if let Some(application) = facts.path.get("application") {
        names.push(application.trim().to_lowercase());
    }
    if let Some(application) = facts.body.as_ref().and_then(application_of) {
        names.push(application);
    }
    names.sort();
    names.dedup();
    for name in names {
        if access.permissions(&name).await?.is_some() {
            access.require(&name, Write).await?;
        } else if !access.may_create() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "Access denied: {} lacks CREATE permission for new applications ({name})",
                    access.identity.user
                ),
            ));
        }
    }
    Ok(())
}

/// The `application` a JSON object names, lower-cased.
fn application_of(value: &Value) -> Option<String> {
    value
        .get("application")
        .and_then(Value::as_str)
        .map(|name| name.trim().to_lowercase())
        .filter(|name| !name.is_empty())
}

/// A comma-separated query parameter.
fn query_list(query: &str, name: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_route_has_a_rule_and_every_rule_a_route() {
        let documented: std::collections::BTreeSet<(String, String)> =
            crate::routes::openapi::operations()
                .map(|(method, path)| (method.to_string(), path.to_string()))
                .collect();
        let ruled: std::collections::BTreeSet<(String, String)> = RULES
            .iter()
            .map(|(method, path, _)| (method.to_string(), path.to_string()))
            .collect();
        let unruled: Vec<_> = documented.difference(&ruled).collect();
        assert!(
            unruled.is_empty(),
            "routes without an access rule: {unruled:?}"
        );
        let unknown: Vec<_> = ruled.difference(&documented).collect();
        assert!(
            unknown.is_empty(),
            "rules for routes that do not exist: {unknown:?}"
        );
        assert_eq!(ruled.len(), RULES.len(), "one entry per route");
    }

    #[test]
    fn open_routes_are_exactly_the_templates_open_routes() {
        let open: Vec<(&str, &str)> = RULES
            .iter()
            .filter(|(_, _, rules)| rules.contains(&Rule::Open))
            .map(|(method, path, _)| (*method, *path))
            .collect();
        assert_eq!(open, crate::routes::openapi::OPEN_ROUTES.to_vec());
    }
}
