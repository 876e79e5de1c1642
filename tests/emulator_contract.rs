//! The emulator's contract, over real loopback HTTP: every parameter, error and
//! the envelope, as Twilio's docs and OpenAPI describe them.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use verilens::emulator::params::PageToken;
use verilens::emulator::{self, EmulatorConfig, RunningEmulator};
use verilens::model::{Attempt, twilio_time};

/// Which attempts a filter should select.
type Predicate = Box<dyn Fn(&Value) -> bool>;

const NOW: &str = "2026-11-20T15:00:00Z";

async fn start(configure: impl FnOnce(&mut EmulatorConfig)) -> (RunningEmulator, EmulatorConfig) {
    let mut config = EmulatorConfig::new(21, 4_000);
    config.now = twilio_time::parse(NOW);
    config.rate_limit = 0;
    configure(&mut config);
    let running = emulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    (running, config)
}

struct Api {
    base: String,
    user: String,
    password: String,
    http: reqwest::Client,
}

impl Api {
    fn new(running: &RunningEmulator, config: &EmulatorConfig) -> Self {
        Api {
            base: running.base_url(),
            user: config.credentials.account_sid.clone(),
            password: config.credentials.auth_token.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path_and_query: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_string()
        } else {
            format!("{}{path_and_query}", self.base)
        };
        let response = self.http.get(url).basic_auth(&self.user, Some(&self.password)).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, path_and_query: &str) -> Value {
        let (status, _, body) = self.get(path_and_query).await;
        assert_eq!(status, 200, "{path_and_query}: {body}");
        body
    }

    /// Every attempt of a listing, following next_page_url.
    async fn walk(&self, path_and_query: &str) -> Vec<Value> {
        let mut url = path_and_query.to_string();
        let mut all = Vec::new();
        loop {
            let page = self.ok(&url).await;
            all.extend(page["attempts"].as_array().unwrap().iter().cloned());
            match page["meta"]["next_page_url"].as_str() {
                Some(next) => url = next.to_string(),
                None => return all,
            }
        }
    }
}

fn assert_twilio_error(body: &Value, status: u16, code: u64) {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["more_info"], format!("https://www.twilio.com/docs/errors/{code}"));
}

#[tokio::test]
async fn envelope_matches_the_docs_and_urls_follow_the_host() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let page = api.ok("/v2/Attempts").await;
    let meta = &page["meta"];
    assert_eq!(meta["key"], "attempts");
    assert_eq!(meta["page"], 0);
    assert_eq!(meta["page_size"], 50);
    assert_eq!(page["attempts"].as_array().unwrap().len(), 50);
    let base = running.base_url();
    assert_eq!(meta["first_page_url"], format!("{base}/v2/Attempts?PageSize=50&Page=0"));
    assert_eq!(meta["url"], meta["first_page_url"]);
    assert_eq!(meta["previous_page_url"], Value::Null);
    assert!(
        meta["next_page_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/v2/Attempts?PageSize=50&Page=1&PageToken="))
    );

    // Absolute URLs come from the request's own scheme and host.
    let response = api
        .http
        .get(format!("{base}/v2/Attempts?PageSize=2"))
        .basic_auth(&api.user, Some(&api.password))
        .header("Host", "verify.example.test")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert!(page["meta"]["url"].as_str().unwrap().starts_with("https://verify.example.test/v2/Attempts?"));
    assert!(page["attempts"][0]["url"].as_str().unwrap().starts_with("https://verify.example.test/v2/Attempts/VL"));
}

