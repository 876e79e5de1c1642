//! What an operator meets: one configuration file under flags and the environment, logs a
//! shipper can read, `/metrics` a Prometheus server can scrape, and a binary that needs no
//! files beside it.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use verilens::emulator::EmulatorConfig;

/// Far longer than a start or a small sync takes: only a server that never gets there misses it.
const NEVER: Duration = Duration::from_secs(120);

/// A running `verilens serve`, its address and what it printed to stderr so far.
struct Served {
    child: tokio::process::Child,
    url: String,
    stderr: tokio::task::JoinHandle<Vec<String>>,
}

/// `verilens serve` on a port of its choosing, with `args` and `envs`, on an API that cannot
/// be reached unless `envs` says otherwise; the URL it prints.
async fn serve(cwd: &Path, binary: &Path, args: &[&str], envs: &[(&str, &str)]) -> Served {
    let mut child = tokio::process::Command::new(binary)
        .current_dir(cwd)
        .args(["serve", "--sync-every", "1h"])
        .args(args)
        .env_remove("LEPTOS_SITE_ROOT")
        .env("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
        .env("TWILIO_AUTH_TOKEN", "unused")
        .env("VERILENS_API_URL", "http://127.0.0.1:9")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(NEVER, stdout.read_line(&mut line)).await.expect("the dashboard prints its URL").unwrap();
    let url = line.split_whitespace().nth(2).unwrap_or_else(|| panic!("a URL in {line:?}")).to_string();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let stderr = tokio::spawn(async move {
        let mut read = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            read.push(line);
        }
        read
    });
    Served { child, url, stderr }
}

impl Served {
    /// Stops the server (SIGTERM, as a service manager does) and returns its stderr.
    async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().unwrap() as i32;
        Command::new("kill").arg(pid.to_string()).status().unwrap();
        tokio::time::timeout(NEVER, self.child.wait()).await.expect("it stops on SIGTERM").unwrap();
        self.stderr.await.unwrap()
    }
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_verilens"))
}

#[tokio::test]
async fn a_setting_comes_from_the_flag_then_the_environment_then_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("verilens.toml");
    std::fs::write(&config, "addr = \"127.0.0.1:0\"\nbase_path = \"/from-file\"\nsync_every = \"2h\"\n").unwrap();
    let config = config.to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (&["--config", config], &[], "/from-file/"),
        (&[], &[("VERILENS_CONFIG", config)], "/from-file/"),
        (&["--config", config], &[("VERILENS_BASE_PATH", "/from-env")], "/from-env/"),
        (&["--config", config, "--base-path", "/from-flag"], &[("VERILENS_BASE_PATH", "/from-env")], "/from-flag/"),
    ];
    for (args, envs, path) in cases {
        let served = serve(dir.path(), binary(), args, envs).await;
        assert!(served.url.ends_with(path), "{args:?} {envs:?}: {}", served.url);
        assert_eq!(reqwest::get(format!("{}healthz", served.url)).await.unwrap().status(), 200);
        served.stop().await;
    }
}

/// The output of `verilens args…`, which must exit (within `NEVER`).
async fn exited(cwd: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let run = tokio::process::Command::new(binary()).args(args).current_dir(cwd).kill_on_drop(true).output();
    tokio::time::timeout(NEVER, run).await.unwrap_or_else(|_| panic!("{args:?} did not exit")).unwrap()
}

#[tokio::test]
async fn a_bad_configuration_file_is_one_line_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("verilens.toml");
    let refused = async |text: &str| {
        std::fs::write(&config, text).unwrap();
        let output = exited(dir.path(), &["serve".as_ref(), "--config".as_ref(), config.as_os_str()]).await;
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(config.to_str().unwrap()), "names the file: {stderr}");
        assert!(!dir.path().join("verilens.db").exists(), "refused before opening the snapshot");
        stderr
    };
    let bad_duration = refused("sync_every = \"soon\"\n").await;
    assert!(bad_duration.contains("sync_every") && bad_duration.contains("not a duration"), "{bad_duration}");
    let bad_number = refused("rate_limit = \"fast\"\n").await;
    assert!(bad_number.contains("rate_limit") && bad_number.contains("fast"), "{bad_number}");
    let unknown = refused("sync_evry = \"5m\"\n").await;
    assert!(unknown.contains("unknown key \"sync_evry\""), "{unknown}");
    let not_toml = refused("sync_every = \n").await;
    assert!(not_toml.contains("verilens.toml"), "{not_toml}");
    // The same bad value from a flag is clap's own error, not the file's.
    let flag = exited(dir.path(), &["serve".as_ref(), "--sync-every".as_ref(), "soon".as_ref()]).await;
    let said = String::from_utf8(flag.stderr).unwrap();
    assert!(!flag.status.success() && !said.contains("verilens.toml"), "{said}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_text_logs_have_no_colour_codes_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), binary(), &["--addr", "127.0.0.1:0", "--log-format", "json"], &[]).await;
    let lines = served.stop().await;
    assert!(lines.len() >= 2, "{lines:?}");
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(event["level"].is_string() && event["message"].is_string() && event["timestamp"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("shutting down")), "{lines:?}");
    let text = serve(dir.path(), binary(), &["--addr", "127.0.0.1:0"], &[]).await.stop().await;
    assert!(text.iter().any(|l| l.contains("INFO")), "{text:?}");
    assert!(text.iter().all(|l| !l.contains('\u{1b}')), "no colour codes when stderr is not a terminal: {text:?}");
}

