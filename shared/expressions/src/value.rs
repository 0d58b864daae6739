//! Runtime values. JSON from the execution is borrowed, not copied: objects and arrays stay
//! `Val::Json(&Value)` until something needs to build a new collection.
//!
//! Numbers keep Java's types (`Integer`, `Long`, `Float`, `Double`) because SpEL arithmetic and
//! `#toInt`/`#toFloat` results depend on them; JSON integers read as `Integer` when they fit,
//! else `Long`, as Jackson does.

use std::borrow::Cow;
use std::rc::Rc;

use serde_json::{Number, Value};

use crate::javatypes::JavaType;

#[derive(Debug, Clone)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(Rc<str>),
    /// A JSON object or array borrowed from the evaluation root (map / list semantics).
    Json(&'a Value),
    /// A list built during evaluation.
    List(Rc<Vec<Val<'a>>>),
    /// A map built during evaluation (insertion-ordered).
    Map(Rc<Vec<(Rc<str>, Val<'a>)>>),
    /// The pipeline execution: a Java object in Orca, so unknown properties are errors.
    Execution(&'a Value),
    /// A stage of the execution (what `#stage('…')` returns).
    Stage(&'a Value),
    /// A stage's `context`: reads fall back to ancestor stages' outputs, as Orca's
    /// `StageContext` does.
    StageContext(&'a Value),
    /// The evaluation root (`#root`).
    Root,
    /// `T(…)` of an allowed type.
    Type(JavaType),
    /// `java.util.Date`, as epoch milliseconds.
    Date(i64),
    /// `java.time.Instant`, as epoch milliseconds.
    Instant(i64),
    /// `java.time.LocalDate`, as days since 1970-01-01 (UTC).
    LocalDate(i64),
    /// `java.time.LocalDateTime`, as epoch milliseconds (UTC).
    LocalDateTime(i64),
    /// `java.text.SimpleDateFormat` with its pattern.
    DateFormat(Rc<str>),
    /// `java.util.Random`.
    Random,
}

impl<'a> Val<'a> {
    pub fn str(text: impl AsRef<str>) -> Self {
        Val::Str(Rc::from(text.as_ref()))
    }

    pub fn list(items: Vec<Val<'a>>) -> Self {
        Val::List(Rc::new(items))
    }

    /// Reads a JSON value: scalars become typed values, objects and arrays stay borrowed.
    pub fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => number_from_json(n),
            Value::String(s) => Val::str(s),
            Value::Object(_) | Value::Array(_) => Val::Json(value),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Val::Int(_) | Val::Long(_) | Val::Float(_) | Val::Double(_)
        )
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The Java class name Orca would report for this value in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "java.lang.Boolean",
            Val::Int(_) => "java.lang.Integer",
            Val::Long(_) => "java.lang.Long",
            Val::Float(_) => "java.lang.Float",
            Val::Double(_) => "java.lang.Double",
            Val::Str(_) => "java.lang.String",
            Val::Json(Value::Array(_)) | Val::List(_) => "java.util.ArrayList",
            Val::Json(_) | Val::Map(_) => "java.util.LinkedHashMap",
            Val::Execution(_) => "com.netflix.spinnaker.orca.pipeline.model.PipelineExecutionImpl",
            Val::Stage(_) => "com.netflix.spinnaker.orca.pipeline.model.StageExecutionImpl",
            Val::StageContext(_) | Val::Root => {
                "com.netflix.spinnaker.orca.pipeline.model.StageContext"
            }
            Val::Type(_) => "java.lang.Class",
            Val::Date(_) => "java.util.Date",
            Val::Instant(_) => "java.time.Instant",
            Val::LocalDate(_) => "java.time.LocalDate",
            Val::LocalDateTime(_) => "java.time.LocalDateTime",
            Val::DateFormat(_) => "java.text.SimpleDateFormat",
            Val::Random => "java.util.Random",
        }
    }

    /// Items of a list-like value (JSON array or built list), or `None`.
    pub fn list_items(&self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Json(Value::Array(items)) => Some(items.iter().map(Val::from_json).collect()),
            Val::List(items) => Some(items.as_ref().clone()),
            _ => None,
        }
    }

    pub fn list_len(&self) -> Option<usize> {
        match self {
            Val::Json(Value::Array(items)) => Some(items.len()),
            Val::List(items) => Some(items.len()),
            _ => None,
        }
    }

    pub fn list_get(&self, index: usize) -> Option<Val<'a>> {
        match self {
            Val::Json(Value::Array(items)) => items.get(index).map(Val::from_json),
            Val::List(items) => items.get(index).cloned(),
            _ => None,
        }
    }

    /// Entries of a map-like value, in order (a stage context gives its own keys only).
    pub fn map_entries(&self) -> Option<Vec<(Cow<'a, str>, Val<'a>)>> {
        match self {
            Val::Json(Value::Object(map)) => Some(
                map.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Val::from_json(v)))
                    .collect(),
            ),
            Val::StageContext(stage) => Some(match stage.get("context") {
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Val::from_json(v)))
                    .collect(),
                _ => Vec::new(),
            }),
            Val::Map(entries) => Some(
                entries
                    .iter()
                    .map(|(k, v)| (Cow::Owned(k.to_string()), v.clone()))
                    .collect(),
            ),
            _ => None,
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(
            self,
            Val::Json(Value::Object(_)) | Val::Map(_) | Val::StageContext(_)
        )
    }

    /// A map's own entry (no ancestor fallback): `None` when this is no map,
    /// `Some(None)` when the key is absent.
    pub fn own_entry(&self, key: &str) -> Option<Option<Val<'a>>> {
        match self {
            Val::Json(Value::Object(map)) => Some(map.get(key).map(Val::from_json)),
            Val::Map(entries) => Some(
                entries
                    .iter()
                    .find(|(k, _)| k.as_ref() == key)
                    .map(|(_, v)| v.clone()),
            ),
            Val::StageContext(stage) => Some(
                stage
                    .get("context")
                    .and_then(|c| c.get(key))
                    .map(Val::from_json),
            ),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(v) => Some(*v as f64),
            Val::Long(v) => Some(*v as f64),
            Val::Float(v) => Some(*v as f64),
            Val::Double(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(v) => Some(*v as i64),
            Val::Long(v) => Some(*v),
            _ => None,
        }
    }
}