#[tokio::test]
async fn attempts_have_the_documented_shape_and_round_trip() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let attempts = api.ok("/v2/Attempts?PageSize=1000").await["attempts"].as_array().unwrap().clone();
    let mut channels = HashSet::new();
    for json in &attempts {
        let attempt: Attempt = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&attempt).unwrap(), *json, "round trip");
        assert_eq!(attempt.account_sid, config.credentials.account_sid);
        let data = attempt.channel_data.as_ref().unwrap();
        channels.insert(attempt.channel.as_str());
        match attempt.channel.as_str() {
            "sms" | "whatsapp" => {
                assert!(data.message_status.is_some() && data.carrier.is_some() && data.mcc.is_some());
                assert!(data.to.as_deref().unwrap().starts_with('+'));
            }
            "call" => assert!(data.call_status.is_some() && data.message_status.is_none()),
            "email" => assert!(data.carrier.is_none() && data.to.as_deref().unwrap().contains('@')),
            other => panic!("unexpected channel {other}"),
        }
        for sid in [&attempt.sid, &attempt.service_sid, &attempt.verification_sid] {
            assert_eq!(sid.len(), 34);
        }
    }
    assert!(channels.len() >= 3, "{channels:?}");
}

#[tokio::test]
async fn a_walk_lists_every_attempt_once_newest_first() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let walked = api.walk("/v2/Attempts?PageSize=250").await;
    let summary = api.ok("/v2/Attempts/Summary").await;
    assert_eq!(walked.len() as u64, summary["total_attempts"].as_u64().unwrap());
    let sids: HashSet<&str> = walked.iter().map(|a| a["sid"].as_str().unwrap()).collect();
    assert_eq!(sids.len(), walked.len());
    let dates: Vec<&str> = walked.iter().map(|a| a["date_created"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(*dates.last().unwrap() >= "2026-10-21T15:00:00Z", "nothing older than 30 days");
    assert!(dates[0] <= NOW, "nothing from the future");
}

#[tokio::test]
async fn page_numbers_and_previous_links_walk_both_ways() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let first = api.ok("/v2/Attempts?PageSize=20").await;
    let second = api.ok(first["meta"]["next_page_url"].as_str().unwrap()).await;
    assert_eq!(second["meta"]["page"], 1);
    let by_number = api.ok("/v2/Attempts?PageSize=20&Page=1").await;
    assert_eq!(by_number["attempts"], second["attempts"]);
    let back = api.ok(second["meta"]["previous_page_url"].as_str().unwrap()).await;
    assert_eq!(back["attempts"], first["attempts"]);
}

#[tokio::test]
async fn every_filter_selects_what_it_names() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let all = api.walk("/v2/Attempts?PageSize=1000").await;
    let sample = &all[all.len() / 2];
    let cases: Vec<(String, Predicate)> = vec![
        ("Country=co".into(), Box::new(|a: &Value| a["channel_data"]["country"] == "CO")),
        ("Channel=WHATSAPP".into(), Box::new(|a: &Value| a["channel"] == "whatsapp")),
        ("Status=converted".into(), Box::new(|a: &Value| a["conversion_status"] == "converted")),
        (
            "Status=unconverted&Country=BR&Channel=sms".into(),
            Box::new(|a: &Value| {
                a["conversion_status"] == "unconverted" && a["channel_data"]["country"] == "BR" && a["channel"] == "sms"
            }),
        ),
        (format!("VerifyServiceSid={}", sample["service_sid"].as_str().unwrap()), {
            let s = sample["service_sid"].clone();
            Box::new(move |a: &Value| a["service_sid"] == s)
        }),
        (format!("VerificationSid={}", sample["verification_sid"].as_str().unwrap()), {
            let s = sample["verification_sid"].clone();
            Box::new(move |a: &Value| a["verification_sid"] == s)
        }),
        (
            "DateCreatedAfter=2026-11-19T00:00:00Z&DateCreatedBefore=2026-11-19T12:00:00Z".into(),
            Box::new(|a: &Value| {
                let d = a["date_created"].as_str().unwrap();
                ("2026-11-19T00:00:00Z".."2026-11-19T12:00:00Z").contains(&d)
            }),
        ),
    ];
    for (query, predicate) in cases {
        let listed = api.walk(&format!("/v2/Attempts?PageSize=1000&{query}")).await;
        let expected = all.iter().filter(|a| predicate(a)).count();
        assert!(expected > 0, "{query} matches something");
        assert_eq!(listed.len(), expected, "{query}");
        assert!(listed.iter().all(&predicate), "{query}");
    }
    let to = sample["channel_data"]["to"].as_str().unwrap();
    let encoded = to.replace('+', "%2B");
    let listed = api.walk(&format!("/v2/Attempts?ChannelData.To={encoded}")).await;
    assert!(!listed.is_empty() && listed.iter().all(|a| a["channel_data"]["to"] == to));
}

