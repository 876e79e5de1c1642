//! A delta's rows written into the rollup tables: added to the stored rows, or into
//! emptied tables; rows a delta empties are dropped.

use std::collections::BTreeSet;

use sqlx::{Sqlite, Transaction};

use super::cells::Grain;
use super::delta::{
    AttemptCell, AttemptMeasures, FunnelCell, FunnelMeasures, HourCell, IrregularAttempt, RollupDelta, VerificationCell,
};
use crate::store::StoreError;
use crate::store::raw_insert::{self, Value};

/// How rollup rows are written: added to the stored ones, or into emptied tables.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RowWrite {
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
            // A delta holds each key once, so a conflict here is a bug: it fails the write.
            RowWrite::IntoEmpty => format!("INSERT INTO {table_and_columns} VALUES ({parameters})"),
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

const ATTEMPT_CELL_COLUMNS: usize = 14;
const VERIFICATION_CELL_COLUMNS: usize = 9;
const HOUR_CELL_COLUMNS: usize = 8;
const FUNNEL_CELL_COLUMNS: usize = 22;

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

    pub(super) fn of(delta: RollupDelta, mode: RowWrite) -> RowWrites {
        let changes = match mode {
            RowWrite::AddToStored => ChangeLog::Periods(touched_periods(&delta)),
            RowWrite::IntoEmpty => ChangeLog::Everything,
        };
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
                Value::Integer(m.unconverted_verification_spend_micros),
            ]
        });
        let sql = mode.insert(
            "rollup_attempts (grain, period, country, carrier, channel, service_sid, error_code, \
             conversion_status, currency, attempts, delivered, finalized, spend_micros, \
             unconverted_verification_spend_micros)",
            ATTEMPT_CELL_COLUMNS,
            "attempts = attempts + excluded.attempts, delivered = delivered + excluded.delivered, \
             finalized = finalized + excluded.finalized, spend_micros = spend_micros + excluded.spend_micros, \
             unconverted_verification_spend_micros = \
             unconverted_verification_spend_micros + excluded.unconverted_verification_spend_micros",
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
        writes.extend(funnel_writes(delta.funnel, mode));
        writes
            .push(RowStatement::Fixed(sqlx::query("UPDATE rollup_state SET generation = generation + 1 WHERE id = 1")));
        writes.extend(changes.statements());

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

/// What a write records in `rollup_changes`, after it moved the generation on.
enum ChangeLog {
    /// The periods it touched, as `[grain, period]` pairs.
    Periods(BTreeSet<(&'static str, String)>),
    /// Every row: readers read them all again.
    Everything,
}

impl ChangeLog {
    fn statements(self) -> Vec<RowStatement> {
        match self {
            ChangeLog::Periods(periods) if periods.is_empty() => Vec::new(),
            ChangeLog::Periods(periods) => {
                let pairs =
                    serde_json::to_string(&periods.into_iter().map(|(g, p)| [g.to_string(), p]).collect::<Vec<_>>())
                        .expect("strings serialize");
                vec![RowStatement::Fixed(
                    sqlx::query(
                        "INSERT INTO rollup_changes (grain, period, generation) \
                         SELECT value ->> 0, value ->> 1, (SELECT generation FROM rollup_state WHERE id = 1) \
                         FROM json_each(?) WHERE true \
                         ON CONFLICT (grain, period) DO UPDATE SET generation = excluded.generation",
                    )
                    .bind(pairs),
                )]
            }
            ChangeLog::Everything => vec![
                RowStatement::Fixed(sqlx::query("DELETE FROM rollup_changes")),
                RowStatement::Fixed(sqlx::query(
                    "UPDATE rollup_state SET rebuilt_generation = generation WHERE id = 1",
                )),
            ],
        }
    }
}

/// The grains and periods of every row a delta changes; the hour table's rows count as
/// their hour's.
pub(super) fn touched_periods(delta: &RollupDelta) -> BTreeSet<(&'static str, String)> {
    let mut touched: BTreeSet<(&'static str, &str)> = BTreeSet::new();
    touched.extend(
        delta.attempts.iter().filter(|(_, m)| m.changes_anything()).map(|(c, _)| (c.grain.as_str(), c.period.as_str())),
    );
    touched.extend(
        delta.verifications.iter().filter(|(_, n)| **n != 0).map(|(c, _)| (c.grain.as_str(), c.period.as_str())),
    );
    touched.extend(
        delta
            .irregular
            .iter()
            .filter(|(_, n)| **n != 0)
            .filter_map(|(row, _)| Grain::parse(&row.grain).map(|grain| (grain.as_str(), row.period.as_str()))),
    );
    touched.extend(
        delta.hours.iter().filter(|(_, c)| **c != [0; 4]).map(|(c, _)| (Grain::Hour.as_str(), c.hour.as_str())),
    );
    touched.extend(
        delta
            .funnel
            .iter()
            .filter(|(_, m)| m.iter().any(|n| *n != 0))
            .map(|(c, _)| (c.grain.as_str(), c.period.as_str())),
    );
    touched.into_iter().map(|(grain, period)| (grain, period.to_string())).collect()
}

/// The funnel rows of a delta, and the deletes of those it empties.
fn funnel_writes(
    funnel: super::delta::CellMap<FunnelCell, FunnelMeasures>,
    mode: RowWrite,
) -> impl Iterator<Item = RowStatement> {
    let mut cells: Vec<(FunnelCell, FunnelMeasures)> =
        funnel.into_iter().filter(|(_, m)| m.iter().any(|n| *n != 0)).collect();
    if mode == RowWrite::IntoEmpty {
        cells.sort_unstable_by(|(a, _), (b, _)| {
            (a.grain.as_str(), &a.period, &a.country, &a.carrier, &a.service_sid, &a.path)
                .cmp(&(b.grain.as_str(), &b.period, &b.country, &b.carrier, &b.service_sid, &b.path))
                .then_with(|| (a.channels, a.attempts, a.converted_at).cmp(&(b.channels, b.attempts, b.converted_at)))
        });
    }
    let emptied: BTreeSet<(Grain, String)> =
        cells.iter().filter(|(_, m)| m[0] < 0).map(|(c, _)| (c.grain, c.period.clone())).collect();
    let values = cells.into_iter().flat_map(|(cell, m)| {
        [
            Value::StaticText(cell.grain.as_str()),
            Value::Text(cell.period),
            Value::Text(cell.country),
            Value::Text(cell.carrier),
            Value::Text(cell.service_sid),
            Value::Text(cell.path),
            Value::Integer(cell.channels),
            Value::Integer(cell.attempts),
            Value::Integer(cell.converted_at),
        ]
        .into_iter()
        .chain(m.into_iter().map(Value::Integer))
    });
    let measures: Vec<String> = std::iter::once("verifications".to_string())
        .chain((0..6).map(|i| format!("gap_{i}")))
        .chain((0..6).map(|i| format!("conversion_{i}")))
        .collect();
    let update = measures.iter().map(|c| format!("{c} = {c} + excluded.{c}")).collect::<Vec<_>>().join(", ");
    let sql = mode.insert(
        &format!(
            "rollup_funnel (grain, period, country, carrier, service_sid, path, channels, attempts, converted_at, {})",
            measures.join(", ")
        ),
        FUNNEL_CELL_COLUMNS,
        &update,
    );
    let rows = RowStatement::Rows { sql, columns: FUNNEL_CELL_COLUMNS, values: Box::new(values) };
    std::iter::once(rows).chain(emptied.into_iter().map(|(grain, period)| {
        RowStatement::Fixed(
            sqlx::query("DELETE FROM rollup_funnel WHERE grain = ? AND period = ? AND verifications = 0")
                .bind(grain.as_str())
                .bind(period),
        )
    }))
}
