//! Methods callable on values: the `String`, `List` and `Map` methods pipelines use, number and
//! date methods, and the getters of stages and executions. Anything else — in particular
//! `getClass()` and the other `Object`/`Class` reflection entry points — is refused.
//!
//! String positions count Unicode scalar values; Java counts UTF-16 code units, so the two
//! differ only for characters outside the Basic Multilingual Plane (emoji).

use std::rc::Rc;

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::eval::Evaluator;
use crate::javatypes::{self, is_blocked_method};
use crate::ops::{self, bounded, to_java_string};
use crate::regex_support;
use crate::value::Val;
use crate::{java_random, java_time};

fn no_such_method(name: &str, args: &[Val<'_>], target: &Val<'_>) -> ExpressionError {
    let types: Vec<&str> = args.iter().map(Val::type_name).collect();
    ExpressionError::eval(format!(
        "EL1004E: Method call: Method {name}({}) cannot be found on type {}",
        types.join(","),
        target.type_name()
    ))
}

fn string_arg<'v>(args: &'v [Val<'_>], index: usize, name: &str) -> Result<&'v str> {
    match args.get(index) {
        Some(Val::Str(s)) => Ok(s),
        Some(Val::Null) => Err(ExpressionError::eval(format!(
            "EL1004E: Method call: argument {} of {name}() must be a String, got null",
            index + 1
        ))),
        Some(other) => Err(ExpressionError::eval(format!(
            "EL1004E: Method call: argument {} of {name}() must be a String, got {}",
            index + 1,
            other.type_name()
        ))),
        None => Err(ExpressionError::eval(format!(
            "EL1004E: Method call: {name}() needs {} argument(s)",
            index + 1
        ))),
    }
}

fn int_arg(args: &[Val<'_>], index: usize, name: &str) -> Result<i64> {
    match args.get(index) {
        Some(Val::Int(v)) => Ok(*v as i64),
        Some(Val::Long(v)) => Ok(*v),
        Some(other) => Err(ExpressionError::eval(format!(
            "EL1004E: Method call: argument {} of {name}() must be an int, got {}",
            index + 1,
            other.type_name()
        ))),
        None => Err(ExpressionError::eval(format!(
            "EL1004E: Method call: {name}() needs {} argument(s)",
            index + 1
        ))),
    }
}

fn string_index_error(message: String) -> ExpressionError {
    ExpressionError::new(ErrorKind::StringIndexOutOfBounds, message)
}

/// Java's `hashCode` for strings (UTF-16 based), for completeness of the `Object` methods.
fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(unit as i32)
    })
}

pub(crate) fn call_method<'a>(
    evaluator: &Evaluator<'_, 'a>,
    target: &Val<'a>,
    name: &str,
    args: &[Val<'a>],
) -> Result<Val<'a>> {
    if is_blocked_method(name) {
        return Err(javatypes::blocked(name, target.type_name()));
    }
    // The `Object` methods Orca keeps.
    match (name, args.len()) {
        ("toString", 0) => return Ok(Val::str(to_java_string(target))),
        ("equals", 1) => return Ok(Val::Bool(ops::java_equals(target, &args[0]))),
        ("hashCode", 0) => {
            if let Val::Str(s) = target {
                return Ok(Val::Int(java_string_hash(s)));
            }
        }
        _ => {}
    }
    match target {
        Val::Str(text) => string_method(text, name, args, target),
        Val::Json(serde_json::Value::Array(_)) | Val::List(_) => list_method(target, name, args),
        Val::Json(_) | Val::Map(_) | Val::StageContext(_) | Val::Root => {
            map_method(evaluator, target, name, args)
        }
        Val::Int(_) | Val::Long(_) | Val::Float(_) | Val::Double(_) => {
            number_method(target, name, args)
        }
        Val::Bool(b) => match (name, args.len()) {
            ("booleanValue", 0) => Ok(Val::Bool(*b)),
            ("compareTo", 1) => Ok(Val::Int(ops::compare(target, &args[0])? as i32)),
            _ => Err(no_such_method(name, args, target)),
        },
        Val::Type(ty) => javatypes::call_static(*ty, name, args, evaluator.ctx.now()),
        Val::Stage(_) | Val::Execution(_) => {
            // Getters: `getContext()`, `getStatus()`, `isCanceled()` ...
            let property = name
                .strip_prefix("get")
                .or_else(|| name.strip_prefix("is"))
                .filter(|rest| {
                    args.is_empty() && rest.chars().next().is_some_and(char::is_uppercase)
                })
                .map(|rest| {
                    let mut chars = rest.chars();
                    let first = chars
                        .next()
                        .map(|c| c.to_ascii_lowercase())
                        .unwrap_or_default();
                    format!("{first}{}", chars.as_str())
                });
            match property {
                Some(property) => evaluator.property(target, &property, false),
                None => Err(no_such_method(name, args, target)),
            }
        }
        other => java_time::call_temporal_method(other, name, args)
            .or_else(|| java_random::call_random_method(other, name, args))
            .unwrap_or_else(|| Err(no_such_method(name, args, other))),
    }
}

