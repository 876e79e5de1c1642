//! Load: `verilens serve` as its own process, syncing from the emulator every second,
//! while concurrent connections ask for pages, CSV exports and the overview server
//! function. No request may fail; the figures are printed (run with `--nocapture`).
//!
//! The test command runs a short version. The full one, on 1M attempts for 30 s:
//!
//!   VERILENS_LOAD_ATTEMPTS=1000000 VERILENS_LOAD_SECS=30 \
//!     cargo test --release --features ssr --test load -- --nocapture

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use verilens::emulator::{self, EmulatorConfig};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Views a team shares: filters, breakdowns, ranges, comparisons. (A destination
/// `prefix` reads raw rows, seconds at 1M; those scans queue two at a time.)
const VIEWS: [&str; 7] = [
    "",
    "range=7d&by=carrier&country=CO",
    "range=24h",
    "by=channel&channel=sms&channel=whatsapp",
    "range=90d&by=error",
    "country=US&by=carrier&compare=previous",
    "range=30d&status=unconverted&by=country",
];

enum Route {
    Page,
    Csv,
    ServerFunction,
    Attempts,
}

impl Route {
    fn name(&self) -> &'static str {
        match self {
            Route::Page => "GET /",
            Route::Csv => "GET /export.csv",
            Route::ServerFunction => "POST /api/load_overview",
            Route::Attempts => "GET /attempts",
        }
    }
}

const ROUTES: [Route; 4] = [Route::Page, Route::Csv, Route::ServerFunction, Route::Attempts];

