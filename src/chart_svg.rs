//! The time chart as the server draws it: an SVG of the same buckets and series as the
//! ECharts chart, in the page's HTML, so that the chart is there at the first paint. The
//! browser's ECharts takes over when the page is hydrated (the stylesheet hides this one once
//! ECharts has drawn in the chart's element).

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::buckets::BucketSize;
use crate::charts::{MIN_ATTEMPTS_FOR_A_RATE, RATE_CHART_ROWS, annotation_bucket, channel_color, short_bucket};
use crate::filters::Dimension;
use crate::format::{format_count, format_percent};
use crate::model::{FriendlyNames, channel_label};
use crate::page_data::{Annotation, BreakdownRow, Bucket, SeriesPoint};

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 26.0;

/// The smallest of 1, 2 and 5 times a power of ten at or above `value`: the top of the axis.
fn axis_top(value: u64) -> u64 {
    let mut scale = 1;
    loop {
        for step in [1, 2, 5] {
            if step * scale >= value.max(1) {
                return step * scale;
            }
        }
        scale *= 10;
    }
}

/// A coordinate to the whole unit of the 800 × 320 drawing: finer than a screen shows it.
fn pixel(value: f64) -> f64 {
    value.round()
}

/// Attempts per channel and bucket as stacked bars, and the share converted per bucket as a
/// line (a gap where a bucket has too few attempts to judge); faded bars for buckets in
/// progress; a dashed line at each annotation's bucket, titled with its text.
pub fn attempts_and_conversion(
    buckets: &[Bucket],
    size: BucketSize,
    series: &[SeriesPoint],
    annotations: &[Annotation],
) -> String {
    let mut channels: Vec<&str> = series.iter().map(|p| p.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let mut cells: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut totals: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for point in series {
        *cells.entry((point.bucket.as_str(), point.channel.as_str())).or_default() += point.attempts;
        let total = totals.entry(point.bucket.as_str()).or_default();
        total.0 += point.attempts;
        total.1 += point.converted;
    }
    let top = axis_top(buckets.iter().map(|b| totals.get(b.key.as_str()).map_or(0, |t| t.0)).max().unwrap_or(0));
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let step = plot_width / buckets.len().max(1) as f64;
    let bar = (step * 0.7).max(1.0);
    let y_of = |attempts: u64| TOP + plot_height * (1.0 - attempts as f64 / top as f64);
    let y_of_rate = |percent: f64| TOP + plot_height * (1.0 - percent / 100.0);
    let label_every = (buckets.len() / 8).max(1);
    let rates: Vec<Option<(f64, f64)>> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (attempts, converted) = totals.get(b.key.as_str()).copied().unwrap_or_default();
            let x = LEFT + step * (i as f64 + 0.5);
            (attempts >= MIN_ATTEMPTS_FOR_A_RATE).then(|| (x, y_of_rate(converted as f64 * 100.0 / attempts as f64)))
        })
        .collect();
    let lines: Vec<String> = rates
        .split(|r| r.is_none())
        .filter(|run| !run.is_empty())
        .map(|run| {
            run.iter().flatten().map(|(x, y)| format!("{},{}", pixel(*x), pixel(*y))).collect::<Vec<_>>().join(" ")
        })
        .collect();
    // Each bucket's bars, channel on channel: (x, y, height, colour, in progress).
    let mut rects = Vec::new();
    for (i, bucket) in buckets.iter().enumerate() {
        let x = pixel(LEFT + step * i as f64 + (step - bar) / 2.0);
        let mut below = 0;
        for channel in &channels {
            let attempts = cells.get(&(bucket.key.as_str(), *channel)).copied().unwrap_or(0);
            if attempts > 0 {
                let (y0, y1) = (y_of(below), y_of(below + attempts));
                rects.push((x, pixel(y1), pixel(y0 - y1), channel_color(channel), bucket.in_progress));
                below += attempts;
            }
        }
    }
    let marks: Vec<(f64, &str)> = annotations
        .iter()
        .filter_map(|a| Some((pixel(LEFT + step * (annotation_bucket(buckets, a)? as f64 + 0.5)), a.text.as_str())))
        .collect();
    let all_attempts: u64 = totals.values().map(|t| t.0).sum();
    let span = match (buckets.first(), buckets.last()) {
        (Some(first), Some(last)) => format!("from {} to {}", size.label(&first.key), size.label(&last.key)),
        _ => "with no buckets".to_string(),
    };
    let description = format!(
        "{} attempts in {} {}s {span}, stacked by channel ({}), with the share converted as a line; the data is in the table below.",
        format_count(all_attempts),
        buckets.len(),
        size.unit(),
        channels.iter().map(|c| channel_label(c)).collect::<Vec<_>>().join(", "),
    );
    let markup: Markup = html! {
        svg class="chart-svg" viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-labelledby="timeseries-svg-title timeseries-svg-desc" data-testid="timeseries-svg" {
            title id="timeseries-svg-title" { "Attempts per channel and the conversion rate over time" }
            desc id="timeseries-svg-desc" { (description) }
            g class="legend" font-size="12" {
                @for (i, channel) in channels.iter().enumerate() {
                    rect x=(LEFT + 110.0 * i as f64) y="8" width="10" height="10" fill=(channel_color(channel)) {}
                    text x=(LEFT + 14.0 + 110.0 * i as f64) y="17" { (channel_label(channel)) }
                }
                line x1=(LEFT + 110.0 * channels.len() as f64) y1="13" x2=(LEFT + 16.0 + 110.0 * channels.len() as f64) y2="13" stroke="#1d2330" stroke-width="2" {}
                text x=(LEFT + 20.0 + 110.0 * channels.len() as f64) y="17" { "conversion %" }
            }
            g class="axes" font-size="11" fill="#4a5262" {
                @for fraction in [0.0, 0.5, 1.0] {
                    @let y = pixel(TOP + plot_height * (1.0 - fraction));
                    line x1=(LEFT) y1=(y) x2=(WIDTH - RIGHT) y2=(y) stroke="#e3e6eb" {}
                    text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" { (format_count((top as f64 * fraction) as u64)) }
                    text x=(WIDTH - RIGHT + 6.0) y=(y + 4.0) { (format!("{}%", (100.0 * fraction) as u64)) }
                }
                @for (i, bucket) in buckets.iter().enumerate() {
                    @if i % label_every == 0 {
                        text x=(pixel(LEFT + step * (i as f64 + 0.5))) y=(HEIGHT - 8.0) text-anchor="middle" { (short_bucket(&bucket.key)) }
                    }
                }
            }
            g class="bars" {
                @for (x, y, height, color, faded) in &rects {
                    rect x=(x) y=(y) width=(pixel(bar)) height=(height) fill=(color) opacity=[faded.then_some("0.45")] {}
                }
            }
            @for points in &lines {
                polyline points=(points) fill="none" stroke="#1d2330" stroke-width="2" {}
            }
            @for (x, text) in &marks {
                line class="annotation" x1=(x) y1=(TOP) x2=(x) y2=(HEIGHT - BOTTOM) stroke="#8a4b08" stroke-dasharray="4 3" {
                    title { (text) }
                }
            }
        }
    };
    markup.into_string()
}

