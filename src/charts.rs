//! Pure chart builders: dashboard data in, ECharts options out.

use std::collections::BTreeMap;

use charming::Chart;
use charming::component::{Axis, Grid, Legend, Title};
use charming::datatype::{DataPoint, DataPointItem};
use charming::element::{AxisType, Color, ItemStyle, LineStyle, Symbol, Tooltip, Trigger};
use charming::series::{Bar, Candlestick, Line};

use crate::report::{BreakdownRow, SeriesPoint};

/// Okabe–Ito: distinguishable with every common kind of colour blindness.
pub const PALETTE: [&str; 6] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Attempts per channel (stacked bars) and the conversion rate (line) per bucket,
/// with the previous period's rate as a faint line.
pub fn attempts_and_conversion(current: &[SeriesPoint], previous: &[SeriesPoint]) -> Chart {
    let buckets: Vec<String> =
        current.iter().map(|p| p.bucket.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let channels: Vec<String> =
        current.iter().map(|p| p.channel.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut cells: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for p in current {
        cells.insert((p.bucket.as_str(), p.channel.as_str()), p.attempts);
    }
    let rates = |points: &[SeriesPoint]| -> Vec<Option<f64>> {
        let mut by_bucket: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for p in points {
            let e = by_bucket.entry(p.bucket.as_str()).or_default();
            e.0 += p.attempts;
            e.1 += p.converted;
        }
        by_bucket.values().map(|(n, k)| (*n > 0).then(|| round1(*k as f64 * 100.0 / *n as f64))).collect()
    };
    let mut chart = Chart::new()
        .animation(false)
        .color(PALETTE.iter().map(|c| Color::from(*c)).collect())
        .title(Title::new().text("Attempts and conversion rate"))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().top("24"))
        .grid(Grid::new().left("48").right("48").top("64").bottom("32"))
        .x_axis(Axis::new().type_(AxisType::Category).data(buckets.iter().map(|b| short_bucket(b)).collect()))
        .y_axis(Axis::new().type_(AxisType::Value).name("attempts"))
        .y_axis(Axis::new().type_(AxisType::Value).name("conversion %").max(100));
    for channel in &channels {
        let data: Vec<i64> =
            buckets.iter().map(|b| cells.get(&(b.as_str(), channel.as_str())).map_or(0, |n| *n as i64)).collect();
        chart = chart.series(Bar::new().name(channel.as_str()).stack("attempts").data(data));
    }
    let current_rates: Vec<f64> = rates(current).into_iter().map(|r| r.unwrap_or(0.0)).collect();
    chart = chart.series(
        Line::new()
            .name("conversion %")
            .y_axis_index(1)
            .symbol(Symbol::Circle)
            .item_style(ItemStyle::new().color("#1d2330"))
            .line_style(LineStyle::new().color("#1d2330").width(2))
            .data(current_rates),
    );
    if !previous.is_empty() {
        let previous_rates: Vec<f64> = rates(previous).into_iter().map(|r| r.unwrap_or(0.0)).collect();
        chart = chart.series(
            Line::new()
                .name("previous period %")
                .y_axis_index(1)
                .symbol(Symbol::None)
                .item_style(ItemStyle::new().color("#9aa3b2"))
                .line_style(LineStyle::new().color("#9aa3b2").width(1).opacity(0.7))
                .data(previous_rates),
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

/// Conversion rate per country with its 95% interval as whiskers, in the given order.
pub fn conversion_by_country(rows: &[BreakdownRow]) -> Chart {
    let countries: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let rates: Vec<f64> = rows.iter().map(|r| round1(r.metrics.rate_percent().unwrap_or(0.0))).collect();
    // Candlesticks with open = close = the rate draw the interval as a whisker.
    let whiskers: Vec<DataPoint> = rows
        .iter()
        .zip(&rates)
        .map(|(r, rate)| {
            let (low, high) = r.metrics.rate_interval.unwrap_or((*rate, *rate));
            DataPoint::from(
                DataPointItem::new(vec![*rate, *rate, round1(low), round1(high)])
                    .item_style(ItemStyle::new().color("#1d2330").border_color("#1d2330")),
            )
        })
        .collect();
    Chart::new()
        .animation(false)
        .color(vec![Color::from(PALETTE[0])])
        .title(Title::new().text("Conversion rate by country (95% interval)"))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left("40").right("16").bottom("32"))
        .x_axis(Axis::new().type_(AxisType::Category).data(countries))
        .y_axis(Axis::new().type_(AxisType::Value).max(100))
        .series(Bar::new().name("conversion %").data(rates))
        .series(Candlestick::new().name("95% interval").data(whiskers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Metrics;

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
        assert_eq!(json["series"][0]["data"], serde_json::json!([75.0, 33.3]));
        assert_eq!(json["series"][1]["type"], "candlestick");
        assert_eq!(json["series"][1]["data"][0]["value"], serde_json::json!([75.0, 75.0, 40.9, 92.9]));
        assert_eq!(json["series"][1]["data"][1]["value"], serde_json::json!([33.3, 33.3, 6.1, 79.2]));
    }

    #[test]
    fn series_stack_channels_and_overlay_the_previous_rate() {
        let point = |bucket: &str, channel: &str, attempts, converted| SeriesPoint {
            bucket: bucket.into(),
            channel: channel.into(),
            attempts,
            converted,
        };
        let current = vec![
            point("2026-11-20", "sms", 10, 5),
            point("2026-11-20", "call", 10, 10),
            point("2026-11-21", "sms", 4, 1),
        ];
        let previous = vec![point("2026-11-18", "sms", 10, 9), point("2026-11-19", "sms", 10, 8)];
        let json = serde_json::to_value(attempts_and_conversion(&current, &previous)).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["11-20", "11-21"]));
        let series = json["series"].as_array().unwrap();
        assert_eq!(series[0]["name"], "call");
        assert_eq!(series[0]["data"], serde_json::json!([10, 0]));
        assert_eq!(series[1]["data"], serde_json::json!([10, 4]));
        assert_eq!(series[2]["data"], serde_json::json!([75.0, 25.0]));
        assert_eq!(series[3]["data"], serde_json::json!([90.0, 80.0]));
    }
}
