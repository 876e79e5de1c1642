//! The names of the account's Verify services, as `GET /v2/Services` last listed them.

use std::collections::BTreeMap;

use sqlx::SqlitePool;

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

/// Each known service's name, by SID.
pub async fn service_names(pool: &SqlitePool) -> Result<BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT sid, friendly_name FROM services").fetch_all(pool).await?;
    Ok(rows.into_iter().collect())
}
