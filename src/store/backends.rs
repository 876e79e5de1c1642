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

    /// Gives the turn up, for another process to take at once.
    pub async fn release(self) {
        if let SyncTurn::Leased(lease) = self {
            lease.release().await;
        }
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

/// This machine's name, for `sync_leases.holder`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "verilens".to_string())
}
