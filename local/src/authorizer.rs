//! API Gateway's JWT authorizer, played locally, with a local token issuer.
//!
//! In AWS the HTTP API's authorizer verifies a request's bearer token before the API
//! function sees the request, and hands the verified claims over in the request context
//! (`requestContext.authorizer.jwt.claims`). Local mode does the same in front of the same
//! router, with the same rules:
//! - the token comes from `Authorization`, with or without the `Bearer ` prefix;
//! - its signature must verify with the issuer's key named by its `kid` header; only RSA
//!   signatures (`RS256`) are accepted, as API Gateway accepts only RSA-based algorithms,
//!   so `alg: none` and HMAC tokens are refused;
//! - `iss` must be the local issuer, `aud` the local audience, `exp` in the future and
//!   `nbf` (when present) in the past;
//! - claims reach the function as strings, arrays flattened to `[a b]` as API Gateway does;
//! - routes whose template event says `Auth: {Authorizer: NONE}` pass without a token and
//!   without claims.
//!
//! A refused request is a 401 in Gate's error shape (API Gateway's own 401 body is
//! `{"message":"Unauthorized"}`; the status is what clients act on).
//!
//! Without `--require-auth`, a request with no token at all is let through as one local
//! administrator (`anonymous`, holding [`LOCAL_ADMIN_ROLE`]), which keeps the two-command
//! start; a token that is present is always verified.
//!
//! The issuer's RSA key is generated once under the data folder (`issuer/` in
//! `$GENNAKER_HOME`, `.gennaker` by default); `gennaker token` mints tokens with it. No
//! cryptography is written here: `rsa` generates the key, `jsonwebtoken` signs and verifies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::template::HttpRoute;

/// The `iss` of locally minted tokens.
pub const ISSUER: &str = "gennaker-local";
/// The `aud` of locally minted tokens.
pub const AUDIENCE: &str = "gennaker";
/// The role the token-less local administrator holds; local mode adds it to `AdminRoles`.
pub const LOCAL_ADMIN_ROLE: &str = "gennaker-local-admin";
/// The user of token-less requests when tokens are not required.
pub const LOCAL_ADMIN_USER: &str = "anonymous";
/// How long a minted token lasts unless told otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 3600);

const PRIVATE_KEY_FILE: &str = "private-key.pem";

/// The local issuer: its RSA key pair and the key id tokens name.
pub struct LocalIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
}

/// Who a minted token names, and which claims carry the user and the groups.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub user: &'a str,
    pub roles: &'a [String],
    pub user_claim: &'a str,
    pub groups_claim: &'a str,
    pub lifetime: Duration,
}

impl LocalIssuer {
    /// The issuer folder under the data folder.
    pub fn default_dir() -> PathBuf {
        crate::emulator::gennaker_home().join("issuer")
    }

    /// Loads the issuer's key from `dir`, generating it on first use. Several processes
    /// may start at once: the key is written to a temporary file and linked into place,
    /// so exactly one key wins and everyone loads that one.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(PRIVATE_KEY_FILE);
        if !path.exists() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the issuer folder {}", dir.display()))?;
            let pem = generate_private_key()?;
            let temporary = dir.join(format!(".{PRIVATE_KEY_FILE}.{}", std::process::id()));
            write_private(&temporary, pem.as_bytes())?;
            // `hard_link` fails if the key exists: another process won the race.
            let _ = std::fs::hard_link(&temporary, &path);
            let _ = std::fs::remove_file(&temporary);
        }
        let pem = std::fs::read(&path)
            .with_context(|| format!("reading the issuer key {}", path.display()))?;
        Self::from_private_pem(&pem)
    }

    fn from_private_pem(pem: &[u8]) -> anyhow::Result<Self> {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        let text = std::str::from_utf8(pem).context("the issuer key is not text")?;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(text).context("reading the issuer key")?;
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .context("encoding the issuer's public key")?;
        Ok(Self {
            encoding: EncodingKey::from_rsa_pem(pem).context("loading the issuer key")?,
            decoding: DecodingKey::from_rsa_pem(public_pem.as_bytes())
                .context("loading the issuer's public key")?,
            kid: key_id(public_pem.as_bytes()),
        })
    }

    /// A signed token for `request.user` with `request.roles` in the groups claim.
    pub fn mint(&self, request: &TokenRequest<'_>) -> anyhow::Result<String> {
        let now = unix_seconds(SystemTime::now());
        let mut claims = json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": request.user,
            "iat": now,
            "nbf": now,
            "exp": now + request.lifetime.as_secs(),
            "token_use": "access",
        });
        claims[request.user_claim] = json!(request.user);
        claims[request.groups_claim] = json!(request.roles);
        self.sign(&claims)
    }

    /// Signs any claims with the issuer's key (tests use it for expired or foreign tokens).
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing the token")
    }

    /// The verified claims of `token`, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<serde_json::Map<String, Value>, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| format!("the token cannot be read ({error})"))?;
        if header.alg != Algorithm::RS256 {
            return Err(format!(
                "the token is signed with {:?}; only RS256 is accepted",
                header.alg
            ));
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err("the token's kid names no key of the issuer".to_string());
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| refusal(&error))
    }
}

