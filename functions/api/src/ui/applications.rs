//! Applications: the list (filter as you type) and the create form, which runs the same
//! `createApplication` task as Deck's "Create Application" dialog.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::gate::{Caller, Gate, GateError, segment};
use super::layout::{self, Tab};
use super::{CsrfToken, Fields, format};
use crate::access::Access;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

/// What the create form was given back, with the API's refusal.
#[derive(Debug, Default)]
struct CreateForm {
    name: String,
    email: String,
    description: String,
    name_error: Option<String>,
    error: Option<String>,
}

/// `GET /ui/applications`
pub async fn list(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Query(query): Query<ListQuery>,
) -> Response {
    let form = CreateForm::default();
    render(&gate, &headers, &token, &access, &query.q, form).await
}

async fn render(
    gate: &Gate,
    headers: &HeaderMap,
    token: &CsrfToken,
    access: &Access,
    filter: &str,
    form: CreateForm,
) -> Response {
    let caller = Caller::from_headers(headers);
    let applications: Vec<Map<String, Value>> = match gate.get(&caller, "/applications").await {
        Ok(applications) => applications,
        Err(error) => return layout::gate_error_page(error),
    };
    let status = if form.error.is_some() || form.name_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    layout::page_with_status(
        status,
        "Applications",
        None,
        html! {
            h1 { "Applications" }
            div.toolbar {
                form.filter method="get" action="/ui/applications" role="search" {
                    label for="app-filter" { "Filter" }
                    input #app-filter type="search" name="q" value=(filter)
                        data-filter-rows="#applications tbody tr" autocomplete="off";
                    noscript { button type="submit" { "Filter" } }
                }
                @if access.may_create() {
                    (create_form(token, &form))
                } @else {
                    (layout::alert(form.error.as_deref().or(form.name_error.as_deref())))
                    p.not-allowed #create-not-allowed {
                        "Creating applications needs CREATE permission, which " (access.identity.user) " does not have."
                    }
                }
            }
            (table(&applications, filter, access.may_create()))
        },
    )
}

