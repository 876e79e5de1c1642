//! The first sync's bulk load. Inserting random SIDs into live indexes costs a B-tree
//! descent per index and attempt; an empty snapshot is instead loaded without indexes,
//! and its indexes and rollups are built once, by sorting, when the load ends.

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::raw_insert::Value;
use super::rollups::{LoadRollups, SummedLoad};
use super::{StoreError, UpsertCount, rollups};
use crate::model::Attempt;

/// The indexes of `attempts`, as the migrations create them.
const ATTEMPT_INDEXES: [(&str, &str); 4] = [
    ("attempts_by_date", "CREATE INDEX IF NOT EXISTS attempts_by_date ON attempts (date_created DESC, sid DESC)"),
    (
        "attempts_by_price",
        "CREATE INDEX IF NOT EXISTS attempts_by_price ON attempts (price DESC, date_created DESC, sid DESC)",
    ),
    ("attempts_by_verification", "CREATE INDEX IF NOT EXISTS attempts_by_verification ON attempts (verification_sid)"),
    ("attempts_by_sid", "CREATE UNIQUE INDEX IF NOT EXISTS attempts_by_sid ON attempts (sid)"),
];

/// The names of the indexes of `attempts`.
pub fn attempt_index_names() -> Vec<&'static str> {
    ATTEMPT_INDEXES.iter().map(|(name, _)| *name).collect()
}

/// Whether the snapshot holds no attempt at all.
pub async fn snapshot_is_empty(pool: &SqlitePool) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM attempts)").fetch_one(pool).await?)
}

/// The indexes of `attempts` the snapshot lacks: those of a bulk load that has not ended.
pub async fn missing_attempt_indexes(pool: &SqlitePool) -> Result<Vec<&'static str>, StoreError> {
    let present: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attempts'")
            .fetch_all(pool)
            .await?;
    Ok(ATTEMPT_INDEXES.iter().map(|(name, _)| *name).filter(|name| !present.iter().any(|p| p == name)).collect())
}

/// Drops the indexes of `attempts` for a bulk load.
pub async fn drop_attempt_indexes(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = super::begin_write(pool).await?;
    for (name, _) in ATTEMPT_INDEXES {
        sqlx::query(&format!("DROP INDEX IF EXISTS {name}")).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rollups for a bulk load to sum as its pages are fetched, when the snapshot holds no
/// attempt yet (so that those pages are every attempt the load ends with); `None` for a
/// load that resumes one stopped part way. At most `verifications` are summed in memory
/// (`SUMMED_VERIFICATIONS` unless a test wants fewer).
pub async fn rollups_to_sum(pool: &SqlitePool, verifications: usize) -> Result<Option<LoadRollups>, StoreError> {
    if !snapshot_is_empty(pool).await? {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    let horizon = rollups::hour_horizon(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(LoadRollups::new(horizon, verifications)))
}

/// The connection a bulk load appends on, for the whole load. Its page cache is small
/// (appends need little), and it never checkpoints: sqlite's WAL writes every page twice, and
/// the second copy, from the WAL into the file, is made by another connection on another core
/// after each commit, while this one goes on appending. It is closed when it is dropped, so
/// that these settings reach no other transaction.
pub struct BulkWriter {
    connection: PoolConnection<Sqlite>,
    committed: tokio::sync::watch::Sender<()>,
}

impl BulkWriter {
    pub async fn open(pool: &SqlitePool) -> Result<BulkWriter, StoreError> {
        let mut connection = pool.acquire().await?;
        connection.close_on_drop();
        super::set_cache_kib(&mut connection, super::BULK_CACHE_KIB).await?;
        sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&mut *connection).await?;
        let (committed, mut commits) = tokio::sync::watch::channel(());
        let pool = pool.clone();
        tokio::spawn(async move {
            while commits.changed().await.is_ok() {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    tracing::debug!("a bulk load's checkpoint failed, and waits for its next commit: {e}");
                }
            }
        });
        Ok(BulkWriter { connection, committed })
    }

    /// A write transaction on the writer's connection, holding the write lock from its start.
    pub async fn begin(&mut self) -> Result<Transaction<'_, Sqlite>, StoreError> {
        Ok(Transaction::begin(&mut *self.connection, Some("BEGIN IMMEDIATE".into())).await?)
    }

    /// Has what the last transaction committed copied into the file, on another connection.
    pub fn committed(&self) {
        self.committed.send_replace(());
    }
}

