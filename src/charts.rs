//! Pure chart builders: dashboard data in, ECharts options out.

use std::collections::BTreeMap;

use charming::Chart;
use charming::component::{Axis, Grid, Legend, LegendType, Title};
use charming::datatype::{DataPoint, DataPointItem};
use charming::element::{
    AxisType, Color, ItemStyle, Label, LabelPosition, LineStyle, LineStyleType, MarkLine, MarkLineData,
    MarkLineVariant, Symbol, Tooltip, Trigger,
};
use charming::series::{Bar, Candlestick, Line};

use crate::buckets::BucketSize;
use crate::filters::Dimension;
use crate::format::{format_count, format_percent};
use crate::model::{Channel, FriendlyNames, channel_label};
use crate::page_data::{Annotation, BreakdownRow, Bucket, SeriesPoint};

/// Okabe–Ito: distinguishable with every common kind of colour blindness.
pub const PALETTE: [&str; 6] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];

/// A channel's colour on every chart of every view, whichever channels the view holds.
pub fn channel_color(channel: &str) -> &'static str {
    let index = channel.parse::<Channel>().ok().and_then(|c| Channel::ALL.iter().position(|x| *x == c));
    PALETTE[index.unwrap_or(PALETTE.len() - 1)]
}

/// Buckets with fewer attempts have no conversion rate on the charts: a handful of attempts
/// would swing it between 0 and 100%.
pub const MIN_ATTEMPTS_FOR_A_RATE: u64 = 20;

/// Rows of the rate chart at most: the breakdown's first, in its order.
pub const RATE_CHART_ROWS: usize = 20;

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Attempts and converted attempts per bucket, of the points `keep` admits.
fn counts_by_bucket(points: &[SeriesPoint], keep: impl Fn(&SeriesPoint) -> bool) -> BTreeMap<&str, (u64, u64)> {
    let mut by_bucket: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for p in points.iter().filter(|p| keep(p)) {
        let e = by_bucket.entry(p.bucket.as_str()).or_default();
        e.0 += p.attempts;
        e.1 += p.converted;
    }
    by_bucket
}

/// A bucket's conversion rate in percent, or `None` when it has too few attempts to judge.
fn bucket_rate((attempts, converted): (u64, u64)) -> Option<f64> {
    (attempts >= MIN_ATTEMPTS_FOR_A_RATE).then(|| round1(converted as f64 * 100.0 / attempts as f64))
}

/// Converted over attempts per bucket, in percent; `None` where a bucket had too few attempts.
fn rates_by_bucket(buckets: &[Bucket], points: &[SeriesPoint]) -> Vec<Option<f64>> {
    let by_bucket = counts_by_bucket(points, |_| true);
    buckets.iter().map(|b| by_bucket.get(b.key.as_str()).copied().and_then(bucket_rate)).collect()
}

