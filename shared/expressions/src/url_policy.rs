//! What `#fromUrl`, `#jsonFromUrl`, `#yamlFromUrl` and `#propertiesFromUrl` may reach.
//!
//! The defaults follow Orca's `UserConfiguredUrlRestrictions` (http/https only; host names must
//! contain a dot; no localhost, no link-local such as the cloud metadata endpoint
//! 169.254.169.254, no verbatim IP literals; no `.spinnaker`, `.local`, `.localdomain`,
//! `.internal` domains) and add what a Lambda inside a VPC needs: private ranges (10/8,
//! 172.16/12, 192.168/16, fc00::/7) are refused too. The host name is resolved and **every**
//! address checked; the vetted addresses are handed to the fetcher, which should connect to
//! them only, so a second DNS answer cannot swap in an internal address.
//!
//! The HTTP request itself is made by a [`UrlFetcher`] the caller supplies; the crate has no
//! HTTP client unless the `std-fetcher` feature is on.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use regex::Regex;
use url::Url;

use crate::limits::MAX_URL_RESPONSE_BYTES;

/// Why a URL was refused or could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

/// A URL that passed the policy, with the addresses its host resolved to.
#[derive(Debug, Clone)]
pub struct VettedUrl {
    pub url: Url,
    /// Every address the host resolved to, all allowed; connect only to these.
    pub addresses: Vec<SocketAddr>,
}

/// What the caller's fetcher is asked to do.
#[derive(Debug, Clone)]
pub struct FetchRequest<'r> {
    pub url: &'r Url,
    pub addresses: &'r [SocketAddr],
    pub timeout: Duration,
    /// Refuse bodies longer than this.
    pub max_bytes: usize,
}

/// Performs the HTTP GET for the URL helper functions. Implementations must not follow
/// redirects to other hosts (that would bypass the policy) and should connect only to
/// `request.addresses`.
pub trait UrlFetcher: Send + Sync {
    /// Returns the response body as text for a 2xx answer, an error otherwise.
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<String, UrlError>;
}

/// Resolves host names (swap it out in tests to avoid DNS).
pub trait HostResolver: Send + Sync {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, UrlError>;
}

/// Resolution through the operating system (`std::net::ToSocketAddrs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, UrlError> {
        (host, port)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .map_err(|e| UrlError(format!("Unable to resolve host {host}: {e}")))
    }
}

/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(text: &str) -> Result<IpRange, UrlError> {
        let invalid = || UrlError(format!("Invalid IP range '{text}'"));
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| invalid())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| invalid())?,
            None => max,
        };
        if prefix > max {
            return Err(invalid());
        }
        Ok(IpRange { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are checked as the IPv4 address they are.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The URL restrictions. `Default` gives the safe configuration described in the module docs.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    /// Lower-case schemes allowed (default `http`, `https`).
    pub allowed_schemes: Vec<String>,
    /// Host names must match this whole (default `.*\..+`, i.e. contain a dot). `None`
    /// disables URL functions entirely, like Orca's blank `allowedHostnamesRegex`.
    pub allowed_hostnames: Option<Regex>,
    pub reject_localhost: bool,
    /// 169.254.0.0/16 and fe80::/10, which includes the cloud metadata endpoint.
    pub reject_link_local: bool,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 and fc00::/7.
    pub reject_private: bool,
    /// Refuse URLs whose host is an IP literal.
    pub reject_verbatim_ips: bool,
    /// Further refused ranges.
    pub rejected_ranges: Vec<IpRange>,
    /// Domains refused with all their sub-domains (default `spinnaker`, `local`,
    /// `localdomain`, `internal`).
    pub excluded_domains: Vec<String>,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        UrlPolicy {
            allowed_schemes: vec!["http".into(), "https".into()],
            allowed_hostnames: Some(Regex::new(r"^(?:.*\..+)$").expect("valid default regex")),
            reject_localhost: true,
            reject_link_local: true,
            reject_private: true,
            reject_verbatim_ips: true,
            rejected_ranges: Vec::new(),
            excluded_domains: INTERNAL_DOMAINS.map(String::from).to_vec(),
            timeout: Duration::from_secs(30),
            max_response_bytes: MAX_URL_RESPONSE_BYTES,
        }
    }
}

/// Domains that name internal services, refused with all their sub-domains (Orca's
/// `UserConfiguredUrlRestrictions` defaults).
pub const INTERNAL_DOMAINS: [&str; 4] = ["spinnaker", "local", "localdomain", "internal"];

/// Addresses no outbound call may reach by default; both `#fromUrl` and the stage workers'
/// HTTP client (`gennaker-outbound`) judge addresses by this one classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127/8, ::1.
    Loopback,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 169.254/16 and fe80::/10, which includes the cloud metadata endpoint.
    LinkLocal,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT) and fc00::/7.
    Private,
    /// Multicast, broadcast and the reserved 240/4.
    NotUnicast,
}