/// Writes `pages` into an empty snapshot as a first sync's bulk load does: the indexes of
/// `attempts` dropped, each page appended in a transaction of its own (and recorded in `run`,
/// when given), then the indexes and the rollups built at the end. Returns the attempts written.
pub async fn bulk_load(
    pool: &SqlitePool,
    run: Option<i64>,
    pages: impl IntoIterator<Item = Vec<crate::model::Attempt>>,
) -> Result<u64, StoreError> {
    drop_attempt_indexes(pool).await?;
    let mut writer = BulkWriter::open(pool).await?;
    let mut written = 0;
    for page in pages {
        let mut tx = writer.begin().await?;
        let count = append_prepared(&mut tx, PreparedAppend::of(page)).await?;
        if let Some(run) = run {
            super::record_pages(&mut tx, run, 1, count).await?;
        }
        tx.commit().await?;
        writer.committed();
        written += count.new;
    }
    drop(writer);
    build_attempt_indexes(pool, None).await?;
    Ok(written)
}

/// A page of attempts made ready to append to a bulk load: each attempt's values in
/// `ATTEMPT_COLUMNS` order, made where the page was fetched, so that the single writer only
/// binds and steps.
pub struct PreparedAppend {
    values: Vec<Value>,
    /// Each (service, account) pair of the page, once.
    service_accounts: std::collections::BTreeSet<(String, String)>,
}

impl PreparedAppend {
    /// Takes the attempts' values without copying them. An attempt listed twice is
    /// appended twice; the load's end keeps its newest row.
    pub fn of(attempts: Vec<Attempt>) -> PreparedAppend {
        let service_accounts = attempts.iter().map(|a| (a.service_sid.clone(), a.account_sid.clone())).collect();
        PreparedAppend { values: attempts.into_iter().flat_map(super::attempt_values).collect(), service_accounts }
    }

    pub fn rows(&self) -> u64 {
        (self.values.len() / super::ATTEMPT_COLUMN_COUNT) as u64
    }
}

/// Appends a prepared page to a bulk load, without rollups: they are summed as the pages
/// are fetched, or read when the load ends.
pub async fn append_prepared(
    tx: &mut Transaction<'_, Sqlite>,
    prepared: PreparedAppend,
) -> Result<UpsertCount, StoreError> {
    super::insert_attempts(tx, "INSERT", &prepared.values).await?;
    let pairs = prepared.service_accounts.iter().map(|(service, account)| (service.as_str(), account.as_str()));
    super::services::record_service_accounts(tx, pairs).await?;
    Ok(UpsertCount { new: prepared.rows(), updated: 0 })
}

