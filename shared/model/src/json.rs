//! Small helpers for reading loosely typed Spinnaker JSON.

use serde_json::{Map, Value};

pub fn str_field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// Spinnaker sends booleans both as JSON booleans and as the strings "true"/"false".
pub fn bool_field(object: &Map<String, Value>, key: &str) -> Option<bool> {
    match object.get(key)? {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => Some(text.trim().eq_ignore_ascii_case("true")),
        _ => None,
    }
}

/// Ids (`refId`, `requisiteStageRefIds[]`) may be strings or numbers; both become strings.
pub fn to_id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Current time in epoch milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
