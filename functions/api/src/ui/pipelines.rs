//! Application → Pipelines: every pipeline config with its newest executions drawn as bars
//! of stage segments, a Start form per config built from its `parameterConfig`, filters by
//! status and pipeline, and a live part the script re-polls while anything runs.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gennaker_model::Execution;
use gennaker_model::json::now_millis;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::applications::{known_application, tabs};
use super::gate::{Caller, Gate, GateError, segment};
use super::layout::{self, Tab};
use super::viewer::{self, Allowed};
use super::{CsrfToken, Fields, format};
use crate::access::Access;
use gennaker_auth::Authorization;

/// Executions shown per config at first (Deck shows 2); "Load more" adds twice as many. Three
/// keep the page of a 50-pipeline application within its 150 KB budget.
const PAGE_SIZE: usize = 3;
const MAX_SHOWN: usize = 100;
/// The status filter's choices (Deck's execution filters).
const STATUS_FILTERS: [(&str, &str); 5] = [
    ("", "All statuses"),
    ("RUNNING,PAUSED,SUSPENDED,NOT_STARTED,BUFFERED", "Running"),
    ("SUCCEEDED", "Succeeded"),
    ("TERMINAL,FAILED_CONTINUE,STOPPED", "Failed"),
    ("CANCELED", "Canceled"),
];

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    pipeline: String,
    #[serde(default)]
    shown: Option<usize>,
}

impl ListQuery {
    fn shown(&self) -> usize {
        self.shown.unwrap_or(PAGE_SIZE).clamp(1, MAX_SHOWN)
    }

    fn statuses(&self) -> &str {
        STATUS_FILTERS
            .iter()
            .map(|(value, _)| *value)
            .find(|value| *value == self.status)
            .unwrap_or("")
    }

    fn query_string(&self, shown: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("status", self.statuses());
        query.append_pair("pipeline", &self.pipeline);
        query.append_pair("shown", &shown.to_string());
        query.finish()
    }
}

/// A refused Start or create, shown on the page it came from.
#[derive(Debug, Default)]
struct Refusal {
    config_id: String,
    message: String,
    values: Map<String, Value>,
}

/// `GET /ui/applications/{application}/pipelines`
pub async fn page(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path(application): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    render(&gate, &headers, &token, &access, &application, &query, None).await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    gate: &Gate,
    headers: &HeaderMap,
    token: &CsrfToken,
    access: &Access,
    application: &str,
    query: &ListQuery,
    refusal: Option<Refusal>,
) -> Response {
    let caller = Caller::from_headers(headers);
    let application = match known_application(gate, &caller, application).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let (configs, executions) = match load(gate, &caller, &application, query).await {
        Ok(loaded) => loaded,
        Err(error) => return layout::gate_error_page(error),
    };
    let allowed = Allowed::on(access, &application).await;
    let status = if refusal.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    layout::page_with_status(
        status,
        &format!("{application} pipelines"),
        tabs(&application, Tab::Pipelines),
        html! {
            div.heading-row {
                h1 { "Pipelines" }
                @if allowed.write { (new_pipeline_form(token, &application, refusal.as_ref())) }
            }
            (viewer::read_only_note(&application, allowed, &[Authorization::Execute, Authorization::Write]))
            @if !allowed.write {
                // A refused create (the form is not offered, but a post may still come).
                (layout::alert(refusal.as_ref().filter(|refusal| refusal.config_id.is_empty()).map(|refusal| refusal.message.as_str())))
            }
            (filters(&application, &configs, query))
            (live_markup(&application, &configs, &executions, query, token, allowed, refusal.as_ref()))
        },
    )
}

/// `GET /ui/applications/{application}/pipelines/live`: the part that changes while
/// executions run.
pub async fn live_fragment(
    gate: &Gate,
    headers: &HeaderMap,
    token: &CsrfToken,
    access: &Access,
    application: &str,
    query: &ListQuery,
) -> Response {
    let caller = Caller::from_headers(headers);
    match load(gate, &caller, application, query).await {
        Ok((configs, executions)) => layout::fragment(live_markup(
            application,
            &configs,
            &executions,
            query,
            token,
            Allowed::on(access, application).await,
            None,
        )),
        Err(error) => layout::gate_error_page(error),
    }
}

