//! The dashboard under a sub-path (`--base-path`), as a reverse proxy forwards it: every page,
//! file, server function and export answers under it, every link the pages hold stays in it,
//! and nothing is served outside it. (Its own test binary: the base path is set once a process.)

mod common;

use chrono::Utc;
use common::dashboard;
use verilens::model::{Attempt, twilio_time};
use verilens::store;

const BASE: &str = "/tools/verilens";

fn attempt(n: u32) -> Attempt {
    let mut attempt: Attempt = serde_json::from_str(include_str!("data/attempt.json")).unwrap();
    attempt.sid = format!("VL{n:032}");
    attempt.date_created = twilio_time::parse(&twilio_time::format(&Utc::now())).unwrap();
    attempt.date_updated = attempt.date_created;
    attempt
}

async fn serve(basic_auth: Option<&str>) -> (String, tempfile::TempDir) {
    verilens::paths::set_base_path(BASE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("d.db")).await.unwrap();
    let mut tx = store::begin_write(&pool).await.unwrap();
    store::upsert_attempts(&mut tx, &[attempt(1), attempt(2)]).await.unwrap();
    tx.commit().await.unwrap();
    let served = dashboard::serve(pool, |state| state.basic_auth = basic_auth.map(|a| a.parse().unwrap())).await;
    (served.base, dir)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Every `href`, `src` and `action` of `html` that is a path (starts with one `/`).
fn site_paths(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\"", "action=\""] {
        for piece in html.split(attribute).skip(1) {
            let value = piece.split('"').next().unwrap_or_default();
            if value.starts_with('/') && !value.starts_with("//") {
                found.push(value.replace("&amp;", "&"));
            }
        }
    }
    found
}

#[tokio::test]
async fn everything_is_served_under_the_base_path_and_links_stay_in_it() {
    let (origin, _dir) = serve(None).await;
    let http = no_redirects();
    let sid = format!("VL{:032}", 1);
    for page in ["/", "/attempts", &format!("/attempts/{sid}"), "/?country=CO&by=carrier"] {
        let response = http.get(format!("{origin}{BASE}{page}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let html = response.text().await.unwrap();
        assert!(html.contains(&format!("data-base-path=\"{BASE}\"")), "{page}: the page names its base path");
        let paths = site_paths(&html);
        assert!(paths.len() > 10, "{page}: {paths:?}");
        for path in paths {
            assert!(path.starts_with(&format!("{BASE}/")), "{page} links outside {BASE}: {path}");
            // Each link is a page or file that answers under the base path.
            // (The downloads are checked below, and a form's server function takes a POST.)
            if !path.contains("/export.csv") && !path.contains("/attempts.csv") && !path.contains("/api/") {
                let status = http.get(format!("{origin}{path}")).send().await.unwrap().status();
                assert_eq!(status, 200, "{page} links to {path}");
            }
        }
    }
    for file in ["/pkg/verilens.js", "/pkg/verilens_bg.wasm", "/pkg/verilens.css", "/echarts.min.js", "/healthz"] {
        let status = http.get(format!("{origin}{BASE}{file}")).send().await.unwrap().status();
        assert_eq!(status, 200, "{file}");
    }
    let csv = http.get(format!("{origin}{BASE}/export.csv?by=country")).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.text().await.unwrap().starts_with("country,country_name,attempts,"));
    let attempts = http.get(format!("{origin}{BASE}/attempts.csv")).send().await.unwrap().text().await.unwrap();
    assert_eq!(attempts.lines().count(), 3, "a header and the two attempts: {attempts}");

    let call =
        http.post(format!("{origin}{BASE}/api/load_overview")).form(&[("search", "range=7d")]).send().await.unwrap();
    assert_eq!(call.status(), 200, "server functions answer under the base path");
    let overview: serde_json::Value = call.json().await.unwrap();
    assert!(overview.to_string().contains(&format!("\"{BASE}/?")), "the links it returns are under the base path");

    // Outside the base path: nothing, but the root leads to the dashboard.
    let root = http.get(format!("{origin}/")).send().await.unwrap();
    assert_eq!(root.status(), 307);
    assert_eq!(root.headers()["location"], format!("{BASE}/"));
    for outside in ["/attempts", "/healthz", "/pkg/verilens.js", "/api/load_overview", "/tools/verilensX/", "/tools"] {
        let status = http.get(format!("{origin}{outside}")).send().await.unwrap().status();
        assert_eq!(status, 404, "{outside}");
    }
}

#[tokio::test]
async fn the_password_guards_the_sub_path_but_its_health_check() {
    let (origin, _dir) = serve(Some("pm:secret")).await;
    let http = no_redirects();
    assert_eq!(http.get(format!("{origin}{BASE}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{origin}{BASE}/")).send().await.unwrap().status(), 401);
    let allowed = http.get(format!("{origin}{BASE}/")).basic_auth("pm", Some("secret")).send().await.unwrap();
    assert_eq!(allowed.status(), 200);
}
