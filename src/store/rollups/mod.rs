//! Rollups: counts per day and per hour keyed by the dashboard's dimensions, kept
//! in step with `attempts` by the same transactions, so that a view of millions of
//! attempts sums thousands of rows instead of scanning millions.
//!
//! Attempt measures add up across cells. Distinct verifications do not: a verification
//! retried on another channel, or failing with one error and then succeeding, touches
//! several cells. Each verification is therefore rolled up once per period with the
//! bit sets of the channels its unconverted and converted attempts used, which answers
//! any channel and status filter exactly; verifications that straddle periods, countries,
//! carriers or services are listed in `irregular_verifications` and counted from their
//! attempts when a view asks.

mod load;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use sqlx::{FromRow, QueryBuilder, Sqlite, SqlitePool, Transaction};

use super::StoreError;
use super::raw_insert::{self, Value};
use crate::model::{Attempt, twilio_time};
pub use load::{LoadRollups, SUMMED_VERIFICATIONS, SummedLoad};

/// Bump when the rollups' shape or meaning changes: snapshots are rebuilt on open.
/// 2: rows kept by version 1 missed message statuses that settled after an attempt was stored.
pub const ROLLUP_VERSION: i64 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Day,
    Hour,
}

impl Grain {
    pub const ALL: [Grain; 2] = [Grain::Day, Grain::Hour];

    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Hour => "hour",
        }
    }

    /// The period of an ISO 8601 time: `2026-11-25` or `2026-11-25T14`.
    pub fn period(self, time: &str) -> &str {
        let len = match self {
            Grain::Day => 10,
            Grain::Hour => 13,
        };
        time.get(..len).unwrap_or(time)
    }
}

/// The bit of a channel in the verification rollup's channel sets.
pub fn channel_bit(channel: &str) -> i64 {
    match channel {
        "sms" => 1,
        "call" => 2,
        "email" => 4,
        "whatsapp" => 8,
        "rbm" => 16,
        _ => 32,
    }
}

/// What the rollups need of one attempt; text is `""` where the attempt has none.
#[derive(Clone, Debug, FromRow, PartialEq, serde::Deserialize)]
pub struct AttemptFacts {
    pub sid: String,
    pub verification_sid: String,
    pub date_created: String,
    pub date_updated: String,
    pub country: String,
    pub carrier: String,
    pub channel: String,
    pub service_sid: String,
    pub error_code: String,
    pub conversion_status: String,
    pub currency: String,
    pub message_status: String,
    pub price_micros: i64,
}

/// Selects `AttemptFacts` from `attempts`.
pub const FACTS_SELECT: &str = "SELECT sid, verification_sid, date_created, date_updated, COALESCE(country, '') AS country, \
     COALESCE(carrier, '') AS carrier, channel, service_sid, COALESCE(error_code, '') AS error_code, conversion_status, \
     COALESCE(price_unit, '') AS currency, COALESCE(message_status, '') AS message_status, \
     CAST(ROUND(COALESCE(price, 0) * 1000000) AS INTEGER) AS price_micros FROM attempts";

/// A price as stored: `value` parsed to a float, as `upsert_attempts` stores it.
pub fn price_micros(value: Option<f64>) -> i64 {
    value.map(|v| (v * 1_000_000.0).round() as i64).unwrap_or(0)
}

impl AttemptFacts {
    pub fn of(attempt: &Attempt) -> AttemptFacts {
        let data = attempt.channel_data.as_ref();
        let text = |value: Option<&String>| value.cloned().unwrap_or_default();
        AttemptFacts {
            sid: attempt.sid.clone(),
            verification_sid: attempt.verification_sid.clone(),
            date_created: twilio_time::format(&attempt.date_created),
            date_updated: twilio_time::format(&attempt.date_updated),
            country: text(data.and_then(|d| d.country.as_ref())),
            carrier: text(data.and_then(|d| d.carrier.as_ref())),
            channel: attempt.channel.as_str().to_string(),
            service_sid: attempt.service_sid.clone(),
            error_code: text(data.and_then(|d| d.error_code.as_ref())),
            conversion_status: attempt.conversion_status.as_str().to_string(),
            currency: super::price_unit(attempt).unwrap_or_default(),
            message_status: text(data.and_then(|d| d.message_status.as_ref())),
            price_micros: price_micros(super::price_value(attempt)),
        }
    }
}

