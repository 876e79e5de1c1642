//! The rollups held in memory: small rows with interned keys, a block per period, which a
//! view filters and sums in a millisecond or two; each week's and month's days are summed
//! into a block too, for views of whole weeks and months. sqlite stays the source of truth; `RollupCache` refreshes
//! the index when the rollups' generation moves on, reading only the periods that changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::anomalies::Incident;
use crate::fees::{Fee, FeeSchedule};
use crate::filters::{Dimension, Filters};
use crate::model::{Channel, ConversionStatus};
use crate::page_data::{FunnelPath, FunnelStep, Metrics, Money, RetryFunnel, SeriesPoint, WhatToDo};
use crate::store::funnel::{MAX_ATTEMPT_NUMBER, TIME_BUCKETS};
use crate::store::{self, AttemptScope, Grain, HourlyCell, Names, RollupRows, add_micros, channel_bit};

/// The interned `error_key` of the verification rows that cover all of a verification's
/// attempts (`store::ALL_ERRORS`).
const ALL_ERRORS: u32 = u32::MAX;

struct AttemptCell {
    country: u32,
    carrier: u32,
    channel: u32,
    service: u32,
    error: u32,
    currency: u32,
    converted: bool,
    attempts: i64,
    delivered: i64,
    finalized: i64,
    spend_micros: i64,
    /// Spend on the cell's attempts whose verification never converted.
    unconverted_verification_spend_micros: i64,
}

/// An attempt cell's keys: country, carrier, channel, service, error, currency, converted.
type AttemptKey = (u32, u32, u32, u32, u32, u32, bool);

impl AttemptCell {
    fn key(&self) -> AttemptKey {
        (self.country, self.carrier, self.channel, self.service, self.error, self.currency, self.converted)
    }

    /// The cell's value of `by` (its period id for a day), `0` without a dimension.
    fn id_by(&self, by: Option<Dimension>, period: u32, accounts: &ServiceAccounts) -> u32 {
        match by {
            None => 0,
            Some(Dimension::Country) => self.country,
            Some(Dimension::Channel) => self.channel,
            Some(Dimension::Carrier) => self.carrier,
            Some(Dimension::Service) => self.service,
            Some(Dimension::Account) => accounts.of(self.service),
            Some(Dimension::Error) => self.error,
            Some(Dimension::Day) => period,
        }
    }
}

struct VerificationCell {
    error_key: u32,
    country: u32,
    carrier: u32,
    service: u32,
    unconverted_channels: i64,
    converted_channels: i64,
    verifications: i64,
}

/// A verification cell's keys: error, country, carrier, service, and its two channel sets.
type VerificationKey = (u32, u32, u32, u32, i64, i64);

impl VerificationCell {
    fn key(&self) -> VerificationKey {
        (self.error_key, self.country, self.carrier, self.service, self.unconverted_channels, self.converted_channels)
    }
}

/// Numbers for the SIDs of verifications that straddle cells, given when their rows are read
/// and shared by every index refreshed from one build: a view counts those verifications
/// distinct by number. Comparing SIDs as text, each behind a pointer, cost most of a year's
/// overview in cache misses.
#[derive(Default)]
struct VerificationNumbers(std::sync::Mutex<HashMap<Box<str>, u32>>);

impl VerificationNumbers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, u32>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The number of `sid` in `numbers`, numbering it if it is new.
fn verification_number(numbers: &mut HashMap<Box<str>, u32>, sid: &str) -> u32 {
    if let Some(number) = numbers.get(sid) {
        return *number;
    }
    let number = numbers.len() as u32;
    numbers.insert(sid.into(), number);
    number
}

/// An attempt of a verification that straddles cells, counted one by one.
#[derive(Clone)]
struct IrregularCell {
    /// The verification's number in the index's `VerificationNumbers`.
    verification: u32,
    country: u32,
    carrier: u32,
    channel: u32,
    service: u32,
    error: u32,
    converted: bool,
}

/// Verifications of one funnel row: where and when their first attempt was, the path of
/// channels they took, every channel they used, their attempts and the one they converted at.
struct FunnelCell {
    country: u32,
    carrier: u32,
    service: u32,
    path: u32,
    channels: i64,
    attempts: u8,
    converted_at: u8,
    verifications: i64,
    gaps: [i64; TIME_BUCKETS],
    to_conversion: [i64; TIME_BUCKETS],
}

/// A funnel cell's keys: country, carrier, service, path, channels, attempts, converted at.
type FunnelKey = (u32, u32, u32, u32, i64, u8, u8);

impl FunnelCell {
    fn key(&self) -> FunnelKey {
        (self.country, self.carrier, self.service, self.path, self.channels, self.attempts, self.converted_at)
    }
}

/// A pass's sums of attempt cells per pair of keys and currency: attempts, converted, delivered,
/// finalized, spend, spend on unconverted attempts, attempts that have a channel fee.
type AttemptSums = HashMap<((u32, u32), u32), [i64; 7]>;

/// A pass's sums of regular verifications per pair of keys (verifications, converted), and the
/// converted ones per pair of keys and the market their fee depends on.
type VerificationSums = (HashMap<(u32, u32), (i64, i64)>, HashMap<((u32, u32), u32, u32), i64>);

/// One block's sums for a view's filters and pair of keys.
#[derive(Default)]
struct BlockSums {
    attempts: AttemptSums,
    verifications: VerificationSums,
}

/// One period's rows.
#[derive(Default)]
struct Block {
    attempts: Vec<AttemptCell>,
    /// Rows over all of a verification's attempts (`error_key` `*`), and rows per error code.
    verifications: Vec<VerificationCell>,
    verifications_by_error: Vec<VerificationCell>,
    irregular: Vec<IrregularCell>,
    funnel: Vec<FunnelCell>,
    /// Its sums per pair of keys and filters, worked out on first use: a block is shared by
    /// every index until a write changes its period, and so are they. At most
    /// `SUMS_PER_BLOCK`, so that browsing many filters cannot grow them without bound.
    sums: std::sync::Mutex<HashMap<SumsKey, Arc<BlockSums>>>,
}

/// What a block's sums depend on: the pair of keys, the filters as ids, and the verification
/// rows (error keys) and channel bits the filters choose. The ids alone are not enough: an
/// unknown value drops out of them, so `error=99999&error=30008` and `error=30008` share ids
/// but not the rows their verifications are counted from.
type SumsKey = (Keys, Selection, Option<Vec<u32>>, i64);

/// The channel bits a view's filters select (every bit without a channel filter).
fn selected_channels(f: &Filters) -> i64 {
    if f.channels.is_empty() { !0 } else { f.channels.iter().fold(0, |bits, c| bits | channel_bit(c.as_str())) }
}

/// The most sums a block keeps (an overview asks for about ten); when full, it forgets one.
const SUMS_PER_BLOCK: usize = 32;

impl Block {
    fn is_empty(&self) -> bool {
        self.attempts.is_empty()
            && self.verifications.is_empty()
            && self.verifications_by_error.is_empty()
            && self.irregular.is_empty()
            && self.funnel.is_empty()
    }

