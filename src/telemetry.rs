//! What verilens tells its operator: the log (human-readable or JSON lines) and, with
//! `--metrics`, `/metrics` in Prometheus' text format.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event; colours only on a terminal.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Sends the log to stderr in `format`, at the level `RUST_LOG` asks for (`info` otherwise).
pub fn init_log(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}

/// Seconds a request may take, as the latency histograms' bucket bounds.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process's metrics recorder, installed on first use; the metrics of the code that
/// ran before are not kept (nothing records them).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .expect("bucket bounds are given")
            .install_recorder()
            .expect("verilens installs the only metrics recorder");
        metrics::describe_counter!("verilens_sync_pages_total", "Pages of attempts the sync has fetched.");
        metrics::describe_counter!("verilens_sync_attempts_total", "Attempts the sync has fetched.");
        metrics::describe_counter!("verilens_sync_runs_total", "Sync runs, by how they ended.");
        metrics::describe_counter!("verilens_api_requests_total", "Requests made to the Attempts API.");
        metrics::describe_counter!("verilens_api_errors_total", "Failed API requests, by HTTP status or failure.");
        metrics::describe_counter!("verilens_rate_limiter_waits_total", "Times a request waited for the rate limit.");
        metrics::describe_counter!(
            "verilens_rate_limiter_wait_microseconds_total",
            metrics::Unit::Microseconds,
            "Time requests waited for the rate limit."
        );
        metrics::describe_histogram!(
            "verilens_rollup_refresh_seconds",
            metrics::Unit::Seconds,
            "Time to load the snapshot's rollups into memory."
        );
        metrics::describe_histogram!(
            "verilens_http_request_duration_seconds",
            metrics::Unit::Seconds,
            "Time to answer a request (until its headers), by route."
        );
        metrics::describe_gauge!(
            "verilens_sync_lag_seconds",
            metrics::Unit::Seconds,
            "Now minus the sync's watermark."
        );
        metrics::describe_gauge!("verilens_snapshot_bytes", metrics::Unit::Bytes, "Size of the snapshot's files.");
        metrics::describe_gauge!("verilens_build_info", "1, labelled with the version and commit.");
        metrics::gauge!(
            "verilens_build_info",
            "version" => env!("CARGO_PKG_VERSION"),
            "commit" => env!("VERILENS_COMMIT")
        )
        .set(1.0);
        handle
    })
}

/// Times each request by its route (the pattern, never the path a client sent).
pub async fn time_request(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("other", |p| p.as_str()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("verilens_http_request_duration_seconds", "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `/metrics`: the recorder's metrics, with the snapshot's lag and size as of now.
pub async fn metrics_page(State(state): State<AppState>) -> Response {
    let handle = metrics_handle();
    if let Ok(Some(watermark)) = state.figures.watermark().await
        && let Some(at) = crate::model::twilio_time::parse(&watermark)
    {
        let lag = (state.now() - at).num_milliseconds() as f64 / 1000.0;
        metrics::gauge!("verilens_sync_lag_seconds").set(lag.max(0.0));
    }
    if let Ok(bytes) = state.store.bytes().await {
        metrics::gauge!("verilens_snapshot_bytes").set(bytes as f64);
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], handle.render())
        .into_response()
}
