//! The Jenkins masters a deployment may use, from configuration.
//!
//! `JENKINS_MASTERS` (template parameter `JenkinsMasters`) is a JSON array:
//!
//! ```json
//! [{"name": "ci", "address": "https://jenkins.example.com/",
//!   "username": "spinnaker", "apiTokenSecret": "gennaker/jenkins/ci"},
//!  {"name": "local", "address": "http://127.0.0.1:8080/", "username": "me", "apiToken": "11a…"}]
//! ```
//!
//! * `name` — what stages put in `master`; `address` — the master's base URL. Configured
//!   addresses are trusted by the outbound URL rules (a master is often on a private network).
//! * `username` + an API token for HTTP basic authentication (optional: anonymous masters).
//!   In AWS the token comes from Secrets Manager: `apiTokenSecret` names the secret (its
//!   name or ARN; the functions may read only secrets named `<stack name>/jenkins/*`), whose
//!   value is the token itself or JSON with an `apiToken` (or `password`) field. It is read on
//!   first use and cached for five minutes. Locally, `apiToken` may hold the token itself.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// How long a token read from Secrets Manager is used before it is read again.
const SECRET_CACHE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JENKINS_MASTERS: {0}")]
pub struct MastersConfigError(pub String);

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MasterEntry {
    name: String,
    address: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    api_token: Option<String>,
    #[serde(default)]
    api_token_secret: Option<String>,
}

/// Where a master's API token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    None,
    Plain(String),
    /// A Secrets Manager secret id (name or ARN).
    Secret(String),
}

/// One configured master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    pub name: String,
    /// Base URL, always ending in `/`.
    pub address: String,
    pub username: Option<String>,
    pub token: TokenSource,
}

/// The configured masters, and the secrets they need.
#[derive(Clone)]
pub struct Masters {
    masters: BTreeMap<String, Master>,
    secrets: Option<aws_sdk_secretsmanager::Client>,
    cache: Arc<Mutex<BTreeMap<String, (String, Instant)>>>,
}

impl std::fmt::Debug for Masters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masters")
            .field("names", &self.names())
            .finish()
    }
}

