//! Things a product manager should look at: SMS-pumping bursts, carrier outages,
//! and significant conversion drops, each with a link to the view that shows it.

use std::collections::BTreeMap;

use crate::filters::{DateRange, Dimension, Filters, ViewDate};
use crate::format::{format_p_value, plural};
use crate::model::{Channel, ConversionStatus};
use crate::page_data::{Anomaly, BreakdownRow};
use crate::store::HourlyCell;

/// Unconverted SMS to one country in an hour, against that country's usual hour.
const PUMPING_MIN_UNCONVERTED: i64 = 40;
const PUMPING_FACTOR: f64 = 5.0;
/// A carrier whose delivery rate falls under this share, with enough messages to tell.
const OUTAGE_MAX_DELIVERY: f64 = 0.25;
const OUTAGE_MIN_FINALIZED: i64 = 2;

/// Consecutive flagged hours of one key, merged.
struct Run {
    first: String,
    last: String,
    hours: usize,
    count: i64,
    other: i64,
}

fn merge_runs(flagged: Vec<(String, i64, i64)>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (hour, count, other) in flagged {
        match runs.last_mut() {
            Some(run) if next_hour(&run.last).as_deref() == Some(hour.as_str()) => {
                run.last = hour;
                run.hours += 1;
                run.count += count;
                run.other += other;
            }
            _ => runs.push(Run { first: hour.clone(), last: hour, hours: 1, count, other }),
        }
    }
    runs
}

