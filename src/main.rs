//! `verilens`: serve the dashboard, run the Attempts API emulator, or sync once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches};
mod cli;
mod config_file;

use cli::{
    BackupArgs, Cli, Command, EmulateArgs, ManArgs, RebuildArgs, RestoreArgs, Role, ServeArgs, SyncArgs, TwilioArgs,
};
use verilens::connections::{self, ConnectionLimits};
use verilens::emulator::{self, Credentials as EmulatorCredentials, EmulatorConfig, RunningEmulator, countries};
use verilens::security::BasicAuth;
use verilens::server;
use verilens::state::AppState;
use verilens::store;
use verilens::sync::{SyncProgress, sync_once};
use verilens::twilio::{Credentials, RateLimiter, TwilioClient};

fn main() -> std::process::ExitCode {
    let cli = match parse_command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    verilens::telemetry::init_log(cli.log_format);
    verilens::guards::log_panics();
    verilens::zone::set(cli.tz);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(args)) => serve(*args).await,
            Some(Command::Emulate(args)) => emulate(args).await,
            Some(Command::Sync(args)) => sync(args).await,
            Some(Command::RebuildRollups(args)) => rebuild_rollups(args).await,
            Some(Command::Backup(args)) => backup(args).await,
            Some(Command::Restore(args)) => restore(args).await,
            Some(Command::Man(args)) => man_pages(args),
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

/// The command line, with the settings of `--config` where flags and the environment are
/// silent; an error has been printed when it is `Err`.
fn parse_command_line() -> Result<Cli, std::process::ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = Cli::command();
    // SAFETY: no other thread runs yet; the runtime starts after the command line is read.
    let applied = match unsafe { config_file::apply(&command, &args) } {
        Ok(applied) => applied,
        Err(e) => {
            eprintln!("verilens: {e}");
            return Err(std::process::ExitCode::from(2));
        }
    };
    // `DATABASE_URL`, as platforms that provision a database set it, names the store when
    // neither `VERILENS_DB` nor the file does (a `--db` flag beats both).
    if std::env::var_os("VERILENS_DB").is_none()
        && let Some(url) = std::env::var_os("DATABASE_URL")
    {
        // SAFETY: no other thread runs yet, as above.
        unsafe { std::env::set_var("VERILENS_DB", url) };
    }
    // clap reads each option's environment variable when the command is built: again, now
    // that the file's settings are there.
    let parsed =
        Cli::command().try_get_matches_from(&args).and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    parsed.map_err(|error| match applied.as_ref().and_then(|a| a.explain(&error)) {
        Some(from_file) => {
            eprintln!("verilens: {from_file}");
            std::process::ExitCode::from(2)
        }
        None => {
            let _ = error.print();
            std::process::ExitCode::from(error.exit_code() as u8)
        }
    })
}

/// The API to sync from: Twilio (or `--api-url`) with each account's credentials, else a
/// built-in emulator.
struct Source {
    /// A client per account, each with its own rate limit.
    clients: Vec<Arc<TwilioClient>>,
    /// The names the accounts file gives accounts, by SID.
    account_names: Vec<(String, String)>,
    demo: Option<RunningEmulator>,
}

