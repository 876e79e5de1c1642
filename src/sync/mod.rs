//! The sync: pages of the Attempts API into the snapshot, one transaction per page.
//!
//! A run covers `[start, end)`: the first run the whole 30-day window, later runs
//! from the watermark less 48 hours, because statuses and prices settle late.
//! Upserts by SID make every step idempotent, so a run killed at any point is
//! simply redone by the next one. A first sync into an empty snapshot is a bulk load:
//! its attempts go in without indexes, and the indexes and rollups are built once it
//! has every page; a load that stops before then is resumed, one that fails is indexed.

mod progress;
mod stop;
mod walker;
mod writer;

use chrono::{DateTime, Duration, DurationRound, Utc};

pub use progress::{SyncProgress, SyncProgressSnapshot};
pub use stop::StopSignal;

use crate::model::twilio_time;
use crate::store::{self, Store, StoreError, SyncTurn};
use crate::twilio::{SummaryQuery, TwilioClient, TwilioError};
use walker::{Handoff, walk_slice};
use writer::{CommitPolicy, PAGES_IN_FLIGHT, WriteTarget, write_pages};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The snapshot writer failed; its own error is the run's.
    #[error("the snapshot writer stopped")]
    WriterStopped,
    #[error("the sync was stopped after its last written page; the next run goes on from there")]
    Stopped,
    /// Another process holds the account's sync lease, and syncs it.
    #[error("another verilens process syncs this account now")]
    SyncedElsewhere,
}

/// How often a bulk load commits at most. Its appends touch only the table's last pages,
/// so a commit costs little, and what it commits is copied into the file while it goes on.
const BULK_COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// How far back Twilio keeps attempts.
    pub window_days: i64,
    /// How much before the watermark a later run re-reads.
    pub lookback: Duration,
    pub page_size: u32,
    /// Time slices of the window walked at once, within the shared rate limit.
    pub slices: u32,
    /// How long the writer's transaction stays open: a crash loses at most this much
    /// work (fetched again by the next run); longer transactions ingest faster.
    pub commit_every: std::time::Duration,
    /// The most pages one transaction holds, whatever the time: a crash or a fault lands
    /// after a known number of pages (tests set it; `usize::MAX` leaves it to the time).
    pub max_pages_per_commit: usize,
    /// Whether a first sync loads the empty snapshot without indexes and builds them at
    /// the end (several times faster), rather than keeping them, and the rollups, as it goes.
    pub bulk_first_sync: bool,
    /// The most verifications a bulk load sums in memory; it counts the others from the
    /// snapshot when it ends, so that its memory stays flat however large the window.
    pub summed_verifications: usize,
    /// The time it is for the sync: the end of a new run's window and of Twilio's 30 days.
    /// The current time unless set; tests pin it to their API's clock.
    pub clock: Option<DateTime<Utc>>,
    pub stop: StopSignal,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            window_days: 30,
            lookback: Duration::hours(48),
            page_size: 1000,
            slices: 4,
            commit_every: std::time::Duration::from_secs(10),
            max_pages_per_commit: usize::MAX,
            bulk_first_sync: true,
            summed_verifications: store::SUMMED_VERIFICATIONS,
            clock: None,
            stop: StopSignal::default(),
        }
    }
}

impl SyncOptions {
    /// How long the writer's transactions stay open: `commit_every`, and at most
    /// `BULK_COMMIT_EVERY` in a bulk load.
    pub fn writer_commit_every(&self, bulk: bool) -> std::time::Duration {
        if bulk { self.commit_every.min(BULK_COMMIT_EVERY) } else { self.commit_every }
    }

