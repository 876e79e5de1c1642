//! Changes to the rollups as sums in memory: what adding or removing an attempt or a
//! verification does to each cell. Pure arithmetic: `writes` turns a delta into SQL.

use std::collections::BTreeMap;

use sqlx::FromRow;

use rustc_hash::FxHashMap as HashMap;

use super::cells::{ALL_ERRORS, Grain, channel_bit, is_converted, is_delivered, is_final};
use super::facts::{AttemptFacts, Counted};
use super::funnel::{TIME_BUCKETS, funnel_facts};

/// Where a regular verification is counted: the time of its attempts (any of them, as
/// they share the period), country, carrier and service.
pub(super) struct VerificationPlace<'a> {
    pub(super) time: &'a str,
    pub(super) country: &'a str,
    pub(super) carrier: &'a str,
    pub(super) service_sid: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct AttemptCell {
    pub(super) grain: Grain,
    pub(super) period: String,
    pub(super) country: String,
    pub(super) carrier: String,
    pub(super) channel: String,
    pub(super) service_sid: String,
    pub(super) error_code: String,
    pub(super) conversion_status: String,
    pub(super) currency: String,
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AttemptMeasures {
    pub(super) attempts: i64,
    pub(super) delivered: i64,
    pub(super) finalized: i64,
    pub(super) spend_micros: i64,
    /// Spend on attempts whose verification has no converted attempt: a verification that
    /// converts later takes its earlier attempts' spend out of it.
    pub(super) unconverted_verification_spend_micros: i64,
}

impl AttemptMeasures {
    /// Whether adding these changes a row: a message status that settles later changes
    /// only `delivered` and `finalized`.
    pub(super) fn changes_anything(&self) -> bool {
        self.attempts != 0
            || self.delivered != 0
            || self.finalized != 0
            || self.spend_micros != 0
            || self.unconverted_verification_spend_micros != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct VerificationCell {
    pub(super) grain: Grain,
    pub(super) unconverted_channels: i64,
    pub(super) converted_channels: i64,
    pub(super) error_key: String,
    pub(super) period: String,
    pub(super) country: String,
    pub(super) carrier: String,
    pub(super) service_sid: String,
}

/// A row of `irregular_attempts`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, FromRow, serde::Deserialize)]
pub struct IrregularAttempt {
    pub grain: String,
    pub verification_sid: String,
    pub sid: String,
    pub period: String,
    pub country: String,
    pub carrier: String,
    pub channel: String,
    pub service_sid: String,
    pub error_code: String,
    pub conversion_status: String,
}

/// A row of `rollup_funnel`: verifications by the place and period of their first attempt,
/// their path of channels, their attempts and the attempt they converted at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct FunnelCell {
    pub(super) grain: Grain,
    pub(super) channels: i64,
    pub(super) attempts: i64,
    pub(super) converted_at: i64,
    pub(super) period: String,
    pub(super) country: String,
    pub(super) carrier: String,
    pub(super) service_sid: String,
    pub(super) path: String,
}

/// A funnel row's sums: verifications, then the gaps per time bucket, then the times to
/// conversion per time bucket.
pub(super) type FunnelMeasures = [i64; 1 + 2 * TIME_BUCKETS];

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct HourCell {
    pub(super) hour: String,
    pub(super) country: String,
    pub(super) carrier: String,
    pub(super) channel: String,
}

/// Rollup cells, looked up by borrowed keys (`…Key`): most attempts land in a cell that
/// exists, and building its owned key first would cost a dozen allocations each.
pub(super) type CellMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;

/// Implements a borrowed lookup key for a cell: the same fields, in the same order, as
/// `&str` where the cell has `String`, so both hash alike.
macro_rules! cell_key {
    ($key:ident => $cell:ident { $($copied:ident: $copied_ty:ty),* ; $($text:ident),* }) => {
        #[derive(Hash)]
        struct $key<'a> {
            $($copied: $copied_ty,)*
            $($text: &'a str,)*
        }

        impl hashbrown::Equivalent<$cell> for $key<'_> {
            fn equivalent(&self, cell: &$cell) -> bool {
                $(self.$copied == cell.$copied &&)* $(self.$text == cell.$text)&&*
            }
        }

        impl From<&$key<'_>> for $cell {
            fn from(key: &$key<'_>) -> $cell {
                $cell { $($copied: key.$copied,)* $($text: key.$text.to_string(),)* }
            }
        }
    };
}

