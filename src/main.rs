//! `verilens`: serve the dashboard, run the Attempts API emulator, or sync once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use verilens::connections::{self, ConnectionLimits};
use verilens::emulator::{self, Credentials as EmulatorCredentials, EmulatorConfig, RunningEmulator, countries};
use verilens::model::twilio_time;
use verilens::security::BasicAuth;
use verilens::server;
use verilens::state::AppState;
use verilens::store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};
use verilens::twilio::{self, Credentials, RateLimiter, TwilioClient};

#[derive(Parser)]
#[command(name = "verilens", version, about = "Where Twilio Verify codes fail to convert, and what that costs")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The dashboard (the default). Without Twilio credentials it runs on the built-in emulator.
    Serve(ServeArgs),
    /// The Attempts API emulator alone.
    Emulate(EmulateArgs),
    /// One sync now; exits 0 only when the snapshot is complete for the window.
    Sync(SyncArgs),
    /// Recomputes the snapshot's rollups from its attempts.
    RebuildRollups(RebuildArgs),
}

#[derive(Args)]
struct RebuildArgs {
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    db: PathBuf,
}

#[derive(Args, Clone)]
struct TwilioArgs {
    /// Base URL of the Attempts API.
    #[arg(long, env = "VERILENS_API_URL", default_value = twilio::DEFAULT_BASE_URL)]
    api_url: String,
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    account_sid: Option<String>,
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true, hide = true)]
    auth_token: Option<String>,
    #[arg(long, env = "TWILIO_API_KEY", hide_env_values = true, hide = true)]
    api_key: Option<String>,
    #[arg(long, env = "TWILIO_API_SECRET", hide_env_values = true, hide = true)]
    api_secret: Option<String>,
    /// Requests per minute verilens allows itself against the API.
    #[arg(long, env = "VERILENS_RATE_LIMIT", default_value_t = 100)]
    rate_limit: u32,
    /// How long the sync's transaction stays open (e.g. 10s, 500ms): a crash loses at most
    /// this much work, which the next run fetches again; longer ingests faster. A first
    /// sync's bulk load commits every second at most, which costs it nothing.
    #[arg(long, env = "VERILENS_COMMIT_EVERY", default_value = "10s", value_parser = parse_duration)]
    commit_every: Duration,
}

impl TwilioArgs {
    fn sync_options(&self) -> SyncOptions {
        // A bulk load fills the dashboard only when it ends: worth it only when pages can
        // come faster than upserts keep up with, which a rate limit never allows.
        SyncOptions { commit_every: self.commit_every, bulk_first_sync: self.rate_limit == 0, ..SyncOptions::default() }
    }
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address of the dashboard.
    #[arg(long, env = "VERILENS_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The sqlite snapshot.
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    db: PathBuf,
    /// Show phone numbers in full in pages and exports (masked by default).
    #[arg(long, env = "VERILENS_SHOW_PHONE_NUMBERS")]
    show_phone_numbers: bool,
    /// Ask for this user and password (`user:pass`) on every route but /healthz. Prefer the
    /// environment variable or --basic-auth-file: a flag is visible to anyone who can list
    /// processes.
    #[arg(long, env = "VERILENS_BASIC_AUTH", hide_env_values = true)]
    basic_auth: Option<String>,
    /// A file holding `user:pass` for --basic-auth.
    #[arg(long, env = "VERILENS_BASIC_AUTH_FILE", conflicts_with = "basic_auth")]
    basic_auth_file: Option<PathBuf>,
    /// How often to sync, e.g. 30s, 5m, 1h.
    #[arg(long, env = "VERILENS_SYNC_EVERY", default_value = "5m", value_parser = parse_duration)]
    sync_every: Duration,
    /// How long a client has to send a request's head; a keep-alive connection idle for as
    /// long is closed too.
    #[arg(long, env = "VERILENS_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// How long one request may take, its body included; past it the answer is a 503.
    #[arg(long, env = "VERILENS_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Connections open at once (fewer if the open-file limit allows fewer); more wait.
    #[arg(long, env = "VERILENS_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// After SIGTERM, how long requests under way may take before the server exits anyway.
    #[arg(long, env = "VERILENS_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// Pin the time the views are relative to (e.g. 2026-11-25T12:00:00Z), for reproducible
    /// screenshots and tests; "today" and relative ranges then never move.
    #[arg(long, env = "VERILENS_NOW", value_parser = parse_time)]
    now: Option<chrono::DateTime<chrono::Utc>>,
    #[command(flatten)]
    twilio: TwilioArgs,
}

