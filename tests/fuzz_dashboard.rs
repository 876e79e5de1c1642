//! No request hangs the dashboard or takes it down: structured, near-valid values for every
//! parameter of the URL contract (dates at and past the calendar's edges, huge and negative
//! numbers, repeated parameters, real and broken SIDs and cursors) sent to every route and
//! server function of a dashboard over a synced snapshot; and one focused test per hang found.
//!
//! The fuzz prints its seed, the answers it got and its slowest one. To replay or go further:
//!
//!   VERILENS_FUZZ_SEED=19 VERILENS_FUZZ_CASES=20000 \
//!     cargo test --release --features ssr --test integration fuzz_dashboard:: -- --nocapture

use crate::common::{self, Backend};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Days, NaiveDate, Utc};
use common::dashboard;
use verilens::emulator::rng::Rng;
use verilens::emulator::{EmulatorConfig, RunningEmulator};
use verilens::store::{self, Store};
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

/// Far longer than any answer takes: only a request that never ends misses it.
const DEADLINE: Duration = Duration::from_secs(10);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A dashboard on a loopback port over a snapshot synced from the emulator.
struct Dashboard {
    base: String,
    pool: sqlx::SqlitePool,
    _dir: tempfile::TempDir,
    _emulator: RunningEmulator,
}

/// The dashboard serves a store on `backend`; `pool`, a sqlite snapshot of the same API,
/// tells the values the cases pick from.
async fn synced_dashboard(backend: Backend) -> Dashboard {
    let mut config = EmulatorConfig::new(19, 4_000);
    config.rate_limit = 0;
    config.now = Some(common::emulator::now_to_the_second());
    let running = common::emulator::start(&config).await;
    let client = common::emulator::client_for(&running.base_url(), &config, 0);
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("fuzz.db")).await.unwrap();
    let sync = async |store: &Store| {
        sync_once(store, &client, &SyncProgress::default(), &SyncOptions::default()).await.unwrap();
    };
    sync(&pool.clone().into()).await;
    let served = backend.beside(&pool, dir.path(), sync).await;
    let base = serve(served, None).await;
    Dashboard { base, pool, _dir: dir, _emulator: running }
}

/// The dashboard over `store` on a loopback port; its base URL.
async fn serve(store: impl Into<Store>, basic_auth: Option<&str>) -> String {
    dashboard::serve(store, |state| state.basic_auth = basic_auth.map(|a| a.parse().unwrap())).await.base
}

/// The dashboard over an empty snapshot, kept in `dir`.
async fn empty_dashboard(dir: &tempfile::TempDir, basic_auth: Option<&str>) -> (String, sqlx::SqlitePool) {
    let pool = store::open(&dir.path().join("empty.db")).await.unwrap();
    (serve(pool.clone(), basic_auth).await, pool)
}

/// Values the snapshot holds, so that valid cases select real rows.
struct Known {
    today: NaiveDate,
    countries: Vec<String>,
    carriers: Vec<String>,
    services: Vec<String>,
    errors: Vec<String>,
    sids: Vec<String>,
    cursors: Vec<String>,
}

async fn known_values(pool: &sqlx::SqlitePool) -> Known {
    let distinct =
        |column: &str| format!("SELECT DISTINCT {column} FROM attempts WHERE {column} IS NOT NULL ORDER BY 1");
    let column = |sql: String| async move { sqlx::query_scalar::<_, String>(&sql).fetch_all(pool).await.unwrap() };
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT date_created, sid FROM attempts ORDER BY date_created DESC, sid DESC LIMIT 400")
            .fetch_all(pool)
            .await
            .unwrap();
    let sids: Vec<String> = rows.iter().map(|(_, sid)| sid.clone()).collect();
    Known {
        today: Utc::now().date_naive(),
        countries: column(distinct("country")).await,
        carriers: column(distinct("carrier")).await,
        services: column(distinct("service_sid")).await,
        errors: column(distinct("error_code")).await,
        cursors: rows.iter().step_by(7).map(|(date, sid)| cursor(date, sid)).collect(),
        sids,
    }
}

