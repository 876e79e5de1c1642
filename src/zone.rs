//! The reporting time zone (`--tz`, IANA names; UTC by default): what a day is in ranges,
//! the chart's buckets, the day-grain rollups, the breakdown by day and the CSVs. Hours stay
//! UTC hours. Set once, before the snapshot is opened: the day rollups are keyed by it, and a
//! snapshot whose rollups were kept in another zone has them rebuilt when it opens.
//!
//! The browser's build has no zone database: there every day is a UTC day, and the pages get
//! their days from the server.

use std::borrow::Cow;

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};

#[cfg(feature = "ssr")]
static ZONE: std::sync::OnceLock<chrono_tz::Tz> = std::sync::OnceLock::new();

/// Sets the reporting zone; `false` if it was set already (to another zone).
#[cfg(feature = "ssr")]
pub fn set(zone: chrono_tz::Tz) -> bool {
    ZONE.set(zone).is_ok() || ZONE.get() == Some(&zone)
}

#[cfg(feature = "ssr")]
fn zone() -> chrono_tz::Tz {
    ZONE.get().copied().unwrap_or(chrono_tz::UTC)
}

/// The zone's IANA name, as the pages say it: `UTC`, `Europe/Madrid`.
#[cfg(feature = "ssr")]
pub fn name() -> &'static str {
    zone().name()
}

#[cfg(not(feature = "ssr"))]
pub fn name() -> &'static str {
    "UTC"
}

pub fn is_utc() -> bool {
    name() == "UTC"
}

/// The zone's offset from UTC at `t`, in seconds.
#[cfg(feature = "ssr")]
pub fn offset_seconds(t: DateTime<Utc>) -> i64 {
    use chrono::{Offset, TimeZone};
    i64::from(zone().offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc())
}

#[cfg(not(feature = "ssr"))]
pub fn offset_seconds(_: DateTime<Utc>) -> i64 {
    0
}

/// Whether the zone's offsets are whole hours (from 2000 on): then every UTC hour lies in
/// one local day.
pub fn whole_hours() -> bool {
    static WHOLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WHOLE.get_or_init(|| {
        (2000..=2040).flat_map(|year| [1, 7].map(|month| (year, month))).all(|(year, month)| {
            let t = NaiveDate::from_ymd_opt(year, month, 1).map(|d| d.and_time(NaiveTime::MIN).and_utc());
            t.is_none_or(|t| offset_seconds(t) % 3600 == 0)
        })
    })
}

/// The zone's date at `t`.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    (t + Duration::seconds(offset_seconds(t))).date_naive()
}

/// The first instant of `date` in the zone (a day whose midnight a clock change skips starts
/// when the clocks resume).
pub fn midnight(date: NaiveDate) -> DateTime<Utc> {
    at_local(date, 0)
}

/// The first instant of hour `hour` of `date` in the zone, or of the next hour that exists.
#[cfg(feature = "ssr")]
pub fn at_local(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    let naive = date.and_time(NaiveTime::MIN) + Duration::hours(i64::from(hour));
    let zone = zone();
    (0..=180)
        .step_by(15)
        .find_map(|minutes| zone.from_local_datetime(&(naive + Duration::minutes(minutes))).earliest())
        .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
}

/// `at_local` in the browser's build, where every day is a UTC day.
#[cfg(not(feature = "ssr"))]
pub fn at_local(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    (date.and_time(NaiveTime::MIN) + Duration::hours(i64::from(hour))).and_utc()
}

/// The zone's next midnight after the day starting at `day_start`.
pub fn next_midnight(day_start: DateTime<Utc>) -> DateTime<Utc> {
    let date = local_date(day_start);
    midnight(date.checked_add_days(Days::new(1)).unwrap_or(date))
}

/// Whether `t` is a midnight of the zone.
pub fn is_midnight(t: DateTime<Utc>) -> bool {
    midnight(local_date(t)) == t
}

/// The zone's date of an ISO 8601 UTC time (`2026-11-25T14:03:00Z`), as `2026-11-25`.
pub fn day_of(time: &str) -> Cow<'_, str> {
    if is_utc() {
        return Cow::Borrowed(time.get(..10).unwrap_or(time));
    }
    match crate::model::twilio_time::parse(time) {
        Some(t) => Cow::Owned(local_date(t).to_string()),
        None => Cow::Borrowed(time.get(..10).unwrap_or(time)),
    }
}