    /// The sum of `blocks`: every count added up by key. Verifications add up across periods:
    /// each regular one is in one period's rows, and those that straddle periods are listed
    /// attempt by attempt, counted once each by the reader.
    fn sum<'a>(blocks: impl Iterator<Item = &'a Block>) -> Block {
        let mut attempts: HashMap<AttemptKey, [i64; 5]> = HashMap::default();
        let mut verifications: HashMap<VerificationKey, i64> = HashMap::default();
        let mut by_error: HashMap<VerificationKey, i64> = HashMap::default();
        type FunnelSums = (i64, [i64; TIME_BUCKETS], [i64; TIME_BUCKETS]);
        let mut funnel: HashMap<FunnelKey, FunnelSums> = HashMap::default();
        let mut irregular = Vec::new();
        for block in blocks {
            for c in &block.attempts {
                let s = attempts.entry(c.key()).or_default();
                s[0] += c.attempts;
                s[1] += c.delivered;
                s[2] += c.finalized;
                s[3] += c.spend_micros;
                s[4] += c.unconverted_verification_spend_micros;
            }
            for c in &block.verifications {
                *verifications.entry(c.key()).or_default() += c.verifications;
            }
            for c in &block.verifications_by_error {
                *by_error.entry(c.key()).or_default() += c.verifications;
            }
            for c in &block.funnel {
                let s = funnel.entry(c.key()).or_insert((0, [0; TIME_BUCKETS], [0; TIME_BUCKETS]));
                s.0 += c.verifications;
                for i in 0..TIME_BUCKETS {
                    s.1[i] += c.gaps[i];
                    s.2[i] += c.to_conversion[i];
                }
            }
            irregular.extend(block.irregular.iter().cloned());
        }
        let verification_cells = |sums: HashMap<VerificationKey, i64>| {
            sums.into_iter()
                .map(|((error_key, country, carrier, service, unconverted_channels, converted_channels), n)| {
                    VerificationCell {
                        error_key,
                        country,
                        carrier,
                        service,
                        unconverted_channels,
                        converted_channels,
                        verifications: n,
                    }
                })
                .collect()
        };
        Block {
            attempts: attempts
                .into_iter()
                .map(|((country, carrier, channel, service, error, currency, converted), s)| AttemptCell {
                    country,
                    carrier,
                    channel,
                    service,
                    error,
                    currency,
                    converted,
                    attempts: s[0],
                    delivered: s[1],
                    finalized: s[2],
                    spend_micros: s[3],
                    unconverted_verification_spend_micros: s[4],
                })
                .collect(),
            verifications: verification_cells(verifications),
            verifications_by_error: verification_cells(by_error),
            irregular,
            sums: Default::default(),
            funnel: funnel
                .into_iter()
                .map(|((country, carrier, service, path, channels, attempts, converted_at), s)| FunnelCell {
                    country,
                    carrier,
                    service,
                    path,
                    channels,
                    attempts,
                    converted_at,
                    verifications: s.0,
                    gaps: s.1,
                    to_conversion: s.2,
                })
                .collect(),
        }
    }
}

/// One grain's rows, a block per period, in the order of the periods.
#[derive(Clone, Default)]
struct Layer {
    periods: Vec<String>,
    /// In the hour layer, for each period, the first period of its day in the reporting zone:
    /// the hours of one local day share a key when a view is broken down by day. Empty in
    /// the others, whose periods are days or whole weeks and months.
    day_starts: Vec<u32>,
    blocks: Vec<Arc<Block>>,
}

impl Layer {
    fn of(blocks: BTreeMap<String, Arc<Block>>) -> Layer {
        let (periods, blocks): (Vec<String>, Vec<Arc<Block>>) = blocks.into_iter().unzip();
        Layer { periods, day_starts: Vec::new(), blocks }
    }

    fn of_hours(blocks: BTreeMap<String, Arc<Block>>) -> Layer {
        let mut layer = Layer::of(blocks);
        let mut first = 0;
        layer.day_starts = (0..layer.periods.len())
            .map(|i| {
                if crate::zone::day_of_hour(&layer.periods[i]) != crate::zone::day_of_hour(&layer.periods[first]) {
                    first = i;
                }
                first as u32
            })
            .collect();
        layer
    }

    /// The first period of `period`'s day: itself but in the hour layer.
    fn day_start(&self, period: u32) -> u32 {
        self.day_starts.get(period as usize).copied().unwrap_or(period)
    }

    fn into_map(self) -> BTreeMap<String, Arc<Block>> {
        self.periods.into_iter().zip(self.blocks).collect()
    }

    /// Period ids in `[from, to)`.
    fn period_range(&self, from: &str, to: &str) -> (u32, u32) {
        let lo = self.periods.partition_point(|p| p.as_str() < from);
        let hi = self.periods.partition_point(|p| p.as_str() < to);
        (lo as u32, hi.max(lo) as u32)
    }

    /// The blocks of periods `[lo, hi)`, with their ids.
    fn blocks(&self, (lo, hi): (u32, u32)) -> impl Iterator<Item = (u32, &Block)> {
        self.blocks[lo as usize..hi as usize].iter().enumerate().map(move |(i, b)| (lo + i as u32, &**b))
    }
}

/// Days summed into blocks of their own: weeks (Monday to Sunday) and months of the
/// reporting zone. A block is keyed by its Monday (`2026-11-23`) or its month (`2026-11`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Coarse {
    Week,
    Month,
}

impl Coarse {
    /// The key of the block a day period (`2026-11-25`) is in.
    fn key_of(self, day: &str) -> Option<String> {
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        Some(match self {
            Coarse::Week => {
                let monday =
                    date - chrono::Days::new(u64::from(chrono::Datelike::weekday(&date).num_days_from_monday()));
                monday.format("%Y-%m-%d").to_string()
            }
            Coarse::Month => date.format("%Y-%m").to_string(),
        })
    }

    /// The first day period of a block.
    fn first_day(self, key: &str) -> String {
        match self {
            Coarse::Week => key.to_string(),
            Coarse::Month => format!("{key}-01"),
        }
    }

    /// The key of the block after `key`.
    fn next(self, key: &str) -> Option<String> {
        let first = chrono::NaiveDate::parse_from_str(&self.first_day(key), "%Y-%m-%d").ok()?;
        let next = match self {
            Coarse::Week => first.checked_add_days(chrono::Days::new(7))?,
            Coarse::Month => first.checked_add_months(chrono::Months::new(1))?,
        };
        self.key_of(&next.format("%Y-%m-%d").to_string())
    }

    /// The keys of the blocks wholly inside the day periods `[from, to)`, as `[lo, hi)`.
    fn whole_blocks(self, from: &str, to: &str) -> Option<(String, String)> {
        let first = self.key_of(from)?;
        let lo = if self.first_day(&first) == from { first } else { self.next(&first)? };
        let hi = self.key_of(to)?;
        (lo < hi).then_some((lo, hi))
    }
}

