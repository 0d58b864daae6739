//! Java regular expressions on top of the `regex` crate.
//!
//! The `regex` crate matches in time linear in the input, so patterns such as `(a+)+b` that
//! make Java backtrack exponentially are harmless here. The price: Java features that need
//! backtracking — backreferences (`\1`), look-around (`(?=…)`, `(?<!…)`), possessive
//! quantifiers (`a*+`) and atomic groups (`(?>…)`) — are refused with an error, and `\Q…\E`
//! quoting is not supported. Character classes, quantifiers, anchors, named groups
//! (`(?<name>…)`) and flags (`(?i)`) behave as in Java.

use regex::{Regex, RegexBuilder};

use crate::error::{ExpressionError, Result};
use crate::limits::{MAX_REGEX_COMPILED_SIZE, MAX_REGEX_LENGTH, MAX_STRING_LENGTH};

fn build(pattern: &str, anchored: bool) -> Result<Regex> {
    if pattern.chars().count() > MAX_REGEX_LENGTH {
        return Err(ExpressionError::eval(format!(
            "EL1072E: Regular expression is too long: more than {MAX_REGEX_LENGTH} characters"
        )));
    }
    let source = if anchored {
        format!(r"\A(?:{pattern})\z")
    } else {
        pattern.to_string()
    };
    RegexBuilder::new(&source)
        .size_limit(MAX_REGEX_COMPILED_SIZE)
        .dfa_size_limit(MAX_REGEX_COMPILED_SIZE)
        .build()
        .map_err(|e| {
            ExpressionError::eval(format!(
                "Invalid or unsupported regular expression '{pattern}' (Java features that need backtracking are not available): {e}"
            ))
        })
}

/// Java's `String.matches` / SpEL `matches`: the whole input must match.
pub fn full_match(pattern: &str, text: &str) -> Result<bool> {
    Ok(build(pattern, true)?.is_match(text))
}

/// Java's `String.split(regex, limit)`: with limit 0 trailing empty strings are dropped; a
/// zero-width match at the start never produces a leading empty string.
pub fn split(text: &str, pattern: &str, limit: i64) -> Result<Vec<String>> {
    let regex = build(pattern, false)?;
    let mut parts = Vec::new();
    let mut last = 0;
    for found in regex.find_iter(text) {
        if limit > 0 && parts.len() as i64 == limit - 1 {
            break;
        }
        if found.end() == 0 {
            continue;
        }
        if found.start() == found.end() && found.start() == text.len() {
            break;
        }
        parts.push(text[last..found.start()].to_string());
        last = found.end();
    }
    if parts.is_empty() && last == 0 {
        return Ok(vec![text.to_string()]);
    }
    parts.push(text[last..].to_string());
    if limit == 0 {
        while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
        if parts.len() == 1 && parts[0].is_empty() && !text.is_empty() {
            parts.clear();
        }
    }
    Ok(parts)
}

/// Java's `replaceAll`/`replaceFirst` with Java's replacement syntax (`$1`, `${name}`, `\$`).
pub fn replace(text: &str, pattern: &str, replacement: &str, all: bool) -> Result<String> {
    let regex = build(pattern, false)?;
    let replacement = java_replacement(replacement, &regex)?;
    let result = if all {
        regex.replace_all(text, replacement.as_str())
    } else {
        regex.replace(text, replacement.as_str())
    };
    if result.len() > MAX_STRING_LENGTH {
        return Err(ExpressionError::eval(format!(
            "String result exceeds the limit of {MAX_STRING_LENGTH} bytes"
        )));
    }
    Ok(result.into_owned())
}

/// Translates a Java replacement string into the `regex` crate's syntax.
fn java_replacement(replacement: &str, regex: &Regex) -> Result<String> {
    let groups = regex.captures_len() - 1;
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(ExpressionError::new(
                        crate::error::ErrorKind::IllegalArgument,
                        "character to be escaped is missing",
                    ));
                };
                if next == '$' {
                    out.push_str("$$");
                } else {
                    out.push(next);
                }
                i += 2;
            }
            '$' => {
                if chars.get(i + 1) == Some(&'{') {
                    let end = chars[i + 2..]
                        .iter()
                        .position(|&c| c == '}')
                        .ok_or_else(|| {
                            ExpressionError::new(
                                crate::error::ErrorKind::IllegalArgument,
                                "named capturing group is missing trailing '}'",
                            )
                        })?;
                    let name: String = chars[i + 2..i + 2 + end].iter().collect();
                    out.push_str(&format!("${{{name}}}"));
                    i += 3 + end;
                    continue;
                }
                let digits_start = i + 1;
                let Some(first) = chars.get(digits_start).and_then(|c| c.to_digit(10)) else {
                    return Err(ExpressionError::new(
                        crate::error::ErrorKind::IllegalArgument,
                        "Illegal group reference",
                    ));
                };
                // Java takes more digits only while the group number stays valid.
                let mut number = first as usize;
                let mut end = digits_start + 1;
                while let Some(d) = chars.get(end).and_then(|c| c.to_digit(10)) {
                    let longer = number * 10 + d as usize;
                    if longer > groups {
                        break;
                    }
                    number = longer;
                    end += 1;
                }
                if number > groups {
                    return Err(ExpressionError::new(
                        crate::error::ErrorKind::IllegalArgument,
                        format!("No group {number}"),
                    ));
                }
                out.push_str(&format!("${{{number}}}"));
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_java() {
        assert_eq!(split("a,b,,c,,", ",", 0).unwrap(), vec!["a", "b", "", "c"]);
        assert_eq!(split("", ",", 0).unwrap(), vec![""]);
        assert_eq!(split("abc", "", 0).unwrap(), vec!["a", "b", "c"]);
        assert_eq!(split("a1b2c", "\\d", 2).unwrap(), vec!["a", "b2c"]);
        assert_eq!(split(",a", ",", 0).unwrap(), vec!["", "a"]);
        assert!(split(",,", ",", 0).unwrap().is_empty());
    }

    #[test]
    fn replacement_uses_java_syntax() {
        assert_eq!(replace("v1.2", r"v(\d)", "x$1y", true).unwrap(), "x1y.2");
        assert_eq!(replace("a.b", r"\.", "\\$", true).unwrap(), "a$b");
        assert_eq!(replace("aaa", "a", "b", false).unwrap(), "baa");
    }

    #[test]
    fn exponential_patterns_are_linear() {
        let text = format!("{}!", "a".repeat(10_000));
        let start = std::time::Instant::now();
        assert!(!full_match("(a+)+b", &text).unwrap());
        assert!(start.elapsed().as_millis() < 1_000);
        assert!(full_match("(a)\\1", "aa").is_err());
    }
}
