//! Annotations: a script adds one through `POST /api/annotations` with its token (and only
//! with it), a person through the page's form; verilens notes each incident once; every view
//! whose range covers an annotation lists it, as text, and no other view does.

use crate::common;

use std::sync::Arc;

use verilens::model::twilio_time;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

const TOKEN: &str = "annotations-token-0123456789";

async fn synced() -> (sqlx::SqlitePool, chrono::DateTime<chrono::Utc>, tempfile::TempDir, common::emulator::Pinned) {
    // Pinned to the clock, the dataset's hours fall differently on each run: with 20,000
    // attempts the outage's hours were too thin to find at some times of day, with 60,000 it
    // is found at every hour and minute offset tried.
    let emulator = common::emulator::start_pinned(23, 60_000).await;
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("a.db")).await.unwrap();
    let client = common::emulator::client_for(&emulator.base, &emulator.config, 0);
    sync_once(
        &verilens::store::Store::Sqlite(pool.clone()),
        &client,
        &SyncProgress::default(),
        &SyncOptions::default(),
    )
    .await
    .unwrap();
    let now = emulator.config.now.unwrap();
    (pool, now, dir, emulator)
}

async fn post(base: &str, authorization: Option<&str>, content_type: &str, body: &str) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/api/annotations"))
        .header("content-type", content_type)
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_adds_annotations_with_its_token_and_every_covering_view_lists_them_as_text() {
    let (pool, now, _dir, _emulator) = synced().await;
    let off = common::dashboard::serve(pool.clone(), |s| s.pinned_now = Some(now)).await;
    let body =
        serde_json::json!({"at": twilio_time::format(&(now - chrono::Duration::days(3))), "text": "x"}).to_string();
    assert_eq!(
        post(&off.base, Some(&format!("Bearer {TOKEN}")), "application/json", &body).await.0,
        404,
        "off without a token"
    );

    let served = common::dashboard::serve(pool.clone(), |s| {
        s.pinned_now = Some(now);
        s.annotations_token = Some(Arc::from(TOKEN));
        s.basic_auth = Some("pm:s3cret".parse().unwrap());
    })
    .await;
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(post(&served.base, None, "application/json", &body).await.0, 401);
    assert_eq!(post(&served.base, Some("Bearer wrong-token"), "application/json", &body).await.0, 401);
    assert_eq!(post(&served.base, Some(&bearer), "text/plain", &body).await.0, 415);
    let (status, answer) = post(&served.base, Some(&bearer), "application/json", "{not json").await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("JSON"));
    let (status, answer) =
        post(&served.base, Some(&bearer), "application/json", r#"{"at": "last tuesday", "text": "x"}"#).await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("last tuesday"), "{answer}");

    let at = now - chrono::Duration::days(3);
    let hostile = "Fraud Guard set to max <img src=x onerror=alert(1)>";
    let body =
        serde_json::json!({"at": twilio_time::format(&at), "text": hostile, "link": "https://example.com/change/42"});
    let (status, answer) = post(&served.base, Some(&bearer), "application/json", &body.to_string()).await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer["id"].as_i64().is_some());

    // The last 7 days cover it: listed, as text; the view a month before does not.
    let state = common::dashboard::state(pool.clone(), served.addr, |s| s.pinned_now = Some(now));
    let week = verilens::views::load_overview(&state, "range=7d").await.unwrap();
    let texts: Vec<&str> = week.annotations.iter().map(|a| a.text.as_str()).collect();
    assert!(texts.contains(&hostile), "{texts:?}");
    let before = (now - chrono::Duration::days(40)).date_naive();
    let earlier = verilens::views::load_overview(&state, &format!("from={before}&to={before}")).await.unwrap();
    assert!(earlier.annotations.iter().all(|a| a.text != hostile));
    let html = reqwest::Client::new()
        .get(format!("{}/?range=7d", served.base))
        .basic_auth("pm", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Fraud Guard set to max &lt;img src=x onerror=alert(1)&gt;"), "shown as text");
    assert!(!html.contains("<img src=x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_incident_is_noted_once() {
    let (pool, now, _dir, _emulator) = synced().await;
    let state = common::dashboard::state(pool.clone(), "127.0.0.1:0".parse().unwrap(), |s| s.pinned_now = Some(now));
    let first = verilens::annotations::note_incidents(&state, now).await.unwrap();
    assert!(first >= 2, "the dataset's SMS-pumping burst and carrier outage: {first}");
    assert_eq!(verilens::annotations::note_incidents(&state, now).await.unwrap(), 0, "noted once");
    let index = state.rollups.get_current(&pool.clone().into()).await.unwrap();
    let noted = verilens::annotations::newest(&pool.clone().into(), 100).await.unwrap();
    assert_eq!(noted.iter().filter(|a| a.source == "incident").count(), index.incidents().len());
    for incident in index.incidents() {
        assert!(noted.iter().any(|a| a.at == incident.start && a.end.as_deref() == Some(incident.end.as_str())));
    }
}
