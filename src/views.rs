//! What the pages' server functions load: a view of the snapshot for a URL query, with the
//! snapshot's status, and phone numbers masked unless the operator turned that off.

use crate::page_data::{AttemptDetail, AttemptList, AttemptRow, Overview, SnapshotStatus};
use crate::state::AppState;
use crate::store::{self, StoreError};

/// The overview for a raw URL query; what the `load_overview` server function returns.
pub async fn load_overview(state: &AppState, search: &str) -> Result<Overview, StoreError> {
    let snapshot = snapshot_status(state).await?;
    let view = state.parse_view(search);
    crate::analytics::overview(&state.pool, &state.raw_scans, &state.rollups, view, state.now(), snapshot).await
}

/// A page of the attempts list.
pub async fn load_attempts(state: &AppState, search: &str) -> Result<AttemptList, StoreError> {
    let snapshot = snapshot_status(state).await?;
    let view = state.parse_view(search);
    let mut list =
        crate::analytics::attempt_list(&state.pool, &state.raw_scans, &state.rollups, view, state.now(), snapshot)
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
    let mut detail = crate::analytics::attempt_detail(&state.pool, sid, snapshot).await?;
    if let Some(d) = &mut detail {
        mask(state, &mut d.attempt);
        d.verification.iter_mut().for_each(|a| mask(state, a));
    }
    Ok(detail)
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
        as_of: store::watermark(&state.pool).await?,
        demo: state.demo,
        syncing: progress.running,
        sync_attempts: progress.attempts,
        sync_expected: progress.expected,
        last_error: match progress.last_error {
            Some(e) => Some(e),
            None => store::last_sync_error(&state.pool).await?,
        },
    })
}
