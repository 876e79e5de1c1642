//! The rollups of a bulk load, summed as its pages are written, so that its end need not
//! read every attempt back. Attempt counts add up page by page. A verification whose
//! attempts share an hour, a country, a carrier and a service is kept as a few numbers;
//! the few others (an hour boundary crossed, a carrier changed) are counted from their
//! stored attempts when the load ends, once the verification index exists.
//!
//! Those numbers are the only memory a load holds for each verification, so they are
//! capped: a load with more verifications than `SUMMED_VERIFICATIONS` sums only those of
//! the lower SIDs, and counts the others from the snapshot at its end, a range of SIDs
//! at a time.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use sqlx::{Sqlite, Transaction};

use super::cells::{Grain, channel_bit};
use super::delta::{RollupDelta, VerificationPlace, count_in_order, count_verification_sets};
use super::facts::{Counted, facts_json, facts_of_json};
use super::names::Names;
use super::writes::{RowWrite, RowWrites};
use super::{clear_rollups, mark_rollups_current, verification_facts};
use crate::model::{Attempt, ChannelData, twilio_time};
use crate::store::StoreError;

/// Verifications a bulk load sums in memory at most: what a table of 2^20 entries holds
/// (about 60 MB), and more than a month of a million attempts has.
pub const SUMMED_VERIFICATIONS: usize = 917_504;

/// The bits of a verification SID's first four hex digits: the load sums the
/// verifications whose SIDs start below a bound, and counts the others at its end.
const PREFIXES: u32 = 1 << 16;

/// The rollups of the attempts a bulk load has written so far.
pub struct LoadRollups {
    delta: RollupDelta,
    names: Names,
    /// The verifications summed, by their SID's bits, high half first.
    verifications: HashMap<[u64; 2], Summed>,
    /// At most this many verifications are held; past it, `summed_below` is lowered.
    limit: usize,
    /// Verifications of Twilio's form whose SIDs' first four hex digits are below this
    /// are summed here; the others are counted from their stored attempts when the load ends.
    summed_below: u32,
    /// Verifications counted from their stored attempts when the load ends, by SID.
    counted_at_end: Vec<String>,
    /// Verification SIDs not of Twilio's form (`VE` and 32 lower-case hex digits): all
    /// counted at the end.
    unusual_sids: HashSet<String>,
}

enum Summed {
    Regular(RegularVerification),
    CountedAtEnd,
}

/// Hour (since the epoch), country, carrier and service, as ids in `Names`.
type Place = (i32, u32, u32, u32);

/// Error codes a verification can have and still be summed; more are counted at the end.
const SUMMED_ERRORS: usize = 2;

/// The channel bit sets (unconverted, converted) of a verification's attempts: of all of
/// them, and of those with each error code.
struct RegularVerification {
    place: Place,
    all: (u8, u8),
    errors: [(u32, u8, u8); SUMMED_ERRORS],
    error_count: u8,
}

impl RegularVerification {
    fn at(place: Place) -> RegularVerification {
        RegularVerification { place, all: (0, 0), errors: [(0, 0, 0); SUMMED_ERRORS], error_count: 0 }
    }

    /// Adds an attempt's channel; false when it has one error code more than it can hold.
    fn add(&mut self, error: u32, bit: u8, converted: bool) -> bool {
        let add = |masks: (&mut u8, &mut u8)| {
            if converted { *masks.1 |= bit } else { *masks.0 |= bit }
        };
        add((&mut self.all.0, &mut self.all.1));
        let count = usize::from(self.error_count);
        if let Some(slot) = self.errors[..count].iter_mut().find(|slot| slot.0 == error) {
            add((&mut slot.1, &mut slot.2));
            return true;
        }
        if count == SUMMED_ERRORS {
            return false;
        }
        self.errors[count] = (error, 0, 0);
        let slot = &mut self.errors[count];
        add((&mut slot.1, &mut slot.2));
        self.error_count += 1;
        true
    }
}

/// The bits of a verification SID of Twilio's form, high half first; `None` for any other
/// text, so that two different texts never share bits.
fn sid_bits(sid: &str) -> Option<[u64; 2]> {
    let hex = sid.strip_prefix("VE").filter(|hex| hex.len() == 32)?;
    if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    Some([u64::from_str_radix(&hex[..16], 16).ok()?, u64::from_str_radix(&hex[16..], 16).ok()?])
}

