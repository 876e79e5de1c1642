//! Dashboard query times on a generated snapshot, against the raw GROUP BY they replace:
//!
//!   cargo bench --features ssr --bench analytics -- [ATTEMPTS] [--days DAYS] [--db FILE] [--bulk] [--alerts-only | --refresh-only | --view QUERY...]
//!
//! Fills a sqlite file with ATTEMPTS (default 1,000,000) generated attempts over DAYS (default
//! 30; 365 for a year of history, with the 12-month and all-history views),
//! through the sync's upsert in transactions of 25 pages of 1000 (so the rollups are maintained
//! as in a sync), or with `--bulk` as a first sync's bulk load (many times faster at tens of
//! millions), unless FILE already holds them. Then, for several views, times each query the overview
//! makes from the rollups (p50 and p99 of 30 runs) and the same breakdown as a raw GROUP BY
//! over `attempts` (3 runs), and prints their ratio; then the attempts list's pages, and the
//! cost of rollup maintenance: the ingest rate of 200,000 attempts with and without it; and
//! the evaluation of 100 alert rules (20 saved views × 5 conditions) after a sync.

#[path = "../tests/common/timing.rs"]
mod timing;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use timing::{percentile_ms, process_cpu, rss_mib, time_runs};

use chrono::{DateTime, Utc};
use verilens::analytics;
use verilens::emulator::dataset::{Dataset, DatasetConfig};
use verilens::emulator::render::render_attempt;
use verilens::filters::parse_query;
use verilens::model::{Attempt, twilio_time};
use verilens::page_data::SnapshotStatus;
use verilens::store::{self, AttemptScope};

const PAGE: usize = 1000;

fn render_pages(dataset: &Dataset, now: DateTime<Utc>, range: std::ops::Range<usize>) -> Vec<Vec<Attempt>> {
    dataset.records[range]
        .chunks(PAGE)
        .map(|chunk| chunk.iter().map(|r| render_attempt(dataset, r, now.timestamp(), "http://localhost")).collect())
        .collect()
}