/// A coarse layer: the day blocks summed per block of `unit`, for the blocks in `keys` (every
/// block when `None`); the other blocks are kept from `before`.
fn sum_days(
    unit: Coarse,
    day: &Layer,
    keys: Option<&std::collections::BTreeSet<String>>,
    before: Option<Layer>,
) -> Layer {
    let mut out = before.map(Layer::into_map).unwrap_or_default();
    let key_of = |period: &str| unit.key_of(period).unwrap_or_default();
    let mut i = 0;
    while i < day.periods.len() {
        let key = key_of(&day.periods[i]);
        let end = day.periods[i..].iter().position(|p| key_of(p) != key).map_or(day.periods.len(), |n| i + n);
        if keys.is_none_or(|k| k.contains(&key)) {
            out.insert(key, Arc::new(Block::sum(day.blocks[i..end].iter().map(|b| &**b))));
        }
        i = end;
    }
    if let Some(keys) = keys {
        for key in keys {
            if !day.periods.iter().any(|p| key_of(p) == *key) {
                out.remove(key);
            }
        }
    }
    Layer::of(out)
}

/// The hour rows of anomaly detection, per hour.
type HourRows = Vec<(String, Arc<Vec<HourlyCell>>)>;

pub struct RollupIndex {
    /// The rollups' generation it was built from.
    pub generation: i64,
    /// The fee each converted verification costs.
    fees: Arc<FeeSchedule>,
    /// The first hour with hour-grain rows.
    hour_horizon: String,
    names: Arc<Names>,
    accounts: Arc<ServiceAccounts>,
    numbers: Arc<VerificationNumbers>,
    day: Layer,
    hour: Layer,
    /// The day rows summed per week and per month of the reporting zone, for views of
    /// whole weeks and months.
    week: Layer,
    month: Layer,
    hours: HourRows,
    /// Pumping bursts and outages in this generation's hours, found on first use.
    incidents: std::sync::OnceLock<Vec<Incident>>,
    /// Spend on verifications that never converted, read from the raw rows in this
    /// generation (for views the rollups cannot answer), per view and per value of its breakdown.
    unconverted_verification_spend: std::sync::Mutex<HashMap<String, BTreeMap<String, Vec<Money>>>>,
    /// What each SMS-pumping burst cost, read from the raw rows once, by country, start and
    /// end: kept across refreshes for the bursts no write came near.
    burst_costs: std::sync::Mutex<HashMap<(String, String, String), store::BurstCosts>>,
    /// Each view's "What to do", worked out once per generation.
    what_to_do: std::sync::Mutex<HashMap<String, WhatToDo>>,
}

/// Between the two values of a pair key (`metrics_by_pair`): a character no key holds.
pub const PAIR_SEPARATOR: char = '\u{1f}';

/// What metrics are keyed by: one dimension (or none), and optionally a second.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Keys {
    by: Option<Dimension>,
    then: Option<Dimension>,
}

impl Keys {
    fn by_day(self) -> bool {
        self.by == Some(Dimension::Day) || self.then == Some(Dimension::Day)
    }
}

/// Views remembered per generation, at most: past that, a memo starts again.
const VIEWS_REMEMBERED: usize = 512;

/// A view's key in a memo.
fn view_key(scope: &AttemptScope<'_>) -> String {
    format!("{}|{}|{}", scope.from, scope.to, scope.filters.to_query())
}

/// The account of each service, as interned ids: how rows kept by service answer by account.
#[derive(Default)]
struct ServiceAccounts {
    by_service: HashMap<u32, u32>,
    /// The id of `""`: the account of a service the snapshot knows none for.
    unknown: u32,
}

impl ServiceAccounts {
    /// `pairs` of (service, account) SIDs, interned into `names`.
    fn new(pairs: Vec<(String, String)>, names: &mut Arc<Names>) -> ServiceAccounts {
        let by_service =
            pairs.iter().map(|(service, account)| (intern(names, service), intern(names, account))).collect();
        ServiceAccounts { by_service, unknown: intern(names, "") }
    }

    fn of(&self, service: u32) -> u32 {
        self.by_service.get(&service).copied().unwrap_or(self.unknown)
    }

    /// The services of `accounts`.
    fn services_of(&self, accounts: &[u32]) -> Vec<u32> {
        self.by_service.iter().filter(|(_, account)| accounts.contains(account)).map(|(service, _)| *service).collect()
    }
}

/// The values a filter allows, as interned ids; `None` allows everything.
fn allowed<T: AsRef<str>>(names: &Names, values: &[T]) -> Option<Vec<u32>> {
    (!values.is_empty()).then(|| values.iter().filter_map(|v| names.id(v.as_ref())).collect())
}

fn admits(allowed: &Option<Vec<u32>>, id: u32) -> bool {
    allowed.as_ref().is_none_or(|ids| ids.contains(&id))
}

/// A view's filters as interned ids.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Selection {
    countries: Option<Vec<u32>>,
    carriers: Option<Vec<u32>>,
    services: Option<Vec<u32>>,
    channels: Option<Vec<u32>>,
    errors: Option<Vec<u32>>,
    status: Option<ConversionStatus>,
}

impl Selection {
    fn new(names: &Names, accounts: &ServiceAccounts, f: &Filters) -> Selection {
        let mut services = allowed(names, &f.services);
        if let Some(selected) = allowed(names, &f.accounts) {
            let in_accounts = accounts.services_of(&selected);
            services = Some(match services {
                Some(listed) => listed.into_iter().filter(|s| in_accounts.contains(s)).collect(),
                None => in_accounts,
            });
        }
        Selection {
            countries: allowed(names, &f.countries),
            carriers: allowed(names, &f.carriers),
            services,
            channels: allowed(names, &f.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
            errors: allowed(
                names,
                &f.errors.iter().map(|e| if e == "none" { "" } else { e.as_str() }).collect::<Vec<_>>(),
            ),
            status: f.status,
        }
    }

    /// Whether the view keeps a verification row's country, carrier and service.
    fn keeps_market(&self, country: u32, carrier: u32, service: u32) -> bool {
        admits(&self.countries, country) && admits(&self.carriers, carrier) && admits(&self.services, service)
    }

    /// Whether the view keeps an attempt with these keys.
    fn keeps_attempt(
        &self,
        country: u32,
        carrier: u32,
        service: u32,
        channel: u32,
        error: u32,
        converted: bool,
    ) -> bool {
        self.keeps_market(country, carrier, service)
            && admits(&self.channels, channel)
            && admits(&self.errors, error)
            && self.status.is_none_or(|s| (s == ConversionStatus::Converted) == converted)
    }
}

/// Rows of several periods, per grain and period, made into blocks.
#[derive(Default)]
struct BlocksBuilder {
    day: BTreeMap<String, Block>,
    hour: BTreeMap<String, Block>,
}

impl BlocksBuilder {
    /// The block of a row's grain and period; `None` for a grain this build does not know
    /// (no row of a snapshot it accepts has one).
    fn block(&mut self, grain: &str, period: &str) -> Option<&mut Block> {
        let blocks = match Grain::parse(grain)? {
            Grain::Day => &mut self.day,
            Grain::Hour => &mut self.hour,
        };
        if !blocks.contains_key(period) {
            blocks.insert(period.to_string(), Block::default());
        }
        blocks.get_mut(period)
    }

