//! The dashboard's URL query as typed filters, shared by the server and the browser.
//! Invalid values become notices and are dropped: a bad link still shows a page.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::model::Channel;

/// The date range of a view, in whole UTC days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateRange {
    /// The last N days, today included.
    LastDays(u32),
    /// From and to, both included.
    Between(NaiveDate, NaiveDate),
}

impl DateRange {
    /// The first and last day of the range, given today's date.
    pub fn days(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            DateRange::LastDays(n) => (today - Duration::days(i64::from(*n) - 1), today),
            DateRange::Between(from, to) => (*from, *to),
        }
    }
}

/// A valid view of the data: every value here was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub range: DateRange,
    pub channels: Vec<Channel>,
    pub countries: Vec<String>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters { range: DateRange::LastDays(30), channels: Vec::new(), countries: Vec::new() }
    }
}

/// The parsed query: the filters, and what had to be dropped, in words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFilters {
    pub filters: Filters,
    pub notices: Vec<String>,
}

const RANGES: [(&str, u32); 4] = [("24h", 1), ("7d", 7), ("30d", 30), ("90d", 90)];

/// Parses `range`, `from`, `to`, `channel` and `country` (repeatable) from query pairs.
pub fn parse_filters<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ParsedFilters {
    let mut parsed = ParsedFilters::default();
    let (mut from, mut to, mut range) = (None, None, None);
    for (key, value) in pairs {
        let value = value.trim();
        match key {
            "range" => match RANGES.iter().find(|(name, _)| *name == value) {
                Some((_, days)) => range = Some(*days),
                None => parsed.notices.push(format!("range={value:?} is not one of 24h, 7d, 30d, 90d")),
            },
            "from" | "to" => match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                Ok(date) if key == "from" => from = Some(date),
                Ok(date) => to = Some(date),
                Err(_) => parsed.notices.push(format!("{key}={value:?} is not a date like 2026-11-01")),
            },
            "channel" => match value.parse::<Channel>() {
                Ok(channel) if !parsed.filters.channels.contains(&channel) => parsed.filters.channels.push(channel),
                Ok(_) => {}
                Err(_) => {
                    parsed.notices.push(format!("channel={value:?} is not one of sms, whatsapp, call, email, rbm"))
                }
            },
            "country" => {
                if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
                    let code = value.to_ascii_uppercase();
                    if !parsed.filters.countries.contains(&code) {
                        parsed.filters.countries.push(code);
                    }
                } else {
                    parsed.notices.push(format!("country={value:?} is not a two-letter country code"));
                }
            }
            _ => {}
        }
    }
    parsed.filters.range = match (from, to, range) {
        (Some(from), Some(to), _) if from <= to => DateRange::Between(from, to),
        (Some(from), Some(to), _) => {
            parsed.notices.push(format!("from={from} is after to={to}; showing the default range"));
            DateRange::LastDays(30)
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            parsed.notices.push("from and to go together; showing the default range".to_string());
            range.map_or(DateRange::LastDays(30), DateRange::LastDays)
        }
        (None, None, Some(days)) => DateRange::LastDays(days),
        (None, None, None) => DateRange::LastDays(30),
    };
    parsed
}

/// Parses a raw query string (`a=1&b=2`, percent-encoded).
pub fn parse_query(query: &str) -> ParsedFilters {
    let pairs: Vec<(String, String)> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    parse_filters(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

impl Filters {
    /// The query string of this view, in a stable order, without defaults.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        match &self.range {
            DateRange::LastDays(30) => {}
            DateRange::LastDays(days) => {
                let name = RANGES.iter().find(|(_, d)| d == days).map_or("30d", |(n, _)| n);
                parts.push(format!("range={name}"));
            }
            DateRange::Between(from, to) => {
                parts.push(format!("from={from}"));
                parts.push(format!("to={to}"));
            }
        }
        parts.extend(self.countries.iter().map(|c| format!("country={c}")));
        parts.extend(self.channels.iter().map(|c| format!("channel={c}")));
        parts.join("&")
    }
}

fn decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ParsedFilters {
        parse_query(q)
    }

    #[test]
    fn empty_query_is_the_default_view() {
        assert_eq!(parse(""), ParsedFilters::default());
    }

    #[test]
    fn channel_and_country_filters_parse_and_repeat() {
        let p = parse("channel=sms&channel=WhatsApp&country=co&country=BR");
        assert_eq!(p.filters.channels, vec![Channel::Sms, Channel::Whatsapp]);
        assert_eq!(p.filters.countries, vec!["CO", "BR"]);
        assert!(p.notices.is_empty());
    }

    #[test]
    fn invalid_values_become_notices_and_are_dropped() {
        let p = parse("channel=fax&country=Colombia&from=yesterday&range=1y&channel=sms");
        assert_eq!(p.filters.channels, vec![Channel::Sms]);
        assert!(p.filters.countries.is_empty());
        assert_eq!(p.notices.len(), 4, "{:?}", p.notices);
        assert!(p.notices.iter().any(|n| n.contains("fax")));
    }

    #[test]
    fn ranges_resolve_to_days() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let p = parse("from=2026-11-01&to=2026-11-24");
        assert_eq!(
            p.filters.range.days(today),
            (NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
        );
        assert_eq!(parse("range=7d").filters.range.days(today).0, NaiveDate::from_ymd_opt(2026, 11, 19).unwrap());
        assert!(!parse("from=2026-11-10&to=2026-11-01").notices.is_empty());
    }

    #[test]
    fn query_round_trips() {
        let p = parse("country=CO&channel=sms&range=7d");
        assert_eq!(parse(&p.filters.to_query()).filters, p.filters);
        assert_eq!(parse("a=%zz&channel=%73ms").filters.channels, vec![Channel::Sms]);
    }
}
