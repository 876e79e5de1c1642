//! Comparisons that do not cry wolf: like windows of the two periods, the previous period's
//! series on the current period's buckets, and significance tested on verifications with the
//! false discovery rate controlled across the tests a view runs.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::stats;
use crate::model::twilio_time;
use crate::page_data::{Bucket, Change, ComparedWindows, Metrics, SeriesPoint};

/// Conversions trail their attempts by minutes: a bucket that ended less than this before
/// the snapshot's end would read as a drop, so it still counts as in progress.
pub const CONVERSION_LAG_MINUTES: i64 = 15;

/// The false discovery rate (Benjamini–Hochberg's q) at which a change is called significant.
pub const FALSE_DISCOVERY_RATE: f64 = 0.05;

/// The windows one comparison covers, each `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComparisonWindows {
    pub current: (DateTime<Utc>, DateTime<Utc>),
    pub previous: (DateTime<Utc>, DateTime<Utc>),
    /// The current period was cut at its last settled bucket, the previous one at the same offset.
    pub same_elapsed: bool,
    pub hourly: bool,
}

impl ComparisonWindows {
    pub fn compared(&self) -> ComparedWindows {
        ComparedWindows {
            current_start: twilio_time::format(&self.current.0),
            current_end: twilio_time::format(&self.current.1),
            previous_start: twilio_time::format(&self.previous.0),
            previous_end: twilio_time::format(&self.previous.1),
            same_elapsed: self.same_elapsed,
            hourly: self.hourly,
        }
    }
}

fn bucket_length(hourly: bool) -> Duration {
    if hourly { Duration::hours(1) } else { Duration::days(1) }
}

fn bucket_start(t: DateTime<Utc>, hourly: bool) -> DateTime<Utc> {
    let step = bucket_length(hourly).num_seconds();
    let seconds = t.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(step), 0).unwrap_or(t)
}

fn bucket_key(t: DateTime<Utc>, hourly: bool) -> String {
    t.format(if hourly { "%Y-%m-%dT%H" } else { "%Y-%m-%d" }).to_string()
}

fn parse_bucket(key: &str, hourly: bool) -> Option<DateTime<Utc>> {
    let text = if hourly { format!("{key}:00:00") } else { format!("{key}T00:00:00") };
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc())
}

/// The end of the last bucket whose conversions are in, for a snapshot holding attempts up to `data_end`.
pub fn settled_until(data_end: DateTime<Utc>, hourly: bool) -> DateTime<Utc> {
    bucket_start(data_end - Duration::minutes(CONVERSION_LAG_MINUTES), hourly)
}

/// What to compare for the period `[start, end)` when the snapshot holds attempts up to
/// `data_end`: the whole period against the one before it when all of its buckets are settled;
/// otherwise its settled buckets against the same elapsed time of the previous period. `None`
/// while no bucket of the period is settled.
pub fn comparison_windows(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    data_end: DateTime<Utc>,
    hourly: bool,
) -> Option<ComparisonWindows> {
    let settled = settled_until(data_end, hourly).min(end);
    if settled <= start {
        return None;
    }
    let previous_start = start - (end - start);
    Some(ComparisonWindows {
        current: (start, settled),
        previous: (previous_start, previous_start + (settled - start)),
        same_elapsed: settled < end,
        hourly,
    })
}

/// Every bucket of `[start, end)` that has begun by `data_end`, empty or not; those not yet
/// settled are in progress.
pub fn chart_buckets(start: DateTime<Utc>, end: DateTime<Utc>, data_end: DateTime<Utc>, hourly: bool) -> Vec<Bucket> {
    let step = bucket_length(hourly);
    let settled = settled_until(data_end, hourly);
    let mut buckets = Vec::new();
    let mut t = bucket_start(start, hourly);
    while t < end && t < data_end {
        buckets.push(Bucket { key: bucket_key(t, hourly), in_progress: t + step > settled });
        t += step;
    }
    buckets
}

/// The settled buckets of `[start, end)` as `(key, from, to)`, each clipped to the range:
/// the periods of the KPIs' trend lines.
pub fn settled_periods(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    data_end: DateTime<Utc>,
    hourly: bool,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let step = bucket_length(hourly);
    chart_buckets(start, end, data_end, hourly)
        .into_iter()
        .filter(|b| !b.in_progress)
        .filter_map(|b| {
            let from = parse_bucket(&b.key, hourly)?;
            Some((b.key, from.max(start), (from + step).min(end)))
        })
        .collect()
}

