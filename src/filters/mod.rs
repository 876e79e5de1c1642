//! The dashboard's URL query as typed filters, shared by the server and the browser.
//! Invalid values become notices and are dropped: a bad link still shows a page.

use serde::{Deserialize, Serialize};

mod compare;
mod dates;
mod dimension;

pub use compare::Compare;
pub use dates::{DateRange, ViewDate, ViewDateError, ViewHour};
pub use dimension::{Dimension, SortKey};

use crate::model::{Channel, ConversionStatus, is_sid};

/// A valid view of the data: every value here was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub range: DateRange,
    pub countries: Vec<String>,
    pub channels: Vec<Channel>,
    pub carriers: Vec<String>,
    pub services: Vec<String>,
    /// Twilio accounts, by SID (`AC…`).
    pub accounts: Vec<String>,
    /// Error codes; `none` selects attempts without one.
    pub errors: Vec<String>,
    pub status: Option<ConversionStatus>,
    /// A destination prefix in E.164, e.g. `+5730`.
    pub prefix: Option<String>,
    pub by: Dimension,
    pub sort: SortKey,
    pub descending: bool,
    pub compare: Compare,
    /// The attempts list's order.
    pub order: ListOrder,
    /// The attempts list's cursor.
    pub page: Option<String>,
}

impl ListOrder {
    pub const ALL: [ListOrder; 2] = [ListOrder::Newest, ListOrder::Price];

    pub fn as_str(self) -> &'static str {
        match self {
            ListOrder::Newest => "newest",
            ListOrder::Price => "price",
        }
    }
}

/// The order of the attempts list: `order=` in its links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ListOrder {
    /// Newest first (the default).
    #[default]
    Newest,
    /// Highest price first, unpriced attempts last; newest first within a price.
    Price,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            range: DateRange::LastDays(30),
            countries: Vec::new(),
            channels: Vec::new(),
            carriers: Vec::new(),
            services: Vec::new(),
            accounts: Vec::new(),
            errors: Vec::new(),
            status: None,
            prefix: None,
            by: Dimension::Country,
            sort: SortKey::Attempts,
            descending: true,
            compare: Compare::Previous,
            order: ListOrder::Newest,
            page: None,
        }
    }
}

/// The parsed query: the filters, and what had to be dropped, in words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFilters {
    pub filters: Filters,
    pub notices: Vec<String>,
}

const RANGES: [(&str, u32); 3] = [("7d", 7), ("30d", 30), ("90d", 90)];

/// The URL's value for "no value" of a country, carrier or service (as `error=none` is for
/// no error code). `Filters` holds it as `""`, as breakdown keys and the rollups do.
pub const UNKNOWN: &str = "unknown";

/// A country, carrier or service as a filter shows it: `""` is the unknown one.
pub fn value_label(value: &str) -> &str {
    if value.is_empty() { UNKNOWN } else { value }
}

/// A carrier's value in the URL. Carriers are free text, so a real carrier named
/// `unknown` must not read as the sentinel: it, and any name starting with `~`, gets a `~`.
fn carrier_to_url(carrier: &str) -> String {
    if carrier.is_empty() {
        UNKNOWN.to_string()
    } else if carrier == UNKNOWN || carrier.starts_with('~') {
        format!("~{carrier}")
    } else {
        carrier.to_string()
    }
}

/// The carrier a URL value names (`""` for the unknown one), if it can name one.
fn carrier_from_url(value: &str) -> Option<String> {
    if value == UNKNOWN {
        return Some(String::new());
    }
    let name = value.strip_prefix('~').unwrap_or(value);
    (!name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control)).then(|| name.to_string())
}
const MAX_VALUES: usize = 50;

/// Invalid parameters named one by one; the rest are counted in one more notice, so that a
/// query of a million bad parameters is not answered with a million notices.
const MAX_NAMED_INVALID: usize = 5;

fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) && list.len() < MAX_VALUES {
        list.push(value);
    }
}

