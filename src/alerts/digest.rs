//! Digests: a saved view's week (or day) against the one before, at a set hour of the
//! reporting zone: the key figures with their changes, the movers whose conversion changed significantly, the
//! anomalies, and spend.

use chrono::{DateTime, Datelike, Duration, Utc};

use super::AlertError;
use super::engine::{outgoing_for, view_link};
use super::message::{Message, Section, SentFor, ViewLink};
use super::store::{self, Digest};
use crate::analytics::{self, anomalies, stats};
use crate::filters::{DateRange, Dimension, ViewDate};
use crate::format::{format_count, format_moneys, format_p_value, format_percent};
use crate::model::twilio_time;
use crate::page_data::Metrics;
use crate::state::AppState;
use crate::store::AttemptScope;

/// The last time the digest fell due at or before `now`: today's (or this Monday's) hour,
/// or the one before.
pub fn last_due(frequency: &str, hour: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let at_hour = |day: chrono::NaiveDate| crate::zone::at_local(day, hour);
    let today = crate::zone::local_date(now);
    let mut day = if frequency == "weekly" {
        today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
    } else {
        today
    };
    if at_hour(day) > now {
        day -= Duration::days(if frequency == "weekly" { 7 } else { 1 });
    }
    at_hour(day)
}

/// The period a digest due at `due` covers: the whole days before it, one or seven.
fn period(frequency: &str, due: DateTime<Utc>) -> Option<DateRange> {
    let last = crate::zone::local_date(due) - Duration::days(1);
    let first = last - Duration::days(if frequency == "weekly" { 6 } else { 0 });
    Some(DateRange::Between(ViewDate::try_from(first).ok()?, ViewDate::try_from(last).ok()?))
}

/// Queues every digest that fell due since it was last queued, once.
pub async fn queue_due(state: &AppState, now: DateTime<Utc>) -> Result<usize, AlertError> {
    let mut queued = 0;
    for digest in store::digests(&state.store).await? {
        let due = last_due(&digest.frequency, digest.hour, now);
        let due_text = twilio_time::format(&due);
        if digest.last_due_at.as_deref().is_some_and(|last| last >= due_text.as_str()) {
            continue;
        }
        let message = digest_message(state, &digest, due, &format!("digest-{}-{}", digest.id, due_text)).await?;
        let outgoing = outgoing_for(&digest.destinations, &digest.email_to, message);
        if store::queue_digest(&state.store, digest.id, digest.last_due_at.as_deref(), &due_text, &outgoing).await? {
            queued += 1;
            state.alerts.wake.notify_one();
        }
    }
    Ok(queued)
}

/// Queues a digest now, as it would go out at its next hour (the page's "Send now").
pub async fn send_now(state: &AppState, id: i64, now: DateTime<Utc>) -> Result<(), AlertError> {
    let digest =
        store::digests(&state.store).await?.into_iter().find(|d| d.id == id).ok_or(AlertError::NotFound("digest"))?;
    let key = format!("digest-{}-now-{:016x}", digest.id, rand::random::<u64>());
    let message = digest_message(state, &digest, now, &key).await?;
    let outgoing = outgoing_for(&digest.destinations, &digest.email_to, message);
    store::queue_messages(&state.store, None, &outgoing).await?;
    state.alerts.wake.notify_one();
    Ok(())
}

/// The schedule in words: "Weekly, Mondays at 09:00 UTC".
pub fn schedule(frequency: &str, hour: u32) -> String {
    if frequency == "weekly" {
        format!("Weekly, Mondays at {hour:02}:00 {}", crate::zone::name())
    } else {
        format!("Daily at {hour:02}:00 {}", crate::zone::name())
    }
}

fn scope(filters: &crate::filters::Filters, from: DateTime<Utc>, to: DateTime<Utc>) -> AttemptScope<'_> {
    AttemptScope { from: twilio_time::format(&from), to: twilio_time::format(&to), filters }
}

