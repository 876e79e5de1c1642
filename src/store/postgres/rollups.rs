//! The rollups in the PostgreSQL store: the same deltas as sqlite's (`store::rollups` computes
//! them from the attempts before and after a write), added to the same tables in the write's
//! own transaction. Each table's rows go as one array per column, sorted by its primary key, so
//! that two writers lock rows in one order and cannot deadlock.

use sqlx::{PgPool, Postgres, Transaction};

use crate::store::rollups::PRICED_CURRENCY_SQL;
use crate::store::rollups::{AttemptFacts, Grain, ROLLUP_VERSION, RollupChanges, RollupDelta, RollupRows};
use crate::store::{Dialect, StoreError};

/// Records, in a new store, the rollups' version and reporting zone; refuses a store whose
/// rollups were kept for another version or zone, which would need a rebuild.
pub(super) async fn check_state(pool: &PgPool, shown: &str) -> Result<(), StoreError> {
    let zone = crate::zone::name();
    sqlx::query("INSERT INTO rollup_state (id, version, zone) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(ROLLUP_VERSION)
        .bind(zone)
        .execute(pool)
        .await?;
    let (version, kept_zone): (i64, String) =
        sqlx::query_as("SELECT version, zone FROM rollup_state WHERE id = 1").fetch_one(pool).await?;
    if version != ROLLUP_VERSION || kept_zone != zone {
        return Err(StoreError::Rollups(format!(
            "{shown} keeps rollups of version {version} in the zone {kept_zone}, and this verilens \
             needs version {ROLLUP_VERSION} in {zone}: rebuilding them on PostgreSQL is not built yet"
        )));
    }
    Ok(())
}

/// The first hour kept at hour grain; `""` keeps every hour.
pub(super) async fn hour_horizon(tx: &mut Transaction<'_, Postgres>) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar("SELECT hour_horizon FROM rollup_state WHERE id = 1").fetch_one(&mut **tx).await?)
}

/// The stored attempts of these verifications, as the rollups read them.
pub(super) async fn verification_facts(
    tx: &mut Transaction<'_, Postgres>,
    verification_sids: &[&str],
) -> Result<Vec<AttemptFacts>, StoreError> {
    let sql = format!(
        "SELECT sid, verification_sid, {} AS date_created, {} AS date_updated, COALESCE(country, '') AS country, \
         COALESCE(carrier, '') AS carrier, channel, service_sid, COALESCE(error_code, '') AS error_code, \
         conversion_status, {PRICED_CURRENCY_SQL} AS currency, \
         COALESCE(message_status, '') AS message_status, \
         CAST(ROUND(CAST(COALESCE(price, 0) AS numeric) * 1000000) AS BIGINT) AS price_micros \
         FROM attempts WHERE verification_sid = ANY($1)",
        Dialect::Postgres.time_text("date_created"),
        Dialect::Postgres.time_text("date_updated"),
    );
    Ok(sqlx::query_as(&sql).bind(verification_sids).fetch_all(&mut **tx).await?)
}

/// Adds `delta` to the rollups, drops the rows it empties, moves the generation on and records
/// the periods it touched.
pub(super) async fn apply(tx: &mut Transaction<'_, Postgres>, delta: RollupDelta) -> Result<(), StoreError> {
    let rows = delta.into_rows();

    let a = &rows.attempts;
    if !a.is_empty() {
        sqlx::query(
            "INSERT INTO rollup_attempts (grain, period, country, carrier, channel, service_sid, error_code, \
             conversion_status, currency, attempts, delivered, finalized, spend_micros, \
             unconverted_verification_spend_micros) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::int8[]) \
             ON CONFLICT (grain, period, country, carrier, channel, service_sid, error_code, conversion_status, \
             currency) DO UPDATE SET attempts = rollup_attempts.attempts + EXCLUDED.attempts, \
             delivered = rollup_attempts.delivered + EXCLUDED.delivered, \
             finalized = rollup_attempts.finalized + EXCLUDED.finalized, \
             spend_micros = rollup_attempts.spend_micros + EXCLUDED.spend_micros, \
             unconverted_verification_spend_micros = rollup_attempts.unconverted_verification_spend_micros \
             + EXCLUDED.unconverted_verification_spend_micros",
        )
        .bind(strings(a, |r| &r.grain))
        .bind(strings(a, |r| &r.period))
        .bind(strings(a, |r| &r.country))
        .bind(strings(a, |r| &r.carrier))
        .bind(strings(a, |r| &r.channel))
        .bind(strings(a, |r| &r.service_sid))
        .bind(strings(a, |r| &r.error_code))
        .bind(strings(a, |r| &r.conversion_status))
        .bind(strings(a, |r| &r.currency))
        .bind(a.iter().map(|r| r.attempts).collect::<Vec<i64>>())
        .bind(a.iter().map(|r| r.delivered).collect::<Vec<i64>>())
        .bind(a.iter().map(|r| r.finalized).collect::<Vec<i64>>())
        .bind(a.iter().map(|r| r.spend_micros).collect::<Vec<i64>>())
        .bind(a.iter().map(|r| r.unconverted_verification_spend_micros).collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
        let emptied: std::collections::BTreeSet<(&str, &str)> =
            a.iter().filter(|r| r.attempts < 0).map(|r| (r.grain.as_str(), r.period.as_str())).collect();
        delete_emptied_periods(tx, "rollup_attempts", "attempts", &emptied).await?;
    }

    let v = &rows.verifications;
    if !v.is_empty() {
        sqlx::query(
            "INSERT INTO rollup_verifications (grain, error_key, period, country, carrier, service_sid, \
             unconverted_channels, converted_channels, verifications) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::int8[], $8::int8[], $9::int8[]) \
             ON CONFLICT (grain, error_key, period, country, carrier, service_sid, unconverted_channels, \
             converted_channels) DO UPDATE SET verifications = rollup_verifications.verifications \
             + EXCLUDED.verifications",
        )
        .bind(strings(v, |r| &r.grain))
        .bind(strings(v, |r| &r.error_key))
        .bind(strings(v, |r| &r.period))
        .bind(strings(v, |r| &r.country))
        .bind(strings(v, |r| &r.carrier))
        .bind(strings(v, |r| &r.service_sid))
        .bind(v.iter().map(|r| r.unconverted_channels).collect::<Vec<i64>>())
        .bind(v.iter().map(|r| r.converted_channels).collect::<Vec<i64>>())
        .bind(v.iter().map(|r| r.verifications).collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
        // After the rows are added: a cell's count can fall to zero.
        let emptied: Vec<_> = v.iter().filter(|r| r.verifications < 0).collect();
        if !emptied.is_empty() {
            sqlx::query(
                "DELETE FROM rollup_verifications r USING UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::int8[], $8::int8[]) AS e(grain, error_key, period, country, carrier, \
                 service_sid, unconverted_channels, converted_channels) \
                 WHERE r.grain = e.grain AND r.error_key = e.error_key AND r.period = e.period \
                 AND r.country = e.country AND r.carrier = e.carrier AND r.service_sid = e.service_sid \
                 AND r.unconverted_channels = e.unconverted_channels \
                 AND r.converted_channels = e.converted_channels AND r.verifications = 0",
            )
            .bind(strings(&emptied, |r| &r.grain))
            .bind(strings(&emptied, |r| &r.error_key))
            .bind(strings(&emptied, |r| &r.period))
            .bind(strings(&emptied, |r| &r.country))
            .bind(strings(&emptied, |r| &r.carrier))
            .bind(strings(&emptied, |r| &r.service_sid))
            .bind(emptied.iter().map(|r| r.unconverted_channels).collect::<Vec<i64>>())
            .bind(emptied.iter().map(|r| r.converted_channels).collect::<Vec<i64>>())
            .execute(&mut **tx)
            .await?;
        }
    }

    let h = &rows.hours;
    if !h.is_empty() {
        sqlx::query(
            "INSERT INTO rollup_hours (hour, country, carrier, channel, attempts, converted, delivered, finalized) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
             $7::int8[], $8::int8[]) \
             ON CONFLICT (hour, country, carrier, channel) DO UPDATE SET \
             attempts = rollup_hours.attempts + EXCLUDED.attempts, \
             converted = rollup_hours.converted + EXCLUDED.converted, \
             delivered = rollup_hours.delivered + EXCLUDED.delivered, \
             finalized = rollup_hours.finalized + EXCLUDED.finalized",
        )
        .bind(strings(h, |r| &r.hour))
        .bind(strings(h, |r| &r.country))
        .bind(strings(h, |r| &r.carrier))
        .bind(strings(h, |r| &r.channel))
        .bind(h.iter().map(|r| r.attempts).collect::<Vec<i64>>())
        .bind(h.iter().map(|r| r.converted).collect::<Vec<i64>>())
        .bind(h.iter().map(|r| r.delivered).collect::<Vec<i64>>())
        .bind(h.iter().map(|r| r.finalized).collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
        let emptied: std::collections::BTreeSet<String> =
            h.iter().filter(|r| r.attempts < 0).map(|r| r.hour.clone()).collect();
        if !emptied.is_empty() {
            sqlx::query("DELETE FROM rollup_hours WHERE hour = ANY($1) AND attempts = 0")
                .bind(emptied.into_iter().collect::<Vec<_>>())
                .execute(&mut **tx)
                .await?;
        }
    }

    let f = &rows.funnel;
    if !f.is_empty() {
        let measure = |get: &dyn Fn(&crate::store::FunnelRollupRow) -> i64| f.iter().map(get).collect::<Vec<i64>>();
        let mut columns: Vec<String> = vec!["verifications".into()];
        columns.extend((0..6).map(|i| format!("gap_{i}")));
        columns.extend((0..6).map(|i| format!("conversion_{i}")));
        let arrays: Vec<String> = (10..10 + columns.len()).map(|i| format!("${i}::int8[]")).collect();
        let update: Vec<String> = columns.iter().map(|c| format!("{c} = rollup_funnel.{c} + EXCLUDED.{c}")).collect();
        let sql = format!(
            "INSERT INTO rollup_funnel (grain, period, country, carrier, service_sid, path, channels, attempts, \
             converted_at, {}) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::int8[], $8::int8[], $9::int8[], {}) \
             ON CONFLICT (grain, period, country, carrier, service_sid, path, channels, attempts, converted_at) \
             DO UPDATE SET {}",
            columns.join(", "),
            arrays.join(", "),
            update.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(strings(f, |r| &r.grain))
            .bind(strings(f, |r| &r.period))
            .bind(strings(f, |r| &r.country))
            .bind(strings(f, |r| &r.carrier))
            .bind(strings(f, |r| &r.service_sid))
            .bind(strings(f, |r| &r.path))
            .bind(measure(&|r| r.channels))
            .bind(measure(&|r| r.attempts))
            .bind(measure(&|r| r.converted_at))
            .bind(measure(&|r| r.verifications));
        for bucket in 0..6 {
            query = query.bind(measure(&|r| r.gaps[bucket]));
        }
        for bucket in 0..6 {
            query = query.bind(measure(&|r| r.to_conversion[bucket]));
        }
        query.execute(&mut **tx).await?;
        let emptied: std::collections::BTreeSet<(&str, &str)> =
            f.iter().filter(|r| r.verifications < 0).map(|r| (r.grain.as_str(), r.period.as_str())).collect();
        delete_emptied_periods(tx, "rollup_funnel", "verifications", &emptied).await?;
    }

    sqlx::query("UPDATE rollup_state SET generation = generation + 1 WHERE id = 1").execute(&mut **tx).await?;
    if !rows.touched.is_empty() {
        let (grains, periods): (Vec<&str>, Vec<&str>) = rows.touched.iter().map(|(g, p)| (*g, p.as_str())).unzip();
        sqlx::query(
            "INSERT INTO rollup_changes (grain, period, generation) \
             SELECT grain, period, (SELECT generation FROM rollup_state WHERE id = 1) \
             FROM UNNEST($1::text[], $2::text[]) AS t(grain, period) \
             ON CONFLICT (grain, period) DO UPDATE SET generation = EXCLUDED.generation",
        )
        .bind(grains)
        .bind(periods)
        .execute(&mut **tx)
        .await?;
    }

    // Removals first: an attempt that changed leaves its old row and gets a new one.
    let (removed, written): (Vec<_>, Vec<_>) = rows.irregular.iter().partition(|(_, net)| *net < 0);
    if !removed.is_empty() {
        sqlx::query(
            "DELETE FROM irregular_attempts r USING UNNEST($1::text[], $2::text[], $3::text[]) \
             AS e(grain, verification_sid, sid) \
             WHERE r.grain = e.grain AND r.verification_sid = e.verification_sid AND r.sid = e.sid",
        )
        .bind(strings(&removed, |r| &r.0.grain))
        .bind(strings(&removed, |r| &r.0.verification_sid))
        .bind(strings(&removed, |r| &r.0.sid))
        .execute(&mut **tx)
        .await?;
    }
    if !written.is_empty() {
        sqlx::query(
            "INSERT INTO irregular_attempts (grain, verification_sid, sid, period, country, carrier, channel, \
             service_sid, error_code, conversion_status) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::text[]) \
             ON CONFLICT (grain, verification_sid, sid) DO UPDATE SET period = EXCLUDED.period, \
             country = EXCLUDED.country, carrier = EXCLUDED.carrier, channel = EXCLUDED.channel, \
             service_sid = EXCLUDED.service_sid, error_code = EXCLUDED.error_code, \
             conversion_status = EXCLUDED.conversion_status",
        )
        .bind(strings(&written, |r| &r.0.grain))
        .bind(strings(&written, |r| &r.0.verification_sid))
        .bind(strings(&written, |r| &r.0.sid))
        .bind(strings(&written, |r| &r.0.period))
        .bind(strings(&written, |r| &r.0.country))
        .bind(strings(&written, |r| &r.0.carrier))
        .bind(strings(&written, |r| &r.0.channel))
        .bind(strings(&written, |r| &r.0.service_sid))
        .bind(strings(&written, |r| &r.0.error_code))
        .bind(strings(&written, |r| &r.0.conversion_status))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// One text column of `rows`, for an `UNNEST` array.
fn strings<T>(rows: &[T], get: impl Fn(&T) -> &str) -> Vec<&str> {
    rows.iter().map(get).collect()
}

/// Drops the rows of `table` in these (grain, period) pairs whose `count` fell to zero.
async fn delete_emptied_periods(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    count: &str,
    periods: &std::collections::BTreeSet<(&str, &str)>,
) -> Result<(), StoreError> {
    if periods.is_empty() {
        return Ok(());
    }
    let (grains, periods): (Vec<&str>, Vec<&str>) = periods.iter().copied().unzip();
    sqlx::query(&format!(
        "DELETE FROM {table} r USING UNNEST($1::text[], $2::text[]) AS e(grain, period) \
         WHERE r.grain = e.grain AND r.period = e.period AND r.{count} = 0"
    ))
    .bind(grains)
    .bind(periods)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every rollup row the in-memory index holds (day rows, and hour rows from the horizon on),
/// read in one snapshot of the database, as sqlite's `read_rollup_rows` gives them.
pub async fn read_rollup_rows(pool: &PgPool) -> Result<RollupRows, StoreError> {
    let mut tx = read_snapshot(pool).await?;
    let (generation, _, hour_horizon) = rollup_state(&mut tx).await?;
    let rows = read_rows(&mut tx, generation, hour_horizon, None).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The rollup rows of the periods written after generation `since`, as sqlite's
/// `read_rollup_changes` gives them: what a replica reads to refresh its index in place.
pub async fn read_rollup_changes(pool: &PgPool, since: i64) -> Result<RollupChanges, StoreError> {
    let mut tx = read_snapshot(pool).await?;
    let (generation, rebuilt, horizon) = rollup_state(&mut tx).await?;
    let changes = if rebuilt > since {
        RollupChanges::Everything(read_rows(&mut tx, generation, horizon, None).await?)
    } else {
        let pairs: Vec<(String, String)> =
            sqlx::query_as("SELECT grain, period FROM rollup_changes WHERE generation > $1 ORDER BY grain, period")
                .bind(since)
                .fetch_all(&mut *tx)
                .await?;
        let periods: Vec<(Grain, String)> =
            pairs.into_iter().filter_map(|(grain, period)| Some((Grain::parse(&grain)?, period))).collect();
        let rows = read_rows(&mut tx, generation, horizon, Some(&periods)).await?;
        RollupChanges::Periods { periods, rows }
    };
    tx.commit().await?;
    Ok(changes)
}

/// Drops the hour-grain rows before the hour of `time` (the index keeps days for them), as
/// sqlite's `advance_hour_horizon`.
pub async fn advance_hour_horizon(pool: &PgPool, time: &str) -> Result<(), StoreError> {
    let horizon = Grain::Hour.period(time).to_string();
    let mut tx = pool.begin().await?;
    let current: String =
        sqlx::query_scalar("SELECT hour_horizon FROM rollup_state WHERE id = 1 FOR UPDATE").fetch_one(&mut *tx).await?;
    if current < horizon {
        for table in ["rollup_attempts", "rollup_verifications", "irregular_attempts", "rollup_funnel"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE grain = 'hour' AND period < $1"))
                .bind(&horizon)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE rollup_state SET hour_horizon = $1, generation = generation + 1 WHERE id = 1")
            .bind(&horizon)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A read-only transaction that sees one state of the database throughout.
async fn read_snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    Ok(tx)
}

/// The rollups' generation, the generation of their last rebuild, and their hour horizon.
async fn rollup_state(tx: &mut Transaction<'_, Postgres>) -> Result<(i64, i64, String), StoreError> {
    Ok(sqlx::query_as("SELECT generation, rebuilt_generation, hour_horizon FROM rollup_state WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?)
}

/// The rows the index holds: of every period, or of the periods listed (of those, hour rows
/// from the horizon on; the hour table keeps every hour).
async fn read_rows(
    tx: &mut Transaction<'_, Postgres>,
    generation: i64,
    hour_horizon: String,
    periods: Option<&[(Grain, String)]>,
) -> Result<RollupRows, StoreError> {
    let (grains, names): (Vec<&str>, Vec<&str>) = periods
        .unwrap_or_default()
        .iter()
        .filter(|(grain, period)| *grain == Grain::Day || period.as_str() >= hour_horizon.as_str())
        .map(|(grain, period)| (grain.as_str(), period.as_str()))
        .unzip();
    let hours: Vec<&str> = periods
        .unwrap_or_default()
        .iter()
        .filter(|(grain, _)| *grain == Grain::Hour)
        .map(|(_, period)| period.as_str())
        .collect();
    let selection = match periods {
        None => Selection::Kept(&hour_horizon),
        Some(_) => Selection::Periods(&grains, &names),
    };
    let attempts = rows_as_json(
        tx,
        "grain, period, country, carrier, channel, service_sid, error_code, conversion_status, currency, attempts, \
         delivered, finalized, spend_micros, unconverted_verification_spend_micros",
        "rollup_attempts",
        selection,
    )
    .await?;
    let verifications = rows_as_json(
        tx,
        "grain, error_key, period, country, carrier, service_sid, unconverted_channels, converted_channels, verifications",
        "rollup_verifications",
        selection,
    )
    .await?;
    let irregular = rows_as_json(
        tx,
        "grain, verification_sid, sid, period, country, carrier, channel, service_sid, error_code, conversion_status",
        "irregular_attempts",
        selection,
    )
    .await?;
    let hours = rows_as_json(
        tx,
        "hour, country, carrier, channel, attempts, converted, delivered, finalized",
        "rollup_hours",
        match periods {
            None => Selection::Everything,
            Some(_) => Selection::Hours(&hours),
        },
    )
    .await?;
    let funnel = rows_as_json(
        tx,
        "grain, period, country, carrier, service_sid, path, channels, attempts, converted_at, verifications, \
         json_build_array(gap_0, gap_1, gap_2, gap_3, gap_4, gap_5), \
         json_build_array(conversion_0, conversion_1, conversion_2, conversion_3, conversion_4, conversion_5)",
        "rollup_funnel",
        selection,
    )
    .await?;
    let service_accounts = sqlx::query_as("SELECT service_sid, account_sid FROM service_accounts ORDER BY service_sid")
        .fetch_all(&mut **tx)
        .await?;
    Ok(RollupRows { generation, hour_horizon, attempts, verifications, irregular, hours, funnel, service_accounts })
}

/// Which rows of a table `rows_as_json` reads.
#[derive(Clone, Copy)]
enum Selection<'a> {
    /// Day rows, and hour rows from this hour on.
    Kept(&'a str),
    /// The rows of these (grain, period) pairs, as two arrays.
    Periods(&'a [&'a str], &'a [&'a str]),
    /// The rows of these hours (`rollup_hours`).
    Hours(&'a [&'a str]),
    Everything,
}

/// A table's rows as one JSON array of arrays, in `columns` order: the shape sqlite's reads
/// deserialize, so both stores' rows become the same values.
async fn rows_as_json<T: serde::de::DeserializeOwned>(
    tx: &mut Transaction<'_, Postgres>,
    columns: &str,
    table: &str,
    selection: Selection<'_>,
) -> Result<Vec<T>, StoreError> {
    let select = format!("SELECT COALESCE(json_agg(json_build_array({columns})), '[]')::text FROM {table}");
    let text: String = match selection {
        Selection::Kept(horizon) => {
            sqlx::query_scalar(&format!("{select} WHERE grain = 'day' OR period >= $1"))
                .bind(horizon)
                .fetch_one(&mut **tx)
                .await?
        }
        Selection::Periods(grains, periods) => {
            sqlx::query_scalar(&format!(
                "{select} WHERE (grain, period) IN (SELECT * FROM UNNEST($1::text[], $2::text[]))"
            ))
            .bind(grains)
            .bind(periods)
            .fetch_one(&mut **tx)
            .await?
        }
        Selection::Hours(hours) => {
            sqlx::query_scalar(&format!("{select} WHERE hour = ANY($1)")).bind(hours).fetch_one(&mut **tx).await?
        }
        Selection::Everything => sqlx::query_scalar(&select).fetch_one(&mut **tx).await?,
    };
    serde_json::from_str(&text).map_err(|e| StoreError::Rollups(e.to_string()))
}