/// A `from` or `to` of a link: a whole day, or an hour.
#[derive(Clone, Copy, Debug)]
enum ViewTime {
    Day(ViewDate),
    Hour(ViewHour),
}

impl ViewTime {
    fn parse(text: &str) -> Result<ViewTime, ViewDateError> {
        if text.contains('T') { text.parse().map(ViewTime::Hour) } else { text.parse().map(ViewTime::Day) }
    }

    /// From `from` to `to`, both included: days if both are days, else hours (a day as
    /// its first hour in `from`, its last in `to`); `None` when `to` comes before `from`.
    fn range(from: ViewTime, to: ViewTime) -> Option<DateRange> {
        match (from, to) {
            (ViewTime::Day(from), ViewTime::Day(to)) => (from <= to).then_some(DateRange::Between(from, to)),
            (from, to) => {
                let (from, to) = (from.hour(false), to.hour(true));
                (from <= to).then_some(DateRange::Hours(from, to))
            }
        }
    }

    fn hour(self, last: bool) -> ViewHour {
        match self {
            ViewTime::Day(day) => ViewHour::of_day(day, last),
            ViewTime::Hour(hour) => hour,
        }
    }
}

impl std::fmt::Display for ViewTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ViewTime::Day(day) => day.fmt(f),
            ViewTime::Hour(hour) => hour.fmt(f),
        }
    }
}

