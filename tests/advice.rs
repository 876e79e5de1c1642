//! What the overview tells a product manager to do, on the emulator's data over several
//! seeds: the planted WhatsApp advantage in CO, BR and IN is recommended with the numbers an
//! independent computation from the snapshot's attempts gives; markets whose SMS and WhatsApp
//! convert alike get no such recommendation; the SMS-pumping burst's cost and number blocks
//! equal the attempts'; every cost figure follows channel fees + fee × converted verifications.
//! On sqlite and on PostgreSQL.

use crate::common::{self, Backend};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use verilens::analytics::{self, RollupCache};
use verilens::fees::FeeSchedule;
use verilens::filters::parse_query;
use verilens::model::twilio_time;
use verilens::page_data::{ChannelRecommendation, Overview, SnapshotStatus};
use verilens::store::{self, Store};
use verilens::sync::{SyncOptions, SyncProgress, sync_once};

const SEEDS: [u64; 3] = [3, 17, 2026];
const ATTEMPTS: u64 = 60_000;
const FEE: f64 = 0.05;

/// An attempt as stored, with what the checks need.
#[derive(sqlx::FromRow)]
struct Row {
    verification_sid: String,
    date_created: String,
    channel: String,
    conversion_status: String,
    country: Option<String>,
    price: Option<f64>,
    price_unit: Option<String>,
    error_code: Option<String>,
    to: Option<String>,
    carrier: Option<String>,
}

struct Synced {
    /// The store the figures are read from.
    store: Store,
    now: DateTime<Utc>,
    rows: Vec<Row>,
    _dir: tempfile::TempDir,
    _emulator: common::emulator::Pinned,
}

/// The seed's API synced into a store on `backend`, and the attempts as a sqlite snapshot of
/// the same API holds them. Both syncs run at the API's clock, so they copy the same window.
async fn synced(seed: u64, backend: Backend) -> Synced {
    let emulator = common::emulator::start_pinned(seed, ATTEMPTS).await;
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("s.db")).await.unwrap();
    let client = common::emulator::client_for(&emulator.base, &emulator.config, 0);
    let options = SyncOptions { clock: emulator.config.now, ..SyncOptions::default() };
    let sync = async |store: &Store| {
        sync_once(store, &client, &SyncProgress::default(), &options).await.unwrap();
    };
    sync(&pool.clone().into()).await;
    let store = backend.beside(&pool, dir.path(), sync).await;
    let rows = sqlx::query_as(
        "SELECT verification_sid, date_created, channel, conversion_status, country, price, price_unit, error_code, \
         \"to\", carrier FROM attempts",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let now = emulator.config.now.unwrap();
    Synced { store, now, rows, _dir: dir, _emulator: emulator }
}

async fn overview(s: &Synced, query: &str) -> Overview {
    let as_of = twilio_time::format(&s.now);
    analytics::overview(
        &s.store,
        &store::RawScans::default(),
        &Arc::new(RollupCache::with_fees(FeeSchedule::list_price())),
        parse_query(query),
        s.now,
        SnapshotStatus { as_of: Some(as_of), ..SnapshotStatus::default() },
    )
    .await
    .unwrap()
}

/// A channel in a market over `[from, to)`, computed here: verifications with an attempt
/// on it, those with a converted attempt on it, and its channel fees.
fn channel_figures(rows: &[&Row], country: &str, channel: &str) -> (u64, u64, f64) {
    let on: Vec<&&Row> =
        rows.iter().filter(|r| r.country.as_deref() == Some(country) && r.channel == channel).collect();
    let verifications: BTreeSet<&str> = on.iter().map(|r| r.verification_sid.as_str()).collect();
    let converted: BTreeSet<&str> =
        on.iter().filter(|r| r.conversion_status == "converted").map(|r| r.verification_sid.as_str()).collect();
    let fees = on.iter().map(|r| r.price.unwrap_or(0.0)).sum();
    (verifications.len() as u64, converted.len() as u64, fees)
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "{what}: {got} != {want}");
}

