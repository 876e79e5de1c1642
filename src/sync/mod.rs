//! The sync: pages of the Attempts API into the snapshot, one transaction per page.
//!
//! A run covers `[start, end)`: the first run the whole 30-day window, later runs
//! from the watermark less 48 hours, because statuses and prices settle late.
//! Upserts by SID make every step idempotent, so a run killed at any point is
//! simply redone by the next one.

mod progress;

use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::SqlitePool;

pub use progress::{SyncProgress, SyncProgressSnapshot};

use crate::model::twilio_time;
use crate::store::{self, StoreError};
use crate::twilio::{ListQuery, SummaryQuery, TwilioClient, TwilioError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Twilio(#[from] TwilioError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// How far back Twilio keeps attempts.
    pub window_days: i64,
    /// How much before the watermark a later run re-reads.
    pub lookback: Duration,
    pub page_size: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { window_days: 30, lookback: Duration::hours(48), page_size: 1000 }
    }
}

/// What one complete run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub run_id: i64,
    pub window_start: String,
    pub window_end: String,
    pub pages: u64,
    pub attempts_new: u64,
    pub attempts_updated: u64,
    /// The Summary endpoint's total for the window, and the snapshot's count.
    pub api_total: u64,
    pub snapshot_total: u64,
}

/// Runs one sync now, ending at the current time.
pub async fn sync_once(
    pool: &SqlitePool,
    client: &TwilioClient,
    progress: &SyncProgress,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let now = Utc::now().duration_trunc(Duration::seconds(1)).expect("whole seconds");
    let start = window_start(store::watermark(pool).await?.as_deref(), now, options);
    let (from, to) = (twilio_time::format(&start), twilio_time::format(&now));
    let run_id = store::start_run(pool, &twilio_time::format(&now), (&from, &to)).await?;
    progress.start(&from, &to);
    let outcome = run_window(pool, client, progress, options, run_id, &from, &to).await;
    let finished = twilio_time::format(&Utc::now());
    let result = match outcome {
        Ok((pages, new, updated, api_total)) => {
            let snapshot_total = store::count_attempts_between(pool, &from, &to).await?;
            store::finish_run(pool, run_id, &finished, Ok((api_total, snapshot_total))).await?;
            if api_total != snapshot_total {
                tracing::warn!(
                    "snapshot holds {snapshot_total} attempts for {from}..{to}, the Attempts API reports {api_total}"
                );
            }
            Ok(SyncReport {
                run_id,
                window_start: from,
                window_end: to,
                pages,
                attempts_new: new,
                attempts_updated: updated,
                api_total,
                snapshot_total,
            })
        }
        Err(e) => {
            store::finish_run(pool, run_id, &finished, Err(e.to_string())).await?;
            Err(e)
        }
    };
    progress.finish(result.as_ref().err().map(|e| e.to_string()));
    result
}

/// Where a run starts: the watermark less the lookback, never before Twilio's window.
pub fn window_start(watermark: Option<&str>, now: DateTime<Utc>, options: &SyncOptions) -> DateTime<Utc> {
    let oldest = now - Duration::days(options.window_days);
    watermark.and_then(twilio_time::parse).map_or(oldest, |w| (w - options.lookback).max(oldest))
}

async fn run_window(
    pool: &SqlitePool,
    client: &TwilioClient,
    progress: &SyncProgress,
    options: &SyncOptions,
    run_id: i64,
    from: &str,
    to: &str,
) -> Result<(u64, u64, u64, u64), SyncError> {
    let summary_query = SummaryQuery {
        date_created_after: Some(from.to_string()),
        date_created_before: Some(to.to_string()),
        ..SummaryQuery::default()
    };
    let expected = client.fetch_summary(&summary_query).await?.total_attempts;
    progress.expect(expected);
    let query = ListQuery {
        date_created_after: Some(from.to_string()),
        date_created_before: Some(to.to_string()),
        page_size: Some(options.page_size),
        ..ListQuery::default()
    };
    let mut page = client.list_attempts(&query).await?;
    let (mut pages, mut new, mut updated) = (0u64, 0u64, 0u64);
    loop {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let count = store::upsert_attempts(&mut tx, &page.attempts).await?;
        store::record_page(&mut tx, run_id, count).await?;
        tx.commit().await.map_err(StoreError::from)?;
        pages += 1;
        new += count.new;
        updated += count.updated;
        progress.page_done(page.attempts.len() as u64);
        match page.meta.next_page_url.as_deref() {
            Some(next) => page = client.list_attempts_at(next).await?,
            None => break,
        }
    }
    let api_total = client.fetch_summary(&summary_query).await?.total_attempts;
    Ok((pages, new, updated, api_total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_run_covers_the_window_and_later_runs_look_back() {
        let now = twilio_time::parse("2026-11-25T12:00:00Z").unwrap();
        let options = SyncOptions::default();
        assert_eq!(window_start(None, now, &options), now - Duration::days(30));
        let later = window_start(Some("2026-11-25T11:00:00Z"), now, &options);
        assert_eq!(twilio_time::format(&later), "2026-11-23T11:00:00Z");
        let stale = window_start(Some("2026-09-01T00:00:00Z"), now, &options);
        assert_eq!(stale, now - Duration::days(30));
    }
}
