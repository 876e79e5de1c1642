//! The dashboard over real HTTP: security headers, Basic auth, hostile text from
//! the API, and thousands of malformed queries that must never be a 5xx.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use common::dashboard;
use sqlx::sqlite::SqlitePoolOptions;
use verilens::emulator::rng::Rng;
use verilens::model::{Attempt, twilio_time};
use verilens::store;

const HOSTILE_CARRIER: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

fn attempt(sid_digit: char, carrier: &str, to: &str) -> Attempt {
    let mut attempt: Attempt = serde_json::from_str(include_str!("data/attempt.json")).unwrap();
    attempt.sid = format!("VL{}", sid_digit.to_string().repeat(32));
    attempt.date_created = twilio_time::parse(&twilio_time::format(&Utc::now())).unwrap();
    attempt.date_updated = attempt.date_created;
    let data = attempt.channel_data.as_mut().unwrap();
    data.carrier = Some(carrier.to_string());
    data.to = Some(to.to_string());
    attempt
}

async fn serve(basic_auth: Option<&str>) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("d.db")).await.unwrap();
    let mut tx = store::begin_write(&pool).await.unwrap();
    let attempts = [
        attempt('1', HOSTILE_CARRIER, "+573003003030"),
        attempt('2', "=HYPERLINK(\"http://x\")", "+573003003031"),
        attempt('3', "Tigo", "+573003003032"),
    ];
    store::upsert_attempts(&mut tx, &attempts).await.unwrap();
    tx.commit().await.unwrap();
    let served = dashboard::serve(pool, |state| state.basic_auth = basic_auth.map(|a| a.parse().unwrap())).await;
    (served.base, dir)
}

