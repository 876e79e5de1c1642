//! What every handler and server function of the dashboard shares.

use std::sync::Arc;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use leptos::config::LeptosOptions;

use crate::analytics::RollupCache;
use crate::filters::ParsedFilters;
use crate::security::BasicAuth;
use crate::site::Site;
use crate::store::{RawScans, Store};
use crate::sync::SyncProgress;

/// The dashboard's state: handlers take its parts as `State<…>`, server functions take it
/// whole from the context the router provides.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The snapshot: a sqlite file or a PostgreSQL database. What this process writes, and
    /// what users edit (saved views, alert rules, annotations), is read and written here.
    pub store: Store,
    /// Where the figures are read from (rollups, attempts, the sync's status): the snapshot
    /// itself, or a read replica of it (`--read-db`).
    #[from_ref(skip)]
    pub figures: Store,
    /// The snapshot's rollups in memory.
    pub rollups: Arc<RollupCache>,
    /// The turns of the views that read raw rows.
    pub raw_scans: RawScans,
    pub progress: SyncProgress,
    /// The data comes from the built-in emulator.
    #[from_ref(skip)]
    pub demo: bool,
    /// Show phone numbers in full instead of masked.
    #[from_ref(skip)]
    pub show_phone_numbers: bool,
    /// Credentials every route but `/healthz` asks for.
    #[from_ref(skip)]
    pub basic_auth: Option<BasicAuth>,
    /// The time the dashboard's views are relative to, when pinned (`--now`); the clock otherwise.
    #[from_ref(skip)]
    pub pinned_now: Option<DateTime<Utc>>,
    /// The API the sync reads, a client per account, for what a page asks of it live (each
    /// client's rate limit is its account's sync's).
    #[from_ref(skip)]
    pub apis: Vec<Arc<crate::twilio::TwilioClient>>,
    /// Serve `/metrics`.
    #[from_ref(skip)]
    pub metrics: bool,
    /// Where the wasm, JS and CSS are served from.
    #[from_ref(skip)]
    pub site: Site,
    /// Saved views, alert rules and digests cannot be changed.
    #[from_ref(skip)]
    pub read_only: bool,
    /// The token scripts add annotations with (`POST /api/annotations`); off without one.
    #[from_ref(skip)]
    pub annotations_token: Option<Arc<str>>,
    /// Where alerts go, and how they are evaluated and retried.
    #[from_ref(skip)]
    pub alerts: Arc<crate::alerts::AlertSettings>,
}

impl AppState {
    /// A dashboard on `store` with nothing else set: phone numbers masked, no credentials
    /// asked, the clock's time, rollups loaded on the first view.
    pub fn new(leptos_options: LeptosOptions, store: impl Into<Store>) -> AppState {
        let store = store.into();
        AppState {
            leptos_options,
            figures: store.clone(),
            store,
            rollups: Arc::default(),
            raw_scans: RawScans::default(),
            progress: SyncProgress::default(),
            demo: false,
            show_phone_numbers: false,
            basic_auth: None,
            pinned_now: None,
            apis: Vec::new(),
            metrics: false,
            site: Site::locate(),
            read_only: false,
            annotations_token: None,
            alerts: Arc::default(),
        }
    }

    /// What "now" is for the views: the pinned time, or the clock's.
    pub fn now(&self) -> DateTime<Utc> {
        self.pinned_now.unwrap_or_else(Utc::now)
    }

    /// A view's URL query, under this deployment's masking of phone numbers.
    pub fn parse_view(&self, query: &str) -> ParsedFilters {
        crate::privacy::parse_view(query, !self.show_phone_numbers)
    }
}
