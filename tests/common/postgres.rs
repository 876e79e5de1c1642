//! The PostgreSQL server the test command starts (`scripts/postgres.sh`) and names in
//! `VERILENS_TEST_POSTGRES`: a database of its own for each test, and what the tests compare.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

pub fn server_url() -> String {
    std::env::var("VERILENS_TEST_POSTGRES").expect(
        "VERILENS_TEST_POSTGRES must name a PostgreSQL server to test on: scripts/test.sh starts one, \
         and `scripts/postgres.sh start DIR` prints the URL of another",
    )
}

/// The URL of `database_url`'s database on the streaming read replica of the test server
/// that the test command starts (`scripts/postgres.sh replica`).
pub fn on_replica(database_url: &str) -> String {
    let replica = std::env::var("VERILENS_TEST_POSTGRES_REPLICA").expect(
        "VERILENS_TEST_POSTGRES_REPLICA must name a read replica of VERILENS_TEST_POSTGRES: scripts/test.sh \
         starts one, and `scripts/postgres.sh replica DIR PRIMARY_URL` another",
    );
    let mut url = url::Url::parse(&replica).unwrap();
    url.set_path(url::Url::parse(database_url).unwrap().path());
    url.to_string()
}

/// Waits until the read replica has replayed everything the test server has written so far.
pub async fn wait_for_replica() {
    let mut primary = PgConnection::connect(&server_url()).await.unwrap();
    let written: String =
        sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&mut primary).await.unwrap();
    let mut replica = PgConnection::connect(&on_replica(&server_url())).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let replayed: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
            .bind(&written)
            .fetch_one(&mut replica)
            .await
            .unwrap();
        if replayed {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the replica has not replayed {written}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Pauses (or resumes) the read replica's replay of what the test server writes.
pub async fn pause_replica(paused: bool) {
    let mut replica = PgConnection::connect(&on_replica(&server_url())).await.unwrap();
    let call = if paused { "SELECT pg_wal_replay_pause()" } else { "SELECT pg_wal_replay_resume()" };
    replica.execute(call).await.unwrap();
}

/// A name part no other call in this test process gets.
pub fn unique_suffix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The URL of a new, empty database on the test server.
pub async fn fresh_database() -> String {
    let name = format!("verilens_test_{}", unique_suffix());
    let mut admin = PgConnection::connect(&server_url()).await.expect("the test server answers");
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let mut url = url::Url::parse(&server_url()).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// Each table's rows as text, sorted: the two stores' rows compare whatever order they come in.
pub fn rows_as_text(rows: &verilens::store::RollupRows) -> [Vec<String>; 6] {
    fn sorted<T: std::fmt::Debug>(rows: &[T]) -> Vec<String> {
        let mut text: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
        text.sort();
        text
    }
    [
        sorted(&rows.attempts),
        sorted(&rows.verifications),
        sorted(&rows.irregular),
        sorted(&rows.hours),
        sorted(&rows.funnel),
        sorted(&rows.service_accounts),
    ]
}

/// The two stores' rollups are equal row for row, in every table (each with rows).
pub fn assert_same_rollups(sqlite: &verilens::store::RollupRows, postgres: &verilens::store::RollupRows) {
    let (from_sqlite, from_postgres) = (rows_as_text(sqlite), rows_as_text(postgres));
    let tables = [
        "rollup_attempts",
        "rollup_verifications",
        "irregular_attempts",
        "rollup_hours",
        "rollup_funnel",
        "service_accounts",
    ];
    for ((table, sqlite_rows), postgres_rows) in tables.iter().zip(&from_sqlite).zip(&from_postgres) {
        assert!(!sqlite_rows.is_empty(), "{table} has rows to compare");
        let only_sqlite: Vec<_> = sqlite_rows.iter().filter(|r| !postgres_rows.contains(r)).take(3).collect();
        let only_postgres: Vec<_> = postgres_rows.iter().filter(|r| !sqlite_rows.contains(r)).take(3).collect();
        assert!(
            sqlite_rows == postgres_rows,
            "{table}: {} rows in sqlite, {} in PostgreSQL; only in sqlite {only_sqlite:?}; only in PostgreSQL {only_postgres:?}",
            sqlite_rows.len(),
            postgres_rows.len()
        );
    }
}
