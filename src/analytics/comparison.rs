//! Comparisons that do not cry wolf: like windows of the two periods, the previous period's
//! series on the current period's buckets, and significance tested on verifications with the
//! false discovery rate controlled across the tests a view runs.

use chrono::{DateTime, Duration, Months, Utc};

use super::stats;
use crate::buckets::BucketSize;
use crate::filters::Compare;
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
    pub compare: Compare,
    /// The snapshot covers only the part of the compared period from `previous.0`: both
    /// windows start that far into their periods.
    pub partly_covered: bool,
    /// How much later the current period is than the one compared: the previous series moves
    /// this far onto the current period's buckets.
    pub shift: Duration,
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
            compare: self.compare,
            partly_covered: self.partly_covered,
        }
    }
}

/// Why a view shows no comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NoComparison {
    /// The view asks for none (`compare=none`).
    Off,
    /// The range is all of the snapshot's history: nothing is before it.
    AllHistory,
    /// The snapshot holds none of the compared period, which starts at this time.
    NotCovered(DateTime<Utc>),
    /// No bucket of the period is over with its conversions in.
    NothingSettled,
}

impl NoComparison {
    /// The page's note, if there is one to say.
    pub fn note(self, compare: Compare, hourly: bool) -> Option<String> {
        match self {
            NoComparison::Off => None,
            NoComparison::AllHistory => Some(
                "No comparison: this range is all of the snapshot's history; choose days to compare it with.".into(),
            ),
            NoComparison::NotCovered(from) => Some(match compare {
                Compare::Custom(from, to) => format!("No comparison: the snapshot holds nothing of {from} to {to}."),
                _ => format!(
                    "No comparison: the snapshot does not reach back to {}, where {} starts.",
                    from.date_naive(),
                    compare.against()
                ),
            }),
            NoComparison::NothingSettled => Some(format!(
                "No comparison yet: no {} of this period is over with its conversions in.",
                if hourly { "hour" } else { "day" }
            )),
        }
    }
}

/// The comparison's unit: UTC hours, or days of the reporting zone.
fn unit(hourly: bool) -> BucketSize {
    if hourly { BucketSize::Hour } else { BucketSize::Day }
}

fn bucket_start(t: DateTime<Utc>, hourly: bool) -> DateTime<Utc> {
    unit(hourly).start_of(t)
}

/// `t` moved by `days` of the reporting zone's calendar, at the same place in its day.
fn add_days(t: DateTime<Utc>, days: i64) -> Option<DateTime<Utc>> {
    let date = crate::zone::local_date(t);
    let moved = if days >= 0 {
        date.checked_add_days(chrono::Days::new(days as u64))?
    } else {
        date.checked_sub_days(chrono::Days::new(days.unsigned_abs()))?
    };
    Some(crate::zone::midnight(moved) + (t - crate::zone::midnight(date)))
}

/// Whole days of the reporting zone from `a` to `b`, both midnights.
fn days_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (crate::zone::local_date(b) - crate::zone::local_date(a)).num_days()
}

/// `b - a` in the comparison's unit: hours as a duration, days as calendar days.
fn later_by(a: DateTime<Utc>, b: DateTime<Utc>, hourly: bool) -> Span {
    if hourly { Span::Time(b - a) } else { Span::Days(days_between(a, b)) }
}

/// A length in the comparison's unit.
#[derive(Clone, Copy)]
enum Span {
    Time(Duration),
    Days(i64),
}

impl Span {
    fn after(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Span::Time(d) => t + d,
            Span::Days(n) => add_days(t, n).unwrap_or(t),
        }
    }

    fn before(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Span::Time(d) => t.checked_sub_signed(d),
            Span::Days(n) => add_days(t, -n),
        }
    }
}

/// The end of the last bucket whose conversions are in, for a snapshot holding attempts up to `data_end`.
pub fn settled_until(data_end: DateTime<Utc>, hourly: bool) -> DateTime<Utc> {
    bucket_start(data_end - Duration::minutes(CONVERSION_LAG_MINUTES), hourly)
}

