//! The account each Verify service belongs to, kept with the attempts in sqlite's snapshot
//! (the names pages show are `Store::friendly_names`).

use sqlx::{Sqlite, Transaction};

use super::StoreError;

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
