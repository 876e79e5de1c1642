//! The PostgreSQL store, for deployments where several `serve` processes share one database:
//! opening it (checks, migrations), the sync lease that lets one process at a time write an
//! account's attempts, and those attempts in monthly partitions, written in fenced batches
//! with their rollups.
//! Why this is a module of its own beside sqlite's, and not `sqlx::Any`:
//! `docs/decisions/postgres-store.md`.

mod attempts;
mod lease;
mod rollups;

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use attempts::{RunProgress, attempt_months, upsert_attempts, write_sync_batch};
pub use lease::{Fence, SyncLease};
pub use rollups::{advance_hour_horizon, read_rollup_changes, read_rollup_rows};

use super::StoreError;

/// An open PostgreSQL store: its pool, and what a lease's own connection is made from.
pub struct Postgres {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    /// The database as logs and errors show it: host, port and name, never the password.
    pub shown: String,
}

/// Whether `--db` names a PostgreSQL database rather than a sqlite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Connects to the database at `url` and brings its schema up to date. A database that holds
/// tables of something else, or comes from a newer verilens, is refused before anything is
/// written to it.
pub async fn open(url: &str) -> Result<Postgres, StoreError> {
    let (pool, options, shown) = connect(url, "--db").await?;
    let migrator = sqlx::migrate!("./migrations/postgres");
    refuse_newer(&migrator, &applied_migrations(&pool, &shown).await?, &shown)?;
    migrator.run(&pool).await.map_err(|error| StoreError::Migrate { path: shown.clone(), error })?;
    rollups::check_state(&pool, &shown).await?;
    Ok(Postgres { pool, options, shown })
}

/// Connects to a read replica of a snapshot (`--read-db`), which this process only reads
/// figures from: nothing is written to it, and it is refused until it holds the schema and
/// rollups this verilens reads (a replica replays the primary's migrations after them).
pub async fn open_read_replica(url: &str) -> Result<Postgres, StoreError> {
    let (pool, options, shown) = connect(url, "--read-db").await?;
    let refused = |why: String| StoreError::ReadReplica { path: shown.clone(), why };
    let applied = applied_migrations(&pool, &shown).await?;
    let migrator = sqlx::migrate!("./migrations/postgres");
    if let Some(missing) = migrator.iter().map(|m| m.version).find(|v| !applied.contains(v)) {
        return Err(refused(format!("it lacks migration {missing}")));
    }
    refuse_newer(&migrator, &applied, &shown)?;
    let kept: Option<(i64, String)> =
        sqlx::query_as("SELECT version, zone FROM rollup_state WHERE id = 1").fetch_optional(&pool).await?;
    match kept {
        Some((version, zone)) if version == crate::store::rollups::ROLLUP_VERSION && zone == crate::zone::name() => {
            Ok(Postgres { pool, options, shown })
        }
        Some((version, zone)) => Err(refused(format!(
            "it keeps rollups of version {version} in the zone {zone}, and this verilens reads version {} in {}",
            crate::store::rollups::ROLLUP_VERSION,
            crate::zone::name()
        ))),
        None => Err(refused("its rollups are not set up yet".to_string())),
    }
}

/// Refuses a database that has applied migrations this verilens does not know (a newer one's).
fn refuse_newer(migrator: &sqlx::migrate::Migrator, applied: &[i64], shown: &str) -> Result<(), StoreError> {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied.iter().copied().filter(|v| *v > known).max() {
        Some(found) => Err(StoreError::NewerSchema { path: shown.to_string(), found, known }),
        None => Ok(()),
    }
}

/// A pool on the database at `url` (given as `flag`), after one connection has shown it answers.
async fn connect(url: &str, flag: &str) -> Result<(PgPool, PgConnectOptions, String), StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|_| StoreError::NotASnapshot {
        path: format!("the {flag} URL"),
        why: "not a PostgreSQL URL of the form postgres://user:password@host:port/database".to_string(),
    })?;
    let shown = shown(&options);
    // One connection first: a pool retries a server that refuses until its timeout, and a
    // wrong URL should say so at once.
    let probe = sqlx::ConnectOptions::connect(&options)
        .await
        .map_err(|error: sqlx::Error| StoreError::Open { path: shown.clone(), error })?;
    sqlx::Connection::close(probe).await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect_with(options.clone())
        .await
        .map_err(|error| StoreError::Open { path: shown.clone(), error })?;
    Ok((pool, options, shown))
}

/// The rollups' generation: every write moves it on, so a replica that polls it learns that
/// the snapshot changed (a read replica cannot LISTEN).
pub async fn rollup_generation(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT generation FROM rollup_state WHERE id = 1").fetch_one(pool).await?)
}

/// `url` as logs and errors may show it: without its password.
pub fn shown_url(url: &str) -> String {
    PgConnectOptions::from_str(url).map_or_else(|_| "the --db URL".to_string(), |options| shown(&options))
}

fn shown(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

/// The migration versions the database has applied; an error if its schema holds tables but
/// none of verilens's.
async fn applied_migrations(pool: &PgPool, shown: &str) -> Result<Vec<i64>, StoreError> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_all(pool)
            .await?;
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(StoreError::NotASnapshot {
            path: shown.to_string(),
            why: "its schema holds tables of something else".to_string(),
        });
    }
    Ok(sqlx::query_scalar("SELECT version FROM _sqlx_migrations").fetch_all(pool).await?)
}
