//! Who is looking at a page, and what they may do there (Fiat's model, see `crate::access`).
//!
//! The server refuses every action the caller may not take (the Gate routes the UI calls
//! check their rules); pages only decide what to offer: an action the caller may not take
//! is left out or shown disabled with the reason, and a config they may not change is shown
//! read-only. [`attach`] gives each UI request its [`Access`] (permissions are looked up
//! once per request and application, then cached) and makes the caller's identity known to
//! the page shell, which shows it in the header.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use gennaker_auth::Authorization;
use maud::{Markup, html};

use crate::AppState;
use crate::access::Access;
use crate::identity::Identity;

tokio::task_local! {
    /// The caller of the UI request being answered, for the header of every page.
    static VIEWER: Identity;
}

/// Middleware on the UI pages: the request's [`Access`] in its extensions, its identity
/// for the header.
pub async fn attach(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let identity = request
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_else(Identity::anonymous);
    request
        .extensions_mut()
        .insert(Access::new(&state, identity.clone()));
    VIEWER.scope(identity, next.run(request)).await
}

/// The identity of the request being answered; anonymous outside one.
pub fn current() -> Identity {
    VIEWER
        .try_with(Identity::clone)
        .unwrap_or_else(|_| Identity::anonymous())
}

/// What the caller may do on the application a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// WRITE: save, rename, enable/disable, delete or restore pipeline configs.
    pub write: bool,
    /// EXECUTE: start, cancel, pause, resume, restart and judge executions.
    pub execute: bool,
}

impl Allowed {
    /// The caller's authorizations on `application`. A failed lookup offers nothing (the
    /// server would decide the same way when the action is tried).
    pub async fn on(access: &Access, application: &str) -> Self {
        let may = |authorization| async move {
            access
                .may(application, authorization)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(application, %authorization, error = %error.message, "permission lookup failed; offering no action");
                    false
                })
        };
        Self {
            write: may(Authorization::Write).await,
            execute: may(Authorization::Execute).await,
        }
    }
}

/// Why an action is not offered: `what` needs `authorization` on `application`.
pub fn needs(what: &str, authorization: Authorization, application: &str) -> String {
    format!(
        "{what} needs {authorization} permission on {application}, which {} does not have.",
        current().user
    )
}

/// The note at the top of a page where some actions are not offered.
pub fn read_only_note(application: &str, allowed: Allowed, actions: &[Authorization]) -> Markup {
    let missing: Vec<&str> = actions
        .iter()
        .filter_map(|authorization| match authorization {
            Authorization::Write if !allowed.write => Some("change its pipelines (WRITE)"),
            Authorization::Execute if !allowed.execute => {
                Some("start, stop or judge its executions (EXECUTE)")
            }
            _ => None,
        })
        .collect();
    html! {
        @if !missing.is_empty() {
            p.notice.read-only #permission-note {
                strong { "Read-only. " }
                "You (" (current().user) ") may view " (application) " but not " (missing.join(" or ")) ". Ask its owners for access."
            }
        }
    }
}
