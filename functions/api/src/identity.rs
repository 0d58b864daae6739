//! Who is calling: read only from the claims API Gateway's JWT authorizer verified
//! (`requestContext.authorizer.jwt.claims`), never from a header the caller sends.
//!
//! In AWS the HTTP API's JWT authorizer checks the token's signature, issuer, audience and
//! lifetime before the request reaches this function, and `lambda_http` puts the verified
//! claims in the request's [`RequestContext`]. Local mode plays that authorizer (see
//! `local/src/authorizer.rs`) and puts the same context on the request. Open routes
//! (`/version`, `/health`, `/webhooks/...`) carry no claims: their caller is anonymous.
//!
//! [`establish`] is the one place identity is decided: it removes any `X-SPINNAKER-USER` /
//! `X-SPINNAKER-ACCOUNTS` the caller sent, then sets `X-SPINNAKER-USER` to the verified user
//! (as Gate does for the services behind it) and puts the [`Identity`] in the request's
//! extensions for the permission checks.

use std::collections::BTreeSet;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use gennaker_env::FunctionEnv;
use gennaker_model::launch::Caller;
use lambda_http::request::RequestContext;

/// The user of requests that carry no verified claims (open routes).
pub const ANONYMOUS: &str = "anonymous";

/// The verified identity as [`establish`] passes it to the Gate routes the web UI calls in
/// process (base64 of its JSON); like the headers below, never taken from outside.
pub const IDENTITY_HEADER: &str = "x-gennaker-identity";

/// Headers that claim an identity; only [`establish`] may set them.
const IDENTITY_HEADERS: [&str; 3] = ["x-spinnaker-user", "x-spinnaker-accounts", IDENTITY_HEADER];

/// Which claims name the user and their groups, and which groups are administrators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `AUTH_USER_CLAIM` (default `email`; `sub` when the token has no such claim).
    pub user_claim: String,
    /// `AUTH_GROUPS_CLAIM` (default `groups`; Cognito uses `cognito:groups`).
    pub groups_claim: String,
    /// `ADMIN_ROLES`: roles (lower-cased) whose members may do everything.
    pub admin_roles: BTreeSet<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            user_claim: "email".to_string(),
            groups_claim: "groups".to_string(),
            admin_roles: BTreeSet::new(),
        }
    }
}

impl AuthSettings {
    pub fn from_env(env: &FunctionEnv) -> Self {
        let defaults = Self::default();
        let named = |name: &str, default: String| {
            env.optional(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
                .unwrap_or(default)
        };
        Self {
            user_claim: named("AUTH_USER_CLAIM", defaults.user_claim),
            groups_claim: named("AUTH_GROUPS_CLAIM", defaults.groups_claim),
            admin_roles: env
                .optional("ADMIN_ROLES")
                .map(|roles| role_list(&roles).into_iter().collect())
                .unwrap_or_default(),
        }
    }
}

/// The caller as the verified token describes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub user: String,
    /// Roles from the groups claim, trimmed and lower-cased (Fiat compares them so).
    pub roles: Vec<String>,
    pub admin: bool,
    /// False for requests without verified claims (open routes).
    pub authenticated: bool,
}

impl Identity {
    fn to_header(&self) -> Option<HeaderValue> {
        use base64::Engine;
        let json = serde_json::to_vec(self).ok()?;
        HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json)).ok()
    }

    /// The identity [`establish`] carried in `headers`; anonymous without one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(IDENTITY_HEADER)
            .and_then(Self::from_header)
            .unwrap_or_else(Self::anonymous)
    }

    fn from_header(value: &HeaderValue) -> Option<Self> {
        use base64::Engine;
        let json = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes())
            .ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Who this is to Fiat's rules: the roles and whether they are an administrator.
    pub fn principal(&self) -> gennaker_auth::Principal {
        gennaker_auth::Principal::new(self.roles.iter().map(String::as_str), self.admin)
    }

    pub fn anonymous() -> Self {
        Self {
            user: ANONYMOUS.to_string(),
            roles: vec![],
            admin: false,
            authenticated: false,
        }
    }

    /// The identity the verified `claims` describe; `None` without a user claim or `sub`.
    pub fn from_claims(
        settings: &AuthSettings,
        claims: &std::collections::HashMap<String, String>,
    ) -> Option<Self> {
        let user = [settings.user_claim.as_str(), "sub"]
            .iter()
            .filter_map(|name| claims.get(*name))
            .map(|value| value.trim())
            .find(|value| !value.is_empty())?
            .to_string();
        let roles = claims
            .get(&settings.groups_claim)
            .map(|value| role_list(value))
            .unwrap_or_default();
        let admin = roles.iter().any(|role| settings.admin_roles.contains(role));
        Some(Self {
            user,
            roles,
            admin,
            authenticated: true,
        })
    }
}

