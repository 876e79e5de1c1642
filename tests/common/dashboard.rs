//! The dashboard as tests meet it: its router called directly (`oneshot`), or served on a
//! loopback port when a test needs real connections.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use sqlx::SqlitePool;
use tower::ServiceExt;
use verilens::server;
use verilens::state::AppState;

/// A dashboard over `pool` as `verilens serve` sets it up, then changed by `configure`.
pub fn state(pool: SqlitePool, addr: SocketAddr, configure: impl FnOnce(&mut AppState)) -> AppState {
    let mut state = AppState::new(server::leptos_options(addr), pool);
    configure(&mut state);
    state
}

/// The dashboard's router over `pool`, for `get` and `post_form`.
pub fn router(pool: SqlitePool, configure: impl FnOnce(&mut AppState)) -> Router {
    server::router(state(pool, SocketAddr::from(([127, 0, 0, 1], 0)), configure))
}

/// A dashboard served on a loopback port until the test's runtime ends.
pub struct Served {
    pub base: String,
    pub addr: SocketAddr,
}

pub async fn serve(pool: SqlitePool, configure: impl FnOnce(&mut AppState)) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server::router(state(pool, addr, configure));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Served { base: format!("http://{addr}"), addr }
}

/// An answer of the router, its body read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// `GET uri`, with Basic credentials `user:password` when given. Bytes a URL cannot hold
/// are escaped as a browser escapes them.
pub async fn get(app: &Router, uri: &str, credentials: Option<&str>) -> Answer {
    let mut request = Request::get(as_a_browser_sends(uri));
    if let Some(credentials) = credentials {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        request = request.header(header::AUTHORIZATION, format!("Basic {encoded}"));
    }
    call(app, request.body(Body::empty()).unwrap()).await
}

/// `POST uri` with a form body, as a page calls its server functions.
pub async fn post_form(app: &Router, uri: &str, form: String) -> Answer {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    call(app, request).await
}

/// `uri` with the bytes a browser escapes in a URL's query escaped (the WHATWG URL
/// standard's special-query set), so that any text can be sent as it would be.
pub fn as_a_browser_sends(uri: &str) -> String {
    let mut sent = String::with_capacity(uri.len());
    for byte in uri.bytes() {
        if byte <= b' ' || byte >= 0x7f || b"\"#<>'`{}|\\^".contains(&byte) {
            sent.push_str(&format!("%{byte:02X}"));
        } else {
            sent.push(byte as char);
        }
    }
    sent
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}
