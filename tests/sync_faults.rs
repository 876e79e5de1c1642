//! The sync under faults: server errors, latency, the rate limit, kills at random
//! points, garbage, 429 storms, timeouts, and attempts that settle after the fact.

use crate::common;

use common::gate::Gate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use serde_json::Value;
use verilens::emulator::{self, EmulatorConfig, RunningEmulator};
use verilens::model::twilio_time;
use verilens::store;
use verilens::sync::{SyncError, SyncOptions, SyncProgress, sync_once};
use verilens::twilio::{Credentials, RateLimiter, RetryPolicy, TwilioClient, TwilioError};

fn now_pinned(offset: chrono::Duration) -> chrono::DateTime<Utc> {
    twilio_time::parse(&twilio_time::format(&(Utc::now() + offset))).unwrap()
}

async fn emulator(configure: impl FnOnce(&mut EmulatorConfig)) -> (RunningEmulator, EmulatorConfig) {
    let mut config = EmulatorConfig::new(5, 8_000);
    config.now = Some(now_pinned(chrono::Duration::zero()));
    config.rate_limit = 0;
    configure(&mut config);
    let running = common::emulator::start(&config).await;
    (running, config)
}

fn client_for(base_url: &str, config: &EmulatorConfig, per_minute: u32) -> TwilioClient {
    common::emulator::client_for(base_url, config, per_minute).with_retry_policy(RetryPolicy {
        max_retries: 10,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    })
}

/// Every attempt the API shows, by SID, read with plain HTTP from an emulator without
/// faults or a rate limit (a twin of the one under test: see `fault_free_twin`).
async fn api_attempts(running: &RunningEmulator, config: &EmulatorConfig) -> HashMap<String, Value> {
    assert!(config.fail_rate == 0.0 && config.rate_limit == 0, "the API is read from a twin without faults");
    let http = reqwest::Client::new();
    let c = &config.credentials;
    let mut url = format!("{}/v2/Attempts?PageSize=1000", running.base_url());
    let mut all = HashMap::new();
    loop {
        let response = http.get(&url).basic_auth(&c.account_sid, Some(&c.auth_token)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let page: Value = response.json().await.unwrap();
        for a in page["attempts"].as_array().unwrap() {
            all.insert(a["sid"].as_str().unwrap().to_string(), a.clone());
        }
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => url = next.to_string(),
            None => return all,
        }
    }
}

