//! `verilens serve --role`: a process that only syncs and one that only serves, on one snapshot,
//! each its own process as an operator runs them.

use crate::common;

use std::time::{Duration, Instant};

use common::lines::Lines;
use serde_json::Value;
use verilens::emulator::EmulatorConfig;

fn serve(db: &std::path::Path, role: &str) -> tokio::process::Command {
    common::process::serve_command(db, &["--role", role, "--sync-every", "1s"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_process_shows_what_a_sync_process_writes_into_the_same_snapshot() {
    let mut config = EmulatorConfig::new(5, 4_000);
    config.now = Some(common::emulator::now_to_the_second());
    // A week of attempts, well inside the sync's 30-day window.
    config.days = 7;
    config.rate_limit = 0;
    let emulator = common::emulator::start(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");

    // The web process first, on a snapshot nothing has synced yet, without credentials: it
    // must not start an emulator of its own.
    let mut web = serve(&db, "web").spawn().unwrap();
    let mut web_out = Lines::follow(web.stdout.take().unwrap());
    let web_log = Lines::follow(web.stderr.take().unwrap());
    let listening = web_out.wait_for("verilens dashboard: http://", 1).await;
    assert!(listening[0].contains("dashboard only"), "{listening:?}");
    let base = listening[0].split_whitespace().nth(2).unwrap().trim_end_matches('/').to_string();
    let health: Value = reqwest::get(format!("{base}/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(health["synced"], false, "{health}");

    let c = &config.credentials;
    let mut sync = serve(&db, "sync")
        .env("TWILIO_ACCOUNT_SID", &c.account_sid)
        .env("TWILIO_AUTH_TOKEN", &c.auth_token)
        .env("VERILENS_API_URL", emulator.base_url())
        .spawn()
        .unwrap();
    let mut sync_out = Lines::follow(sync.stdout.take().unwrap());
    let mut sync_log = Lines::follow(sync.stderr.take().unwrap());
    sync_out.wait_for("verilens sync: syncing", 1).await;
    sync_log.wait_for("sync: ", 1).await;

    // The API's own totals, read with plain HTTP.
    let summary: Value = reqwest::Client::new()
        .get(format!("{}/v2/Attempts/Summary", emulator.base_url()))
        .basic_auth(&c.account_sid, Some(&c.auth_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap());
    assert!(expected.0 > 3_000, "{summary}");

    // The web process learns of the sync's writes from the snapshot alone; the deadline only
    // turns a hang into a failure.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut shown = common::process::dashboard_totals(&base, "").await;
    while shown != expected {
        assert!(Instant::now() < deadline, "the web process shows {shown:?}, the API {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        shown = common::process::dashboard_totals(&base, "").await;
    }
    let health: Value = reqwest::get(format!("{base}/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(health["synced"], true, "{health}");
    // One account: the pages look as they did before several accounts, without their filter or tab.
    let html = reqwest::get(format!("{base}/?range=all")).await.unwrap().text().await.unwrap();
    assert!(html.contains("by=service") && !html.contains("by=account") && !html.contains("All accounts"));

    // Each did only its part: the sync process has no dashboard, the web process never synced.
    assert!(sync_out.matching("verilens dashboard").is_empty(), "{}", sync_out.text());
    assert!(web_log.matching("sync: ").is_empty(), "{}", web_log.text());
    assert!(web_log.matching("emulator").is_empty(), "{}", web_log.text());
    web.kill().await.ok();
    sync.kill().await.ok();
}
