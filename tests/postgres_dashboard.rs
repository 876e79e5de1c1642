//! The dashboard on PostgreSQL, as an operator runs it: two `verilens serve` processes on one
//! database (one syncing two accounts, one serving only), each showing the APIs' figures, and
//! every CSV equal, byte for byte, to a sqlite dashboard's synced from the same APIs.

use crate::common;

use common::emulator::Pinned;

/// The API's totals for its account (attempts, converted), read with plain HTTP.
async fn api_totals(api: &Pinned) -> (u64, u64) {
    let summary = api.get_json("/v2/Attempts/Summary").await;
    (summary["total_attempts"].as_u64().unwrap(), summary["total_converted"].as_u64().unwrap())
}

async fn text(url: String) -> String {
    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status(), 200, "{url}");
    answer.text().await.unwrap()
}

/// The attempts the list at `/attempts?{query}` shows, in order, over its first three pages.
async fn listed_sids(base: &str, query: &str) -> Vec<String> {
    let mut sids: Vec<String> = Vec::new();
    let mut url = format!("{base}/attempts?{query}");
    for _ in 0..3 {
        let html = text(url.clone()).await;
        for piece in html.split("/attempts/VL").skip(1) {
            let sid = format!("VL{}", &piece[..32.min(piece.len())]);
            if sids.last() != Some(&sid) {
                sids.push(sid);
            }
        }
        let Some(at) = html.find("page=") else { break };
        let page: String = html[at + 5..].chars().take_while(|c| !matches!(c, '"' | '&')).collect();
        url = format!("{base}/attempts?{query}&page={page}");
    }
    sids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dashboards_on_one_postgresql_database_show_what_a_sqlite_one_shows() {
    let (a, b) = (
        common::emulator::start_pinned_inside_window(51, 2_500).await,
        common::emulator::start_pinned_inside_window(52, 1_500).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = common::emulator::accounts_file(
        dir.path(),
        &[a.account_entry(Some("Consumer")), b.account_entry(Some("Business"))],
    );
    let now = verilens::model::twilio_time::format(&a.config.now.unwrap());
    let url = common::postgres::fresh_database().await;
    let syncing_args = ["--sync-every", "1h", "--rate-limit", "0", "--now", &now, "--accounts", file.to_str().unwrap()];
    let (mut syncer, mut syncer_log, syncer_base) = common::process::start_serve(&url, &syncing_args).await;
    let (mut web, _, web_base) = common::process::start_serve(&url, &["--role", "web", "--now", &now]).await;
    let sqlite_db = dir.path().join("s.db");
    let (mut sqlite, mut sqlite_log, sqlite_base) =
        common::process::start_serve(sqlite_db.to_str().unwrap(), &syncing_args).await;
    syncer_log.wait_for("updated attempts", 2).await;
    sqlite_log.wait_for("updated attempts", 2).await;

    let (api_a, api_b) = (api_totals(&a).await, api_totals(&b).await);
    let expected = (api_a.0 + api_b.0, api_a.1 + api_b.1);
    for base in [&syncer_base, &web_base, &sqlite_base] {
        common::process::wait_for_totals(base, expected).await;
    }
    let health: serde_json::Value = reqwest::get(format!("{web_base}/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(health["synced"], true, "{health}");
    assert_eq!(health["accounts"].as_array().unwrap().len(), 2, "{health}");

    // Views the rollups answer and views that read raw rows (a destination prefix, a range
    // that is not whole hours, one attempt's country), in every CSV, the same on all three.
    let views = [
        "/export.csv?by=account&range=all",
        "/export.csv?by=country&range=all",
        "/export.csv?by=day&range=30d",
        "/export.csv?by=error&range=7d",
        "/export.csv?by=carrier&range=24h",
        "/export.csv?by=day&range=24h&channel=sms",
        "/export.csv?by=channel&range=all&prefix=%2B44",
        "/export.csv?by=service&range=all&status=unconverted",
        "/what-to-do.csv?range=30d",
        "/funnel.csv?range=30d",
        "/attempts.csv?range=24h&country=GB",
        "/attempts.csv?range=all&order=price&prefix=%2B1",
    ];
    for view in views {
        let from_sqlite = text(format!("{sqlite_base}{view}")).await;
        assert!(from_sqlite.lines().count() > 1, "{view} has rows to compare");
        for base in [&syncer_base, &web_base] {
            assert_eq!(text(format!("{base}{view}")).await, from_sqlite, "{view} from {base}");
        }
    }

    // The attempts list, priciest first (unpriced last), page after page, on each store.
    // The last day's list holds attempts whose price is not known yet.
    for query in ["range=all&order=price&prefix=%2B1", "range=24h&order=price", "range=24h"] {
        let from_sqlite = listed_sids(&sqlite_base, query).await;
        assert!(from_sqlite.len() > 50, "{query}: more than a page to compare: {}", from_sqlite.len());
        assert_eq!(listed_sids(&web_base, query).await, from_sqlite, "{query}");
    }

    // The pages: the overview with its account bar, and one attempt's page, on the web replica.
    let overview = text(format!("{web_base}/?range=all")).await;
    assert!(overview.contains("All accounts") && overview.contains("Consumer ("), "the account bar");
    let attempts = text(format!("{web_base}/attempts.csv?range=all&country=GB")).await;
    let sid = common::process::csv_rows(&attempts)[0]["sid"].clone();
    let attempt_page = text(format!("{web_base}/attempts/{sid}")).await;
    assert!(attempt_page.contains(&sid), "the attempt's page");
    assert!(attempt_page.contains("Consumer") || attempt_page.contains("Business"), "its account, by name");
    for child in [&mut syncer, &mut web, &mut sqlite] {
        child.kill().await.ok();
    }
}