    /// Rows as blocks; their texts interned into `names`.
    fn of(rows: RollupRows, names: &mut Arc<Names>, numbers: &VerificationNumbers) -> BlocksBuilder {
        let mut built = BlocksBuilder::default();
        for row in rows.attempts {
            let cell = AttemptCell {
                country: intern(names, &row.country),
                carrier: intern(names, &row.carrier),
                channel: intern(names, &row.channel),
                service: intern(names, &row.service_sid),
                error: intern(names, &row.error_code),
                currency: intern(names, &row.currency),
                converted: store::is_converted(&row.conversion_status),
                attempts: row.attempts,
                delivered: row.delivered,
                finalized: row.finalized,
                spend_micros: row.spend_micros,
                unconverted_verification_spend_micros: row.unconverted_verification_spend_micros,
            };
            if let Some(block) = built.block(&row.grain, &row.period) {
                block.attempts.push(cell);
            }
        }
        for row in rows.verifications {
            let all_errors = row.error_key == store::ALL_ERRORS;
            let cell = VerificationCell {
                error_key: if all_errors { ALL_ERRORS } else { intern(names, &row.error_key) },
                country: intern(names, &row.country),
                carrier: intern(names, &row.carrier),
                service: intern(names, &row.service_sid),
                unconverted_channels: row.unconverted_channels,
                converted_channels: row.converted_channels,
                verifications: row.verifications,
            };
            if let Some(block) = built.block(&row.grain, &row.period) {
                if all_errors { &mut block.verifications } else { &mut block.verifications_by_error }.push(cell);
            }
        }
        let mut numbers = numbers.lock();
        for row in rows.irregular {
            let cell = IrregularCell {
                verification: verification_number(&mut numbers, &row.verification_sid),
                country: intern(names, &row.country),
                carrier: intern(names, &row.carrier),
                channel: intern(names, &row.channel),
                service: intern(names, &row.service_sid),
                error: intern(names, &row.error_code),
                converted: store::is_converted(&row.conversion_status),
            };
            if let Some(block) = built.block(&row.grain, &row.period) {
                block.irregular.push(cell);
            }
        }
        for row in rows.funnel {
            let cell = FunnelCell {
                country: intern(names, &row.country),
                carrier: intern(names, &row.carrier),
                service: intern(names, &row.service_sid),
                path: intern(names, &row.path),
                channels: row.channels,
                attempts: row.attempts.clamp(0, 255) as u8,
                converted_at: row.converted_at.clamp(0, 255) as u8,
                verifications: row.verifications,
                gaps: row.gaps,
                to_conversion: row.to_conversion,
            };
            if let Some(block) = built.block(&row.grain, &row.period) {
                block.funnel.push(cell);
            }
        }
        built
    }
}

/// The number of `text` in `names`, which are copied first (when shared) only if it is new.
fn intern(names: &mut Arc<Names>, text: &str) -> u32 {
    names.id(text).unwrap_or_else(|| Arc::make_mut(names).intern(text))
}

/// Hour rows of anomaly detection, per hour.
fn hour_rows(rows: Vec<store::HourRollupRow>) -> BTreeMap<String, Vec<HourlyCell>> {
    let mut hours: BTreeMap<String, Vec<HourlyCell>> = BTreeMap::new();
    for r in rows {
        let cell = HourlyCell {
            hour: r.hour,
            country: r.country,
            channel: r.channel,
            carrier: r.carrier,
            attempts: r.attempts,
            converted: r.converted,
            delivered: r.delivered,
            finalized: r.finalized,
        };
        match hours.get_mut(&cell.hour) {
            Some(list) => list.push(cell),
            None => {
                hours.insert(cell.hour.clone(), vec![cell]);
            }
        }
    }
    hours
}

impl RollupIndex {
    pub fn build(mut rows: RollupRows, fees: Arc<FeeSchedule>) -> RollupIndex {
        let mut names = Arc::new(Names::default());
        let (generation, hour_horizon) = (rows.generation, rows.hour_horizon.clone());
        let hours = hour_rows(std::mem::take(&mut rows.hours));
        let numbers = Arc::new(VerificationNumbers::default());
        let accounts = Arc::new(ServiceAccounts::new(std::mem::take(&mut rows.service_accounts), &mut names));
        let built = BlocksBuilder::of(rows, &mut names, &numbers);
        let arc = |blocks: BTreeMap<String, Block>| blocks.into_iter().map(|(p, b)| (p, Arc::new(b))).collect();
        let day = Layer::of(arc(built.day));
        let week = sum_days(Coarse::Week, &day, None, None);
        let month = sum_days(Coarse::Month, &day, None, None);
        RollupIndex {
            generation,
            fees,
            hour_horizon,
            names,
            accounts,
            numbers,
            week,
            month,
            day,
            hour: Layer::of_hours(arc(built.hour)),
            hours: hours.into_iter().map(|(h, cells)| (h, Arc::new(cells))).collect(),
            incidents: Default::default(),
            unconverted_verification_spend: Default::default(),
            burst_costs: Default::default(),
            what_to_do: Default::default(),
        }
    }

    /// This index with `periods` replaced by `rows`, which hold all of their rows at
    /// `rows.generation`: the other periods' blocks are shared, not copied.
    pub fn refreshed(&self, periods: &[(Grain, String)], mut rows: RollupRows) -> RollupIndex {
        let mut names = self.names.clone();
        let (generation, hour_horizon) = (rows.generation, rows.hour_horizon.clone());
        let mut hours: BTreeMap<String, Arc<Vec<HourlyCell>>> = self.hours.iter().cloned().collect();
        let mut new_hours = hour_rows(std::mem::take(&mut rows.hours));
        let accounts = Arc::new(ServiceAccounts::new(std::mem::take(&mut rows.service_accounts), &mut names));
        let built = BlocksBuilder::of(rows, &mut names, &self.numbers);
        let (mut day, mut hour) = (self.day.clone().into_map(), self.hour.clone().into_map());
        let (mut new_day, mut new_hour) = (built.day, built.hour);
        let (mut weeks, mut months) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for (grain, period) in periods {
            match grain {
                Grain::Day => {
                    weeks.extend(Coarse::Week.key_of(period));
                    months.extend(Coarse::Month.key_of(period));
                    match new_day.remove(period).filter(|b| !b.is_empty()) {
                        Some(block) => day.insert(period.clone(), Arc::new(block)),
                        None => day.remove(period),
                    };
                }
                Grain::Hour => {
                    match new_hour.remove(period).filter(|b| !b.is_empty()) {
                        Some(block) => hour.insert(period.clone(), Arc::new(block)),
                        None => hour.remove(period),
                    };
                    match new_hours.remove(period) {
                        Some(cells) => hours.insert(period.clone(), Arc::new(cells)),
                        None => hours.remove(period),
                    };
                }
            }
        }
        // Hour rows before a horizon that moved on are gone from the store.
        hour.retain(|period, _| *period >= hour_horizon);
        let day = Layer::of(day);
        let week = sum_days(Coarse::Week, &day, Some(&weeks), Some(self.week.clone()));
        let month = sum_days(Coarse::Month, &day, Some(&months), Some(self.month.clone()));
        // A burst's costs are read from its hours' attempts: those a write came near (a day
        // either side of the days it changed, whatever the zone) are read again.
        let near: std::collections::BTreeSet<String> = periods
            .iter()
            .filter_map(|(_, period)| crate::zone::day_of_hour(period).parse::<chrono::NaiveDate>().ok())
            .flat_map(|date| [date.pred_opt(), Some(date), date.succ_opt()].into_iter().flatten())
            .map(|date| date.to_string())
            .collect();
        let mut burst_costs = self.burst_costs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        burst_costs.retain(|(_, start, end), _| {
            let (first, last) = (start.get(..10).unwrap_or(""), end.get(..10).unwrap_or("\u{10ffff}"));
            !near.iter().any(|day| (first..=last).contains(&day.as_str()))
        });
        RollupIndex {
            generation,
            fees: self.fees.clone(),
            hour_horizon,
            names,
            accounts,
            numbers: self.numbers.clone(),
            week,
            month,
            day,
            hour: Layer::of_hours(hour),
            hours: hours.into_iter().collect(),
            incidents: Default::default(),
            unconverted_verification_spend: Default::default(),
            burst_costs: std::sync::Mutex::new(burst_costs),
            what_to_do: Default::default(),
        }
    }

