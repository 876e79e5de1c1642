//! The names of the Verify services, as `GET /v2/Services` last listed them, and of the
//! accounts, as the accounts file gives them; and the account each service belongs to.

use std::collections::BTreeMap;

use sqlx::{Sqlite, SqlitePool, Transaction};

use super::StoreError;
use crate::model::VerifyService;

/// Keeps the services' names as of `fetched_at`, in one transaction.
pub async fn save_services(pool: &SqlitePool, services: &[VerifyService], fetched_at: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    for service in services {
        sqlx::query(
            "INSERT INTO services (sid, friendly_name, fetched_at) VALUES (?, ?, ?) \
             ON CONFLICT (sid) DO UPDATE SET friendly_name = excluded.friendly_name, fetched_at = excluded.fetched_at",
        )
        .bind(&service.sid)
        .bind(&service.friendly_name)
        .bind(fetched_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Keeps the names of accounts, by SID, as the accounts file gives them.
pub async fn save_account_names(pool: &SqlitePool, names: &[(String, String)]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    for (sid, name) in names {
        sqlx::query(
            "INSERT INTO account_names (account_sid, friendly_name) VALUES (?, ?) \
             ON CONFLICT (account_sid) DO UPDATE SET friendly_name = excluded.friendly_name",
        )
        .bind(sid)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Each known service's and account's name, by SID.
pub async fn friendly_names(pool: &SqlitePool) -> Result<BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT sid, friendly_name FROM services UNION ALL SELECT account_sid, friendly_name FROM account_names",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The accounts whose attempts the snapshot holds, by SID.
pub async fn snapshot_accounts(pool: &SqlitePool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT account_sid FROM service_accounts ORDER BY account_sid")
        .fetch_all(pool)
        .await?)
}

/// Records the account of each (service, account) pair of attempts being written, in their
/// transaction; a service keeps the first account it was seen with.
pub(super) async fn record_service_accounts<'a>(
    tx: &mut Transaction<'_, Sqlite>,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), StoreError> {
    let pairs: std::collections::BTreeSet<(&str, &str)> = pairs.into_iter().collect();
    for (service, account) in pairs {
        sqlx::query("INSERT OR IGNORE INTO service_accounts (service_sid, account_sid) VALUES (?, ?)")
            .bind(service)
            .bind(account)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Records the account of every service the snapshot's attempts hold: after a rebuild.
pub(super) async fn record_all_service_accounts(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    sqlx::query("INSERT OR IGNORE INTO service_accounts SELECT DISTINCT service_sid, account_sid FROM attempts")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The account of each service the snapshot's attempts hold, as (service, account).
pub(super) async fn service_accounts(tx: &mut Transaction<'_, Sqlite>) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT service_sid, account_sid FROM service_accounts").fetch_all(&mut **tx).await?)
}
