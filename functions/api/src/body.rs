//! Request bodies: parsed by hand so that a bad body gets a 400 that says what is wrong.

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The body as a JSON object; `empty` is returned for an empty body when allowed.
pub fn json_object(body: &Bytes, allow_empty: bool) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if allow_empty {
            Ok(Map::new())
        } else {
            Err(ApiError::invalid_field(
                "body",
                "a JSON object is required, the request body is empty",
            ))
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(Value::Null) if allow_empty => Ok(Map::new()),
        Ok(_) => Err(ApiError::invalid_field(
            "body",
            "the request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::invalid_field(
            "body",
            format!("the request body is not valid JSON: {error}"),
        )),
    }
}
