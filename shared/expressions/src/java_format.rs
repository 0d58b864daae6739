//! Java's text formatting as expressions call it: `String.format` and
//! `URLEncoder.encode`.

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::value::Val;

/// `URLEncoder.encode(s, "UTF-8")`: form encoding (space → `+`).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `String.format` for `%s %d %f %.Nf %x %b %n %%` (other conversions are refused).
pub(crate) fn java_format(pattern: &str, args: &[Val<'_>]) -> Result<String> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            precision = digits.parse().ok();
            if precision.is_some_and(|p| p > 100) {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    "Format precision above 100 is not supported",
                ));
            }
        }
        let conversion = chars.next().ok_or_else(|| {
            ExpressionError::new(
                ErrorKind::IllegalArgument,
                "Format specifier '%' is incomplete",
            )
        })?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        if conversion == 'n' {
            out.push('\n');
            continue;
        }
        let arg = args.get(next_arg).ok_or_else(|| {
            ExpressionError::new(
                ErrorKind::IllegalArgument,
                format!("Format specifier '%{conversion}' has no argument"),
            )
        })?;
        next_arg += 1;
        match conversion {
            's' | 'S' => {
                let text = crate::ops::to_java_string(arg);
                out.push_str(&if conversion == 'S' {
                    text.to_uppercase()
                } else {
                    text
                });
            }
            'd' => match arg.as_i64() {
                Some(v) => out.push_str(&v.to_string()),
                None => {
                    return Err(ExpressionError::new(
                        ErrorKind::IllegalArgument,
                        format!("d != {}", arg.type_name()),
                    ));
                }
            },
            'x' => match arg.as_i64() {
                Some(v) => out.push_str(&format!("{v:x}")),
                None => {
                    return Err(ExpressionError::new(
                        ErrorKind::IllegalArgument,
                        format!("x != {}", arg.type_name()),
                    ));
                }
            },
            'f' => match arg {
                Val::Float(_) | Val::Double(_) => {
                    let value = arg.as_f64().unwrap_or(0.0);
                    out.push_str(&format!("{value:.*}", precision.unwrap_or(6)));
                }
                _ => {
                    return Err(ExpressionError::new(
                        ErrorKind::IllegalArgument,
                        format!("f != {}", arg.type_name()),
                    ));
                }
            },
            'b' => out.push_str(match arg {
                Val::Null => "false",
                Val::Bool(false) => "false",
                _ => "true",
            }),
            other => {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("Format conversion '%{other}' is not supported"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_matches_java() {
        assert_eq!(url_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
