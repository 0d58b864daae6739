//! The page shell (header, application tabs), shared bits of markup and the error pages.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use gennaker_model::ExecutionStatus;
use maud::{DOCTYPE, Markup, html};

use super::gate::{GateError, segment};
use super::{CSRF_FIELD, CsrfToken, format};

/// The tabs of an application, as Deck names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Pipelines,
    Clusters,
    LoadBalancers,
    Firewalls,
    Tasks,
}

const TABS: [(Tab, &str, &str); 5] = [
    (Tab::Pipelines, "Pipelines", "pipelines"),
    (Tab::Clusters, "Clusters", "clusters"),
    (Tab::LoadBalancers, "Load balancers", "loadBalancers"),
    (Tab::Firewalls, "Firewalls", "firewalls"),
    (Tab::Tasks, "Tasks", "tasks"),
];

/// A whole page: `title` in the tab and heading, the application's tabs when `app` is set.
pub fn page(title: &str, app: Option<(&str, Option<Tab>)>, body: Markup) -> Response {
    page_with_status(StatusCode::OK, title, app, body)
}

pub fn page_with_status(
    status: StatusCode,
    title: &str,
    app: Option<(&str, Option<Tab>)>,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gennaker" }
                link rel="stylesheet" href="/ui/assets/ui.css";
                script src="/ui/assets/ui.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/applications" { "Gennaker" }
                    nav aria-label="Main" {
                        a href="/ui/applications" { "Applications" }
                    }
                    (who_am_i())
                }
                @if let Some((name, active)) = app {
                    nav.app-tabs aria-label="Application" {
                        span.app-name { (name) }
                        @for (tab, label, path) in TABS {
                            a href={ "/ui/applications/" (segment(name)) "/" (path) }
                                aria-current=[(active == Some(tab)).then_some("page")] { (label) }
                        }
                    }
                }
                main #main {
                    (body)
                }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

/// The caller, as `/auth/user` describes them: user, roles and whether they administer
/// everything; a link to the details.
fn who_am_i() -> Markup {
    let viewer = super::viewer::current();
    html! {
        a.whoami href="/ui/user" title="Who am I" {
            span.visually-hidden { "Signed in as " }
            span.user { (viewer.user) }
            @if viewer.admin { " " span.badge.admin { "ADMIN" } }
            @if !viewer.roles.is_empty() { " " span.roles { span.visually-hidden { "roles " } (viewer.roles.join(", ")) } }
        }
    }
}

/// A bare HTML fragment (what the live views poll).
pub fn fragment(markup: Markup) -> Response {
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Html(markup.into_string()),
    )
        .into_response()
}

pub fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    page_with_status(
        status,
        heading,
        None,
        html! {
            h1 { (heading) }
            p.error-text { (message) }
            p { a href="/ui/applications" { "Back to applications" } }
        },
    )
}

pub fn not_found(message: &str) -> Response {
    error_page(StatusCode::NOT_FOUND, "Not found", message)
}

/// The page for an API refusal while loading a page: not found, or the API's message.
pub fn gate_error_page(error: GateError) -> Response {
    if error.is_not_found() {
        return not_found(&error.message);
    }
    let status = if error.status.is_client_error() {
        error.status
    } else {
        StatusCode::BAD_GATEWAY
    };
    let heading = if error.is_refusal() {
        "Not allowed"
    } else {
        "Something went wrong"
    };
    error_page(status, heading, &error.message)
}

/// The hidden token field every state-changing form carries.
pub fn csrf(token: &CsrfToken) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token.0); }
}

pub fn status_badge(status: ExecutionStatus) -> Markup {
    html! { span class={ "badge " (format::status_class(status)) } { (format::status_label(status)) } }
}

/// A message box for the result of an action (`?notice=` after a redirect) or a refusal.
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text.filter(|text| !text.is_empty()) {
            p.notice role="status" { (text) }
        }
    }
}

pub fn alert(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text.filter(|text| !text.is_empty()) {
            p.alert role="alert" { (text) }
        }
    }
}

/// JSON pretty-printed for a `<pre>`.
pub fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
