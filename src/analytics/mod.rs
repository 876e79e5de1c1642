//! The numbers of the dashboard, computed from the snapshot: plain async
//! functions that the server functions and the CSV export call.

pub mod advice;
pub mod anomalies;
pub mod comparison;
pub mod rollup_cache;
pub mod rollup_index;
pub mod stats;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, DurationRound, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::buckets::BucketSize;
use crate::filters::Dimension;
use crate::filters::{Filters, ListOrder, ParsedFilters, SortKey, ViewDate};
use crate::model::twilio_time;
use crate::page_data::{
    Anomaly, AttemptDetail, AttemptList, AttemptRow, BreakdownRow, Metrics, Overview, Period, SeriesPoint,
    SnapshotStatus,
};
use crate::store::{self, AttemptScope, RawScans, Store, StoreError};
pub use rollup_cache::RollupCache;
pub use rollup_index::RollupIndex;

/// Attempts per page of the attempts list.
pub const ATTEMPTS_PER_PAGE: u32 = 50;

fn scope<'a>(filters: &'a Filters, start: DateTime<Utc>, end: DateTime<Utc>) -> AttemptScope<'a> {
    AttemptScope { from: twilio_time::format(&start), to: twilio_time::format(&end), filters }
}

fn with_interval(mut m: Metrics) -> Metrics {
    m.rate_interval = stats::wilson_interval(m.converted, m.attempts).map(|(l, h)| (l * 100.0, h * 100.0));
    m
}

/// Metrics per value of `by` (one row keyed `""` without it): from the rollups when
/// they answer the view exactly, else from the raw rows.
pub async fn metrics_by(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    by: Option<Dimension>,
) -> Result<BTreeMap<String, Metrics>, StoreError> {
    let Some(grain) = index.grain_for(scope) else {
        return store::raw_metrics_by(store, scans, scope, by, index.fees()).await;
    };
    let mut metrics = index.metrics_by(scope, by, grain);
    if scope.filters.errors.len() > 1 {
        // Several error codes can count one verification twice: count them from the rows.
        for (key, raw) in store::raw_metrics_by(store, scans, scope, by, index.fees()).await? {
            if let Some(m) = metrics.get_mut(&key) {
                m.verifications = raw.verifications;
                m.converted_verifications = raw.converted_verifications;
                m.verification_fees = raw.verification_fees;
            }
        }
        return Ok(metrics);
    }
    Ok(metrics)
}

/// Attempts and conversions per channel and day, or hour when `hourly`.
pub async fn series(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    hourly: bool,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let grain = if hourly { index.hours_cover(scope).then_some(store::Grain::Hour) } else { index.grain_for(scope) };
    match grain {
        Some(grain) => Ok(index.series(scope, grain, hourly)),
        None => store::raw_series(store, scans, scope, hourly).await,
    }
}

/// The totals of a view.
pub async fn totals(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
) -> Result<Metrics, StoreError> {
    let mut by_key = metrics_by(store, scans, index, scope, None).await?;
    Ok(with_interval(by_key.remove("").unwrap_or_default()))
}

/// Spend on a view's attempts of verifications that never converted: from the rollups, or
/// for a view they cannot answer from the raw rows, once per view and generation of the rollups.
pub async fn unconverted_verification_spend(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
) -> Result<Vec<crate::page_data::Money>, StoreError> {
    Ok(unconverted_verification_spend_by(store, scans, index, scope, None).await?.remove("").unwrap_or_default())
}

/// `unconverted_verification_spend` per value of `by` (one key `""` without it).
pub async fn unconverted_verification_spend_by(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    by: Option<Dimension>,
) -> Result<BTreeMap<String, Vec<crate::page_data::Money>>, StoreError> {
    if let Some(grain) = index.grain_for(scope) {
        return Ok(index.unconverted_verification_spend_by(scope, by, grain));
    }
    if let Some(spend) = index.remembered_unconverted_verification_spend(scope, by) {
        return Ok(spend);
    }
    let spend = store::raw_unconverted_verification_spend_by(store, scans, scope, by).await?;
    index.remember_unconverted_verification_spend(scope, by, &spend);
    Ok(spend)
}

