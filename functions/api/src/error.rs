//! Errors at the HTTP edge, rendered in Gate's shape:
//! `{"timestamp", "status", "error", "message", "path"}` plus `details` naming each field
//! that was refused. Handlers return [`ApiError`]; [`fill_error_path`] adds the request path.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gennaker_model::json::now_millis;
use gennaker_model::validation::ValidationError;
use gennaker_store::StoreError;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Vec<ValidationError>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: vec![],
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A 400 that names the offending field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            details: vec![ValidationError {
                field: field.to_string(),
                message: message.clone(),
            }],
            message,
        }
    }

    pub fn invalid(errors: Vec<ValidationError>) -> Self {
        let message = errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            status: StatusCode::BAD_REQUEST,
            message,
            details: errors,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateName { .. } => ApiError::invalid_field("name", error.to_string()),
            StoreError::NotFound(_) => ApiError::not_found(error.to_string()),
            StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "{error}; the record changed while it was being written, retry the request"
                ),
            ),
            // DynamoDB refuses what cannot be stored or looked up (a key longer than its
            // limit, an empty index key, an item over 400 KB): the request was at fault.
            StoreError::Aws(message) if message.contains("ValidationException") => {
                tracing::warn!(%message, "DynamoDB refused the request");
                ApiError::bad_request(format!(
                    "the request names or carries something that cannot be stored: {}",
                    validation_reason(&message)
                ))
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("storage failure: {other}"),
                )
            }
        }
    }
}

impl From<gennaker_cloud::AccountError> for ApiError {
    fn from(error: gennaker_cloud::AccountError) -> Self {
        ApiError::not_found(error.to_string())
    }
}

impl From<gennaker_cloud::CloudError> for ApiError {
    fn from(error: gennaker_cloud::CloudError) -> Self {
        use gennaker_cloud::CloudError;
        match error {
            CloudError::Account(_) => ApiError::not_found(error.to_string()),
            CloudError::Invalid(_) => ApiError::bad_request(error.to_string()),
            CloudError::Aws { .. } => {
                tracing::error!(%error, "cloud call failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            }
        }
    }
}

impl From<gennaker_runtime::step_functions::StepFunctionsError> for ApiError {
    fn from(error: gennaker_runtime::step_functions::StepFunctionsError) -> Self {
        tracing::error!(%error, "step functions failure");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
    }
}

impl From<gennaker_launch::LaunchError> for ApiError {
    fn from(error: gennaker_launch::LaunchError) -> Self {
        use gennaker_launch::LaunchError;
        match error {
            LaunchError::Store(error) => error.into(),
            LaunchError::StepFunctions(error) => error.into(),
        }
    }
}

/// The reason DynamoDB gave, without the SDK's wrapping.
fn validation_reason(message: &str) -> &str {
    message
        .split("message: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("invalid key or item")
}

/// The error waiting in a response for its path to be filled in.
#[derive(Debug, Clone)]
struct PendingError(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(PendingError(self));
        response
    }
}

/// Middleware: renders any [`ApiError`] with the request path, as Gate does.
pub async fn fill_error_path(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    match response.extensions().get::<PendingError>().cloned() {
        Some(PendingError(error)) => render(&error, &path),
        None if is_bare_error(&response) => {
            let allow = response.headers().get(axum::http::header::ALLOW).cloned();
            let mut rendered = render(&from_framework(response).await, &path);
            if let Some(allow) = allow {
                rendered
                    .headers_mut()
                    .insert(axum::http::header::ALLOW, allow);
            }
            rendered
        }
        None => response,
    }
}

/// An error answer that did not come from a handler (axum's own rejections of a body too
/// large, a query string or path that does not parse, a method the route lacks): not yet in
/// Gate's shape.
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("application/json"));
    (status.is_client_error() || status.is_server_error()) && !json
}

/// The framework's error answer as an [`ApiError`], keeping its text as the message.
async fn from_framework(response: Response) -> ApiError {
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default();
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            "Request method is not supported by this endpoint".to_string()
        }
        (_, false) => text,
        (_, true) => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    ApiError::new(status, message)
}

fn render(error: &ApiError, path: &str) -> Response {
    let mut body = json!({
        "timestamp": now_millis(),
        "status": error.status.as_u16(),
        "error": error.status.canonical_reason().unwrap_or("Error"),
        "message": error.message,
        "path": path,
    });
    if !error.details.is_empty() {
        body["details"] = json!(error.details);
    }
    (error.status, axum::Json(body)).into_response()
}

/// Unknown routes answer in the same shape.
pub async fn not_found_route() -> ApiError {
    ApiError::not_found("No such endpoint")
}
