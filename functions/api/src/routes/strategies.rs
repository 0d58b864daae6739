//! Gate's `StrategyController` and the strategy config reads: save, update by id, delete by
//! name, history, and an application's strategies.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::identity::user_name;
use crate::routes::configs::{
    ConfigKind, HistoryQuery, config_list, config_named, delete_by_name, history, parse_config,
    save_checked, update,
};

/// `PUT /strategies/{id}`
pub async fn update_strategy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    update(&state, ConfigKind::Strategy, &id, false, &headers, &body).await
}

/// `DELETE /strategies/{application}/{strategyName}`
pub async fn delete_strategy(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_by_name(&state, ConfigKind::Strategy, &application, &name).await
}

/// `GET /strategyConfigs/{id}/history?limit=20`
pub async fn strategy_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    history(&state, ConfigKind::Strategy, &id, &query).await
}

/// `POST /strategies`: create or update a strategy config; 200 with an empty body.
pub async fn save_strategy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let config = parse_config(&body)?;
    save_checked(
        &state,
        ConfigKind::Strategy,
        config,
        false,
        &user_name(&headers),
    )
    .await?;
    Ok(StatusCode::OK)
}

/// `GET /applications/{application}/strategyConfigs`
pub async fn list_strategies(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(config_list(
        state.store.list_strategies(&application).await?,
    ))
}

/// `GET /applications/{application}/strategyConfigs/{strategyName}`: exact name, else 404.
pub async fn get_strategy(
    State(state): State<AppState>,
    Path((application, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let configs = state.store.list_strategies(&application).await?;
    config_named(configs, &name, "Strategy", &application)
}