    /// The grain that answers `scope` exactly, if any.
    pub fn grain_for(&self, scope: &AttemptScope<'_>) -> Option<Grain> {
        match store::rollup_grain(scope)? {
            Grain::Day => Some(Grain::Day),
            Grain::Hour => self.hours_cover(scope).then_some(Grain::Hour),
        }
    }

    /// Whether hour-grain rows answer `scope` exactly.
    pub fn hours_cover(&self, scope: &AttemptScope<'_>) -> bool {
        store::rollup_grain(scope).is_some() && *Grain::Hour.period(&scope.from) >= *self.hour_horizon.as_str()
    }

    fn layer(&self, grain: Grain) -> &Layer {
        match grain {
            Grain::Day => &self.day,
            Grain::Hour => &self.hour,
        }
    }

    /// The periods a view of `grain` reads, with their layers: at day grain, whole months
    /// and weeks from their layers and the days around them, unless the view is keyed by day.
    fn spans(&self, scope: &AttemptScope<'_>, grain: Grain, by_day: bool) -> Vec<(&Layer, (u32, u32))> {
        self.spans_in(scope, grain, if by_day { &[] } else { &[Coarse::Month, Coarse::Week] })
    }

    /// The periods a view of `grain` reads, whole blocks of `units` (in that order) where they
    /// fit at day grain, days elsewhere.
    fn spans_in(&self, scope: &AttemptScope<'_>, grain: Grain, units: &[Coarse]) -> Vec<(&Layer, (u32, u32))> {
        let layer = self.layer(grain);
        let (from, to) = (grain.period(&scope.from), grain.period(&scope.to));
        if grain != Grain::Day {
            return vec![(layer, layer.period_range(&from, &to))];
        }
        let mut spans = Vec::new();
        self.cover(&from, &to, units, &mut spans);
        spans
    }

    /// Covers the day periods `[from, to)` with whole blocks of the first of `units`, and the
    /// rest of them with the others.
    fn cover<'a>(&'a self, from: &str, to: &str, units: &[Coarse], spans: &mut Vec<(&'a Layer, (u32, u32))>) {
        let Some((&unit, others)) = units.split_first() else {
            spans.push((&self.day, self.day.period_range(from, to)));
            return;
        };
        match unit.whole_blocks(from, to) {
            Some((lo, hi)) => {
                let layer = self.coarse(unit);
                self.cover(from, &unit.first_day(&lo), others, spans);
                spans.push((layer, layer.period_range(&lo, &hi)));
                self.cover(&unit.first_day(&hi), to, others, spans);
            }
            None => self.cover(from, to, others, spans),
        }
    }

    fn coarse(&self, unit: Coarse) -> &Layer {
        match unit {
            Coarse::Week => &self.week,
            Coarse::Month => &self.month,
        }
    }

