//! The deterministic synthetic dataset behind the emulator.
//!
//! Attempts are generated hour by hour: the attempts of an hour depend only on
//! the seed and that hour, so two emulators with the same seed agree on every
//! attempt they both show, and new hours are generated as time moves on.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};

use super::countries::{Market, markets};
use super::rng::{Rng, mix};
use crate::model::Channel;

const HOUR: i64 = 3600;

/// The channels the generator uses, indexed like `Market::channel_mix`.
pub const CHANNELS: [Channel; 4] = [Channel::Sms, Channel::Whatsapp, Channel::Call, Channel::Email];

/// One generated attempt, compact; rendered to JSON on demand.
#[derive(Clone, Debug)]
pub struct Record {
    pub sid: u128,
    pub verification_sid: u128,
    pub created: i64,
    /// When the user entered the code (converted attempts only).
    pub converted_at: Option<i64>,
    /// When `message_status` and `price` reach their final values.
    pub settled_at: i64,
    pub phone: u64,
    pub price_micros: u32,
    pub error_code: u16,
    pub market: u8,
    /// Index into the market's carriers; `NO_CARRIER` for email.
    pub carrier: u8,
    pub channel: u8,
    pub service: u8,
    pub final_status: FinalStatus,
    /// Whether this is the last attempt of its verification.
    pub last_of_verification: bool,
}

pub const NO_CARRIER: u8 = u8::MAX;

/// The delivery outcome an attempt settles to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalStatus {
    Delivered,
    Read,
    Undelivered,
    Failed,
    CallCompleted,
    CallNoAnswer,
    CallBusy,
    EmailDelivered,
}

/// The error codes of failed deliveries, as Twilio reports them.
pub const ERROR_CODES: [u16; 7] = [30003, 30005, 30006, 30007, 30008, 30450, 60410];

/// Everything the generator needs besides the clock.
#[derive(Clone, Debug)]
pub struct DatasetConfig {
    pub seed: u64,
    /// Attempts over the whole window, on average.
    pub attempts: u64,
    pub days: u32,
}

/// The generated attempts, ascending by creation time.
pub struct Dataset {
    pub config: DatasetConfig,
    pub markets: Vec<Market>,
    pub account_sid: String,
    pub service_sids: Vec<u128>,
    pub records: Vec<Record>,
    pub incidents: Incidents,
    sid_index: std::collections::HashMap<u128, u32>,
    /// The window's first hour (unix seconds).
    window_start: i64,
    /// The first hour not generated yet (unix seconds).
    next_hour: i64,
    /// Bursts started live (`start_live_pumping`), for their SIDs.
    live_bursts: u32,
}

/// A span of time, `[start, end)` in unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn contains(&self, t: i64) -> bool {
        (self.start..self.end).contains(&t)
    }
}

/// Things a dashboard should reveal, placed at fixed points of the window.
#[derive(Clone, Debug, PartialEq)]
pub struct Incidents {
    /// Unconverted SMS to sequential numbers in a high-cost country.
    pub sms_pumping: Span,
    pub pumping_market: &'static str,
    pub pumping_attempts: u64,
    /// One carrier's SMS and calls fail.
    pub carrier_outage: Span,
    pub outage_market: &'static str,
    pub outage_carrier: u8,
}

impl Incidents {
    fn place(window_start: i64, days: u32, attempts: u64) -> Self {
        let window = i64::from(days) * 24 * HOUR;
        let at = |share: f64| window_start + ((window as f64 * share) as i64).div_euclid(HOUR) * HOUR;
        let pumping_start = at(0.80) + 2 * HOUR;
        let outage_start = at(0.62) + 5 * HOUR;
        Incidents {
            sms_pumping: Span { start: pumping_start, end: pumping_start + 3 * HOUR },
            pumping_market: "ID",
            pumping_attempts: (attempts / 50).max(300),
            carrier_outage: Span { start: outage_start, end: outage_start + 16 * HOUR },
            outage_market: "US",
            outage_carrier: 0,
        }
    }
}

