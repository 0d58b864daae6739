//! Operators with SpEL's semantics: numeric promotion (Integer → Long → Float → Double, Java
//! overflow), `+` concatenating as soon as one side is a string, `==` comparing numbers by value
//! and everything else by Java `equals`, ordering of numbers/strings/booleans with null first,
//! and boolean coercion of `"true"`/`"false"`-like strings for `and`, `or`, `!` and `?:`.

use std::cmp::Ordering;

use serde_json::Value;

use crate::ast::ArithmeticOp;
use crate::error::{ErrorKind, ExpressionError, Result};
use crate::limits::MAX_STRING_LENGTH;
use crate::value::{Val, java_double_to_string, java_float_to_string};

/// Fails when a built string would exceed the size limit.
pub fn bounded(text: String) -> Result<String> {
    if text.len() > MAX_STRING_LENGTH {
        Err(ExpressionError::eval(format!(
            "String result of {} bytes exceeds the limit of {MAX_STRING_LENGTH}",
            text.len()
        )))
    } else {
        Ok(text)
    }
}

/// Java's `toString()` of a value: lists `[a, b]`, maps `{k=v}`, `null`.
pub fn to_java_string(value: &Val<'_>) -> String {
    let mut out = String::new();
    write_java_string(value, &mut out, 0);
    out
}

fn write_java_string(value: &Val<'_>, out: &mut String, depth: usize) {
    if depth > crate::limits::MAX_VALUE_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(v) => out.push_str(&v.to_string()),
        Val::Long(v) => out.push_str(&v.to_string()),
        Val::Float(v) => out.push_str(&java_float_to_string(*v)),
        Val::Double(v) => out.push_str(&java_double_to_string(*v)),
        Val::Str(s) => out.push_str(s),
        Val::Json(Value::Array(_)) | Val::List(_) => {
            out.push('[');
            for (i, item) in value.list_items().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java_string(item, out, depth + 1);
            }
            out.push(']');
        }
        Val::Json(_) | Val::Map(_) | Val::StageContext(_) => {
            out.push('{');
            for (i, (key, item)) in value.map_entries().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                write_java_string(item, out, depth + 1);
            }
            out.push('}');
        }
        Val::Execution(json) | Val::Stage(json) => {
            out.push_str(&serde_json::to_string(json).unwrap_or_default())
        }
        Val::Root => out.push_str("{…}"),
        Val::Type(ty) => {
            out.push_str("class ");
            out.push_str(ty.class_name());
        }
        other => out.push_str(&crate::java_time::temporal_to_string(other).unwrap_or_default()),
    }
}

/// Spring's conversion of a value to `String` (template parts, `'x' + value`): lists become
/// their items joined with `,`; everything else its `toString()`.
pub fn convert_to_string(value: &Val<'_>) -> String {
    match value.list_items() {
        Some(items) => items
            .iter()
            .map(to_java_string)
            .collect::<Vec<_>>()
            .join(","),
        None => to_java_string(value),
    }
}

/// SpEL's `==`.
pub fn equals(left: &Val<'_>, right: &Val<'_>) -> bool {
    match (left, right) {
        (Val::Null, Val::Null) => true,
        (Val::Null, _) | (_, Val::Null) => false,
        (a, b) if a.is_number() && b.is_number() => compare_numbers(a, b) == Some(Ordering::Equal),
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Stage(a), Val::Stage(b)) | (Val::Execution(a), Val::Execution(b)) => {
            a.get("id") == b.get("id")
        }
        (Val::Date(a), Val::Date(b))
        | (Val::Instant(a), Val::Instant(b))
        | (Val::LocalDate(a), Val::LocalDate(b))
        | (Val::LocalDateTime(a), Val::LocalDateTime(b)) => a == b,
        (Val::Type(a), Val::Type(b)) => a == b,
        (a, b) if a.list_len().is_some() && b.list_len().is_some() => {
            let (a, b) = (
                a.list_items().unwrap_or_default(),
                b.list_items().unwrap_or_default(),
            );
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| java_equals(x, y))
        }
        (a, b) if a.is_map() && b.is_map() => {
            let (a, b) = (
                a.map_entries().unwrap_or_default(),
                b.map_entries().unwrap_or_default(),
            );
            a.len() == b.len()
                && a.iter().all(|(key, value)| {
                    b.iter()
                        .any(|(other_key, other)| key == other_key && java_equals(value, other))
                })
        }
        _ => false,
    }
}

/// Java's `equals` inside collections: numbers must have the same type to be equal
/// (`Integer(1).equals(Long(1))` is false), unlike SpEL's `==`.
pub fn java_equals(left: &Val<'_>, right: &Val<'_>) -> bool {
    match (left, right) {
        (Val::Int(a), Val::Int(b)) => a == b,
        (Val::Long(a), Val::Long(b)) => a == b,
        (Val::Float(a), Val::Float(b)) => a == b,
        (Val::Double(a), Val::Double(b)) => a == b,
        (a, b) if a.is_number() || b.is_number() => false,
        (a, b) => equals(a, b),
    }
}

