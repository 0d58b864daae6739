//! Which URLs a stage may call: Spinnaker's `UserConfiguredUrlRestrictions`,
//! the same rules `#fromUrl` follows, plus private ranges refused unless configured.
//!
//! A URL is checked twice: its text before the request ([`UrlRules::check`]), and every
//! address its host resolves to when the connection is made ([`UrlRules::check_address`],
//! called by the client's resolver), so DNS cannot smuggle in an internal address.
//!
//! Defaults, for a URL that matches no allowed prefix:
//! * only `http` and `https`;
//! * no IP literals (`http://10.0.0.1/`), no `localhost`, host names must contain a dot, no
//!   `.local`, `.localdomain`, `.internal` or `.spinnaker` domains;
//! * no address that is loopback (127/8, ::1), unspecified (0.0.0.0, ::), link-local
//!   (169.254/16 — the cloud metadata endpoint 169.254.169.254 — and fe80::/10), multicast or
//!   broadcast; and no private address (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)
//!   unless `ALLOW_PRIVATE_NETWORKS=true`.
//!
//! `ALLOWED_URL_PREFIXES` lists URLs (comma or space separated) that are trusted whatever
//! they resolve to: a URL is allowed when it has the same scheme, host and port as a prefix
//! and its path starts with the prefix's path. Local tests list their own 127.0.0.1 servers
//! there; a deployment may list an internal service it means to call. Configured Jenkins
//! masters are trusted the same way.

use std::net::IpAddr;

use gennaker_env::FunctionEnv;
use gennaker_expressions::{AddressClass, INTERNAL_DOMAINS, classify_address};
use reqwest::Url;

/// Why a URL or an address is not allowed. The text is meant for the stage's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A configuration value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct RulesConfigError {
    pub variable: String,
    pub reason: String,
}

/// A trusted URL prefix: scheme, host and port must be equal; the path must start with it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prefix {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

impl Prefix {
    fn parse(text: &str) -> Result<Prefix, String> {
        let url = Url::parse(text).map_err(|e| format!("'{text}' is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("'{text}' is not an http or https URL"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("'{text}' has no host"))?;
        Ok(Prefix {
            scheme: url.scheme().to_string(),
            host: host.to_ascii_lowercase(),
            port: url.port_or_known_default(),
            path: url.path().to_string(),
        })
    }

    fn matches(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url
                .host_str()
                .is_some_and(|host| host.eq_ignore_ascii_case(&self.host))
            && url.port_or_known_default() == self.port
            && url.path().starts_with(&self.path)
    }
}

/// What a checked URL may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// It matches a trusted prefix: any address its host resolves to.
    Trusted,
    /// Only addresses that pass [`UrlRules::check_address`].
    Public,
}

/// The URL rules of one function, read once at cold start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlRules {
    allow_private_networks: bool,
    trusted: Vec<Prefix>,
}

impl UrlRules {
    /// The safe defaults: nothing trusted, private networks refused.
    pub fn strict() -> UrlRules {
        UrlRules::default()
    }

