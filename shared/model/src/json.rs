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

/// A whole, non-negative number given as a JSON number or as a string of digits: Jackson,
/// which reads Spinnaker's configs, coerces `"420"` into an integer field.
pub fn whole_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_come_as_numbers_or_digit_strings() {
        assert_eq!(whole_number(&json!(420)), Some(420));
        assert_eq!(whole_number(&json!(" 420 ")), Some(420));
        for not_whole in [
            json!(-1),
            json!("4.5"),
            json!("soon"),
            json!(null),
            json!(true),
        ] {
            assert_eq!(whole_number(&not_whole), None, "{not_whole}");
        }
    }
}
