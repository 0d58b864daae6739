//! Applications, as Front50 stores them: a name plus free-form attributes.

use serde_json::{Map, Value};

/// Why an application name is refused.
pub fn application_name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("application name must not be empty".to_string());
    }
    if name.len() > 250 {
        return Some("application name must be at most 250 characters".to_string());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
    {
        return Some(format!(
            "application name '{name}' may contain only letters, digits, '_', '.' and '-'"
        ));
    }
    None
}

/// Normalizes an application's attributes the way Front50 does: the name is lower-cased and
/// a `cloudProviders` array becomes a comma-separated string.
pub fn normalize_application(mut attributes: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::String(name)) = attributes.get("name") {
        let lower = name.trim().to_lowercase();
        attributes.insert("name".to_string(), Value::String(lower));
    }
    if let Some(Value::Array(providers)) = attributes.get("cloudProviders") {
        let joined = providers
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",");
        attributes.insert("cloudProviders".to_string(), Value::String(joined));
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_checked() {
        assert!(application_name_problem("my_app.v2").is_none());
        assert!(application_name_problem("").is_some());
        assert!(application_name_problem("bad name").is_some());
        assert!(application_name_problem(&"a".repeat(251)).is_some());
    }

    #[test]
    fn normalization_lower_cases_and_joins_providers() {
        let normalized = normalize_application(
            json!({"name": " MyApp ", "cloudProviders": ["aws", "kubernetes"], "x": 1})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(
            Value::Object(normalized),
            json!({"name": "myapp", "cloudProviders": "aws,kubernetes", "x": 1})
        );
    }
}
