//! A rule's evaluation: its saved view's figures read from the snapshot (the rollups, or
//! raw rows where they cannot answer), judged against its condition.

use chrono::{DateTime, Duration, Utc};

use super::condition::{Condition, Evaluation, SpendPer};
use crate::analytics::{self, RollupIndex, comparison};
use crate::filters::{Compare, DateRange, Filters, ViewHour};
use crate::format::{format_count, format_money, format_p_value};
use crate::model::twilio_time;
use crate::page_data::{Metrics, Money};
use crate::store::{AttemptScope, RawScans, StoreError};

/// What a rule needs to read its view.
pub struct Snapshot<'a> {
    pub store: &'a crate::store::Store,
    pub scans: &'a RawScans,
    pub index: &'a RollupIndex,
}

fn scope(filters: &Filters, start: DateTime<Utc>, end: DateTime<Utc>) -> AttemptScope<'_> {
    AttemptScope { from: twilio_time::format(&start), to: twilio_time::format(&end), filters }
}

/// How a rule reads its view: its condition, its minimum volume, and the window of its
/// rates (the last N minutes, or the view's range).
pub struct RuleTerms<'a> {
    pub condition: &'a Condition,
    pub min_verifications: u64,
    pub window_minutes: Option<u32>,
}

/// Evaluates a rule's terms on the view `filters` at `now`. Fewer than `min_verifications`
/// verifications in the figures' window never fire: ten attempts at 3 a.m. page nobody.
pub async fn evaluate(
    snapshot: &Snapshot<'_>,
    filters: &Filters,
    terms: &RuleTerms<'_>,
    now: DateTime<Utc>,
) -> Result<Evaluation, StoreError> {
    let (store, scans, index) = (snapshot.store, snapshot.scans, snapshot.index);
    let (condition, min_verifications) = (terms.condition, terms.min_verifications);
    let (start, end) = filters.range.bounds(now);
    // Rates over the last minutes: a short window notices a fall, and its end, quickly.
    let (rate_start, rate_end) = match terms.window_minutes {
        Some(minutes) => (now - Duration::minutes(i64::from(minutes)), now),
        None => (start, end),
    };
    let mut evaluation = match condition {
        Condition::ConversionBelow { percent } => {
            let totals = analytics::totals(store, scans, index, &scope(filters, rate_start, rate_end)).await?;
            let rate = totals.verification_rate_percent();
            let interval =
                crate::analytics::stats::wilson_interval(totals.converted_verifications, totals.verifications)
                    .map(|(l, h)| (l * 100.0, h * 100.0));
            rate_evaluation("Conversion rate", rate, *percent, interval, &totals)
        }
        Condition::DeliveryBelow { percent } => {
            let totals = analytics::totals(store, scans, index, &scope(filters, rate_start, rate_end)).await?;
            let interval = crate::analytics::stats::wilson_interval(totals.delivered, totals.finalized)
                .map(|(l, h)| (l * 100.0, h * 100.0));
            rate_evaluation("Delivery rate", totals.delivery_rate_percent(), *percent, interval, &totals)
        }
        Condition::ConversionDrop { points } => drop_evaluation(snapshot, filters, start, end, now, *points).await?,
        Condition::SpendAbove { amount, currency, per } => {
            // The hours the rollups hold: the windows cost one read of them each.
            let mut windows = Vec::new();
            for (from, to) in spend_windows(now, *per) {
                let totals = analytics::totals(store, scans, index, &scope(filters, from, to)).await?;
                windows.push((amount_in(&totals.total_cost(), currency), from, to, totals));
            }
            let (spent, from, to, totals) =
                windows.into_iter().max_by(|a, b| a.0.total_cmp(&b.0)).expect("one window at least");
            let shown = |amount: f64| format_money(&Money { currency: currency.clone(), amount });
            let when = match per {
                SpendPer::Hour if to <= now => "in the last complete hour",
                SpendPer::Hour => "in the current hour so far",
                SpendPer::Day => "in the last 24 hours",
            };
            let mut evaluation = Evaluation {
                firing: spent > *amount,
                value: Some(spent),
                threshold: Some(*amount),
                unit: currency.clone(),
                verifications: totals.verifications,
                summary: format!(
                    "Spend {} {when} (threshold {}): channel fees and verification fees of {} attempts",
                    shown(spent),
                    shown(*amount),
                    format_count(totals.attempts)
                ),
                ..Evaluation::default()
            };
            evaluation.window_start = twilio_time::format(&from);
            evaluation.window_end = twilio_time::format(&to);
            // Money is spent whatever the volume: the minimum does not hold spend back.
            return Ok(evaluation);
        }
        Condition::Anomaly => anomaly_evaluation(snapshot, filters, start, end, now).await?,
    };
    if evaluation.window_start.is_empty() {
        let rates = matches!(condition, Condition::ConversionBelow { .. } | Condition::DeliveryBelow { .. });
        let (from, to) = if rates { (rate_start, rate_end) } else { (start, end) };
        evaluation.window_start = twilio_time::format(&from);
        evaluation.window_end = twilio_time::format(&to);
    }
    if evaluation.firing && evaluation.verifications < min_verifications {
        evaluation.firing = false;
        evaluation.summary = format!(
            "{} Not firing: {} verifications, fewer than the rule's minimum of {}.",
            evaluation.summary,
            format_count(evaluation.verifications),
            format_count(min_verifications)
        );
    }
    Ok(evaluation)
}