/// An emulator with the same seed and clock as `config`'s, without its faults, latency or
/// rate limit: what the API holds, read without disturbing the one under test.
async fn fault_free_twin(
    config: &EmulatorConfig,
    clock: Option<chrono::DateTime<Utc>>,
) -> (RunningEmulator, EmulatorConfig) {
    let twin_config = EmulatorConfig { latency: Duration::ZERO, fail_rate: 0.0, rate_limit: 0, ..config.clone() };
    let twin = emulator::start(twin_config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    if let Some(clock) = clock {
        twin.emulator.set_clock(clock);
    }
    (twin, twin_config)
}

/// (message_status, price) per SID in the snapshot.
async fn snapshot_rows(pool: &sqlx::SqlitePool) -> HashMap<String, (Option<String>, Option<f64>)> {
    let rows: Vec<(String, Option<String>, Option<f64>)> =
        sqlx::query_as("SELECT sid, message_status, price FROM attempts").fetch_all(pool).await.unwrap();
    rows.into_iter().map(|(sid, status, price)| (sid, (status, price))).collect()
}

fn api_row(a: &Value) -> (Option<String>, Option<f64>) {
    (
        a["channel_data"]["message_status"].as_str().map(str::to_string),
        a["price"]["value"].as_str().map(|v| v.parse().unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_completes_through_500s_latency_and_the_rate_limit() {
    let (running, config) = emulator(|c| {
        c.fail_rate = 0.1;
        c.latency = Duration::from_millis(15);
        c.rate_limit = 40;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("s.db")).await.unwrap();
    let client = client_for(&running.base_url(), &config, 40);
    let options = SyncOptions { page_size: 500, ..SyncOptions::default() };
    let report = sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &SyncProgress::default(), &options)
        .await
        .unwrap();
    assert_eq!(report.api_total, report.snapshot_total);

    // The window starts 30 days before the run's real start, a moment after the emulator's
    // pinned clock, and ends, exclusive, at that start: the API's oldest second or so and its
    // newest are not the sync's to copy.
    let (twin, twin_config) = fault_free_twin(&config, None).await;
    let mut api = api_attempts(&twin, &twin_config).await;
    api.retain(|_, a| common::in_run_window(&a["date_created"], &report));
    let snapshot = snapshot_rows(&pool).await;
    assert_eq!(snapshot.len(), api.len());
    for (sid, attempt) in &api {
        assert_eq!(snapshot.get(sid), Some(&api_row(attempt)), "{sid}");
    }
}

/// `verilens sync` as a child process against `base_url` (the emulator or a gate in front
/// of it), with its output captured.
fn sync_command(db: &std::path::Path, base_url: &str, config: &EmulatorConfig) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"));
    command
        .args(["sync", "--db"])
        .arg(db)
        .env("TWILIO_ACCOUNT_SID", &config.credentials.account_sid)
        .env("TWILIO_AUTH_TOKEN", &config.credentials.auth_token)
        .env("VERILENS_API_URL", base_url)
        .env("VERILENS_RATE_LIMIT", "0")
        // Commits every few pages, so kills land between commits as well as inside them.
        .env("VERILENS_COMMIT_EVERY", "150ms")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Waits for a child that must exit by itself; a generous deadline turns a hang into a failure.
async fn exit_of(child: tokio::process::Child) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(300), child.wait_with_output()).await.expect("the sync exits").unwrap()
}

/// The snapshot holds every attempt of the API in the synced window once, with all its
/// indexes, and no run is left open. The API is read from a twin of the emulator without
/// its latency: same seed, same clock (`clock`, when the emulator's was moved on). The
/// window starts 30 days before the first complete run's real start, a moment after the
/// emulator's pinned clock, so the API's oldest seconds are not the sync's to copy; and once the
/// clock moves on, the API forgets its oldest attempts, which the snapshot keeps.
async fn assert_complete_snapshot(db: &std::path::Path, config: &EmulatorConfig, clock: Option<chrono::DateTime<Utc>>) {
    let (twin, twin_config) = fault_free_twin(config, clock).await;
    let pool = store::open(db).await.unwrap();
    assert_eq!(store::missing_attempt_indexes(&pool).await.unwrap(), Vec::<&str>::new());
    // What complete runs cover: a failed first run may have started a little earlier.
    let window_start = verilens::store::Store::from(pool.clone()).coverage_start().await.unwrap().unwrap();
    // Runs end where they started, exclusive: an attempt created in the very second the last
    // run began is the next run's to copy, though the API already shows it.
    let window_end = verilens::store::Store::from(pool.clone()).watermark().await.unwrap().unwrap();
    let mut api = api_attempts(&twin, &twin_config).await;
    api.retain(|_, a| {
        let created = a["date_created"].as_str().unwrap();
        created >= window_start.as_str() && created < window_end.as_str()
    });
    let oldest_listed = api.values().map(|a| a["date_created"].as_str().unwrap()).min().unwrap().to_string();
    let snapshot = snapshot_rows(&pool).await;
    let (total, distinct): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT sid) FROM attempts WHERE date_created >= ? AND date_created < ?",
    )
    .bind(&oldest_listed)
    .bind(&window_end)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(total, distinct, "nothing duplicated");
    let missing: Vec<(&String, &Value)> =
        api.iter().filter(|(sid, _)| !snapshot.contains_key(*sid)).map(|(sid, a)| (sid, &a["date_created"])).collect();
    let runs = if missing.is_empty() { String::new() } else { runs_and_slices_covering(&pool, &missing).await };
    assert_eq!(
        total as usize,
        api.len(),
        "nothing missing or extra in {oldest_listed}..{window_end}; missing: {missing:?}\nthe runs, and the slices that cover the missing attempts:\n{runs}"
    );
    assert!(api.keys().all(|sid| snapshot.contains_key(sid)), "every attempt is in the snapshot");
    let running_runs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sync_runs WHERE status = 'running'").fetch_one(&pool).await.unwrap();
    assert_eq!(running_runs, 0);
    assert_rollups_match_attempts(&pool).await;
}