fn cursor(date: &str, sid: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{date}|{sid}"))
}

/// Dates at and past the edges of chrono's calendar and of real calendars.
const EDGE_DATES: [&str; 30] = [
    "0000-01-01",
    "0000-12-31",
    "-0001-12-31",
    "-1-01-01",
    "9999-12-31",
    "10000-01-01",
    "+10000-01-01",
    "262143-12-31",
    "+262143-12-31",
    "+262142-12-31",
    "-262143-12-31",
    "262144-01-01",
    "-262143-01-01",
    "-262144-01-01",
    "-262144-12-31",
    "2026-02-29",
    "2023-02-29",
    "2100-02-29",
    "2026-13-01",
    "2026-00-10",
    "2026-11-31",
    "2026-11-00",
    "1999-12-31",
    "2000-01-01",
    "2100-12-31",
    "2101-01-01",
    "2026-1-5",
    "20261105",
    "2026-11-05T00:00:00Z",
    "99999999999-01-01",
];

/// Numbers a parameter could be given: huge, negative, beyond every integer type.
const EDGE_NUMBERS: [&str; 10] = [
    "0",
    "-1",
    "1",
    "2147483648",
    "-9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999999999",
    "1e308",
    "NaN",
    "0x10",
];

/// Near-valid values per parameter, beyond `EDGE_NUMBERS`.
fn edge_values(key: &str) -> &'static [&'static str] {
    match key {
        "from" | "to" => &EDGE_DATES,
        "range" => &["0d", "1d", "-7d", "7", "7D", "24H", "365d", "99999999999999999999d", "", "30d,7d"],
        "country" => &["ZZ", "C0", "COL", "", "Ç", "co,br"],
        "channel" => &["fax", "SMS ", "whats app", "", "sms,call"],
        "carrier" => &["", "\u{7}bell", "%00", "                                                            x"],
        "service" => &["VA", "VAgggggggggggggggggggggggggggggggg", "VA0000000000000000000000000000000", "va"],
        "error" => &["0", "-1", "1234567", "30008.0", "NONE", "", "30 008"],
        "status" => &["", "CONVERTED", "pending", "0"],
        "prefix" => &["+", "+0", "++57", "57", "-57", "+5 7", "+1234567890123456", "+123456789012345"],
        "by" => &["", "Country", "days", "hour", "0"],
        "sort" => &["", "Rate", "-rate", "price"],
        "dir" => &["", "ASC", "up"],
        "compare" => &["", "previous_year", "true", "1"],
        _ => &[],
    }
}

const KEYS: [&str; 15] = [
    "from", "to", "range", "country", "channel", "carrier", "service", "error", "status", "prefix", "by", "sort",
    "dir", "compare", "page",
];

#[derive(Debug)]
enum Request {
    Get(String),
    /// A server function's form body.
    Post(&'static str, String),
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Get(path) => write!(f, "GET {path}"),
            Request::Post(path, body) => write!(f, "POST {path} {body}"),
        }
    }
}

/// Makes requests from a seed: mostly valid views of the snapshot, each maybe with a few
/// near-valid values among them.
struct Cases<'a> {
    rng: Rng,
    known: &'a Known,
}

