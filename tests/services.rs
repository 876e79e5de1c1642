//! Verify services by name: the emulator lists the account's services as Twilio's Verify API
//! does, each sync keeps their names, and every page, filter and CSV shows "Login OTP
//! (VA6f9e…)" where it showed a SID.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::dashboard;
use serde_json::Value;
use verilens::emulator::services::SERVICE_NAMES;
use verilens::model::short_sid;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

type Fixture = common::emulator::Pinned;

async fn emulator() -> Fixture {
    common::emulator::start_pinned(41, 2_000).await
}

async fn get(f: &Fixture, path_or_url: &str) -> (u16, Value) {
    let url =
        if path_or_url.starts_with("http") { path_or_url.to_string() } else { format!("{}{path_or_url}", f.base) };
    let c = &f.config.credentials;
    let response =
        reqwest::Client::new().get(url).basic_auth(&c.account_sid, Some(&c.auth_token)).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_emulator_lists_and_fetches_the_services_its_attempts_use() {
    let f = emulator().await;
    let unauthenticated = reqwest::get(format!("{}/v2/Services", f.base)).await.unwrap();
    assert_eq!(unauthenticated.status(), 401);

    // Page by page, as a client follows next_page_url.
    let (status, mut page) = get(&f, "/v2/Services?PageSize=2").await;
    let mut listed = Vec::new();
    loop {
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["meta"]["key"], "services");
        listed.extend(page["services"].as_array().unwrap().iter().cloned());
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => page = get(&f, next).await.1,
            None => break,
        }
    }
    let names: Vec<&str> = listed.iter().map(|s| s["friendly_name"].as_str().unwrap()).collect();
    assert_eq!(names, SERVICE_NAMES);
    let account = &f.config.credentials.account_sid;
    assert!(
        listed.iter().all(|s| s["account_sid"] == account.as_str()
            && s["url"].as_str().unwrap().ends_with(s["sid"].as_str().unwrap()))
    );

    let (_, attempts) = get(&f, "/v2/Attempts?PageSize=1000").await;
    let used: BTreeSet<&str> =
        attempts["attempts"].as_array().unwrap().iter().map(|a| a["service_sid"].as_str().unwrap()).collect();
    let known: BTreeSet<&str> = listed.iter().map(|s| s["sid"].as_str().unwrap()).collect();
    assert!(used.is_subset(&known), "{used:?} {known:?}");

    let first = listed[0]["sid"].as_str().unwrap();
    let (status, fetched) = get(&f, &format!("/v2/Services/{first}")).await;
    assert_eq!((status, &fetched), (200, &listed[0]));
    for unknown in ["VA00000000000000000000000000000000", "VL00000000000000000000000000000000", "nope"] {
        let (status, body) = get(&f, &format!("/v2/Services/{unknown}")).await;
        assert_eq!((status, body["code"].as_u64()), (404, Some(20404)), "{unknown}");
    }
    let (status, body) = get(&f, "/v2/Services?PageSize=0").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(60200)));
}

#[tokio::test]
async fn a_sync_keeps_the_names_and_every_view_shows_them() {
    let f = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("s.db")).await.unwrap();
    let client = common::emulator::client_for(&f.base, &f.config, 0);
    sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    let (_, raw) = get(&f, "/v2/Services").await;
    let expected: BTreeMap<String, String> = raw["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["sid"].as_str().unwrap().to_string(), s["friendly_name"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(verilens::store::Store::from(pool.clone()).friendly_names().await.unwrap(), expected);

    let served = dashboard::serve(pool.clone(), |_| {}).await;
    let (login_sid, login) = expected.iter().find(|(_, name)| *name == "Login OTP").unwrap();
    let label = format!("{login} ({})", short_sid(login_sid));
    let page = reqwest::get(format!("{}/?by=service", served.base)).await.unwrap().text().await.unwrap();
    for (sid, name) in &expected {
        assert!(page.contains(&format!("{name} ({})", short_sid(sid))), "the breakdown names {sid}");
    }
    let filtered =
        reqwest::get(format!("{}/attempts?service={login_sid}", served.base)).await.unwrap().text().await.unwrap();
    assert!(filtered.contains(&format!("Service: {label}")), "the filter's chip names it");
    // Saving that view, or alerting on it, describes its filters by name too.
    for form in ["/views/save", "/alerts/new"] {
        let page =
            reqwest::get(format!("{}{form}?service={login_sid}", served.base)).await.unwrap().text().await.unwrap();
        assert!(page.contains(&format!("Service: {label}")), "{form} names the service");
    }

    let by_service =
        reqwest::get(format!("{}/export.csv?by=service", served.base)).await.unwrap().text().await.unwrap();
    let mut lines = by_service.lines();
    assert!(lines.next().unwrap().starts_with("service,service_name,attempts,"));
    let named: BTreeMap<String, String> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect();
    assert_eq!(named, expected);

    let attempts =
        reqwest::get(format!("{}/attempts.csv?service={login_sid}", served.base)).await.unwrap().text().await.unwrap();
    let mut rows = attempts.lines();
    assert!(rows.next().unwrap().ends_with(",service_sid,service_name,account_sid,account_name"));
    let rows: Vec<&str> = rows.collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|row| row.contains(&format!(",{login_sid},{login},AC"))), "{:?}", &rows[..3]);

    // A renamed service reads by its new name after the next sync.
    verilens::store::Store::from(pool.clone())
        .save_services(
            &[verilens::model::VerifyService { sid: login_sid.clone(), friendly_name: "Old name".into() }],
            "2026-01-01T00:00:00Z",
        )
        .await
        .unwrap();
    sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(verilens::store::Store::from(pool.clone()).friendly_names().await.unwrap(), expected);
}
