//! Incoming webhooks (Gate's WebhookController, served by Echo's
//! `WebhooksController`):
//! `POST /webhooks/webhook/{source}` starts every enabled pipeline with an enabled webhook
//! trigger on that source whose payload constraints match (and whose shared secret, when
//! it has one, signed the body).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use gennaker_model::PipelineConfig;
use gennaker_model::launch::Caller;
use gennaker_model::triggers::{self, WEBHOOK};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::routes::launches::prepare_as;

/// Headers carrying the sender's delivery id (a redelivery repeats it).
const EVENT_ID_HEADERS: [&str; 2] = ["x-event-id", "x-github-delivery"];
/// GitHub-style `sha256=<hex>` HMAC-SHA256 of the raw body under the trigger's `secret`.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// `POST /webhooks/{type}/{source}` (e.g. `/webhooks/webhook/my-source`): any JSON object
/// (an empty body or `null` counts as `{}`). 200 `{"eventProcessed", "eventId"}`;
/// `eventProcessed` is false when no pipeline has a webhook trigger on the source (or the
/// type is not `webhook`). The event id is the `X-Event-Id` (or `X-GitHub-Delivery`)
/// header, else the body's `eventId`, else new: the same id delivered again starts nothing
/// new.
pub async fn receive(
    State(state): State<AppState>,
    Path((kind, source)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let payload = json_object(&body, true)?;
    let event_id = event_id(&headers, &payload);
    let answer =
        |processed: bool| Json(json!({ "eventProcessed": processed, "eventId": event_id.clone() }));
    if !kind.eq_ignore_ascii_case(WEBHOOK) {
        return Ok(answer(false));
    }
    let candidates = state
        .store
        .find_triggered_pipelines(WEBHOOK, &source)
        .await?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    let mut listening = false;
    for config in candidates.iter().filter(|config| !config.is_disabled()) {
        let matching = triggers::webhook_triggers(config, &source);
        listening |= !matching.is_empty();
        let Some(trigger) = matching.into_iter().find(|trigger| {
            triggers::signature_ok(trigger, &body, signature)
                && triggers::payload_matches(trigger, &payload)
        }) else {
            continue;
        };
        // Echo's permission check: the trigger fires as its `runAsUser` (or anonymous)
        // only if that principal may EXECUTE the application.
        let run_as_user = trigger.get("runAsUser").and_then(Value::as_str);
        let authentication = match state
            .run_as
            .authenticate(&state.store, config, run_as_user)
            .await?
        {
            Ok(authentication) => authentication,
            Err(reason) => {
                tracing::warn!(pipeline_id = config.id().unwrap_or_default(), %reason, "webhook trigger not fired");
                continue;
            }
        };
        let caller = Caller {
            user: authentication.user,
            origin: crate::identity::caller(&headers).origin,
            allowed_accounts: authentication.allowed_accounts,
        };
        let mut supplied = triggers::webhook_trigger(trigger, &payload, &event_id);
        supplied.insert("user".into(), json!(caller.user));
        start_once(&state, config, &event_id, supplied, &caller).await?;
    }
    Ok(answer(listening))
}

/// Starts `config` for the event unless the event already started it.
async fn start_once(
    state: &AppState,
    config: &PipelineConfig,
    event_id: &str,
    trigger: Map<String, Value>,
    caller: &Caller,
) -> Result<(), ApiError> {
    let pipeline_id = config.id().unwrap_or_default();
    let launched = state
        .launcher
        .launch_for_event(event_id, pipeline_id, |execution_id| {
            prepare_as(config, execution_id, trigger, caller)
        })
        .await?;
    if let Err(refused) = launched {
        tracing::warn!(
            pipeline_id,
            event_id,
            ?refused,
            "webhook trigger not started"
        );
    }
    Ok(())
}

fn event_id(headers: &HeaderMap, payload: &Map<String, Value>) -> String {
    EVENT_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .or_else(|| {
            payload
                .get("eventId")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// `GET /webhooks/preconfigured`: the preconfigured webhook stage types
/// (`PRECONFIGURED_WEBHOOKS`) as Orca's `WebhookController` lists them for Deck: type,
/// label, description, parameters; never the URL, headers or payload.
pub async fn preconfigured(State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(state.launcher.preconfigured_webhooks().listing())
}
