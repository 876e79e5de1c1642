//! The demo's history: the months before the API's window, written into an empty snapshot
//! as an earlier sync would have left them, then joined by the first sync of the API's 30
//! days without a gap or a repeat, so that the first page has a period to compare with.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use verilens::analytics::{self, RollupCache};
use verilens::emulator::EmulatorConfig;
use verilens::emulator::history::History;
use verilens::emulator::render::render_attempt;
use verilens::filters::parse_query;
use verilens::model::twilio_time;
use verilens::page_data::SnapshotStatus;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

async fn snapshot_sids(pool: &sqlx::SqlitePool) -> (usize, BTreeSet<String>) {
    let sids: Vec<String> = sqlx::query_scalar("SELECT sid FROM attempts").fetch_all(pool).await.unwrap();
    (sids.len(), sids.into_iter().collect())
}

#[tokio::test]
async fn the_history_joins_the_first_sync_once_and_the_default_view_compares() {
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("demo.db")).await.unwrap();
    let mut config = EmulatorConfig::new(42, 6_000);
    config.rate_limit = 0;
    let running = common::emulator::start(&config).await;
    let (emulator, base) = (running.emulator.clone(), running.base_url());

    let written = verilens::demo::write_history(&pool, &emulator, &base).await.unwrap();
    let (history, past, window) = {
        let data = emulator.dataset.read().unwrap();
        let history = History::before(data.window_start());
        let now = emulator.now();
        let sid = |r| render_attempt(&data, r, now, &base).sid;
        let past_records = history.attempts(&data, history.start, history.window_start);
        let past: BTreeSet<String> = past_records.iter().map(sid).collect();
        let window: BTreeSet<String> = data.records.iter().filter(|r| r.created <= now).map(sid).collect();
        (history, past, window)
    };
    let first_hour = {
        let data = emulator.dataset.read().unwrap();
        let range = data.range(history.window_start, history.window_start + 3599);
        range.len()
    };
    assert_eq!(written as usize, past.len() + first_hour);
    // Over a year, mostly after the launch and growing to the window's volume.
    assert!(past.len() > 5 * window.len(), "{} attempts of history, {} in the window", past.len(), window.len());
    let (rows, stored) = snapshot_sids(&pool).await;
    assert_eq!((rows, stored.len()), (written as usize, written as usize));
    assert!(past.is_subset(&stored));
    // An earlier sync's run: the snapshot covers the history from its start.
    let start = twilio_time::format(&DateTime::<Utc>::from_timestamp(history.start, 0).unwrap());
    assert_eq!(verilens::store::Store::from(pool.clone()).coverage_start().await.unwrap(), Some(start));
    // A snapshot that holds attempts is never written to again.
    assert_eq!(verilens::demo::write_history(&pool, &emulator, &base).await.unwrap(), 0);

    let client = common::emulator::client_for(&base, &config, 0);
    sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    let (rows, stored) = snapshot_sids(&pool).await;
    let expected: BTreeSet<String> = past.union(&window).cloned().collect();
    assert_eq!(rows, stored.len(), "an attempt stored twice");
    assert_eq!(stored, expected);
    common::assert_rollups_equal_a_rebuild(&pool).await;

    let annotated: Vec<String> =
        sqlx::query_scalar("SELECT text FROM annotations ORDER BY starts_at").fetch_all(&pool).await.unwrap();
    let expected_notes: Vec<String> = history.annotations().iter().map(|(_, text)| text.to_string()).collect();
    assert_eq!(annotated, expected_notes);

    let as_of = verilens::store::Store::from(pool.clone()).watermark().await.unwrap();
    let snapshot = SnapshotStatus { as_of, ..SnapshotStatus::default() };
    let now = Utc::now();
    let rollups = Arc::new(RollupCache::default());
    let scans = store::RawScans::default();
    let first_page =
        analytics::overview(&pool.clone().into(), &scans, &rollups, parse_query(""), now, snapshot).await.unwrap();
    assert_eq!(first_page.comparison_note, None);
    let change = first_page.change.expect("the first page compares with the 30 days before");
    assert!(change.previous.attempts > 0 && change.current.attempts > 0);
    // The previous period's attempts, counted from the raw rows, are what the comparison read.
    let raw: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts WHERE date_created >= ? AND date_created < ?")
        .bind(&change.windows.previous_start)
        .bind(&change.windows.previous_end)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(change.previous.attempts, raw as u64);
}