/// The API to sync from. Without credentials, the built-in emulator when `demo` allows it,
/// else none.
async fn source(args: &TwilioArgs, demo: bool) -> anyhow::Result<Option<Source>> {
    if let Some(path) = &args.accounts {
        if args.account_sid.is_some() || args.auth_token.is_some() || args.api_key.is_some() {
            bail!("set the Twilio credentials in the accounts file (VERILENS_ACCOUNTS) or in TWILIO_*, not in both");
        }
        let accounts = verilens::accounts::read(path)?;
        let account_names =
            accounts.iter().filter_map(|a| Some((a.credentials.account_sid.clone(), a.name.clone()?))).collect();
        let clients = accounts
            .into_iter()
            .map(|account| {
                let limiter = Arc::new(RateLimiter::per_minute(account.rate_limit.unwrap_or(args.rate_limit)));
                let api_url = account.api_url.as_deref().unwrap_or(&args.api_url);
                TwilioClient::new(api_url, account.credentials, limiter).map(Arc::new)
            })
            .collect::<Result<_, _>>()?;
        return Ok(Some(Source { clients, account_names, demo: None }));
    }
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
            Ok(Some(Source { clients: vec![Arc::new(client)], account_names: Vec::new(), demo: None }))
        }
        None if !demo => Ok(None),
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
            Ok(Some(Source { clients: vec![Arc::new(client)], account_names: Vec::new(), demo: Some(running) }))
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
    let fees =
        verilens::fees::FeeSchedule::configured(args.verification_fee.as_deref(), args.verification_fees.as_deref())?;
    verilens::paths::set_base_path(args.base_path()).context("--base-path")?;
    if args.metrics {
        verilens::telemetry::metrics_handle();
    }
    let store = store::Store::open(&args.db).await?;
    if args.backup_dir.is_some() && store.sqlite().is_none() {
        bail!(
            "--backup-dir backs up a sqlite snapshot; back a PostgreSQL database up with its own tools \
             (pg_dump, or the server's base backups and WAL archive)"
        );
    }
    let figures = match args.read_db.as_deref().filter(|url| !url.is_empty()) {
        None => store.clone(),
        Some(_) if store.sqlite().is_some() => {
            bail!("--read-db reads a PostgreSQL read replica: --db must be the PostgreSQL primary's URL")
        }
        Some(url) => {
            let replica = store::Store::open_read_replica(url).await?;
            tracing::info!("reading the figures from the read replica {}", replica.shown());
            replica
        }
    };
    let role = args.role;
    // A web process starts no emulator of its own: it shows what the syncing process writes,
    // and reaches Twilio only to refresh one attempt, when it has credentials.
    let source = source(&args.twilio, role.syncs()).await?;
    let progress = SyncProgress::default();
    let demo = source.as_ref().is_some_and(|s| s.demo.is_some());
    let options = args.twilio.sync_options();
    let stop = options.stop.clone();
    if let Some(source) = source.as_ref().filter(|_| role.syncs()) {
        store.save_account_names(&source.account_names).await?;
        let listed: Vec<String> = source.clients.iter().map(|c| c.credentials().account_sid.clone()).collect();
        store.keep_sync_accounts(&listed).await?;
    }
    if let Some(Source { clients, demo: Some(running), .. }) = &source {
        // The demo's months of history are written straight into a sqlite snapshot's bulk load.
        if let Some(pool) = store.sqlite() {
            match verilens::demo::write_history(pool, &running.emulator, &running.base_url()).await {
                Ok(0) => {}
                Ok(written) => tracing::info!("wrote {written} attempts of the demo's history"),
                Err(e) => tracing::error!("the demo's history could not be written: {e}"),
            }
        }
        // The demo data is local and quick to sync: show a full dashboard from the first page view.
        if let Err(e) = sync_once(&store, &clients[0], &progress, &options).await {
            tracing::error!("sync failed: {e}");
        }
    }
    // The demo's emulator is local: syncing it often lets a demo incident show within a minute.
    let sync_every = if demo { args.sync_every.min(DEMO_SYNC_EVERY) } else { args.sync_every };
    let syncing = source.as_ref().filter(|_| role.syncs()).map(|source| {
        server::spawn_sync_loop(store.clone(), source.clients.clone(), progress.clone(), sync_every, !demo, options)
    });
    let state = AppState {
        progress,
        demo,
        show_phone_numbers: args.show_phone_numbers,
        basic_auth: basic_auth.clone(),
        pinned_now: args.now,
        metrics: args.metrics,
        apis: source.as_ref().map(|s| s.clients.clone()).unwrap_or_default(),
        rollups: std::sync::Arc::new(verilens::analytics::RollupCache::with_fees(fees)),
        read_only: args.read_only,
        annotations_token: args.annotations_token.as_deref().filter(|t| !t.is_empty()).map(Arc::from),
        figures,
        ..AppState::new(server::leptos_options(args.addr), store.clone())
    };
    // Before saying it is up, so that a stop request from then on is always graceful.
    let stop_requested = server::shutdown_signal();
    let listener = if role.serves() {
        Some(
            tokio::net::TcpListener::bind(args.addr)
                .await
                .with_context(|| format!("cannot listen on {}", args.addr))?,
        )
    } else {
        None
    };
    let addr = listener.as_ref().map_or(Ok(args.addr), |l| l.local_addr())?;
    let state = AppState {
        alerts: Arc::new(alert_settings(
            &args,
            addr,
            source.as_ref().and_then(|s| s.demo.as_ref()).map(|d| d.emulator.clone()),
        )?),
        ..state
    };
    // Alerts and backups are the syncing process's: one sender, one backup, however many
    // processes serve the snapshot.
    let backups = role.syncs().then(|| args.backup_dir.clone()).flatten().zip(store.sqlite()).map(|(dir, pool)| {
        server::spawn_backup_loop(pool.clone(), dir, args.backup_every, args.backup_keep as usize, stop.clone())
    });
    let alerting = role.syncs().then(|| verilens::alerts::engine::spawn(state.clone(), stop.clone()));
    match listener {
        Some(listener) => serve_dashboard(&args, state, listener, stop_requested, stop.clone(), demo).await?,
        None => {
            println!("verilens sync: syncing {} every {}", store.shown(), humantime::format_duration(sync_every));
            stop_requested.await;
            tracing::info!("shutting down: finishing the sync's current pages");
            stop.stop();
        }
    }
    if let Some(backups) = backups {
        backups.abort();
    }
    if let Some(alerting) = alerting {
        alerting.abort();
    }
    if let Some(syncing) = syncing
        && tokio::time::timeout(Duration::from_secs(30), syncing).await.is_err()
    {
        tracing::warn!("the sync did not reach a page boundary within 30 s; the next start resumes its run");
    }
    Ok(())
}

