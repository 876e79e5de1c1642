//! Several Twilio accounts synced into one snapshot: each with its own credentials, rate
//! limit, runs and watermark, and the snapshot's figures equal to each account's API.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::emulator::Pinned;
use common::lines::Lines;
use serde_json::Value;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

/// The API's totals for its account (attempts, converted), read with plain HTTP.
async fn api_totals(api: &Pinned) -> (u64, u64) {
    let summary = api.get_json("/v2/Attempts/Summary").await;
    (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap())
}

/// The snapshot's attempts and converted attempts of `account`.
async fn snapshot_totals(pool: &sqlx::SqlitePool, account: &str) -> (u64, u64) {
    let (attempts, converted): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(conversion_status = 'converted'), 0) FROM attempts WHERE account_sid = ?",
    )
    .bind(account)
    .fetch_one(pool)
    .await
    .unwrap();
    (attempts as u64, converted as u64)
}

#[tokio::test]
async fn two_accounts_sync_into_one_snapshot_each_from_its_own_watermark() {
    let (a, b) = (common::emulator::start_pinned(31, 3_000).await, common::emulator::start_pinned(32, 2_000).await);
    let (client_a, client_b) =
        (common::emulator::client_for(&a.base, &a.config, 0), common::emulator::client_for(&b.base, &b.config, 0));
    let (sid_a, sid_b) = (a.config.credentials.account_sid.clone(), b.config.credentials.account_sid.clone());
    assert_ne!(sid_a, sid_b);
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("accounts.db")).await.unwrap();
    let (progress, options) = (SyncProgress::default(), SyncOptions { page_size: 500, ..SyncOptions::default() });

    let first_a =
        sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client_a, &progress, &options).await.unwrap();
    assert_eq!(
        verilens::store::Store::from(pool.clone()).watermark().await.unwrap().as_deref(),
        Some(first_a.window_end.as_str())
    );
    let first_b =
        sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client_b, &progress, &options).await.unwrap();

    // Each account's figures in the snapshot are its API's, and each run counted its own.
    let (api_a, api_b) = (api_totals(&a).await, api_totals(&b).await);
    assert!(api_a.0 > 2_000 && api_b.0 > 1_000, "{api_a:?} {api_b:?}");
    assert_eq!(snapshot_totals(&pool, &sid_a).await, api_a);
    assert_eq!(snapshot_totals(&pool, &sid_b).await, api_b);
    assert_eq!((first_a.api_total, first_a.snapshot_total), (api_a.0, api_a.0));
    assert_eq!((first_b.api_total, first_b.snapshot_total), (api_b.0, api_b.0));
    // The second account's first run covered Twilio's whole window, not the first's lookback.
    let parse = |time: &str| verilens::model::twilio_time::parse(time).unwrap();
    let whole_window = verilens::sync::window_start(None, parse(&first_b.window_end), &options);
    assert_eq!(first_b.window_start, verilens::model::twilio_time::format(&whole_window));
    assert_eq!(first_b.attempts_new, api_b.0);

    let syncs = verilens::store::Store::from(pool.clone()).account_syncs().await.unwrap();
    let mut expected = vec![
        (sid_a.clone(), Some(first_a.window_end.clone()), None),
        (sid_b.clone(), Some(first_b.window_end.clone()), None),
    ];
    expected.sort();
    let seen: Vec<_> = syncs.iter().map(|s| (s.account_sid.clone(), s.as_of.clone(), s.last_error.clone())).collect();
    assert_eq!(seen, expected);
    // Complete up to the earlier of the two.
    let earliest = first_a.window_end.clone().min(first_b.window_end.clone());
    assert_eq!(verilens::store::Store::from(pool.clone()).watermark().await.unwrap(), Some(earliest));

    // A later run of one account starts from its own watermark and moves only its own.
    let again_a =
        sync_once(&verilens::store::Store::Sqlite(pool.clone()), &client_a, &progress, &options).await.unwrap();
    let lookback_start = verilens::sync::window_start(Some(&first_a.window_end), parse(&again_a.window_end), &options);
    assert_eq!(again_a.window_start, verilens::model::twilio_time::format(&lookback_start));
    assert_eq!(again_a.attempts_new, 0);
    assert_eq!(
        verilens::store::Store::from(pool.clone()).account_watermark(&sid_b).await.unwrap(),
        Some(first_b.window_end.clone())
    );
    assert_eq!(
        verilens::store::Store::from(pool.clone()).account_watermark(&sid_a).await.unwrap(),
        Some(again_a.window_end.clone())
    );
    assert_eq!(snapshot_totals(&pool, &sid_a).await, api_a);
    assert_eq!(snapshot_totals(&pool, &sid_b).await, api_b);
    assert_eq!(common::assert_rollups_equal_a_rebuild(&pool).await, api_a.0 + api_b.0);

    // An account no longer listed stops holding the snapshot's watermark back; its attempts stay.
    verilens::store::Store::from(pool.clone()).keep_sync_accounts(std::slice::from_ref(&sid_a)).await.unwrap();
    assert_eq!(verilens::store::Store::from(pool.clone()).watermark().await.unwrap(), Some(again_a.window_end.clone()));
    let listed: Vec<String> = verilens::store::Store::from(pool.clone())
        .account_syncs()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.account_sid)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&sid_a));
    assert_eq!(snapshot_totals(&pool, &sid_b).await, api_b);
    assert_eq!(
        verilens::store::Store::from(pool.clone()).account_watermark(&sid_b).await.unwrap(),
        None,
        "listed again, it syncs the whole window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_syncs_every_account_of_its_accounts_file_and_shows_their_sum() {
    let (a, b) = (common::emulator::start_pinned(33, 2_500).await, common::emulator::start_pinned(34, 1_500).await);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.toml");
    let (ca, cb) = (&a.config.credentials, &b.config.credentials);
    std::fs::write(
        &file,
        format!(
            "[[account]]\nname = \"Consumer\"\naccount_sid = \"{}\"\nauth_token = \"{}\"\napi_url = \"{}\"\n\n\
             [[account]]\nname = \"Business\"\naccount_sid = \"{}\"\napi_key = \"{}\"\napi_secret = \"{}\"\napi_url = \"{}\"\nrate_limit = 0\n",
            ca.account_sid, ca.auth_token, a.base, cb.account_sid, cb.api_key_sid, cb.api_key_secret, b.base
        ),
    )
    .unwrap();
    let args = ["--sync-every", "1h", "--rate-limit", "0", "--accounts", file.to_str().unwrap()];
    let mut child = common::process::serve_command(&dir.path().join("s.db"), &args).spawn().unwrap();
    let mut out = Lines::follow(child.stdout.take().unwrap());
    let mut log = Lines::follow(child.stderr.take().unwrap());
    let listening = out.wait_for("verilens dashboard: http://", 1).await;
    let base = listening[0].split_whitespace().nth(2).unwrap().trim_end_matches('/').to_string();
    log.wait_for("updated attempts", 2).await;

    let health: Value = reqwest::get(format!("{base}/healthz")).await.unwrap().json().await.unwrap();
    let accounts = health["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{health}");
    assert!(accounts.iter().all(|a| a["as_of"].is_string() && a["last_error"].is_null()), "{health}");
    assert_eq!(health["synced"], true, "{health}");

    let (api_a, api_b) = (api_totals(&a).await, api_totals(&b).await);
    let expected = (api_a.0 + api_b.0, api_a.1 + api_b.1);
    // The dashboard reloads its rollups on the first view after the syncs; the deadline only
    // turns a hang into a failure.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut shown = common::process::dashboard_totals(&base, "").await;
    while shown != expected {
        assert!(Instant::now() < deadline, "the dashboard shows {shown:?}, the APIs {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        shown = common::process::dashboard_totals(&base, "").await;
    }

    // Each account's figures, by the account breakdown and by the account filter, are its API's.
    let by_account = common::process::csv_rows(
        &reqwest::get(format!("{base}/export.csv?by=account&range=all")).await.unwrap().text().await.unwrap(),
    );
    let figures = |row: &BTreeMap<String, String>| {
        (row["attempts"].parse::<u64>().unwrap(), row["converted_attempts"].parse::<u64>().unwrap())
    };
    let mut expected_rows = vec![
        (ca.account_sid.clone(), "Consumer".to_string(), api_a),
        (cb.account_sid.clone(), "Business".to_string(), api_b),
    ];
    expected_rows.sort();
    let mut seen: Vec<_> =
        by_account.iter().map(|r| (r["account"].clone(), r["account_name"].clone(), figures(r))).collect();
    seen.sort();
    assert_eq!(seen, expected_rows);
    for (sid, api) in [(&ca.account_sid, api_a), (&cb.account_sid, api_b)] {
        assert_eq!(common::process::dashboard_totals(&base, &format!("&account={sid}")).await, api);
        let raw = common::process::csv_rows(
            &reqwest::get(format!("{base}/attempts.csv?range=all&account={sid}")).await.unwrap().text().await.unwrap(),
        );
        assert_eq!(raw.len() as u64, api.0, "the attempts CSV of {sid}");
        assert!(raw.iter().all(|r| &r["account_sid"] == sid));
    }
    // The account filter and tab show on the pages, the accounts by name.
    let html = reqwest::get(format!("{base}/?range=all")).await.unwrap().text().await.unwrap();
    assert!(
        html.contains("All accounts") && html.contains("Consumer (") && html.contains("Business ("),
        "account links"
    );
    assert!(html.contains("by=account"), "an account tab");

    child.kill().await.ok();
    let text = format!("{}{}{health}", out.text(), log.text());
    for secret in [&ca.auth_token, &cb.api_key_secret] {
        assert!(!text.contains(secret.as_str()), "a secret reached the output");
    }
}

#[tokio::test]
async fn a_bad_accounts_file_stops_the_start_with_its_reason_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.toml");
    std::fs::write(
        &file,
        "[[account]]\naccount_sid = \"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\nauth_token = hunter2-secret\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["sync", "--db"])
        .arg(dir.path().join("s.db"))
        .arg("--accounts")
        .arg(&file)
        .env_remove("TWILIO_ACCOUNT_SID")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("not valid TOML at line 3"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let both = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["sync", "--db"])
        .arg(dir.path().join("s.db"))
        .arg("--accounts")
        .arg(&file)
        .env("TWILIO_ACCOUNT_SID", "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
        .env("TWILIO_AUTH_TOKEN", "t")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(!both.status.success());
    assert!(stderr.contains("not in both"), "{stderr}");
}

#[tokio::test]
async fn a_snapshot_synced_before_several_accounts_keeps_its_watermark_and_runs_as_its_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = store::open(&path).await.unwrap();
    let created = verilens::model::twilio_time::parse("2026-11-20T10:00:00Z").unwrap();
    let attempt = common::snapshots::attempt(1, created, "US", true);
    let mut tx = store::begin_write(&pool).await.unwrap();
    store::upsert_attempts(&mut tx, std::slice::from_ref(&attempt)).await.unwrap();
    tx.commit().await.unwrap();
    // Back to the schema as the release before several accounts left it.
    for statement in [
        "ALTER TABLE sync_runs DROP COLUMN account_sid",
        "DROP TABLE sync_accounts",
        "DROP TABLE service_accounts",
        "DROP TABLE account_names",
        "CREATE TABLE sync_state (id INTEGER PRIMARY KEY CHECK (id = 1), watermark TEXT NOT NULL)",
        "DELETE FROM _sqlx_migrations WHERE version = 20261202000014",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO sync_runs (started_at, window_start, window_end, status) \
         VALUES ('2026-11-21T00:00:00Z', '2026-10-22T00:00:00Z', '2026-11-21T00:00:00Z', 'complete')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO sync_state (id, watermark) VALUES (1, '2026-11-21T00:00:00Z')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let pool = store::open(&path).await.unwrap();
    let account = attempt.account_sid.as_str();
    assert_eq!(
        verilens::store::Store::from(pool.clone()).account_watermark(account).await.unwrap().as_deref(),
        Some("2026-11-21T00:00:00Z")
    );
    assert_eq!(
        verilens::store::Store::from(pool.clone()).watermark().await.unwrap().as_deref(),
        Some("2026-11-21T00:00:00Z")
    );
    let syncs = verilens::store::Store::from(pool.clone()).account_syncs().await.unwrap();
    assert_eq!(syncs.len(), 1);
    assert_eq!((syncs[0].account_sid.as_str(), syncs[0].as_of.as_deref()), (account, Some("2026-11-21T00:00:00Z")));
}
