//! Security groups and load balancers (Clouddriver's `upsertSecurityGroup`,
//! `deleteSecurityGroup`, `upsertLoadBalancer`, `deleteLoadBalancer`): Deck's stage
//! contexts read into checked requests, the ingress difference an upsert applies, and the
//! plain types the adapters read the cloud into. Everything here is pure and runs before
//! any cloud call, so bad input fails a stage before anything is created.

mod load_balancers;
mod security_groups;
#[cfg(test)]
mod tests;

pub use load_balancers::{
    HealthCheck, ListenerInfo, ListenerSpec, LoadBalancerInfo, LoadBalancerKind, LoadBalancerRef,
    LoadBalancerRequest, Placement, TargetGroupInfo, TargetGroupSpec, delete_load_balancer,
    upsert_load_balancer,
};
pub use security_groups::{
    IngressChanges, IngressRule, SecurityGroupInfo, SecurityGroupRef, SecurityGroupRequest, Source,
    delete_security_group, ingress_changes, upsert_security_group,
};

use serde_json::{Map, Value};

use crate::naming::{ClusterName, Moniker};
use crate::requests::{RequestError, invalid, text};

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