/// `2026-11-20T23` → `2026-11-21T00`.
fn next_hour(hour: &str) -> Option<String> {
    let t = chrono::NaiveDateTime::parse_from_str(&format!("{hour}:00:00"), "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(t.checked_add_signed(chrono::TimeDelta::hours(1))?.format("%Y-%m-%dT%H").to_string())
}

fn day_of(hour: &str) -> Option<ViewDate> {
    hour.get(..10)?.parse().ok()
}

/// The filters that narrow the hours anomaly detection reads. A market's hours are judged
/// on their whole mix of services, error codes and statuses (an outage shows as errors, a
/// burst as unconverted attempts), so only countries, carriers, channels, the prefix and
/// the range count, whichever path reads the hours; links to what was found do the same.
pub fn market(filters: &Filters) -> Filters {
    let mut market = filters.clone();
    market.services.clear();
    market.errors.clear();
    market.status = None;
    market
}

fn view(base: &Filters, first: &str, last: &str, change: impl FnOnce(&mut Filters)) -> Filters {
    let mut f = market(base);
    f.page = None;
    if let (Some(from), Some(to)) = (day_of(first), day_of(last)) {
        f.range = DateRange::Between(from, to);
    }
    change(&mut f);
    f
}

fn median(mut values: Vec<i64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    values[values.len() / 2] as f64
}

/// Whether a cell is in the view's countries, channels and carriers.
fn in_view(cell: &HourlyCell, view: &Filters) -> bool {
    (view.countries.is_empty() || view.countries.contains(&cell.country))
        && (view.carriers.is_empty() || view.carriers.contains(&cell.carrier))
        && (view.channels.is_empty() || view.channels.iter().any(|c| c.as_str() == cell.channel))
}

/// Hours where one country's unconverted SMS jump far above its usual hour.
pub fn sms_pumping(cells: &[HourlyCell], base: &Filters) -> Vec<Anomaly> {
    let mut by_country: BTreeMap<&str, BTreeMap<&str, (i64, i64)>> = BTreeMap::new();
    for c in cells.iter().filter(|c| c.channel == "sms" && in_view(c, base)) {
        let hour = by_country.entry(&c.country).or_default().entry(&c.hour).or_default();
        hour.0 += c.attempts - c.converted;
        hour.1 += c.attempts;
    }
    let mut found = Vec::new();
    for (country, hours) in by_country {
        let usual = median(hours.values().map(|(unconverted, _)| *unconverted).collect()).max(1.0);
        let flagged: Vec<(String, i64, i64)> = hours
            .iter()
            .filter(|(_, (unconverted, _))| {
                *unconverted >= PUMPING_MIN_UNCONVERTED && *unconverted as f64 >= PUMPING_FACTOR * usual
            })
            .map(|(hour, (unconverted, attempts))| (hour.to_string(), *unconverted, *attempts))
            .collect();
        for run in merge_runs(flagged) {
            let link = view(base, &run.first, &run.last, |f| {
                f.countries = vec![country.to_string()];
                f.channels = vec![Channel::Sms];
                f.status = Some(ConversionStatus::Unconverted);
            });
            found.push(Anomaly {
                kind: "sms-pumping".into(),
                title: format!("Possible SMS pumping to {country}"),
                detail: format!(
                    "{} unconverted SMS in {} from {}:00 UTC, {:.0}× the usual hour ({usual:.0})",
                    run.count,
                    plural(run.hours as u64, "hour"),
                    run.first.replace('T', " "),
                    run.count as f64 / run.hours as f64 / usual
                ),
                href: link.href("/attempts"),
            });
        }
    }
    found
}

/// Hours where a carrier's deliveries collapse while the carrier usually delivers.
pub fn carrier_outages(cells: &[HourlyCell], base: &Filters) -> Vec<Anomaly> {
    type Key<'a> = (&'a str, &'a str);
    let mut by_carrier: BTreeMap<Key<'_>, BTreeMap<&str, (i64, i64)>> = BTreeMap::new();
    for c in cells.iter().filter(|c| !c.carrier.is_empty() && c.finalized > 0 && in_view(c, base)) {
        let hour = by_carrier.entry((&c.country, &c.carrier)).or_default().entry(&c.hour).or_default();
        hour.0 += c.delivered;
        hour.1 += c.finalized;
    }
    let mut found = Vec::new();
    for ((country, carrier), hours) in by_carrier {
        let (delivered, finalized) = hours.values().fold((0, 0), |(d, f), (hd, hf)| (d + hd, f + hf));
        if finalized == 0 || (delivered as f64 / finalized as f64) < 0.6 {
            continue;
        }
        let runs = merge_close_runs(outage_runs(&hours), &hours);
        for run in runs {
            let link = view(base, &run.first, &run.last, |f| {
                f.countries = vec![country.to_string()];
                f.carriers = vec![carrier.to_string()];
                f.by = Dimension::Error;
            });
            found.push(Anomaly {
                kind: "carrier-outage".into(),
                title: format!("{carrier} ({country}) stopped delivering"),
                detail: format!(
                    "{:.0}% of {} messages delivered from {}:00 to {}:59 UTC; {:.0}% otherwise",
                    run.other as f64 * 100.0 / run.count as f64,
                    run.count,
                    run.first.replace('T', " "),
                    run.last.replace('T', " "),
                    delivered as f64 * 100.0 / finalized as f64
                ),
                href: link.href("/"),
            });
        }
    }
    found
}

/// Runs of hours where a carrier delivered almost nothing. Hours with too few messages to
/// judge neither start nor break a run; a run needs three bad hours and enough messages.
fn outage_runs(hours: &BTreeMap<&str, (i64, i64)>) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut open: Option<Run> = None;
    for (hour, (delivered, finalized)) in hours {
        let judged = *finalized >= OUTAGE_MIN_FINALIZED;
        let bad = judged && (*delivered as f64 / *finalized as f64) <= OUTAGE_MAX_DELIVERY;
        match (&mut open, bad, judged) {
            (Some(run), true, _) => {
                run.last = hour.to_string();
                run.hours += 1;
                run.count += finalized;
                run.other += delivered;
            }
            (Some(run), false, false) => {
                run.count += finalized;
                run.other += delivered;
            }
            (None, true, _) => {
                open = Some(Run {
                    first: hour.to_string(),
                    last: hour.to_string(),
                    hours: 1,
                    count: *finalized,
                    other: *delivered,
                })
            }
            (Some(_), false, true) => runs.extend(open.take()),
            (None, false, _) => {}
        }
    }
    runs.extend(open);
    runs.retain(|r| r.hours >= 3 && r.count >= 3 * OUTAGE_MIN_FINALIZED);
    runs
}

