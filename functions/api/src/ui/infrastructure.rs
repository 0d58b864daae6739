//! Infrastructure tabs: clusters with their server groups per account and region, load
//! balancers with their target groups and attached server groups, and firewalls (security
//! groups) with their inbound rules. All read through the Clouddriver-shaped Gate routes.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::applications::{known_application, tabs};
use super::format;
use super::gate::{Caller, Gate, GateError, segment};
use super::layout::{self, Tab};

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn count(value: &Value, key: &str) -> i64 {
    value.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// `GET /ui/applications/{application}/clusters`
pub async fn clusters(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(application): Path<String>,
) -> Response {
    let caller = Caller::from_headers(&headers);
    let application = match known_application(&gate, &caller, &application).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let groups = match server_groups(&gate, &caller, &application).await {
        Ok(groups) => groups,
        Err(error) => return layout::gate_error_page(error),
    };
    let mut by_cluster: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for group in &groups {
        by_cluster
            .entry((
                text(group, "account").to_string(),
                text(group, "cluster").to_string(),
            ))
            .or_default()
            .push(group);
    }
    layout::page(
        &format!("{application} clusters"),
        tabs(&application, Tab::Clusters),
        html! {
            h1 { "Clusters" }
            @if by_cluster.is_empty() {
                p.empty { "No server groups. Deploy one with a pipeline's deploy stage." }
            }
            @for ((account, cluster), groups) in &by_cluster {
                section.cluster aria-label={ "Cluster " (cluster) " in " (account) } {
                    h2 { (cluster) span.account { " · " (account) } }
                    table.server-groups {
                        thead { tr {
                            th scope="col" { "Server group" } th scope="col" { "Region" } th scope="col" { "State" }
                            th scope="col" { "Instances (up / down / starting)" } th scope="col" { "Capacity (min / desired / max)" }
                            th scope="col" { "Image" } th scope="col" { "Instance type" } th scope="col" { "Created" }
                        } }
                        tbody {
                            @for group in groups { (server_group_row(group)) }
                        }
                    }
                }
            }
        },
    )
}

fn server_group_row(group: &Value) -> Markup {
    let counts = group.get("instanceCounts").cloned().unwrap_or(Value::Null);
    let capacity = group.get("capacity").cloned().unwrap_or(Value::Null);
    let disabled = group.get("isDisabled").and_then(Value::as_bool) == Some(true);
    let launch = group.get("launchConfig").cloned().unwrap_or(Value::Null);
    let image = group
        .get("image")
        .map(|image| text(image, "name"))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| text(&launch, "imageId"));
    html! {
        tr class=(if disabled { "disabled" } else { "serving" }) data-server-group=(text(group, "name")) {
            th scope="row" { (text(group, "name")) }
            td { (text(group, "region")) }
            td { @if disabled { span.badge.st-disabled { "DISABLED" } } @else { span.badge.st-succeeded { "SERVING" } } }
            td { (count(&counts, "up")) " / " (count(&counts, "down")) " / " (count(&counts, "starting")) }
            td { (count(&capacity, "min")) " / " (count(&capacity, "desired")) " / " (count(&capacity, "max")) }
            td { (image) }
            td { (text(&launch, "instanceType")) }
            td { (format::time(group.get("createdTime").and_then(Value::as_i64))) }
        }
    }
}

/// Full server group views (launch config and image included), cluster by cluster.
async fn server_groups(
    gate: &Gate,
    caller: &Caller,
    application: &str,
) -> Result<Vec<Value>, GateError> {
    let app = segment(application);
    let clusters: BTreeMap<String, Vec<String>> = gate
        .get(caller, &format!("/applications/{app}/clusters"))
        .await?;
    let mut groups = Vec::new();
    for (account, names) in &clusters {
        for cluster in names {
            let path = format!(
                "/applications/{app}/clusters/{}/{}/serverGroups",
                segment(account),
                segment(cluster)
            );
            groups.extend(gate.get::<Vec<Value>>(caller, &path).await?);
        }
    }
    groups.sort_by(|a, b| text(a, "name").cmp(text(b, "name")));
    Ok(groups)
}