async fn ingest(pool: &sqlx::SqlitePool, pages: &[Vec<Attempt>], pages_per_commit: usize, rollups: bool) -> f64 {
    let started = Instant::now();
    let mut count = 0;
    for batch in pages.chunks(pages_per_commit) {
        let attempts: Vec<Attempt> = batch.concat();
        let mut tx = store::begin_write(pool).await.unwrap();
        if rollups {
            store::upsert_attempts(&mut tx, &attempts).await.unwrap();
        } else {
            store::upsert_attempts_without_rollups(&mut tx, &attempts).await.unwrap();
        }
        tx.commit().await.unwrap();
        count += attempts.len();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let attempts: u64 = args
        .iter()
        .enumerate()
        .find(|(i, a)| a.parse::<u64>().is_ok() && (*i == 0 || args[i - 1] != "--days"))
        .and_then(|(_, a)| a.parse().ok())
        .unwrap_or(1_000_000);
    let db: Option<PathBuf> = args.iter().position(|a| a == "--db").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let days: u32 = args
        .iter()
        .position(|a| a == "--days")
        .and_then(|i| args.get(i + 1))
        .and_then(|d| d.parse().ok())
        .unwrap_or(30);
    // A fixed clock, so a kept FILE holds the same data at the same times.
    let now = twilio_time::parse("2026-11-25T12:00:00Z").unwrap();
    let dataset = Dataset::generate(DatasetConfig { seed: 42, attempts, days }, "AC".repeat(17), now);
    let dir = tempfile::tempdir().unwrap();
    let path = db.unwrap_or_else(|| dir.path().join("analytics.db"));
    let pool = store::open(&path).await.unwrap();
    let snapshot = store::Store::from(pool.clone());
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
    let horizon = twilio_time::format(&(now - chrono::Duration::hours(store::HOUR_GRAIN_HOURS)));
    if stored as usize != dataset.records.len() {
        // As a sync of this window does: hour rows for its last 72 hours only.
        store::advance_hour_horizon(&pool, &horizon).await.unwrap();
        let started = Instant::now();
        if args.iter().any(|a| a == "--bulk") {
            bulk_fill(&pool, &dataset, now).await;
        } else {
            for start in (0..dataset.records.len()).step_by(100 * PAGE) {
                let end = (start + 100 * PAGE).min(dataset.records.len());
                ingest(&pool, &render_pages(&dataset, now, start..end), 25, true).await;
            }
        }
        sqlx::query(
            "INSERT INTO sync_runs (started_at, window_start, window_end, status) VALUES (?, ?, ?, 'complete')",
        )
        // The snapshot covers the generated days: where `range=all` begins.
        .bind(twilio_time::format(&now))
        .bind(twilio_time::format(&(now - chrono::Duration::days(i64::from(days)))))
        .bind("2100-01-01T00:00:00Z")
        .execute(&pool)
        .await
        .unwrap();
        println!(
            "loaded {} attempts ({}) in {:.1} s ({:.0} attempts/s)",
            dataset.records.len(),
            if args.iter().any(|a| a == "--bulk") {
                "as a first sync's bulk load: appended, then indexed and rolled up"
            } else {
                "25 pages per transaction, rollups maintained, as later syncs write"
            },
            started.elapsed().as_secs_f64(),
            dataset.records.len() as f64 / started.elapsed().as_secs_f64()
        );
    }
    let rows = |table: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&pool).await.unwrap() }
    };
    println!(
        "snapshot: {} attempts; rollup rows: {} attempt cells, {} verification cells, {} attempts of irregular verifications",
        rows("attempts").await,
        rows("rollup_attempts").await,
        rows("rollup_verifications").await,
        rows("irregular_attempts").await
    );

    if args.iter().any(|a| a == "--refresh-only") {
        let rollups = std::sync::Arc::new(analytics::RollupCache::default());
        let (started, rss_before) = (Instant::now(), rss_mib("VmRSS:"));
        rollups.get(&snapshot).await.unwrap();
        println!(
            "rollups loaded into memory in {:.0} ms, +{:.0} MiB RSS",
            started.elapsed().as_secs_f64() * 1000.0,
            rss_mib("VmRSS:") - rss_before
        );
        refresh_after_a_sync(&pool, &rollups, &dataset, now).await;
        return;
    }
    if args.iter().any(|a| a == "--alerts-only") {
        let rollups = std::sync::Arc::new(analytics::RollupCache::default());
        alert_rules(&pool, &rollups, &store::RawScans::default(), now).await;
        return;
    }
    let service: String =
        sqlx::query_scalar("SELECT service_sid FROM attempts LIMIT 1").fetch_one(&pool).await.unwrap();
    let mut views = vec![
        String::new(),
        "channel=sms&by=channel".into(),
        "country=CO&by=carrier".into(),
        "range=7d&by=day".into(),
        "range=24h&by=channel".into(),
        "range=90d&by=country".into(),
        "country=US&carrier=AT%26T&by=error&status=unconverted".into(),
        "error=30008&by=country".into(),
        format!("service={service}&channel=whatsapp&by=service"),
        "status=converted&channel=call&channel=email&by=carrier".into(),
    ];
    if days > 92 {
        views.extend(["range=12m".to_string(), "range=all&by=channel".into(), "compare=year&by=country".into()]);
    }
    // `--view QUERY` (repeatable) times those views alone, with no raw GROUP BY and nothing after.
    let only: Vec<String> =
        args.iter().enumerate().filter(|(_, a)| *a == "--view").filter_map(|(i, _)| args.get(i + 1).cloned()).collect();
    if !only.is_empty() {
        views = only.clone();
    }
    println!();
    println!(
        "| view | totals p50/p99 ms | breakdown p50/p99 ms | series p50/p99 ms | what to do p50/p99 ms | retries p50 ms | overview p50/p99 ms | raw GROUP BY ms | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let runs = 30;
    let rollups = std::sync::Arc::new(analytics::RollupCache::default());
    let scans = store::RawScans::default();
    let fees = verilens::fees::FeeSchedule::default();
    let (started, rss_before) = (Instant::now(), rss_mib("VmRSS:"));
    let index = rollups.get(&snapshot).await.unwrap();
    println!(
        "rollups loaded into memory in {:.0} ms, +{:.0} MiB RSS",
        started.elapsed().as_secs_f64() * 1000.0,
        rss_mib("VmRSS:") - rss_before
    );
    // As the server does once the rollups are loaded, before any page.
    let started = Instant::now();
    let bursts = analytics::read_every_burst_cost(&snapshot, &scans, &index).await.unwrap();
    println!(
        "what each SMS-pumping burst cost, read ahead of the first page: {bursts} bursts in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut ratios = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let parsed = parse_query(view);
        let f = parsed.filters.clone();
        let (start, end) = f.range.bounds(now);
        let scope = AttemptScope { from: twilio_time::format(&start), to: twilio_time::format(&end), filters: &f };
        let size =
            verilens::buckets::BucketSize::for_span(start.max(now - chrono::Duration::days(i64::from(days))), end);
        let hourly = size.is_hourly();
        let totals = time_runs(runs, || analytics::totals(&snapshot, &scans, &index, &scope)).await;
        let breakdown = time_runs(runs, || analytics::breakdown(&snapshot, &scans, &index, &scope)).await;
        let series = time_runs(runs, || async {
            Ok::<_, store::StoreError>(
                size.regroup(analytics::series(&snapshot, &scans, &index, &scope, hourly).await?),
            )
        })
        .await;
        let what_to_do = time_runs(runs, || analytics::what_to_do(&snapshot, &scans, &index, &scope, None)).await;
        let retries = time_runs(runs, || async { analytics::retry_funnel(&index, &scope) }).await;
        let overview = time_runs(runs, || {
            analytics::overview(&snapshot, &scans, &rollups, parsed.clone(), now, SnapshotStatus::default())
        })
        .await;
        // Above 2M attempts a raw GROUP BY takes a minute: once, for the first three views.
        let raw_runs = match (attempts > 2_000_000, i < 3) {
            _ if !only.is_empty() => 0,
            (false, _) => 3,
            (true, true) => 1,
            (true, false) => 0,
        };
        let b50 = percentile_ms(&breakdown, 0.5);
        let (raw50, ratio) = if raw_runs > 0 {
            let raw = time_runs(raw_runs, || store::raw_metrics_by(&snapshot, &scans, &scope, Some(f.by), &fees)).await;
            let raw50 = percentile_ms(&raw, 0.5);
            ratios.push(raw50 / b50);
            (format!("{raw50:.0}"), format!("{:.0}×", raw50 / b50))
        } else {
            ("–".to_string(), "–".to_string())
        };
        println!(
            "| `?{view}` | {:.1} / {:.1} | {b50:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} | {:.1} / {:.1} | {raw50} | {ratio} |",
            percentile_ms(&totals, 0.5),
            percentile_ms(&totals, 0.99),
            percentile_ms(&breakdown, 0.99),
            percentile_ms(&series, 0.5),
            percentile_ms(&series, 0.99),
            percentile_ms(&what_to_do, 0.5),
            percentile_ms(&what_to_do, 0.99),
            percentile_ms(&retries, 0.5),
            percentile_ms(&overview, 0.5),
            percentile_ms(&overview, 0.99),
        );
    }
    if !only.is_empty() {
        return;
    }
    ratios.sort_by(f64::total_cmp);
    println!("\nbreakdown vs raw GROUP BY: median ratio {:.0}×, lowest {:.0}×", ratios[ratios.len() / 2], ratios[0]);

    refresh_after_a_sync(&pool, &rollups, &dataset, now).await;

    let mut times = Vec::new();
    let mut cursor = None;
    for _ in 0..20 {
        let mut query = "country=BR".to_string();
        if let Some(page) = &cursor {
            query.push_str(&format!("&page={page}"));
        }
        let started = Instant::now();
        let list =
            analytics::attempt_list(&snapshot, &scans, &rollups, parse_query(&query), now, SnapshotStatus::default())
                .await
                .unwrap();
        times.push(started.elapsed());
        cursor = list.next_page;
    }
    println!(
        "attempts list, 20 consecutive pages of ?country=BR: p50 {:.1} ms  p99 {:.1} ms",
        percentile_ms(&times, 0.5),
        percentile_ms(&times, 0.99)
    );

    alert_rules(&pool, &rollups, &scans, now).await;

    if attempts > 2_000_000 {
        return;
    }
    // Maintenance cost: the same 200,000 attempts into two fresh snapshots, alternating.
    let sample = 200_000.min(dataset.records.len());
    let pages = render_pages(&dataset, now, 0..sample);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..2 {
        for rollups in [round % 2 == 0, round % 2 != 0] {
            let dir = tempfile::tempdir().unwrap();
            let pool = store::open(&dir.path().join("ingest.db")).await.unwrap();
            store::advance_hour_horizon(&pool, &horizon).await.unwrap();
            // Sixteen pages per transaction: the most the sync's writer commits at once.
            let rate = ingest(&pool, &pages, 16, rollups).await;
            if rollups { with.push(rate) } else { without.push(rate) }
        }
    }
    let best = |rates: &[f64]| rates.iter().cloned().fold(0.0, f64::max);
    println!(
        "ingest of {sample} attempts, 16 pages of {PAGE} per transaction: {:.0} attempts/s with rollups, {:.0} without: maintenance costs {:.1}%",
        best(&with),
        best(&without),
        (1.0 - best(&with) / best(&without)) * 100.0
    );
}