/// Every run, and the slices whose window holds one of `missing`'s times: what a failure of
/// `assert_complete_snapshot` needs to be explained.
async fn runs_and_slices_covering(pool: &sqlx::SqlitePool, missing: &[(&String, &Value)]) -> String {
    let mut text: Vec<String> = sqlx::query_scalar(
        "SELECT printf('run %d %s..%s %s bulk=%d api=%s snapshot=%s', id, window_start, window_end, status, bulk, \
         api_total, snapshot_total) FROM sync_runs ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (sid, created) in missing {
        let created = created.as_str().unwrap_or_default();
        let slices: Vec<String> = sqlx::query_scalar(
            "SELECT printf('slice %d of run %d: %s..%s done=%d next=%s', slice, run_id, window_start, window_end, \
             done, next_page_url) FROM sync_slices WHERE window_start <= ? AND ? < window_end ORDER BY run_id, slice",
        )
        .bind(created)
        .bind(created)
        .fetch_all(pool)
        .await
        .unwrap();
        text.extend(slices.iter().map(|slice| format!("{sid} ({created}) is in {slice}")));
    }
    text.join("\n")
}

/// The rollups maintained with the pages count exactly the attempts written, as a rebuild would.
async fn assert_rollups_match_attempts(pool: &sqlx::SqlitePool) {
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(pool).await.unwrap();
    let rolled: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(attempts), 0) FROM rollup_attempts WHERE grain = 'day'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(rolled, attempts, "day rollups count every attempt once");
    assert_eq!(common::assert_rollups_equal_a_rebuild(pool).await, attempts as u64);
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(pool).await.unwrap();
    assert_eq!(integrity, "ok");
}