/// The previous period's points moved `shift` later, onto the bucket at the same offset from
/// the current period's start.
pub fn shift_buckets(points: Vec<SeriesPoint>, shift: Duration, hourly: bool) -> Vec<SeriesPoint> {
    points
        .into_iter()
        .filter_map(|p| {
            let bucket = bucket_key(parse_bucket(&p.bucket, hourly)? + shift, hourly);
            Some(SeriesPoint { bucket, ..p })
        })
        .collect()
}

/// The change between like windows. Whether it is significant depends on the view's other
/// tests: `control_false_discoveries` decides.
pub fn compare(current: Metrics, previous: Metrics, windows: &ComparisonWindows) -> Change {
    let points = |now: Option<f64>, then: Option<f64>| now.zip(then).map(|(c, p)| c - p);
    let p_value = stats::two_proportion_p_value(
        current.converted_verifications,
        current.verifications,
        previous.converted_verifications,
        previous.verifications,
    );
    Change {
        windows: windows.compared(),
        rate_points: points(current.rate_percent(), previous.rate_percent()),
        verification_rate_points: points(current.verification_rate_percent(), previous.verification_rate_percent()),
        p_value,
        adjusted_p_value: p_value,
        tests: usize::from(p_value.is_some()),
        significant: false,
        current,
        previous,
    }
}

