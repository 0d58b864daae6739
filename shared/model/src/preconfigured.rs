//! Preconfigured webhook stages (Orca's `webhook.preconfigured` configuration, listed by
//! Gate's `GET /webhooks/preconfigured`): an operator defines a webhook once — its URL,
//! method, headers, payload and status handling — under a stage type of its own, and
//! pipelines use that type, filling in only the parameters the operator lists.
//!
//! `PRECONFIGURED_WEBHOOKS` (template parameter `PreconfiguredWebhooks`) is a JSON array:
//!
//! ```json
//! [{"type": "announceDeploy", "label": "Announce a deploy", "description": "Tells the deploy board",
//!   "url": "https://deploys.example.com/api/${parameterValues['service']}", "method": "POST",
//!   "customHeaders": {"Authorization": {"secret": "gennaker/webhooks/deploys", "prefix": "Bearer "},
//!                     "X-Team": "platform"},
//!   "payload": {"version": "${parameterValues['version']}"},
//!   "parameters": [{"name": "service", "label": "Service"}, {"name": "version", "defaultValue": "latest"}]}]
//! ```
//!
//! * A header value is text, a list of texts, or `{"secret": <Secrets Manager name or ARN>,
//!   "prefix": <text put before the value>}`: the webhook worker reads the secret when it
//!   calls (the functions may read only secrets named `<stack name>/webhooks/*`), and the
//!   value is never written into the execution.
//! * The other webhook stage fields (`waitForCompletion`, `statusUrlResolution`,
//!   `statusJsonPath`, `successStatuses`, `failFastStatusCodes`, `retries`, …) are taken as
//!   given. Cancel endpoints are not offered.
//! * A stage of the type runs as a webhook stage with exactly these fields: its own webhook
//!   fields are ignored, and of its `parameterValues` only the listed parameters count (an
//!   unlisted one fails the stage). `${parameterValues['name']}` (or `${parameterValues.name}`)
//!   in the URL, a plain header or a payload text is replaced by the value (a payload text that
//!   is only the placeholder takes the value as it is, number or boolean). The values are
//!   the stage's, evaluated like the rest of its context, else the parameter's `defaultValue`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::stage_types;

/// The stage context keys that make a webhook stage's call; a preconfigured webhook's own
/// values replace whatever the stage holds for them.
pub const WEBHOOK_FIELDS: &[&str] = &[
    "url",
    "method",
    "customHeaders",
    "payload",
    "waitForCompletion",
    "waitBeforeMonitor",
    "statusUrlResolution",
    "statusUrlJsonPath",
    "statusJsonPath",
    "progressJsonPath",
    "successStatuses",
    "canceledStatuses",
    "terminalStatuses",
    "failFastStatusCodes",
    "retryStatusCodes",
    "webhookRetryStatusCodes",
    "retries",
    "cancelEndpoint",
    "cancelMethod",
    "cancelPayload",
];

/// Fields of an entry that describe it rather than the call.
const DESCRIPTIVE: &[&str] = &["type", "label", "description", "parameters", "enabled"];

/// A header of a preconfigured webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Text(String),
    /// Read from Secrets Manager when the webhook is called: `prefix` + the secret's value.
    Secret {
        id: String,
        prefix: String,
    },
}

/// One parameter a pipeline may fill in.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub default_value: Option<Value>,
    /// As configured (`name`, `label`, `description`, `type`, `defaultValue`, `order`).
    pub listing: Map<String, Value>,
}

/// One preconfigured webhook stage type.
#[derive(Debug, Clone, PartialEq)]
pub struct PreconfiguredWebhook {
    pub stage_type: String,
    pub label: String,
    pub description: String,
    /// Webhook fields other than `customHeaders`, as configured.
    pub fields: Map<String, Value>,
    pub headers: Vec<(String, HeaderValue)>,
    pub parameters: Vec<Parameter>,
}

/// What a stage of a preconfigured type runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStage {
    /// The stage context with the configured webhook fields (plain headers included).
    pub context: Map<String, Value>,
    /// Headers whose values the worker reads from Secrets Manager: (name, secret id, prefix).
    pub secret_headers: Vec<(String, String, String)>,
}

/// The configured preconfigured webhooks, by stage type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreconfiguredWebhooks {
    by_type: BTreeMap<String, PreconfiguredWebhook>,
}