impl Masters {
    /// Parses `JENKINS_MASTERS` (absent or blank = no masters).
    pub fn parse(configured: Option<&str>) -> Result<Masters, MastersConfigError> {
        let text = configured.unwrap_or("").trim();
        let entries: Vec<MasterEntry> = if text.is_empty() {
            vec![]
        } else {
            serde_json::from_str(text)
                .map_err(|e| MastersConfigError(format!("not a JSON array of masters ({e})")))?
        };
        let mut masters = BTreeMap::new();
        for entry in entries {
            if entry.name.trim().is_empty() {
                return Err(MastersConfigError("a master has an empty name".into()));
            }
            let mut address = entry.address.trim().to_string();
            let parsed = url::Url::parse(&address).map_err(|e| {
                MastersConfigError(format!("master {}: address is not a URL ({e})", entry.name))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(MastersConfigError(format!(
                    "master {}: address must be http or https",
                    entry.name
                )));
            }
            if !address.ends_with('/') {
                address.push('/');
            }
            let token = match (entry.api_token, entry.api_token_secret) {
                (Some(_), Some(_)) => {
                    return Err(MastersConfigError(format!(
                        "master {}: give apiToken or apiTokenSecret, not both",
                        entry.name
                    )));
                }
                (Some(token), None) => TokenSource::Plain(token),
                (None, Some(secret)) => TokenSource::Secret(secret),
                (None, None) => TokenSource::None,
            };
            let master = Master {
                name: entry.name.clone(),
                address,
                username: entry.username,
                token,
            };
            if masters.insert(entry.name.clone(), master).is_some() {
                return Err(MastersConfigError(format!(
                    "the master name {} is used twice",
                    entry.name
                )));
            }
        }
        Ok(Masters {
            masters,
            secrets: None,
            cache: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// Lends the Secrets Manager client that reads `apiTokenSecret`s.
    pub fn with_secrets(mut self, sdk: &aws_config::SdkConfig) -> Masters {
        if self
            .masters
            .values()
            .any(|m| matches!(m.token, TokenSource::Secret(_)))
        {
            self.secrets = Some(aws_sdk_secretsmanager::Client::new(sdk));
        }
        self
    }

    pub fn names(&self) -> Vec<String> {
        self.masters.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<&Master> {
        self.masters.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &Master> {
        self.masters.values()
    }

    /// The master's credentials for basic authentication, reading its secret if need be.
    pub async fn credentials(&self, master: &Master) -> Result<Option<(String, String)>, String> {
        let token = match &master.token {
            TokenSource::None => None,
            TokenSource::Plain(token) => Some(token.clone()),
            TokenSource::Secret(id) => Some(self.secret(&master.name, id).await?),
        };
        Ok(match (&master.username, token) {
            (Some(user), Some(token)) => Some((user.clone(), token)),
            (Some(user), None) => Some((user.clone(), String::new())),
            (None, _) => None,
        })
    }

    async fn secret(&self, master: &str, id: &str) -> Result<String, String> {
        if let Some((value, read)) = self.cache.lock().expect("cache lock").get(id)
            && read.elapsed() < SECRET_CACHE
        {
            return Ok(value.clone());
        }
        let client = self.secrets.as_ref().ok_or_else(|| {
            format!("master {master}: no Secrets Manager client to read its token")
        })?;
        let output = client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|error| {
                let detail = error
                    .as_service_error()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| error.to_string());
                format!("master {master}: reading the API token secret failed: {detail}")
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| format!("master {master}: the API token secret has no string value"))?;
        let token = token_of(text);
        self.cache
            .lock()
            .expect("cache lock")
            .insert(id.to_string(), (token.clone(), Instant::now()));
        Ok(token)
    }
}

/// A secret's token: the text itself, or the `apiToken`/`password`/`token` field of JSON.
fn token_of(text: &str) -> String {
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) {
        for key in ["apiToken", "password", "token"] {
            if let Some(Value::String(token)) = fields.get(key) {
                return token.clone();
            }
        }
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_parse_with_their_token_sources() {
        let masters = Masters::parse(Some(
            r#"[{"name": "ci", "address": "https://ci.example.com", "username": "bot", "apiTokenSecret": "gennaker/jenkins/ci"},
                {"name": "local", "address": "http://127.0.0.1:8080/jenkins/", "username": "me", "apiToken": "t"},
                {"name": "anon", "address": "http://jenkins.example.org/"}]"#,
        ))
        .unwrap();
        assert_eq!(masters.names(), ["anon", "ci", "local"]);
        let ci = masters.get("ci").unwrap();
        assert_eq!(ci.address, "https://ci.example.com/");
        assert_eq!(ci.token, TokenSource::Secret("gennaker/jenkins/ci".into()));
        assert_eq!(
            masters.get("local").unwrap().token,
            TokenSource::Plain("t".into())
        );
        assert_eq!(masters.get("anon").unwrap().token, TokenSource::None);
        assert!(Masters::parse(None).unwrap().names().is_empty());
        assert!(Masters::parse(Some("  ")).unwrap().names().is_empty());
    }

    #[test]
    fn bad_configuration_is_refused_clearly() {
        for bad in [
            "{}",
            r#"[{"name": "", "address": "http://x.example.com"}]"#,
            r#"[{"name": "a", "address": "not a url"}]"#,
            r#"[{"name": "a", "address": "ftp://x.example.com"}]"#,
            r#"[{"name": "a", "address": "http://x.example.com", "apiToken": "1", "apiTokenSecret": "s"}]"#,
            r#"[{"name": "a", "address": "http://x.example.com"}, {"name": "a", "address": "http://y.example.com"}]"#,
        ] {
            assert!(Masters::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn plain_credentials_need_no_secrets_client() {
        let masters = Masters::parse(Some(
            r#"[{"name": "local", "address": "http://127.0.0.1:8080/", "username": "me", "apiToken": "t"}]"#,
        ))
        .unwrap();
        let local = masters.get("local").unwrap().clone();
        assert_eq!(
            masters.credentials(&local).await.unwrap(),
            Some(("me".into(), "t".into()))
        );
    }

    #[test]
    fn secret_values_may_be_json() {
        assert_eq!(token_of("abc\n"), "abc");
        assert_eq!(token_of(r#"{"apiToken": "x", "user": "u"}"#), "x");
        assert_eq!(token_of(r#"{"password": "p"}"#), "p");
    }
}
