//! Notifications (Echo's `AbstractEventNotificationAgent` and its subclasses), pure:
//! which notifications a lifecycle event fires ([`plan`]), with application-level
//! notifications merged in ([`merge_application_notifications`]), their texts (custom
//! `message` per `when`, evaluated as pipeline expressions) and link to the execution in the
//! UI, and the payload each channel sends ([`payload`]).

mod dispatch;
mod message;
pub mod payload;

pub use dispatch::{Outgoing, merge_application_notifications, plan};
pub use message::{Message, execution_link};

/// The `when` values of manual judgment notifications, sent when the judgment starts waiting
/// and when it is judged, never from plain stage events.
pub const MANUAL_JUDGMENT_WHENS: [&str; 3] = [
    "manualJudgment",
    "manualJudgmentContinue",
    "manualJudgmentStop",
];
