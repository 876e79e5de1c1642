//! Things a product manager should look at: SMS-pumping bursts and carrier outages, found
//! once in all of the snapshot's hours so that each reads the same in every view that shows
//! it (its whole window, a baseline of its own), and significant conversion drops, each with a
//! link to the view of exactly what it says.

use std::collections::BTreeMap;

use crate::filters::{DateRange, Dimension, Filters, ViewHour};
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
/// Messages an outage needs in all: at a beta's volume, a few unlucky hours are no outage.
const OUTAGE_MIN_MESSAGES: i64 = 20;

/// A burst or an outage of the snapshot: where and when, and how every view reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub country: String,
    /// The carrier of an outage; a burst is the whole country's.
    pub carrier: Option<String>,
    /// `[start, end)` in whole hours, in Twilio's time format.
    pub start: String,
    pub end: String,
    pub anomaly: Anomaly,
}

/// Every burst and outage in `hours`: all of the snapshot's hours, per country, carrier and channel.
pub fn incidents<'a>(hours: impl IntoIterator<Item = &'a HourlyCell> + Clone) -> Vec<Incident> {
    let mut found = sms_pumping(hours.clone());
    found.extend(carrier_outages(hours));
    found
}

/// The incidents a view shows: those of its countries (and carriers, for outages) that
/// overlap its `[from, to)`. Bursts are SMS: a view of other channels only shows none.
pub fn in_view(incidents: &[Incident], filters: &Filters, from: &str, to: &str) -> Vec<Anomaly> {
    incidents_in_view(incidents, filters, from, to).into_iter().map(|i| i.anomaly.clone()).collect()
}

/// The incidents `in_view` shows.
pub fn incidents_in_view<'a>(incidents: &'a [Incident], filters: &Filters, from: &str, to: &str) -> Vec<&'a Incident> {
    let country = |c: &str| filters.countries.is_empty() || filters.countries.iter().any(|f| f == c);
    let carrier = |c: &Option<String>| match c {
        Some(c) => filters.carriers.is_empty() || filters.carriers.contains(c),
        None => filters.channels.is_empty() || filters.channels.contains(&Channel::Sms),
    };
    incidents
        .iter()
        .filter(|i| i.start.as_str() < to && i.end.as_str() > from && country(&i.country) && carrier(&i.carrier))
        .collect()
}

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

/// `2026-11-20T23` as a `ViewHour`.
fn view_hour(hour: &str) -> Option<ViewHour> {
    format!("{hour}:00").parse().ok()
}

/// `2026-11-20T23` → `2026-11-20T23:00:00Z`.
fn hour_start(hour: &str) -> String {
    format!("{hour}:00:00Z")
}

/// A view of exactly the hours `first` to `last` (both included), changed by `change`.
fn window_view(first: &str, last: &str, change: impl FnOnce(&mut Filters)) -> Filters {
    let mut f = Filters::default();
    if let (Some(from), Some(to)) = (view_hour(first), view_hour(last)) {
        f.range = DateRange::Hours(from, to);
    }
    change(&mut f);
    f
}

fn incident(country: &str, carrier: Option<&str>, run: &Run, anomaly: Anomaly) -> Incident {
    Incident {
        country: country.to_string(),
        carrier: carrier.map(str::to_string),
        start: hour_start(&run.first),
        end: next_hour(&run.last).map_or_else(|| hour_start(&run.last), |h| hour_start(&h)),
        anomaly,
    }
}

/// `2026-11-20 02:00 to 04:59 UTC`, or to another day's hour.
fn describe_hours(first: &str, last: &str) -> String {
    let (first_day, last_day) = (first.get(..10).unwrap_or(first), last.get(..10).unwrap_or(last));
    let last_hour = last.get(11..13).unwrap_or("");
    if first_day == last_day {
        format!("{} to {last_hour}:59 UTC", first.replace('T', " ") + ":00")
    } else {
        format!("{}:00 to {} {last_hour}:59 UTC", first.replace('T', " "), last_day)
    }
}

fn median(mut values: Vec<i64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    values[values.len() / 2] as f64
}

