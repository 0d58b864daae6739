//! Java `.properties` text (for `#propertiesFromUrl`), as `java.util.Properties.load` reads it:
//! `#`/`!` comments, `key=value`, `key: value` or `key value`, backslash line continuations and
//! escapes (`\t`, `\n`, `\uXXXX`, ...). Later keys win.

pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in logical_lines(text) {
        let (key, value) = split_entry(&line);
        let (key, value) = (unescape(&key), unescape(&value));
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }
    entries
}

/// Joins continued lines and drops comments and blank lines (escapes stay for `unescape`).
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let piece = match &current {
            Some(_) => raw.trim_start(),
            None => {
                let trimmed = raw.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
                    continue;
                }
                trimmed
            }
        };
        let trailing_backslashes = piece.chars().rev().take_while(|&c| c == '\\').count();
        let continues = trailing_backslashes % 2 == 1;
        let body = if continues {
            &piece[..piece.len() - 1]
        } else {
            piece
        };
        let mut joined = current.take().unwrap_or_default();
        joined.push_str(body);
        if continues {
            current = Some(joined);
        } else {
            lines.push(joined);
        }
    }
    if let Some(rest) = current {
        lines.push(rest);
    }
    lines
}

fn split_entry(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            key.push(c);
            key.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || c.is_whitespace() {
            break;
        }
        key.push(c);
        i += 1;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    if i < chars.len() && (chars[i] == '=' || chars[i] == ':') {
        i += 1;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    (key, chars[i..].iter().collect())
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
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_properties() {
        let text = "# comment\n! also\nversion=1.2.3\nname : demo app\nflag true\nlong = a \\\n    b\nesc=tab\\tend \\u0041\n";
        let entries = parse_properties(text);
        assert_eq!(
            entries,
            vec![
                ("version".into(), "1.2.3".into()),
                ("name".into(), "demo app".into()),
                ("flag".into(), "true".into()),
                ("long".into(), "a b".into()),
                ("esc".into(), "tab\tend A".into()),
            ]
        );
    }
}