/// The whole period `compare` sets against `[start, end)`, if any. Periods of whole days
/// move by the reporting zone's calendar days, so that a day across a clock change is still
/// a day.
pub fn compared_period(
    compare: Compare,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let whole_days = crate::zone::is_midnight(start) && crate::zone::is_midnight(end);
    let length = later_by(start, end, !whole_days);
    match compare {
        Compare::Off => None,
        Compare::Previous => Some((length.before(start)?, start)),
        Compare::FourWeeksEarlier => {
            let weeks = if whole_days { Span::Days(28) } else { Span::Time(Duration::weeks(4)) };
            Some((weeks.before(start)?, weeks.before(end)?))
        }
        Compare::YearEarlier => {
            let from = if whole_days {
                crate::zone::midnight(crate::zone::local_date(start).checked_sub_months(Months::new(12))?)
            } else {
                start.checked_sub_months(Months::new(12))?
            };
            Some((from, length.after(from)))
        }
        Compare::Custom(from, to) => Some((
            crate::zone::midnight(from.date()),
            crate::zone::midnight(to.date().checked_add_days(chrono::Days::new(1))?),
        )),
    }
}

/// `comparison_windows` for a view of `range`: all of history has nothing before it, so it is
/// compared only with days the user chose.
pub fn view_windows(
    range: &crate::filters::DateRange,
    compare: Compare,
    period: (DateTime<Utc>, DateTime<Utc>),
    data_end: DateTime<Utc>,
    hourly: bool,
    covered_from: Option<DateTime<Utc>>,
) -> Result<ComparisonWindows, NoComparison> {
    let like_for_like = !matches!(compare, Compare::Custom(..));
    if matches!(range, crate::filters::DateRange::All) && compare.is_on() && like_for_like {
        return Err(NoComparison::AllHistory);
    }
    comparison_windows(compare, period, data_end, hourly, covered_from)
}

/// What to compare for the period `[start, end)` when the snapshot holds attempts up to
/// `data_end` and covers them from `covered_from`:
/// - the period's settled buckets; while some are in progress, the same elapsed time of the
///   compared period (for a custom period, its whole settled part);
/// - when the snapshot covers only the end of the compared period, that part, and the same
///   part of this period.
pub fn comparison_windows(
    compare: Compare,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    data_end: DateTime<Utc>,
    hourly: bool,
    covered_from: Option<DateTime<Utc>>,
) -> Result<ComparisonWindows, NoComparison> {
    let (then_start, then_end) = compared_period(compare, start, end).ok_or(NoComparison::Off)?;
    let settled = settled_until(data_end, hourly).min(end);
    if settled <= start {
        return Err(NoComparison::NothingSettled);
    }
    let like_for_like = !matches!(compare, Compare::Custom(..));
    let mut current = (start, settled);
    let mut previous = match like_for_like {
        true => (then_start, later_by(start, settled, hourly).after(then_start)),
        false => (then_start, then_end.min(settled_until(data_end, hourly))),
    };
    let not_covered = NoComparison::NotCovered(then_start);
    // The first whole bucket the snapshot covers.
    let covered = covered_from.map(|from| {
        let first = bucket_start(from, hourly);
        if first < from { unit(hourly).next(first) } else { first }
    });
    let covered = covered.ok_or(not_covered)?;
    if covered >= previous.1 {
        return Err(not_covered);
    }
    let partly_covered = covered > previous.0;
    if partly_covered {
        if like_for_like {
            current.0 = later_by(previous.0, covered, hourly).after(current.0);
        }
        previous.0 = covered;
    }
    Ok(ComparisonWindows {
        current,
        previous,
        same_elapsed: settled < end,
        hourly,
        compare,
        partly_covered,
        shift: start - then_start,
    })
}

/// Every bucket of `[start, end)` that has begun by `data_end`, empty or not; those not yet
/// settled are in progress.
pub fn chart_buckets(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    data_end: DateTime<Utc>,
    size: BucketSize,
) -> Vec<Bucket> {
    let settled = settled_until(data_end, size.is_hourly());
    let mut buckets = Vec::new();
    let mut t = size.start_of(start);
    while t < end && t < data_end {
        let next = size.next(t);
        buckets.push(Bucket { key: size.key(t), in_progress: next > settled });
        t = next;
    }
    buckets
}

/// The settled buckets of `[start, end)` as `(key, from, to)`, each clipped to the range:
/// the periods of the KPIs' trend lines.
pub fn settled_periods(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    data_end: DateTime<Utc>,
    size: BucketSize,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    chart_buckets(start, end, data_end, size)
        .into_iter()
        .filter(|b| !b.in_progress)
        .filter_map(|b| {
            let from = size.parse_key(&b.key)?;
            Some((b.key, from.max(start), size.next(from).min(end)))
        })
        .collect()
}