impl Cases<'_> {
    fn pick<'v, T>(&mut self, values: &'v [T]) -> &'v T {
        &values[self.rng.below(values.len() as u64) as usize]
    }

    fn recent_day(&mut self) -> NaiveDate {
        self.known.today - Days::new(self.rng.below(40))
    }

    fn valid_value(&mut self, key: &str) -> String {
        let known = self.known;
        match key {
            "range" => self.pick(&["24h", "7d", "30d", "90d"]).to_string(),
            "country" => self.pick(&known.countries).clone(),
            "channel" => self.pick(&["sms", "whatsapp", "call", "email", "rbm", "SMS"]).to_string(),
            "carrier" => self.pick(&known.carriers).clone(),
            "service" => self.pick(&known.services).clone(),
            "error" => {
                if self.rng.chance(0.2) {
                    "none".to_string()
                } else {
                    self.pick(&known.errors).clone()
                }
            }
            "status" => self.pick(&["converted", "unconverted"]).to_string(),
            "prefix" => self.pick(&["+57", "+5730", "+1", "+62", "+4915"]).to_string(),
            "by" => self.pick(&["country", "channel", "carrier", "service", "error", "day"]).to_string(),
            "sort" => self.pick(&["key", "attempts", "converted", "rate", "verifications", "spend"]).to_string(),
            "dir" => self.pick(&["asc", "desc"]).to_string(),
            "compare" => self.pick(&["previous", "none"]).to_string(),
            "page" => self.pick(&known.cursors).clone(),
            _ => self.recent_day().to_string(),
        }
    }

    fn edge_value(&mut self, key: &str) -> String {
        match key {
            "page" => self.edge_cursor(),
            _ if self.rng.chance(0.15) => self.pick(&EDGE_NUMBERS).to_string(),
            _ => self.pick(edge_values(key)).to_string(),
        }
    }

    /// Cursors with dates past the calendar's edges, SIDs that are not SIDs, and non-cursors.
    fn edge_cursor(&mut self) -> String {
        let sid = self.pick(&self.known.sids).clone();
        match self.rng.below(6) {
            0 => self.pick(&EDGE_NUMBERS).to_string(),
            1 => cursor(&format!("{}T00:00:00Z", self.pick(&EDGE_DATES)), &sid),
            2 => cursor("2026-11-20T10:00:00Z", &format!("{}0", &sid[..33])),
            3 => cursor("2026-11-20T10:00:00Z", "VLzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            4 => {
                let valid = self.pick(&self.known.cursors).clone();
                valid[..valid.len() / 2].to_string()
            }
            _ => URL_SAFE_NO_PAD.encode(self.pick(&EDGE_DATES)),
        }
    }

    /// A view's query: a valid one, or (one case in three) one with near-valid values in it.
    fn query(&mut self, list: bool) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        match self.rng.below(8) {
            0 | 1 => {}
            2 | 3 => pairs.push(("range".into(), self.valid_value("range"))),
            // A whole range at the calendar's edges, where date math overflows.
            4 => {
                pairs.push(("from".into(), self.pick(&EDGE_DATES).to_string()));
                pairs.push(("to".into(), self.pick(&EDGE_DATES).to_string()));
            }
            _ => {
                let (a, b) = (self.recent_day(), self.recent_day());
                pairs.push(("from".into(), a.min(b).to_string()));
                pairs.push(("to".into(), a.max(b).to_string()));
            }
        }
        for key in &KEYS[3..14] {
            if self.rng.chance(0.15) {
                for _ in 0..1 + self.rng.below(2) {
                    pairs.push((key.to_string(), self.valid_value(key)));
                }
            }
        }
        if list && self.rng.chance(0.3) {
            pairs.push(("page".into(), self.valid_value("page")));
        }
        if self.rng.chance(1.0 / 3.0) {
            for _ in 0..1 + self.rng.below(3) {
                let key = *self.pick(&KEYS);
                let value = self.edge_value(key);
                // Repeated and extra date parameters: the last of a pair wins, or one is missing.
                if (key == "from" || key == "to") && self.rng.chance(0.5) {
                    let other = if key == "from" { "to" } else { "from" };
                    pairs.push((other.into(), self.pick(&EDGE_DATES).to_string()));
                }
                pairs.push((key.into(), value));
            }
            if self.rng.chance(0.2) {
                let key = *self.pick(&["days", "cursor", "limit", "offset", "page_size"]);
                pairs.push((key.into(), self.pick(&EDGE_NUMBERS).to_string()));
            }
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &pairs {
            query.append_pair(key, value);
        }
        query.finish()
    }

    fn sid(&mut self) -> String {
        let known = self.pick(&self.known.sids).clone();
        match self.rng.below(10) {
            0..=5 => known,
            6 => known.to_ascii_lowercase(),
            7 => format!("{}0", &known[..33]),
            8 => format!("{known}0"),
            _ => self.pick(&["VL", "VLzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "..", "%00", "VL%2F..%2F"]).to_string(),
        }
    }

    fn request(&mut self) -> Request {
        let form =
            |key: &str, value: &str| form_urlencoded::Serializer::new(String::new()).append_pair(key, value).finish();
        match self.rng.below(104) {
            0..=24 => Request::Get(format!("/?{}", self.query(false))),
            25..=44 => Request::Get(format!("/attempts?{}", self.query(true))),
            45..=49 => Request::Get(format!("/export.csv?{}", self.query(false))),
            50 => Request::Get(format!("/what-to-do.csv?{}", self.query(false))),
            51..=52 => Request::Get(format!("/funnel.csv?{}", self.query(false))),
            53..=60 => Request::Get(format!("/attempts.csv?{}", self.query(true))),
            61..=70 => Request::Get(format!("/attempts/{}", self.sid())),
            71..=81 => Request::Post("/api/load_overview", form("search", &self.query(false))),
            82..=91 => Request::Post("/api/load_attempts", form("search", &self.query(true))),
            92..=96 => Request::Post("/api/load_attempt", form("sid", &self.sid())),
            97 => Request::Get(format!("/healthz?{}", self.query(false))),
            98 => Request::Get(format!("/no/such/page?{}", self.query(false))),
            99 => Request::Get(format!("/alerts/new?{}", self.query(false))),
            100 => Request::Get(format!("/views/save?{}", self.query(false))),
            // A form post without the browser's CSRF cookie: refused, whatever its fields.
            101 => {
                let path = *self.pick(&["/alerts", "/views", "/alerts/1/snooze", "/digests", "/views/1/delete"]);
                Request::Post(path, format!("name=x&{}&csrf=0", form("query", &self.query(false))))
            }
            // A server function's body that is not its arguments.
            _ => {
                let path = *self.pick(&["/api/load_overview", "/api/load_attempts", "/api/load_attempt"]);
                let body = self.pick(&["", "search", "sid", "x=1", "search=%", "%%%"]).to_string();
                Request::Post(path, body)
            }
        }
    }
}

/// What an answer was, beyond its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    /// 200 with no notice: the request reached the snapshot's queries.
    Clean,
    /// 200 with a notice about dropped parameters.
    Notice,
    BadRequest,
    NotFound,
    /// 403: a write without its CSRF token.
    Refused,
}

