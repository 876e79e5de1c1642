//! `serve --read-db`: a dashboard that reads its figures from a streaming read replica of the
//! PostgreSQL snapshot (the test command starts one) and writes to the primary.

use crate::common;

use chrono::Duration;
use common::emulator::{Pinned, now_to_the_second, start_pinned_with};
use common::postgres::{fresh_database, on_replica, pause_replica, wait_for_replica};
use common::process::{dashboard_totals, serve_command, start_serve, wait_for_totals};
use verilens::store::Store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

async fn api_totals(api: &Pinned) -> (u64, u64) {
    let summary = api.get_json("/v2/Attempts/Summary").await;
    (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap())
}

/// Attempts and converted attempts in the snapshot's rows (not its rollups).
async fn rows_totals(url: &str) -> (u64, u64) {
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.unwrap();
    let (attempts, converted): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(*) FILTER (WHERE conversion_status = 'converted') FROM attempts")
            .fetch_one(&mut db)
            .await
            .unwrap();
    (attempts as u64, converted as u64)
}

/// Syncs at the API's clock, so that each sync's watermark is its API's time, however soon
/// one follows another.
async fn sync(store: &Store, api: &Pinned) {
    let client = common::emulator::client_for(&api.base, &api.config, 0);
    let options = SyncOptions { clock: api.config.now, ..SyncOptions::default() };
    sync_once(store, &client, &SyncProgress::default(), &options).await.unwrap();
}

async fn healthz(base: &str) -> serde_json::Value {
    reqwest::get(format!("{base}/healthz")).await.unwrap().json().await.unwrap()
}

/// Saves a view through the dashboard at `base`'s form, as a browser would.
async fn save_view(base: &str, name: &str) -> reqwest::StatusCode {
    let token = "0123456789abcdef0123456789abcdef";
    let body = format!("csrf={token}&name={}&query=country%3DGB%26range%3D7d", name.replace(' ', "+"));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/views"))
        .header("cookie", format!("verilens_csrf={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_reads_its_figures_from_a_read_replica_and_writes_to_the_primary() {
    // The API's clock three hours behind, its attempts all within the sync's 30 days.
    let mut config = verilens::emulator::EmulatorConfig::new(71, 3_000);
    (config.now, config.days) = (Some(now_to_the_second() - Duration::hours(3)), 29);
    let mut api = start_pinned_with(config).await;
    pause_replica(false).await; // as a failed run may have left it
    let primary = fresh_database().await;
    let store = Store::open(std::path::Path::new(&primary)).await.unwrap();
    sync(&store, &api).await;
    let first = api_totals(&api).await;
    assert_eq!(rows_totals(&primary).await, first, "the first sync mirrors the API");
    wait_for_replica().await;

    let read_db = on_replica(&primary);
    let (mut web, _, web_base) = start_serve(&primary, &["--role", "web", "--read-db", &read_db]).await;
    let (mut direct, _, direct_base) = start_serve(&primary, &["--role", "web"]).await;
    wait_for_totals(&web_base, first).await;
    let first_as_of = healthz(&web_base).await["as_of"].clone();
    assert!(first_as_of.is_string(), "synced: {first_as_of}");

    // The replica stops replaying; three more hours are synced into the primary.
    pause_replica(true).await;
    api.set_clock(now_to_the_second());
    sync(&store, &api).await;
    // Kept past the API's 30 days, the snapshot's rows are the reference from here on.
    let second = rows_totals(&primary).await;
    assert!(second.0 > first.0, "the later sync brought attempts: {first:?} → {second:?}");
    wait_for_totals(&direct_base, second).await;
    let direct_as_of = healthz(&direct_base).await["as_of"].clone();
    assert_ne!(direct_as_of, first_as_of, "the primary has the later sync");
    // The dashboard on the replica shows what the replica holds: the first sync, in its
    // status (read on every request) and its figures.
    assert_eq!(healthz(&web_base).await["as_of"], first_as_of);
    assert_eq!(dashboard_totals(&web_base, "").await, first);
    assert_eq!(dashboard_totals(&web_base, "").await, first);

    // What a user saves goes to the primary (the replica cannot be written), and is read there.
    assert_eq!(save_view(&web_base, "Saved beside a replica").await, reqwest::StatusCode::SEE_OTHER);
    let views = reqwest::get(format!("{direct_base}/views")).await.unwrap().text().await.unwrap();
    assert!(views.contains("Saved beside a replica"), "the view is on the primary");
    let views = reqwest::get(format!("{web_base}/views")).await.unwrap().text().await.unwrap();
    assert!(views.contains("Saved beside a replica"), "and the dashboard that saved it lists it");

    // Replay resumes: the replica's dashboard learns of the new rollups from their generation.
    pause_replica(false).await;
    wait_for_totals(&web_base, second).await;
    assert_eq!(healthz(&web_base).await["as_of"], direct_as_of);
    for view in ["/export.csv?by=country&range=all", "/export.csv?by=day&range=7d", "/attempts.csv?range=24h"] {
        let on_replica = reqwest::get(format!("{web_base}{view}")).await.unwrap().text().await.unwrap();
        let on_primary = reqwest::get(format!("{direct_base}{view}")).await.unwrap().text().await.unwrap();
        assert!(on_primary.lines().count() > 1, "{view} has rows");
        assert_eq!(on_replica, on_primary, "{view}");
    }
    for child in [&mut web, &mut direct] {
        child.kill().await.ok();
    }
}

#[tokio::test]
async fn a_read_replica_without_the_snapshot_or_beside_sqlite_is_refused_with_the_reason() {
    let primary = fresh_database().await;
    Store::open(std::path::Path::new(&primary)).await.unwrap();
    // A database that holds no snapshot (an empty one, as a replica of another database would).
    let empty = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("s.db");
    let cases = [
        (primary.as_str(), empty.as_str(), "cannot be read yet"),
        (sqlite.to_str().unwrap(), primary.as_str(), "--db must be the PostgreSQL primary"),
        (primary.as_str(), "replica.db", "PostgreSQL database's URL"),
    ];
    for (db, read_db, reason) in cases {
        let out =
            serve_command(std::path::Path::new(db), &["--role", "web", "--read-db", read_db]).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{db} with --read-db {read_db} is refused");
        assert!(stderr.contains(reason), "{db} with --read-db {read_db}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