    /// `ALLOWED_URL_PREFIXES` and `ALLOW_PRIVATE_NETWORKS` (both optional).
    pub fn from_env(env: &FunctionEnv) -> Result<UrlRules, RulesConfigError> {
        let allow_private_networks = match env.optional("ALLOW_PRIVATE_NETWORKS").as_deref() {
            None => false,
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(RulesConfigError {
                    variable: "ALLOW_PRIVATE_NETWORKS".into(),
                    reason: format!("'{other}' is neither true nor false"),
                });
            }
        };
        let mut rules = UrlRules {
            allow_private_networks,
            trusted: vec![],
        };
        let prefixes = env.optional("ALLOWED_URL_PREFIXES").unwrap_or_default();
        for prefix in prefixes
            .split([',', ' ', '\n', '\t'])
            .filter(|p| !p.trim().is_empty())
        {
            rules
                .trust_prefix(prefix.trim())
                .map_err(|reason| RulesConfigError {
                    variable: "ALLOWED_URL_PREFIXES".into(),
                    reason,
                })?;
        }
        Ok(rules)
    }

    pub fn with_private_networks(mut self, allowed: bool) -> UrlRules {
        self.allow_private_networks = allowed;
        self
    }

    /// Trusts every URL under `prefix` (an http or https URL), whatever its host resolves to.
    pub fn trust_prefix(&mut self, prefix: &str) -> Result<(), String> {
        let prefix = Prefix::parse(prefix)?;
        if !self.trusted.contains(&prefix) {
            self.trusted.push(prefix);
        }
        Ok(())
    }

    /// Checks a URL's text (scheme, host). Addresses are checked when connecting.
    pub fn check(&self, url: &Url) -> Result<Allowance, Refusal> {
        let shown = shown(url);
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal(format!(
                "{shown} is not allowed: only http and https URLs can be called"
            )));
        }
        if self.trusted.iter().any(|prefix| prefix.matches(url)) {
            return Ok(Allowance::Trusted);
        }
        match url.host() {
            None => Err(Refusal(format!("{shown} has no host"))),
            Some(url::Host::Ipv4(v4)) => Err(self.ip_literal_refusal(&shown, IpAddr::V4(v4))),
            Some(url::Host::Ipv6(v6)) => Err(self.ip_literal_refusal(&shown, IpAddr::V6(v6))),
            Some(url::Host::Domain(domain)) => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                if domain == "localhost" || domain.ends_with(".localhost") {
                    return Err(Refusal(format!(
                        "{shown} is not allowed: localhost is never called"
                    )));
                }
                if !domain.contains('.') {
                    return Err(Refusal(format!(
                        "{shown} is not allowed: host names must be fully qualified (contain a dot)"
                    )));
                }
                if let Some(excluded) = INTERNAL_DOMAINS
                    .iter()
                    .find(|excluded| domain.ends_with(&format!(".{excluded}")))
                {
                    return Err(Refusal(format!(
                        "{shown} is not allowed: .{excluded} domains are internal"
                    )));
                }
                Ok(Allowance::Public)
            }
        }
    }

    /// Whether `host` is the host of a trusted prefix (its addresses are then not checked).
    pub fn trusts_host(&self, host: &str) -> bool {
        self.trusted
            .iter()
            .any(|prefix| prefix.host.eq_ignore_ascii_case(host))
    }

    /// Checks one resolved address of an untrusted host.
    pub fn check_address(&self, host: &str, address: IpAddr) -> Result<(), Refusal> {
        match classify_address(address) {
            None => Ok(()),
            Some(AddressClass::Private) if self.allow_private_networks => Ok(()),
            Some(class) => Err(Refusal(format!(
                "{host} resolves to {address}, {}, which stages may not call",
                describe(class)
            ))),
        }
    }

    fn ip_literal_refusal(&self, shown: &str, address: IpAddr) -> Refusal {
        match classify_address(address) {
            Some(AddressClass::Private) if self.allow_private_networks => Refusal(format!(
                "{shown} is not allowed: IP address literals are not allowed; use a host name"
            )),
            Some(class) => Refusal(format!(
                "{shown} is not allowed: {address} is {}",
                describe(class)
            )),
            None => Refusal(format!(
                "{shown} is not allowed: IP address literals are not allowed; use a host name"
            )),
        }
    }
}