/// The channels of a view's points, in their order on the charts.
fn channels_of(points: &[SeriesPoint]) -> Vec<String> {
    points.iter().map(|p| p.channel.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect()
}

/// Whether any bucket has attempts but too few for a rate.
pub fn has_too_few_to_judge(points: &[SeriesPoint]) -> bool {
    counts_by_bucket(points, |_| true).values().any(|(attempts, _)| (1..MIN_ATTEMPTS_FOR_A_RATE).contains(attempts))
}

/// Attempts per channel (stacked bars, each channel in its own colour) and the conversion
/// rate (line) on every bucket, empty ones included, with the previous period's rate as a
/// faint line on the bucket at the same offset, and a rate line per channel that the legend
/// turns on. Buckets in progress are faded, their rates hollow, and a line marks where they
/// start; buckets with too few attempts have no rate.
pub fn attempts_and_conversion(
    buckets: &[Bucket],
    current: &[SeriesPoint],
    previous: &[SeriesPoint],
    annotations: &[Annotation],
) -> Chart {
    let channels = channels_of(current);
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
        .legend(
            Legend::new()
                .type_(LegendType::Scroll)
                .top("24")
                .selected(channels.iter().map(|c| (channel_rate_name(c), false)).collect::<Vec<_>>()),
        )
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
        chart = chart.series(
            Bar::new()
                .name(channel_label(channel))
                .stack("attempts")
                .item_style(ItemStyle::new().color(channel_color(channel)))
                .data(data),
        );
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
    // Marks: where buckets still in progress begin, and each annotation's bucket, named by its
    // text (the label shows the name as text: `{b}` is ECharts' placeholder for it).
    let mut marks = Vec::new();
    if let Some(first) = buckets.iter().position(|b| b.in_progress) {
        marks.push(MarkLineVariant::Simple(MarkLineData::new().name("in progress").x_axis(labels[first].as_str())));
    }
    for annotation in annotations {
        if let Some(at) = annotation_bucket(buckets, annotation) {
            marks.push(MarkLineVariant::Simple(
                MarkLineData::new().name(annotation.text.as_str()).x_axis(labels[at].as_str()),
            ));
        }
    }
    if !marks.is_empty() {
        rate_line = rate_line.mark_line(
            MarkLine::new()
                .silent(true)
                .symbol(vec![Symbol::None, Symbol::None])
                .line_style(LineStyle::new().color("#9aa3b2").type_(LineStyleType::Dashed))
                .label(Label::new().formatter("{b}").position(LabelPosition::InsideEndTop))
                .data(marks),
        );
    }
    chart = chart.series(rate_line);
    if channels.len() > 1 {
        for channel in &channels {
            let by_bucket = counts_by_bucket(current, |p| p.channel == *channel);
            let rates: Vec<Option<f64>> =
                buckets.iter().map(|b| by_bucket.get(b.key.as_str()).copied().and_then(bucket_rate)).collect();
            chart = chart.series(
                Line::new()
                    .name(channel_rate_name(channel))
                    .y_axis_index(1)
                    .symbol(Symbol::Circle)
                    .item_style(ItemStyle::new().color(channel_color(channel)))
                    .line_style(LineStyle::new().color(channel_color(channel)).width(2).type_(LineStyleType::Dashed))
                    .data(rates),
            );
        }
    }
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

/// The bucket an annotation falls in: the last that starts at or before its time as the
/// buckets are keyed (keys are prefixes of the times they start at, so they order as text),
/// if it is on the chart.
pub fn annotation_bucket(buckets: &[Bucket], annotation: &Annotation) -> Option<usize> {
    let at = if annotation.chart_at.is_empty() { &annotation.at } else { &annotation.chart_at };
    buckets.iter().rposition(|b| b.key.as_str() <= at.as_str())
}

/// The legend's name of a channel's own rate line.
fn channel_rate_name(channel: &str) -> String {
    format!("{} conversion %", channel_label(channel))
}

/// `2026-11-20` → `11-20`; `2026-11-20T14` → `20 14h`; a month, `2026-11`, as it is.
pub fn short_bucket(bucket: &str) -> String {
    match bucket.split_once('T') {
        Some((day, hour)) => format!("{} {hour}h", &day[8..]),
        None if bucket.len() == 7 => bucket.to_string(),
        None => bucket.get(5..).unwrap_or(bucket).to_string(),
    }
}

/// The rows of a breakdown by country that a world map can place (a known country code),
/// in order: their data items and their drill-down targets stay aligned by this.
pub fn mapped_countries(rows: &[BreakdownRow]) -> Vec<&BreakdownRow> {
    rows.iter().filter(|r| crate::model::country_name(&r.key).is_some()).collect()
}

/// Conversion by country on a world map (`mapped_countries`' rows, in order): each country's
/// share of attempts converted, darker where it is higher; a country without attempts in the
/// view stays grey, named by its code. The outlines are named by code (`scripts/world-map.js`);
/// `nameMap` gives the view's countries their labels, "Colombia (CO)", which the data items
/// carry too.
pub fn conversion_map(rows: &[BreakdownRow]) -> serde_json::Value {
    let mapped = mapped_countries(rows);
    let rates: Vec<Option<f64>> = mapped.iter().map(|r| r.metrics.rate_percent().map(round1)).collect();
    let known = rates.iter().flatten().copied();
    let low = known.clone().fold(f64::INFINITY, f64::min);
    let high = known.fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if low.is_finite() { (low.floor(), high.ceil().max(low.floor() + 1.0)) } else { (0.0, 100.0) };
    // Only the view's countries: the page carries these options, and a country without
    // attempts in the view has nothing to say but its code.
    let names: serde_json::Map<String, serde_json::Value> =
        mapped.iter().map(|r| (r.key.clone(), crate::model::country_label(&r.key).into())).collect();
    let data: Vec<serde_json::Value> = mapped
        .iter()
        .zip(&rates)
        .map(|(r, rate)| serde_json::json!({ "name": crate::model::country_label(&r.key), "value": rate }))
        .collect();
    serde_json::json!({
        "tooltip": { "trigger": "item", "formatter": "{b}: {c}% of attempts converted" },
        "visualMap": {
            "type": "continuous", "min": low, "max": high, "text": [format!("{high}%"), format!("{low}%")],
            "orient": "horizontal", "left": "center", "bottom": 0, "calculable": false,
            "inRange": { "color": ["#deebf7", "#08519c"] },
        },
        "series": [{
            "type": "map", "map": "world", "nameMap": names, "roam": false, "top": 10, "bottom": 40,
            "itemStyle": { "areaColor": "#eceff3", "borderColor": "#9aa3b2", "borderWidth": 0.5 },
            "emphasis": { "label": { "show": false }, "itemStyle": { "areaColor": "#f4b400" } },
            "data": data,
        }],
    })
}

/// What a row's bar and whisker say, in words: `CO: 67.3% of attempts converted (95%
/// interval 65.1–69.4%), 4,210 attempts`.
fn rate_tooltip(by: Dimension, row: &BreakdownRow, services: &FriendlyNames) -> String {
    let m = &row.metrics;
    let label = match (by, row.key.as_str()) {
        (Dimension::Country, "") => "unknown country".to_string(),
        (_, key) => by.key_label(key, services),
    };
    let interval =
        m.rate_interval.map(|(low, high)| format!(" (95% interval {low:.1}–{high:.1}%)")).unwrap_or_default();
    format!(
        "{label}: {} of attempts converted{interval}, {} attempts",
        format_percent(m.rate_percent()),
        format_count(m.attempts)
    )
}

/// Whether the overview shows the rate chart: not for days (the time chart shows those), nor
/// for a single row.
pub fn shows_rate_chart(by: Dimension, rows: &[BreakdownRow]) -> bool {
    by != Dimension::Day && rows.len() > 1
}

/// Conversion rate per row of a breakdown by `by` (its first `RATE_CHART_ROWS`), with its 95%
/// interval as whiskers, in the given order. Both carry the row's sentence as their name,
/// which the tooltip shows alone: ECharts' own candlestick tooltip would say open, close,
/// lowest and highest.
pub fn conversion_by(by: Dimension, rows: &[BreakdownRow], services: &FriendlyNames) -> Chart {
    let rows = &rows[..rows.len().min(RATE_CHART_ROWS)];
    // Countries by code on the axis, where fifteen names would not fit; by name in the tooltip.
    let labels: Vec<String> = rows
        .iter()
        .map(|r| match by {
            Dimension::Country if !r.key.is_empty() => r.key.clone(),
            _ => by.key_label(&r.key, services),
        })
        .collect();
    let rates: Vec<f64> = rows.iter().map(|r| round1(r.metrics.rate_percent().unwrap_or(0.0))).collect();
    let bars: Vec<DataPoint> = rows
        .iter()
        .zip(&rates)
        .map(|(r, rate)| DataPointItem::new(*rate).name(rate_tooltip(by, r, services)).into())
        .collect();
    // Candlesticks with open = close = the rate draw the interval as a whisker.
    let whiskers: Vec<DataPoint> = rows
        .iter()
        .zip(&rates)
        .map(|(r, rate)| {
            let (low, high) = r.metrics.rate_interval.unwrap_or((*rate, *rate));
            DataPoint::from(
                DataPointItem::new(vec![*rate, *rate, round1(low), round1(high)])
                    .name(rate_tooltip(by, r, services))
                    .item_style(ItemStyle::new().color("#1d2330").border_color("#1d2330")),
            )
        })
        .collect();
    Chart::new()
        .animation(false)
        .color(vec![Color::from(PALETTE[0])])
        .title(
            Title::new()
                .text(format!("Attempt conversion rate by {}", by.label().to_lowercase()))
                .subtext("with its 95% interval"),
        )
        .tooltip(Tooltip::new().trigger(Trigger::Item).formatter("{b}"))
        .grid(Grid::new().left("40").right("16").bottom("32"))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(Axis::new().type_(AxisType::Value).max(100))
        .series(Bar::new().name("conversion %").data(bars))
        .series(Candlestick::new().name("95% interval").data(whiskers))
}

/// Charts narrower than this (in CSS pixels) take their phone layout.
pub const NARROW_WIDTH: u32 = 520;

/// A chart's options for ECharts, with the layout it takes when narrower than
/// `NARROW_WIDTH` (`narrow`, merged over the chart's own options).
pub fn responsive(chart: &Chart, narrow: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "baseOption": chart,
        "media": [{ "query": { "maxWidth": NARROW_WIDTH }, "option": narrow }],
    })
}

