//! Alerts end to end, on real parts: the emulator starts an SMS-pumping burst, the sync
//! brings it in, the rule fires once and each destination gets exactly one message (a real
//! SMTP server, a webhook receiver that checks the signature independently, Slack's payload
//! checked for Block Kit's shape); the burst leaves the window and exactly one resolved
//! message follows. Retries, a delivery cut off by a stop, CSRF, read-only mode and hostile
//! names are checked through the same code the server runs. Time is the pinned clocks'.
//! Each on sqlite and on PostgreSQL.

use crate::common::{self, Backend};

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use verilens::alerts::destinations::{AddressPolicy, Destinations, Secret};
use verilens::alerts::store::{self as alert_store, RuleInput};
use verilens::alerts::{AlertSettings, Condition, DestinationKind, SpendPer, deliver, engine};
use verilens::emulator::{self, EmulatorConfig, RunningEmulator};
use verilens::model::twilio_time;
use verilens::state::AppState;
use verilens::store::Store;
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

const WEBHOOK_SECRET: &str = "a-webhook-signing-secret";
const ID_VIEW: &str = "country=ID";

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook and Slack receiver: records every request, answers the queued statuses first
/// (200 after), and can hold a request until released (a sender stopped mid-delivery).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
    hold: Arc<Mutex<Option<Arc<tokio::sync::Notify>>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new().fallback(receive).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, base)
    }

    fn requests(&self, path: &str) -> Vec<Received> {
        self.got.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

async fn receive(State(receiver): State<Receiver>, request: axum::extract::Request) -> StatusCode {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    receiver.got.lock().unwrap().push(Received { path: parts.uri.path().to_string(), headers: parts.headers, body });
    receiver.arrived.notify_waiters();
    let hold = receiver.hold.lock().unwrap().clone();
    if let Some(release) = hold {
        release.notified().await;
    }
    let mut statuses = receiver.statuses.lock().unwrap();
    let status = if statuses.is_empty() { 200 } else { statuses.remove(0) };
    StatusCode::from_u16(status).unwrap()
}

/// A mail as the SMTP server accepted it: its recipients and its raw text.
type Mail = (Vec<String>, String);

/// A real SMTP server (mailin) on a loopback port; the mails it accepted.
#[derive(Clone, Default)]
struct Mailbox {
    mails: Arc<Mutex<Vec<Mail>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for Mailbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.mails.lock().unwrap().push((self.to.clone(), String::from_utf8_lossy(&self.data).into_owned()));
        mailin_embedded::response::OK
    }
}

fn start_smtp() -> (Mailbox, u16) {
    let mailbox = Mailbox::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = mailin_embedded::Server::new(mailbox.clone());
    server.with_name("mail.test").with_ssl(mailin_embedded::SslConfig::None).unwrap().with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (mailbox, port)
}

struct World {
    emulator: RunningEmulator,
    config: EmulatorConfig,
    store: Store,
    /// The store's file or URL, for a process started afresh on it.
    db: std::path::PathBuf,
    settings: Arc<AlertSettings>,
    /// The rollups in memory, kept across syncs as the server keeps them.
    rollups: Arc<verilens::analytics::RollupCache>,
    receiver: Receiver,
    mailbox: Mailbox,
    _dir: tempfile::TempDir,
}

impl World {
    /// The emulator pinned four hours ago (the sync reads up to the real clock, so the
    /// pinned one must stay behind it), synced once.
    async fn start(seed: u64, backend: Backend) -> World {
        let mut config = EmulatorConfig::new(seed, 20_000);
        config.now = Some(common::emulator::now_to_the_second() - Duration::hours(4));
        config.rate_limit = 0;
        let emulator = emulator::start(config.clone(), std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = match backend {
            Backend::Sqlite => dir.path().join("alerts.db"),
            Backend::Postgres => common::postgres::fresh_database().await.into(),
        };
        let store = Store::open(&db).await.unwrap();
        let (receiver, base) = Receiver::start().await;
        let (mailbox, smtp_port) = start_smtp();
        let destinations = Destinations {
            slack_url: Some(Secret(format!("{base}/slack"))),
            webhook_url: Some(Secret(format!("{base}/hook"))),
            webhook_secret: Some(Secret(WEBHOOK_SECRET.into())),
            smtp_url: Some(Secret(format!("smtp://127.0.0.1:{smtp_port}"))),
            email_from: Some("verilens <alerts@verilens.test>".into()),
            policy: AddressPolicy { allow_loopback: true, allow_private: false },
        }
        .checked()
        .unwrap();
        let settings = Arc::new(AlertSettings {
            destinations,
            link_origin: "https://verilens.example.com".into(),
            retry: deliver::RetryPolicy { timeout: StdDuration::from_secs(20), ..Default::default() },
            ..Default::default()
        });
        let rollups = Arc::default();
        let world = World { emulator, config, store, db, settings, rollups, receiver, mailbox, _dir: dir };
        world.sync().await;
        world
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.emulator.emulator.now(), 0).unwrap()
    }

