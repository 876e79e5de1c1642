//! sqlite beside PostgreSQL, in one run, as a deployment meets them: a first sync of the API's
//! 30 days over HTTP (the emulator on loopback, no rate limit), the dashboard's queries on the
//! result, and the rollups' refresh in place after a sync of the last hour.
//!
//!   export VERILENS_TEST_POSTGRES=$(scripts/postgres.sh start /tmp/pg)
//!   cargo bench --features ssr --bench stores -- [ATTEMPTS]     (default 1,000,000)
//!   scripts/postgres.sh stop /tmp/pg
//!
//! PostgreSQL runs as the test command starts it (`fsync` off), on the same machine, so its
//! work competes with this process's for the same cores. Times are wall-clock; the refresh's
//! CPU is this process's (the dashboard's), PostgreSQL's own work on top of it is in the wall time.

#[path = "../tests/common/timing.rs"]
mod timing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::{Connection, Executor};
use timing::{percentile_ms, process_cpu, time_runs};
use verilens::analytics::{self, RollupCache, RollupIndex};
use verilens::emulator::{self, EmulatorConfig};
use verilens::filters::parse_query;
use verilens::model::{Attempt, ConversionStatus, twilio_time};
use verilens::page_data::SnapshotStatus;
use verilens::store::{self, RawScans, Store, postgres};
use verilens::sync::{SyncOptions, SyncProgress, sync_once};
use verilens::twilio::{Credentials, ListQuery, RateLimiter, TwilioClient};

/// Views the overview answers from the rollups, and one that reads raw rows (a destination prefix).
const OVERVIEWS: [&str; 4] = ["", "range=7d&country=GB", "range=24h&by=carrier&channel=sms", "prefix=%2B44"];
/// The attempts list's first page: newest first, and priciest first.
const LISTS: [&str; 2] = ["range=24h", "range=30d&order=price"];

/// What one store measured.
#[derive(Default)]
struct Measured {
    first_sync: f64,
    attempts: u64,
    full_load_ms: f64,
    overviews_ms: Vec<f64>,
    lists_ms: Vec<f64>,
    refresh_ms: f64,
    refresh_cpu_ms: f64,
    reload_ms: f64,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let count: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let Ok(server) = std::env::var("VERILENS_TEST_POSTGRES") else {
        eprintln!("set VERILENS_TEST_POSTGRES to a PostgreSQL server: scripts/postgres.sh start DIR prints one");
        std::process::exit(2);
    };
    // The API's attempts within the sync's 30 days, its clock at the sync's.
    let now = twilio_time::parse(&twilio_time::format(&Utc::now())).unwrap();
    let mut config = EmulatorConfig::new(42, count);
    (config.now, config.days, config.rate_limit) = (Some(now), 29, 0);
    let running = emulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let client = TwilioClient::new(
        &running.base_url(),
        Credentials::auth_token(config.credentials.account_sid.clone(), config.credentials.auth_token.clone()),
        Arc::new(RateLimiter::per_minute(0)),
    )
    .unwrap();
    let last_hour = last_hour_attempts(&client, now).await;
    println!("{count} attempts over 29 days, served over loopback; {} in the last hour", last_hour.len());

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("bench.db")).await.unwrap();
    let name = format!("verilens_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    let pg = Store::open(std::path::Path::new(url.as_str())).await.unwrap();

    let mut results = Vec::new();
    for (label, snapshot) in [("sqlite", &sqlite), ("PostgreSQL", &pg)] {
        let measured = measure(snapshot, &client, &last_hour, now).await;
        println!(
            "{label}: first sync of {} attempts in {:.1} s ({:.0} attempts/s); every rollup loaded in {:.0} ms",
            measured.attempts,
            measured.first_sync,
            measured.attempts as f64 / measured.first_sync,
            measured.full_load_ms
        );
        results.push((label, measured));
    }
    let (s, p) = (&results[0].1, &results[1].1);
    println!("\n| | sqlite | PostgreSQL | PostgreSQL / sqlite |\n|---|---|---|---|");
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        println!("| {what} | {a:.1} {unit} | {b:.1} {unit} | {:.2}× |", b / a);
    };
    row("first sync (wall)", s.first_sync, p.first_sync, "s");
    row("every rollup loaded into the index (a replica's start)", s.full_load_ms, p.full_load_ms, "ms");
    for (i, view) in OVERVIEWS.iter().enumerate() {
        row(&format!("overview `?{view}`, p50"), s.overviews_ms[i], p.overviews_ms[i], "ms");
    }
    for (i, view) in LISTS.iter().enumerate() {
        row(&format!("attempts list `?{view}`, first page, p50"), s.lists_ms[i], p.lists_ms[i], "ms");
    }
    row("refresh in place after a sync of the last hour, p50", s.refresh_ms, p.refresh_ms, "ms");
    row("its CPU in the dashboard's process, p50", s.refresh_cpu_ms, p.refresh_cpu_ms, "ms");
    row("a whole reload of the same rollups instead, p50", s.reload_ms, p.reload_ms, "ms");
    admin.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str()).await.ok();
}