/// Hours where one country's unconverted SMS jump far above its usual hour: the median of
/// its hours with SMS in the snapshot.
pub fn sms_pumping<'a>(cells: impl IntoIterator<Item = &'a HourlyCell>) -> Vec<Incident> {
    let mut by_country: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for c in cells.into_iter().filter(|c| c.channel == "sms") {
        *by_country.entry(&c.country).or_default().entry(&c.hour).or_default() += c.attempts - c.converted;
    }
    let mut found = Vec::new();
    for (country, hours) in by_country {
        let usual = median(hours.values().copied().collect()).max(1.0);
        let flagged: Vec<(String, i64, i64)> = hours
            .iter()
            .filter(|(_, unconverted)| {
                **unconverted >= PUMPING_MIN_UNCONVERTED && **unconverted as f64 >= PUMPING_FACTOR * usual
            })
            .map(|(hour, unconverted)| (hour.to_string(), *unconverted, 0))
            .collect();
        for run in merge_runs(flagged) {
            let link = window_view(&run.first, &run.last, |f| {
                f.countries = vec![country.to_string()];
                f.channels = vec![Channel::Sms];
                f.status = Some(ConversionStatus::Unconverted);
            });
            let anomaly = Anomaly {
                kind: "sms-pumping".into(),
                title: format!("Possible SMS pumping to {country}"),
                detail: format!(
                    "{} unconverted SMS from {} ({}), {:.0}× the usual hour ({usual:.0}: the median of {}'s {} with SMS)",
                    run.count,
                    describe_hours(&run.first, &run.last),
                    plural(run.hours as u64, "hour"),
                    run.count as f64 / run.hours as f64 / usual,
                    country,
                    plural(hours.len() as u64, "hour"),
                ),
                href: link.href("/attempts"),
                related: None,
            };
            found.push(incident(country, None, &run, anomaly));
        }
    }
    found
}

/// Hours where a carrier's deliveries collapse while the carrier usually delivers.
pub fn carrier_outages<'a>(cells: impl IntoIterator<Item = &'a HourlyCell>) -> Vec<Incident> {
    type Key<'a> = (&'a str, &'a str);
    let mut by_carrier: BTreeMap<Key<'_>, BTreeMap<&str, (i64, i64)>> = BTreeMap::new();
    for c in cells.into_iter().filter(|c| !c.carrier.is_empty() && c.finalized > 0) {
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
        for run in merge_close_runs(outage_runs(&hours), &hours) {
            let link = window_view(&run.first, &run.last, |f| {
                f.countries = vec![country.to_string()];
                f.carriers = vec![carrier.to_string()];
                f.by = Dimension::Error;
            });
            let (outside_delivered, outside) = (delivered - run.other, finalized - run.count);
            let otherwise = if outside > 0 {
                format!("{:.0}% otherwise", outside_delivered as f64 * 100.0 / outside as f64)
            } else {
                "no messages otherwise".to_string()
            };
            let anomaly = Anomaly {
                kind: "carrier-outage".into(),
                title: format!("{carrier} ({country}) stopped delivering"),
                detail: format!(
                    "{:.0}% of {} messages delivered from {}; {otherwise}",
                    run.other as f64 * 100.0 / run.count as f64,
                    run.count,
                    describe_hours(&run.first, &run.last),
                ),
                href: link.href("/"),
                related: None,
            };
            found.push(incident(country, Some(carrier), &run, anomaly));
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
    // A run's figures are those of its window, first to last hour: what its link shows.
    for run in &mut runs {
        (run.count, run.other) = window_counts(hours, &run.first, &run.last);
    }
    runs.retain(|r| r.hours >= 3 && r.count >= OUTAGE_MIN_MESSAGES);
    runs
}

/// Messages with a final status, and those delivered, from `first` to `last` included.
fn window_counts(hours: &BTreeMap<&str, (i64, i64)>, first: &str, last: &str) -> (i64, i64) {
    hours.range(first..=last).fold((0, 0), |(f, d), (_, (hd, hf))| (f + hf, d + hd))
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
                (last.count, last.other) = window_counts(hours, &last.first, &last.last);
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
) -> Vec<(String, Anomaly)> {
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
            found.push((
                key.clone(),
                Anomaly {
                    kind: "conversion-drop".into(),
                    title: format!("Conversion fell in {key}"),
                    detail: format!(
                        "{rate:.1}% of verifications converted against {was:.1}% in the previous period \
                     ({}; adjusted {} after Benjamini–Hochberg across the view's {tests} tests)",
                        format_p_value(test.p_value),
                        format_p_value(*adjusted)
                    ),
                    href: f.href("/"),
                    related: None,
                },
            ));
        }
    }
    found
}