#[tokio::test]
async fn an_error_code_filter_is_named_with_its_title() {
    let (base, _dir) = serve(None).await;
    for path in ["/", "/attempts"] {
        let page = reqwest::get(format!("{base}{path}?country=CO&carrier=Tigo&error=30003&by=error"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let chips = &page[page.find("data-testid=\"chips\"").expect("the chips")..];
        assert!(chips.contains(">Error: 30003 Unreachable destination handset<"), "{path}");
        if path == "/" {
            let trail = &page[page.find("data-testid=\"breadcrumbs\"").expect("the breadcrumbs")..];
            assert!(trail.contains("error 30003 Unreachable destination handset"));
        }
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (base, _dir) = serve(None).await;
    for path in ["/", "/attempts", "/healthz", "/export.csv", "/attempts/VL11111111111111111111111111111111"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn countries_read_by_name_and_are_found_by_name() {
    let (base, _dir) = serve(None).await;
    let overview = reqwest::get(format!("{base}/?by=country")).await.unwrap().text().await.unwrap();
    assert!(overview.contains(">Colombia (CO)<"), "the breakdown names the country");
    assert!(overview.contains("<option value=\"CO\">Colombia</option>"), "the search suggests it by name");
    let found = reqwest::get(format!("{base}/attempts?country=colombia")).await.unwrap().text().await.unwrap();
    assert!(
        found.contains("Country: Colombia (CO)") && !found.contains("data-testid=\"notice\""),
        "a name finds the country"
    );
    let csv = reqwest::get(format!("{base}/export.csv?by=country")).await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("country,country_name,attempts,"), "{}", lines[0]);
    assert!(lines[1].starts_with("CO,Colombia,3,"), "{}", lines[1]);
}

#[tokio::test]
async fn the_overview_says_what_each_number_counts() {
    let (base, _dir) = serve(None).await;
    let page = reqwest::get(format!("{base}/?by=channel")).await.unwrap().text().await.unwrap();
    for (tile, formula) in [
        ("Cost per successful verification", "(channel fees + verification fees) ÷ converted verifications"),
        ("Total cost", "channel fees + verification fees"),
        ("Attempt conversion rate", "converted attempts ÷ attempts"),
        ("Verification conversion rate", "converted verifications ÷ verifications"),
        ("Spend on verifications that never converted", "spend on verifications that never converted"),
    ] {
        assert!(page.contains(&format!("title=\"{tile} = {formula}.")), "{tile}'s tooltip states {formula}");
    }
    for testid in ["kpi-verification-conversion", "kpi-unconverted-verification-spend", "verification-rate"] {
        assert!(page.contains(&format!("data-testid=\"{testid}\"")), "{testid}");
    }
    assert!(
        page.contains(">Converted attempts<") && page.contains(">SMS<"),
        "counts with their unit, channels by name"
    );
    assert!(page.contains("data-testid=\"channel-note\""), "a retried verification counts in both channels");
    let by_country = reqwest::get(format!("{base}/")).await.unwrap().text().await.unwrap();
    assert!(!by_country.contains("data-testid=\"channel-note\""));
}

#[tokio::test]
async fn basic_auth_guards_everything_but_healthz() {
    let (base, _dir) = serve(Some("pm:correct-horse")).await;
    let http = reqwest::Client::new();
    let anonymous = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let wrong = http.get(format!("{base}/export.csv")).basic_auth("pm", Some("nope")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http.get(format!("{base}/")).basic_auth("pm", Some("correct-horse")).send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn text_from_the_api_is_inert_in_pages_and_csv() {
    let (base, _dir) = serve(None).await;
    let page = reqwest::get(format!("{base}/?by=carrier")).await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"), "the carrier name is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let attempts = reqwest::get(format!("{base}/attempts")).await.unwrap().text().await.unwrap();
    assert!(!attempts.contains("+573003003030"), "phone numbers are masked");
    assert!(attempts.contains("+57••••••••30"));

    let csv = reqwest::get(format!("{base}/export.csv?by=carrier")).await.unwrap().text().await.unwrap();
    for line in csv.lines().skip(1) {
        let first = line.trim_start_matches('"');
        assert!(!first.starts_with(['=', '+', '-', '@']), "a cell that could be a formula: {line}");
    }
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    let list = reqwest::get(format!("{base}/attempts.csv")).await.unwrap().text().await.unwrap();
    assert!(list.contains("'+57••••••••30") && !list.contains("+573003003030"), "{list}");
}

// Over a port, with the server on a multi-threaded runtime, as in production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_get_a_page_or_a_400_never_a_5xx() {
    let (base, _dir) = serve(None).await;
    // A request that hangs fails the test with its URL instead of stalling the run.
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(20)).build().unwrap();
    let mut rng = Rng::new(7);
    let keys = [
        "range", "from", "to", "country", "channel", "carrier", "service", "error", "status", "prefix", "by", "sort",
        "dir", "compare", "page", "x",
    ];
    let junk = [
        "",
        "%",
        "%zz",
        "%00",
        "'",
        "\"",
        "<b>",
        "../",
        "🦀",
        "30d",
        "2026-02-30",
        "CO",
        "sms",
        "+57",
        "asc",
        "VL",
        "=1",
        "&",
        "a".repeat(300).leak(),
    ];
    for i in 0..10_000 {
        let mut query = String::new();
        for _ in 0..1 + rng.below(4) {
            let key = keys[rng.below(keys.len() as u64) as usize];
            let value: String = (0..1 + rng.below(3)).map(|_| junk[rng.below(junk.len() as u64) as usize]).collect();
            query.push_str(&format!("{key}={}&", value.replace(' ', "%20")));
        }
        let path =
            ["/", "/attempts", "/export.csv", "/attempts.csv", "/api/load_overview", "/api/load_attempts"][i % 6];
        let response = if path.starts_with("/api/") {
            // The pages' server functions take the same query as a form field.
            let body = form_urlencoded::Serializer::new(String::new()).append_pair("search", &query).finish();
            http.post(format!("{base}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i}: POST {path} search={query}: {e:?}"))
        } else {
            http.get(format!("{base}{path}?{query}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i}: {path}?{query}: {e:?}"))
        };
        let status = response.status().as_u16();
        let csv = path.ends_with(".csv");
        assert!(status == 200 || (csv && status == 400), "{path}?{query} answered {status}");
        if i % 50 == 0 {
            // An attempt SID made of the same junk: a 404 page, never a 5xx.
            let sid: String = query.chars().filter(|c| c.is_ascii_alphanumeric()).take(40).collect();
            let response = http.get(format!("{base}/attempts/VL{sid}")).send().await;
            let status = response.unwrap_or_else(|e| panic!("/attempts/VL{sid}: {e}")).status().as_u16();
            assert_eq!(status, 404, "/attempts/VL{sid}");
        }
    }
}

// While Leptos generates a router's route list, no resource in the process may load (one
// global flag), and a page whose data starts loading then waits forever. Routers built while
// pages render (several dashboards in one process, as in these tests) must not stall them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_finish_while_other_routers_are_built() {
    let (base, _dir) = serve(None).await;
    let building = Arc::new(AtomicBool::new(true));
    let (first_built, built_one) = tokio::sync::oneshot::channel();
    let builder = {
        let building = building.clone();
        std::thread::spawn(move || {
            let mut first_built = Some(first_built);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let _entered = runtime.enter();
            let pool = runtime.block_on(SqlitePoolOptions::new().connect("sqlite::memory:")).unwrap();
            while building.load(Ordering::Relaxed) {
                let state = dashboard::state(pool.clone(), "127.0.0.1:1".parse().unwrap(), |_| {});
                drop(verilens::server::router(state));
                first_built.take().map(|sender| sender.send(()));
            }
        })
    };
    built_one.await.unwrap();
    // Before routes were generated once per process, about the fifth request stalled.
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(20)).build().unwrap();
    for i in 0..300 {
        let path = ["/", "/attempts", "/attempts/VL11111111111111111111111111111111"][i % 3];
        let response = http.get(format!("{base}{path}")).send().await;
        let status = response.unwrap_or_else(|e| panic!("request {i}: {path}: {e:?}")).status().as_u16();
        assert_eq!(status, 200, "{path}");
    }
    building.store(false, Ordering::Relaxed);
    builder.join().unwrap();
}