#[tokio::test]
async fn sid_filters_that_match_nothing_return_the_empty_page() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    for query in ["VerificationSid=VL_UNKNOWN_SID", "VerifyServiceSid=VA00000000000000000000000000000000"] {
        let page = api.ok(&format!("/v2/Attempts?{query}")).await;
        assert_eq!(page["attempts"], serde_json::json!([]), "{query}");
        assert_eq!(page["meta"]["next_page_url"], Value::Null);
    }
}

#[tokio::test]
async fn invalid_parameters_are_400s_naming_the_parameter() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    for (path, name) in [
        ("/v2/Attempts?PageSize=0", "PageSize"),
        ("/v2/Attempts?PageSize=1001", "PageSize"),
        ("/v2/Attempts?Page=-2", "Page"),
        ("/v2/Attempts?Channel=fax", "Channel"),
        ("/v2/Attempts?Status=pending", "Status"),
        ("/v2/Attempts?DateCreatedAfter=last-week", "DateCreatedAfter"),
        ("/v2/Attempts?PageToken=forged", "PageToken"),
        ("/v2/Attempts/Summary?Channel=pigeon", "Channel"),
        ("/v2/Attempts/Summary?DateCreatedBefore=2026-13-45", "DateCreatedBefore"),
    ] {
        let (status, _, body) = api.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert_twilio_error(&body, 400, 60200);
        assert!(body["message"].as_str().unwrap().contains(name), "{path}: {body}");
    }
}

#[tokio::test]
async fn page_numbers_and_tokens_past_the_data_are_400s() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let first = api.ok("/v2/Attempts?PageSize=20").await;
    let next = first["meta"]["next_page_url"].as_str().unwrap();
    assert!(next.contains("&Page=1&"), "{next}");
    // A page number whose next one, or whose attempts to skip, would wrap around.
    let wrapping = [
        next.replace("&Page=1&", &format!("&Page={}&", u64::MAX)),
        format!("/v2/Attempts?Page={}", u64::MAX),
        format!("/v2/Attempts?PageSize=1000&Page={}", u64::MAX / 1000),
    ];
    // Tokens of walks whose first page would lie past the dataset.
    let records = running.emulator.dataset.read().unwrap().records.len();
    let forged =
        [PageToken::Older { position: 10, top: records + 1 }, PageToken::Newer { position: records, top: usize::MAX }]
            .map(|token| format!("/v2/Attempts?PageSize=20&Page=1&PageToken={}", token.encode()));
    for path in wrapping.iter().chain(&forged) {
        let (status, _, body) = api.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_twilio_error(&body, 400, 60200);
    }
    let at_the_end = PageToken::Older { position: 10, top: records };
    api.ok(&format!("/v2/Attempts?PageSize=20&Page=1&PageToken={}", at_the_end.encode())).await;
}

#[tokio::test]
async fn fetch_by_sid_and_404s() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let listed = api.ok("/v2/Attempts?PageSize=5").await["attempts"][3].clone();
    let fetched = api.ok(&format!("/v2/Attempts/{}", listed["sid"].as_str().unwrap())).await;
    assert_eq!(fetched, listed);
    for sid in ["VL00000000000000000000000000000000", "VL_UNKNOWN_SID", "not-a-sid"] {
        let (status, _, body) = api.get(&format!("/v2/Attempts/{sid}")).await;
        assert_eq!(status, 404, "{sid}");
        assert_twilio_error(&body, 404, 20404);
    }
}