fn char_slice(text: &str, begin: i64, end: i64) -> Result<String> {
    let length = text.chars().count() as i64;
    if begin < 0 || end > length || begin > end {
        return Err(string_index_error(format!(
            "begin {begin}, end {end}, length {length}"
        )));
    }
    Ok(text
        .chars()
        .skip(begin as usize)
        .take((end - begin) as usize)
        .collect())
}

/// Character position of the byte offset `byte_index` in `text`.
fn char_position(text: &str, byte_index: usize) -> i64 {
    text[..byte_index].chars().count() as i64
}

fn byte_offset(text: &str, char_index: i64) -> usize {
    if char_index <= 0 {
        return 0;
    }
    text.char_indices()
        .nth(char_index as usize)
        .map(|(i, _)| i)
        .unwrap_or(text.len())
}

fn string_method<'a>(
    text: &str,
    name: &str,
    args: &[Val<'a>],
    target: &Val<'a>,
) -> Result<Val<'a>> {
    let value = match (name, args.len()) {
        ("toUpperCase", 0) => Val::str(text.to_uppercase()),
        ("toLowerCase", 0) => Val::str(text.to_lowercase()),
        // Java's trim removes code points up to U+0020; strip removes Unicode whitespace.
        ("trim", 0) => Val::str(text.trim_matches(|c: char| c <= ' ')),
        ("strip", 0) => Val::str(text.trim()),
        ("length", 0) => Val::Int(text.chars().count() as i32),
        ("isEmpty", 0) => Val::Bool(text.is_empty()),
        ("isBlank", 0) => Val::Bool(text.trim().is_empty()),
        ("contains", 1) => Val::Bool(text.contains(&*to_java_string(&args[0]))),
        ("startsWith", 1) => Val::Bool(text.starts_with(string_arg(args, 0, name)?)),
        ("startsWith", 2) => {
            let offset = int_arg(args, 1, name)?;
            let prefix = string_arg(args, 0, name)?;
            Val::Bool(
                offset >= 0
                    && text[byte_offset(text, offset)..].starts_with(prefix)
                    && offset <= text.chars().count() as i64,
            )
        }
        ("endsWith", 1) => Val::Bool(text.ends_with(string_arg(args, 0, name)?)),
        ("equalsIgnoreCase", 1) => Val::Bool(match &args[0] {
            Val::Str(other) => text.to_lowercase() == other.to_lowercase(),
            _ => false,
        }),
        ("compareTo", 1) => Val::Int(text.cmp(string_arg(args, 0, name)?) as i32),
        ("compareToIgnoreCase", 1) => Val::Int(
            text.to_lowercase()
                .cmp(&string_arg(args, 0, name)?.to_lowercase()) as i32,
        ),
        ("concat", 1) => Val::str(bounded(format!("{text}{}", string_arg(args, 0, name)?))?),
        ("replace", 2) => {
            let from = to_java_string(&args[0]);
            let to = to_java_string(&args[1]);
            let replaced = if from.is_empty() {
                // Java inserts the replacement between every character.
                let mut out = to.clone();
                for c in text.chars() {
                    out.push(c);
                    out.push_str(&to);
                }
                out
            } else {
                text.replace(&from, &to)
            };
            Val::str(bounded(replaced)?)
        }
        ("replaceAll", 2) => Val::str(regex_support::replace(
            text,
            string_arg(args, 0, name)?,
            string_arg(args, 1, name)?,
            true,
        )?),
        ("replaceFirst", 2) => Val::str(regex_support::replace(
            text,
            string_arg(args, 0, name)?,
            string_arg(args, 1, name)?,
            false,
        )?),
        ("matches", 1) => Val::Bool(regex_support::full_match(string_arg(args, 0, name)?, text)?),
        ("split", 1) => Val::list(
            regex_support::split(text, string_arg(args, 0, name)?, 0)?
                .into_iter()
                .map(Val::str)
                .collect(),
        ),
        ("split", 2) => Val::list(
            regex_support::split(text, string_arg(args, 0, name)?, int_arg(args, 1, name)?)?
                .into_iter()
                .map(Val::str)
                .collect(),
        ),
        ("substring", 1) => {
            let begin = int_arg(args, 0, name)?;
            Val::str(char_slice(text, begin, text.chars().count() as i64)?)
        }
        ("substring", 2) => Val::str(char_slice(
            text,
            int_arg(args, 0, name)?,
            int_arg(args, 1, name)?,
        )?),
        ("charAt", 1) => {
            let index = int_arg(args, 0, name)?;
            let c = usize::try_from(index)
                .ok()
                .and_then(|i| text.chars().nth(i))
                .ok_or_else(|| {
                    string_index_error(format!(
                        "Index {index} out of bounds for length {}",
                        text.chars().count()
                    ))
                })?;
            Val::str(c.to_string())
        }
        ("indexOf", 1 | 2) => {
            let needle = to_java_string(&args[0]);
            let from = if args.len() == 2 {
                int_arg(args, 1, name)?.max(0)
            } else {
                0
            };
            let start = byte_offset(text, from);
            Val::Int(match text[start..].find(&needle) {
                Some(found) => char_position(text, start + found) as i32,
                None => -1,
            })
        }
        ("lastIndexOf", 1) => {
            let needle = to_java_string(&args[0]);
            Val::Int(match text.rfind(&needle) {
                Some(found) => char_position(text, found) as i32,
                None => -1,
            })
        }
        ("repeat", 1) => {
            let times = int_arg(args, 0, name)?;
            if times < 0 {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("count is negative: {times}"),
                ));
            }
            if text.len().saturating_mul(times as usize) > crate::limits::MAX_STRING_LENGTH {
                return Err(ExpressionError::eval(
                    "String repetition exceeds the size limit",
                ));
            }
            Val::str(text.repeat(times as usize))
        }
        ("toCharArray", 0) => Val::list(text.chars().map(|c| Val::str(c.to_string())).collect()),
        ("getBytes", 0) => Val::list(text.bytes().map(|b| Val::Int(b as i8 as i32)).collect()),
        _ => return Err(no_such_method(name, args, target)),
    };
    Ok(value)
}