/// Puts each breakdown row's spend on verifications that never converted in it; returns
/// the view's, their sum.
pub async fn add_unconverted_verification_spend(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    rows: &mut [BreakdownRow],
) -> Result<Vec<crate::page_data::Money>, StoreError> {
    let mut by_key = unconverted_verification_spend_by(store, scans, index, scope, Some(scope.filters.by)).await?;
    let mut total = Vec::new();
    for row in rows.iter_mut() {
        row.metrics.unconverted_verification_spend = by_key.remove(&row.key).unwrap_or_default();
    }
    for money in rows.iter().flat_map(|r| &r.metrics.unconverted_verification_spend) {
        store::add_micros(&mut total, &money.currency, (money.amount * 1e6).round() as i64);
    }
    Ok(total)
}

/// The breakdown table of a view, sorted as it asks.
pub async fn breakdown(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
) -> Result<Vec<BreakdownRow>, StoreError> {
    let f = scope.filters;
    let mut rows: Vec<BreakdownRow> = metrics_by(store, scans, index, scope, Some(f.by))
        .await?
        .into_iter()
        .map(|(key, metrics)| BreakdownRow { key, metrics: with_interval(metrics) })
        .collect();
    let spend = |r: &BreakdownRow| r.metrics.total_cost().iter().map(|m| m.amount).sum::<f64>();
    rows.sort_by(|a, b| {
        let order = match f.sort {
            SortKey::Key => a.key.cmp(&b.key),
            SortKey::Attempts => a.metrics.attempts.cmp(&b.metrics.attempts),
            SortKey::Converted => a.metrics.converted.cmp(&b.metrics.converted),
            SortKey::Rate => {
                a.metrics.rate_percent().partial_cmp(&b.metrics.rate_percent()).unwrap_or(std::cmp::Ordering::Equal)
            }
            SortKey::Verifications => a.metrics.verifications.cmp(&b.metrics.verifications),
            SortKey::Spend => spend(a).total_cmp(&spend(b)),
        };
        let order = if f.descending { order.reverse() } else { order };
        order.then_with(|| a.key.cmp(&b.key))
    });
    Ok(rows)
}

/// Metrics per country and channel (keyed `country␟channel`): from the rollups when they
/// answer the view exactly, else from the raw rows.
pub async fn metrics_by_country_and_channel(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
) -> Result<BTreeMap<String, Metrics>, StoreError> {
    match index.grain_for(scope).filter(|_| scope.filters.errors.len() <= 1) {
        Some(grain) => Ok(index.metrics_by_pair(scope, Dimension::Country, Dimension::Channel, grain)),
        None => {
            let separator = rollup_index::PAIR_SEPARATOR;
            store::raw_metrics_by_country_and_channel(store, scans, scope, separator, index.fees()).await
        }
    }
}

/// The view's retry funnel, from the rollups; none for a view they cannot answer exactly.
pub fn retry_funnel(index: &RollupIndex, scope: &AttemptScope<'_>) -> crate::page_data::RetryFunnel {
    match index.grain_for(scope) {
        Some(grain) => index.funnel(scope, grain),
        None => crate::page_data::RetryFunnel {
            note: Some(
                "The retry funnel is kept for whole days (and hours of the last three days), not for a destination \
                 prefix: choose such a range, or drop the prefix, to see it."
                    .to_string(),
            ),
            ..Default::default()
        },
    }
}

/// Digits of a number a burst's prefixes leave out: blocks of 10,000 numbers, never one.
const BURST_HIDDEN_DIGITS: i64 = 4;
const BURST_PREFIXES: i64 = 10;

/// What an SMS-pumping burst cost: read from the raw rows once, then remembered by the index.
async fn burst_costs(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    burst: &anomalies::Incident,
) -> Result<store::BurstCosts, StoreError> {
    if let Some(costs) = index.remembered_burst_costs(burst) {
        return Ok(costs);
    }
    let costs = store::raw_burst_costs(
        store,
        scans,
        &burst.country,
        &burst.start,
        &burst.end,
        BURST_HIDDEN_DIGITS,
        BURST_PREFIXES,
    )
    .await?;
    index.remember_burst_costs(burst, &costs);
    Ok(costs)
}