/// On a phone, the time chart's legend goes under it, clear of the axes' names.
pub fn attempts_and_conversion_narrow() -> serde_json::Value {
    serde_json::json!({ "legend": { "top": "auto", "bottom": 0 }, "grid": { "top": 64, "bottom": 64 } })
}

/// On a phone, every bar keeps its label, turned upright, and the plot makes room for them.
pub fn conversion_by_narrow() -> serde_json::Value {
    serde_json::json!({
        "xAxis": { "axisLabel": { "interval": 0, "rotate": 90 } },
        "grid": { "containLabel": true, "bottom": 8 },
    })
}

pub fn rate_chart_title(by: Dimension) -> String {
    format!("Attempt conversion rate by {} (95% interval)", by.label().to_lowercase())
}

/// A chart's data as a table, its text alternative: column names, then rows of cells.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The attempts-and-conversion chart as a table: a bucket a row, attempts per channel, all
/// attempts and the conversion rate (or why there is none).
pub fn attempts_and_conversion_table(buckets: &[Bucket], size: BucketSize, current: &[SeriesPoint]) -> ChartTable {
    let channels = channels_of(current);
    let mut columns = vec!["Period".to_string()];
    columns.extend(channels.iter().map(|c| format!("{} attempts", channel_label(c))));
    columns.extend(["Attempts".to_string(), "Conversion rate".to_string()]);
    let totals = counts_by_bucket(current, |_| true);
    let by_channel: Vec<BTreeMap<&str, (u64, u64)>> =
        channels.iter().map(|c| counts_by_bucket(current, |p| p.channel == *c)).collect();
    let rows = buckets
        .iter()
        .map(|b| {
            let period = size.label(&b.key);
            let mut row = vec![if b.in_progress { format!("{period} (in progress)") } else { period }];
            for counts in &by_channel {
                row.push(format_count(counts.get(b.key.as_str()).map_or(0, |(attempts, _)| *attempts)));
            }
            let counts = totals.get(b.key.as_str()).copied().unwrap_or_default();
            row.push(format_count(counts.0));
            row.push(match (counts.0, bucket_rate(counts)) {
                (0, _) => "no attempts".to_string(),
                (_, None) => "too few to judge".to_string(),
                (_, rate) => format_percent(rate),
            });
            row
        })
        .collect();
    ChartTable { columns, rows }
}

