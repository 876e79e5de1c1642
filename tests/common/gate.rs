//! A proxy in front of the emulator that holds requests from a chosen one on, so that a test
//! acts on a sync known to be part way.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use verilens::emulator::RunningEmulator;

/// A proxy in front of the emulator that stops answering at a chosen request: once armed
/// with `hold_from(n)`, its `n`-th request and every one after it wait until `release`. A test can
/// then act on a sync that is known to be part way, after a number of requests rather than
/// of milliseconds, and that cannot finish meanwhile.
pub struct Gate {
    upstream: String,
    http: reqwest::Client,
    seen: std::sync::atomic::AtomicU64,
    hold_from: std::sync::atomic::AtomicU64,
    held: tokio::sync::Notify,
    released: tokio::sync::Notify,
}

impl Gate {
    pub async fn start(upstream: &RunningEmulator) -> (Arc<Gate>, String) {
        let gate = Arc::new(Gate {
            upstream: upstream.base_url(),
            http: reqwest::Client::new(),
            seen: 0.into(),
            hold_from: u64::MAX.into(),
            held: tokio::sync::Notify::new(),
            released: tokio::sync::Notify::new(),
        });
        let app = Router::new().fallback(forward).with_state(gate.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (gate, url)
    }

    /// Counts requests from zero again; the `n`-th from now on (1-based) and all later ones are held.
    pub fn hold_from(&self, n: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        self.seen.store(0, SeqCst);
        self.hold_from.store(n, SeqCst);
    }

    /// Resolves once a request is being held (at once if one was held since the last call).
    pub async fn holding(&self) {
        self.held.notified().await;
    }

    /// Lets the held requests, and every one after them, through.
    pub fn release(&self) {
        self.hold_from.store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        self.released.notify_waiters();
    }
}

async fn forward(
    axum::extract::State(gate): axum::extract::State<Arc<Gate>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    use std::sync::atomic::Ordering::SeqCst;
    let n = gate.seen.fetch_add(1, SeqCst) + 1;
    let hold_from = gate.hold_from.load(SeqCst);
    if n >= hold_from {
        if n == hold_from {
            gate.held.notify_one();
        }
        loop {
            let released = gate.released.notified();
            if gate.hold_from.load(SeqCst) > n {
                break;
            }
            released.await;
        }
    }
    let url = format!("{}{}", gate.upstream, uri.path_and_query().map_or("", |p| p.as_str()));
    let mut request = gate.http.get(url);
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        request = request.header(axum::http::header::AUTHORIZATION, auth);
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let content_type = answer.headers().get(axum::http::header::CONTENT_TYPE).cloned();
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert(axum::http::header::CONTENT_TYPE, content_type);
    }
    response
}