/// How many kills the kill test makes; `VERILENS_KILLS` raises it for longer runs.
fn kills_wanted() -> usize {
    std::env::var("VERILENS_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

/// Starts `count` syncs through the gate and SIGKILLs each while it waits for its `n`-th
/// request, `n` drawn from 1 to `most_requests`: from waiting for the Summary to several
/// pages in, with the writer idle, writing or committing the pages before. A sync that ends
/// before its `n`-th request fails the test, so every kill lands in a running sync.
async fn kill_syncs(
    db: &std::path::Path,
    gate: &(Arc<Gate>, String),
    config: &EmulatorConfig,
    count: usize,
    most_requests: u64,
    rng: &mut verilens::emulator::rng::Rng,
) {
    let (gate, url) = gate;
    for kill in 0..count {
        let n = 1 + rng.below(most_requests);
        gate.hold_from(n);
        let mut child = sync_command(db, url, config).spawn().unwrap();
        tokio::select! {
            () = gate.holding() => {}
            exited = child.wait() => panic!("sync {kill} ended before its request {n}: {exited:?}"),
        }
        child.kill().await.unwrap(); // SIGKILL
    }
    gate.hold_from(u64::MAX);
}

async fn sync_to_the_end(db: &std::path::Path, running: &RunningEmulator, config: &EmulatorConfig) {
    let output = exit_of(sync_command(db, &running.base_url(), config).spawn().unwrap()).await;
    assert!(output.status.success(), "the final sync completes: {}", String::from_utf8_lossy(&output.stderr));
}

/// Half the kills land in a first sync, a bulk load; the other half in later syncs, which
/// upsert the 36 hours the emulator's clock then moves on, within their 48-hour lookback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_syncs_resume_and_lose_or_duplicate_nothing() {
    let wanted = kills_wanted();
    let (running, config) = emulator(|c| {
        c.attempts = 5_000 * wanted as u64;
        c.now = Some(now_pinned(chrono::Duration::hours(-36)));
    })
    .await;
    let gate = Gate::start(&running).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let mut rng = verilens::emulator::rng::Rng::new(9);
    // A first sync of this window fetches 5 pages per kill wanted; each kill lets the Summary
    // and at most 6 pages through, so the load is never done before its last kill.
    kill_syncs(&db, &gate, &config, wanted / 2, 8, &mut rng).await;
    sync_to_the_end(&db, &running, &config).await;
    assert_complete_snapshot(&db, &config, None).await;

    // A later sync re-reads 48 hours at least: a Summary, a page or more for each of 4
    // slices, and a Summary again, so at least 6 requests.
    let later = now_pinned(chrono::Duration::zero());
    running.emulator.set_clock(later);
    kill_syncs(&db, &gate, &config, wanted - wanted / 2, 6, &mut rng).await;
    sync_to_the_end(&db, &running, &config).await;
    assert_complete_snapshot(&db, &config, Some(later)).await;
    let pool = store::open(&db).await.unwrap();
    let bulk: Vec<bool> = sqlx::query_scalar("SELECT bulk FROM sync_runs ORDER BY id").fetch_all(&pool).await.unwrap();
    assert!(bulk[0] && bulk.len() > 2 && !bulk[bulk.len() - 1], "a bulk load, then upserts: {bulk:?}");
    println!("{wanted} kills survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_sync_at_a_page_boundary_and_the_next_run_resumes() {
    let (running, config) = emulator(|c| c.attempts = 60_000).await;
    let gate = Gate::start(&running).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stopped.db");
    // The Summary and 11 pages go through; the 13th request and all later ones are held,
    // so the sync is part way when it is told to stop, and cannot finish meanwhile.
    gate.0.hold_from(13);
    let child = sync_command(&db, &gate.1, &config).spawn().unwrap();
    gate.0.holding().await;
    // Read-only, so the test never races the child's own migrations.
    let written = || async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display())).await.ok()?;
        let pages: Option<i64> =
            sqlx::query_scalar("SELECT MAX(pages) FROM sync_runs").fetch_one(&mut conn).await.ok()?;
        conn.close().await.ok();
        pages
    };
    // The held request stops the sync; the pages before it are committed within 150 ms.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while written().await.unwrap_or(0) < 2 {
        assert!(std::time::Instant::now() < deadline, "the sync wrote no pages");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(status.success());
    // The held request is never answered: the sync exits because it was told to.
    let output = exit_of(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("the sync was stopped after its last written page"), "{stderr}");

    let pool = store::open(&db).await.unwrap();
    let (status, pages, new): (String, i64, i64) =
        sqlx::query_as("SELECT status, pages, attempts_new FROM sync_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "running", "the stopped run is left for the next one to finish");
    assert!((2..=11).contains(&pages), "stopped part way, after {pages} pages");
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
    assert_eq!(total, new, "the run's record counts the pages it wrote");
    let indexes = store::missing_attempt_indexes(&pool).await.unwrap();
    assert_eq!(
        indexes.len(),
        store::attempt_index_names().len(),
        "a first sync's bulk load builds its indexes when it ends, not before"
    );
    pool.close().await;

    gate.0.hold_from(u64::MAX);
    let output = exit_of(sync_command(&db, &gate.1, &config).spawn().unwrap()).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_complete_snapshot(&db, &config, None).await;
}