/// Why `jsonwebtoken` refused a token, in words.
fn refusal(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".to_string(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_string(),
        ErrorKind::InvalidIssuer => format!("the token's issuer is not {ISSUER}"),
        ErrorKind::InvalidAudience => format!("the token's audience is not {AUDIENCE}"),
        ErrorKind::InvalidSignature => "the token's signature does not verify".to_string(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        _ => format!("the token is invalid ({error})"),
    }
}

fn generate_private_key() -> anyhow::Result<String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).context("generating the issuer key")?;
    Ok(key
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the issuer key")?
        .to_string())
}

/// Writes the private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// A short, stable name for the public key (hex of its SHA-256, shortened).
fn key_id(public_pem: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(public_pem);
    format!("local-{}", hex::encode(&digest[..8]))
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The authorizer in front of the API router.
#[derive(Clone)]
pub struct Authorizer {
    pub issuer: Arc<LocalIssuer>,
    pub open_routes: Vec<HttpRoute>,
    /// Whether a request without a token is refused (`--require-auth`) or acts as the
    /// local administrator.
    pub require_token: bool,
    pub user_claim: String,
    pub groups_claim: String,
}

/// Middleware: verifies the bearer token and puts the verified claims on the request as
/// API Gateway's request context, or answers 401.
pub async fn authorize(
    State(authorizer): State<Arc<Authorizer>>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    if authorizer
        .open_routes
        .iter()
        .any(|route| route.matches(&method, &path))
    {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim())
        .map(|value| value.strip_prefix("Bearer ").unwrap_or(value).trim())
        .filter(|value| !value.is_empty())
        .map(str::to_string);
    let claims = match token {
        Some(token) => match authorizer.issuer.verify(&token) {
            Ok(claims) => claims,
            Err(reason) => return unauthorized(&path, &reason),
        },
        None if authorizer.require_token => {
            return unauthorized(&path, "a bearer token is required (Authorization header)");
        }
        None => local_admin_claims(&authorizer),
    };
    match request_context(&method, &path, &claims) {
        Ok(context) => {
            request.extensions_mut().insert(context);
            next.run(request).await
        }
        Err(error) => unauthorized(&path, &format!("the token's claims are unusable: {error}")),
    }
}

fn local_admin_claims(authorizer: &Authorizer) -> serde_json::Map<String, Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".to_string(), json!(LOCAL_ADMIN_USER));
    claims.insert(authorizer.user_claim.clone(), json!(LOCAL_ADMIN_USER));
    claims.insert(authorizer.groups_claim.clone(), json!([LOCAL_ADMIN_ROLE]));
    claims
}

