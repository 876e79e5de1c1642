//! The overview's comparison on a real snapshot: a period still in progress, whose last
//! minutes' conversions have not arrived yet, is compared like for like and flags nothing.
//! On sqlite and on PostgreSQL.

use crate::common::{self, Backend};

use chrono::{DateTime, Duration, Utc};
use verilens::model::{Attempt, ConversionStatus, twilio_time};
use verilens::page_data::Overview;
use verilens::store::Store;

fn now() -> DateTime<Utc> {
    twilio_time::parse("2026-11-24T14:20:00Z").unwrap()
}

use common::snapshots::attempt;

/// Two weeks of steady traffic in three countries, 8 of every 10 verifications converted,
/// then a busy last twenty minutes whose conversions have not arrived yet.
fn attempts() -> Vec<Attempt> {
    let first = twilio_time::parse("2026-11-10T00:00:00Z").unwrap();
    let mut attempts = Vec::new();
    let mut serial = 0;
    let mut hour = first;
    while hour < now() - Duration::minutes(20) {
        for country in ["CO", "BR", "US"] {
            for k in 0..10 {
                serial += 1;
                attempts.push(attempt(serial, hour + Duration::minutes(5 * k), country, k < 8));
            }
        }
        hour += Duration::hours(1);
    }
    for k in 0..3000 {
        serial += 1;
        let created = now() - Duration::minutes(20) + Duration::seconds(k % 1200);
        attempts.push(attempt(serial, created, ["CO", "BR", "US"][k as usize % 3], false));
    }
    attempts
}

async fn overview(store: &Store, query: &str) -> Overview {
    common::snapshots::overview(store, query, now()).await
}

#[tokio::test]
async fn a_bucket_in_progress_with_lagging_conversions_is_not_a_significant_drop() {
    for backend in Backend::ALL {
        a_bucket_in_progress_compared(backend).await;
    }
}

async fn a_bucket_in_progress_compared(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let attempts = attempts();
    let store = backend.open(dir.path()).await;
    common::snapshots::holding(&store, &attempts, "2026-11-10T00:00:00Z", now()).await;

    let week = overview(&store, "range=7d&compare=previous").await;
    // The whole week, lagging minutes included, reads as a collapse of conversion...
    assert!(week.totals.rate_percent().unwrap() < 60.0, "{:?}", week.totals);
    let change = week.change.as_ref().expect("a comparison");
    // ...but only the six days that are over are compared, with the same six days before them.
    assert!(change.windows.same_elapsed);
    assert_eq!(
        (change.windows.current_start.as_str(), change.windows.current_end.as_str()),
        ("2026-11-18T00:00:00Z", "2026-11-24T00:00:00Z")
    );
    assert_eq!(
        (change.windows.previous_start.as_str(), change.windows.previous_end.as_str()),
        ("2026-11-11T00:00:00Z", "2026-11-17T00:00:00Z")
    );
    assert_eq!(change.current.attempts, change.previous.attempts);
    assert_eq!(change.verification_rate_points, Some(0.0));
    assert!(!change.significant, "{change:?}");
    assert_eq!(change.tests, 4, "the headline and one test per country");
    assert!(week.anomalies.iter().all(|a| a.kind != "conversion-drop"), "{:?}", week.anomalies);
    let keys: Vec<&str> = week.buckets.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(keys.first(), Some(&"2026-11-18"));
    assert_eq!(keys.last(), Some(&"2026-11-24"));
    assert_eq!(week.buckets.iter().filter(|b| b.in_progress).count(), 1, "today is in progress");
    // The previous week's days sit under the days at the same offset: the 11th under the 18th.
    let first_previous = week.previous_series.iter().map(|p| p.bucket.as_str()).min();
    assert_eq!(first_previous, Some("2026-11-18"));
    assert!(week.previous_series.iter().all(|p| keys.contains(&p.bucket.as_str())), "{:?}", week.previous_series);

    // The KPIs' trend lines: the view's totals in each bucket that is over, as the attempts
    // count them; the day in progress is left out.
    let counted = |bucket: &str| {
        let of_bucket: Vec<&Attempt> =
            attempts.iter().filter(|a| twilio_time::format(&a.date_created).starts_with(bucket)).collect();
        let converted = of_bucket.iter().filter(|a| a.conversion_status == ConversionStatus::Converted).count();
        (of_bucket.len() as u64, converted as u64)
    };
    let trend: Vec<&str> = week.trend.iter().map(|p| p.bucket.as_str()).collect();
    assert_eq!(trend, keys[..6], "the settled days");
    for period in &week.trend {
        let (attempts, converted) = counted(&period.bucket);
        assert_eq!((period.metrics.attempts, period.metrics.converted), (attempts, converted), "{}", period.bucket);
        assert_eq!(period.metrics.verifications, attempts, "one attempt per verification here");
    }

    let day = overview(&store, "range=24h&compare=previous").await;
    assert_eq!(day.trend.len(), 23, "the hours that are over");
    for period in &day.trend {
        let (attempts, converted) = counted(&period.bucket);
        assert_eq!((period.metrics.attempts, period.metrics.converted), (attempts, converted), "{}", period.bucket);
    }
    let change = day.change.as_ref().expect("a comparison");
    // 14:00 to 14:20 is the hour in progress: the 23 hours before it are compared.
    assert_eq!(change.windows.current_end, "2026-11-24T14:00:00Z");
    assert_eq!(change.windows.previous_end, "2026-11-23T14:00:00Z");
    assert!(!change.significant, "{change:?}");
    assert!(day.anomalies.iter().all(|a| a.kind != "conversion-drop"), "{:?}", day.anomalies);
    let in_progress: Vec<&str> = day.buckets.iter().filter(|b| b.in_progress).map(|b| b.key.as_str()).collect();
    assert_eq!(in_progress, ["2026-11-24T14"]);
}
