//! `verilens backup` on a snapshot being written: the copy holds every attempt committed
//! before it began and nothing of a transaction still open, passes `integrity_check`, and,
//! restored by copying it back, a sync completes it from the API without loss.

use crate::common;

use std::collections::HashSet;
use std::process::Command;

use common::gate::Gate;
use verilens::emulator::EmulatorConfig;
use verilens::model::Attempt;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

fn restore_command(from: &std::path::Path, db: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["restore", "--from"])
        .arg(from)
        .arg("--db")
        .arg(db)
        .env_remove("VERILENS_DB")
        .output()
        .unwrap()
}

fn backup_command(db: &std::path::Path, to: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["backup", "--db"])
        .arg(db)
        .arg("--to")
        .arg(to)
        .env_remove("VERILENS_DB")
        .output()
        .unwrap()
}

async fn sids(pool: &sqlx::SqlitePool) -> HashSet<String> {
    sqlx::query_scalar("SELECT sid FROM attempts").fetch_all(pool).await.unwrap().into_iter().collect()
}

/// Attempts the API does not have: new SIDs.
fn unlisted(count: usize) -> Vec<Attempt> {
    let template: Attempt = serde_json::from_str(include_str!("data/attempt.json")).unwrap();
    (0..count)
        .map(|n| {
            let mut attempt = template.clone();
            attempt.sid = format!("VL{:032x}", 0xbac0_0000_u64 + n as u64);
            attempt.verification_sid = format!("VE{:032x}", 0xbac0_0000_u64 + n as u64);
            attempt
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_a_write_holds_what_was_committed_and_restores() {
    let mut config = EmulatorConfig::new(23, 4_000);
    config.now = Some(common::emulator::now_to_the_second());
    config.rate_limit = 0;
    let running = common::emulator::start(&config).await;
    let client = common::emulator::client_for(&running.base_url(), &config, 0);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("snapshot.db");
    let pool = store::open(&db).await.unwrap();
    let first = sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    let committed = sids(&pool).await;
    // The run's check counts from where Twilio's window starts by the clock when it ends, which
    // may leave out the pinned dataset's first seconds: the snapshot holds at least that.
    assert!(committed.len() as u64 >= first.snapshot_total && first.snapshot_total > 3_000, "{first:?}");

    // A writer in the middle of its transaction, as a sync is between commits.
    let mut writing = store::begin_write(&pool).await.unwrap();
    store::upsert_attempts(&mut writing, &unlisted(500)).await.unwrap();

    let copy = dir.path().join("copy.db");
    let output = backup_command(&db, &copy);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains(&format!(": {} attempts, ", committed.len())) && stdout.contains("integrity ok"),
        "{stdout}"
    );
    writing.commit().await.unwrap();
    assert_eq!(sids(&pool).await.len(), committed.len() + 500, "the writer's transaction went on");

    // The copy: what was committed when it began, nothing of the open transaction.
    let restored = dir.path().join("restored.db");
    let restore = restore_command(&copy, &restored);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let said = String::from_utf8_lossy(&restore.stdout);
    assert!(said.contains(&format!(": {} attempts, ", committed.len())) && said.contains("integrity ok"), "{said}");
    let restored_pool = store::open(&restored).await.unwrap();
    assert_eq!(sids(&restored_pool).await, committed);
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&restored_pool).await.unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(common::assert_rollups_equal_a_rebuild(&restored_pool).await, committed.len() as u64);

    // Restored and synced again, it loses nothing the API still has.
    let again = sync_once(
        &verilens::store::Store::Sqlite(restored_pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again.api_total, again.snapshot_total);
    assert!(sids(&restored_pool).await.is_superset(&committed));

    // A backup never overwrites: an existing file is refused and left as it is.
    let before = std::fs::read(&copy).unwrap();
    let refused = backup_command(&db, &copy);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("the file exists; choose a new name"), "{stderr}");
    assert_eq!(std::fs::read(&copy).unwrap(), before);
}

#[tokio::test]
async fn a_restore_never_replaces_a_snapshot_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("snapshot.db");
    let pool = store::open(&db).await.unwrap();
    let mut tx = store::begin_write(&pool).await.unwrap();
    store::upsert_attempts(&mut tx, &unlisted(3)).await.unwrap();
    tx.commit().await.unwrap();
    let copy = dir.path().join("copy.db");
    assert!(backup_command(&db, &copy).status.success());

    // Over an existing snapshot: refused, both files as they were.
    let before = std::fs::read(&db).unwrap();
    let refused = restore_command(&copy, &db);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("move it aside first"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // Not a snapshot, or not there: refused, nothing written.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database").unwrap();
    for (from, why) in [(&text, "not a sqlite database"), (&dir.path().join("missing.db"), "no such file")] {
        let target = dir.path().join("never.db");
        let refused = restore_command(from, &target);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && stderr.contains(why), "{stderr}");
        assert!(!target.exists() && !dir.path().join("never.restoring").exists());
    }
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_and_touch_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("snapshot.db")).await.unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::write(backups.join("verilens-before-upgrade.db"), "kept").unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().to_utc();
    let times: Vec<_> = (0..5).map(|day| start + chrono::Duration::days(day)).collect();
    for (n, at) in times.iter().enumerate() {
        let mut tx = store::begin_write(&pool).await.unwrap();
        store::upsert_attempts(&mut tx, &unlisted(n + 1)).await.unwrap();
        tx.commit().await.unwrap();
        let (path, copy) = store::backup_into(&pool, &backups, *at, 3).await.unwrap();
        assert_eq!(path, backups.join(store::scheduled_backup_name(*at)));
        assert_eq!(copy.attempts, n as i64 + 1);
    }
    let mut left: Vec<String> =
        std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    let mut expected: Vec<String> = times[2..].iter().map(|at| store::scheduled_backup_name(*at)).collect();
    expected.push("verilens-before-upgrade.db".into());
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(std::fs::read_to_string(backups.join("verilens-before-upgrade.db")).unwrap(), "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_a_sync_runs_restores_and_syncs_to_the_api() {
    let mut config = EmulatorConfig::new(29, 6_000);
    config.now = Some(common::emulator::now_to_the_second());
    config.rate_limit = 0;
    let running = common::emulator::start(&config).await;
    let (gate, gated) = Gate::start(&running).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("snapshot.db");
    let pool = store::open(&db).await.unwrap();

    // A sync committing page by page, held at its eighth request: running, part way, and
    // unable to finish while the backup is taken.
    gate.hold_from(8);
    let options =
        SyncOptions { page_size: 200, max_pages_per_commit: 1, bulk_first_sync: false, ..SyncOptions::default() };
    let client = common::emulator::client_for(&gated, &config, 0);
    let syncing = tokio::spawn({
        let pool = pool.clone();
        async move {
            sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client, &SyncProgress::default(), &options).await
        }
    });
    gate.holding().await;
    // The pages fetched before the held request reach the snapshot as the writer commits them.
    let committed = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let committed = sids(&pool).await;
            if !committed.is_empty() {
                return committed;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the running sync commits its first pages");

    let copy = dir.path().join("copy.db");
    let output = backup_command(&db, &copy);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!syncing.is_finished(), "the sync was still running when the backup ended");
    syncing.abort();

    let restored = dir.path().join("restored.db");
    let restore = restore_command(&copy, &restored);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let restored_pool = store::open(&restored).await.unwrap();
    let in_copy = sids(&restored_pool).await;
    assert!(in_copy.is_superset(&committed), "every attempt committed before the backup began");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&restored_pool).await.unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(common::assert_rollups_equal_a_rebuild(&restored_pool).await, in_copy.len() as u64);

    // The restored snapshot resumes the interrupted run and ends equal to the API.
    let direct = common::emulator::client_for(&running.base_url(), &config, 0);
    let report = sync_once(
        &verilens::store::Store::Sqlite(restored_pool.clone()),
        &direct,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.api_total, report.snapshot_total);
    assert!(sids(&restored_pool).await.len() as u64 >= report.snapshot_total);
    assert_eq!(common::assert_rollups_equal_a_rebuild(&restored_pool).await, sids(&restored_pool).await.len() as u64);
}