#[derive(Args, Clone)]
struct EmulateArgs {
    #[arg(long, env = "VERILENS_EMULATOR_ADDR", default_value = "127.0.0.1:4010")]
    addr: SocketAddr,
    /// Seed of the synthetic dataset.
    #[arg(long, env = "VERILENS_EMULATOR_SEED", default_value_t = 42)]
    seed: u64,
    /// Attempts over the whole window, on average.
    #[arg(long, env = "VERILENS_EMULATOR_ATTEMPTS", default_value_t = 60_000)]
    attempts: u64,
    /// Days of history the API shows.
    #[arg(long, env = "VERILENS_EMULATOR_DAYS", default_value_t = 30)]
    days: u32,
    /// Requests per minute per account; 0 turns the limit off.
    #[arg(long, env = "VERILENS_EMULATOR_RATE_LIMIT", default_value_t = 100)]
    rate_limit: u32,
    /// Account SID to accept (default: derived from the seed, printed at start).
    #[arg(long, env = "VERILENS_EMULATOR_ACCOUNT_SID")]
    account_sid: Option<String>,
    /// Auth token to accept (default: derived from the seed, printed at start).
    #[arg(long, env = "VERILENS_EMULATOR_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Share of requests answered with HTTP 500, from 0 to 1.
    #[arg(long, env = "VERILENS_EMULATOR_FAIL_RATE", default_value_t = 0.0)]
    fail_rate: f64,
    /// Delay before every answer, in milliseconds.
    #[arg(long, env = "VERILENS_EMULATOR_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Illustrative prices, a JSON file: {"CO": {"sms": 0.05, "whatsapp": 0.02, "call": 0.06}}.
    #[arg(long, env = "VERILENS_EMULATOR_PRICES")]
    prices: Option<PathBuf>,
    /// Carriers per country, a JSON file like data/carriers-15-countries.json:
    /// {"countries": {"CO": [{"mcc": "732", "mnc": "103", "brand": "Tigo", "operator": "..."}]}}.
    #[arg(long, env = "VERILENS_EMULATOR_CARRIERS")]
    carriers: Option<PathBuf>,
    /// Pin the clock (e.g. 2026-11-25T12:00:00Z) for reproducible runs; attempts stop arriving.
    #[arg(long, env = "VERILENS_EMULATOR_NOW", value_parser = parse_time)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Args, Clone)]
struct SyncArgs {
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    db: PathBuf,
    #[command(flatten)]
    twilio: TwilioArgs,
}

/// A duration like `500ms`, `30s`, `5m`, `1h 30m`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s, 5m or 1h"))?,
    };
    if duration.is_zero() {
        return Err("the duration must be more than zero".to_string());
    }
    Ok(duration)
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    twilio_time::parse(text).ok_or_else(|| format!("{text:?} is not a time like 2026-11-25T12:00:00Z"))
}

fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        // Colour codes only where a terminal shows them, never in a file or a log shipper.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    verilens::guards::log_panics();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Emulate(args)) => emulate(args).await,
            Some(Command::Sync(args)) => sync(args).await,
            Some(Command::RebuildRollups(args)) => rebuild_rollups(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verilens: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The API to sync from: Twilio (or `--api-url`) with credentials, else a built-in emulator.
struct Source {
    client: Arc<TwilioClient>,
    demo: Option<RunningEmulator>,
}

async fn source(args: &TwilioArgs) -> anyhow::Result<Source> {
    let limiter = Arc::new(RateLimiter::per_minute(args.rate_limit));
    let credentials = match (&args.account_sid, &args.auth_token, &args.api_key, &args.api_secret) {
        (Some(account), _, Some(key), Some(secret)) => {
            Some(Credentials::api_key(account.clone(), key.clone(), secret.clone()))
        }
        (Some(account), Some(token), _, _) => Some(Credentials::auth_token(account.clone(), token.clone())),
        (None, None, None, None) => None,
        _ => bail!(
            "incomplete Twilio credentials: set TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, \
             or with TWILIO_API_KEY and TWILIO_API_SECRET"
        ),
    };
    match credentials {
        Some(credentials) => {
            let client = TwilioClient::new(&args.api_url, credentials, limiter)?;
            Ok(Source { client: Arc::new(client), demo: None })
        }
        None => {
            let config = EmulatorConfig::new(42, 60_000);
            let creds = config.credentials.clone();
            let running = emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            tracing::info!(
                "no Twilio credentials set: using the built-in emulator (demo data) at {}",
                running.base_url()
            );
            let client = TwilioClient::new(
                &running.base_url(),
                Credentials::auth_token(creds.account_sid, creds.auth_token),
                limiter,
            )?;
            Ok(Source { client: Arc::new(client), demo: Some(running) })
        }
    }
}

/// The credentials of `--basic-auth` or `--basic-auth-file`; an error never repeats them.
fn basic_auth(args: &ServeArgs) -> anyhow::Result<Option<BasicAuth>> {
    if let Some(text) = &args.basic_auth {
        let auth =
            text.parse().map_err(|_| anyhow::anyhow!("VERILENS_BASIC_AUTH (--basic-auth) must be user:password"))?;
        return Ok(Some(auth));
    }
    let Some(path) = &args.basic_auth_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let auth = text.trim_end_matches(['\r', '\n']).parse().map_err(|_| {
        anyhow::anyhow!("{} (VERILENS_BASIC_AUTH_FILE, --basic-auth-file) must hold user:password", path.display())
    })?;
    Ok(Some(auth))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let basic_auth = basic_auth(&args)?;
    let pool = store::open(&args.db).await?;
    let source = source(&args.twilio).await?;
    let progress = SyncProgress::default();
    let demo = source.demo.is_some();
    let options = args.twilio.sync_options();
    let stop = options.stop.clone();
    if demo {
        // The demo data is local and quick to sync: show a full dashboard from the first page view.
        if let Err(e) = sync_once(&pool, &source.client, &progress, &options).await {
            tracing::error!("sync failed: {e}");
        }
    }
    let syncing =
        server::spawn_sync_loop(pool.clone(), source.client.clone(), progress.clone(), args.sync_every, !demo, options);
    let state = AppState {
        progress,
        demo,
        show_phone_numbers: args.show_phone_numbers,
        basic_auth: basic_auth.clone(),
        pinned_now: args.now,
        ..AppState::new(server::leptos_options(args.addr), pool)
    };
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    if basic_auth.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on {addr} without access control: anyone who can reach it sees the dashboard; \
             set VERILENS_BASIC_AUTH or VERILENS_BASIC_AUTH_FILE (user:password), or put it behind a proxy that asks"
        );
    }
    println!(
        "verilens dashboard: http://{addr}/{}",
        if demo { "  (demo data from the built-in emulator)" } else { "" }
    );
    let shutdown = async move {
        server::shutdown_signal().await;
        tracing::info!("shutting down: finishing requests and the sync's current pages");
        stop.stop();
    };
    let limits = ConnectionLimits {
        request_head: args.header_timeout,
        max_connections: connections::connections_the_file_limit_allows(args.max_connections.max(1)),
        shutdown_grace: args.shutdown_grace,
    };
    let app = server::router_with_deadline(state, args.request_timeout);
    connections::serve(listener, app, limits, shutdown).await?;
    if tokio::time::timeout(Duration::from_secs(30), syncing).await.is_err() {
        tracing::warn!("the sync did not reach a page boundary within 30 s; the next start resumes its run");
    }
    Ok(())
}

