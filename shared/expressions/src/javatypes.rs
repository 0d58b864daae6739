//! The Java types an expression may name with `T(…)` or `new …(…)` — exactly Orca's
//! allow-list (kork `InstantiationTypeRestrictor`) — and the members of them Gennaker
//! implements. Every other type is refused; so are the members Orca blocks
//! (`Boolean.getBoolean`, `Integer.getInteger`, `Long.getLong`, anything from
//! `java.lang.Object`/`Class` but `equals`, `hashCode`, `toString`).
//!
//! The values those members return live beside this: dates and times in [`crate::java_time`],
//! `String.format` and `URLEncoder` in [`crate::java_format`], `Random` in
//! [`crate::java_random`].

use std::rc::Rc;

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::value::{Val, java_double_to_string};

use crate::java_format::{java_format, url_encode};
use crate::java_random::random_unit;
use crate::java_time::{
    DAYS_OF_WEEK, MILLIS_PER_DAY, days_from_civil, days_in_month, format_date, parse_iso_date,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JavaType {
    String,
    Date,
    Integer,
    Long,
    Double,
    Byte,
    SimpleDateFormat,
    Math,
    Random,
    Uuid,
    Boolean,
    LocalDate,
    LocalDateTime,
    DayOfWeek,
    Instant,
    ChronoUnit,
    UrlEncoder,
    TemporalAdjusters,
}

const ALLOWED: [(&str, JavaType); 18] = [
    ("java.lang.String", JavaType::String),
    ("java.util.Date", JavaType::Date),
    ("java.lang.Integer", JavaType::Integer),
    ("java.lang.Long", JavaType::Long),
    ("java.lang.Double", JavaType::Double),
    ("java.lang.Byte", JavaType::Byte),
    ("java.text.SimpleDateFormat", JavaType::SimpleDateFormat),
    ("java.lang.Math", JavaType::Math),
    ("java.util.Random", JavaType::Random),
    ("java.util.UUID", JavaType::Uuid),
    ("java.lang.Boolean", JavaType::Boolean),
    ("java.time.LocalDate", JavaType::LocalDate),
    ("java.time.LocalDateTime", JavaType::LocalDateTime),
    ("java.time.DayOfWeek", JavaType::DayOfWeek),
    ("java.time.Instant", JavaType::Instant),
    ("java.time.temporal.ChronoUnit", JavaType::ChronoUnit),
    ("java.net.URLEncoder", JavaType::UrlEncoder),
    (
        "java.time.temporal.TemporalAdjusters",
        JavaType::TemporalAdjusters,
    ),
];

impl JavaType {
    /// Resolves a type name as Spring's `StandardTypeLocator` does (`java.lang` types may be
    /// written unqualified), then applies the allow-list.
    pub fn resolve(name: &str) -> Result<JavaType> {
        let qualified = if name.contains('.') {
            name.to_string()
        } else {
            format!("java.lang.{name}")
        };
        ALLOWED
            .iter()
            .find(|(allowed, _)| *allowed == qualified)
            .map(|(_, ty)| *ty)
            .ok_or_else(|| {
                ExpressionError::eval(format!(
                    "Type '{name}' is not allowed in pipeline expressions; allowed types: {}",
                    ALLOWED
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    pub fn class_name(self) -> &'static str {
        ALLOWED
            .iter()
            .find(|(_, ty)| *ty == self)
            .map(|(n, _)| *n)
            .unwrap_or("java.lang.Object")
    }
}

/// True for `java.lang.Object`/`Class` methods Orca's `FilteredMethodResolver` removes.
pub fn is_blocked_method(name: &str) -> bool {
    matches!(
        name,
        "getClass"
            | "wait"
            | "notify"
            | "notifyAll"
            | "forName"
            | "getMetaClass"
            | "getClassLoader"
            | "newInstance"
            | "getBoolean"
            | "getInteger"
            | "getLong"
    )
}

/// `T(X).NAME` — static fields.
pub fn static_field<'a>(ty: JavaType, name: &str) -> Result<Val<'a>> {
    let value = match (ty, name) {
        (JavaType::Integer, "MAX_VALUE") => Val::Int(i32::MAX),
        (JavaType::Integer, "MIN_VALUE") => Val::Int(i32::MIN),
        (JavaType::Long, "MAX_VALUE") => Val::Long(i64::MAX),
        (JavaType::Long, "MIN_VALUE") => Val::Long(i64::MIN),
        (JavaType::Byte, "MAX_VALUE") => Val::Int(i8::MAX as i32),
        (JavaType::Byte, "MIN_VALUE") => Val::Int(i8::MIN as i32),
        (JavaType::Double, "MAX_VALUE") => Val::Double(f64::MAX),
        (JavaType::Double, "MIN_VALUE") => Val::Double(f64::from_bits(1)),
        (JavaType::Double, "NaN") => Val::Double(f64::NAN),
        (JavaType::Double, "POSITIVE_INFINITY") => Val::Double(f64::INFINITY),
        (JavaType::Double, "NEGATIVE_INFINITY") => Val::Double(f64::NEG_INFINITY),
        (JavaType::Boolean, "TRUE") => Val::Bool(true),
        (JavaType::Boolean, "FALSE") => Val::Bool(false),
        (JavaType::Math, "PI") => Val::Double(std::f64::consts::PI),
        (JavaType::Math, "E") => Val::Double(std::f64::consts::E),
        (JavaType::DayOfWeek, day) if DAYS_OF_WEEK.contains(&day) => Val::str(day),
        (
            JavaType::ChronoUnit,
            unit @ ("MILLIS" | "SECONDS" | "MINUTES" | "HOURS" | "HALF_DAYS" | "DAYS" | "WEEKS"
            | "MONTHS" | "YEARS"),
        ) => Val::str(unit),
        _ => {
            return Err(ExpressionError::new(
                ErrorKind::IllegalArgument,
                format!(
                    "EL1008E: Property or field '{name}' cannot be found on object of type '{}' - maybe not public or not visible?",
                    ty.class_name()
                ),
            ));
        }
    };
    Ok(value)
}

fn unsupported(ty: JavaType, name: &str, args: usize) -> ExpressionError {
    ExpressionError::eval(format!(
        "EL1004E: Method call: Method {name}() with {args} argument(s) cannot be found on type {} (or is not supported by Gennaker)",
        ty.class_name()
    ))
}

fn arg_str<'v>(args: &'v [Val<'_>], index: usize, what: &str) -> Result<&'v str> {
    match args.get(index) {
        Some(Val::Str(s)) => Ok(s),
        Some(Val::Null) | None => Err(ExpressionError::new(
            ErrorKind::IllegalArgument,
            format!("{what}: argument {} must be a String, got null", index + 1),
        )),
        Some(other) => Err(ExpressionError::eval(format!(
            "{what}: argument {} must be a String, got {}",
            index + 1,
            other.type_name()
        ))),
    }
}

pub(crate) fn arg_i64(args: &[Val<'_>], index: usize, what: &str) -> Result<i64> {
    match args.get(index) {
        Some(Val::Int(v)) => Ok(*v as i64),
        Some(Val::Long(v)) => Ok(*v),
        Some(other) => Err(ExpressionError::eval(format!(
            "{what}: argument {} must be an integer, got {}",
            index + 1,
            other.type_name()
        ))),
        None => Err(ExpressionError::eval(format!(
            "{what}: missing argument {}",
            index + 1
        ))),
    }
}

fn arg_f64(args: &[Val<'_>], index: usize, what: &str) -> Result<f64> {
    args.get(index).and_then(Val::as_f64).ok_or_else(|| {
        ExpressionError::eval(format!("{what}: argument {} must be a number", index + 1))
    })
}

fn number_format(text: &str) -> ExpressionError {
    ExpressionError::new(
        ErrorKind::NumberFormat,
        format!("For input string: \"{text}\""),
    )
}

/// Java's `Integer.parseInt` (optional sign, decimal digits, no whitespace).
pub fn parse_java_int(text: &str, radix: u32) -> Result<i32> {
    if text.is_empty() || text.starts_with("+-") || text.starts_with("-+") {
        return Err(number_format(text));
    }
    i32::from_str_radix(text, radix).map_err(|_| number_format(text))
}

pub fn parse_java_long(text: &str) -> Result<i64> {
    if text.is_empty() {
        return Err(number_format(text));
    }
    text.parse::<i64>().map_err(|_| number_format(text))
}

/// Java's `Double.parseDouble` (surrounding whitespace allowed, optional `d`/`f` suffix).
pub fn parse_java_double(text: &str) -> Result<f64> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_suffix(['d', 'D', 'f', 'F'])
        .unwrap_or(trimmed);
    match body {
        "NaN" => return Ok(f64::NAN),
        "Infinity" | "+Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if body.is_empty()
        || body
            .chars()
            .any(|c| c.is_alphabetic() && c != 'e' && c != 'E')
    {
        return Err(number_format(text));
    }
    body.parse::<f64>().map_err(|_| number_format(text))
}

/// `T(X).name(args)` — static methods.
pub fn call_static<'a>(
    ty: JavaType,
    name: &str,
    args: &[Val<'a>],
    now_millis: i64,
) -> Result<Val<'a>> {
    if is_blocked_method(name) {
        return Err(blocked(name, ty.class_name()));
    }
    let what = format!("{}.{name}", ty.class_name());
    let value = match (ty, name, args.len()) {
        (JavaType::Integer, "parseInt" | "valueOf", 1) if args[0].as_str().is_some() => {
            Val::Int(parse_java_int(arg_str(args, 0, &what)?, 10)?)
        }
        (JavaType::Integer, "parseInt" | "valueOf", 2) => {
            let radix = arg_i64(args, 1, &what)?;
            if !(2..=36).contains(&radix) {
                return Err(number_format(&radix.to_string()));
            }
            Val::Int(parse_java_int(arg_str(args, 0, &what)?, radix as u32)?)
        }
        (JavaType::Integer, "valueOf", 1) => Val::Int(arg_i64(args, 0, &what)? as i32),
        (JavaType::Integer, "toString", 1) => Val::str(arg_i64(args, 0, &what)?.to_string()),
        (JavaType::Integer | JavaType::Long, "max" | "min" | "sum", 2) => {
            let (a, b) = (arg_i64(args, 0, &what)?, arg_i64(args, 1, &what)?);
            let result = match name {
                "max" => a.max(b),
                "min" => a.min(b),
                _ => a.wrapping_add(b),
            };
            if ty == JavaType::Integer {
                Val::Int(result as i32)
            } else {
                Val::Long(result)
            }
        }
        (JavaType::Long, "parseLong" | "valueOf", 1) if args[0].as_str().is_some() => {
            Val::Long(parse_java_long(arg_str(args, 0, &what)?)?)
        }
        (JavaType::Long, "valueOf", 1) => Val::Long(arg_i64(args, 0, &what)?),
        (JavaType::Long, "toString", 1) => Val::str(arg_i64(args, 0, &what)?.to_string()),
        (JavaType::Byte, "parseByte" | "valueOf", 1) => {
            let text = arg_str(args, 0, &what)?;
            let parsed = parse_java_int(text, 10)?;
            Val::Int(i8::try_from(parsed).map_err(|_| {
                ExpressionError::new(
                    ErrorKind::NumberFormat,
                    format!("Value out of range. Value:\"{text}\" Radix:10"),
                )
            })? as i32)
        }
        (JavaType::Double, "parseDouble" | "valueOf", 1) if args[0].as_str().is_some() => {
            Val::Double(parse_java_double(arg_str(args, 0, &what)?)?)
        }
        (JavaType::Double, "valueOf", 1) => Val::Double(arg_f64(args, 0, &what)?),
        (JavaType::Double, "toString", 1) => {
            Val::str(java_double_to_string(arg_f64(args, 0, &what)?))
        }
        (JavaType::Double, "isNaN", 1) => Val::Bool(arg_f64(args, 0, &what)?.is_nan()),
        (JavaType::Boolean, "parseBoolean", 1) => Val::Bool(match &args[0] {
            Val::Str(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }),
        (JavaType::Boolean, "valueOf", 1) => Val::Bool(match &args[0] {
            Val::Bool(b) => *b,
            Val::Str(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }),
        (JavaType::Boolean, "toString", 1) => match &args[0] {
            Val::Bool(b) => Val::str(b.to_string()),
            other => {
                return Err(ExpressionError::eval(format!(
                    "{what}: expected a boolean, got {}",
                    other.type_name()
                )));
            }
        },
        (JavaType::String, "valueOf", 1) => Val::str(crate::ops::to_java_string(&args[0])),
        (JavaType::String, "join", n) if n >= 1 => {
            let delimiter = arg_str(args, 0, &what)?;
            let parts: Vec<String> = match args.get(1).and_then(Val::list_items) {
                Some(items) if n == 2 => items.iter().map(crate::ops::to_java_string).collect(),
                _ => args[1..].iter().map(crate::ops::to_java_string).collect(),
            };
            Val::str(crate::ops::bounded(parts.join(delimiter))?)
        }
        (JavaType::String, "format", n) if n >= 1 => {
            Val::str(java_format(arg_str(args, 0, &what)?, &args[1..])?)
        }
        (JavaType::Math, "abs", 1) => match &args[0] {
            Val::Int(v) => Val::Int(v.wrapping_abs()),
            Val::Long(v) => Val::Long(v.wrapping_abs()),
            Val::Float(v) => Val::Float(v.abs()),
            other => Val::Double(
                other
                    .as_f64()
                    .ok_or_else(|| unsupported(ty, name, 1))?
                    .abs(),
            ),
        },
        (JavaType::Math, "max" | "min", 2) => {
            let (a, b) = (&args[0], &args[1]);
            match (a, b) {
                (Val::Int(x), Val::Int(y)) => {
                    Val::Int(if name == "max" { *x.max(y) } else { *x.min(y) })
                }
                _ if a.as_i64().is_some() && b.as_i64().is_some() => {
                    let (x, y) = (a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0));
                    Val::Long(if name == "max" { x.max(y) } else { x.min(y) })
                }
                _ => {
                    let (x, y) = (arg_f64(args, 0, &what)?, arg_f64(args, 1, &what)?);
                    Val::Double(if name == "max" { x.max(y) } else { x.min(y) })
                }
            }
        }
        (JavaType::Math, "round", 1) => match &args[0] {
            Val::Float(v) => Val::Int((v + 0.5).floor() as i32),
            other => {
                Val::Long((arg_f64(std::slice::from_ref(other), 0, &what)? + 0.5).floor() as i64)
            }
        },
        (JavaType::Math, "floor", 1) => Val::Double(arg_f64(args, 0, &what)?.floor()),
        (JavaType::Math, "ceil", 1) => Val::Double(arg_f64(args, 0, &what)?.ceil()),
        (JavaType::Math, "sqrt", 1) => Val::Double(arg_f64(args, 0, &what)?.sqrt()),
        (JavaType::Math, "pow", 2) => {
            Val::Double(arg_f64(args, 0, &what)?.powf(arg_f64(args, 1, &what)?))
        }
        (JavaType::Math, "random", 0) => Val::Double(random_unit()),
        (JavaType::Math, "floorDiv" | "floorMod", 2) => {
            let (a, b) = (arg_i64(args, 0, &what)?, arg_i64(args, 1, &what)?);
            if b == 0 {
                return Err(ExpressionError::new(ErrorKind::Arithmetic, "/ by zero"));
            }
            let quotient = a.wrapping_div(b);
            let floor_div = if a.wrapping_rem(b) != 0 && ((a < 0) != (b < 0)) {
                quotient - 1
            } else {
                quotient
            };
            let result = if name == "floorDiv" {
                floor_div
            } else {
                a.wrapping_sub(floor_div.wrapping_mul(b))
            };
            if matches!((&args[0], &args[1]), (Val::Int(_), Val::Int(_))) {
                Val::Int(result as i32)
            } else {
                Val::Long(result)
            }
        }
        (JavaType::Uuid, "randomUUID", 0) => Val::str(uuid::Uuid::new_v4().to_string()),
        (JavaType::Uuid, "fromString", 1) => {
            let text = arg_str(args, 0, &what)?;
            let parsed = uuid::Uuid::parse_str(text).map_err(|_| {
                ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("Invalid UUID string: {text}"),
                )
            })?;
            Val::str(parsed.to_string())
        }
        (JavaType::Instant, "now", 0) => Val::Instant(now_millis),
        (JavaType::Instant, "ofEpochMilli", 1) => Val::Instant(arg_i64(args, 0, &what)?),
        (JavaType::Instant, "ofEpochSecond", 1) => {
            Val::Instant(arg_i64(args, 0, &what)?.saturating_mul(1000))
        }
        (JavaType::LocalDate, "now", 0) => Val::LocalDate(now_millis.div_euclid(MILLIS_PER_DAY)),
        (JavaType::LocalDate, "of", 3) => {
            let (y, m, d) = (
                arg_i64(args, 0, &what)?,
                arg_i64(args, 1, &what)?,
                arg_i64(args, 2, &what)?,
            );
            // Java's LocalDate years span ±999,999,999.
            let year_ok = (-999_999_999..=999_999_999).contains(&y);
            if !year_ok || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
                return Err(ExpressionError::eval(format!("Invalid date: {y}-{m}-{d}")));
            }
            Val::LocalDate(days_from_civil(y, m, d))
        }
        (JavaType::LocalDate, "parse", 1) => {
            Val::LocalDate(parse_iso_date(arg_str(args, 0, &what)?)?)
        }
        (JavaType::LocalDateTime, "now", 0) => Val::LocalDateTime(now_millis),
        (JavaType::UrlEncoder, "encode", 1 | 2) => Val::str(url_encode(arg_str(args, 0, &what)?)),
        (JavaType::DayOfWeek, "valueOf", 1) => {
            let day = arg_str(args, 0, &what)?;
            if !DAYS_OF_WEEK.contains(&day) {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("No enum constant java.time.DayOfWeek.{day}"),
                ));
            }
            Val::str(day)
        }
        _ => return Err(unsupported(ty, name, args.len())),
    };
    Ok(value)
}

pub fn blocked(name: &str, on: &str) -> ExpressionError {
    ExpressionError::eval(format!(
        "EL1004E: Method call: Method {name}() cannot be found on type {on} (blocked in pipeline expressions)"
    ))
}

/// `new X(args)`.
pub fn construct<'a>(type_name: &str, args: &[Val<'a>], now_millis: i64) -> Result<Val<'a>> {
    let ty = JavaType::resolve(type_name)?;
    let what = format!("new {}", ty.class_name());
    let value = match (ty, args.len()) {
        (JavaType::String, 0) => Val::str(""),
        (JavaType::String, 1) => Val::str(crate::ops::to_java_string(&args[0])),
        (JavaType::Integer, 1) => match &args[0] {
            Val::Str(s) => Val::Int(parse_java_int(s, 10)?),
            _ => Val::Int(arg_i64(args, 0, &what)? as i32),
        },
        (JavaType::Long, 1) => match &args[0] {
            Val::Str(s) => Val::Long(parse_java_long(s)?),
            _ => Val::Long(arg_i64(args, 0, &what)?),
        },
        (JavaType::Double, 1) => match &args[0] {
            Val::Str(s) => Val::Double(parse_java_double(s)?),
            _ => Val::Double(arg_f64(args, 0, &what)?),
        },
        (JavaType::Boolean, 1) => Val::Bool(match &args[0] {
            Val::Bool(b) => *b,
            Val::Str(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }),
        (JavaType::Date, 0) => Val::Date(now_millis),
        (JavaType::Date, 1) => Val::Date(arg_i64(args, 0, &what)?),
        (JavaType::SimpleDateFormat, 0) => Val::DateFormat(Rc::from("yyyy-MM-dd'T'HH:mm:ss")),
        (JavaType::SimpleDateFormat, 1) => {
            let pattern = arg_str(args, 0, &what)?;
            // Validate now, as Java's constructor does.
            format_date(pattern, 0)?;
            Val::DateFormat(Rc::from(pattern))
        }
        (JavaType::Random, 0 | 1) => Val::Random,
        _ => {
            return Err(ExpressionError::eval(format!(
                "EL1002E: Constructor call: No suitable constructor found on type {} for {} argument(s) (or it is not supported by Gennaker)",
                ty.class_name(),
                args.len()
            )));
        }
    };
    Ok(value)
}
