//! Security groups and load balancers (Clouddriver's `upsertSecurityGroup`,
//! `deleteSecurityGroup`, `upsertLoadBalancer`, `deleteLoadBalancer`): Deck's stage
//! contexts read into checked requests, the ingress difference an upsert applies, and the
//! plain types the adapters read the cloud into. Everything here is pure and runs before
//! any cloud call, so bad input fails a stage before anything is created.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::naming::{ClusterName, Moniker};
use crate::requests::{Location, RequestError, invalid, single_location, strings, text};

/// ELBv2 load balancer and target group names: 1 to 32 letters, digits and hyphens, not
/// starting or ending with a hyphen.
static ELB_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$").unwrap());
/// Longest security group name EC2 accepts.
const SECURITY_GROUP_NAME_LIMIT: usize = 255;

/// A whole number given as a number or a numeric string.
fn int(value: Option<&Value>, field: &str) -> Result<Option<i32>, RequestError> {
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    number
        .and_then(|n| i32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| invalid(field, "must be a whole number"))
}

fn flag(context: &Map<String, Value>, key: &str) -> bool {
    match context.get(key) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(value)) => value.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The objects of an array field (`field[i]` must each be an object).
fn objects<'a>(
    context: &'a Map<String, Value>,
    field: &str,
) -> Result<Vec<&'a Map<String, Value>>, RequestError> {
    match context.get(field) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                item.as_object()
                    .ok_or_else(|| invalid(&format!("{field}[{index}]"), "must be an object"))
            })
            .collect(),
        Some(_) => Err(invalid(field, "must be a list")),
    }
}

/// The application a Frigga-named resource belongs to, checked against `application`
/// when the stage names one.
fn owning_app(
    context: &Map<String, Value>,
    field: &str,
    name: &str,
) -> Result<String, RequestError> {
    let parsed = ClusterName::parse(name).map_err(|e| invalid(field, e.to_string()))?;
    if let Some(application) = text(context, "application")
        && !application.eq_ignore_ascii_case(&parsed.app)
    {
        return Err(invalid(
            field,
            format!(
                "'{name}' does not belong to application '{application}' (names start with the application)"
            ),
        ));
    }
    Ok(parsed.app)
}

/// Spinnaker's `moniker` of a load balancer or security group name (no push number).
pub fn moniker(name: &str) -> Moniker {
    match ClusterName::parse(name) {
        Ok(parsed) => Moniker {
            app: parsed.app.clone(),
            cluster: name.to_string(),
            stack: parsed.stack,
            detail: parsed.detail,
            sequence: None,
        },
        Err(_) => Moniker {
            app: name.to_string(),
            cluster: name.to_string(),
            stack: None,
            detail: None,
            sequence: None,
        },
    }
}

/// Whether `name` Frigga-parses to `application` (how an application's load balancers and
/// security groups are found).
pub fn belongs_to(name: &str, application: &str) -> bool {
    ClusterName::parse(name).is_ok_and(|parsed| parsed.app.eq_ignore_ascii_case(application))
}

// ------------------------------------------------------------------ security groups

/// Where an ingress rule lets traffic come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// An IPv4 or IPv6 range.
    Cidr(String),
    /// Another security group by name (in a request, before the adapter resolves it).
    GroupName(String),
    /// Another security group by id (as EC2 reports it).
    GroupId(String),
}

/// One ingress permission as EC2 keys it: protocol, port range and one source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp` or `-1` (every protocol).
    pub protocol: String,
    /// The port range (for ICMP: type and code); `None` for `-1`.
    pub ports: Option<(i32, i32)>,
    pub source: Source,
}

impl IngressRule {
    /// Reads one rule as EC2 reports it; `-1` never carries ports.
    pub fn reported(protocol: &str, from: Option<i32>, to: Option<i32>, source: Source) -> Self {
        let ports = match (protocol, from, to) {
            ("-1", _, _) => None,
            (_, Some(from), Some(to)) => Some((from, to)),
            _ => None,
        };
        Self {
            protocol: protocol.to_string(),
            ports,
            source,
        }
    }
}

/// An `upsertSecurityGroup` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRequest {
    pub location: Location,
    pub name: String,
    pub application: String,
    /// `None`: the region's default VPC.
    pub vpc_id: Option<String>,
    pub description: String,
    pub ingress: Vec<IngressRule>,
    /// `ingressAppendOnly`: add missing rules but never revoke others.
    pub append_only: bool,
}

