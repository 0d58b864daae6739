//! Incoming webhooks (Gate's WebhookController, served by Echo): the request is accepted and
//! given an event id. Matching it against pipeline triggers comes with the triggers work;
//! until then nothing is started or stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use serde_json::{Value, json};

use crate::body::json_object;
use crate::error::ApiError;

/// `POST /webhooks/{type}/{source}` (e.g. `/webhooks/webhook/my-source`): any JSON object
/// (an empty body or `null` counts as `{}`). 200 `{"eventProcessed": true, "eventId"}`.
pub async fn receive(
    Path((_kind, _source)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let _payload = json_object(&body, true)?;
    Ok(Json(json!({
        "eventProcessed": true,
        "eventId": uuid::Uuid::new_v4().to_string(),
    })))
}

/// `GET /webhooks/preconfigured`: the preconfigured webhook stages (none yet).
pub async fn preconfigured() -> Json<Vec<Value>> {
    Json(vec![])
}
