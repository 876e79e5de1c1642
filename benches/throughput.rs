//! Throughput of the emulator and the sync, on loopback, in one run:
//!
//!   cargo bench --features ssr --bench throughput -- [ATTEMPTS] [--rate-limited] [--sync-only] [--commit-every SECS]
//!       [--no-bulk]
//!
//! 1. generating ATTEMPTS (default 1,000,000) attempts, and the process's RSS after;
//! 2. pages of 1000 served per second (one walker, then four in parallel);
//! 3. a first sync of the whole window into a fresh sqlite file, in attempts/s
//!    (HTTP, JSON and sqlite included), with the rate limit off; a bulk load unless `--no-bulk`;
//! 4. the sqlite3 CLI's `.import` of the same rows, the floor to beat;
//! 5. with `--rate-limited`: a sync against a 100 requests/minute limit and 300 ms
//!    of latency, and the requests per minute it achieved as a share of the limit.

// The tests' emulator helpers; the benchmark uses some of them.
#[path = "../tests/common/emulator.rs"]
#[allow(dead_code)]
mod emulator_support;

#[path = "../tests/common/timing.rs"]
#[allow(dead_code)]
mod timing;

use std::sync::Arc;
use std::time::{Duration, Instant};
use timing::rss_mib;

use verilens::emulator::EmulatorConfig;
use verilens::model::twilio_time;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};
use verilens::twilio::TwilioClient;

/// CPU seconds this process has used, on all its threads (user and system).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are the 14th and 15th fields, 12th and 13th after the name; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

use emulator_support::{client_for as client, now_to_the_second as pinned_now};

