//! What keeps one request from hanging or taking the dashboard down: a deadline on every
//! request, a panic answered with a 500, and server functions whose panics and errors become
//! page errors with their status; and every panic, wherever it happens, a line in the log.

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;

use crate::http_error::HttpError;
use crate::security::{BasicAuth, require_basic_auth, security_headers};

/// How long any request may take; a CSV of a year of a million attempts takes a few seconds.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

/// `routes` behind Basic auth (when set), with a panic answered by a 500, a deadline answered
/// by a 503, and the security headers on every answer, those included.
pub fn guard_routes(routes: Router, basic_auth: Option<BasicAuth>, deadline: Duration) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(basic_auth, require_basic_auth))
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, deadline))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(CompressionLayer::new())
}

/// The emulator's routes with a panic answered by a 500 and a deadline answered by a 503.
pub fn guard_api(routes: Router, deadline: Duration) -> Router {
    routes
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, deadline))
}

fn answer_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request panicked: {}", panic_message(panic.as_ref()));
    HttpError::Panicked.into_response()
}

/// Sends every panic (in a request, a spawned task, any thread) to the log as one line with
/// its message and place, instead of the standard hook's lines on stderr beside the log.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload()).split_whitespace().collect::<Vec<_>>().join(" ");
        match info.location() {
            Some(place) => tracing::error!("panic at {}:{}: {message}", place.file(), place.line()),
            None => tracing::error!("panic: {message}"),
        }
    }));
}

pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => message,
        (None, Some(message)) => message,
        (None, None) => "(no message)",
    }
}