cell_key!(AttemptCellKey => AttemptCell {
    grain: Grain; period, country, carrier, channel, service_sid, error_code, conversion_status, currency
});
cell_key!(VerificationCellKey => VerificationCell {
    grain: Grain, unconverted_channels: i64, converted_channels: i64; error_key, period, country, carrier, service_sid
});
cell_key!(HourCellKey => HourCell { ; hour, country, carrier, channel });
cell_key!(FunnelCellKey => FunnelCell {
    grain: Grain, channels: i64, attempts: i64, converted_at: i64; period, country, carrier, service_sid, path
});

/// Changes to the rollups, summed in memory and written at once.
#[derive(Default)]
pub struct RollupDelta {
    /// Hour-grain rows before this hour are neither written nor read.
    pub(super) hour_horizon: String,
    pub(super) attempts: CellMap<AttemptCell, AttemptMeasures>,
    pub(super) verifications: CellMap<VerificationCell, i64>,
    pub(super) irregular: HashMap<IrregularAttempt, i64>,
    pub(super) hours: CellMap<HourCell, [i64; 4]>,
    pub(super) funnel: CellMap<FunnelCell, FunnelMeasures>,
}

impl RollupDelta {
    pub fn new(hour_horizon: String) -> RollupDelta {
        RollupDelta { hour_horizon, ..RollupDelta::default() }
    }

    fn skips(&self, grain: Grain, time: &str) -> bool {
        grain == Grain::Hour && *grain.period(time) < *self.hour_horizon.as_str()
    }

    /// The cell of an attempt at `grain`, unless that grain does not keep its time.
    fn attempt_cell(&mut self, grain: Grain, facts: &Counted<'_>) -> Option<&mut AttemptMeasures> {
        if self.skips(grain, facts.date_created) {
            return None;
        }
        let period = grain.period(facts.date_created);
        let cell = AttemptCellKey {
            grain,
            period: &period,
            country: facts.country,
            carrier: facts.carrier,
            channel: facts.channel,
            service_sid: facts.service_sid,
            error_code: facts.error_code,
            conversion_status: facts.conversion_status,
            currency: facts.currency,
        };
        Some(self.attempts.entry_ref(&cell).or_default())
    }

    /// Adds or removes the spend of one verification's attempts, if none of them converted.
    pub fn unconverted_spend(&mut self, attempts: &[&AttemptFacts], sign: i64) {
        if attempts.iter().any(|a| is_converted(&a.conversion_status)) {
            return;
        }
        for facts in attempts.iter().map(|a| a.counted()).filter(|c| !c.currency.is_empty()) {
            for grain in Grain::ALL {
                if let Some(m) = self.attempt_cell(grain, &facts) {
                    m.unconverted_verification_spend_micros += sign * facts.price_micros;
                }
            }
        }
    }

    /// Adds (`sign` 1) or removes (`sign` -1) one attempt's counts.
    pub fn attempt(&mut self, facts: &Counted<'_>, sign: i64) {
        let delivered = i64::from(is_delivered(facts.message_status));
        let finalized = i64::from(is_final(facts.message_status));
        let hour_period = Grain::Hour.period(facts.date_created);
        let hour =
            HourCellKey { hour: &hour_period, country: facts.country, carrier: facts.carrier, channel: facts.channel };
        let counts = self.hours.entry_ref(&hour).or_default();
        counts[0] += sign;
        counts[1] += sign * i64::from(is_converted(facts.conversion_status));
        counts[2] += sign * delivered;
        counts[3] += sign * finalized;
        for grain in Grain::ALL {
            let Some(m) = self.attempt_cell(grain, facts) else { continue };
            m.attempts += sign;
            m.delivered += sign * delivered;
            m.finalized += sign * finalized;
            m.spend_micros += sign * facts.price_micros;
        }
    }

