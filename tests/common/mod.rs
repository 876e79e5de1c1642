//! What the integration tests share: the dashboard and the emulator as tests start them,
//! and checks of a snapshot.

// Each test binary uses a part of this.
#![allow(dead_code)]

pub mod dashboard;
pub mod emulator;
pub mod gate;
pub mod lines;
pub mod postgres;
pub mod process;
pub mod snapshots;
pub mod timing;

/// The two stores a test may run on: a sqlite file, or a database of its own on the
/// PostgreSQL server the test command starts (`VERILENS_TEST_POSTGRES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// A new, empty store on this backend (a sqlite file in `dir`).
    pub async fn open(self, dir: &std::path::Path) -> verilens::store::Store {
        // Shown with a failure's output: which store failed.
        eprintln!("a new store on {self:?}");
        let db = match self {
            Backend::Sqlite => dir.join(format!("snapshot-{}.db", postgres::unique_suffix())),
            Backend::Postgres => std::path::PathBuf::from(postgres::fresh_database().await),
        };
        verilens::store::Store::open(&db).await.unwrap()
    }
}

impl Backend {
    /// The store a test reads from beside its sqlite reference `sqlite`, which `fill` has
    /// filled: `sqlite` itself, or a new PostgreSQL store that `fill` fills the same way.
    pub async fn beside(
        self,
        sqlite: &sqlx::SqlitePool,
        dir: &std::path::Path,
        fill: impl AsyncFn(&verilens::store::Store),
    ) -> verilens::store::Store {
        match self {
            Backend::Sqlite => sqlite.clone().into(),
            Backend::Postgres => {
                let store = self.open(dir).await;
                fill(&store).await;
                store
            }
        }
    }
}

/// The rollups kept by the writes so far equal, row for row in all four tables, a rebuild
/// from the raw attempts (which this leaves in place). Returns the attempts the rebuild read.
pub async fn assert_rollups_equal_a_rebuild(pool: &sqlx::SqlitePool) -> u64 {
    let maintained = rollup_tables(pool).await;
    let read = verilens::store::rebuild_rollups(pool).await.unwrap();
    let rebuilt = rollup_tables(pool).await;
    for ((table, rebuilt), maintained) in rebuilt.iter().zip(&maintained) {
        let extra: Vec<&String> = rebuilt.iter().filter(|r| !maintained.1.contains(r)).take(5).collect();
        let missing: Vec<&String> = maintained.1.iter().filter(|r| !rebuilt.contains(r)).take(5).collect();
        assert!(extra.is_empty() && missing.is_empty(), "{table}: rebuilt has {extra:?}; maintained has {missing:?}");
    }
    read
}

async fn rollup_tables(pool: &sqlx::SqlitePool) -> Vec<(&'static str, Vec<String>)> {
    let mut tables = Vec::new();
    for table in ["rollup_attempts", "rollup_verifications", "irregular_attempts", "rollup_hours", "rollup_funnel"] {
        tables.push((table, table_rows(pool, table).await));
    }
    tables
}

/// Every row of a table as text, sorted.
async fn table_rows(pool: &sqlx::SqlitePool, table: &str) -> Vec<String> {
    use sqlx::Row;
    let rows = sqlx::query(&format!("SELECT * FROM {table}")).fetch_all(pool).await.unwrap();
    let mut text: Vec<String> = rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.try_get::<i64, _>(i).map(|v| v.to_string()).unwrap_or_else(|_| row.get::<String, _>(i)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    text.sort();
    text
}

/// Every connection of the pool (all of them at once) has the snapshot's usual settings:
/// nothing a bulk load's writer or index builds set for themselves stays on the pool.
pub async fn assert_connections_have_usual_settings(pool: &sqlx::SqlitePool) {
    let mut connections = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        connections.push(pool.acquire().await.unwrap());
    }
    for connection in &mut connections {
        for (pragma, usual) in [("wal_autocheckpoint", 2048), ("cache_size", -131_072), ("threads", 0)] {
            let value: i64 =
                sqlx::query_scalar(&format!("PRAGMA {pragma}")).fetch_one(&mut **connection).await.unwrap();
            assert_eq!(value, usual, "PRAGMA {pragma}");
        }
    }
}

/// Whether an attempt the API lists, created at `created`, is in `report`'s run window:
/// from its start, to its end exclusive. An attempt created in the very second a run began is
/// the next run's to copy, though the API already lists it.
pub fn in_run_window(created: &serde_json::Value, report: &verilens::sync::SyncReport) -> bool {
    let created = created.as_str().unwrap_or_default();
    created >= report.window_start.as_str() && created < report.window_end.as_str()
}