#[tokio::test]
async fn summary_counts_what_the_list_shows() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let all = api.walk("/v2/Attempts?PageSize=1000").await;
    for (query, keep) in [
        ("", Box::new(|_: &Value| true) as Predicate),
        (
            "?Country=MX&Channel=whatsapp",
            Box::new(|a: &Value| a["channel_data"]["country"] == "MX" && a["channel"] == "whatsapp"),
        ),
        (
            "?DestinationPrefix=%2B57",
            Box::new(|a: &Value| a["channel_data"]["to"].as_str().is_some_and(|t| t.starts_with("+57"))),
        ),
    ] {
        let summary = api.ok(&format!("/v2/Attempts/Summary{query}")).await;
        let matching: Vec<&Value> = all.iter().filter(|a| keep(a)).collect();
        let converted = matching.iter().filter(|a| a["conversion_status"] == "converted").count() as u64;
        assert_eq!(summary["total_attempts"], matching.len() as u64, "{query}");
        assert_eq!(summary["total_converted"], converted, "{query}");
        assert_eq!(summary["total_unconverted"], matching.len() as u64 - converted, "{query}");
        let pct: f64 = summary["conversion_rate_percentage"].as_str().unwrap().parse().unwrap();
        assert!((pct - converted as f64 * 100.0 / matching.len() as f64).abs() < 1e-6);
        assert_eq!(summary["url"], format!("{}/v2/Attempts/Summary", running.base_url()));
    }
}