fn table(applications: &[Map<String, Value>], filter: &str, may_create: bool) -> Markup {
    let filter = filter.trim().to_lowercase();
    let text = |application: &Map<String, Value>, key: &str| {
        application
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let millis = |application: &Map<String, Value>, key: &str| {
        application.get(key).and_then(|value| {
            value
                .as_i64()
                .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        })
    };
    html! {
        table #applications {
            caption.visually-hidden { "Applications" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Owner" } th scope="col" { "Description" } th scope="col" { "Last modified" } } }
            tbody {
                @for application in applications {
                    @let name = text(application, "name");
                    tr data-name=(name) hidden[!filter.is_empty() && !name.contains(&filter)] {
                        td { a href={ "/ui/applications/" (segment(&name)) "/pipelines" } { (name) } }
                        td { (text(application, "email")) }
                        td { (text(application, "description")) }
                        td { (format::time(millis(application, "updateTs").or_else(|| millis(application, "createTs")))) }
                    }
                }
            }
        }
        @if applications.is_empty() {
            p.empty { "No applications yet." @if may_create { " Create one to get started." } }
        }
    }
}

fn create_form(token: &CsrfToken, form: &CreateForm) -> Markup {
    html! {
        details.create open[form.error.is_some() || form.name_error.is_some()] {
            summary { "Create application" }
            form method="post" action="/ui/applications" {
                (layout::csrf(token))
                (layout::alert(form.error.as_deref()))
                div.field {
                    label for="new-app-name" { "Name" }
                    input #new-app-name name="name" required value=(form.name)
                        aria-describedby="new-app-name-help"
                        aria-invalid=[form.name_error.as_ref().map(|_| "true")];
                    small #new-app-name-help { "Letters, digits, '.', '_' and '-'; stored in lower case." }
                    @if let Some(message) = &form.name_error { span.field-error { (message) } }
                }
                div.field {
                    label for="new-app-email" { "Owner email" }
                    input #new-app-email name="email" type="email" value=(form.email);
                }
                div.field {
                    label for="new-app-description" { "Description" }
                    input #new-app-description name="description" value=(form.description);
                }
                button type="submit" { "Create" }
            }
        }
    }
}

/// `POST /ui/applications`: runs `createApplication`; on success opens the application.
pub async fn create(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let mut form = CreateForm {
        name: fields.text("name").to_string(),
        email: fields.text("email").to_string(),
        description: fields.text("description").to_string(),
        ..CreateForm::default()
    };
    let caller = Caller::from_headers(&headers);
    match create_application(&gate, &caller, &form).await {
        Ok(name) => {
            Redirect::to(&format!("/ui/applications/{}/pipelines", segment(&name))).into_response()
        }
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => {
            let name_error = error
                .for_field("job[0].application.name")
                .map(str::to_string);
            if name_error.is_some() {
                form.name_error = name_error;
            } else {
                form.error = Some(error.message);
            }
            render(&gate, &headers, &token, &access, "", form).await
        }
    }
}

/// Deck refuses a name that is taken (the task itself would update that application).
async fn create_application(
    gate: &Gate,
    caller: &Caller,
    form: &CreateForm,
) -> Result<String, GateError> {
    let name = form.name.to_lowercase();
    if !name.is_empty() {
        let existing: Result<Value, GateError> = gate
            .get(caller, &format!("/applications/{}", segment(&name)))
            .await;
        if existing.is_ok() {
            return Err(GateError {
                status: StatusCode::BAD_REQUEST,
                message: format!("An application named '{name}' already exists"),
                fields: vec![(
                    "job[0].application.name".to_string(),
                    format!("An application named '{name}' already exists"),
                )],
            });
        }
    }
    let mut application = json!({ "name": form.name });
    for (key, value) in [("email", &form.email), ("description", &form.description)] {
        if !value.is_empty() {
            application[key] = json!(value);
        }
    }
    let task = json!({
        "application": name,
        "description": format!("Create Application: {name}"),
        "job": [{ "type": "createApplication", "application": application }],
    });
    let answer = gate
        .write(caller, Method::POST, "/tasks", Some(&task))
        .await?;
    let task_path = answer
        .get("ref")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let finished: Value = gate.get(caller, task_path).await?;
    if finished.get("status").and_then(Value::as_str) == Some("SUCCEEDED") {
        Ok(name)
    } else {
        Err(GateError {
            status: StatusCode::BAD_REQUEST,
            message: super::tasks::task_failure(&finished)
                .unwrap_or_else(|| "The createApplication task did not succeed".to_string()),
            fields: vec![],
        })
    }
}

/// `GET /ui/applications/{application}`: an unknown application is a not-found page.
pub async fn open(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(application): Path<String>,
) -> Response {
    match known_application(&gate, &Caller::from_headers(&headers), &application).await {
        Ok(name) => {
            Redirect::to(&format!("/ui/applications/{}/pipelines", segment(&name))).into_response()
        }
        Err(page) => page,
    }
}

/// The application's name as stored, or the not-found page.
pub async fn known_application(
    gate: &Gate,
    caller: &Caller,
    application: &str,
) -> Result<String, Response> {
    let found: Result<Value, GateError> = gate
        .get(caller, &format!("/applications/{}", segment(application)))
        .await;
    match found {
        Ok(found) => Ok(found
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(application)
            .to_string()),
        Err(error) if error.is_not_found() => Err(layout::not_found(&format!(
            "There is no application named '{application}'."
        ))),
        Err(error) => Err(layout::gate_error_page(error)),
    }
}

/// The tab bar argument for an application page.
pub fn tabs(application: &str, tab: Tab) -> Option<(&str, Option<Tab>)> {
    Some((application, Some(tab)))
}
