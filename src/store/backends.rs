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

    /// A read replica of a PostgreSQL snapshot (`--read-db`), for the figures a dashboard shows.
    pub async fn open_read_replica(url: &str) -> Result<Store, StoreError> {
        if !postgres::is_postgres_url(url) {
            return Err(StoreError::NotASnapshot {
                path: "the --read-db URL".to_string(),
                why: "a read replica is a PostgreSQL database's URL (postgres://…)".to_string(),
            });
        }
        Ok(Store::Postgres(Arc::new(postgres::open_read_replica(url).await?)))
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

    /// Writes attempts as a sync would (each only when it is newer than the stored copy), with
    /// their rollups, in one transaction per account. On PostgreSQL it takes each account's
    /// lease for its write, and says so when a sync holds it.
    pub async fn write_attempts(&self, attempts: &[crate::model::Attempt]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => {
                let mut tx = super::begin_write(pool).await?;
                super::upsert_attempts(&mut tx, attempts).await?;
                tx.commit().await?;
            }
            Store::Postgres(pg) => {
                let mut by_account: BTreeMap<&str, Vec<crate::model::Attempt>> = BTreeMap::new();
                for attempt in attempts {
                    by_account.entry(&attempt.account_sid).or_default().push(attempt.clone());
                }
                for (account_sid, attempts) in by_account {
                    let Some(turn) = self.take_sync_turn(account_sid).await? else {
                        return Err(StoreError::Syncing { account_sid: account_sid.to_string() });
                    };
                    let fence = turn.fence().expect("PostgreSQL's turn is a lease");
                    let written = postgres::upsert_attempts(&pg.pool, &fence, &attempts).await;
                    turn.release().await;
                    written?;
                }
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

    /// What the store is complete up to: the earliest of its accounts' watermarks, once one
    /// completed a sync.
    pub async fn watermark(&self) -> Result<Option<String>, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_scalar("SELECT MIN(watermark) FROM sync_accounts").fetch_one(pool).await?
        }))
    }

    /// Where the account's next incremental sync starts, if a sync of it ever completed.
    pub async fn account_watermark(&self, account_sid: &str) -> Result<Option<String>, StoreError> {
        let watermark: Option<Option<String>> = on_either!(self, |pool, _dialect| {
            sqlx::query_scalar("SELECT watermark FROM sync_accounts WHERE account_sid = $1")
                .bind(account_sid)
                .fetch_optional(pool)
                .await?
        });
        Ok(watermark.flatten())
    }

    /// Adds the account to those the deployment syncs, if it is new.
    pub async fn add_sync_account(&self, account_sid: &str) -> Result<(), StoreError> {
        on_either!(self, |pool, _dialect| {
            sqlx::query("INSERT INTO sync_accounts (account_sid) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(account_sid)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Makes `listed` the accounts the deployment syncs: one no longer listed stops holding back
    /// the store's watermark (its attempts stay; listed again, it syncs Twilio's whole window).
    pub async fn keep_sync_accounts(&self, listed: &[String]) -> Result<(), StoreError> {
        let mut sorted = listed.to_vec();
        sorted.sort();
        on_either!(self, |pool, _dialect| {
            let mut tx = pool.begin().await?;
            let known: Vec<String> = sqlx::query_scalar("SELECT account_sid FROM sync_accounts ORDER BY account_sid")
                .fetch_all(&mut *tx)
                .await?;
            for gone in known.iter().filter(|account| !listed.contains(account)) {
                sqlx::query("DELETE FROM sync_accounts WHERE account_sid = $1").bind(gone).execute(&mut *tx).await?;
            }
            for account in &sorted {
                sqlx::query("INSERT INTO sync_accounts (account_sid) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every account the deployment syncs, by SID, as `/healthz` tells it.
    pub async fn account_syncs(&self) -> Result<Vec<AccountSync>, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_as(
                "SELECT a.account_sid, a.watermark AS as_of, \
                        (SELECT CASE WHEN status = 'failed' THEN error END FROM sync_runs r \
                          WHERE r.account_sid = a.account_sid AND status != 'running' ORDER BY id DESC LIMIT 1) \
                        AS last_error \
                 FROM sync_accounts a ORDER BY a.account_sid",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// The account's latest run still marked running, if any.
    pub async fn interrupted_run(&self, account_sid: &str) -> Result<Option<RunWindow>, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_as(
                "SELECT id, window_start, window_end, bulk FROM sync_runs WHERE status = 'running' AND account_sid = $1 \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(account_sid)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records that a run is starting; returns its id. Only sqlite's runs are ever `bulk`.
    /// Records that a run is starting; returns its id. A `bulk` run (sqlite's only) loads an
    /// empty snapshot without indexes (`build_attempt_indexes` ends it).
    pub async fn start_run(
        &self,
        account_sid: &str,
        started_at: &str,
        window: (&str, &str),
        bulk: bool,
    ) -> Result<i64, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_scalar(
                "INSERT INTO sync_runs (account_sid, started_at, window_start, window_end, status, bulk) \
                 VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id",
            )
            .bind(account_sid)
            .bind(started_at)
            .bind(window.0)
            .bind(window.1)
            .bind(bulk)
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn create_slices(&self, run_id: i64, windows: &[(String, String)]) -> Result<(), StoreError> {
        on_either!(self, |pool, _dialect| {
            let mut tx = pool.begin().await?;
            for (index, (start, end)) in windows.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO sync_slices (run_id, slice, window_start, window_end) VALUES ($1, $2, $3, $4)",
                )
                .bind(run_id)
                .bind(index as i64)
                .bind(start)
                .bind(end)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn run_slices(&self, run_id: i64) -> Result<Vec<SliceState>, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_as(
                "SELECT slice, window_start, window_end, next_page_url, done FROM sync_slices WHERE run_id = $1 \
                 ORDER BY slice",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Closes a run; a complete run moves its account's watermark to its window's end.
    pub async fn finish_run(
        &self,
        run_id: i64,
        finished_at: &str,
        outcome: Result<(u64, u64), String>,
    ) -> Result<(), StoreError> {
        on_either!(self, |pool, _dialect| {
            let mut tx = pool.begin().await?;
            match &outcome {
                Ok((api_total, snapshot_total)) => {
                    sqlx::query(
                        "UPDATE sync_runs SET status = 'complete', finished_at = $1, api_total = $2, \
                         snapshot_total = $3 WHERE id = $4",
                    )
                    .bind(finished_at)
                    .bind(*api_total as i64)
                    .bind(*snapshot_total as i64)
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO sync_accounts (account_sid, watermark) SELECT account_sid, window_end \
                         FROM sync_runs WHERE id = $1 \
                         ON CONFLICT (account_sid) DO UPDATE SET watermark = excluded.watermark",
                    )
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
                }
                Err(message) => {
                    sqlx::query("UPDATE sync_runs SET status = 'failed', finished_at = $1, error = $2 WHERE id = $3")
                        .bind(finished_at)
                        .bind(message)
                        .bind(run_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The account's attempts in the store created in `[from, to)`.
    pub async fn count_attempts_between(&self, account_sid: &str, from: &str, to: &str) -> Result<u64, StoreError> {
        let n: i64 = on_either!(self, |pool, dialect| {
            let cast = dialect.time_cast();
            sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM attempts WHERE date_created >= $1{cast} AND date_created < $2{cast} \
                 AND account_sid = $3"
            ))
            .bind(from)
            .bind(to)
            .bind(account_sid)
            .fetch_one(pool)
            .await?
        });
        Ok(n as u64)
    }

    /// Pages, new and updated attempts a run wrote.
    pub async fn run_counts(&self, run_id: i64) -> Result<(u64, u64, u64), StoreError> {
        let (pages, new, updated): (i64, i64, i64) = on_either!(self, |pool, _dialect| {
            sqlx::query_as("SELECT pages, attempts_new, attempts_updated FROM sync_runs WHERE id = $1")
                .bind(run_id)
                .fetch_one(pool)
                .await?
        });
        Ok((pages as u64, new as u64, updated as u64))
    }

    /// The start of the oldest complete sync window: what the store covers back to.
    pub async fn coverage_start(&self) -> Result<Option<String>, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_scalar("SELECT MIN(window_start) FROM sync_runs WHERE status = 'complete'")
                .fetch_one(pool)
                .await?
        }))
    }

    /// The error of the most recent run, if it failed.
    pub async fn last_sync_error(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String, Option<String>)> = on_either!(self, |pool, _dialect| {
            sqlx::query_as("SELECT status, error FROM sync_runs WHERE status != 'running' ORDER BY id DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(row.and_then(|(status, error)| (status == "failed").then_some(error).flatten()))
    }

    pub async fn advance_hour_horizon(&self, time: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => super::advance_hour_horizon(pool, time).await,
            Store::Postgres(pg) => postgres::advance_hour_horizon(&pg.pool, time).await,
        }
    }

    /// Keeps the services' names as of `fetched_at`, in one transaction.
    pub async fn save_services(&self, services: &[VerifyService], fetched_at: &str) -> Result<(), StoreError> {
        let sorted: BTreeMap<&str, &str> =
            services.iter().map(|s| (s.sid.as_str(), s.friendly_name.as_str())).collect();
        on_either!(self, |pool, _dialect| {
            let mut tx = pool.begin().await?;
            for (sid, name) in &sorted {
                sqlx::query(
                    "INSERT INTO services (sid, friendly_name, fetched_at) VALUES ($1, $2, $3) ON CONFLICT (sid) \
                     DO UPDATE SET friendly_name = excluded.friendly_name, fetched_at = excluded.fetched_at",
                )
                .bind(sid)
                .bind(name)
                .bind(fetched_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Keeps the names of accounts, by SID, as the accounts file gives them.
    pub async fn save_account_names(&self, names: &[(String, String)]) -> Result<(), StoreError> {
        let sorted: BTreeMap<&str, &str> = names.iter().map(|(sid, name)| (sid.as_str(), name.as_str())).collect();
        on_either!(self, |pool, _dialect| {
            let mut tx = pool.begin().await?;
            for (sid, name) in &sorted {
                sqlx::query(
                    "INSERT INTO account_names (account_sid, friendly_name) VALUES ($1, $2) \
                     ON CONFLICT (account_sid) DO UPDATE SET friendly_name = excluded.friendly_name",
                )
                .bind(sid)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Each known service's and account's name, by SID.
    pub async fn friendly_names(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = on_either!(self, |pool, _dialect| {
            sqlx::query_as(
                "SELECT sid, friendly_name FROM services UNION ALL SELECT account_sid, friendly_name FROM account_names",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// The accounts whose attempts the store holds, by SID.
    pub async fn snapshot_accounts(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_either!(self, |pool, _dialect| {
            sqlx::query_scalar("SELECT DISTINCT account_sid FROM service_accounts ORDER BY account_sid")
                .fetch_all(pool)
                .await?
        }))
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
