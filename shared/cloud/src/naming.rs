//! Frigga naming (Spinnaker's naming convention for clusters and server groups).
//!
//! A cluster is `app`, `app-stack`, `app-stack-detail` or `app--detail`; a server group is
//! its cluster followed by a push number, `-v000` to `-v999` (3 to 6 digits are parsed,
//! 3 are written). Labeled variables (`-c0…`, `-d0…`) are kept as part of the detail.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// Why a name is not a valid Frigga name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    #[error("'{0}' is not a valid application name (letters, digits, '.', '_')")]
    Application(String),
    #[error("'{0}' is not a valid stack (letters, digits, '.', '_')")]
    Stack(String),
    #[error("'{0}' is not a valid detail (letters, digits, '.', '_', '-', '~', '^')")]
    Detail(String),
    #[error("'{0}' may not contain a push number (-vNNN) in its stack or detail")]
    ReservedPush(String),
    #[error("'{0}' is not a server group name (<cluster>-vNNN)")]
    NotAServerGroup(String),
}

static APPLICATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9._]+$").unwrap());
static STACK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9._]*$").unwrap());
static DETAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9._~^-]*$").unwrap());
static PUSH_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)-v([0-9]{3,6})$").unwrap());
static PUSH_SEGMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|-)v[0-9]{3,6}($|-)").unwrap());

/// A cluster name split into its parts. Empty stack or detail are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterName {
    pub app: String,
    pub stack: Option<String>,
    pub detail: Option<String>,
}

impl ClusterName {
    /// Builds a cluster name from Deck's `application`, `stack` and `freeFormDetails`.
    pub fn new(app: &str, stack: Option<&str>, detail: Option<&str>) -> Result<Self, NamingError> {
        let non_empty = |part: Option<&str>| part.filter(|p| !p.is_empty()).map(str::to_string);
        let name = Self {
            app: app.to_string(),
            stack: non_empty(stack),
            detail: non_empty(detail),
        };
        name.validate()?;
        Ok(name)
    }

    /// Parses `app[-stack[-detail]]`: the first segment is the app, the second the stack,
    /// the rest (hyphens included) the detail.
    pub fn parse(cluster: &str) -> Result<Self, NamingError> {
        let (app, rest) = cluster.split_once('-').unwrap_or((cluster, ""));
        let (stack, detail) = rest.split_once('-').unwrap_or((rest, ""));
        let name = Self::new(app, Some(stack), Some(detail))?;
        if PUSH_SEGMENT.is_match(rest) {
            return Err(NamingError::ReservedPush(cluster.to_string()));
        }
        Ok(name)
    }

    fn validate(&self) -> Result<(), NamingError> {
        if !APPLICATION.is_match(&self.app) {
            return Err(NamingError::Application(self.app.clone()));
        }
        let stack = self.stack.as_deref().unwrap_or("");
        let detail = self.detail.as_deref().unwrap_or("");
        if !STACK.is_match(stack) {
            return Err(NamingError::Stack(stack.to_string()));
        }
        if !DETAIL.is_match(detail) {
            return Err(NamingError::Detail(detail.to_string()));
        }
        if PUSH_SEGMENT.is_match(stack) || PUSH_SEGMENT.is_match(detail) {
            return Err(NamingError::ReservedPush(self.to_string()));
        }
        Ok(())
    }

    /// The server group of this cluster with push number `sequence` (`app-stack-v007`).
    pub fn server_group(&self, sequence: u32) -> String {
        format!("{self}-v{sequence:03}")
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.stack, &self.detail) {
            (None, None) => write!(f, "{}", self.app),
            (Some(stack), None) => write!(f, "{}-{stack}", self.app),
            (stack, Some(detail)) => {
                write!(
                    f,
                    "{}-{}-{detail}",
                    self.app,
                    stack.as_deref().unwrap_or("")
                )
            }
        }
    }
}

/// A server group name: its cluster and push number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGroupName {
    pub cluster: ClusterName,
    pub sequence: u32,
}

impl ServerGroupName {
    /// Parses `<cluster>-vNNN`; a name without a push number is not a server group here
    /// (Gennaker only creates numbered groups).
    pub fn parse(name: &str) -> Result<Self, NamingError> {
        let captures = PUSH_SUFFIX
            .captures(name)
            .ok_or_else(|| NamingError::NotAServerGroup(name.to_string()))?;
        Ok(Self {
            cluster: ClusterName::parse(&captures[1])?,
            sequence: captures[2].parse().expect("3 to 6 digits fit u32"),
        })
    }

    /// The provider-neutral name Deck and Orca carry (`moniker`).
    pub fn moniker(&self) -> Moniker {
        Moniker {
            app: self.cluster.app.clone(),
            cluster: self.cluster.to_string(),
            stack: self.cluster.stack.clone(),
            detail: self.cluster.detail.clone(),
            sequence: Some(self.sequence),
        }
    }
}

impl fmt::Display for ServerGroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cluster.server_group(self.sequence))
    }
}