fn list_method<'a>(target: &Val<'a>, name: &str, args: &[Val<'a>]) -> Result<Val<'a>> {
    let len = target.list_len().unwrap_or(0);
    let value = match (name, args.len()) {
        ("size", 0) => Val::Int(len as i32),
        ("isEmpty", 0) => Val::Bool(len == 0),
        ("get", 1) => {
            let index = int_arg(args, 0, name)?;
            usize::try_from(index)
                .ok()
                .and_then(|i| target.list_get(i))
                .ok_or_else(|| {
                    ExpressionError::new(
                        ErrorKind::IllegalArgument,
                        format!("Index {index} out of bounds for length {len}"),
                    )
                })?
        }
        ("contains", 1) => Val::Bool(
            target
                .list_items()
                .unwrap_or_default()
                .iter()
                .any(|item| ops::java_equals(item, &args[0])),
        ),
        ("indexOf", 1) => Val::Int(
            target
                .list_items()
                .unwrap_or_default()
                .iter()
                .position(|item| ops::java_equals(item, &args[0]))
                .map(|p| p as i32)
                .unwrap_or(-1),
        ),
        ("subList", 2) => {
            let (from, to) = (int_arg(args, 0, name)?, int_arg(args, 1, name)?);
            if from < 0 || to as usize > len || from > to {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("fromIndex: {from}, toIndex: {to}, size: {len}"),
                ));
            }
            let items = target.list_items().unwrap_or_default();
            Val::list(items[from as usize..to as usize].to_vec())
        }
        ("containsAll", 1) => {
            let items = target.list_items().unwrap_or_default();
            let wanted = args[0]
                .list_items()
                .ok_or_else(|| no_such_method(name, args, target))?;
            Val::Bool(
                wanted
                    .iter()
                    .all(|w| items.iter().any(|i| ops::java_equals(i, w))),
            )
        }
        _ => return Err(no_such_method(name, args, target)),
    };
    Ok(value)
}

