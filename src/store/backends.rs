//! The store behind everything else: sqlite's snapshot file or a shared PostgreSQL database,
//! one set of operations over the two, each a `match` here. Why an enum and not `sqlx::Any`:
//! `docs/decisions/postgres-store.md`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sqlx::SqlitePool;

use super::postgres::{self, Fence, Postgres, SyncLease};
use super::{AccountSync, LoadRollups, RollupChanges, RollupRows, RunWindow, SliceState, StoreError};
use crate::model::VerifyService;

/// An open store.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(Arc<Postgres>),
}

/// Runs the same code on either store's pool: `$pool` is the `SqlitePool` or the `PgPool`, and
/// `$dialect` says whose SQL to write where the two differ. The body is compiled once for each.
#[macro_export]
macro_rules! on_either {
    ($store:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => {
                let $dialect = $crate::store::Dialect::Sqlite;
                $body
            }
            $crate::store::Store::Postgres(postgres) => {
                let $pool = &postgres.pool;
                let $dialect = $crate::store::Dialect::Postgres;
                $body
            }
        }
    };
}

/// Where the two stores' SQL differs: sqlite keeps times as ISO 8601 text, PostgreSQL as
/// `timestamptz`; their functions and their order of NULLs differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `column`, a time, as Twilio's text (`2026-11-30T12:00:00Z`).
    pub fn time_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_string(),
            Dialect::Postgres => format!(r#"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"#),
        }
    }

    /// What follows a bound time (Twilio's text) so that it compares with a time column.
    pub fn time_cast(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "::timestamptz",
        }
    }

    /// What follows a bound integer used as a function's `int` argument.
    pub fn int_cast(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "::int",
        }
    }

    /// The UTC hour of a time column, as `2026-11-30T12`.
    pub fn hour_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("substr({column}, 1, 13)"),
            Dialect::Postgres => format!(r#"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')"#),
        }
    }

    /// The sum of a float expression, 0.0 over no rows.
    pub fn total(self, expression: &str) -> String {
        match self {
            Dialect::Sqlite => format!("TOTAL({expression})"),
            Dialect::Postgres => format!("COALESCE(SUM({expression}), 0)::float8"),
        }
    }

    /// The character with this code.
    pub fn char(self, code: u32) -> String {
        match self {
            Dialect::Sqlite => format!("char({code})"),
            Dialect::Postgres => format!("chr({code})"),
        }
    }

    /// The larger of two values.
    pub fn greatest(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("max({a}, {b})"),
            Dialect::Postgres => format!("GREATEST({a}, {b})"),
        }
    }

    /// After `DESC` in an ORDER BY: NULLs last, as sqlite orders them.
    pub fn nulls_last(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " NULLS LAST",
        }
    }
}

/// Who may sync an account now. A sqlite snapshot has one syncing process (its role says which);
/// on PostgreSQL it is the holder of the account's lease, whose writes show its fence.
pub enum SyncTurn {
    Sole,
    Leased(SyncLease),
}

impl SyncTurn {
    /// What this turn's writes show, on PostgreSQL.
    pub fn fence(&self) -> Option<Fence> {
        match self {
            SyncTurn::Sole => None,
            SyncTurn::Leased(lease) => Some(lease.fence().clone()),
        }
    }

    /// Whether the turn still holds: a lease whose connection is gone does not.
    pub async fn is_held(&mut self) -> bool {
        match self {
            SyncTurn::Sole => true,
            SyncTurn::Leased(lease) => lease.is_held().await,
        }
    }

    /// Gives the turn up, for another process to take at once.
    pub async fn release(self) {
        if let SyncTurn::Leased(lease) = self {
            lease.release().await;
        }
    }
}

impl From<SqlitePool> for Store {
    fn from(pool: SqlitePool) -> Store {
        Store::Sqlite(pool)
    }
}

impl Store {
    /// Opens the store `db` names: a PostgreSQL URL (`postgres://…`), or a sqlite file's path.
    pub async fn open(db: &Path) -> Result<Store, StoreError> {
        let text = db.to_string_lossy();
        if postgres::is_postgres_url(&text) {
            return Ok(Store::Postgres(Arc::new(postgres::open(&text).await?)));
        }
        Ok(Store::Sqlite(super::open(db).await?))
    }

    /// The store as logs and errors show it: never a password.
    pub fn shown(&self) -> String {
        match self {
            Store::Sqlite(pool) => pool.connect_options().get_filename().display().to_string(),
            Store::Postgres(pg) => pg.shown.clone(),
        }
    }

