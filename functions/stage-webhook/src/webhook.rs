//! The webhook stage's decisions (Orca's `CreateWebhookTask` and `MonitorWebhookTask`), free of I/O: what to send, and what a
//! response means for the stage. Context keys follow Orca's `WebhookStage`.

use gennaker_model::ExecutionStatus;
use gennaker_model::json::{bool_field, str_field};
use gennaker_outbound::{Method, OutboundResponse, jsonpath};
use gennaker_worker::int_list;
use serde_json::{Map, Value, json};

/// Response bodies kept in the stage context are cut to this size (the context lives in a
/// DynamoDB item and travels through Step Functions, both size-limited).
pub const MAX_KEPT_BODY_BYTES: usize = 32 * 1024;
/// Failed creates (5xx, retry codes, no answer) are tried this often by default.
pub const DEFAULT_CREATE_ATTEMPTS: u32 = 5;
/// Monitoring gives up after this many answers in a row that were not 2xx.
pub const MAX_MONITOR_ERRORS: u32 = 20;

/// A request the stage wants sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// What the worker should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Finish the stage with this status.
    Finish {
        status: ExecutionStatus,
        error: Option<String>,
    },
    /// Poll again (`wait` seconds: `None` = the configured poll interval).
    Poll { wait: Option<u64> },
}

/// The webhook call of the create step; `Err` names what is wrong with the stage config.
pub fn create_call(context: &Map<String, Value>) -> Result<Call, String> {
    let url = str_field(context, "url")
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .ok_or("the webhook stage needs a url")?;
    let method = method(context, "method", "POST")?;
    Ok(Call {
        method,
        url: url.to_string(),
        headers: custom_headers(context)?,
        body: context.get("payload").filter(|p| !p.is_null()).cloned(),
    })
}

/// The status poll (always GET, with the stage's custom headers).
pub fn monitor_call(context: &Map<String, Value>, status_endpoint: &str) -> Result<Call, String> {
    Ok(Call {
        method: Method::GET,
        url: status_endpoint.to_string(),
        headers: custom_headers(context)?,
        body: None,
    })
}

/// The cancel call, if the stage has a `cancelEndpoint`.
pub fn cancel_call(context: &Map<String, Value>) -> Result<Option<Call>, String> {
    let Some(url) = str_field(context, "cancelEndpoint")
        .map(str::trim)
        .filter(|url| !url.is_empty())
    else {
        return Ok(None);
    };
    Ok(Some(Call {
        method: method(context, "cancelMethod", "POST")?,
        url: url.to_string(),
        headers: custom_headers(context)?,
        body: context
            .get("cancelPayload")
            .filter(|p| !p.is_null())
            .cloned(),
    }))
}

fn method(context: &Map<String, Value>, key: &str, default: &str) -> Result<Method, String> {
    let text = str_field(context, key)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(default)
        .trim()
        .to_ascii_uppercase();
    match text.as_str() {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" => {
            Ok(text.parse().expect("a standard method"))
        }
        other => Err(format!(
            "{key} '{other}' is not one of GET, HEAD, POST, PUT, PATCH, DELETE"
        )),
    }
}

/// `customHeaders`: a map of header name to a value or a list of values.
fn custom_headers(context: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let Some(headers) = context.get("customHeaders").filter(|h| !h.is_null()) else {
        return Ok(vec![]);
    };
    let Value::Object(headers) = headers else {
        return Err("customHeaders must be a map of header names to values".into());
    };
    let mut out = Vec::new();
    for (name, value) in headers {
        let values = match value {
            Value::Array(items) => items.iter().map(text_of).collect(),
            other => vec![text_of(other)],
        };
        out.extend(values.into_iter().map(|value| (name.clone(), value)));
    }
    Ok(out)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Orca's `webhook` context of a response: `statusCode` (the HTTP status name),
/// `statusCodeValue`, `headers`, `body` (JSON if it parses, else text).
pub fn response_context(response: &OutboundResponse) -> Map<String, Value> {
    let mut headers = Map::new();
    for name in response.headers.keys() {
        let values: Vec<Value> = response
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| json!(v))
            .collect();
        headers.insert(name.as_str().to_string(), Value::Array(values));
    }
    let mut context = Map::new();
    context.insert("statusCode".into(), json!(status_name(response.status)));
    context.insert("statusCodeValue".into(), json!(response.status));
    context.insert("headers".into(), Value::Object(headers));
    context.insert("body".into(), kept_body(response));
    context
}

