//! One execution: the stage graph, the selected stage's details (exception first), manual
//! judgment, cancel / pause / resume / restart, trigger details and the raw JSON. The live
//! part is re-polled every 2 s until the execution is complete.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use gennaker_model::json::now_millis;
use gennaker_model::{Execution, ExecutionStatus, StageExecution};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::gate::{Caller, Gate, GateError, segment};
use super::layout::{self, Tab};
use super::viewer::{self, Allowed};
use super::{CsrfToken, Fields, format, graph};
use crate::access::Access;
use gennaker_auth::Authorization;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// The refId of the stage whose details show.
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

async fn load(gate: &Gate, headers: &HeaderMap, id: &str) -> Result<Execution, Response> {
    let found: Result<Execution, GateError> = gate
        .get(
            &Caller::from_headers(headers),
            &format!("/pipelines/{}", segment(id)),
        )
        .await;
    found.map_err(|error| {
        if error.is_not_found() {
            layout::not_found(&format!("There is no pipeline execution with id '{id}'."))
        } else {
            layout::gate_error_page(error)
        }
    })
}

/// `GET /ui/executions/{id}`
pub async fn page(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let execution = match load(&gate, &headers, &id).await {
        Ok(execution) => execution,
        Err(page) => return page,
    };
    let allowed = Allowed::on(&access, &execution.application).await;
    let name = execution
        .name
        .clone()
        .unwrap_or_else(|| "(unnamed)".to_string());
    layout::page(
        &format!("{name} execution"),
        super::applications::tabs(&execution.application, Tab::Pipelines),
        html! {
            (layout::notice(query.notice.as_deref()))
            (layout::alert(query.error.as_deref()))
            (live_part(&execution, query.stage.as_deref(), &token, allowed))
            (trigger_details(&execution))
            details.raw {
                summary { "Source (raw JSON)" }
                pre tabindex="0" { code { (layout::pretty(&serde_json::to_value(&execution).unwrap_or_default())) } }
            }
        },
    )
}

/// `GET /ui/executions/{id}/live?stage=`: the graph and the stage panel.
pub async fn live(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    match load(&gate, &headers, &id).await {
        Ok(execution) => {
            let allowed = Allowed::on(&access, &execution.application).await;
            layout::fragment(live_part(
                &execution,
                query.stage.as_deref(),
                &token,
                allowed,
            ))
        }
        Err(page) => page,
    }
}

fn header(execution: &Execution, token: &CsrfToken, allowed: Allowed) -> Markup {
    let base = format!("/ui/executions/{}", segment(&execution.id));
    let app = segment(&execution.application);
    let now = now_millis();
    html! {
        div.heading-row {
            h1 { (execution.name.as_deref().unwrap_or("(unnamed)")) }
            span #execution-status { (layout::status_badge(execution.status)) }
        }
        p.summary {
            "Application " a href={ "/ui/applications/" (app) "/pipelines" } { (execution.application) }
            @if let Some(config_id) = &execution.pipeline_config_id {
                " · " a href={ "/ui/applications/" (app) "/configs/" (segment(config_id)) } { "Configure" }
            }
            " · started " (format::time(execution.start_time.or(execution.build_time)))
            " · duration " (format::duration(execution.start_time, execution.end_time, now))
            " · id " code { (execution.id) }
        }
        @if execution.canceled {
            p.alert role="alert" {
                "Canceled"
                @if let Some(by) = &execution.canceled_by { " by " (by) }
                @if let Some(reason) = &execution.cancellation_reason { ": " (reason) }
            }
        }
        @if !execution.status.is_complete() && !allowed.execute {
            p.not-allowed #actions-not-allowed {
                (viewer::needs("Cancelling, pausing or resuming this execution", Authorization::Execute, &execution.application))
            }
        } @else if !execution.status.is_complete() {
            div.actions {
                @if execution.status == ExecutionStatus::Paused {
                    form method="post" action={ (base) "/resume" } { (layout::csrf(token)) button type="submit" { "Resume" } }
                } @else if execution.status == ExecutionStatus::Running {
                    form method="post" action={ (base) "/pause" } { (layout::csrf(token)) button type="submit" { "Pause" } }
                }
                details.cancel #cancel-form {
                    summary { "Cancel execution" }
                    form method="post" action={ (base) "/cancel" } {
                        (layout::csrf(token))
                        div.field {
                            label for="cancel-reason" { "Reason (optional)" }
                            input #cancel-reason name="reason";
                        }
                        button.danger type="submit" { "Cancel execution" }
                    }
                }
            }
        }
    }
}

