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

/// The file name of a scheduled backup taken at `at`: names sort as their times do.
pub fn scheduled_backup_name(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("verilens-{}.db", at.format("%Y%m%dT%H%M%SZ"))
}

fn is_scheduled_backup(name: &str) -> bool {
    name.strip_prefix("verilens-")
        .and_then(|rest| rest.strip_suffix(".db"))
        .is_some_and(|stamp| chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok())
}

/// A backup into `dir` named for `at` (`scheduled_backup_name`), then the oldest scheduled
/// backups removed so that `keep` remain. Other files in `dir` are never touched.
pub async fn backup_into(
    pool: &SqlitePool,
    dir: &Path,
    at: chrono::DateTime<chrono::Utc>,
    keep: usize,
) -> Result<(std::path::PathBuf, Backup), StoreError> {
    let failed = |why: String| StoreError::Backup { path: dir.display().to_string(), why };
    std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
    let to = dir.join(scheduled_backup_name(at));
    let copy = backup(pool, &to).await?;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| failed(e.to_string()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| is_scheduled_backup(name))
        .collect();
    names.sort();
    let surplus = names.len().saturating_sub(keep.max(1));
    for name in &names[..surplus] {
        if let Err(e) = std::fs::remove_file(dir.join(name)) {
            tracing::warn!("the old backup {name} could not be removed: {e}");
        }
    }
    Ok((to, copy))
}

/// Puts the backup `from` in place as the snapshot `to`, which must not exist (move the
/// current one aside first, with verilens stopped). The backup is checked first
/// (`integrity_check`, a verilens snapshot) and copied to a temporary file beside `to`, so
/// that `to` appears whole or not at all.
pub async fn restore(from: &Path, to: &Path) -> Result<Backup, StoreError> {
    let refused = |why: String| StoreError::Restore { path: from.display().to_string(), why };
    if to.exists() {
        return Err(refused(format!(
            "{} exists; stop verilens and move it aside first, so that nothing is lost",
            to.display()
        )));
    }
    if !from.is_file() {
        return Err(refused("there is no such file".into()));
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(from).read_only(true);
    let mut backup =
        sqlx::ConnectOptions::connect(&options).await.map_err(|e| refused(format!("it cannot be opened: {e}")))?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut backup)
        .await
        .map_err(|e| refused(format!("it is not a sqlite database: {e}")))?;
    if integrity != "ok" {
        return Err(refused(format!("it fails its integrity check: {integrity}")));
    }
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts")
        .fetch_one(&mut backup)
        .await
        .map_err(|_| refused("it is not a verilens snapshot".into()))?;
    sqlx::Connection::close(backup).await.ok();
    let partial = to.with_extension("restoring");
    let copied = std::fs::copy(from, &partial)
        .and_then(|bytes| std::fs::File::open(&partial)?.sync_all().map(|()| bytes))
        .and_then(|bytes| std::fs::rename(&partial, to).map(|()| bytes));
    match copied {
        Ok(bytes) => Ok(Backup { attempts, bytes }),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(refused(format!("it could not be copied to {}: {e}", to.display())))
        }
    }
}

/// The size of the snapshot's database file (its write-ahead log aside).
pub async fn snapshot_bytes(pool: &SqlitePool) -> Result<u64, StoreError> {
    let bytes: i64 = sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        .fetch_one(pool)
        .await?;
    Ok(bytes.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheduled_backups_are_counted_for_removal() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T04:05:06Z").unwrap().to_utc();
        let name = scheduled_backup_name(at);
        assert_eq!(name, "verilens-20261201T040506Z.db");
        assert!(is_scheduled_backup(&name));
        for other in ["verilens.db", "verilens-manual.db", "verilens-20261201T040506Z.db-wal", "notes.txt"] {
            assert!(!is_scheduled_backup(other), "{other}");
        }
    }
}
