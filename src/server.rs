//! Wiring of `verilens serve`: routes, CSV downloads, background sync, shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{Stream, TryStreamExt};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use sqlx::SqlitePool;
use tokio::sync::mpsc::Sender;

use crate::app::{App, shell};
use crate::export::{AttemptsCsv, breakdown_csv};
use crate::filters::Filters;
use crate::http_error::HttpError;
use crate::state::AppState;
use crate::store::{self, StoreError};
use crate::sync::{SyncError, SyncOptions, SyncProgress, sync_once};
use crate::twilio::TwilioClient;
use crate::views::mask;

/// `/export.csv`: the breakdown table of the same query, as CSV.
async fn export_csv(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let filters = match view_filters(&state, query) {
        Ok(filters) => filters,
        Err(refused) => return refused.into_response(),
    };
    let (start, end) = filters.range.bounds(state.now());
    let scope = store::AttemptScope {
        from: crate::model::twilio_time::format(&start),
        to: crate::model::twilio_time::format(&end),
        filters: &filters,
    };
    let index = match state.rollups.get(&state.figures).await {
        Ok(index) => index,
        Err(source) => return HttpError::Snapshot { what: "export", source }.into_response(),
    };
    let rows = match crate::analytics::breakdown(&state.figures, &state.raw_scans, &index, &scope).await {
        Ok(mut rows) => crate::analytics::add_unconverted_verification_spend(
            &state.figures,
            &state.raw_scans,
            &index,
            &scope,
            &mut rows,
        )
        .await
        .map(|_| rows),
        Err(e) => Err(e),
    };
    match rows {
        Ok(rows) => {
            let services = match state.figures.friendly_names().await {
                Ok(names) => crate::model::FriendlyNames(names),
                Err(source) => return HttpError::Snapshot { what: "export", source }.into_response(),
            };
            csv_response(&format!("verilens-by-{}.csv", filters.by.as_str()), breakdown_csv(&filters, &rows, &services))
        }
        Err(source) => HttpError::Snapshot { what: "export", source }.into_response(),
    }
}

/// `/what-to-do.csv`: the overview's "What to do" for the same query, a line per entry.
async fn what_to_do_csv_handler(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let filters = match view_filters(&state, query) {
        Ok(filters) => filters,
        Err(refused) => return refused.into_response(),
    };
    match crate::views::load_what_to_do(&state, &filters).await {
        Ok(what) => csv_response("verilens-what-to-do.csv", crate::export::what_to_do_csv(&what)),
        Err(source) => HttpError::Snapshot { what: "export", source }.into_response(),
    }
}

/// `/funnel.csv`: the overview's retry funnel for the same query.
async fn funnel_csv_handler(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let filters = match view_filters(&state, query) {
        Ok(filters) => filters,
        Err(refused) => return refused.into_response(),
    };
    match crate::views::load_funnel(&state, &filters).await {
        Ok(funnel) => csv_response("verilens-retries.csv", crate::export::funnel_csv(&funnel)),
        Err(source) => HttpError::Snapshot { what: "export", source }.into_response(),
    }
}

/// An export's view: its filters, or a 400 naming what is wrong with them (a page shows the
/// notices and goes on; a file would hide them).
fn view_filters(state: &AppState, query: Option<String>) -> Result<Filters, HttpError> {
    let parsed = state.parse_view(query.as_deref().unwrap_or_default());
    if !parsed.notices.is_empty() {
        return Err(HttpError::InvalidParameters(parsed.notices));
    }
    Ok(parsed.filters)
}

/// `/attempts.csv`: every attempt of the same query, newest first, as CSV streamed a chunk
/// at a time. The request deadline (`guards::REQUEST_DEADLINE`, tower-http's `TimeoutLayer`)
/// times the answer until its headers, not its body, so it does not cut a long export.
async fn attempts_csv_handler(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let filters = match view_filters(&state, query) {
        Ok(filters) => filters,
        Err(refused) => return refused.into_response(),
    };
    csv_response("verilens-attempts.csv", Body::from_stream(attempts_csv_chunks(state, filters)))
}

/// Chunks of CSV a client has not taken yet, at most: with the chunk being encoded and
/// sqlx's row channel, all an export holds in memory, whatever its rows.
const CHUNKS_IN_FLIGHT: usize = 2;