    /// Adds or removes one verification, given all of its attempts in the order they were made.
    pub fn verification(&mut self, attempts: &[&AttemptFacts], sign: i64) {
        self.verification_sets(attempts, sign);
        self.counted_in_order(attempts, sign);
    }

    /// What needs all of a verification's attempts in order, or whether any converted: its
    /// retry funnel and its spend if it never converted.
    pub fn counted_in_order(&mut self, attempts: &[&AttemptFacts], sign: i64) {
        self.funnel(attempts, sign);
        self.unconverted_spend(attempts, sign);
    }

    /// Adds or removes one verification's retry funnel, counted at its first attempt.
    pub fn funnel(&mut self, attempts: &[&AttemptFacts], sign: i64) {
        let (Some(first), Some(facts)) = (attempts.first(), funnel_facts(attempts)) else { return };
        for grain in Grain::ALL {
            if self.skips(grain, &first.date_created) {
                continue;
            }
            let period = grain.period(&first.date_created);
            let cell = FunnelCellKey {
                grain,
                channels: facts.channels,
                attempts: facts.attempts,
                converted_at: facts.converted_at,
                period: &period,
                country: &first.country,
                carrier: &first.carrier,
                service_sid: &first.service_sid,
                path: &facts.path,
            };
            let m = self.funnel.entry_ref(&cell).or_insert([0; 1 + 2 * TIME_BUCKETS]);
            m[0] += sign;
            for (i, n) in facts.gaps.iter().chain(facts.to_conversion.iter()).enumerate() {
                m[1 + i] += sign * n;
            }
        }
    }

    /// Adds or removes one verification's channel sets, given all of its attempts.
    pub fn verification_sets(&mut self, attempts: &[&AttemptFacts], sign: i64) {
        let Some(first) = attempts.first() else { return };
        for grain in Grain::ALL {
            let period = grain.period(&first.date_created);
            let regular = attempts.iter().all(|a| {
                grain.period(&a.date_created) == period
                    && a.country == first.country
                    && a.carrier == first.carrier
                    && a.service_sid == first.service_sid
            });
            if !regular {
                let kept: Vec<&&AttemptFacts> =
                    attempts.iter().filter(|a| !self.skips(grain, &a.date_created)).collect();
                for a in kept {
                    let row = IrregularAttempt {
                        grain: grain.as_str().to_string(),
                        verification_sid: a.verification_sid.clone(),
                        sid: a.sid.clone(),
                        period: grain.period(&a.date_created).to_string(),
                        country: a.country.clone(),
                        carrier: a.carrier.clone(),
                        channel: a.channel.clone(),
                        service_sid: a.service_sid.clone(),
                        error_code: a.error_code.clone(),
                        conversion_status: a.conversion_status.clone(),
                    };
                    *self.irregular.entry(row).or_default() += sign;
                }
                continue;
            }
            let mut by_error: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            for a in attempts {
                let bit = channel_bit(&a.channel);
                for key in [ALL_ERRORS, a.error_code.as_str()] {
                    let masks = by_error.entry(key).or_default();
                    if is_converted(&a.conversion_status) {
                        masks.1 |= bit;
                    } else {
                        masks.0 |= bit;
                    }
                }
            }
            let place = VerificationPlace {
                time: &first.date_created,
                country: &first.country,
                carrier: &first.carrier,
                service_sid: &first.service_sid,
            };
            self.regular_verification(grain, &place, by_error, sign);
        }
    }

    /// Counts a verification whose attempts share `place`'s period, country, carrier and
    /// service, given the channel bit sets of its attempts under each error key.
    pub(super) fn regular_verification<'a>(
        &mut self,
        grain: Grain,
        place: &VerificationPlace<'_>,
        by_error: impl IntoIterator<Item = (&'a str, (i64, i64))>,
        sign: i64,
    ) {
        if self.skips(grain, place.time) {
            return;
        }
        let period = grain.period(place.time);
        for (error_key, (unconverted_channels, converted_channels)) in by_error {
            let cell = VerificationCellKey {
                grain,
                unconverted_channels,
                converted_channels,
                error_key,
                period: &period,
                country: place.country,
                carrier: place.carrier,
                service_sid: place.service_sid,
            };
            *self.verifications.entry_ref(&cell).or_default() += sign;
        }
    }
}