    /// The blocks of a view, with their period ids (in `self.layer(grain)` when `by_day`).
    fn view_blocks<'a>(
        &'a self,
        scope: &AttemptScope<'_>,
        grain: Grain,
        by_day: bool,
    ) -> impl Iterator<Item = (u32, &'a Block)> + 'a {
        self.spans(scope, grain, by_day).into_iter().flat_map(|(layer, range)| layer.blocks(range))
    }

    /// The attempt cells a view selects, with their period ids (in the returned layer when `by_day`).
    fn attempt_cells<'a>(
        &'a self,
        scope: &AttemptScope<'_>,
        grain: Grain,
        by_day: bool,
    ) -> (&'a Layer, impl Iterator<Item = (u32, &'a AttemptCell)> + 'a) {
        let selection = Selection::new(&self.names, &self.accounts, scope.filters);
        let cells = self
            .view_blocks(scope, grain, by_day)
            .flat_map(|(period, block)| block.attempts.iter().map(move |c| (period, c)))
            .filter(move |(_, c)| {
                selection.keeps_attempt(c.country, c.carrier, c.service, c.channel, c.error, c.converted)
            });
        (self.layer(grain), cells)
    }

    fn key_name(&self, layer: &Layer, by: Option<Dimension>, id: u32) -> String {
        match by {
            None => String::new(),
            Some(Dimension::Day) => crate::zone::day_of_hour(&layer.periods[id as usize]).into_owned(),
            Some(_) => self.names.text(id).to_string(),
        }
    }

    /// Attempts per value of `by`, from the attempt cells alone (no verification is counted).
    pub fn attempts_by(&self, scope: &AttemptScope<'_>, by: Dimension, grain: Grain) -> BTreeMap<String, u64> {
        let (layer, cells) = self.attempt_cells(scope, grain, by == Dimension::Day);
        let mut sums: HashMap<u32, i64> = HashMap::default();
        for (period, c) in cells {
            *sums.entry(c.id_by(Some(by), period, &self.accounts)).or_default() += c.attempts;
        }
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for (id, n) in sums.into_iter().filter(|(_, n)| *n > 0) {
            *out.entry(self.key_name(layer, Some(by), id)).or_default() += n as u64;
        }
        out
    }

    /// Spend on a view's attempts of verifications that never converted, per value of `by`
    /// (one key `""` without it) and currency.
    pub fn unconverted_verification_spend_by(
        &self,
        scope: &AttemptScope<'_>,
        by: Option<Dimension>,
        grain: Grain,
    ) -> BTreeMap<String, Vec<Money>> {
        let (layer, cells) = self.attempt_cells(scope, grain, by == Some(Dimension::Day));
        let mut sums: HashMap<(u32, u32), i64> = HashMap::default();
        for (period, c) in cells.filter(|(_, c)| c.unconverted_verification_spend_micros != 0) {
            *sums.entry((c.id_by(by, period, &self.accounts), c.currency)).or_default() +=
                c.unconverted_verification_spend_micros;
        }
        let mut micros: BTreeMap<(String, &str), i64> = BTreeMap::new();
        for ((id, currency), amount) in sums {
            *micros.entry((self.key_name(layer, by, id), self.names.text(currency))).or_default() += amount;
        }
        let mut out: BTreeMap<String, Vec<Money>> = BTreeMap::new();
        for ((key, currency), amount) in micros.into_iter().filter(|(_, amount)| *amount != 0) {
            add_micros(out.entry(key).or_default(), currency, amount);
        }
        out
    }

    /// A pair of ids' name: the first dimension's, then the second's after `PAIR_SEPARATOR`.
    fn pair_name(&self, layer: &Layer, keys: Keys, (first, second): (u32, u32)) -> String {
        let name = self.key_name(layer, keys.by, first);
        match keys.then {
            None => name,
            Some(then) => format!("{name}{PAIR_SEPARATOR}{}", self.key_name(layer, Some(then), second)),
        }
    }

    /// Metrics per pair of values of `by` and `then` (`then` not a day), keyed
    /// `"{by}{PAIR_SEPARATOR}{then}"`: for example per country and channel.
    pub fn metrics_by_pair(
        &self,
        scope: &AttemptScope<'_>,
        by: Dimension,
        then: Dimension,
        grain: Grain,
    ) -> BTreeMap<String, Metrics> {
        self.metrics_by_keys(scope, Keys { by: Some(by), then: Some(then) }, grain)
    }

    /// Metrics per value of `by`; with several error codes selected, no verifications
    /// (the caller counts them from the raw rows).
    pub fn metrics_by(
        &self,
        scope: &AttemptScope<'_>,
        by: Option<Dimension>,
        grain: Grain,
    ) -> BTreeMap<String, Metrics> {
        self.metrics_by_keys(scope, Keys { by, then: None }, grain)
    }

    fn metrics_by_keys(&self, scope: &AttemptScope<'_>, keys: Keys, grain: Grain) -> BTreeMap<String, Metrics> {
        let layer = self.layer(grain);
        let counts_verifications = scope.filters.errors.len() <= 1;
        let (sums, regular) = if !keys.by_day() {
            let selection = Selection::new(&self.names, &self.accounts, scope.filters);
            let (mut attempts, mut verifications) = (AttemptSums::default(), VerificationSums::default());
            for (_, block) in self.view_blocks(scope, grain, false) {
                let sums = self.block_sums(block, scope, keys, &selection);
                for (key, s) in &sums.attempts {
                    let sum = attempts.entry(*key).or_default();
                    for (total, n) in sum.iter_mut().zip(s) {
                        *total += n;
                    }
                }
                for (key, (n, converted)) in &sums.verifications.0 {
                    let sum = verifications.0.entry(*key).or_default();
                    sum.0 += n;
                    sum.1 += converted;
                }
                for (key, n) in &sums.verifications.1 {
                    *verifications.1.entry(*key).or_default() += n;
                }
            }
            (attempts, counts_verifications.then_some(verifications))
        } else {
            let (_, cells) = self.attempt_cells(scope, grain, keys.by_day());
            let attempts = self.attempt_sums(cells, keys);
            let regular = counts_verifications.then(|| {
                let blocks: Vec<(u32, &Block)> = self.view_blocks(scope, grain, keys.by_day()).collect();
                self.regular_verification_sums(scope, keys, &blocks)
            });
            (attempts, regular)
        };
        let mut metrics: BTreeMap<String, Metrics> = BTreeMap::new();
        for ((key, currency), s) in sums {
            if s[0] <= 0 {
                continue;
            }
            let m = metrics.entry(self.pair_name(layer, keys, key)).or_default();
            m.attempts += s[0] as u64;
            m.converted += s[1] as u64;
            m.delivered += s[2] as u64;
            m.finalized += s[3] as u64;
            let currency = self.names.text(currency);
            if currency.is_empty() {
                m.unpriced_attempts += s[6] as u64;
            } else {
                add_micros(&mut m.spend, currency, s[4]);
                add_micros(&mut m.unconverted_attempt_spend, currency, s[5]);
            }
        }
        if let Some(regular) = regular.filter(|_| counts_verifications) {
            self.add_verifications(scope, keys, grain, regular, &mut metrics);
        }
        metrics
    }

    /// `block`'s sums for a view's filters (`selection`, from `scope.filters`) and pair of
    /// keys, worked out once per block; not for keys by day, whose ids are periods.
    fn block_sums(&self, block: &Block, scope: &AttemptScope<'_>, keys: Keys, selection: &Selection) -> Arc<BlockSums> {
        let key = (keys, selection.clone(), self.error_keys(scope.filters, keys.by), selected_channels(scope.filters));
        if let Some(sums) = block.sums.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return sums.clone();
        }
        let kept = block
            .attempts
            .iter()
            .filter(|c| selection.keeps_attempt(c.country, c.carrier, c.service, c.channel, c.error, c.converted));
        let sums = Arc::new(BlockSums {
            attempts: self.attempt_sums(kept.map(|c| (0, c)), keys),
            verifications: self.regular_verification_sums(scope, keys, &[(0, block)]),
        });
        let mut kept_sums = block.sums.lock().unwrap_or_else(|e| e.into_inner());
        if kept_sums.len() >= SUMS_PER_BLOCK
            && let Some(forgotten) = kept_sums.keys().next().cloned()
        {
            kept_sums.remove(&forgotten);
        }
        kept_sums.insert(key, sums.clone());
        sums
    }

    /// The sums of attempt cells with their period ids.
    fn attempt_sums<'a>(&self, cells: impl Iterator<Item = (u32, &'a AttemptCell)>, keys: Keys) -> AttemptSums {
        let key_of = |period: u32, c: &AttemptCell| {
            (c.id_by(keys.by, period, &self.accounts), c.id_by(keys.then, period, &self.accounts))
        };
        // Email has no channel fee: without a price it is not waiting for one.
        let email = self.names.id(Channel::Email.as_str());
        let mut sums = AttemptSums::default();
        for (period, c) in cells {
            let s = sums.entry((key_of(period, c), c.currency)).or_default();
            s[6] += if Some(c.channel) == email { 0 } else { c.attempts };
            s[0] += c.attempts;
            s[1] += if c.converted { c.attempts } else { 0 };
            s[2] += c.delivered;
            s[3] += c.finalized;
            s[4] += c.spend_micros;
            s[5] += if c.converted { 0 } else { c.spend_micros };
        }
        sums
    }

    /// The error keys of the verification rows a view reads: all errors' (`None` for every
    /// code's rows, by error).
    fn error_keys(&self, f: &Filters, by: Option<Dimension>) -> Option<Vec<u32>> {
        match f.errors.first() {
            Some(code) => Some(self.names.id(if code == "none" { "" } else { code }).into_iter().collect()),
            None if by == Some(Dimension::Error) => None,
            None => Some(vec![ALL_ERRORS]),
        }
    }

    /// The sums of the regular verifications of `blocks` a view selects.
    fn regular_verification_sums(
        &self,
        scope: &AttemptScope<'_>,
        keys: Keys,
        blocks: &[(u32, &Block)],
    ) -> VerificationSums {
        let f: &Filters = scope.filters;
        let selection = Selection::new(&self.names, &self.accounts, f);
        let error_keys = self.error_keys(f, keys.by);
        let all_errors = error_keys.as_ref().is_some_and(|k| k == &[ALL_ERRORS]);
        let rows = blocks.iter().flat_map(|&(period, block)| {
            let rows = if all_errors { &block.verifications } else { &block.verifications_by_error };
            rows.iter().map(move |c| (period, c))
        });
        let selected = selected_channels(f);
        let counts = |c: &VerificationCell, channels: i64| {
            let unconverted = c.unconverted_channels & channels != 0;
            let converted = c.converted_channels & channels != 0;
            match f.status {
                None => (unconverted || converted, converted),
                Some(ConversionStatus::Converted) => (converted, converted),
                Some(ConversionStatus::Unconverted) => (unconverted, false),
            }
        };
        let mut sums: HashMap<(u32, u32), (i64, i64)> = HashMap::default();
        // Converted verifications per key and the market their fee depends on.
        let mut fee_counts: HashMap<((u32, u32), u32, u32), i64> = HashMap::default();
        // One fee everywhere: the fees are the converted counts times it, with no market to note.
        let uniform = self.fees.is_uniform();
        let by_channel = keys.by == Some(Dimension::Channel) || keys.then == Some(Dimension::Channel);
        // The selected channels' bits and interned names.
        let channel_ids: Vec<(i64, u32)> = Channel::ALL
            .iter()
            .filter_map(|channel| {
                let bit = channel_bit(channel.as_str()) & selected;
                Some((bit, self.names.id(channel.as_str())?)).filter(|_| bit != 0)
            })
            .collect();
        for (period, c) in rows {
            let keyed = match &error_keys {
                Some(keys) => keys.contains(&c.error_key),
                None => c.error_key != ALL_ERRORS,
            };
            if !(keyed && selection.keeps_market(c.country, c.carrier, c.service)) {
                continue;
            }
            let mut add = |key: (u32, u32), (counted, converted): (bool, bool)| {
                if counted {
                    let s = sums.entry(key).or_default();
                    s.0 += c.verifications;
                    s.1 += if converted { c.verifications } else { 0 };
                    if converted && !uniform {
                        *fee_counts.entry((key, c.country, c.service)).or_default() += c.verifications;
                    }
                }
            };
            // A verification counts once per channel it used, when a key is the channel.
            let id_of = |by: Option<Dimension>, channel: u32| match by {
                None => 0,
                Some(Dimension::Channel) => channel,
                Some(Dimension::Country) => c.country,
                Some(Dimension::Carrier) => c.carrier,
                Some(Dimension::Service) => c.service,
                Some(Dimension::Account) => self.accounts.of(c.service),
                Some(Dimension::Error) => c.error_key,
                Some(Dimension::Day) => period,
            };
            if by_channel {
                for &(bit, id) in &channel_ids {
                    add((id_of(keys.by, id), id_of(keys.then, id)), counts(c, bit));
                }
            } else {
                add((id_of(keys.by, 0), id_of(keys.then, 0)), counts(c, selected));
            }
        }
        (sums, fee_counts)
    }

    /// Adds to `metrics` the verifications of a view: its regular ones' sums, and those that
    /// straddle cells, counted from their attempts.
    fn add_verifications(
        &self,
        scope: &AttemptScope<'_>,
        keys: Keys,
        grain: Grain,
        (mut sums, mut fee_counts): VerificationSums,
        metrics: &mut BTreeMap<String, Metrics>,
    ) {
        let layer = self.layer(grain);
        let blocks: Vec<(u32, &Block)> = self.view_blocks(scope, grain, keys.by_day()).collect();
        let selection = Selection::new(&self.names, &self.accounts, scope.filters);
        let uniform = self.fees.is_uniform();
        // Verifications that straddle cells: distinct over their attempts that the view selects.
        // A key and a verification's SID.
        type Counted = ((u32, u32), u32);
        let irregular_count: usize = blocks.iter().map(|(_, block)| block.irregular.len()).sum();
        let mut seen: HashSet<Counted> = HashSet::with_capacity_and_hasher(irregular_count, Default::default());
        // The least country and service (as text) of each converted verification's selected
        // converted attempts: what its fee follows.
        let mut converted_markets: HashMap<Counted, (u32, u32)> = HashMap::default();
        let irregular = blocks.iter().flat_map(|(period, block)| block.irregular.iter().map(move |c| (*period, c)));
        for (period, c) in irregular {
            let selected = selection.keeps_attempt(c.country, c.carrier, c.service, c.channel, c.error, c.converted);
            if !selected {
                continue;
            }
            let id_of = |by: Option<Dimension>| match by {
                None => 0,
                Some(Dimension::Country) => c.country,
                Some(Dimension::Channel) => c.channel,
                Some(Dimension::Carrier) => c.carrier,
                Some(Dimension::Service) => c.service,
                Some(Dimension::Account) => self.accounts.of(c.service),
                Some(Dimension::Error) => c.error,
                // Hours of one day make one key.
                Some(Dimension::Day) => layer.day_start(period),
            };
            let key = (id_of(keys.by), id_of(keys.then));
            if seen.insert((key, c.verification)) {
                sums.entry(key).or_default().0 += 1;
            }
            if c.converted {
                let text = |id| self.names.text(id);
                converted_markets
                    .entry((key, c.verification))
                    .and_modify(|(country, service)| {
                        if text(c.country) < text(*country) {
                            *country = c.country;
                        }
                        if text(c.service) < text(*service) {
                            *service = c.service;
                        }
                    })
                    .or_insert((c.country, c.service));
            }
        }
        for ((key, _), (country, service)) in converted_markets {
            sums.entry(key).or_default().1 += 1;
            if !uniform {
                *fee_counts.entry((key, country, service)).or_default() += 1;
            }
        }
        let flat_fee = self.fees.default.as_ref().filter(|_| uniform);
        for (key, (verifications, converted)) in sums {
            if let Some(m) = metrics.get_mut(&self.pair_name(layer, keys, key)) {
                m.verifications += verifications as u64;
                m.converted_verifications += converted as u64;
                if let Some(fee) = flat_fee.filter(|_| converted > 0) {
                    add_micros(&mut m.verification_fees, &fee.currency, fee.micros * converted);
                }
            }
        }
        let mut fees: BTreeMap<((u32, u32), String), i64> = BTreeMap::new();
        for ((key, country, service), count) in fee_counts {
            if let Some(fee) = self.fee_of(country, service) {
                *fees.entry((key, fee.currency.clone())).or_default() += fee.micros * count;
            }
        }
        for ((key, currency), micros) in fees {
            if let Some(m) = metrics.get_mut(&self.pair_name(layer, keys, key)) {
                add_micros(&mut m.verification_fees, &currency, micros);
            }
        }
    }

    /// Attempts and conversions per channel and day (or hour).
    pub fn series(&self, scope: &AttemptScope<'_>, grain: Grain, hourly: bool) -> Vec<SeriesPoint> {
        self.series_in(scope, grain, hourly, &[])
    }

    /// The series with whole blocks of `unit` summed: each block's points keyed by its first
    /// day, which a chart by `unit` regroups into the block's own bucket.
    pub fn coarse_series(&self, scope: &AttemptScope<'_>, unit: Coarse) -> Vec<SeriesPoint> {
        self.series_in(scope, Grain::Day, false, &[unit])
    }

    fn series_in(&self, scope: &AttemptScope<'_>, grain: Grain, hourly: bool, units: &[Coarse]) -> Vec<SeriesPoint> {
        let selection = Selection::new(&self.names, &self.accounts, scope.filters);
        let by_channel_keys = Keys { by: Some(Dimension::Channel), then: None };
        let mut sums: BTreeMap<(String, u32), (i64, i64)> = BTreeMap::new();
        for (layer, range) in self.spans_in(scope, grain, units) {
            let unit = units.iter().find(|u| std::ptr::eq(self.coarse(**u), layer));
            for (period, block) in layer.blocks(range) {
                let mut by_channel: HashMap<u32, (i64, i64)> = HashMap::default();
                for (((channel, _), _), s) in &self.block_sums(block, scope, by_channel_keys, &selection).attempts {
                    let sum = by_channel.entry(*channel).or_default();
                    sum.0 += s[0];
                    sum.1 += s[1];
                }
                let period = &layer.periods[period as usize];
                let bucket = match unit {
                    Some(unit) => unit.first_day(period),
                    None if hourly => period.clone(),
                    None => crate::zone::day_of_hour(period).into_owned(),
                };
                for (channel, (attempts, converted)) in by_channel {
                    let s = sums.entry((bucket.clone(), channel)).or_default();
                    s.0 += attempts;
                    s.1 += converted;
                }
            }
        }
        sums.into_iter()
            .filter(|(_, (attempts, _))| *attempts > 0)
            .map(|((bucket, channel), (attempts, converted))| SeriesPoint {
                bucket,
                channel: self.names.text(channel).to_string(),
                attempts: attempts as u64,
                converted: converted as u64,
            })
            .collect()
    }

    /// The fee of a verification converted in a market, by interned ids.
    fn fee_of(&self, country: u32, service: u32) -> Option<&Fee> {
        if self.fees.is_uniform() {
            return self.fees.default.as_ref();
        }
        self.fees.fee_for(self.names.text(country), self.names.text(service))
    }

    pub fn fees(&self) -> &FeeSchedule {
        &self.fees
    }

    /// The retry funnel of a view's verifications, counted at their first attempt: the view's
    /// range, countries, carriers and services select where that attempt was; its channels,
    /// the verifications that used one of them. Errors and status do not apply.
    pub fn funnel(&self, scope: &AttemptScope<'_>, grain: Grain) -> RetryFunnel {
        let f = scope.filters;
        let selection = Selection::new(&self.names, &self.accounts, f);
        let channels = f.channels.iter().fold(0, |bits, c| bits | channel_bit(c.as_str()));
        let mut out =
            RetryFunnel { gaps: vec![0; TIME_BUCKETS], to_conversion: vec![0; TIME_BUCKETS], ..Default::default() };
        let mut steps = [(0i64, 0i64); MAX_ATTEMPT_NUMBER as usize];
        let mut paths: HashMap<u32, (i64, i64)> = HashMap::default();
        for c in self.view_blocks(scope, grain, false).flat_map(|(_, block)| block.funnel.iter()) {
            if !selection.keeps_market(c.country, c.carrier, c.service) || (channels != 0 && c.channels & channels == 0)
            {
                continue;
            }
            let n = c.verifications;
            out.verifications += n as u64;
            for (i, step) in steps.iter_mut().enumerate().take(usize::from(c.attempts)) {
                step.0 += n;
                if usize::from(c.converted_at) == i + 1 {
                    step.1 += n;
                }
            }
            if c.attempts > 1 {
                out.retried += n as u64;
            }
            let path = paths.entry(c.path).or_default();
            path.0 += n;
            if c.converted_at > 0 {
                path.1 += n;
                out.converted += n as u64;
            }
            for i in 0..TIME_BUCKETS {
                out.gaps[i] += c.gaps[i] as u64;
                out.to_conversion[i] += c.to_conversion[i] as u64;
            }
        }
        out.steps = steps
            .iter()
            .zip(["1st", "2nd", "3rd or later"])
            .map(|((reached, converted), label)| FunnelStep {
                label: label.to_string(),
                reached: *reached as u64,
                converted: *converted as u64,
            })
            .collect();
        out.paths = paths
            .into_iter()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(path, (n, converted))| FunnelPath {
                path: self.names.text(path).to_string(),
                verifications: n as u64,
                converted: converted as u64,
            })
            .collect();
        out.paths.sort_by(|a, b| b.verifications.cmp(&a.verifications).then(a.path.cmp(&b.path)));
        out
    }

    /// The bursts and outages in all of this generation's hours, found once.
    pub fn incidents(&self) -> &[Incident] {
        self.incidents
            .get_or_init(|| super::anomalies::incidents(self.hours.iter().flat_map(|(_, cells)| cells.iter())))
    }

    /// A view's spend on verifications that never converted, if this generation has read it.
    pub fn remembered_unconverted_verification_spend(
        &self,
        scope: &AttemptScope<'_>,
        by: Option<Dimension>,
    ) -> Option<BTreeMap<String, Vec<Money>>> {
        let key = format!("{}|{by:?}", view_key(scope));
        self.unconverted_verification_spend.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned()
    }

    /// A view's "What to do" (`key` names the view and what it compares), if this generation
    /// has worked it out.
    pub fn remembered_what_to_do(&self, key: &str) -> Option<WhatToDo> {
        self.what_to_do.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    pub fn remember_what_to_do(&self, key: String, what: &WhatToDo) {
        let mut memo = self.what_to_do.lock().unwrap_or_else(|e| e.into_inner());
        if memo.len() >= VIEWS_REMEMBERED {
            memo.clear();
        }
        memo.insert(key, what.clone());
    }

    /// A view's key in a memo: its range and filters.
    pub fn view_key(scope: &AttemptScope<'_>) -> String {
        view_key(scope)
    }

    /// A burst's costs, if they have been read and no write came near it since.
    pub fn remembered_burst_costs(&self, incident: &Incident) -> Option<store::BurstCosts> {
        let key = (incident.country.clone(), incident.start.clone(), incident.end.clone());
        self.burst_costs.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned()
    }

    pub fn remember_burst_costs(&self, incident: &Incident, costs: &store::BurstCosts) {
        let key = (incident.country.clone(), incident.start.clone(), incident.end.clone());
        let mut memo = self.burst_costs.lock().unwrap_or_else(|e| e.into_inner());
        if memo.len() >= VIEWS_REMEMBERED {
            memo.clear();
        }
        memo.insert(key, costs.clone());
    }

    pub fn remember_unconverted_verification_spend(
        &self,
        scope: &AttemptScope<'_>,
        by: Option<Dimension>,
        spend: &BTreeMap<String, Vec<Money>>,
    ) {
        let mut memo = self.unconverted_verification_spend.lock().unwrap_or_else(|e| e.into_inner());
        if memo.len() >= VIEWS_REMEMBERED {
            memo.clear();
        }
        memo.insert(format!("{}|{by:?}", view_key(scope)), spend.clone());
    }
}