impl PreconfiguredWebhooks {
    /// Parses `PRECONFIGURED_WEBHOOKS` (absent or blank: none). `Err` names the entry and
    /// field that is wrong.
    pub fn parse(configured: Option<&str>) -> Result<PreconfiguredWebhooks, String> {
        let text = configured.unwrap_or("").trim();
        if text.is_empty() {
            return Ok(PreconfiguredWebhooks::default());
        }
        let entries: Vec<Value> = serde_json::from_str(text).map_err(|e| {
            format!("PRECONFIGURED_WEBHOOKS: not a JSON array of webhook stages ({e})")
        })?;
        let mut by_type = BTreeMap::new();
        for (position, entry) in entries.iter().enumerate() {
            let hook = parse_entry(entry)
                .map_err(|e| format!("PRECONFIGURED_WEBHOOKS[{position}]: {e}"))?;
            if let Some(existing) = by_type.insert(hook.stage_type.clone(), hook) {
                return Err(format!(
                    "PRECONFIGURED_WEBHOOKS[{position}]: the type '{}' is used twice",
                    existing.stage_type
                ));
            }
        }
        Ok(PreconfiguredWebhooks { by_type })
    }

    pub fn get(&self, stage_type: &str) -> Option<&PreconfiguredWebhook> {
        self.by_type.get(stage_type)
    }

    pub fn contains(&self, stage_type: &str) -> bool {
        self.by_type.contains_key(stage_type)
    }

    /// The stage type the stage machine and the worker queues know a stage by: `webhook`
    /// for a preconfigured type, else the type itself.
    pub fn route<'a>(&self, stage_type: &'a str) -> &'a str {
        if self.contains(stage_type) {
            "webhook"
        } else {
            stage_type
        }
    }

    /// Gate's `GET /webhooks/preconfigured`: what Deck needs to offer each type, never its
    /// URL, headers or payload.
    pub fn listing(&self) -> Vec<Value> {
        self.by_type
            .values()
            .map(PreconfiguredWebhook::listing)
            .collect()
    }
}

impl PreconfiguredWebhook {
    fn listing(&self) -> Value {
        let mut preconfigured: Vec<&str> = self.fields.keys().map(String::as_str).collect();
        if !self.headers.is_empty() {
            preconfigured.push("customHeaders");
        }
        preconfigured.sort_unstable();
        json!({
            "type": self.stage_type,
            "label": self.label,
            "description": self.description,
            "waitForCompletion": self.fields.get("waitForCompletion").cloned().unwrap_or(json!(false)),
            "preconfiguredProperties": preconfigured,
            // Every webhook field is the operator's: the stage fills in parameters only.
            "noUserConfigurableFields": true,
            "parameters": self.parameters.iter().map(|p| Value::Object(p.listing.clone())).collect::<Vec<_>>(),
        })
    }

    /// The context a stage of this type runs with, from the stage's (evaluated) context.
    /// `Err` names a `parameterValues` entry that is not a listed parameter.
    pub fn resolve(&self, stage: &Map<String, Value>) -> Result<ResolvedStage, String> {
        let given = match stage.get("parameterValues") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(values)) => values.clone(),
            Some(_) => {
                return Err("parameterValues must be a map of parameter names to values".into());
            }
        };
        if let Some(unknown) = given
            .keys()
            .find(|name| !self.parameters.iter().any(|p| &p.name == *name))
        {
            return Err(format!(
                "parameterValues.{unknown}: '{}' has no parameter '{unknown}'",
                self.stage_type
            ));
        }
        let mut values = Map::new();
        for parameter in &self.parameters {
            let value = given
                .get(&parameter.name)
                .filter(|v| !v.is_null())
                .or(parameter.default_value.as_ref())
                .cloned()
                .unwrap_or(Value::String(String::new()));
            values.insert(parameter.name.clone(), value);
        }
        let mut context = stage.clone();
        for field in WEBHOOK_FIELDS {
            context.remove(*field);
        }
        for (field, value) in &self.fields {
            let value = match field.as_str() {
                "url" | "payload" => substitute(value, &values),
                _ => value.clone(),
            };
            context.insert(field.clone(), value);
        }
        let mut plain = Map::new();
        let mut secret_headers = Vec::new();
        for (name, header) in &self.headers {
            match header {
                HeaderValue::Text(text) => {
                    let value = substitute(&Value::String(text.clone()), &values);
                    let entry = plain.entry(name.clone()).or_insert_with(|| json!([]));
                    if let Value::Array(list) = entry {
                        list.push(Value::String(text_of(&value)));
                    }
                }
                HeaderValue::Secret { id, prefix } => {
                    secret_headers.push((name.clone(), id.clone(), prefix.clone()))
                }
            }
        }
        if !plain.is_empty() {
            context.insert("customHeaders".into(), Value::Object(plain));
        }
        context.insert("parameterValues".into(), Value::Object(values));
        Ok(ResolvedStage {
            context,
            secret_headers,
        })
    }
}

