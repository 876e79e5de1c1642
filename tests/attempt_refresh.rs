//! "Refresh from Twilio" on the attempt page: one attempt fetched live writes Twilio's newer
//! copy into the snapshot with its rollups, as a sync would, and says what changed; calls
//! another site makes in a browser are refused.

use crate::common;

use common::dashboard;
use verilens::model::{Attempt, ConversionStatus};
use verilens::state::AppState;
use verilens::store;

type Fixture = common::emulator::Pinned;

async fn emulator() -> Fixture {
    common::emulator::start_pinned(43, 2_000).await
}

/// A converted, priced attempt as the API has it now.
async fn settled_attempt(f: &Fixture) -> Attempt {
    let page = f.get_json("/v2/Attempts?PageSize=1000").await;
    let attempts: Vec<Attempt> = serde_json::from_value(page["attempts"].clone()).unwrap();
    attempts
        .into_iter()
        .find(|a| {
            a.conversion_status == ConversionStatus::Converted && a.price.as_ref().is_some_and(|p| p.value.is_some())
        })
        .expect("a converted, priced attempt")
}

/// A snapshot holding `attempt` as it was before it settled: unconverted, not priced, older.
async fn stale_snapshot(attempt: &Attempt) -> (sqlx::SqlitePool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("s.db")).await.unwrap();
    let mut stale = attempt.clone();
    stale.conversion_status = ConversionStatus::Unconverted;
    stale.price = None;
    stale.date_updated = stale.date_created;
    let mut tx = store::begin_write(&pool).await.unwrap();
    store::upsert_attempts(&mut tx, &[stale]).await.unwrap();
    tx.commit().await.unwrap();
    (pool, dir)
}

fn with_api(f: &Fixture) -> impl FnOnce(&mut AppState) {
    let client = std::sync::Arc::new(common::emulator::client_for(&f.base, &f.config, 0));
    move |state| state.apis = vec![client]
}

#[tokio::test]
async fn a_refresh_writes_twilios_newer_copy_and_its_rollups_and_says_what_changed() {
    let f = emulator().await;
    let live = settled_attempt(&f).await;
    let (pool, _dir) = stale_snapshot(&live).await;
    let mut state = dashboard::state(pool.clone(), "127.0.0.1:0".parse().unwrap(), with_api(&f));
    let generation = store::rollup_generation(&pool).await.unwrap();

    let refreshed = verilens::views::refresh_attempt(&state, &live.sid).await.unwrap();
    assert_eq!(refreshed.problem, None);
    let changed: Vec<(&str, &str, &str)> =
        refreshed.changes.iter().map(|c| (c.field.as_str(), c.before.as_str(), c.after.as_str())).collect();
    let amount = live.price.as_ref().unwrap().value.as_deref().unwrap().parse::<f64>().unwrap().to_string();
    assert!(changed.contains(&("Conversion", "unconverted", "converted")), "{changed:?}");
    assert!(
        changed
            .iter()
            .any(|(field, before, after)| *field == "Price" && *before == "pending" && after.starts_with(&amount)),
        "{changed:?}"
    );
    assert!(changed.iter().any(|(field, ..)| *field == "Updated (UTC)"), "{changed:?}");

    let stored = store::find_attempt(&pool.clone().into(), &live.sid).await.unwrap().unwrap();
    assert_eq!(stored.conversion_status, "converted");
    assert!(store::rollup_generation(&pool).await.unwrap() > generation, "the overview reloads its rollups");
    assert_eq!(common::assert_rollups_equal_a_rebuild(&pool).await, 1);

    let again = verilens::views::refresh_attempt(&state, &live.sid).await.unwrap();
    assert_eq!((again.changes.len(), again.problem), (0, None), "nothing changed since");

    let unknown = verilens::views::refresh_attempt(&state, "VL00000000000000000000000000000000").await.unwrap();
    assert_eq!(unknown.problem.as_deref(), Some("The snapshot has no such attempt."));
    state.apis = vec![std::sync::Arc::new(
        common::emulator::client_for("http://127.0.0.1:9", &f.config, 0)
            .with_retry_policy(verilens::twilio::RetryPolicy { max_retries: 0, ..Default::default() }),
    )];
    let unreachable = verilens::views::refresh_attempt(&state, &live.sid).await.unwrap();
    assert!(unreachable.problem.unwrap().contains("could not be asked"));

    let other_account = verilens::emulator::EmulatorConfig::new(f.config.seed + 1, 10);
    state.apis = vec![std::sync::Arc::new(common::emulator::client_for(&f.base, &other_account, 0))];
    let foreign = verilens::views::refresh_attempt(&state, &live.sid).await.unwrap();
    assert_eq!(foreign.problem.as_deref(), Some("This dashboard has no credentials for the attempt's account."));
}

#[tokio::test]
async fn the_refresh_is_a_server_function_other_sites_cannot_call() {
    let f = emulator().await;
    let live = settled_attempt(&f).await;
    let (pool, _dir) = stale_snapshot(&live).await;
    let served = dashboard::serve(pool.clone(), with_api(&f)).await;
    let call = |site: Option<&'static str>| {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/refresh_attempt", served.base))
            .form(&[("sid", live.sid.as_str())]);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    for site in ["cross-site", "same-site"] {
        let refused = call(Some(site)).await.unwrap();
        assert_eq!(refused.status(), 403, "{site}");
        let stored = store::find_attempt(&pool.clone().into(), &live.sid).await.unwrap().unwrap();
        assert_eq!(stored.conversion_status, "unconverted", "{site}: nothing written");
    }
    let answer = call(Some("same-origin")).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(body["changes"].as_array().unwrap().iter().any(|c| c["field"] == "Conversion"), "{body}");
    assert_eq!(
        store::find_attempt(&pool.clone().into(), &live.sid).await.unwrap().unwrap().conversion_status,
        "converted"
    );
    let page = reqwest::get(format!("{}/attempts/{}", served.base, live.sid)).await.unwrap().text().await.unwrap();
    assert!(page.contains("Refresh from Twilio") && page.contains("action=\"/api/refresh_attempt\""));
}