/// Reads what every SMS-pumping burst of the snapshot cost that the index does not remember
/// yet, so that no view's first page waits for them (a year of bursts takes seconds at tens
/// of millions of attempts); how many it read.
pub async fn read_every_burst_cost(store: &Store, scans: &RawScans, index: &RollupIndex) -> Result<usize, StoreError> {
    let mut read = 0;
    for burst in index.incidents().iter().filter(|i| i.anomaly.kind == "sms-pumping") {
        if index.remembered_burst_costs(burst).is_none() {
            burst_costs(store, scans, index, burst).await?;
            read += 1;
        }
    }
    Ok(read)
}

/// What the view's SMS-pumping bursts cost, each read from the raw rows once.
async fn fraud_costs(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
) -> Result<Vec<crate::page_data::FraudCost>, StoreError> {
    let bursts: Vec<&anomalies::Incident> =
        anomalies::incidents_in_view(index.incidents(), scope.filters, &scope.from, &scope.to)
            .into_iter()
            .filter(|i| i.anomaly.kind == "sms-pumping")
            .collect();
    let mut out = Vec::with_capacity(bursts.len());
    for burst in bursts {
        let costs = burst_costs(store, scans, index, burst).await?;
        let mut days: Vec<(String, u64, Vec<crate::page_data::Money>)> = Vec::new();
        let (mut attempts, mut fees) = (0, Vec::new());
        for (day, currency, count, amount) in costs.days {
            if days.last().is_none_or(|(d, _, _)| *d != day) {
                days.push((day, 0, Vec::new()));
            }
            if let Some((_, day_attempts, day_fees)) = days.last_mut() {
                *day_attempts += count as u64;
                if !currency.is_empty() {
                    store::add_micros(day_fees, &currency, (amount * 1e6).round() as i64);
                    store::add_micros(&mut fees, &currency, (amount * 1e6).round() as i64);
                }
            }
            attempts += count as u64;
        }
        // Blocks of the burst itself, not the odd number of the country's usual traffic.
        let least = (attempts / 100).max(5);
        out.push(crate::page_data::FraudCost {
            country: burst.country.clone(),
            start: burst.start.clone(),
            end: burst.end.clone(),
            attempts,
            channel_fees: fees,
            days,
            prefixes: costs.prefixes.into_iter().map(|(p, n)| (p, n as u64)).filter(|(_, n)| *n >= least).collect(),
            href: burst.anomaly.href.clone(),
        });
    }
    let amount = |f: &crate::page_data::FraudCost| f.channel_fees.iter().map(|m| m.amount).sum::<f64>();
    out.sort_by(|a, b| amount(b).total_cmp(&amount(a)));
    Ok(out)
}

/// Attempts the view's filters select that Twilio blocked as fraud, by code.
async fn blocked_attempts(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut by_error = scope.filters.clone();
    by_error.by = Dimension::Error;
    let scope = AttemptScope { from: scope.from.clone(), to: scope.to.clone(), filters: &by_error };
    let attempts: BTreeMap<String, u64> = match index.grain_for(&scope) {
        Some(grain) => index.attempts_by(&scope, Dimension::Error, grain),
        None => metrics_by(store, scans, index, &scope, Some(Dimension::Error))
            .await?
            .into_iter()
            .map(|(code, m)| (code, m.attempts))
            .collect(),
    };
    let mut codes: Vec<(String, u64)> =
        attempts.into_iter().filter(|(code, n)| advice::BLOCKING_ERRORS.contains(&code.as_str()) && *n > 0).collect();
    codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(codes)
}

/// The view's "What to do": channel moves per market, what fraud cost, what Twilio blocked;
/// worked out once per view and generation of the rollups, as it reads all of the view.
pub async fn what_to_do(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    compared: Option<(&AttemptScope<'_>, &AttemptScope<'_>)>,
) -> Result<crate::page_data::WhatToDo, StoreError> {
    let key = match compared {
        Some((now, then)) => {
            format!("{}|{}|{}", RollupIndex::view_key(scope), RollupIndex::view_key(now), RollupIndex::view_key(then))
        }
        None => RollupIndex::view_key(scope),
    };
    if let Some(what) = index.remembered_what_to_do(&key) {
        return Ok(what);
    }
    let what = work_out_what_to_do(store, scans, index, scope, compared).await?;
    index.remember_what_to_do(key, &what);
    Ok(what)
}

