//! Application-level notifications (Front50's `/notifications/application/{app}`): one
//! document per application, keyed by notification type, `{"slack": [{address, when, ...}],
//! "email": [...]}`. The notifier merges them into every pipeline's notifications.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use gennaker_model::validation::ValidationError;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;

/// 200 with the application's preferences (`{"application"}` alone when none were saved);
/// 404 for an unknown application.
pub async fn get_for_application(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = known_application(&state, &application).await?;
    let saved = state.store.application_notifications(&name).await?;
    Ok(Json(with_application(saved.unwrap_or_default(), &name)))
}

/// Replaces the application's preferences; 400 naming the field for a malformed body.
pub async fn save_for_application(
    State(state): State<AppState>,
    Path(application): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let name = known_application(&state, &application).await?;
    let preferences = normalize(json_object(&body, false)?)?;
    state
        .store
        .save_application_notifications(&name, &preferences)
        .await?;
    Ok(Json(with_application(preferences, &name)))
}

async fn known_application(state: &AppState, application: &str) -> Result<String, ApiError> {
    let name = application.to_lowercase();
    match state.store.get_application(&name).await? {
        Some(_) => Ok(name),
        None => Err(ApiError::not_found(format!(
            "Application '{name}' not found"
        ))),
    }
}

fn with_application(mut preferences: Map<String, Value>, name: &str) -> Value {
    preferences.insert("application".into(), json!(name));
    Value::Object(preferences)
}

/// Checks every entry (an object with an `address` and a `when` list of strings) and marks
/// it `level: "application"` with its `type`; unknown fields are kept.
fn normalize(body: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut errors = Vec::new();
    let mut preferences = Map::new();
    for (kind, entries) in body {
        if kind == "application" {
            continue;
        }
        let Value::Array(entries) = entries else {
            errors.push(invalid(&kind, "must be a list of notifications"));
            continue;
        };
        let mut checked = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let field = format!("{kind}[{index}]");
            let Value::Object(mut entry) = entry else {
                errors.push(invalid(&field, "must be an object"));
                continue;
            };
            let address_ok = entry
                .get("address")
                .and_then(Value::as_str)
                .is_some_and(|address| !address.trim().is_empty());
            if !address_ok {
                errors.push(invalid(
                    &format!("{field}.address"),
                    "is required (a non-empty string)",
                ));
            }
            let when_ok = entry
                .get("when")
                .and_then(Value::as_array)
                .is_some_and(|when| when.iter().all(Value::is_string));
            if !when_ok {
                errors.push(invalid(
                    &format!("{field}.when"),
                    "is required (a list of strings)",
                ));
            }
            entry.insert("level".into(), json!("application"));
            entry.insert("type".into(), json!(kind));
            checked.push(Value::Object(entry));
        }
        preferences.insert(kind, Value::Array(checked));
    }
    if errors.is_empty() {
        Ok(preferences)
    } else {
        Err(ApiError::invalid(errors))
    }
}

fn invalid(field: &str, message: &str) -> ValidationError {
    ValidationError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn entries_are_marked_application_level_with_their_type() {
        let saved = normalize(body(json!({
            "application": "demo",
            "slack": [{"address": "#deploys", "when": ["pipeline.complete"], "extra": 1}],
        })))
        .unwrap();
        assert_eq!(
            Value::Object(saved),
            json!({"slack": [{"address": "#deploys", "when": ["pipeline.complete"], "extra": 1,
                              "level": "application", "type": "slack"}]})
        );
    }

    #[test]
    fn malformed_entries_name_the_field() {
        let error = normalize(body(json!({
            "email": [{"when": ["pipeline.failed"]}, "x"],
            "slack": {"address": "a"},
            "webhook": [{"address": "https://example.com", "when": "pipeline.failed"}],
        })))
        .unwrap_err();
        let fields: Vec<&str> = error.details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["email[0].address", "email[1]", "slack", "webhook[0].when"]
        );
    }
}