/// Adds to `delta` the rollup changes of replacing `old` attempts (grouped by
/// verification, as stored) with `changed` ones (new or updated).
pub fn add_changes(delta: &mut RollupDelta, old: &[AttemptFacts], changed: &[AttemptFacts]) {
    let mut before: HashMap<&str, Vec<&AttemptFacts>> = HashMap::default();
    for facts in old {
        before.entry(&facts.verification_sid).or_default().push(facts);
    }
    for attempts in before.values_mut() {
        attempts.sort_by(|a, b| (&a.date_created, &a.sid).cmp(&(&b.date_created, &b.sid)));
    }
    let old_by_sid: HashMap<&str, &AttemptFacts> = old.iter().map(|f| (f.sid.as_str(), f)).collect();
    let mut after: HashMap<&str, Vec<&AttemptFacts>> = changed
        .iter()
        .map(|f| (f.verification_sid.as_str(), before.get(f.verification_sid.as_str()).cloned().unwrap_or_default()))
        .collect();
    for facts in changed {
        if let Some(previous) = old_by_sid.get(facts.sid.as_str()) {
            delta.attempt(&previous.counted(), -1);
        }
        delta.attempt(&facts.counted(), 1);
        let attempts = after.entry(&facts.verification_sid).or_default();
        match attempts.iter_mut().find(|a| a.sid == facts.sid) {
            Some(slot) => *slot = facts,
            None => attempts.push(facts),
        }
    }
    for (verification_sid, attempts) in &mut after {
        if let Some(previous) = before.get(verification_sid) {
            delta.verification(previous, -1);
        }
        attempts.sort_by(|a, b| (&a.date_created, &a.sid).cmp(&(&b.date_created, &b.sid)));
        delta.verification(attempts, 1);
    }
}

/// Attempts grouped by verification, each group in the order its attempts were made.
pub(super) fn by_verification(facts: &mut [AttemptFacts]) -> impl Iterator<Item = &[AttemptFacts]> {
    facts.sort_unstable_by(|a, b| {
        (&a.verification_sid, &a.date_created, &a.sid).cmp(&(&b.verification_sid, &b.date_created, &b.sid))
    });
    facts.chunk_by(|a, b| a.verification_sid == b.verification_sid)
}

/// Adds the channel sets of `facts`' verifications, which `facts` holds every attempt of.
pub(super) fn count_verification_sets(delta: &mut RollupDelta, facts: &mut [AttemptFacts]) {
    for verification in by_verification(facts) {
        let attempts: Vec<_> = verification.iter().collect();
        delta.verification_sets(&attempts, 1);
    }
}

/// Adds the retry funnels of `facts`' verifications and the spend of those that never
/// converted; `facts` holds every attempt of them.
pub(super) fn count_in_order(delta: &mut RollupDelta, facts: &mut [AttemptFacts]) {
    for verification in by_verification(facts) {
        let attempts: Vec<_> = verification.iter().collect();
        delta.counted_in_order(&attempts, 1);
    }
}

pub(super) fn add_verification(delta: &mut RollupDelta, attempts: &[AttemptFacts]) {
    for facts in attempts {
        delta.attempt(&facts.counted(), 1);
    }
    let refs: Vec<&AttemptFacts> = attempts.iter().collect();
    delta.verification(&refs, 1);
}