async fn work_out_what_to_do(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    compared: Option<(&AttemptScope<'_>, &AttemptScope<'_>)>,
) -> Result<crate::page_data::WhatToDo, StoreError> {
    let f = scope.filters;
    let mut markets = f.clone();
    markets.channels.clear();
    markets.status = None;
    let market_scope = AttemptScope { from: scope.from.clone(), to: scope.to.clone(), filters: &markets };
    let pairs = metrics_by_country_and_channel(store, scans, index, &market_scope).await?;
    let mut recommendations = advice::channel_decisions(&pairs, |country| advice::evidence_view(f, country).href("/"));
    let bursts = anomalies::incidents_in_view(index.incidents(), &markets, &scope.from, &scope.to);
    for r in &mut recommendations {
        advice::mention_bursts(r, &bursts);
    }
    let note = recommendations.is_empty().then(|| {
        format!(
            "No channel converts better by {} points or more (at the low end of the 95% interval, and at no more cost \
             per success) than another in any market of this view with {} verifications on each.",
            advice::MIN_POINTS,
            advice::MIN_VERIFICATIONS
        )
    });
    let codes = blocked_attempts(store, scans, index, scope).await?;
    let blocked_in = async |scope| -> Result<u64, StoreError> {
        Ok(blocked_attempts(store, scans, index, scope).await?.iter().map(|(_, n)| n).sum())
    };
    let compared = match compared {
        Some((now, then)) => Some((blocked_in(now).await?, blocked_in(then).await?)),
        None => None,
    };
    let mut blocked_view = f.clone();
    blocked_view.errors = codes.iter().map(|(code, _)| code.clone()).collect();
    blocked_view.by = Dimension::Error;
    Ok(crate::page_data::WhatToDo {
        recommendations,
        fraud: fraud_costs(store, scans, index, scope).await?,
        blocked: crate::page_data::BlockedTraffic {
            attempts: codes.iter().map(|(_, n)| n).sum(),
            compared,
            by_code: codes,
            href: blocked_view.href("/"),
        },
        note,
    })
}

/// The bursts and outages a view shows: found once in all of the snapshot's hours, those
/// that overlap the view's range in its countries (and carriers).
pub fn view_incidents(index: &RollupIndex, scope: &AttemptScope<'_>) -> Vec<Anomaly> {
    anomalies::in_view(index.incidents(), scope.filters, &scope.from, &scope.to)
}

/// The view's totals in each of `periods` (`comparison::settled_periods`): for days, from one
/// breakdown by day over them; for other buckets, one read of each (verifications do not add
/// up across days).
async fn kpi_trend(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    filters: &Filters,
    periods: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
    size: BucketSize,
) -> Result<Vec<Period>, StoreError> {
    if let (BucketSize::Day, Some((_, from, _)), Some((_, _, to))) = (size, periods.first(), periods.last()) {
        let mut by_day = filters.clone();
        by_day.by = Dimension::Day;
        let mut metrics = metrics_by(store, scans, index, &scope(&by_day, *from, *to), Some(Dimension::Day)).await?;
        return Ok(periods
            .into_iter()
            .map(|(bucket, _, _)| Period {
                metrics: with_interval(metrics.remove(&bucket).unwrap_or_default()),
                bucket,
            })
            .collect());
    }
    let mut trend = Vec::with_capacity(periods.len());
    for (bucket, from, to) in periods {
        trend.push(Period { bucket, metrics: totals(store, scans, index, &scope(filters, from, to)).await? });
    }
    Ok(trend)
}

/// Where the snapshot's attempts end: its last complete sync, or `now` before there is one.
fn data_end(snapshot: &SnapshotStatus, now: DateTime<Utc>) -> DateTime<Utc> {
    snapshot.as_of.as_deref().and_then(twilio_time::parse).map_or(now, |as_of| as_of.min(now))
}

