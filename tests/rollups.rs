//! The rollups against an independent computation in plain Rust over the attempts:
//! every metric, every breakdown, for many filter combinations, after the attempts
//! arrived in shuffled pages and were later updated, including verifications that
//! straddle hours, days and carriers, mixed currencies, a single attempt and empty views.

use crate::common::{self, Backend};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use verilens::analytics;
use verilens::emulator::dataset::{Dataset, DatasetConfig};
use verilens::emulator::render::render_attempt;
use verilens::filters::{Dimension, Filters, parse_query};
use verilens::model::{Attempt, ConversionStatus, Price, twilio_time};
use verilens::page_data::Metrics;
use verilens::store::{self, AttemptScope};

fn now() -> DateTime<Utc> {
    twilio_time::parse("2026-11-20T15:30:00Z").unwrap()
}

/// Deterministic changes that make some verifications irregular and some prices euros.
fn mutate(attempts: &mut [Attempt]) {
    let mut by_verification: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, a) in attempts.iter().enumerate() {
        by_verification.entry(a.verification_sid.clone()).or_default().push(i);
    }
    // Keyed by the verification's SID, so an earlier and a later rendering change the same attempts.
    for (sid, indexes) in &by_verification {
        let n = sid.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        if n % 7 == 0 {
            for &i in &indexes[1..] {
                attempts[i].date_created += Duration::minutes(70);
                attempts[i].date_updated += Duration::minutes(70);
            }
        }
        if let (0, Some(data)) = (n % 11, attempts[indexes[0]].channel_data.as_mut()) {
            data.carrier = Some("Other Carrier".into());
        }
        if n % 13 == 0 {
            for &i in indexes {
                if let Some(price) = attempts[i].price.as_mut() {
                    price.currency = Some("eur".into());
                }
            }
        }
    }
}

fn rendered(dataset: &Dataset, at: DateTime<Utc>) -> Vec<Attempt> {
    let mut attempts: Vec<Attempt> = dataset
        .records
        .iter()
        .filter(|r| r.created <= at.timestamp())
        .map(|r| render_attempt(dataset, r, at.timestamp(), "http://localhost"))
        .collect();
    mutate(&mut attempts);
    attempts
}

fn shuffled(mut attempts: Vec<Attempt>, seed: u64) -> Vec<Attempt> {
    let mut state = seed;
    for i in (1..attempts.len()).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        attempts.swap(i, (state >> 33) as usize % (i + 1));
    }
    attempts
}