impl Dataset {
    /// Generates every hour of the window ending at `now`, and the hour `now` is in.
    pub fn generate(config: DatasetConfig, account_sid: String, now: DateTime<Utc>) -> Self {
        Dataset::generate_for(config, markets(), account_sid, now)
    }

    /// Like `generate`, for markets with other figures (prices from `--prices`).
    pub fn generate_for(config: DatasetConfig, markets: Vec<Market>, account_sid: String, now: DateTime<Utc>) -> Self {
        let start_hour = (now.timestamp() - i64::from(config.days) * 24 * HOUR).div_euclid(HOUR) * HOUR;
        let service_sids = (0..3).map(|i| sid_bits(config.seed, 0x5e41_ce00 + i, 0)).collect();
        let incidents = Incidents::place(start_hour, config.days, config.attempts);
        let mut dataset = Dataset {
            incidents,
            markets,
            account_sid,
            service_sids,
            records: Vec::new(),
            sid_index: Default::default(),
            window_start: start_hour,
            next_hour: start_hour,
            live_bursts: 0,
            config,
        };
        dataset.extend_to(now);
        dataset
    }

    /// Generates the hours up to and including the one `now` is in.
    pub fn extend_to(&mut self, now: DateTime<Utc>) {
        let last_hour = now.timestamp().div_euclid(HOUR) * HOUR;
        while self.next_hour <= last_hour {
            let hour = self.next_hour;
            let first = self.records.len();
            generate_hour(&self.config, &self.markets, &self.incidents, (hour, 1.0), &mut self.records);
            self.records[first..].sort_by_key(|r| (r.created, r.sid));
            for (offset, record) in self.records[first..].iter().enumerate() {
                self.sid_index.insert(record.sid, (first + offset) as u32);
            }
            self.next_hour += HOUR;
        }
    }

    /// Starts an SMS-pumping burst now, as the demo's "Start an incident" does: `attempts`
    /// unconverted SMS to sequential numbers in the pumping market, spread over
    /// `[start, start + seconds)`. Returns the burst's span.
    pub fn start_live_pumping(&mut self, start: i64, seconds: i64, attempts: u64) -> Span {
        let span = Span { start, end: start + seconds.max(1) };
        let Some(market_index) = self.markets.iter().position(|m| m.code == self.incidents.pumping_market) else {
            return span;
        };
        self.extend_to(DateTime::from_timestamp(span.end, 0).unwrap_or_default());
        let market = &self.markets[market_index];
        let burst = self.live_bursts;
        self.live_bursts += 1;
        let mut rng = Rng::new(mix(self.config.seed ^ 0x11fe, start as u64));
        let first_number = 10u64.pow(market.subscriber_digits - 1) * 5 + rng.below(1_000_000);
        let tag = 0x11fe_0000 + u64::from(burst);
        for k in 0..attempts {
            let created = start + (k as i64 * (span.end - start)) / attempts.max(1) as i64;
            let (final_status, error_code) =
                if rng.chance(0.7) { (FinalStatus::Delivered, 0) } else { (FinalStatus::Undelivered, 30008) };
            self.records.push(Record {
                sid: sid_bits(self.config.seed, tag, k),
                verification_sid: sid_bits(self.config.seed, tag, 1_000_000 + k),
                created,
                converted_at: None,
                settled_at: created + 60 + rng.below(600) as i64,
                phone: first_number + k,
                price_micros: price_micros(market, 0, &mut rng),
                error_code,
                market: market_index as u8,
                carrier: rng.below(market.carriers.len().max(1) as u64) as u8,
                channel: 0,
                service: 1,
                final_status,
                last_of_verification: true,
            });
        }
        let first = self.records.partition_point(|r| r.created < start).min(self.records.len() - attempts as usize);
        self.records[first..].sort_by_key(|r| (r.created, r.sid));
        for (offset, record) in self.records[first..].iter().enumerate() {
            self.sid_index.insert(record.sid, (first + offset) as u32);
        }
        span
    }

