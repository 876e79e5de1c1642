//! What the server sends the pages: plain data, shared by server and browser.

use serde::{Deserialize, Serialize};

use crate::filters::Filters;

/// An amount in one currency (ISO code, upper case).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub currency: String,
    pub amount: f64,
}

/// The metrics of a set of attempts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub attempts: u64,
    pub converted: u64,
    /// Distinct verifications, and those with a converted attempt.
    pub verifications: u64,
    pub converted_verifications: u64,
    /// Messages delivered or read, and messages with a final status.
    pub delivered: u64,
    pub finalized: u64,
    /// Channel fees per currency: the attempts' prices, which leave out Verify's fee per
    /// successful verification. Never added across currencies.
    pub spend: Vec<Money>,
    /// The configured fee per successful verification times the converted verifications,
    /// per currency.
    pub verification_fees: Vec<Money>,
    /// Attempts without a price yet (Twilio prices them up to 24 hours late).
    pub unpriced_attempts: u64,
    /// Spend on attempts that did not convert themselves, those of verifications that
    /// converted on a retry included.
    pub unconverted_attempt_spend: Vec<Money>,
    /// Spend on the attempts of verifications none of whose attempts converted: what bought
    /// nothing. Only the overview's totals carry it.
    pub unconverted_verification_spend: Vec<Money>,
    /// Wilson 95% interval of the attempt conversion rate, in percent.
    pub rate_interval: Option<(f64, f64)>,
}

impl Metrics {
    /// Converted over attempts, in percent; `None` when there are no attempts.
    pub fn rate_percent(&self) -> Option<f64> {
        percent(self.converted, self.attempts)
    }

    pub fn verification_rate_percent(&self) -> Option<f64> {
        percent(self.converted_verifications, self.verifications)
    }

    pub fn delivery_rate_percent(&self) -> Option<f64> {
        percent(self.delivered, self.finalized)
    }

    pub fn attempts_per_verification(&self) -> Option<f64> {
        (self.verifications > 0).then(|| self.attempts as f64 / self.verifications as f64)
    }

    /// The currency the view spent most in: the one its money tiles' changes and trends read,
    /// and "What to do" ranks by.
    pub fn main_currency(&self) -> String {
        self.spend.iter().max_by(|a, b| a.amount.total_cmp(&b.amount)).map(|m| m.currency.clone()).unwrap_or_default()
    }

    /// Channel fees plus verification fees, per currency.
    pub fn total_cost(&self) -> Vec<Money> {
        let mut total = self.spend.clone();
        for fee in &self.verification_fees {
            match total.iter_mut().find(|m| m.currency == fee.currency) {
                Some(m) => m.amount += fee.amount,
                None => total.push(fee.clone()),
            }
        }
        total
    }

    /// All fees over converted verifications, per currency.
    pub fn cost_per_conversion(&self) -> Vec<Money> {
        if self.converted_verifications == 0 {
            return Vec::new();
        }
        self.total_cost()
            .iter()
            .map(|m| Money { currency: m.currency.clone(), amount: m.amount / self.converted_verifications as f64 })
            .collect()
    }

    /// The share of attempts without a price yet, in percent.
    pub fn unpriced_percent(&self) -> Option<f64> {
        percent(self.unpriced_attempts, self.attempts)
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// How the conversion rate moved against the previous period, over like windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub windows: ComparedWindows,
    /// The compared part of the current period, and the same part of the previous one.
    pub current: Metrics,
    pub previous: Metrics,
    /// Percentage points of the attempt conversion rate, current less previous.
    pub rate_points: Option<f64>,
    /// Percentage points of the verification conversion rate, current less previous.
    pub verification_rate_points: Option<f64>,
    /// Two-proportion z-test on verifications (converted over all), two-sided.
    pub p_value: Option<f64>,
    /// `p_value` adjusted by Benjamini–Hochberg across the `tests` the view runs.
    pub adjusted_p_value: Option<f64>,
    pub tests: usize,
    /// A discovery at the false discovery rate of 5%.
    pub significant: bool,
}

/// The windows a comparison covers, ISO 8601 UTC, each `[start, end)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedWindows {
    pub current_start: String,
    pub current_end: String,
    pub previous_start: String,
    pub previous_end: String,
    /// Hours or days still in progress were left out of the current period, and the same
    /// elapsed time of the previous one is compared; otherwise both periods are whole.
    pub same_elapsed: bool,
    /// Whether the windows are counted in hours (else days).
    pub hourly: bool,
    /// What the period is compared with.
    pub compare: crate::filters::Compare,
    /// The snapshot covers only part of the compared period: both windows start as far into
    /// their periods as it reaches.
    pub partly_covered: bool,
}