    /// The dashboard's state at the emulator's time, with the rollups it has kept in memory.
    fn state(&self) -> AppState {
        let mut state = self.restarted();
        state.rollups = self.rollups.clone();
        state
    }

    /// The state of a process started afresh on the same snapshot.
    fn restarted(&self) -> AppState {
        let mut state = common::dashboard::state(self.store.clone(), "127.0.0.1:0".parse().unwrap(), |_| {});
        state.pinned_now = Some(self.now());
        state.alerts = self.settings.clone();
        state
    }

    async fn sync(&self) {
        let client = common::emulator::client_for(&self.emulator.base_url(), &self.config, 0);
        sync_once(&self.store, &client, &SyncProgress::default(), &SyncOptions::default()).await.unwrap();
    }

    async fn advance_to(&self, t: DateTime<Utc>) {
        self.emulator.emulator.set_clock(t);
        self.sync().await;
    }

    /// Sends whatever is due, as often as a retry would come due, without waiting for it.
    async fn deliver_all(&self) {
        let mut at = Utc::now();
        for _ in 0..20 {
            deliver::deliver_due(&self.store, &self.settings.destinations, &self.settings.retry, at).await.unwrap();
            match alert_store::next_due(&self.store).await.unwrap() {
                Some(next) => at = twilio_time::parse(&next).unwrap().max(at),
                None => return,
            }
        }
        panic!("messages still pending after 20 rounds");
    }
}

/// Price, currency, verification and conversion of `country`'s attempts in `[from, to)`,
/// straight from the store's rows.
async fn rows_in(
    store: &Store,
    country: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(Option<f64>, Option<String>, String, String)> {
    let (from, to) = (twilio_time::format(&from), twilio_time::format(&to));
    let columns = "SELECT price, price_unit, verification_sid, conversion_status FROM attempts WHERE country = $1";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(&format!("{columns} AND date_created >= $2 AND date_created < $3"))
            .bind(country)
            .bind(&from)
            .bind(&to)
            .fetch_all(pool)
            .await
            .unwrap(),
        Store::Postgres(pg) => {
            sqlx::query_as(&format!("{columns} AND date_created >= $2::timestamptz AND date_created < $3::timestamptz"))
                .bind(country)
                .bind(&from)
                .bind(&to)
                .fetch_all(&pg.pool)
                .await
                .unwrap()
        }
    }
}

/// Channel fees plus fee × converted verifications of `country`'s attempts in `[from, to)`,
/// in USD, from the store's rows.
async fn cost_in(store: &Store, country: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let rows = rows_in(store, country, from, to).await;
    let fees: f64 = rows.iter().filter(|r| r.1.as_deref() == Some("USD")).filter_map(|r| r.0).sum();
    let converted: BTreeSet<&str> = rows.iter().filter(|r| r.3 == "converted").map(|r| r.2.as_str()).collect();
    fees + 0.05 * converted.len() as f64
}

