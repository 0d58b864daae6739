//! Infrastructure reads (Gate's pass-through to Clouddriver): clusters, server groups,
//! instances and images of the configured AWS accounts, read through `gennaker-cloud` with
//! the fields Deck reads. An application's server-group listing per region is kept for
//! `INFRASTRUCTURE_CACHE_SECONDS`; single groups, instances and images are read live.
//! Unknown accounts and regions are 404s in Gate's error shape.

use axum::Json;
use axum::extract::{Path, Query, State};
use gennaker_cloud::views::{
    cluster_names_by_account, cluster_view, image_view, instance_details_view,
    server_group_summary, server_group_view,
};
use gennaker_cloud::{ServerGroup, Target};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// Every server group of `application` in every account and region (or only `account`).
async fn application_groups(
    state: &AppState,
    application: &str,
    account: Option<&str>,
) -> Result<Vec<ServerGroup>, ApiError> {
    let accounts = match account {
        Some(name) => vec![state.cloud.accounts().get(name)?.clone()],
        None => state.cloud.accounts().all().to_vec(),
    };
    let mut groups = Vec::new();
    for account in accounts {
        for region in &account.regions {
            groups.extend(listed_groups(state, &account.name, region, application).await?);
        }
    }
    Ok(groups)
}

/// The server groups of `application` in one account and region, from the listing cache
/// when a recent read is there.
async fn listed_groups(
    state: &AppState,
    account: &str,
    region: &str,
    application: &str,
) -> Result<Vec<ServerGroup>, ApiError> {
    let clients = state.cloud.region(account, region).await?;
    let key = format!("{account}/{region}/{application}");
    let groups = state
        .server_group_listings
        .get_or_read(&key, || clients.server_groups(Some(application)))
        .await?;
    Ok(groups)
}

fn in_cluster(groups: &[ServerGroup], cluster: &str) -> Vec<ServerGroup> {
    groups
        .iter()
        .filter(|group| group.cluster().as_deref() == Some(cluster))
        .cloned()
        .collect()
}

/// `GET /applications/{app}/clusters`: `{account: [cluster names]}`.
pub async fn cluster_names(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let groups = application_groups(&state, &application, None).await?;
    Ok(Json(cluster_names_by_account(&groups)))
}

/// `GET /applications/{app}/clusters/{account}`: the account's clusters with their groups.
pub async fn clusters_in_account(
    State(state): State<AppState>,
    Path((application, account)): Path<(String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let groups = application_groups(&state, &application, Some(&account)).await?;
    let names = cluster_names_by_account(&groups);
    let clusters = names[&account]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|cluster| cluster_view(&account, cluster, &in_cluster(&groups, cluster)))
        .collect();
    Ok(Json(clusters))
}