fn number_from_json(n: &Number) -> Val<'static> {
    if let Some(i) = n.as_i64() {
        match i32::try_from(i) {
            Ok(small) => Val::Int(small),
            Err(_) => Val::Long(i),
        }
    } else {
        Val::Double(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// JSON number for a double; NaN and infinities have no JSON form and become strings, as
/// Jackson writes them when asked to (`"NaN"`, `"Infinity"`).
pub fn double_to_json(value: f64) -> Value {
    match Number::from_f64(value) {
        Some(n) => Value::Number(n),
        None => Value::String(java_double_to_string(value)),
    }
}

/// Java's `Double.toString`: `1.0`, `0.001`, `1.0E7`, `1.234E-5`.
pub fn java_double_to_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{value}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        // Shortest digits in scientific form, e.g. "1.234e-5" → "1.234E-5", "1e7" → "1.0E7".
        let scientific = format!("{value:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exponent}")
    }
}

/// Java's `Float.toString` (same rules with float precision).
pub fn java_float_to_string(value: f32) -> String {
    if value.is_nan() || value.is_infinite() || value == 0.0 {
        return java_double_to_string(value as f64);
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{value}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let scientific = format!("{value:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double_to_string(1.0), "1.0");
        assert_eq!(java_double_to_string(2.5), "2.5");
        assert_eq!(java_double_to_string(0.001), "0.001");
        assert_eq!(java_double_to_string(0.0001), "1.0E-4");
        assert_eq!(java_double_to_string(1e7), "1.0E7");
        assert_eq!(java_double_to_string(12345678.9), "1.23456789E7");
        assert_eq!(java_double_to_string(-3.0), "-3.0");
        assert_eq!(java_float_to_string(7.5), "7.5");
        assert_eq!(java_float_to_string(7.0), "7.0");
    }
}