/// The dashboard on `listener` until a stop is requested.
async fn serve_dashboard(
    args: &ServeArgs,
    state: AppState,
    listener: tokio::net::TcpListener,
    stop_requested: impl std::future::Future<Output = ()> + Send + 'static,
    stop: verilens::sync::StopSignal,
    demo: bool,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    if state.basic_auth.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on {addr} without access control: anyone who can reach it sees the dashboard; \
             set VERILENS_BASIC_AUTH or VERILENS_BASIC_AUTH_FILE (user:password), or put it behind a proxy that asks"
        );
    }
    let url = match &args.public_url {
        Some(public) => public.to_string(),
        None => format!("http://{addr}{}", verilens::paths::url("/")),
    };
    let role = match args.role {
        Role::Web => "  (dashboard only: another process syncs this snapshot)",
        _ if demo => "  (demo data from the built-in emulator)",
        _ => "",
    };
    println!("verilens dashboard: {url}{role}");
    // Loaded now, the rollups are ready for the first page rather than loaded by it.
    let (rollups, snapshot) = (state.rollups.clone(), state.figures.clone());
    tokio::spawn(async move {
        if let Err(e) = rollups.get(&snapshot).await {
            tracing::warn!("the rollups could not be loaded: {e}");
        }
    });
    let shutdown = async move {
        stop_requested.await;
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
    Ok(())
}

/// How often the demo syncs its built-in emulator at most.
const DEMO_SYNC_EVERY: Duration = Duration::from_secs(30);

