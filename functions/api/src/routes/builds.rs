//! Gate's build endpoints (backed by Igor in Spinnaker), which Deck's Jenkins stage and
//! trigger pickers call: the configured masters, their jobs, a job's builds, one build.
//! Masters come from `JENKINS_MASTERS` (see `gennaker_jenkins::Masters`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gennaker_jenkins::{Jenkins, JenkinsError, Masters};
use gennaker_outbound::UrlRules;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// The Jenkins client of the API. A configuration that cannot be read is logged and leaves
/// no masters (the Jenkins stage function refuses to start with it, which is louder).
pub fn jenkins(sdk: &aws_config::SdkConfig, configured: Option<&str>) -> Jenkins {
    let masters = Masters::parse(configured).unwrap_or_else(|error| {
        tracing::error!(%error, "no Jenkins masters are configured");
        Masters::parse(None).expect("no masters parse")
    });
    // The API calls nothing but the configured masters, which are trusted.
    Jenkins::new(masters.with_secrets(sdk), UrlRules::strict())
}

/// `GET /v2/builds`: the names of the build masters.
pub async fn masters(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(state.jenkins.masters().names())
}

/// `GET /v2/builds/{master}/jobs`: every job of a master (`folder/job/child` in folders).
pub async fn jobs(
    State(state): State<AppState>,
    Path(master): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    let jenkins = &state.jenkins;
    let master = jenkins.master(&master).map_err(api_error)?;
    Ok(Json(jenkins.jobs(master).await.map_err(api_error)?))
}

/// `GET /v2/builds/{master}/builds/{job}`: a job's builds, newest first.
pub async fn builds(
    State(state): State<AppState>,
    Path((master, job)): Path<(String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let jenkins = &state.jenkins;
    let master = jenkins.master(&master).map_err(api_error)?;
    Ok(Json(jenkins.builds(master, &job).await.map_err(api_error)?))
}

/// `GET /v2/builds/{master}/build/{number}/{job}`: one build.
pub async fn build(
    State(state): State<AppState>,
    Path((master, number, job)): Path<(String, u64, String)>,
) -> Result<Json<Value>, ApiError> {
    let jenkins = &state.jenkins;
    let master = jenkins.master(&master).map_err(api_error)?;
    Ok(Json(
        jenkins
            .build(master, &job, number)
            .await
            .map_err(api_error)?,
    ))
}

fn api_error(error: JenkinsError) -> ApiError {
    match error {
        JenkinsError::UnknownMaster { .. } | JenkinsError::NotFound(_) => {
            ApiError::not_found(error.to_string())
        }
        JenkinsError::Refused(_) | JenkinsError::Unavailable(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, error.to_string())
        }
    }
}