fn check_numbers(r: &ChannelRecommendation, rows: &[&Row], what: &str) {
    for (figures, channel) in [(&r.better, &r.better.channel), (&r.worse, &r.worse.channel)] {
        let (verifications, converted, fees) = channel_figures(rows, &r.country, channel);
        let what = format!("{what}: {} {channel}", r.country);
        assert_eq!((figures.verifications, figures.converted_verifications), (verifications, converted), "{what}");
        close(figures.total_cost, fees + FEE * converted as f64, &format!("{what}: total cost"));
        close(figures.cost_per_success.unwrap(), (fees + FEE * converted as f64) / converted as f64, &what);
    }
    let rate = |f: &verilens::page_data::ChannelFigures| f.converted_verifications as f64 / f.verifications as f64;
    let gained = r.worse.verifications as f64 * (rate(&r.better) - rate(&r.worse));
    close(r.gained_verifications, gained, &format!("{what}: gained"));
    let saved = r.worse.total_cost - r.worse.verifications as f64 * r.better.total_cost / r.better.verifications as f64;
    close(r.saved, saved, &format!("{what}: saved"));
    assert!(r.adjusted_p_value <= 0.05, "{what}: a discovery");
}

#[tokio::test]
async fn the_planted_whatsapp_advantage_is_recommended_with_its_numbers_and_alike_markets_are_not() {
    for backend in Backend::ALL {
        the_planted_whatsapp_advantage(backend).await;
    }
}

async fn the_planted_whatsapp_advantage(backend: Backend) {
    for seed in SEEDS {
        let s = synced(seed, backend).await;
        let page = overview(&s, "").await;
        let what = format!("seed {seed}");
        let (from, to) = (page.start.as_str(), page.end.as_str());
        let in_range: Vec<&Row> =
            s.rows.iter().filter(|r| r.date_created.as_str() >= from && r.date_created.as_str() < to).collect();
        let moves = &page.what_to_do.recommendations;
        for country in ["CO", "BR", "IN"] {
            let found = moves
                .iter()
                .find(|r| r.country == country && r.better.channel == "whatsapp" && r.worse.channel == "sms")
                .unwrap_or_else(|| panic!("{what}: no WhatsApp-over-SMS move in {country}: {moves:#?}"));
            check_numbers(found, &in_range, &what);
            assert!(found.summary.starts_with(&format!("{country}: WhatsApp converts ")), "{}", found.summary);
            assert_eq!(found.href, format!("/?country={country}&by=channel"));
        }
        // Markets whose SMS and WhatsApp convert within a few points of each other.
        for country in ["US", "GB", "DE", "FR", "ES"] {
            let between = |r: &&ChannelRecommendation| {
                r.country == country
                    && [r.better.channel.as_str(), r.worse.channel.as_str()]
                        .iter()
                        .all(|c| ["sms", "whatsapp"].contains(c))
            };
            assert!(!moves.iter().any(|r| between(&r)), "{what}: {country} {:#?}", moves.iter().find(between));
        }
        for r in moves {
            check_numbers(r, &in_range, &what);
        }
        let saved: Vec<f64> = moves.iter().map(|r| r.saved).collect();
        assert!(saved.windows(2).all(|w| w[0] >= w[1]), "{what}: ranked by money saved: {saved:?}");

        // The view of one market shows its moves alone, with the same numbers (its false
        // discovery control counts its own comparisons only).
        let co = overview(&s, "country=CO&by=channel").await;
        let figures = |r: &ChannelRecommendation| (r.better.clone(), r.worse.clone(), r.summary.clone(), r.saved);
        let co_moves: Vec<_> = moves.iter().filter(|r| r.country == "CO").map(figures).collect();
        assert_eq!(
            co.what_to_do.recommendations.iter().map(figures).collect::<Vec<_>>(),
            co_moves,
            "{what}: CO's view"
        );
    }
}

/// What each burst cost is read once, ahead of the first page (as the server does after
/// loading the rollups), and the page then shows what was read.
#[tokio::test]
async fn every_bursts_cost_is_read_once_ahead_of_the_first_page() {
    for backend in Backend::ALL {
        every_bursts_cost_read_once(backend).await;
    }
}

