//! Two `verilens serve` processes on one PostgreSQL database, both allowed to sync two
//! accounts: the one syncing is killed (SIGKILL) at random points, twenty times, and started
//! again; the other takes its accounts over. In the end the database holds each API's
//! attempts once, its rollups are those of one clean sync, and both replicas show the same.

use crate::common;

use std::time::Duration;

use rand::{Rng, SeedableRng};
use verilens::store::Store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

/// The process id in the holder of the latest lease of an account taken (`host pid N`).
async fn latest_holder(pool: &sqlx::PgPool) -> Option<u32> {
    let holder: Option<String> = sqlx::query_scalar(
        "SELECT holder FROM sync_leases WHERE account_sid LIKE 'AC%' ORDER BY acquired_at DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .unwrap();
    holder?.rsplit(' ').next()?.parse().ok()
}

/// The API's totals for its account (attempts, converted), read with plain HTTP.
async fn api_totals(api: &common::emulator::Pinned) -> (u64, u64) {
    let summary = api.get_json("/v2/Attempts/Summary").await;
    (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_syncing_replica_killed_twenty_times_loses_and_repeats_nothing() {
    let (a, b) = (
        common::emulator::start_pinned_inside_window(61, 12_000).await,
        common::emulator::start_pinned_inside_window(62, 8_000).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = common::emulator::accounts_file(dir.path(), &[a.account_entry(None), b.account_entry(None)]);
    let now = verilens::model::twilio_time::format(&a.config.now.unwrap());
    let url = common::postgres::fresh_database().await;
    // A rate limit makes each run take a few seconds, so that kills land inside runs.
    let args = ["--sync-every", "1s", "--rate-limit", "300", "--now", &now, "--accounts", file.to_str().unwrap()];
    let mut replicas =
        vec![common::process::start_serve(&url, &args).await, common::process::start_serve(&url, &args).await];
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let mut random = rand::rngs::StdRng::seed_from_u64(24);

    let mut kills = 0;
    while kills < 20 {
        tokio::time::sleep(Duration::from_millis(random.random_range(200..2_500))).await;
        let Some(pid) = latest_holder(&pool).await else { continue };
        let Some(victim) = replicas.iter().position(|(child, ..)| child.id() == Some(pid)) else { continue };
        replicas[victim].0.kill().await.unwrap();
        replicas[victim] = common::process::start_serve(&url, &args).await;
        kills += 1;
    }

    // Left alone, the replicas finish what the kills interrupted; both show the APIs' sums.
    let (api_a, api_b) = (api_totals(&a).await, api_totals(&b).await);
    for (_, _, base) in &replicas {
        common::process::wait_for_totals(base, (api_a.0 + api_b.0, api_a.1 + api_b.1)).await;
    }
    for (account, api) in [(&a.config.credentials.account_sid, api_a), (&b.config.credentials.account_sid, api_b)] {
        let (rows, sids, converted): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT sid), COUNT(*) FILTER (WHERE conversion_status = 'converted') \
             FROM attempts WHERE account_sid = $1",
        )
        .bind(account)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((rows as u64, converted as u64), api, "{account}");
        assert_eq!(rows, sids, "{account}: each attempt once");
    }
    let epochs: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(epoch), 0)::bigint FROM sync_leases WHERE account_sid LIKE 'AC%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(epochs > 20, "the leases changed hands: {epochs} epochs");

    // The rollups kept through every kill are those of one clean sync of the same APIs.
    let sqlite = Store::open(&dir.path().join("clean.db")).await.unwrap();
    for api in [&a, &b] {
        let client = common::emulator::client_for(&api.base, &api.config, 0);
        sync_once(&sqlite, &client, &SyncProgress::default(), &SyncOptions::default()).await.unwrap();
    }
    let postgres = Store::open(std::path::Path::new(&url)).await.unwrap();
    let horizon = chrono::Utc::now() - chrono::Duration::hours(verilens::store::HOUR_GRAIN_HOURS);
    let horizon = verilens::model::twilio_time::format(&horizon);
    sqlite.advance_hour_horizon(&horizon).await.unwrap();
    postgres.advance_hour_horizon(&horizon).await.unwrap();
    common::postgres::assert_same_rollups(
        &sqlite.read_rollup_rows().await.unwrap(),
        &postgres.read_rollup_rows().await.unwrap(),
    );
    for (child, ..) in &mut replicas {
        child.kill().await.ok();
    }
}
