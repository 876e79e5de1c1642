//! Rollups: counts per day and per hour keyed by the dashboard's dimensions, kept
//! in step with `attempts` by the same transactions, so that a view of millions of
//! attempts sums thousands of rows instead of scanning millions.
//!
//! Attempt measures add up across cells. Distinct verifications do not: a verification
//! retried on another channel, or failing with one error and then succeeding, touches
//! several cells. Each verification is therefore rolled up once per period with the
//! bit sets of the channels its unconverted and converted attempts used, which answers
//! any channel and status filter exactly; verifications that straddle periods, countries,
//! carriers or services are listed in `irregular_attempts` and counted from their
//! attempts when a view asks.

mod bulk_load;
mod cells;
mod delta;
mod facts;
pub mod funnel;
mod names;
mod writes;

use sqlx::{FromRow, QueryBuilder, Sqlite, SqlitePool, Transaction};

use super::StoreError;
pub use bulk_load::{LoadRollups, SUMMED_VERIFICATIONS, SummedLoad};
pub use cells::{
    ALL_ERRORS, CONVERTED, DELIVERED_STATUSES, FINAL_STATUSES, Grain, channel_bit, is_converted, sql_count_where_in,
};
pub use delta::{IrregularAttempt, RollupDelta, add_changes};
use delta::{add_verification, by_verification};
pub use facts::{AttemptFacts, PRICED_CURRENCY_SQL};
use facts::{facts_json, facts_of_json, facts_select};
pub use names::Names;
use writes::RowWrite;
pub use writes::{RowWrites, apply};

/// Bump when the rollups' shape or meaning changes: snapshots are rebuilt on open.
/// 2: rows kept by version 1 missed message statuses that settled after an attempt was stored.
/// 3: attempts without a price are kept under no currency, so that they count as unpriced.
/// 4: attempt rows keep the spend on attempts of verifications that never converted.
pub const ROLLUP_VERSION: i64 = 4;

/// Hours a sync keeps at hour grain before its window's end: a 24-hour view and the one before it.
pub const HOUR_GRAIN_HOURS: i64 = 72;

/// Values per `IN (...)` list, under sqlite's limit of bound parameters.
const ROWS_PER_STATEMENT: usize = 2_000;

/// The stored attempts of these verifications.
pub async fn verification_facts(
    tx: &mut Transaction<'_, Sqlite>,
    verification_sids: &[&str],
) -> Result<Vec<AttemptFacts>, StoreError> {
    let mut facts = Vec::new();
    for chunk in verification_sids.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(format!("{} WHERE verification_sid IN (", facts_select()));
        let mut list = query.separated(", ");
        for sid in chunk {
            list.push_bind(*sid);
        }
        query.push(")");
        facts.extend(query.build_query_as::<AttemptFacts>().fetch_all(&mut **tx).await?);
    }
    Ok(facts)
}

/// Whether the rollups match this build's version and the reporting zone.
pub async fn rollups_current(pool: &SqlitePool) -> Result<bool, StoreError> {
    let state: Option<(i64, String)> =
        sqlx::query_as("SELECT version, zone FROM rollup_state WHERE id = 1").fetch_optional(pool).await?;
    Ok(state.is_some_and(|(version, zone)| version == ROLLUP_VERSION && zone == crate::zone::name()))
}

/// Recomputes every rollup from `attempts`, in one transaction; returns the attempts read.
pub async fn rebuild_rollups(pool: &SqlitePool) -> Result<u64, StoreError> {
    let mut tx = super::begin_write(pool).await?;
    let horizon = hour_horizon(&mut tx).await?;
    let (delta, read) = read_rollups(&mut tx, horizon).await?;
    replace_rollups(&mut tx, delta).await?;
    super::services::record_all_service_accounts(&mut tx).await?;
    tx.commit().await?;
    Ok(read)
}

/// Parts the attempts are read in at least, each holding whole verifications.
const READ_PARTS: i64 = 8;

/// Attempts a part holds at most, about: its JSON (some 300 bytes an attempt) must stay well
/// under the 1 GB sqlite allows a value.
const ATTEMPTS_PER_PART: i64 = 1_500_000;

