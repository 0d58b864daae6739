//! A property file (Jenkins and script stages' `propertyFile`): Java `.properties`, JSON or
//! YAML, read into a map whose keys become stage outputs.

use serde_json::{Map, Value};

/// Parses `text` by the file's extension (`.json`, `.yml`/`.yaml`, anything else as
/// `.properties`); a JSON object is recognised whatever the extension.
pub fn parse(file_name: &str, text: &str) -> Result<Map<String, Value>, String> {
    let lower = file_name.to_ascii_lowercase();
    let trimmed = text.trim_start();
    if lower.ends_with(".json") || trimmed.starts_with('{') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(format!("{file_name} is JSON but not an object")),
            Err(error) => Err(format!("{file_name} is not valid JSON: {error}")),
        };
    }
    if lower.ends_with(".yml") || lower.ends_with(".yaml") {
        return match serde_yaml::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(_) => Err(format!("{file_name} is YAML but not a mapping")),
            Err(error) => Err(format!("{file_name} is not valid YAML: {error}")),
        };
    }
    Ok(java_properties(text))
}

/// Java `.properties` text, read as `java.util.Properties.load` reads it (the one parser the
/// expression functions use too), each value a string.
pub fn java_properties(text: &str) -> Map<String, Value> {
    gennaker_expressions::parse_properties(text)
        .into_iter()
        .map(|(key, value)| (key, Value::String(value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn java_properties_follow_the_format() {
        let text = "# comment\n! also\nVERSION=1.2.3\nname : demo\nspaced value here\nmulti=a\\\n    b\npath=c\\:\\\\x\nempty=\n";
        let map = java_properties(text);
        assert_eq!(
            Value::Object(map),
            json!({"VERSION": "1.2.3", "name": "demo", "spaced": "value here", "multi": "ab", "path": "c:\\x", "empty": ""})
        );
    }

    #[test]
    fn json_and_yaml_by_extension_or_content() {
        assert_eq!(
            parse("build.json", r#"{"a": 1, "b": [true]}"#).unwrap()["b"],
            json!([true])
        );
        assert_eq!(parse("out.txt", r#"{"a": "x"}"#).unwrap()["a"], "x");
        assert_eq!(parse("vars.yml", "a: 1\nb: two\n").unwrap()["b"], "two");
        assert!(parse("vars.yaml", "- a\n- b\n").is_err());
        assert!(parse("x.json", "[1]").is_err());
        assert_eq!(parse("p.properties", "K=V").unwrap()["K"], "V");
    }
}