#[tokio::test]
async fn authentication_accepts_the_account_or_an_api_key() {
    let (running, config) = start(|_| {}).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v2/Attempts/Summary", running.base_url());
    let c = &config.credentials;
    for (user, password, status) in [
        (c.account_sid.as_str(), c.auth_token.as_str(), 200),
        (c.api_key_sid.as_str(), c.api_key_secret.as_str(), 200),
        (c.account_sid.as_str(), "wrong", 401),
        (c.api_key_sid.as_str(), c.auth_token.as_str(), 401),
    ] {
        let response = http.get(&url).basic_auth(user, Some(password)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{user}");
        if status == 401 {
            assert_twilio_error(&response.json().await.unwrap(), 401, 20003);
        }
    }
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // The scheme's name is case-insensitive (RFC 9110).
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.account_sid, c.auth_token));
    for scheme in ["basic", "BASIC"] {
        let response = http.get(&url).header("authorization", format!("{scheme} {token}")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let (running, config) = start(|c| c.rate_limit = 5).await;
    let api = Api::new(&running, &config);
    for _ in 0..5 {
        api.ok("/v2/Attempts/Summary").await;
    }
    let (status, headers, body) = api.get("/v2/Attempts/Summary").await;
    assert_eq!(status, 429);
    assert_twilio_error(&body, 429, 20429);
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn injected_faults_and_latency() {
    let (running, config) = start(|c| {
        c.fail_rate = 0.5;
        c.latency = Duration::from_millis(30);
    })
    .await;
    let api = Api::new(&running, &config);
    let started = std::time::Instant::now();
    let mut failures = 0;
    for _ in 0..40 {
        let (status, _, body) = api.get("/v2/Attempts/Summary").await;
        if status == 500 {
            assert_twilio_error(&body, 500, 20500);
            failures += 1;
        }
    }
    assert!((8..=32).contains(&failures), "{failures} of 40 failed");
    assert!(started.elapsed() >= Duration::from_millis(40 * 30));
}

#[tokio::test]
async fn a_page_walk_stays_stable_while_new_attempts_arrive() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let before = api.walk("/v2/Attempts?PageSize=300").await;
    let first = api.ok("/v2/Attempts?PageSize=300").await;
    // Six hours pass between two pages: new attempts arrive, recent ones settle.
    running.emulator.set_clock(twilio_time::parse("2026-11-20T21:00:00Z").unwrap());
    let mut walked: Vec<Value> = first["attempts"].as_array().unwrap().clone();
    let mut next = first["meta"]["next_page_url"].as_str().map(str::to_string);
    while let Some(url) = next {
        let page = api.ok(&url).await;
        walked.extend(page["attempts"].as_array().unwrap().iter().cloned());
        next = page["meta"]["next_page_url"].as_str().map(str::to_string);
    }
    let sids = |list: &[&Value]| list.iter().map(|a| a["sid"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    // Attempts that aged out of the 30-day window meanwhile are gone, as on Twilio.
    let still_visible: Vec<&Value> =
        before.iter().filter(|a| a["date_created"].as_str().unwrap() >= "2026-10-21T21:00:00Z").collect();
    assert!(still_visible.len() < before.len(), "some attempts aged out");
    assert_eq!(sids(&walked.iter().collect::<Vec<_>>()), sids(&still_visible), "no skip, no repeat, nothing new");
    let fresh = api.ok("/v2/Attempts?PageSize=1").await;
    assert!(fresh["attempts"][0]["date_created"].as_str().unwrap() > NOW, "new attempts arrived meanwhile");
}

/// Random and malformed parameters: every answer is a listing, a Summary, or a
/// Twilio-shaped 400 (60200) or 404 (20404), never a 5xx or a body of another shape.
#[tokio::test]
async fn fuzzed_parameters_get_twilio_shaped_answers_only() {
    let (running, config) = start(|_| {}).await;
    let api = Api::new(&running, &config);
    let sid = api.ok("/v2/Attempts?PageSize=1").await["attempts"][0]["sid"].as_str().unwrap().to_string();
    let names = [
        "PageSize",
        "Page",
        "PageToken",
        "DateCreatedAfter",
        "DateCreatedBefore",
        "ChannelData.To",
        "Country",
        "Channel",
        "VerifyServiceSid",
        "VerificationSid",
        "Status",
        "DestinationPrefix",
        "pagesize",
        "Unknown",
        "",
    ];
    let values = [
        "",
        "0",
        "1",
        "-1",
        "1000",
        "1001",
        "99999999999999999999",
        "1e3",
        "sms",
        "SMS",
        "fax",
        "converted",
        "CO",
        "Colombia",
        "2026-11-20T15:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-20",
        "VA00000000000000000000000000000000",
        "VE0",
        "PTAAAA",
        "PT",
        "%",
        "%zz",
        "%00",
        "%FF%FE",
        "+57",
        "%2B57300",
        "<script>",
        "'",
        "🦀",
        "&",
        "=",
        "..%2F..%2F",
    ];
    let mut rng = verilens::emulator::rng::Rng::new(60200);
    let mut pick = |items: &[&'static str]| items[rng.below(items.len() as u64) as usize];
    let mut answered = std::collections::BTreeMap::new();
    for i in 0..10_000 {
        let mut query = String::new();
        for _ in 0..1 + i % 4 {
            query.push_str(&format!("{}={}{}&", pick(&names), pick(&values), pick(&values)));
        }
        let path = match i % 5 {
            0 | 1 => format!("/v2/Attempts?{query}"),
            2 => format!("/v2/Attempts/Summary?{query}"),
            3 => format!("/v2/Attempts/{}?{query}", if i % 2 == 0 { sid.as_str() } else { pick(&values) }),
            _ => format!("/v2/Attempts/{}{}", pick(&values), pick(&values)),
        };
        let (status, _, body) = api.get(&path).await;
        match status {
            200 => assert!(
                body["attempts"].is_array() || body["total_attempts"].is_number() || body["sid"].is_string(),
                "{path}: {body}"
            ),
            400 | 404 => {
                assert!(body.is_object(), "{path} answered {status} with a body that is not JSON");
                assert_twilio_error(&body, status, if status == 400 { 60200 } else { 20404 });
            }
            _ => panic!("{path} answered {status}: {body}"),
        }
        *answered.entry(status).or_insert(0) += 1;
    }
    // The inputs reach every kind of answer, so the assertions above all ran.
    assert!(answered.len() == 3 && answered.values().all(|&n| n > 100), "{answered:?}");
}