fn map_method<'a>(
    evaluator: &Evaluator<'_, 'a>,
    target: &Val<'a>,
    name: &str,
    args: &[Val<'a>],
) -> Result<Val<'a>> {
    let entries: Vec<(String, Val<'a>)> = match target.map_entries() {
        Some(entries) => entries
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect(),
        // The root has no stored map; list what `#root` shows.
        None => match evaluator.ctx.root_as_json() {
            serde_json::Value::Object(map) => map
                .keys()
                .map(|k| {
                    (
                        k.clone(),
                        evaluator.property(target, k, false).unwrap_or(Val::Null),
                    )
                })
                .collect(),
            _ => Vec::new(),
        },
    };
    let lookup = |key: &Val<'a>| -> Result<Val<'a>> {
        match key {
            Val::Str(name) => match target {
                Val::StageContext(_) | Val::Root => evaluator.property(target, name, true),
                _ => Ok(target.own_entry(name).flatten().unwrap_or(Val::Null)),
            },
            _ => Ok(Val::Null),
        }
    };
    let value = match (name, args.len()) {
        ("size", 0) => Val::Int(entries.len() as i32),
        ("isEmpty", 0) => Val::Bool(entries.is_empty()),
        ("get", 1) => lookup(&args[0])?,
        ("getOrDefault", 2) => match &args[0] {
            Val::Str(key) if entries.iter().any(|(k, _)| k == key.as_ref()) => lookup(&args[0])?,
            _ => args[1].clone(),
        },
        ("containsKey", 1) => Val::Bool(match &args[0] {
            Val::Str(key) => entries.iter().any(|(k, _)| k == key.as_ref()),
            _ => false,
        }),
        ("containsValue", 1) => {
            Val::Bool(entries.iter().any(|(_, v)| ops::java_equals(v, &args[0])))
        }
        ("keySet", 0) => Val::list(entries.iter().map(|(k, _)| Val::str(k)).collect()),
        ("values", 0) => Val::list(entries.into_iter().map(|(_, v)| v).collect()),
        ("entrySet", 0) => Val::list(
            entries
                .into_iter()
                .map(|(k, v)| {
                    Val::Map(Rc::new(vec![
                        (Rc::from("key"), Val::str(k)),
                        (Rc::from("value"), v),
                    ]))
                })
                .collect(),
        ),
        _ => return Err(no_such_method(name, args, target)),
    };
    Ok(value)
}

fn number_method<'a>(target: &Val<'a>, name: &str, args: &[Val<'a>]) -> Result<Val<'a>> {
    let value = match (name, args.len()) {
        ("intValue", 0) => Val::Int(match target {
            Val::Int(v) => *v,
            Val::Long(v) => *v as i32,
            other => other.as_f64().unwrap_or(0.0) as i32,
        }),
        ("longValue", 0) => Val::Long(match target.as_i64() {
            Some(v) => v,
            None => target.as_f64().unwrap_or(0.0) as i64,
        }),
        ("doubleValue", 0) => Val::Double(target.as_f64().unwrap_or(0.0)),
        ("floatValue", 0) => Val::Float(target.as_f64().unwrap_or(0.0) as f32),
        ("compareTo", 1) => Val::Int(ops::compare(target, &args[0])? as i32),
        ("isNaN", 0) => Val::Bool(target.as_f64().is_some_and(f64::is_nan)),
        _ => return Err(no_such_method(name, args, target)),
    };
    Ok(value)
}
