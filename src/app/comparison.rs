//! What the overview says about its comparison: which windows, why, and how a change is judged.

use leptos::prelude::*;

use crate::buckets::BucketSize;
use crate::format::{format_p_value, format_percent, plural};
use crate::page_data::{Bucket, Change, ComparedWindows};

fn parse(time: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(time).ok().map(|t| t.with_timezone(&chrono::Utc))
}

fn unit(hourly: bool) -> &'static str {
    if hourly { "hour" } else { "day" }
}

/// `2026-11-18 00:00 to 2026-11-24 00:00 UTC`.
fn span(start: &str, end: &str) -> String {
    match (parse(start), parse(end)) {
        (Some(s), Some(e)) => format!("{} to {} UTC", s.format("%Y-%m-%d %H:%M"), e.format("%Y-%m-%d %H:%M")),
        _ => format!("{start} to {end}"),
    }
}

/// The settled hours or days the comparison covers, e.g. `6 days`.
fn compared_length(w: &ComparedWindows) -> String {
    let length = match (parse(&w.current_start), parse(&w.current_end)) {
        (Some(s), Some(e)) if w.hourly => (e - s).num_hours(),
        (Some(s), Some(e)) => (e - s).num_days(),
        _ => 0,
    };
    plural(u64::try_from(length).unwrap_or(0), unit(w.hourly))
}

/// What a change is measured against, in a few words.
pub fn against(w: &ComparedWindows) -> String {
    if w.same_elapsed || w.partly_covered {
        format!("the same {} {}", compared_length(w), w.compare.same_part())
    } else {
        w.compare.against()
    }
}

/// Whether the two windows are the same part of periods of the same length (else days the user chose).
fn like_for_like(w: &ComparedWindows) -> bool {
    !matches!(w.compare, crate::filters::Compare::Custom(..))
}

/// Which windows are compared and why, for every change on the page.
pub fn describe_windows(w: &ComparedWindows) -> String {
    let windows =
        format!("{} against {}", span(&w.current_start, &w.current_end), span(&w.previous_start, &w.previous_end));
    let covered = if w.partly_covered {
        " The snapshot holds only the end of the compared period, so both windows start as far into their \
         periods as it reaches."
    } else {
        ""
    };
    if !like_for_like(w) {
        format!(
            "This period against the days you chose; they differ in length, so compare rates rather than \
             counts: {windows}.{covered}"
        )
    } else if w.same_elapsed {
        let unit = unit(w.hourly);
        format!(
            "Like for like: this period's {unit}s still in progress are left out (conversions trail their \
             attempts by minutes, so an unfinished {unit} would read as a drop), and its {} that are over \
             are compared with the same elapsed time {}: {windows}.{covered}",
            compared_length(w),
            w.compare.same_part()
        )
    } else {
        format!("Both periods are over and of the same length: {windows}.{covered}")
    }
}

/// How the conversion change is tested, with its figures.
pub fn significance_help(change: &Change) -> String {
    let mut help = format!(
        "{} The points are the change in the attempt conversion rate between these windows ({} against {}). \
         Significance is tested on verifications instead, since the attempts of one verification are not \
         independent: {} of verifications converted against {}",
        describe_windows(&change.windows),
        format_percent(change.current.rate_percent()),
        format_percent(change.previous.rate_percent()),
        format_percent(change.current.verification_rate_percent()),
        format_percent(change.previous.verification_rate_percent()),
    );
    if let Some(points) = change.verification_rate_points {
        help.push_str(&format!(" ({points:+.1} pts)"));
    }
    help.push('.');
    if let (Some(p), Some(adjusted)) = (change.p_value, change.adjusted_p_value) {
        help.push_str(&format!(
            " Two-sided two-proportion z-test: {}; adjusted {} after Benjamini–Hochberg across the {} \
             this view runs (this one and one per country). Significant means a discovery at a 5% false \
             discovery rate.",
            format_p_value(p),
            format_p_value(adjusted),
            plural(change.tests as u64, "test")
        ));
    } else {
        help.push_str(" A period without verifications cannot be tested.");
    }
    help
}

/// How to read the time series, for its tooltip; `against` is what the grey line shows, if any.
pub fn chart_help(buckets: &[Bucket], size: BucketSize, against: Option<&str>) -> String {
    let unit = size.unit();
    let mut help = format!(
        "Bars: attempts per channel and {unit}. Line: converted attempts over attempts. Every {unit} of the \
         range is shown; one without attempts has zero attempts and no rate."
    );
    if buckets.iter().any(|b| b.in_progress) {
        help.push_str(&format!(
            " From the dashed line marked \"in progress\" on, faded bars and hollow points are {unit}s not over, \
             or over so recently that their conversions are still arriving: their rate is not final."
        ));
    }
    if let Some(against) = against {
        help.push_str(&format!(
            " The grey line is the rate of {against}, matched {unit} by {unit} by offset from the period's \
             start: its first {unit} under this period's first."
        ));
    }
    help
}

