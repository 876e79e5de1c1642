//! The command line: subcommands, their options and the environment variables they read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use verilens::model::twilio_time;
use verilens::sync::SyncOptions;
use verilens::telemetry::LogFormat;
use verilens::twilio;

#[derive(Parser)]
#[command(
    name = "verilens",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("VERILENS_COMMIT"), ")"),
    about = "Where Twilio Verify codes fail to convert, and what that costs"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A TOML file of settings: each key is an option's long name (`sync_every = "5m"`),
    /// emulator options under `[emulator]`. Flags and environment variables take precedence.
    #[arg(long, env = "VERILENS_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How log lines are written: `text` (colours only on a terminal) or `json` (one object a line).
    #[arg(long, env = "VERILENS_LOG_FORMAT", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// The reporting time zone, an IANA name (`Europe/Madrid`): what a day is in ranges, the
    /// charts, the day rollups, the breakdown by day, digests and CSVs. Hours stay UTC hours.
    /// Changing it rebuilds the rollups when the snapshot opens.
    #[arg(long, env = "VERILENS_TZ", global = true, default_value = "UTC", value_parser = parse_zone)]
    pub tz: chrono_tz::Tz,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// The dashboard (the default). Without Twilio credentials it runs on the built-in emulator.
    Serve(Box<ServeArgs>),
    /// The Attempts API emulator alone.
    Emulate(EmulateArgs),
    /// One sync now; exits 0 only when the snapshot is complete for the window.
    Sync(SyncArgs),
    /// Recomputes the snapshot's rollups from its attempts.
    RebuildRollups(RebuildArgs),
    /// Copies the snapshot, consistent as of one moment, while `serve` or `sync` may run on it.
    Backup(BackupArgs),
    /// Puts a backup in place as the snapshot, after checking it; the snapshot must not exist.
    Restore(RestoreArgs),
    /// Writes the manual pages (verilens.1 and one per command) into a directory.
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup to restore.
    #[arg(long)]
    pub from: PathBuf,
    /// Where to put it: a snapshot that does not exist yet.
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    pub db: PathBuf,
}

#[derive(Args)]
pub struct ManArgs {
    #[arg(long)]
    pub out_dir: PathBuf,
}

#[derive(Args)]
pub struct BackupArgs {
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    pub db: PathBuf,
    /// The copy to write: a new file.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Args)]
pub struct RebuildArgs {
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    pub db: PathBuf,
}

#[derive(Args, Clone)]
pub struct TwilioArgs {
    /// Base URL of the Attempts API.
    #[arg(long, env = "VERILENS_API_URL", default_value = twilio::DEFAULT_BASE_URL)]
    pub api_url: String,
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    pub account_sid: Option<String>,
    /// A TOML file of several accounts or subaccounts to sync into one snapshot, each in an
    /// [[account]] table with account_sid, auth_token (or api_key and api_secret), and
    /// optionally name and rate_limit; instead of the TWILIO_* variables.
    #[arg(long, env = "VERILENS_ACCOUNTS")]
    pub accounts: Option<PathBuf>,
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true, hide = true)]
    pub auth_token: Option<String>,
    #[arg(long, env = "TWILIO_API_KEY", hide_env_values = true, hide = true)]
    pub api_key: Option<String>,
    #[arg(long, env = "TWILIO_API_SECRET", hide_env_values = true, hide = true)]
    pub api_secret: Option<String>,
    /// Requests per minute verilens allows itself against the API.
    #[arg(long, env = "VERILENS_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,
    /// How long the sync's transaction stays open (e.g. 10s, 500ms): a crash loses at most
    /// this much work, which the next run fetches again; longer ingests faster. A first
    /// sync's bulk load commits every second at most, which costs it nothing.
    #[arg(long, env = "VERILENS_COMMIT_EVERY", default_value = "10s", value_parser = parse_duration)]
    pub commit_every: Duration,
}

impl TwilioArgs {
    pub fn sync_options(&self) -> SyncOptions {
        // A bulk load fills the dashboard only when it ends: worth it only when pages can
        // come faster than upserts keep up with, which a rate limit never allows.
        SyncOptions { commit_every: self.commit_every, bulk_first_sync: self.rate_limit == 0, ..SyncOptions::default() }
    }
}

/// What a `serve` process does (`--role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The dashboard and the sync.
    All,
    /// The dashboard only: it reads what another process syncs.
    Web,
    /// The sync, alerts and backups, without a dashboard.
    Sync,
}

impl Role {
    pub fn serves(self) -> bool {
        self != Role::Sync
    }