fn top_level(execution: &Execution) -> Vec<&StageExecution> {
    execution
        .stages
        .iter()
        .filter(|stage| stage.parent_stage_id.is_none())
        .collect()
}

/// The stage shown when none is chosen: the one needing attention, else the first.
fn default_stage(stages: &[&StageExecution]) -> Option<String> {
    let pick = |wanted: fn(&StageExecution) -> bool| {
        stages
            .iter()
            .find(|stage| wanted(stage))
            .map(|stage| stage.ref_id.clone())
    };
    pick(|stage| stage.status.is_failure())
        .or_else(|| pick(awaits_judgment))
        .or_else(|| pick(|stage| stage.status == ExecutionStatus::Running))
        .or_else(|| stages.first().map(|stage| stage.ref_id.clone()))
}

fn awaits_judgment(stage: &StageExecution) -> bool {
    stage.stage_type == "manualJudgment"
        && stage.status == ExecutionStatus::Running
        && stage
            .context
            .get("judgmentStatus")
            .is_none_or(Value::is_null)
}

fn live_part(
    execution: &Execution,
    selected: Option<&str>,
    token: &CsrfToken,
    allowed: Allowed,
) -> Markup {
    let stages = top_level(execution);
    let chosen = selected.filter(|wanted| stages.iter().any(|stage| stage.ref_id == *wanted));
    let href = format!("/ui/executions/{}", segment(&execution.id));
    // Only a stage the user chose stays pinned; otherwise the panel follows the stage that
    // needs attention as the execution moves on.
    let mut poll = format!("{href}/live");
    if let Some(chosen) = chosen {
        poll.push_str(&format!("?stage={}", segment(chosen)));
    }
    let selected = chosen
        .map(str::to_string)
        .or_else(|| default_stage(&stages));
    let stage = selected
        .as_deref()
        .and_then(|wanted| stages.iter().find(|stage| stage.ref_id == wanted));
    html! {
        div #execution-live data-poll=(poll) data-running=(!execution.status.is_complete())
            data-status=(execution.status) {
            (header(execution, token, allowed))
            p.visually-hidden aria-live="polite" { "Execution " (execution.status) }
            div.graph-scroll { (graph::draw(&stages, &href, selected.as_deref())) }
            @if let Some(stage) = stage {
                (stage_panel(execution, stage, token, allowed))
            } @else {
                p.empty { "This execution has no stages." }
            }
        }
    }
}

fn stage_panel(
    execution: &Execution,
    stage: &StageExecution,
    token: &CsrfToken,
    allowed: Allowed,
) -> Markup {
    let base = format!(
        "/ui/executions/{}/stages/{}",
        segment(&execution.id),
        segment(&stage.id)
    );
    let now = now_millis();
    let children: Vec<&StageExecution> = execution
        .stages
        .iter()
        .filter(|child| child.parent_stage_id.as_deref() == Some(stage.id.as_str()))
        .collect();
    html! {
        section.stage-panel aria-labelledby="stage-heading" {
            div.heading-row {
                h2 #stage-heading { (stage.name) }
                (layout::status_badge(stage.status))
                span.stage-type { (stage.stage_type) }
            }
            @if let Some(message) = exception_message(stage) {
                div.exception role="alert" {
                    h3 { "Exception" }
                    pre tabindex="0" { (message) }
                }
            }
            dl.facts {
                dt { "Started" } dd { (format::time(stage.start_time)) }
                dt { "Ended" } dd { (format::time(stage.end_time)) }
                dt { "Duration" } dd { (format::duration(stage.start_time, stage.end_time, now)) }
                @if let Some(child) = stage.context.get("executionId").and_then(Value::as_str) {
                    dt { "Child execution" }
                    dd { a href={ "/ui/executions/" (segment(child)) } { (stage.context.get("executionName").and_then(Value::as_str).unwrap_or(child)) } }
                }
            }
            @if awaits_judgment(stage) && allowed.execute {
                (judgment_form(stage, &base, token))
            } @else if awaits_judgment(stage) {
                (judgment_pending(stage, &execution.application))
            } @else if let Some(judged) = stage.context.get("judgmentStatus").and_then(Value::as_str) {
                p { "Judged " strong { (judged) }
                    @if let Some(input) = stage.context.get("judgmentInput").and_then(Value::as_str) { " (" (input) ")" }
                    @if let Some(by) = stage.context.get("lastModifiedBy").and_then(Value::as_str) { " by " (by) } }
            }
            @if stage.status.is_complete() && allowed.execute {
                form.inline method="post" action={ (base) "/restart" } {
                    (layout::csrf(token))
                    button type="submit" { "Restart stage" }
                }
            } @else if stage.status.is_complete() {
                button type="button" disabled title=(viewer::needs("Restarting a stage", Authorization::Execute, &execution.application)) { "Restart stage" }
            }
            @if !stage.tasks.is_empty() || !children.is_empty() {
                h3 { "Tasks" }
                table.tasks {
                    thead { tr { th scope="col" { "Task" } th scope="col" { "Status" } th scope="col" { "Duration" } } }
                    tbody {
                        @for child in &children {
                            tr { td { (child.name) } td { (layout::status_badge(child.status)) } td { (format::duration(child.start_time, child.end_time, now)) } }
                        }
                        @for task in &stage.tasks {
                            tr { td { (task.name) } td { (layout::status_badge(task.status)) } td { (format::duration(task.start_time, task.end_time, now)) } }
                        }
                    }
                }
            }
            details.json open {
                summary { "Context" }
                pre tabindex="0" { code { (layout::pretty(&Value::Object(stage.context.clone()))) } }
            }
            @if !stage.outputs.is_empty() {
                details.json {
                    summary { "Outputs" }
                    pre tabindex="0" { code { (layout::pretty(&Value::Object(stage.outputs.clone()))) } }
                }
            }
        }
    }
}

