//! The sync's bookkeeping: the accounts synced, their runs, the runs' slices, and watermarks.

use sqlx::{Sqlite, SqlitePool, Transaction};

use super::{StoreError, UpsertCount};

/// What the snapshot is complete up to: the earliest of its accounts' watermarks, once one
/// completed a sync.
pub async fn watermark(pool: &SqlitePool) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(watermark) FROM sync_accounts").fetch_one(pool).await?)
}

/// Where the account's next incremental sync starts, if a sync of it ever completed.
pub async fn account_watermark(pool: &SqlitePool, account_sid: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT watermark FROM sync_accounts WHERE account_sid = ?")
        .bind(account_sid)
        .fetch_optional(pool)
        .await?
        .flatten())
}

/// Adds the account to those the deployment syncs, if it is new.
pub async fn add_sync_account(pool: &SqlitePool, account_sid: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT OR IGNORE INTO sync_accounts (account_sid) VALUES (?)").bind(account_sid).execute(pool).await?;
    Ok(())
}

/// Makes `listed` the accounts the deployment syncs: one no longer listed stops holding back
/// the snapshot's watermark (its attempts stay; listed again, it syncs Twilio's whole window).
pub async fn keep_sync_accounts(pool: &SqlitePool, listed: &[String]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let known: Vec<String> = sqlx::query_scalar("SELECT account_sid FROM sync_accounts").fetch_all(&mut *tx).await?;
    for gone in known.iter().filter(|account| !listed.contains(account)) {
        sqlx::query("DELETE FROM sync_accounts WHERE account_sid = ?").bind(gone).execute(&mut *tx).await?;
    }
    for account in listed {
        sqlx::query("INSERT OR IGNORE INTO sync_accounts (account_sid) VALUES (?)")
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How one account's sync stands, as `/healthz` tells it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AccountSync {
    pub account_sid: String,
    /// The end of its last complete run.
    pub as_of: Option<String>,
    /// The error of its latest run, if that failed.
    pub last_error: Option<String>,
}

/// Every account the deployment syncs, by SID.
pub async fn account_syncs(pool: &SqlitePool) -> Result<Vec<AccountSync>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.account_sid, a.watermark AS as_of, \
                (SELECT CASE WHEN status = 'failed' THEN error END FROM sync_runs r \
                  WHERE r.account_sid = a.account_sid AND status != 'running' ORDER BY id DESC LIMIT 1) AS last_error \
         FROM sync_accounts a ORDER BY a.account_sid",
    )
    .fetch_all(pool)
    .await?)
}

/// Records that a run is starting; returns its id. A `bulk` run loads an empty snapshot
/// without indexes (`build_attempt_indexes` ends it).
pub async fn start_run(
    pool: &SqlitePool,
    account_sid: &str,
    started_at: &str,
    window: (&str, &str),
    bulk: bool,
) -> Result<i64, StoreError> {
    let id = sqlx::query_scalar(
        "INSERT INTO sync_runs (account_sid, started_at, window_start, window_end, status, bulk) \
         VALUES (?, ?, ?, ?, 'running', ?) RETURNING id",
    )
    .bind(account_sid)
    .bind(started_at)
    .bind(window.0)
    .bind(window.1)
    .bind(bulk)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Adds pages and their counts to their run, inside the pages' transaction.
pub async fn record_pages(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: i64,
    pages: u64,
    count: UpsertCount,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_runs SET pages = pages + ?, attempts_new = attempts_new + ?, attempts_updated = attempts_updated + ? WHERE id = ?",
    )
    .bind(pages as i64)
    .bind(count.new as i64)
    .bind(count.updated as i64)
    .bind(run_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Closes a run; a complete run moves its account's watermark to its window's end.
pub async fn finish_run(
    pool: &SqlitePool,
    run_id: i64,
    finished_at: &str,
    outcome: Result<(u64, u64), String>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    match &outcome {
        Ok((api_total, snapshot_total)) => {
            sqlx::query(
                "UPDATE sync_runs SET status = 'complete', finished_at = ?, api_total = ?, snapshot_total = ? WHERE id = ?",
            )
            .bind(finished_at)
            .bind(*api_total as i64)
            .bind(*snapshot_total as i64)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sync_accounts (account_sid, watermark) SELECT account_sid, window_end FROM sync_runs WHERE id = ?
                 ON CONFLICT (account_sid) DO UPDATE SET watermark = excluded.watermark",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        }
        Err(message) => {
            sqlx::query("UPDATE sync_runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?")
                .bind(finished_at)
                .bind(message)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The account's attempts in the snapshot created in `[from, to)`.
pub async fn count_attempts_between(
    pool: &SqlitePool,
    account_sid: &str,
    from: &str,
    to: &str,
) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM attempts WHERE date_created >= ? AND date_created < ? AND account_sid = ?",
    )
    .bind(from)
    .bind(to)
    .bind(account_sid)
    .fetch_one(pool)
    .await?;
    Ok(n as u64)
}

/// A run's id and window: a new run, or one that never finished because its process died.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RunWindow {
    pub id: i64,
    pub window_start: String,
    pub window_end: String,
    /// Loads an empty snapshot without indexes.
    pub bulk: bool,
}

/// The account's latest run still marked running, if any.
pub async fn interrupted_run(pool: &SqlitePool, account_sid: &str) -> Result<Option<RunWindow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, window_start, window_end, bulk FROM sync_runs WHERE status = 'running' AND account_sid = ? \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(account_sid)
    .fetch_optional(pool)
    .await?)
}

/// Whether a first sync's bulk load, of any account, stopped before it ended.
pub async fn bulk_load_open(pool: &SqlitePool) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sync_runs WHERE status = 'running' AND bulk = 1)")
        .fetch_one(pool)
        .await?)
}

/// One time slice of a run and how far it got.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SliceState {
    pub slice: i64,
    pub window_start: String,
    pub window_end: String,
    pub next_page_url: Option<String>,
    pub done: bool,
}

pub async fn create_slices(pool: &SqlitePool, run_id: i64, windows: &[(String, String)]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    for (index, (start, end)) in windows.iter().enumerate() {
        sqlx::query("INSERT INTO sync_slices (run_id, slice, window_start, window_end) VALUES (?, ?, ?, ?)")
            .bind(run_id)
            .bind(index as i64)
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn run_slices(pool: &SqlitePool, run_id: i64) -> Result<Vec<SliceState>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT slice, window_start, window_end, next_page_url, done FROM sync_slices WHERE run_id = ? ORDER BY slice",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?)
}

/// Records, with the page it follows, where a slice continues; `None` marks it done.
pub async fn advance_slice(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: i64,
    slice: i64,
    next_page_url: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sync_slices SET next_page_url = ?, done = ? WHERE run_id = ? AND slice = ?")
        .bind(next_page_url)
        .bind(next_page_url.is_none())
        .bind(run_id)
        .bind(slice)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Pages, new and updated attempts a run wrote.
pub async fn run_counts(pool: &SqlitePool, run_id: i64) -> Result<(u64, u64, u64), StoreError> {
    let (pages, new, updated): (i64, i64, i64) =
        sqlx::query_as("SELECT pages, attempts_new, attempts_updated FROM sync_runs WHERE id = ?")
            .bind(run_id)
            .fetch_one(pool)
            .await?;
    Ok((pages as u64, new as u64, updated as u64))
}

/// The start of the oldest complete sync window: what the snapshot covers back to.
pub async fn coverage_start(pool: &SqlitePool) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(window_start) FROM sync_runs WHERE status = 'complete'").fetch_one(pool).await?)
}
