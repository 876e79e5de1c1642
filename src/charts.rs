//! Pure chart builders: dashboard data in, ECharts options out.

use std::collections::BTreeMap;

use charming::Chart;
use charming::component::{Axis, Grid, Legend, Title};
use charming::datatype::{DataPoint, DataPointItem};
use charming::element::{
    AxisType, Color, ItemStyle, Label, LabelPosition, LineStyle, LineStyleType, MarkLine, MarkLineData,
    MarkLineVariant, Symbol, Tooltip, Trigger,
};
use charming::series::{Bar, Candlestick, Line};

use crate::format::{format_count, format_percent};
use crate::model::channel_label;
use crate::page_data::{BreakdownRow, Bucket, SeriesPoint};

/// Okabe–Ito: distinguishable with every common kind of colour blindness.
pub const PALETTE: [&str; 6] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Converted over attempts per bucket, in percent; `None` where a bucket had no attempts.
fn rates_by_bucket(buckets: &[Bucket], points: &[SeriesPoint]) -> Vec<Option<f64>> {
    let mut by_bucket: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for p in points {
        let e = by_bucket.entry(p.bucket.as_str()).or_default();
        e.0 += p.attempts;
        e.1 += p.converted;
    }
    buckets
        .iter()
        .map(|b| match by_bucket.get(b.key.as_str()) {
            Some((n, k)) if *n > 0 => Some(round1(*k as f64 * 100.0 / *n as f64)),
            _ => None,
        })
        .collect()
}

/// Attempts per channel (stacked bars) and the conversion rate (line) on every bucket, empty
/// ones included, with the previous period's rate as a faint line on the bucket at the same
/// offset. Buckets in progress are faded, their rates hollow, and a line marks where they start.
pub fn attempts_and_conversion(buckets: &[Bucket], current: &[SeriesPoint], previous: &[SeriesPoint]) -> Chart {
    let channels: Vec<String> =
        current.iter().map(|p| p.channel.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut cells: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for p in current {
        cells.insert((p.bucket.as_str(), p.channel.as_str()), p.attempts);
    }
    let labels: Vec<String> = buckets.iter().map(|b| short_bucket(&b.key)).collect();
    let mut chart = Chart::new()
        .animation(false)
        .color(PALETTE.iter().map(|c| Color::from(*c)).collect())
        .title(Title::new().text("Attempts and conversion rate"))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().top("24"))
        .grid(Grid::new().left("48").right("48").top("64").bottom("32"))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels.clone()))
        .y_axis(Axis::new().type_(AxisType::Value).name("attempts"))
        .y_axis(Axis::new().type_(AxisType::Value).name("conversion %").max(100));
    for channel in &channels {
        let data: Vec<DataPoint> = buckets
            .iter()
            .map(|b| {
                let attempts = cells.get(&(b.key.as_str(), channel.as_str())).map_or(0, |n| *n as i64);
                if b.in_progress {
                    DataPointItem::new(attempts).item_style(ItemStyle::new().opacity(0.45)).into()
                } else {
                    DataPoint::from(attempts)
                }
            })
            .collect();
        chart = chart.series(Bar::new().name(channel_label(channel)).stack("attempts").data(data));
    }
    let current_rates: Vec<DataPoint> = buckets
        .iter()
        .zip(rates_by_bucket(buckets, current))
        .map(|(b, rate)| {
            if b.in_progress {
                DataPointItem::new(rate)
                    .item_style(ItemStyle::new().color("#ffffff").border_color("#1d2330").border_width(2))
                    .into()
            } else {
                DataPoint::from(rate)
            }
        })
        .collect();
    let mut rate_line = Line::new()
        .name("conversion %")
        .y_axis_index(1)
        .symbol(Symbol::Circle)
        .item_style(ItemStyle::new().color("#1d2330"))
        .line_style(LineStyle::new().color("#1d2330").width(2))
        .data(current_rates);
    if let Some(first) = buckets.iter().position(|b| b.in_progress) {
        rate_line = rate_line.mark_line(
            MarkLine::new()
                .silent(true)
                .symbol(vec![Symbol::None, Symbol::None])
                .line_style(LineStyle::new().color("#9aa3b2").type_(LineStyleType::Dashed))
                .label(Label::new().formatter("in progress").position(LabelPosition::InsideEndTop))
                .data(vec![MarkLineVariant::Simple(MarkLineData::new().x_axis(labels[first].as_str()))]),
        );
    }
    chart = chart.series(rate_line);
    if !previous.is_empty() {
        chart = chart.series(
            Line::new()
                .name("previous period %")
                .y_axis_index(1)
                .symbol(Symbol::None)
                .item_style(ItemStyle::new().color("#9aa3b2"))
                .line_style(LineStyle::new().color("#9aa3b2").width(1).opacity(0.7))
                .data(rates_by_bucket(buckets, previous)),
        );
    }
    chart
}