/// The request context API Gateway's HTTP API sends the function, with `claims` as its
/// authorizer passes them (every value a string).
fn request_context(
    method: &str,
    path: &str,
    claims: &serde_json::Map<String, Value>,
) -> Result<lambda_http::request::RequestContext, serde_json::Error> {
    let claims: HashMap<&String, String> = claims
        .iter()
        .map(|(name, value)| (name, claim_text(value)))
        .collect();
    serde_json::from_value(json!({
        "routeKey": "ANY /{proxy+}",
        "accountId": crate::template::ACCOUNT_ID,
        "stage": "$default",
        "requestId": gennaker_model::new_id(),
        "apiId": "local",
        "domainName": "localhost",
        "timeEpoch": unix_seconds(SystemTime::now()) * 1000,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        "authorizer": {"jwt": {"claims": claims, "scopes": null}},
    }))
}

/// A claim as API Gateway passes it: strings as they are, arrays as `[a b]`.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_text).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

fn unauthorized(path: &str, reason: &str) -> Response {
    let body = json!({
        "timestamp": SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
        "status": 401,
        "error": "Unauthorized",
        "message": reason,
        "path": path,
    });
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_issuer() -> LocalIssuer {
        let dir =
            std::env::temp_dir().join(format!("gennaker-issuer-{}", gennaker_model::new_id()));
        LocalIssuer::load_or_create(&dir).expect("issuer")
    }

    fn claims(issuer_name: &str, audience: &str, exp_offset: i64) -> Value {
        let now = unix_seconds(SystemTime::now()) as i64;
        json!({"iss": issuer_name, "aud": audience, "sub": "alice", "exp": now + exp_offset, "nbf": now - 1})
    }

    #[test]
    fn minted_tokens_verify_and_carry_user_and_groups() {
        let issuer = new_issuer();
        let roles = vec!["dev".to_string(), "ops".to_string()];
        let token = issuer
            .mint(&TokenRequest {
                user: "alice",
                roles: &roles,
                user_claim: "email",
                groups_claim: "groups",
                lifetime: DEFAULT_LIFETIME,
            })
            .unwrap();
        let claims = issuer.verify(&token).expect("verifies");
        assert_eq!(claims["email"], "alice");
        assert_eq!(claim_text(&claims["groups"]), "[dev ops]");
    }

    #[test]
    fn expired_foreign_and_unsigned_tokens_are_refused() {
        let issuer = new_issuer();
        let expired = issuer.sign(&claims(ISSUER, AUDIENCE, -5)).unwrap();
        assert!(issuer.verify(&expired).unwrap_err().contains("expired"));
        let wrong_issuer = issuer.sign(&claims("someone-else", AUDIENCE, 60)).unwrap();
        assert!(issuer.verify(&wrong_issuer).unwrap_err().contains("issuer"));
        let wrong_audience = issuer.sign(&claims(ISSUER, "other", 60)).unwrap();
        assert!(
            issuer
                .verify(&wrong_audience)
                .unwrap_err()
                .contains("audience")
        );
        let other_key = new_issuer().sign(&claims(ISSUER, AUDIENCE, 60)).unwrap();
        assert!(issuer.verify(&other_key).is_err());
        // `alg: none`: a header and claims with an empty signature.
        use base64::Engine;
        let encode = |value: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        let unsigned = format!(
            "{}.{}.",
            encode(&json!({"alg": "none", "typ": "JWT", "kid": issuer.kid})),
            encode(&claims(ISSUER, AUDIENCE, 60))
        );
        assert!(issuer.verify(&unsigned).is_err());
    }

    #[test]
    fn open_routes_match_like_api_gateway() {
        let route = |method: &str, path: &str| HttpRoute {
            method: method.to_string(),
            path: path.to_string(),
        };
        assert!(route("POST", "/webhooks/{type}/{source}").matches("POST", "/webhooks/webhook/x"));
        assert!(!route("POST", "/webhooks/{type}/{source}").matches("GET", "/webhooks/webhook/x"));
        assert!(
            !route("POST", "/webhooks/{type}/{source}").matches("POST", "/webhooks/preconfigured")
        );
        assert!(route("GET", "/version").matches("GET", "/version"));
        assert!(!route("GET", "/version").matches("GET", "/version/x"));
        assert!(route("ANY", "/{proxy+}").matches("DELETE", "/a/b/c"));
    }
}
