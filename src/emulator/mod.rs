//! An emulator of Twilio's Verification Attempts API over a deterministic
//! synthetic dataset: the demo mode of verilens and the ground truth of its tests.

pub mod countries;
pub mod dataset;
pub mod error;
pub mod history;
pub mod listing;
pub mod params;
pub mod render;
pub mod rng;
mod routes;
pub mod services;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use dataset::{Dataset, DatasetConfig, format_sid, sid_bits};

pub use routes::router;

use crate::rate_window::SlidingWindow;

/// How the emulator behaves; every field is a flag of `verilens emulate`.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub seed: u64,
    pub attempts: u64,
    pub days: u32,
    /// Requests per minute per account; 0 turns the limit off.
    pub rate_limit: u32,
    pub credentials: Credentials,
    /// Share of requests answered with a 500, for fault-injection tests.
    pub fail_rate: f64,
    pub latency: Duration,
    /// A pinned clock for reproducible runs; attempts stop arriving.
    pub now: Option<DateTime<Utc>>,
    /// Illustrative prices instead of the built-in ones (see `countries::apply_prices`).
    pub prices: Option<String>,
    /// Carriers instead of the built-in ones (see `countries::apply_carriers`).
    pub carriers: Option<String>,
}

/// What the emulator accepts: the account SID with its auth token, or an API key and secret.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub account_sid: String,
    pub auth_token: String,
    pub api_key_sid: String,
    pub api_key_secret: String,
}

impl Credentials {
    /// Credentials derived from the seed, printed when the emulator starts.
    pub fn for_seed(seed: u64) -> Self {
        Credentials {
            account_sid: format_sid("AC", sid_bits(seed, 0xacc0_0000, 0)),
            auth_token: format!("{:032x}", sid_bits(seed, 0x70ce_0000, 1)),
            api_key_sid: format_sid("SK", sid_bits(seed, 0x5c00_0000, 2)),
            api_key_secret: format!("{:032x}", sid_bits(seed, 0x5ec0_0000, 3)),
        }
    }
}

impl EmulatorConfig {
    pub fn new(seed: u64, attempts: u64) -> Self {
        EmulatorConfig {
            seed,
            attempts,
            days: 30,
            rate_limit: 100,
            credentials: Credentials::for_seed(seed),
            fail_rate: 0.0,
            latency: Duration::ZERO,
            now: None,
            prices: None,
            carriers: None,
        }
    }
}

/// The emulator's shared state.
pub struct Emulator {
    pub config: EmulatorConfig,
    pub dataset: RwLock<Dataset>,
    requests: Mutex<HashMap<String, SlidingWindow>>,
    fault_counter: Mutex<u64>,
    /// The pinned clock in unix seconds, or `NOT_PINNED` for the real one.
    pinned_now: AtomicI64,
}

const NOT_PINNED: i64 = i64::MIN;

impl Emulator {
    /// The emulator with its dataset generated; fails only on a bad prices or carriers file.
    pub fn new(config: EmulatorConfig) -> Result<Arc<Self>, countries::DatasetFileError> {
        let mut markets = countries::markets();
        if let Some(prices) = &config.prices {
            countries::apply_prices(&mut markets, prices)?;
        }
        if let Some(carriers) = &config.carriers {
            countries::apply_carriers(&mut markets, carriers)?;
        }
        let dataset = Dataset::generate_for(
            DatasetConfig { seed: config.seed, attempts: config.attempts, days: config.days },
            markets,
            config.credentials.account_sid.clone(),
            config.now.unwrap_or_else(Utc::now),
        );
        Ok(Arc::new(Emulator {
            dataset: RwLock::new(dataset),
            requests: Mutex::new(HashMap::new()),
            fault_counter: Mutex::new(0),
            pinned_now: AtomicI64::new(config.now.map_or(NOT_PINNED, |t| t.timestamp())),
            config,
        }))
    }

    /// The emulator's clock, in unix seconds.
    pub fn now(&self) -> i64 {
        match self.pinned_now.load(Ordering::Relaxed) {
            NOT_PINNED => Utc::now().timestamp(),
            pinned => pinned,
        }
    }

    /// Pins the clock at `now`: attempts created until then appear, recent ones settle.
    pub fn set_clock(&self, now: DateTime<Utc>) {
        self.dataset.write().expect("dataset lock").extend_to(now);
        self.pinned_now.store(now.timestamp(), Ordering::Relaxed);
    }

    /// Starts an SMS-pumping burst at the emulator's now, for `seconds`: the demo's incident.
    /// Its size is three hours of the dataset's traffic, so that it stands out from any.
    pub fn start_incident(&self, seconds: i64) -> dataset::Span {
        let mut data = self.dataset.write().expect("dataset lock");
        let hourly = data.config.attempts / (u64::from(data.config.days.max(1)) * 24);
        data.start_live_pumping(self.now(), seconds, (3 * hourly).clamp(60, 15_000))
    }

    /// Counts a request against the account's per-minute budget; otherwise the whole
    /// seconds until one fits, for `Retry-After`.
    fn take_rate_budget(&self, account: &str) -> Result<(), u64> {
        let mut windows = self.requests.lock().expect("rate limiter lock");
        let window = windows
            .entry(account.to_string())
            .or_insert_with(|| SlidingWindow::new(self.config.rate_limit, Duration::from_secs(60)));
        window.try_take(tokio::time::Instant::now()).map_err(|wait| wait.as_secs() + 1)
    }

    /// Decides deterministically (by request count) whether to inject a 500.
    fn inject_fault(&self) -> bool {
        if self.config.fail_rate <= 0.0 {
            return false;
        }
        let mut counter = self.fault_counter.lock().expect("fault counter lock");
        *counter += 1;
        let draw = rng::mix(self.config.seed ^ 0xfa17, *counter) as f64 / u64::MAX as f64;
        draw < self.config.fail_rate
    }

    /// Generates the hours that began since the last call, so new attempts keep arriving.
    pub fn advance_clock(&self) {
        if self.pinned_now.load(Ordering::Relaxed) == NOT_PINNED {
            self.dataset.write().expect("dataset lock").extend_to(Utc::now());
        }
    }
}

/// A running emulator on a loopback or given address.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub emulator: Arc<Emulator>,
    pub task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds `addr` and serves the emulator in the background.
pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
    let emulator = Emulator::new(config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = crate::guards::guard_api(router(emulator.clone()), crate::guards::REQUEST_DEADLINE);
    let clock = emulator.clone();
    let task = tokio::spawn(async move {
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(30));
            loop {
                interval.tick().await;
                clock.advance_clock();
            }
        });
        let limits = crate::connections::ConnectionLimits::default();
        if let Err(e) = crate::connections::serve(listener, app, limits, std::future::pending()).await {
            tracing::error!("emulator stopped: {e}");
        }
        ticker.abort();
    });
    Ok(RunningEmulator { addr, emulator, task })
}
