//! Every number agrees with itself, whatever path computes it. For random datasets written
//! through the store's own upserts (mixed and missing currencies, unknown countries and
//! carriers, two accounts, verifications straddling hours, days, carriers and services, late status and
//! price updates) and random views (on and off period boundaries, unknown values, several
//! error codes, a prefix), every metric of every breakdown is computed three ways: from the
//! rollups (as a server holds them, refreshed in place after each write, with whole weeks
//! and months summed), from the raw rows, and here from the generated attempts. So are the series and
//! the anomalies, and drilling into any breakdown row selects exactly that row. The spend on
//! verifications that never converted, which only the raw rows can tell, is computed twice.
//!
//! All of it on sqlite and again on PostgreSQL, whose rollups must also equal sqlite's row for
//! row. Every assertion names its store and seed; `VERILENS_SEED=<seed>` replays that one alone.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use verilens::analytics::{self, RollupCache, RollupIndex, anomalies};
use verilens::emulator::rng::Rng;
use verilens::filters::{Dimension, parse_query};
use verilens::model::{Attempt, Channel, ChannelData, ConversionStatus, Price, twilio_time};
use verilens::page_data::{Anomaly, Metrics, Money};
use verilens::store::{self, AttemptScope, HourlyCell, Store};

const SEEDS: u64 = 8;
const VIEWS_PER_SEED: usize = 36;
const DAYS: i64 = 4;

fn time(text: &str) -> DateTime<Utc> {
    twilio_time::parse(text).unwrap()
}

/// The first day of the data: its days cross from one month into the next.
fn data_start() -> DateTime<Utc> {
    time("2026-11-29T00:00:00Z")
}

/// Hour rows are kept from here on, as a sync keeps the last 72 hours.
fn hour_horizon() -> DateTime<Utc> {
    time("2026-12-01T06:00:00Z")
}

struct Market {
    country: Option<&'static str>,
    prefix: &'static str,
    carriers: &'static [&'static str],
}

/// A carrier really named `unknown`, and one starting with `~`: the URL must tell them from
/// the unknown carrier.
const MARKETS: [Market; 5] = [
    Market { country: Some("CO"), prefix: "+57300", carriers: &["Tigo", "Claro"] },
    Market { country: Some("US"), prefix: "+1555", carriers: &["AT&T", "unknown"] },
    Market { country: Some("BR"), prefix: "+55119", carriers: &["Vivo", "~Tim"] },
    Market { country: Some("ID"), prefix: "+62812", carriers: &["XL"] },
    Market { country: None, prefix: "+99", carriers: &[] },
];
const ERRORS: [&str; 3] = ["30003", "30008", "60410"];
const MESSAGE_STATUSES: [(Option<&str>, f64); 6] = [
    (Some("delivered"), 0.45),
    (Some("read"), 0.15),
    (Some("undelivered"), 0.08),
    (Some("failed"), 0.07),
    (Some("sent"), 0.15),
    (None, 0.1),
];

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