/// Where alerts go, checked: a bad destination stops verilens with a line naming the setting.
fn alert_settings(
    args: &ServeArgs,
    addr: SocketAddr,
    demo_emulator: Option<Arc<emulator::Emulator>>,
) -> anyhow::Result<verilens::alerts::AlertSettings> {
    use verilens::alerts::destinations::{AddressPolicy, Destinations, Secret};
    let secret = |value: &Option<String>| value.as_ref().filter(|v| !v.is_empty()).map(|v| Secret(v.clone()));
    let destinations = Destinations {
        slack_url: secret(&args.slack_webhook_url),
        webhook_url: secret(&args.alert_webhook_url),
        webhook_secret: secret(&args.alert_webhook_secret),
        smtp_url: secret(&args.smtp_url),
        email_from: args.alert_email_from.clone(),
        policy: AddressPolicy {
            allow_loopback: args.allow_loopback_destinations,
            allow_private: args.allow_private_destinations,
        },
    }
    .checked()
    .map_err(|e| anyhow::anyhow!(e))?;
    let link_origin = match &args.public_url {
        Some(url) => url.origin().ascii_serialization(),
        // Listening on every address: the machine's own is one of them.
        None if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
        None => format!("http://{addr}"),
    };
    Ok(verilens::alerts::AlertSettings {
        destinations,
        link_origin,
        check_every: args.alert_check_every,
        demo_emulator,
        ..Default::default()
    })
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
    let stop_requested = server::shutdown_signal();
    println!(
        "verilens emulator: {}/v2/Attempts ({attempts} attempts generated, seed {})",
        running.base_url(),
        args.seed
    );
    println!("  TWILIO_ACCOUNT_SID={}", creds.account_sid);
    println!("  TWILIO_AUTH_TOKEN={}", creds.auth_token);
    println!("  or API key {} with secret {}", creds.api_key_sid, creds.api_key_secret);
    println!("  curl -u {}:{} {}/v2/Attempts/Summary", creds.account_sid, creds.auth_token, running.base_url());
    stop_requested.await;
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

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    if !args.db.exists() {
        anyhow::bail!("there is no snapshot at {}", args.db.display());
    }
    let pool = store::open(&args.db).await?;
    let started = std::time::Instant::now();
    let copy = store::backup(&pool, &args.to).await?;
    println!(
        "backed up {} to {}: {} attempts, {} bytes, integrity ok, in {:.1} s",
        args.db.display(),
        args.to.display(),
        copy.attempts,
        copy.bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let restored = store::restore(&args.from, &args.db).await?;
    println!(
        "restored {} to {}: {} attempts, {} bytes, integrity ok; the next sync fetches what the API has since",
        args.from.display(),
        args.db.display(),
        restored.attempts,
        restored.bytes
    );
    Ok(())
}

/// The manual pages: `verilens.1`, and `verilens-serve.1` and the like for each command.
fn man_pages(args: ManArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let root = Cli::command();
    let mut pages = vec![("verilens".to_string(), root.clone())];
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("verilens-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, command) in pages {
        let path = args.out_dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let store = store::Store::open(&args.db).await?;
    let source = source(&args.twilio, true).await?.context("a sync without credentials has the emulator")?;
    store.save_account_names(&source.account_names).await?;
    let progress = SyncProgress::default();
    let bar = progress_bar();
    let reporter = tokio::spawn(report_progress(progress.clone(), bar.clone()));
    let options = args.twilio.sync_options();
    let stop = options.stop.clone();
    let stop_requested = server::shutdown_signal();
    tokio::spawn(async move {
        stop_requested.await;
        stop.stop();
    });
    let several = source.clients.len() > 1;
    let mut reports = Vec::new();
    for client in &source.clients {
        let result = sync_once(&store, client, &progress, &options).await;
        let stopped = matches!(result, Err(verilens::sync::SyncError::Stopped));
        let account = if several { format!("{}: ", client.credentials().account_hint()) } else { String::new() };
        reports.push((account, result));
        if stopped {
            break;
        }
    }
    reporter.abort();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    for (account, result) in reports {
        if let Err(verilens::sync::SyncError::SyncedElsewhere) = result {
            println!("{account}another verilens process is syncing this account now: left to it");
            continue;
        }
        let report = result.map_err(|e| anyhow::anyhow!("{account}{e}"))?;
        println!(
            "{account}synced {} to {}: {} pages, {} new, {} updated attempts; snapshot {} / API {} for the window",
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
                "{account}the snapshot holds {} attempts for the window but the Attempts API reports {}",
                report.snapshot_total,
                report.api_total
            );
        }
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
