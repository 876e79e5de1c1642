//! Clients that hold connections: silent ones, slow headers, idle keep-alive, a body that
//! never ends, more connections than allowed, and a SIGTERM while they are connected. Each
//! runs against `verilens serve` as its own process, with short limits, over real sockets.
//! Times are only asserted as lower bounds (a limit is not cut short) and as generous
//! deadlines that only a connection held forever would miss.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use verilens::emulator::{self, EmulatorConfig, RunningEmulator};

/// Far longer than any limit the tests set: missing it means a connection was held forever.
const NEVER: Duration = Duration::from_secs(60);

struct Dashboard {
    child: tokio::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
    _api: RunningEmulator,
}

/// `verilens serve` with `limits` (pairs of environment variables) on a small emulator,
/// once it has printed its address.
async fn dashboard(limits: &[(&str, &str)]) -> Dashboard {
    let mut config = EmulatorConfig::new(3, 2_000);
    config.rate_limit = 0;
    let api = emulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--sync-every", "1h", "--db"])
        .arg(dir.path().join("s.db"))
        .env("TWILIO_ACCOUNT_SID", &config.credentials.account_sid)
        .env("TWILIO_AUTH_TOKEN", &config.credentials.auth_token)
        .env("VERILENS_API_URL", api.base_url())
        .env("VERILENS_RATE_LIMIT", "0")
        .envs(limits.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(NEVER, tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line))
        .await
        .expect("the dashboard prints its address")
        .unwrap();
    let addr = line.split("http://").nth(1).expect("an address").split('/').next().unwrap().to_string();
    Dashboard { child, addr, _dir: dir, _api: api }
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream) -> (String, Instant) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(NEVER, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server held the connection for {NEVER:?}");
    (String::from_utf8_lossy(&received).into_owned(), Instant::now())
}

async fn healthz(addr: &str) -> String {
    let answer = tokio::time::timeout(NEVER, reqwest::get(format!("http://{addr}/healthz")))
        .await
        .expect("/healthz answers")
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_idle_connections_are_closed_and_healthz_answers_meanwhile() {
    let head_limit = Duration::from_secs(2);
    let server = dashboard(&[("VERILENS_HEADER_TIMEOUT", "2s")]).await;
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(TcpStream::connect(&server.addr).await.unwrap());
    }
    // A head sent a byte at a time, never finished.
    let mut slow = TcpStream::connect(&server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: verilens\r\n").await.unwrap();
    let dribbling = async {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        for _ in 0..(NEVER.as_millis() / 200) {
            tick.tick().await;
            if slow.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    // A keep-alive connection left idle after its answer.
    let mut idle = TcpStream::connect(&server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: verilens\r\n\r\n").await.unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    assert!(healthz(&server.addr).await.contains("\"status\":\"ok\""), "answered while 42 connections are held");

    tokio::time::timeout(NEVER, dribbling).await.expect("the slow head was cut off");
    let (_, idle_closed) = until_closed(&mut idle).await;
    assert!(idle_closed - opened >= head_limit, "the idle connection had its {head_limit:?}");
    for stream in &mut silent {
        let (sent, closed) = until_closed(stream).await;
        assert!(closed - opened >= head_limit, "a silent connection had its {head_limit:?}");
        assert!(!sent.contains("200"), "{sent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_meets_the_request_deadline() {
    let server = dashboard(&[("VERILENS_REQUEST_TIMEOUT", "2s"), ("VERILENS_HEADER_TIMEOUT", "60s")]).await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let sent = Instant::now();
    stream
        .write_all(
            b"POST /api/load_overview HTTP/1.1\r\nHost: verilens\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\nsearch=",
        )
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408") || answer.starts_with("HTTP/1.1 503"), "{answer:.200}");
    assert!(closed - sent >= Duration::from_secs(2), "the request had its 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_one() {
    let server = dashboard(&[("VERILENS_MAX_CONNECTIONS", "4"), ("VERILENS_HEADER_TIMEOUT", "2s")]).await;
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(&server.addr).await.unwrap());
    }
    // The fifth is answered once the silent ones are closed, not before.
    healthz(&server.addr).await;
    assert!(opened.elapsed() >= Duration::from_secs(2), "the fifth connection waited for a free one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_server_within_its_grace_while_clients_hold_connections() {
    let mut server = dashboard(&[
        ("VERILENS_SHUTDOWN_GRACE", "2s"),
        ("VERILENS_HEADER_TIMEOUT", "120s"),
        ("VERILENS_REQUEST_TIMEOUT", "120s"),
    ])
    .await;
    let _silent = TcpStream::connect(&server.addr).await.unwrap();
    // A request whose head was read (the server asks for its body) and whose body never comes.
    let mut stuck = TcpStream::connect(&server.addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/load_overview HTTP/1.1\r\nHost: verilens\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = [0u8; 12];
    stuck.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100");
    let pid = server.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(NEVER, server.child.wait()).await.expect("SIGTERM ends the server").unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_closes_silent_connections_too() {
    let mut config = EmulatorConfig::new(3, 500);
    config.rate_limit = 0;
    let api = emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let opened = Instant::now();
    let mut silent = TcpStream::connect(api.addr).await.unwrap();
    let (_, closed) = until_closed(&mut silent).await;
    let limit = verilens::connections::ConnectionLimits::default().request_head;
    assert!(closed - opened >= limit, "the silent connection had its {limit:?}");
}
