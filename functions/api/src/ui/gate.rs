//! The UI's way to the API: every read and write is a request through the Gate router itself,
//! in process, so pages show exactly what API clients get (same queries, same validation,
//! same error messages) and no query logic is written twice.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::ServiceExt;

/// Bodies the UI reads back from the API (a full pipeline config history stays far below).
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// The Gate router, called in process on behalf of the browser's user.
#[derive(Clone)]
pub struct Gate {
    router: Router,
}

/// A refusal from the API: its status, message and the fields it named.
#[derive(Debug, Clone)]
pub struct GateError {
    pub status: StatusCode,
    pub message: String,
    /// `(field, message)` for each field the API refused.
    pub fields: Vec<(String, String)>,
}

impl GateError {
    pub fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
    }

    /// The caller may not do this (Fiat's 403, or no verified token): the page that asked
    /// answers with the refusal itself rather than as a form error.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self.status,
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
        )
    }

    /// The message the API gave for `field`, if it named it.
    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, message)| message.as_str())
    }

    fn unreadable(what: &str, error: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            message: format!("the API answered {what} in a shape the UI cannot read: {error}"),
            fields: vec![],
        }
    }
}

/// Who the browser says it is, passed on as Gate's identity headers.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    headers: Vec<(&'static str, String)>,
}

impl Caller {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let headers = [
            "x-spinnaker-user",
            "x-spinnaker-user-origin",
            crate::identity::IDENTITY_HEADER,
        ]
        .into_iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?.trim();
            (!value.is_empty()).then(|| (name, value.to_string()))
        })
        .collect();
        Self { headers }
    }
}

impl Gate {
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// The request as the Gate router answers it.
    pub async fn forward(&self, request: Request<Body>) -> axum::response::Response {
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// `GET path`, read as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        caller: &Caller,
        path: &str,
    ) -> Result<T, GateError> {
        let body = self.send(caller, Method::GET, path, None).await?;
        serde_json::from_slice(&body).map_err(|error| GateError::unreadable(path, error))
    }

    /// A write; answers the response body as JSON (`Null` for an empty body).
    pub async fn write(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, GateError> {
        let bytes = self.send(caller, method, path, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|error| GateError::unreadable(path, error))
    }

    async fn send(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<axum::body::Bytes, GateError> {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in &caller.headers {
            request = request.header(*name, value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|error| GateError::unreadable(path, error))?;
        let response = self.forward(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
            .await
            .map_err(|error| GateError::unreadable(path, error))?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(error_from(status, &bytes))
        }
    }
}

/// Gate's error body: `message` and `details[{field, message}]`.
fn error_from(status: StatusCode, body: &[u8]) -> GateError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_string());
    let fields = json
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|detail| {
            Some((
                detail.get("field")?.as_str()?.to_string(),
                detail.get("message")?.as_str()?.to_string(),
            ))
        })
        .collect();
    GateError {
        status,
        message,
        fields,
    }
}

/// A path segment, percent-encoded (names may hold spaces, slashes or `#`).
pub fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
