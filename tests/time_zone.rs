//! The reporting time zone: with `--tz Europe/Madrid`, a day is Madrid's day in ranges, the
//! breakdown by day (from the rollups and from the raw rows), the chart's buckets and the
//! comparison, across the night the clocks go back (2026-10-25, a day of 25 hours). Every
//! figure is checked against the attempts grouped here by chrono-tz, on sqlite and on
//! PostgreSQL. The zone is set once per process, so this binary holds only Madrid's tests.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Madrid;
use common::Backend;
use verilens::model::{Attempt, ConversionStatus, twilio_time};
use verilens::page_data::Overview;
use verilens::store::{self, Store};

fn at(text: &str) -> DateTime<Utc> {
    twilio_time::parse(text).unwrap()
}

fn now() -> DateTime<Utc> {
    at("2026-11-05T12:00:00Z")
}

/// An attempt every 30 minutes from Oct 18 to Nov 5 (UTC), every third one converted.
fn attempts() -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut t = at("2026-10-18T00:00:00Z");
    let mut serial = 0u64;
    while t < now() {
        serial += 1;
        attempts.push(common::snapshots::attempt(serial, t, "CO", serial.is_multiple_of(3)));
        t += Duration::minutes(30);
    }
    attempts
}

/// Attempts per Madrid day, and converted ones, counted here.
fn by_madrid_day(attempts: &[Attempt], from: NaiveDate, to: NaiveDate) -> BTreeMap<String, (u64, u64)> {
    let mut days = BTreeMap::new();
    for a in attempts {
        let day = a.date_created.with_timezone(&Madrid).date_naive();
        if (from..=to).contains(&day) {
            let entry: &mut (u64, u64) = days.entry(day.to_string()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(a.conversion_status == ConversionStatus::Converted);
        }
    }
    days
}

/// A new store on `backend` holding the attempts, its day rollups kept in Madrid's days.
async fn snapshot(backend: Backend) -> (tempfile::TempDir, Store, Vec<Attempt>) {
    assert!(verilens::zone::set(Madrid));
    let dir = tempfile::tempdir().unwrap();
    let attempts = attempts();
    let store = backend.open(dir.path()).await;
    common::snapshots::holding(&store, &attempts, "2026-10-18T00:00:00Z", now()).await;
    (dir, store, attempts)
}

async fn overview(store: &Store, query: &str) -> Overview {
    common::snapshots::overview(store, query, now()).await
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_day_is_madrids_day_in_ranges_the_breakdown_the_chart_and_the_raw_rows() {
    for backend in Backend::ALL {
        a_day_is_madrids_day(backend).await;
    }
}

async fn a_day_is_madrids_day(backend: Backend) {
    let (_dir, pool, attempts) = snapshot(backend).await;
    if let Some(pool) = pool.sqlite() {
        common::assert_rollups_equal_a_rebuild(pool).await;
    }
    // The day the clocks go back runs from 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    let day = overview(&pool, "from=2026-10-25&to=2026-10-25").await;
    assert_eq!((day.start.as_str(), day.end.as_str()), ("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"));
    assert_eq!(day.totals.attempts, 50, "25 hours of an attempt every 30 minutes");
    assert_eq!(day.range_text, "2026-10-25 to 2026-10-25 (Europe/Madrid)");

    let expected = by_madrid_day(&attempts, date("2026-10-22"), date("2026-10-28"));
    assert_eq!(expected["2026-10-25"].0, 50);
    // The rollups, and the raw rows (a destination prefix needs them), say the same per day.
    for query in ["from=2026-10-22&to=2026-10-28&by=day", "from=2026-10-22&to=2026-10-28&by=day&prefix=%2B57"] {
        let page = overview(&pool, query).await;
        let rows: BTreeMap<String, (u64, u64)> =
            page.rows.iter().map(|r| (r.key.clone(), (r.metrics.attempts, r.metrics.converted))).collect();
        assert_eq!(rows, expected, "{query}");
        // The chart's day buckets are Madrid's days, with the same attempts.
        let keys: Vec<&str> = page.buckets.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, expected.keys().map(String::as_str).collect::<Vec<_>>(), "{query}");
        let mut charted: BTreeMap<String, u64> = BTreeMap::new();
        for point in &page.series {
            *charted.entry(point.bucket.clone()).or_default() += point.attempts;
        }
        assert_eq!(charted, expected.iter().map(|(k, v)| (k.clone(), v.0)).collect(), "{query}");
    }
}

#[tokio::test]
async fn the_previous_period_is_the_same_number_of_madrid_days_across_the_clock_change() {
    for backend in Backend::ALL {
        the_previous_period_in_madrid_days(backend).await;
    }
}

async fn the_previous_period_in_madrid_days(backend: Backend) {
    let (_dir, pool, attempts) = snapshot(backend).await;
    let page = overview(&pool, "from=2026-10-26&to=2026-10-31").await;
    let change = page.change.expect("a comparison");
    // Six days from Oct 26 (CET) against the six before, from Oct 20 (CEST).
    assert_eq!(
        (change.windows.previous_start.as_str(), change.windows.previous_end.as_str()),
        ("2026-10-19T22:00:00Z", "2026-10-25T23:00:00Z")
    );
    assert_eq!(
        (change.windows.current_start.as_str(), change.windows.current_end.as_str()),
        ("2026-10-25T23:00:00Z", "2026-10-31T23:00:00Z")
    );
    let count = |days: BTreeMap<String, (u64, u64)>| days.values().map(|d| d.0).sum::<u64>();
    assert_eq!(change.previous.attempts, count(by_madrid_day(&attempts, date("2026-10-20"), date("2026-10-25"))));
    assert_eq!(change.current.attempts, count(by_madrid_day(&attempts, date("2026-10-26"), date("2026-10-31"))));
    assert_eq!(change.previous.attempts, 6 * 48 + 2, "six days, one of them 25 hours long");
}

#[tokio::test]
async fn rollups_kept_in_another_zone_are_rebuilt_when_the_snapshot_opens() {
    assert!(verilens::zone::set(Madrid));
    let dir = tempfile::tempdir().unwrap();
    let attempts = attempts();
    let pool = store::open(&dir.path().join("snapshot.db")).await.unwrap();
    common::snapshots::holding(&pool.clone().into(), &attempts, "2026-10-18T00:00:00Z", now()).await;
    // As if the snapshot's rollups had been kept with `--tz UTC`, one of its rows off.
    sqlx::query("UPDATE rollup_state SET zone = 'UTC'").execute(&pool).await.unwrap();
    sqlx::query("UPDATE rollup_attempts SET attempts = attempts + 1000 WHERE grain = 'day'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let pool = store::open(&dir.path().join("snapshot.db")).await.unwrap();
    let zone: String = sqlx::query_scalar("SELECT zone FROM rollup_state").fetch_one(&pool).await.unwrap();
    assert_eq!(zone, "Europe/Madrid");
    let page = overview(&pool.clone().into(), "from=2026-10-25&to=2026-10-25").await;
    assert_eq!(page.totals.attempts, 50);
    assert_eq!(common::assert_rollups_equal_a_rebuild(&pool).await, attempts.len() as u64);
}

/// An annotation half an hour after Madrid's midnight (22:30 UTC the day before, in summer
/// time) marks Madrid's day on a chart by day, and its UTC hour on a chart by hour.
#[tokio::test]
async fn an_annotation_marks_the_madrid_day_it_falls_in() {
    assert!(verilens::zone::set(Madrid));
    let note = verilens::page_data::Annotation {
        id: 1,
        at: "2026-10-24T22:30:00Z".into(),
        end: None,
        text: "New SMS template".into(),
        link: None,
        source: "page".into(),
        chart_at: String::new(),
    };
    let marked = |keys: &[&str], hourly: bool| {
        let mut annotations = [note.clone()];
        verilens::annotations::place_on_chart(&mut annotations, hourly);
        let buckets: Vec<verilens::page_data::Bucket> =
            keys.iter().map(|k| verilens::page_data::Bucket { key: k.to_string(), in_progress: false }).collect();
        let chart = verilens::charts::attempts_and_conversion(&buckets, &[], &[], &annotations);
        let json = serde_json::to_string(&chart).unwrap();
        keys.iter()
            .map(|k| verilens::charts::short_bucket(k))
            .filter(|l| json.contains(&format!("\"xAxis\":\"{l}\"")))
            .collect::<Vec<_>>()
    };
    let local = Madrid.from_utc_datetime(&at("2026-10-24T22:30:00Z").naive_utc()).date_naive().to_string();
    assert_eq!(local, "2026-10-25", "chrono-tz places it on the 25th");
    assert_eq!(marked(&["2026-10-24", "2026-10-25", "2026-10-26"], false), ["10-25"], "Madrid's day");
    assert_eq!(marked(&["2026-10-24T21", "2026-10-24T22", "2026-10-24T23"], true), ["24 22h"], "its UTC hour");
}
