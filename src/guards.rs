//! What keeps one request from hanging or taking the dashboard down: a deadline on every
//! request, a panic answered with a 500, and server functions whose panics and errors become
//! page errors with their status; and every panic, wherever it happens, a line in the log.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::errors::{PageError, set_status};
use crate::security::{BasicAuth, require_basic_auth, security_headers};
use crate::store::StoreError;

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
    (StatusCode::INTERNAL_SERVER_ERROR, "verilens failed to answer this request; see the server log\n").into_response()
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

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => message,
        (None, Some(message)) => message,
        (None, None) => "(no message)",
    }
}

/// Runs a server function's work (`what` names it in the log). A store error becomes
/// `PageError::Snapshot`; a panic becomes `PageError::Internal`, because pages run their
/// server functions in detached tasks, where a panic would leave the page waiting forever.
/// Both are logged and set the answer's status.
pub async fn answer_server_fn<T>(
    what: &str,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, PageError> {
    let error = match AssertUnwindSafe(work).catch_unwind().await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e)) => {
            tracing::error!("{what}: {e:?}");
            PageError::Snapshot
        }
        Err(panic) => {
            tracing::error!("{what} panicked: {}", panic_message(panic.as_ref()));
            PageError::Internal
        }
    };
    set_status(error.status());
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_server_fn_is_an_internal_error() {
        let answer = answer_server_fn::<()>("panicking", async { panic!("at the calendar's end") }).await;
        assert_eq!(answer, Err(PageError::Internal));
        let message = format!("{}", answer.unwrap_err());
        assert!(!message.contains("calendar"), "the page shows no details: {message}");
        let answer = answer_server_fn::<()>("failing", async { Err(StoreError::Rollups("unreadable".into())) }).await;
        assert_eq!(answer, Err(PageError::Snapshot));
        assert_eq!(answer_server_fn("working", async { Ok(7) }).await, Ok(7));
    }
}