    pub fn syncs(self) -> bool {
        self != Role::Web
    }
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address of the dashboard.
    #[arg(long, env = "VERILENS_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// The snapshot: a sqlite file's path, or a PostgreSQL database's URL (`postgres://…`;
    /// `DATABASE_URL` is read when `VERILENS_DB` is not set).
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    pub db: PathBuf,
    /// A read replica of the PostgreSQL --db (its URL) to read the figures from: rollups,
    /// attempts, the sync's status. Writes, and what users edit, stay on --db.
    #[arg(long, env = "VERILENS_READ_DB", hide_env_values = true)]
    pub read_db: Option<String>,
    /// Show phone numbers in full in pages and exports (masked by default).
    #[arg(long, env = "VERILENS_SHOW_PHONE_NUMBERS")]
    pub show_phone_numbers: bool,
    /// Ask for this user and password (`user:pass`) on every route but /healthz. Prefer the
    /// environment variable or --basic-auth-file: a flag is visible to anyone who can list
    /// processes.
    #[arg(long, env = "VERILENS_BASIC_AUTH", hide_env_values = true)]
    pub basic_auth: Option<String>,
    /// A file holding `user:pass` for --basic-auth.
    #[arg(long, env = "VERILENS_BASIC_AUTH_FILE", conflicts_with = "basic_auth")]
    pub basic_auth_file: Option<PathBuf>,
    /// How often to sync, e.g. 30s, 5m, 1h.
    #[arg(long, env = "VERILENS_SYNC_EVERY", default_value = "5m", value_parser = parse_duration)]
    pub sync_every: Duration,
    /// How long a client has to send a request's head; a keep-alive connection idle for as
    /// long is closed too.
    #[arg(long, env = "VERILENS_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// How long one request may take, its body included; past it the answer is a 503.
    #[arg(long, env = "VERILENS_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Connections open at once (fewer if the open-file limit allows fewer); more wait.
    #[arg(long, env = "VERILENS_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// After SIGTERM, how long requests under way may take before the server exits anyway.
    #[arg(long, env = "VERILENS_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Pin the time the views are relative to (e.g. 2026-11-25T12:00:00Z), for reproducible
    /// screenshots and tests; "today" and relative ranges then never move.
    #[arg(long, env = "VERILENS_NOW", value_parser = parse_time)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// Serve everything under this path (e.g. /verilens) behind a reverse proxy; by default the
    /// path of --public-url.
    #[arg(long, env = "VERILENS_BASE_PATH")]
    pub base_path: Option<String>,
    /// The address users reach the dashboard at (e.g. https://tools.example.com/verilens), when a
    /// proxy stands in front.
    #[arg(long, env = "VERILENS_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<reqwest::Url>,
    /// Serve /metrics in Prometheus' text format, behind the same password as the pages.
    #[arg(long, env = "VERILENS_METRICS")]
    pub metrics: bool,
    /// Back the snapshot up into this directory every --backup-every.
    #[arg(long, env = "VERILENS_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// How often to back up into --backup-dir, e.g. 6h, 1d.
    #[arg(long, env = "VERILENS_BACKUP_EVERY", value_parser = parse_duration, default_value = "1d")]
    pub backup_every: Duration,
    /// How many scheduled backups to keep in --backup-dir (the oldest go first).
    #[arg(long, env = "VERILENS_BACKUP_KEEP", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: u32,
    /// Verify's fee per successful verification, which the API's prices leave out (e.g.
    /// 0.05USD, or 0 for none); Twilio's list price, $0.05, when not set.
    #[arg(long, env = "VERILENS_VERIFICATION_FEE", value_parser = parse_fee)]
    pub verification_fee: Option<String>,
    /// A TOML file of fees per country and per service, over --verification-fee:
    /// `[countries]` `IN = "0.02USD"`, `[services]` `VA… = "0.04USD"`.
    #[arg(long, env = "VERILENS_VERIFICATION_FEES", value_name = "FILE")]
    pub verification_fees: Option<PathBuf>,
    /// Show the dashboard only: saved views, alert rules and digests cannot be changed (those
    /// already saved still run).
    #[arg(long, env = "VERILENS_READ_ONLY")]
    pub read_only: bool,
    /// What this process does with the snapshot: `all` serves the dashboard and syncs; `web`
    /// only serves it, while another process syncs into the same snapshot; `sync` only syncs,
    /// and sends the alerts and takes the backups, without a dashboard.
    #[arg(long, env = "VERILENS_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// A Slack incoming webhook alerts and digests can go to (a secret: prefer the environment
    /// or the config file).
    #[arg(long, env = "VERILENS_SLACK_WEBHOOK_URL", hide_env_values = true)]
    pub slack_webhook_url: Option<String>,
    /// A URL alerts and digests are POSTed to as JSON, signed with --alert-webhook-secret.
    #[arg(long, env = "VERILENS_ALERT_WEBHOOK_URL", hide_env_values = true)]
    pub alert_webhook_url: Option<String>,
    /// The key of the webhook's HMAC-SHA256 signature (16 characters or more).
    #[arg(long, env = "VERILENS_ALERT_WEBHOOK_SECRET", hide_env_values = true)]
    pub alert_webhook_secret: Option<String>,
    /// The SMTP server for e-mail: smtps://user:password@host:465, or
    /// smtp://user:password@host:587?tls=required for STARTTLS.
    #[arg(long, env = "VERILENS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of alert e-mail, e.g. "verilens <alerts@example.com>".
    #[arg(long, env = "VERILENS_ALERT_EMAIL_FROM")]
    pub alert_email_from: Option<String>,
    /// Let destinations be loopback addresses (a receiver on this machine), over http too.
    #[arg(long, env = "VERILENS_ALLOW_LOOPBACK_DESTINATIONS")]
    pub allow_loopback_destinations: bool,
    /// Let destinations be private, link-local or other non-public addresses.
    #[arg(long, env = "VERILENS_ALLOW_PRIVATE_DESTINATIONS")]
    pub allow_private_destinations: bool,
    /// The token scripts and deploy pipelines add annotations with (`POST /api/annotations`,
    /// `Authorization: Bearer <token>`); the endpoint is off without one.
    #[arg(long, env = "VERILENS_ANNOTATIONS_TOKEN", hide_env_values = true)]
    pub annotations_token: Option<String>,
    /// How often alert rules are evaluated besides after each sync that changes the snapshot.
    #[arg(long, env = "VERILENS_ALERT_CHECK_EVERY", default_value = "1m", value_parser = parse_duration)]
    pub alert_check_every: Duration,
    #[command(flatten)]
    pub twilio: TwilioArgs,
}

