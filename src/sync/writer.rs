//! The snapshot's one writer: the pages of all slices, committed together.

use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::store::postgres::{self, Fence};

use crate::model::Attempt;
use crate::store::{self, Store, StoreError};

use super::SyncProgress;

/// Pages waiting for the writer at most, and so the most it writes in one statement group.
pub(super) const PAGES_IN_FLIGHT: usize = 16;

/// Where the writer writes: its run, whether that run is a bulk load, and on PostgreSQL the
/// fence of the account's lease.
#[derive(Clone)]
pub(super) struct WriteTarget {
    pub(super) run_id: i64,
    pub(super) bulk: bool,
    pub(super) fence: Option<Fence>,
}

/// A page for the writer: its rows, and where its slice goes on.
pub(super) struct PageWrite {
    pub(super) slice: i64,
    pub(super) rows: PageRows,
    pub(super) next_url: Option<String>,
}

/// A page's attempts as the writer takes them: to upsert, or prepared to append to a bulk load.
pub(super) enum PageRows {
    Upsert(Vec<Attempt>),
    Append(store::PreparedAppend),
}

impl PageRows {
    fn len(&self) -> u64 {
        match self {
            PageRows::Upsert(attempts) => attempts.len() as u64,
            PageRows::Append(prepared) => prepared.rows(),
        }
    }
}

/// When the writer commits: once its transaction has been open for `every`, or holds `max_pages`.
#[derive(Clone, Copy)]
pub(super) struct CommitPolicy {
    pub(super) every: std::time::Duration,
    pub(super) max_pages: usize,
}

/// Writes pages as they come: all waiting pages in one statement group, each with its
/// slice's progress, in a transaction that stays open for `commit_every`; the rollup rows
/// of all its pages are written once, just before the commit. A kill loses only the
/// uncommitted pages together with their progress, so the next run fetches them again:
/// nothing lost, nothing repeated. Long transactions matter because random SIDs spread
/// each one's index writes over the whole file: the cost of a commit grows with the
/// snapshot, not with its pages.
pub(super) async fn write_pages(
    store: Store,
    target: WriteTarget,
    pages: tokio::sync::mpsc::Receiver<PageWrite>,
    progress: SyncProgress,
    commits: CommitPolicy,
) -> Result<(), StoreError> {
    match (store, target.fence) {
        (Store::Sqlite(pool), _) => write_to_sqlite(pool, target.run_id, target.bulk, pages, progress, commits).await,
        (Store::Postgres(pg), Some(fence)) => write_to_postgres(&pg.pool, &fence, target.run_id, pages, progress).await,
        (Store::Postgres(_), None) => unreachable!("a sync of PostgreSQL holds its account's lease"),
    }
}

/// PostgreSQL's writer: each group of waiting pages is one fenced transaction with its
/// slices' progress. Its writes are upserts whose cost does not grow with the table, so it
/// commits every group rather than keeping a transaction open.
async fn write_to_postgres(
    pool: &sqlx::PgPool,
    fence: &Fence,
    run_id: i64,
    mut pages: tokio::sync::mpsc::Receiver<PageWrite>,
    progress: SyncProgress,
) -> Result<(), StoreError> {
    while let Some(first) = pages.recv().await {
        let mut batch = vec![first];
        while batch.len() < PAGES_IN_FLIGHT {
            match pages.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let mut attempts = Vec::new();
        let mut slices = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        for PageWrite { slice, rows: page, next_url } in batch {
            rows.push(page.len());
            match page {
                PageRows::Upsert(page) => attempts.extend(page),
                PageRows::Append(_) => unreachable!("PostgreSQL is never bulk-loaded"),
            }
            slices.push((slice, next_url));
        }
        postgres::write_sync_batch(pool, fence, &attempts, &postgres::RunProgress { run_id, slices: &slices }).await?;
        for rows in rows {
            progress.page_done(rows);
        }
    }
    Ok(())
}

async fn write_to_sqlite(
    pool: SqlitePool,
    run_id: i64,
    bulk: bool,
    mut pages: tokio::sync::mpsc::Receiver<PageWrite>,
    progress: SyncProgress,
    commits: CommitPolicy,
) -> Result<(), StoreError> {
    let mut bulk_writer = match bulk {
        true => Some(store::BulkWriter::open(&pool).await?),
        false => None,
    };
    while let Some(first) = pages.recv().await {
        let mut tx = match bulk_writer.as_mut() {
            Some(writer) => writer.begin().await?,
            None => store::begin_write(&pool).await?,
        };
        let mut rollups = if bulk { None } else { Some(store::PendingRollups::new(&mut tx).await?) };
        let started = std::time::Instant::now();
        let mut pages_in_tx = 0;
        let mut next = Some(first);
        while let Some(first) = next.take() {
            let mut batch = vec![first];
            let room = PAGES_IN_FLIGHT.min(commits.max_pages - pages_in_tx);
            while batch.len() < room {
                match pages.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            pages_in_tx += batch.len();
            write_batch(&mut tx, rollups.as_mut(), run_id, batch, &progress).await?;
            let left = commits.every.saturating_sub(started.elapsed());
            if !left.is_zero() && pages_in_tx < commits.max_pages {
                // `None` once the time is up or the walkers are done: then it commits.
                next = tokio::time::timeout(left, pages.recv()).await.ok().flatten();
            }
        }
        if let Some(rollups) = rollups {
            store::write_rollups(&mut tx, rollups).await?;
        }
        tx.commit().await?;
        if let Some(writer) = &bulk_writer {
            writer.committed();
        }
    }
    Ok(())
}

/// Writes a batch of pages in one statement group, each with its slice's progress.
async fn write_batch(
    tx: &mut Transaction<'_, Sqlite>,
    rollups: Option<&mut store::PendingRollups>,
    run_id: i64,
    batch: Vec<PageWrite>,
    progress: &SyncProgress,
) -> Result<(), StoreError> {
    let mut pages = Vec::with_capacity(batch.len());
    let mut upserts = Vec::new();
    let mut count = store::UpsertCount::default();
    for PageWrite { slice, rows, next_url } in batch {
        pages.push((slice, next_url, rows.len()));
        match rows {
            PageRows::Upsert(attempts) => upserts.extend(attempts),
            PageRows::Append(prepared) => count.new += store::append_prepared(tx, prepared).await?.new,
        }
    }
    if !upserts.is_empty() {
        let rollups = rollups.expect("a run that upserts keeps its rollups as it goes");
        let upserted = store::upsert_attempts_pending(tx, &upserts, rollups).await?;
        count.new += upserted.new;
        count.updated += upserted.updated;
    }
    store::record_pages(tx, run_id, pages.len() as u64, count).await?;
    // In arrival order, so a slice's last page in the batch sets where it goes on.
    for (slice, next_url, _) in &pages {
        store::advance_slice(tx, run_id, *slice, next_url.as_deref()).await?;
    }
    for (_, _, rows) in pages {
        progress.page_done(rows);
    }
    Ok(())
}