fn compare_numbers(left: &Val<'_>, right: &Val<'_>) -> Option<Ordering> {
    match (left.as_i64(), right.as_i64()) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => left.as_f64()?.partial_cmp(&right.as_f64()?),
    }
}

/// SpEL's ordering for `< <= > >=` and `between`: null sorts first.
pub fn compare(left: &Val<'_>, right: &Val<'_>) -> Result<Ordering> {
    let ordering = match (left, right) {
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        (Val::Null, _) => Some(Ordering::Less),
        (_, Val::Null) => Some(Ordering::Greater),
        (a, b) if a.is_number() && b.is_number() => {
            // NaN compares like Java's Double.compare: greater than everything.
            Some(compare_numbers(a, b).unwrap_or_else(|| {
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                x.is_nan().cmp(&y.is_nan())
            }))
        }
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Date(a), Val::Date(b))
        | (Val::Instant(a), Val::Instant(b))
        | (Val::LocalDate(a), Val::LocalDate(b))
        | (Val::LocalDateTime(a), Val::LocalDateTime(b)) => Some(a.cmp(b)),
        _ => None,
    };
    ordering.ok_or_else(|| {
        ExpressionError::eval(format!(
            "EL1013E: Cannot compare instances of {} and {}",
            left.type_name(),
            right.type_name()
        ))
    })
}

/// Boolean coercion for `and`, `or`, `!`, `?:` and selection criteria: booleans, and strings
/// Spring's converter accepts (`true/on/yes/1`, `false/off/no/0`, case-insensitive).
pub fn to_boolean(value: &Val<'_>, role: &str) -> Result<bool> {
    match value {
        Val::Bool(b) => Ok(*b),
        Val::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(true),
            "false" | "off" | "no" | "0" => Ok(false),
            // Spring's converter throws IllegalArgumentException("Invalid boolean value").
            _ => Err(ExpressionError::new(
                ErrorKind::IllegalArgument,
                format!("Invalid boolean value '{s}' for {role}"),
            )),
        },
        Val::Null => Err(ExpressionError::eval(format!(
            "EL1001E: Type conversion problem, cannot convert from null to boolean for {role}"
        ))),
        other => Err(ExpressionError::eval(format!(
            "EL1001E: Type conversion problem, cannot convert from {} to java.lang.Boolean for {role}",
            other.type_name()
        ))),
    }
}

fn operator_name(op: ArithmeticOp) -> &'static str {
    match op {
        ArithmeticOp::Add => "ADD",
        ArithmeticOp::Subtract => "SUBTRACT",
        ArithmeticOp::Multiply => "MULTIPLY",
        ArithmeticOp::Divide => "DIVIDE",
        ArithmeticOp::Modulus => "MODULUS",
    }
}

fn not_supported(op: ArithmeticOp, left: &Val<'_>, right: &Val<'_>) -> ExpressionError {
    ExpressionError::eval(format!(
        "EL1030E: The operator '{}' is not supported between objects of type '{}' and '{}'",
        operator_name(op),
        left.type_name(),
        right.type_name()
    ))
}

/// Which Java numeric type an operation between two numbers yields.
#[derive(PartialEq, PartialOrd)]
enum Width {
    Int,
    Long,
    Float,
    Double,
}

fn width(value: &Val<'_>) -> Width {
    match value {
        Val::Int(_) => Width::Int,
        Val::Long(_) => Width::Long,
        Val::Float(_) => Width::Float,
        _ => Width::Double,
    }
}