/// Parses the dashboard's query pairs; unknown keys are ignored.
pub fn parse_filters<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ParsedFilters {
    let mut parsed = ParsedFilters::default();
    let f = &mut parsed.filters;
    let notices = &mut parsed.notices;
    let (mut from, mut to, mut range) = (None, None, None);
    let (mut compare, mut compare_from, mut compare_to) = (None, None, None);
    let (mut sort, mut descending) = (None, None);
    let mut unnamed_invalid = 0usize;
    let mut bad = |key: &str, value: &str, expected: &str| {
        if notices.len() < MAX_NAMED_INVALID {
            let shown: String = value.chars().take(40).collect();
            notices.push(format!("{key}={shown:?} is not {expected}"));
        } else {
            unnamed_invalid += 1;
        }
    };
    for (key, value) in pairs {
        let value = value.trim();
        match key {
            "range" if value == "24h" => range = Some(DateRange::LastDay),
            "range" if value == "12m" => range = Some(DateRange::LastMonths(12)),
            "range" if value == "all" => range = Some(DateRange::All),
            "range" => match RANGES.iter().find(|(name, _)| *name == value) {
                Some((_, days)) => range = Some(DateRange::LastDays(*days)),
                None => bad(key, value, "one of 24h, 7d, 30d, 90d, 12m, all"),
            },
            "from" | "to" => match ViewTime::parse(value) {
                Ok(time) if key == "from" => from = Some(time),
                Ok(time) => to = Some(time),
                Err(expected) => bad(key, value, &expected.to_string()),
            },
            "channel" => match value.parse::<Channel>() {
                Ok(channel) => push_unique(&mut f.channels, channel),
                Err(_) => bad(key, value, "one of sms, whatsapp, call, email, rbm"),
            },
            "country" if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) => {
                push_unique(&mut f.countries, value.to_ascii_uppercase())
            }
            "country" if value == UNKNOWN => push_unique(&mut f.countries, String::new()),
            "country" => match crate::model::country_code_for_name(value) {
                Some(code) => push_unique(&mut f.countries, code.to_string()),
                None => bad(key, value, "a two-letter country code, a country's name, or unknown"),
            },
            "carrier" => match carrier_from_url(value) {
                Some(carrier) => push_unique(&mut f.carriers, carrier),
                None => bad(key, value, "a carrier name, or unknown"),
            },
            "service" if is_sid(value, "VA") => push_unique(&mut f.services, value.to_string()),
            "service" if value == UNKNOWN => push_unique(&mut f.services, String::new()),
            "service" => bad(key, value, "a Verify service SID (VA…), or unknown"),
            "account" if is_sid(value, "AC") => push_unique(&mut f.accounts, value.to_string()),
            "account" => bad(key, value, "a Twilio account SID (AC…)"),
            "error"
                if value == "none" || (1..=6).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) =>
            {
                push_unique(&mut f.errors, value.to_string())
            }
            "error" => bad(key, value, "an error code like 30008, or none"),
            "status" => match value.parse::<ConversionStatus>() {
                Ok(status) => f.status = Some(status),
                Err(_) => bad(key, value, "converted or unconverted"),
            },
            "prefix" => {
                let digits = value.trim_start_matches('+');
                if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    f.prefix = Some(format!("+{digits}"));
                } else {
                    bad(key, value, "a destination prefix like +5730");
                }
            }
            "by" => match Dimension::parse(value) {
                Some(by) => f.by = by,
                None => bad(key, value, "one of country, channel, carrier, service, account, error, day"),
            },
            "sort" => match SortKey::ALL.into_iter().find(|s| s.as_str() == value) {
                Some(key) => sort = Some(key),
                None => bad(key, value, "one of key, attempts, converted, rate, verifications, spend"),
            },
            "dir" => match value {
                "asc" => descending = Some(false),
                "desc" => descending = Some(true),
                _ => bad(key, value, "asc or desc"),
            },
            "compare" if value == "custom" => compare = Some(None),
            "compare" => match Compare::NAMED.iter().find(|(_, name, _)| *name == value) {
                Some((mode, ..)) => compare = Some(Some(*mode)),
                None => bad(key, value, "one of previous, 4w, year, custom, none"),
            },
            "compare_from" | "compare_to" => match value.parse::<ViewDate>() {
                Ok(date) if key == "compare_from" => compare_from = Some(date),
                Ok(date) => compare_to = Some(date),
                Err(expected) => bad(key, value, &expected.to_string()),
            },
            "order" => match ListOrder::ALL.into_iter().find(|o| o.as_str() == value) {
                Some(order) => f.order = order,
                None => bad(key, value, "newest or price"),
            },
            "page"
                if !value.is_empty()
                    && value.len() <= 200
                    && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                f.page = Some(value.to_string())
            }
            "page" => bad(key, value, "a page of the attempts list"),
            _ => {}
        }
    }
    f.range = match (from.zip(to).map(|(from, to)| ViewTime::range(from, to)), from, to) {
        (Some(Some(range)), _, _) => range,
        (Some(None), Some(from), Some(to)) => {
            notices.push(format!("from={from} is after to={to}; showing the default range"));
            range.unwrap_or(DateRange::LastDays(30))
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            notices.push("from and to go together; showing the default range".to_string());
            range.unwrap_or(DateRange::LastDays(30))
        }
        _ => range.unwrap_or(DateRange::LastDays(30)),
    };
    // `compare_from` and `compare_to` choose a custom period, unless `compare=` names another mode.
    f.compare = match (compare, compare_from.zip(compare_to)) {
        (Some(Some(mode)), _) => mode,
        (_, Some((from, to))) if from <= to => Compare::Custom(from, to),
        (_, Some((from, to))) => {
            notices.push(format!("compare_from={from} is after compare_to={to}; comparing with the previous period"));
            Compare::Previous
        }
        (Some(None), None) | (None, None) if compare_from.or(compare_to).is_some() => {
            notices.push("compare_from and compare_to go together; comparing with the previous period".into());
            Compare::Previous
        }
        (Some(None), None) => {
            notices.push("compare=custom needs compare_from and compare_to; comparing with the previous period".into());
            Compare::Previous
        }
        (None, None) => Compare::Previous,
    };
    let (default_sort, default_descending) = f.by.default_order();
    f.sort = sort.unwrap_or(default_sort);
    f.descending = descending.unwrap_or(default_descending);
    match unnamed_invalid {
        0 => {}
        1 => notices.push("and 1 more invalid parameter".to_string()),
        n => notices.push(format!("and {n} more invalid parameters")),
    }
    parsed
}