fn sid(prefix: &str, rng: &mut Rng) -> String {
    format!("{prefix}{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

fn price(rng: &mut Rng) -> Option<Price> {
    let value = Some(format!("{:.4}", (1 + rng.below(900)) as f64 / 10_000.0));
    let roll = rng.unit();
    if roll < 0.5 {
        Some(Price { value, currency: Some("usd".into()) })
    } else if roll < 0.65 {
        Some(Price { value, currency: Some("eur".into()) })
    } else if roll < 0.7 {
        Some(Price { value, currency: None })
    } else if roll < 0.75 {
        Some(Price { value: None, currency: Some("usd".into()) })
    } else {
        None
    }
}

fn message_status(rng: &mut Rng, channel: Channel) -> Option<String> {
    match channel {
        Channel::Call | Channel::Email => None,
        _ => {
            let weights: Vec<f64> = MESSAGE_STATUSES.iter().map(|(_, w)| *w).collect();
            MESSAGE_STATUSES[rng.weighted(&weights)].0.map(str::to_string)
        }
    }
}

/// What one attempt is made of, before it becomes an `Attempt`.
struct Draft<'a> {
    verification: &'a str,
    service: &'a str,
    created: DateTime<Utc>,
    channel: Channel,
    converted: bool,
    market: &'a Market,
    to: &'a str,
    carrier: Option<&'a str>,
    message_status: Option<String>,
    error: Option<&'a str>,
}

fn attempt(rng: &mut Rng, d: Draft<'_>) -> Attempt {
    let email = d.channel == Channel::Email;
    let channel_data = (!rng.chance(0.03)).then(|| ChannelData {
        to: Some(if email { format!("user{}@example.com", rng.below(1000)) } else { d.to.to_string() }),
        country: if email { None } else { d.market.country.map(str::to_string) },
        carrier: if email { None } else { d.carrier.map(str::to_string) },
        message_status: d.message_status,
        call_status: (d.channel == Channel::Call).then(|| "completed".to_string()),
        error_code: d.error.map(str::to_string),
        ..ChannelData::default()
    });
    let sid = sid("VL", rng);
    Attempt {
        url: format!("https://verify.twilio.com/v2/Attempts/{sid}"),
        sid,
        account_sid: account_of(d.service),
        service_sid: d.service.to_string(),
        verification_sid: d.verification.to_string(),
        date_created: d.created,
        date_updated: d.created + Duration::seconds(5 + rng.below(120) as i64),
        conversion_status: if d.converted { ConversionStatus::Converted } else { ConversionStatus::Unconverted },
        channel: d.channel,
        price: price(rng),
        channel_data,
    }
}

/// The account a service belongs to: two accounts share the services.
fn account_of(service: &str) -> String {
    let letter = if service.as_bytes()[service.len() - 1].is_multiple_of(2) { "a" } else { "b" };
    format!("AC{}", letter.repeat(32))
}

/// A verification of one to four attempts, minutes to an hour and a half apart.
fn verification(rng: &mut Rng, services: &[String], out: &mut Vec<Attempt>) {
    let market = pick(rng, &MARKETS);
    let service = pick(rng, services).clone();
    let verification = sid("VE", rng);
    let to = format!("{}{:07}", market.prefix, rng.below(10_000_000));
    let mut at = if rng.chance(0.08) {
        // Just before midnight, so that retries fall on the next day.
        data_start() + Duration::days(rng.below(DAYS as u64) as i64 + 1)
            - Duration::seconds(60 + rng.below(1200) as i64)
    } else {
        data_start() + Duration::seconds(rng.below(DAYS as u64 * 86_400) as i64)
    };
    let carrier = (!market.carriers.is_empty() && !rng.chance(0.1)).then(|| *pick(rng, market.carriers));
    let count = 1 + rng.below(4);
    let converts = rng.chance(0.6);
    let channels = [(Channel::Sms, 0.45), (Channel::Whatsapp, 0.2), (Channel::Call, 0.15), (Channel::Email, 0.1)];
    let weights: Vec<f64> = channels.iter().map(|(_, w)| *w).chain([0.1]).collect();
    for i in 0..count {
        if i > 0 {
            at += Duration::seconds(30 + rng.below(100 * 60) as i64);
        }
        let channel = channels.get(rng.weighted(&weights)).map_or(Channel::Rbm, |(c, _)| *c);
        let converted = (converts && i == count - 1) || rng.chance(0.03);
        let error = (rng.chance(if converted { 0.05 } else { 0.5 })).then(|| *pick(rng, &ERRORS));
        // Now and then an attempt goes through another carrier, or another service.
        let carrier =
            if rng.chance(0.1) && !market.carriers.is_empty() { Some(*pick(rng, market.carriers)) } else { carrier };
        let service = if rng.chance(0.04) { pick(rng, services).clone() } else { service.clone() };
        let message_status = message_status(rng, channel);
        let draft = Draft {
            verification: &verification,
            service: &service,
            created: at,
            channel,
            converted,
            market,
            to: &to,
            carrier,
            message_status,
            error,
        };
        out.push(attempt(rng, draft));
    }
}

/// `count` single-attempt SMS verifications in one market and hour, delivered or not.
fn sms_hour(
    rng: &mut Rng,
    services: &[String],
    market: &Market,
    carrier: Option<&str>,
    hour: DateTime<Utc>,
    count: u64,
    delivered: bool,
) -> Vec<Attempt> {
    let mut out = Vec::new();
    for _ in 0..count {
        let verification = sid("VE", rng);
        let to = format!("{}{:07}", market.prefix, rng.below(10_000_000));
        let draft = Draft {
            verification: &verification,
            service: pick(rng, services).as_str(),
            created: hour + Duration::seconds(rng.below(3600) as i64),
            channel: Channel::Sms,
            converted: delivered && rng.chance(0.7),
            market,
            to: &to,
            carrier,
            message_status: Some(if delivered { "delivered" } else { "undelivered" }.to_string()),
            error: (!delivered).then_some("30003"),
        };
        out.push(attempt(rng, draft));
    }
    out
}

/// A later listing of an attempt: its message status settled, its price known, a late
/// conversion, another error code or carrier.
fn settled(rng: &mut Rng, a: &Attempt) -> Attempt {
    let mut later = a.clone();
    later.date_updated = a.date_updated + Duration::seconds(600 + rng.below(30 * 3600) as i64);
    if let Some(data) = later.channel_data.as_mut() {
        if data.message_status.as_deref().is_none_or(|s| s == "sent")
            && matches!(a.channel, Channel::Sms | Channel::Whatsapp)
        {
            data.message_status = Some(if rng.chance(0.8) { "delivered" } else { "undelivered" }.to_string());
        }
        if rng.chance(0.2) {
            data.error_code = rng.chance(0.5).then(|| pick(rng, &ERRORS).to_string());
        }
        if rng.chance(0.15) && data.carrier.is_some() {
            data.carrier = rng.chance(0.5).then(|| "Claro".to_string());
        }
    }
    if rng.chance(0.4) {
        later.price = price(rng);
    }
    if rng.chance(0.2) {
        later.conversion_status = ConversionStatus::Converted;
    }
    later
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// A seed's attempts as first listed, and their later listings (each attempt's newest
/// listing is what the snapshot must hold).
fn dataset(rng: &mut Rng) -> (Vec<Attempt>, Vec<Attempt>) {
    let services: Vec<String> = (0..3).map(|_| sid("VA", rng)).collect();
    let mut first = Vec::new();
    for _ in 0..150 + rng.below(100) {
        verification(rng, &services, &mut first);
    }
    let hours = |rng: &mut Rng| data_start() + Duration::hours(rng.below(DAYS as u64 * 24 - 16) as i64);
    if rng.chance(0.7) {
        // An SMS-pumping burst; in the unknown market now and then.
        let market = &MARKETS[[0, 1, 3, 4][rng.below(4) as usize]];
        let carrier = market.carriers.first().copied();
        let (count, hour) = (45 + rng.below(30), hours(rng));
        first.extend(sms_hour(rng, &services, market, carrier, hour, count, false));
    }
    if rng.chance(0.7) {
        // A carrier that delivers for ten hours, then stops for four.
        let market = &MARKETS[rng.below(3) as usize];
        let carrier = Some(market.carriers[0]);
        let start = hours(rng);
        for h in 0..14 {
            first.extend(sms_hour(rng, &services, market, carrier, start + Duration::hours(h), 3, h < 10));
        }
    }
    let mut later = Vec::new();
    for a in &first {
        if rng.chance(0.35) {
            let newest = settled(rng, a);
            if rng.chance(0.3) {
                // An older listing arriving after the newest one: the newest stays.
                let mut older = settled(rng, a);
                older.date_updated = a.date_updated + (newest.date_updated - a.date_updated) / 2;
                later.push(newest);
                later.push(older);
            } else {
                later.push(newest);
            }
        }
    }
    shuffle(rng, &mut first);
    shuffle(rng, &mut later);
    (first, later)
}

/// The attempts as the snapshot must hold them: each SID's newest listing.
fn newest(first: &[Attempt], later: &[Attempt]) -> Vec<Attempt> {
    let mut by_sid: BTreeMap<&str, &Attempt> = BTreeMap::new();
    for a in first.iter().chain(later) {
        let kept = by_sid.entry(&a.sid).or_insert(a);
        if kept.date_updated < a.date_updated {
            *kept = a;
        }
    }
    by_sid.into_values().cloned().collect()
}

/// Writes the attempts as a sync's writer does on `store`.
async fn ingest(store: &Store, rng: &mut Rng, attempts: &[Attempt]) {
    match store {
        Store::Sqlite(pool) => ingest_into_sqlite(pool, rng, attempts).await,
        Store::Postgres(_) => ingest_into_postgres(store, rng, attempts).await,
    }
}

/// Several pages to a transaction, their rollups written once before the commit; or a page
/// to a transaction.
async fn ingest_into_sqlite(pool: &sqlx::SqlitePool, rng: &mut Rng, attempts: &[Attempt]) {
    let mut rest = attempts;
    while !rest.is_empty() {
        let mut tx = store::begin_write(pool).await.unwrap();
        if rng.chance(0.3) {
            let (page, tail) = rest.split_at((10 + rng.below(90) as usize).min(rest.len()));
            store::upsert_attempts(&mut tx, page).await.unwrap();
            rest = tail;
        } else {
            let mut rollups = store::PendingRollups::new(&mut tx).await.unwrap();
            for _ in 0..1 + rng.below(4) {
                let (page, tail) = rest.split_at((10 + rng.below(90) as usize).min(rest.len()));
                store::upsert_attempts_pending(&mut tx, page, &mut rollups).await.unwrap();
                rest = tail;
            }
            store::write_rollups(&mut tx, rollups).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// Batches of one to four pages, each written as the sync's writer writes them: an
/// account's fenced transaction under its sync lease.
async fn ingest_into_postgres(store: &Store, rng: &mut Rng, attempts: &[Attempt]) {
    let mut rest = attempts;
    while !rest.is_empty() {
        let (batch, tail) =
            rest.split_at(((10 + rng.below(90) as usize) * (1 + rng.below(4) as usize)).min(rest.len()));
        store.write_attempts(batch).await.unwrap();
        rest = tail;
    }
}

/// A count the SQL of both stores spells alike.
async fn count(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Store::Postgres(pg) => sqlx::query_scalar(sql).fetch_one(&pg.pool).await.unwrap(),
    }
}

/// A view's filters as the test chose them: `None` is the unknown value (no error code, for errors).
#[derive(Clone, Debug, Default)]
struct Choice {
    countries: Vec<Option<&'static str>>,
    channels: Vec<Channel>,
    carriers: Vec<Option<&'static str>>,
    services: Vec<Option<String>>,
    accounts: Vec<String>,
    errors: Vec<Option<&'static str>>,
    status: Option<ConversionStatus>,
    prefix: Option<&'static str>,
}

fn some_of<T: Clone + PartialEq>(rng: &mut Rng, chance: f64, most: u64, items: &[T]) -> Vec<T> {
    let mut chosen = Vec::new();
    if rng.chance(chance) {
        for _ in 0..1 + rng.below(most) {
            let item = pick(rng, items).clone();
            if !chosen.contains(&item) {
                chosen.push(item);
            }
        }
    }
    chosen
}

fn choose(rng: &mut Rng, services: &[String]) -> Choice {
    let mut service_values: Vec<Option<String>> = services.iter().cloned().map(Some).collect();
    service_values.push(None);
    Choice {
        countries: some_of(rng, 0.35, 2, &[Some("CO"), Some("US"), Some("BR"), Some("ID"), Some("ZZ"), None]),
        channels: some_of(rng, 0.3, 2, Channel::ALL),
        carriers: some_of(
            rng,
            0.3,
            2,
            &[Some("Tigo"), Some("Claro"), Some("AT&T"), Some("unknown"), Some("~Tim"), Some("Vivo"), Some("XL"), None],
        ),
        services: some_of(rng, 0.2, 2, &service_values),
        accounts: some_of(rng, 0.2, 2, &["a", "b", "c"].map(|l| format!("AC{}", l.repeat(32)))),
        errors: some_of(rng, 0.3, 3, &[Some("30003"), Some("30008"), Some("60410"), Some("99999"), None]),
        status: rng.chance(0.3).then(|| *pick(rng, ConversionStatus::ALL)),
        prefix: rng.chance(0.15).then(|| *pick(rng, &["+57", "+57300", "+1555", "+55", "+9"])),
    }
}

fn url_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Choice {
    /// The view's query string, by the URL contract: `unknown` for an unknown country,
    /// carrier or service, `none` for no error code, and `~` before a carrier's real name
    /// when it is `unknown` or starts with `~`.
    fn query(&self) -> String {
        let mut parts: Vec<(&str, String)> = Vec::new();
        let known = |value: &Option<&str>| value.unwrap_or("unknown").to_string();
        parts.extend(self.countries.iter().map(|c| ("country", known(c))));
        parts.extend(self.channels.iter().map(|c| ("channel", c.as_str().to_string())));
        parts.extend(self.carriers.iter().map(|c| {
            let value = match c {
                None => "unknown".to_string(),
                Some(name) if *name == "unknown" || name.starts_with('~') => format!("~{name}"),
                Some(name) => name.to_string(),
            };
            ("carrier", value)
        }));
        parts.extend(self.services.iter().map(|s| ("service", s.clone().unwrap_or_else(|| "unknown".into()))));
        parts.extend(self.accounts.iter().map(|a| ("account", a.clone())));
        parts.extend(self.errors.iter().map(|e| ("error", e.unwrap_or("none").to_string())));
        parts.extend(self.status.map(|s| ("status", s.as_str().to_string())));
        parts.extend(self.prefix.map(|p| ("prefix", p.to_string())));
        parts.iter().map(|(k, v)| format!("{k}={}", url_encoded(v))).collect::<Vec<_>>().join("&")
    }

    fn admits<T: PartialEq>(values: &[T], value: T) -> bool {
        values.is_empty() || values.contains(&value)
    }

    /// Whether the view selects an attempt; `market_only` leaves out services, errors and
    /// statuses, as anomaly detection does.
    fn selects(&self, a: &Attempt, from: &str, to: &str, market_only: bool) -> bool {
        let data = a.channel_data.clone().unwrap_or_default();
        let known = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let created = twilio_time::format(&a.date_created);
        let market = created.as_str() >= from
            && created.as_str() < to
            && Self::admits(&self.countries, known(&data.country).as_deref())
            && Self::admits(&self.carriers, known(&data.carrier).as_deref())
            && Self::admits(&self.channels, a.channel)
            && self.prefix.is_none_or(|p| data.to.as_deref().is_some_and(|to| to.starts_with(p)));
        market
            && (market_only
                || (Self::admits(&self.services, Some(a.service_sid.clone()))
                    && Self::admits(&self.accounts, a.account_sid.clone())
                    && Self::admits(&self.errors, known(&data.error_code).as_deref())
                    && self.status.is_none_or(|s| s == a.conversion_status)))
    }
}

fn key(a: &Attempt, by: Option<Dimension>) -> String {
    let data = a.channel_data.clone().unwrap_or_default();
    match by {
        None => String::new(),
        Some(Dimension::Country) => data.country.unwrap_or_default(),
        Some(Dimension::Channel) => a.channel.as_str().to_string(),
        Some(Dimension::Carrier) => data.carrier.unwrap_or_default(),
        Some(Dimension::Service) => a.service_sid.clone(),
        Some(Dimension::Account) => a.account_sid.clone(),
        Some(Dimension::Error) => data.error_code.unwrap_or_default(),
        Some(Dimension::Day) => twilio_time::format(&a.date_created)[..10].to_string(),
    }
}

#[derive(Default, Debug)]
struct Expected {
    attempts: u64,
    converted: u64,
    verifications: BTreeSet<String>,
    converted_verifications: BTreeSet<String>,
    delivered: u64,
    finalized: u64,
    spend: BTreeMap<String, f64>,
    unconverted_attempt_spend: BTreeMap<String, f64>,
    unpriced: u64,
    /// Per converted verification, the least country and service of its converted attempts.
    fee_markets: BTreeMap<String, (String, String)>,
}

/// The fees the checks apply: a default, a country in another currency, a country without a
/// fee, and a service of its own, so that a fee put on the wrong verification shows.
fn fee_schedule(services: &[String]) -> verilens::fees::FeeSchedule {
    use verilens::fees::{Fee, FeeSchedule};
    let fee = |currency: &str, micros| Some(Fee { currency: currency.into(), micros });
    FeeSchedule {
        default: fee("USD", 50_000),
        countries: [("BR".to_string(), fee("EUR", 30_000)), ("ID".to_string(), None)].into(),
        services: services.iter().take(1).map(|s| (s.clone(), fee("USD", 70_000))).collect(),
        source: verilens::fees::FeeSource::Configured { overrides: None },
    }
}

/// Verification fees per currency of a key's converted verifications, computed here.
fn expected_fees(e: &Expected, fees: &verilens::fees::FeeSchedule) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (country, service) in e.fee_markets.values() {
        if let Some(fee) = fees.fee_for(country, service) {
            *out.entry(fee.currency.clone()).or_default() += fee.micros as f64 / 1e6;
        }
    }
    out
}

/// Whether an attempt's message was delivered, and whether its status is final.
fn delivery(a: &Attempt) -> (bool, bool) {
    let status = a.channel_data.as_ref().and_then(|d| d.message_status.as_deref()).unwrap_or_default();
    (matches!(status, "delivered" | "read"), matches!(status, "delivered" | "read" | "undelivered" | "failed"))
}

fn expected(selected: &[&Attempt], by: Option<Dimension>) -> BTreeMap<String, Expected> {
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    for a in selected {
        let e = out.entry(key(a, by)).or_default();
        let converted = a.conversion_status == ConversionStatus::Converted;
        e.attempts += 1;
        e.verifications.insert(a.verification_sid.clone());
        if converted {
            e.converted += 1;
            e.converted_verifications.insert(a.verification_sid.clone());
            let country = a.channel_data.as_ref().and_then(|d| d.country.clone()).unwrap_or_default();
            let market =
                e.fee_markets.entry(a.verification_sid.clone()).or_insert((country.clone(), a.service_sid.clone()));
            market.0 = market.0.clone().min(country);
            market.1 = market.1.clone().min(a.service_sid.clone());
        }
        let (delivered, finalized) = delivery(a);
        e.delivered += u64::from(delivered);
        e.finalized += u64::from(finalized);
        if let Some(Price { value: Some(value), currency: Some(currency) }) = &a.price {
            let amount: f64 = value.parse().unwrap();
            *e.spend.entry(currency.to_ascii_uppercase()).or_default() += amount;
            if !converted {
                *e.unconverted_attempt_spend.entry(currency.to_ascii_uppercase()).or_default() += amount;
            }
        } else if a.channel != Channel::Email {
            e.unpriced += 1;
        }
    }
    out
}

fn same_money(got: &[Money], want: &BTreeMap<String, f64>, what: &str) {
    let got: BTreeMap<&String, f64> =
        got.iter().filter(|m| m.amount.abs() > 1e-9).map(|m| (&m.currency, m.amount)).collect();
    let want: BTreeMap<&String, f64> = want.iter().filter(|(_, v)| v.abs() > 1e-9).map(|(c, v)| (c, *v)).collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: currencies");
    for (currency, amount) in want {
        assert!((got[currency] - amount).abs() < 1e-6, "{what}: {currency} {} != {amount}", got[currency]);
    }
}

fn same_metrics(got: &Metrics, want: &Expected, fees: &verilens::fees::FeeSchedule, what: &str) {
    let counts = |m: &Metrics| {
        [
            m.attempts,
            m.converted,
            m.verifications,
            m.converted_verifications,
            m.delivered,
            m.finalized,
            m.unpriced_attempts,
        ]
    };
    let wanted = [
        want.attempts,
        want.converted,
        want.verifications.len() as u64,
        want.converted_verifications.len() as u64,
        want.delivered,
        want.finalized,
        want.unpriced,
    ];
    assert_eq!(
        counts(got),
        wanted,
        "{what}: [attempts, converted, verifications, converted verifications, delivered, finalized, unpriced]"
    );
    let want_fees = expected_fees(want, fees);
    same_money(&got.verification_fees, &want_fees, &format!("{what}: verification fees"));
    let mut want_total = want.spend.clone();
    for (currency, amount) in &want_fees {
        *want_total.entry(currency.clone()).or_default() += amount;
    }
    same_money(&got.total_cost(), &want_total, &format!("{what}: total cost"));
    same_money(&got.spend, &want.spend, &format!("{what}: spend"));
    same_money(
        &got.unconverted_attempt_spend,
        &want.unconverted_attempt_spend,
        &format!("{what}: spend on unconverted attempts"),
    );
}

fn same_breakdown(
    got: &BTreeMap<String, Metrics>,
    want: &BTreeMap<String, Expected>,
    fees: &verilens::fees::FeeSchedule,
    what: &str,
) {
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: keys");
    for (k, w) in want {
        same_metrics(&got[k], w, fees, &format!("{what} [{k:?}]"));
    }
}

/// Hourly cells of the selected attempts, as anomaly detection reads them.
fn expected_hours(selected: &[&Attempt]) -> Vec<HourlyCell> {
    let mut cells: BTreeMap<(String, String, String, String), [i64; 4]> = BTreeMap::new();
    for a in selected {
        let hour = twilio_time::format(&a.date_created)[..13].to_string();
        let place =
            (hour, key(a, Some(Dimension::Country)), a.channel.as_str().to_string(), key(a, Some(Dimension::Carrier)));
        let c = cells.entry(place).or_default();
        let (delivered, finalized) = delivery(a);
        c[0] += 1;
        c[1] += i64::from(a.conversion_status == ConversionStatus::Converted);
        c[2] += i64::from(delivered);
        c[3] += i64::from(finalized);
    }
    cells
        .into_iter()
        .map(|((hour, country, channel, carrier), c)| HourlyCell {
            hour,
            country,
            channel,
            carrier,
            attempts: c[0],
            converted: c[1],
            delivered: c[2],
            finalized: c[3],
        })
        .collect()
}

/// Bounds of a view: whole days, whole weeks and months (with days before or after them, or not),
/// whole hours from the hour horizon on, whole hours before it, or neither.
fn bounds(rng: &mut Rng) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = data_start();
    match rng.below(5) {
        4 => {
            // Mondays among them: the 23rd and the 30th of November, the 7th of December.
            let from = *pick(rng, &["2026-11-01", "2026-11-23", "2026-11-29", "2026-11-30", "2026-12-01"]);
            let to = *pick(rng, &["2026-12-01", "2026-12-02", "2026-12-07", "2027-01-01"].map(|to| to.max(from)));
            let to = if to == from { "2027-01-01" } else { to };
            (time(&format!("{from}T00:00:00Z")), time(&format!("{to}T00:00:00Z")))
        }
        0 => {
            let from = start + Duration::days(rng.below(DAYS as u64 + 1) as i64 - 1);
            (from, from + Duration::days(1 + rng.below(3) as i64))
        }
        1 => {
            let hours_left = (start + Duration::days(DAYS) - hour_horizon()).num_hours() as u64;
            let from = hour_horizon() + Duration::hours(rng.below(hours_left) as i64);
            (from, from + Duration::hours(1 + rng.below(30) as i64))
        }
        2 => {
            let hours_before = (hour_horizon() - start).num_hours() as u64;
            let from = start + Duration::hours(rng.below(hours_before) as i64);
            (from, from + Duration::hours(1 + rng.below(30) as i64))
        }
        _ => {
            let from = start + Duration::seconds(rng.below(DAYS as u64 * 86_400) as i64);
            (from, from + Duration::seconds(3600 + rng.below(2 * 86_400) as i64))
        }
    }
}

/// Whether the rollups must answer a view: bounds on days, or on hours kept at hour
/// grain, and no destination prefix.
fn rollups_answer(from: &str, to: &str, prefix: bool) -> bool {
    let on = |tail: &str| from.ends_with(tail) && to.ends_with(tail);
    let horizon = twilio_time::format(&hour_horizon());
    !prefix && (on("T00:00:00Z") || (on(":00:00Z") && from >= horizon.as_str()))
}

struct Snapshot {
    store: Store,
    index: Arc<RollupIndex>,
    attempts: Vec<Attempt>,
}

/// The bucket of a duration, by the funnel's bounds (30 s, 1, 2, 5 and 15 minutes).
fn bucket(seconds: i64) -> usize {
    match seconds {
        ..30 => 0,
        30..60 => 1,
        60..120 => 2,
        120..300 => 3,
        300..900 => 4,
        _ => 5,
    }
}

/// The retry funnel computed here from the generated attempts: each verification at its
/// first attempt, selected by the view's range, countries, carriers and services there and
/// by its channels anywhere.
fn check_funnel(s: &Snapshot, choice: &Choice, scope: &AttemptScope<'_>, from: &str, to: &str, what: &str) {
    let mut by_verification: BTreeMap<&str, Vec<&Attempt>> = BTreeMap::new();
    for a in &s.attempts {
        by_verification.entry(&a.verification_sid).or_default().push(a);
    }
    let mut verifications = 0u64;
    let mut converted = 0u64;
    let mut retried = 0u64;
    let mut steps = [(0u64, 0u64); 3];
    let mut paths: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut gaps, mut to_conversion) = ([0u64; 6], [0u64; 6]);
    for attempts in by_verification.values_mut() {
        attempts.sort_by(|a, b| (a.date_created, &a.sid).cmp(&(b.date_created, &b.sid)));
        let first = attempts[0];
        let data = first.channel_data.clone().unwrap_or_default();
        let known = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let created = twilio_time::format(&first.date_created);
        let selected = created.as_str() >= from
            && created.as_str() < to
            && Choice::admits(&choice.countries, known(&data.country).as_deref())
            && Choice::admits(&choice.carriers, known(&data.carrier).as_deref())
            && Choice::admits(&choice.services, Some(first.service_sid.clone()))
            && Choice::admits(&choice.accounts, first.account_sid.clone())
            && (choice.channels.is_empty() || attempts.iter().any(|a| choice.channels.contains(&a.channel)));
        if !selected {
            continue;
        }
        verifications += 1;
        let converted_at = attempts.iter().position(|a| a.conversion_status == ConversionStatus::Converted);
        for (i, step) in steps.iter_mut().enumerate() {
            let reached = if i < 2 { attempts.len() > i } else { attempts.len() >= 3 };
            if reached {
                step.0 += 1;
            }
            if converted_at.is_some_and(|at| at.min(2) == i) {
                step.1 += 1;
            }
        }
        retried += u64::from(attempts.len() > 1);
        converted += u64::from(converted_at.is_some());
        let mut channels: Vec<&str> = attempts.iter().map(|a| a.channel.as_str()).collect();
        channels.dedup();
        let path = if channels.len() > 3 { format!("{}+", channels[..3].join(">")) } else { channels.join(">") };
        let entry = paths.entry(path).or_default();
        entry.0 += 1;
        entry.1 += u64::from(converted_at.is_some());
        for pair in attempts.windows(2) {
            gaps[bucket((pair[1].date_created - pair[0].date_created).num_seconds())] += 1;
        }
        if let Some(at) = converted_at {
            to_conversion[bucket((attempts[at].date_updated - first.date_created).num_seconds())] += 1;
        }
    }
    let funnel = analytics::retry_funnel(&s.index, scope);
    assert_eq!(funnel.note, None, "{what}: the rollups answer the funnel");
    assert_eq!(
        (funnel.verifications, funnel.converted, funnel.retried),
        (verifications, converted, retried),
        "{what}: funnel totals"
    );
    let got_steps: Vec<(u64, u64)> = funnel.steps.iter().map(|s| (s.reached, s.converted)).collect();
    assert_eq!(got_steps, steps.to_vec(), "{what}: funnel by attempt");
    let got_paths: BTreeMap<String, (u64, u64)> =
        funnel.paths.iter().map(|p| (p.path.clone(), (p.verifications, p.converted))).collect();
    assert_eq!(got_paths, paths, "{what}: funnel paths");
    assert_eq!(funnel.gaps, gaps.to_vec(), "{what}: time between attempts");
    assert_eq!(funnel.to_conversion, to_conversion.to_vec(), "{what}: time to conversion");
}

/// Checks one view; returns the anomalies it has.
async fn check_view(s: &Snapshot, choice: &Choice, from: &str, to: &str, what: &str) -> usize {
    let parsed = parse_query(&choice.query());
    assert!(parsed.notices.is_empty(), "{what}: {:?}", parsed.notices);
    let mut filters = parsed.filters;
    let scope = AttemptScope { from: from.to_string(), to: to.to_string(), filters: &filters };
    let from_rollups = rollups_answer(from, to, choice.prefix.is_some());
    assert_eq!(s.index.grain_for(&scope).is_some(), from_rollups, "{what}: the rollups answer the view");
    let selected: Vec<&Attempt> = s.attempts.iter().filter(|a| choice.selects(a, from, to, false)).collect();

    let by_dims = std::iter::once(None).chain(Dimension::ALL.into_iter().map(Some));
    let mut breakdowns = std::collections::HashMap::new();
    for by in by_dims {
        let want = expected(&selected, by);
        let fees = s.index.fees();
        let raw =
            store::raw_metrics_by(&s.store, &verilens::store::RawScans::default(), &scope, by, fees).await.unwrap();
        same_breakdown(&raw, &want, fees, &format!("{what} by {by:?}, raw rows"));
        let answered =
            analytics::metrics_by(&s.store, &verilens::store::RawScans::default(), &s.index, &scope, by).await.unwrap();
        let path = if from_rollups { "rollups" } else { "the dashboard's path" };
        same_breakdown(&answered, &want, fees, &format!("{what} by {by:?}, {path}"));
        breakdowns.insert(by, want);
    }

    if from_rollups {
        check_funnel(s, choice, &scope, from, to, what);
    }

    // The rollups cannot tell it, so the dashboard reads it from the raw rows on every path.
    let converted_somewhere: BTreeSet<&str> = s
        .attempts
        .iter()
        .filter(|a| a.conversion_status == ConversionStatus::Converted)
        .map(|a| a.verification_sid.as_str())
        .collect();
    let mut wasted: BTreeMap<String, f64> = BTreeMap::new();
    for a in selected.iter().filter(|a| !converted_somewhere.contains(a.verification_sid.as_str())) {
        if let Some(Price { value: Some(value), currency: Some(currency) }) = &a.price {
            *wasted.entry(currency.to_ascii_uppercase()).or_default() += value.parse::<f64>().unwrap();
        }
    }
    let got = store::raw_unconverted_verification_spend(&s.store, &verilens::store::RawScans::default(), &scope)
        .await
        .unwrap();
    same_money(&got, &wasted, &format!("{what}: spend on verifications that never converted, raw rows"));
    for read in ["read", "remembered"] {
        let answered = analytics::unconverted_verification_spend(
            &s.store,
            &verilens::store::RawScans::default(),
            &s.index,
            &scope,
        )
        .await
        .unwrap();
        same_money(&answered, &wasted, &format!("{what}: spend on verifications that never converted, {read}"));
    }

    for hourly in [false, true] {
        let mut want: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for a in &selected {
            let bucket = twilio_time::format(&a.date_created)[..if hourly { 13 } else { 10 }].to_string();
            let e = want.entry((bucket, a.channel.as_str().to_string())).or_default();
            e.0 += 1;
            e.1 += u64::from(a.conversion_status == ConversionStatus::Converted);
        }
        let points = |series: Vec<verilens::page_data::SeriesPoint>| -> BTreeMap<(String, String), (u64, u64)> {
            series.into_iter().map(|p| ((p.bucket, p.channel), (p.attempts, p.converted))).collect()
        };
        let raw =
            points(store::raw_series(&s.store, &verilens::store::RawScans::default(), &scope, hourly).await.unwrap());
        assert_eq!(raw, want, "{what}: series (hourly {hourly}), raw rows");
        let answered = points(
            analytics::series(&s.store, &verilens::store::RawScans::default(), &s.index, &scope, hourly).await.unwrap(),
        );
        assert_eq!(answered, want, "{what}: series (hourly {hourly}), the dashboard's path");
    }

    // Bursts and outages are found once in the snapshot; a view shows those of its markets
    // that overlap it, each as it reads everywhere.
    let shown = analytics::view_incidents(&s.index, &scope);
    let want: Vec<Anomaly> = s
        .index
        .incidents()
        .iter()
        .filter(|i| i.start.as_str() < to && i.end.as_str() > from)
        .filter(|i| filters.countries.is_empty() || filters.countries.contains(&i.country))
        .filter(|i| match &i.carrier {
            Some(carrier) => filters.carriers.is_empty() || filters.carriers.contains(carrier),
            None => filters.channels.is_empty() || filters.channels.contains(&Channel::Sms),
        })
        .map(|i| i.anomaly.clone())
        .collect();
    assert_eq!(shown, want, "{what}: the incidents of the view");

    // A click on any row (but a day's, which takes the whole day) selects exactly that row.
    for by in [Dimension::Country, Dimension::Channel, Dimension::Carrier, Dimension::Service, Dimension::Error] {
        filters.by = by;
        for (key, row) in &breakdowns[&Some(by)] {
            let next = verilens::app::navigation::drill_down(&filters, key).unwrap();
            let href = next.href("/");
            let what = format!("{what}: drilling into {by:?} {key:?} ({href})");
            let parsed = parse_query(href.trim_start_matches("/?"));
            assert!(parsed.notices.is_empty(), "{what}: {:?}", parsed.notices);
            assert_eq!(parsed.filters, next, "{what}: the link keeps the view");
            let scope = AttemptScope { from: from.to_string(), to: to.to_string(), filters: &parsed.filters };
            let fees = s.index.fees();
            let raw = store::raw_metrics_by(&s.store, &verilens::store::RawScans::default(), &scope, None, fees)
                .await
                .unwrap();
            same_metrics(&raw.get("").cloned().unwrap_or_default(), row, fees, &format!("{what}, raw rows"));
            let answered =
                analytics::totals(&s.store, &verilens::store::RawScans::default(), &s.index, &scope).await.unwrap();
            same_metrics(&answered, row, fees, &format!("{what}, the dashboard's path"));
        }
    }
    want.len()
}

/// The bursts and outages found in the rollups' hours are those found in hours counted here
/// from the attempts, and each one's figures are those of the attempts its link selects.
fn check_incidents(index: &RollupIndex, attempts: &[Attempt], seed: u64) {
    let all: Vec<&Attempt> = attempts.iter().collect();
    assert_eq!(index.incidents(), anomalies::incidents(&expected_hours(&all)), "seed {seed}: the incidents");
    for incident in index.incidents() {
        let what = format!("seed {seed}: {} ({})", incident.anomaly.title, incident.anomaly.href);
        let link = parse_query(incident.anomaly.href.split_once('?').unwrap().1);
        assert!(link.notices.is_empty(), "{what}: {:?}", link.notices);
        let (start, end) = link.filters.range.bounds(Utc::now());
        assert_eq!(
            (twilio_time::format(&start), twilio_time::format(&end)),
            (incident.start.clone(), incident.end.clone())
        );
        let in_window = |a: &&Attempt| {
            a.date_created >= start
                && a.date_created < end
                && key(a, Some(Dimension::Country)) == incident.country
                && incident.carrier.as_ref().is_none_or(|c| key(a, Some(Dimension::Carrier)) == *c)
        };
        let detail = &incident.anomaly.detail;
        match &incident.carrier {
            None => {
                let unconverted = attempts
                    .iter()
                    .filter(in_window)
                    .filter(|a| a.channel == Channel::Sms && a.conversion_status == ConversionStatus::Unconverted)
                    .count();
                assert!(detail.starts_with(&format!("{unconverted} unconverted SMS from ")), "{what}: {detail}");
            }
            Some(_) => {
                let (delivered, finalized) = attempts
                    .iter()
                    .filter(in_window)
                    .map(delivery)
                    .fold((0, 0), |(d, f), (x, y)| (d + u64::from(x), f + u64::from(y)));
                let expected = format!(
                    "{:.0}% of {finalized} messages delivered from ",
                    delivered as f64 * 100.0 / finalized as f64
                );
                assert!(detail.starts_with(&expected), "{what}: {detail}, not {expected}");
            }
        }
    }
}

/// Where a seed's snapshot is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    /// A database of its own on the test command's PostgreSQL server.
    Postgres,
}