/// `GET /ui/applications/{application}/loadBalancers`
pub async fn load_balancers(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(application): Path<String>,
) -> Response {
    let caller = Caller::from_headers(&headers);
    let application = match known_application(&gate, &caller, &application).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let path = format!("/applications/{}/loadBalancers", segment(&application));
    let balancers: Vec<Value> = match gate.get(&caller, &path).await {
        Ok(balancers) => balancers,
        Err(error) => return layout::gate_error_page(error),
    };
    layout::page(
        &format!("{application} load balancers"),
        tabs(&application, Tab::LoadBalancers),
        html! {
            h1 { "Load balancers" }
            @if balancers.is_empty() { p.empty { "No load balancers for this application." } }
            @for balancer in &balancers {
                section.balancer aria-label={ "Load balancer " (text(balancer, "name")) } {
                    h2 { (text(balancer, "name")) span.account { " · " (text(balancer, "account")) " · " (text(balancer, "region")) } }
                    p.summary { "DNS " code { (text(balancer, "dnsname")) } }
                    table {
                        thead { tr { th scope="col" { "Target group" } th scope="col" { "Protocol / port" } th scope="col" { "Health check" } th scope="col" { "Server groups" } } }
                        tbody {
                            @for target in balancer.get("targetGroups").and_then(Value::as_array).into_iter().flatten() {
                                tr {
                                    th scope="row" { (text(target, "name")) }
                                    td { (text(target, "protocol")) " " (target.get("port").map(|port| port.to_string()).unwrap_or_default()) }
                                    td { (text(target, "healthCheckProtocol")) " " (text(target, "healthCheckPath")) }
                                    td {
                                        @for group in target.get("serverGroups").and_then(Value::as_array).into_iter().flatten() {
                                            span.chip { (text(group, "name")) @if group.get("isDisabled").and_then(Value::as_bool) == Some(true) { " (disabled)" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /ui/applications/{application}/firewalls`: the security groups named after the
/// application (Deck's convention), with their inbound rules.
pub async fn firewalls(
    State(gate): State<Gate>,
    headers: HeaderMap,
    Path(application): Path<String>,
) -> Response {
    let caller = Caller::from_headers(&headers);
    let application = match known_application(&gate, &caller, &application).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let groups = match security_groups(&gate, &caller, &application).await {
        Ok(groups) => groups,
        Err(error) => return layout::gate_error_page(error),
    };
    layout::page(
        &format!("{application} firewalls"),
        tabs(&application, Tab::Firewalls),
        html! {
            h1 { "Firewalls" }
            @if groups.is_empty() { p.empty { "No security groups named after this application." } }
            @for group in &groups {
                section aria-label={ "Firewall " (text(group, "name")) } {
                    h2 { (text(group, "name")) span.account { " · " (text(group, "account")) " · " (text(group, "region")) " · " (text(group, "id")) } }
                    p.summary { (text(group, "description")) }
                    table {
                        thead { tr { th scope="col" { "Source" } th scope="col" { "Protocol" } th scope="col" { "Ports" } } }
                        tbody {
                            @for rule in group.get("inboundRules").and_then(Value::as_array).into_iter().flatten() {
                                tr {
                                    td { (rule_source(rule)) }
                                    td { (text(rule, "protocol")) }
                                    td { (ports(rule)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn rule_source(rule: &Value) -> String {
    if let Some(range) = rule.get("range") {
        return format!("{}{}", text(range, "ip"), text(range, "cidr"));
    }
    rule.get("securityGroup")
        .map(|group| {
            let name = text(group, "name");
            let shown = if name.is_empty() {
                text(group, "id")
            } else {
                name
            };
            shown.to_string()
        })
        .unwrap_or_default()
}

fn ports(rule: &Value) -> String {
    rule.get("portRanges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|range| {
            let (start, end) = (range.get("startPort"), range.get("endPort"));
            match (start, end) {
                (Some(start), Some(end)) if start == end => start.to_string(),
                (Some(start), Some(end)) if !start.is_null() => format!("{start}–{end}"),
                _ => "all".to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn security_groups(
    gate: &Gate,
    caller: &Caller,
    application: &str,
) -> Result<Vec<Value>, GateError> {
    // {account: {aws: {region: [{id, name, vpcId}]}}}
    let listing: BTreeMap<String, Value> = gate.get(caller, "/securityGroups").await?;
    let mut groups = Vec::new();
    for (account, providers) in &listing {
        for regions in providers.as_object().into_iter().flat_map(|p| p.values()) {
            for (region, found) in regions.as_object().into_iter().flatten() {
                for group in found.as_array().into_iter().flatten() {
                    let name = text(group, "name");
                    if name == application || name.starts_with(&format!("{application}-")) {
                        let path = format!(
                            "/securityGroups/{}/{}/{}",
                            segment(account),
                            segment(region),
                            segment(name)
                        );
                        groups.push(gate.get::<Value>(caller, &path).await?);
                    }
                }
            }
        }
    }
    Ok(groups)
}