/// Adds `drops` to `found`, but a country's drop whose compared window (`[from, to)`)
/// overlaps one of `incidents`' bursts of unconverted SMS to it goes with that burst, as what
/// it explains: the burst's verifications count in the fall, so one thing happened, not two.
pub fn explain_drops(
    found: &mut Vec<Anomaly>,
    incidents: &[Incident],
    drops: Vec<(String, Anomaly)>,
    from: &str,
    to: &str,
) {
    for (country, drop) in drops {
        let burst = incidents
            .iter()
            .find(|i| i.carrier.is_none() && i.country == country && i.start.as_str() < to && i.end.as_str() > from);
        match burst.and_then(|burst| found.iter_mut().find(|a| a.href == burst.anomaly.href)) {
            Some(shown) => shown.related = Some(format!("{}: {}", drop.title, drop.detail)),
            None => found.push(drop),
        }
    }
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
    fn a_burst_of_unconverted_sms_is_flagged_once_over_its_whole_window() {
        let mut cells: Vec<HourlyCell> = (0..20)
            .map(|h| cell(&format!("2026-11-{:02}T{:02}", 10 + h / 24, h % 24), "ID", "sms", "XL", 10, 6, 9))
            .collect();
        cells.push(cell("2026-11-11T02", "ID", "sms", "XL", 200, 0, 150));
        cells.push(cell("2026-11-11T03", "ID", "sms", "XL", 180, 1, 130));
        let found = sms_pumping(&cells);
        assert_eq!(found.len(), 1, "{found:?}");
        let burst = &found[0];
        assert_eq!((burst.start.as_str(), burst.end.as_str()), ("2026-11-11T02:00:00Z", "2026-11-11T04:00:00Z"));
        assert!(
            burst.anomaly.detail.starts_with("379 unconverted SMS from 2026-11-11 02:00 to 03:59 UTC (2 hours)"),
            "{}",
            burst.anomaly.detail
        );
        assert!(burst.anomaly.detail.contains("the median of ID's 22 hours with SMS"), "{}", burst.anomaly.detail);
        let href = &burst.anomaly.href;
        assert!(href.contains("country=ID") && href.contains("status=unconverted"), "{href}");
        assert!(href.contains("from=2026-11-11T02%3A00&to=2026-11-11T03%3A00"), "exactly its hours: {href}");
        // Every view that overlaps it shows it the same; others do not.
        let views =
            [("2026-11-11T03:00:00Z", "2026-11-12T00:00:00Z"), ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")];
        for (from, to) in views {
            assert_eq!(in_view(&found, &Filters::default(), from, to), std::slice::from_ref(&burst.anomaly));
        }
        assert!(in_view(&found, &Filters::default(), "2026-11-11T04:00:00Z", "2026-11-12T00:00:00Z").is_empty());
        let whatsapp = Filters { channels: vec![Channel::Whatsapp], ..Filters::default() };
        assert!(in_view(&found, &whatsapp, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z").is_empty());
        let elsewhere = Filters { countries: vec!["CO".into()], ..Filters::default() };
        assert!(in_view(&found, &elsewhere, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z").is_empty());
    }

    #[test]
    fn a_carrier_that_stops_delivering_for_hours_is_flagged() {
        let mut cells: Vec<HourlyCell> =
            (0..10).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)).collect();
        cells.extend((10..14).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        cells.push(cell("2026-11-12T15", "US", "sms", "AT&T", 20, 0, 0));
        let found = carrier_outages(&cells);
        assert_eq!(found.len(), 1, "{found:?}");
        let outage = &found[0].anomaly;
        assert!(outage.title.contains("AT&T"));
        assert!(
            outage.detail.starts_with("0% of 100 messages delivered from 2026-11-12 10:00 to 15:59 UTC"),
            "{}",
            outage.detail
        );
        assert!(outage.detail.ends_with("95% otherwise"), "{}", outage.detail);
        assert!(outage.href.contains("carrier=AT%26T") && outage.href.contains("by=error"));
        assert!(outage.href.contains("from=2026-11-12T10%3A00&to=2026-11-12T15%3A00"), "{}", outage.href);
    }

    #[test]
    fn an_outage_with_an_hour_of_partial_delivery_is_one_outage() {
        let mut cells: Vec<HourlyCell> =
            (0..10).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)).collect();
        cells.extend((10..14).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        cells.push(cell("2026-11-12T14", "US", "sms", "AT&T", 2, 1, 1));
        cells.extend((15..19).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        cells.extend((19..23).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)));
        let found = carrier_outages(&cells);
        assert_eq!(found.len(), 1, "{found:?}");
        let detail = &found[0].anomaly.detail;
        assert!(detail.contains("of 162 messages"), "{detail}");
        assert!(detail.contains("from 2026-11-12 10:00 to 18:59 UTC"), "{detail}");
    }

    #[test]
    fn an_outage_counts_the_quiet_hours_at_its_end_only_inside_its_window() {
        let mut cells: Vec<HourlyCell> =
            (0..10).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)).collect();
        cells.extend((10..13).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 0, 0)));
        // Too few messages to judge, then delivery again: the outage ended with its last bad hour.
        cells.push(cell("2026-11-12T13", "US", "sms", "AT&T", 1, 1, 1));
        cells.extend((14..18).map(|h| cell(&format!("2026-11-12T{h:02}"), "US", "sms", "AT&T", 20, 15, 19)));
        let found = carrier_outages(&cells);
        assert_eq!(found.len(), 1, "{found:?}");
        let detail = &found[0].anomaly.detail;
        assert!(detail.starts_with("0% of 60 messages delivered from 2026-11-12 10:00 to 12:59 UTC"), "{detail}");
    }

    #[test]
    fn quiet_data_has_no_anomalies() {
        let cells: Vec<HourlyCell> = (0..48)
            .map(|h| cell(&format!("2026-11-{:02}T{:02}", 10 + h / 24, h % 24), "CO", "sms", "Tigo", 30, 20, 27))
            .collect();
        assert!(incidents(&cells).is_empty());
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
        let drops = conversion_drops(&tests, &[0.001, 0.3], 3, &Filters::default());
        assert_eq!(drops.len(), 1, "BR fell 2.5 points, but its test is no discovery: {drops:?}");
        let (country, drop) = &drops[0];
        assert_eq!((country.as_str(), drop.title.as_str()), ("CO", "Conversion fell in CO"));
        assert!(drop.detail.starts_with("60.0% of verifications converted against 80.0%"), "{}", drop.detail);
        assert!(drop.detail.contains("0.001 after Benjamini–Hochberg across the view's 3 tests"), "{}", drop.detail);
        assert!(conversion_drops(&tests, &[0.06, 0.5], 3, &Filters::default()).is_empty());
    }

    #[test]
    fn a_drop_during_a_burst_to_its_country_is_told_with_the_burst() {
        let mut cells: Vec<HourlyCell> = (0..48)
            .map(|h| cell(&format!("2026-11-{:02}T{:02}", 10 + h / 24, h % 24), "CO", "sms", "Tigo", 10, 6, 9))
            .collect();
        cells.push(cell("2026-11-11T05", "CO", "sms", "Tigo", 300, 0, 250));
        let incidents = incidents(&cells);
        let drop = |country: &str| {
            let anomaly = Anomaly {
                kind: "conversion-drop".into(),
                title: format!("Conversion fell in {country}"),
                detail: "50.0% against 60.0%".into(),
                href: "/".into(),
                related: None,
            };
            (country.to_string(), anomaly)
        };
        let (from, to) = ("2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z");
        let mut found = in_view(&incidents, &Filters::default(), from, to);
        explain_drops(&mut found, &incidents, vec![drop("CO"), drop("BR")], from, to);
        assert_eq!(found.len(), 2, "the burst, which explains CO's drop, and BR's drop: {found:?}");
        assert_eq!(found[0].kind, "sms-pumping");
        assert_eq!(found[0].related.as_deref(), Some("Conversion fell in CO: 50.0% against 60.0%"));
        assert_eq!(found[1].title, "Conversion fell in BR");
        // Compared over a window the burst is not in, the drop is its own finding.
        let (from, to) = ("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let mut found = in_view(&incidents, &Filters::default(), from, to);
        explain_drops(&mut found, &incidents, vec![drop("CO")], from, to);
        assert_eq!(found.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(), ["conversion-drop"]);
    }
}