async fn every_bursts_cost_read_once(backend: Backend) {
    let s = synced(SEEDS[0], backend).await;
    let rollups = Arc::new(RollupCache::with_fees(FeeSchedule::list_price()));
    let index = rollups.get_current(&s.store).await.unwrap();
    let scans = store::RawScans::default();
    assert_eq!(analytics::read_every_burst_cost(&s.store, &scans, &index).await.unwrap(), 1, "the planted burst");
    assert_eq!(analytics::read_every_burst_cost(&s.store, &scans, &index).await.unwrap(), 0, "read once");
    let burst = index.incidents().iter().find(|i| i.anomaly.kind == "sms-pumping").expect("a burst");
    let remembered = index.remembered_burst_costs(burst).expect("remembered");
    let page = overview(&s, "").await;
    let shown = &page.what_to_do.fraud[0];
    let remembered_attempts: i64 = remembered.days.iter().map(|(_, _, n, _)| n).sum();
    assert_eq!(shown.attempts, remembered_attempts as u64, "the page shows what was read ahead");
}

#[tokio::test]
async fn the_burst_its_cost_and_its_number_blocks_equal_the_attempts() {
    for backend in Backend::ALL {
        the_burst_and_its_cost(backend).await;
    }
}

async fn the_burst_and_its_cost(backend: Backend) {
    let s = synced(SEEDS[0], backend).await;
    let page = overview(&s, "").await;
    let bursts = &page.what_to_do.fraud;
    assert_eq!(bursts.len(), 1, "the emulator plants one burst: {bursts:#?}");
    let burst = &bursts[0];
    let of_burst: Vec<&Row> = s
        .rows
        .iter()
        .filter(|r| {
            r.date_created >= burst.start
                && r.date_created < burst.end
                && r.country.as_deref() == Some(burst.country.as_str())
                && r.channel == "sms"
                && r.conversion_status == "unconverted"
        })
        .collect();
    assert_eq!(burst.attempts, of_burst.len() as u64);
    let mut days: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for r in &of_burst {
        let day = days.entry(r.date_created[..10].to_string()).or_default();
        day.0 += 1;
        day.1 += if r.price_unit.is_some() { r.price.unwrap_or(0.0) } else { 0.0 };
    }
    let got: Vec<(String, u64)> = burst.days.iter().map(|(d, n, _)| (d.clone(), *n)).collect();
    assert_eq!(got, days.iter().map(|(d, (n, _))| (d.clone(), *n)).collect::<Vec<_>>());
    for (day, _, fees) in &burst.days {
        close(fees.iter().map(|m| m.amount).sum(), days[day].1, &format!("fees of {day}"));
    }
    close(burst.channel_fees.iter().map(|m| m.amount).sum(), days.values().map(|d| d.1).sum(), "the burst's fees");
    // Its numbers are sequential: one or two blocks of 10,000 hold nearly all of them.
    let mut blocks: BTreeMap<String, u64> = BTreeMap::new();
    for r in &of_burst {
        let to = r.to.as_deref().unwrap();
        *blocks.entry(to[..to.len() - 4].to_string()).or_default() += 1;
    }
    for (prefix, n) in &burst.prefixes {
        assert_eq!(blocks.get(prefix), Some(n), "block {prefix}");
    }
    let listed: u64 = burst.prefixes.iter().map(|(_, n)| n).sum();
    assert!(
        listed as f64 >= 0.8 * burst.attempts as f64,
        "the listed blocks hold the burst: {listed} of {}",
        burst.attempts
    );

    // Blocked traffic: the attempts of the blocking codes, per code.
    let (from, to) = (page.start.as_str(), page.end.as_str());
    let mut blocked: BTreeMap<String, u64> = BTreeMap::new();
    for r in s.rows.iter().filter(|r| r.date_created.as_str() >= from && r.date_created.as_str() < to) {
        if let Some(code) = r.error_code.as_deref().filter(|c| ["30450", "30453", "60410", "60605"].contains(c)) {
            *blocked.entry(code.to_string()).or_default() += 1;
        }
    }
    let got: BTreeMap<String, u64> = page.what_to_do.blocked.by_code.iter().cloned().collect();
    assert_eq!(got, blocked);
    assert!(page.what_to_do.blocked.attempts > 0);
}

#[tokio::test]
async fn every_cost_is_channel_fees_plus_the_fee_per_converted_verification() {
    for backend in Backend::ALL {
        every_cost_is_fees_plus_the_fee(backend).await;
    }
}

