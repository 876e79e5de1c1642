//! The time chart's buckets: hours for a day or two, days up to a quarter, weeks (Monday to
//! Sunday) up to a year, months beyond. Keys: `2026-11-20T14`, `2026-11-20`, the week's Monday
//! `2026-11-16`, and `2026-11`. Weeks and months are sums of days: what adds up (attempts,
//! conversions per channel) is regrouped from the day series; what does not (verifications) is
//! read per bucket.

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::page_data::SeriesPoint;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BucketSize {
    Hour,
    #[default]
    Day,
    Week,
    Month,
}

use crate::zone::midnight;

impl BucketSize {
    /// The size for a chart of `[start, end)`: about 100 buckets at most.
    pub fn for_span(start: DateTime<Utc>, end: DateTime<Utc>) -> BucketSize {
        let span = end - start;
        if span <= Duration::days(2) {
            BucketSize::Hour
        } else if span <= Duration::days(92) {
            BucketSize::Day
        } else if span <= Duration::days(366) {
            BucketSize::Week
        } else {
            BucketSize::Month
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            BucketSize::Hour => "hour",
            BucketSize::Day => "day",
            BucketSize::Week => "week",
            BucketSize::Month => "month",
        }
    }

    /// Whether the chart is read from hours (else from days).
    pub fn is_hourly(self) -> bool {
        self == BucketSize::Hour
    }

    /// The start of the bucket `t` falls in: a UTC hour, or a day, week or month of the
    /// reporting zone.
    pub fn start_of(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = crate::zone::local_date(t);
        match self {
            BucketSize::Hour => {
                let seconds = t.timestamp();
                DateTime::from_timestamp(seconds - seconds.rem_euclid(3600), 0).unwrap_or(t)
            }
            BucketSize::Day => midnight(day),
            BucketSize::Week => midnight(day - Days::new(u64::from(day.weekday().num_days_from_monday()))),
            BucketSize::Month => midnight(day.with_day(1).unwrap_or(day)),
        }
    }

    /// The start of the bucket after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let day = crate::zone::local_date(start);
        let later = match self {
            BucketSize::Hour => return start + Duration::hours(1),
            BucketSize::Day => day.checked_add_days(Days::new(1)),
            BucketSize::Week => day.checked_add_days(Days::new(7)),
            BucketSize::Month => day.checked_add_months(Months::new(1)),
        };
        later.map_or(DateTime::<Utc>::MAX_UTC, midnight)
    }

    /// The key of the bucket `t` falls in.
    pub fn key(self, t: DateTime<Utc>) -> String {
        let start = self.start_of(t);
        match self {
            BucketSize::Hour => start.format("%Y-%m-%dT%H").to_string(),
            BucketSize::Day | BucketSize::Week => crate::zone::local_date(start).format("%Y-%m-%d").to_string(),
            BucketSize::Month => crate::zone::local_date(start).format("%Y-%m").to_string(),
        }
    }

    /// The start of the bucket with this key.
    pub fn parse_key(self, key: &str) -> Option<DateTime<Utc>> {
        match self {
            BucketSize::Hour => {
                NaiveDateTime::parse_from_str(&format!("{key}:00:00"), "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc())
            }
            BucketSize::Day | BucketSize::Week => NaiveDate::parse_from_str(key, "%Y-%m-%d").ok().map(midnight),
            BucketSize::Month => NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d").ok().map(midnight),
        }
    }

    /// A bucket's name on the page: `2026-11-20 14h`, `2026-11-20`, `week of 2026-11-16`, `2026-11`.
    pub fn label(self, key: &str) -> String {
        match self {
            BucketSize::Hour => format!("{}h", key.replace('T', " ")),
            BucketSize::Week => format!("week of {key}"),
            BucketSize::Day | BucketSize::Month => key.to_string(),
        }
    }

    /// An hour or day series in this size's buckets, summed per bucket and channel.
    pub fn regroup(self, points: Vec<SeriesPoint>) -> Vec<SeriesPoint> {
        if matches!(self, BucketSize::Hour | BucketSize::Day) {
            return points;
        }
        let mut sums: std::collections::BTreeMap<(String, String), (u64, u64)> = Default::default();
        for point in points {
            let Some(day) = BucketSize::Day.parse_key(point.bucket.get(..10).unwrap_or(&point.bucket)) else {
                continue;
            };
            let sum = sums.entry((self.key(day), point.channel)).or_default();
            sum.0 += point.attempts;
            sum.1 += point.converted;
        }
        sums.into_iter()
            .map(|((bucket, channel), (attempts, converted))| SeriesPoint { bucket, channel, attempts, converted })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_chart_has_at_most_about_a_hundred_buckets() {
        let end = at("2026-12-01T00:00:00Z");
        let size = |days: i64| BucketSize::for_span(end - Duration::days(days), end);
        assert_eq!(
            [size(1), size(30), size(90), size(365), size(400)],
            [BucketSize::Hour, BucketSize::Day, BucketSize::Day, BucketSize::Week, BucketSize::Month]
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let sunday = at("2026-11-29T23:59:59Z");
        assert_eq!(BucketSize::Week.key(sunday), "2026-11-23");
        assert_eq!(BucketSize::Week.key(at("2026-11-30T00:00:00Z")), "2026-11-30");
        assert_eq!(BucketSize::Month.key(sunday), "2026-11");
        assert_eq!(BucketSize::Month.next(at("2026-01-01T00:00:00Z")), at("2026-02-01T00:00:00Z"));
        assert_eq!(BucketSize::Week.parse_key("2026-11-23"), Some(at("2026-11-23T00:00:00Z")));
        assert_eq!(BucketSize::Month.parse_key("2026-02"), Some(at("2026-02-01T00:00:00Z")));
        assert_eq!(BucketSize::Hour.key(at("2026-11-29T14:05:00Z")), "2026-11-29T14");
    }

    #[test]
    fn days_add_up_into_their_weeks_and_months_per_channel() {
        let point = |bucket: &str, channel: &str, attempts, converted| SeriesPoint {
            bucket: bucket.into(),
            channel: channel.into(),
            attempts,
            converted,
        };
        let days = vec![
            point("2026-11-29", "sms", 10, 5),
            point("2026-11-30", "sms", 20, 15),
            point("2026-12-01", "sms", 1, 1),
            point("2026-11-30", "call", 3, 0),
        ];
        assert_eq!(
            BucketSize::Week.regroup(days.clone()),
            vec![
                point("2026-11-23", "sms", 10, 5),
                point("2026-11-30", "call", 3, 0),
                point("2026-11-30", "sms", 21, 16),
            ]
        );
        assert_eq!(
            BucketSize::Month.regroup(days.clone()),
            vec![point("2026-11", "call", 3, 0), point("2026-11", "sms", 30, 20), point("2026-12", "sms", 1, 1),]
        );
        assert_eq!(BucketSize::Day.regroup(days.clone()), days);
    }
}