    /// The window's first hour (unix seconds): the oldest attempt the API holds is in it.
    pub fn window_start(&self) -> i64 {
        self.window_start
    }

    /// The attempts of an `hour` before the window, with `volume` times the window's traffic
    /// and these `markets`' figures: a past the window's generator would have produced.
    pub fn generate_past_hour(&self, markets: &[Market], hour: i64, volume: f64) -> Vec<Record> {
        let mut out = Vec::new();
        generate_hour(&self.config, markets, &self.incidents, (hour, volume), &mut out);
        out.sort_by_key(|r| (r.created, r.sid));
        out
    }

    pub fn position_of(&self, sid: u128) -> Option<usize> {
        self.sid_index.get(&sid).map(|&i| i as usize)
    }

    /// The index range of records created in `[from, to]` (unix seconds).
    pub fn range(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let start = self.records.partition_point(|r| r.created < from);
        let end = self.records.partition_point(|r| r.created <= to);
        start..end.max(start)
    }
}

/// Relative traffic by local hour of day: quiet at night, peaks at midday and evening.
fn daily_weight(local_hour: u32) -> f64 {
    DAILY_CURVE[local_hour as usize % 24] / (DAILY_CURVE.iter().sum::<f64>() / 24.0)
}

const DAILY_CURVE: [f64; 24] = [
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.30, 0.60, 0.95, 1.25, 1.40, 1.45, 1.50, 1.45, 1.40, 1.35, 1.35, 1.40, 1.50,
    1.55, 1.45, 1.15, 0.80, 0.45,
];

/// Attempts per verification the generator produces on average (measured; see the tests).
const ATTEMPTS_PER_VERIFICATION: f64 = 1.15;

/// Weekends carry less verification traffic than weekdays; a week averages 1.
fn weekly_weight(weekday: u32) -> f64 {
    const WEEKDAY: f64 = 1.1;
    const WEEKEND: f64 = 0.75;
    let mean = (5.0 * WEEKDAY + 2.0 * WEEKEND) / 7.0;
    if weekday >= 5 { WEEKEND / mean } else { WEEKDAY / mean }
}

fn local_weight(market: &Market, hour_start: i64) -> f64 {
    let local = Utc.timestamp_opt(hour_start + i64::from(market.utc_offset_hours) * HOUR, 0).unwrap();
    daily_weight(local.hour()) * weekly_weight(local.weekday().num_days_from_monday())
}