async fn emulate(args: EmulateArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.fail_rate) {
        bail!("--fail-rate must be between 0 and 1");
    }
    let mut config = EmulatorConfig::new(args.seed, args.attempts);
    config.days = args.days;
    config.rate_limit = args.rate_limit;
    config.fail_rate = args.fail_rate;
    config.latency = Duration::from_millis(args.latency_ms);
    config.now = args.now;
    config.prices = args.prices.as_deref().map(|p| market_table(p, countries::apply_prices)).transpose()?;
    config.carriers = args.carriers.as_deref().map(|p| market_table(p, countries::apply_carriers)).transpose()?;
    let defaults = EmulatorCredentials::for_seed(args.seed);
    config.credentials = EmulatorCredentials {
        account_sid: args.account_sid.unwrap_or(defaults.account_sid),
        auth_token: args.auth_token.unwrap_or(defaults.auth_token),
        ..defaults
    };
    let creds = config.credentials.clone();
    let running =
        emulator::start(config, args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let attempts = running.emulator.dataset.read().expect("dataset lock").records.len();
    println!(
        "verilens emulator: {}/v2/Attempts ({attempts} attempts generated, seed {})",
        running.base_url(),
        args.seed
    );
    println!("  TWILIO_ACCOUNT_SID={}", creds.account_sid);
    println!("  TWILIO_AUTH_TOKEN={}", creds.auth_token);
    println!("  or API key {} with secret {}", creds.api_key_sid, creds.api_key_secret);
    println!("  curl -u {}:{} {}/v2/Attempts/Summary", creds.account_sid, creds.auth_token, running.base_url());
    server::shutdown_signal().await;
    running.task.abort();
    Ok(())
}

/// The text of a `--prices` or `--carriers` file, once `apply` has accepted it, so that a
/// bad file is an error naming it at start-up.
fn market_table(
    path: &std::path::Path,
    apply: fn(&mut [countries::Market], &str) -> Result<(), countries::DatasetFileError>,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    apply(&mut countries::markets(), &text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(text)
}

async fn rebuild_rollups(args: RebuildArgs) -> anyhow::Result<()> {
    if !args.db.exists() {
        anyhow::bail!("there is no snapshot at {}", args.db.display());
    }
    let pool = store::open(&args.db).await?;
    let started = std::time::Instant::now();
    let attempts = store::rebuild_rollups(&pool).await?;
    println!(
        "rebuilt the rollups of {} from {attempts} attempts in {:.1} s",
        args.db.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let pool = store::open(&args.db).await?;
    let source = source(&args.twilio).await?;
    let progress = SyncProgress::default();
    let bar = progress_bar();
    let reporter = tokio::spawn(report_progress(progress.clone(), bar.clone()));
    let options = args.twilio.sync_options();
    let stop = options.stop.clone();
    tokio::spawn(async move {
        server::shutdown_signal().await;
        stop.stop();
    });
    let result = sync_once(&pool, &source.client, &progress, &options).await;
    reporter.abort();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;
    println!(
        "synced {} to {}: {} pages, {} new, {} updated attempts; snapshot {} / API {} for the window",
        report.window_start,
        report.window_end,
        report.pages,
        report.attempts_new,
        report.attempts_updated,
        report.snapshot_total,
        report.api_total
    );
    if report.snapshot_total < report.api_total {
        bail!(
            "the snapshot holds {} attempts for the window but the Attempts API reports {}",
            report.snapshot_total,
            report.api_total
        );
    }
    Ok(())
}

/// A progress bar when stderr is a terminal; plain log lines otherwise.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} attempts, {per_sec}, ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        indicatif::ProgressBar::new(0).with_style(style)
    })
}

async fn report_progress(progress: SyncProgress, bar: Option<indicatif::ProgressBar>) {
    let every = if bar.is_some() { Duration::from_millis(200) } else { Duration::from_secs(5) };
    loop {
        tokio::time::sleep(every).await;
        let now = progress.snapshot();
        match &bar {
            Some(bar) => {
                bar.set_length(now.expected.unwrap_or(now.attempts));
                bar.set_position(now.attempts);
                bar.set_message(format!("{} pages", now.pages));
            }
            None if now.running => tracing::info!(
                "sync: {} of {} attempts, {} pages, {:.0} attempts/s",
                now.attempts,
                now.expected.map_or_else(|| "?".to_string(), |e| e.to_string()),
                now.pages,
                now.attempts_per_second
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 5m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
    }
}