/// Walks `[from, to)` page by page without storing; returns pages read.
async fn walk(client: &TwilioClient, from: String, to: String) -> u64 {
    let query = verilens::twilio::ListQuery {
        date_created_after: Some(from),
        date_created_before: Some(to),
        page_size: Some(1000),
    };
    let mut page = client.list_attempts(&query).await.unwrap();
    let mut pages = 1;
    while let Some(next) = page.meta.next_page_url.clone() {
        page = client.list_attempts_at(&next).await.unwrap();
        pages += 1;
    }
    pages
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let attempts: u64 = args
        .iter()
        .enumerate()
        .find(|(i, a)| a.parse::<u64>().is_ok() && (*i == 0 || args[i - 1] != "--commit-every"))
        .map_or(1_000_000, |(_, a)| a.parse().unwrap());
    let rate_limited = args.iter().any(|a| a == "--rate-limited");
    let sync_only = args.iter().any(|a| a == "--sync-only");
    let commit_every = args
        .iter()
        .position(|a| a == "--commit-every")
        .and_then(|i| args.get(i + 1)?.parse::<f64>().ok())
        .map(Duration::from_secs_f64);
    let options = SyncOptions {
        commit_every: commit_every.unwrap_or(SyncOptions::default().commit_every),
        bulk_first_sync: !args.iter().any(|a| a == "--no-bulk"),
        ..SyncOptions::default()
    };
    // `RUST_LOG=verilens=debug` shows how long the end of a bulk load's phases take.
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let rss_start = rss_mib("VmRSS:");

    let mut config = EmulatorConfig::new(42, attempts);
    config.rate_limit = 0;
    config.now = Some(pinned_now());
    let started = Instant::now();
    let running = emulator_support::start(&config).await;
    let generation = started.elapsed();
    let generated = running.emulator.dataset.read().unwrap().records.len();
    println!(
        "generate: {generated} attempts in {:.2} s; RSS {:.0} MiB (+{:.0} MiB)",
        generation.as_secs_f64(),
        rss_mib("VmRSS:"),
        rss_mib("VmRSS:") - rss_start
    );

    let base = running.base_url();
    let now = config.now.unwrap();
    let reader = client(&base, &config, 0);
    if !sync_only {
        serve_rates(&reader, now).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let pool = store::open(&db).await.unwrap();
    let heap_before = rss_mib("RssAnon:");
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = (0f64, 0f64);
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = (peak.0.max(rss_mib("RssAnon:")), peak.1.max(rss_mib("RssFile:")));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let (started, cpu_before) = (Instant::now(), cpu_secs());
    let report = sync_once(&verilens::store::Store::Sqlite(pool.clone()), &reader, &SyncProgress::default(), &options)
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let (peak_heap, peak_file) = sampler.join().unwrap();
    println!(
        "sync ({}, commits every {:?}): {} attempts, {} pages in {secs:.2} s = {:.0} attempts/s, {:.1} s of CPU; \
         peak RSS {:.0} MiB",
        if options.bulk_first_sync { "bulk load" } else { "upserts" },
        options.writer_commit_every(options.bulk_first_sync),
        report.attempts_new,
        report.pages,
        report.attempts_new as f64 / secs,
        cpu_secs() - cpu_before,
        rss_mib("VmHWM:")
    );
    // Anonymous memory is the process's own (the emulator's dataset included); file-backed
    // pages are the snapshot mapped by sqlite (mmap_size), which the kernel can drop at will.
    println!(
        "sync memory: anonymous {heap_before:.0} MiB before, peak {peak_heap:.0} MiB (+{:.0} MiB); \
         peak file-backed {peak_file:.0} MiB; snapshot file {:.0} MiB",
        peak_heap - heap_before,
        std::fs::metadata(&db).map(|m| m.len() as f64 / 1048576.0).unwrap_or(0.0)
    );
    pool.close().await;
    import_floor(&db, report.attempts_new);

    if rate_limited {
        rate_limited_sync().await;
    }
}

/// Pages of 1000 served per second, by one walker and by four in parallel.
async fn serve_rates(reader: &TwilioClient, now: chrono::DateTime<chrono::Utc>) {
    let from = twilio_time::format(&(now - chrono::Duration::days(30)));
    let started = Instant::now();
    let pages = walk(reader, from, twilio_time::format(&now)).await;
    let secs = started.elapsed().as_secs_f64();
    println!("serve: {pages} pages of 1000 in {secs:.2} s = {:.0} pages/s (one walker)", pages as f64 / secs);

    let slices = verilens::sync::slice_window(now - chrono::Duration::days(30), now, 4);
    let started = Instant::now();
    let mut walkers = tokio::task::JoinSet::new();
    for (from, to) in slices {
        let reader = reader.clone();
        walkers.spawn(async move { walk(&reader, twilio_time::format(&from), twilio_time::format(&to)).await });
    }
    let pages: u64 = walkers.join_all().await.into_iter().sum();
    let secs = started.elapsed().as_secs_f64();
    println!("serve: {pages} pages of 1000 in {secs:.2} s = {:.0} pages/s (four walkers)", pages as f64 / secs);
}

/// Times the sqlite3 CLI importing the same rows from CSV into the same schema.
fn import_floor(db: &std::path::Path, rows: u64) {
    let sqlite3 = |args: &[&str]| std::process::Command::new("sqlite3").args(args).output();
    let dir = db.parent().unwrap();
    let csv = dir.join("attempts.csv");
    let fresh = dir.join("import.db");
    let (db_s, csv_s, fresh_s) = (db.to_str().unwrap(), csv.to_str().unwrap(), fresh.to_str().unwrap());
    if sqlite3(&["-version"]).is_err() {
        println!("import floor: sqlite3 CLI not installed (apt-get install sqlite3)");
        return;
    }
    sqlite3(&[db_s, "-cmd", ".mode csv", "-cmd", &format!(".once {csv_s}"), "SELECT * FROM attempts"]).unwrap();
    let schema = String::from_utf8(sqlite3(&[db_s, ".schema attempts"]).unwrap().stdout).unwrap();
    sqlite3(&[fresh_s, &schema]).unwrap();
    let started = Instant::now();
    let output = sqlite3(&[fresh_s, "-cmd", ".mode csv", &format!(".import {csv_s} attempts")]).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    println!("import floor: sqlite3 .import of {rows} rows in {secs:.2} s = {:.0} rows/s", rows as f64 / secs);
}

/// A sync held to 100 requests/minute with Twilio-like latency: how close to the limit it runs.
async fn rate_limited_sync() {
    let mut config = EmulatorConfig::new(43, 300_000);
    config.rate_limit = 100;
    config.latency = Duration::from_millis(300);
    config.now = Some(pinned_now());
    let running = emulator_support::start(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("limited.db")).await.unwrap();
    let client = client(&running.base_url(), &config, 100);
    let started = Instant::now();
    let report = sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    // Two Summary requests frame the pages.
    let requests = report.pages + 2;
    println!(
        "rate-limited sync: {requests} requests in {minutes:.2} min = {:.1} requests/min = {:.0}% of the limit of 100",
        requests as f64 / minutes,
        requests as f64 / minutes
    );
}
