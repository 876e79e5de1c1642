//! The sync's bookkeeping in the PostgreSQL store, and the names pages show: the same
//! operations as sqlite's (`store::runs`, `store::services`), on the same tables.

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::model::VerifyService;
use crate::store::{AccountSync, RunWindow, SliceState, StoreError};

pub async fn watermark(pool: &PgPool) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(watermark) FROM sync_accounts").fetch_one(pool).await?)
}

pub async fn account_watermark(pool: &PgPool, account_sid: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT watermark FROM sync_accounts WHERE account_sid = $1")
        .bind(account_sid)
        .fetch_optional(pool)
        .await?
        .flatten())
}

pub async fn add_sync_account(pool: &PgPool, account_sid: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO sync_accounts (account_sid) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(account_sid)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn keep_sync_accounts(pool: &PgPool, listed: &[String]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM sync_accounts WHERE NOT (account_sid = ANY($1))").bind(listed).execute(&mut *tx).await?;
    let mut sorted = listed.to_vec();
    sorted.sort();
    sqlx::query("INSERT INTO sync_accounts (account_sid) SELECT * FROM UNNEST($1::text[]) ON CONFLICT DO NOTHING")
        .bind(sorted)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn account_syncs(pool: &PgPool) -> Result<Vec<AccountSync>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.account_sid, a.watermark AS as_of, \
                (SELECT CASE WHEN status = 'failed' THEN error END FROM sync_runs r \
                  WHERE r.account_sid = a.account_sid AND status != 'running' ORDER BY id DESC LIMIT 1) AS last_error \
         FROM sync_accounts a ORDER BY a.account_sid",
    )
    .fetch_all(pool)
    .await?)
}

pub async fn start_run(
    pool: &PgPool,
    account_sid: &str,
    started_at: &str,
    window: (&str, &str),
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO sync_runs (account_sid, started_at, window_start, window_end, status) \
         VALUES ($1, $2, $3, $4, 'running') RETURNING id",
    )
    .bind(account_sid)
    .bind(started_at)
    .bind(window.0)
    .bind(window.1)
    .fetch_one(pool)
    .await?)
}

pub async fn finish_run(
    pool: &PgPool,
    run_id: i64,
    finished_at: &str,
    outcome: Result<(u64, u64), String>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    match &outcome {
        Ok((api_total, snapshot_total)) => {
            sqlx::query(
                "UPDATE sync_runs SET status = 'complete', finished_at = $1, api_total = $2, snapshot_total = $3 \
                 WHERE id = $4",
            )
            .bind(finished_at)
            .bind(*api_total as i64)
            .bind(*snapshot_total as i64)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sync_accounts (account_sid, watermark) SELECT account_sid, window_end FROM sync_runs \
                 WHERE id = $1 ON CONFLICT (account_sid) DO UPDATE SET watermark = EXCLUDED.watermark",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        }
        Err(message) => {
            sqlx::query("UPDATE sync_runs SET status = 'failed', finished_at = $1, error = $2 WHERE id = $3")
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

pub async fn count_attempts_between(pool: &PgPool, account_sid: &str, from: &str, to: &str) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM attempts WHERE date_created >= $1::timestamptz AND date_created < $2::timestamptz \
         AND account_sid = $3",
    )
    .bind(from)
    .bind(to)
    .bind(account_sid)
    .fetch_one(pool)
    .await?;
    Ok(n as u64)
}

pub async fn interrupted_run(pool: &PgPool, account_sid: &str) -> Result<Option<RunWindow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, window_start, window_end, bulk FROM sync_runs WHERE status = 'running' AND account_sid = $1 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(account_sid)
    .fetch_optional(pool)
    .await?)
}

pub async fn create_slices(pool: &PgPool, run_id: i64, windows: &[(String, String)]) -> Result<(), StoreError> {
    let (starts, ends): (Vec<&str>, Vec<&str>) = windows.iter().map(|(s, e)| (s.as_str(), e.as_str())).unzip();
    sqlx::query(
        "INSERT INTO sync_slices (run_id, slice, window_start, window_end) \
         SELECT $1, ordinality - 1, window_start, window_end \
         FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS w(window_start, window_end, ordinality)",
    )
    .bind(run_id)
    .bind(starts)
    .bind(ends)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn run_slices(pool: &PgPool, run_id: i64) -> Result<Vec<SliceState>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT slice, window_start, window_end, next_page_url, done FROM sync_slices WHERE run_id = $1 ORDER BY slice",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?)
}

pub async fn run_counts(pool: &PgPool, run_id: i64) -> Result<(u64, u64, u64), StoreError> {
    let (pages, new, updated): (i64, i64, i64) =
        sqlx::query_as("SELECT pages, attempts_new, attempts_updated FROM sync_runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(pool)
            .await?;
    Ok((pages as u64, new as u64, updated as u64))
}

pub async fn coverage_start(pool: &PgPool) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(window_start) FROM sync_runs WHERE status = 'complete'").fetch_one(pool).await?)
}

pub async fn last_sync_error(pool: &PgPool) -> Result<Option<String>, StoreError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT status, error FROM sync_runs WHERE status != 'running' ORDER BY id DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(status, error)| (status == "failed").then_some(error).flatten()))
}

pub async fn save_services(pool: &PgPool, services: &[VerifyService], fetched_at: &str) -> Result<(), StoreError> {
    let mut sorted: Vec<&VerifyService> = services.iter().collect();
    sorted.sort_by(|a, b| a.sid.cmp(&b.sid));
    sorted.dedup_by(|a, b| a.sid == b.sid);
    let (sids, names): (Vec<&str>, Vec<&str>) =
        sorted.iter().map(|s| (s.sid.as_str(), s.friendly_name.as_str())).unzip();
    sqlx::query(
        "INSERT INTO services (sid, friendly_name, fetched_at) SELECT sid, name, $3 FROM UNNEST($1::text[], $2::text[]) \
         AS s(sid, name) ON CONFLICT (sid) DO UPDATE SET friendly_name = EXCLUDED.friendly_name, \
         fetched_at = EXCLUDED.fetched_at",
    )
    .bind(sids)
    .bind(names)
    .bind(fetched_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn save_account_names(pool: &PgPool, names: &[(String, String)]) -> Result<(), StoreError> {
    let sorted: BTreeMap<&str, &str> = names.iter().map(|(sid, name)| (sid.as_str(), name.as_str())).collect();
    let (sids, names): (Vec<&str>, Vec<&str>) = sorted.into_iter().unzip();
    sqlx::query(
        "INSERT INTO account_names (account_sid, friendly_name) SELECT * FROM UNNEST($1::text[], $2::text[]) \
         ON CONFLICT (account_sid) DO UPDATE SET friendly_name = EXCLUDED.friendly_name",
    )
    .bind(sids)
    .bind(names)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn friendly_names(pool: &PgPool) -> Result<BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT sid, friendly_name FROM services UNION ALL SELECT account_sid, friendly_name FROM account_names",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

pub async fn snapshot_accounts(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT account_sid FROM service_accounts ORDER BY account_sid")
        .fetch_all(pool)
        .await?)
}
