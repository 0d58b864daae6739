//! ELBv2 load balancers (`upsertLoadBalancer`, `deleteLoadBalancer`): Deck's stage context
//! read into a checked request (target groups, listeners, health checks), and a load
//! balancer as ELBv2 reports it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::{flag, int, objects, owning_app};
use crate::requests::{Location, RequestError, invalid, single_location, strings, text};

/// ELBv2 load balancer and target group names: 1 to 32 letters, digits and hyphens, not
/// starting or ending with a hyphen.
static ELB_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$").unwrap());

/// An ELBv2 load balancer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancerKind {
    Application,
    Network,
}

impl LoadBalancerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancerKind::Application => "application",
            LoadBalancerKind::Network => "network",
        }
    }

    fn protocols(self) -> &'static [&'static str] {
        match self {
            LoadBalancerKind::Application => &["HTTP", "HTTPS"],
            LoadBalancerKind::Network => &["TCP", "UDP", "TLS", "TCP_UDP"],
        }
    }
}

/// A target group's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub protocol: String,
    /// A port number or `traffic-port`.
    pub port: String,
    pub path: Option<String>,
    pub interval_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub healthy_threshold: Option<i32>,
    pub unhealthy_threshold: Option<i32>,
    /// HTTP codes counted as healthy (`200`, `200-299`).
    pub matcher: Option<String>,
}

/// A target group of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupSpec {
    pub name: String,
    pub protocol: String,
    pub port: i32,
    /// `instance` or `ip`.
    pub target_type: String,
    pub health_check: HealthCheck,
    /// ELBv2 attribute keys and values (`deregistration_delay.timeout_seconds`, …).
    pub attributes: BTreeMap<String, String>,
}

/// A listener of an upsert: its port, protocol and the target group it forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    pub protocol: String,
    pub port: i32,
    pub certificate_arn: Option<String>,
    pub target_group: String,
}

/// An `upsertLoadBalancer` request (ELBv2: application or network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerRequest {
    pub location: Location,
    pub name: String,
    pub application: String,
    pub kind: LoadBalancerKind,
    pub internal: bool,
    /// Explicit subnets (`subnets`/`subnetIds`), else subnets tagged with `subnetType`,
    /// else the default subnets of `zones` (every zone when empty).
    pub subnet_ids: Vec<String>,
    pub subnet_type: Option<String>,
    pub zones: Vec<String>,
    /// Security group names or ids (application load balancers).
    pub security_groups: Vec<String>,
    pub target_groups: Vec<TargetGroupSpec>,
    pub listeners: Vec<ListenerSpec>,
}

/// Where a load balancer goes, resolved from a request: its VPC, subnets and security
/// group ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// A `deleteLoadBalancer` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerRef {
    pub location: Location,
    pub name: String,
}

fn elb_name(value: &str, field: &str) -> Result<String, RequestError> {
    if !ELB_NAME.is_match(value) {
        return Err(invalid(
            field,
            format!(
                "'{value}' must be 1 to 32 letters, digits or hyphens, not starting or ending with a hyphen"
            ),
        ));
    }
    if value.to_ascii_lowercase().starts_with("internal-") {
        return Err(invalid(
            field,
            format!("'{value}' may not start with internal-"),
        ));
    }
    Ok(value.to_string())
}

fn load_balancer_name(context: &Map<String, Value>) -> Result<String, RequestError> {
    let name = text(context, "loadBalancerName")
        .or_else(|| text(context, "name"))
        .ok_or_else(|| invalid("loadBalancerName", "name the load balancer"))?;
    elb_name(name, "loadBalancerName")
}

fn load_balancer_kind(context: &Map<String, Value>) -> Result<LoadBalancerKind, RequestError> {
    match text(context, "loadBalancerType")
        .unwrap_or("application")
        .to_ascii_lowercase()
        .as_str()
    {
        "application" => Ok(LoadBalancerKind::Application),
        "network" => Ok(LoadBalancerKind::Network),
        "classic" => Err(invalid(
            "loadBalancerType",
            "classic load balancers are not supported (use application or network)",
        )),
        other => Err(invalid(
            "loadBalancerType",
            format!("'{other}' is not application or network"),
        )),
    }
}

fn protocol(
    value: Option<&str>,
    default: &str,
    allowed: &[&str],
    field: &str,
) -> Result<String, RequestError> {
    let protocol = value.unwrap_or(default).to_ascii_uppercase();
    if allowed.contains(&protocol.as_str()) {
        Ok(protocol)
    } else {
        Err(invalid(
            field,
            format!("'{protocol}' is not one of {}", allowed.join(", ")),
        ))
    }
}

