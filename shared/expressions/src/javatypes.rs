//! The Java types an expression may name with `T(…)` or `new …(…)` — exactly Orca's
//! allow-list (kork `InstantiationTypeRestrictor`) — and the members of them Gennaker
//! implements. Every other type is refused; so are the members Orca blocks
//! (`Boolean.getBoolean`, `Integer.getInteger`, `Long.getLong`, anything from
//! `java.lang.Object`/`Class` but `equals`, `hashCode`, `toString`).

use std::rc::Rc;

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::value::{Val, java_double_to_string};

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

const DAYS_OF_WEEK: [&str; 7] = [
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
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

fn arg_i64(args: &[Val<'_>], index: usize, what: &str) -> Result<i64> {
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

/// Methods of the date/time values and `Random`.
pub fn call_temporal_method<'a>(
    target: &Val<'a>,
    name: &str,
    args: &[Val<'a>],
) -> Option<Result<Val<'a>>> {
    let what = format!("{}.{name}", target.type_name());
    let result = match (target, name, args.len()) {
        (Val::Date(ms), "getTime", 0) => Ok(Val::Long(*ms)),
        (Val::Date(ms), "toInstant", 0) => Ok(Val::Instant(*ms)),
        (Val::Date(ms) | Val::Instant(ms), "before" | "isBefore", 1) => {
            temporal_millis(&args[0]).map(|other| Val::Bool(*ms < other))
        }
        (Val::Date(ms) | Val::Instant(ms), "after" | "isAfter", 1) => {
            temporal_millis(&args[0]).map(|other| Val::Bool(*ms > other))
        }
        (Val::Instant(ms), "toEpochMilli", 0) => Ok(Val::Long(*ms)),
        (Val::Instant(ms), "getEpochSecond", 0) => Ok(Val::Long(ms.div_euclid(1000))),
        (Val::Instant(ms), "plusSeconds" | "minusSeconds" | "plusMillis" | "minusMillis", 1) => {
            arg_i64(args, 0, &what).map(|n| {
                let delta = if name.ends_with("Seconds") {
                    n.saturating_mul(1000)
                } else {
                    n
                };
                Val::Instant(if name.starts_with("plus") {
                    ms.saturating_add(delta)
                } else {
                    ms.saturating_sub(delta)
                })
            })
        }
        (Val::LocalDate(days), "plusDays" | "minusDays" | "plusWeeks" | "minusWeeks", 1) => {
            arg_i64(args, 0, &what).map(|n| {
                let delta = if name.ends_with("Weeks") {
                    n.saturating_mul(7)
                } else {
                    n
                };
                let moved = if name.starts_with("plus") {
                    days.saturating_add(delta)
                } else {
                    days.saturating_sub(delta)
                };
                Val::LocalDate(moved.clamp(-MAX_EPOCH_DAYS, MAX_EPOCH_DAYS))
            })
        }
        (Val::LocalDate(days), "getYear", 0) => Ok(Val::Int(civil_from_days(*days).0 as i32)),
        (Val::LocalDate(days), "getMonthValue", 0) => Ok(Val::Int(civil_from_days(*days).1 as i32)),
        (Val::LocalDate(days), "getDayOfMonth", 0) => Ok(Val::Int(civil_from_days(*days).2 as i32)),
        (Val::LocalDate(days), "getDayOfWeek", 0) => {
            Ok(Val::str(DAYS_OF_WEEK[(days + 3).rem_euclid(7) as usize]))
        }
        (Val::LocalDateTime(ms), "toLocalDate", 0) => {
            Ok(Val::LocalDate(ms.div_euclid(MILLIS_PER_DAY)))
        }
        (Val::DateFormat(pattern), "format", 1) => {
            temporal_millis(&args[0]).and_then(|ms| format_date(pattern, ms).map(Val::str))
        }
        (Val::DateFormat(pattern), "toPattern", 0) => Ok(Val::Str(pattern.clone())),
        (Val::Random, "nextInt", 0) => Ok(Val::Int(random_u64() as i32)),
        (Val::Random, "nextInt", 1) => arg_i64(args, 0, &what).and_then(|bound| {
            if bound <= 0 {
                Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    "bound must be positive",
                ))
            } else {
                Ok(Val::Int((random_u64() % bound as u64) as i32))
            }
        }),
        (Val::Random, "nextLong", 0) => Ok(Val::Long(random_u64() as i64)),
        (Val::Random, "nextDouble", 0) => Ok(Val::Double(random_unit())),
        (Val::Random, "nextBoolean", 0) => Ok(Val::Bool(random_u64() & 1 == 1)),
        _ => return None,
    };
    Some(result)
}

fn temporal_millis(value: &Val<'_>) -> Result<i64> {
    match value {
        Val::Date(ms) | Val::Instant(ms) | Val::LocalDateTime(ms) => Ok(*ms),
        Val::LocalDate(days) => Ok(days.saturating_mul(MILLIS_PER_DAY)),
        Val::Int(v) => Ok(*v as i64),
        Val::Long(v) => Ok(*v),
        other => Err(ExpressionError::new(
            ErrorKind::IllegalArgument,
            format!(
                "Cannot format given Object ({}) as a Date",
                other.type_name()
            ),
        )),
    }
}