fn verify_signature(received: &Received) -> serde_json::Value {
    let header = received.headers.get("verilens-signature").expect("a signature").to_str().unwrap();
    let (t, v1) = header.split_once(',').unwrap();
    let timestamp = t.strip_prefix("t=").unwrap();
    let signature = v1.strip_prefix("v1=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(signature, expected, "the signature verifies with the shared secret");
    let body: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(
        received.headers.get("idempotency-key").unwrap().to_str().unwrap(),
        body["idempotency_key"].as_str().unwrap()
    );
    body
}

/// Block Kit's rules for what an incoming webhook may post (api.slack.com/reference/block-kit).
fn assert_block_kit(payload: &serde_json::Value) {
    assert!(payload["text"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 3000), "fallback text");
    let blocks = payload["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    let text_object = |t: &serde_json::Value, max: usize| {
        let kind = t["type"].as_str().unwrap();
        assert!(kind == "plain_text" || kind == "mrkdwn", "{t}");
        let text = t["text"].as_str().unwrap();
        assert!(!text.is_empty() && text.chars().count() <= max, "{t}");
    };
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => {
                assert_eq!(block["text"]["type"], "plain_text");
                text_object(&block["text"], 150);
            }
            "section" => {
                assert!(block.get("text").is_some() || block.get("fields").is_some(), "{block}");
                if let Some(text) = block.get("text") {
                    text_object(text, 3000);
                }
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().unwrap();
                    assert!(fields.len() <= 10);
                    fields.iter().for_each(|f| text_object(f, 2000));
                }
            }
            "actions" => {
                for element in block["elements"].as_array().unwrap() {
                    assert_eq!(element["type"], "button");
                    text_object(&element["text"], 75);
                    assert_eq!(element["text"]["type"], "plain_text");
                    assert!(element["url"].as_str().unwrap().starts_with("https://"));
                }
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 10);
                elements.iter().for_each(|e| text_object(e, 3000));
            }
            other => panic!("unexpected block type {other}"),
        }
    }
}

/// A rule on `view` to `destinations`, with no minimum and the view's range.
fn rule_on(view: i64, name: &str, condition: Condition, destinations: Vec<DestinationKind>) -> RuleInput {
    RuleInput {
        view_id: view,
        name: name.into(),
        condition,
        min_verifications: 0,
        window_minutes: None,
        destinations,
        email_to: String::new(),
    }
}

