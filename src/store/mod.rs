//! The sqlite snapshot: connection, migrations, upserts and the sync's bookkeeping.

mod queries;

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::model::{Attempt, twilio_time};
pub use queries::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the snapshot {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("the snapshot {path} cannot be migrated: {source}")]
    Migrate { path: String, source: sqlx::migrate::MigrateError },
    #[error("snapshot query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Opens (creating if needed) the snapshot at `path` and brings its schema up to date.
pub async fn open(path: &Path) -> Result<SqlitePool, StoreError> {
    let shown = path.display().to_string();
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{shown}"))
        .map_err(|source| StoreError::Open { path: shown.clone(), source })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open { path: shown.clone(), source })?;
    sqlx::migrate!("./migrations").run(&pool).await.map_err(|source| StoreError::Migrate { path: shown, source })?;
    Ok(pool)
}

/// How an upsert changed the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertCount {
    pub new: u64,
    pub updated: u64,
}

/// Inserts or updates attempts by SID; an older `date_updated` never overwrites a newer one.
pub async fn upsert_attempts(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
) -> Result<UpsertCount, StoreError> {
    let mut count = UpsertCount::default();
    for attempt in attempts {
        let data = attempt.channel_data.clone().unwrap_or_default();
        let price = attempt.price.as_ref();
        let existing: Option<(String,)> = sqlx::query_as("SELECT date_updated FROM attempts WHERE sid = ?")
            .bind(&attempt.sid)
            .fetch_optional(&mut **tx)
            .await?;
        let updated = twilio_time::format(&attempt.date_updated);
        match existing {
            Some((stored,)) if stored > updated => continue,
            Some((stored,)) if stored == updated => {
                // Unchanged timestamps can still carry a settled price or status.
            }
            Some(_) => count.updated += 1,
            None => count.new += 1,
        }
        sqlx::query(
            r#"INSERT INTO attempts (sid, account_sid, service_sid, verification_sid, date_created, date_updated,
                   conversion_status, channel, price, price_unit, "to", status, message_status, call_status,
                   error_code, country, code_length, locale, mcc, mnc, carrier)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (sid) DO UPDATE SET
                   date_updated = excluded.date_updated, conversion_status = excluded.conversion_status,
                   price = excluded.price, price_unit = excluded.price_unit, status = excluded.status,
                   message_status = excluded.message_status, call_status = excluded.call_status,
                   error_code = excluded.error_code, carrier = excluded.carrier, mcc = excluded.mcc,
                   mnc = excluded.mnc
               WHERE excluded.date_updated >= attempts.date_updated"#,
        )
        .bind(&attempt.sid)
        .bind(&attempt.account_sid)
        .bind(&attempt.service_sid)
        .bind(&attempt.verification_sid)
        .bind(twilio_time::format(&attempt.date_created))
        .bind(&updated)
        .bind(attempt.conversion_status.as_str())
        .bind(attempt.channel.as_str())
        .bind(price.and_then(|p| p.value.as_deref()).and_then(|v| v.parse::<f64>().ok()))
        .bind(price.and_then(|p| p.currency.as_deref()).map(str::to_ascii_uppercase))
        .bind(data.to)
        .bind(data.status)
        .bind(data.message_status)
        .bind(data.call_status)
        .bind(data.error_code)
        .bind(data.country)
        .bind(data.code_length.map(i64::from))
        .bind(data.locale)
        .bind(data.mcc)
        .bind(data.mnc)
        .bind(data.carrier)
        .execute(&mut **tx)
        .await?;
    }
    Ok(count)
}

/// Where the next incremental sync starts, if a sync ever completed.
pub async fn watermark(pool: &SqlitePool) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT watermark FROM sync_state WHERE id = 1").fetch_optional(pool).await?)
}

/// Records that a run is starting; returns its id.
pub async fn start_run(pool: &SqlitePool, started_at: &str, window: (&str, &str)) -> Result<i64, StoreError> {
    let id = sqlx::query_scalar(
        "INSERT INTO sync_runs (started_at, window_start, window_end, status) VALUES (?, ?, ?, 'running') RETURNING id",
    )
    .bind(started_at)
    .bind(window.0)
    .bind(window.1)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Adds one page's counts to its run, inside the page's transaction.
pub async fn record_page(tx: &mut Transaction<'_, Sqlite>, run_id: i64, count: UpsertCount) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_runs SET pages = pages + 1, attempts_new = attempts_new + ?, attempts_updated = attempts_updated + ? WHERE id = ?",
    )
    .bind(count.new as i64)
    .bind(count.updated as i64)
    .bind(run_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Closes a run; a complete run moves the watermark to its window's end.
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
                "INSERT INTO sync_state (id, watermark) SELECT 1, window_end FROM sync_runs WHERE id = ?
                 ON CONFLICT (id) DO UPDATE SET watermark = excluded.watermark",
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

/// Attempts in the snapshot created in `[from, to)`.
pub async fn count_attempts_between(pool: &SqlitePool, from: &str, to: &str) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts WHERE date_created >= ? AND date_created < ?")
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}