/// Both writers: the first sync's bulk load, and upserts with their rollups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_sync_cleanly_and_loses_nothing_written() {
    let (running, config) = emulator(|c| c.attempts = 30_000).await;
    let client = client_for(&running.base_url(), &config, 0);
    for bulk_first_sync in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("full.db");
        // About 3 MB of 16 KiB pages: the schema fits, the month of attempts does not.
        let limits = store::OpenOptions { max_page_count: Some(200) };
        let pool = store::open_with(&db, &limits).await.unwrap();
        // A commit per page, and never on time: the disk fills up after a number of pages
        // have landed, whatever the machine's speed.
        let options = SyncOptions {
            slices: 1,
            commit_every: Duration::from_secs(3600),
            max_pages_per_commit: 1,
            bulk_first_sync,
            ..SyncOptions::default()
        };
        let error =
            sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &SyncProgress::default(), &options)
                .await
                .unwrap_err();
        assert!(matches!(error, SyncError::Store(store::StoreError::DiskFull(_))), "{error:?}");
        assert!(error.to_string().contains("disk is full"), "{error}");
        let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
        assert!(written > 0 && written < 30_000, "stopped part way, after {written} attempts");
        assert_eq!(written % 1000, 0, "whole pages of 1000 were committed, no part of one: {written}");
        let recorded: i64 = sqlx::query_scalar("SELECT attempts_new FROM sync_runs").fetch_one(&pool).await.unwrap();
        assert_eq!(recorded, written, "every written page is recorded with its attempts");
        if !bulk_first_sync {
            assert_rollups_match_attempts(&pool).await;
        }
        pool.close().await;

        // With space again, opening builds what a failed bulk load could not, and the next
        // run finishes the window.
        let pool = store::open(&db).await.unwrap();
        assert_eq!(store::missing_attempt_indexes(&pool).await.unwrap(), Vec::<&str>::new());
        assert_rollups_match_attempts(&pool).await;
        let report =
            sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &SyncProgress::default(), &options)
                .await
                .unwrap();
        assert_eq!(report.api_total, report.snapshot_total);
        pool.close().await;
        assert_complete_snapshot(&db, &config, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_that_settle_are_updated_by_the_next_run() {
    let start = now_pinned(chrono::Duration::hours(-6));
    let (running, config) = emulator(|c| c.now = Some(start)).await;
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("s.db")).await.unwrap();
    let client = client_for(&running.base_url(), &config, 0);
    sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    let unsettled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts WHERE message_status = 'sent'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(unsettled > 0, "recent attempts have not settled yet");

    running.emulator.set_clock(now_pinned(chrono::Duration::zero()));
    let second = sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    assert!(second.attempts_updated > 0 && second.attempts_new > 0, "{second:?}");

    let api = api_attempts(&running, &config).await;
    let snapshot = snapshot_rows(&pool).await;
    let mut compared = 0;
    for (sid, attempt) in &api {
        if common::in_run_window(&attempt["date_created"], &second) {
            assert_eq!(snapshot.get(sid), Some(&api_row(attempt)), "{sid}");
            compared += 1;
        }
    }
    assert!(compared > 100);
}