/// The URL without user info, query or fragment (they may carry secrets).
fn shown(url: &Url) -> String {
    let mut shown = format!("{}://", url.scheme());
    if let Some(host) = url.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

/// How a refused address class reads in a stage's error.
fn describe(class: AddressClass) -> &'static str {
    match class {
        AddressClass::Loopback => "a loopback address",
        AddressClass::Unspecified => "an unspecified address",
        AddressClass::LinkLocal => {
            "a link-local address (this includes the cloud metadata endpoint)"
        }
        AddressClass::Private => "a private network address (set ALLOW_PRIVATE_NETWORKS to allow)",
        AddressClass::NotUnicast => "a multicast or broadcast address",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn check(rules: &UrlRules, url: &str) -> Result<Allowance, String> {
        rules.check(&Url::parse(url).unwrap()).map_err(|r| r.0)
    }

    fn env(pairs: &[(&str, &str)]) -> FunctionEnv {
        FunctionEnv::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn public_host_names_pass_the_text_check() {
        let rules = UrlRules::strict();
        assert_eq!(
            check(&rules, "https://hooks.example.com/x?token=1"),
            Ok(Allowance::Public)
        );
        assert_eq!(
            check(&rules, "http://ci.example.org:8080/"),
            Ok(Allowance::Public)
        );
    }

    #[test]
    fn metadata_loopback_and_internal_names_are_refused() {
        let rules = UrlRules::strict();
        let refused = |url: &str| check(&rules, url).unwrap_err();
        assert!(refused("http://169.254.169.254/latest/meta-data/").contains("link-local"));
        assert!(refused("http://127.0.0.1:8080/").contains("loopback"));
        assert!(refused("http://[::1]/").contains("loopback"));
        assert!(refused("http://[::ffff:127.0.0.1]/").contains("loopback"));
        assert!(refused("http://0.0.0.0/").contains("unspecified"));
        assert!(refused("http://10.1.2.3/").contains("private"));
        assert!(refused("http://localhost:9000/").contains("localhost"));
        assert!(refused("http://metadata/").contains("fully qualified"));
        assert!(refused("http://metadata.google.internal/").contains(".internal"));
        assert!(refused("http://printer.local/").contains(".local"));
        assert!(refused("file:///etc/passwd").contains("only http and https"));
        assert!(refused("ftp://example.com/").contains("only http and https"));
        assert!(refused("http://93.184.216.34/").contains("literals"));
    }

    #[test]
    fn refusals_never_show_credentials_or_queries() {
        let message = check(
            &UrlRules::strict(),
            "http://user:secret@127.0.0.1/x?token=abc",
        )
        .unwrap_err();
        assert!(
            !message.contains("secret") && !message.contains("abc"),
            "{message}"
        );
    }

    #[test]
    fn resolved_addresses_are_checked() {
        let rules = UrlRules::strict();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        assert!(rules.check_address("example.com", public).is_ok());
        for refused in [
            "127.0.0.1",
            "169.254.169.254",
            "10.0.0.5",
            "172.16.3.4",
            "192.168.1.1",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:169.254.169.254",
        ] {
            let address: IpAddr = refused.parse().unwrap();
            assert!(
                rules.check_address("evil.example.com", address).is_err(),
                "{refused} must be refused"
            );
        }
        let private = UrlRules::strict().with_private_networks(true);
        assert!(
            private
                .check_address("x.example.com", "10.0.0.5".parse().unwrap())
                .is_ok()
        );
        assert!(
            private
                .check_address("x.example.com", "169.254.169.254".parse().unwrap())
                .is_err(),
            "private networks never include link-local"
        );
        assert!(
            private
                .check_address("x.example.com", "127.0.0.1".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn prefixes_match_scheme_host_port_and_path() {
        let rules = UrlRules::from_env(&env(&[(
            "ALLOWED_URL_PREFIXES",
            "http://127.0.0.1:4567/hooks/, https://jenkins.internal",
        )]))
        .unwrap();
        assert_eq!(
            check(&rules, "http://127.0.0.1:4567/hooks/a?b=c"),
            Ok(Allowance::Trusted)
        );
        assert!(check(&rules, "http://127.0.0.1:4567/other").is_err());
        assert!(check(&rules, "http://127.0.0.1:45678/hooks/a").is_err());
        assert!(check(&rules, "https://127.0.0.1:4567/hooks/a").is_err());
        assert_eq!(
            check(&rules, "https://jenkins.internal/job/x"),
            Ok(Allowance::Trusted)
        );
        assert!(
            check(&rules, "https://jenkins.internal.evil.com/")
                .is_ok_and(|a| a == Allowance::Public)
        );
        assert!(rules.trusts_host("jenkins.internal"));
        assert!(!rules.trusts_host("jenkins.internal.evil.com"));
        assert!(check(&rules, "http://169.254.169.254/").is_err());
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let error = UrlRules::from_env(&env(&[("ALLOW_PRIVATE_NETWORKS", "yes")])).unwrap_err();
        assert_eq!(error.variable, "ALLOW_PRIVATE_NETWORKS");
        let error = UrlRules::from_env(&env(&[("ALLOWED_URL_PREFIXES", "ftp://x.example.com")]))
            .unwrap_err();
        assert_eq!(error.variable, "ALLOWED_URL_PREFIXES");
        assert_eq!(UrlRules::from_env(&env(&[])).unwrap(), UrlRules::strict());
    }
}

/// The webhook and Jenkins stages follow the same rules as `#fromUrl` in expressions.
#[cfg(test)]
mod same_rules_as_expressions {
    use std::net::IpAddr;

    use gennaker_expressions::{HostResolver, UrlError, UrlPolicy};

    use super::*;

    struct Fixed(Vec<IpAddr>);

    impl HostResolver for Fixed {
        fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, UrlError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn defaults_agree_with_the_expression_url_policy() {
        let ours = UrlRules::strict();
        let theirs = UrlPolicy::default();
        let urls = [
            "https://hooks.example.com/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:8080/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://93.184.216.34/",
            "http://localhost/",
            "http://metadata/",
            "http://db.internal/x",
            "http://printer.local/",
            "file:///etc/passwd",
            "ftp://example.com/x",
        ];
        let addresses = [
            "93.184.216.34",
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "fd00::1",
            "fe80::1",
            "::1",
            "0.0.0.0",
        ];
        for url in urls {
            for address in addresses {
                let address: IpAddr = address.parse().unwrap();
                let resolver = Fixed(vec![address]);
                let expected = theirs.check(url, &resolver).is_ok();
                let parsed = Url::parse(url).unwrap();
                let actual = match ours.check(&parsed) {
                    Ok(Allowance::Trusted) => true,
                    Ok(Allowance::Public) => ours
                        .check_address(parsed.host_str().unwrap_or_default(), address)
                        .is_ok(),
                    Err(_) => false,
                };
                assert_eq!(actual, expected, "{url} resolving to {address}");
            }
        }
    }
}