/// Fills an empty snapshot as a first sync's bulk load does: the attempts appended without
/// indexes, 100 pages to a transaction, then the indexes and the rollups built at the end.
async fn bulk_fill(pool: &sqlx::SqlitePool, dataset: &Dataset, now: DateTime<Utc>) {
    let pages = (0..dataset.records.len()).step_by(100 * PAGE).map(|start| {
        let end = (start + 100 * PAGE).min(dataset.records.len());
        render_pages(dataset, now, start..end).concat()
    });
    store::bulk_load(pool, None, pages).await.unwrap();
}

/// A sync of the last hour, as each sync after the first: that hour's attempts listed again,
/// a quarter of them converted since; then the index refreshed in place, against a whole
/// reload of the same rollups, the incidents found and what the SMS-pumping bursts near its
/// writes cost read again (as the server does after each sync), and the first overview of two
/// views after it.
async fn refresh_after_a_sync(
    pool: &sqlx::SqlitePool,
    rollups: &std::sync::Arc<analytics::RollupCache>,
    dataset: &Dataset,
    now: DateTime<Utc>,
) {
    let snapshot = verilens::store::Store::from(pool.clone());
    let hour_ago = (now - chrono::Duration::hours(1)).timestamp();
    let first = dataset.records.partition_point(|r| r.created < hour_ago);
    let (mut refreshes, mut cpu, mut reloads) = (Vec::new(), Vec::new(), Vec::new());
    let views = ["", "range=12m"];
    let mut first_overviews: Vec<Vec<Duration>> = vec![Vec::new(); views.len()];
    let scans = store::RawScans::default();
    for view in views {
        // Each view read once before the syncs, as a dashboard in use has.
        analytics::overview(&snapshot, &scans, rollups, parse_query(view), now, SnapshotStatus::default())
            .await
            .unwrap();
    }
    let mut listed = 0;
    let (mut bursts_read, mut read_ahead, mut incidents_found) = (0, Vec::new(), Vec::new());
    for round in 0..5u32 {
        let mut attempts: Vec<Attempt> = render_pages(dataset, now, first..dataset.records.len()).concat();
        for (i, attempt) in attempts.iter_mut().enumerate() {
            attempt.date_updated = now + chrono::Duration::seconds(i64::from(round) + 1);
            if i % 4 == round as usize % 4 {
                attempt.conversion_status = verilens::model::ConversionStatus::Converted;
            }
        }
        listed = attempts.len();
        let mut tx = store::begin_write(pool).await.unwrap();
        store::upsert_attempts(&mut tx, &attempts).await.unwrap();
        tx.commit().await.unwrap();
        let (started, cpu_before) = (Instant::now(), process_cpu());
        let index = rollups.get_current(&snapshot).await.unwrap();
        refreshes.push(started.elapsed());
        cpu.push(process_cpu().saturating_sub(cpu_before));
        // As the server does after each sync, before any page: the incidents of every hour
        // found again, and what the bursts near its writes cost read again.
        let started = Instant::now();
        index.incidents();
        incidents_found.push(started.elapsed());
        let started = Instant::now();
        bursts_read += analytics::read_every_burst_cost(&snapshot, &scans, &index).await.unwrap();
        read_ahead.push(started.elapsed());
        for (view, times) in views.iter().zip(&mut first_overviews) {
            let started = Instant::now();
            analytics::overview(&snapshot, &scans, rollups, parse_query(view), now, SnapshotStatus::default())
                .await
                .unwrap();
            times.push(started.elapsed());
        }
        let started = Instant::now();
        let rows = store::read_rollup_rows(pool).await.unwrap();
        drop(analytics::RollupIndex::build(rows, std::sync::Arc::new(verilens::fees::FeeSchedule::default())));
        reloads.push(started.elapsed());
    }
    println!(
        "after a sync of the last hour ({listed} attempts listed again), the index refreshed in place: p50 {:.1} ms \
         ({:.1} ms of CPU), against {:.0} ms to reload every rollup: {:.0}× faster",
        percentile_ms(&refreshes, 0.5),
        percentile_ms(&cpu, 0.5),
        percentile_ms(&reloads, 0.5),
        percentile_ms(&reloads, 0.5) / percentile_ms(&refreshes, 0.5)
    );
    println!(
        "after it, before any page: the incidents found again in p50 {:.1} ms; what the bursts near its writes cost \
         read again: {bursts_read} bursts over 5 syncs, p50 {:.1} ms",
        percentile_ms(&incidents_found, 0.5),
        percentile_ms(&read_ahead, 0.5)
    );
    for (view, times) in views.iter().zip(&first_overviews) {
        println!("the first overview of `?{view}` after such a sync: p50 {:.1} ms", percentile_ms(times, 0.5));
    }
}