/// A bar of the rate chart: where it starts, its label, its rate and its 95% interval.
type RateBar = (f64, String, f64, Option<(f64, f64)>);

/// The breakdown's first rows' attempt conversion rates as bars, each with its 95% interval
/// as a whisker: the rate chart, as ECharts draws it after hydration.
pub fn conversion_by(by: Dimension, rows: &[BreakdownRow], services: &FriendlyNames) -> String {
    let rows = &rows[..rows.len().min(RATE_CHART_ROWS)];
    let plot_width = WIDTH - LEFT - 16.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let step = plot_width / rows.len().max(1) as f64;
    let y_of = |percent: f64| pixel(TOP + plot_height * (1.0 - percent.clamp(0.0, 100.0) / 100.0));
    let title = format!("Attempt conversion rate by {}, with its 95% interval", by.label().to_lowercase());
    let bars: Vec<RateBar> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let label = match by {
                Dimension::Country if !row.key.is_empty() => row.key.clone(),
                _ => by.key_label(&row.key, services),
            };
            let x = LEFT + step * i as f64;
            (x, label, row.metrics.rate_percent().unwrap_or(0.0), row.metrics.rate_interval)
        })
        .collect();
    let description = bars
        .iter()
        .map(|(_, label, rate, _)| format!("{label} {}", format_percent(Some(*rate))))
        .collect::<Vec<_>>()
        .join(", ");
    let bar = (step * 0.6).max(1.0);
    let markup: Markup = html! {
        svg class="chart-svg" viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-labelledby="rate-svg-title rate-svg-desc" data-testid="rate-svg" {
            title id="rate-svg-title" { (title) }
            desc id="rate-svg-desc" { (description) "; the data is in the table below." }
            text x=(LEFT) y="18" font-size="14" font-weight="600" fill="#1d2330" { (title) }
            g class="axes" font-size="11" fill="#4a5262" {
                @for percent in [0.0, 50.0, 100.0] {
                    line x1=(LEFT) y1=(y_of(percent)) x2=(WIDTH - 16.0) y2=(y_of(percent)) stroke="#e3e6eb" {}
                    text x=(LEFT - 6.0) y=(y_of(percent) + 4.0) text-anchor="end" { (format!("{percent}%")) }
                }
                @for (x, label, _, _) in &bars {
                    text x=(pixel(x + step / 2.0)) y=(HEIGHT - 8.0) text-anchor="middle" { (label.chars().take(14).collect::<String>()) }
                }
            }
            g class="bars" {
                @for (x, _, rate, _) in &bars {
                    rect x=(pixel(x + (step - bar) / 2.0)) y=(y_of(*rate)) width=(pixel(bar)) height=(pixel(TOP + plot_height - y_of(*rate))) fill=(crate::charts::PALETTE[0]) {}
                }
            }
            g class="whiskers" stroke="#1d2330" stroke-width="1.5" {
                @for (x, _, _, interval) in &bars {
                    @if let Some((low, high)) = interval {
                        @let middle = pixel(x + step / 2.0);
                        line x1=(middle) y1=(y_of(*low)) x2=(middle) y2=(y_of(*high)) {}
                        line x1=(middle - 4.0) y1=(y_of(*low)) x2=(middle + 4.0) y2=(y_of(*low)) {}
                        line x1=(middle - 4.0) y1=(y_of(*high)) x2=(middle + 4.0) y2=(y_of(*high)) {}
                    }
                }
            }
        }
    };
    markup.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(bucket: &str, channel: &str, attempts: u64, converted: u64) -> SeriesPoint {
        SeriesPoint { bucket: bucket.into(), channel: channel.into(), attempts, converted }
    }

    #[test]
    fn each_row_is_a_bar_of_its_rate_with_its_interval_as_a_whisker() {
        let row = |key: &str, attempts, converted, interval| BreakdownRow {
            key: key.into(),
            metrics: crate::page_data::Metrics {
                attempts,
                converted,
                rate_interval: Some(interval),
                ..Default::default()
            },
        };
        let rows = [row("CO", 200, 100, (43.0, 57.0)), row("BR", 100, 80, (71.0, 87.0))];
        let svg = conversion_by(Dimension::Country, &rows, &FriendlyNames::default());
        let plot = HEIGHT - TOP - BOTTOM;
        let heights: Vec<f64> = svg
            .split("<rect ")
            .skip(1)
            .map(|r| r.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(heights.len(), 2);
        assert!((heights[0] - plot * 0.5).abs() <= 1.0 && (heights[1] - plot * 0.8).abs() <= 1.0, "{heights:?}");
        assert_eq!(svg.matches("<line").count(), 3 + 2 * 3, "three grid lines, three lines a whisker");
        assert!(svg.contains("CO 50.0%, BR 80.0%"), "{svg}");
    }

    #[test]
    fn the_axis_ends_on_a_round_number_above_the_busiest_bucket() {
        assert_eq!([axis_top(0), axis_top(7), axis_top(120), axis_top(2000), axis_top(2001)], [1, 10, 200, 2000, 5000]);
    }

    #[test]
    fn bars_stack_each_bucket_by_channel_to_its_total_and_the_line_skips_buckets_too_few_to_judge() {
        let buckets: Vec<Bucket> = ["2026-11-20", "2026-11-21", "2026-11-22"]
            .iter()
            .map(|k| Bucket { key: k.to_string(), in_progress: *k == "2026-11-22" })
            .collect();
        let series = [
            point("2026-11-20", "sms", 150, 100),
            point("2026-11-20", "whatsapp", 50, 45),
            point("2026-11-21", "sms", 5, 1),
            point("2026-11-22", "sms", 100, 20),
        ];
        let note = Annotation::on_page;
        let annotations = [note("2026-11-21T09:00:00Z", "New <b>template</b>"), note("2026-10-01T00:00:00Z", "Before")];
        let svg = attempts_and_conversion(&buckets, BucketSize::Day, &series, &annotations);
        // 200 attempts at most: the axis tops at 200, so the first bucket's bars fill the plot.
        let plot = HEIGHT - TOP - BOTTOM;
        let heights: Vec<f64> = svg
            .split("<rect ")
            .skip(1)
            .filter(|r| r.contains("height=\"") && !r.contains("width=\"10\""))
            .map(|r| r.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(heights.len(), 4, "{svg}");
        assert!((heights[0] + heights[1] - plot).abs() <= 1.0, "{heights:?}");
        assert!((heights[0] / heights[1] - 3.0).abs() < 0.05);
        assert_eq!(svg.matches("opacity=\"0.45\"").count(), 1, "the bucket in progress is faded");
        // The middle bucket has too few attempts for a rate: two lines of one point each.
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("<title id=\"timeseries-svg-title\">Attempts per channel"));
        assert!(svg.contains("305 attempts in 3 days from 2026-11-20 to 2026-11-22"), "{svg}");
        // The annotation of the 21st marks the middle bucket, as text; the one before the chart, nothing.
        let middle = pixel(LEFT + (WIDTH - LEFT - RIGHT) / 3.0 * 1.5);
        assert_eq!(svg.matches("class=\"annotation\"").count(), 1, "{svg}");
        assert!(svg.contains(&format!("<line class=\"annotation\" x1=\"{middle}\"")), "{svg}");
        assert!(svg.contains("<title>New &lt;b&gt;template&lt;/b&gt;</title>"), "{svg}");
    }
}