/// A view's totals in one settled bucket of its chart: a point of the KPIs' trend lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// The bucket's key, as `Bucket::key`.
    pub bucket: String,
    pub metrics: Metrics,
}

/// One bucket of the time series: a day, or an hour for short ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// `2026-11-20`, or `2026-11-20T14`.
    pub key: String,
    /// Not over, or over so recently that conversions of its attempts are still arriving.
    pub in_progress: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// The value of the dimension, as the URL carries it (`CO`, `sms`, `30008`, `2026-11-20`).
    pub key: String,
    pub metrics: Metrics,
}

/// Attempts and conversions of one channel on one day (or hour, for short ranges).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub bucket: String,
    pub channel: String,
    pub attempts: u64,
    pub converted: u64,
}

/// A note on the timeline: a moment or a span, its text, an optional link, and who added it
/// (`page`, `api` or `incident`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: i64,
    /// ISO 8601 UTC.
    pub at: String,
    pub end: Option<String>,
    pub text: String,
    pub link: Option<String>,
    pub source: String,
    /// `at` as the chart's buckets are keyed: in the reporting zone for days, weeks and
    /// months, UTC for hours; set by the server, which knows the zone.
    #[serde(default)]
    pub chart_at: String,
}

#[cfg(test)]
impl Annotation {
    /// An annotation added on the page at `at`, as the charts' tests place it.
    pub fn on_page(at: &str, text: &str) -> Annotation {
        Annotation {
            id: 1,
            at: at.into(),
            end: None,
            text: text.into(),
            link: None,
            source: "page".into(),
            chart_at: String::new(),
        }
    }
}

/// The overview page's data for one view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub filters: Filters,
    pub notices: Vec<String>,
    /// `[start, end)` of the range, ISO 8601 UTC.
    pub start: String,
    pub end: String,
    /// The range in words, in the reporting zone: `2026-10-27 to 2026-11-25 (Europe/Madrid)`.
    #[serde(default)]
    pub range_text: String,
    /// This view with its range as fixed dates, for links that must show the same data later.
    pub permalink: String,
    pub totals: Metrics,
    /// Which fee per successful verification applies, and where it came from.
    pub verification_fee: String,
    /// What the server renders `what_to_do_html` and `funnel_html` from. Not sent: the page
    /// shows the HTML, and scripts read `/what-to-do.csv` and `/funnel.csv` (4 KB of the
    /// page's weight, compressed).
    #[serde(skip)]
    pub what_to_do: WhatToDo,
    #[serde(skip)]
    pub funnel: RetryFunnel,
    pub what_to_do_html: String,
    pub funnel_html: String,
    /// The time chart as the server draws it (SVG), shown until ECharts draws it. Only in
    /// the page's HTML: the browser has the chart's data, and draws it with ECharts.
    #[serde(skip_serializing, default)]
    pub timeseries_svg: String,
    /// The rate chart as the server draws it, likewise.
    #[serde(skip_serializing, default)]
    pub rate_svg: String,
    /// The world map's ECharts options (JSON), made on the server for the browser to draw.
    #[serde(default)]
    pub map_options: String,
    /// The annotations the range covers, oldest first.
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    pub change: Option<Change>,
    /// Why there is no comparison, when one was asked for.
    pub comparison_note: Option<String>,
    pub rows: Vec<BreakdownRow>,
    /// Every bucket of the range up to the snapshot's end, empty ones included.
    pub buckets: Vec<Bucket>,
    pub bucket_size: crate::buckets::BucketSize,
    pub series: Vec<SeriesPoint>,
    /// The view's totals per settled bucket, oldest first.
    pub trend: Vec<Period>,
    /// The previous period's points on the current period's buckets, matched by offset
    /// from the period's start.
    pub previous_series: Vec<SeriesPoint>,
    pub anomalies: Vec<Anomaly>,
    pub snapshot: SnapshotStatus,
}