/// The attempts of `hour`, at `volume` times the configured traffic.
fn generate_hour(
    config: &DatasetConfig,
    markets: &[Market],
    incidents: &Incidents,
    (hour, volume): (i64, f64),
    out: &mut Vec<Record>,
) {
    let mut rng = Rng::new(mix(config.seed, hour as u64));
    let total_share: f64 = markets.iter().map(|m| m.traffic_share).sum();
    let weights: Vec<f64> = markets.iter().map(|m| m.traffic_share * local_weight(m, hour)).collect();
    let hourly_attempts = volume * config.attempts as f64 / (f64::from(config.days) * 24.0);
    let expected_verifications =
        hourly_attempts / ATTEMPTS_PER_VERIFICATION * weights.iter().sum::<f64>() / total_share;
    let verifications = rng.poisson(expected_verifications);
    let outage_market = markets.iter().position(|m| m.code == incidents.outage_market);
    let mut serial = 0u64;
    for v in 0..verifications {
        let market_index = rng.weighted(&weights);
        let market = &markets[market_index];
        let started = hour + rng.below(HOUR as u64) as i64;
        let verification_sid = sid_bits(config.seed, hour as u64, 1_000_000 + v);
        let phone = rng.below(10u64.pow(market.subscriber_digits));
        let service = rng.weighted(&[0.70, 0.22, 0.08]) as u8;
        let mut channel = rng.weighted(&market.channel_mix);
        let mut created = started;
        let max_attempts = 1 + rng.weighted(&[0.55, 0.25, 0.13, 0.07]);
        let carrier_count = market.carriers.len().max(1);
        let carrier = rng.weighted(&carrier_weights(carrier_count)) as u8;
        for attempt in 0..max_attempts {
            let created_at = created.min(hour + HOUR - 1);
            let carrier_down = Some(market_index) == outage_market
                && carrier == incidents.outage_carrier
                && (channel == 0 || channel == 2)
                && incidents.carrier_outage.contains(created_at);
            let p_convert = market.conversion[channel] * carrier_factor(carrier, carrier_count);
            let converted = !carrier_down && rng.chance(p_convert);
            let last = converted || attempt + 1 == max_attempts;
            let (final_status, error_code) =
                if carrier_down { outage_outcome(&mut rng, channel) } else { outcome(&mut rng, channel, converted) };
            out.push(Record {
                sid: sid_bits(config.seed, hour as u64, serial),
                verification_sid,
                created: created_at,
                converted_at: converted.then(|| created_at + 15 + rng.below(240) as i64),
                settled_at: created_at + 60 + rng.below(4 * HOUR as u64) as i64,
                phone,
                price_micros: price_micros(market, channel, &mut rng),
                error_code,
                market: market_index as u8,
                carrier: if channel == 3 { NO_CARRIER } else { carrier },
                channel: channel as u8,
                service,
                final_status,
                last_of_verification: last,
            });
            serial += 1;
            if last {
                break;
            }
            created += 30 + rng.below(150) as i64;
            // Some users ask for the code on another channel after a failed try.
            if rng.chance(0.25) {
                channel = if channel == 0 { 2 } else { 0 };
            }
        }
    }
    if incidents.sms_pumping.contains(hour) {
        generate_pumping(config, markets, incidents, hour, &mut rng, serial, out);
    }
}

/// An SMS-pumping burst: unconverted SMS to sequential numbers, each its own verification.
fn generate_pumping(
    config: &DatasetConfig,
    markets: &[Market],
    incidents: &Incidents,
    hour: i64,
    rng: &mut Rng,
    mut serial: u64,
    out: &mut Vec<Record>,
) {
    let Some(market_index) = markets.iter().position(|m| m.code == incidents.pumping_market) else {
        return;
    };
    let market = &markets[market_index];
    let span_hours = ((incidents.sms_pumping.end - incidents.sms_pumping.start) / HOUR).max(1) as u64;
    let per_hour = incidents.pumping_attempts / span_hours;
    let hours_in = ((hour - incidents.sms_pumping.start) / HOUR) as u64;
    // One block of numbers for the whole burst, continuing hour after hour.
    let first_number = 10u64.pow(market.subscriber_digits - 1) * 3 + mix(config.seed, 0x9e3) % 1_000_000;
    for k in 0..per_hour {
        let (final_status, error_code) =
            if rng.chance(0.7) { (FinalStatus::Delivered, 0) } else { (FinalStatus::Undelivered, 30008) };
        out.push(Record {
            sid: sid_bits(config.seed, hour as u64, serial),
            verification_sid: sid_bits(config.seed, hour as u64, 2_000_000 + k),
            created: hour + (k * HOUR as u64 / per_hour) as i64,
            converted_at: None,
            settled_at: hour + 600 + rng.below(HOUR as u64) as i64,
            phone: first_number + hours_in * per_hour + k,
            price_micros: price_micros(market, 0, rng),
            error_code,
            market: market_index as u8,
            carrier: rng.below(market.carriers.len() as u64) as u8,
            channel: 0,
            service: 1,
            final_status,
            last_of_verification: true,
        });
        serial += 1;
    }
}

fn outage_outcome(rng: &mut Rng, channel: usize) -> (FinalStatus, u16) {
    if channel == 2 {
        (FinalStatus::CallNoAnswer, 0)
    } else if rng.chance(0.6) {
        (FinalStatus::Undelivered, 30008)
    } else {
        (FinalStatus::Undelivered, 30003)
    }
}