/// Where spend is read, as the rollups' hours cut time: per hour, the current UTC hour so far
/// and the hour before it (the larger counts, so a burst fires within its hour and the rule
/// resolves after a whole hour without one); per day, the last 24 hours.
fn spend_windows(now: DateTime<Utc>, per: SpendPer) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    match per {
        SpendPer::Hour => {
            let (this_hour, next_hour) = match ViewHour::of_time(now) {
                Some(hour) => DateRange::Hours(hour, hour).bounds(now),
                None => return vec![DateRange::LastDay.bounds(now)],
            };
            vec![(this_hour - Duration::hours(1), this_hour), (this_hour, next_hour)]
        }
        SpendPer::Day => vec![DateRange::LastDay.bounds(now)],
    }
}

fn amount_in(moneys: &[Money], currency: &str) -> f64 {
    moneys.iter().filter(|m| m.currency == currency).map(|m| m.amount).sum()
}

fn rate_evaluation(
    what: &str,
    rate: Option<f64>,
    threshold: f64,
    interval: Option<(f64, f64)>,
    totals: &Metrics,
) -> Evaluation {
    let summary = match rate {
        Some(rate) => format!(
            "{what} {rate:.1}% against a threshold of {threshold}% ({} verifications, {} attempts)",
            format_count(totals.verifications),
            format_count(totals.attempts)
        ),
        None => format!("{what}: no data in the view's range"),
    };
    Evaluation {
        firing: rate.is_some_and(|rate| rate < threshold),
        value: rate,
        threshold: Some(threshold),
        unit: "%".into(),
        interval,
        verifications: totals.verifications,
        summary,
        ..Evaluation::default()
    }
}

/// What a rule compares: its view's choice, or the previous period when the view compares nothing.
fn alert_compare(filters: &Filters) -> Compare {
    if filters.compare.is_on() { filters.compare } else { Compare::Previous }
}

/// The windows a rule on this view compares, if the snapshot holds them.
async fn compared_windows(
    store: &crate::store::Store,
    filters: &Filters,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<comparison::ComparisonWindows>, StoreError> {
    let (data_end, covered_from) = analytics::data_end_and_coverage(store, now).await?;
    let hourly = end - start <= Duration::days(2);
    Ok(comparison::comparison_windows(alert_compare(filters), (start, end), data_end, hourly, covered_from).ok())
}

async fn drop_evaluation(
    snapshot: &Snapshot<'_>,
    filters: &Filters,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    points: f64,
) -> Result<Evaluation, StoreError> {
    let (store, scans, index) = (snapshot.store, snapshot.scans, snapshot.index);
    let windows = compared_windows(store, filters, start, end, now).await?;
    let Some(windows) = windows else {
        return Ok(Evaluation {
            summary: format!(
                "No comparison: the snapshot does not hold {}, or nothing of this period is settled yet.",
                alert_compare(filters).against()
            ),
            unit: "points".into(),
            threshold: Some(points),
            ..Evaluation::default()
        });
    };
    let compared_now =
        analytics::totals(store, scans, index, &scope(filters, windows.current.0, windows.current.1)).await?;
    let (change, _) = analytics::change_and_drops(store, scans, index, filters, &windows, compared_now, None).await?;
    let now_rate = change.current.verification_rate_percent();
    let then_rate = change.previous.verification_rate_percent();
    let fell = change.verification_rate_points.map(|p| -p);
    let firing = fell.is_some_and(|fell| fell >= points) && change.significant;
    let summary = match (now_rate, then_rate) {
        (Some(now_rate), Some(then_rate)) => format!(
            "Conversion rate {now_rate:.1}% against {then_rate:.1}% in {} ({:+.1} points, {}; {} verifications)",
            windows.compare.against(),
            now_rate - then_rate,
            change.adjusted_p_value.map_or_else(|| "no test".to_string(), format_p_value),
            format_count(change.current.verifications)
        ),
        _ => "Conversion rate: no data in one of the compared periods".into(),
    };
    Ok(Evaluation {
        firing,
        value: fell,
        threshold: Some(points),
        unit: "points".into(),
        previous: then_rate,
        interval: crate::analytics::stats::wilson_interval(
            change.current.converted_verifications,
            change.current.verifications,
        )
        .map(|(l, h)| (l * 100.0, h * 100.0)),
        p_value: change.adjusted_p_value,
        verifications: change.current.verifications,
        summary,
        window_start: twilio_time::format(&windows.current.0),
        window_end: twilio_time::format(&windows.current.1),
        ..Evaluation::default()
    })
}

async fn anomaly_evaluation(
    snapshot: &Snapshot<'_>,
    filters: &Filters,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Evaluation, StoreError> {
    let (store, scans, index) = (snapshot.store, snapshot.scans, snapshot.index);
    let current = scope(filters, start, end);
    let totals = analytics::totals(store, scans, index, &current).await?;
    let mut found = analytics::view_incidents(index, &current);
    if let Some(windows) = compared_windows(store, filters, start, end, now).await? {
        let compared_now =
            analytics::totals(store, scans, index, &scope(filters, windows.current.0, windows.current.1)).await?;
        let (_, drops) =
            analytics::change_and_drops(store, scans, index, filters, &windows, compared_now, None).await?;
        let (from, to) = (twilio_time::format(&windows.current.0), twilio_time::format(&windows.current.1));
        crate::analytics::anomalies::explain_drops(&mut found, index.incidents(), drops, &from, &to);
    }
    let anomalies: Vec<String> = found.iter().map(|a| format!("{}: {}", a.title, a.detail)).collect();
    let summary = match found.len() {
        0 => "No anomaly in the view".to_string(),
        1 => found[0].title.clone(),
        n => format!("{n} anomalies: {}", found.iter().map(|a| a.title.as_str()).collect::<Vec<_>>().join("; ")),
    };
    Ok(Evaluation {
        firing: !found.is_empty(),
        value: Some(found.len() as f64),
        threshold: Some(0.0),
        unit: "anomalies".into(),
        verifications: totals.verifications,
        summary,
        anomalies,
        ..Evaluation::default()
    })
}
