//! The sqlite snapshot: connection, migrations, upserts and the sync's bookkeeping.

mod bulk;
mod queries;
mod raw_insert;
mod rollups;
mod runs;

use std::path::Path;
use std::str::FromStr;

use rustc_hash::FxHashMap as HashMap;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

use crate::model::{Attempt, twilio_time};
pub use bulk::{
    BulkWriter, PreparedAppend, append_prepared, build_attempt_indexes, drop_attempt_indexes, missing_attempt_indexes,
    rollups_to_sum, snapshot_is_empty,
};
pub use queries::*;
use raw_insert::Value;
pub use rollups::{
    ALL_ERRORS, AttemptFacts, AttemptRollupRow, Grain, HOUR_GRAIN_HOURS, HourRollupRow, IrregularAttempt, LoadRollups,
    Names, ROLLUP_VERSION, RollupRows, SUMMED_VERIFICATIONS, VerificationRollupRow, advance_hour_horizon, channel_bit,
    is_converted, read_rollup_rows, rebuild_rollups, rollup_generation, rollups_current,
};
pub use runs::*;

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
    let migrator = sqlx::migrate!("./migrations");
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
    let bulk_load_open = interrupted_run(&pool).await?.is_some_and(|run| run.bulk);
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

/// How an upsert changed the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertCount {
    pub new: u64,
    pub updated: u64,
}

/// Columns of `attempts`, in the order `attempt_values` gives them.
const ATTEMPT_COLUMNS: &str = r#"sid, account_sid, service_sid, verification_sid, date_created, date_updated,
    conversion_status, channel, price, price_unit, "to", status, message_status, call_status, error_code,
    country, code_length, locale, mcc, mnc, carrier"#;
const ATTEMPT_COLUMN_COUNT: usize = 21;

/// Rows per UPDATE statement: 12 values each, well under sqlite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Inserts or updates attempts by SID, and their rollups; an attempt is rewritten only
/// when its `date_updated` is newer than the stored one.
pub async fn upsert_attempts(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
) -> Result<UpsertCount, StoreError> {
    let mut rollups = PendingRollups::new(tx).await?;
    let count = upsert(tx, attempts, Some(&mut rollups)).await?;
    write_rollups(tx, rollups).await?;
    Ok(count)
}

/// The rollup changes of several upserts in one transaction. Pages of the same hours
/// and days touch the same rollup rows, so the sync writes them once per transaction
/// (`write_rollups`, before the commit) instead of once per page.
pub struct PendingRollups(rollups::RollupDelta);

impl PendingRollups {
    pub async fn new(tx: &mut Transaction<'_, Sqlite>) -> Result<PendingRollups, StoreError> {
        Ok(PendingRollups(rollups::RollupDelta::new(rollups::hour_horizon(tx).await?)))
    }
}

/// `upsert_attempts` whose rollup changes wait in `rollups` for `write_rollups`; the
/// transaction must write them before it commits.
pub async fn upsert_attempts_pending(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
    rollups: &mut PendingRollups,
) -> Result<UpsertCount, StoreError> {
    upsert(tx, attempts, Some(rollups)).await
}

/// Writes the rollup changes gathered in `rollups`.
pub async fn write_rollups(tx: &mut Transaction<'_, Sqlite>, rollups: PendingRollups) -> Result<(), StoreError> {
    rollups::apply(tx, rollups.0).await
}

/// `upsert_attempts` without rollup maintenance: only for measuring what the rollups cost.
#[doc(hidden)]
pub async fn upsert_attempts_without_rollups(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
) -> Result<UpsertCount, StoreError> {
    upsert(tx, attempts, None).await
}

/// The price as stored: the API's decimal string as a number.
fn price_value(attempt: &Attempt) -> Option<f64> {
    attempt.price.as_ref()?.value.as_deref()?.parse::<f64>().ok()
}

/// The price's currency as stored: upper case.
fn price_unit(attempt: &Attempt) -> Option<String> {
    Some(attempt.price.as_ref()?.currency.as_deref()?.to_ascii_uppercase())
}

