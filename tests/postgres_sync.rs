//! The sync into PostgreSQL, on the server the test command starts: the same runs, figures and
//! rollups as into sqlite, one syncer per account under its lease, and a syncer that lost its
//! lease part way writes nothing more while the next holder completes its run.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::emulator::Pinned;
use common::gate::Gate;
use common::postgres::{assert_same_rollups, fresh_database};
use verilens::store::postgres::SyncLease;
use verilens::store::{RollupChanges, Store, StoreError};
use verilens::sync::{SyncError, SyncOptions, SyncProgress, sync_once};

async fn open_postgres() -> (Store, sqlx::PgPool, sqlx::postgres::PgConnectOptions) {
    let store = Store::open(Path::new(&fresh_database().await)).await.unwrap();
    let Store::Postgres(pg) = &store else { panic!("a postgres:// URL opens PostgreSQL") };
    let (pool, options) = (pg.pool.clone(), pg.options.clone());
    (store, pool, options)
}

/// The two stores' rollups are equal row for row, once both keep hours from the same hour:
/// each sync moves its store's hour horizon with the clock, and the two synced seconds apart.
async fn assert_same_rollups_at_one_horizon(sqlite: &Store, postgres: &Store) {
    let horizon = chrono::Utc::now() - chrono::Duration::hours(verilens::store::HOUR_GRAIN_HOURS);
    let horizon = verilens::model::twilio_time::format(&horizon);
    sqlite.advance_hour_horizon(&horizon).await.unwrap();
    postgres.advance_hour_horizon(&horizon).await.unwrap();
    assert_same_rollups(&sqlite.read_rollup_rows().await.unwrap(), &postgres.read_rollup_rows().await.unwrap());
}

/// The API's totals for its account (attempts, converted), read with plain HTTP.
async fn api_totals(api: &Pinned) -> (u64, u64) {
    let summary = api.get_json("/v2/Attempts/Summary").await;
    (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap())
}

/// The store's attempts and converted attempts of `account`, and its distinct SIDs.
async fn stored_totals(pool: &sqlx::PgPool, account: &str) -> (u64, u64) {
    let (attempts, converted, sids): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE conversion_status = 'converted'), COUNT(DISTINCT sid) \
         FROM attempts WHERE account_sid = $1",
    )
    .bind(account)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(attempts, sids, "each attempt is stored once");
    (attempts as u64, converted as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_sync_into_postgresql_with_the_figures_and_rollups_of_sqlite() {
    let (a, b) = (
        common::emulator::start_pinned_inside_window(41, 3_000).await,
        common::emulator::start_pinned_inside_window(42, 2_000).await,
    );
    let clients =
        [common::emulator::client_for(&a.base, &a.config, 0), common::emulator::client_for(&b.base, &b.config, 0)];
    let (sid_a, sid_b) = (a.config.credentials.account_sid.clone(), b.config.credentials.account_sid.clone());
    let (postgres, pool, _) = open_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("s.db")).await.unwrap();
    let (progress, options) = (SyncProgress::default(), SyncOptions { page_size: 500, ..SyncOptions::default() });

    let mut reports = Vec::new();
    for client in &clients {
        reports.push(sync_once(&postgres, client, &progress, &options).await.unwrap());
        sync_once(&sqlite, client, &progress, &options).await.unwrap();
    }
    let (api_a, api_b) = (api_totals(&a).await, api_totals(&b).await);
    assert!(api_a.0 > 2_000 && api_b.0 > 1_000, "{api_a:?} {api_b:?}");
    assert_eq!(stored_totals(&pool, &sid_a).await, api_a);
    assert_eq!(stored_totals(&pool, &sid_b).await, api_b);
    for (report, api) in reports.iter().zip([api_a, api_b]) {
        assert_eq!((report.api_total, report.snapshot_total, report.attempts_new), (api.0, api.0, api.0));
        assert!(report.pages >= api.0 / 500, "{report:?}");
    }
    assert_same_rollups_at_one_horizon(&sqlite, &postgres).await;

    // Each account's watermark is its run's end; the store's, the earlier.
    let syncs = postgres.account_syncs().await.unwrap();
    let mut expected = vec![
        (sid_a.clone(), Some(reports[0].window_end.clone()), None),
        (sid_b.clone(), Some(reports[1].window_end.clone()), None),
    ];
    expected.sort();
    let seen: Vec<_> = syncs.iter().map(|s| (s.account_sid.clone(), s.as_of.clone(), s.last_error.clone())).collect();
    assert_eq!(seen, expected);
    let earliest = reports[0].window_end.clone().min(reports[1].window_end.clone());
    assert_eq!(postgres.watermark().await.unwrap(), Some(earliest));
    assert_eq!(postgres.snapshot_accounts().await.unwrap(), sqlite.snapshot_accounts().await.unwrap());
    let names = postgres.friendly_names().await.unwrap();
    assert!(!names.is_empty());
    assert_eq!(names, sqlite.friendly_names().await.unwrap());

    // A later run starts from its own watermark, finds nothing new, and a replica refreshes
    // only the periods written since the generation it holds.
    let generation = postgres.rollup_generation().await.unwrap();
    let again = sync_once(&postgres, &clients[0], &progress, &options).await.unwrap();
    assert_eq!((again.attempts_new, again.snapshot_total), (0, again.api_total));
    assert_eq!(stored_totals(&pool, &sid_a).await, api_a);
    let parse = |time: &str| verilens::model::twilio_time::parse(time).unwrap();
    let lookback = verilens::sync::window_start(Some(&reports[0].window_end), parse(&again.window_end), &options);
    assert_eq!(again.window_start, verilens::model::twilio_time::format(&lookback));
    assert_eq!(postgres.account_watermark(&sid_b).await.unwrap(), Some(reports[1].window_end.clone()));
    assert!(matches!(postgres.read_rollup_changes(generation).await.unwrap(), RollupChanges::Periods { .. }));
}

