//! Alerts and digests: saved views, rules on them evaluated from the snapshot after each
//! sync, and the messages their changes send (in-app inbox, Slack, signed webhooks, e-mail).
//!
//! A rule's state and the messages its change sends are written in one transaction (an
//! outbox, `store`); `deliver` sends what is due and retries what failed, so a restart
//! neither repeats nor forgets a message.

pub mod condition;
pub mod deliver;
pub mod destinations;
pub mod digest;
pub mod engine;
pub mod figures;
pub mod message;
pub mod pages;
pub mod store;

pub use condition::{Condition, Evaluation, SpendPer};
pub use destinations::{DestinationKind, Destinations};
pub use engine::AlertSettings;
pub use message::Message;

/// What can go wrong in alerts: the snapshot, a form's input, a destination.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("the snapshot could not be read or written: {0}")]
    Snapshot(#[from] sqlx::Error),
    #[error(transparent)]
    Figures(#[from] crate::store::StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Destination(String),
}