/// A stand-in for a broken API: a valid first page, then `later` for every other request;
/// `None` from `later` is an answer that never comes.
async fn broken_api(later: fn() -> Option<axum::response::Response>) -> String {
    let first_page = serde_json::json!({
        "attempts": [serde_json::from_str::<Value>(include_str!("data/attempt.json")).unwrap()],
        "meta": {
            "key": "attempts", "page": 0, "page_size": 1, "first_page_url": "/v2/Attempts?PageSize=1&Page=0",
            "previous_page_url": null, "url": "/v2/Attempts?PageSize=1&Page=0",
            "next_page_url": "/v2/Attempts?PageSize=1&Page=1&PageToken=PTnext"
        }
    });
    let summary = serde_json::json!({
        "total_attempts": 2, "total_converted": 0, "total_unconverted": 2,
        "conversion_rate_percentage": "0", "url": "/v2/Attempts/Summary"
    });
    let app = Router::new().route("/v2/Attempts/Summary", get(move || async move { axum::Json(summary) })).route(
        "/v2/Attempts",
        get(move |query: axum::extract::RawQuery, _: HeaderMap| async move {
            if query.0.unwrap_or_default().contains("PageToken") {
                match later() {
                    Some(answer) => answer,
                    None => std::future::pending().await,
                }
            } else {
                axum::Json(first_page).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn sync_against(
    base_url: &str,
    timeout: Duration,
) -> (Result<(), SyncError>, sqlx::SqlitePool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("s.db")).await.unwrap();
    let client = TwilioClient::new(
        base_url,
        Credentials::auth_token("AC00000000000000000000000000000000".into(), "token".into()),
        Arc::new(RateLimiter::per_minute(0)),
    )
    .unwrap()
    .with_timeout(timeout)
    .unwrap()
    .with_retry_policy(RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    });
    let options = SyncOptions { slices: 1, ..SyncOptions::default() };
    let result = sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &SyncProgress::default(), &options)
        .await
        .map(|_| ());
    (result, pool, dir)
}

async fn assert_failed_run_kept_the_first_page(pool: &sqlx::SqlitePool, message_part: &str) {
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, error FROM sync_runs ORDER BY id DESC LIMIT 1").fetch_one(pool).await.unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains(message_part), "{error}");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT sid, carrier FROM attempts").fetch_all(pool).await.unwrap();
    assert_eq!(rows, vec![("VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(), "Colombia Movil (Tigo)".to_string())]);
    assert!(
        verilens::store::Store::from(pool.clone()).watermark().await.unwrap().is_none(),
        "an incomplete run moves no watermark"
    );
}

#[tokio::test]
async fn garbage_json_stops_the_run_with_the_first_bytes_and_keeps_what_was_written() {
    let url = broken_api(|| Some((StatusCode::OK, "<html>upstream proxy error</html>").into_response())).await;
    let (result, pool, _dir) = sync_against(&url, Duration::from_secs(5)).await;
    match result {
        Err(SyncError::Twilio(TwilioError::Undecodable { snippet, .. })) => assert!(snippet.starts_with("<html>")),
        other => panic!("expected an undecodable answer, got {other:?}"),
    }
    assert_failed_run_kept_the_first_page(&pool, "undecodable").await;
}

#[tokio::test]
async fn an_attempt_listed_twice_in_a_first_sync_is_kept_once_in_its_newest_state() {
    let url = broken_api(|| {
        let mut repeat: Value = serde_json::from_str(include_str!("data/attempt.json")).unwrap();
        repeat["date_updated"] = "2020-08-11T18:40:00Z".into();
        repeat["channel_data"]["message_status"] = "delivered".into();
        let page = serde_json::json!({
            "attempts": [repeat],
            "meta": {
                "key": "attempts", "page": 1, "page_size": 1, "first_page_url": "/v2/Attempts?PageSize=1&Page=0",
                "previous_page_url": "/v2/Attempts?PageSize=1&Page=0", "url": "/v2/Attempts?PageSize=1&Page=1",
                "next_page_url": null
            }
        });
        Some(axum::Json(page).into_response())
    })
    .await;
    let (result, pool, _dir) = sync_against(&url, Duration::from_secs(5)).await;
    result.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT sid, date_updated, message_status FROM attempts").fetch_all(&pool).await.unwrap();
    let newest =
        ("VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(), "2020-08-11T18:40:00Z".to_string(), "delivered".into());
    assert_eq!(rows, vec![newest]);
    let (bulk, new): (bool, i64) =
        sqlx::query_as("SELECT bulk, attempts_new FROM sync_runs").fetch_one(&pool).await.unwrap();
    assert!(bulk, "a first sync is a bulk load");
    assert_eq!(new, 1, "the repeat is not counted as new");
    assert_eq!(store::missing_attempt_indexes(&pool).await.unwrap(), Vec::<&str>::new());
    assert_rollups_match_attempts(&pool).await;
    // Its index builds failed on the repeat, then ran again: the connection kept none of their settings.
    common::assert_connections_have_usual_settings(&pool).await;
}

#[tokio::test]
async fn a_429_storm_waits_as_told_then_gives_up_cleanly() {
    let url = broken_api(|| {
        let body = r#"{"code":20429,"message":"Too Many Requests","more_info":"","status":429}"#;
        Some((StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], body).into_response())
    })
    .await;
    let started = std::time::Instant::now();
    let (result, pool, _dir) = sync_against(&url, Duration::from_secs(5)).await;
    assert!(matches!(result, Err(SyncError::Twilio(TwilioError::RateLimited { .. }))), "{result:?}");
    assert!(started.elapsed() >= Duration::from_secs(2), "waited Retry-After before each retry");
    assert_failed_run_kept_the_first_page(&pool, "rate limited").await;
}

#[tokio::test]
async fn a_timeout_is_reported_as_one() {
    let url = broken_api(|| None).await;
    let (result, pool, _dir) = sync_against(&url, Duration::from_millis(200)).await;
    assert!(matches!(result, Err(SyncError::Twilio(TwilioError::Timeout { .. }))), "{result:?}");
    assert_failed_run_kept_the_first_page(&pool, "no answer").await;
}
