//! `GET /openapi.json`: the OpenAPI 3 document of the API, generated from the table below,
//! which lists every route the router serves with its parameters, body and answers. A
//! test compares the table with the router's routes, so a route cannot go undocumented.
//!
//! The handlers read their bodies as raw JSON (so that a bad body gets a 400 naming the
//! field); the schemas here describe what clients send and receive, with
//! `additionalProperties` allowed wherever Spinnaker documents are open-ended.
//!
//! The table itself (every operation, its parameters and the component schemas) is data and
//! lives in `openapi/table.rs`; this file turns it into the document.

use std::sync::OnceLock;

use axum::Json;
use serde_json::{Map, Value, json};

mod table;

use table::{OPERATIONS, components};

/// One query parameter.
struct Param {
    name: &'static str,
    schema: fn() -> Value,
    description: &'static str,
}

const fn q(name: &'static str, schema: fn() -> Value, description: &'static str) -> Param {
    Param {
        name,
        schema,
        description,
    }
}

/// The request body an operation takes.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// An optional JSON object.
    OptionalObject(&'static str),
    /// A required body with this schema reference.
    Required(&'static str),
}

/// One successful answer.
#[derive(Clone, Copy)]
enum Answer {
    /// This status with an empty body.
    Empty(u16),
    /// This status with a JSON body of this schema.
    Json(u16, &'static str),
}

/// One route and method.
struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: &'static [Param],
    body: Body,
    answer: Answer,
}

#[allow(clippy::too_many_arguments)]
const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: &'static [Param],
    body: Body,
    answer: Answer,
) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary,
        query,
        body,
        answer,
    }
}

/// The routes that need no token, as `template.yaml` declares them (`Auth: NONE`): the
/// probes, and the webhook triggers, which their per-trigger secret protects instead.
pub const OPEN_ROUTES: [(&str, &str); 3] = [
    ("get", "/version"),
    ("get", "/health"),
    ("post", "/webhooks/{type}/{source}"),
];

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn operation(spec: &Operation) -> Value {
    let mut parameters: Vec<Value> = path_parameters(spec.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(spec.query.iter().map(|param| {
        json!({"name": param.name, "in": "query", "required": false, "schema": (param.schema)(),
               "description": param.description})
    }));
    let error = json!({"description": "Gate's error shape", "content": {"application/json": {"schema": schema_ref("Error")}}});
    let mut responses = Map::new();
    match spec.answer {
        Answer::Empty(status) => {
            responses.insert(
                status.to_string(),
                json!({"description": "Done; empty body"}),
            );
        }
        Answer::Json(status, schema) => {
            responses.insert(
                status.to_string(),
                json!({"description": "OK", "content": {"application/json": {"schema": schema_ref(schema)}}}),
            );
        }
    }
    responses.insert("4XX".to_string(), error.clone());
    responses.insert(
        "503".to_string(),
        json!({"description": "Storage or AWS unavailable; retry",
        "content": {"application/json": {"schema": schema_ref("Error")}}}),
    );
    let mut operation = json!({
        "operationId": spec.id, "tags": [spec.tag], "summary": spec.summary,
        "parameters": parameters, "responses": responses,
    });
    if OPEN_ROUTES.contains(&(spec.method, spec.path)) {
        operation["security"] = json!([]);
    }
    match spec.body {
        Body::None => {}
        Body::OptionalObject(schema) => {
            operation["requestBody"] = json!({"required": false,
                "content": {"application/json": {"schema": schema_ref(schema)}}});
        }
        Body::Required(schema) => {
            operation["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": schema_ref(schema)}}});
        }
    }
    operation
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
}

/// OpenAPI 3.0 wants `items` on every array schema and no empty `required` lists.
fn tidy(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("type") == Some(&json!("array")) && !object.contains_key("items") {
                object.insert("items".to_string(), json!({}));
            }
            if object.get("required") == Some(&json!([])) {
                object.remove("required");
            }
            object.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// The whole document.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for spec in OPERATIONS {
        // `{*job}` (a path that may hold slashes) is `{job}` in OpenAPI.
        let entry = paths
            .entry(spec.path.replace("{*", "{"))
            .or_insert_with(|| json!({}));
        entry[spec.method] = operation(spec);
    }
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Gennaker API (Spinnaker Gate compatible)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Spinnaker's Gate HTTP API as served by Gennaker. Every route but /version, /health and /webhooks/{type}/{source} needs `Authorization: Bearer <JWT>` from the configured OIDC issuer (the local issuer in local mode); the caller's identity comes from the verified token only, never from X-SPINNAKER-USER. Errors use Gate's shape {timestamp, status, error, message, path}.",
        },
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    });
    tidy(&mut document);
    document
}

/// `(method, path)` of every documented operation, paths as the router writes them.
#[cfg(test)]
pub fn operations() -> impl Iterator<Item = (&'static str, &'static str)> {
    OPERATIONS.iter().map(|spec| (spec.method, spec.path))
}

/// `GET /openapi.json`
pub async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(openapi).clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    /// `(method, path)` of every `.route(...)` in the router's source.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("../lib.rs");
        let mut routes = BTreeSet::new();
        for chunk in source.split(".route(").skip(1) {
            let chunk = chunk.split(".route(").next().unwrap_or(chunk);
            let Some(path) = chunk.split('"').nth(1) else {
                continue;
            };
            let rest = &chunk[chunk.find(path).unwrap() + path.len()..];
            let rest = rest.split(".fallback(").next().unwrap_or(rest);
            for (position, _) in rest.match_indices('(') {
                let before = &rest[..position];
                let word_start = before
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |at| at + 1);
                let word = &before[word_start..];
                if METHODS.contains(&word) {
                    routes.insert((word.to_string(), path.to_string()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let documented: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|spec| (spec.method.to_string(), spec.path.to_string()))
            .collect();
        let routed = routed();
        assert!(
            routed.len() > 40,
            "the router's routes were not found: {routed:?}"
        );
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn operation_ids_are_unique_and_references_resolve() {
        let ids: BTreeSet<_> = OPERATIONS.iter().map(|spec| spec.id).collect();
        assert_eq!(ids.len(), OPERATIONS.len());
        let document = openapi().to_string();
        let schemas = components();
        for reference in document.split("#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.get(name).is_some(), "unknown schema {name}");
        }
    }
}