/// A delta as rows of the rollup tables whose measures are the changes to add, every table's
/// rows in the order of its primary key: two writers that lock rows in that order cannot
/// deadlock. Cells the delta leaves as they were are left out.
pub struct DeltaRows {
    pub attempts: Vec<super::AttemptRollupRow>,
    pub verifications: Vec<super::VerificationRollupRow>,
    pub hours: Vec<super::HourRollupRow>,
    pub funnel: Vec<super::FunnelRollupRow>,
    /// Irregular attempts to remove (a negative net) or to write (a positive one).
    pub irregular: Vec<(IrregularAttempt, i64)>,
    /// The grains and periods of every row the delta changes, as `rollup_changes` records them.
    pub touched: std::collections::BTreeSet<(&'static str, String)>,
}

impl RollupDelta {
    pub fn into_rows(self) -> DeltaRows {
        let touched = super::writes::touched_periods(&self);
        let mut attempts: Vec<super::AttemptRollupRow> = self
            .attempts
            .into_iter()
            .filter(|(_, m)| m.changes_anything())
            .map(|(c, m)| super::AttemptRollupRow {
                grain: c.grain.as_str().to_string(),
                period: c.period,
                country: c.country,
                carrier: c.carrier,
                channel: c.channel,
                service_sid: c.service_sid,
                error_code: c.error_code,
                conversion_status: c.conversion_status,
                currency: c.currency,
                attempts: m.attempts,
                delivered: m.delivered,
                finalized: m.finalized,
                spend_micros: m.spend_micros,
                unconverted_verification_spend_micros: m.unconverted_verification_spend_micros,
            })
            .collect();
        attempts.sort_unstable_by(|a, b| {
            (&a.grain, &a.period, &a.country, &a.carrier, &a.channel, &a.service_sid, &a.error_code)
                .cmp(&(&b.grain, &b.period, &b.country, &b.carrier, &b.channel, &b.service_sid, &b.error_code))
                .then_with(|| (&a.conversion_status, &a.currency).cmp(&(&b.conversion_status, &b.currency)))
        });
        let mut verifications: Vec<super::VerificationRollupRow> = self
            .verifications
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|(c, n)| super::VerificationRollupRow {
                grain: c.grain.as_str().to_string(),
                error_key: c.error_key,
                period: c.period,
                country: c.country,
                carrier: c.carrier,
                service_sid: c.service_sid,
                unconverted_channels: c.unconverted_channels,
                converted_channels: c.converted_channels,
                verifications: n,
            })
            .collect();
        verifications.sort_unstable_by(|a, b| {
            (&a.grain, &a.error_key, &a.period, &a.country, &a.carrier, &a.service_sid)
                .cmp(&(&b.grain, &b.error_key, &b.period, &b.country, &b.carrier, &b.service_sid))
                .then_with(|| {
                    (a.unconverted_channels, a.converted_channels).cmp(&(b.unconverted_channels, b.converted_channels))
                })
        });
        let mut hours: Vec<super::HourRollupRow> = self
            .hours
            .into_iter()
            .filter(|(_, c)| *c != [0; 4])
            .map(|(cell, c)| super::HourRollupRow {
                hour: cell.hour,
                country: cell.country,
                carrier: cell.carrier,
                channel: cell.channel,
                attempts: c[0],
                converted: c[1],
                delivered: c[2],
                finalized: c[3],
            })
            .collect();
        hours.sort_unstable_by(|a, b| {
            (&a.hour, &a.country, &a.carrier, &a.channel).cmp(&(&b.hour, &b.country, &b.carrier, &b.channel))
        });
        let mut funnel: Vec<super::FunnelRollupRow> = self
            .funnel
            .into_iter()
            .filter(|(_, m)| m.iter().any(|n| *n != 0))
            .map(|(c, m)| super::FunnelRollupRow {
                grain: c.grain.as_str().to_string(),
                period: c.period,
                country: c.country,
                carrier: c.carrier,
                service_sid: c.service_sid,
                path: c.path,
                channels: c.channels,
                attempts: c.attempts,
                converted_at: c.converted_at,
                verifications: m[0],
                gaps: std::array::from_fn(|i| m[1 + i]),
                to_conversion: std::array::from_fn(|i| m[1 + TIME_BUCKETS + i]),
            })
            .collect();
        funnel.sort_unstable_by(|a, b| {
            (&a.grain, &a.period, &a.country, &a.carrier, &a.service_sid, &a.path)
                .cmp(&(&b.grain, &b.period, &b.country, &b.carrier, &b.service_sid, &b.path))
                .then_with(|| (a.channels, a.attempts, a.converted_at).cmp(&(b.channels, b.attempts, b.converted_at)))
        });
        let mut irregular: Vec<(IrregularAttempt, i64)> = self.irregular.into_iter().filter(|(_, n)| *n != 0).collect();
        irregular.sort_unstable_by(|(a, _), (b, _)| {
            (&a.grain, &a.verification_sid, &a.sid).cmp(&(&b.grain, &b.verification_sid, &b.sid))
        });
        DeltaRows { attempts, verifications, hours, funnel, irregular, touched }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(sid: &str, verification: &str, time: &str, channel: &str, status: &str, message: &str) -> AttemptFacts {
        AttemptFacts {
            sid: sid.into(),
            verification_sid: verification.into(),
            date_created: time.into(),
            date_updated: time.into(),
            country: "CO".into(),
            carrier: "Tigo".into(),
            channel: channel.into(),
            service_sid: "VA1".into(),
            error_code: String::new(),
            conversion_status: status.into(),
            currency: "USD".into(),
            message_status: message.into(),
            price_micros: 50_000,
        }
    }

