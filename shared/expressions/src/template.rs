//! Splitting a string into literal text and `${…}` expressions, the way Spring's
//! `TemplateAwareExpressionParser` does: the closing `}` is the first one outside brackets and
//! string literals, so `${ {'a':1}['a'] }` and `${'}'}` are one expression each.

use crate::error::{ExpressionError, Result};

/// One piece of a template string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart<'s> {
    Literal(&'s str),
    /// The text between `${` and `}`, trimmed.
    Expression(&'s str),
}

const PREFIX: &str = "${";
const SUFFIX: char = '}';

/// True when the string contains `${` (only such strings are evaluated; Orca's
/// `ExpressionTransform.isExpression`).
pub fn contains_expression(text: &str) -> bool {
    text.contains(PREFIX)
}

/// Splits `text` into its parts. A string that is exactly one `${…}` gives one
/// `TemplatePart::Expression`.
pub fn split_template(text: &str) -> Result<Vec<TemplatePart<'_>>> {
    let mut parts = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let Some(relative) = text[start..].find(PREFIX) else {
            parts.push(TemplatePart::Literal(&text[start..]));
            break;
        };
        let prefix_at = start + relative;
        if prefix_at > start {
            parts.push(TemplatePart::Literal(&text[start..prefix_at]));
        }
        let after_prefix = prefix_at + PREFIX.len();
        let Some(suffix_at) = find_closing_suffix(text, after_prefix)? else {
            return Err(ExpressionError::new(
                crate::error::ErrorKind::Template,
                format!(
                    "No ending suffix '}}' for expression starting at character {prefix_at}: {}",
                    &text[prefix_at..]
                ),
            ));
        };
        let inner = text[after_prefix..suffix_at].trim();
        if inner.is_empty() {
            return Err(ExpressionError::new(
                crate::error::ErrorKind::Template,
                format!("No expression defined within delimiter '${{}}' at character {prefix_at}"),
            ));
        }
        parts.push(TemplatePart::Expression(inner));
        start = suffix_at + SUFFIX.len_utf8();
    }
    Ok(parts)
}

/// Byte offset of the `}` closing the expression that starts at `from`, skipping balanced
/// brackets and quoted literals; `None` when there is none.
fn find_closing_suffix(text: &str, from: usize) -> Result<Option<usize>> {
    let bytes = text.as_bytes();
    let mut open_brackets: Vec<(u8, usize)> = Vec::new();
    let mut pos = from;
    while pos < bytes.len() {
        let byte = bytes[pos];
        if byte == b'}' && open_brackets.is_empty() {
            return Ok(Some(pos));
        }
        match byte {
            b'{' | b'[' | b'(' => open_brackets.push((byte, pos)),
            b'}' | b']' | b')' => {
                let Some((open, open_pos)) = open_brackets.pop() else {
                    return Err(ExpressionError::new(
                        crate::error::ErrorKind::Template,
                        format!(
                            "Found closing '{}' at position {pos} without an opening '{}'",
                            byte as char,
                            opening_for(byte) as char
                        ),
                    ));
                };
                if opening_for(byte) != open {
                    return Err(ExpressionError::new(
                        crate::error::ErrorKind::Template,
                        format!(
                            "Found closing '{}' at position {pos} but most recent opening is '{}' at position {open_pos}",
                            byte as char, open as char
                        ),
                    ));
                }
            }
            b'\'' | b'"' => match bytes[pos + 1..].iter().position(|&b| b == byte) {
                Some(offset) => pos += offset + 1,
                None => {
                    return Err(ExpressionError::new(
                        crate::error::ErrorKind::Template,
                        format!("Found non terminating string literal starting at position {pos}"),
                    ));
                }
            },
            _ => {}
        }
        pos += 1;
    }
    if let Some((open, open_pos)) = open_brackets.pop() {
        return Err(ExpressionError::new(
            crate::error::ErrorKind::Template,
            format!(
                "Missing closing '{}' for '{}' at position {open_pos}",
                closing_for(open) as char,
                open as char
            ),
        ));
    }
    Ok(None)
}

fn opening_for(close: u8) -> u8 {
    match close {
        b'}' => b'{',
        b']' => b'[',
        _ => b'(',
    }
}

fn closing_for(open: u8) -> u8 {
    match open {
        b'{' => b'}',
        b'[' => b']',
        _ => b')',
    }
}

/// The summary key Orca uses for a template: the parts' texts joined, without `${` and `}`
/// (`a.${x}.b` → `a.x.b`).
pub fn summary_key(parts: &[TemplatePart<'_>]) -> String {
    parts
        .iter()
        .map(|part| match part {
            TemplatePart::Literal(text) | TemplatePart::Expression(text) => *text,
        })
        .collect()
}

/// The summary key for a template that could not even be split: the text inside a single
/// `${…}` (up to the last `}` on the same line), else the text with every `$` removed
/// (Orca's `ExpressionTransform.escapeSimpleExpression`).
pub fn summary_key_for_unparsable(text: &str) -> String {
    if let Some(rest) = text.strip_prefix(PREFIX)
        && let Some(inner) = rest.strip_suffix(SUFFIX)
        && !inner.contains(['\n', '\r'])
    {
        return inner.trim().to_string();
    }
    text.replace('$', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use TemplatePart::*;

    #[test]
    fn splits_literals_and_expressions() {
        assert_eq!(split_template("${a}").unwrap(), vec![Expression("a")]);
        assert_eq!(
            split_template("x-${ a.b }-y").unwrap(),
            vec![Literal("x-"), Expression("a.b"), Literal("-y")]
        );
        assert_eq!(
            split_template("${ {'a':'}'}['a'] }").unwrap(),
            vec![Expression("{'a':'}'}['a']")]
        );
        assert_eq!(
            split_template("a.${'${X}'}.b").unwrap(),
            vec![Literal("a."), Expression("'${X}'"), Literal(".b")]
        );
    }

    #[test]
    fn reports_broken_templates() {
        assert!(split_template("${a").is_err());
        assert!(split_template("${}").is_err());
        assert!(split_template("${ a) }").is_err());
        assert!(split_template("${'abc}").is_err());
        assert!(split_template("${(a}").is_err());
    }

    #[test]
    fn summary_keys_follow_orca() {
        let parts = split_template("a.${ENV1}.b.${x}").unwrap();
        assert_eq!(summary_key(&parts), "a.ENV1.b.x");
        assert_eq!(summary_key_for_unparsable("${ a b }"), "a b");
        assert_eq!(summary_key_for_unparsable("x ${a"), "x {a");
    }
}
