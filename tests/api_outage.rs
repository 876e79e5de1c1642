//! The API going away, answering too slowly, or answering garbage after a good sync:
//! the dashboard keeps serving the last snapshot and its header says what went wrong.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use common::dashboard;
use verilens::emulator::EmulatorConfig;
use verilens::format::format_count;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};
use verilens::twilio::{Credentials, RateLimiter, RetryPolicy, TwilioClient};

fn client(base_url: &str, account: &str, token: &str, timeout: Duration) -> TwilioClient {
    TwilioClient::new(
        base_url,
        Credentials::auth_token(account.to_string(), token.to_string()),
        Arc::new(RateLimiter::per_minute(0)),
    )
    .unwrap()
    .with_timeout(timeout)
    .unwrap()
    .with_retry_policy(RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    })
}

/// An API at `base` whose every answer is `answer`, or that never answers (`None`).
async fn misbehaving_api(answer: Option<fn() -> axum::response::Response>) -> String {
    let handler = move || async move {
        match answer {
            Some(answer) => answer(),
            None => std::future::pending().await,
        }
    };
    let app = Router::new().route("/v2/Attempts", get(handler)).route("/v2/Attempts/Summary", get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A port nothing listens on, held by a bound socket that never listens so that no other
/// process can take it meanwhile: the API has gone away.
fn vanished_api() -> (String, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (format!("http://{addr}"), socket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_keeps_the_last_snapshot_and_says_what_went_wrong() {
    let mut config = EmulatorConfig::new(11, 6_000);
    config.rate_limit = 0;
    config.now = Some(common::emulator::now_to_the_second());
    let running = common::emulator::start(&config).await;
    let (account, token) = (config.credentials.account_sid.clone(), config.credentials.auth_token.clone());

    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("outage.db")).await.unwrap();
    let progress = SyncProgress::default();
    let good = client(&running.base_url(), &account, &token, Duration::from_secs(15));
    sync_once(&verilens::store::Store::Sqlite(pool.clone()), &good, &progress, &SyncOptions::default()).await.unwrap();
    let synced: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
    let total = format_count(synced as u64);

    let served = dashboard::serve(pool.clone(), |state| state.progress = progress.clone()).await;
    let page = || async { reqwest::get(format!("{}/?range=90d", served.base)).await.unwrap().text().await.unwrap() };
    let before = page().await;
    assert!(!before.contains("Last sync failed"));
    assert!(before.contains(&total), "the page shows the {total} attempts synced");

    let garbage = misbehaving_api(Some(|| "<html>502 upstream proxy</html>".into_response())).await;
    let slow = misbehaving_api(None).await;
    let (gone, _held) = vanished_api();
    let outages = [
        ("gone", gone, "could not reach 127.0.0.1"),
        ("garbage", garbage, "undecodable answer (HTTP 200) starting with \"&lt;html&gt;502 upstream proxy"),
        ("slow", slow, "no answer from 127.0.0.1"),
    ];
    for (what, url, expected) in outages {
        let broken = client(&url, &account, &token, Duration::from_millis(500));
        assert!(
            sync_once(&verilens::store::Store::Sqlite(pool.clone()), &broken, &progress, &SyncOptions::default())
                .await
                .is_err(),
            "{what}"
        );
        let during = page().await;
        assert!(during.contains("data-testid=\"sync-error\""), "{what}: the header shows the failure");
        let header = during.split("data-testid=\"sync-error\"").nth(1).unwrap_or_default();
        let header = &header[..header.find("</span>").unwrap_or(header.len())];
        assert!(header.contains(expected), "{what}: expected {expected:?} in the header, got {header}");
        assert!(during.contains(&total), "{what}: the last snapshot is still served");
        assert!(!during.contains(&token), "{what}: the token stays on the server");
    }

    // Once the API is back, the next good sync clears the message.
    sync_once(&verilens::store::Store::Sqlite(pool.clone()), &good, &progress, &SyncOptions::default()).await.unwrap();
    assert!(!page().await.contains("Last sync failed"));
}