/// A `deleteSecurityGroup` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRef {
    pub location: Location,
    pub name: String,
    pub vpc_id: Option<String>,
}

fn security_group_name(context: &Map<String, Value>) -> Result<String, RequestError> {
    let name = text(context, "securityGroupName")
        .or_else(|| text(context, "name"))
        .ok_or_else(|| invalid("securityGroupName", "name the security group"))?;
    if name.len() > SECURITY_GROUP_NAME_LIMIT {
        return Err(invalid(
            "securityGroupName",
            format!("'{name}' is longer than {SECURITY_GROUP_NAME_LIMIT} characters"),
        ));
    }
    if name.to_ascii_lowercase().starts_with("sg-") {
        return Err(invalid(
            "securityGroupName",
            format!("'{name}' may not start with sg- (EC2 reserves it for ids)"),
        ));
    }
    Ok(name.to_string())
}

/// Checks a CIDR (`10.0.0.0/8`, `2001:db8::/32`).
fn cidr(value: &str, field: &str) -> Result<String, RequestError> {
    let bad = || invalid(field, format!("'{value}' is not a CIDR range (a.b.c.d/n)"));
    let (address, prefix) = value.split_once('/').ok_or_else(bad)?;
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let longest = if address.is_ipv4() { 32 } else { 128 };
    if prefix > longest {
        return Err(bad());
    }
    Ok(value.to_string())
}

/// The protocol and ports of a Deck rule (`type`, `startPort`, `endPort`).
fn protocol_and_ports(
    rule: &Map<String, Value>,
    field: &str,
) -> Result<(String, Option<(i32, i32)>), RequestError> {
    let protocol = text(rule, "type")
        .or_else(|| text(rule, "protocol"))
        .unwrap_or("tcp")
        .to_ascii_lowercase();
    let start = int(rule.get("startPort"), &format!("{field}.startPort"))?;
    let end = int(rule.get("endPort"), &format!("{field}.endPort"))?;
    let (low, high) = match protocol.as_str() {
        "-1" | "all" => return Ok(("-1".to_string(), None)),
        "tcp" | "udp" => (0, 65535),
        // ICMP "ports" are the type and code; -1 means any.
        "icmp" => (-1, 255),
        other => {
            return Err(invalid(
                &format!("{field}.type"),
                format!("'{other}' is not tcp, udp, icmp or -1"),
            ));
        }
    };
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) => (start, end),
        (Some(port), None) | (None, Some(port)) => (port, port),
        (None, None) if protocol == "icmp" => (-1, -1),
        (None, None) => {
            return Err(invalid(
                &format!("{field}.startPort"),
                "give startPort and endPort",
            ));
        }
    };
    for (key, port) in [("startPort", start), ("endPort", end)] {
        if !(low..=high).contains(&port) {
            return Err(invalid(
                &format!("{field}.{key}"),
                format!("{port} is outside {low}..{high}"),
            ));
        }
    }
    if protocol != "icmp" && start > end {
        return Err(invalid(
            &format!("{field}.startPort"),
            format!("{start} is greater than endPort {end}"),
        ));
    }
    Ok((protocol, Some((start, end))))
}

/// `securityGroupIngress` (source groups by `name`, or ranges by `cidr`) and `ipIngress`.
fn ingress_rules(context: &Map<String, Value>) -> Result<Vec<IngressRule>, RequestError> {
    let mut rules = BTreeSet::new();
    for (list, ranges_only) in [("securityGroupIngress", false), ("ipIngress", true)] {
        for (index, rule) in objects(context, list)?.into_iter().enumerate() {
            let field = format!("{list}[{index}]");
            let source = match (text(rule, "cidr"), text(rule, "name"), text(rule, "id")) {
                (Some(range), _, _) => Source::Cidr(cidr(range, &format!("{field}.cidr"))?),
                (None, Some(name), _) if !ranges_only => Source::GroupName(name.to_string()),
                (None, None, Some(id)) if !ranges_only => Source::GroupId(id.to_string()),
                _ if ranges_only => return Err(invalid(&format!("{field}.cidr"), "is required")),
                _ => {
                    return Err(invalid(
                        &format!("{field}.name"),
                        "name the source security group (or give a cidr)",
                    ));
                }
            };
            let (protocol, ports) = protocol_and_ports(rule, &field)?;
            rules.insert(IngressRule {
                protocol,
                ports,
                source,
            });
        }
    }
    Ok(rules.into_iter().collect())
}

