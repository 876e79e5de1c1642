//! What the pages' server functions load: a view of the snapshot for a URL query, with the
//! snapshot's status, and phone numbers masked unless the operator turned that off; and one
//! attempt refreshed from Twilio.

use crate::filters::Filters;
use crate::model::twilio_time;
use crate::page_data::{
    AttemptDetail, AttemptList, AttemptRefresh, AttemptRow, FieldChange, Overview, RetryFunnel, SnapshotStatus,
    WhatToDo,
};
use crate::state::AppState;
use crate::store::{self, StoreError};
use crate::twilio::TwilioError;

/// The overview for a raw URL query; what the `load_overview` server function returns.
pub async fn load_overview(state: &AppState, search: &str) -> Result<Overview, StoreError> {
    let snapshot = snapshot_status(state).await?;
    let view = state.parse_view(search);
    let mut overview =
        crate::analytics::overview(&state.figures, &state.raw_scans, &state.rollups, view, state.now(), snapshot)
            .await?;
    let currency = overview.totals.main_currency();
    overview.what_to_do_html =
        crate::app::advice::what_to_do_html(overview.what_to_do.clone(), currency, overview.filters.clone());
    overview.funnel_html = crate::app::advice::funnel_html(overview.funnel.clone(), overview.filters.clone());
    overview.annotations = crate::annotations::between(&state.store, &overview.start, &overview.end).await?;
    crate::annotations::place_on_chart(&mut overview.annotations, overview.bucket_size.is_hourly());
    overview.timeseries_svg = crate::chart_svg::attempts_and_conversion(
        &overview.buckets,
        overview.bucket_size,
        &overview.series,
        &overview.annotations,
    );
    if crate::charts::shows_rate_chart(overview.filters.by, &overview.rows) {
        overview.rate_svg =
            crate::chart_svg::conversion_by(overview.filters.by, &overview.rows, &overview.snapshot.names);
    }
    if overview.filters.by == crate::filters::Dimension::Country {
        overview.map_options = crate::charts::conversion_map(&overview.rows).to_string();
    }
    Ok(overview)
}

/// A view's "What to do" alone, for its CSV: what the overview computes for it, without the
/// rest of the overview.
pub async fn load_what_to_do(state: &AppState, filters: &Filters) -> Result<WhatToDo, StoreError> {
    let (start, end) = filters.range.bounds(state.now());
    let scope = store::AttemptScope { from: twilio_time::format(&start), to: twilio_time::format(&end), filters };
    let index = state.rollups.get(&state.figures).await?;
    crate::analytics::what_to_do(&state.figures, &state.raw_scans, &index, &scope, None).await
}

/// A view's retry funnel alone, for its CSV.
pub async fn load_funnel(state: &AppState, filters: &Filters) -> Result<RetryFunnel, StoreError> {
    let (start, end) = filters.range.bounds(state.now());
    let scope = store::AttemptScope { from: twilio_time::format(&start), to: twilio_time::format(&end), filters };
    let index = state.rollups.get(&state.figures).await?;
    Ok(crate::analytics::retry_funnel(&index, &scope))
}

/// A page of the attempts list.
pub async fn load_attempts(state: &AppState, search: &str) -> Result<AttemptList, StoreError> {
    let snapshot = snapshot_status(state).await?;
    let view = state.parse_view(search);
    let mut list =
        crate::analytics::attempt_list(&state.figures, &state.raw_scans, &state.rollups, view, state.now(), snapshot)
            .await?;
    list.attempts.iter_mut().for_each(|a| mask(state, a));
    Ok(list)
}

/// One attempt with its verification, or `None` for an unknown SID.
pub async fn load_attempt(state: &AppState, sid: &str) -> Result<Option<AttemptDetail>, StoreError> {
    if !crate::model::is_sid(sid, "VL") {
        return Ok(None);
    }
    let snapshot = snapshot_status(state).await?;
    let mut detail = crate::analytics::attempt_detail(&state.figures, sid, snapshot).await?;
    if let Some(d) = &mut detail {
        mask(state, &mut d.attempt);
        d.verification.iter_mut().for_each(|a| mask(state, a));
    }
    Ok(detail)
}

