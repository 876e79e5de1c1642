//! The days and ranges a view covers.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// A day a view can start or end on: a UTC date from 2000 to 2100. Verify's data lies well
/// inside these years, and date math on a view's days never comes near the calendar's ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "NaiveDate", into = "NaiveDate")]
pub struct ViewDate(NaiveDate);

/// Why a text or a date is not a `ViewDate`; says what was expected, for notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ViewDateError {
    #[error("a date like 2026-11-01")]
    NotADate,
    #[error("a date from 2000-01-01 to 2100-12-31")]
    OutOfRange,
    #[error("an hour like 2026-11-01T14:00")]
    NotAnHour,
}

impl ViewDate {
    pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;
    /// The first day a view can name: where `range=all` starts looking.
    pub const FIRST: ViewDate = ViewDate(NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date"));

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl TryFrom<NaiveDate> for ViewDate {
    type Error = ViewDateError;

    fn try_from(date: NaiveDate) -> Result<Self, Self::Error> {
        if ViewDate::YEARS.contains(&date.year()) { Ok(ViewDate(date)) } else { Err(ViewDateError::OutOfRange) }
    }
}

impl From<ViewDate> for NaiveDate {
    fn from(date: ViewDate) -> Self {
        date.0
    }
}

impl std::str::FromStr for ViewDate {
    type Err = ViewDateError;

    /// `2026-11-01`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ViewDateError::NotADate)?.try_into()
    }
}

impl std::fmt::Display for ViewDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An hour a view can start or end on: an hour of a `ViewDate`, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ViewHour {
    date: ViewDate,
    hour: u32,
}

impl ViewHour {
    /// The first or the last hour of `date`.
    pub fn of_day(date: ViewDate, last: bool) -> ViewHour {
        ViewHour { date, hour: if last { 23 } else { 0 } }
    }

    /// The hour `time` falls in, in the reporting zone, if it is one a view can name.
    pub fn of_time(time: DateTime<Utc>) -> Option<ViewHour> {
        let local = time + TimeDelta::seconds(crate::zone::offset_seconds(time));
        Some(ViewHour { date: ViewDate::try_from(local.date_naive()).ok()?, hour: local.hour() })
    }

    /// When the hour starts: an hour of the reporting zone's clock.
    pub fn start(self) -> DateTime<Utc> {
        crate::zone::at_local(self.date.date(), self.hour)
    }
}

impl std::str::FromStr for ViewHour {
    type Err = ViewDateError;

    /// `2026-11-01T14:00`, as a browser's datetime field sends it, or `2026-11-01T14`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (date, time) = text.split_once('T').ok_or(ViewDateError::NotAnHour)?;
        let hour = time.strip_suffix(":00").unwrap_or(time);
        if hour.len() != 2 || !hour.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ViewDateError::NotAnHour);
        }
        let hour: u32 = hour.parse().map_err(|_| ViewDateError::NotAnHour)?;
        if hour > 23 {
            return Err(ViewDateError::NotAnHour);
        }
        Ok(ViewHour { date: date.parse()?, hour })
    }
}

impl TryFrom<String> for ViewHour {
    type Error = ViewDateError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ViewHour> for String {
    fn from(hour: ViewHour) -> Self {
        hour.to_string()
    }
}

impl std::fmt::Display for ViewHour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}T{:02}:00", self.date, self.hour)
    }
}

/// The date range of a view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateRange {
    /// The last 24 hours.
    LastDay,
    /// The last N days of the reporting zone, today included.
    LastDays(u32),
    /// The last N months: from the day after this date N months ago, today included.
    LastMonths(u32),
    /// All of the snapshot's history, today included.
    All,
    /// From and to, both included, in the reporting zone's days.
    Between(ViewDate, ViewDate),
    /// From and to, both included, in the reporting zone's hours.
    Hours(ViewHour, ViewHour),
}

/// `time + delta`, held at the calendar's ends rather than overflowing.
fn shifted(time: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    let end = if delta < TimeDelta::zero() { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC };
    time.checked_add_signed(delta).unwrap_or(end)
}

impl DateRange {
    /// `[start, end)` of the range at `now`.
    pub fn bounds(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = crate::zone::midnight;
        let day_after = |d: NaiveDate| d.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
        let today = crate::zone::local_date(now);
        match self {
            // The 24 hours up to and including the current one, so views align with hourly rollups.
            DateRange::LastDay => {
                let seconds = now.timestamp();
                let hour = DateTime::from_timestamp(seconds - seconds.rem_euclid(3600), 0).unwrap_or(now);
                (shifted(hour, TimeDelta::hours(-23)), shifted(hour, TimeDelta::hours(1)))
            }
            DateRange::LastDays(n) => {
                let first = today.checked_sub_days(Days::new(u64::from(n.saturating_sub(1)))).unwrap_or(NaiveDate::MIN);
                (midnight(first), midnight(day_after(today)))
            }
            DateRange::LastMonths(n) => {
                let first = today
                    .checked_sub_months(chrono::Months::new(*n))
                    .and_then(|d| d.checked_add_days(Days::new(1)))
                    .unwrap_or(NaiveDate::MIN);
                (midnight(first), midnight(day_after(today)))
            }
            DateRange::All => (midnight(ViewDate::FIRST.date()), midnight(day_after(today))),
            DateRange::Between(from, to) => (midnight(from.date()), midnight(day_after(to.date()))),
            DateRange::Hours(from, to) => (from.start(), to.start() + TimeDelta::hours(1)),
        }
    }

    /// The range as absolute days (or hours, when it does not start and end at midnight),
    /// for links that must show the same data tomorrow; as it is when its days are not ones a
    /// link can name. `All` stays all: its link shows the history up to the day it is opened.
    pub fn absolute(&self, now: DateTime<Utc>) -> DateRange {
        if *self == DateRange::All {
            return DateRange::All;
        }
        let (start, end) = self.bounds(now);
        let last = shifted(end, TimeDelta::seconds(-1));
        let whole_days = crate::zone::is_midnight(start) && crate::zone::is_midnight(end);
        if whole_days {
            let (first, last) = (crate::zone::local_date(start), crate::zone::local_date(last));
            if let (Ok(from), Ok(to)) = (ViewDate::try_from(first), ViewDate::try_from(last)) {
                return DateRange::Between(from, to);
            }
        } else if let (Some(from), Some(to)) = (ViewHour::of_time(start), ViewHour::of_time(last)) {
            return DateRange::Hours(from, to);
        }
        self.clone()
    }
}