pub fn upsert_security_group(
    context: &Map<String, Value>,
) -> Result<SecurityGroupRequest, RequestError> {
    let location = single_location(context)?;
    let name = security_group_name(context)?;
    let application = owning_app(context, "securityGroupName", &name)?;
    let description = text(context, "description").unwrap_or(&name).to_string();
    if description.len() > 255 {
        return Err(invalid("description", "is longer than 255 characters"));
    }
    Ok(SecurityGroupRequest {
        ingress: ingress_rules(context)?,
        location,
        application,
        vpc_id: text(context, "vpcId").map(str::to_string),
        description,
        append_only: flag(context, "ingressAppendOnly"),
        name,
    })
}

pub fn delete_security_group(
    context: &Map<String, Value>,
) -> Result<SecurityGroupRef, RequestError> {
    Ok(SecurityGroupRef {
        location: single_location(context)?,
        name: security_group_name(context)?,
        vpc_id: text(context, "vpcId").map(str::to_string),
    })
}

/// What an upsert changes on an existing group's ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressChanges {
    pub authorize: Vec<IngressRule>,
    pub revoke: Vec<IngressRule>,
}

impl IngressChanges {
    pub fn is_empty(&self) -> bool {
        self.authorize.is_empty() && self.revoke.is_empty()
    }
}

/// The rules to authorize (wanted, missing) and revoke (present, unwanted — unless
/// `append_only`). Both lists hold resolved sources (ranges and group ids).
pub fn ingress_changes(
    wanted: &[IngressRule],
    existing: &[IngressRule],
    append_only: bool,
) -> IngressChanges {
    let wanted: BTreeSet<_> = wanted.iter().collect();
    let existing: BTreeSet<_> = existing.iter().collect();
    IngressChanges {
        authorize: wanted.difference(&existing).map(|r| (*r).clone()).collect(),
        revoke: if append_only {
            vec![]
        } else {
            existing.difference(&wanted).map(|r| (*r).clone()).collect()
        },
    }
}

/// A security group as EC2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: Option<String>,
    pub account: String,
    pub region: String,
    /// Sources are ranges and group ids.
    pub ingress: Vec<IngressRule>,
}

