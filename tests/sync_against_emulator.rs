//! The sync against the emulator over real loopback HTTP into a real sqlite file,
//! checked against the API read independently with plain HTTP.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use verilens::emulator::{self, EmulatorConfig};
use verilens::model::twilio_time;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};
use verilens::twilio::{Credentials, RateLimiter, TwilioClient};

struct Fixture {
    running: emulator::RunningEmulator,
    config: EmulatorConfig,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
}

async fn fixture(attempts: u64) -> Fixture {
    let mut config = EmulatorConfig::new(11, attempts);
    // Pinned at the real time: the sync's window ends at the real clock, like Twilio's.
    config.now = twilio_time::parse(&twilio_time::format(&chrono::Utc::now()));
    config.rate_limit = 0;
    let running = emulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("snapshot.db");
    Fixture { running, config, _dir: dir, db }
}

fn client(f: &Fixture) -> TwilioClient {
    let c = &f.config.credentials;
    TwilioClient::new(
        &f.running.base_url(),
        Credentials::auth_token(c.account_sid.clone(), c.auth_token.clone()),
        Arc::new(RateLimiter::per_minute(0)),
    )
    .unwrap()
}

/// Every attempt the API shows, read page by page with plain HTTP.
async fn all_attempts_over_http(f: &Fixture) -> Vec<Value> {
    let http = reqwest::Client::new();
    let c = &f.config.credentials;
    let mut url = format!("{}/v2/Attempts?PageSize=500", f.running.base_url());
    let mut attempts = Vec::new();
    loop {
        let page: Value =
            http.get(&url).basic_auth(&c.account_sid, Some(&c.auth_token)).send().await.unwrap().json().await.unwrap();
        attempts.extend(page["attempts"].as_array().unwrap().iter().cloned());
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => url = next.to_string(),
            None => return attempts,
        }
    }
}

type CountryCounts = BTreeMap<String, (i64, i64)>;

fn counts_from_api(attempts: &[Value]) -> CountryCounts {
    let mut counts = CountryCounts::new();
    for a in attempts {
        let country = a["channel_data"]["country"].as_str().unwrap_or_default().to_string();
        let entry = counts.entry(country).or_default();
        entry.0 += 1;
        entry.1 += i64::from(a["conversion_status"] == "converted");
    }
    counts
}

async fn counts_from_sqlite(db: &std::path::Path) -> CountryCounts {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT country, COUNT(*), SUM(conversion_status = 'converted') FROM attempts GROUP BY country")
            .fetch_all(&pool)
            .await
            .unwrap();
    rows.into_iter().map(|(c, n, k)| (c, (n, k))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_copies_every_attempt_and_is_idempotent() {
    let f = fixture(6_000).await;
    let pool = store::open(&f.db).await.unwrap();
    let client = client(&f);
    let progress = SyncProgress::default();

    let first = sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &progress, &SyncOptions::default())
        .await
        .unwrap();
    // The load's writer kept a small cache and left checkpoints to another connection: none of
    // that stays on the pool's connections, and the WAL, which held every page of the load, is
    // emptied once they are in the file.
    let [snapshot, wal] = [f.db.clone(), f.db.with_extension("db-wal")].map(|p| std::fs::metadata(p).unwrap().len());
    assert!(wal < snapshot / 4, "the WAL holds {wal} bytes after the load, the file {snapshot}");
    common::assert_connections_have_usual_settings(&pool).await;

    // The window starts 30 days before the run's real start, a moment after the emulator's
    // pinned clock, and ends, exclusive, at that start: the API's oldest second or so and its
    // newest are not the sync's to copy.
    let mut api = all_attempts_over_http(&f).await;
    api.retain(|a| common::in_run_window(&a["date_created"], &first));
    assert!(api.len() > 4_000, "the emulator shows {} attempts", api.len());
    assert_eq!(first.attempts_new as usize, api.len());
    assert_eq!(first.api_total, first.snapshot_total);
    assert_eq!(counts_from_sqlite(&f.db).await, counts_from_api(&api));
    // A first sync is a bulk load, whose writer sums the rollups as it writes; they are what
    // a rebuild from the attempts gives, including verifications counted one by one.
    let bulk: bool = sqlx::query_scalar("SELECT bulk FROM sync_runs WHERE id = ?")
        .bind(first.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(bulk);
    let irregular: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM irregular_attempts").fetch_one(&pool).await.unwrap();
    assert!(irregular > 0, "some verifications straddle an hour");
    assert_eq!(common::assert_rollups_equal_a_rebuild(&pool).await, api.len() as u64);

    let sids: std::collections::HashSet<&str> = api.iter().map(|a| a["sid"].as_str().unwrap()).collect();
    assert_eq!(sids.len(), api.len(), "the API lists every attempt once");

    let second = sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &progress, &SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(second.attempts_new, 0);
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
    assert_eq!(total as usize, api.len());
    assert!(!progress.snapshot().running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_with_more_verifications_than_it_sums_in_memory_counts_the_rest_at_its_end() {
    let f = fixture(3_000).await;
    let pool = store::open(&f.db).await.unwrap();
    let options = SyncOptions { summed_verifications: 100, ..SyncOptions::default() };
    let report =
        sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client(&f), &SyncProgress::default(), &options)
            .await
            .unwrap();
    let mut api = all_attempts_over_http(&f).await;
    api.retain(|a| common::in_run_window(&a["date_created"], &report));
    let verifications: std::collections::HashSet<&str> =
        api.iter().map(|a| a["verification_sid"].as_str().unwrap()).collect();
    assert!(verifications.len() > 1_000, "{} verifications", verifications.len());
    assert_eq!(report.attempts_new as usize, api.len());
    assert_eq!(counts_from_sqlite(&f.db).await, counts_from_api(&api));
    assert_eq!(common::assert_rollups_equal_a_rebuild(&pool).await, api.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stop_the_sync_with_a_clear_error() {
    let f = fixture(500).await;
    let pool = store::open(&f.db).await.unwrap();
    let client = TwilioClient::new(
        &f.running.base_url(),
        Credentials::auth_token(f.config.credentials.account_sid.clone(), "wrong".into()),
        Arc::new(RateLimiter::per_minute(0)),
    )
    .unwrap();
    let err = sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("rejected the credentials") && message.contains("20003"), "{message}");
    assert!(!message.contains("wrong"), "the secret stays out of messages: {message}");
    let status: String =
        sqlx::query_scalar("SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "failed");
}