/// The compared period's points moved `shift` later, onto the bucket at the same offset from
/// the current period's start.
pub fn shift_buckets(points: Vec<SeriesPoint>, shift: Duration, hourly: bool) -> Vec<SeriesPoint> {
    let unit = unit(hourly);
    // Days move by whole days of the zone's calendar, whatever clock change lies between.
    let days = (shift.num_minutes() as f64 / (24.0 * 60.0)).round() as i64;
    points
        .into_iter()
        .filter_map(|p| {
            let start = unit.parse_key(&p.bucket)?;
            let moved = if hourly { start + shift } else { add_days(start, days)? };
            Some(SeriesPoint { bucket: unit.key(moved), ..p })
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
        let covered = Some(at("2000-01-01T00:00:00Z"));
        comparison_windows(Compare::Previous, (at(start), at(end)), at(data_end), hourly, covered).ok()
    }

    fn windows_of(compare: Compare, start: &str, end: &str, covered: &str) -> Result<ComparisonWindows, NoComparison> {
        comparison_windows(compare, (at(start), at(end)), at("2026-11-24T14:20:00Z"), false, Some(at(covered)))
    }

    fn date(text: &str) -> crate::filters::ViewDate {
        text.parse().unwrap()
    }

    #[test]
    fn each_mode_compares_its_own_period() {
        let (start, end, covered) = ("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z", "2025-01-01T00:00:00Z");
        let four_weeks = windows_of(Compare::FourWeeksEarlier, start, end, covered).unwrap();
        assert_eq!(four_weeks.previous, (at("2026-10-04T00:00:00Z"), at("2026-10-11T00:00:00Z")));
        assert_eq!(at("2026-10-04T00:00:00Z").format("%a").to_string(), "Sun", "the same weekdays");
        assert_eq!(four_weeks.shift, Duration::weeks(4));
        let year = windows_of(Compare::YearEarlier, start, end, covered).unwrap();
        assert_eq!(year.previous, (at("2025-11-01T00:00:00Z"), at("2025-11-08T00:00:00Z")));
        let custom = windows_of(Compare::Custom(date("2026-09-10"), date("2026-09-12")), start, end, covered).unwrap();
        assert_eq!(custom.previous, (at("2026-09-10T00:00:00Z"), at("2026-09-13T00:00:00Z")));
        assert_eq!(custom.current, (at(start), at(end)), "a custom period is compared whole, whatever its length");
        assert_eq!(windows_of(Compare::Off, start, end, covered), Err(NoComparison::Off));
        // A leap day has the 28th of February a year earlier.
        let leap =
            windows_of(Compare::YearEarlier, "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", "2020-01-01T00:00:00Z");
        assert_eq!(leap.unwrap().previous, (at("2023-02-28T00:00:00Z"), at("2023-03-01T00:00:00Z")));
    }

    #[test]
    fn a_partly_covered_period_is_compared_where_it_is_covered() {
        // 30 days from Oct 26; the previous period starts Sep 26; the snapshot begins Oct 10 14:30.
        let windows =
            windows_of(Compare::Previous, "2026-10-26T00:00:00Z", "2026-11-25T00:00:00Z", "2026-10-10T14:30:00Z")
                .unwrap();
        assert!(windows.partly_covered);
        assert_eq!(windows.previous.0, at("2026-10-11T00:00:00Z"), "from its first whole day");
        assert_eq!(windows.current.0, at("2026-11-10T00:00:00Z"), "the same part of this period");
        assert_eq!(windows.current.1 - windows.current.0, windows.previous.1 - windows.previous.0);
        let none =
            windows_of(Compare::Previous, "2026-10-26T00:00:00Z", "2026-11-25T00:00:00Z", "2026-10-26T00:00:00Z");
        assert_eq!(none, Err(NoComparison::NotCovered(at("2026-09-26T00:00:00Z"))));
        assert!(
            NoComparison::NotCovered(at("2026-09-26T00:00:00Z"))
                .note(Compare::Previous, false)
                .unwrap()
                .contains("does not reach back to 2026-09-26, where the previous period starts")
        );
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
        let buckets = chart_buckets(
            at("2026-11-24T10:00:00Z"),
            at("2026-11-25T10:00:00Z"),
            at("2026-11-24T14:05:00Z"),
            BucketSize::Hour,
        );
        let keys: Vec<&str> = buckets.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["2026-11-24T10", "2026-11-24T11", "2026-11-24T12", "2026-11-24T13", "2026-11-24T14"]);
        let in_progress: Vec<bool> = buckets.iter().map(|b| b.in_progress).collect();
        assert_eq!(in_progress, [false, false, false, true, true]);
        let days = chart_buckets(
            at("2026-11-20T00:00:00Z"),
            at("2026-11-23T00:00:00Z"),
            at("2026-11-24T14:05:00Z"),
            BucketSize::Day,
        );
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