/// An identity never missing from a handler: a request that did not pass [`establish`]
/// (none does in practice) is anonymous, so a mistake fails closed.
impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Identity>()
            .cloned()
            .or_else(|| Identity::from_header(parts.headers.get(IDENTITY_HEADER)?))
            .unwrap_or_else(Identity::anonymous))
    }
}

/// The roles of a groups claim. API Gateway hands array claims over as one string,
/// `[dev ops]`; a plain string may list them separated by commas or spaces.
pub use gennaker_auth::role_list;

/// The verified claims API Gateway put on the request, if any.
fn verified_claims(request: &Request) -> Option<&std::collections::HashMap<String, String>> {
    match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => {
            Some(&context.authorizer.as_ref()?.jwt.as_ref()?.claims)
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Middleware: decides the caller's [`Identity`] from the verified claims alone.
pub async fn establish(
    State(settings): State<std::sync::Arc<AuthSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let identity = verified_claims(&request)
        .and_then(|claims| Identity::from_claims(&settings, claims))
        .unwrap_or_else(Identity::anonymous);
    let headers = request.headers_mut();
    for name in IDENTITY_HEADERS {
        headers.remove(name);
    }
    if let Ok(user) = HeaderValue::from_str(&identity.user) {
        headers.insert("x-spinnaker-user", user);
    }
    if let Some(carried) = identity.to_header() {
        headers.insert(IDENTITY_HEADER, carried);
    }
    request.extensions_mut().insert(identity);
    next.run(request).await
}

pub fn caller(headers: &HeaderMap) -> Caller {
    Caller {
        user: header(headers, "x-spinnaker-user"),
        origin: header(headers, "x-spinnaker-user-origin"),
        allowed_accounts: vec![],
    }
}

/// The user to record in `lastModifiedBy` and similar fields: the verified user, which
/// [`establish`] wrote into `X-SPINNAKER-USER`.
pub fn user_name(headers: &HeaderMap) -> String {
    header(headers, "x-spinnaker-user").unwrap_or_else(|| ANONYMOUS.to_string())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings() -> AuthSettings {
        AuthSettings {
            admin_roles: ["ops-admin".to_string()].into(),
            ..AuthSettings::default()
        }
    }

    #[test]
    fn roles_come_from_api_gateway_array_strings_and_plain_lists() {
        assert_eq!(role_list("[Dev ops]"), vec!["dev", "ops"]);
        assert_eq!(role_list("dev, ops"), vec!["dev", "ops"]);
        assert_eq!(role_list(r#"["dev","ops"]"#), vec!["dev", "ops"]);
        assert!(role_list("[]").is_empty());
    }

    #[test]
    fn the_user_claim_falls_back_to_sub_and_admin_follows_the_roles() {
        let claims = HashMap::from([
            ("sub".to_string(), "u-1".to_string()),
            ("groups".to_string(), "[OPS-ADMIN dev]".to_string()),
        ]);
        let identity = Identity::from_claims(&settings(), &claims).unwrap();
        assert_eq!(identity.user, "u-1");
        assert!(identity.admin);
        assert!(identity.authenticated);
        let claims = HashMap::from([("email".to_string(), "a@b.c".to_string())]);
        let identity = Identity::from_claims(&settings(), &claims).unwrap();
        assert_eq!(identity.user, "a@b.c");
        assert!(!identity.admin);
        assert!(Identity::from_claims(&settings(), &HashMap::new()).is_none());
    }
}
