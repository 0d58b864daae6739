//! Bake options (Gate's BakeryController over Rosco): the base images Deck's bake stage
//! offers, from the `BakeryBaseImages` template parameter (`BAKERY_BASE_IMAGES`), the same
//! list the bake worker bakes from. Only the `aws` provider bakes.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

const PROVIDER: &str = "aws";

/// `GET /bakery/options`: `[{cloudProvider, baseImages}]` per provider.
pub async fn all_options(State(state): State<AppState>) -> Json<Value> {
    Json(json!([state.base_images.options()]))
}

/// `GET /bakery/options/{cloudProvider}`
pub async fn provider_options(
    State(state): State<AppState>,
    Path(cloud_provider): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known_provider(&cloud_provider)?;
    Ok(Json(state.base_images.options()))
}

/// `GET /bakery/options/{cloudProvider}/baseImages/{imageId}`
pub async fn base_image(
    State(state): State<AppState>,
    Path((cloud_provider, image_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    known_provider(&cloud_provider)?;
    state
        .base_images
        .get(&image_id)
        .map(|image| Json(image.option_view()))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Base image not found (cloudProvider: {cloud_provider}, imageId: {image_id})"
            ))
        })
}

fn known_provider(cloud_provider: &str) -> Result<(), ApiError> {
    if cloud_provider == PROVIDER {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "Bake options not found (cloudProvider: {cloud_provider}; only aws bakes)"
        )))
    }
}