fn carrier_weights(count: usize) -> Vec<f64> {
    (0..count).map(|i| 1.0 / (i as f64 + 1.0)).collect()
}

/// Smaller carriers deliver a little worse.
fn carrier_factor(carrier: u8, count: usize) -> f64 {
    1.0 - 0.04 * f64::from(carrier) / count as f64
}

fn outcome(rng: &mut Rng, channel: usize, converted: bool) -> (FinalStatus, u16) {
    match (channel, converted) {
        (2, true) => (FinalStatus::CallCompleted, 0),
        (2, false) => match rng.weighted(&[0.4, 0.45, 0.15]) {
            0 => (FinalStatus::CallCompleted, 0),
            1 => (FinalStatus::CallNoAnswer, 0),
            _ => (FinalStatus::CallBusy, 0),
        },
        (3, _) => (FinalStatus::EmailDelivered, 0),
        (1, true) => (FinalStatus::Read, 0),
        (_, true) => (FinalStatus::Delivered, 0),
        (ch, false) => {
            if rng.chance(0.55) {
                let status = if ch == 1 { FinalStatus::Read } else { FinalStatus::Delivered };
                (status, 0)
            } else {
                let code = ERROR_CODES[rng.weighted(&[0.30, 0.12, 0.10, 0.14, 0.26, 0.05, 0.03])];
                let status =
                    if code == 30450 || code == 60410 { FinalStatus::Failed } else { FinalStatus::Undelivered };
                (status, code)
            }
        }
    }
}

fn price_micros(market: &Market, channel: usize, rng: &mut Rng) -> u32 {
    if channel == 3 {
        return 0;
    }
    let base = market.price_usd[channel] * 1_000_000.0;
    // Multi-segment messages and carrier surcharges vary the price a little.
    let factor = if rng.chance(0.08) { 2.0 } else { 1.0 };
    (base * factor).round() as u32
}

/// 128 deterministic bits for a SID.
pub fn sid_bits(seed: u64, a: u64, b: u64) -> u128 {
    let high = mix(mix(seed, a), b ^ 0x5151_5151);
    let low = mix(high, b.wrapping_add(0x9e37_79b9));
    (u128::from(high) << 64) | u128::from(low)
}

pub fn format_sid(prefix: &str, bits: u128) -> String {
    format!("{prefix}{bits:032x}")
}