/// The refused class of an address, `None` for a public unicast address.
pub fn classify_address(address: IpAddr) -> Option<AddressClass> {
    // IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
    let address = match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some(AddressClass::Loopback)
            } else if v4.is_unspecified() || a == 0 {
                Some(AddressClass::Unspecified)
            } else if v4.is_link_local() {
                Some(AddressClass::LinkLocal)
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some(AddressClass::Private)
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some(AddressClass::NotUnicast)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some(AddressClass::Loopback)
            } else if v6.is_unspecified() {
                Some(AddressClass::Unspecified)
            } else if first & 0xffc0 == 0xfe80 {
                Some(AddressClass::LinkLocal)
            } else if first & 0xfe00 == 0xfc00 {
                Some(AddressClass::Private)
            } else if v6.is_multicast() {
                Some(AddressClass::NotUnicast)
            } else {
                None
            }
        }
    }
}

impl UrlPolicy {
    /// Checks `text` and resolves its host; every resolved address must be allowed.
    pub fn check(&self, text: &str, resolver: &dyn HostResolver) -> Result<VettedUrl, UrlError> {
        let url = Url::parse(text).map_err(|e| UrlError(format!("URI not valid: {text} ({e})")))?;
        let scheme = url.scheme().to_ascii_lowercase();
        if !self
            .allowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&scheme))
        {
            return Err(UrlError(format!("unsupported URI scheme {text}")));
        }
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => Host::Name(domain.to_ascii_lowercase()),
            Some(url::Host::Ipv4(v4)) => Host::Ip(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Host::Ip(IpAddr::V6(v6)),
            None => {
                return Err(UrlError(format!(
                    "Unable to determine host for the url provided {text}"
                )));
            }
        };
        let Some(allowed_hostnames) = &self.allowed_hostnames else {
            return Err(UrlError(
                "Allowed Hostnames are not set, external HTTP requests are not enabled".into(),
            ));
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let (host_text, addresses) = match &host {
            Host::Ip(ip) => {
                if self.reject_verbatim_ips {
                    return Err(UrlError("Verbatim IP addresses are not allowed".into()));
                }
                (ip.to_string(), vec![*ip])
            }
            Host::Name(name) => {
                if !allowed_hostnames.is_match(name) || self.is_excluded_domain(name) {
                    return Err(UrlError(format!("Host not allowed: {name}")));
                }
                if self.reject_localhost && (name == "localhost" || name.ends_with(".localhost")) {
                    return Err(UrlError(format!("Host not allowed: {name}")));
                }
                let addresses = resolver.resolve(name, port)?;
                if addresses.is_empty() {
                    return Err(UrlError(format!("Unable to resolve host {name}")));
                }
                (name.clone(), addresses)
            }
        };
        for address in &addresses {
            self.check_address(&host_text, *address)?;
        }
        Ok(VettedUrl {
            addresses: addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
            url,
        })
    }

    fn is_excluded_domain(&self, name: &str) -> bool {
        self.excluded_domains.iter().any(|domain| {
            let domain = domain.trim_start_matches('.').to_ascii_lowercase();
            name.ends_with(&format!(".{domain}"))
        })
    }

    fn check_address(&self, host: &str, address: IpAddr) -> Result<(), UrlError> {
        let refused_class = match classify_address(address) {
            Some(AddressClass::Loopback | AddressClass::Unspecified) => self.reject_localhost,
            Some(AddressClass::LinkLocal) => self.reject_link_local,
            Some(AddressClass::Private) => self.reject_private,
            Some(AddressClass::NotUnicast) => true,
            None => false,
        };
        let refused = refused_class || self.rejected_ranges.iter().any(|r| r.contains(address));
        if refused {
            Err(UrlError(format!("Address not allowed: {host} ({address})")))
        } else {
            Ok(())
        }
    }
}

enum Host {
    Name(String),
    Ip(IpAddr),
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FixedResolver(Vec<IpAddr>);

    impl HostResolver for FixedResolver {
        fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, UrlError> {
            Ok(self.0.clone())
        }
    }

    fn public() -> FixedResolver {
        FixedResolver(vec!["93.184.216.34".parse().unwrap()])
    }

    #[test]
    fn default_policy_refuses_internal_targets() {
        let policy = UrlPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "file:///etc/passwd",
            "ftp://example.com/x",
            "http://localhost/",
            "http://metadata/",
            "http://db.internal/x",
            "http://printer.local/",
        ] {
            assert!(
                policy.check(url, &public()).is_err(),
                "{url} should be refused"
            );
        }
        assert!(policy.check("https://example.com/v.txt", &public()).is_ok());
    }

    #[test]
    fn every_resolved_address_is_checked() {
        let policy = UrlPolicy::default();
        for bad in [
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "fd00::1",
            "fe80::1",
        ] {
            let resolver =
                FixedResolver(vec!["93.184.216.34".parse().unwrap(), bad.parse().unwrap()]);
            assert!(
                policy.check("https://example.com/", &resolver).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn configuration_can_open_ranges_or_close_more() {
        let policy = UrlPolicy {
            reject_verbatim_ips: false,
            reject_private: false,
            ..UrlPolicy::default()
        };
        assert!(policy.check("http://10.0.0.1/", &public()).is_ok());
        assert!(policy.check("http://127.0.0.1/", &public()).is_err());
        let policy = UrlPolicy {
            rejected_ranges: vec![IpRange::parse("93.184.0.0/16").unwrap()],
            ..UrlPolicy::default()
        };
        assert!(policy.check("https://example.com/", &public()).is_err());
        let policy = UrlPolicy {
            allowed_hostnames: None,
            ..UrlPolicy::default()
        };
        assert!(policy.check("https://example.com/", &public()).is_err());
    }
}