/// The digest's message for the period before `due`.
pub async fn digest_message(
    state: &AppState,
    digest: &Digest,
    due: DateTime<Utc>,
    key: &str,
) -> Result<Message, AlertError> {
    let mut filters = state.parse_view(&digest.view.query).filters;
    if let Some(range) = period(&digest.frequency, due) {
        filters.range = range;
    }
    let (start, end) = filters.range.bounds(due);
    let length = end - start;
    let (then_start, then_end) = (start - length, start);
    let index = state.rollups.get(&state.figures).await?;
    let (store, scans) = (&state.figures, &state.raw_scans);
    let now_totals = analytics::totals(store, scans, &index, &scope(&filters, start, end)).await?;
    let then_totals = analytics::totals(store, scans, &index, &scope(&filters, then_start, then_end)).await?;
    let mut sections = vec![Section { heading: "Key figures".into(), lines: key_figures(&now_totals, &then_totals) }];
    sections.push(Section {
        heading: "Top movers".into(),
        lines: movers(state, &index, &filters, (start, end), (then_start, then_end)).await?,
    });
    let found = analytics::view_incidents(&index, &scope(&filters, start, end));
    sections.push(Section {
        heading: "Anomalies".into(),
        lines: found.iter().map(|a| format!("{}: {}", a.title, a.detail)).collect(),
    });
    sections.push(Section {
        heading: "Spend".into(),
        lines: vec![
            format!(
                "Total cost {} (previous period {})",
                format_moneys(&now_totals.total_cost()),
                format_moneys(&then_totals.total_cost())
            ),
            format!(
                "Channel fees {}, verification fees {}",
                format_moneys(&now_totals.spend),
                format_moneys(&now_totals.verification_fees)
            ),
        ],
    });
    let period_text = format!("{} to {}", start.date_naive(), (end - Duration::seconds(1)).date_naive());
    let mut link_filters = filters.clone();
    link_filters.page = None;
    Ok(Message {
        schema: super::message::SCHEMA.into(),
        idempotency_key: key.into(),
        kind: "digest".into(),
        sent_for: SentFor {
            kind: "digest".into(),
            id: digest.id,
            name: digest.view.name.clone(),
            condition: schedule(&digest.frequency, digest.hour),
        },
        view: ViewLink {
            id: digest.view.id,
            name: digest.view.name.clone(),
            url: view_link(state, &link_filters.to_query(), due),
        },
        evaluation: None,
        sections,
        title: format!(
            "{} digest: {} ({period_text})",
            if digest.frequency == "weekly" { "Weekly" } else { "Daily" },
            digest.view.name
        ),
        at: twilio_time::format(&due),
    })
}

fn key_figures(now: &Metrics, then: &Metrics) -> Vec<String> {
    let change = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:+.1} points", a - b),
        _ => "no comparison".into(),
    };
    let test = stats::two_proportion_p_value(
        now.converted_verifications,
        now.verifications,
        then.converted_verifications,
        then.verifications,
    );
    vec![
        format!(
            "Verifications: {} (previous period {})",
            format_count(now.verifications),
            format_count(then.verifications)
        ),
        format!(
            "Conversion rate: {} (previous {}, {}{})",
            format_percent(now.verification_rate_percent()),
            format_percent(then.verification_rate_percent()),
            change(now.verification_rate_percent(), then.verification_rate_percent()),
            test.map(|p| format!(", {}", format_p_value(p))).unwrap_or_default()
        ),
        format!(
            "Delivery rate: {} (previous {}, {})",
            format_percent(now.delivery_rate_percent()),
            format_percent(then.delivery_rate_percent()),
            change(now.delivery_rate_percent(), then.delivery_rate_percent())
        ),
    ]
}

/// Countries, carriers and channels whose verification conversion changed significantly
/// (Benjamini–Hochberg at 5% across all of them), largest changes first, five at most.
async fn movers(
    state: &AppState,
    index: &analytics::RollupIndex,
    filters: &crate::filters::Filters,
    now: (DateTime<Utc>, DateTime<Utc>),
    then: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<String>, AlertError> {
    let mut found: Vec<(String, f64, f64, f64, f64)> = Vec::new();
    let mut p_values = Vec::new();
    for by in [Dimension::Country, Dimension::Carrier, Dimension::Channel] {
        let mut f = filters.clone();
        f.by = by;
        let now_rows = analytics::breakdown(&state.figures, &state.raw_scans, index, &scope(&f, now.0, now.1)).await?;
        let then_rows =
            analytics::breakdown(&state.figures, &state.raw_scans, index, &scope(&f, then.0, then.1)).await?;
        for test in anomalies::country_tests(&now_rows, &then_rows) {
            let (Some(a), Some(b)) =
                (test.current.metrics.verification_rate_percent(), test.previous.metrics.verification_rate_percent())
            else {
                continue;
            };
            let label = match by {
                Dimension::Country => crate::model::country_label(&test.current.key),
                Dimension::Channel => crate::model::channel_label(&test.current.key),
                _ => crate::filters::value_label(&test.current.key).to_string(),
            };
            found.push((format!("{}: {label}", by.label()), a, b, a - b, test.p_value));
            p_values.push(test.p_value);
        }
    }
    let adjusted = stats::benjamini_hochberg(&p_values);
    let mut significant: Vec<_> =
        found.into_iter().zip(adjusted).filter(|(_, q)| *q <= analytics::comparison::FALSE_DISCOVERY_RATE).collect();
    significant.sort_by(|a, b| b.0.3.abs().total_cmp(&a.0.3.abs()));
    Ok(significant
        .into_iter()
        .take(5)
        .map(|((label, a, b, d, _), q)| {
            format!("{label}: {a:.1}% against {b:.1}% ({d:+.1} points, adjusted {})", format_p_value(q))
        })
        .collect())
}