/// The value of a SID's first four hex digits.
fn prefix(bits: [u64; 2]) -> u32 {
    (bits[0] >> 48) as u32
}

/// The currency of a priced attempt, upper case; `""` for an attempt without a price (not yet
/// priced, or an email) or without a currency, which the rollups count as unpriced.
fn currency(attempt: &Attempt) -> Cow<'_, str> {
    if crate::store::price_value(attempt).is_none() {
        return Cow::Borrowed("");
    }
    match attempt.price.as_ref().and_then(|p| p.currency.as_deref()) {
        None => Cow::Borrowed(""),
        Some(c) if !c.bytes().any(|b| b.is_ascii_lowercase()) => Cow::Borrowed(c),
        Some(c) => Cow::Owned(c.to_ascii_uppercase()),
    }
}

impl LoadRollups {
    /// Rollups of a load into an empty snapshot; hour-grain rows before `hour_horizon` are
    /// not kept. `limit` is the most verifications summed in memory.
    pub fn new(hour_horizon: String, limit: usize) -> LoadRollups {
        LoadRollups {
            delta: RollupDelta::new(hour_horizon),
            names: Names::default(),
            verifications: HashMap::default(),
            limit: limit.max(1),
            summed_below: PREFIXES,
            counted_at_end: Vec::new(),
            unusual_sids: HashSet::default(),
        }
    }

    /// Adds the attempts of a page. An attempt listed twice is counted twice here, and
    /// the load's end, finding it twice, reads the rollups from the attempts instead.
    pub fn add(&mut self, attempts: &[Attempt]) {
        for attempt in attempts {
            self.add_attempt(attempt);
        }
    }

    fn add_attempt(&mut self, attempt: &Attempt) {
        let data = attempt.channel_data.as_ref();
        let text = |get: fn(&ChannelData) -> Option<&String>| data.and_then(get).map_or("", String::as_str);
        let created = twilio_time::format(&attempt.date_created);
        let currency = currency(attempt);
        let counted = Counted {
            date_created: &created,
            country: text(|d| d.country.as_ref()),
            carrier: text(|d| d.carrier.as_ref()),
            channel: attempt.channel.as_str(),
            service_sid: &attempt.service_sid,
            error_code: text(|d| d.error_code.as_ref()),
            conversion_status: attempt.conversion_status.as_str(),
            currency: &currency,
            message_status: text(|d| d.message_status.as_ref()),
            price_micros: super::facts::price_micros(crate::store::price_value(attempt)),
        };
        self.delta.attempt(&counted, 1);

        let Some(key) = sid_bits(&attempt.verification_sid) else {
            self.unusual_sids.insert(attempt.verification_sid.clone());
            return;
        };
        if prefix(key) >= self.summed_below {
            return;
        }
        // An hour past what a place holds is counted at the end, like a changed carrier. (A
        // quarter hour in a zone whose offsets are not whole hours: its days start on one.)
        let place: Option<Place> =
            i32::try_from(attempt.date_created.timestamp().div_euclid(place_seconds())).ok().map(|hour| {
                (
                    hour,
                    self.names.intern(counted.country),
                    self.names.intern(counted.carrier),
                    self.names.intern(counted.service_sid),
                )
            });
        // "*" is the error key of all attempts: a code spelt so would share its row.
        let error = (counted.error_code != "*").then(|| self.names.intern(counted.error_code));
        let bit = channel_bit(counted.channel) as u8;
        let converted = counted.conversion_status == "converted";
        match self.verifications.entry(key) {
            Entry::Vacant(slot) => {
                let summed = match (place, error) {
                    (Some(place), Some(error)) => {
                        let mut regular = RegularVerification::at(place);
                        regular.add(error, bit, converted);
                        Summed::Regular(regular)
                    }
                    _ => {
                        self.counted_at_end.push(attempt.verification_sid.clone());
                        Summed::CountedAtEnd
                    }
                };
                slot.insert(summed);
                if self.verifications.len() >= self.limit {
                    self.sum_fewer();
                }
            }
            Entry::Occupied(mut slot) => {
                let Summed::Regular(regular) = slot.get_mut() else { return };
                let summed = place.is_some_and(|place| regular.place == place)
                    && error.is_some_and(|error| regular.add(error, bit, converted));
                if !summed {
                    slot.insert(Summed::CountedAtEnd);
                    self.counted_at_end.push(attempt.verification_sid.clone());
                }
            }
        }
    }