/// The change of a view between the compared `windows` (its test corrected for the view's
/// other tests, one per country) and the countries whose conversion fell significantly.
/// `compared_now` is the view's totals over the current window; `country_rows` its rows by
/// country over it, when the caller has them.
pub async fn change_and_drops(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    filters: &Filters,
    windows: &comparison::ComparisonWindows,
    compared_now: Metrics,
    country_rows: Option<&[BreakdownRow]>,
) -> Result<(crate::page_data::Change, Vec<(String, Anomaly)>), StoreError> {
    let ((now_from, now_to), (then_from, then_to)) = (windows.current, windows.previous);
    let compared_then = totals(store, scans, index, &scope(filters, then_from, then_to)).await?;
    let mut by_country = filters.clone();
    by_country.by = Dimension::Country;
    let now_rows = match country_rows {
        Some(rows) => rows.to_vec(),
        None => breakdown(store, scans, index, &scope(&by_country, now_from, now_to)).await?,
    };
    let then_rows = breakdown(store, scans, index, &scope(&by_country, then_from, then_to)).await?;
    let mut change = comparison::compare(compared_now, compared_then, windows);
    let tests = anomalies::country_tests(&now_rows, &then_rows);
    let p_values: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
    let adjusted = comparison::control_false_discoveries(&mut change, &p_values);
    let drops = anomalies::conversion_drops(&tests, &adjusted, change.tests, filters);
    Ok((change, drops))
}

/// Where the snapshot's attempts end (its last complete sync, or `now` before there is one),
/// and where it covers them from (its oldest complete sync's start).
pub async fn data_end_and_coverage(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), StoreError> {
    let as_of = store.watermark().await?;
    let data_end = as_of.as_deref().and_then(twilio_time::parse).map_or(now, |as_of| as_of.min(now));
    let covered_from = store.coverage_start().await?.and_then(|c| twilio_time::parse(&c));
    Ok((data_end, covered_from))
}

/// The view's series in `size`'s buckets: hours or days as the rollups hold them, weeks and
/// months summed from days.
async fn bucket_series(
    store: &Store,
    scans: &RawScans,
    index: &RollupIndex,
    scope: &AttemptScope<'_>,
    size: BucketSize,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let unit = match size {
        BucketSize::Week => Some(rollup_index::Coarse::Week),
        BucketSize::Month => Some(rollup_index::Coarse::Month),
        BucketSize::Hour | BucketSize::Day => None,
    };
    if let (Some(unit), Some(store::Grain::Day)) = (unit, index.grain_for(scope)) {
        return Ok(size.regroup(index.coarse_series(scope, unit)));
    }
    Ok(size.regroup(series(store, scans, index, scope, size.is_hourly()).await?))
}