pub async fn live(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path(application): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    live_fragment(&gate, &headers, &token, &access, &application, &query).await
}

/// The application's configs (by `index`) and their newest executions, both read through
/// the Gate routes Deck uses; stages come trimmed (`expand=false`).
async fn load(
    gate: &Gate,
    caller: &Caller,
    application: &str,
    query: &ListQuery,
) -> Result<(Vec<Value>, Vec<Execution>), GateError> {
    let app = segment(application);
    let mut listing = format!(
        "/applications/{app}/pipelines?expand=false&limit={}",
        query.shown()
    );
    if !query.statuses().is_empty() {
        listing.push_str(&format!("&statuses={}", query.statuses()));
    }
    let configs_path = format!("/applications/{app}/pipelineConfigs");
    let (configs, executions) = tokio::try_join!(
        gate.get::<Vec<Value>>(caller, &configs_path),
        gate.get::<Vec<Execution>>(caller, &listing),
    )?;
    let configs = configs
        .into_iter()
        .filter(|config| query.pipeline.is_empty() || text(config, "name") == query.pipeline)
        .collect();
    Ok((configs, executions))
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn filters(application: &str, configs: &[Value], query: &ListQuery) -> Markup {
    html! {
        form.filters method="get" action={ "/ui/applications/" (segment(application)) "/pipelines" } {
            label for="status-filter" { "Status" }
            select #status-filter name="status" data-autosubmit {
                @for (value, label) in STATUS_FILTERS {
                    option value=(value) selected[query.statuses() == value] { (label) }
                }
            }
            label for="pipeline-filter" { "Pipeline" }
            select #pipeline-filter name="pipeline" data-autosubmit {
                option value="" { "All pipelines" }
                @for config in configs {
                    option value=(text(config, "name")) selected[query.pipeline == text(config, "name")] { (text(config, "name")) }
                }
            }
            input type="hidden" name="shown" value=(query.shown());
            button type="submit" { "Apply" }
        }
    }
}

/// Everything that changes while executions run; polled every 2 s while one is active.
fn live_markup(
    application: &str,
    configs: &[Value],
    executions: &[Execution],
    query: &ListQuery,
    token: &CsrfToken,
    allowed: Allowed,
    refusal: Option<&Refusal>,
) -> Markup {
    let running = executions
        .iter()
        .any(|execution| !execution.status.is_complete());
    let poll = format!(
        "/ui/applications/{}/pipelines/live?{}",
        segment(application),
        query.query_string(query.shown())
    );
    let now = now_millis();
    html! {
        div #pipelines-live data-poll=(poll) data-running=(running) {
            @if configs.is_empty() {
                p.empty { "No pipelines yet. Create one above." }
            }
            @for config in configs {
                @let id = text(config, "id");
                @let mine: Vec<&Execution> = newest_first(executions, id);
                section.pipeline aria-labelledby={ "p-" (id) } {
                    div.pipeline-head {
                        h2 id={ "p-" (id) } {
                            a href={ "/ui/applications/" (segment(application)) "/configs/" (segment(id)) } { (text(config, "name")) }
                        }
                        @if config.get("disabled").and_then(Value::as_bool) == Some(true) {
                            span.badge.st-disabled { "DISABLED" }
                        }
                        @if allowed.execute {
                            (start_form(application, config, token, refusal.filter(|refusal| refusal.config_id == id)))
                        } @else {
                            button.start type="button" disabled title=(viewer::needs("Starting a pipeline", Authorization::Execute, application)) {
                                "Start" span.visually-hidden { " " (text(config, "name")) }
                            }
                            (layout::alert(refusal.filter(|refusal| refusal.config_id == id).map(|refusal| refusal.message.as_str())))
                        }
                    }
                    @let description = text(config, "description");
                    @if !description.is_empty() { p.description { (description) } }
                    @if mine.is_empty() {
                        p.empty { "No executions" @if !query.statuses().is_empty() { " with this status" } "." }
                    } @else {
                        ol.executions {
                            @for execution in &mine { li { (execution_row(execution, now)) } }
                        }
                        @if mine.len() >= query.shown() && query.shown() < MAX_SHOWN {
                            a.more href={ "/ui/applications/" (segment(application)) "/pipelines?" (query.query_string(query.shown() + PAGE_SIZE * 2)) } { "Load more executions" }
                        }
                    }
                }
            }
        }
    }
}