/// Benjamini–Hochberg across the tests a view runs: the change's own, then one per country.
/// Sets the change's adjusted p-value and verdict; returns the countries' adjusted p-values.
pub fn control_false_discoveries(change: &mut Change, country_p_values: &[f64]) -> Vec<f64> {
    let family: Vec<f64> = change.p_value.iter().chain(country_p_values).copied().collect();
    let mut adjusted = stats::benjamini_hochberg(&family);
    change.tests = family.len();
    if change.p_value.is_some() {
        let own = adjusted.remove(0);
        change.adjusted_p_value = Some(own);
        change.significant = own <= FALSE_DISCOVERY_RATE;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        twilio_time::parse(text).unwrap()
    }

    fn windows_at(start: &str, end: &str, data_end: &str, hourly: bool) -> Option<ComparisonWindows> {
        comparison_windows(at(start), at(end), at(data_end), hourly)
    }

    #[test]
    fn a_period_in_progress_is_compared_with_the_same_settled_days() {
        // range=7d at 14:20 on the 24th: the 24th is in progress, six days are settled.
        let windows =
            windows_at("2026-11-18T00:00:00Z", "2026-11-25T00:00:00Z", "2026-11-24T14:20:00Z", false).unwrap();
        assert_eq!(windows.current, (at("2026-11-18T00:00:00Z"), at("2026-11-24T00:00:00Z")));
        assert_eq!(windows.previous, (at("2026-11-11T00:00:00Z"), at("2026-11-17T00:00:00Z")));
        assert!(windows.same_elapsed);
    }

    #[test]
    fn an_hour_that_just_ended_is_not_settled() {
        // range=24h at 14:05: the hours from 13:00 on are still converting.
        let windows = windows_at("2026-11-23T15:00:00Z", "2026-11-24T15:00:00Z", "2026-11-24T14:05:00Z", true).unwrap();
        assert_eq!(windows.current, (at("2026-11-23T15:00:00Z"), at("2026-11-24T13:00:00Z")));
        assert_eq!(windows.previous, (at("2026-11-22T15:00:00Z"), at("2026-11-23T13:00:00Z")));
        let later = windows_at("2026-11-23T15:00:00Z", "2026-11-24T15:00:00Z", "2026-11-24T14:20:00Z", true).unwrap();
        assert_eq!(later.current.1, at("2026-11-24T14:00:00Z"));
    }

    #[test]
    fn a_past_period_is_compared_whole() {
        let windows = windows_at("2026-11-15T00:00:00Z", "2026-11-17T00:00:00Z", "2026-11-24T14:20:00Z", true).unwrap();
        assert_eq!(windows.current, (at("2026-11-15T00:00:00Z"), at("2026-11-17T00:00:00Z")));
        assert_eq!(windows.previous, (at("2026-11-13T00:00:00Z"), at("2026-11-15T00:00:00Z")));
        assert!(!windows.same_elapsed);
        let compared = windows.compared();
        assert_eq!(
            (compared.previous_start.as_str(), compared.current_end.as_str()),
            ("2026-11-13T00:00:00Z", "2026-11-17T00:00:00Z")
        );
    }

    #[test]
    fn a_period_without_a_settled_bucket_has_no_comparison() {
        let today = ("2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z");
        assert_eq!(windows_at(today.0, today.1, "2026-11-24T00:10:00Z", true), None);
        assert_eq!(windows_at(today.0, today.1, "2026-11-24T20:00:00Z", false), None);
        assert!(windows_at(today.0, today.1, "2026-11-24T01:20:00Z", true).is_some());
    }

    #[test]
    fn buckets_cover_the_range_up_to_the_snapshot_and_mark_those_in_progress() {
        let buckets =
            chart_buckets(at("2026-11-24T10:00:00Z"), at("2026-11-25T10:00:00Z"), at("2026-11-24T14:05:00Z"), true);
        let keys: Vec<&str> = buckets.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["2026-11-24T10", "2026-11-24T11", "2026-11-24T12", "2026-11-24T13", "2026-11-24T14"]);
        let in_progress: Vec<bool> = buckets.iter().map(|b| b.in_progress).collect();
        assert_eq!(in_progress, [false, false, false, true, true]);
        let days =
            chart_buckets(at("2026-11-20T00:00:00Z"), at("2026-11-23T00:00:00Z"), at("2026-11-24T14:05:00Z"), false);
        assert!(days.iter().all(|b| !b.in_progress) && days.len() == 3);
    }

    #[test]
    fn the_previous_period_lines_up_by_offset_and_empty_buckets_are_kept() {
        let point = |bucket: &str, attempts| SeriesPoint {
            bucket: bucket.into(),
            channel: "sms".into(),
            attempts,
            converted: attempts / 2,
        };
        // The previous period had nothing on its second day; its third day is the third.
        let previous = vec![point("2026-11-14", 10), point("2026-11-16", 30)];
        let shifted = shift_buckets(previous, Duration::days(3), false);
        assert_eq!(shifted, vec![point("2026-11-17", 10), point("2026-11-19", 30)]);
        let hours = shift_buckets(vec![point("2026-11-23T23", 4)], Duration::hours(24), true);
        assert_eq!(hours, vec![point("2026-11-24T23", 4)]);
    }

    fn metrics(attempts: u64, converted: u64, verifications: u64, converted_verifications: u64) -> Metrics {
        Metrics { attempts, converted, verifications, converted_verifications, ..Metrics::default() }
    }

    #[test]
    fn significance_is_tested_on_verifications_not_attempts() {
        let windows =
            windows_at("2026-11-15T00:00:00Z", "2026-11-17T00:00:00Z", "2026-11-24T00:00:00Z", false).unwrap();
        // Retries tripled the attempts of the current period: per attempt the rate halves,
        // per verification it barely moves.
        let mut change = compare(metrics(300, 80, 100, 80), metrics(150, 82, 100, 82), &windows);
        assert!(stats::two_proportion_p_value(80, 300, 82, 150).unwrap() < 1e-6);
        assert_eq!(change.p_value, stats::two_proportion_p_value(80, 100, 82, 100));
        assert!((change.rate_points.unwrap() - (80.0 / 3.0 - 82.0 * 100.0 / 150.0)).abs() < 1e-9);
        assert!((change.verification_rate_points.unwrap() + 2.0).abs() < 1e-9);
        control_false_discoveries(&mut change, &[]);
        assert!(!change.significant && change.tests == 1);

        let mut drop = compare(metrics(200, 120, 200, 120), metrics(200, 170, 200, 170), &windows);
        control_false_discoveries(&mut drop, &[]);
        assert!(drop.significant, "{drop:?}");
    }

    #[test]
    fn the_change_is_judged_with_the_views_other_tests() {
        let windows =
            windows_at("2026-11-15T00:00:00Z", "2026-11-17T00:00:00Z", "2026-11-24T00:00:00Z", false).unwrap();
        let mut change = compare(metrics(1000, 800, 1000, 800), metrics(1000, 835, 1000, 835), &windows);
        let p = change.p_value.unwrap();
        assert!(p < 0.05 && p > 0.04 / 15.0, "{p}");
        // Alone it would pass; among 15 tests whose other p-values are large it does not.
        let countries = [0.5; 14];
        let adjusted = control_false_discoveries(&mut change, &countries);
        assert_eq!((adjusted.len(), change.tests), (14, 15));
        assert!(!change.significant && (change.adjusted_p_value.unwrap() - (p * 15.0).min(0.5)).abs() < 1e-9);
    }
}
