//! Load: `verilens serve` as its own process, syncing from the emulator every second,
//! while concurrent connections ask for pages, CSV exports and the overview server
//! function. No request may fail; the figures are printed (run with `--nocapture`).
//!
//! The test command runs a short version. The full one, on 1M attempts for 30 s:
//!
//!   VERILENS_LOAD_ATTEMPTS=1000000 VERILENS_LOAD_SECS=30 \
//!     cargo test --release --features ssr --test load -- --nocapture

use crate::common;

use common::lines::Lines;
use common::timing::percentile_ms;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["serve", "--addr", "127.0.0.1:0", "--sync-every", "1s", "--db"])
        .arg(&db)
        .env("TWILIO_ACCOUNT_SID", &config.credentials.account_sid)
        .env("TWILIO_AUTH_TOKEN", &config.credentials.auth_token)
        .env("VERILENS_API_URL", running.base_url())
        .env("VERILENS_RATE_LIMIT", "0")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let server_id = server.id().unwrap();
    let mut out = Lines::follow(server.stdout.take().unwrap());
    let mut log = Lines::follow(server.stderr.take().unwrap());

    // The port the server bound, from the line it prints once it listens.
    let started = Instant::now();
    let listening = out.wait_for("verilens dashboard: http://", 1).await;
    let base = listening[0].split_whitespace().nth(2).unwrap().trim_end_matches('/').to_string();
    log.wait_for("sync: ", 1).await;
    println!("first sync of {attempts} attempts took {:.1} s", started.elapsed().as_secs_f64());

    let http = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let load_started_at = verilens::model::twilio_time::format(&chrono::Utc::now());
    let syncs_before = log.matching("sync: ").len();
    let done = Arc::new(AtomicBool::new(false));
    let load_started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let (http, base, done) = (http.clone(), base.clone(), done.clone());
        workers.spawn(async move {
            let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); ROUTES.len()];
            let mut errors = Vec::new();
            let mut i = worker;
            // One request at least from every connection, however slow the machine.
            loop {
                let (route, view) = (i % ROUTES.len(), VIEWS[(i / ROUTES.len()) % VIEWS.len()]);
                let sent = Instant::now();
                match request(&http, &base, &ROUTES[route], view).await {
                    Ok(()) => timings[route].push(sent.elapsed()),
                    Err(e) => errors.push(e),
                }
                i += 7;
                if done.load(Ordering::Relaxed) {
                    break;
                }
            }
            (timings, errors)
        });
    }
    // The load lasts `secs` at least, and until two syncs have ended during it: the second
    // of them began during the load.
    let sampling = async {
        let mut samples = (0, 0, 0);
        while load_started.elapsed() < Duration::from_secs(secs) || samples.1 == 0 {
            samples.2 = samples.2.max(status_kib(server_id, "VmRSS:"));
            if let Ok(r) = http.get(format!("{base}/healthz")).send().await
                && let Ok(h) = r.json::<serde_json::Value>().await
            {
                samples.0 += usize::from(h["syncing"] == true);
                samples.1 += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        samples
    };
    let ((syncing_samples, samples, peak_rss_kib), _) =
        tokio::join!(sampling, log.wait_for("sync: ", syncs_before + 2));
    done.store(true, Ordering::Relaxed);
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
        percentile_ms(&all, 0.50),
        percentile_ms(&all, 0.99),
        percentile_ms(&all, 1.0),
        errors.len()
    );
    for (route, times) in ROUTES.iter().zip(timings.iter_mut()) {
        times.sort();
        println!(
            "  {:<24} {:>7} requests, p50 {:>6.1} ms, p99 {:>6.1} ms",
            route.name(),
            times.len(),
            percentile_ms(times, 0.50),
            percentile_ms(times, 0.99)
        );
    }
    println!(
        "server: peak RSS {} MiB sampled, VmHWM {} MiB (now {} MiB anonymous, {} MiB mapped snapshot file); \
         {runs} sync runs started during the load, syncing in {syncing_samples} of {samples} samples",
        peak_rss_kib / 1024,
        status_kib(server_id, "VmHWM:") / 1024,
        status_kib(server_id, "RssAnon:") / 1024,
        status_kib(server_id, "RssFile:") / 1024,
    );

    // Graceful stop: a request caught mid-flight by SIGTERM (its head read, its body half
    // sent) is still answered, and the server then exits cleanly. `Expect: 100-continue`
    // tells when the server has read the head and waits for the body.
    let body = "search=country%3DCO%26by%3Dcarrier";
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut in_flight = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/load_overview HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        interim.push(in_flight.read_u8().await.unwrap());
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&interim));
    in_flight.write_all(first_half.as_bytes()).await.unwrap();
    assert!(std::process::Command::new("kill").args(["-TERM", &server_id.to_string()]).status().unwrap().success());
    log.wait_for("shutting down", 1).await;
    in_flight.write_all(second_half.as_bytes()).await.unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "the in-flight request was answered: {answer:.200}");
    assert!(answer.contains("\"totals\""), "with the overview: {answer:.300}");
    let status =
        tokio::time::timeout(Duration::from_secs(120), server.wait()).await.expect("the server exits").unwrap();
    let log = log.text();
    assert!(status.success(), "the server stopped cleanly on SIGTERM: {log}");
    assert!(!log.contains(&config.credentials.auth_token), "the auth token is not in the server's log");

    assert!(errors.is_empty(), "{} failed requests, first: {:?}", errors.len(), &errors[..errors.len().min(5)]);
    assert!(runs >= 1, "a sync ran during the load");
}