fn parse_entry(entry: &Value) -> Result<PreconfiguredWebhook, String> {
    let Value::Object(entry) = entry else {
        return Err("an entry must be an object".into());
    };
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::trim);
    let stage_type = text("type")
        .filter(|t| !t.is_empty())
        .ok_or("type: a preconfigured webhook needs a stage type")?
        .to_string();
    if stage_types::stage_type(&stage_type).is_some() {
        return Err(format!(
            "type: '{stage_type}' is a stage type of its own; pick another name"
        ));
    }
    text("url")
        .filter(|url| !url.is_empty())
        .ok_or("url: a preconfigured webhook needs a url")?;
    let mut fields = Map::new();
    let mut headers = Vec::new();
    for (key, value) in entry {
        match key.as_str() {
            "customHeaders" => headers = parse_headers(value)?,
            key if key.starts_with("cancel") => {
                return Err(format!(
                    "{key}: cancel endpoints are not offered for preconfigured webhooks"
                ));
            }
            key if WEBHOOK_FIELDS.contains(&key) => {
                fields.insert(key.to_string(), value.clone());
            }
            key if DESCRIPTIVE.contains(&key) => {}
            other => return Err(format!("{other}: not a webhook stage field")),
        }
    }
    Ok(PreconfiguredWebhook {
        label: text("label").unwrap_or(&stage_type).to_string(),
        description: text("description").unwrap_or_default().to_string(),
        stage_type,
        fields,
        headers,
        parameters: parse_parameters(entry.get("parameters"))?,
    })
}

fn parse_headers(value: &Value) -> Result<Vec<(String, HeaderValue)>, String> {
    let Value::Object(headers) = value else {
        return Err("customHeaders: must map header names to values".into());
    };
    let mut parsed = Vec::new();
    for (name, value) in headers {
        let values = match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for value in values {
            let header = match value {
                Value::String(text) => HeaderValue::Text(text),
                Value::Object(secret) => {
                    let id = secret
                        .get("secret")
                        .and_then(Value::as_str)
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                        .ok_or_else(|| {
                            format!("customHeaders.{name}: an object names a Secrets Manager secret in 'secret'")
                        })?;
                    let prefix = match secret.get("prefix") {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(prefix)) => prefix.clone(),
                        Some(_) => {
                            return Err(format!("customHeaders.{name}.prefix: must be text"));
                        }
                    };
                    HeaderValue::Secret {
                        id: id.to_string(),
                        prefix,
                    }
                }
                Value::Number(_) | Value::Bool(_) => HeaderValue::Text(value.to_string()),
                _ => {
                    return Err(format!(
                        "customHeaders.{name}: a value is text or {{\"secret\": ..., \"prefix\": ...}}"
                    ));
                }
            };
            parsed.push((name.clone(), header));
        }
    }
    Ok(parsed)
}

fn parse_parameters(value: Option<&Value>) -> Result<Vec<Parameter>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("parameters: must be a list".into()),
    };
    let mut parameters: Vec<Parameter> = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let Value::Object(listing) = item else {
            return Err(format!("parameters[{position}]: must be an object"));
        };
        let name = listing
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("parameters[{position}].name: a parameter needs a name"))?
            .to_string();
        if parameters.iter().any(|p| p.name == name) {
            return Err(format!(
                "parameters[{position}].name: '{name}' is used twice"
            ));
        }
        parameters.push(Parameter {
            default_value: listing
                .get("defaultValue")
                .filter(|v| !v.is_null())
                .cloned(),
            name,
            listing: listing.clone(),
        });
    }
    Ok(parameters)
}