/// The chunks of an attempts export (`AttemptsCsv`), from a task that reads the rows as the
/// client takes the chunks, and stops when it leaves. A failed read ends the body with an
/// error, so the client sees a cut transfer, not a short CSV.
fn attempts_csv_chunks(state: AppState, filters: Filters) -> impl Stream<Item = std::io::Result<String>> {
    let (chunks, mut taken) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        if let Err(e) = send_attempts_csv(&state, &filters, &chunks).await {
            tracing::error!("attempts export: {e:?}");
            hand_over(&chunks, Err(std::io::Error::other("the snapshot could not be read"))).await;
        }
    });
    futures_util::stream::poll_fn(move |cx| taken.poll_recv(cx))
}

async fn send_attempts_csv(
    state: &AppState,
    filters: &Filters,
    chunks: &Sender<std::io::Result<String>>,
) -> Result<(), StoreError> {
    let (start, end) = filters.range.bounds(state.now());
    let scope = store::AttemptScope {
        from: crate::model::twilio_time::format(&start),
        to: crate::model::twilio_time::format(&end),
        filters,
    };
    let mut scan = store::AttemptScan::start(&state.figures, &state.raw_scans, &scope).await;
    let mut rows = scan.rows();
    let services = crate::model::FriendlyNames(state.figures.friendly_names().await?);
    let mut csv = AttemptsCsv::new(services);
    while let Some(mut attempt) = rows.try_next().await? {
        mask(state, &mut attempt);
        if let Some(chunk) = csv.push(&attempt)
            && !hand_over(chunks, Ok(chunk)).await
        {
            return Ok(());
        }
    }
    hand_over(chunks, Ok(csv.finish())).await;
    Ok(())
}

/// Whether the client took the chunk. A client that takes none for `REQUEST_DEADLINE` loses
/// the export, so that it cannot hold a raw scan's turn.
async fn hand_over(chunks: &Sender<std::io::Result<String>>, chunk: std::io::Result<String>) -> bool {
    matches!(tokio::time::timeout(crate::guards::REQUEST_DEADLINE, chunks.send(chunk)).await, Ok(Ok(())))
}

fn csv_response(filename: &str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body,
    )
        .into_response()
}

/// The dashboard's router: pages, server functions, static files, `/healthz`.
pub fn router(state: AppState) -> Router {
    router_with_deadline(state, crate::guards::REQUEST_DEADLINE)
}

/// The dashboard's router, each request answered within `deadline` (a 503 past it).
pub fn router_with_deadline(state: AppState, deadline: Duration) -> Router {
    let pages = page_routes();
    let options = state.leptos_options.clone();
    let context_state = state.clone();
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/export.csv", get(export_csv))
        .route("/attempts.csv", get(attempts_csv_handler))
        .route("/what-to-do.csv", get(what_to_do_csv_handler))
        .route("/funnel.csv", get(funnel_csv_handler))
        .route("/api/annotations", axum::routing::post(crate::annotations::api_create))
        .merge(crate::alerts::pages::routes())
        .leptos_routes_with_context(
            &state,
            pages,
            move || provide_context(context_state.clone()),
            move || shell(options.clone()),
        )
        .fallback(site_file_or_not_found);
    let routes = if state.metrics {
        routes
            .route("/metrics", get(crate::telemetry::metrics_page))
            .layer(axum::middleware::from_fn(crate::telemetry::time_request))
    } else {
        routes
    };
    let routes = routes.with_state(state.clone()).layer(axum::middleware::from_fn(crate::requests::admit_request));
    let guarded = crate::guards::guard_routes(routes, state.basic_auth, deadline);
    match crate::paths::base_path() {
        "" => guarded,
        _ => {
            // The layer wraps the inner router as this router's fallback: it routes the
            // request as rewritten.
            Router::new().fallback_service(guarded).layer(axum::middleware::from_fn(strip_base_path))
        }
    }
}