async fn ingest(pool: &sqlx::SqlitePool, attempts: &[Attempt], page: usize) {
    for chunk in attempts.chunks(page) {
        let mut tx = store::begin_write(pool).await.unwrap();
        store::upsert_attempts(&mut tx, chunk).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// As the sync's writer does: several pages per transaction, their rollups written once before the commit.
async fn ingest_pages_per_transaction(pool: &sqlx::SqlitePool, attempts: &[Attempt], page: usize, pages: usize) {
    for transaction in attempts.chunks(page * pages) {
        let mut tx = store::begin_write(pool).await.unwrap();
        let mut rollups = store::PendingRollups::new(&mut tx).await.unwrap();
        for chunk in transaction.chunks(page) {
            store::upsert_attempts_pending(&mut tx, chunk, &mut rollups).await.unwrap();
        }
        store::write_rollups(&mut tx, rollups).await.unwrap();
        tx.commit().await.unwrap();
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
    wasted: BTreeMap<String, f64>,
}

fn matches(a: &Attempt, f: &Filters, from: &str, to: &str) -> bool {
    let created = twilio_time::format(&a.date_created);
    let data = a.channel_data.clone().unwrap_or_default();
    let within = |values: &[String], value: Option<&String>| {
        values.is_empty() || value.is_some_and(|v| values.iter().any(|x| x == v))
    };
    created.as_str() >= from
        && created.as_str() < to
        && within(&f.countries, data.country.as_ref())
        && within(&f.carriers, data.carrier.as_ref())
        && within(&f.services, Some(&a.service_sid))
        && within(&f.accounts, Some(&a.account_sid))
        && (f.channels.is_empty() || f.channels.contains(&a.channel))
        && (f.errors.is_empty()
            || f.errors.iter().any(|e| match &data.error_code {
                None => e == "none",
                Some(code) => code == e,
            }))
        && f.status.is_none_or(|s| s == a.conversion_status)
        && f.prefix.as_ref().is_none_or(|p| data.to.as_deref().is_some_and(|to| to.starts_with(p.as_str())))
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

fn expected(
    attempts: &[Attempt],
    f: &Filters,
    from: &str,
    to: &str,
    by: Option<Dimension>,
) -> BTreeMap<String, Expected> {
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    for a in attempts.iter().filter(|a| matches(a, f, from, to)) {
        let e = out.entry(key(a, by)).or_default();
        let converted = a.conversion_status == ConversionStatus::Converted;
        e.attempts += 1;
        e.verifications.insert(a.verification_sid.clone());
        if converted {
            e.converted += 1;
            e.converted_verifications.insert(a.verification_sid.clone());
        }
        let status = a.channel_data.as_ref().and_then(|d| d.message_status.clone()).unwrap_or_default();
        e.delivered += u64::from(matches!(status.as_str(), "delivered" | "read"));
        e.finalized += u64::from(matches!(status.as_str(), "delivered" | "read" | "undelivered" | "failed"));
        if let Some(Price { value: Some(value), currency: Some(currency) }) = &a.price {
            let amount: f64 = value.parse().unwrap();
            *e.spend.entry(currency.to_ascii_uppercase()).or_default() += amount;
            if !converted {
                *e.wasted.entry(currency.to_ascii_uppercase()).or_default() += amount;
            }
        }
    }
    out
}

/// Spend per key and currency on the attempts a view selects whose verification has no
/// converted attempt among all of `attempts`.
fn never_converted_spend(
    attempts: &[Attempt],
    f: &Filters,
    from: &str,
    to: &str,
    by: Option<Dimension>,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let converted: BTreeSet<&str> = attempts
        .iter()
        .filter(|a| a.conversion_status == ConversionStatus::Converted)
        .map(|a| a.verification_sid.as_str())
        .collect();
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for a in attempts.iter().filter(|a| matches(a, f, from, to) && !converted.contains(a.verification_sid.as_str())) {
        if let Some(Price { value: Some(value), currency: Some(currency) }) = &a.price {
            let amount: f64 = value.parse().unwrap();
            *out.entry(key(a, by)).or_default().entry(currency.to_ascii_uppercase()).or_default() += amount;
        }
    }
    out.retain(|_, m| m.values().any(|a| a.abs() > 1e-9));
    out
}

fn money(m: &[verilens::page_data::Money]) -> BTreeMap<String, f64> {
    m.iter().map(|m| (m.currency.clone(), m.amount)).collect()
}

fn same_money(got: &BTreeMap<String, f64>, want: &BTreeMap<String, f64>, what: &str) {
    let got: BTreeMap<&String, &f64> = got.iter().filter(|(_, v)| v.abs() > 1e-9).collect();
    let want: BTreeMap<&String, &f64> = want.iter().filter(|(_, v)| v.abs() > 1e-9).collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: currencies");
    for (currency, amount) in want {
        assert!((*got[currency] - *amount).abs() < 1e-6, "{what}: {currency} {} != {amount}", got[currency]);
    }
}

fn check(got: &BTreeMap<String, Metrics>, want: &BTreeMap<String, Expected>, what: &str) {
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: keys");
    for (k, w) in want {
        let g = &got[k];
        let what = format!("{what} [{k}]");
        assert_eq!(g.attempts, w.attempts, "{what}: attempts");
        assert_eq!(g.converted, w.converted, "{what}: converted");
        assert_eq!(g.verifications, w.verifications.len() as u64, "{what}: verifications");
        assert_eq!(
            g.converted_verifications,
            w.converted_verifications.len() as u64,
            "{what}: converted verifications"
        );
        assert_eq!(g.delivered, w.delivered, "{what}: delivered");
        assert_eq!(g.finalized, w.finalized, "{what}: finalized");
        same_money(&money(&g.spend), &w.spend, &format!("{what}: spend"));
        same_money(&money(&g.unconverted_attempt_spend), &w.wasted, &format!("{what}: wasted spend"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rollups_answer_every_view_like_the_raw_attempts() {
    let dataset = Dataset::generate(DatasetConfig { seed: 5, attempts: 12_000, days: 8 }, "AC".repeat(17), now());
    let early = rendered(&dataset, now() - Duration::hours(5));
    let mut last = rendered(&dataset, now());
    // One attempt of its own: the single-attempt view.
    let mut solo = last[0].clone();
    solo.sid = format!("VL{}", "5".repeat(32));
    solo.verification_sid = format!("VE{}", "5".repeat(32));
    solo.channel_data.as_mut().unwrap().carrier = Some("Solo Telecom".into());
    last.push(solo);

    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("rollups.db")).await.unwrap();
    ingest(&pool, &shuffled(early, 1), 700).await;
    // As a sync does: hour rows from 72 hours before the end of its window on.
    let horizon = twilio_time::format(&(now() - Duration::hours(store::HOUR_GRAIN_HOURS)));
    store::advance_hour_horizon(&pool, &horizon).await.unwrap();
    let hour_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rollup_attempts WHERE grain = 'hour' AND period < ?")
        .bind(&horizon[..13])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(hour_rows, 0, "hour rows before the horizon are dropped");
    // Later statuses and prices, several pages per transaction: a verification's attempts
    // change in different pages of one transaction, and its rollup rows are written once.
    ingest_pages_per_transaction(&pool, &shuffled(last.clone(), 2), 900, 4).await;
    let irregular: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT verification_sid) FROM irregular_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(irregular > 20, "the data must exercise irregular verifications ({irregular})");

    let sms_carrier = last
        .iter()
        .find(|a| {
            a.channel.as_str() == "sms" && a.channel_data.as_ref().is_some_and(|d| d.country.as_deref() == Some("US"))
        })
        .and_then(|a| a.channel_data.as_ref()?.carrier.clone())
        .unwrap();
    let service = last[0].service_sid.clone();
    let carrier: String = form_urlencoded::byte_serialize(sms_carrier.as_bytes()).collect();
    let queries = [
        String::new(),
        "channel=sms".into(),
        "channel=sms&channel=whatsapp".into(),
        "status=converted".into(),
        "status=unconverted&channel=sms".into(),
        "status=unconverted&channel=whatsapp&channel=email".into(),
        "country=CO".into(),
        format!("country=US&carrier={carrier}"),
        "error=30008".into(),
        "error=none".into(),
        "error=30008&error=none".into(),
        "error=30008&status=unconverted&channel=sms".into(),
        format!("service={service}&country=BR&country=IN"),
        "range=24h".into(),
        "range=24h&channel=whatsapp".into(),
        "range=7d&status=converted".into(),
        "from=2026-11-15&to=2026-11-16".into(),
        "from=2026-11-18&to=2026-11-18&channel=sms".into(),
        "country=ZZ".into(),
        "carrier=Solo%20Telecom".into(),
        "prefix=%2B57".into(),
    ];
    let rollups = std::sync::Arc::new(verilens::analytics::RollupCache::default());
    let index = rollups.get(&pool.clone().into()).await.unwrap();
    for query in &queries {
        let parsed = parse_query(query);
        assert!(parsed.notices.is_empty(), "{query}: {:?}", parsed.notices);
        let f = parsed.filters;
        let (start, end) = f.range.bounds(now());
        let scope = AttemptScope { from: twilio_time::format(&start), to: twilio_time::format(&end), filters: &f };
        if !query.contains("prefix") {
            assert!(index.grain_for(&scope).is_some(), "{query} should be answered from the rollups");
        }
        let by_dims = std::iter::once(None).chain(Dimension::ALL.into_iter().map(Some));
        for by in by_dims {
            let want = expected(&last, &f, &scope.from, &scope.to, by);
            let got =
                analytics::metrics_by(&pool.clone().into(), &verilens::store::RawScans::default(), &index, &scope, by)
                    .await
                    .unwrap();
            check(&got, &want, &format!("?{query} by {by:?}"));
            let raw = store::raw_metrics_by(
                &pool.clone().into(),
                &verilens::store::RawScans::default(),
                &scope,
                by,
                &Default::default(),
            )
            .await
            .unwrap();
            check(&raw, &want, &format!("raw ?{query} by {by:?}"));
            // Spend on attempts of verifications that never converted, in or out of the view.
            let never = never_converted_spend(&last, &f, &scope.from, &scope.to, by);
            let got = analytics::unconverted_verification_spend_by(
                &pool.clone().into(),
                &verilens::store::RawScans::default(),
                &index,
                &scope,
                by,
            )
            .await
            .unwrap();
            let raw =
                store::raw_unconverted_verification_spend_by(&pool.clone().into(), &Default::default(), &scope, by)
                    .await
                    .unwrap();
            for (source, got) in [("rollups", got), ("raw", raw)] {
                let keys = |m: &BTreeMap<String, BTreeMap<String, f64>>| -> Vec<String> {
                    m.iter().filter(|(_, v)| v.values().any(|a| a.abs() > 1e-9)).map(|(k, _)| k.clone()).collect()
                };
                let got: BTreeMap<String, BTreeMap<String, f64>> = got
                    .into_iter()
                    .map(|(k, m)| (k, m.iter().map(|m| (m.currency.to_ascii_uppercase(), m.amount)).collect()))
                    .collect();
                let what = format!("{source} never-converted spend of ?{query} by {by:?}");
                assert_eq!(keys(&got), keys(&never), "{what}: keys");
                for (key, want) in &never {
                    same_money(&got.get(key).cloned().unwrap_or_default(), want, &format!("{what} [{key}]"));
                }
            }
        }
        for hourly in [false, true] {
            let series =
                analytics::series(&pool.clone().into(), &verilens::store::RawScans::default(), &index, &scope, hourly)
                    .await
                    .unwrap();
            let mut want: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
            for a in last.iter().filter(|a| matches(a, &f, &scope.from, &scope.to)) {
                let bucket = twilio_time::format(&a.date_created)[..if hourly { 13 } else { 10 }].to_string();
                let e = want.entry((bucket, a.channel.as_str().to_string())).or_default();
                e.0 += 1;
                e.1 += u64::from(a.conversion_status == ConversionStatus::Converted);
            }
            let got: BTreeMap<(String, String), (u64, u64)> = series
                .into_iter()
                .filter(|p| p.attempts > 0)
                .map(|p| ((p.bucket, p.channel), (p.attempts, p.converted)))
                .collect();
            assert_eq!(got, want, "series of ?{query} (hourly {hourly})");
        }
    }

    // A rebuild from the raw rows gives exactly what the page-by-page maintenance kept.
    let empty: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM rollup_attempts WHERE attempts = 0) \
         + (SELECT COUNT(*) FROM rollup_verifications WHERE verifications = 0) \
         + (SELECT COUNT(*) FROM rollup_hours WHERE attempts = 0)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(empty, 0, "no emptied rows are kept");
    let read = common::assert_rollups_equal_a_rebuild(&pool).await;
    assert_eq!(read, last.len() as u64);
}

/// While a sync commits, requests get the index they have at once; a newer one is
/// built in the background and served from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_serves_its_index_while_a_newer_one_is_built() {
    let dataset = Dataset::generate(DatasetConfig { seed: 6, attempts: 3_000, days: 3 }, "AC".repeat(17), now());
    let attempts = rendered(&dataset, now());
    let (first, second) = attempts.split_at(attempts.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("cache.db")).await.unwrap();
    ingest(&pool, first, 500).await;
    let cache = std::sync::Arc::new(verilens::analytics::RollupCache::default());
    let built = cache.get(&pool.clone().into()).await.unwrap();
    assert_eq!(built.generation, store::rollup_generation(&pool).await.unwrap());

    ingest(&pool, second, 500).await;
    let newest = store::rollup_generation(&pool).await.unwrap();
    // Waits for the background build; the deadline only turns a build that never comes into a failure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut served_stale = false;
    loop {
        let index = cache.get(&pool.clone().into()).await.unwrap();
        if index.generation == newest {
            break;
        }
        assert_eq!(index.generation, built.generation, "an older index is the one it had");
        served_stale = true;
        assert!(std::time::Instant::now() < deadline, "the newer index was never built");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(served_stale, "right after the commits, the cache answers with the index it has");
}

/// A bulk load as the sync runs one: pages appended without indexes, their rollups summed
/// as they come, then the indexes built and the rollups written.
async fn bulk_load(pool: &sqlx::SqlitePool, attempts: &[Attempt], summed_verifications: usize) {
    store::drop_attempt_indexes(pool).await.unwrap();
    let mut summed = store::rollups_to_sum(pool, summed_verifications).await.unwrap().expect("an empty snapshot");
    for chunk in attempts.chunks(500) {
        summed.add(chunk);
        let mut tx = store::begin_write(pool).await.unwrap();
        store::append_prepared(&mut tx, store::PreparedAppend::of(chunk.to_vec())).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(store::build_attempt_indexes(pool, Some(summed)).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_load_sums_the_verifications_it_can_hold_and_counts_the_rest_at_its_end() {
    let dataset = Dataset::generate(DatasetConfig { seed: 9, attempts: 6_000, days: 5 }, "AC".repeat(17), now());
    let mut attempts = shuffled(rendered(&dataset, now()), 3);
    // SIDs of other forms, which sort among Twilio's: upper-case hex, and too short.
    let verifications: BTreeSet<String> = attempts.iter().map(|a| a.verification_sid.clone()).collect();
    for (i, sid) in verifications.iter().enumerate().filter(|(i, _)| i % 97 == 0) {
        let other = if i % 2 == 0 { sid.to_ascii_uppercase() } else { sid[..20].to_string() };
        for a in attempts.iter_mut().filter(|a| &a.verification_sid == sid) {
            a.verification_sid = other.clone();
        }
    }
    for (limit, name) in [(store::SUMMED_VERIFICATIONS, "all summed"), (150, "150 summed"), (1, "one summed")] {
        let dir = tempfile::tempdir().unwrap();
        let pool = store::open(&dir.path().join("bulk.db")).await.unwrap();
        bulk_load(&pool, &attempts, limit).await;
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts").fetch_one(&pool).await.unwrap();
        assert_eq!(stored as usize, attempts.len(), "{name}");
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT verification_sid) FROM irregular_attempts")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(kept > 20, "{name}: the data must exercise irregular verifications ({kept})");
        assert_eq!(common::assert_rollups_equal_a_rebuild(&pool).await, attempts.len() as u64, "{name}");
        common::assert_connections_have_usual_settings(&pool).await;
    }
}

/// A write of attempts records the periods it touched, and a reader holding the rollups
/// reads again only those: the attempt's day and hour, and the day and hour it moved from
/// when a later listing moves it. A rebuild makes every reader read every row.
#[tokio::test]
async fn a_refresh_reads_only_the_periods_a_write_touched() {
    for backend in Backend::ALL {
        a_refresh_reads_only_touched_periods(backend).await;
    }
}

async fn a_refresh_reads_only_touched_periods(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let at = |text: &str| twilio_time::parse(text).unwrap();
    let one = common::snapshots::attempt(1, at("2026-11-20T10:15:00Z"), "CO", false);
    let other = common::snapshots::attempt(2, at("2026-11-25T08:00:00Z"), "BR", true);
    let snapshot = backend.open(dir.path()).await;
    common::snapshots::holding(&snapshot, &[one.clone(), other], "2026-11-01T00:00:00Z", now()).await;
    let changes_since = async |generation| match snapshot.read_rollup_changes(generation).await.unwrap() {
        store::RollupChanges::Periods { periods, rows } => Some((
            periods.into_iter().map(|(grain, period)| format!("{}:{period}", grain.as_str())).collect::<Vec<_>>(),
            rows,
        )),
        store::RollupChanges::Everything(_) => None,
    };
    let before = snapshot.rollup_generation().await.unwrap();
    let (nothing, _) = changes_since(before).await.expect("no rebuild since");
    assert!(nothing.is_empty(), "nothing written since: {nothing:?}");

    // The first listing converts, an hour later.
    let mut converted = one.clone();
    converted.conversion_status = ConversionStatus::Converted;
    converted.date_updated += Duration::hours(1);
    snapshot.write_attempts(&[converted]).await.unwrap();
    let (periods, rows) = changes_since(before).await.expect("an upsert is no rebuild");
    let mut want = vec!["day:2026-11-20", "hour:2026-11-20T10"];
    assert_eq!(periods, want, "the periods its attempt is counted in");
    assert!(rows.attempts.iter().all(|r| r.period.starts_with("2026-11-20")), "only their rows are read");
    assert_eq!(rows.attempts.iter().filter(|r| r.grain == "day").map(|r| r.attempts).sum::<i64>(), 1);
    assert_eq!(rows.hours.iter().map(|r| (r.hour.as_str(), r.converted)).collect::<Vec<_>>(), [("2026-11-20T10", 1)]);

    // A later listing moved to another day (a clock fixed upstream): both days are read again.
    let after_first = snapshot.rollup_generation().await.unwrap();
    let mut moved = one.clone();
    moved.date_created = at("2026-11-21T23:30:00Z");
    moved.date_updated = moved.date_created + Duration::hours(2);
    snapshot.write_attempts(&[moved]).await.unwrap();
    let (periods, rows) = changes_since(after_first).await.expect("an upsert is no rebuild");
    want = vec!["day:2026-11-20", "day:2026-11-21", "hour:2026-11-20T10", "hour:2026-11-21T23"];
    assert_eq!(periods, want, "where it was counted and where it is now");
    assert!(!rows.attempts.iter().any(|r| r.period.starts_with("2026-11-20")), "the day it left has no row left");

    if let Some(pool) = snapshot.sqlite() {
        store::rebuild_rollups(pool).await.unwrap();
        assert!(changes_since(after_first).await.is_none(), "after a rebuild, readers read every row");
    }
}

/// The spend of verifications that never converted is kept in the rollups: a verification
/// that converts after midnight takes both days' attempts out of it, and the figure the
/// rollups give after each write equals the raw rows'.
#[tokio::test]
async fn the_spend_of_verifications_that_never_converted_follows_each_write() {
    for backend in Backend::ALL {
        never_converted_spend_follows_each_write(backend).await;
    }
}

async fn never_converted_spend_follows_each_write(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let at = |text: &str| twilio_time::parse(text).unwrap();
    let mut far = common::snapshots::attempt(1, at("2026-11-10T12:00:00Z"), "CO", false);
    let mut before_midnight = common::snapshots::attempt(2, at("2026-11-19T23:58:00Z"), "CO", false);
    let mut after_midnight = common::snapshots::attempt(3, at("2026-11-20T00:01:00Z"), "CO", false);
    after_midnight.verification_sid = before_midnight.verification_sid.clone();
    far.price = Some(Price { value: Some("0.0300".into()), currency: Some("USD".into()) });
    before_midnight.price = Some(Price { value: Some("0.0500".into()), currency: Some("USD".into()) });
    after_midnight.price = Some(Price { value: Some("0.0700".into()), currency: Some("USD".into()) });
    let attempts = [far, before_midnight, after_midnight.clone()];
    let snapshot = backend.open(dir.path()).await;
    common::snapshots::holding(&snapshot, &attempts, "2026-11-01T00:00:00Z", now()).await;
    let cache = std::sync::Arc::new(analytics::RollupCache::default());
    let filters = Filters::default();
    let scope =
        AttemptScope { from: "2026-11-01T00:00:00Z".into(), to: "2026-11-25T00:00:00Z".into(), filters: &filters };
    let by_day = async |index: &analytics::RollupIndex| {
        let scans = store::RawScans::default();
        let rollups =
            analytics::unconverted_verification_spend_by(&snapshot, &scans, index, &scope, Some(Dimension::Day));
        let raw = store::raw_unconverted_verification_spend_by(&snapshot, &scans, &scope, Some(Dimension::Day));
        let cents = |spend: BTreeMap<String, Vec<verilens::page_data::Money>>| -> Vec<(String, i64)> {
            spend
                .into_iter()
                .flat_map(|(day, money)| money.into_iter().map(move |m| (day.clone(), (m.amount * 1e4).round() as i64)))
                .filter(|(_, amount)| *amount != 0)
                .collect()
        };
        let (rollups, raw) = (cents(rollups.await.unwrap()), cents(raw.await.unwrap()));
        assert_eq!(rollups, raw, "the rollups and the raw rows");
        rollups
    };
    let index = cache.get_current(&snapshot).await.unwrap();
    assert!(index.grain_for(&scope).is_some(), "a view the rollups answer");
    let day = |d: &str, amount: i64| (d.to_string(), amount);
    assert_eq!(by_day(&index).await, [day("2026-11-10", 300), day("2026-11-19", 500), day("2026-11-20", 700)]);

    let mut converted = after_midnight;
    converted.conversion_status = ConversionStatus::Converted;
    converted.date_updated += Duration::minutes(2);
    snapshot.write_attempts(&[converted]).await.unwrap();
    let refreshed = cache.get_current(&snapshot).await.unwrap();
    assert!(refreshed.generation > index.generation);
    assert_eq!(by_day(&refreshed).await, [day("2026-11-10", 300)], "the converted verification leaves both days");
    if let Some(pool) = snapshot.sqlite() {
        assert_eq!(common::assert_rollups_equal_a_rebuild(pool).await, 3);
    }
}

/// A verification that straddles midnight is counted once when a write re-reads one of its
/// days and the index keeps the other: every view of the refreshed index equals a new build's.
#[tokio::test]
async fn a_refreshed_index_counts_a_verification_across_a_kept_and_a_new_day_once() {
    for backend in Backend::ALL {
        a_straddling_verification_counted_once(backend).await;
    }
}

async fn a_straddling_verification_counted_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let at = |text: &str| twilio_time::parse(text).unwrap();
    let before_midnight = common::snapshots::attempt(1, at("2026-11-19T23:58:00Z"), "CO", false);
    let mut after_midnight = common::snapshots::attempt(2, at("2026-11-20T00:01:00Z"), "BR", true);
    after_midnight.verification_sid = before_midnight.verification_sid.clone();
    // An earlier verification across two countries, so that the SIDs' order in a build and in
    // a refresh differ.
    let earlier = common::snapshots::attempt(0, at("2026-11-18T10:00:00Z"), "CO", false);
    let mut earlier_abroad = common::snapshots::attempt(5, at("2026-11-18T10:02:00Z"), "BR", false);
    earlier_abroad.verification_sid = earlier.verification_sid.clone();
    let attempts = [before_midnight, after_midnight, earlier, earlier_abroad];
    let snapshot = backend.open(dir.path()).await;
    common::snapshots::holding(&snapshot, &attempts, "2026-11-01T00:00:00Z", now()).await;
    let cache = std::sync::Arc::new(analytics::RollupCache::default());
    let index = cache.get_current(&snapshot).await.unwrap();

    // Another verification on the second day only: that day is read again, the first is kept.
    let other = common::snapshots::attempt(3, at("2026-11-20T09:00:00Z"), "CO", false);
    snapshot.write_attempts(&[other]).await.unwrap();
    let refreshed = cache.get_current(&snapshot).await.unwrap();
    assert!(refreshed.generation > index.generation, "a refresh, not the same index");
    let built = std::sync::Arc::new(analytics::RollupCache::default()).get_current(&snapshot).await.unwrap();

    let filters = Filters::default();
    let scope =
        AttemptScope { from: "2026-11-01T00:00:00Z".into(), to: "2026-11-25T00:00:00Z".into(), filters: &filters };
    let whole = refreshed.metrics_by(&scope, None, store::Grain::Day);
    let totals: Vec<(u64, u64)> = whole.values().map(|m| (m.verifications, m.converted_verifications)).collect();
    assert_eq!(totals, [(3, 1)], "three verifications, one converted");
    for by in [None, Some(Dimension::Country), Some(Dimension::Day), Some(Dimension::Channel)] {
        assert_eq!(
            refreshed.metrics_by(&scope, by, store::Grain::Day),
            built.metrics_by(&scope, by, store::Grain::Day),
            "by {by:?}: the refreshed index and a new build"
        );
    }
    assert_eq!(refreshed.metrics_by(&scope, Some(Dimension::Country), store::Grain::Day)["CO"].verifications, 3);
}