/// Spinnaker's `moniker` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moniker {
    pub app: String,
    pub cluster: String,
    pub stack: Option<String>,
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
}

/// The push number after `latest` (the newest group of the cluster), modulo 1000; `0`
/// for a cluster without groups.
pub fn next_sequence(latest: Option<u32>) -> u32 {
    latest.map_or(0, |sequence| (sequence + 1) % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_semantics_examples() {
        let name = ServerGroupName::parse("myapp-prod-canary-v012").unwrap();
        assert_eq!(name.cluster.app, "myapp");
        assert_eq!(name.cluster.stack.as_deref(), Some("prod"));
        assert_eq!(name.cluster.detail.as_deref(), Some("canary"));
        assert_eq!(name.cluster.to_string(), "myapp-prod-canary");
        assert_eq!(name.sequence, 12);

        let blue = ServerGroupName::parse("myapp--blue-v000").unwrap();
        assert_eq!(blue.cluster.stack, None);
        assert_eq!(blue.cluster.detail.as_deref(), Some("blue"));
        assert_eq!(blue.to_string(), "myapp--blue-v000");
    }

    #[test]
    fn detail_keeps_its_hyphens() {
        let name = ClusterName::parse("app-stack-a-b~c^d").unwrap();
        assert_eq!(name.detail.as_deref(), Some("a-b~c^d"));
        assert_eq!(name.to_string(), "app-stack-a-b~c^d");
    }

    #[test]
    fn formats_every_cluster_shape() {
        let shape = |stack, detail| ClusterName::new("app", stack, detail).unwrap().to_string();
        assert_eq!(shape(None, None), "app");
        assert_eq!(shape(Some("prod"), None), "app-prod");
        assert_eq!(shape(Some("prod"), Some("x")), "app-prod-x");
        assert_eq!(shape(None, Some("x")), "app--x");
        assert_eq!(shape(Some(""), Some("")), "app");
    }

    #[test]
    fn rejects_bad_names() {
        assert!(matches!(
            ClusterName::parse("my app"),
            Err(NamingError::Application(_))
        ));
        assert!(matches!(
            ClusterName::parse("app-st@ck"),
            Err(NamingError::Stack(_))
        ));
        assert!(matches!(
            ClusterName::parse("app-s-d!"),
            Err(NamingError::Detail(_))
        ));
        assert!(matches!(
            ClusterName::parse("app-v001"),
            Err(NamingError::ReservedPush(_))
        ));
        assert!(matches!(
            ClusterName::parse("app-s-x-v001-y"),
            Err(NamingError::ReservedPush(_))
        ));
        assert!(matches!(
            ServerGroupName::parse("app-prod"),
            Err(NamingError::NotAServerGroup(_))
        ));
        assert!(matches!(
            ServerGroupName::parse("app-v12"),
            Err(NamingError::NotAServerGroup(_))
        ));
    }

    #[test]
    fn sequences_wrap_at_one_thousand() {
        assert_eq!(next_sequence(None), 0);
        assert_eq!(next_sequence(Some(0)), 1);
        assert_eq!(next_sequence(Some(998)), 999);
        assert_eq!(next_sequence(Some(999)), 0);
        let cluster = ClusterName::parse("app").unwrap();
        assert_eq!(cluster.server_group(next_sequence(Some(6))), "app-v007");
    }

    #[test]
    fn moniker_has_deck_fields() {
        let moniker = ServerGroupName::parse("app-prod-v003").unwrap().moniker();
        assert_eq!(
            serde_json::to_value(moniker).unwrap(),
            serde_json::json!({"app": "app", "cluster": "app-prod", "stack": "prod", "detail": null, "sequence": 3})
        );
    }

    fn part(pattern: &'static str) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(pattern).prop_map(|p| p.filter(|p: &String| !p.is_empty()))
    }

    proptest! {
        #[test]
        fn server_group_names_round_trip(
            app in "[a-zA-Z0-9._]{1,12}",
            stack in part("[a-zA-Z0-9._]{0,8}"),
            detail in part("[a-zA-Z0-9._~^][a-zA-Z0-9._~^-]{0,10}"),
            sequence in 0u32..1000,
        ) {
            let Ok(cluster) = ClusterName::new(&app, stack.as_deref(), detail.as_deref()) else {
                // Only a push-number-like stack or detail is refused.
                prop_assume!(false);
                unreachable!()
            };
            let name = cluster.server_group(sequence);
            let parsed = ServerGroupName::parse(&name).unwrap();
            prop_assert_eq!(&parsed.cluster, &cluster);
            prop_assert_eq!(parsed.sequence, sequence);
            prop_assert_eq!(parsed.to_string(), name);
        }

        #[test]
        fn next_sequence_stays_below_one_thousand(latest in proptest::option::of(0u32..1000)) {
            let next = next_sequence(latest);
            prop_assert!(next < 1000);
            prop_assert_eq!(next, latest.map_or(0, |l| if l == 999 { 0 } else { l + 1 }));
        }
    }
}