    /// Lowers the bound of the SIDs summed by an eighth: the verifications above it are
    /// dropped, to be counted from their stored attempts when the load ends.
    fn sum_fewer(&mut self) {
        self.summed_below = self.summed_below.saturating_sub((self.summed_below / 8).max(1));
        let below = self.summed_below;
        // Into a new table: removing in place leaves markers that would make it grow.
        let mut kept = HashMap::with_capacity_and_hasher(self.limit, Default::default());
        kept.extend(std::mem::take(&mut self.verifications).into_iter().filter(|(key, _)| prefix(*key) < below));
        self.verifications = kept;
        self.counted_at_end.retain(|sid| sid_bits(sid).is_some_and(|key| prefix(key) < below));
    }

    /// The load's rollups made ready to write. Needs no snapshot, so that a bulk load
    /// builds them on another core while sqlite builds the indexes.
    pub fn into_writes(self) -> SummedLoad {
        let LoadRollups { mut delta, names, verifications, summed_below, mut counted_at_end, unusual_sids, .. } = self;
        let counted_from = (summed_below < PREFIXES).then(|| {
            // Verifications are spread evenly over SIDs: read about this many at a time.
            const VERIFICATIONS_PER_READ: f64 = 50_000.0;
            let per_prefix = verifications.len().max(1) as f64 / f64::from(summed_below.max(1));
            CountedFrom {
                prefix: summed_below,
                prefixes_per_read: ((VERIFICATIONS_PER_READ / per_prefix) as u32).max(1),
            }
        });
        let mut hour_starts: HashMap<i32, String> = HashMap::default();
        // Consumed, so that the table is freed before the rows are made.
        for summed in verifications.into_values() {
            let Summed::Regular(regular) = summed else { continue };
            let (hour, country, carrier, service) = regular.place;
            let time = hour_starts.entry(hour).or_insert_with(|| {
                twilio_time::format(
                    &chrono::DateTime::from_timestamp(i64::from(hour) * place_seconds(), 0).unwrap_or_default(),
                )
            });
            let place = VerificationPlace {
                time,
                country: names.text(country),
                carrier: names.text(carrier),
                service_sid: names.text(service),
            };
            let errors =
                regular.errors[..usize::from(regular.error_count)].iter().map(|(error, unconverted, converted)| {
                    (names.text(*error), (i64::from(*unconverted), i64::from(*converted)))
                });
            let all = ("*", (i64::from(regular.all.0), i64::from(regular.all.1)));
            for grain in Grain::ALL {
                delta.regular_verification(grain, &place, std::iter::once(all).chain(errors.clone()), 1);
            }
        }
        counted_at_end.extend(unusual_sids);
        let hour_horizon = delta.hour_horizon.clone();
        SummedLoad { writes: RowWrites::of(delta, RowWrite::IntoEmpty), counted_at_end, counted_from, hour_horizon }
    }
}

/// A bulk load's rollups ready to write: the rows summed as its pages were fetched, as
/// statements, and the verifications left to count from their stored attempts.
pub struct SummedLoad {
    writes: RowWrites,
    counted_at_end: Vec<String>,
    /// Every verification of Twilio's form whose SID starts from this prefix on is counted too.
    counted_from: Option<CountedFrom>,
    hour_horizon: String,
}

impl SummedLoad {
    /// Replaces the rollups with the load's. The verifications not summed are read back by
    /// the verification index: `tx` must have built it.
    pub async fn replace_rollups(self, tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
        clear_rollups(tx).await?;
        self.writes.run(tx).await?;
        let sids: Vec<&str> = self.counted_at_end.iter().map(String::as_str).collect();
        let mut facts = verification_facts(tx, &sids).await?;
        let mut counted = RollupDelta::new(self.hour_horizon);
        count_verification_sets(&mut counted, &mut facts);
        drop(facts);
        if let Some(from) = self.counted_from {
            count_verifications_from(tx, from, &mut counted).await?;
        }
        // The funnel needs each verification's attempts in order, and the spend of those that
        // never converted all of them, which pages fetched by several slices at once do not
        // give: both are counted from the stored attempts.
        count_all_in_order(tx, &mut counted).await?;
        // Into the rows just written: a verification counted here may share their cells.
        RowWrites::of(counted, RowWrite::AddToStored).run(tx).await?;
        mark_rollups_current(tx).await
    }
}

