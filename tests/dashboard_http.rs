//! The dashboard's router: security headers, Basic auth, hostile text from
//! the API, and thousands of malformed queries that must never be a 5xx.

mod common;

use axum::Router;
use chrono::Utc;
use common::dashboard::{self, get, post_form};
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

/// The dashboard's router over a snapshot of three attempts, two with hostile carrier names.
async fn dashboard(basic_auth: Option<&str>) -> (Router, tempfile::TempDir) {
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
    let router = dashboard::router(pool, |state| state.basic_auth = basic_auth.map(|a| a.parse().unwrap()));
    (router, dir)
}

async fn body_of(app: &Router, uri: &str) -> String {
    let answer = get(app, uri, None).await;
    assert_eq!(answer.status, 200, "{uri}");
    answer.body
}

#[tokio::test]
async fn an_error_code_filter_is_named_with_its_title() {
    let (app, _dir) = dashboard(None).await;
    for path in ["/", "/attempts"] {
        let page = body_of(&app, &format!("{path}?country=CO&carrier=Tigo&error=30003&by=error")).await;
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
    let (app, _dir) = dashboard(None).await;
    for path in ["/", "/attempts", "/healthz", "/export.csv", "/attempts/VL11111111111111111111111111111111"] {
        let answer = get(&app, path, None).await;
        let headers = &answer.headers;
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn the_overview_says_what_each_number_counts() {
    let (app, _dir) = dashboard(None).await;
    let page = body_of(&app, "/?by=channel").await;
    for (tile, formula) in [
        ("Cost per converted verification", "spend ÷ converted verifications"),
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
    let by_country = body_of(&app, "/").await;
    assert!(!by_country.contains("data-testid=\"channel-note\""));
}

#[tokio::test]
async fn basic_auth_guards_everything_but_healthz() {
    let (app, _dir) = dashboard(Some("pm:correct-horse")).await;
    let anonymous = get(&app, "/", None).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(get(&app, "/export.csv", Some("pm:nope")).await.status, 401);
    assert_eq!(get(&app, "/", Some("pm:correct-horse")).await.status, 200);
    assert_eq!(get(&app, "/healthz", None).await.status, 200);
}

#[tokio::test]
async fn text_from_the_api_is_inert_in_pages_and_csv() {
    let (app, _dir) = dashboard(None).await;
    let page = body_of(&app, "/?by=carrier").await;
    assert!(!page.contains("<script>alert(1)"), "the carrier name is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let attempts = body_of(&app, "/attempts").await;
    assert!(!attempts.contains("+573003003030"), "phone numbers are masked");
    assert!(attempts.contains("+57••••••••30"));

    let csv = body_of(&app, "/export.csv?by=carrier").await;
    for line in csv.lines().skip(1) {
        let first = line.trim_start_matches('"');
        assert!(!first.starts_with(['=', '+', '-', '@']), "a cell that could be a formula: {line}");
    }
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    let list = body_of(&app, "/attempts.csv").await;
    assert!(list.contains("'+57••••••••30") && !list.contains("+573003003030"), "{list}");
}

#[tokio::test]
async fn malformed_queries_get_a_page_or_a_400_never_a_5xx() {
    let (app, _dir) = dashboard(None).await;
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
        let answer = if path.starts_with("/api/") {
            // The pages' server functions take the same query as a form field.
            let body = form_urlencoded::Serializer::new(String::new()).append_pair("search", &query).finish();
            post_form(&app, path, body).await
        } else {
            get(&app, &format!("{path}?{query}"), None).await
        };
        let status = answer.status.as_u16();
        let csv = path.ends_with(".csv");
        assert!(status == 200 || (csv && status == 400), "{path}?{query} answered {status}");
        if i % 50 == 0 {
            // An attempt SID made of the same junk: a 404 page, never a 5xx.
            let sid: String = query.chars().filter(|c| c.is_ascii_alphanumeric()).take(40).collect();
            assert_eq!(get(&app, &format!("/attempts/VL{sid}"), None).await.status, 404, "/attempts/VL{sid}");
        }
    }
}