/// Replaces `${parameterValues['name']}` (also `["name"]` and `.name`) in every text of
/// `value`; a text that is only a placeholder becomes the value itself.
fn substitute(value: &Value, values: &Map<String, Value>) -> Value {
    match value {
        Value::String(text) => {
            for (name, replacement) in values {
                if placeholders(name).iter().any(|p| p == text.trim()) {
                    return replacement.clone();
                }
            }
            let mut out = text.clone();
            for (name, replacement) in values {
                for placeholder in placeholders(name) {
                    out = out.replace(&placeholder, &text_of(replacement));
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, values)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn placeholders(name: &str) -> [String; 3] {
    [
        format!("${{parameterValues['{name}']}}"),
        format!("${{parameterValues[\"{name}\"]}}"),
        format!("${{parameterValues.{name}}}"),
    ]
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> PreconfiguredWebhooks {
        PreconfiguredWebhooks::parse(Some(
            &json!([{
                "type": "announceDeploy", "label": "Announce", "description": "Tells the board",
                "url": "https://deploys.example.com/api/${parameterValues['service']}",
                "method": "PUT",
                "customHeaders": {
                    "Authorization": {"secret": "stack/webhooks/deploys", "prefix": "Bearer "},
                    "X-Team": "platform",
                    "X-Service": "${parameterValues.service}"
                },
                "payload": {"version": "${parameterValues['version']}", "count": "${parameterValues['count']}"},
                "waitForCompletion": false,
                "parameters": [{"name": "service", "label": "Service"},
                               {"name": "version", "defaultValue": "latest"},
                               {"name": "count"}]
            }])
            .to_string(),
        ))
        .unwrap()
    }

    #[test]
    fn a_stage_runs_with_the_configured_fields_and_its_parameters_only() {
        let hooks = hooks();
        assert_eq!(hooks.route("announceDeploy"), "webhook");
        assert_eq!(hooks.route("wait"), "wait");
        let stage = json!({"name": "Announce", "url": "https://elsewhere.example.com",
            "customHeaders": {"Authorization": "Bearer mine"}, "stageTimeoutMs": 60000,
            "parameterValues": {"service": "shop", "count": 3}});
        let resolved = hooks
            .get("announceDeploy")
            .unwrap()
            .resolve(stage.as_object().unwrap())
            .unwrap();
        let context = Value::Object(resolved.context);
        assert_eq!(context["url"], "https://deploys.example.com/api/shop");
        assert_eq!(context["method"], "PUT");
        assert_eq!(context["stageTimeoutMs"], 60000);
        assert_eq!(context["payload"], json!({"version": "latest", "count": 3}));
        assert_eq!(
            context["customHeaders"],
            json!({"X-Service": ["shop"], "X-Team": ["platform"]})
        );
        assert_eq!(
            resolved.secret_headers,
            vec![(
                "Authorization".to_string(),
                "stack/webhooks/deploys".to_string(),
                "Bearer ".to_string()
            )]
        );
    }

    #[test]
    fn unlisted_parameters_fail_the_stage_naming_them() {
        let stage = json!({"parameterValues": {"url": "https://evil.example.com"}});
        let error = hooks()
            .get("announceDeploy")
            .unwrap()
            .resolve(stage.as_object().unwrap())
            .unwrap_err();
        assert!(error.starts_with("parameterValues.url:"), "{error}");
    }

    #[test]
    fn the_listing_never_shows_url_headers_or_payload() {
        let listing = json!(hooks().listing());
        assert_eq!(listing[0]["type"], "announceDeploy");
        assert_eq!(listing[0]["label"], "Announce");
        assert_eq!(listing[0]["parameters"][1]["defaultValue"], "latest");
        let text = listing.to_string();
        for hidden in ["deploys.example.com", "stack/webhooks", "platform"] {
            assert!(!text.contains(hidden), "{text}");
        }
    }

    #[test]
    fn bad_configuration_names_the_entry_and_field() {
        for (bad, expected) in [
            (json!({}), "[0]: not a JSON array"),
            (json!([{"url": "https://x.example.com"}]), "[0]: type:"),
            (
                json!([{"type": "webhook", "url": "https://x.example.com"}]),
                "[0]: type: 'webhook'",
            ),
            (json!([{"type": "a"}]), "[0]: url:"),
            (
                json!([{"type": "a", "url": "u", "urll": "x"}]),
                "[0]: urll:",
            ),
            (
                json!([{"type": "a", "url": "u", "cancelEndpoint": "x"}]),
                "[0]: cancelEndpoint:",
            ),
            (
                json!([{"type": "a", "url": "u", "customHeaders": {"A": {"prefix": "x"}}}]),
                "customHeaders.A",
            ),
            (
                json!([{"type": "a", "url": "u", "parameters": [{"name": "p"}, {"name": "p"}]}]),
                "parameters[1].name",
            ),
            (
                json!([{"type": "a", "url": "u"}, {"type": "a", "url": "v"}]),
                "[1]: the type 'a' is used twice",
            ),
        ] {
            let error = PreconfiguredWebhooks::parse(Some(&bad.to_string())).unwrap_err();
            let expected = expected.replace("[0]: not", ": not");
            assert!(error.contains(&expected), "{bad}: {error}");
        }
        assert!(
            PreconfiguredWebhooks::parse(None)
                .unwrap()
                .listing()
                .is_empty()
        );
        assert!(
            PreconfiguredWebhooks::parse(Some(" "))
                .unwrap()
                .listing()
                .is_empty()
        );
    }
}