/// Counts the retry funnel of every stored verification, and the spend of those that never
/// converted, reading the attempts in parts of whole verifications as a rebuild does.
async fn count_all_in_order(tx: &mut Transaction<'_, Sqlite>, counted: &mut RollupDelta) -> Result<(), StoreError> {
    super::for_each_part(tx, |mut facts| count_in_order(counted, &mut facts)).await
}

/// The verifications a load left to count by their SIDs' prefixes.
#[derive(Clone, Copy)]
struct CountedFrom {
    prefix: u32,
    prefixes_per_read: u32,
}

/// Counts every verification of Twilio's form whose SID starts from `from.prefix` on,
/// reading their attempts by the verification index, a range of prefixes at a time.
async fn count_verifications_from(
    tx: &mut Transaction<'_, Sqlite>,
    from: CountedFrom,
    counted: &mut RollupDelta,
) -> Result<(), StoreError> {
    // By rowid, so that the attempts are read in the order they are stored.
    let sql = format!(
        "{} WHERE rowid IN (SELECT rowid FROM attempts WHERE verification_sid >= ? AND verification_sid < ?)",
        facts_json()
    );
    let mut start = from.prefix;
    while start < PREFIXES {
        let end = start.saturating_add(from.prefixes_per_read).min(PREFIXES);
        // The last range ends where Twilio's verification SIDs do.
        let below = if end == PREFIXES { "VF".to_string() } else { format!("VE{end:04x}") };
        let text: String =
            sqlx::query_scalar(&sql).bind(format!("VE{start:04x}")).bind(below).fetch_one(&mut **tx).await?;
        let mut facts = facts_of_json(&text)?;
        drop(text);
        // SIDs of other forms sort among these, and are counted by their SIDs.
        facts.retain(|facts| sid_bits(&facts.verification_sid).is_some());
        count_verification_sets(counted, &mut facts);
        start = end;
    }
    Ok(())
}

/// The span of time a summed verification's attempts share (see `Place`).
fn place_seconds() -> i64 {
    if crate::zone::whole_hours() { 3600 } else { 900 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_twilio_shaped_sids_are_summed_by_their_bits() {
        assert_eq!(sid_bits("VE0000000000000000000000000000000a"), Some([0, 10]));
        assert_eq!(sid_bits("VEabcd000000000000000000000000000a").map(prefix), Some(0xabcd));
        assert_eq!(sid_bits("VE0000000000000000000000000000000A"), None);
        assert_eq!(sid_bits("VA0000000000000000000000000000000a"), None);
        assert_eq!(sid_bits("VE000a"), None);
    }

    #[test]
    fn the_summed_verifications_stay_within_their_limit_and_their_table() {
        let json = include_str!("../../../tests/data/attempt.json");
        let template: Attempt = serde_json::from_str(json).unwrap();
        // What a table of 1024 entries holds, as the default is what one of 2^20 does.
        let limit = 896;
        let mut rollups = LoadRollups::new(String::new(), limit);
        let mut capacity = 0;
        for i in 0..20_000u64 {
            let mut attempt = template.clone();
            // Spread over the prefixes, as Twilio's SIDs are.
            attempt.verification_sid = format!("VE{:016x}{i:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            rollups.add(std::slice::from_ref(&attempt));
            assert!(rollups.verifications.len() < limit);
            capacity = capacity.max(rollups.verifications.capacity());
        }
        assert!(capacity <= limit, "the table grew to hold {capacity}");
        assert!(rollups.summed_below < PREFIXES / 10, "{}", rollups.summed_below);
        // What is summed is exactly the verifications below the bound.
        let below =
            (0..20_000u64).filter(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 48) < u64::from(rollups.summed_below));
        assert_eq!(rollups.verifications.len(), below.count());
    }

    #[test]
    fn a_verification_holds_two_error_codes_and_no_more() {
        let mut regular = RegularVerification::at((0, 0, 0, 0));
        assert!(regular.add(7, 1, false));
        assert!(regular.add(7, 8, true));
        assert!(regular.add(9, 2, false));
        assert_eq!((regular.all, regular.errors, regular.error_count), ((3, 8), [(7, 1, 8), (9, 2, 0)], 2));
        assert!(!regular.add(11, 1, false));
    }
}
