//! Every comparison mode, partial coverage, and the long ranges' week and month buckets, on a
//! real snapshot of fourteen months, each figure checked against a count of the attempts as
//! they were made (not the snapshot's SQL, not its rollups). On sqlite and on PostgreSQL.

use crate::common::{self, Backend};

use chrono::{DateTime, Datelike, Duration, Utc};
use verilens::buckets::BucketSize;
use verilens::model::{Attempt, ConversionStatus, twilio_time};
use verilens::page_data::Overview;
use verilens::store::Store;

fn at(text: &str) -> DateTime<Utc> {
    twilio_time::parse(text).unwrap()
}

fn now() -> DateTime<Utc> {
    at("2026-11-24T14:20:00Z")
}

const FIRST: &str = "2025-09-01T00:00:00Z";

/// One verification every three hours from `FIRST` to `now`, in two countries; how often it
/// converts changes with the month and the hour, so that no two windows agree by accident.
fn attempts() -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut t = at(FIRST);
    let mut serial = 0u64;
    while t < now() {
        serial += 1;
        let converted = (serial * 7 + u64::from(t.month())) % 10 < 6 + u64::from(t.month() % 3);
        let country = if serial.is_multiple_of(3) { "BR" } else { "CO" };
        attempts.push(common::snapshots::attempt(serial, t, country, converted));
        t += Duration::hours(3) + Duration::minutes((serial % 7) as i64);
    }
    attempts
}

/// Attempts and converted attempts created in `[from, to)`, counted from the list.
fn counted(attempts: &[Attempt], from: DateTime<Utc>, to: DateTime<Utc>) -> (u64, u64) {
    let inside: Vec<&Attempt> = attempts.iter().filter(|a| a.date_created >= from && a.date_created < to).collect();
    let converted = inside.iter().filter(|a| a.conversion_status == ConversionStatus::Converted).count();
    (inside.len() as u64, converted as u64)
}

async fn snapshot(backend: Backend, covered_from: &str) -> (tempfile::TempDir, Store, Vec<Attempt>) {
    let dir = tempfile::tempdir().unwrap();
    let attempts = attempts();
    let store = backend.open(dir.path()).await;
    common::snapshots::holding(&store, &attempts, covered_from, now()).await;
    (dir, store, attempts)
}

async fn overview(store: &Store, query: &str) -> Overview {
    common::snapshots::overview(store, query, now()).await
}

#[tokio::test]
async fn every_mode_compares_the_windows_it_names_with_the_attempts_in_them() {
    for backend in Backend::ALL {
        every_mode_compares(backend).await;
    }
}

async fn every_mode_compares(backend: Backend) {
    let (_dir, store, attempts) = snapshot(backend, FIRST).await;
    // range=30d at 14:20 on Nov 24: Oct 26 to Nov 24, the 24th in progress and left out.
    let current = (at("2026-10-26T00:00:00Z"), at("2026-11-24T00:00:00Z"));
    let cases = [
        ("", (at("2026-09-26T00:00:00Z"), at("2026-10-25T00:00:00Z")), "the previous period"),
        ("compare=4w", (at("2026-09-28T00:00:00Z"), at("2026-10-27T00:00:00Z")), "the same weekdays 4 weeks earlier"),
        ("compare=year", (at("2025-10-26T00:00:00Z"), at("2025-11-24T00:00:00Z")), "the same dates a year earlier"),
        (
            "compare_from=2026-08-01&compare_to=2026-08-10",
            (at("2026-08-01T00:00:00Z"), at("2026-08-11T00:00:00Z")),
            "2026-08-01 to 2026-08-10",
        ),
    ];
    for (query, previous, against) in cases {
        let page = overview(&store, query).await;
        assert_eq!(page.comparison_note, None, "{query}");
        let change = page.change.unwrap_or_else(|| panic!("{query}: no comparison"));
        let windows = &change.windows;
        assert_eq!(windows.compare.against(), against);
        assert_eq!((at(&windows.current_start), at(&windows.current_end)), current, "{query}");
        assert_eq!((at(&windows.previous_start), at(&windows.previous_end)), previous, "{query}");
        assert_eq!((change.current.attempts, change.current.converted), counted(&attempts, current.0, current.1));
        assert_eq!((change.previous.attempts, change.previous.converted), counted(&attempts, previous.0, previous.1));
        // The chart's grey line: each day of the compared period under the day at the same offset.
        let shift = if query.starts_with("compare_from") { current.0 - previous.0 } else { current.1 - previous.1 };
        for point in page.previous_series.iter().filter(|p| p.channel == "sms").take(40) {
            let day = at(&format!("{}T00:00:00Z", point.bucket)) - shift;
            assert_eq!(point.attempts, counted(&attempts, day, day + Duration::days(1)).0, "{query} {}", point.bucket);
        }
        assert!(!page.previous_series.is_empty(), "{query}");
    }
    let off = overview(&store, "compare=none").await;
    assert!(off.change.is_none() && off.comparison_note.is_none() && off.previous_series.is_empty());
}

