//! The emulator on a loopback port, and a Twilio client for it.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use verilens::emulator::{self, EmulatorConfig, RunningEmulator};
use verilens::model::twilio_time;
use verilens::twilio::{Credentials, RateLimiter, TwilioClient};

/// The clock's time to the second, as the API writes times: a dataset pinned to it is the
/// same whether it is read before or after a second turns.
pub fn now_to_the_second() -> DateTime<Utc> {
    twilio_time::parse(&twilio_time::format(&Utc::now())).unwrap()
}

/// The emulator with `config`, on a free loopback port.
pub async fn start(config: &EmulatorConfig) -> RunningEmulator {
    emulator::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

/// A client of the API at `base_url` with `config`'s credentials, sending at most
/// `per_minute` requests a minute (0: no limit).
pub fn client_for(base_url: &str, config: &EmulatorConfig, per_minute: u32) -> TwilioClient {
    let c = &config.credentials;
    TwilioClient::new(
        base_url,
        Credentials::auth_token(c.account_sid.clone(), c.auth_token.clone()),
        Arc::new(RateLimiter::per_minute(per_minute)),
    )
    .unwrap()
}

/// An emulator with its clock pinned to now and no rate limit, and what a test asks of it.
pub struct Pinned {
    pub config: EmulatorConfig,
    pub base: String,
    running: RunningEmulator,
}

impl Pinned {
    /// This API's `[[account]]` entry of an accounts file (`--accounts`), named `name`.
    pub fn account_entry(&self, name: Option<&str>) -> String {
        let c = &self.config.credentials;
        let name = name.map(|n| format!("name = \"{n}\"\n")).unwrap_or_default();
        format!(
            "[[account]]\n{name}account_sid = \"{}\"\nauth_token = \"{}\"\napi_url = \"{}\"\n",
            c.account_sid, c.auth_token, self.base
        )
    }

    /// Moves the API's clock on to `now`: the attempts created until then appear.
    pub fn set_clock(&mut self, now: DateTime<Utc>) {
        self.running.emulator.set_clock(now);
        self.config.now = Some(now);
    }

    /// `path` of the API as JSON, read with plain HTTP and the account's credentials.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let c = &self.config.credentials;
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .basic_auth(&c.account_sid, Some(&c.auth_token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub async fn start_pinned(seed: u64, attempts: u64) -> Pinned {
    let mut config = EmulatorConfig::new(seed, attempts);
    config.now = Some(now_to_the_second());
    start_pinned_with(config).await
}

/// An emulator pinned to now whose attempts all lie a day inside the sync's 30 days: syncs
/// made seconds apart (processes killed and restarted, two stores compared) see the same
/// attempts, where the oldest of a 30-day dataset leave the window as the clock moves on.
pub async fn start_pinned_inside_window(seed: u64, attempts: u64) -> Pinned {
    let mut config = EmulatorConfig::new(seed, attempts);
    (config.now, config.days) = (Some(now_to_the_second()), 29);
    start_pinned_with(config).await
}

/// An emulator with `config` (whose clock is pinned) and no rate limit.
pub async fn start_pinned_with(mut config: EmulatorConfig) -> Pinned {
    config.rate_limit = 0;
    let running = start(&config).await;
    Pinned { base: running.base_url(), config, running }
}

/// An accounts file (`--accounts`) in `dir` listing `entries` (from `Pinned::account_entry`).
pub fn accounts_file(dir: &std::path::Path, entries: &[String]) -> std::path::PathBuf {
    let file = dir.join("accounts.toml");
    std::fs::write(&file, entries.join("\n")).unwrap();
    file
}