    /// The sqlite snapshot, for what only sqlite has (backups, the bulk load).
    pub fn sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Store::Sqlite(pool) => Some(pool),
            Store::Postgres(_) => None,
        }
    }

    /// The right to sync `account_sid` now, or `None` while another process holds it.
    pub async fn take_sync_turn(&self, account_sid: &str) -> Result<Option<SyncTurn>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(Some(SyncTurn::Sole)),
            Store::Postgres(pg) => {
                let holder = format!("{} pid {}", hostname(), std::process::id());
                Ok(SyncLease::try_acquire(&pg.options, account_sid, &holder).await?.map(SyncTurn::Leased))
            }
        }
    }

    /// Writes one attempt as a sync would (only when it is newer than the stored copy), with
    /// its rollups. On PostgreSQL it takes its account's lease for the write, and says so when
    /// a sync holds it.
    pub async fn write_attempt(&self, attempt: &crate::model::Attempt) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => {
                let mut tx = super::begin_write(pool).await?;
                super::upsert_attempts(&mut tx, std::slice::from_ref(attempt)).await?;
                tx.commit().await?;
            }
            Store::Postgres(pg) => {
                let Some(turn) = self.take_sync_turn(&attempt.account_sid).await? else {
                    return Err(StoreError::Syncing { account_sid: attempt.account_sid.clone() });
                };
                let fence = turn.fence().expect("PostgreSQL's turn is a lease");
                let written = postgres::upsert_attempts(&pg.pool, &fence, std::slice::from_ref(attempt)).await;
                turn.release().await;
                written?;
            }
        }
        Ok(())
    }

    /// What the store takes on disk: the snapshot file, or the PostgreSQL database.
    pub async fn bytes(&self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(pool) => super::snapshot_bytes(pool).await,
            Store::Postgres(pg) => {
                let bytes: i64 =
                    sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(&pg.pool).await?;
                Ok(bytes.max(0) as u64)
            }
        }
    }

    /// The right to evaluate alert rules and send their messages now, or `None` while another
    /// process has it: on PostgreSQL, where several processes may have the sync role, one of
    /// them at a time, so that each message is sent once.
    pub async fn take_alerts_turn(&self) -> Result<Option<SyncTurn>, StoreError> {
        self.take_sync_turn(ALERTS_LEASE).await
    }

    pub async fn watermark(&self) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::watermark(pool).await,
            Store::Postgres(pg) => postgres::runs::watermark(&pg.pool).await,
        }
    }

    pub async fn account_watermark(&self, account_sid: &str) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::account_watermark(pool, account_sid).await,
            Store::Postgres(pg) => postgres::runs::account_watermark(&pg.pool, account_sid).await,
        }
    }

    pub async fn add_sync_account(&self, account_sid: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::add_sync_account(pool, account_sid).await,
            Store::Postgres(pg) => postgres::runs::add_sync_account(&pg.pool, account_sid).await,
        }
    }

    pub async fn keep_sync_accounts(&self, listed: &[String]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::keep_sync_accounts(pool, listed).await,
            Store::Postgres(pg) => postgres::runs::keep_sync_accounts(&pg.pool, listed).await,
        }
    }

    pub async fn account_syncs(&self) -> Result<Vec<AccountSync>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::account_syncs(pool).await,
            Store::Postgres(pg) => postgres::runs::account_syncs(&pg.pool).await,
        }
    }

    pub async fn interrupted_run(&self, account_sid: &str) -> Result<Option<RunWindow>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::interrupted_run(pool, account_sid).await,
            Store::Postgres(pg) => postgres::runs::interrupted_run(&pg.pool, account_sid).await,
        }
    }

    /// Records that a run is starting; returns its id. Only sqlite's runs are ever `bulk`.
    pub async fn start_run(
        &self,
        account_sid: &str,
        started_at: &str,
        window: (&str, &str),
        bulk: bool,
    ) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(pool) => super::start_run(pool, account_sid, started_at, window, bulk).await,
            Store::Postgres(pg) => postgres::runs::start_run(&pg.pool, account_sid, started_at, window).await,
        }
    }

    pub async fn create_slices(&self, run_id: i64, windows: &[(String, String)]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::create_slices(pool, run_id, windows).await,
            Store::Postgres(pg) => postgres::runs::create_slices(&pg.pool, run_id, windows).await,
        }
    }

    pub async fn run_slices(&self, run_id: i64) -> Result<Vec<SliceState>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::run_slices(pool, run_id).await,
            Store::Postgres(pg) => postgres::runs::run_slices(&pg.pool, run_id).await,
        }
    }

    pub async fn finish_run(
        &self,
        run_id: i64,
        finished_at: &str,
        outcome: Result<(u64, u64), String>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::finish_run(pool, run_id, finished_at, outcome).await,
            Store::Postgres(pg) => postgres::runs::finish_run(&pg.pool, run_id, finished_at, outcome).await,
        }
    }

    pub async fn count_attempts_between(&self, account_sid: &str, from: &str, to: &str) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(pool) => super::count_attempts_between(pool, account_sid, from, to).await,
            Store::Postgres(pg) => postgres::runs::count_attempts_between(&pg.pool, account_sid, from, to).await,
        }
    }

    pub async fn run_counts(&self, run_id: i64) -> Result<(u64, u64, u64), StoreError> {
        match self {
            Store::Sqlite(pool) => super::run_counts(pool, run_id).await,
            Store::Postgres(pg) => postgres::runs::run_counts(&pg.pool, run_id).await,
        }
    }

    pub async fn coverage_start(&self) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::coverage_start(pool).await,
            Store::Postgres(pg) => postgres::runs::coverage_start(&pg.pool).await,
        }
    }

    pub async fn last_sync_error(&self) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::last_sync_error(pool).await,
            Store::Postgres(pg) => postgres::runs::last_sync_error(&pg.pool).await,
        }
    }

    pub async fn advance_hour_horizon(&self, time: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::advance_hour_horizon(pool, time).await,
            Store::Postgres(pg) => postgres::advance_hour_horizon(&pg.pool, time).await,
        }
    }

    pub async fn save_services(&self, services: &[VerifyService], fetched_at: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::save_services(pool, services, fetched_at).await,
            Store::Postgres(pg) => postgres::runs::save_services(&pg.pool, services, fetched_at).await,
        }
    }

    pub async fn save_account_names(&self, names: &[(String, String)]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::save_account_names(pool, names).await,
            Store::Postgres(pg) => postgres::runs::save_account_names(&pg.pool, names).await,
        }
    }

    pub async fn friendly_names(&self) -> Result<BTreeMap<String, String>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::friendly_names(pool).await,
            Store::Postgres(pg) => postgres::runs::friendly_names(&pg.pool).await,
        }
    }

    pub async fn snapshot_accounts(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::snapshot_accounts(pool).await,
            Store::Postgres(pg) => postgres::runs::snapshot_accounts(&pg.pool).await,
        }
    }

    pub async fn rollup_generation(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(pool) => super::rollup_generation(pool).await,
            Store::Postgres(pg) => postgres::rollup_generation(&pg.pool).await,
        }
    }

    pub async fn read_rollup_rows(&self) -> Result<RollupRows, StoreError> {
        match self {
            Store::Sqlite(pool) => super::read_rollup_rows(pool).await,
            Store::Postgres(pg) => postgres::read_rollup_rows(&pg.pool).await,
        }
    }

    pub async fn read_rollup_changes(&self, since: i64) -> Result<RollupChanges, StoreError> {
        match self {
            Store::Sqlite(pool) => super::read_rollup_changes(pool, since).await,
            Store::Postgres(pg) => postgres::read_rollup_changes(&pg.pool, since).await,
        }
    }

    /// Whether a first sync may load the store without indexes and build them at the end:
    /// sqlite's empty snapshot. PostgreSQL keeps its indexes and rollups as it goes.
    pub async fn may_bulk_load(&self) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(pool) => super::snapshot_is_empty(pool).await,
            Store::Postgres(_) => Ok(false),
        }
    }

    /// Builds the indexes a bulk load left unbuilt (sqlite), with its summed rollups if any;
    /// returns the attempts it found listed twice.
    pub async fn build_attempt_indexes(&self, summed: Option<LoadRollups>) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(pool) => super::build_attempt_indexes(pool, summed).await,
            Store::Postgres(_) => Ok(0),
        }
    }

    pub async fn drop_attempt_indexes(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::drop_attempt_indexes(pool).await,
            Store::Postgres(_) => Ok(()),
        }
    }

    pub async fn rollups_to_sum(&self, verifications: usize) -> Result<Option<LoadRollups>, StoreError> {
        match self {
            Store::Sqlite(pool) => super::rollups_to_sum(pool, verifications).await,
            Store::Postgres(_) => Ok(None),
        }
    }
}

/// The name of the alerts' lease in `sync_leases`, beside the accounts' SIDs.
const ALERTS_LEASE: &str = "alerts";

/// This machine's name, for `sync_leases.holder`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "verilens".to_string())
}
