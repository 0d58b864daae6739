//! Tasks (an application's orchestrations with their steps) and "Who am I".

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gennaker_model::ExecutionStatus;
use gennaker_model::json::now_millis;
use maud::html;
use serde_json::Value;

use super::applications::{known_application, tabs};
use super::format;
use super::gate::{Caller, Gate, segment};
use super::layout::{self, Tab};

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn status(value: &Value) -> ExecutionStatus {
    value
        .get("status")
        .and_then(Value::as_str)
        .and_then(|status| status.parse().ok())
        .unwrap_or(ExecutionStatus::NotStarted)
}

/// The first exception message of a task's stages (what Deck shows under a failed task).
pub fn task_failure(task: &Value) -> Option<String> {
    task.pointer("/execution/stages")?
        .as_array()?
        .iter()
        .find_map(|stage| {
            let details = stage.pointer("/context/exception/details")?;
            details
                .get("errors")
                .and_then(Value::as_array)
                .and_then(|errors| errors.first())
                .or_else(|| details.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// `GET /ui/applications/{application}/tasks`
pub async fn list(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(application): Path<String>,
) -> Response {
    let caller = Caller::from_headers(&headers);
    let application = match known_application(&gate, &caller, &application).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let path = format!("/applications/{}/tasks?limit=50", segment(&application));
    let tasks: Vec<Value> = match gate.get(&caller, &path).await {
        Ok(tasks) => tasks,
        Err(error) => return layout::gate_error_page(error),
    };
    let now = now_millis();
    let millis = |task: &Value, key: &str| task.get(key).and_then(Value::as_i64);
    layout::page(
        &format!("{application} tasks"),
        tabs(&application, Tab::Tasks),
        html! {
            h1 { "Tasks" }
            @if tasks.is_empty() { p.empty { "No tasks yet." } }
            @for task in &tasks {
                section.task aria-label={ "Task " (text(task, "name")) } {
                    div.heading-row {
                        h2 { (text(task, "name")) }
                        (layout::status_badge(status(task)))
                    }
                    p.summary {
                        "Started " (format::time(millis(task, "startTime").or(millis(task, "buildTime"))))
                        " · duration " (format::duration(millis(task, "startTime"), millis(task, "endTime"), now))
                        " · by " (task.pointer("/execution/authentication/user").and_then(Value::as_str).unwrap_or("anonymous"))
                    }
                    @if let Some(failure) = task_failure(task) { p.alert role="alert" { (failure) } }
                    ol.steps {
                        @for step in task.get("steps").and_then(Value::as_array).into_iter().flatten() {
                            li { (layout::status_badge(status(step))) " " (text(step, "name")) }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /ui/user`: who the API thinks the browser's user is (`/auth/user`).
pub async fn who_am_i(
    State(gate): State<Gate>,
    Extension(access): Extension<crate::access::Access>,
    headers: HeaderMap,
) -> Response {
    let user: Value = match gate
        .get(&Caller::from_headers(&headers), "/auth/user")
        .await
    {
        Ok(user) => user,
        Err(error) => return layout::gate_error_page(error),
    };
    let list = |key: &str| -> Vec<String> {
        user.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| item.to_string())
            })
            .collect()
    };
    layout::page(
        "Who am I",
        None,
        html! {
            h1 { "Who am I" }
            dl.facts {
                dt { "User" } dd { (text(&user, "username")) }
                dt { "Roles" } dd { @let roles = list("roles"); @if roles.is_empty() { "none" } @else { (roles.join(", ")) } }
                dt { "Administrator" } dd { @if user.get("admin").and_then(Value::as_bool) == Some(true) { "yes: may do everything" } @else { "no" } }
                dt { "Create applications" } dd { @if access.may_create() { "allowed" } @else { "not allowed" } }
                dt { "Accounts" } dd { @let accounts = list("allowedAccounts"); @if accounts.is_empty() { "none" } @else { (accounts.join(", ")) } }
            }
            p.help { "Each application's permissions decide what you may do there: READ to see it, WRITE to change its pipelines, EXECUTE to start, stop and judge them. Pages leave out what you may not do, and the API refuses it anyway." }
            details.raw { summary { "Raw /auth/user" } pre tabindex="0" { code { (layout::pretty(&user)) } } }
        },
    )
}