/// What the attempt-level rollups count of one attempt, borrowed from wherever it is.
pub struct Counted<'a> {
    pub date_created: &'a str,
    pub country: &'a str,
    pub carrier: &'a str,
    pub channel: &'a str,
    pub service_sid: &'a str,
    pub error_code: &'a str,
    pub conversion_status: &'a str,
    pub currency: &'a str,
    pub message_status: &'a str,
    pub price_micros: i64,
}

impl AttemptFacts {
    pub fn counted(&self) -> Counted<'_> {
        Counted {
            date_created: &self.date_created,
            country: &self.country,
            carrier: &self.carrier,
            channel: &self.channel,
            service_sid: &self.service_sid,
            error_code: &self.error_code,
            conversion_status: &self.conversion_status,
            currency: &self.currency,
            message_status: &self.message_status,
            price_micros: self.price_micros,
        }
    }
}

/// Where a regular verification is counted: the time of its attempts (any of them, as
/// they share the period), country, carrier and service.
struct VerificationPlace<'a> {
    time: &'a str,
    country: &'a str,
    carrier: &'a str,
    service_sid: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AttemptCell {
    grain: Grain,
    period: String,
    country: String,
    carrier: String,
    channel: String,
    service_sid: String,
    error_code: String,
    conversion_status: String,
    currency: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct AttemptMeasures {
    attempts: i64,
    delivered: i64,
    finalized: i64,
    spend_micros: i64,
}

impl AttemptMeasures {
    /// Whether adding these changes a row: a message status that settles later changes
    /// only `delivered` and `finalized`.
    fn changes_anything(&self) -> bool {
        self.attempts != 0 || self.delivered != 0 || self.finalized != 0 || self.spend_micros != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct VerificationCell {
    grain: Grain,
    unconverted_channels: i64,
    converted_channels: i64,
    error_key: String,
    period: String,
    country: String,
    carrier: String,
    service_sid: String,
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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct HourCell {
    hour: String,
    country: String,
    carrier: String,
    channel: String,
}

/// The texts of rollup rows (countries, carriers, services, error codes...), each stored
/// once and numbered, so that rows can be held and compared as numbers.
#[derive(Default)]
pub struct Names {
    ids: HashMap<String, u32>,
    texts: Vec<String>,
}

impl Names {
    /// The number of `text`, numbering it if it is new.
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.texts.len() as u32;
        self.ids.insert(text.to_string(), id);
        self.texts.push(text.to_string());
        id
    }

    /// The number of `text`, if it has one.
    pub fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// Hours a sync keeps at hour grain before its window's end: a 24-hour view and the one before it.
pub const HOUR_GRAIN_HOURS: i64 = 72;

/// Rollup cells, looked up by borrowed keys (`…Key`): most attempts land in a cell that
/// exists, and building its owned key first would cost a dozen allocations each.
type CellMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;

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

/// Changes to the rollups, summed in memory and written at once.
#[derive(Default)]
pub struct RollupDelta {
    /// Hour-grain rows before this hour are neither written nor read.
    hour_horizon: String,
    attempts: CellMap<AttemptCell, AttemptMeasures>,
    verifications: CellMap<VerificationCell, i64>,
    irregular: HashMap<IrregularAttempt, i64>,
    hours: CellMap<HourCell, [i64; 4]>,
}

fn is_delivered(message_status: &str) -> bool {
    matches!(message_status, "delivered" | "read")
}

fn is_final(message_status: &str) -> bool {
    matches!(message_status, "delivered" | "read" | "undelivered" | "failed")
}

impl RollupDelta {
    pub fn new(hour_horizon: String) -> RollupDelta {
        RollupDelta { hour_horizon, ..RollupDelta::default() }
    }

    fn skips(&self, grain: Grain, time: &str) -> bool {
        grain == Grain::Hour && grain.period(time) < self.hour_horizon.as_str()
    }

    /// Adds (`sign` 1) or removes (`sign` -1) one attempt's counts.
    pub fn attempt(&mut self, facts: &Counted<'_>, sign: i64) {
        let delivered = i64::from(is_delivered(facts.message_status));
        let finalized = i64::from(is_final(facts.message_status));
        let hour = HourCellKey {
            hour: Grain::Hour.period(facts.date_created),
            country: facts.country,
            carrier: facts.carrier,
            channel: facts.channel,
        };
        let counts = self.hours.entry_ref(&hour).or_default();
        counts[0] += sign;
        counts[1] += sign * i64::from(facts.conversion_status == "converted");
        counts[2] += sign * delivered;
        counts[3] += sign * finalized;
        for grain in Grain::ALL {
            if self.skips(grain, facts.date_created) {
                continue;
            }
            let cell = AttemptCellKey {
                grain,
                period: grain.period(facts.date_created),
                country: facts.country,
                carrier: facts.carrier,
                channel: facts.channel,
                service_sid: facts.service_sid,
                error_code: facts.error_code,
                conversion_status: facts.conversion_status,
                currency: facts.currency,
            };
            let m = self.attempts.entry_ref(&cell).or_default();
            m.attempts += sign;
            m.delivered += sign * delivered;
            m.finalized += sign * finalized;
            m.spend_micros += sign * facts.price_micros;
        }
    }

    /// Adds or removes one verification, given all of its attempts.
    pub fn verification(&mut self, attempts: &[&AttemptFacts], sign: i64) {
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
                for key in ["*", a.error_code.as_str()] {
                    let masks = by_error.entry(key).or_default();
                    if a.conversion_status == "converted" {
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
    fn regular_verification<'a>(
        &mut self,
        grain: Grain,
        place: &VerificationPlace<'_>,
        by_error: impl IntoIterator<Item = (&'a str, (i64, i64))>,
        sign: i64,
    ) {
        if self.skips(grain, place.time) {
            return;
        }
        for (error_key, (unconverted_channels, converted_channels)) in by_error {
            let cell = VerificationCellKey {
                grain,
                unconverted_channels,
                converted_channels,
                error_key,
                period: grain.period(place.time),
                country: place.country,
                carrier: place.carrier,
                service_sid: place.service_sid,
            };
            *self.verifications.entry_ref(&cell).or_default() += sign;
        }
    }
}

/// Values per `IN (...)` list, under sqlite's limit of bound parameters.
const ROWS_PER_STATEMENT: usize = 2_000;

/// How rollup rows are written: added to the stored ones, or into emptied tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowWrite {
    /// `ON CONFLICT` adds to the row.
    AddToStored,
    /// Sorted by key, so each table grows at its end.
    IntoEmpty,
}

impl RowWrite {
    /// The statement that writes one row of `columns` values.
    fn insert(self, table_and_columns: &str, columns: usize, update: &str) -> String {
        let parameters = vec!["?"; columns].join(", ");
        match self {
            RowWrite::AddToStored => {
                format!("INSERT INTO {table_and_columns} VALUES ({parameters}) ON CONFLICT DO UPDATE SET {update}")
            }
            RowWrite::IntoEmpty => format!("INSERT OR IGNORE INTO {table_and_columns} VALUES ({parameters})"),
        }
    }
}

/// Writes a delta into the rollups and drops the rows it empties.
pub async fn apply(tx: &mut Transaction<'_, Sqlite>, delta: RollupDelta) -> Result<(), StoreError> {
    RowWrites::of(delta, RowWrite::AddToStored).run(tx).await
}

/// A delta's writes as statements with their values, built apart from the transaction
/// that runs them: a bulk load builds them on one core while sqlite builds its indexes
/// on the other.
pub struct RowWrites(Vec<RowStatement>);

enum RowStatement {
    /// One statement run for each row, whose `columns` values `values` yields in turn.
    /// They are made as the rows are written, so that only a chunk of them is held at once.
    Rows {
        sql: String,
        columns: usize,
        values: Box<dyn Iterator<Item = Value> + Send>,
    },
    Fixed(sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments<'static>>),
}

/// Rows whose values are held at once while a statement writes them.
const ROWS_PER_CHUNK: usize = 4096;

const ATTEMPT_CELL_COLUMNS: usize = 13;
const VERIFICATION_CELL_COLUMNS: usize = 9;
const HOUR_CELL_COLUMNS: usize = 8;

impl RowWrites {
    pub async fn run(self, tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
        for statement in self.0 {
            match statement {
                RowStatement::Rows { sql, columns, mut values } => loop {
                    let chunk: Vec<Value> = values.by_ref().take(columns * ROWS_PER_CHUNK).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    raw_insert::insert_rows(tx, &sql, columns, &chunk).await?;
                },
                RowStatement::Fixed(query) => {
                    query.execute(&mut **tx).await?;
                }
            }
        }
        Ok(())
    }

    fn of(delta: RollupDelta, mode: RowWrite) -> RowWrites {
        let mut writes = Vec::new();
        let mut attempt_cells: Vec<(AttemptCell, AttemptMeasures)> =
            delta.attempts.into_iter().filter(|(_, m)| m.changes_anything()).collect();
        if mode == RowWrite::IntoEmpty {
            attempt_cells.sort_unstable_by(|(a, _), (b, _)| {
                (a.grain.as_str(), &a.period, &a.country, &a.carrier, &a.channel, &a.service_sid)
                    .cmp(&(b.grain.as_str(), &b.period, &b.country, &b.carrier, &b.channel, &b.service_sid))
                    .then_with(|| {
                        (&a.error_code, &a.conversion_status, &a.currency).cmp(&(
                            &b.error_code,
                            &b.conversion_status,
                            &b.currency,
                        ))
                    })
            });
        }
        let emptied_periods: BTreeSet<(Grain, String)> =
            attempt_cells.iter().filter(|(_, m)| m.attempts < 0).map(|(c, _)| (c.grain, c.period.clone())).collect();
        let values = attempt_cells.into_iter().flat_map(|(cell, m)| {
            [
                Value::StaticText(cell.grain.as_str()),
                Value::Text(cell.period),
                Value::Text(cell.country),
                Value::Text(cell.carrier),
                Value::Text(cell.channel),
                Value::Text(cell.service_sid),
                Value::Text(cell.error_code),
                Value::Text(cell.conversion_status),
                Value::Text(cell.currency),
                Value::Integer(m.attempts),
                Value::Integer(m.delivered),
                Value::Integer(m.finalized),
                Value::Integer(m.spend_micros),
            ]
        });
        let sql = mode.insert(
            "rollup_attempts (grain, period, country, carrier, channel, service_sid, error_code, \
             conversion_status, currency, attempts, delivered, finalized, spend_micros)",
            ATTEMPT_CELL_COLUMNS,
            "attempts = attempts + excluded.attempts, delivered = delivered + excluded.delivered, \
             finalized = finalized + excluded.finalized, spend_micros = spend_micros + excluded.spend_micros",
        );
        writes.push(RowStatement::Rows { sql, columns: ATTEMPT_CELL_COLUMNS, values: Box::new(values) });
        for (grain, period) in emptied_periods {
            let delete = sqlx::query("DELETE FROM rollup_attempts WHERE grain = ? AND period = ? AND attempts = 0")
                .bind(grain.as_str())
                .bind(period);
            writes.push(RowStatement::Fixed(delete));
        }

        let mut verification_cells: Vec<(VerificationCell, i64)> =
            delta.verifications.into_iter().filter(|(_, n)| *n != 0).collect();
        if mode == RowWrite::IntoEmpty {
            verification_cells.sort_unstable_by(|(a, _), (b, _)| {
                (a.grain.as_str(), &a.error_key, &a.period, &a.country, &a.carrier, &a.service_sid)
                    .cmp(&(b.grain.as_str(), &b.error_key, &b.period, &b.country, &b.carrier, &b.service_sid))
                    .then_with(|| {
                        (a.unconverted_channels, a.converted_channels)
                            .cmp(&(b.unconverted_channels, b.converted_channels))
                    })
            });
        }
        // After the rows are added: a cell's count can fall to zero.
        let emptied: Vec<RowStatement> = verification_cells
            .iter()
            .filter(|(_, n)| *n < 0)
            .map(|(cell, _)| {
                RowStatement::Fixed(
                    sqlx::query(
                        "DELETE FROM rollup_verifications WHERE grain = ? AND error_key = ? AND period = ? \
                         AND country = ? AND carrier = ? AND service_sid = ? AND unconverted_channels = ? \
                         AND converted_channels = ? AND verifications = 0",
                    )
                    .bind(cell.grain.as_str())
                    .bind(cell.error_key.clone())
                    .bind(cell.period.clone())
                    .bind(cell.country.clone())
                    .bind(cell.carrier.clone())
                    .bind(cell.service_sid.clone())
                    .bind(cell.unconverted_channels)
                    .bind(cell.converted_channels),
                )
            })
            .collect();
        let values = verification_cells.into_iter().flat_map(|(cell, n)| {
            [
                Value::StaticText(cell.grain.as_str()),
                Value::Text(cell.error_key),
                Value::Text(cell.period),
                Value::Text(cell.country),
                Value::Text(cell.carrier),
                Value::Text(cell.service_sid),
                Value::Integer(cell.unconverted_channels),
                Value::Integer(cell.converted_channels),
                Value::Integer(n),
            ]
        });
        let sql = mode.insert(
            "rollup_verifications (grain, error_key, period, country, carrier, service_sid, \
             unconverted_channels, converted_channels, verifications)",
            VERIFICATION_CELL_COLUMNS,
            "verifications = verifications + excluded.verifications",
        );
        writes.push(RowStatement::Rows { sql, columns: VERIFICATION_CELL_COLUMNS, values: Box::new(values) });
        writes.extend(emptied);

        let mut hour_cells: Vec<(HourCell, [i64; 4])> = delta.hours.into_iter().filter(|(_, c)| *c != [0; 4]).collect();
        if mode == RowWrite::IntoEmpty {
            hour_cells.sort_unstable_by(|(a, _), (b, _)| {
                (&a.hour, &a.country, &a.carrier, &a.channel).cmp(&(&b.hour, &b.country, &b.carrier, &b.channel))
            });
        }
        let emptied_hours: BTreeSet<String> =
            hour_cells.iter().filter(|(_, c)| c[0] < 0).map(|(cell, _)| cell.hour.clone()).collect();
        let values = hour_cells.into_iter().flat_map(|(cell, c)| {
            [
                Value::Text(cell.hour),
                Value::Text(cell.country),
                Value::Text(cell.carrier),
                Value::Text(cell.channel),
                Value::Integer(c[0]),
                Value::Integer(c[1]),
                Value::Integer(c[2]),
                Value::Integer(c[3]),
            ]
        });
        let sql = mode.insert(
            "rollup_hours (hour, country, carrier, channel, attempts, converted, delivered, finalized)",
            HOUR_CELL_COLUMNS,
            "attempts = attempts + excluded.attempts, converted = converted + excluded.converted, \
             delivered = delivered + excluded.delivered, finalized = finalized + excluded.finalized",
        );
        writes.push(RowStatement::Rows { sql, columns: HOUR_CELL_COLUMNS, values: Box::new(values) });
        for hour in emptied_hours {
            let delete = sqlx::query("DELETE FROM rollup_hours WHERE hour = ? AND attempts = 0").bind(hour);
            writes.push(RowStatement::Fixed(delete));
        }
        writes
            .push(RowStatement::Fixed(sqlx::query("UPDATE rollup_state SET generation = generation + 1 WHERE id = 1")));

        // Removals first: an attempt that changed leaves its old row and gets a new one.
        let mut irregular: Vec<(IrregularAttempt, i64)> =
            delta.irregular.into_iter().filter(|(_, n)| *n != 0).collect();
        irregular.sort_by_key(|(_, n)| *n);
        for (row, net) in irregular {
            let query = if net < 0 {
                sqlx::query("DELETE FROM irregular_attempts WHERE grain = ? AND verification_sid = ? AND sid = ?")
                    .bind(row.grain)
                    .bind(row.verification_sid)
                    .bind(row.sid)
            } else {
                sqlx::query(
                    "INSERT OR REPLACE INTO irregular_attempts (grain, verification_sid, sid, period, country, carrier, \
                     channel, service_sid, error_code, conversion_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(row.grain)
                .bind(row.verification_sid)
                .bind(row.sid)
                .bind(row.period)
                .bind(row.country)
                .bind(row.carrier)
                .bind(row.channel)
                .bind(row.service_sid)
                .bind(row.error_code)
                .bind(row.conversion_status)
            };
            writes.push(RowStatement::Fixed(query));
        }
        RowWrites(writes)
    }
}

/// The stored attempts of these verifications.
pub async fn verification_facts(
    tx: &mut Transaction<'_, Sqlite>,
    verification_sids: &[&str],
) -> Result<Vec<AttemptFacts>, StoreError> {
    let mut facts = Vec::new();
    for chunk in verification_sids.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(format!("{FACTS_SELECT} WHERE verification_sid IN ("));
        let mut list = query.separated(", ");
        for sid in chunk {
            list.push_bind(*sid);
        }
        query.push(")");
        facts.extend(query.build_query_as::<AttemptFacts>().fetch_all(&mut **tx).await?);
    }
    Ok(facts)
}

/// Adds to `delta` the rollup changes of replacing `old` attempts (grouped by
/// verification, as stored) with `changed` ones (new or updated).
pub fn add_changes(delta: &mut RollupDelta, old: &[AttemptFacts], changed: &[AttemptFacts]) {
    let mut before: HashMap<&str, Vec<&AttemptFacts>> = HashMap::default();
    for facts in old {
        before.entry(&facts.verification_sid).or_default().push(facts);
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

/// Whether the rollups match this build's version.
pub async fn rollups_current(pool: &SqlitePool) -> Result<bool, StoreError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM rollup_state WHERE id = 1").fetch_optional(pool).await?;
    Ok(version == Some(ROLLUP_VERSION))
}

/// Recomputes every rollup from `attempts`, in one transaction; returns the attempts read.
pub async fn rebuild_rollups(pool: &SqlitePool) -> Result<u64, StoreError> {
    let mut tx = super::begin_write(pool).await?;
    let horizon = hour_horizon(&mut tx).await?;
    let (delta, read) = read_rollups(&mut tx, horizon).await?;
    replace_rollups(&mut tx, delta).await?;
    tx.commit().await?;
    Ok(read)
}

/// Selects attempts' `AttemptFacts` as one JSON text: sqlite hands over one value instead
/// of a row at a time.
const FACTS_JSON: &str = "SELECT json_group_array(json_array(sid, verification_sid, date_created, date_updated, \
     COALESCE(country, ''), COALESCE(carrier, ''), channel, service_sid, COALESCE(error_code, ''), conversion_status, \
     COALESCE(price_unit, ''), COALESCE(message_status, ''), CAST(ROUND(COALESCE(price, 0) * 1000000) AS INTEGER))) \
     FROM attempts";

fn facts_of_json(text: &str) -> Result<Vec<AttemptFacts>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Rollups(e.to_string()))
}

/// Parts the attempts are read in, each holding whole verifications.
const READ_PARTS: u32 = 8;

/// The rollups of every stored attempt, and how many attempts that read. The attempts
/// are read in parts of whole verifications (by a character of their SID), each part as
/// one JSON text: sqlite hands over one value instead of a row at a time, and no index or
/// sort is needed.
pub async fn read_rollups(
    conn: &mut sqlx::SqliteConnection,
    hour_horizon: String,
) -> Result<(RollupDelta, u64), StoreError> {
    let mut read = 0u64;
    let mut delta = RollupDelta::new(hour_horizon);
    let sql = format!("{FACTS_JSON} WHERE COALESCE(unicode(substr(verification_sid, 3, 1)), 0) % {READ_PARTS} = ?");
    for part in 0..READ_PARTS {
        let text: String = sqlx::query_scalar(&sql).bind(part).fetch_one(&mut *conn).await?;
        let mut facts = facts_of_json(&text)?;
        drop(text);
        read += facts.len() as u64;
        for verification in by_verification(&mut facts) {
            add_verification(&mut delta, verification);
        }
    }
    Ok((delta, read))
}

/// Replaces every rollup row with `delta`'s, and marks the rollups current.
pub async fn replace_rollups(tx: &mut Transaction<'_, Sqlite>, delta: RollupDelta) -> Result<(), StoreError> {
    clear_rollups(tx).await?;
    RowWrites::of(delta, RowWrite::IntoEmpty).run(tx).await?;
    mark_rollups_current(tx).await
}

async fn clear_rollups(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    for table in ["rollup_attempts", "rollup_verifications", "irregular_attempts", "rollup_hours"] {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn mark_rollups_current(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rollup_state (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
    )
    .bind(ROLLUP_VERSION)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Attempts grouped by verification, each group in the order its attempts were made.
fn by_verification(facts: &mut [AttemptFacts]) -> impl Iterator<Item = &[AttemptFacts]> {
    facts.sort_unstable_by(|a, b| {
        (&a.verification_sid, &a.date_created, &a.sid).cmp(&(&b.verification_sid, &b.date_created, &b.sid))
    });
    facts.chunk_by(|a, b| a.verification_sid == b.verification_sid)
}

/// Adds the verification counts of `facts`, which hold every attempt of their verifications.
fn count_verifications(delta: &mut RollupDelta, facts: &mut [AttemptFacts]) {
    for verification in by_verification(facts) {
        let attempts: Vec<_> = verification.iter().collect();
        delta.verification(&attempts, 1);
    }
}

fn add_verification(delta: &mut RollupDelta, attempts: &[AttemptFacts]) {
    for facts in attempts {
        delta.attempt(&facts.counted(), 1);
    }
    let refs: Vec<&AttemptFacts> = attempts.iter().collect();
    delta.verification(&refs, 1);
}

/// The first hour kept at hour grain; `""` keeps every hour.
pub async fn hour_horizon(tx: &mut Transaction<'_, Sqlite>) -> Result<String, StoreError> {
    let horizon: Option<String> =
        sqlx::query_scalar("SELECT hour_horizon FROM rollup_state WHERE id = 1").fetch_optional(&mut **tx).await?;
    Ok(horizon.unwrap_or_default())
}

/// Moves the hour-grain horizon forward to the hour of `time` (never back), dropping
/// the hour rows before it.
pub async fn advance_hour_horizon(pool: &SqlitePool, time: &str) -> Result<(), StoreError> {
    let horizon = Grain::Hour.period(time).to_string();
    let mut tx = super::begin_write(pool).await?;
    if hour_horizon(&mut tx).await? < horizon {
        for table in ["rollup_attempts", "rollup_verifications", "irregular_attempts"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE grain = 'hour' AND period < ?"))
                .bind(&horizon)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE rollup_state SET hour_horizon = ?, generation = generation + 1 WHERE id = 1")
            .bind(&horizon)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The generation of the rollups: it moves on with every write of attempts.
pub async fn rollup_generation(pool: &SqlitePool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COALESCE(MAX(generation), 0) FROM rollup_state").fetch_one(pool).await?)
}

/// A row of `rollup_attempts`.
#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct AttemptRollupRow {
    pub grain: String,
    pub period: String,
    pub country: String,
    pub carrier: String,
    pub channel: String,
    pub service_sid: String,
    pub error_code: String,
    pub conversion_status: String,
    pub currency: String,
    pub attempts: i64,
    pub delivered: i64,
    pub finalized: i64,
    pub spend_micros: i64,
}

/// A row of `rollup_verifications`.
#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct VerificationRollupRow {
    pub grain: String,
    pub error_key: String,
    pub period: String,
    pub country: String,
    pub carrier: String,
    pub service_sid: String,
    pub unconverted_channels: i64,
    pub converted_channels: i64,
    pub verifications: i64,
}

/// A row of `rollup_hours`.
#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct HourRollupRow {
    pub hour: String,
    pub country: String,
    pub carrier: String,
    pub channel: String,
    pub attempts: i64,
    pub converted: i64,
    pub delivered: i64,
    pub finalized: i64,
}

/// Every rollup row, read in one transaction so that they agree; and their generation.
pub struct RollupRows {
    pub generation: i64,
    pub hour_horizon: String,
    pub attempts: Vec<AttemptRollupRow>,
    pub verifications: Vec<VerificationRollupRow>,
    pub irregular: Vec<IrregularAttempt>,
    pub hours: Vec<HourRollupRow>,
}

pub async fn load_rollups(pool: &SqlitePool) -> Result<RollupRows, StoreError> {
    let mut tx = pool.begin().await?;
    let generation =
        sqlx::query_scalar("SELECT COALESCE(MAX(generation), 0) FROM rollup_state").fetch_one(&mut *tx).await?;
    let horizon = hour_horizon(&mut tx).await?;
    let attempts = load_json(
        &mut tx,
        "grain, period, country, carrier, channel, service_sid, error_code, conversion_status, currency, attempts, \
         delivered, finalized, spend_micros",
        "rollup_attempts WHERE grain = 'day' OR period >= ?",
        &horizon,
    )
    .await?;
    let verifications = load_json(
        &mut tx,
        "grain, error_key, period, country, carrier, service_sid, unconverted_channels, converted_channels, verifications",
        "rollup_verifications WHERE grain = 'day' OR period >= ?",
        &horizon,
    )
    .await?;
    let irregular = load_json(
        &mut tx,
        "grain, verification_sid, sid, period, country, carrier, channel, service_sid, error_code, conversion_status",
        "irregular_attempts WHERE grain = 'day' OR period >= ?",
        &horizon,
    )
    .await?;
    let hours = load_json(
        &mut tx,
        "hour, country, carrier, channel, attempts, converted, delivered, finalized",
        "rollup_hours WHERE ? IS NOT NULL",
        &horizon,
    )
    .await?;
    tx.commit().await?;
    Ok(RollupRows { generation, hour_horizon: horizon, attempts, verifications, irregular, hours })
}

/// Rows as one JSON array of arrays, in `columns` order: sqlite hands over one value
/// instead of a row at a time, many times faster for the tens of thousands of rows here.
async fn load_json<T: serde::de::DeserializeOwned>(
    tx: &mut Transaction<'_, Sqlite>,
    columns: &str,
    from: &str,
    horizon: &str,
) -> Result<Vec<T>, StoreError> {
    let text: String = sqlx::query_scalar(&format!("SELECT json_group_array(json_array({columns})) FROM {from}"))
        .bind(horizon)
        .fetch_one(&mut **tx)
        .await?;
    serde_json::from_str(&text).map_err(|e| StoreError::Rollups(e.to_string()))
}