/// Everything the overview page shows for one view at `now`.
pub async fn overview(
    store: &Store,
    scans: &RawScans,
    rollups: &Arc<RollupCache>,
    parsed: ParsedFilters,
    now: DateTime<Utc>,
    snapshot: SnapshotStatus,
) -> Result<Overview, StoreError> {
    let filters = parsed.filters;
    let (start, end) = filters.range.bounds(now);
    let current = scope(&filters, start, end);
    let index = rollups.get(store).await?;
    let index = &*index;
    let data_end = data_end(&snapshot, now);
    let covered_from = store.coverage_start().await?.and_then(|c| twilio_time::parse(&c));
    // A range from before the snapshot's history (`range=all`) is charted from where it begins:
    // from the start of that day (or hour), which holds nothing earlier, so that the rollups
    // answer its first bucket too.
    let chart_start = match covered_from {
        Some(from) if from > start => {
            let floored = if BucketSize::for_span(from, end).is_hourly() {
                from.duration_trunc(chrono::TimeDelta::hours(1)).unwrap_or(from)
            } else {
                crate::zone::midnight(crate::zone::local_date(from))
            };
            floored.max(start).min(end)
        }
        _ => start,
    };
    let size = BucketSize::for_span(chart_start, end);
    let hourly = size.is_hourly();
    let mut current_totals = totals(store, scans, index, &current).await?;
    let mut rows = breakdown(store, scans, index, &current).await?;
    current_totals.unconverted_verification_spend =
        add_unconverted_verification_spend(store, scans, index, &current, &mut rows).await?;
    let current_series = bucket_series(store, scans, index, &current, size).await?;
    let buckets = comparison::chart_buckets(chart_start, end, data_end, size);
    let periods = comparison::settled_periods(chart_start, end, data_end, size);
    let trend = kpi_trend(store, scans, index, &filters, periods, size).await?;
    let windows =
        comparison::view_windows(&filters.range, filters.compare, (start, end), data_end, hourly, covered_from);
    let comparison_note = windows.as_ref().err().and_then(|why| why.note(filters.compare, hourly));
    let mut found = view_incidents(index, &current);
    let (change, previous_series, what_to_do) = match windows {
        Ok(windows) => {
            let ((now_from, now_to), (then_from, then_to)) = (windows.current, windows.previous);
            let whole = (now_from, now_to) == (start, end);
            let compared_now = if whole {
                current_totals.clone()
            } else {
                totals(store, scans, index, &scope(&filters, now_from, now_to)).await?
            };
            let same_rows = (filters.by == Dimension::Country && whole).then_some(rows.as_slice());
            let (change, drops) =
                change_and_drops(store, scans, index, &filters, &windows, compared_now, same_rows).await?;
            let (from, to) = (twilio_time::format(&now_from), twilio_time::format(&now_to));
            anomalies::explain_drops(&mut found, index.incidents(), drops, &from, &to);
            let (compared_from, compared_to) =
                comparison::compared_period(filters.compare, start, end).unwrap_or((then_from, then_to));
            let previous = series(store, scans, index, &scope(&filters, compared_from, compared_to), hourly).await?;
            let (now, then) = (scope(&filters, now_from, now_to), scope(&filters, then_from, then_to));
            let what_to_do = what_to_do(store, scans, index, &current, Some((&now, &then))).await?;
            let shifted = comparison::shift_buckets(previous, windows.shift, hourly);
            let on_chart: std::collections::HashSet<&str> = buckets.iter().map(|b| b.key.as_str()).collect();
            let mut previous_series = size.regroup(shifted);
            previous_series.retain(|p| on_chart.contains(p.bucket.as_str()));
            (Some(change), previous_series, what_to_do)
        }
        Err(_) => (None, Vec::new(), what_to_do(store, scans, index, &current, None).await?),
    };
    let mut fixed = filters.clone();
    fixed.range = fixed.range.absolute(now);
    Ok(Overview {
        permalink: fixed.href("/"),
        start: twilio_time::format(&start),
        end: twilio_time::format(&end),
        range_text: crate::zone::describe_range(start, end),
        notices: parsed.notices,
        comparison_note,
        totals: current_totals,
        verification_fee: rollups.fees().describe(),
        what_to_do,
        funnel: retry_funnel(index, &current),
        what_to_do_html: String::new(),
        funnel_html: String::new(),
        timeseries_svg: String::new(),
        rate_svg: String::new(),
        map_options: String::new(),
        annotations: Vec::new(),
        change,
        rows,
        buckets,
        bucket_size: size,
        series: current_series,
        trend,
        previous_series,
        anomalies: found,
        snapshot,
        filters,
    })
}

/// A page of the attempts list: newest first, keyset-paginated by an opaque cursor, with the
/// totals of the whole view.
pub async fn attempt_list(
    store: &Store,
    scans: &RawScans,
    rollups: &Arc<RollupCache>,
    parsed: ParsedFilters,
    now: DateTime<Utc>,
    snapshot: SnapshotStatus,
) -> Result<AttemptList, StoreError> {
    let mut notices = parsed.notices;
    let filters = parsed.filters;
    let (start, end) = filters.range.bounds(now);
    let after = match filters.page.as_deref().map(|page| decode_cursor(filters.order, page)) {
        Some(None) => {
            notices.push("page is not a page of this list; showing the newest attempts".to_string());
            None
        }
        Some(cursor) => cursor,
        None => None,
    };
    let listed = scope(&filters, start, end);
    let index = rollups.get(store).await?;
    let matching = totals(store, scans, &index, &listed).await?;
    let mut attempts = store::list_attempts(store, &listed, filters.order, after, ATTEMPTS_PER_PAGE + 1).await?;
    let next_page = if attempts.len() > ATTEMPTS_PER_PAGE as usize {
        attempts.truncate(ATTEMPTS_PER_PAGE as usize);
        attempts.last().map(|a| encode_cursor(filters.order, a))
    } else {
        None
    };
    Ok(AttemptList { filters, notices, matching, attempts, next_page, snapshot })
}