async fn upsert(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
    rollups: Option<&mut PendingRollups>,
) -> Result<UpsertCount, StoreError> {
    let mut count = UpsertCount::default();
    if attempts.is_empty() {
        return Ok(count);
    }
    let verification_sids: Vec<&str> = attempts
        .iter()
        .map(|a| a.verification_sid.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored_facts = rollups::verification_facts(tx, &verification_sids).await?;
    let stored: HashMap<&str, &str> = stored_facts.iter().map(|f| (f.sid.as_str(), f.date_updated.as_str())).collect();

    let mut changed = Vec::with_capacity(attempts.len());
    for (attempt, updated) in newest_per_sid(attempts) {
        match stored.get(attempt.sid.as_str()) {
            None => count.new += 1,
            Some(previous) if **previous < *updated => count.updated += 1,
            Some(_) => continue,
        }
        changed.push((attempt, updated));
    }
    // New attempts are inserted, known ones updated: an upsert (`ON CONFLICT`) can abort
    // part way, so sqlite journals every index page each of its statements touches; `OR
    // IGNORE` cannot, and this transaction already knows which SIDs it holds.
    let (updated, new): (Vec<_>, Vec<_>) =
        changed.iter().partition(|(attempt, _)| stored.contains_key(attempt.sid.as_str()));
    let new: Vec<&Attempt> = new.into_iter().map(|(attempt, _)| *attempt).collect();
    insert_new(tx, &new).await?;
    for chunk in updated.chunks(ROWS_PER_STATEMENT) {
        let mut update = QueryBuilder::<Sqlite>::new(
            "UPDATE attempts SET date_updated = v.column2, conversion_status = v.column3, price = v.column4, \
             price_unit = v.column5, status = v.column6, message_status = v.column7, call_status = v.column8, \
             error_code = v.column9, carrier = v.column10, mcc = v.column11, mnc = v.column12 FROM (",
        );
        update.push_values(chunk, |mut row, (attempt, updated)| {
            let data = attempt.channel_data.as_ref();
            let field = |get: fn(&crate::model::ChannelData) -> Option<&str>| data.and_then(get);
            row.push_bind(attempt.sid.as_str())
                .push_bind(updated.as_str())
                .push_bind(attempt.conversion_status.as_str())
                .push_bind(price_value(attempt))
                .push_bind(price_unit(attempt))
                .push_bind(field(|d| d.status.as_deref()))
                .push_bind(field(|d| d.message_status.as_deref()))
                .push_bind(field(|d| d.call_status.as_deref()))
                .push_bind(field(|d| d.error_code.as_deref()))
                .push_bind(field(|d| d.carrier.as_deref()))
                .push_bind(field(|d| d.mcc.as_deref()))
                .push_bind(field(|d| d.mnc.as_deref()));
        });
        update.push(") AS v WHERE attempts.sid = v.column1 AND v.column2 > attempts.date_updated");
        update.build().execute(&mut **tx).await?;
    }
    if let Some(PendingRollups(delta)) = rollups {
        let changed_facts: Vec<AttemptFacts> = changed.iter().map(|(attempt, _)| AttemptFacts::of(attempt)).collect();
        rollups::add_changes(delta, &stored_facts, &changed_facts);
    }
    Ok(count)
}

/// Each SID's newest attempt (by `date_updated`, then the later listed), in the order
/// given, with its `date_updated` formatted as stored.
fn newest_per_sid(attempts: &[Attempt]) -> Vec<(&Attempt, String)> {
    let updated: Vec<String> = attempts.iter().map(|a| twilio_time::format(&a.date_updated)).collect();
    let mut newest: HashMap<&str, usize> = HashMap::default();
    for (index, attempt) in attempts.iter().enumerate() {
        let slot = newest.entry(attempt.sid.as_str()).or_insert(index);
        if updated[*slot] <= updated[index] {
            *slot = index;
        }
    }
    attempts
        .iter()
        .zip(updated)
        .enumerate()
        .filter(|(index, (attempt, _))| newest[attempt.sid.as_str()] == *index)
        .map(|(_, row)| row)
        .collect()
}

/// Inserts attempts as new rows; a SID already stored keeps its row.
async fn insert_new(tx: &mut Transaction<'_, Sqlite>, attempts: &[&Attempt]) -> Result<(), StoreError> {
    let values: Vec<Value> = attempts.iter().flat_map(|attempt| attempt_values((*attempt).clone())).collect();
    insert_attempts(tx, "INSERT OR IGNORE", &values).await
}

/// Writes `values`, rows made by `attempt_values`, into `attempts` with `verb` (`INSERT`,
/// `INSERT OR IGNORE`).
async fn insert_attempts(tx: &mut Transaction<'_, Sqlite>, verb: &str, values: &[Value]) -> Result<(), StoreError> {
    let parameters = ["?"; ATTEMPT_COLUMN_COUNT].join(", ");
    let sql = format!("{verb} INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({parameters})");
    raw_insert::insert_rows(tx, &sql, ATTEMPT_COLUMN_COUNT, values).await
}

/// An attempt's values in `ATTEMPT_COLUMNS` order, as stored, taken without copying them.
fn attempt_values(attempt: Attempt) -> [Value; ATTEMPT_COLUMN_COUNT] {
    let (price, price_unit) = (price_value(&attempt), price_unit(&attempt));
    let data = attempt.channel_data.unwrap_or_default();
    [
        Value::Text(attempt.sid),
        Value::Text(attempt.account_sid),
        Value::Text(attempt.service_sid),
        Value::Text(attempt.verification_sid),
        Value::Text(twilio_time::format(&attempt.date_created)),
        Value::Text(twilio_time::format(&attempt.date_updated)),
        Value::StaticText(attempt.conversion_status.as_str()),
        Value::StaticText(attempt.channel.as_str()),
        price.map_or(Value::Null, Value::Real),
        price_unit.into(),
        data.to.into(),
        data.status.into(),
        data.message_status.into(),
        data.call_status.into(),
        data.error_code.into(),
        data.country.into(),
        data.code_length.map_or(Value::Null, |length| Value::Integer(i64::from(length))),
        data.locale.into(),
        data.mcc.into(),
        data.mnc.into(),
        data.carrier.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(sid: &str, date_updated: &str) -> Attempt {
        let mut json: serde_json::Value = serde_json::from_str(include_str!("../../tests/data/attempt.json")).unwrap();
        json["sid"] = sid.into();
        json["date_updated"] = date_updated.into();
        serde_json::from_value(json).unwrap()
    }

    /// Every column of every row, as text.
    async fn stored_rows(pool: &SqlitePool) -> Vec<String> {
        let columns: Vec<String> = ATTEMPT_COLUMNS.split(',').map(|c| format!("COALESCE({}, '')", c.trim())).collect();
        let sql = format!("SELECT {} FROM attempts ORDER BY sid", columns.join(" || '|' || "));
        sqlx::query_scalar(&sql).fetch_all(pool).await.unwrap()
    }

    #[tokio::test]
    async fn a_bulk_append_stores_the_rows_an_upsert_does() {
        let mut priced = attempt("VL1", "2026-11-25T10:00:05Z");
        priced.price = Some(crate::model::Price { value: Some("0.0079".into()), currency: Some("usd".into()) });
        let mut bare = attempt("VL2", "2026-11-25T10:00:06Z");
        bare.price = None;
        bare.channel_data = None;
        let attempts = vec![priced, bare, attempt("VL3", "2026-11-25T10:00:07Z")];
        let dir = tempfile::tempdir().unwrap();
        let (upserted, appended) =
            (open(&dir.path().join("u.db")).await.unwrap(), open(&dir.path().join("a.db")).await.unwrap());
        let mut tx = begin_write(&upserted).await.unwrap();
        upsert_attempts(&mut tx, &attempts).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = begin_write(&appended).await.unwrap();
        append_prepared(&mut tx, PreparedAppend::of(attempts)).await.unwrap();
        tx.commit().await.unwrap();
        let rows = stored_rows(&upserted).await;
        assert_eq!(rows.len(), 3);
        assert!(rows[0].contains("|0.0079|USD|"), "{}", rows[0]);
        assert_eq!(stored_rows(&appended).await, rows);
    }

    #[test]
    fn a_sid_listed_twice_keeps_its_newest_state() {
        let attempts = [
            attempt("VL1", "2026-11-25T10:00:05Z"),
            attempt("VL2", "2026-11-25T10:00:00Z"),
            attempt("VL1", "2026-11-25T10:00:09Z"),
            attempt("VL1", "2026-11-25T10:00:01Z"),
        ];
        let kept: Vec<(&str, String)> =
            newest_per_sid(&attempts).into_iter().map(|(a, updated)| (a.sid.as_str(), updated)).collect();
        assert_eq!(
            kept,
            vec![("VL2", "2026-11-25T10:00:00Z".to_string()), ("VL1", "2026-11-25T10:00:09Z".to_string())]
        );
    }
}