async fn every_cost_is_fees_plus_the_fee(backend: Backend) {
    let s = synced(SEEDS[1], backend).await;
    for query in ["", "by=channel", "country=IN&by=carrier", "channel=whatsapp&by=day"] {
        let page = overview(&s, query).await;
        let filters = parse_query(query).filters;
        let (from, to) = (page.start.as_str(), page.end.as_str());
        let selected: Vec<&Row> = s
            .rows
            .iter()
            .filter(|r| {
                r.date_created.as_str() >= from
                    && r.date_created.as_str() < to
                    && (filters.countries.is_empty()
                        || filters.countries.contains(&r.country.clone().unwrap_or_default()))
                    && (filters.channels.is_empty() || filters.channels.iter().any(|c| c.as_str() == r.channel))
            })
            .collect();
        let fees: f64 = selected.iter().filter(|r| r.price_unit.is_some()).map(|r| r.price.unwrap_or(0.0)).sum();
        let converted: BTreeSet<&str> = selected
            .iter()
            .filter(|r| r.conversion_status == "converted")
            .map(|r| r.verification_sid.as_str())
            .collect();
        let unpriced = selected.iter().filter(|r| r.price.is_none() && r.channel != "email").count() as u64;
        let t = &page.totals;
        let usd = |money: &[verilens::page_data::Money]| money.iter().map(|m| m.amount).sum::<f64>();
        close(usd(&t.spend), fees, &format!("?{query}: channel fees"));
        close(usd(&t.verification_fees), FEE * converted.len() as f64, &format!("?{query}: verification fees"));
        close(usd(&t.total_cost()), fees + FEE * converted.len() as f64, &format!("?{query}: total cost"));
        close(
            usd(&t.cost_per_conversion()),
            (fees + FEE * converted.len() as f64) / converted.len() as f64,
            &format!("?{query}: cost per success"),
        );
        assert_eq!(t.unpriced_attempts, unpriced, "?{query}: unpriced");
        // Spend on verifications that never converted (anywhere in the snapshot), per row and in all.
        let converted_anywhere: BTreeSet<&str> =
            s.rows.iter().filter(|r| r.conversion_status == "converted").map(|r| r.verification_sid.as_str()).collect();
        let mut never: BTreeMap<String, f64> = BTreeMap::new();
        for r in selected.iter().filter(|r| !converted_anywhere.contains(r.verification_sid.as_str())) {
            let key = match filters.by {
                verilens::filters::Dimension::Country => r.country.clone().unwrap_or_default(),
                verilens::filters::Dimension::Channel => r.channel.clone(),
                verilens::filters::Dimension::Carrier => r.carrier.clone().unwrap_or_default(),
                verilens::filters::Dimension::Day => r.date_created[..10].to_string(),
                other => panic!("{other:?} is not a breakdown this test reads"),
            };
            *never.entry(key).or_default() += if r.price_unit.is_some() { r.price.unwrap_or(0.0) } else { 0.0 };
        }
        for row in &page.rows {
            let want = never.get(&row.key).copied().unwrap_or(0.0);
            close(
                usd(&row.metrics.unconverted_verification_spend),
                want,
                &format!("?{query}: [{}] never converted", row.key),
            );
        }
        close(usd(&t.unconverted_verification_spend), never.values().sum(), &format!("?{query}: never converted"));
        // The breakdown's rows add up to the totals.
        let rows_fees: f64 = page.rows.iter().map(|r| usd(&r.metrics.verification_fees)).sum();
        if matches!(filters.by, verilens::filters::Dimension::Channel) {
            assert!(
                rows_fees >= usd(&t.verification_fees) - 1e-6,
                "a verification converted on two channels pays in both rows"
            );
        } else {
            close(rows_fees, usd(&t.verification_fees), &format!("?{query}: rows' verification fees"));
        }
    }
    // A configured fee, and the emulator's unpriced recent attempts, are shown as such.
    let page = overview(&s, "").await;
    assert!(page.verification_fee.contains("Twilio's list price"), "{}", page.verification_fee);
    assert!(page.totals.unpriced_attempts > 0, "the last hours' attempts are not priced yet");
}