/// Handlers and pages see paths from the dashboard's root: the base path is taken off each
/// request's path, and a request outside it is a 404 (but for `/`, sent to the dashboard).
async fn strip_base_path(mut request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let base = crate::paths::base_path();
    let path = request.uri().path();
    let inner = match path.strip_prefix(base) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ if path == "/" => return axum::response::Redirect::temporary(&crate::paths::url("/")).into_response(),
        _ => return axum::http::StatusCode::NOT_FOUND.into_response(),
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{inner}?{query}"),
        None => inner,
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    match axum::http::Uri::from_parts(parts) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
    next.run(request).await
}

/// A file of the site (`/pkg/…`, `/echarts.min.js`, `/robots.txt`), or the page that says
/// there is no such page.
async fn site_file_or_not_found(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    if let Some(file) = state.site.respond(request.uri().path(), request.headers()) {
        return file;
    }
    let options = state.leptos_options.clone();
    let context_state = state.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(context_state.clone()),
        move || shell(options.clone()),
    );
    render(request).await
}

/// The pages' routes, generated once per process. While Leptos generates them it tells every
/// resource in the process not to load (one global flag), and a page whose data starts
/// loading in that window waits forever; generating them again for each router stalled pages
/// served by routers built before.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Liveness, and whether the snapshot has completed a sync (for scripts that wait on it).
async fn healthz(State(state): State<AppState>) -> Response {
    let as_of = state.figures.watermark().await.ok().flatten();
    let accounts = state.figures.account_syncs().await.unwrap_or_default();
    let body = serde_json::json!({
        "status": "ok",
        "synced": as_of.is_some(),
        "as_of": as_of,
        "syncing": state.progress.snapshot().running,
        "accounts": accounts,
    });
    axum::Json(body).into_response()
}

/// Leptos options for the site `Site::locate` finds.
pub fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("verilens")
        .site_root(crate::site::Site::locate().root())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// Syncs now (unless `first_now` is false) and then every `every`, logging failures: the
/// dashboard keeps serving the last snapshot. Ends at a page boundary once `options.stop` is signalled.
pub fn spawn_sync_loop(
    store: store::Store,
    clients: Vec<Arc<TwilioClient>>,
    progress: SyncProgress,
    every: Duration,
    first_now: bool,
    options: SyncOptions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stop = options.stop.clone();
        let mut wait = !first_now;
        loop {
            if wait {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = stop.stopped() => return,
                }
            }
            wait = true;
            // One account after another: the snapshot has one writer, each account its own rate limit.
            for client in &clients {
                let account = client.credentials().account_hint();
                match sync_once(&store, client, &progress, &options).await {
                    Ok(report) => tracing::info!(
                        "sync: {account}: {} pages, {} new, {} updated attempts",
                        report.pages,
                        report.attempts_new,
                        report.attempts_updated
                    ),
                    Err(SyncError::SyncedElsewhere) => {
                        tracing::debug!("sync: {account}: another process holds its lease and syncs it")
                    }
                    Err(SyncError::Stopped) => {
                        tracing::info!("sync stopped at a page boundary; the next start goes on from there");
                        return;
                    }
                    Err(e) => tracing::error!("sync failed: {account}: {e}"),
                }
            }
        }
    })
}

/// Backs the snapshot up into `dir` every `every`, keeping the `keep` newest; the first
/// backup is taken one period after start. A failure is logged and tried again next period.
pub fn spawn_backup_loop(
    pool: SqlitePool,
    dir: PathBuf,
    every: Duration,
    keep: usize,
    stop: crate::sync::StopSignal,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.stopped() => return,
            }
            match store::backup_into(&pool, &dir, chrono::Utc::now(), keep).await {
                Ok((path, copy)) => {
                    metrics::counter!("verilens_backups_total", "outcome" => "ok").increment(1);
                    tracing::info!("backed up to {}: {} attempts, {} bytes", path.display(), copy.attempts, copy.bytes)
                }
                Err(e) => {
                    metrics::counter!("verilens_backups_total", "outcome" => "failed").increment(1);
                    tracing::error!("scheduled backup failed: {e}")
                }
            }
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: a signal that arrives after a server said it is up is never
/// the default action's abrupt exit.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let received = |stream: std::io::Result<tokio::signal::unix::Signal>| async move {
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = received(interrupt) => {},
            () = received(terminate) => {},
        }
    }
}