/// Something worth a look, with the view that shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// `sms-pumping`, `carrier-outage` or `conversion-drop`.
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub href: String,
    /// What the view found that this explains: a conversion drop caused by a burst.
    pub related: Option<String>,
}

/// One channel's figures in one market, as the channel decision compares them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelFigures {
    pub channel: String,
    /// Verifications with an attempt on the channel, and those converted on it.
    pub verifications: u64,
    pub converted_verifications: u64,
    /// Wilson 95% interval of the verification conversion rate, in percent.
    pub interval: Option<(f64, f64)>,
    pub delivery_rate: Option<f64>,
    /// Channel fees + verification fees, and that over converted verifications, in the
    /// comparison's currency.
    pub total_cost: f64,
    pub cost_per_success: Option<f64>,
}

impl ChannelFigures {
    pub fn rate_percent(&self) -> Option<f64> {
        percent(self.converted_verifications, self.verifications)
    }

    /// Total cost over verifications: what one verification sent this way costs on average.
    pub fn cost_per_verification(&self) -> Option<f64> {
        (self.verifications > 0).then(|| self.total_cost / self.verifications as f64)
    }
}

/// A channel that converts significantly better than another in one market (and costs no
/// more per success), or costs clearly less at equal conversion: what moving the other's
/// traffic would have done over the view's range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecommendation {
    pub country: String,
    pub currency: String,
    pub better: ChannelFigures,
    pub worse: ChannelFigures,
    /// Two-proportion test of the verification conversion rates, two-sided, and adjusted
    /// (Benjamini–Hochberg) across every comparison the view made.
    pub p_value: f64,
    pub adjusted_p_value: f64,
    /// `worse.verifications × (better rate − worse rate)`.
    pub gained_verifications: f64,
    /// `worse.total_cost − worse.verifications × better.cost_per_verification`; negative when
    /// the move would have cost more.
    pub saved: f64,
    pub summary: String,
    /// The estimate's arithmetic and assumptions, a line each.
    pub arithmetic: Vec<String>,
    /// The view of its evidence: the market by channel over the same range.
    pub href: String,
}

/// What one SMS-pumping burst cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FraudCost {
    pub country: String,
    /// `[start, end)`, ISO 8601 UTC.
    pub start: String,
    pub end: String,
    /// Unconverted SMS to the country in the burst's hours, and their channel fees.
    pub attempts: u64,
    pub channel_fees: Vec<Money>,
    /// Per UTC day: the day, attempts, channel fees.
    pub days: Vec<(String, u64, Vec<Money>)>,
    /// Destination prefixes the burst's numbers share, with their attempts, most first.
    pub prefixes: Vec<(String, u64)>,
    pub href: String,
}

/// Attempts Twilio blocked as fraud (Fraud Guard, SMS Pumping Protection, Geo Permissions):
/// fraud that cost nothing, whose rise is news.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockedTraffic {
    pub attempts: u64,
    /// When the view compares: blocked attempts in the compared part of this period, and in
    /// the same part of the previous one.
    pub compared: Option<(u64, u64)>,
    /// Per error code, most first.
    pub by_code: Vec<(String, u64)>,
    pub href: String,
}

/// The overview's "What to do": channel moves and fraud costs, ranked by money at stake.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WhatToDo {
    pub recommendations: Vec<ChannelRecommendation>,
    pub fraud: Vec<FraudCost>,
    pub blocked: BlockedTraffic,
    /// Why the channel decision found nothing, or could not look.
    pub note: Option<String>,
}

/// One step of the retry funnel: the verifications that reached an attempt number, and
/// those whose first converted attempt it was.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// `1st`, `2nd`, `3rd or later`.
    pub label: String,
    pub reached: u64,
    pub converted: u64,
}

