//! Gate's `ReorderPipelinesController`: sets the `index` of an application's pipeline or
//! strategy configs.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gennaker_model::application::application_name_problem;
use serde_json::Value;

use crate::AppState;
use crate::body::json_object;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::configs::{ConfigKind, short};

/// `POST /actions/pipelines/reorder` `{application, idsToIndices: {id: index}}`: sets the
/// `index` of the named configs (ids of other applications are ignored). 200, empty body.
pub async fn reorder_pipelines(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    reorder(&state, ConfigKind::Pipeline, &headers, &body).await
}

/// `POST /actions/strategies/reorder`
pub async fn reorder_strategies(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    reorder(&state, ConfigKind::Strategy, &headers, &body).await
}

async fn reorder(
    state: &AppState,
    kind: ConfigKind,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<StatusCode, ApiError> {
    let request = json_object(body, false)?;
    let application = match request.get("application") {
        Some(Value::String(application)) if application_name_problem(application).is_none() => {
            application.clone()
        }
        Some(Value::String(application)) => {
            return Err(ApiError::invalid_field(
                "application",
                application_name_problem(application).unwrap_or_default(),
            ));
        }
        _ => {
            return Err(ApiError::invalid_field(
                "application",
                "a reorder needs the 'application' it applies to",
            ));
        }
    };
    let Some(Value::Object(indices)) = request.get("idsToIndices") else {
        return Err(ApiError::invalid_field(
            "idsToIndices",
            "a reorder needs 'idsToIndices', an object of id: index",
        ));
    };
    let mut wanted = Vec::with_capacity(indices.len());
    for (id, index) in indices {
        match index.as_u64() {
            Some(index) => wanted.push((id.clone(), index)),
            None => {
                return Err(ApiError::invalid_field(
                    &format!("idsToIndices.{id}"),
                    format!(
                        "an index must be a non-negative integer, got {}",
                        short(index)
                    ),
                ));
            }
        }
    }
    let user = user_name(headers);
    let configs = kind.list(state, &application).await?;
    for (id, index) in wanted {
        let Some(config) = configs
            .iter()
            .find(|config| config.id() == Some(id.as_str()))
        else {
            continue;
        };
        if config.index() == Some(index as i64) {
            continue;
        }
        let mut config = config.clone();
        config.set("index", Value::from(index));
        match kind {
            ConfigKind::Pipeline => state.store.save_pipeline(config, &user).await?,
            ConfigKind::Strategy => state.store.save_strategy(config, &user).await?,
        };
    }
    Ok(StatusCode::OK)
}