/// The rate chart as a table: a row of the breakdown a line, with its interval and attempts.
pub fn conversion_table(by: Dimension, rows: &[BreakdownRow], services: &FriendlyNames) -> ChartTable {
    let rows = &rows[..rows.len().min(RATE_CHART_ROWS)];
    ChartTable {
        columns: vec![by.label().to_string(), "Conversion rate".into(), "95% interval".into(), "Attempts".into()],
        rows: rows
            .iter()
            .map(|r| {
                let m = &r.metrics;
                vec![
                    by.key_label(&r.key, services),
                    format_percent(m.rate_percent()),
                    m.rate_interval.map(|(l, h)| format!("{l:.1}–{h:.1}%")).unwrap_or_else(|| "–".into()),
                    format_count(m.attempts),
                ]
            })
            .collect(),
    }
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
        let json = serde_json::to_value(conversion_by(Dimension::Country, &rows, &FriendlyNames::default())).unwrap();
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
        let json = serde_json::to_value(conversion_by(Dimension::Country, &rows, &FriendlyNames::default())).unwrap();
        assert_eq!(json["tooltip"]["trigger"], "item");
        assert_eq!(json["tooltip"]["formatter"], "{b}", "the sentence alone, none of ECharts' candlestick labels");
        let said = "Colombia (CO): 67.3% of attempts converted (95% interval 65.1–69.4%), 4,210 attempts";
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
            point("2026-11-20", "sms", 100, 50),
            point("2026-11-20", "call", 100, 100),
            point("2026-11-22", "sms", 40, 10),
            point("2026-11-23", "sms", 50, 10),
        ];
        let previous = vec![point("2026-11-21", "sms", 100, 90), point("2026-11-22", "sms", 100, 80)];
        let json = serde_json::to_value(attempts_and_conversion(&buckets, &current, &previous, &[])).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["11-20", "11-21", "11-22", "11-23"]));
        let series = json["series"].as_array().unwrap();
        assert_eq!(series[0]["name"], "Call", "channels by their label");
        assert_eq!(series[0]["data"], serde_json::json!([100, 0, 0, {"value": 0, "itemStyle": {"opacity": 0.45}}]));
        assert_eq!(series[1]["data"].as_array().unwrap()[..3], [100, 0, 40]);
        assert_eq!(series[1]["data"][3]["value"], 50);
        assert_eq!(series[2]["name"], "conversion %");
        assert_eq!(
            series[2]["data"].as_array().unwrap()[..3],
            [serde_json::json!(75.0), serde_json::Value::Null, serde_json::json!(25.0)]
        );
        assert_eq!(series[2]["data"][3]["value"], 20.0);
        assert_eq!(series[2]["data"][3]["itemStyle"]["color"], "#ffffff");
        assert_eq!(series[2]["markLine"]["data"][0]["xAxis"], "11-23");
        assert_eq!(series[2]["markLine"]["data"][0]["name"], "in progress");
        assert_eq!(series[2]["markLine"]["label"]["formatter"], "{b}", "each mark's name, as text");
        assert_eq!(series[3]["name"], "Call conversion %");
        assert_eq!(series[4]["name"], "SMS conversion %");
        assert_eq!(series[4]["data"], serde_json::json!([50.0, null, 25.0, 20.0]));
        assert_eq!(json["legend"]["selected"]["SMS conversion %"], false, "split by channel on request");
        assert_eq!(series[5]["name"], "previous period %");
        assert_eq!(series[5]["data"], serde_json::json!([null, 90.0, 80.0, null]));
    }

    #[test]
    fn the_map_names_each_country_as_the_page_does_and_scales_to_the_views_rates() {
        let rows = [row("CO", 100, 61, (50.0, 70.0)), row("", 10, 1, (0.0, 40.0)), row("BR", 200, 170, (80.0, 90.0))];
        let json = conversion_map(&rows);
        let data = json["series"][0]["data"].as_array().unwrap();
        assert_eq!(data.len(), 2, "the unknown country has no outline");
        assert_eq!((data[0]["name"].as_str(), data[0]["value"].as_f64()), (Some("Colombia (CO)"), Some(61.0)));
        assert_eq!(json["series"][0]["nameMap"]["BR"], "Brazil (BR)");
        assert_eq!((json["visualMap"]["min"].as_f64(), json["visualMap"]["max"].as_f64()), (Some(61.0), Some(85.0)));
        assert_eq!(mapped_countries(&rows).iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["CO", "BR"]);
    }

    #[test]
    fn annotations_mark_their_bucket_by_their_text_and_others_are_left_out() {
        let buckets: Vec<Bucket> = ["2026-11-20", "2026-11-21", "2026-11-22"]
            .iter()
            .map(|k| Bucket { key: k.to_string(), in_progress: false })
            .collect();
        let note = Annotation::on_page;
        let annotations =
            [note("2026-11-21T14:05:00Z", "New template {a}"), note("2026-10-01T00:00:00Z", "Out of range")];
        let json = serde_json::to_value(attempts_and_conversion(&buckets, &[], &[], &annotations)).unwrap();
        let rate = json["series"].as_array().unwrap().iter().find(|s| s["name"] == "conversion %").unwrap();
        let marks = rate["markLine"]["data"].as_array().unwrap();
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0]["name"], "New template {a}");
        assert_eq!(marks[0]["xAxis"], "11-21");
    }

    #[test]
    fn a_channel_has_one_colour_whichever_channels_a_view_holds() {
        let point = |channel: &str| SeriesPoint {
            bucket: "2026-11-20".into(),
            channel: channel.into(),
            attempts: 30,
            converted: 3,
        };
        let buckets = vec![Bucket { key: "2026-11-20".into(), in_progress: false }];
        let color_of_sms = |points: &[SeriesPoint]| {
            let json = serde_json::to_value(attempts_and_conversion(&buckets, points, &[], &[])).unwrap();
            let series = json["series"].as_array().unwrap().clone();
            series.into_iter().find(|s| s["name"] == "SMS").unwrap()["itemStyle"]["color"].clone()
        };
        let alone = color_of_sms(&[point("sms")]);
        assert_eq!(alone, color_of_sms(&[point("whatsapp"), point("sms")]));
        assert_eq!(alone, color_of_sms(&[point("call"), point("email"), point("sms"), point("whatsapp")]));
        assert_ne!(channel_color("sms"), channel_color("whatsapp"));
    }

    #[test]
    fn a_bucket_with_a_handful_of_attempts_has_no_rate_and_the_table_says_why() {
        let buckets = vec![
            Bucket { key: "2026-11-20T10".into(), in_progress: false },
            Bucket { key: "2026-11-20T11".into(), in_progress: false },
            Bucket { key: "2026-11-20T12".into(), in_progress: true },
        ];
        let point = |bucket: &str, attempts, converted| SeriesPoint {
            bucket: bucket.into(),
            channel: "sms".into(),
            attempts,
            converted,
        };
        let few = MIN_ATTEMPTS_FOR_A_RATE - 1;
        let current = vec![point("2026-11-20T10", few, few), point("2026-11-20T11", MIN_ATTEMPTS_FOR_A_RATE, 5)];
        assert_eq!(rates_by_bucket(&buckets, &current), vec![None, Some(25.0), None]);
        assert!(has_too_few_to_judge(&current));
        let table = attempts_and_conversion_table(&buckets, BucketSize::Hour, &current);
        assert_eq!(table.columns, ["Period", "SMS attempts", "Attempts", "Conversion rate"]);
        assert_eq!(table.rows[0], ["2026-11-20 10h", "19", "19", "too few to judge"]);
        assert_eq!(table.rows[1], ["2026-11-20 11h", "20", "20", "25.0%"]);
        assert_eq!(table.rows[2], ["2026-11-20 12h (in progress)", "0", "0", "no attempts"]);
    }

    #[test]
    fn the_rate_chart_follows_any_dimension_with_its_labels() {
        let rows = vec![row("30008", 40, 10, (14.2, 40.0)), row("", 60, 54, (80.0, 95.0))];
        let json = serde_json::to_value(conversion_by(Dimension::Error, &rows, &FriendlyNames::default())).unwrap();
        assert_eq!(json["xAxis"]["data"][1], "no error");
        assert_eq!(json["title"][0]["text"], "Attempt conversion rate by error code");
        assert_eq!(json["title"][0]["subtext"], "with its 95% interval");
        assert_eq!(rate_chart_title(Dimension::Error), "Attempt conversion rate by error code (95% interval)");
        let table = conversion_table(Dimension::Error, &rows, &FriendlyNames::default());
        assert_eq!(table.rows[1], ["no error", "90.0%", "80.0–95.0%", "60"]);
    }

    #[test]
    fn a_view_without_buckets_in_progress_has_no_marker() {
        let buckets = vec![Bucket { key: "2026-11-20T10".into(), in_progress: false }];
        let current =
            vec![SeriesPoint { bucket: "2026-11-20T10".into(), channel: "sms".into(), attempts: 2, converted: 1 }];
        let json = serde_json::to_value(attempts_and_conversion(&buckets, &current, &[], &[])).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["20 10h"]));
        assert!(json["series"][1].get("markLine").is_none());
        assert_eq!(json["series"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn on_a_phone_the_rate_chart_labels_every_bar_and_the_time_chart_moves_its_legend_down() {
        let rows = vec![BreakdownRow { key: "US".into(), metrics: Metrics::default() }];
        let options =
            responsive(&conversion_by(Dimension::Country, &rows, &FriendlyNames::default()), conversion_by_narrow());
        assert_eq!(options["baseOption"]["xAxis"]["data"], serde_json::json!(["US"]), "the chart itself, unchanged");
        let media = &options["media"][0];
        assert_eq!(media["query"]["maxWidth"], NARROW_WIDTH);
        assert_eq!(media["option"]["xAxis"]["axisLabel"]["interval"], 0, "ECharts drops no label");
        let options = responsive(&attempts_and_conversion(&[], &[], &[], &[]), attempts_and_conversion_narrow());
        assert_eq!(options["baseOption"]["legend"]["top"], "24");
        assert_eq!(options["media"][0]["option"]["legend"]["bottom"], 0);
    }
}
