//! The PostgreSQL store on a real server, the one the test command starts (`scripts/postgres.sh`)
//! and names in `VERILENS_TEST_POSTGRES`; each test has a database of its own.

use crate::common;

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use verilens::model::Attempt;
use verilens::store::StoreError;
use verilens::store::postgres::{self, SyncLease};

use common::postgres::fresh_database;

const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER_ACCOUNT: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn attempt(sid: &str, account_sid: &str, created: &str, updated: &str, status: &str) -> Attempt {
    let mut json: serde_json::Value = serde_json::from_str(include_str!("data/attempt.json")).unwrap();
    json["sid"] = sid.into();
    json["account_sid"] = account_sid.into();
    json["date_created"] = created.into();
    json["date_updated"] = updated.into();
    json["channel_data"]["message_status"] = status.into();
    serde_json::from_value(json).unwrap()
}

fn sid(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:0>32}")
}

async fn stored_statuses(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT sid, message_status FROM attempts ORDER BY sid").fetch_all(pool).await.unwrap()
}

/// Waits until the server has let go of every advisory lock of the backend `pid`: ending a
/// backend is asynchronous, and its locks go when its process exits.
async fn wait_until_locks_released(pool: &sqlx::PgPool, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1")
            .bind(pid)
            .fetch_one(pool)
            .await
            .unwrap();
        if held == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "backend {pid} still holds its advisory locks after 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn attempts_are_upserted_by_sid_into_the_partition_of_their_month() {
    let store = postgres::open(&fresh_database().await).await.unwrap();
    let lease = SyncLease::try_acquire(&store.options, ACCOUNT, "test").await.unwrap().expect("a free lease");
    let generation = postgres::rollup_generation(&store.pool).await.unwrap();

    let a = sid("VL", 1);
    let b = sid("VL", 2);
    let c = sid("VL", 3);
    let first = [
        attempt(&a, ACCOUNT, "2026-10-31T23:59:59Z", "2026-10-31T23:59:59Z", "sent"),
        attempt(&b, ACCOUNT, "2026-11-01T00:00:00Z", "2026-11-01T00:00:01Z", "sent"),
        // The same SID twice in one batch: the newer state is the one kept.
        attempt(&c, ACCOUNT, "2026-11-02T10:00:00Z", "2026-11-02T10:00:05Z", "delivered"),
        attempt(&c, ACCOUNT, "2026-11-02T10:00:00Z", "2026-11-02T10:00:01Z", "sent"),
    ];
    let count = postgres::upsert_attempts(&store.pool, lease.fence(), &first).await.unwrap();
    assert_eq!((count.new, count.updated), (3, 0));
    let months: Vec<String> =
        postgres::attempt_months(&store.pool).await.unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(months, ["2026-10-01", "2026-11-01"], "the last second of October and the first of November");
    let in_october: i64 =
        sqlx::query_scalar("SELECT count(*) FROM attempts_y2026m10").fetch_one(&store.pool).await.unwrap();
    assert_eq!(in_october, 1);
    assert!(postgres::rollup_generation(&store.pool).await.unwrap() > generation);

    // Again: a newer state updates its row, an older one and an equal one change nothing.
    let second = [
        attempt(&a, ACCOUNT, "2026-10-31T23:59:59Z", "2026-11-01T00:10:00Z", "delivered"),
        attempt(&b, ACCOUNT, "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", "failed"),
        attempt(&c, ACCOUNT, "2026-11-02T10:00:00Z", "2026-11-02T10:00:05Z", "undelivered"),
    ];
    let count = postgres::upsert_attempts(&store.pool, lease.fence(), &second).await.unwrap();
    assert_eq!((count.new, count.updated), (0, 1));
    let expected = [(a, "delivered"), (b, "sent"), (c, "delivered")].map(|(sid, status)| (sid, status.to_string()));
    assert_eq!(stored_statuses(&store.pool).await, expected);
}