/// The comparison's windows, said on the page; the bounds are attributes for tests and tools.
#[component]
pub fn ComparisonBasis(windows: ComparedWindows) -> impl IntoView {
    let text = basis_text(&windows);
    view! {
        <p
            class="note"
            data-testid="comparison-basis"
            data-same-elapsed=windows.same_elapsed.to_string()
            data-partly-covered=windows.partly_covered.to_string()
            data-current-start=windows.current_start.clone()
            data-current-end=windows.current_end.clone()
            data-previous-start=windows.previous_start.clone()
            data-previous-end=windows.previous_end.clone()
            title=describe_windows(&windows)
        >
            {text}
        </p>
    }
}

/// The sentence that says which windows are compared: one sentence, also when the snapshot
/// holds only part of the compared period.
fn basis_text(windows: &ComparedWindows) -> String {
    let previous = span(&windows.previous_start, &windows.previous_end);
    let in_progress = if windows.same_elapsed {
        format!("; the {} in progress is left out", unit(windows.hourly))
    } else {
        String::new()
    };
    if !like_for_like(windows) {
        format!("Compared with {previous}, the days you chose.")
    } else if windows.partly_covered {
        format!(
            "The snapshot begins inside {}: compared like for like over the {} of it that it holds ({previous}), \
             against the same part of this period ({}){in_progress}.",
            windows.compare.against(),
            compared_length(windows),
            span(&windows.current_start, &windows.current_end),
        )
    } else if windows.same_elapsed {
        format!(
            "Compared like for like: {} of this period ({}) against the same {} {} ({previous}){}.",
            compared_length(windows),
            span(&windows.current_start, &windows.current_end),
            compared_length(windows),
            windows.compare.same_part(),
            in_progress,
        )
    } else {
        format!("Compared with {} ({previous}).", windows.compare.against())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page_data::Metrics;

    fn windows(same_elapsed: bool) -> ComparedWindows {
        ComparedWindows {
            current_start: "2026-11-18T00:00:00Z".into(),
            current_end: if same_elapsed { "2026-11-24T00:00:00Z" } else { "2026-11-25T00:00:00Z" }.into(),
            previous_start: "2026-11-11T00:00:00Z".into(),
            previous_end: if same_elapsed { "2026-11-17T00:00:00Z" } else { "2026-11-18T00:00:00Z" }.into(),
            same_elapsed,
            hourly: false,
            compare: crate::filters::Compare::Previous,
            partly_covered: false,
        }
    }

    #[test]
    fn the_page_says_which_windows_it_compares() {
        assert_eq!(against(&windows(true)), "the same 6 days of the previous period");
        assert_eq!(against(&windows(false)), "the previous period");
        let help = describe_windows(&windows(true));
        assert!(help.starts_with("Like for like: this period's days still in progress are left out"), "{help}");
        assert!(
            help.ends_with(
                "2026-11-18 00:00 to 2026-11-24 00:00 UTC against 2026-11-11 00:00 to 2026-11-17 00:00 UTC."
            )
        );
        assert!(describe_windows(&windows(false)).starts_with("Both periods are over"));
    }

    #[test]
    fn a_partly_held_comparison_is_said_in_one_sentence() {
        let mut partly = windows(false);
        partly.partly_covered = true;
        assert_eq!(
            basis_text(&partly),
            "The snapshot begins inside the previous period: compared like for like over the 7 days of it that it \
             holds (2026-11-11 00:00 to 2026-11-18 00:00 UTC), against the same part of this period \
             (2026-11-18 00:00 to 2026-11-25 00:00 UTC)."
        );
        assert!(basis_text(&windows(true)).starts_with("Compared like for like: 6 days of this period"));
    }

    #[test]
    fn the_significance_tooltip_names_the_test_and_the_correction() {
        let change = Change {
            windows: windows(true),
            current: Metrics {
                attempts: 400,
                converted: 150,
                verifications: 200,
                converted_verifications: 150,
                ..Default::default()
            },
            previous: Metrics {
                attempts: 360,
                converted: 170,
                verifications: 200,
                converted_verifications: 170,
                ..Default::default()
            },
            rate_points: Some(-4.0),
            verification_rate_points: Some(-10.0),
            p_value: Some(0.0123),
            adjusted_p_value: Some(0.0616),
            tests: 5,
            significant: false,
        };
        let help = significance_help(&change);
        assert!(help.contains("attempt conversion rate between these windows (37.5% against 47.2%)"), "{help}");
        assert!(help.contains("75.0% of verifications converted against 85.0% (-10.0 pts)"), "{help}");
        assert!(help.contains("p = 0.012; adjusted p = 0.062 after Benjamini–Hochberg across the 5 tests"), "{help}");
        assert!(help.contains("5% false discovery rate"), "{help}");
    }
}
