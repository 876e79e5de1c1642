//! Snapshot files verilens must not use: not sqlite, another program's database,
//! a newer schema, read-only. Each command says why at start-up and leaves the file as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sqlx::Connection;
use verilens::store;

/// Runs `verilens ARGS --db FILE` and returns its exit success and stderr.
fn verilens(args: &[&str], db: &Path) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(args)
        .arg("--db")
        .arg(db)
        // No credentials: the built-in emulator would be used, if the file were fine.
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Every file of the directory and its bytes.
fn directory_contents(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect()
}

/// Every command refuses `db` with `expected` in its message, and the directory
/// (the file, and any journal next to it) stays byte for byte as it was.
fn assert_refused_untouched(db: &Path, expected: &str) {
    let dir = db.parent().unwrap();
    let before = directory_contents(dir);
    for args in [&["serve", "--addr", "127.0.0.1:0"][..], &["sync"], &["rebuild-rollups"]] {
        let (ok, stderr) = verilens(args, db);
        assert!(!ok, "{args:?} accepted {}", db.display());
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
        let after = directory_contents(dir);
        assert!(after == before, "{args:?} changed the files: {:?} became {:?}", sizes(&before), sizes(&after));
    }
}

fn sizes(files: &std::collections::BTreeMap<String, Vec<u8>>) -> Vec<(&String, usize)> {
    files.iter().map(|(name, bytes)| (name, bytes.len())).collect()
}

/// A complete snapshot, all in the one file: made by `store::open` elsewhere, then copied
/// with `VACUUM INTO` and switched out of WAL on the copy, which no other connection has
/// open. (Switching the original would race the pool's connections: `close` can return
/// while one that was being given back still holds the file open.)
async fn new_snapshot(db: &Path) {
    let elsewhere = tempfile::tempdir().unwrap();
    let pool = store::open(&elsewhere.path().join("made.db")).await.unwrap();
    sqlx::query("VACUUM INTO ?").bind(db.to_str().unwrap()).execute(&pool).await.unwrap();
    pool.close().await;
    drop(pool);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("PRAGMA journal_mode = DELETE").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.txt");
    std::fs::write(&db, "attempts I want to keep, not a database\n".repeat(200)).unwrap();
    assert_refused_untouched(&db, "is not a verilens snapshot (not a SQLite database)");
    let short = dir.path().join("short.db");
    std::fs::write(&short, "SQLite").unwrap();
    assert_refused_untouched(&short, "not a SQLite database");
}

#[tokio::test]
async fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", db.display())).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)").execute(&mut conn).await.unwrap();
    sqlx::query("INSERT INTO invoices (total) VALUES (12.5)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_refused_untouched(&db, "a SQLite database of something else");
}

#[tokio::test]
async fn a_snapshot_from_a_newer_verilens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("newer.db");
    new_snapshot(&db).await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    assert_refused_untouched(&db, "was written by a newer verilens (schema version 29991231000000");
    let error = store::open(&db).await.unwrap_err();
    assert!(matches!(error, store::StoreError::NewerSchema { found: 29991231000000, .. }), "{error:?}");
}

#[tokio::test]
async fn a_read_only_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("readonly.db");
    new_snapshot(&db).await;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_refused_untouched(&db, "is read-only");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    store::open(&db).await.unwrap().close().await;
}

#[tokio::test]
async fn a_missing_or_empty_file_becomes_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    for db in [dir.path().join("missing.db"), empty] {
        let pool = store::open(&db).await.unwrap();
        let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'attempts'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(tables, 1);
        pool.close().await;
        // Opening it again is fine: it is ours now.
        store::open(&db).await.unwrap().close().await;
    }
}

#[tokio::test]
async fn a_new_snapshot_has_large_pages_and_an_old_one_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |pool: sqlx::SqlitePool| async move {
        let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&pool).await.unwrap();
        pool.close().await;
        size
    };
    let new = dir.path().join("new.db");
    assert_eq!(page_size(store::open(&new).await.unwrap()).await, 16384);

    // A snapshot created with sqlite's default pages, as earlier versions made them.
    let old = dir.path().join("old.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", old.display())).await.unwrap();
    sqlx::query("PRAGMA page_size = 4096").execute(&mut conn).await.unwrap();
    sqlx::query("CREATE TABLE scratch (x)").execute(&mut conn).await.unwrap();
    sqlx::query("DROP TABLE scratch").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_eq!(page_size(store::open(&old).await.unwrap()).await, 4096);
}