fn parse_fee(text: &str) -> Result<String, String> {
    verilens::fees::Fee::parse(text).map(|_| text.to_string()).map_err(|e| e.to_string())
}

impl ServeArgs {
    /// The sub-path to serve under: --base-path, else the path of --public-url, else the root.
    pub fn base_path(&self) -> &str {
        match (&self.base_path, &self.public_url) {
            (Some(base), _) => base,
            (None, Some(url)) => url.path(),
            (None, None) => "",
        }
    }
}

fn parse_public_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{text:?} is not an http or https URL"));
    }
    Ok(url)
}

#[derive(Args, Clone)]
pub struct EmulateArgs {
    #[arg(long, env = "VERILENS_EMULATOR_ADDR", default_value = "127.0.0.1:4010")]
    pub addr: SocketAddr,
    /// Seed of the synthetic dataset.
    #[arg(long, env = "VERILENS_EMULATOR_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Attempts over the whole window, on average.
    #[arg(long, env = "VERILENS_EMULATOR_ATTEMPTS", default_value_t = 60_000)]
    pub attempts: u64,
    /// Days of history the API shows.
    #[arg(long, env = "VERILENS_EMULATOR_DAYS", default_value_t = 30)]
    pub days: u32,
    /// Requests per minute per account; 0 turns the limit off.
    #[arg(long, env = "VERILENS_EMULATOR_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,
    /// Account SID to accept (default: derived from the seed, printed at start).
    #[arg(long, env = "VERILENS_EMULATOR_ACCOUNT_SID")]
    pub account_sid: Option<String>,
    /// Auth token to accept (default: derived from the seed, printed at start).
    #[arg(long, env = "VERILENS_EMULATOR_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Share of requests answered with HTTP 500, from 0 to 1.
    #[arg(long, env = "VERILENS_EMULATOR_FAIL_RATE", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Delay before every answer, in milliseconds.
    #[arg(long, env = "VERILENS_EMULATOR_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Illustrative prices, a JSON file: {"CO": {"sms": 0.05, "whatsapp": 0.02, "call": 0.06}}.
    #[arg(long, env = "VERILENS_EMULATOR_PRICES")]
    pub prices: Option<PathBuf>,
    /// Carriers per country, a JSON file like data/carriers-15-countries.json:
    /// {"countries": {"CO": [{"mcc": "732", "mnc": "103", "brand": "Tigo", "operator": "..."}]}}.
    #[arg(long, env = "VERILENS_EMULATOR_CARRIERS")]
    pub carriers: Option<PathBuf>,
    /// Pin the clock (e.g. 2026-11-25T12:00:00Z) for reproducible runs; attempts stop arriving.
    #[arg(long, env = "VERILENS_EMULATOR_NOW", value_parser = parse_time)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Args, Clone)]
pub struct SyncArgs {
    #[arg(long, env = "VERILENS_DB", default_value = "verilens.db")]
    pub db: PathBuf,
    #[command(flatten)]
    pub twilio: TwilioArgs,
}

/// A duration like `500ms`, `30s`, `5m`, `1h 30m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
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

/// An IANA time zone name, as `--tz` takes it.
fn parse_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("{text:?} is not an IANA time zone name, like Europe/Madrid or UTC"))
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