/// Hours of partial delivery inside an outage do not make two outages: runs less than
/// `OUTAGE_MAX_GAP_HOURS` apart are one, counted over all of its hours.
const OUTAGE_MAX_GAP_HOURS: i64 = 6;

fn merge_close_runs(runs: Vec<Run>, hours: &BTreeMap<&str, (i64, i64)>) -> Vec<Run> {
    let parse = |hour: &str| chrono::NaiveDateTime::parse_from_str(&format!("{hour}:00:00"), "%Y-%m-%dT%H:%M:%S").ok();
    let mut merged: Vec<Run> = Vec::new();
    for run in runs {
        let close = merged.last().is_some_and(|last| match (parse(&last.last), parse(&run.first)) {
            (Some(end), Some(start)) => (start - end).num_hours() <= OUTAGE_MAX_GAP_HOURS,
            _ => false,
        });
        match merged.last_mut() {
            Some(last) if close => {
                last.last = run.last;
                last.hours += run.hours;
                let (count, other) = hours
                    .range(last.first.as_str()..=last.last.as_str())
                    .fold((0, 0), |(f, d), (_, (hd, hf))| (f + hf, d + hd));
                last.count = count;
                last.other = other;
            }
            _ => merged.push(run),
        }
    }
    merged
}

/// One country's verification conversion in the compared windows of both periods.
pub struct CountryTest<'a> {
    pub current: &'a BreakdownRow,
    pub previous: &'a BreakdownRow,
    /// Two-proportion z-test on converted verifications over verifications, two-sided.
    pub p_value: f64,
}

/// The test of every country with verifications in both periods.
pub fn country_tests<'a>(current: &'a [BreakdownRow], previous: &'a [BreakdownRow]) -> Vec<CountryTest<'a>> {
    let before: BTreeMap<&str, &BreakdownRow> = previous.iter().map(|r| (r.key.as_str(), r)).collect();
    current
        .iter()
        .filter_map(|row| {
            let prev = before.get(row.key.as_str())?;
            let (now, then) = (&row.metrics, &prev.metrics);
            let p_value = super::stats::two_proportion_p_value(
                now.converted_verifications,
                now.verifications,
                then.converted_verifications,
                then.verifications,
            )?;
            Some(CountryTest { current: row, previous: prev, p_value })
        })
        .collect()
}