/// `201` -> `"CREATED"`, as Spring's `HttpStatus` names it.
pub fn status_name(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|reason| {
            reason
                .to_ascii_uppercase()
                .replace(['-', ' ', '\''], "_")
                .replace("__", "_")
        })
        .unwrap_or_else(|| status.to_string())
}

fn kept_body(response: &OutboundResponse) -> Value {
    if response.body.is_empty() {
        return Value::Null;
    }
    if response.body.len() <= MAX_KEPT_BODY_BYTES
        && let Some(json) = response.json()
    {
        return json;
    }
    let text = response.text();
    if text.len() <= MAX_KEPT_BODY_BYTES {
        return json!(text);
    }
    let mut cut = MAX_KEPT_BODY_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    json!(format!(
        "{}… [cut at {MAX_KEPT_BODY_BYTES} bytes]",
        &text[..cut]
    ))
}

/// What a create response means. `attempt` counts creates so far, this one included.
pub fn after_create(
    context: &Map<String, Value>,
    response: &OutboundResponse,
    attempt: u32,
) -> Next {
    let status = response.status;
    // Orca's default: a gateway timeout fails at once rather than being retried.
    let fail_fast = int_list(context, "failFastStatusCodes").unwrap_or_else(|| vec![504]);
    if fail_fast.contains(&i64::from(status)) {
        return finish_with(
            ExecutionStatus::Terminal,
            format!(
                "Received status code {status}, which is configured to fail fast, terminating stage."
            ),
        );
    }
    if (200..400).contains(&status) {
        return Next::Finish {
            status: ExecutionStatus::Succeeded,
            error: None,
        };
    }
    if create_retryable(context, status) {
        let allowed = create_attempts_allowed(context, status);
        if attempt < allowed {
            return Next::Poll { wait: None };
        }
        return finish_with(
            ExecutionStatus::Terminal,
            format!("The webhook answered {status} {attempt} times; giving up."),
        );
    }
    finish_with(
        ExecutionStatus::Terminal,
        format!(
            "Error submitting webhook: the webhook answered {status} {}.",
            status_name(status)
        ),
    )
}

fn create_retryable(context: &Map<String, Value>, status: u16) -> bool {
    let configured = int_list(context, "webhookRetryStatusCodes")
        .or_else(|| int_list(context, "retryStatusCodes"))
        .unwrap_or_default();
    status >= 500
        || status == 429
        || configured.contains(&i64::from(status))
        || retries_entry(context, status).is_some()
}