#[tokio::test]
async fn a_batch_of_fifty_thousand_attempts_is_written_whole() {
    // 21 columns × 50,000 rows is a million values, past PostgreSQL's 65,535 bound parameters
    // per statement: the columns go as arrays.
    let store = postgres::open(&fresh_database().await).await.unwrap();
    let lease = SyncLease::try_acquire(&store.options, ACCOUNT, "test").await.unwrap().unwrap();
    let batch: Vec<Attempt> = (0..50_000)
        .map(|n| {
            let created = format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + n % 28, n % 24, n % 60);
            attempt(&sid("VL", n), ACCOUNT, &created, &created, "delivered")
        })
        .collect();
    let count = postgres::upsert_attempts(&store.pool, lease.fence(), &batch).await.unwrap();
    assert_eq!((count.new, count.updated), (50_000, 0));
    let stored: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT sid) FROM attempts").fetch_one(&store.pool).await.unwrap();
    assert_eq!(stored, 50_000);
}

#[tokio::test]
async fn one_syncer_holds_an_accounts_lease_and_one_that_lost_it_cannot_write() {
    let url = fresh_database().await;
    let store = postgres::open(&url).await.unwrap();
    let mut first = SyncLease::try_acquire(&store.options, ACCOUNT, "replica-1").await.unwrap().expect("a free lease");
    assert!(
        SyncLease::try_acquire(&store.options, ACCOUNT, "replica-2").await.unwrap().is_none(),
        "a second syncer of the same account waits"
    );
    let other = SyncLease::try_acquire(&store.options, OTHER_ACCOUNT, "replica-2").await.unwrap();
    assert!(other.is_some(), "each account has a lease of its own");

    let before = attempt(&sid("VL", 1), ACCOUNT, "2026-11-02T10:00:00Z", "2026-11-02T10:00:01Z", "sent");
    postgres::upsert_attempts(&store.pool, first.fence(), std::slice::from_ref(&before)).await.unwrap();

    // The first syncer's lease connection dies (a replica killed, a network cut): the server
    // ends its backend, and its lock goes with it.
    let pid = first.backend_pid().await.unwrap();
    let ended: bool =
        sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&store.pool).await.unwrap();
    assert!(ended);
    wait_until_locks_released(&store.pool, pid).await;
    assert!(!first.is_held().await, "the first syncer can tell it lost its lease");

    let second = SyncLease::try_acquire(&store.options, ACCOUNT, "replica-2").await.unwrap().expect("the freed lease");
    assert!(second.fence().epoch > first.fence().epoch);

    // The first syncer writes anyway, through its pool, before it noticed: refused whole.
    let stale = [
        attempt(&sid("VL", 1), ACCOUNT, "2026-11-02T10:00:00Z", "2026-11-02T10:05:00Z", "delivered"),
        attempt(&sid("VL", 2), ACCOUNT, "2026-11-02T11:00:00Z", "2026-11-02T11:00:00Z", "sent"),
    ];
    let refused = postgres::upsert_attempts(&store.pool, first.fence(), &stale).await;
    assert!(
        matches!(&refused, Err(StoreError::LeaseLost { epoch, current: Some(current), .. })
            if *epoch == first.fence().epoch && *current == second.fence().epoch),
        "{refused:?}"
    );
    assert_eq!(stored_statuses(&store.pool).await, [(sid("VL", 1), "sent".to_string())], "nothing of it written");

    // The new holder writes the same batch.
    let count = postgres::upsert_attempts(&store.pool, second.fence(), &stale).await.unwrap();
    assert_eq!((count.new, count.updated), (1, 1));
    let holder: String = sqlx::query_scalar("SELECT holder FROM sync_leases WHERE account_sid = $1")
        .bind(ACCOUNT)
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(holder, "replica-2");

    // An attempt of another account is refused under this account's lease.
    let foreign = attempt(&sid("VL", 3), OTHER_ACCOUNT, "2026-11-02T12:00:00Z", "2026-11-02T12:00:00Z", "sent");
    let refused = postgres::upsert_attempts(&store.pool, second.fence(), &[foreign]).await;
    assert!(matches!(refused, Err(StoreError::ForeignAccount { .. })), "{refused:?}");

    // A lease given up is free at once.
    let second_epoch = second.fence().epoch;
    second.release().await;
    let third = SyncLease::try_acquire(&store.options, ACCOUNT, "replica-3").await.unwrap().expect("released");
    assert_eq!(third.fence().epoch, second_epoch + 1);
}