/// `GET /applications/{app}/clusters/{account}/{cluster}`: the cluster, `{}` when it has
/// no server groups.
pub async fn cluster(
    State(state): State<AppState>,
    Path((application, account, cluster)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let groups = application_groups(&state, &application, Some(&account)).await?;
    let groups = in_cluster(&groups, &cluster);
    if groups.is_empty() {
        return Ok(Json(Value::Object(Default::default())));
    }
    Ok(Json(cluster_view(&account, &cluster, &groups)))
}

/// `GET /applications/{app}/clusters/{account}/{cluster}/serverGroups`.
pub async fn cluster_server_groups(
    State(state): State<AppState>,
    Path((application, account, cluster)): Path<(String, String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let groups = application_groups(&state, &application, Some(&account)).await?;
    Ok(Json(
        in_cluster(&groups, &cluster)
            .iter()
            .map(server_group_view)
            .collect(),
    ))
}

/// `GET /applications/{app}/clusters/{account}/{cluster}/serverGroups/{name}`: one entry per
/// region holding a group of that name.
pub async fn cluster_server_group(
    State(state): State<AppState>,
    Path((application, account, cluster, name)): Path<(String, String, String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let groups = application_groups(&state, &application, Some(&account)).await?;
    Ok(Json(
        in_cluster(&groups, &cluster)
            .iter()
            .filter(|group| group.name == name)
            .map(server_group_view)
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetQuery {
    only_enabled: Option<bool>,
}

/// `GET /applications/{app}/clusters/{account}/{cluster}/{cloudProvider}/{region}/serverGroups/target/{target}`.
pub async fn target_server_group(
    State(state): State<AppState>,
    Path((application, account, cluster, _provider, region, target)): Path<(
        String,
        String,
        String,
        String,
        String,
        String,
    )>,
    Query(query): Query<TargetQuery>,
) -> Result<Json<Value>, ApiError> {
    let resolved = Target::parse(&target).ok_or_else(|| {
        ApiError::invalid_field(
            "target",
            format!("unknown target '{target}' (current_asg_dynamic, ancestor_asg_dynamic, oldest_asg_dynamic, largest_asg_dynamic)"),
        )
    })?;
    let groups: Vec<ServerGroup> = listed_groups(&state, &account, &region, &application)
        .await?
        .into_iter()
        .filter(|group| group.cluster().as_deref() == Some(cluster.as_str()))
        .filter(|group| query.only_enabled != Some(true) || !group.is_disabled())
        .collect();
    resolved
        .resolve(&groups)
        .map(|group| Json(server_group_view(group)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no server group of cluster '{cluster}' in {account}/{region} is the {target}"
            ))
        })
}

#[derive(Debug, Deserialize)]
pub struct ServerGroupsQuery {
    clusters: Option<String>,
    applications: Option<String>,
}

fn csv(list: Option<&str>) -> Vec<String> {
    list.into_iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// `GET /applications/{app}/serverGroups?clusters=`: server group summaries.
pub async fn application_server_groups(
    State(state): State<AppState>,
    Path(application): Path<String>,
    Query(query): Query<ServerGroupsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let clusters = csv(query.clusters.as_deref());
    let groups = application_groups(&state, &application, None).await?;
    Ok(Json(
        groups
            .iter()
            .filter(|group| {
                clusters.is_empty() || group.cluster().is_some_and(|c| clusters.contains(&c))
            })
            .map(server_group_summary)
            .collect(),
    ))
}

/// `GET /serverGroups?applications=a,b`: server group summaries of those applications.
pub async fn server_groups(
    State(state): State<AppState>,
    Query(query): Query<ServerGroupsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let applications = csv(query.applications.as_deref());
    if applications.is_empty() {
        return Err(ApiError::invalid_field(
            "applications",
            "name at least one application",
        ));
    }
    let mut summaries = Vec::new();
    for application in applications {
        let groups = application_groups(&state, &application, None).await?;
        summaries.extend(groups.iter().map(server_group_summary));
    }
    Ok(Json(summaries))
}

/// `GET /applications/{app}/serverGroups/{account}/{region}/{name}`: one server group.
pub async fn server_group(
    State(state): State<AppState>,
    Path((application, account, region, name)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let clients = state.cloud.region(&account, &region).await?;
    clients
        .server_group(&name)
        .await?
        .filter(|group| {
            group
                .parsed_name()
                .is_some_and(|n| n.cluster.app == application)
        })
        .map(|group| Json(server_group_view(&group)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Server group '{name}' not found in {account}/{region}"
            ))
        })
}

/// `GET /instances/{account}/{region}/{id}`: one instance with its health.
pub async fn instance(
    State(state): State<AppState>,
    Path((account, region, id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let clients = state.cloud.region(&account, &region).await?;
    let details = clients.instance(&id).await?.ok_or_else(|| {
        ApiError::not_found(format!("Instance '{id}' not found in {account}/{region}"))
    })?;
    let group = match &details.server_group {
        Some(name) => clients.server_group(name).await?,
        None => None,
    };
    Ok(Json(instance_details_view(
        &details,
        &account,
        &region,
        group.as_ref(),
    )))
}

#[derive(Debug, Deserialize)]
pub struct ImagesQuery {
    q: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

/// `GET /images/find?q=&account=&region=`: images whose name matches `q` (`*` wildcards;
/// a bare word matches names containing it), in every account and region unless narrowed.
pub async fn find_images(
    State(state): State<AppState>,
    Query(query): Query<ImagesQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    if q.len() < 3 {
        return Err(ApiError::invalid_field(
            "q",
            "give at least 3 characters of the image name",
        ));
    }
    let pattern = if q.contains('*') {
        q.to_string()
    } else {
        format!("*{q}*")
    };
    let accounts = match query.account.as_deref() {
        Some(name) => vec![state.cloud.accounts().get(name)?.clone()],
        None => state.cloud.accounts().all().to_vec(),
    };
    let mut found = Vec::new();
    for account in accounts {
        for region in &account.regions {
            if query.region.as_ref().is_some_and(|wanted| wanted != region) {
                continue;
            }
            let clients = state.cloud.region(&account.name, region).await?;
            for image in clients.images_named(&pattern).await? {
                found.push(image_view(&image, &account.name, region));
            }
        }
    }
    Ok(Json(found))
}