/// The zone's local time (`2026-11-25T15:03:00`) of an ISO 8601 UTC time; in UTC, the time as it is.
pub fn local_time(time: &str) -> Cow<'_, str> {
    if is_utc() {
        return Cow::Borrowed(time);
    }
    match crate::model::twilio_time::parse(time) {
        Some(t) => Cow::Owned((t + Duration::seconds(offset_seconds(t))).format("%Y-%m-%dT%H:%M:%S").to_string()),
        None => Cow::Borrowed(time),
    }
}

/// The zone's date of a UTC hour period (`2026-11-25T14`); a day period (`2026-11-25`) as it is.
pub fn day_of_hour(hour: &str) -> Cow<'_, str> {
    if is_utc() || hour.len() <= 10 {
        return Cow::Borrowed(hour.get(..10).unwrap_or(hour));
    }
    Cow::Owned(day_of(&format!("{hour}:00:00Z")).into_owned())
}

/// The offsets in force over `[from, to)`: (until, offset in seconds), the last until `to`.
#[cfg(feature = "ssr")]
fn offsets_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, i64)> {
    let mut spans = Vec::new();
    let mut t = from;
    let mut offset = offset_seconds(from);
    while t < to {
        let next = (t + Duration::days(1)).min(to);
        if offset_seconds(next) != offset && next < to {
            // The change lies in (t, next]: found to the second by halving.
            let (mut before, mut after) = (t, next);
            while after - before > Duration::seconds(1) {
                let middle = before + (after - before) / 2;
                if offset_seconds(middle) == offset { before = middle } else { after = middle }
            }
            spans.push((after, offset));
            offset = offset_seconds(after);
            t = after;
        } else {
            t = next;
        }
    }
    spans.push((to, offset));
    spans
}

/// SQL for the zone's date of `column` (a time: ISO 8601 UTC text in sqlite, `timestamptz`
/// in PostgreSQL), exact for the times in `[from, to)`: the offsets in force there, each to
/// its change. Both stores use these offsets, not PostgreSQL's own zone database, so that
/// their days are the rollups' days whatever either's zone data.
#[cfg(feature = "ssr")]
pub fn day_sql(dialect: crate::store::Dialect, column: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    use crate::store::Dialect;
    let spans = if is_utc() { vec![(to, 0)] } else { offsets_between(from.max(DateTime::UNIX_EPOCH), to.max(from)) };
    let modifier = |offset: i64| match dialect {
        Dialect::Sqlite => format!("'{offset:+} seconds'"),
        Dialect::Postgres => format!("interval '{offset} seconds'"),
    };
    let offset = match spans.as_slice() {
        [(_, 0)] if dialect == Dialect::Sqlite => return format!("substr({column}, 1, 10)"),
        [(_, offset)] => modifier(*offset),
        _ => {
            let mut case = String::from("CASE");
            let (last, changes) = spans.split_last().expect("one span at least");
            for (until, offset) in changes {
                case.push_str(&format!(
                    " WHEN {column} < '{}'{} THEN {}",
                    crate::model::twilio_time::format(until),
                    dialect.time_cast(),
                    modifier(*offset)
                ));
            }
            case.push_str(&format!(" ELSE {} END", modifier(last.1)));
            case
        }
    };
    match dialect {
        Dialect::Sqlite => format!("date({column}, {offset})"),
        Dialect::Postgres => format!("to_char(({column} AT TIME ZONE 'UTC') + {offset}, 'YYYY-MM-DD')"),
    }
}

/// A view's range as the page says it: `2026-10-27 to 2026-11-25 (Europe/Madrid)` for whole
/// days, `2026-11-24 15:00 to 2026-11-25 15:00 Europe/Madrid` otherwise, in the zone's time.
pub fn describe_range(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let local = |t: DateTime<Utc>| (t + Duration::seconds(offset_seconds(t))).naive_utc();
    if is_midnight(start) && is_midnight(end) {
        let last = local_date(end).pred_opt().unwrap_or(local_date(end));
        format!("{} to {last} ({})", local_date(start), name())
    } else {
        format!("{} to {} {}", local(start).format("%Y-%m-%d %H:%M"), local(end).format("%Y-%m-%d %H:%M"), name())
    }
}
