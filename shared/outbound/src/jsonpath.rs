//! The JSONPath subset webhook stages use to find a status or a status URL in a response:
//! `$.a.b`, `$['a'].b`, `$.items[0].state`, `$..x` not included. As in Jayway JsonPath
//! (which Orca uses), a path without a leading `$` is read from the root.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The value at `path` in `value`; `Err` when the path cannot be parsed, `Ok(None)` when
/// nothing is there.
pub fn find<'v>(value: &'v Value, path: &str) -> Result<Option<&'v Value>, String> {
    let steps = parse(path)?;
    let mut current = value;
    for step in &steps {
        let next = match (step, current) {
            (Step::Key(key), Value::Object(map)) => map.get(key),
            (Step::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

fn parse(path: &str) -> Result<Vec<Step>, String> {
    let invalid = |why: &str| format!("invalid JSON path '{path}': {why}");
    let text = path.trim();
    let mut rest = text.strip_prefix('$').unwrap_or(text);
    let mut steps = Vec::new();
    // A path without `$` starts with a bare key.
    if !rest.is_empty() && !rest.starts_with(['.', '[']) {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        steps.push(Step::Key(rest[..end].to_string()));
        rest = &rest[end..];
    }
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            if after.starts_with('.') {
                return Err(invalid("deep scan (..) is not supported"));
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return Err(invalid("empty key"));
            }
            if key == "*" {
                return Err(invalid("wildcards are not supported"));
            }
            steps.push(Step::Key(key.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| invalid("unclosed ["))?;
            let inside = after[..end].trim();
            let quoted = inside
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) => steps.push(Step::Key(key.to_string())),
                None => {
                    let index = inside
                        .parse()
                        .map_err(|_| invalid("only quoted keys and indexes go in []"))?;
                    steps.push(Step::Index(index));
                }
            }
            rest = &after[end + 1..];
        } else {
            return Err(invalid("expected . or ["));
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_keys_and_indexes() {
        let value = json!({"a": {"b": [{"c": "x"}, {"c": 7}]}, "d e": true});
        assert_eq!(find(&value, "$.a.b[1].c").unwrap(), Some(&json!(7)));
        assert_eq!(find(&value, "a.b[0].c").unwrap(), Some(&json!("x")));
        assert_eq!(find(&value, "$['d e']").unwrap(), Some(&json!(true)));
        assert_eq!(
            find(&value, "$[\"a\"]['b'][0]").unwrap(),
            Some(&json!({"c": "x"}))
        );
        assert_eq!(find(&value, "$").unwrap(), Some(&value));
        assert_eq!(find(&value, "$.missing.x").unwrap(), None);
        assert_eq!(find(&value, "$.a.b[9]").unwrap(), None);
    }

    #[test]
    fn unsupported_paths_are_errors() {
        let value = json!({});
        assert!(find(&value, "$..a").is_err());
        assert!(find(&value, "$.a.*").is_err());
        assert!(find(&value, "$.a[").is_err());
        assert!(find(&value, "$.a[?(@.x)]").is_err());
    }
}