fn port_number(value: Option<&Value>, field: &str) -> Result<i32, RequestError> {
    let port = int(value, field)?.ok_or_else(|| invalid(field, "is required"))?;
    if (1..=65535).contains(&port) {
        Ok(port)
    } else {
        Err(invalid(field, format!("{port} is outside 1..65535")))
    }
}

/// Deck's target group `attributes` as ELBv2 attribute keys.
fn target_group_attributes(
    group: &Map<String, Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, RequestError> {
    let Some(attributes) = group.get("attributes").and_then(Value::as_object) else {
        return Ok(BTreeMap::new());
    };
    let mut converted = BTreeMap::new();
    let as_text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    for (deck, aws) in [
        (
            "deregistrationDelay",
            "deregistration_delay.timeout_seconds",
        ),
        ("stickinessEnabled", "stickiness.enabled"),
        ("stickinessType", "stickiness.type"),
        (
            "stickinessDuration",
            "stickiness.lb_cookie.duration_seconds",
        ),
    ] {
        if let Some(value) = attributes.get(deck).filter(|v| !v.is_null()) {
            if deck != "stickinessType" && deck != "stickinessEnabled" {
                int(Some(value), &format!("{field}.attributes.{deck}"))?;
            }
            converted.insert(aws.to_string(), as_text(value));
        }
    }
    Ok(converted)
}

fn target_group(
    group: &Map<String, Value>,
    kind: LoadBalancerKind,
    field: &str,
) -> Result<TargetGroupSpec, RequestError> {
    let name =
        text(group, "name").ok_or_else(|| invalid(&format!("{field}.name"), "is required"))?;
    let name = elb_name(name, &format!("{field}.name"))?;
    let default_protocol = kind.protocols()[0];
    let protocol = protocol(
        text(group, "protocol"),
        default_protocol,
        kind.protocols(),
        &format!("{field}.protocol"),
    )?;
    let port = port_number(group.get("port"), &format!("{field}.port"))?;
    let health_protocols: &[&str] = match kind {
        LoadBalancerKind::Application => &["HTTP", "HTTPS"],
        LoadBalancerKind::Network => &["TCP", "HTTP", "HTTPS"],
    };
    let health_default = if health_protocols.contains(&protocol.as_str()) {
        protocol.as_str()
    } else {
        "TCP"
    };
    let health_protocol = self::protocol(
        text(group, "healthCheckProtocol"),
        health_default,
        health_protocols,
        &format!("{field}.healthCheckProtocol"),
    )?;
    let health_port = match group.get("healthCheckPort") {
        None | Some(Value::Null) => "traffic-port".to_string(),
        Some(Value::String(p)) if p.trim().is_empty() || p.trim() == "traffic-port" => {
            "traffic-port".to_string()
        }
        value => port_number(value, &format!("{field}.healthCheckPort"))?.to_string(),
    };
    let path = text(group, "healthCheckPath").map(str::to_string);
    if let Some(path) = &path
        && !path.starts_with('/')
    {
        return Err(invalid(
            &format!("{field}.healthCheckPath"),
            format!("'{path}' must start with /"),
        ));
    }
    let web = health_protocol.starts_with("HTTP");
    let number = |key: &str| int(group.get(key), &format!("{field}.{key}"));
    Ok(TargetGroupSpec {
        name,
        protocol,
        port,
        target_type: text(group, "targetType").unwrap_or("instance").to_string(),
        health_check: HealthCheck {
            path: if web {
                Some(path.unwrap_or_else(|| "/".to_string()))
            } else {
                None
            },
            protocol: health_protocol,
            port: health_port,
            interval_seconds: number("healthCheckInterval")?,
            timeout_seconds: number("healthCheckTimeout")?,
            healthy_threshold: number("healthyThreshold")?,
            unhealthy_threshold: number("unhealthyThreshold")?,
            matcher: if web {
                text(group, "healthCheckMatcher").map(str::to_string)
            } else {
                None
            },
        },
        attributes: target_group_attributes(group, field)?,
    })
}

fn listener(
    listener: &Map<String, Value>,
    kind: LoadBalancerKind,
    target_groups: &[TargetGroupSpec],
    field: &str,
) -> Result<ListenerSpec, RequestError> {
    let protocol = protocol(
        text(listener, "protocol"),
        kind.protocols()[0],
        kind.protocols(),
        &format!("{field}.protocol"),
    )?;
    let port = port_number(listener.get("port"), &format!("{field}.port"))?;
    let certificate_arn = listener
        .get("certificates")
        .and_then(Value::as_array)
        .and_then(|certificates| certificates.first())
        .and_then(|certificate| certificate.get("certificateArn"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if matches!(protocol.as_str(), "HTTPS" | "TLS") && certificate_arn.is_none() {
        return Err(invalid(
            &format!("{field}.certificates"),
            format!("a {protocol} listener needs a certificate (certificateArn)"),
        ));
    }
    let actions = objects(listener, "defaultActions")
        .map_err(|e| invalid(&format!("{field}.{}", e.field), e.message))?;
    let action_field = format!("{field}.defaultActions");
    let action = match actions.as_slice() {
        [action] => *action,
        [] => return Err(invalid(&action_field, "give one forward action")),
        _ => {
            return Err(invalid(
                &action_field,
                "only one default action (forward) is supported",
            ));
        }
    };
    let kind_of_action = text(action, "type").unwrap_or("forward");
    if kind_of_action != "forward" {
        return Err(invalid(
            &format!("{action_field}[0].type"),
            format!("'{kind_of_action}' actions are not supported (forward)"),
        ));
    }
    let target = text(action, "targetGroupName")
        .ok_or_else(|| invalid(&format!("{action_field}[0].targetGroupName"), "is required"))?;
    if !target_groups.iter().any(|group| group.name == target) {
        return Err(invalid(
            &format!("{action_field}[0].targetGroupName"),
            format!("'{target}' is not one of this load balancer's targetGroups"),
        ));
    }
    Ok(ListenerSpec {
        protocol,
        port,
        certificate_arn,
        target_group: target.to_string(),
    })
}

pub fn upsert_load_balancer(
    context: &Map<String, Value>,
) -> Result<LoadBalancerRequest, RequestError> {
    let location = single_location(context)?;
    let name = load_balancer_name(context)?;
    let application = owning_app(context, "loadBalancerName", &name)?;
    let kind = load_balancer_kind(context)?;
    let mut target_groups = Vec::new();
    for (index, group) in objects(context, "targetGroups")?.into_iter().enumerate() {
        let group = target_group(group, kind, &format!("targetGroups[{index}]"))?;
        if target_groups
            .iter()
            .any(|known: &TargetGroupSpec| known.name == group.name)
        {
            return Err(invalid(
                &format!("targetGroups[{index}].name"),
                format!("'{}' is given twice", group.name),
            ));
        }
        target_groups.push(group);
    }
    let mut listeners = Vec::new();
    for (index, entry) in objects(context, "listeners")?.into_iter().enumerate() {
        let entry = listener(entry, kind, &target_groups, &format!("listeners[{index}]"))?;
        if listeners
            .iter()
            .any(|known: &ListenerSpec| known.port == entry.port)
        {
            return Err(invalid(
                &format!("listeners[{index}].port"),
                format!("two listeners on port {}", entry.port),
            ));
        }
        listeners.push(entry);
    }
    if listeners.is_empty() {
        return Err(invalid("listeners", "give at least one listener"));
    }
    let zones = match context.get("availabilityZones") {
        Some(Value::Object(by_region)) => by_region
            .get(&location.region)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    let mut subnet_ids = strings(context, "subnets");
    subnet_ids.extend(strings(context, "subnetIds"));
    Ok(LoadBalancerRequest {
        location,
        name,
        application,
        kind,
        internal: flag(context, "isInternal"),
        subnet_ids,
        subnet_type: text(context, "subnetType").map(str::to_string),
        zones,
        security_groups: strings(context, "securityGroups"),
        target_groups,
        listeners,
    })
}

pub fn delete_load_balancer(context: &Map<String, Value>) -> Result<LoadBalancerRef, RequestError> {
    Ok(LoadBalancerRef {
        location: single_location(context)?,
        name: load_balancer_name(context)?,
    })
}

/// A listener as ELBv2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    pub arn: String,
    pub protocol: String,
    pub port: i32,
    pub certificate_arns: Vec<String>,
    /// Names of the target groups its default actions forward to.
    pub target_groups: Vec<String>,
}

/// A target group as ELBv2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupInfo {
    pub arn: String,
    pub name: String,
    pub protocol: String,
    pub port: i32,
    pub target_type: String,
    pub vpc_id: Option<String>,
    pub health_check: HealthCheck,
    /// The load balancers whose listeners forward to it.
    pub load_balancer_arns: Vec<String>,
}

/// A load balancer as ELBv2 reports it, with its listeners and target groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerInfo {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub kind: String,
    pub scheme: String,
    pub state: String,
    pub vpc_id: Option<String>,
    pub dns_name: String,
    pub created_time: i64,
    pub zones: Vec<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub listeners: Vec<ListenerInfo>,
    pub target_groups: Vec<TargetGroupInfo>,
}

impl LoadBalancerInfo {
    /// Serving traffic (`active_impaired`: serving, with some zone impaired).
    pub fn is_active(&self) -> bool {
        self.state == "active" || self.state == "active_impaired"
    }

    /// ELBv2 could not provision it; waiting longer will not help.
    pub fn has_failed(&self) -> bool {
        self.state == "failed"
    }
}