/// Asks Twilio for the attempt `sid` now, writes what it says into the snapshot (with its
/// rollups, as a sync would: only when Twilio's copy is newer), and tells what changed.
pub async fn refresh_attempt(state: &AppState, sid: &str) -> Result<AttemptRefresh, StoreError> {
    let problem = |text: &str| Ok(AttemptRefresh { changes: Vec::new(), problem: Some(text.to_string()) });
    let Some(before) = store::find_attempt(&state.store, sid).await? else {
        return problem("The snapshot has no such attempt.");
    };
    if state.apis.is_empty() {
        return problem("This dashboard does not reach Twilio.");
    }
    let account = store::attempt_account(&state.store, sid).await?.unwrap_or_default();
    let Some(api) = state.apis.iter().find(|api| api.credentials().account_sid == account) else {
        return problem("This dashboard has no credentials for the attempt's account.");
    };
    let live = match api.fetch_attempt(sid).await {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!("refreshing attempt {sid}: {e}");
            return problem(match e {
                TwilioError::NotFound { .. } => {
                    "Twilio no longer has this attempt (it keeps attempts for 30 days); the snapshot keeps its copy."
                }
                TwilioError::Unauthorized { .. } => "Twilio refused the dashboard's credentials; see the server log.",
                _ => "Twilio could not be asked just now; try again in a minute.",
            });
        }
    };
    match state.store.write_attempts(std::slice::from_ref(&live)).await {
        Ok(()) => {}
        Err(StoreError::Syncing { .. }) => {
            return problem("A sync of this account is writing now and brings the attempt's news; try again after it.");
        }
        Err(e) => return Err(e),
    }
    let after = store::find_attempt(&state.store, sid).await?.unwrap_or_else(|| before.clone());
    Ok(AttemptRefresh { changes: field_changes(&before, &after), problem: None })
}

/// The fields of an attempt that settle after it is sent, where `after` differs from `before`.
fn field_changes(before: &AttemptRow, after: &AttemptRow) -> Vec<FieldChange> {
    let fields = |a: &AttemptRow| {
        let price = match (a.price, &a.price_unit) {
            (Some(amount), Some(unit)) => format!("{amount} {unit}"),
            _ => "pending".to_string(),
        };
        [
            ("Conversion", a.conversion_status.clone()),
            ("Message status", a.message_status.clone().unwrap_or_default()),
            ("Call status", a.call_status.clone().unwrap_or_default()),
            ("Error code", a.error_code.clone().unwrap_or_default()),
            ("Price", price),
            ("Updated (UTC)", a.date_updated.clone()),
        ]
    };
    fields(before)
        .into_iter()
        .zip(fields(after))
        .filter(|((_, was), (_, is))| was != is)
        .map(|((field, before), (_, after))| FieldChange { field: field.to_string(), before, after })
        .collect()
}

/// An attempt's phone number as this deployment shows it.
pub fn mask(state: &AppState, attempt: &mut AttemptRow) {
    if !state.show_phone_numbers {
        attempt.to = attempt.to.as_deref().map(crate::privacy::mask_destination);
    }
}

async fn snapshot_status(state: &AppState) -> Result<SnapshotStatus, StoreError> {
    let progress = state.progress.snapshot();
    Ok(SnapshotStatus {
        as_of: state.figures.watermark().await?,
        demo: state.demo,
        syncing: progress.running,
        sync_attempts: progress.attempts,
        sync_expected: progress.expected,
        last_error: match progress.last_error {
            Some(e) => Some(e),
            None => state.figures.last_sync_error().await?,
        },
        names: crate::model::FriendlyNames(state.figures.friendly_names().await?),
        accounts: state.figures.snapshot_accounts().await?,
    })
}