// ------------------------------------------------------------------ load balancers

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn security_group(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "securityGroupName": "shop-web", "credentials": "default", "regions": ["us-east-1"],
            "description": "web tier",
            "securityGroupIngress": [{"name": "shop-lb", "type": "tcp", "startPort": 7001, "endPort": 7002}],
            "ipIngress": [{"cidr": "10.0.0.0/8", "type": "tcp", "startPort": 443, "endPort": 443}],
        });
        for (key, value) in extra.as_object().unwrap() {
            base[key] = value.clone();
        }
        context(base)
    }

    fn error(result: Result<impl std::fmt::Debug, RequestError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn reads_deck_security_group_context() {
        let request = upsert_security_group(&security_group(json!({}))).unwrap();
        assert_eq!(request.name, "shop-web");
        assert_eq!(request.application, "shop");
        assert_eq!(request.location.region, "us-east-1");
        assert_eq!(request.description, "web tier");
        assert_eq!(
            request.ingress,
            vec![
                IngressRule {
                    protocol: "tcp".into(),
                    ports: Some((443, 443)),
                    source: Source::Cidr("10.0.0.0/8".into()),
                },
                IngressRule {
                    protocol: "tcp".into(),
                    ports: Some((7001, 7002)),
                    source: Source::GroupName("shop-lb".into()),
                },
            ]
        );
    }

    #[test]
    fn security_group_errors_name_the_field() {
        let cases = [
            (
                json!({"securityGroupName": null}),
                "securityGroupName: name the security group",
            ),
            (
                json!({"securityGroupName": "sg-123"}),
                "securityGroupName: 'sg-123' may not start with sg-",
            ),
            (
                json!({"securityGroupName": "bad name!"}),
                "securityGroupName: 'bad name!' is not a valid application name",
            ),
            (
                json!({"application": "other"}),
                "does not belong to application 'other'",
            ),
            (
                json!({"ipIngress": [{"cidr": "10.0.0.0/33", "type": "tcp", "startPort": 1, "endPort": 2}]}),
                "ipIngress[0].cidr: '10.0.0.0/33' is not a CIDR range",
            ),
            (
                json!({"ipIngress": [{"type": "tcp", "startPort": 1, "endPort": 2}]}),
                "ipIngress[0].cidr: is required",
            ),
            (
                json!({"ipIngress": [{"cidr": "0.0.0.0/0", "type": "gre", "startPort": 1}]}),
                "ipIngress[0].type: 'gre' is not tcp, udp, icmp or -1",
            ),
            (
                json!({"ipIngress": [{"cidr": "0.0.0.0/0", "type": "tcp", "startPort": 9, "endPort": 8}]}),
                "ipIngress[0].startPort: 9 is greater than endPort 8",
            ),
            (
                json!({"securityGroupIngress": [{"type": "tcp", "startPort": 70000, "endPort": 70000, "name": "x"}]}),
                "securityGroupIngress[0].startPort: 70000 is outside 0..65535",
            ),
            (
                json!({"securityGroupIngress": [{"type": "tcp", "startPort": 1}]}),
                "securityGroupIngress[0].name: name the source security group",
            ),
            (
                json!({"regions": ["us-east-1", "us-west-2"]}),
                "regions: one region per stage",
            ),
            (
                json!({"credentials": null}),
                "credentials: name the account",
            ),
        ];
        for (patch, expected) in cases {
            let message = error(upsert_security_group(&security_group(patch.clone())));
            assert!(
                message.contains(expected),
                "{patch}: '{message}' lacks '{expected}'"
            );
        }
    }

    #[test]
    fn every_protocol_and_icmp_need_no_ports() {
        let request = upsert_security_group(&security_group(json!({
            "securityGroupIngress": [],
            "ipIngress": [{"cidr": "::/0", "type": "-1"}, {"cidr": "10.0.0.0/8", "type": "icmp"}],
        })))
        .unwrap();
        assert_eq!(
            request.ingress,
            vec![
                IngressRule {
                    protocol: "-1".into(),
                    ports: None,
                    source: Source::Cidr("::/0".into())
                },
                IngressRule {
                    protocol: "icmp".into(),
                    ports: Some((-1, -1)),
                    source: Source::Cidr("10.0.0.0/8".into())
                },
            ]
        );
    }

    #[test]
    fn ingress_changes_add_missing_and_revoke_extra() {
        let rule = |port: i32, cidr: &str| IngressRule {
            protocol: "tcp".into(),
            ports: Some((port, port)),
            source: Source::Cidr(cidr.into()),
        };
        let wanted = [rule(80, "10.0.0.0/8"), rule(443, "10.0.0.0/8")];
        let existing = [rule(80, "10.0.0.0/8"), rule(22, "0.0.0.0/0")];
        let changes = ingress_changes(&wanted, &existing, false);
        assert_eq!(changes.authorize, vec![rule(443, "10.0.0.0/8")]);
        assert_eq!(changes.revoke, vec![rule(22, "0.0.0.0/0")]);
        assert!(ingress_changes(&wanted, &wanted, false).is_empty());
        assert!(ingress_changes(&wanted, &existing, true).revoke.is_empty());
    }

    #[test]
    fn reported_every_protocol_rule_has_no_ports() {
        let rule = IngressRule::reported("-1", Some(-1), Some(-1), Source::GroupId("sg-1".into()));
        assert_eq!(rule.ports, None);
    }

    fn load_balancer(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "name": "shop-web-lb", "loadBalancerType": "application", "credentials": "default",
            "region": "us-east-1", "isInternal": true, "securityGroups": ["shop-lb"],
            "availabilityZones": {"us-east-1": ["us-east-1a", "us-east-1b"]},
            "targetGroups": [{"name": "shop-web-tg", "protocol": "HTTP", "port": 7001,
                              "healthCheckProtocol": "HTTP", "healthCheckPath": "/health",
                              "healthCheckPort": "traffic-port",
                              "attributes": {"deregistrationDelay": 30, "stickinessEnabled": false}}],
            "listeners": [{"protocol": "HTTP", "port": 80,
                           "defaultActions": [{"type": "forward", "targetGroupName": "shop-web-tg"}]}],
        });
        for (key, value) in extra.as_object().unwrap() {
            base[key] = value.clone();
        }
        context(base)
    }

    #[test]
    fn reads_deck_load_balancer_context() {
        let request = upsert_load_balancer(&load_balancer(json!({}))).unwrap();
        assert_eq!(request.name, "shop-web-lb");
        assert_eq!(request.application, "shop");
        assert_eq!(request.kind, LoadBalancerKind::Application);
        assert!(request.internal);
        assert_eq!(request.zones, ["us-east-1a", "us-east-1b"]);
        let group = &request.target_groups[0];
        assert_eq!((group.protocol.as_str(), group.port), ("HTTP", 7001));
        assert_eq!(group.health_check.path.as_deref(), Some("/health"));
        assert_eq!(group.health_check.port, "traffic-port");
        assert_eq!(
            group.attributes,
            BTreeMap::from([
                ("deregistration_delay.timeout_seconds".into(), "30".into()),
                ("stickiness.enabled".into(), "false".into()),
            ])
        );
        assert_eq!(
            request.listeners,
            vec![ListenerSpec {
                protocol: "HTTP".into(),
                port: 80,
                certificate_arn: None,
                target_group: "shop-web-tg".into()
            }]
        );
    }

    #[test]
    fn network_load_balancers_use_tcp_and_check_health_over_tcp() {
        let request = upsert_load_balancer(&load_balancer(json!({
            "loadBalancerType": "network",
            "targetGroups": [{"name": "shop-tcp", "protocol": "TCP", "port": 7001}],
            "listeners": [{"protocol": "TCP", "port": 7001,
                           "defaultActions": [{"type": "forward", "targetGroupName": "shop-tcp"}]}],
        })))
        .unwrap();
        let check = &request.target_groups[0].health_check;
        assert_eq!((check.protocol.as_str(), check.path.clone()), ("TCP", None));
    }

    #[test]
    fn load_balancer_errors_name_the_field() {
        let long = "shop-".to_string() + &"x".repeat(30);
        let cases = [
            (json!({"name": long}), "loadBalancerName: 'shop-xxx"),
            (
                json!({"name": "shop-web-"}),
                "not starting or ending with a hyphen",
            ),
            (
                json!({"name": "internal-shop"}),
                "may not start with internal-",
            ),
            (
                json!({"application": "other"}),
                "loadBalancerName: 'shop-web-lb' does not belong to application 'other'",
            ),
            (
                json!({"loadBalancerType": "classic"}),
                "loadBalancerType: classic load balancers are not supported",
            ),
            (
                json!({"listeners": []}),
                "listeners: give at least one listener",
            ),
            (
                json!({"listeners": [{"protocol": "TCP", "port": 80, "defaultActions": [{"targetGroupName": "shop-web-tg"}]}]}),
                "listeners[0].protocol: 'TCP' is not one of HTTP, HTTPS",
            ),
            (
                json!({"listeners": [{"protocol": "HTTPS", "port": 443, "defaultActions": [{"targetGroupName": "shop-web-tg"}]}]}),
                "listeners[0].certificates: a HTTPS listener needs a certificate",
            ),
            (
                json!({"listeners": [{"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward", "targetGroupName": "nope"}]}]}),
                "listeners[0].defaultActions[0].targetGroupName: 'nope' is not one of this load balancer's targetGroups",
            ),
            (
                json!({"listeners": [{"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "redirect"}]}]}),
                "listeners[0].defaultActions[0].type: 'redirect' actions are not supported",
            ),
            (
                json!({"listeners": [{"protocol": "HTTP", "port": 0, "defaultActions": [{"targetGroupName": "shop-web-tg"}]}]}),
                "listeners[0].port: 0 is outside 1..65535",
            ),
            (
                json!({"targetGroups": [{"name": "shop_tg", "port": 80}]}),
                "targetGroups[0].name: 'shop_tg' must be",
            ),
            (
                json!({"targetGroups": [{"name": "shop-tg"}]}),
                "targetGroups[0].port: is required",
            ),
            (
                json!({"targetGroups": [{"name": "shop-tg", "port": 80, "healthCheckPath": "health"}]}),
                "targetGroups[0].healthCheckPath: 'health' must start with /",
            ),
            (
                json!({"region": null, "availabilityZones": null}),
                "region: name the region",
            ),
        ];
        for (patch, expected) in cases {
            let message = error(upsert_load_balancer(&load_balancer(patch.clone())));
            assert!(
                message.contains(expected),
                "{patch}: '{message}' lacks '{expected}'"
            );
        }
    }

    #[test]
    fn monikers_and_ownership_follow_frigga() {
        assert!(belongs_to("shop-web-lb", "shop"));
        assert!(!belongs_to("shopping-web", "shop"));
        assert!(!belongs_to("bad name", "bad"));
        let moniker = moniker("shop-web-lb");
        assert_eq!(
            (
                moniker.app.as_str(),
                moniker.stack.as_deref(),
                moniker.detail.as_deref()
            ),
            ("shop", Some("web"), Some("lb"))
        );
    }
}