#[tokio::test]
async fn a_database_of_something_else_is_refused_untouched_and_errors_never_show_the_password() {
    let url = fresh_database().await;
    let mut connection = PgConnection::connect(&url).await.unwrap();
    connection.execute("CREATE TABLE invoices (id integer)").await.unwrap();
    let refused = postgres::open(&url).await.err().expect("refused");
    assert!(matches!(refused, StoreError::NotASnapshot { .. }), "{refused}");
    let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(tables, ["invoices"]);

    // A server that is not there: the error names the host and database, not the password.
    let mut unreachable = url::Url::parse(&url).unwrap();
    unreachable.set_password(Some("s3cret-pg-password")).unwrap();
    unreachable.set_port(Some(1)).unwrap();
    let error = postgres::open(unreachable.as_str()).await.err().expect("nothing listens on port 1").to_string();
    assert!(error.contains("127.0.0.1:1"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
    let error = postgres::open("postgres://user:s3cret@[bad").await.err().expect("not a URL").to_string();
    assert!(!error.contains("s3cret"), "{error}");

    // The commands that work on a sqlite file (backup, restore, rebuild-rollups) say so rather
    // than make a file of the URL.
    let error = verilens::store::open(std::path::Path::new(unreachable.as_str())).await.expect_err("refused");
    assert!(matches!(error, StoreError::NotServedOnPostgres { .. }), "{error}");
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(!std::path::Path::new("postgres:").exists());
}

/// Every attempt the emulator's API lists, read page by page with plain HTTP.
async fn attempts_of(pinned: &common::emulator::Pinned) -> Vec<Attempt> {
    let c = &pinned.config.credentials;
    let http = reqwest::Client::new();
    let mut url = format!("{}/v2/Attempts?PageSize=1000", pinned.base);
    let mut attempts = Vec::new();
    loop {
        let page: serde_json::Value =
            http.get(&url).basic_auth(&c.account_sid, Some(&c.auth_token)).send().await.unwrap().json().await.unwrap();
        attempts
            .extend(page["attempts"].as_array().unwrap().iter().map(|a| serde_json::from_value(a.clone()).unwrap()));
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => url = next.to_string(),
            None => return attempts,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollups_kept_in_postgresql_equal_sqlites_for_the_same_writes() {
    // The emulator's data: retries on other channels, errors, verifications across days.
    let pinned = common::emulator::start_pinned(3, 6_000).await;
    let mut attempts = attempts_of(&pinned).await;
    attempts.sort_by(|a, b| (a.date_created, &a.sid).cmp(&(b.date_created, &b.sid)));
    // Then later states of every fifth: converted, delivered, repriced; cells empty and fill.
    let later: Vec<Attempt> = attempts
        .iter()
        .step_by(5)
        .map(|attempt| {
            let mut later = attempt.clone();
            later.date_updated += chrono::Duration::seconds(90);
            later.conversion_status = verilens::model::ConversionStatus::Converted;
            if let Some(data) = later.channel_data.as_mut() {
                data.message_status = Some("delivered".into());
                data.error_code = None;
            }
            if let Some(price) = later.price.as_mut() {
                price.value = Some("0.0421".into());
            }
            later
        })
        .collect();
    let account = attempts[0].account_sid.clone();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = verilens::store::open(&dir.path().join("s.db")).await.unwrap();
    let store = postgres::open(&fresh_database().await).await.unwrap();
    let lease = SyncLease::try_acquire(&store.options, &account, "test").await.unwrap().unwrap();
    for batch in attempts.chunks(700).chain(later.chunks(300)) {
        let mut tx = verilens::store::begin_write(&sqlite).await.unwrap();
        let in_sqlite = verilens::store::upsert_attempts(&mut tx, batch).await.unwrap();
        tx.commit().await.unwrap();
        let in_postgres = postgres::upsert_attempts(&store.pool, lease.fence(), batch).await.unwrap();
        assert_eq!(in_postgres, in_sqlite, "the same attempts are new and updated in both");
    }

    common::postgres::assert_same_rollups(
        &verilens::store::read_rollup_rows(&sqlite).await.unwrap(),
        &postgres::read_rollup_rows(&store.pool).await.unwrap(),
    );
}