/// Selects the facts of one part (bound) of `parts` of the attempts as JSON, by the two
/// characters of the verification's SID after its prefix (256 values of hex digits).
fn part_sql(parts: i64) -> String {
    format!(
        "{} WHERE (COALESCE(unicode(substr(verification_sid, 3, 1)), 0) * 256 \
         + COALESCE(unicode(substr(verification_sid, 4, 1)), 0)) % {parts} = ?",
        facts_json()
    )
}

/// Hands `each` the facts of every stored attempt, part by part: parts of whole verifications
/// (by characters of their SID), each read as one JSON text: sqlite hands over one value
/// instead of a row at a time, and no index or sort is needed. The more attempts, the more parts.
pub(super) async fn for_each_part(
    conn: &mut sqlx::SqliteConnection,
    mut each: impl FnMut(Vec<AttemptFacts>),
) -> Result<(), StoreError> {
    // The last rowid bounds the attempts' count, without counting them.
    let rows: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM attempts").fetch_one(&mut *conn).await?;
    let parts = READ_PARTS.max((rows + ATTEMPTS_PER_PART - 1) / ATTEMPTS_PER_PART);
    let sql = part_sql(parts);
    for part in 0..parts {
        let text: String = sqlx::query_scalar(&sql).bind(part).fetch_one(&mut *conn).await?;
        let facts = facts_of_json(&text)?;
        drop(text);
        each(facts);
    }
    Ok(())
}

/// The rollups of every stored attempt, and how many attempts that read.
pub async fn read_rollups(
    conn: &mut sqlx::SqliteConnection,
    hour_horizon: String,
) -> Result<(RollupDelta, u64), StoreError> {
    let mut read = 0u64;
    let mut delta = RollupDelta::new(hour_horizon);
    for_each_part(conn, |mut facts| {
        read += facts.len() as u64;
        for verification in by_verification(&mut facts) {
            add_verification(&mut delta, verification);
        }
    })
    .await?;
    Ok((delta, read))
}

/// Replaces every rollup row with `delta`'s, and marks the rollups current.
pub async fn replace_rollups(tx: &mut Transaction<'_, Sqlite>, delta: RollupDelta) -> Result<(), StoreError> {
    clear_rollups(tx).await?;
    RowWrites::of(delta, RowWrite::IntoEmpty).run(tx).await?;
    mark_rollups_current(tx).await
}