/// One attempt and its verification's attempts; `None` when the snapshot has no such SID.
pub async fn attempt_detail(
    store: &Store,
    sid: &str,
    snapshot: SnapshotStatus,
) -> Result<Option<AttemptDetail>, StoreError> {
    let Some(attempt) = store::find_attempt(store, sid).await? else {
        return Ok(None);
    };
    let verification = store::verification_attempts(store, &attempt.verification_sid).await?;
    Ok(Some(AttemptDetail { attempt, verification, snapshot }))
}

/// The list's cursor after `last`: its time and SID, and its price when the list is by price.
fn encode_cursor(order: ListOrder, last: &AttemptRow) -> String {
    let key = format!("{}|{}", last.date_created, last.sid);
    match order {
        ListOrder::Newest => URL_SAFE_NO_PAD.encode(key),
        ListOrder::Price => {
            URL_SAFE_NO_PAD.encode(format!("{}|{key}", last.price.map(|p| p.to_string()).unwrap_or_default()))
        }
    }
}

fn decode_cursor(order: ListOrder, cursor: &str) -> Option<store::ListCursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (price, key) = match order {
        ListOrder::Newest => (None, text.as_str()),
        ListOrder::Price => {
            let (price, key) = text.split_once('|')?;
            let price = match price {
                "" => None,
                price => Some(price.parse::<f64>().ok().filter(|p| p.is_finite())?),
            };
            (price, key)
        }
    };
    let (date, sid) = key.split_once('|')?;
    // The time goes into SQL as text: in Twilio's form, in the years a view can show.
    let time = twilio_time::parse(date).filter(|t| ViewDate::try_from(t.date_naive()).is_ok())?;
    crate::model::is_sid(sid, "VL").then(|| store::ListCursor {
        price,
        date_created: twilio_time::format(&time),
        sid: sid.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(date_created: &str, sid: &str, price: Option<f64>) -> AttemptRow {
        AttemptRow { date_created: date_created.into(), sid: sid.into(), price, ..AttemptRow::default() }
    }

    fn cursor(price: Option<f64>, date_created: &str, sid: &str) -> store::ListCursor {
        store::ListCursor { price, date_created: date_created.into(), sid: sid.into() }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let sid = "VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let newest =
            |date: &str| decode_cursor(ListOrder::Newest, &encode_cursor(ListOrder::Newest, &row(date, sid, None)));
        assert_eq!(newest("2026-11-20T10:00:00Z"), Some(cursor(None, "2026-11-20T10:00:00Z", sid)));
        assert_eq!(decode_cursor(ListOrder::Newest, "bm9wZQ"), None);
        assert_eq!(decode_cursor(ListOrder::Newest, "!!"), None);
        assert_eq!(newest("9999-12-31T23:00:00Z"), None);
        assert_eq!(newest("+262142-12-31T00:00:00Z"), None);
        assert_eq!(
            newest("2026-11-20T12:00:00+02:00"),
            Some(cursor(None, "2026-11-20T10:00:00Z", sid)),
            "another form of a time is read in Twilio's"
        );
    }

    #[test]
    fn price_cursors_keep_the_exact_price_or_its_absence() {
        let sid = "VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for price in [Some(0.1 + 0.2), Some(0.0079), Some(0.0), None] {
            let encoded = encode_cursor(ListOrder::Price, &row("2026-11-20T10:00:00Z", sid, price));
            assert_eq!(decode_cursor(ListOrder::Price, &encoded), Some(cursor(price, "2026-11-20T10:00:00Z", sid)));
        }
        let plain = encode_cursor(ListOrder::Newest, &row("2026-11-20T10:00:00Z", sid, Some(1.0)));
        assert_eq!(decode_cursor(ListOrder::Price, &plain), None, "a cursor of the other order");
        let infinite = URL_SAFE_NO_PAD.encode(format!("inf|2026-11-20T10:00:00Z|{sid}"));
        assert_eq!(decode_cursor(ListOrder::Price, &infinite), None);
    }
}