    #[test]
    fn an_attempt_added_and_removed_changes_nothing() {
        let attempt = facts("VL1", "VE1", "2026-11-25T14:03:00Z", "sms", "unconverted", "delivered");
        let mut delta = RollupDelta::new(String::new());
        delta.attempt(&attempt.counted(), 1);
        delta.attempt(&attempt.counted(), -1);
        assert!(delta.attempts.values().all(|m| !m.changes_anything()));
        assert!(delta.hours.values().all(|counts| counts == &[0; 4]));
    }

    #[test]
    fn a_settled_message_status_changes_only_delivered_and_final() {
        let sent = facts("VL1", "VE1", "2026-11-25T14:03:00Z", "sms", "unconverted", "sent");
        let delivered = AttemptFacts { message_status: "delivered".into(), ..sent.clone() };
        let mut delta = RollupDelta::new(String::new());
        add_changes(&mut delta, std::slice::from_ref(&sent), std::slice::from_ref(&delivered));
        for measures in delta.attempts.values() {
            assert_eq!(
                (measures.attempts, measures.delivered, measures.finalized, measures.spend_micros),
                (0, 1, 1, 0)
            );
        }
        assert_eq!(delta.attempts.len(), 2, "one cell per grain");
        assert!(delta.verifications.values().all(|n| *n == 0), "the verification is the same");
    }

    #[test]
    fn a_verification_is_counted_once_with_its_channels_or_listed_when_it_straddles() {
        let sms = facts("VL1", "VE1", "2026-11-25T14:03:00Z", "sms", "unconverted", "undelivered");
        let call = facts("VL2", "VE1", "2026-11-25T14:05:00Z", "call", "converted", "");
        let mut delta = RollupDelta::new(String::new());
        delta.verification(&[&sms, &call], 1);
        let day = delta
            .verifications
            .iter()
            .find(|(cell, _)| cell.grain == Grain::Day && cell.error_key == ALL_ERRORS)
            .expect("a day row over all errors");
        assert_eq!((day.0.unconverted_channels, day.0.converted_channels, *day.1), (1, 2, 1));
        assert!(delta.irregular.is_empty());

        let next_hour = AttemptFacts { date_created: "2026-11-25T15:01:00Z".into(), ..call };
        let mut delta = RollupDelta::new(String::new());
        delta.verification(&[&sms, &next_hour], 1);
        let hour_rows: Vec<_> = delta.irregular.keys().filter(|row| row.grain == Grain::Hour.as_str()).collect();
        assert_eq!(hour_rows.len(), 2, "both attempts of a verification across two hours are listed");
        assert!(delta.verifications.keys().all(|cell| cell.grain == Grain::Day), "and counted whole by day");
    }

    #[test]
    fn hours_before_the_horizon_are_not_kept() {
        let attempt = facts("VL1", "VE1", "2026-11-25T14:03:00Z", "sms", "converted", "read");
        let mut delta = RollupDelta::new("2026-11-26T00".into());
        delta.attempt(&attempt.counted(), 1);
        assert!(delta.attempts.keys().all(|cell| cell.grain == Grain::Day));
    }
}
