//! `verilens backup`: a consistent copy of the snapshot, taken while `serve` and `sync` run.
//! The snapshot holds history the API has deleted (attempts older than 30 days exist nowhere
//! else), so losing its file loses data for good.

use std::path::Path;

use sqlx::SqlitePool;

use super::StoreError;

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    pub attempts: i64,
    pub bytes: u64,
}

/// Writes a copy of the snapshot behind `pool` to `to`, as of one moment: every transaction
/// committed before it began, none after (sqlite's `VACUUM INTO` reads inside one read
/// transaction, which in WAL mode blocks no writer). The copy is checked before it is
/// reported: it must pass `integrity_check`. `to` must not exist.
pub async fn backup(pool: &SqlitePool, to: &Path) -> Result<Backup, StoreError> {
    let shown = to.display().to_string();
    if to.exists() {
        return Err(StoreError::Backup { path: shown, why: "the file exists; choose a new name".into() });
    }
    sqlx::query("VACUUM INTO ?").bind(&shown).execute(pool).await.map_err(|e| match StoreError::from(e) {
        StoreError::DiskFull(why) => {
            StoreError::Backup { path: shown.clone(), why: format!("the disk is full ({why})") }
        }
        other => StoreError::Backup { path: shown.clone(), why: other.to_string() },
    })?;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(to).read_only(true);
    let mut copy = sqlx::ConnectOptions::connect(&options)
        .await
        .map_err(|error| StoreError::Backup { path: shown.clone(), why: error.to_string() })?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut copy).await?;
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&mut copy).await?;
    sqlx::Connection::close(copy).await.ok();
    if integrity != "ok" {
        return Err(StoreError::Backup {
            path: shown,
            why: format!("the copy fails its integrity check: {integrity}"),
        });
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Backup { attempts, bytes })
}
