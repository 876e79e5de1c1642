//! The two stores' write path, in one run: the same attempts, in transactions of 5,000 with their
//! rollups, into a fresh sqlite file and a fresh PostgreSQL database; then every rollup row read
//! back, as a replica does when it starts.
//!
//!   export VERILENS_TEST_POSTGRES=$(scripts/postgres.sh start /tmp/pg)
//!   cargo bench --features ssr --bench store_writes -- [ATTEMPTS]     (default 100,000)
//!   scripts/postgres.sh stop /tmp/pg
//!
//! PostgreSQL runs as the test command starts it (`fsync` off), on the same machine: its work is
//! in its own processes, so the times are wall-clock, not this process's CPU.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::{Connection, Executor};
use verilens::emulator::dataset::{Dataset, DatasetConfig};
use verilens::emulator::render::render_attempt;
use verilens::model::Attempt;
use verilens::store::{self, postgres};

const PER_TRANSACTION: usize = 5_000;

fn attempts(dataset: &Dataset, now: DateTime<Utc>) -> Vec<Attempt> {
    dataset.records.iter().map(|r| render_attempt(dataset, r, now.timestamp(), "http://localhost")).collect()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let count: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let Ok(server) = std::env::var("VERILENS_TEST_POSTGRES") else {
        eprintln!("set VERILENS_TEST_POSTGRES to a PostgreSQL server: scripts/postgres.sh start DIR prints one");
        std::process::exit(2);
    };
    let now = Utc::now();
    let dataset = Dataset::generate(DatasetConfig { seed: 42, attempts: count, days: 30 }, "AC".repeat(17), now);
    let attempts = attempts(&dataset, now);
    let account = attempts[0].account_sid.clone();
    println!("{} attempts over 30 days, {PER_TRANSACTION} a transaction, with rollups", attempts.len());

    let dir = tempfile::tempdir().unwrap();
    let sqlite = store::open(&dir.path().join("bench.db")).await.unwrap();
    let started = Instant::now();
    for batch in attempts.chunks(PER_TRANSACTION) {
        let mut tx = store::begin_write(&sqlite).await.unwrap();
        store::upsert_attempts(&mut tx, batch).await.unwrap();
        tx.commit().await.unwrap();
    }
    let sqlite_write = started.elapsed().as_secs_f64();

    let name = format!("verilens_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    let pg = postgres::open(url.as_str()).await.unwrap();
    let lease = postgres::SyncLease::try_acquire(&pg.options, &account, "bench").await.unwrap().unwrap();
    let started = Instant::now();
    for batch in attempts.chunks(PER_TRANSACTION) {
        postgres::upsert_attempts(&pg.pool, lease.fence(), batch).await.unwrap();
    }
    let postgres_write = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let rows = store::read_rollup_rows(&sqlite).await.unwrap();
    let sqlite_read = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let pg_rows = postgres::read_rollup_rows(&pg.pool).await.unwrap();
    let postgres_read = started.elapsed().as_secs_f64();
    assert_eq!(rows.attempts.len(), pg_rows.attempts.len(), "both stores hold the same rollups");

    let n = attempts.len() as f64;
    println!("| | sqlite | PostgreSQL | PostgreSQL ÷ sqlite |");
    println!("|---|---|---|---|");
    println!(
        "| write, attempts/s | {:.0} | {:.0} | {:.2} |",
        n / sqlite_write,
        n / postgres_write,
        sqlite_write / postgres_write
    );
    println!(
        "| read every rollup row ({} attempt rows), ms | {:.0} | {:.0} | {:.2} |",
        rows.attempts.len(),
        sqlite_read * 1000.0,
        postgres_read * 1000.0,
        postgres_read / sqlite_read
    );
    lease.release().await;
    pg.pool.close().await;
    admin.execute(format!("DROP DATABASE {name}").as_str()).await.unwrap();
}