/// `2026-11-20` → `11-20`; `2026-11-20T14` → `20 14h`.
fn short_bucket(bucket: &str) -> String {
    match bucket.split_once('T') {
        Some((day, hour)) => format!("{} {hour}h", &day[8..]),
        None => bucket.get(5..).unwrap_or(bucket).to_string(),
    }
}

/// What a country's bar and whisker say, in words: `CO: 67.3% of attempts converted (95%
/// interval 65.1–69.4%), 4,210 attempts`.
fn country_tooltip(row: &BreakdownRow) -> String {
    let m = &row.metrics;
    let country = if row.key.is_empty() { "unknown country" } else { row.key.as_str() };
    let interval =
        m.rate_interval.map(|(low, high)| format!(" (95% interval {low:.1}–{high:.1}%)")).unwrap_or_default();
    format!(
        "{country}: {} of attempts converted{interval}, {} attempts",
        format_percent(m.rate_percent()),
        format_count(m.attempts)
    )
}

/// Conversion rate per country with its 95% interval as whiskers, in the given order. Both
/// carry the country's sentence as their name, which the tooltip shows alone: ECharts' own
/// candlestick tooltip would say open, close, lowest and highest.
pub fn conversion_by_country(rows: &[BreakdownRow]) -> Chart {
    let countries: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let rates: Vec<f64> = rows.iter().map(|r| round1(r.metrics.rate_percent().unwrap_or(0.0))).collect();
    let bars: Vec<DataPoint> =
        rows.iter().zip(&rates).map(|(r, rate)| DataPointItem::new(*rate).name(country_tooltip(r)).into()).collect();
    // Candlesticks with open = close = the rate draw the interval as a whisker.
    let whiskers: Vec<DataPoint> = rows
        .iter()
        .zip(&rates)
        .map(|(r, rate)| {
            let (low, high) = r.metrics.rate_interval.unwrap_or((*rate, *rate));
            DataPoint::from(
                DataPointItem::new(vec![*rate, *rate, round1(low), round1(high)])
                    .name(country_tooltip(r))
                    .item_style(ItemStyle::new().color("#1d2330").border_color("#1d2330")),
            )
        })
        .collect();
    Chart::new()
        .animation(false)
        .color(vec![Color::from(PALETTE[0])])
        .title(Title::new().text("Attempt conversion rate by country (95% interval)"))
        .tooltip(Tooltip::new().trigger(Trigger::Item).formatter("{b}"))
        .grid(Grid::new().left("40").right("16").bottom("32"))
        .x_axis(Axis::new().type_(AxisType::Category).data(countries))
        .y_axis(Axis::new().type_(AxisType::Value).max(100))
        .series(Bar::new().name("conversion %").data(bars))
        .series(Candlestick::new().name("95% interval").data(whiskers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page_data::Metrics;

    fn row(key: &str, attempts: u64, converted: u64, ci: (f64, f64)) -> BreakdownRow {
        BreakdownRow {
            key: key.into(),
            metrics: Metrics { attempts, converted, rate_interval: Some(ci), ..Metrics::default() },
        }
    }

    #[test]
    fn country_bars_and_whiskers_follow_the_rows() {
        let rows = vec![row("US", 8, 6, (40.9, 92.9)), row("CO", 3, 1, (6.1, 79.2))];
        let json = serde_json::to_value(conversion_by_country(&rows)).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["US", "CO"]));
        assert_eq!(json["series"][0]["data"][0]["value"], 75.0);
        assert_eq!(json["series"][0]["data"][1]["value"], 33.3);
        assert_eq!(json["series"][1]["type"], "candlestick");
        assert_eq!(json["series"][1]["data"][0]["value"], serde_json::json!([75.0, 75.0, 40.9, 92.9]));
        assert_eq!(json["series"][1]["data"][1]["value"], serde_json::json!([33.3, 33.3, 6.1, 79.2]));
    }

    #[test]
    fn the_country_tooltip_says_the_rate_and_its_interval_in_words() {
        let rows = vec![row("CO", 4210, 2833, (65.1, 69.4)), row("", 5, 0, (0.0, 43.4))];
        let json = serde_json::to_value(conversion_by_country(&rows)).unwrap();
        assert_eq!(json["tooltip"]["trigger"], "item");
        assert_eq!(json["tooltip"]["formatter"], "{b}", "the sentence alone, none of ECharts' candlestick labels");
        let said = "CO: 67.3% of attempts converted (95% interval 65.1–69.4%), 4,210 attempts";
        assert_eq!(json["series"][0]["data"][0]["name"], said);
        assert_eq!(json["series"][1]["data"][0]["name"], said, "the whisker says the same");
        let unknown = "unknown country: 0.0% of attempts converted (95% interval 0.0–43.4%), 5 attempts";
        assert_eq!(json["series"][0]["data"][1]["name"], unknown);
    }

    #[test]
    fn series_stack_channels_and_overlay_the_previous_rate_by_offset() {
        let point = |bucket: &str, channel: &str, attempts, converted| SeriesPoint {
            bucket: bucket.into(),
            channel: channel.into(),
            attempts,
            converted,
        };
        let bucket = |key: &str, in_progress| Bucket { key: key.into(), in_progress };
        let buckets = vec![
            bucket("2026-11-20", false),
            bucket("2026-11-21", false),
            bucket("2026-11-22", false),
            bucket("2026-11-23", true),
        ];
        // Nothing on the 21st; the previous period had nothing on its first day.
        let current = vec![
            point("2026-11-20", "sms", 10, 5),
            point("2026-11-20", "call", 10, 10),
            point("2026-11-22", "sms", 4, 1),
            point("2026-11-23", "sms", 5, 1),
        ];
        let previous = vec![point("2026-11-21", "sms", 10, 9), point("2026-11-22", "sms", 10, 8)];
        let json = serde_json::to_value(attempts_and_conversion(&buckets, &current, &previous)).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["11-20", "11-21", "11-22", "11-23"]));
        let series = json["series"].as_array().unwrap();
        assert_eq!(series[0]["name"], "Call", "channels by their label");
        assert_eq!(series[0]["data"], serde_json::json!([10, 0, 0, {"value": 0, "itemStyle": {"opacity": 0.45}}]));
        assert_eq!(series[1]["data"].as_array().unwrap()[..3], [10, 0, 4]);
        assert_eq!(series[1]["data"][3]["value"], 5);
        assert_eq!(series[2]["name"], "conversion %");
        assert_eq!(
            series[2]["data"].as_array().unwrap()[..3],
            [serde_json::json!(75.0), serde_json::Value::Null, serde_json::json!(25.0)]
        );
        assert_eq!(series[2]["data"][3]["value"], 20.0);
        assert_eq!(series[2]["data"][3]["itemStyle"]["color"], "#ffffff");
        assert_eq!(series[2]["markLine"]["data"][0]["xAxis"], "11-23");
        assert_eq!(series[2]["markLine"]["label"]["formatter"], "in progress");
        assert_eq!(series[3]["name"], "previous period %");
        assert_eq!(series[3]["data"], serde_json::json!([null, 90.0, 80.0, null]));
    }

    #[test]
    fn a_view_without_buckets_in_progress_has_no_marker() {
        let buckets = vec![Bucket { key: "2026-11-20T10".into(), in_progress: false }];
        let current =
            vec![SeriesPoint { bucket: "2026-11-20T10".into(), channel: "sms".into(), attempts: 2, converted: 1 }];
        let json = serde_json::to_value(attempts_and_conversion(&buckets, &current, &[])).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["20 10h"]));
        assert!(json["series"][1].get("markLine").is_none());
        assert_eq!(json["series"].as_array().unwrap().len(), 2);
    }
}