fn newest_first<'a>(executions: &'a [Execution], config_id: &str) -> Vec<&'a Execution> {
    let mut mine: Vec<&Execution> = executions
        .iter()
        .filter(|execution| execution.pipeline_config_id.as_deref() == Some(config_id))
        .collect();
    mine.sort_by_key(|execution| std::cmp::Reverse(execution.build_time.or(execution.start_time)));
    mine
}

fn execution_row(execution: &Execution, now: i64) -> Markup {
    let trigger_type = execution
        .trigger
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let user = execution
        .trigger
        .get("user")
        .and_then(Value::as_str)
        .or(execution.authentication.user.as_deref())
        .unwrap_or("anonymous");
    let href = format!("/ui/executions/{}", segment(&execution.id));
    html! {
        div.execution {
            a.execution-link href=(href) {
                (layout::status_badge(execution.status))
                span.trigger { (trigger_type) " by " (user) }
                span.when { (format::time(execution.start_time.or(execution.build_time))) }
                span.took { (format::duration(execution.start_time, execution.end_time, now)) }
            }
            (stage_bar(execution, &href))
        }
    }
}

/// One segment per top-level stage, coloured by status, each a link to that stage. Its title
/// is both the tooltip and the accessible name (no aria-label repeating it: the bars are most
/// of the pipelines page's bytes).
pub fn stage_bar(execution: &Execution, href: &str) -> Markup {
    html! {
        div.stage-bar {
            @for stage in execution.stages.iter().filter(|stage| stage.parent_stage_id.is_none()) {
                a class={ "segment " (format::status_class(stage.status)) }
                    href={ (href) "?stage=" (segment(&stage.ref_id)) }
                    title={ "Stage " (stage.name) ": " (stage.status) } {}
            }
        }
    }
}

/// Deck's manual-execution form: one field per parameter (a select when it has options).
fn start_form(
    application: &str,
    config: &Value,
    token: &CsrfToken,
    refusal: Option<&Refusal>,
) -> Markup {
    let id = text(config, "id");
    let parameters: Vec<&Map<String, Value>> = config
        .get("parameterConfig")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|parameter| parameter.get("name").and_then(Value::as_str).is_some())
        .collect();
    let disabled = config.get("disabled").and_then(Value::as_bool) == Some(true);
    html! {
        details.start id={ "start-" (id) } open[refusal.is_some()] {
            summary { "Start" span.visually-hidden { " " (text(config, "name")) } }
            form method="post" action={ "/ui/applications/" (segment(application)) "/pipelines/" (segment(id)) "/start" } {
                (layout::csrf(token))
                (layout::alert(refusal.map(|refusal| refusal.message.as_str())))
                @if disabled { p.alert { "This pipeline is disabled; enable it on its config page to start it." } }
                @for (position, parameter) in parameters.iter().enumerate() {
                    (parameter_field(id, position, parameter, refusal))
                }
                button type="submit" disabled[disabled] { "Run" }
            }
        }
    }
}

fn parameter_field(
    config_id: &str,
    position: usize,
    parameter: &Map<String, Value>,
    refusal: Option<&Refusal>,
) -> Markup {
    let name = parameter
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let field_id = format!("param-{config_id}-{position}");
    let label = parameter
        .get("label")
        .and_then(Value::as_str)
        .filter(|label| !label.is_empty())
        .unwrap_or(name);
    let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
    let value = refusal
        .and_then(|refusal| refusal.values.get(name))
        .or_else(|| parameter.get("default"))
        .map(scalar)
        .unwrap_or_default();
    let options: Vec<String> = parameter
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|option| {
            option
                .get("value")
                .map(scalar)
                .unwrap_or_else(|| scalar(option))
        })
        .collect();
    let has_options =
        parameter.get("hasOptions").and_then(Value::as_bool) == Some(true) || !options.is_empty();
    let description = parameter
        .get("description")
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty());
    let help_id = format!("{field_id}-help");
    html! {
        div.field {
            label for=(field_id) { (label) @if required { span.required aria-hidden="true" { " *" } } }
            @if has_options {
                select id=(field_id) name={ "param." (name) } required[required]
                    aria-describedby=[description.map(|_| help_id.as_str())] {
                    @if !required { option value="" { "" } }
                    @for option in &options {
                        option value=(option) selected[*option == value] { (option) }
                    }
                }
            } @else {
                input id=(field_id) name={ "param." (name) } value=(value) required[required]
                    aria-describedby=[description.map(|_| help_id.as_str())];
            }
            @if let Some(description) = description { small id=(help_id) { (description) } }
        }
    }
}