    /// The time it is for the sync (`clock`, or the current time).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
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

/// Runs one sync of the client's account: finishes its interrupted run if there is one, then
/// a new run ending at the current time. Each account has its own runs and watermark, so
/// several accounts sync into one snapshot, one after another.
/// On PostgreSQL the run holds the account's lease throughout, and a process that finds it
/// held by another returns `SyncError::SyncedElsewhere`.
pub async fn sync_once(
    store: &Store,
    client: &TwilioClient,
    progress: &SyncProgress,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let account = client.credentials().account_sid.as_str();
    let Some(turn) = store.take_sync_turn(account).await? else {
        return Err(SyncError::SyncedElsewhere);
    };
    let synced = sync_in_turn(store, client, progress, options, &turn).await;
    turn.release().await;
    synced
}

async fn sync_in_turn(
    store: &Store,
    client: &TwilioClient,
    progress: &SyncProgress,
    options: &SyncOptions,
    turn: &SyncTurn,
) -> Result<SyncReport, SyncError> {
    let account = client.credentials().account_sid.as_str();
    store.add_sync_account(account).await?;
    if let Some(run) = store.interrupted_run(account).await? {
        tracing::info!("resuming interrupted sync run {} ({}..{})", run.id, run.window_start, run.window_end);
        complete_run(store, client, progress, options, turn, run).await?;
    }
    // A first sync that failed left its load without indexes: build them before going on.
    store.build_attempt_indexes(None).await?;
    let run = plan_run(store, account, options).await?;
    let report = complete_run(store, client, progress, options, turn, run).await?;
    save_service_names(store, client).await;
    Ok(report)
}

/// The account's services' names, read once a run is complete. They only label the pages,
/// so a failure is logged and the sync stands; the next run tries again.
async fn save_service_names(store: &Store, client: &TwilioClient) {
    let fetched_at = twilio_time::format(&Utc::now());
    let saved = match client.list_services().await {
        Ok(services) => store.save_services(&services, &fetched_at).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = saved {
        tracing::warn!("the Verify services' names could not be read: {e}");
    }
}

async fn complete_run(
    store: &Store,
    client: &TwilioClient,
    progress: &SyncProgress,
    options: &SyncOptions,
    turn: &SyncTurn,
    run: store::RunWindow,
) -> Result<SyncReport, SyncError> {
    let (from, to) = (run.window_start.clone(), run.window_end.clone());
    if let Some(end) = twilio_time::parse(&to) {
        let horizon = end - chrono::Duration::hours(store::HOUR_GRAIN_HOURS);
        store.advance_hour_horizon(&twilio_time::format(&horizon)).await?;
    }
    progress.start(&from, &to);
    if run.bulk {
        store.drop_attempt_indexes().await?;
    }
    let mut outcome = run_window(store, client, progress, options, turn, &run).await;
    if let (true, Ok(walked)) = (run.bulk, &mut outcome) {
        tracing::info!("building the snapshot's indexes and rollups");
        if let Err(e) = finish_bulk_load(store, walked.summed_rollups.take()).await {
            outcome = Err(e);
        }
    }
    let finished = twilio_time::format(&Utc::now());
    let result = match outcome {
        Ok(WalkedWindow { api_total, checked_from, .. }) => {
            let account = client.credentials().account_sid.as_str();
            let snapshot_total = store.count_attempts_between(account, &checked_from, &to).await?;
            store.finish_run(run.id, &finished, Ok((api_total, snapshot_total))).await?;
            if api_total != snapshot_total {
                tracing::warn!(
                    "snapshot holds {snapshot_total} attempts of {} for {checked_from}..{to}, the Attempts API reports {api_total}",
                    client.credentials().account_hint()
                );
            }
            let (pages, attempts_new, attempts_updated) = store.run_counts(run.id).await?;
            if attempts_new + attempts_updated > 0 {
                progress.snapshot_changed();
            }
            Ok(SyncReport {
                run_id: run.id,
                window_start: from,
                window_end: to,
                pages,
                attempts_new,
                attempts_updated,
                api_total,
                snapshot_total,
            })
        }
        // A stopped run stays open, like one whose process died, for the next run to finish;
        // so does one whose lease was lost, for its new holder, which this process must not
        // write over.
        Err(SyncError::Stopped) => Err(SyncError::Stopped),
        Err(e @ SyncError::Store(StoreError::LeaseLost { .. })) => Err(e),
        Err(e) => {
            store.finish_run(run.id, &finished, Err(e.to_string())).await?;
            if run.bulk {
                // Otherwise the next sync or start builds them.
                if let Err(e) = store.build_attempt_indexes(None).await {
                    tracing::warn!("the snapshot's indexes could not be built yet: {e}");
                }
            }
            Err(e)
        }
    };
    let outcome = match &result {
        Ok(_) => "complete",
        Err(SyncError::Stopped) => "stopped",
        Err(_) => "failed",
    };
    metrics::counter!("verilens_sync_runs_total", "outcome" => outcome).increment(1);
    progress.finish(result.as_ref().err().map(|e| e.to_string()));
    result
}

/// Builds the indexes and rollups of a bulk run's load, with the rollups summed as it was fetched, if any.
async fn finish_bulk_load(store: &Store, summed: Option<store::LoadRollups>) -> Result<(), SyncError> {
    let repeats = store.build_attempt_indexes(summed).await?;
    if repeats > 0 {
        tracing::warn!("the Attempts API listed {repeats} attempts twice; the snapshot keeps each once");
    }
    Ok(())
}

/// Creates a run of `account` for the window ending now, cut into time slices.
async fn plan_run(store: &Store, account: &str, options: &SyncOptions) -> Result<store::RunWindow, SyncError> {
    let now = options.now().duration_trunc(Duration::seconds(1)).expect("whole seconds");
    let start = window_start(store.account_watermark(account).await?.as_deref(), now, options);
    let (from, to) = (twilio_time::format(&start), twilio_time::format(&now));
    let bulk = options.bulk_first_sync && store.may_bulk_load().await?;
    let id = store.start_run(account, &to, (&from, &to), bulk).await?;
    let slices: Vec<(String, String)> = slice_window(start, now, options.slices)
        .into_iter()
        .map(|(a, b)| (twilio_time::format(&a), twilio_time::format(&b)))
        .collect();
    store.create_slices(id, &slices).await?;
    Ok(store::RunWindow { id, window_start: from, window_end: to, bulk })
}

/// Where a run starts: the watermark less the lookback, never before Twilio's window.
pub fn window_start(watermark: Option<&str>, now: DateTime<Utc>, options: &SyncOptions) -> DateTime<Utc> {
    let oldest = now - Duration::days(options.window_days);
    watermark.and_then(twilio_time::parse).map_or(oldest, |w| (w - options.lookback).max(oldest))
}

/// `[start, end)` cut into `count` adjacent slices of whole seconds.
pub fn slice_window(start: DateTime<Utc>, end: DateTime<Utc>, count: u32) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let total = (end - start).num_seconds().max(0);
    let count = i64::from(count.max(1)).min(total.max(1));
    (0..count)
        .map(|i| (start + Duration::seconds(total * i / count), start + Duration::seconds(total * (i + 1) / count)))
        .collect()
}

/// What walking a run's window found.
struct WalkedWindow {
    /// The Summary's total for the window, from `checked_from` on.
    api_total: u64,
    checked_from: String,
    /// A bulk load's rollups, summed as its pages were fetched, when those were every attempt of the load.
    summed_rollups: Option<store::LoadRollups>,
}

/// Walks every unfinished slice of the run at once, and asks the Summary how many
/// attempts the window holds.
async fn run_window(
    store: &Store,
    client: &TwilioClient,
    progress: &SyncProgress,
    options: &SyncOptions,
    turn: &SyncTurn,
    run: &store::RunWindow,
) -> Result<WalkedWindow, SyncError> {
    let summary_query = SummaryQuery {
        date_created_after: Some(run.window_start.clone()),
        date_created_before: Some(run.window_end.clone()),
    };
    let stop = &options.stop;
    let expected = stop.unless_stopped(client.fetch_summary(&summary_query)).await?.total_attempts;
    progress.expect(expected);
    // One writer commits the pages of all slices; pages that arrive while it writes go
    // into its next transaction together, each with its slice's progress.
    let (writes, pages) = tokio::sync::mpsc::channel(PAGES_IN_FLIGHT);
    let handoff = Handoff::for_run(store, run, options).await?;
    let target = WriteTarget { run_id: run.id, bulk: run.bulk, fence: turn.fence() };
    let commits =
        CommitPolicy { every: options.writer_commit_every(run.bulk), max_pages: options.max_pages_per_commit };
    let writer = tokio::spawn(write_pages(store.clone(), target, pages, progress.clone(), commits));
    let mut walks = tokio::task::JoinSet::new();
    for slice in store.run_slices(run.id).await?.into_iter().filter(|s| !s.done) {
        let (client, writes) = (client.clone(), writes.clone());
        let (page_size, stop, handoff) = (options.page_size, stop.clone(), handoff.clone());
        walks.spawn(async move { walk_slice(&client, &writes, &handoff, page_size, slice, &stop).await });
    }
    drop(writes);
    let mut walked = Ok(());
    while let Some(joined) = walks.join_next().await {
        if let Err(e) = joined.expect("a slice walk panicked") {
            // The first failure stops the run.
            walked = Err(e);
            walks.shutdown().await;
            break;
        }
    }
    writer.await.expect("the snapshot writer panicked")?;
    walked?;
    let summed_rollups = handoff.into_summed();
    // Twilio forgets attempts past its window while a run goes on, and the snapshot keeps
    // them: the check starts where Twilio's window will start (with a margin) when it answers.
    let oldest_kept =
        twilio_time::format(&(options.now() + Duration::seconds(5) - Duration::days(options.window_days)));
    let checked_from = run.window_start.clone().max(oldest_kept);
    let check = SummaryQuery { date_created_after: Some(checked_from.clone()), ..summary_query };
    let api_total = stop.unless_stopped(client.fetch_summary(&check)).await?.total_attempts;
    Ok(WalkedWindow { api_total, checked_from, summed_rollups })
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

    #[test]
    fn slices_cover_the_window_without_gaps() {
        let start = twilio_time::parse("2026-11-01T00:00:00Z").unwrap();
        let end = twilio_time::parse("2026-11-02T00:00:07Z").unwrap();
        let slices = slice_window(start, end, 4);
        assert_eq!(slices.len(), 4);
        assert_eq!(slices[0].0, start);
        assert_eq!(slices[3].1, end);
        assert!(slices.windows(2).all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1));
        assert_eq!(slice_window(start, start + Duration::seconds(2), 4).len(), 2);
    }
}
