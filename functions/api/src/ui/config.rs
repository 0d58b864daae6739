//! A pipeline config: form editors for triggers, parameters and notifications (see
//! [`super::config_forms`]), edit as JSON (the API's validation errors shown by field path),
//! enable/disable, rename, delete with confirmation, and the revision history with a diff
//! between any two revisions and "restore this version".

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::gate::{Caller, Gate, GateError, segment};
use super::layout::{self, Tab};
use super::viewer::{self, Allowed};
use super::{CsrfToken, Fields, config_forms, format};
use crate::access::Access;
use gennaker_auth::Authorization;

/// Revisions listed (Deck asks for 20 too).
const HISTORY_LIMIT: usize = 20;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    notice: Option<String>,
    /// Revisions to compare (0 is the newest).
    #[serde(default)]
    left: Option<usize>,
    #[serde(default)]
    right: Option<usize>,
    /// The form section (`triggers`, `parameters`, `notifications`) `notice` belongs to: a
    /// refusal is shown next to that form rather than at the top.
    #[serde(default)]
    section: Option<String>,
}

/// What the editor shows after a refused save: the submitted text and the API's errors.
#[derive(Debug, Default)]
struct Refused {
    text: String,
    message: String,
    fields: Vec<(String, String)>,
}

async fn load(
    gate: &Gate,
    caller: &Caller,
    application: &str,
    config_id: &str,
) -> Result<Value, Response> {
    let configs: Vec<Value> = gate
        .get(
            caller,
            &format!("/applications/{}/pipelineConfigs", segment(application)),
        )
        .await
        .map_err(layout::gate_error_page)?;
    configs
        .into_iter()
        .find(|config| config.get("id").and_then(Value::as_str) == Some(config_id))
        .ok_or_else(|| {
            layout::not_found(&format!(
                "Application '{application}' has no pipeline with id '{config_id}'."
            ))
        })
}

