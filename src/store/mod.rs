//! The sqlite snapshot: opening it (checks, migrations, settings) and its write transactions;
//! upserts, the bulk load, queries, rollups and the sync's bookkeeping in their modules.

mod backends;
mod backup;
mod bulk;
pub mod postgres;
mod queries;
mod raw_insert;
mod rollups;
mod runs;
mod services;
mod upsert;

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use sqlx::{Sqlite, SqlitePool, Transaction};

pub use backends::{Dialect, Store, SyncTurn};
pub use backup::{Backup, backup, backup_into, restore, scheduled_backup_name, snapshot_bytes};
pub use bulk::{
    BulkWriter, PreparedAppend, append_prepared, attempt_index_names, build_attempt_indexes, bulk_load,
    drop_attempt_indexes, missing_attempt_indexes, rollups_to_sum, snapshot_is_empty,
};
pub use queries::*;
pub use rollups::funnel;
pub use rollups::{
    ALL_ERRORS, AttemptFacts, AttemptRollupRow, FunnelRollupRow, Grain, HOUR_GRAIN_HOURS, HourRollupRow,
    IrregularAttempt, LoadRollups, Names, ROLLUP_VERSION, RollupChanges, RollupRows, SUMMED_VERIFICATIONS,
    VerificationRollupRow, advance_hour_horizon, channel_bit, is_converted, read_rollup_changes, read_rollup_rows,
    rebuild_rollups, rollup_generation, rollups_current,
};
pub use runs::*;
use upsert::{ATTEMPT_COLUMN_COUNT, attempt_values, insert_attempts, price_unit, price_value};
pub use upsert::{
    PendingRollups, UpsertCount, upsert_attempts, upsert_attempts_pending, upsert_attempts_without_rollups,
    write_rollups,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the snapshot {path}: {error}")]
    Open { path: String, error: sqlx::Error },
    #[error("{path} is not a verilens snapshot ({why}); verilens leaves it as it is: point --db at another file")]
    NotASnapshot { path: String, why: String },
    #[error(
        "{path} is read-only; verilens writes to its snapshot (sync, rollups): make it writable or copy it elsewhere"
    )]
    ReadOnly { path: String },
    #[error(
        "{path} was written by a newer verilens (schema version {found}, this one knows up to {known}); \
         upgrade verilens to read it"
    )]
    NewerSchema { path: String, found: i64, known: i64 },
    #[error(
        "the read replica {path} cannot be read yet: {why}; start the process whose --db migrates the \
         primary first, and let the replica catch up"
    )]
    ReadReplica { path: String, why: String },
    #[error("the snapshot {path} cannot be migrated: {error}")]
    Migrate { path: String, error: sqlx::migrate::MigrateError },
    #[error("the snapshot's disk is full ({0}); what was written before stays consistent: free space and sync again")]
    DiskFull(String),
    #[error("snapshot query failed: {0}")]
    Query(sqlx::Error),
    #[error("writing to the snapshot failed: {message} (sqlite error {code})")]
    Write { code: i32, message: String },
    #[error("the snapshot's rollups cannot be read: {0}")]
    Rollups(String),
    #[error("cannot back the snapshot up to {path}: {why}")]
    Backup { path: String, why: String },
    #[error("cannot restore {path}: {why}")]
    Restore { path: String, why: String },
    #[error(
        "the sync lease of {account_sid} was lost (this syncer held epoch {epoch}, the store is at {current:?}): \
         another syncer holds it now, and nothing of this batch was written"
    )]
    LeaseLost { account_sid: String, epoch: i64, current: Option<i64> },
    #[error(
        "{db} is a PostgreSQL database, and this command works on a sqlite snapshot file: `serve` and `sync` run \
         on PostgreSQL; back it up with its own tools (pg_dump), and its rollups are kept by its writes"
    )]
    NotServedOnPostgres { db: String },
    #[error("a sync of account {account_sid} is writing now; what it writes comes with its pages")]
    Syncing { account_sid: String },
    #[error("an attempt of account {found} cannot be written under the sync lease of {account_sid}")]
    ForeignAccount { account_sid: String, found: String },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        const SQLITE_FULL: &str = "13";
        match &error {
            sqlx::Error::Database(e) if e.code().as_deref() == Some(SQLITE_FULL) => {
                StoreError::DiskFull(error.to_string())
            }
            _ => StoreError::Query(error),
        }
    }
}

/// Limits for opening a snapshot; `max_page_count` caps the file's size (sqlite's
/// `PRAGMA max_page_count`), which is how tests run out of disk.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    pub max_page_count: Option<u64>,
}

/// Opens (creating if needed) the snapshot at `path` and brings its schema up to date.
pub async fn open(path: &Path) -> Result<SqlitePool, StoreError> {
    open_with(path, &OpenOptions::default()).await
}