async fn send(http: &reqwest::Client, base: &str, request: &Request) -> Result<(u16, String), String> {
    let response = match request {
        Request::Get(path) => http.get(format!("{base}{path}")).send().await,
        Request::Post(path, body) => {
            http.post(format!("{base}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
        }
    };
    let response = response.map_err(|e| format!("{request}: {e}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| format!("{request}: {e}"))?;
    Ok((status, body))
}

fn classify(request: &Request, status: u16, body: &str) -> Result<Answer, String> {
    match status {
        403 if matches!(request, Request::Post(path, _) if !path.starts_with("/api/")) => return Ok(Answer::Refused),
        400 => return Ok(Answer::BadRequest),
        404 => return Ok(Answer::NotFound),
        200 => {}
        _ => return Err(format!("{request} answered {status}: {}", body.chars().take(300).collect::<String>())),
    }
    let notice = match request {
        Request::Post("/api/load_attempt", _) if body.trim() == "null" => return Ok(Answer::NotFound),
        Request::Post(..) => {
            let value: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("{request}: {e}: {body}"))?;
            value["notices"].as_array().is_some_and(|n| !n.is_empty())
        }
        Request::Get(_) => {
            if body.contains("class=\"error\"") {
                return Err(format!("{request} answered 200 with an error message"));
            }
            body.contains("data-testid=\"notice\"")
        }
    };
    Ok(if notice { Answer::Notice } else { Answer::Clean })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_valid_requests_get_a_page_a_400_or_a_404_in_time() {
    near_valid_requests(Backend::Sqlite).await;
}

/// The same cases against a dashboard on PostgreSQL, which refuses some text sqlite takes
/// (a NUL character, say): still a page, a 400 or a 404, never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_valid_requests_on_postgresql_get_a_page_a_400_or_a_404_in_time() {
    near_valid_requests(Backend::Postgres).await;
}

async fn near_valid_requests(backend: Backend) {
    let seed = setting("VERILENS_FUZZ_SEED", 19);
    let cases = setting("VERILENS_FUZZ_CASES", 5_000);
    println!("fuzz seed {seed} (VERILENS_FUZZ_SEED={seed} to replay), {cases} cases, on {backend:?}");
    let dashboard = synced_dashboard(backend).await;
    let known = known_values(&dashboard.pool).await;
    assert!(known.countries.len() > 3 && known.sids.len() > 100 && known.cursors.len() > 10);
    let mut generator = Cases { rng: Rng::new(seed), known: &known };
    let http = reqwest::Client::new();
    let mut answers: BTreeMap<(Answer, &'static str), u64> = BTreeMap::new();
    let mut slowest = (Duration::ZERO, String::new());
    for _ in 0..cases {
        let request = generator.request();
        let started = Instant::now();
        let answer = tokio::time::timeout(DEADLINE, send(&http, &dashboard.base, &request))
            .await
            .unwrap_or_else(|_| panic!("{request}: no answer within {DEADLINE:?} (seed {seed})"))
            .unwrap_or_else(|e| panic!("{e} (seed {seed})"));
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, request.to_string());
        }
        let kind = classify(&request, answer.0, &answer.1).unwrap_or_else(|e| panic!("{e} (seed {seed})"));
        let route = match &request {
            Request::Get(path) => [
                "/attempts/",
                "/attempts.csv",
                "/attempts",
                "/export.csv",
                "/what-to-do.csv",
                "/funnel.csv",
                "/healthz",
                "/no/",
                "/alerts/new",
                "/views/save",
            ]
            .into_iter()
            .find(|p| path.starts_with(p))
            .unwrap_or("/"),
            Request::Post(path, _) => path,
        };
        *answers.entry((kind, route)).or_default() += 1;
    }
    let total = |kind: Answer| answers.iter().filter(|((k, _), _)| *k == kind).map(|(_, n)| n).sum::<u64>();
    println!("{cases} requests; slowest {:?}: {}", slowest.0, slowest.1);
    for kind in [Answer::Clean, Answer::Notice, Answer::BadRequest, Answer::NotFound, Answer::Refused] {
        println!("  {kind:?}: {}", total(kind));
    }
    for ((kind, route), count) in &answers {
        println!("    {kind:?} {route}: {count}");
    }
    assert!(
        total(Answer::Clean) * 2 >= cases,
        "at least half the cases reach the snapshot's queries with no notice: {answers:?}"
    );
    for kind in [Answer::Notice, Answer::BadRequest, Answer::NotFound, Answer::Refused] {
        assert!(total(kind) > 0, "the cases reach {kind:?} answers too");
    }
}

/// Sends `request` and waits for its whole answer, failing on a hang.
async fn answer_in_time(http: &reqwest::Client, base: &str, request: &Request) -> (u16, String) {
    tokio::time::timeout(DEADLINE, send(http, base, request))
        .await
        .unwrap_or_else(|_| panic!("{request}: no answer within {DEADLINE:?}"))
        .unwrap()
}

/// Once, `+`/`-` on these dates panicked in a detached task and the page waited forever.
#[tokio::test]
async fn links_with_dates_past_the_calendars_edges_get_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _pool) = empty_dashboard(&dir, None).await;
    let http = reqwest::Client::new();
    // Each of the first two once ended in a panic: an empty answer, or none at all.
    for dates in [
        "from=-262143-01-01&to=-262143-01-01",
        "from=9999-12-31&to=9999-12-31",
        "from=%2B262142-12-31&to=%2B262142-12-31",
        "from=-262144-01-01&to=%2B262143-12-31",
        "from=0000-01-01&to=2026-11-01",
    ] {
        for path in ["/", "/attempts"] {
            let (status, page) = answer_in_time(&http, &base, &Request::Get(format!("{path}?{dates}"))).await;
            assert_eq!(status, 200, "{path}?{dates}");
            assert!(page.contains("data-testid=\"notice\"") && page.contains("is not a date"), "{path}?{dates}");
        }
        for path in ["/export.csv", "/attempts.csv", "/what-to-do.csv", "/funnel.csv"] {
            let (status, body) = answer_in_time(&http, &base, &Request::Get(format!("{path}?{dates}"))).await;
            assert_eq!(status, 400, "{path}?{dates}: {body}");
        }
        let search = format!("search={}", dates.replace('%', "%25").replace('&', "%26").replace('=', "%3D"));
        let (status, body) = answer_in_time(&http, &base, &Request::Post("/api/load_overview", search)).await;
        assert_eq!(status, 200, "{dates}: {body}");
    }
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_read_is_a_500_page_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (base, pool) = empty_dashboard(&dir, None).await;
    pool.close().await;
    let http = reqwest::Client::new();
    for path in ["/", "/attempts?country=CO", "/attempts/VL00000000000000000000000000000000"] {
        let (status, page) = answer_in_time(&http, &base, &Request::Get(path.to_string())).await;
        assert_eq!(status, 500, "{path}");
        assert!(page.contains("The snapshot could not be read; see the server log."), "{path}: {page}");
    }
    let search = "search=range%3D7d".to_string();
    let (status, body) = answer_in_time(&http, &base, &Request::Post("/api/load_overview", search)).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("Snapshot"), "the error's kind reaches the browser: {body}");
}