/// `GET /ui/applications/{application}/configs/{config_id}`
pub async fn page(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path((application, config_id)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Response {
    render(
        &gate,
        &headers,
        &token,
        &access,
        &application,
        &config_id,
        &query,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    gate: &Gate,
    headers: &HeaderMap,
    token: &CsrfToken,
    access: &Access,
    application: &str,
    config_id: &str,
    query: &PageQuery,
    refused: Option<Refused>,
) -> Response {
    let caller = Caller::from_headers(headers);
    let config = match load(gate, &caller, application, config_id).await {
        Ok(config) => config,
        Err(page) => return page,
    };
    let allowed = Allowed::on(access, application).await;
    let history: Vec<Value> = gate
        .get(
            &caller,
            &format!(
                "/pipelineConfigs/{}/history?limit={HISTORY_LIMIT}",
                segment(config_id)
            ),
        )
        .await
        .unwrap_or_default();
    let compatibility: Value = gate
        .get(
            &caller,
            &format!("/pipelineConfigs/{}/compatibility", segment(config_id)),
        )
        .await
        .unwrap_or_default();
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let base = format!(
        "/ui/applications/{}/configs/{}",
        segment(application),
        segment(config_id)
    );
    let disabled = config.get("disabled").and_then(Value::as_bool) == Some(true);
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    layout::page_with_status(
        status,
        &format!("{name} config"),
        super::applications::tabs(application, Tab::Pipelines),
        html! {
            div.heading-row {
                h1 { (name) }
                @if disabled { span.badge.st-disabled { "DISABLED" } }
            }
            @let description = config.get("description").and_then(Value::as_str).unwrap_or_default();
            @if !description.is_empty() { p.description { (description) } }
            p.summary { a href={ "/ui/applications/" (segment(application)) "/pipelines?pipeline=" (segment(name)) } { "Executions of this pipeline" } }
            @if query.section.is_none() { (layout::notice(query.notice.as_deref())) }
            (viewer::read_only_note(application, allowed, &[Authorization::Write]))
            @if allowed.write { div.actions {
                form method="post" action={ (base) "/enabled" } {
                    (layout::csrf(token))
                    input type="hidden" name="enabled" value=(if disabled { "true" } else { "false" });
                    button type="submit" { @if disabled { "Enable pipeline" } @else { "Disable pipeline" } }
                }
                details {
                    summary { "Rename" }
                    form method="post" action={ (base) "/rename" } {
                        (layout::csrf(token))
                        div.field {
                            label for="rename-name" { "New name" }
                            input #rename-name name="name" value=(name) required;
                        }
                        button type="submit" { "Rename" }
                    }
                }
                details {
                    summary { "Delete" }
                    form method="post" action={ (base) "/delete" } {
                        (layout::csrf(token))
                        div.field.checkbox {
                            input #delete-confirm type="checkbox" name="confirm" value="yes" required;
                            label for="delete-confirm" { "Yes, delete '" (name) "' and its triggers" }
                        }
                        button.danger type="submit" { "Delete pipeline" }
                    }
                }
            } }
            (unrunnable_stages(&compatibility))
            (config_forms::sections(&config, &base, token, query.section.as_deref().zip(query.notice.as_deref()), allowed.write))
            (editor(&config, &base, token, refused.as_ref(), allowed.write))
            (history_section(&history, &base, token, query, allowed.write))
        },
    )
}

/// The stages Gennaker stores but cannot run yet (`GET /pipelineConfigs/{id}/compatibility`).
fn unrunnable_stages(compatibility: &Value) -> Markup {
    let stages = compatibility
        .get("unrunnableStages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |stage: &Value, key: &str| {
        stage
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    html! {
        @if !stages.is_empty() {
            section.alert role="status" aria-labelledby="unrunnable-heading" {
                h2 #unrunnable-heading { "Stages Gennaker cannot run yet" }
                p { "The pipeline is stored as it was submitted. A run that may reach one of these stages is refused before anything of it runs; a stage whose condition is false for the run is skipped." }
                ul {
                    @for stage in &stages {
                        li {
                            (text(stage, "refId")) " (" (text(stage, "name")) "): type " code { (text(stage, "type")) }
                            @if let Some(condition) = stage.get("stageEnabled").and_then(Value::as_str) {
                                ", only when " code { (condition) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The JSON editor; read-only (the JSON, no form) when the caller may not change the config.
fn editor(
    config: &Value,
    base: &str,
    token: &CsrfToken,
    refused: Option<&Refused>,
    editable: bool,
) -> Markup {
    let text = refused
        .map(|refused| refused.text.clone())
        .unwrap_or_else(|| layout::pretty(config));
    let lines = text.lines().count().clamp(12, 40);
    html! {
        section aria-labelledby="json-heading" {
            h2 #json-heading { "Pipeline JSON" }
            @if editable {
                p.help { "Everything, stages included, is edited here, as in Deck's \"Edit as JSON\". The API checks the whole config before anything is saved." }
            }
            @if let Some(refused) = refused {
                div.alert role="alert" #json-errors {
                    @if refused.fields.is_empty() { p { "Not saved: " (refused.message) } } @else { p { "Not saved:" } }
                    @if !refused.fields.is_empty() {
                        ul {
                            @for (field, message) in &refused.fields {
                                li { code { (field) } ": " (message) }
                            }
                        }
                    }
                }
            }
            // Collapsed unless a save was refused: the forms above cover the common edits,
            // and a whole pipeline's JSON would otherwise make the page several screens long.
            @if !editable {
                details.json {
                    summary { "Show JSON" }
                    pre tabindex="0" { code { (layout::pretty(config)) } }
                }
            } @else {
            details.json-editor open[refused.is_some()] {
                summary { "Edit as JSON" }
                form.json-editor method="post" action=(base) {
                    (layout::csrf(token))
                    label for="config-json" { "Config JSON" }
                    textarea #config-json name="json" rows=(lines) spellcheck="false"
                        aria-describedby=[refused.map(|_| "json-errors")] { (text) }
                    button.primary type="submit" { "Save changes" }
                }
            }
            }
        }
    }
}

fn revision_label(revision: &Value) -> String {
    let at = revision.get("updateTs").and_then(|value| {
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
    });
    let by = revision
        .get("lastModifiedBy")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    format!("{} by {by}", format::time(at))
}

fn history_section(
    history: &[Value],
    base: &str,
    token: &CsrfToken,
    query: &PageQuery,
    editable: bool,
) -> Markup {
    let left = query.left.filter(|index| *index < history.len());
    let right = query.right.filter(|index| *index < history.len());
    html! {
        section aria-labelledby="history-heading" {
            h2 #history-heading { "Revision history" }
            @if history.is_empty() {
                p.empty { "No saved revisions." }
            } @else {
                form.diff-picker method="get" action=(base) {
                    label for="diff-left" { "Compare" }
                    select #diff-left name="left" {
                        @for (index, revision) in history.iter().enumerate() {
                            option value=(index) selected[left.unwrap_or(1.min(history.len() - 1)) == index] { "#" (history.len() - index) " — " (revision_label(revision)) }
                        }
                    }
                    label for="diff-right" { "with" }
                    select #diff-right name="right" {
                        @for (index, revision) in history.iter().enumerate() {
                            option value=(index) selected[right.unwrap_or(0) == index] { "#" (history.len() - index) " — " (revision_label(revision)) }
                        }
                    }
                    button type="submit" { "Show diff" }
                }
                @if let (Some(left), Some(right)) = (left, right) {
                    (diff(&history[left], &history[right]))
                }
                table.history {
                    thead { tr { th scope="col" { "Revision" } th scope="col" { "Saved" } @if editable { th scope="col" { span.visually-hidden { "Actions" } } } } }
                    tbody {
                        @for (index, revision) in history.iter().enumerate() {
                            tr {
                                td { "#" (history.len() - index) @if index == 0 { " (current)" } }
                                td { (revision_label(revision)) }
                                @if editable { td {
                                    @if index > 0 {
                                        form.inline method="post" action={ (base) "/restore" } {
                                            (layout::csrf(token))
                                            input type="hidden" name="revision" value=(index);
                                            button type="submit" aria-label={ "Restore revision " (history.len() - index) } { "Restore this version" }
                                        }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A line diff of two revisions' JSON (bookkeeping fields left out).
fn diff(left: &Value, right: &Value) -> Markup {
    let (left, right) = (comparable(left), comparable(right));
    let changes = similar::TextDiff::from_lines(&left, &right);
    let any = changes
        .iter_all_changes()
        .any(|change| change.tag() != similar::ChangeTag::Equal);
    html! {
        @if !any {
            p.notice { "The two revisions are the same." }
        } @else {
            pre.diff tabindex="0" aria-label="Differences" {
                @for change in changes.iter_all_changes() {
                    @match change.tag() {
                        similar::ChangeTag::Delete => { del { "- " (change.value()) } }
                        similar::ChangeTag::Insert => { ins { "+ " (change.value()) } }
                        similar::ChangeTag::Equal => { span { "  " (change.value()) } }
                    }
                }
            }
        }
    }
}

fn comparable(revision: &Value) -> String {
    let mut revision = revision.clone();
    if let Some(object) = revision.as_object_mut() {
        for key in ["updateTs", "lastModifiedBy", "createTs"] {
            object.remove(key);
        }
    }
    layout::pretty(&revision) + "\n"
}

fn back(application: &str, config_id: &str, notice: &str) -> Response {
    section_back(application, config_id, notice, None)
}

/// Back to the config page with `notice`, shown next to the form of `section` when given.
pub(super) fn section_back(
    application: &str,
    config_id: &str,
    notice: &str,
    section: Option<&str>,
) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("notice", notice);
    if let Some(section) = section {
        query.append_pair("section", section);
    }
    let anchor = section
        .map(|section| format!("#{section}-heading"))
        .unwrap_or_default();
    Redirect::to(&format!(
        "/ui/applications/{}/configs/{}?{}{anchor}",
        segment(application),
        segment(config_id),
        query.finish()
    ))
    .into_response()
}

/// `POST /ui/applications/{application}/configs/{config_id}`: saves the edited JSON with
/// Deck's stale check; a refusal shows the text again with the API's errors.
pub async fn save(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Extension(token): Extension<CsrfToken>,
    Extension(access): Extension<Access>,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let text = fields.get("json").unwrap_or_default().to_string();
    let caller = Caller::from_headers(&headers);
    let outcome = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut config)) => {
            // The page edits this config: its id and application stay.
            config.insert("id".to_string(), Value::String(config_id.clone()));
            config
                .entry("application")
                .or_insert_with(|| Value::String(application.clone()));
            gate.write(
                &caller,
                Method::POST,
                "/pipelines?staleCheck=true",
                Some(&Value::Object(config)),
            )
            .await
        }
        Ok(_) => Err(refusal("the config must be a JSON object")),
        Err(error) => Err(refusal(&format!("the text is not valid JSON: {error}"))),
    };
    match outcome {
        Ok(_) => back(&application, &config_id, "Saved."),
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => {
            let refused = Refused {
                text,
                message: error.message,
                fields: error.fields,
            };
            render(
                &gate,
                &headers,
                &token,
                &access,
                &application,
                &config_id,
                &PageQuery::default(),
                Some(refused),
            )
            .await
        }
    }
}

fn refusal(message: &str) -> GateError {
    GateError {
        status: StatusCode::BAD_REQUEST,
        message: message.to_string(),
        fields: vec![("json".to_string(), message.to_string())],
    }
}

/// Loads the config, changes it with `edit`, and saves it through `POST /pipelines`; a
/// refusal comes back to the page as a notice.
async fn edit_and_save_or_back(
    gate: &Gate,
    headers: &HeaderMap,
    application: &str,
    config_id: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Result<(), Response> {
    match edit_and_save(gate, headers, application, config_id, edit).await? {
        Ok(()) => Ok(()),
        Err(message) => Err(back(
            application,
            config_id,
            &format!("Not saved: {message}"),
        )),
    }
}

/// Loads the config, changes it with `edit`, and saves it through `POST /pipelines`. The
/// outer error is a page to show (the config is gone, or the caller may not change it); the
/// inner one the API's refusal of the edit.
pub(super) async fn edit_and_save(
    gate: &Gate,
    headers: &HeaderMap,
    application: &str,
    config_id: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Result<Result<(), String>, Response> {
    let caller = Caller::from_headers(headers);
    let mut config = load(gate, &caller, application, config_id).await?;
    if let Some(object) = config.as_object_mut() {
        edit(object);
    }
    match gate
        .write(&caller, Method::POST, "/pipelines", Some(&config))
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(error) if error.is_refusal() => Err(layout::gate_error_page(error)),
        Err(error) => Ok(Err(error.message)),
    }
}

/// `POST .../enabled`: `enabled=true` enables, anything else disables.
pub async fn set_enabled(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let enable = Fields::parse(&body).text("enabled") == "true";
    let outcome = edit_and_save_or_back(&gate, &headers, &application, &config_id, |config| {
        config.insert("disabled".to_string(), Value::Bool(!enable));
    })
    .await;
    match outcome {
        Ok(()) => back(
            &application,
            &config_id,
            if enable {
                "Pipeline enabled."
            } else {
                "Pipeline disabled."
            },
        ),
        Err(page) => page,
    }
}

/// `POST .../rename`: Deck's rename, `PUT /pipelines/{id}` with the new name.
pub async fn rename(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let name = Fields::parse(&body).text("name").to_string();
    let caller = Caller::from_headers(&headers);
    let mut config = match load(&gate, &caller, &application, &config_id).await {
        Ok(config) => config,
        Err(page) => return page,
    };
    config["name"] = Value::String(name);
    let path = format!("/pipelines/{}", segment(&config_id));
    match gate.write(&caller, Method::PUT, &path, Some(&config)).await {
        Ok(_) => back(&application, &config_id, "Renamed."),
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => back(
            &application,
            &config_id,
            &format!("Not renamed: {}", error.message),
        ),
    }
}

/// `POST .../delete` (the form's checkbox confirms): back to the pipelines.
pub async fn delete(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if Fields::parse(&body).text("confirm") != "yes" {
        return back(
            &application,
            &config_id,
            "Not deleted: tick the confirmation first.",
        );
    }
    let caller = Caller::from_headers(&headers);
    let config = match load(&gate, &caller, &application, &config_id).await {
        Ok(config) => config,
        Err(page) => return page,
    };
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = format!("/pipelines/{}/{}", segment(&application), segment(name));
    match gate.write(&caller, Method::DELETE, &path, None).await {
        Ok(_) => Redirect::to(&format!(
            "/ui/applications/{}/pipelines",
            segment(&application)
        ))
        .into_response(),
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => back(
            &application,
            &config_id,
            &format!("Not deleted: {}", error.message),
        ),
    }
}

/// `POST .../restore`: saves revision `revision` (0 = newest) as the current config.
pub async fn restore(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path((application, config_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let index: usize = Fields::parse(&body).text("revision").parse().unwrap_or(0);
    let caller = Caller::from_headers(&headers);
    let history: Result<Vec<Value>, GateError> = gate
        .get(
            &caller,
            &format!(
                "/pipelineConfigs/{}/history?limit={HISTORY_LIMIT}",
                segment(&config_id)
            ),
        )
        .await;
    let Some(mut revision) = history
        .ok()
        .and_then(|history| history.into_iter().nth(index))
    else {
        return back(&application, &config_id, "Not restored: no such revision.");
    };
    if let Some(object) = revision.as_object_mut() {
        object.remove("updateTs");
    }
    match gate
        .write(&caller, Method::POST, "/pipelines", Some(&revision))
        .await
    {
        Ok(_) => back(&application, &config_id, "Revision restored."),
        Err(error) if error.is_refusal() => layout::gate_error_page(error),
        Err(error) => back(
            &application,
            &config_id,
            &format!("Not restored: {}", error.message),
        ),
    }
}