/// Ends a bulk load: builds the missing indexes of `attempts` and the rollups, in one
/// transaction; `summed` are the rollups summed as its pages were fetched, when those were
/// every attempt the snapshot holds, and otherwise they are read from the attempts. Does nothing when
/// no index is missing. An attempt the load holds twice keeps its newest row; returns how
/// many rows that removed.
pub async fn build_attempt_indexes(pool: &SqlitePool, summed: Option<LoadRollups>) -> Result<u64, StoreError> {
    if missing_attempt_indexes(pool).await?.is_empty() {
        return Ok(0);
    }
    // The write lock, held from before the rollups are read until they are written, keeps
    // any other writer from changing the attempts in between.
    let mut tx = super::begin_write(pool).await?;
    let horizon = rollups::hour_horizon(&mut tx).await?;
    let (indexed, rollups) = match summed {
        Some(summed) => {
            // The summed rollups become statements on another core while this one builds the indexes.
            let writing = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let writes = summed.into_writes();
                tracing::debug!("prepared the summed rollups in {:.2} s", started.elapsed().as_secs_f64());
                writes
            });
            let indexed = create_indexes(&mut tx).await;
            (indexed, LoadedRollups::Summed(writing.await.expect("preparing the rollups' rows panicked")))
        }
        None => {
            // The rollups are read on another connection (they need no index) while this
            // one builds the indexes: one on each core.
            let mut reader = pool.acquire().await?;
            let (indexed, read) =
                tokio::join!(create_indexes(&mut tx), rollups::read_rollups(&mut reader, horizon.clone()));
            (indexed, LoadedRollups::Read(read.map(|(delta, _)| delta)))
        }
    };
    let removed = match (indexed, rollups) {
        (Ok(()), LoadedRollups::Summed(summed)) => {
            let started = std::time::Instant::now();
            summed.replace_rollups(&mut tx).await?;
            tracing::debug!("wrote the summed rollups in {:.2} s", started.elapsed().as_secs_f64());
            0
        }
        (Ok(()), LoadedRollups::Read(read)) => {
            rollups::replace_rollups(&mut tx, read?).await?;
            0
        }
        // The load holds an attempt twice, and what was summed or read counted it twice.
        (Err(sqlx::Error::Database(e)), _) if e.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            let removed = remove_duplicates(&mut tx).await?;
            create_indexes(&mut tx).await?;
            let read = rollups::read_rollups(&mut tx, horizon).await?.0;
            rollups::replace_rollups(&mut tx, read).await?;
            removed
        }
        (Err(e), _) => return Err(e.into()),
    };
    let started = std::time::Instant::now();
    tx.commit().await?;
    // The load's WAL holds each of its pages; copied into the file, it is emptied.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
    tracing::debug!("committed the indexes and rollups in {:.2} s", started.elapsed().as_secs_f64());
    Ok(removed)
}

/// A bulk load's rollups: summed as its pages were fetched, or read from its attempts.
enum LoadedRollups {
    Summed(SummedLoad),
    Read(Result<rollups::RollupDelta, StoreError>),
}

/// Builds the missing indexes with a bulk load's cache and one more thread for sqlite's
/// sorter, which sorts and merges its runs there meanwhile; the connection's usual settings
/// come back whether the indexes could be built or not (an attempt held twice is expected).
async fn create_indexes(tx: &mut Transaction<'_, Sqlite>) -> Result<(), sqlx::Error> {
    super::set_cache_kib(tx, super::BULK_CACHE_KIB).await?;
    sqlx::query("PRAGMA threads = 1").execute(&mut **tx).await?;
    let mut created = Ok(());
    for (name, create) in ATTEMPT_INDEXES {
        let started = std::time::Instant::now();
        if let Err(e) = sqlx::query(create).execute(&mut **tx).await {
            created = Err(e);
            break;
        }
        tracing::debug!("built {name} in {:.2} s", started.elapsed().as_secs_f64());
    }
    sqlx::query("PRAGMA threads = 0").execute(&mut **tx).await?;
    super::set_cache_kib(tx, super::CACHE_KIB).await?;
    created
}

/// Keeps one row per SID: the newest `date_updated`, then the last written; the bulk run
/// that wrote the repeats no longer counts them as new.
async fn remove_duplicates(tx: &mut Transaction<'_, Sqlite>) -> Result<u64, StoreError> {
    let removed = sqlx::query(
        "DELETE FROM attempts WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER \
         (PARTITION BY sid ORDER BY date_updated DESC, rowid DESC) AS rank FROM attempts) WHERE rank > 1)",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE sync_runs SET attempts_new = attempts_new - ? WHERE id = (SELECT MAX(id) FROM sync_runs WHERE bulk = 1)",
    )
    .bind(removed as i64)
    .execute(&mut **tx)
    .await?;
    Ok(removed)
}