fn judgment_form(stage: &StageExecution, base: &str, token: &CsrfToken) -> Markup {
    let inputs: Vec<String> = stage
        .context
        .get("judgmentInputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|input| {
            input
                .get("value")
                .and_then(Value::as_str)
                .or_else(|| input.as_str())
                .map(str::to_string)
        })
        .collect();
    let instructions = stage.context.get("instructions").and_then(Value::as_str);
    html! {
        form.judgment method="post" action={ (base) "/judgment" } aria-labelledby="judgment-heading" {
            h3 #judgment-heading { "Manual judgment" }
            (layout::csrf(token))
            @if let Some(instructions) = instructions { p.instructions { (instructions) } }
            @if !inputs.is_empty() {
                div.field {
                    label for="judgment-input" { "Judgment input" }
                    select #judgment-input name="judgmentInput" {
                        @for input in &inputs { option value=(input) { (input) } }
                    }
                }
            }
            button.primary type="submit" name="judgmentStatus" value="continue" { "Continue" }
            button.danger type="submit" name="judgmentStatus" value="stop" { "Stop" }
        }
    }
}

/// A judgment the caller may not give: its instructions, and who may.
fn judgment_pending(stage: &StageExecution, application: &str) -> Markup {
    html! {
        section.judgment aria-labelledby="judgment-heading" {
            h3 #judgment-heading { "Manual judgment" }
            @if let Some(instructions) = stage.context.get("instructions").and_then(Value::as_str) {
                p.instructions { (instructions) }
            }
            p.not-allowed { "Awaiting judgment. " (viewer::needs("Judging", Authorization::Execute, application)) }
        }
    }
}