/// The seed's attempts written into a new store on `backend` as a sync writes them, with the
/// index a server holds refreshed in place after each step; and the seed's generator, to
/// choose views with.
async fn write_snapshot(seed: u64, backend: Backend, dir: &std::path::Path) -> (Snapshot, Vec<String>, Rng) {
    let mut rng = Rng::new(seed);
    let (first, later) = dataset(&mut rng);
    let attempts = newest(&first, &later);
    let store = match backend {
        Backend::Sqlite => Store::open(&dir.join(format!("numbers-{seed}.db"))).await.unwrap(),
        Backend::Postgres => {
            Store::open(std::path::Path::new(&common::postgres::fresh_database().await)).await.unwrap()
        }
    };
    let services: Vec<String> =
        attempts.iter().map(|a| a.service_sid.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let cache = Arc::new(RollupCache::with_fees(fee_schedule(&services)));
    cache.get_current(&store).await.unwrap();
    // Some first listings before the sync moves the hour horizon on, some after; then the later listings.
    let (early, rest) = first.split_at(first.len() / 2);
    ingest(&store, &mut rng, early).await;
    cache.get_current(&store).await.unwrap();
    store.advance_hour_horizon(&twilio_time::format(&hour_horizon())).await.unwrap();
    cache.get_current(&store).await.unwrap();
    ingest(&store, &mut rng, rest).await;
    cache.get_current(&store).await.unwrap();
    ingest(&store, &mut rng, &later).await;
    let index = cache.get_current(&store).await.unwrap();
    (Snapshot { store, index, attempts }, services, rng)
}

async fn check_seed(seed: u64, backend: Backend) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, services, mut rng) = write_snapshot(seed, backend, dir.path()).await;
    let attempts = &snapshot.attempts;
    let stored = count(&snapshot.store, "SELECT COUNT(*) FROM attempts").await;
    assert_eq!(stored as usize, attempts.len(), "seed {seed}: attempts stored");
    let irregular = count(&snapshot.store, "SELECT COUNT(DISTINCT verification_sid) FROM irregular_attempts").await;
    assert!(irregular > 10, "seed {seed}: the data must straddle rollup cells ({irregular})");
    let mut currencies: BTreeMap<&str, BTreeSet<Option<String>>> = BTreeMap::new();
    for a in attempts {
        let currency = a.price.as_ref().and_then(|p| p.currency.clone());
        currencies.entry(&a.verification_sid).or_default().insert(currency);
    }
    let mixed = currencies.values().filter(|c| c.len() > 1).count();
    assert!(mixed > 10, "seed {seed}: the data must mix currencies within verifications ({mixed})");
    check_incidents(&snapshot.index, attempts, seed);
    if backend == Backend::Postgres {
        // The rollups PostgreSQL kept are sqlite's, row for row.
        let (reference, _, _) = write_snapshot(seed, Backend::Sqlite, dir.path()).await;
        common::postgres::assert_same_rollups(
            &reference.store.read_rollup_rows().await.unwrap(),
            &snapshot.store.read_rollup_rows().await.unwrap(),
        );
    }

    let mut anomalous = 0;
    for view in 0..VIEWS_PER_SEED {
        let choice = if view == 0 { Choice::default() } else { choose(&mut rng, &services) };
        let (from, to) = bounds(&mut rng);
        let (from, to) = (twilio_time::format(&from), twilio_time::format(&to));
        let what = format!(
            "{backend:?}, seed {seed} (VERILENS_SEED={seed} replays it), view {view} ?{} [{from}, {to})",
            choice.query()
        );
        anomalous += check_view(&snapshot, &choice, &from, &to, &what).await;
    }
    if let Some(pool) = snapshot.store.sqlite() {
        // The rollups the upserts kept are the ones a rebuild makes.
        let read = common::assert_rollups_equal_a_rebuild(pool).await;
        assert_eq!(read as usize, snapshot.attempts.len(), "seed {seed}: a rebuild reads every attempt");
        common::assert_connections_have_usual_settings(pool).await;
    }
    anomalous
}

async fn check_seeds(backend: Backend) {
    let seeds: Vec<u64> = match std::env::var("VERILENS_SEED") {
        Ok(seed) => vec![seed.parse().expect("VERILENS_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    };
    let mut anomalies = 0;
    for seed in &seeds {
        anomalies += check_seed(*seed, backend).await;
    }
    if seeds.len() > 1 {
        assert!(anomalies > 0, "the data must make anomalies to compare");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_agrees_across_the_rollups_the_raw_rows_and_the_attempts() {
    check_seeds(Backend::Sqlite).await;
}

/// The same on PostgreSQL, whose rollups are also sqlite's row for row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_agrees_on_postgresql_too() {
    check_seeds(Backend::Postgres).await;
}