/// The API's attempts of the hour before `now`, as a sync after the first lists them again.
async fn last_hour_attempts(client: &TwilioClient, now: DateTime<Utc>) -> Vec<Attempt> {
    let query = ListQuery {
        date_created_after: Some(twilio_time::format(&(now - chrono::Duration::hours(1)))),
        date_created_before: Some(twilio_time::format(&now)),
        page_size: Some(1000),
    };
    let mut page = client.list_attempts(&query).await.unwrap();
    let mut attempts = Vec::new();
    loop {
        attempts.extend(page.attempts);
        match page.meta.next_page_url {
            Some(next) => page = client.list_attempts_at(&next).await.unwrap(),
            None => return attempts,
        }
    }
}

async fn measure(snapshot: &Store, client: &TwilioClient, last_hour: &[Attempt], now: DateTime<Utc>) -> Measured {
    let mut measured = Measured::default();
    let started = Instant::now();
    let report = sync_once(snapshot, client, &SyncProgress::default(), &SyncOptions::default()).await.unwrap();
    measured.first_sync = started.elapsed().as_secs_f64();
    measured.attempts = report.snapshot_total;
    assert_eq!(report.api_total, report.snapshot_total, "the first sync is complete");

    let started = Instant::now();
    let rows = snapshot.read_rollup_rows().await.unwrap();
    drop(RollupIndex::build(rows, Arc::new(verilens::fees::FeeSchedule::default())));
    measured.full_load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let rollups = Arc::new(RollupCache::default());
    let scans = RawScans::default();
    rollups.get_current(snapshot).await.unwrap();
    for view in OVERVIEWS {
        let runs = if view.contains("prefix") { 3 } else { 15 };
        let overview = || async {
            analytics::overview(snapshot, &scans, &rollups, parse_query(view), now, SnapshotStatus::default())
                .await
                .unwrap()
        };
        overview().await;
        measured.overviews_ms.push(percentile_ms(&time_runs(runs, overview).await, 0.5));
    }
    for view in LISTS {
        let list = || async {
            analytics::attempt_list(snapshot, &scans, &rollups, parse_query(view), now, SnapshotStatus::default())
                .await
                .unwrap()
        };
        list().await;
        measured.lists_ms.push(percentile_ms(&time_runs(5, list).await, 0.5));
    }

    // A sync of the last hour, five times: its attempts listed again, a quarter of them
    // converted since, written with their rollups as the sync writes them; then the index
    // refreshed in place, and, to compare, every rollup read again.
    let account = last_hour[0].account_sid.clone();
    let (mut refreshes, mut cpu, mut reloads) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..5u32 {
        let mut attempts = last_hour.to_vec();
        for (i, attempt) in attempts.iter_mut().enumerate() {
            attempt.date_updated = now + chrono::Duration::seconds(i64::from(round) + 1);
            if i % 4 == round as usize % 4 {
                attempt.conversion_status = ConversionStatus::Converted;
            }
        }
        write_batch(snapshot, &account, &attempts).await;
        let (started, cpu_before) = (Instant::now(), process_cpu());
        rollups.get_current(snapshot).await.unwrap();
        refreshes.push(started.elapsed());
        cpu.push(process_cpu().saturating_sub(cpu_before));
        let started = Instant::now();
        let rows = snapshot.read_rollup_rows().await.unwrap();
        drop(RollupIndex::build(rows, Arc::new(verilens::fees::FeeSchedule::default())));
        reloads.push(started.elapsed());
    }
    measured.refresh_ms = percentile_ms(&refreshes, 0.5);
    measured.refresh_cpu_ms = percentile_ms(&cpu, 0.5);
    measured.reload_ms = percentile_ms(&reloads, 0.5);
    measured
}

/// Writes `attempts` with their rollups in one transaction, as the sync writes a batch.
async fn write_batch(snapshot: &Store, account: &str, attempts: &[Attempt]) {
    match snapshot {
        Store::Sqlite(pool) => {
            let mut tx = store::begin_write(pool).await.unwrap();
            store::upsert_attempts(&mut tx, attempts).await.unwrap();
            tx.commit().await.unwrap();
        }
        Store::Postgres(pg) => {
            let lease = postgres::SyncLease::try_acquire(&pg.options, account, "bench").await.unwrap().unwrap();
            postgres::upsert_attempts(&pg.pool, lease.fence(), attempts).await.unwrap();
            lease.release().await;
        }
    }
}
