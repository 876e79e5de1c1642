//! The sync's bookkeeping in sqlite's page transactions, and what both stores read it as
//! (the operations on either store are `Store`'s).

use sqlx::{Sqlite, SqlitePool, Transaction};

use super::{StoreError, UpsertCount};

/// How one account's sync stands, as `/healthz` tells it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AccountSync {
    pub account_sid: String,
    /// The end of its last complete run.
    pub as_of: Option<String>,
    /// The error of its latest run, if that failed.
    pub last_error: Option<String>,
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

/// A run's id and window: a new run, or one that never finished because its process died.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RunWindow {
    pub id: i64,
    pub window_start: String,
    pub window_end: String,
    /// Loads an empty snapshot without indexes.
    pub bulk: bool,
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
