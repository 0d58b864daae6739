//! Security groups (`upsertSecurityGroup`, `deleteSecurityGroup`): Deck's stage context
//! read into a checked request, the ingress difference an upsert applies, and a group as
//! EC2 reports it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::{flag, int, objects, owning_app};
use crate::requests::{Location, RequestError, invalid, single_location, text};

/// Longest security group name EC2 accepts.
const SECURITY_GROUP_NAME_LIMIT: usize = 255;

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