#[tokio::test]
async fn the_binary_alone_serves_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("verilens");
    std::fs::copy(binary(), &copy).unwrap();
    let served = serve(dir.path(), &copy, &["--addr", "127.0.0.1:0"], &[]).await;
    let http = reqwest::Client::builder().no_brotli().no_gzip().build().unwrap();
    for file in ["pkg/verilens.js", "pkg/verilens_bg.wasm", "pkg/verilens.css", "echarts.min.js"] {
        let url = format!("{}{file}", served.url);
        let plain = http.get(&url).send().await.unwrap();
        assert_eq!(plain.status(), 200, "{file}");
        let etag = plain.headers()["etag"].clone();
        let bytes = plain.bytes().await.unwrap();
        let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site").join(file)).unwrap();
        assert!(bytes == on_disk, "{file}: the embedded copy is the built one");
        let br = http.get(&url).header("accept-encoding", "br").send().await.unwrap();
        assert_eq!(br.headers()["content-encoding"], "br", "{file}");
        let unchanged = http.get(&url).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(unchanged.status(), 304, "{file}: revalidated by its ETag");
    }
    served.stop().await;
}

/// The samples of a scrape, by name and labels.
fn samples(text: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("a valid scrape");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            labels.sort();
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => f64::NAN,
            };
            ((s.metric, labels), value)
        })
        .collect()
}

fn label(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    labels.sort();
    labels
}

#[tokio::test]
async fn metrics_are_scraped_parsed_and_follow_prometheus_conventions() {
    let mut config = EmulatorConfig::new(31, 3_000);
    config.now = Some(common::emulator::now_to_the_second());
    config.rate_limit = 0;
    let running = common::emulator::start(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let api = running.base_url();
    let envs = [
        ("TWILIO_ACCOUNT_SID", config.credentials.account_sid.as_str()),
        ("TWILIO_AUTH_TOKEN", config.credentials.auth_token.as_str()),
        ("VERILENS_API_URL", api.as_str()),
        ("VERILENS_RATE_LIMIT", "0"),
        ("VERILENS_BASIC_AUTH", "ops:secret"),
    ];
    let served = serve(dir.path(), binary(), &["--addr", "127.0.0.1:0", "--metrics"], &envs).await;
    let http = reqwest::Client::new();
    let health = format!("{}healthz", served.url);
    let mut polls = 0;
    tokio::time::timeout(NEVER, async {
        loop {
            polls += 1;
            let body: serde_json::Value = http.get(&health).send().await.unwrap().json().await.unwrap();
            if body["synced"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the first sync completes");
    for _ in 0..3 {
        let page = http.get(&served.url).basic_auth("ops", Some("secret")).send().await.unwrap();
        assert_eq!(page.status(), 200);
    }
    let metrics_url = format!("{}metrics", served.url);
    assert_eq!(http.get(&metrics_url).send().await.unwrap().status(), 401, "protected like the pages");
    let scrape = http.get(&metrics_url).basic_auth("ops", Some("secret")).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(scrape.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = scrape.text().await.unwrap();

    let found = samples(&text);
    let value = |name: &str, labels: &[(&str, &str)]| {
        *found.get(&(name.to_string(), label(labels))).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    let db = dir.path().join("verilens.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db).read_only(true))
        .await
        .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
    assert!(stored > 1_000);
    assert_eq!(value("verilens_sync_attempts_total", &[]), stored as f64, "every attempt fetched once");
    let pages = value("verilens_sync_pages_total", &[]);
    assert!(pages >= 1.0);
    assert_eq!(value("verilens_sync_runs_total", &[("outcome", "complete")]), 1.0);
    assert!(value("verilens_api_requests_total", &[]) >= pages);
    assert!(value("verilens_sync_lag_seconds", &[]) >= 0.0);
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&pool).await.unwrap();
    assert!(value("verilens_snapshot_bytes", &[]) >= (page_size * 10) as f64);
    assert_eq!(
        value("verilens_http_request_duration_seconds_count", &[("route", "/"), ("status", "200")]),
        3.0,
        "the three page views, counted by their route"
    );
    assert_eq!(
        value("verilens_http_request_duration_seconds_count", &[("route", "/healthz"), ("status", "200")]),
        polls as f64
    );
    assert!(value("verilens_rollup_refresh_seconds_count", &[]) >= 1.0, "the pages loaded the rollups");
    assert!(text.contains(&format!("commit=\"{}\"", env!("VERILENS_COMMIT"))), "{text}");

    // Prometheus' own linter: names, units, suffixes and help texts by its conventions.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) is installed by scripts/setup.sh --for-tests");
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&checked.stdout), String::from_utf8_lossy(&checked.stderr));
    assert!(checked.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
    served.stop().await;
}