/// A path of channels verifications took (`sms>whatsapp`), and how many converted at its end.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunnelPath {
    pub path: String,
    pub verifications: u64,
    pub converted: u64,
}

/// How the view's verifications retried: each counted once, at its first attempt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RetryFunnel {
    pub verifications: u64,
    pub converted: u64,
    pub steps: Vec<FunnelStep>,
    /// Verifications with a second attempt.
    pub retried: u64,
    /// Most verifications first.
    pub paths: Vec<FunnelPath>,
    /// Per time bucket (`TIME_BUCKET_LABELS`): gaps between consecutive attempts, and times
    /// from a verification's first attempt to its conversion.
    pub gaps: Vec<u64>,
    pub to_conversion: Vec<u64>,
    /// Why the view has no funnel, when it has none.
    pub note: Option<String>,
}

/// The end of a path of channels cut after its third step.
pub const PATH_MORE: &str = "+";

/// The funnel's time buckets, in order.
pub const TIME_BUCKET_LABELS: [&str; 6] =
    ["under 30 s", "30 s–1 min", "1–2 min", "2–5 min", "5–15 min", "15 min or more"];

impl RetryFunnel {
    /// Verifications with a second attempt, in percent of all.
    pub fn retried_percent(&self) -> Option<f64> {
        percent(self.retried, self.verifications)
    }
}

/// How fresh the snapshot is, and where it comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotStatus {
    /// End of the last complete sync window, ISO 8601 UTC.
    pub as_of: Option<String>,
    /// The data comes from the built-in emulator.
    pub demo: bool,
    pub syncing: bool,
    /// Attempts read so far, and expected, while a sync runs.
    pub sync_attempts: u64,
    pub sync_expected: Option<u64>,
    pub last_error: Option<String>,
    /// The names of the Verify services and accounts.
    pub names: crate::model::FriendlyNames,
    /// The accounts whose attempts the snapshot holds: with more than one, pages break
    /// down and filter by account.
    pub accounts: Vec<String>,
}

/// What "Refresh from Twilio" found: the attempt's fields that changed since the snapshot
/// (now written into it), or why Twilio could not tell.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttemptRefresh {
    pub changes: Vec<FieldChange>,
    pub problem: Option<String>,
}

/// One field of an attempt, as the snapshot had it and as Twilio has it now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// One attempt as the pages show it (the phone number already masked if needed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttemptRow {
    pub sid: String,
    pub verification_sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub date_created: String,
    pub date_updated: String,
    pub conversion_status: String,
    pub channel: String,
    pub to: Option<String>,
    pub country: Option<String>,
    pub carrier: Option<String>,
    pub message_status: Option<String>,
    pub call_status: Option<String>,
    pub error_code: Option<String>,
    pub price: Option<f64>,
    pub price_unit: Option<String>,
}

/// A page of the attempts list, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptList {
    pub filters: Filters,
    pub notices: Vec<String>,
    /// The totals of every attempt of the view, not only this page's.
    pub matching: Metrics,
    pub attempts: Vec<AttemptRow>,
    /// The cursor of the next (older) page.
    pub next_page: Option<String>,
    pub snapshot: SnapshotStatus,
}

/// One attempt with the other attempts of its verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptDetail {
    pub attempt: AttemptRow,
    pub verification: Vec<AttemptRow>,
    pub snapshot: SnapshotStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::format_percent;

    #[test]
    fn metrics_derive_rates() {
        let m =
            Metrics { attempts: 4, converted: 1, verifications: 2, converted_verifications: 1, ..Metrics::default() };
        assert_eq!(m.rate_percent(), Some(25.0));
        assert_eq!(m.verification_rate_percent(), Some(50.0));
        assert_eq!(m.attempts_per_verification(), Some(2.0));
        assert_eq!(Metrics::default().delivery_rate_percent(), None);
        assert_eq!(format_percent(Some(81.25)), "81.3%");
        assert_eq!(format_percent(Some(13.0 * 100.0 / 16.0)), "81.3%");
        assert_eq!(format_percent(Some(81.24)), "81.2%");
        assert_eq!(format_percent(None), "–");
    }
}