/// The failure Deck puts first: the exception's details, else a task's exception.
pub fn exception_message(stage: &StageExecution) -> Option<String> {
    let from = |exception: &Map<String, Value>| -> Option<String> {
        let details = exception.get("details").and_then(Value::as_object);
        let errors: Vec<&str> = details
            .and_then(|details| details.get("errors"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !errors.is_empty() {
            return Some(errors.join("\n"));
        }
        details
            .and_then(|details| details.get("error").or_else(|| details.get("message")))
            .or_else(|| exception.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    stage
        .context
        .get("exception")
        .and_then(Value::as_object)
        .and_then(from)
        .or_else(|| {
            stage.tasks.iter().find_map(|task| {
                task.task_exception_details
                    .get("exception")
                    .and_then(Value::as_object)
                    .and_then(from)
            })
        })
        .or_else(|| {
            stage.status.is_failure().then_some(())?;
            stage
                .context
                .get("failureMessage")
                .or_else(|| stage.context.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

fn trigger_details(execution: &Execution) -> Markup {
    let trigger = &execution.trigger;
    let get = |key: &str| trigger.get(key).and_then(Value::as_str);
    let parameters = trigger.get("parameters").and_then(Value::as_object);
    let parent = trigger
        .get("parentExecution")
        .and_then(|parent| parent.get("id"))
        .and_then(Value::as_str);
    html! {
        section.trigger aria-labelledby="trigger-heading" {
            h2 #trigger-heading { "Trigger" }
            dl.facts {
                dt { "Type" } dd { (get("type").unwrap_or("unknown")) }
                dt { "User" } dd { (get("user").or(execution.authentication.user.as_deref()).unwrap_or("anonymous")) }
                @if let Some(parent) = parent {
                    dt { "Parent execution" } dd { a href={ "/ui/executions/" (segment(parent)) } { (parent) } }
                }
                @if let Some(build) = trigger.get("buildInfo").and_then(Value::as_object) {
                    dt { "Build" }
                    dd {
                        (build.get("name").and_then(Value::as_str).unwrap_or_default())
                        " #" (build.get("number").map(|number| number.to_string()).unwrap_or_default())
                        @if let Some(url) = build.get("url").and_then(Value::as_str).filter(|url| url.starts_with("http")) {
                            " " a href=(url) rel="noopener noreferrer" { "open" }
                        }
                    }
                }
            }
            @if let Some(parameters) = parameters.filter(|parameters| !parameters.is_empty()) {
                table.parameters {
                    caption { "Parameters" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                    tbody {
                        @for (name, value) in parameters {
                            tr { th scope="row" { (name) } td { (value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())) } }
                        }
                    }
                }
            }
        }
    }
}

/// After an action: back to the execution (and stage), with what happened.
fn back(id: &str, stage: Option<&str>, outcome: Result<&str, GateError>) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(stage) = stage {
        query.append_pair("stage", stage);
    }
    match outcome {
        Ok(notice) => query.append_pair("notice", notice),
        Err(error) if error.is_refusal() => return layout::gate_error_page(error),
        Err(error) => query.append_pair("error", &error.message),
    };
    Redirect::to(&format!(
        "/ui/executions/{}?{}",
        segment(id),
        query.finish()
    ))
    .into_response()
}

async fn put(gate: &Gate, headers: &HeaderMap, path: &str) -> Result<(), GateError> {
    gate.write(&Caller::from_headers(headers), Method::PUT, path, None)
        .await
        .map(|_| ())
}

/// `POST /ui/executions/{id}/cancel`
pub async fn cancel(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let mut path = format!("/pipelines/{}/cancel", segment(&id));
    if !fields.text("reason").is_empty() {
        let reason: String =
            url::form_urlencoded::byte_serialize(fields.text("reason").as_bytes()).collect();
        path.push_str(&format!("?reason={reason}"));
    }
    let outcome = put(&gate, &headers, &path).await;
    back(&id, None, outcome.map(|_| "Cancel requested."))
}

pub async fn pause(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let outcome = put(
        &gate,
        &headers,
        &format!("/pipelines/{}/pause", segment(&id)),
    )
    .await;
    back(&id, None, outcome.map(|_| "Pause requested."))
}

pub async fn resume(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let outcome = put(
        &gate,
        &headers,
        &format!("/pipelines/{}/resume", segment(&id)),
    )
    .await;
    back(&id, None, outcome.map(|_| "Resume requested."))
}

/// `POST /ui/executions/{id}/stages/{stage_id}/restart`
pub async fn restart(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((id, stage_id)): Path<(String, String)>,
) -> Response {
    let path = format!(
        "/pipelines/{}/stages/{}/restart",
        segment(&id),
        segment(&stage_id)
    );
    let outcome = gate
        .write(
            &Caller::from_headers(&headers),
            Method::PUT,
            &path,
            Some(&json!({ "skip": false })),
        )
        .await;
    let ref_id = stage_ref_id(&outcome, &stage_id);
    back(
        &id,
        ref_id.as_deref(),
        outcome.map(|_| "Restart requested."),
    )
}

/// `POST /ui/executions/{id}/stages/{stage_id}/judgment`: Continue or Stop.
pub async fn judge(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((id, stage_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let mut patch = json!({ "judgmentStatus": fields.text("judgmentStatus") });
    if !fields.text("judgmentInput").is_empty() {
        patch["judgmentInput"] = json!(fields.text("judgmentInput"));
    }
    let path = format!("/pipelines/{}/stages/{}", segment(&id), segment(&stage_id));
    let outcome = gate
        .write(
            &Caller::from_headers(&headers),
            Method::PATCH,
            &path,
            Some(&patch),
        )
        .await;
    let ref_id = stage_ref_id(&outcome, &stage_id);
    back(
        &id,
        ref_id.as_deref(),
        outcome.map(|_| "Judgment recorded."),
    )
}

/// The refId of `stage_id` in an execution the API answered.
fn stage_ref_id(answer: &Result<Value, GateError>, stage_id: &str) -> Option<String> {
    answer
        .as_ref()
        .ok()?
        .get("stages")?
        .as_array()?
        .iter()
        .find(|stage| stage.get("id").and_then(Value::as_str) == Some(stage_id))?
        .get("refId")?
        .as_str()
        .map(str::to_string)
}