async fn spend_rule(state: &AppState, threshold: f64) -> i64 {
    let now = twilio_time::format(&state.now());
    let view = alert_store::create_view(&state.store, "Indonesia", ID_VIEW, &now).await.unwrap();
    let input = RuleInput {
        view_id: view,
        name: "Indonesia spend".into(),
        condition: Condition::SpendAbove { amount: threshold, currency: "USD".into(), per: SpendPer::Hour },
        min_verifications: 0,
        window_minutes: None,
        destinations: DestinationKind::ALL.to_vec(),
        email_to: "pm@verilens.test".into(),
    };
    alert_store::create_rule(&state.store, &input, &now).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_fires_once_per_destination_and_resolves_once() {
    for backend in Backend::ALL {
        a_burst_fires_once_per_destination_and_resolves_once_on(backend).await;
    }
}

async fn a_burst_fires_once_per_destination_and_resolves_once_on(backend: Backend) {
    let world = World::start(11, backend).await;
    let t0 = world.now();
    // Indonesia's usual spend in an hour, from the rows: the two hours before the burst.
    let before = cost_in(&world.store, "ID", t0 - Duration::hours(2), t0).await;
    // The burst's own cost, from the emulator's records: the threshold sits in the middle.
    let sids_before = |data: &verilens::emulator::dataset::Dataset| -> std::collections::HashSet<u128> {
        data.records.iter().map(|r| r.sid).collect()
    };
    // The hours the burst reaches are generated first, so that only the burst is new.
    world.emulator.emulator.dataset.write().unwrap().extend_to(t0 + Duration::minutes(10));
    let before_sids = sids_before(&world.emulator.emulator.dataset.read().unwrap());
    let span = world.emulator.emulator.start_incident(5 * 60);
    let burst_cost: f64 = {
        let data = world.emulator.emulator.dataset.read().unwrap();
        let range = data.range(span.start, span.end);
        let burst: Vec<_> = data.records[range].iter().filter(|r| !before_sids.contains(&r.sid)).collect();
        assert!(burst.len() >= 60, "{} attempts in the burst", burst.len());
        burst.iter().map(|r| f64::from(r.price_micros) / 1e6).sum()
    };
    assert!(burst_cost > 1.0, "the burst costs {burst_cost}");
    // The burst may straddle two clock hours: one of them holds at least half of it.
    let threshold = before + burst_cost / 4.0;
    let state = world.state();
    let rule = spend_rule(&state, threshold).await;
    let run = engine::evaluate_all(&state, t0).await.unwrap();
    assert_eq!((run.evaluated, run.started_firing), (1, 0), "nothing fires before the burst is synced");

    // The burst is in, priced (the emulator prices an attempt up to 11 minutes after it was
    // sent, as Twilio prices late): it fires, and each destination gets one message.
    let t1 = t0 + Duration::minutes(20);
    world.advance_to(t1).await;
    let state = world.state();
    let run = engine::evaluate_all(&state, t1).await.unwrap();
    let evaluated = alert_store::rule(&world.store, rule).await.unwrap().last_evaluation.unwrap();
    assert_eq!(
        run.started_firing,
        1,
        "{evaluated:?}, threshold {threshold}, before {before}, burst {burst_cost}, rows {}",
        cost_in(&world.store, "ID", t1 - Duration::hours(1), t1).await
    );
    world.deliver_all().await;
    // Per hour: the larger of this clock hour so far and the one before, from the rows.
    let this_hour = t1 - Duration::seconds(t1.timestamp().rem_euclid(3600));
    let expected = cost_in(&world.store, "ID", this_hour - Duration::hours(1), this_hour)
        .await
        .max(cost_in(&world.store, "ID", this_hour, t1).await);
    let hooks = world.receiver.requests("/hook");
    assert_eq!(hooks.len(), 1, "one webhook message");
    let body = verify_signature(&hooks[0]);
    assert_eq!(body["schema"], "verilens.alert.v1");
    assert_eq!(body["kind"], "firing");
    assert_eq!(body["idempotency_key"], format!("rule-{rule}-1-firing"));
    let value = body["evaluation"]["value"].as_f64().unwrap();
    assert!((value - expected).abs() < 1e-6, "the message's spend {value} is the rows' {expected}");
    assert_eq!(body["evaluation"]["threshold"].as_f64().unwrap(), threshold);
    let link = body["view"]["url"].as_str().unwrap();
    assert!(link.starts_with("https://verilens.example.com/?") && link.contains("country=ID"), "{link}");
    assert_eq!(world.receiver.requests("/slack").len(), 1, "one Slack message");
    let slack: serde_json::Value = serde_json::from_slice(&world.receiver.requests("/slack")[0].body).unwrap();
    assert_block_kit(&slack);
    assert!(slack["text"].as_str().unwrap().contains("Firing: Indonesia spend"));
    std::fs::create_dir_all("target/alerts").unwrap();
    std::fs::write("target/alerts/slack-firing.json", serde_json::to_string_pretty(&slack).unwrap()).unwrap();
    {
        let mails = world.mailbox.mails.lock().unwrap();
        assert_eq!(mails.len(), 1, "one e-mail");
        assert_eq!(mails[0].0, vec!["pm@verilens.test".to_string()]);
        assert!(mails[0].1.contains("Subject: [verilens] Firing: Indonesia spend"), "{}", mails[0].1);
        assert!(mails[0].1.contains("text/plain") && mails[0].1.contains("text/html"));
    }
    let inbox = alert_store::inbox(&world.store, 10).await.unwrap();
    assert_eq!(inbox.len(), 1);

    // Evaluated again, and by a process started afresh on the same snapshot: nothing more.
    for state in [world.state(), world.restarted()] {
        let run = engine::evaluate_all(&state, t1).await.unwrap();
        assert_eq!((run.started_firing, run.resolved), (0, 0));
    }
    world.deliver_all().await;
    assert_eq!(world.receiver.requests("/hook").len(), 1);

    // The burst leaves the hours read: one resolved message each.
    // Two clock hours after the burst's last: neither window holds any of it.
    let t2 = t0 + Duration::minutes(185);
    world.advance_to(t2).await;
    let state = world.state();
    let run = engine::evaluate_all(&state, t2).await.unwrap();
    assert_eq!(run.resolved, 1);
    world.deliver_all().await;
    let hooks = world.receiver.requests("/hook");
    assert_eq!(hooks.len(), 2);
    let resolved = verify_signature(&hooks[1]);
    assert_eq!(resolved["kind"], "resolved");
    assert_eq!(resolved["idempotency_key"], format!("rule-{rule}-1-resolved"));
    assert!(resolved["evaluation"]["value"].as_f64().unwrap() <= threshold);
    assert_eq!(world.receiver.requests("/slack").len(), 2);
    assert_eq!(world.mailbox.mails.lock().unwrap().len(), 2);
    assert!(world.mailbox.mails.lock().unwrap()[1].1.contains("Resolved: Indonesia spend"));
    let kinds: Vec<String> = alert_store::inbox(&world.store, 10).await.unwrap().into_iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec!["resolved", "firing"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_never_fired_never_resolves() {
    for backend in Backend::ALL {
        a_rule_that_never_fired_never_resolves_on(backend).await;
    }
}

async fn a_rule_that_never_fired_never_resolves_on(backend: Backend) {
    let world = World::start(12, backend).await;
    let state = world.state();
    let rule = spend_rule(&state, 1e9).await;
    for minutes in [0, 30, 90] {
        let t = world.now() + Duration::minutes(minutes);
        world.advance_to(t).await;
        let run = engine::evaluate_all(&world.state(), t).await.unwrap();
        assert_eq!((run.evaluated, run.started_firing, run.resolved), (1, 0, 0));
    }
    assert!(alert_store::messages(&world.store).await.unwrap().is_empty(), "no message for rule {rule}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_three_times_gets_the_message_once_more() {
    for backend in Backend::ALL {
        a_receiver_failing_three_times_gets_the_message_once_more_on(backend).await;
    }
}

async fn a_receiver_failing_three_times_gets_the_message_once_more_on(backend: Backend) {
    let world = World::start(13, backend).await;
    let state = world.state();
    let now = twilio_time::format(&state.now());
    let view = alert_store::create_view(&world.store, "All", "", &now).await.unwrap();
    let input =
        rule_on(view, "Webhook only", Condition::ConversionBelow { percent: 50.0 }, vec![DestinationKind::Webhook]);
    let rule = alert_store::create_rule(&world.store, &input, &now).await.unwrap();
    world.receiver.statuses.lock().unwrap().extend([500, 500, 500]);
    engine::send_test(&state, rule, state.now()).await.unwrap();
    world.deliver_all().await;
    let hooks = world.receiver.requests("/hook");
    assert_eq!(hooks.len(), 4, "three failures and the delivery");
    let keys: Vec<&str> = hooks.iter().map(|h| h.headers["idempotency-key"].to_str().unwrap()).collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "one key for every try: {keys:?}");
    let log = alert_store::delivery_log(&world.store, 10).await.unwrap();
    let outcomes: Vec<&str> = log.iter().rev().map(|l| l.outcome.as_str()).collect();
    assert_eq!(outcomes, ["failed", "failed", "failed", "delivered"]);
    assert!(log.iter().rev().take(3).all(|l| l.detail == "HTTP 500"));
    // Waits doubled between the tries.
    let messages = alert_store::messages(&world.store).await.unwrap();
    assert_eq!((messages[0].status.as_str(), messages[0].tries), ("delivered", 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_by_a_stop_goes_again_after_the_restart_with_its_key() {
    for backend in Backend::ALL {
        a_delivery_cut_off_by_a_stop_goes_again_after_the_restart_with_its_key_on(backend).await;
    }
}

async fn a_delivery_cut_off_by_a_stop_goes_again_after_the_restart_with_its_key_on(backend: Backend) {
    let world = World::start(14, backend).await;
    let state = world.state();
    let now = twilio_time::format(&state.now());
    let view = alert_store::create_view(&world.store, "All", "", &now).await.unwrap();
    let input = rule_on(view, "Cut off", Condition::ConversionBelow { percent: 99.0 }, vec![DestinationKind::Webhook]);
    let rule = alert_store::create_rule(&world.store, &input, &now).await.unwrap();
    let release = Arc::new(tokio::sync::Notify::new());
    *world.receiver.hold.lock().unwrap() = Some(release.clone());
    let arrived = world.receiver.arrived.notified();
    engine::evaluate_rule(&state, rule, state.now()).await.unwrap();
    let (store, settings) = (world.store.clone(), world.settings.clone());
    let delivering = tokio::spawn(async move {
        deliver::deliver_due(&store, &settings.destinations, &settings.retry, Utc::now()).await.unwrap();
    });
    arrived.await;
    // The process stops while the receiver holds the request.
    delivering.abort();
    let _ = delivering.await;
    *world.receiver.hold.lock().unwrap() = None;
    release.notify_waiters();
    let pending = alert_store::messages(&world.store).await.unwrap();
    assert_eq!(pending[0].status, "pending", "not marked delivered: its receiver never answered");
    // A new process on the same store.
    let reopened = Store::open(&world.db).await.unwrap();
    deliver::deliver_due(&reopened, &world.settings.destinations, &world.settings.retry, Utc::now()).await.unwrap();
    let hooks = world.receiver.requests("/hook");
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[0].headers["idempotency-key"], hooks[1].headers["idempotency-key"]);
    assert_eq!(verify_signature(&hooks[1])["idempotency_key"], format!("rule-{rule}-1-firing"));
    let messages = alert_store::messages(&reopened).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].status, "delivered");
}

/// The dashboard over HTTP, as a browser posts its forms.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
    token: String,
}

impl Browser {
    /// Opens `path` and keeps the CSRF cookie and token it sets.
    async fn open(base: &str, path: &str) -> Browser {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let token = cookie.strip_prefix("verilens_csrf=").unwrap().to_string();
        let html = response.text().await.unwrap();
        if let Some(in_form) = html.split("name=\"csrf\" value=\"").nth(1) {
            assert_eq!(in_form.split('"').next().unwrap(), token, "the form carries the cookie's token");
        }
        Browser { client, base: base.to_string(), cookie, token }
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)], with_token: bool) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if with_token {
            form.push(("csrf", &self.token));
        }
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> String {
        self.client.get(format!("{}{path}", self.base)).send().await.unwrap().text().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_refuse_forgeries_and_bad_input_and_show_names_as_text() {
    for backend in Backend::ALL {
        forms_refuse_forgeries_and_bad_input_and_show_names_as_text_on(backend).await;
    }
}

async fn forms_refuse_forgeries_and_bad_input_and_show_names_as_text_on(backend: Backend) {
    let world = World::start(15, backend).await;
    let (settings, now) = (world.settings.clone(), world.now());
    let served = common::dashboard::serve(world.store.clone(), move |state| {
        state.pinned_now = Some(now);
        state.alerts = settings;
    })
    .await;
    let browser = Browser::open(&served.base, "/alerts/new?country=CO&range=7d").await;
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let rule = [
        ("name", hostile),
        ("query", "country=CO&range=7d"),
        ("kind", "conversion_below"),
        ("threshold", "95"),
        ("currency", "USD"),
        ("per", "hour"),
        ("min_verifications", "10"),
        ("destination", "inbox"),
    ];
    let count = async |store: &Store| {
        (alert_store::rules(store).await.unwrap().len(), alert_store::views(store).await.unwrap().len())
    };

    // Without the token, or with another one: refused, nothing written.
    let (status, page) = browser.post("/alerts", &rule, false).await;
    assert_eq!(status, 403, "{page}");
    let mut forged = rule.to_vec();
    forged.push(("csrf", "0123456789abcdef0123456789abcdef"));
    assert_eq!(browser.post("/alerts", &forged, false).await.0, 403);
    assert_eq!(count(&world.store).await, (0, 0));

    // Bad input: a clear message on the form, the typed values kept, nothing written.
    for (field, bad, says) in [
        ("threshold", "abc", "must be a number, not &quot;abc&quot;"),
        ("threshold", "250", "between 0 and 100"),
        ("min_verifications", "lots", "whole number"),
        ("destination", "slack\u{0}", "is not a destination"),
        ("name", "   ", "needs a name"),
        ("query", "country=CO&range=7d&by=nonsense", "not valid"),
    ] {
        let mut form: Vec<(&str, &str)> = rule.iter().filter(|(k, _)| *k != field).copied().collect();
        form.push((field, bad));
        let (status, page) = browser.post("/alerts", &form, true).await;
        assert_eq!(status, 400, "{field}={bad}");
        assert!(page.contains(says), "{field}={bad}: {page}");
        assert_eq!(count(&world.store).await, (0, 0), "{field}={bad} wrote nothing");
    }

    // A good form saves the view and the rule; names with markup are text on every page.
    let (status, _) = browser.post("/alerts", &rule, true).await;
    assert_eq!(status, 303);
    assert_eq!(count(&world.store).await, (1, 1));
    for page in ["/alerts", "/views", "/alerts/inbox", "/alerts/new"] {
        let html = browser.get(page).await;
        // Destinations are named by their host: never their path, token or signing secret.
        for secret in ["/hook", "/slack", WEBHOOK_SECRET] {
            assert!(!html.contains(secret), "{page} shows {secret}");
        }
        assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{page} renders markup");
        if page == "/alerts" || page == "/views" {
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page} shows the name as text");
        }
    }
    // It fired at once (CO converts below 95%), into the inbox, which shows it as text too.
    let rules = alert_store::rules(&world.store).await.unwrap();
    assert_eq!(rules[0].state, "firing", "{:?}", rules[0].last_evaluation);
    deliver::deliver_due(&world.store, &world.settings.destinations, &world.settings.retry, Utc::now()).await.unwrap();
    let inbox = browser.get("/alerts/inbox").await;
    assert!(inbox.contains("Firing: &lt;script&gt;"), "{inbox}");

    // Snooze and pause show on the list; an unknown rule is a 404.
    let id = rules[0].id.to_string();
    assert_eq!(browser.post(&format!("/alerts/{id}/snooze"), &[("for", "4h")], true).await.0, 303);
    assert!(browser.get("/alerts").await.contains("data-state=\"snoozed\""));
    assert_eq!(browser.post(&format!("/alerts/{id}/snooze"), &[("until", "2001-01-01T00:00")], true).await.0, 400);
    assert_eq!(browser.post("/alerts/9999/pause", &[], true).await.0, 404);
    assert_eq!(browser.post(&format!("/alerts/{id}/pause"), &[], true).await.0, 303);
    assert!(browser.get("/alerts").await.contains("data-state=\"paused\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_dashboard_shows_alerts_and_changes_nothing() {
    for backend in Backend::ALL {
        a_read_only_dashboard_shows_alerts_and_changes_nothing_on(backend).await;
    }
}

async fn a_read_only_dashboard_shows_alerts_and_changes_nothing_on(backend: Backend) {
    let world = World::start(16, backend).await;
    let now = twilio_time::format(&world.now());
    alert_store::create_view(&world.store, "Colombia", "country=CO", &now).await.unwrap();
    let served = common::dashboard::serve(world.store.clone(), |state| state.read_only = true).await;
    let browser = Browser::open(&served.base, "/views").await;
    let html = browser.get("/views").await;
    assert!(html.contains("Colombia") && !html.contains("Rename"), "{html}");
    let (status, page) = browser.post("/views/1/delete", &[], true).await;
    assert_eq!(status, 403);
    assert!(page.contains("read-only"));
    assert_eq!(alert_store::views(&world.store).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_goes_out_once_per_period_with_its_figures() {
    for backend in Backend::ALL {
        a_digest_goes_out_once_per_period_with_its_figures_on(backend).await;
    }
}

async fn a_digest_goes_out_once_per_period_with_its_figures_on(backend: Backend) {
    let world = World::start(17, backend).await;
    let state = world.state();
    let now = world.now();
    let at = twilio_time::format(&now);
    let view = alert_store::create_view(&world.store, "Colombia", "country=CO", &at).await.unwrap();
    let digest = alert_store::create_digest(
        &world.store,
        view,
        "daily",
        6,
        &[DestinationKind::Inbox, DestinationKind::Webhook],
        "",
        &at,
    )
    .await
    .unwrap();
    // Due at the last 06:00 before now: queued once, however often the schedule looks.
    assert_eq!(verilens::alerts::digest::queue_due(&state, now).await.unwrap(), 1);
    assert_eq!(verilens::alerts::digest::queue_due(&state, now).await.unwrap(), 0);
    assert_eq!(verilens::alerts::digest::queue_due(&world.state(), now + Duration::minutes(5)).await.unwrap(), 0);
    world.deliver_all().await;
    let hooks = world.receiver.requests("/hook");
    assert_eq!(hooks.len(), 1);
    let body = verify_signature(&hooks[0]);
    let due = verilens::alerts::digest::last_due("daily", 6, now);
    assert_eq!(body["kind"], "digest");
    assert_eq!(body["idempotency_key"], format!("digest-{digest}-{}", twilio_time::format(&due)));
    // The day before the due hour, against the day before it, counted from the rows.
    let day = |offset: i64| {
        let start = (due - Duration::days(offset)).date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        (twilio_time::format(&start), twilio_time::format(&(start + Duration::days(1))))
    };
    let mut counts = Vec::new();
    for offset in [1, 2] {
        let (from, to) = day(offset);
        let (from, to) = (twilio_time::parse(&from).unwrap(), twilio_time::parse(&to).unwrap());
        let rows = rows_in(&world.store, "CO", from, to).await;
        let n = rows.iter().map(|r| r.2.as_str()).collect::<BTreeSet<_>>().len();
        counts.push(verilens::format::format_count(n as u64));
    }
    let sections = body["sections"].as_array().unwrap();
    let headings: Vec<&str> = sections.iter().map(|s| s["heading"].as_str().unwrap()).collect();
    assert_eq!(headings, ["Key figures", "Top movers", "Anomalies", "Spend"]);
    let first = sections[0]["lines"][0].as_str().unwrap();
    assert_eq!(first, format!("Verifications: {} (previous period {})", counts[0], counts[1]));
    let next_day = due + Duration::days(1);
    assert_eq!(verilens::alerts::digest::queue_due(&world.state(), next_day).await.unwrap(), 1, "the next day's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_over_the_last_minutes_fires_with_a_burst_and_resolves_minutes_after_it() {
    for backend in Backend::ALL {
        a_rate_over_the_last_minutes_fires_with_a_burst_and_resolves_minutes_after_it_on(backend).await;
    }
}

async fn a_rate_over_the_last_minutes_fires_with_a_burst_and_resolves_minutes_after_it_on(backend: Backend) {
    let world = World::start(18, backend).await;
    let state = world.state();
    let at = twilio_time::format(&world.now());
    let view = alert_store::create_view(&world.store, "Indonesia", "country=ID&range=24h", &at).await.unwrap();
    let input = RuleInput {
        view_id: view,
        name: "Conversion in Indonesia".into(),
        condition: Condition::ConversionBelow { percent: 50.0 },
        min_verifications: 10,
        window_minutes: Some(5),
        destinations: vec![DestinationKind::Inbox],
        email_to: String::new(),
    };
    alert_store::create_rule(&world.store, &input, &at).await.unwrap();
    let t0 = world.now();
    assert_eq!(engine::evaluate_all(&state, t0).await.unwrap().started_firing, 0);
    world.emulator.emulator.start_incident(5 * 60);
    let t1 = t0 + Duration::minutes(2);
    world.advance_to(t1).await;
    let run = engine::evaluate_all(&world.state(), t1).await.unwrap();
    assert_eq!(run.started_firing, 1, "the burst's unconverted SMS bring the last 5 minutes below 50%");
    // The burst ends at t0 + 5 min; five minutes later none of it is in the window.
    let t2 = t0 + Duration::minutes(11);
    world.advance_to(t2).await;
    let run = engine::evaluate_all(&world.state(), t2).await.unwrap();
    assert_eq!(run.resolved, 1);
    let window = alert_store::rules(&world.store).await.unwrap()[0].last_evaluation.clone().unwrap();
    assert_eq!(window.window_start, twilio_time::format(&(t2 - Duration::minutes(5))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_created_after_another_was_deleted_sends_its_own_messages() {
    for backend in Backend::ALL {
        a_rule_created_after_another_was_deleted_sends_its_own_messages_on(backend).await;
    }
}

async fn a_rule_created_after_another_was_deleted_sends_its_own_messages_on(backend: Backend) {
    let world = World::start(19, backend).await;
    let state = world.state();
    let at = twilio_time::format(&world.now());
    let view = alert_store::create_view(&world.store, "All", "", &at).await.unwrap();
    let rule =
        |name: &str| rule_on(view, name, Condition::ConversionBelow { percent: 99.0 }, vec![DestinationKind::Inbox]);
    let first = alert_store::create_rule(&world.store, &rule("first"), &at).await.unwrap();
    engine::evaluate_rule(&state, first, world.now()).await.unwrap();
    world.deliver_all().await;
    alert_store::delete_rule(&world.store, first).await.unwrap();
    let second = alert_store::create_rule(&world.store, &rule("second"), &at).await.unwrap();
    assert_ne!(first, second, "a deleted rule's id is not given again: it is in its messages' keys");
    engine::evaluate_rule(&state, second, world.now()).await.unwrap();
    world.deliver_all().await;
    let titles: Vec<String> =
        alert_store::inbox(&world.store, 10).await.unwrap().into_iter().map(|m| m.message.title).collect();
    assert_eq!(titles, ["Firing: second", "Firing: first"]);
}