/// Like `open`, with limits. A file that is not a snapshot, is read-only, or comes
/// from a newer schema is refused before anything is written to it.
pub async fn open_with(path: &Path, limits: &OpenOptions) -> Result<SqlitePool, StoreError> {
    let shown = path.display().to_string();
    if postgres::is_postgres_url(&shown) {
        return Err(StoreError::NotServedOnPostgres { db: postgres::shown_url(&shown) });
    }
    check_snapshot_file(path, &shown)?;
    let mut options = SqliteConnectOptions::from_str(&format!("sqlite://{shown}"))
        .map_err(|error| StoreError::Open { path: shown.clone(), error })?
        .create_if_missing(true)
        .busy_timeout(std::time::Duration::from_secs(10));
    // Read what the file holds before anything (even the switch to WAL) writes to it.
    let mut probe = sqlx::ConnectOptions::connect(&options)
        .await
        .map_err(|error| StoreError::Open { path: shown.clone(), error })?;
    let applied = applied_migrations(&mut probe, &shown).await;
    sqlx::Connection::close(probe).await.ok();
    let migrator = sqlx::migrate!("./migrations/sqlite");
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(found) = applied?.into_iter().filter(|v| *v > known).max() {
        return Err(StoreError::NewerSchema { path: shown, found, known });
    }
    options = options
        // For a new file only: fewer, larger pages make a bulk load's appends and its WAL
        // frames cheaper. An existing snapshot keeps the size it was created with.
        .page_size(16384)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("cache_size", format!("-{CACHE_KIB}"))
        .pragma("mmap_size", "1073741824")
        .pragma("temp_store", "file")
        // 32 MiB of WAL, in the pages above.
        .pragma("wal_autocheckpoint", "2048");
    if let Some(pages) = limits.max_page_count {
        options = options.pragma("max_page_count", pages.to_string());
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(|error| StoreError::Open { path: shown.clone(), error })?;
    migrator.run(&pool).await.map_err(|error| StoreError::Migrate { path: shown.clone(), error })?;
    let bulk_load_open = bulk_load_open(&pool).await?;
    if !bulk_load_open && !missing_attempt_indexes(&pool).await?.is_empty() {
        tracing::info!("building the indexes of {shown}, which a first sync that failed left unbuilt");
        build_attempt_indexes(&pool, None).await?;
    }
    if !rollups_current(&pool).await? {
        tracing::info!("building the rollups of {shown} from its attempts");
        rebuild_rollups(&pool).await?;
    }
    Ok(pool)
}

/// Page cache of each connection, in KiB. Random SIDs touch index pages all over the file:
/// keep them in memory, not behind pread.
const CACHE_KIB: u32 = 131_072;

/// Page cache of a bulk load's writer, in KiB. It appends and builds its indexes by
/// sorting, which need little cache, and sqlite's sorter holds as much as the cache before
/// it spills to a file: a load's memory stays flat however many attempts it holds.
const BULK_CACHE_KIB: u32 = 32_768;

/// Sets the connection's page cache: `BULK_CACHE_KIB` for a bulk load's work, `CACHE_KIB` otherwise.
async fn set_cache_kib(connection: &mut sqlx::SqliteConnection, kib: u32) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("PRAGMA cache_size = -{kib}")).execute(connection).await?;
    Ok(())
}

/// Refuses files sqlite would fail on or verilens must not write to.
fn check_snapshot_file(path: &Path, shown: &str) -> Result<(), StoreError> {
    use std::io::Read;
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(()); // created on open
    };
    if !metadata.is_file() {
        return Err(StoreError::NotASnapshot { path: shown.to_string(), why: "not a file".to_string() });
    }
    // Checked on the mode bits: root could write anyway, and must not.
    if metadata.permissions().readonly() {
        return Err(StoreError::ReadOnly { path: shown.to_string() });
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut header))
        .map_err(|e| StoreError::NotASnapshot { path: shown.to_string(), why: e.to_string() })?;
    if read > 0 && (read < header.len() || &header != b"SQLite format 3\0") {
        return Err(StoreError::NotASnapshot { path: shown.to_string(), why: "not a SQLite database".to_string() });
    }
    Ok(())
}

/// The migration versions a file has applied; an error if it holds tables but none of verilens's.
async fn applied_migrations(conn: &mut sqlx::SqliteConnection, shown: &str) -> Result<Vec<i64>, StoreError> {
    let not_ours = |why: String| StoreError::NotASnapshot { path: shown.to_string(), why };
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| not_ours(e.to_string()))?;
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(not_ours("a SQLite database of something else".to_string()));
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations").fetch_all(&mut *conn).await.map_err(StoreError::from)
}

/// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`), so
/// concurrent writers wait for each other instead of failing when they upgrade.
pub async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
    loop {
        let connection = pool.acquire().await?;
        // A commit that failed (a full disk) can leave a pooled connection that still counts
        // its transaction as open, and sqlx would refuse to begin on it: close it, take another.
        if sqlx::Connection::is_in_transaction(&*connection) {
            connection.close().await.ok();
            continue;
        }
        return Ok(Transaction::begin(connection, Some("BEGIN IMMEDIATE".into())).await?);
    }
}