#[tokio::test]
async fn a_server_function_call_without_its_arguments_is_a_400() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _pool) = empty_dashboard(&dir, None).await;
    let http = reqwest::Client::new();
    for path in ["/api/load_overview", "/api/load_attempts", "/api/load_attempt"] {
        let (status, body) = answer_in_time(&http, &base, &Request::Post(path, "x=1".into())).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
}

#[tokio::test]
async fn answers_refused_for_want_of_credentials_carry_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _pool) = empty_dashboard(&dir, Some("pm:correct-horse")).await;
    for path in ["/", "/export.csv", "/api/load_overview"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_security_headers(response.headers(), path);
    }
}

fn assert_security_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
}

/// The dashboard's own guards around routes that panic or never answer.
#[tokio::test]
async fn a_panic_is_a_500_and_a_request_that_never_ends_meets_the_deadline() {
    async fn panics() -> &'static str {
        panic!("a bug")
    }
    let routes = Router::new().route("/panics", get(panics)).route("/never", get(std::future::pending::<&'static str>));
    let deadline = Duration::from_millis(200);
    let app = verilens::guards::guard_routes(routes, None, deadline);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let (status, body) = answer_in_time(&http, &base, &Request::Get("/panics".into())).await;
    assert_eq!(status, 500);
    assert!(body.contains("see the server log") && !body.contains("a bug"), "{body}");
    let response = tokio::time::timeout(DEADLINE, http.get(format!("{base}/never")).send()).await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
    assert_security_headers(response.headers(), "/never");
    let response = http.get(format!("{base}/panics")).send().await.unwrap();
    assert_security_headers(response.headers(), "/panics");
}
