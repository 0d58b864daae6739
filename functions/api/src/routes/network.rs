//! Security group and load balancer reads (Gate's Clouddriver pass-through), read live
//! through `gennaker-cloud` with the fields Deck reads. An application's security groups
//! and load balancers are those whose names Frigga-parse to it. Unknown accounts and
//! regions are 404s in Gate's error shape.

use axum::Json;
use axum::extract::{Path, Query, State};
use gennaker_cloud::network::{LoadBalancerInfo, SecurityGroupInfo, belongs_to};
use gennaker_cloud::network_views::{
    load_balancer_summaries, load_balancer_summary, load_balancer_view, security_group_view,
    security_groups_by_account, security_groups_by_region,
};
use gennaker_cloud::{Account, ServerGroup};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// The configured accounts, or only `account` (404 when unknown).
fn accounts(state: &AppState, account: Option<&str>) -> Result<Vec<Account>, ApiError> {
    Ok(match account {
        Some(name) => vec![state.cloud.accounts().get(name)?.clone()],
        None => state.cloud.accounts().all().to_vec(),
    })
}

async fn security_groups_of(
    state: &AppState,
    account: Option<&str>,
    region: Option<&str>,
) -> Result<Vec<SecurityGroupInfo>, ApiError> {
    let mut groups = Vec::new();
    for account in accounts(state, account)? {
        for known in &account.regions {
            if region.is_some_and(|wanted| wanted != known) {
                continue;
            }
            let clients = state.cloud.region(&account.name, known).await?;
            groups.extend(clients.security_groups().await?);
        }
    }
    Ok(groups)
}

/// Load balancers (every one, or those of `application`) with the server groups of the
/// same account and region, for their `serverGroups`.
async fn load_balancers_of(
    state: &AppState,
    application: Option<&str>,
) -> Result<Vec<(LoadBalancerInfo, Vec<ServerGroup>)>, ApiError> {
    let mut found = Vec::new();
    for account in accounts(state, None)? {
        for region in &account.regions {
            let clients = state.cloud.region(&account.name, region).await?;
            let balancers: Vec<_> = clients
                .load_balancers()
                .await?
                .into_iter()
                .filter(|b| application.is_none_or(|app| belongs_to(&b.name, app)))
                .collect();
            if balancers.is_empty() {
                continue;
            }
            let groups = clients.server_groups(None).await?;
            found.extend(balancers.into_iter().map(|b| (b, groups.clone())));
        }
    }
    Ok(found)
}

#[derive(Debug, Deserialize)]
pub struct SecurityGroupsQuery {
    /// A security group id: only that group is listed.
    id: Option<String>,
    region: Option<String>,
}

/// `GET /securityGroups?id=`: `{account: {aws: {region: [{id, name, vpcId}]}}}`.
pub async fn security_groups(
    State(state): State<AppState>,
    Query(query): Query<SecurityGroupsQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut groups = security_groups_of(&state, None, query.region.as_deref()).await?;
    if let Some(id) = &query.id {
        groups.retain(|group| &group.id == id);
    }
    Ok(Json(security_groups_by_account(&groups)))
}

/// `GET /securityGroups/{account}?region=`: `{aws: {region: [{id, name, vpcId}]}}`.
pub async fn account_security_groups(
    State(state): State<AppState>,
    Path(account): Path<String>,
    Query(query): Query<SecurityGroupsQuery>,
) -> Result<Json<Value>, ApiError> {
    let groups = security_groups_of(&state, Some(&account), query.region.as_deref()).await?;
    Ok(Json(security_groups_by_region(&groups)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupQuery {
    vpc_id: Option<String>,
}

/// `GET /securityGroups/{account}/{region}/{name}?vpcId=`: one security group with its
/// inbound rules.
pub async fn security_group(
    State(state): State<AppState>,
    Path((account, region, name)): Path<(String, String, String)>,
    Query(query): Query<SecurityGroupQuery>,
) -> Result<Json<Value>, ApiError> {
    let clients = state.cloud.region(&account, &region).await?;
    let known = clients.security_groups().await?;
    known
        .iter()
        .find(|group| {
            group.name == name
                && query
                    .vpc_id
                    .as_ref()
                    .is_none_or(|vpc| group.vpc_id.as_ref() == Some(vpc))
        })
        .map(|group| Json(security_group_view(group, &known)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Security group '{name}' not found in {account}/{region}"
            ))
        })
}

/// `GET /applications/{app}/loadBalancers`: the application's load balancers.
pub async fn application_load_balancers(
    State(state): State<AppState>,
    Path(application): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let found = load_balancers_of(&state, Some(&application)).await?;
    Ok(Json(
        found
            .iter()
            .map(|(balancer, groups)| load_balancer_view(balancer, groups))
            .collect(),
    ))
}

/// `GET /loadBalancers`: one summary per name, with the accounts and regions holding it.
pub async fn load_balancers(State(state): State<AppState>) -> Result<Json<Vec<Value>>, ApiError> {
    let balancers = every_load_balancer(&state).await?;
    Ok(Json(load_balancer_summaries(&balancers)))
}

async fn every_load_balancer(state: &AppState) -> Result<Vec<LoadBalancerInfo>, ApiError> {
    let mut balancers = Vec::new();
    for account in accounts(state, None)? {
        for region in &account.regions {
            let clients = state.cloud.region(&account.name, region).await?;
            balancers.extend(clients.load_balancers().await?);
        }
    }
    Ok(balancers)
}

/// `GET /loadBalancers/{name}`: the summary of that name, 404 when no account has it.
pub async fn load_balancer_by_name(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let balancers = every_load_balancer(&state).await?;
    if !balancers.iter().any(|b| b.name == name) {
        return Err(ApiError::not_found(format!(
            "Load balancer '{name}' not found"
        )));
    }
    Ok(Json(load_balancer_summary(&name, &balancers)))
}

/// `GET /loadBalancers/{account}/{region}/{name}`: the load balancer's details as a list
/// (Clouddriver's shape; empty when no load balancer has that name there).
pub async fn load_balancer_details(
    State(state): State<AppState>,
    Path((account, region, name)): Path<(String, String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let clients = state.cloud.region(&account, &region).await?;
    let Some(balancer) = clients.load_balancer(&name).await? else {
        return Ok(Json(vec![]));
    };
    let groups = clients.server_groups(None).await?;
    Ok(Json(vec![load_balancer_view(&balancer, &groups)]))
}