/// Countries whose verification conversion fell by more than two points and whose test is a
/// discovery: `adjusted` holds each test's Benjamini–Hochberg p-value across the view's `tests`.
pub fn conversion_drops(
    country_tests: &[CountryTest<'_>],
    adjusted: &[f64],
    tests: usize,
    base: &Filters,
) -> Vec<Anomaly> {
    let mut found = Vec::new();
    for (test, adjusted) in country_tests.iter().zip(adjusted) {
        let (now, then) = (&test.current.metrics, &test.previous.metrics);
        let (Some(rate), Some(was)) = (now.verification_rate_percent(), then.verification_rate_percent()) else {
            continue;
        };
        if rate < was - 2.0 && *adjusted <= super::comparison::FALSE_DISCOVERY_RATE {
            let key = &test.current.key;
            let mut f = base.clone();
            f.page = None;
            f.countries = vec![key.clone()];
            f.by = Dimension::Carrier;
            found.push(Anomaly {
                kind: "conversion-drop".into(),
                title: format!("Conversion fell in {key}"),
                detail: format!(
                    "{rate:.1}% of verifications converted against {was:.1}% in the previous period \
                     ({}; adjusted {} after Benjamini–Hochberg across the view's {tests} tests)",
                    format_p_value(test.p_value),
                    format_p_value(*adjusted)
                ),
                href: f.href("/"),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(
        hour: &str,
        country: &str,
        channel: &str,
        carrier: &str,
        attempts: i64,
        converted: i64,
        delivered: i64,
    ) -> HourlyCell {
        HourlyCell {
            hour: hour.into(),
            country: country.into(),
            channel: channel.into(),
            carrier: carrier.into(),
            attempts,
            converted,
            delivered,
            finalized: attempts,
        }
    }

    #[test]
    fn a_burst_of_unconverted_sms_is_flagged_once() {
        let mut cells: Vec<HourlyCell> = (0..20)
            .map(|h| cell(&format!("2026-11-{:02}T{:02}", 10 + h / 24, h % 24), "ID", "sms", "XL", 10, 6, 9))
            .collect();
        cells.push(cell("2026-11-11T02", "ID", "sms", "XL", 200, 0, 150));
        cells.push(cell("2026-11-11T03", "ID", "sms", "XL", 180, 1, 130));
        let found = sms_pumping(&cells, &Filters::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.starts_with("379 unconverted SMS in 2 hours"), "{}", found[0].detail);
        assert!(found[0].href.contains("country=ID") && found[0].href.contains("status=unconverted"));
        assert!(found[0].href.contains("from=2026-11-11&to=2026-11-11"));
    }

    #[test]
    fn a_carrier_that_stops_delivering_for_hours_is_flagged() {
        let mut cells: Vec<HourlyCell> =
            (0..10).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)).collect();
        cells.extend((10..14).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        cells.push(cell("2026-11-12T15", "US", "sms", "AT&T", 20, 0, 0));
        let found = carrier_outages(&cells, &Filters::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].title.contains("AT&T"));
        assert!(found[0].detail.contains("from 2026-11-12 10:00 to 2026-11-12 15:59"), "{}", found[0].detail);
        assert!(found[0].href.contains("carrier=AT%26T") && found[0].href.contains("by=error"));
    }

    #[test]
    fn an_outage_with_an_hour_of_partial_delivery_is_one_outage() {
        let mut cells: Vec<HourlyCell> =
            (0..10).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)).collect();
        cells.extend((10..14).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        cells.push(cell("2026-11-12T14", "US", "sms", "AT&T", 2, 1, 1));
        cells.extend((15..19).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        cells.extend((19..23).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)));
        let found = carrier_outages(&cells, &Filters::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.contains("of 162 messages"), "{}", found[0].detail);
        assert!(found[0].detail.contains("from 2026-11-12 10:00 to 2026-11-12 18:59"), "{}", found[0].detail);
    }

    #[test]
    fn quiet_data_has_no_anomalies() {
        let cells: Vec<HourlyCell> = (0..48)
            .map(|h| cell(&format!("2026-11-{:02}T{:02}", 10 + h / 24, h % 24), "CO", "sms", "Tigo", 30, 20, 27))
            .collect();
        assert!(sms_pumping(&cells, &Filters::default()).is_empty());
        assert!(carrier_outages(&cells, &Filters::default()).is_empty());
    }

    #[test]
    fn a_drop_is_listed_only_when_its_verifications_fell_and_it_is_a_discovery() {
        let row = |key: &str, verifications, converted_verifications| BreakdownRow {
            key: key.into(),
            metrics: crate::page_data::Metrics {
                attempts: 3 * verifications,
                converted: converted_verifications,
                verifications,
                converted_verifications,
                ..Default::default()
            },
        };
        let now = vec![row("CO", 400, 240), row("BR", 400, 330), row("MX", 400, 300)];
        let then = vec![row("CO", 400, 320), row("BR", 400, 340), row("US", 10, 5)];
        let tests = country_tests(&now, &then);
        let keys: Vec<&str> = tests.iter().map(|t| t.current.key.as_str()).collect();
        assert_eq!(keys, ["CO", "BR"], "only countries with verifications in both periods are tested");
        assert_eq!(tests[0].p_value, crate::analytics::stats::two_proportion_p_value(240, 400, 320, 400).unwrap());
        let found = conversion_drops(&tests, &[0.001, 0.3], 3, &Filters::default());
        assert_eq!(found.len(), 1, "BR fell 2.5 points, but its test is no discovery: {found:?}");
        assert_eq!(found[0].title, "Conversion fell in CO");
        assert!(found[0].detail.starts_with("60.0% of verifications converted against 80.0%"), "{}", found[0].detail);
        assert!(
            found[0].detail.contains("0.001 after Benjamini–Hochberg across the view's 3 tests"),
            "{}",
            found[0].detail
        );
        assert!(conversion_drops(&tests, &[0.06, 0.5], 3, &Filters::default()).is_empty());
    }
}
