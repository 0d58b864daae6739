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

/// Java `.properties`: `key=value`, `key: value` or `key value`; `#` and `!` comments;
/// a trailing backslash continues the line; `\n`, `\t`, `\\`, `\=`, `\:` escapes.
pub fn java_properties(text: &str) -> Map<String, Value> {
    let mut map = Map::new();
    let mut logical = String::new();
    for raw in text.lines() {
        // Leading whitespace never counts, also on continuation lines.
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let continued = ends_with_odd_backslashes(line);
        logical.push_str(if continued {
            &line[..line.len() - 1]
        } else {
            line
        });
        if continued {
            continue;
        }
        let (key, value) = split_entry(&logical);
        map.insert(unescape(&key), Value::String(unescape(&value)));
        logical.clear();
    }
    if !logical.is_empty() {
        let (key, value) = split_entry(&logical);
        map.insert(unescape(&key), Value::String(unescape(&value)));
    }
    map
}

fn ends_with_odd_backslashes(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace.
fn split_entry(line: &str) -> (String, String) {
    let mut escaped = false;
    for (index, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => {
                return (
                    line[..index].trim_end().to_string(),
                    line[index + 1..].trim_start().to_string(),
                );
            }
            c if c.is_whitespace() => {
                let rest = line[index..].trim_start();
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .map(str::trim_start)
                    .unwrap_or(rest);
                return (line[..index].to_string(), rest.to_string());
            }
            _ => {}
        }
    }
    (line.to_string(), String::new())
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
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