/// Java's `toString` of the date/time values (all in UTC, the zone Orca servers run in).
pub fn temporal_to_string(value: &Val<'_>) -> Option<String> {
    Some(match value {
        Val::Date(ms) => format_date("EEE MMM dd HH:mm:ss zzz yyyy", *ms).unwrap_or_default(),
        Val::Instant(ms) => {
            let base = format_date("yyyy-MM-dd'T'HH:mm:ss", *ms).unwrap_or_default();
            let millis = ms.rem_euclid(1000);
            if millis == 0 {
                format!("{base}Z")
            } else {
                format!("{base}.{millis:03}Z")
            }
        }
        Val::LocalDate(days) => {
            let (y, m, d) = civil_from_days(*days);
            format!("{y:04}-{m:02}-{d:02}")
        }
        Val::LocalDateTime(ms) => {
            let base = format_date("yyyy-MM-dd'T'HH:mm", *ms).unwrap_or_default();
            let (seconds, millis) = (ms.div_euclid(1000).rem_euclid(60), ms.rem_euclid(1000));
            match (seconds, millis) {
                (0, 0) => base,
                (s, 0) => format!("{base}:{s:02}"),
                (s, m) => format!("{base}:{s:02}.{m:03}"),
            }
        }
        Val::DateFormat(_) => "java.text.SimpleDateFormat".to_string(),
        Val::Random => "java.util.Random".to_string(),
        _ => return None,
    })
}

pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// Days from 1970 to Java's largest `LocalDate` year (+999,999,999), which keeps the civil
/// date arithmetic far from overflow.
const MAX_EPOCH_DAYS: i64 = 365_241_780_471;

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_iso_date(text: &str) -> Result<i64> {
    let invalid = || {
        ExpressionError::eval(format!(
            "Text '{text}' could not be parsed as a LocalDate (yyyy-MM-dd)"
        ))
    };
    let mut parts = text.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(invalid());
    }
    let (y, m, d) = (
        y.parse::<i64>().map_err(|_| invalid())?,
        m.parse::<i64>().map_err(|_| invalid())?,
        d.parse::<i64>().map_err(|_| invalid())?,
    );
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(invalid());
    }
    Ok(days_from_civil(y, m, d))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `SimpleDateFormat(pattern).format(date)` in UTC, for the pattern letters pipelines use
/// (`y M d H h k K m s S E a z Z X D u`); quoted text with `''` escapes.
pub fn format_date(pattern: &str, epoch_millis: i64) -> Result<String> {
    let days = epoch_millis.div_euclid(MILLIS_PER_DAY);
    let millis_of_day = epoch_millis.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let hour = millis_of_day / 3_600_000;
    let minute = millis_of_day / 60_000 % 60;
    let second = millis_of_day / 1000 % 60;
    let millis = millis_of_day % 1000;
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let day_of_year = days - days_from_civil(year, 1, 1) + 1;

    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    "Unterminated quote",
                ));
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut count = 1;
        while chars.get(i + count) == Some(&c) {
            count += 1;
        }
        i += count;
        let padded = |value: i64| format!("{value:0count$}");
        match c {
            'y' | 'Y' | 'u' if c != 'u' => {
                if count == 2 {
                    out.push_str(&format!("{:02}", year.rem_euclid(100)));
                } else {
                    out.push_str(&padded(year));
                }
            }
            'u' => out.push_str(&padded(weekday as i64 + 1)),
            'M' | 'L' => match count {
                1 | 2 => out.push_str(&padded(month)),
                3 => out.push_str(&MONTHS[(month - 1) as usize][..3]),
                _ => out.push_str(MONTHS[(month - 1) as usize]),
            },
            'd' => out.push_str(&padded(day)),
            'D' => out.push_str(&padded(day_of_year)),
            'H' => out.push_str(&padded(hour)),
            'k' => out.push_str(&padded(if hour == 0 { 24 } else { hour })),
            'K' => out.push_str(&padded(hour % 12)),
            'h' => out.push_str(&padded(if hour % 12 == 0 { 12 } else { hour % 12 })),
            'm' => out.push_str(&padded(minute)),
            's' => out.push_str(&padded(second)),
            'S' => out.push_str(&padded(millis)),
            'E' => {
                let name = DAYS_OF_WEEK[weekday];
                let title = format!("{}{}", &name[..1], name[1..].to_lowercase());
                if count >= 4 {
                    out.push_str(&title);
                } else {
                    out.push_str(&title[..3]);
                }
            }
            'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'z' => out.push_str(if count >= 4 {
                "Coordinated Universal Time"
            } else {
                "UTC"
            }),
            'Z' => out.push_str("+0000"),
            'X' => out.push('Z'),
            'G' => out.push_str("AD"),
            _ => {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("Illegal pattern character '{c}'"),
                ));
            }
        }
    }
    Ok(out)
}

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
fn java_format(pattern: &str, args: &[Val<'_>]) -> Result<String> {
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

fn random_u64() -> u64 {
    // uuid's v4 generator draws from the operating system's randomness.
    uuid::Uuid::new_v4().as_u64_pair().0
}

fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn formats_dates_like_simple_date_format() {
        // 2024-03-05T07:08:09.010Z, a Tuesday
        let ms = days_from_civil(2024, 3, 5) * MILLIS_PER_DAY + 7 * 3_600_000 + 8 * 60_000 + 9_010;
        assert_eq!(format_date("yyyyMMdd", ms).unwrap(), "20240305");
        assert_eq!(
            format_date("yyyy-MM-dd'T'HH:mm:ss.SSS", ms).unwrap(),
            "2024-03-05T07:08:09.010"
        );
        assert_eq!(
            format_date("EEE, d MMM yy h a", ms).unwrap(),
            "Tue, 5 Mar 24 7 AM"
        );
        assert_eq!(format_date("'o''clock' HH", ms).unwrap(), "o'clock 07");
        assert!(format_date("q", ms).is_err());
    }

    #[test]
    fn url_encoding_matches_java() {
        assert_eq!(url_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