/// `retries: {"503": {"maxAttempts": 3}}` sets how often a code is tried.
pub fn create_attempts_allowed(context: &Map<String, Value>, status: u16) -> u32 {
    retries_entry(context, status)
        .and_then(|entry| entry.get("maxAttempts"))
        .and_then(|n| {
            n.as_u64()
                .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|n| n.clamp(1, 100) as u32)
        .unwrap_or(DEFAULT_CREATE_ATTEMPTS)
}

fn retries_entry(context: &Map<String, Value>, status: u16) -> Option<&Value> {
    context.get("retries")?.get(status.to_string())
}

/// Where to poll for the status, from the create response; `Err` when it cannot be found.
pub fn status_endpoint(
    context: &Map<String, Value>,
    response: &OutboundResponse,
) -> Result<String, String> {
    let url = str_field(context, "url").unwrap_or_default().trim();
    let resolution = str_field(context, "statusUrlResolution").unwrap_or("getMethod");
    match resolution {
        "getMethod" => Ok(url.to_string()),
        "locationHeader" => {
            let location = response
                .header("location")
                .ok_or("the webhook's response has no Location header to poll")?;
            let base = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
            base.join(location)
                .map(String::from)
                .map_err(|e| format!("the Location header '{location}' is not a URL ({e})"))
        }
        "webhookResponse" => {
            let path = str_field(context, "statusUrlJsonPath")
                .filter(|p| !p.trim().is_empty())
                .ok_or("statusUrlResolution webhookResponse needs a statusUrlJsonPath")?;
            let body = response
                .json()
                .ok_or("the webhook's response is not JSON, so statusUrlJsonPath finds nothing")?;
            match jsonpath::find(&body, path)? {
                Some(Value::String(found)) if !found.trim().is_empty() => Ok(found.clone()),
                _ => Err(format!(
                    "the webhook's response has no status URL at {path}"
                )),
            }
        }
        other => Err(format!(
            "statusUrlResolution '{other}' is not one of getMethod, locationHeader, webhookResponse"
        )),
    }
}

/// What a status poll means. Writes `webhook.monitor` fields into `monitor`.
pub fn after_monitor(
    context: &Map<String, Value>,
    response: &OutboundResponse,
    monitor: &mut Map<String, Value>,
) -> Next {
    let status = response.status;
    monitor.insert("statusCode".into(), json!(status_name(status)));
    monitor.insert("statusCodeValue".into(), json!(status));
    monitor.insert("body".into(), kept_body(response));
    if !(200..300).contains(&status) {
        let mut past = monitor
            .get("pastStatusCodes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        past.push(json!(status));
        let errors_in_a_row = past.len() as u32;
        monitor.insert("pastStatusCodes".into(), Value::Array(past));
        let retry = int_list(context, "retryStatusCodes").unwrap_or_default();
        if status >= 500 || status == 429 || retry.contains(&i64::from(status)) {
            if errors_in_a_row >= MAX_MONITOR_ERRORS {
                return finish_with(
                    ExecutionStatus::Terminal,
                    format!(
                        "The status URL answered errors {errors_in_a_row} times in a row; giving up."
                    ),
                );
            }
            return Next::Poll { wait: None };
        }
        let error = format!(
            "Received status code {status} {} while monitoring the webhook.",
            status_name(status)
        );
        monitor.insert("error".into(), json!(error));
        return finish_with(ExecutionStatus::Terminal, error);
    }
    monitor.remove("pastStatusCodes");
    let Some(path) = str_field(context, "statusJsonPath").filter(|p| !p.trim().is_empty()) else {
        return Next::Finish {
            status: ExecutionStatus::Succeeded,
            error: None,
        };
    };
    let body = response.json().unwrap_or(Value::Null);
    if let Some(progress_path) =
        str_field(context, "progressJsonPath").filter(|p| !p.trim().is_empty())
        && let Ok(Some(progress)) = jsonpath::find(&body, progress_path)
    {
        monitor.insert("progressMessage".into(), json!(text_of(progress)));
    }
    let found = match jsonpath::find(&body, path) {
        Err(error) => return finish_with(ExecutionStatus::Terminal, error),
        Ok(None) => {
            let error = format!(
                "Unable to parse status: JSON property '{path}' not found in response body"
            );
            monitor.insert("error".into(), json!(error));
            return finish_with(ExecutionStatus::Terminal, error);
        }
        Ok(Some(found)) => found.clone(),
    };
    match found {
        Value::Number(number) => {
            let percent = number.as_f64().unwrap_or(0.0);
            monitor.insert("percentComplete".into(), json!(number));
            if percent >= 100.0 {
                Next::Finish {
                    status: ExecutionStatus::Succeeded,
                    error: None,
                }
            } else {
                Next::Poll { wait: None }
            }
        }
        Value::String(_) | Value::Bool(_) => {
            let value = text_of(&found).trim().to_ascii_lowercase();
            let listed = |key: &str| {
                str_field(context, key)
                    .map(|list| {
                        list.split(',')
                            .any(|entry| entry.trim().eq_ignore_ascii_case(&value))
                    })
                    .unwrap_or(false)
            };
            if listed("successStatuses") {
                Next::Finish {
                    status: ExecutionStatus::Succeeded,
                    error: None,
                }
            } else if listed("canceledStatuses") {
                Next::Finish {
                    status: ExecutionStatus::Canceled,
                    error: None,
                }
            } else if listed("terminalStatuses") {
                finish_with(
                    ExecutionStatus::Terminal,
                    format!(
                        "The webhook reported the status '{value}', which is a terminal status."
                    ),
                )
            } else {
                Next::Poll { wait: None }
            }
        }
        _ => finish_with(
            ExecutionStatus::Terminal,
            format!("The JSON path '{path}' did not resolve to a single value"),
        ),
    }
}

fn finish_with(status: ExecutionStatus, error: String) -> Next {
    Next::Finish {
        status,
        error: Some(error),
    }
}

/// `waitForCompletion` (Orca's default: false).
pub fn waits_for_completion(context: &Map<String, Value>) -> bool {
    bool_field(context, "waitForCompletion").unwrap_or(false)
}

/// `waitBeforeMonitor`: seconds before the first status poll.
pub fn wait_before_monitor(context: &Map<String, Value>) -> Option<u64> {
    match context.get("waitBeforeMonitor")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn context(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn response(status: u16, body: Value) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: HeaderMap::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn finished(next: &Next) -> Option<ExecutionStatus> {
        match next {
            Next::Finish { status, .. } => Some(*status),
            Next::Poll { .. } => None,
        }
    }

    #[test]
    fn the_create_call_reads_url_method_headers_and_payload() {
        let call = create_call(&context(json!({
            "url": " https://hooks.example.com/x ", "method": "put",
            "customHeaders": {"X-Token": "abc", "Accept": ["a", "b"]},
            "payload": {"k": 1}
        })))
        .unwrap();
        assert_eq!(call.method, Method::PUT);
        assert_eq!(call.url, "https://hooks.example.com/x");
        assert_eq!(call.headers.len(), 3);
        assert_eq!(call.body, Some(json!({"k": 1})));
        assert_eq!(
            create_call(&context(json!({}))).unwrap_err(),
            "the webhook stage needs a url"
        );
        assert!(
            create_call(&context(
                json!({"url": "https://x.example.com", "method": "TRACE"})
            ))
            .unwrap_err()
            .contains("TRACE")
        );
        assert_eq!(
            create_call(&context(json!({"url": "https://x.example.com"})))
                .unwrap()
                .method,
            Method::POST
        );
    }

    #[test]
    fn create_responses_map_to_statuses() {
        let plain = context(json!({"url": "https://x.example.com"}));
        assert_eq!(
            finished(&after_create(&plain, &response(200, json!({})), 1)),
            Some(ExecutionStatus::Succeeded)
        );
        assert_eq!(
            finished(&after_create(&plain, &response(302, json!({})), 1)),
            Some(ExecutionStatus::Succeeded)
        );
        assert_eq!(
            finished(&after_create(&plain, &response(404, json!({})), 1)),
            Some(ExecutionStatus::Terminal)
        );
        assert_eq!(
            after_create(&plain, &response(503, json!({})), 1),
            Next::Poll { wait: None }
        );
        assert_eq!(
            finished(&after_create(
                &plain,
                &response(503, json!({})),
                DEFAULT_CREATE_ATTEMPTS
            )),
            Some(ExecutionStatus::Terminal)
        );
        assert_eq!(
            finished(&after_create(&plain, &response(504, json!({})), 1)),
            Some(ExecutionStatus::Terminal),
            "504 fails fast by default"
        );
        let none = context(json!({"failFastStatusCodes": []}));
        assert_eq!(
            after_create(&none, &response(504, json!({})), 1),
            Next::Poll { wait: None }
        );
        let fail_fast = context(json!({"failFastStatusCodes": [503]}));
        assert_eq!(
            finished(&after_create(&fail_fast, &response(503, json!({})), 1)),
            Some(ExecutionStatus::Terminal)
        );
        let retry_409 = context(json!({"retries": {"409": {"maxAttempts": 2}}}));
        assert_eq!(
            after_create(&retry_409, &response(409, json!({})), 1),
            Next::Poll { wait: None }
        );
        assert_eq!(
            finished(&after_create(&retry_409, &response(409, json!({})), 2)),
            Some(ExecutionStatus::Terminal)
        );
    }

    #[test]
    fn status_endpoints_come_from_url_location_or_body() {
        let mut with_location =
            response(202, json!({"links": {"status": "https://s.example.com/1"}}));
        with_location
            .headers
            .insert("location", HeaderValue::from_static("/jobs/7"));
        let base = json!({"url": "https://hooks.example.com/start"});
        assert_eq!(
            status_endpoint(&context(base.clone()), &with_location).unwrap(),
            "https://hooks.example.com/start"
        );
        let mut location = context(base.clone());
        location.insert("statusUrlResolution".into(), json!("locationHeader"));
        assert_eq!(
            status_endpoint(&location, &with_location).unwrap(),
            "https://hooks.example.com/jobs/7"
        );
        let mut from_body = context(base.clone());
        from_body.insert("statusUrlResolution".into(), json!("webhookResponse"));
        from_body.insert("statusUrlJsonPath".into(), json!("$.links.status"));
        assert_eq!(
            status_endpoint(&from_body, &with_location).unwrap(),
            "https://s.example.com/1"
        );
        from_body.insert("statusUrlJsonPath".into(), json!("$.links.nope"));
        assert!(status_endpoint(&from_body, &with_location).is_err());
        assert!(status_endpoint(&location, &response(202, json!({}))).is_err());
    }

    #[test]
    fn monitor_responses_map_to_statuses() {
        let config = context(json!({
            "statusJsonPath": "$.state", "progressJsonPath": "$.message",
            "successStatuses": "DONE, ok", "canceledStatuses": "aborted", "terminalStatuses": "FAILED"
        }));
        let mut monitor = Map::new();
        let poll = |body: Value, monitor: &mut Map<String, Value>| {
            after_monitor(&config, &response(200, body), monitor)
        };
        assert_eq!(
            poll(json!({"state": "running", "message": "half"}), &mut monitor),
            Next::Poll { wait: None }
        );
        assert_eq!(monitor["progressMessage"], "half");
        assert_eq!(
            finished(&poll(json!({"state": "done"}), &mut monitor)),
            Some(ExecutionStatus::Succeeded)
        );
        assert_eq!(
            finished(&poll(json!({"state": "ABORTED"}), &mut monitor)),
            Some(ExecutionStatus::Canceled)
        );
        assert_eq!(
            finished(&poll(json!({"state": "failed"}), &mut monitor)),
            Some(ExecutionStatus::Terminal)
        );
        assert_eq!(
            finished(&poll(json!({"other": 1}), &mut monitor)),
            Some(ExecutionStatus::Terminal)
        );
        assert_eq!(
            finished(&poll(json!({"state": {"a": 1}}), &mut monitor)),
            Some(ExecutionStatus::Terminal)
        );

        let numeric = context(json!({"statusJsonPath": "$.pct"}));
        assert_eq!(
            after_monitor(&numeric, &response(200, json!({"pct": 40})), &mut monitor),
            Next::Poll { wait: None }
        );
        assert_eq!(monitor["percentComplete"], 40);
        assert_eq!(
            finished(&after_monitor(
                &numeric,
                &response(200, json!({"pct": 100})),
                &mut monitor
            )),
            Some(ExecutionStatus::Succeeded)
        );

        let no_path = context(json!({}));
        assert_eq!(
            finished(&after_monitor(
                &no_path,
                &response(204, json!(null)),
                &mut monitor
            )),
            Some(ExecutionStatus::Succeeded)
        );
        let mut monitor = Map::new();
        assert_eq!(
            after_monitor(&no_path, &response(502, json!({})), &mut monitor),
            Next::Poll { wait: None }
        );
        assert_eq!(monitor["pastStatusCodes"], json!([502]));
        assert_eq!(
            finished(&after_monitor(
                &no_path,
                &response(403, json!({})),
                &mut monitor
            )),
            Some(ExecutionStatus::Terminal)
        );
    }

    #[test]
    fn status_names_follow_spring() {
        assert_eq!(status_name(200), "OK");
        assert_eq!(status_name(201), "CREATED");
        assert_eq!(status_name(404), "NOT_FOUND");
        assert_eq!(status_name(503), "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn cancel_calls_default_to_post() {
        assert_eq!(cancel_call(&context(json!({}))).unwrap(), None);
        let call = cancel_call(&context(
            json!({"cancelEndpoint": "https://x.example.com/c", "cancelPayload": {"r": 1}}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            (call.method, call.body),
            (Method::POST, Some(json!({"r": 1})))
        );
    }
}
