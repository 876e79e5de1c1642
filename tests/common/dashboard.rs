//! The dashboard as tests meet it: served on a loopback port, on the test's runtime.
//!
//! Not through `oneshot`: driven that way on a multi-threaded runtime, some pages panicked
//! with "a reactive value that has already been disposed" (the page's body outliving the
//! handler's future), which a server on a port has not shown.

use std::net::SocketAddr;

use verilens::server;
use verilens::state::AppState;
use verilens::store::Store;

/// A dashboard over `store` as `verilens serve` sets it up, then changed by `configure`.
pub fn state(store: impl Into<Store>, addr: SocketAddr, configure: impl FnOnce(&mut AppState)) -> AppState {
    let mut state = AppState::new(server::leptos_options(addr), store);
    configure(&mut state);
    state
}

/// A dashboard served on a loopback port until the test's runtime ends.
pub struct Served {
    pub base: String,
    pub addr: SocketAddr,
}

pub async fn serve(store: impl Into<Store>, configure: impl FnOnce(&mut AppState)) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server::router(state(store, addr, configure));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Served { base: format!("http://{addr}"), addr }
}