#[tokio::test]
async fn a_previous_period_the_snapshot_holds_in_part_is_compared_in_that_part() {
    for backend in Backend::ALL {
        a_previous_period_held_in_part(backend).await;
    }
}

async fn a_previous_period_held_in_part(backend: Backend) {
    // The snapshot's first sync began on Oct 10 at 14:30: the previous period of the last
    // 30 days (from Sep 26) is held from Oct 11 on, its first whole day.
    let (_dir, store, attempts) = snapshot(backend, "2026-10-10T14:30:00Z").await;
    let page = overview(&store, "").await;
    // The comparison's basis says what is held, in one sentence: no second note beside it.
    assert_eq!(page.comparison_note, None);
    let change = page.change.expect("a comparison of the part held");
    assert!(change.windows.partly_covered);
    let previous = (at("2026-10-11T00:00:00Z"), at("2026-10-25T00:00:00Z"));
    let current = (at("2026-11-10T00:00:00Z"), at("2026-11-24T00:00:00Z"));
    assert_eq!((at(&change.windows.previous_start), at(&change.windows.previous_end)), previous);
    assert_eq!((at(&change.windows.current_start), at(&change.windows.current_end)), current);
    assert_eq!(change.previous.attempts, counted(&attempts, previous.0, previous.1).0);
    assert_eq!(change.current.attempts, counted(&attempts, current.0, current.1).0);
    // A year earlier is not held at all: no comparison, and the page says why.
    let year = overview(&store, "compare=year").await;
    assert!(year.change.is_none());
    let note = year.comparison_note.unwrap();
    assert!(note.contains("does not reach back to 2025-10-26, where the same dates a year earlier starts"), "{note}");
}

#[tokio::test]
async fn a_year_is_charted_by_week_and_all_of_history_by_month_with_every_attempt_counted_once() {
    for backend in Backend::ALL {
        a_year_by_week_and_history_by_month(backend).await;
    }
}

async fn a_year_by_week_and_history_by_month(backend: Backend) {
    let (_dir, store, attempts) = snapshot(backend, FIRST).await;
    for (query, size, first_key, from) in [
        ("range=12m", BucketSize::Week, "2025-11-24", at("2025-11-25T00:00:00Z")),
        ("range=all", BucketSize::Month, "2025-09", at(FIRST)),
    ] {
        let page = overview(&store, query).await;
        assert_eq!(page.bucket_size, size, "{query}");
        assert_eq!(page.buckets.first().map(|b| b.key.as_str()), Some(first_key), "{query}");
        let last = page.buckets.last().unwrap();
        assert!(last.in_progress, "{query}: the bucket of today is in progress");
        let mut charted = 0;
        for (i, bucket) in page.buckets.iter().enumerate() {
            let start = size.parse_key(&bucket.key).unwrap().max(from);
            let end = page.buckets.get(i + 1).map_or(now() + Duration::hours(1), |b| size.parse_key(&b.key).unwrap());
            let in_bucket: u64 = page.series.iter().filter(|p| p.bucket == bucket.key).map(|p| p.attempts).sum();
            assert_eq!(in_bucket, counted(&attempts, start, end).0, "{query} {}", bucket.key);
            charted += in_bucket;
        }
        assert_eq!(charted, page.totals.attempts, "{query}: the chart holds every attempt of the range once");
        assert_eq!(page.totals.attempts, counted(&attempts, from, now() + Duration::hours(1)).0, "{query}");
        // The KPIs' trend lines: one point per settled bucket, each the bucket's own totals.
        assert_eq!(page.trend.len(), page.buckets.iter().filter(|b| !b.in_progress).count(), "{query}");
        for period in &page.trend {
            let start = size.parse_key(&period.bucket).unwrap();
            let end = size.next(start);
            assert_eq!(
                period.metrics.attempts,
                counted(&attempts, start.max(from), end).0,
                "{query} {}",
                period.bucket
            );
        }
    }
    // range=all has nothing before it to compare with, and says so; a custom period still compares.
    let all = overview(&store, "range=all").await;
    assert!(all.change.is_none());
    assert!(all.comparison_note.unwrap().contains("all of the snapshot's history"));
    let against_days = overview(&store, "range=all&compare_from=2026-01-01&compare_to=2026-01-31").await;
    assert!(against_days.change.is_some());
}