#[tokio::test]
async fn an_account_whose_lease_another_process_holds_is_left_to_it() {
    let api = common::emulator::start_pinned_inside_window(43, 500).await;
    let client = common::emulator::client_for(&api.base, &api.config, 0);
    let account = api.config.credentials.account_sid.clone();
    let (postgres, pool, options) = open_postgres().await;
    let progress = SyncProgress::default();

    let other = SyncLease::try_acquire(&options, &account, "another replica").await.unwrap().expect("free");
    let refused = sync_once(&postgres, &client, &progress, &SyncOptions::default()).await;
    assert!(matches!(refused, Err(SyncError::SyncedElsewhere)), "{refused:?}");
    assert_eq!(stored_totals(&pool, &account).await, (0, 0));
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(runs, 0, "a process without the lease records nothing");

    other.release().await;
    let report = sync_once(&postgres, &client, &progress, &SyncOptions::default()).await.unwrap();
    assert_eq!(stored_totals(&pool, &account).await, api_totals(&api).await);
    assert_eq!(report.snapshot_total, report.api_total);
}

/// Waits until the lease of `account` is free: ending a backend is asynchronous.
async fn take_lease_when_free(options: &sqlx::postgres::PgConnectOptions, account: &str) -> SyncLease {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(lease) = SyncLease::try_acquire(options, account, "the next holder").await.unwrap() {
            return lease;
        }
        assert!(Instant::now() < deadline, "the lease of a terminated backend is still held after 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syncer_that_lost_its_lease_part_way_writes_nothing_more_and_the_next_holder_completes_its_run() {
    let mut config = verilens::emulator::EmulatorConfig::new(44, 4_000);
    config.now = Some(common::emulator::now_to_the_second());
    config.rate_limit = 0;
    let running = common::emulator::start(&config).await;
    let (gate, gated) = Gate::start(&running).await;
    let account = config.credentials.account_sid.clone();
    let (postgres, pool, connect) = open_postgres().await;
    let options = SyncOptions { page_size: 200, slices: 2, ..SyncOptions::default() };

    // The Summary, then pages of both slices: from the 9th request on, every request waits.
    gate.hold_from(9);
    let syncing = {
        let (postgres, options) = (postgres.clone(), options.clone());
        let client = common::emulator::client_for(&gated, &config, 0);
        tokio::spawn(async move { sync_once(&postgres, &client, &SyncProgress::default(), &options).await })
    };
    gate.holding().await;
    // The lease's connection ends (a network cut, a pause long enough), and another process
    // takes the lease: the syncer does not know.
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'verilens sync lease' AND datname = current_database()",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ended, [true]);
    let next_holder = take_lease_when_free(&connect, &account).await;
    let (written, _) = stored_totals(&pool, &account).await;

    gate.release();
    let lost = syncing.await.unwrap();
    assert!(matches!(lost, Err(SyncError::Store(StoreError::LeaseLost { .. }))), "{lost:?}");
    assert_eq!(stored_totals(&pool, &account).await.0, written, "nothing was written past the lease's loss");
    let open: Vec<String> = sqlx::query_scalar("SELECT status FROM sync_runs").fetch_all(&pool).await.unwrap();
    assert_eq!(open, ["running"], "the run is left to the next holder");

    // The next holder resumes the run where its committed pages end, and completes it.
    next_holder.release().await;
    let direct = common::emulator::client_for(&running.base_url(), &config, 0);
    let report = sync_once(&postgres, &direct, &SyncProgress::default(), &options).await.unwrap();
    let runs: Vec<String> =
        sqlx::query_scalar("SELECT status FROM sync_runs ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(runs, ["complete", "complete"]);
    let summary: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v2/Attempts/Summary", running.base_url()))
        .basic_auth(&account, Some(&config.credentials.auth_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api = (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap());
    assert_eq!(stored_totals(&pool, &account).await, api);
    assert_eq!(report.snapshot_total, report.api_total);

    // And its rollups are those of one uninterrupted sync into sqlite.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("s.db")).await.unwrap();
    sync_once(&sqlite, &direct, &SyncProgress::default(), &options).await.unwrap();
    assert_same_rollups_at_one_horizon(&sqlite, &postgres).await;
}
