//! Wiring of `verilens serve`: state, routes, background sync.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use chrono::Utc;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use sqlx::SqlitePool;
use tower_http::compression::CompressionLayer;

use crate::app::{App, shell};
use crate::filters::parse_query;
use crate::report::{Overview, SnapshotStatus};
use crate::store::{self, StoreError};
use crate::sync::{SyncOptions, SyncProgress, sync_once};
use crate::twilio::TwilioClient;

/// Everything a request handler or server function needs.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: SqlitePool,
    pub progress: SyncProgress,
    /// The data comes from the built-in emulator.
    pub demo: bool,
}

/// The overview for a raw URL query; what the `load_overview` server function returns.
pub async fn load_overview(state: &AppState, search: &str) -> Result<Overview, StoreError> {
    let snapshot = snapshot_status(state).await?;
    crate::analytics::overview(&state.pool, parse_query(search), Utc::now().date_naive(), snapshot).await
}

async fn snapshot_status(state: &AppState) -> Result<SnapshotStatus, StoreError> {
    let progress = state.progress.snapshot();
    Ok(SnapshotStatus {
        as_of: store::snapshot_as_of(&state.pool).await?,
        demo: state.demo,
        syncing: progress.running,
        last_error: match progress.last_error {
            Some(e) => Some(e),
            None => store::last_sync_error(&state.pool).await?,
        },
    })
}

/// The dashboard's router: pages, server functions, static files, `/healthz`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let context_state = state.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new())
        .with_state(state)
}

/// Liveness, and whether the snapshot has completed a sync (for scripts that wait on it).
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let as_of = store::snapshot_as_of(&state.pool).await.ok().flatten();
    let body = serde_json::json!({
        "status": "ok",
        "synced": as_of.is_some(),
        "as_of": as_of,
        "syncing": state.progress.snapshot().running,
    });
    axum::Json(body).into_response()
}

/// Leptos options for the built site: `target/site` beside the binary's `target/`, or
/// in the working directory, or `LEPTOS_SITE_ROOT`.
pub fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").map(PathBuf::from).unwrap_or_else(|_| {
        let beside_binary =
            std::env::current_exe().ok().and_then(|exe| exe.parent()?.parent().map(|target| target.join("site")));
        match beside_binary {
            Some(dir) if dir.join("pkg").exists() => dir,
            _ => PathBuf::from("target/site"),
        }
    });
    LeptosOptions::builder()
        .output_name("verilens")
        .site_root(site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// Syncs every `every`, logging failures; the dashboard keeps serving the last snapshot.
pub fn spawn_periodic_sync(
    pool: SqlitePool,
    client: Arc<TwilioClient>,
    progress: SyncProgress,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match sync_once(&pool, &client, &progress, &SyncOptions::default()).await {
                Ok(report) => tracing::info!(
                    "sync: {} pages, {} new, {} updated attempts",
                    report.pages,
                    report.attempts_new,
                    report.attempts_updated
                ),
                Err(e) => tracing::error!("sync failed: {e}"),
            }
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