pub fn parse_sid(prefix: &str, text: &str) -> Option<u128> {
    if !crate::model::is_sid(text, prefix) {
        return None;
    }
    u128::from_str_radix(&text[2..], 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> DatasetConfig {
        DatasetConfig { seed, attempts: 20_000, days: 30 }
    }

    #[test]
    fn every_error_code_generated_has_a_title_in_the_dashboard() {
        let generated: std::collections::BTreeSet<u16> =
            Dataset::generate(config(3), "AC".repeat(17), now()).records.iter().map(|r| r.error_code).collect();
        let expected: std::collections::BTreeSet<u16> = ERROR_CODES.into_iter().chain([0]).collect();
        assert_eq!(generated, expected);
        for code in ERROR_CODES {
            assert!(crate::model::error_title(&code.to_string()).is_some(), "{code} has no title");
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 30, 0).unwrap()
    }

    #[test]
    fn same_seed_same_attempts_and_other_seed_differs() {
        let a = Dataset::generate(config(7), "AC".into(), now());
        let b = Dataset::generate(config(7), "AC".into(), now());
        let c = Dataset::generate(config(8), "AC".into(), now());
        assert_eq!(a.records.len(), b.records.len());
        assert!(a.records.iter().zip(&b.records).all(|(x, y)| x.sid == y.sid && x.created == y.created));
        assert_ne!(a.records[0].sid, c.records[0].sid);
    }

    #[test]
    fn volume_is_close_to_the_requested_attempts() {
        let config = DatasetConfig { seed: 1, attempts: 200_000, days: 30 };
        let d = Dataset::generate(config, "AC".into(), now());
        let pumping = d.incidents.pumping_attempts as f64;
        let n = d.records.len() as f64 - pumping;
        assert!((190_000.0..210_000.0).contains(&n), "{n} attempts");
        assert!(d.records.windows(2).all(|w| w[0].created <= w[1].created));
        let verifications: std::collections::HashSet<u128> = d.records.iter().map(|r| r.verification_sid).collect();
        let per_verification = d.records.len() as f64 / verifications.len() as f64;
        assert!((ATTEMPTS_PER_VERIFICATION - per_verification).abs() < 0.03, "{per_verification}");
    }

    #[test]
    fn the_pumping_burst_is_unconverted_sms_to_sequential_numbers() {
        let d = Dataset::generate(config(9), "AC".into(), now());
        let id = d.markets.iter().position(|m| m.code == "ID").unwrap() as u8;
        let burst: Vec<&Record> = d
            .records
            .iter()
            .filter(|r| {
                d.incidents.sms_pumping.contains(r.created) && r.market == id && r.service == 1 && r.channel == 0
            })
            .collect();
        assert!(burst.len() as u64 >= d.incidents.pumping_attempts * 9 / 10, "{} in the burst", burst.len());
        assert!(burst.iter().filter(|r| r.converted_at.is_some()).count() < burst.len() / 20);
        let mut numbers: Vec<u64> = burst.iter().map(|r| r.phone).collect();
        numbers.sort();
        let sequential = numbers.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(sequential as u64 >= d.incidents.pumping_attempts * 9 / 10, "{sequential} sequential");
    }

    #[test]
    fn the_outage_carrier_fails_during_the_outage_only() {
        let d = Dataset::generate(DatasetConfig { seed: 4, attempts: 200_000, days: 30 }, "AC".into(), now());
        let us = d.markets.iter().position(|m| m.code == "US").unwrap() as u8;
        let rate = |inside: bool| {
            let sms: Vec<&Record> = d
                .records
                .iter()
                .filter(|r| r.market == us && r.carrier == d.incidents.outage_carrier && r.channel == 0)
                .filter(|r| d.incidents.carrier_outage.contains(r.created) == inside)
                .collect();
            let delivered = sms.iter().filter(|r| r.final_status == FinalStatus::Delivered).count();
            (delivered as f64 / sms.len() as f64, sms.len())
        };
        let (during, n) = rate(true);
        let (otherwise, _) = rate(false);
        assert!(n > 20, "{n} attempts during the outage");
        assert_eq!(during, 0.0);
        assert!(otherwise > 0.6, "{otherwise}");
    }

    #[test]
    fn extending_keeps_existing_attempts_and_adds_new_hours() {
        let mut d = Dataset::generate(config(3), "AC".into(), now());
        let before = d.records.len();
        let first_sid = d.records[0].sid;
        d.extend_to(now() + chrono::Duration::hours(5));
        assert!(d.records.len() > before);
        assert_eq!(d.records[0].sid, first_sid);
        assert_eq!(d.position_of(first_sid), Some(0));
    }

    #[test]
    fn only_the_last_attempt_of_a_verification_converts() {
        let d = Dataset::generate(config(5), "AC".into(), now());
        for r in &d.records {
            if r.converted_at.is_some() {
                assert!(r.last_of_verification);
            }
        }
    }

    #[test]
    fn whatsapp_converts_far_better_than_sms_in_colombia() {
        let d = Dataset::generate(DatasetConfig { seed: 2, attempts: 200_000, days: 30 }, "AC".into(), now());
        let co = d.markets.iter().position(|m| m.code == "CO").unwrap() as u8;
        let rate = |channel: u8| {
            let all: Vec<&Record> = d.records.iter().filter(|r| r.market == co && r.channel == channel).collect();
            all.iter().filter(|r| r.converted_at.is_some()).count() as f64 / all.len() as f64
        };
        assert!(rate(1) > rate(0) + 0.2, "whatsapp {} vs sms {}", rate(1), rate(0));
    }
}