/// A parameter value as a form shows it.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `POST /ui/applications/{application}/pipelines/{config_id}/start`: a manual trigger with
/// the form's parameters; opens the new execution.
pub async fn start(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let parameters: Map<String, Value> = fields
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix("param.")?.to_string(), json!(value))))
        .collect();
    let caller = Caller::from_headers(&headers);
    let user = headers
        .get("x-spinnaker-user")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("anonymous");
    let trigger = json!({ "type": "manual", "user": user, "parameters": parameters });
    let path = format!(
        "/pipelines/{}/{}",
        segment(&application),
        segment(&config_id)
    );
    match gate
        .write(&caller, Method::POST, &path, Some(&trigger))
        .await
    {
        Ok(answer) => {
            let execution = text(&answer, "ref").trim_start_matches("/pipelines/");
            Redirect::to(&format!("/ui/executions/{}", segment(execution))).into_response()
        }
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => {
            let refusal = Refusal {
                config_id,
                message: error.message,
                values: parameters,
            };
            render(
                &gate,
                &headers,
                &token,
                &access,
                &application,
                &ListQuery::default(),
                Some(refusal),
            )
            .await
        }
    }
}

fn new_pipeline_form(token: &CsrfToken, application: &str, refusal: Option<&Refusal>) -> Markup {
    let refusal = refusal.filter(|refusal| refusal.config_id.is_empty());
    html! {
        details.create open[refusal.is_some()] {
            summary { "Create pipeline" }
            form method="post" action={ "/ui/applications/" (segment(application)) "/pipelines" } {
                (layout::csrf(token))
                (layout::alert(refusal.map(|refusal| refusal.message.as_str())))
                div.field {
                    label for="new-pipeline-name" { "Pipeline name" }
                    input #new-pipeline-name name="name" required;
                }
                button type="submit" { "Create" }
            }
        }
    }
}

/// `POST /ui/applications/{application}/pipelines`: saves an empty pipeline by that name
/// (Deck's "Create new pipeline"), then opens its config to add stages.
pub async fn create_config(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path(application): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let caller = Caller::from_headers(&headers);
    let name = fields.text("name").to_string();
    let id = uuid::Uuid::new_v4().to_string();
    let config = json!({
        "id": id, "application": application, "name": name,
        "stages": [], "triggers": [], "parameterConfig": [], "notifications": [],
        "keepWaitingPipelines": false, "limitConcurrent": true,
    });
    match gate
        .write(&caller, Method::POST, "/pipelines", Some(&config))
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/ui/applications/{}/configs/{}",
            segment(&application),
            segment(&id)
        ))
        .into_response(),
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => {
            let refusal = Refusal {
                message: error.message,
                ..Refusal::default()
            };
            render(
                &gate,
                &headers,
                &token,
                &access,
                &application,
                &ListQuery::default(),
                Some(refusal),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markup(allowed: Allowed) -> String {
        let config = json!({"id": "c1", "name": "ship"});
        let token = CsrfToken("0".repeat(32));
        let query = ListQuery::default();
        live_markup("app", &[config], &[], &query, &token, allowed, None).into_string()
    }

    #[test]
    fn start_is_offered_only_with_execute_and_otherwise_says_why() {
        let reader = markup(Allowed {
            write: false,
            execute: false,
        });
        assert!(!reader.contains("method=\"post\""), "{reader}");
        assert!(reader.contains("disabled"), "{reader}");
        assert!(
            reader.contains("Starting a pipeline needs EXECUTE permission on app"),
            "{reader}"
        );
        let executor = markup(Allowed {
            write: false,
            execute: true,
        });
        assert!(
            executor.contains("action=\"/ui/applications/app/pipelines/c1/start\""),
            "{executor}"
        );
    }
}