pub(super) async fn clear_rollups(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    for table in ["rollup_attempts", "rollup_verifications", "irregular_attempts", "rollup_hours", "rollup_funnel"] {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn mark_rollups_current(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rollup_state (id, version, zone) VALUES (1, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, zone = excluded.zone",
    )
    .bind(ROLLUP_VERSION)
    .bind(crate::zone::name())
    .execute(&mut **tx)
    .await?;
    Ok(())
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
        for table in ["rollup_attempts", "rollup_verifications", "irregular_attempts", "rollup_funnel"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE grain = '{}' AND period < ?", Grain::Hour.as_str()))
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
    /// Spend on the row's attempts whose verification never converted.
    pub unconverted_verification_spend_micros: i64,
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

/// A row of `rollup_funnel`: its keys, then verifications, gaps and times to conversion.
#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct FunnelRollupRow {
    pub grain: String,
    pub period: String,
    pub country: String,
    pub carrier: String,
    pub service_sid: String,
    pub path: String,
    pub channels: i64,
    pub attempts: i64,
    pub converted_at: i64,
    pub verifications: i64,
    pub gaps: [i64; funnel::TIME_BUCKETS],
    pub to_conversion: [i64; funnel::TIME_BUCKETS],
}

/// Every rollup row, read in one transaction so that they agree; and their generation.
pub struct RollupRows {
    pub generation: i64,
    pub hour_horizon: String,
    pub attempts: Vec<AttemptRollupRow>,
    pub verifications: Vec<VerificationRollupRow>,
    pub irregular: Vec<IrregularAttempt>,
    pub hours: Vec<HourRollupRow>,
    pub funnel: Vec<FunnelRollupRow>,
    /// The account of each service, as (service, account): every one, whatever periods were read.
    pub service_accounts: Vec<(String, String)>,
}

/// Every rollup row the in-memory index holds: day rows, and hour rows from the horizon on.
pub async fn read_rollup_rows(pool: &SqlitePool) -> Result<RollupRows, StoreError> {
    let mut tx = pool.begin().await?;
    let (generation, _, horizon) = rollup_state(&mut tx).await?;
    let rows = read_rows(&mut tx, generation, horizon, None).await?;
    tx.commit().await?;
    Ok(rows)
}

/// What changed in the rollups since a reader's generation.
pub enum RollupChanges {
    /// Every row was written again since (a rebuild, a bulk load): all of them.
    Everything(RollupRows),
    /// The periods written since, as (grain, period), and all of their rows; a period with
    /// no row left was emptied. An hour in `periods` covers its `hours` rows too.
    Periods { periods: Vec<(Grain, String)>, rows: RollupRows },
}

/// The rollup rows of the periods written after generation `since`, read in one transaction.
pub async fn read_rollup_changes(pool: &SqlitePool, since: i64) -> Result<RollupChanges, StoreError> {
    let mut tx = pool.begin().await?;
    let (generation, rebuilt, horizon) = rollup_state(&mut tx).await?;
    let changes = if rebuilt > since {
        RollupChanges::Everything(read_rows(&mut tx, generation, horizon, None).await?)
    } else {
        let pairs: Vec<(String, String)> =
            sqlx::query_as("SELECT grain, period FROM rollup_changes WHERE generation > ? ORDER BY grain, period")
                .bind(since)
                .fetch_all(&mut *tx)
                .await?;
        let periods: Vec<(Grain, String)> =
            pairs.into_iter().filter_map(|(grain, period)| Some((Grain::parse(&grain)?, period))).collect();
        let listed = |kept: &dyn Fn(Grain, &str) -> bool| {
            let pairs: Vec<[&str; 2]> =
                periods.iter().filter(|(g, p)| kept(*g, p)).map(|(g, p)| [g.as_str(), p.as_str()]).collect();
            serde_json::to_string(&pairs).map_err(|e| StoreError::Rollups(e.to_string()))
        };
        // The hour table keeps every hour; the others, hour rows from the horizon on.
        let hours = listed(&|grain, _| grain == Grain::Hour)?;
        let kept = listed(&|grain, period| grain == Grain::Day || period >= horizon.as_str())?;
        let rows = read_rows(&mut tx, generation, horizon, Some((&kept, &hours))).await?;
        RollupChanges::Periods { periods, rows }
    };
    tx.commit().await?;
    Ok(changes)
}

/// The rollups' generation, the generation of their last rebuild, and their hour horizon.
async fn rollup_state(tx: &mut Transaction<'_, Sqlite>) -> Result<(i64, i64, String), StoreError> {
    let state: Option<(i64, i64, String)> =
        sqlx::query_as("SELECT generation, rebuilt_generation, hour_horizon FROM rollup_state WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(state.unwrap_or_default())
}

/// The rows the index holds: of every period, or of the `[grain, period]` pairs listed (JSON
/// arrays: those of the tables with a grain, those of the hour table).
async fn read_rows(
    tx: &mut Transaction<'_, Sqlite>,
    generation: i64,
    horizon: String,
    periods: Option<(&str, &str)>,
) -> Result<RollupRows, StoreError> {
    let rows = RowSelection { hour_horizon: &horizon, periods: periods.map(|(kept, _)| kept) };
    let attempts = load_json(
        tx,
        "grain, period, country, carrier, channel, service_sid, error_code, conversion_status, currency, attempts, \
         delivered, finalized, spend_micros, unconverted_verification_spend_micros",
        "rollup_attempts",
        Some(rows),
    )
    .await?;
    let verifications = load_json(
        tx,
        "grain, error_key, period, country, carrier, service_sid, unconverted_channels, converted_channels, verifications",
        "rollup_verifications",
        Some(rows),
    )
    .await?;
    let irregular = load_json(
        tx,
        "grain, verification_sid, sid, period, country, carrier, channel, service_sid, error_code, conversion_status",
        "irregular_attempts",
        Some(rows),
    )
    .await?;
    let hours = load_json(
        tx,
        "hour, country, carrier, channel, attempts, converted, delivered, finalized",
        "rollup_hours",
        periods.map(|(_, hours)| RowSelection { hour_horizon: "", periods: Some(hours) }),
    )
    .await?;
    let funnel = load_json(
        tx,
        "grain, period, country, carrier, service_sid, path, channels, attempts, converted_at, verifications, \
         json_array(gap_0, gap_1, gap_2, gap_3, gap_4, gap_5), \
         json_array(conversion_0, conversion_1, conversion_2, conversion_3, conversion_4, conversion_5)",
        "rollup_funnel",
        Some(rows),
    )
    .await?;
    let service_accounts = super::services::service_accounts(tx).await?;
    Ok(RollupRows {
        generation,
        hour_horizon: horizon,
        attempts,
        verifications,
        irregular,
        hours,
        funnel,
        service_accounts,
    })
}

/// Which rows of a table `load_json` reads.
#[derive(Clone, Copy)]
struct RowSelection<'a> {
    /// Hour-grain rows before it are not read.
    hour_horizon: &'a str,
    /// Only these `[grain, period]` pairs (a JSON array, hour periods from the horizon on), when given.
    periods: Option<&'a str>,
}

/// A table's rows as one JSON array of arrays, in `columns` order: sqlite hands over one
/// value instead of a row at a time, many times faster for the tens of thousands of rows
/// here. `rollup_hours` (no grain; `selection` `None` reads all of it) is selected by hour.
async fn load_json<T: serde::de::DeserializeOwned>(
    tx: &mut Transaction<'_, Sqlite>,
    columns: &str,
    table: &str,
    selection: Option<RowSelection<'_>>,
) -> Result<Vec<T>, StoreError> {
    let select = format!("SELECT json_group_array(json_array({columns})) FROM {table}");
    let day = Grain::Day.as_str();
    let text: String = match (table, selection) {
        (_, None) => sqlx::query_scalar(&select).fetch_one(&mut **tx).await?,
        ("rollup_hours", Some(RowSelection { periods: Some(periods), .. })) => {
            let sql = format!("{select} WHERE hour IN (SELECT value ->> 1 FROM json_each(?1))");
            sqlx::query_scalar(&sql).bind(periods).fetch_one(&mut **tx).await?
        }
        (_, Some(RowSelection { hour_horizon, periods: None })) => {
            let sql = format!("{select} WHERE grain = '{day}' OR period >= ?");
            sqlx::query_scalar(&sql).bind(hour_horizon).fetch_one(&mut **tx).await?
        }
        // Each pair is looked up in the table's (grain, period) index.
        (_, Some(RowSelection { periods: Some(periods), .. })) => {
            let sql = format!("{select} WHERE (grain, period) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?1))");
            sqlx::query_scalar(&sql).bind(periods).fetch_one(&mut **tx).await?
        }
    };
    serde_json::from_str(&text).map_err(|e| StoreError::Rollups(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However many parts, each attempt is in exactly one, with its verification's others.
    #[tokio::test]
    async fn any_number_of_parts_holds_each_attempt_once_with_its_verification() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::store::open(&dir.path().join("parts.db")).await.unwrap();
        let template: crate::model::Attempt =
            serde_json::from_str(include_str!("../../../tests/data/attempt.json")).unwrap();
        // Two attempts a verification, their SIDs' leading characters spread over every hex digit.
        let attempts: Vec<crate::model::Attempt> = (0..600u32)
            .map(|i| {
                let mut attempt = template.clone();
                attempt.sid = format!("VL{i:032x}");
                attempt.verification_sid = format!("VE{:08x}{:024x}", (i / 2).wrapping_mul(2_654_435_761), i / 2);
                attempt
            })
            .collect();
        let mut tx = crate::store::begin_write(&pool).await.unwrap();
        crate::store::upsert_attempts(&mut tx, &attempts).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        for parts in [1, 8, 37, 256] {
            let sql = part_sql(parts);
            let mut seen: std::collections::HashMap<String, i64> = Default::default();
            let mut attempts = 0;
            for part in 0..parts {
                let text: String = sqlx::query_scalar(&sql).bind(part).fetch_one(&mut *conn).await.unwrap();
                for facts in facts_of_json(&text).unwrap() {
                    attempts += 1;
                    let owner = seen.entry(facts.verification_sid.clone()).or_insert(part);
                    assert_eq!(*owner, part, "{parts} parts: a verification split across parts");
                }
            }
            assert_eq!((attempts, seen.len()), (600, 300), "{parts} parts: every attempt and verification, once");
        }
    }
}