pub fn arithmetic<'a>(op: ArithmeticOp, left: &Val<'a>, right: &Val<'a>) -> Result<Val<'a>> {
    if op == ArithmeticOp::Add {
        match (left, right) {
            (Val::Str(a), Val::Str(b)) => return Ok(Val::str(bounded(format!("{a}{b}"))?)),
            (Val::Str(a), other) => {
                return Ok(Val::str(bounded(format!(
                    "{a}{}",
                    convert_to_string(other)
                ))?));
            }
            (other, Val::Str(b)) => {
                return Ok(Val::str(bounded(format!(
                    "{}{b}",
                    convert_to_string(other)
                ))?));
            }
            _ => {}
        }
    }
    if op == ArithmeticOp::Multiply
        && let (Val::Str(text), Val::Int(times)) = (left, right)
    {
        let times = (*times).max(0) as usize;
        if text.len().saturating_mul(times) > MAX_STRING_LENGTH {
            return Err(ExpressionError::eval(format!(
                "String repetition would exceed the limit of {MAX_STRING_LENGTH} bytes"
            )));
        }
        return Ok(Val::str(text.repeat(times)));
    }
    if !left.is_number() || !right.is_number() {
        return Err(not_supported(op, left, right));
    }
    let result_width = if width(left) > width(right) {
        width(left)
    } else {
        width(right)
    };
    match result_width {
        Width::Double | Width::Float => {
            let (a, b) = (left.as_f64().unwrap_or(0.0), right.as_f64().unwrap_or(0.0));
            let value = match op {
                ArithmeticOp::Add => a + b,
                ArithmeticOp::Subtract => a - b,
                ArithmeticOp::Multiply => a * b,
                ArithmeticOp::Divide => a / b,
                ArithmeticOp::Modulus => a % b,
            };
            Ok(if result_width == Width::Float {
                Val::Float(value as f32)
            } else {
                Val::Double(value)
            })
        }
        Width::Long | Width::Int => {
            let (a, b) = (left.as_i64().unwrap_or(0), right.as_i64().unwrap_or(0));
            let is_int = result_width == Width::Int;
            let value = match op {
                ArithmeticOp::Add => a.wrapping_add(b),
                ArithmeticOp::Subtract => a.wrapping_sub(b),
                ArithmeticOp::Multiply => a.wrapping_mul(b),
                ArithmeticOp::Divide | ArithmeticOp::Modulus if b == 0 => {
                    return Err(ExpressionError::new(ErrorKind::Arithmetic, "/ by zero"));
                }
                ArithmeticOp::Divide if is_int => (a as i32).wrapping_div(b as i32) as i64,
                ArithmeticOp::Modulus if is_int => (a as i32).wrapping_rem(b as i32) as i64,
                ArithmeticOp::Divide => a.wrapping_div(b),
                ArithmeticOp::Modulus => a.wrapping_rem(b),
            };
            Ok(if is_int {
                // Java int arithmetic wraps at 32 bits.
                Val::Int(value as i32)
            } else {
                Val::Long(value)
            })
        }
    }
}

/// `^`: doubles give a double; integers an Integer when the result fits, else a Long.
pub fn power<'a>(left: &Val<'a>, right: &Val<'a>) -> Result<Val<'a>> {
    if !left.is_number() || !right.is_number() {
        return Err(ExpressionError::eval(format!(
            "EL1030E: The operator 'POWER' is not supported between objects of type '{}' and '{}'",
            left.type_name(),
            right.type_name()
        )));
    }
    let value = left
        .as_f64()
        .unwrap_or(0.0)
        .powf(right.as_f64().unwrap_or(0.0));
    Ok(match (left, right) {
        (Val::Int(_) | Val::Long(_), Val::Int(_) | Val::Long(_)) => {
            if matches!((left, right), (Val::Int(_), Val::Int(_)))
                && value >= i32::MIN as f64
                && value <= i32::MAX as f64
            {
                Val::Int(value as i32)
            } else {
                Val::Long(value as i64)
            }
        }
        (Val::Float(_), Val::Float(_) | Val::Int(_) | Val::Long(_))
        | (Val::Int(_) | Val::Long(_), Val::Float(_)) => Val::Float(value as f32),
        _ => Val::Double(value),
    })
}

pub fn negate<'a>(value: &Val<'a>) -> Result<Val<'a>> {
    Ok(match value {
        Val::Int(v) => Val::Int(v.wrapping_neg()),
        Val::Long(v) => Val::Long(v.wrapping_neg()),
        Val::Float(v) => Val::Float(-v),
        Val::Double(v) => Val::Double(-v),
        other => {
            return Err(ExpressionError::eval(format!(
                "EL1030E: The operator 'SUBTRACT' is not supported for an operand of type '{}'",
                other.type_name()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_promote_like_java() {
        let sum = arithmetic(ArithmeticOp::Add, &Val::Int(i32::MAX), &Val::Int(1)).unwrap();
        assert!(matches!(sum, Val::Int(i32::MIN)));
        let mixed = arithmetic(ArithmeticOp::Divide, &Val::Int(7), &Val::Double(2.0)).unwrap();
        assert!(matches!(mixed, Val::Double(v) if v == 3.5));
        let int_div = arithmetic(ArithmeticOp::Divide, &Val::Int(7), &Val::Int(2)).unwrap();
        assert!(matches!(int_div, Val::Int(3)));
        assert!(arithmetic(ArithmeticOp::Divide, &Val::Int(1), &Val::Int(0)).is_err());
    }

    #[test]
    fn strings_concatenate_with_anything() {
        let text = arithmetic(ArithmeticOp::Add, &Val::str("v"), &Val::Double(1.0)).unwrap();
        assert_eq!(text.as_str(), Some("v1.0"));
        let text = arithmetic(ArithmeticOp::Add, &Val::Null, &Val::str("x")).unwrap();
        assert_eq!(text.as_str(), Some("nullx"));
        assert!(arithmetic(ArithmeticOp::Add, &Val::Int(1), &Val::Null).is_err());
    }
}