/// 100 alert rules, every condition on 20 saved views, evaluated as after a sync: all of them
/// read from the rollups (raw rows for the last minutes), their evaluations written in one
/// transaction.
async fn alert_rules(
    pool: &sqlx::SqlitePool,
    rollups: &std::sync::Arc<analytics::RollupCache>,
    scans: &store::RawScans,
    now: DateTime<Utc>,
) {
    let snapshot = verilens::store::Store::from(pool.clone());
    use verilens::alerts::store::{self as alert_store, RuleInput};
    use verilens::alerts::{Condition, DestinationKind, SpendPer, engine};
    for table in ["alert_messages", "alert_rules", "saved_views"] {
        sqlx::query(&format!("DELETE FROM {table}")).execute(pool).await.unwrap();
    }
    // Rules are evaluated once a sync has completed: as one that ended at `now`.
    sqlx::query("INSERT OR REPLACE INTO sync_state (id, watermark) VALUES (1, ?)")
        .bind(twilio_time::format(&now))
        .execute(pool)
        .await
        .unwrap();
    let at = twilio_time::format(&now);
    let mut views = Vec::new();
    for country in ["", "CO", "BR", "IN", "US", "ID", "MX", "DE", "GB", "NG"] {
        for range in ["range=24h", "range=7d"] {
            let query = if country.is_empty() { range.to_string() } else { format!("country={country}&{range}") };
            views.push(alert_store::create_view(&snapshot, &query, &query, &at).await.unwrap());
        }
    }
    let conditions = [
        (Condition::ConversionBelow { percent: 60.0 }, None),
        (Condition::DeliveryBelow { percent: 80.0 }, None),
        (Condition::ConversionDrop { points: 5.0 }, None),
        (Condition::SpendAbove { amount: 100.0, currency: "USD".into(), per: SpendPer::Hour }, None),
        (Condition::Anomaly, None),
    ];
    for view in &views {
        for (condition, window) in &conditions {
            let input = RuleInput {
                view_id: *view,
                name: format!("{condition:?}"),
                condition: condition.clone(),
                min_verifications: 20,
                window_minutes: *window,
                destinations: vec![DestinationKind::Inbox],
                email_to: String::new(),
            };
            alert_store::create_rule(&snapshot, &input, &at).await.unwrap();
        }
    }
    // Off the hour, as most evaluations are: the last 60 minutes (spend) and 15 minutes then
    // read raw rows at both ends of the rollups' hours.
    let now = now - chrono::Duration::seconds(23 * 60 + 17);
    let state = verilens::state::AppState {
        rollups: rollups.clone(),
        raw_scans: scans.clone(),
        pinned_now: Some(now),
        ..verilens::state::AppState::new(verilens::server::leptos_options(([127, 0, 0, 1], 0).into()), pool.clone())
    };
    let runs = time_runs(10, || async { engine::evaluate_all(&state, now).await.unwrap() }).await;
    let run = engine::evaluate_all(&state, now).await.unwrap();
    // Each condition's share: its 20 rules alone.
    for (condition, window) in &conditions {
        let kind = condition.kind();
        let only = |paused: bool| {
            let pool = pool.clone();
            let window = window.map(i64::from);
            async move {
                sqlx::query(
                    "UPDATE alert_rules SET paused = (json_extract(condition, '$.kind') != ? OR window_minutes IS NOT ?) = ?",
                )
                .bind(kind)
                .bind(window)
                .bind(!paused)
                .execute(&pool)
                .await
                .unwrap();
            }
        };
        only(false).await;
        let times = time_runs(10, || async { engine::evaluate_all(&state, now).await.unwrap() }).await;
        println!(
            "  {kind}{}: 20 rules in p50 {:.1} ms",
            window.map(|w| format!(" over {w} min")).unwrap_or_default(),
            percentile_ms(&times, 0.5)
        );
        sqlx::query("UPDATE alert_rules SET paused = 0").execute(pool).await.unwrap();
    }
    // Rates over the last 15 minutes, off the rollups' hours: raw rows, 20 rules.
    sqlx::query("UPDATE alert_rules SET window_minutes = 15, paused = (json_extract(condition, '$.kind') != 'conversion_below')")
        .execute(pool)
        .await
        .unwrap();
    let windowed = time_runs(10, || async { engine::evaluate_all(&state, now).await.unwrap() }).await;
    println!(
        "  conversion_below over the last 15 minutes (raw rows): 20 rules in p50 {:.1} ms",
        percentile_ms(&windowed, 0.5)
    );
    sqlx::query("UPDATE alert_rules SET window_minutes = NULL, paused = 0").execute(pool).await.unwrap();
    println!(
        "alert rules: {} rules (20 views × 5 conditions) evaluated in p50 {:.1} ms, p99 {:.1} ms, the first {:.1} ms \
         (a sync's commit also reloads the rollups first: the load time above); {} firing",
        run.evaluated,
        percentile_ms(&runs, 0.5),
        percentile_ms(&runs, 0.99),
        runs[0].as_secs_f64() * 1000.0,
        alert_store::rules(&snapshot).await.unwrap().iter().filter(|r| r.state == "firing").count()
    );
}
