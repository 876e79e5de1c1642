//! Dashboard query times on a generated snapshot:
//!
//!   cargo bench --features ssr --bench analytics -- [ATTEMPTS]
//!
//! Fills a fresh sqlite file with ATTEMPTS (default 1,000,000) generated attempts,
//! then times the overview (KPIs, comparison, breakdown, series) for several views
//! and the first and later pages of the attempts list: p50 and p99 of 20 runs each (5 above 300k).

use std::time::{Duration, Instant};

use chrono::Utc;
use verilens::analytics;
use verilens::emulator::dataset::{Dataset, DatasetConfig};
use verilens::emulator::render::render_attempt;
use verilens::filters::parse_query;
use verilens::report::SnapshotStatus;
use verilens::store;

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let index = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let attempts: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let now = Utc::now();
    let dataset = Dataset::generate(DatasetConfig { seed: 42, attempts, days: 30 }, "AC".repeat(17), now);
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("analytics.db")).await.unwrap();
    let started = Instant::now();
    let rendered: Vec<_> =
        dataset.records.iter().map(|r| render_attempt(&dataset, r, now.timestamp(), "http://localhost")).collect();
    for chunk in rendered.chunks(5_000) {
        let mut tx = store::begin_write(&pool).await.unwrap();
        store::upsert_attempts(&mut tx, chunk).await.unwrap();
        tx.commit().await.unwrap();
    }
    sqlx::query("INSERT INTO sync_runs (started_at, window_start, window_end, status) VALUES (?, ?, ?, 'complete')")
        .bind("2000-01-01T00:00:00Z")
        .bind("2000-01-01T00:00:00Z")
        .bind("2100-01-01T00:00:00Z")
        .execute(&pool)
        .await
        .unwrap();
    println!("loaded {} attempts in {:.1} s", rendered.len(), started.elapsed().as_secs_f64());
    let runs = if attempts > 300_000 { 5 } else { 20 };

    for query in [
        "",
        "channel=sms",
        "country=CO&by=carrier",
        "range=7d&by=day",
        "country=US&carrier=AT%26T&by=error&status=unconverted",
    ] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            analytics::overview(&pool, parse_query(query), now, SnapshotStatus::default()).await.unwrap();
            times.push(started.elapsed());
        }
        println!(
            "overview {:<55} p50 {:>8.1} ms  p99 {:>8.1} ms",
            format!("?{query}"),
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.99)
        );
    }
    let mut times = Vec::new();
    let mut cursor = None;
    for _ in 0..20 {
        let mut query = "country=BR".to_string();
        if let Some(page) = &cursor {
            query.push_str(&format!("&page={page}"));
        }
        let started = Instant::now();
        let list = analytics::attempt_list(&pool, parse_query(&query), now, SnapshotStatus::default()).await.unwrap();
        times.push(started.elapsed());
        cursor = list.next_page;
    }
    println!(
        "attempts list, 20 consecutive pages of ?country=BR: p50 {:.1} ms  p99 {:.1} ms",
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.99)
    );
}