/// Parses a raw query string (`a=1&b=2`, percent-encoded).
pub fn parse_query(query: &str) -> ParsedFilters {
    let pairs = query_pairs(query);
    parse_filters(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Splits and decodes a query string.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Filters {
    /// The query string of this view, in a stable order, without defaults.
    pub fn to_query(&self) -> String {
        let defaults = Filters::default();
        let mut parts: Vec<(&str, String)> = Vec::new();
        match &self.range {
            DateRange::LastDays(30) => {}
            DateRange::LastDay => parts.push(("range", "24h".into())),
            DateRange::LastMonths(_) => parts.push(("range", "12m".into())),
            DateRange::All => parts.push(("range", "all".into())),
            DateRange::LastDays(days) => {
                let name = RANGES.iter().find(|(_, d)| d == days).map_or("30d", |(n, _)| n);
                parts.push(("range", name.into()));
            }
            DateRange::Between(from, to) => {
                parts.push(("from", from.to_string()));
                parts.push(("to", to.to_string()));
            }
            DateRange::Hours(from, to) => {
                parts.push(("from", from.to_string()));
                parts.push(("to", to.to_string()));
            }
        }
        parts.extend(self.countries.iter().map(|c| ("country", value_label(c).to_string())));
        parts.extend(self.channels.iter().map(|c| ("channel", c.to_string())));
        parts.extend(self.carriers.iter().map(|c| ("carrier", carrier_to_url(c))));
        parts.extend(self.services.iter().map(|c| ("service", value_label(c).to_string())));
        parts.extend(self.accounts.iter().map(|c| ("account", c.clone())));
        parts.extend(self.errors.iter().map(|c| ("error", c.clone())));
        parts.extend(self.status.map(|s| ("status", s.to_string())));
        parts.extend(self.prefix.clone().map(|p| ("prefix", p)));
        if self.by != defaults.by {
            parts.push(("by", self.by.as_str().into()));
        }
        let (sort, descending) = self.by.default_order();
        if self.sort != sort {
            parts.push(("sort", self.sort.as_str().into()));
        }
        if self.descending != descending {
            parts.push(("dir", if self.descending { "desc" } else { "asc" }.into()));
        }
        match self.compare {
            Compare::Previous => {}
            Compare::Custom(from, to) => {
                parts.push(("compare_from", from.to_string()));
                parts.push(("compare_to", to.to_string()));
            }
            mode => parts.push(("compare", mode.as_str().into())),
        }
        if self.order != ListOrder::default() {
            parts.push(("order", self.order.as_str().into()));
        }
        parts.extend(self.page.clone().map(|p| ("page", p)));
        parts.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
    }

    /// A link to `path` with this view: `/`, `/attempts`, `/export.csv`, under the
    /// dashboard's base path.
    pub fn href(&self, path: &str) -> String {
        let query = self.to_query();
        let path = crate::paths::url(path);
        if query.is_empty() { path } else { format!("{path}?{query}") }
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn parse(q: &str) -> ParsedFilters {
        parse_query(q)
    }

    #[test]
    fn empty_query_is_the_default_view() {
        assert_eq!(parse(""), ParsedFilters::default());
    }

    #[test]
    fn a_country_is_its_code_or_its_name() {
        let named = parse("country=colombia&country=United+Kingdom&country=br");
        assert!(named.notices.is_empty(), "{:?}", named.notices);
        assert_eq!(named.filters.countries, ["CO", "GB", "BR"]);
        assert_eq!(named.filters.to_query(), "country=CO&country=GB&country=BR", "links carry the codes");
        let unknown = parse("country=Narnia");
        assert!(unknown.filters.countries.is_empty());
        assert!(unknown.notices[0].contains("Narnia"), "{:?}", unknown.notices);
    }

    #[test]
    fn every_filter_parses_and_repeats() {
        let p = parse(
            "channel=sms&channel=WhatsApp&country=co&country=BR&carrier=AT%26T&error=30008&error=none\
             &status=unconverted&prefix=%2B5730&by=carrier&sort=rate&dir=asc&compare=none\
             &service=VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&account=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        );
        let f = &p.filters;
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        assert_eq!(f.channels, vec![Channel::Sms, Channel::Whatsapp]);
        assert_eq!(f.countries, vec!["CO", "BR"]);
        assert_eq!(f.carriers, vec!["AT&T"]);
        assert_eq!(f.errors, vec!["30008", "none"]);
        assert_eq!(f.status, Some(ConversionStatus::Unconverted));
        assert_eq!(f.prefix.as_deref(), Some("+5730"));
        assert_eq!((f.by, f.sort, f.descending, f.compare), (Dimension::Carrier, SortKey::Rate, false, Compare::Off));
        assert_eq!(f.services.len(), 1);
        assert_eq!(f.accounts, ["ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]);
        assert_eq!(parse("account=AC1").notices, ["account=\"AC1\" is not a Twilio account SID (AC…)"]);
    }

    #[test]
    fn invalid_values_become_notices_and_are_dropped() {
        let p = parse("channel=fax&country=Narnia&from=yesterday&range=1y&channel=sms&by=planet&error=abc&prefix=x");
        assert_eq!(p.filters.channels, vec![Channel::Sms]);
        assert!(p.filters.countries.is_empty());
        assert_eq!(p.notices.len(), 6, "five named, the others counted: {:?}", p.notices);
        assert!(p.notices.iter().any(|n| n.contains("fax")));
        assert_eq!(p.notices[5], "and 2 more invalid parameters");
        assert_eq!(p.filters.by, Dimension::Country);
    }

    #[test]
    fn invalid_parameters_past_the_first_five_are_counted_not_named() {
        let p = parse(&"range=x&".repeat(100_000));
        assert_eq!(p.notices.len(), 6, "{:?}", &p.notices[..p.notices.len().min(8)]);
        assert!(p.notices[..5].iter().all(|n| n.starts_with("range=\"x\" is not")), "{:?}", p.notices);
        assert_eq!(p.notices[5], "and 99995 more invalid parameters");
        assert_eq!(parse(&"range=x&".repeat(6)).notices[5], "and 1 more invalid parameter");
        assert_eq!(parse(&"range=x&".repeat(5)).notices.len(), 5);
    }

    #[test]
    fn ranges_resolve_to_bounds() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T14:05:00Z").unwrap().with_timezone(&Utc);
        let day = |s: &str| s.parse::<ViewDate>().unwrap();
        let (start, end) = parse("from=2026-11-01&to=2026-11-24").filters.range.bounds(now);
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            ("2026-11-01T00:00:00+00:00".into(), "2026-11-25T00:00:00+00:00".into())
        );
        assert_eq!(parse("range=7d").filters.range.bounds(now).0.date_naive(), day("2026-11-19").date());
        let (start, end) = parse("range=24h").filters.range.bounds(now);
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            ("2026-11-24T15:00:00+00:00".into(), "2026-11-25T15:00:00+00:00".into()),
            "24 whole hours, the current one included"
        );
        assert!(!parse("from=2026-11-10&to=2026-11-01").notices.is_empty());
        assert_eq!(DateRange::LastDays(7).absolute(now), DateRange::Between(day("2026-11-19"), day("2026-11-25")));
    }

    #[test]
    fn ranges_of_hours_are_named_to_the_hour_and_both_ends_included() {
        let now: DateTime<Utc> = "2026-11-25T14:20:00Z".parse().unwrap();
        let p = parse("from=2026-11-20T02:00&to=2026-11-20T04");
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        let (start, end) = p.filters.range.bounds(now);
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            ("2026-11-20T02:00:00+00:00".into(), "2026-11-20T05:00:00+00:00".into()),
            "three hours, the last one included"
        );
        assert_eq!(p.filters.to_query(), "from=2026-11-20T02%3A00&to=2026-11-20T04%3A00");
        assert_eq!(parse(&p.filters.to_query()).filters, p.filters, "the link reads back the same");
        let mixed = parse("from=2026-11-20&to=2026-11-21T03:00").filters.range.bounds(now);
        assert_eq!(mixed.0.to_rfc3339(), "2026-11-20T00:00:00+00:00", "a day starts at its first hour");
        let mixed = parse("from=2026-11-20T22:00&to=2026-11-21").filters.range.bounds(now);
        assert_eq!(mixed.1.to_rfc3339(), "2026-11-22T00:00:00+00:00", "and ends after its last");
        for bad in ["2026-11-20T24:00", "2026-11-20T14:30", "2026-11-20T1", "2026-11-20T", "T14:00"] {
            let p = parse(&format!("from={bad}&to=2026-11-21T00:00"));
            assert!(
                p.notices.iter().any(|n| n.contains("an hour like") || n.contains("a date like")),
                "{bad}: {:?}",
                p.notices
            );
            assert_eq!(p.filters.range, DateRange::LastDays(30), "{bad}");
        }
        assert!(!parse("from=2026-11-20T05:00&to=2026-11-20T04:00").notices.is_empty(), "to before from");
        // The last 24 hours, fixed for a link, are those hours, not the two days they touch.
        let fixed = DateRange::LastDay.absolute(now);
        assert_eq!(fixed.bounds(now), DateRange::LastDay.bounds(now));
        assert!(matches!(fixed, DateRange::Hours(..)), "{fixed:?}");
    }

    /// Dates past chrono's calendar once hung the page in date math that panicked.
    #[test]
    fn dates_outside_2000_to_2100_are_notices_and_no_range_overflows() {
        for date in
            ["%2B262142-12-31", "-262143-01-01", "0000-01-01", "-0001-12-31", "9999-12-31", "2101-01-01", "1999-12-31"]
        {
            let p = parse(&format!("from={date}&to={date}"));
            assert_eq!(p.filters.range, DateRange::LastDays(30), "{date}");
            assert!(p.notices.iter().any(|n| n.contains("from 2000-01-01 to 2100-12-31")), "{date}: {:?}", p.notices);
        }
        for date in
            ["2026-02-29", "2026-13-01", "2026-11-31", "2026-11-00", "262143-12-31", "%2B262143-12-31", "-262144-01-01"]
        {
            assert!(parse(&format!("from={date}")).notices.iter().any(|n| n.contains("a date like")), "{date}");
        }
        let widest = parse("from=2000-01-01&to=2100-12-31");
        assert!(widest.notices.is_empty(), "{:?}", widest.notices);
        let (start, end) = widest.filters.range.bounds(Utc::now());
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            ("2000-01-01T00:00:00+00:00".into(), "2101-01-01T00:00:00+00:00".into())
        );
        assert!(serde_json::from_str::<ViewDate>("\"262143-12-31\"").is_err(), "nor from a deserialized view");
        for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            for range in [DateRange::LastDay, DateRange::LastDays(0), DateRange::LastDays(u32::MAX)] {
                let (start, end) = range.bounds(now);
                assert!(start <= end, "{range:?} at {now}");
                assert_eq!(range.absolute(now), range, "days a link cannot name stay relative");
            }
        }
    }

    #[test]
    fn query_round_trips() {
        for q in [
            "country=CO&channel=sms&range=7d",
            "carrier=AT%26T&by=error&sort=spend&dir=asc",
            "from=2026-11-01&to=2026-11-03&compare=none",
        ] {
            let p = parse(q);
            assert_eq!(parse(&p.filters.to_query()).filters, p.filters, "{q}");
        }
        assert_eq!(parse("a=%zz&channel=%73ms").filters.channels, vec![Channel::Sms]);
    }

    /// 20,000 random query strings, from valid fragments to arbitrary bytes: parsing never
    /// panics, and what it keeps survives a round trip through `to_query` unchanged.
    #[test]
    fn random_queries_parse_and_what_they_keep_round_trips() {
        let keys = [
            "range",
            "from",
            "to",
            "country",
            "channel",
            "carrier",
            "service",
            "account",
            "error",
            "status",
            "prefix",
            "by",
            "sort",
            "dir",
            "compare",
            "order",
            "page",
            "",
            "x",
            "Country",
            "%63ountry",
        ];
        let values = [
            "",
            "%",
            "%2",
            "%zz",
            "%00",
            "%FF",
            "+",
            "%2B57",
            "%2B",
            "CO",
            "co",
            "ZZZ",
            "sms",
            "SMS",
            "fax",
            "30d",
            "24h",
            "7d",
            "2026-11-05",
            "2026-11-05T14:00",
            "2026-11-05T07",
            "2026-11-05T24:00",
            "2026-11-05T14:30",
            "2026-02-30",
            "9999-99-99",
            "none",
            "30008",
            "asc",
            "price",
            "newest",
            "desc",
            "rate",
            "carrier",
            "day",
            "previous",
            "AT%26T",
            "<script>",
            "🦀",
            "VA0123",
            "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "VL0",
            ";",
            "'",
            "\"",
            "%20",
            "..",
            "=",
            "a b",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut kept_something = 0;
        for _ in 0..20_000 {
            let mut query = String::new();
            for _ in 0..next(6) {
                query.push_str(keys[next(keys.len())]);
                query.push('=');
                for _ in 0..1 + next(2) {
                    query.push_str(values[next(values.len())]);
                }
                if next(8) == 0 {
                    query.push(char::from_u32(next(0x2FF) as u32).unwrap_or('?'));
                }
                query.push(['&', '&', '&', ';', '='][next(5)]);
            }
            let parsed = parse(&query);
            let again = parse(&parsed.filters.to_query());
            assert_eq!(again.filters, parsed.filters, "{query:?}");
            assert!(again.notices.is_empty(), "{query:?} re-serialised with notices {:?}", again.notices);
            if parsed.filters != Filters::default() {
                kept_something += 1;
            }
        }
        assert!(kept_something > 1_000, "the inputs reach the parser's branches ({kept_something})");
    }

    #[test]
    fn unknown_values_have_a_sentinel_that_no_real_value_reads_as() {
        let p = parse("country=unknown&carrier=unknown&service=unknown&carrier=~unknown&carrier=~~x&carrier=Tigo");
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        let f = &p.filters;
        assert_eq!((f.countries.clone(), f.services.clone()), (vec![String::new()], vec![String::new()]));
        assert_eq!(f.carriers, vec!["", "unknown", "~x", "Tigo"], "a real carrier named unknown is written ~unknown");
        assert_eq!(
            f.to_query(),
            "country=unknown&carrier=unknown&carrier=%7Eunknown&carrier=%7E%7Ex&carrier=Tigo&service=unknown"
        );
        assert_eq!(parse(&f.to_query()).filters, *f);
        assert_eq!(parse("carrier=~&country=").notices.len(), 2, "neither names a value");
        let chips: Vec<String> = crate::app::navigation::chips(f, &crate::model::FriendlyNames::default())
            .into_iter()
            .map(|(label, _)| label)
            .collect();
        assert!(chips.contains(&"Country: unknown".to_string()) && chips.contains(&"Service: unknown".to_string()));
    }

    #[test]
    fn days_are_in_date_order_unless_the_view_sorts_them_otherwise() {
        let day = parse_query("by=day").filters;
        assert_eq!((day.sort, day.descending), (SortKey::Key, false));
        assert_eq!(day.to_query(), "by=day");
        let by_attempts = parse_query("by=day&sort=attempts").filters;
        assert_eq!((by_attempts.sort, by_attempts.descending), (SortKey::Attempts, false));
        let most_first = Filters { sort: SortKey::Attempts, descending: true, ..day };
        assert_eq!(most_first.to_query(), "by=day&sort=attempts&dir=desc");
        assert_eq!(parse_query(&most_first.to_query()).filters, most_first);
        let countries = parse_query("").filters;
        assert_eq!((countries.sort, countries.descending), (SortKey::Attempts, true));
    }
}