async fn request(http: &reqwest::Client, base: &str, route: &Route, view: &str) -> Result<(), String> {
    let response = match route {
        Route::Page => http.get(format!("{base}/?{view}")).send().await,
        Route::Csv => http.get(format!("{base}/export.csv?{view}")).send().await,
        Route::Attempts => http.get(format!("{base}/attempts?{view}")).send().await,
        Route::ServerFunction => {
            let body: String = form_urlencoded::Serializer::new(String::new()).append_pair("search", view).finish();
            http.post(format!("{base}/api/load_overview"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
        }
    };
    let response = response.map_err(|e| format!("{}: {e}", route.name()))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| format!("{}: {e}", route.name()))?;
    if !status.is_success() || body.is_empty() {
        return Err(format!("{} ?{view}: HTTP {status}", route.name()));
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn sync_runs_since(db: &std::path::Path, since: &str) -> i64 {
    let Ok(mut conn) = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display())).await else {
        return 0;
    };
    let runs = sqlx::query_scalar("SELECT COUNT(*) FROM sync_runs WHERE started_at >= ?")
        .bind(since)
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0);
    conn.close().await.ok();
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_during_a_sync_get_no_errors() {
    let attempts = setting("VERILENS_LOAD_ATTEMPTS", 20_000);
    let secs = setting("VERILENS_LOAD_SECS", 4);
    let connections = setting("VERILENS_LOAD_CONNS", 50) as usize;

    let mut config = EmulatorConfig::new(17, attempts);
    config.rate_limit = 0;
    // Each incremental run re-reads 48 hours of pages: latency keeps it running a while.
    config.latency = Duration::from_millis(100);
    let running = emulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("load.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("serve.log");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--sync-every", "1s", "--db"])
        .arg(&db)
        .env("TWILIO_ACCOUNT_SID", &config.credentials.account_sid)
        .env("TWILIO_AUTH_TOKEN", &config.credentials.auth_token)
        .env("VERILENS_API_URL", running.base_url())
        .env("VERILENS_RATE_LIMIT", "0")
        .stdout(std::fs::File::create(dir.path().join("serve.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    let http = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let started = Instant::now();
    loop {
        let health: Option<serde_json::Value> = match http.get(format!("{base}/healthz")).send().await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        if health.is_some_and(|h| h["synced"] == true) {
            break;
        }
        assert!(server.try_wait().unwrap().is_none(), "the server exited: {}", std::fs::read_to_string(&log).unwrap());
        assert!(started.elapsed() < Duration::from_secs(900), "no complete first sync");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("first sync of {attempts} attempts took {:.1} s", started.elapsed().as_secs_f64());

    let load_started_at = verilens::model::twilio_time::format(&chrono::Utc::now());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let load_started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let (http, base) = (http.clone(), base.clone());
        workers.spawn(async move {
            let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); ROUTES.len()];
            let mut errors = Vec::new();
            let mut i = worker;
            while Instant::now() < deadline {
                let (route, view) = (i % ROUTES.len(), VIEWS[(i / ROUTES.len()) % VIEWS.len()]);
                let sent = Instant::now();
                match request(&http, &base, &ROUTES[route], view).await {
                    Ok(()) => timings[route].push(sent.elapsed()),
                    Err(e) => errors.push(e),
                }
                i += 7;
            }
            (timings, errors)
        });
    }
    let mut syncing_samples = (0, 0);
    let mut peak_rss_kib = 0;
    while Instant::now() < deadline {
        peak_rss_kib = peak_rss_kib.max(status_kib(server.id(), "VmRSS:"));
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && let Ok(h) = r.json::<serde_json::Value>().await
        {
            syncing_samples.0 += usize::from(h["syncing"] == true);
            syncing_samples.1 += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); ROUTES.len()];
    let mut errors = Vec::new();
    for (worker_timings, worker_errors) in workers.join_all().await {
        for (all, mine) in timings.iter_mut().zip(worker_timings) {
            all.extend(mine);
        }
        errors.extend(worker_errors);
    }
    let elapsed = load_started.elapsed().as_secs_f64();
    let runs = sync_runs_since(&db, &load_started_at).await;

    let mut all: Vec<Duration> = timings.iter().flatten().copied().collect();
    all.sort();
    println!(
        "load: {} requests in {elapsed:.1} s = {:.0} req/s over {connections} connections; \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} errors",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
        errors.len()
    );
    for (route, times) in ROUTES.iter().zip(timings.iter_mut()) {
        times.sort();
        println!(
            "  {:<24} {:>7} requests, p50 {:>6.1} ms, p99 {:>6.1} ms",
            route.name(),
            times.len(),
            percentile(times, 0.50),
            percentile(times, 0.99)
        );
    }
    println!(
        "server: peak RSS {} MiB sampled, VmHWM {} MiB (now {} MiB anonymous, {} MiB mapped snapshot file); \
         {runs} sync runs started during the load, syncing in {} of {} samples",
        peak_rss_kib / 1024,
        status_kib(server.id(), "VmHWM:") / 1024,
        status_kib(server.id(), "RssAnon:") / 1024,
        status_kib(server.id(), "RssFile:") / 1024,
        syncing_samples.0,
        syncing_samples.1
    );

    // Graceful stop: a request caught mid-flight by SIGTERM (its body half sent) is still
    // answered, and the server then exits promptly and cleanly.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = "search=country%3DCO%26by%3Dcarrier";
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut in_flight = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /api/load_overview HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{first_half}",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    in_flight.write_all(second_half.as_bytes()).await.unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "the in-flight request was answered: {answer:.200}");
    assert!(answer.contains("\"totals\""), "with the overview: {answer:.300}");
    let status = server.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "the server stopped cleanly on SIGTERM: {log}");
    assert!(stopping.elapsed() < Duration::from_secs(20), "stopping took {:?}", stopping.elapsed());
    assert!(!log.contains(&config.credentials.auth_token), "the auth token is not in the server's log");

    assert!(errors.is_empty(), "{} failed requests, first: {:?}", errors.len(), &errors[..errors.len().min(5)]);
    assert!(all.len() > connections * 4, "the load ran: {} requests", all.len());
    assert!(runs >= 1, "a sync ran during the load");
}
