//! Attempts into the PostgreSQL store: each batch one fenced transaction, its rows sent as one
//! array per column (`UNNEST`) rather than a bound parameter per value, in SID order so that two
//! writers lock rows in the same order and cannot deadlock.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use sqlx::PgPool;

use rustc_hash::FxHashMap as HashMap;

use super::lease::{self, Fence};
use super::rollups;
use crate::model::{Attempt, twilio_time};
use crate::store::rollups::{AttemptFacts, RollupDelta, add_changes};
use crate::store::upsert::{newest_per_sid, price_unit, price_value};
use crate::store::{StoreError, UpsertCount};

/// Inserts or updates `attempts` by SID under `fence`, newest `date_updated` winning, with
/// their rollups, in one transaction; nothing is written when the fence no longer holds.
pub async fn upsert_attempts(pool: &PgPool, fence: &Fence, attempts: &[Attempt]) -> Result<UpsertCount, StoreError> {
    write_batch(pool, fence, attempts, None).await
}

/// Where a batch of a sync's pages leaves its run: the pages to add to it, and each page's
/// slice with where that slice goes on (`None`: done), in the order the pages came.
pub struct RunProgress<'a> {
    pub run_id: i64,
    pub slices: &'a [(i64, Option<String>)],
}

/// `upsert_attempts` for a sync's pages: their run's progress is written in the same
/// transaction, so a kill loses the pages and their progress together, and the next run
/// fetches them again.
pub async fn write_sync_batch(
    pool: &PgPool,
    fence: &Fence,
    attempts: &[Attempt],
    progress: &RunProgress<'_>,
) -> Result<UpsertCount, StoreError> {
    write_batch(pool, fence, attempts, Some(progress)).await
}

async fn write_batch(
    pool: &PgPool,
    fence: &Fence,
    attempts: &[Attempt],
    progress: Option<&RunProgress<'_>>,
) -> Result<UpsertCount, StoreError> {
    if let Some(foreign) = attempts.iter().find(|a| a.account_sid != fence.account_sid) {
        return Err(StoreError::ForeignAccount {
            account_sid: fence.account_sid.clone(),
            found: foreign.account_sid.clone(),
        });
    }
    let mut rows = newest_per_sid(attempts);
    rows.sort_unstable_by(|(a, _), (b, _)| a.sid.cmp(&b.sid));
    create_month_partitions(pool, rows.iter().map(|(attempt, _)| attempt.date_created)).await?;

    let mut tx = pool.begin().await?;
    lease::check(&mut tx, fence).await?;
    // What the rollups held of these verifications before: the lease keeps every other
    // writer of this account out until the commit.
    let verification_sids: Vec<&str> = rows
        .iter()
        .map(|(attempt, _)| attempt.verification_sid.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored_facts = rollups::verification_facts(&mut tx, &verification_sids).await?;
    let stored: HashMap<&str, &str> = stored_facts.iter().map(|f| (f.sid.as_str(), f.date_updated.as_str())).collect();
    // Only what is new or newer is written, and counted in the rollups.
    rows.retain(|(attempt, updated)| stored.get(attempt.sid.as_str()).is_none_or(|previous| **previous < **updated));
    if rows.is_empty() {
        if let Some(progress) = progress {
            record_progress(&mut tx, progress, UpsertCount::default()).await?;
        }
        tx.commit().await?;
        return Ok(UpsertCount::default());
    }
    let columns = Columns::of(&rows);
    let written: Vec<String> = sqlx::query_scalar(
        "INSERT INTO attempts (sid, account_sid, service_sid, verification_sid, date_created, date_updated, \
         conversion_status, channel, price, price_unit, \"to\", status, message_status, call_status, error_code, \
         country, code_length, locale, mcc, mnc, carrier) \
         SELECT sid, account_sid, service_sid, verification_sid, date_created::timestamptz, \
         date_updated::timestamptz, conversion_status, channel, price, price_unit, \"to\", status, message_status, \
         call_status, error_code, country, code_length, locale, mcc, mnc, carrier \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::float8[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
         $16::text[], $17::int4[], $18::text[], $19::text[], $20::text[], $21::text[]) \
         AS v(sid, account_sid, service_sid, verification_sid, date_created, date_updated, conversion_status, \
         channel, price, price_unit, \"to\", status, message_status, call_status, error_code, country, \
         code_length, locale, mcc, mnc, carrier) \
         ON CONFLICT (sid, date_created) DO UPDATE SET date_updated = EXCLUDED.date_updated, \
         conversion_status = EXCLUDED.conversion_status, price = EXCLUDED.price, price_unit = EXCLUDED.price_unit, \
         status = EXCLUDED.status, message_status = EXCLUDED.message_status, call_status = EXCLUDED.call_status, \
         error_code = EXCLUDED.error_code, carrier = EXCLUDED.carrier, mcc = EXCLUDED.mcc, mnc = EXCLUDED.mnc \
         WHERE EXCLUDED.date_updated > attempts.date_updated \
         RETURNING sid",
    )
    .bind(&columns.sid)
    .bind(columns.account_sid)
    .bind(columns.service_sid)
    .bind(columns.verification_sid)
    .bind(columns.date_created)
    .bind(columns.date_updated)
    .bind(columns.conversion_status)
    .bind(columns.channel)
    .bind(columns.price)
    .bind(columns.price_unit)
    .bind(columns.to)
    .bind(columns.status)
    .bind(columns.message_status)
    .bind(columns.call_status)
    .bind(columns.error_code)
    .bind(columns.country)
    .bind(columns.code_length)
    .bind(columns.locale)
    .bind(columns.mcc)
    .bind(columns.mnc)
    .bind(columns.carrier)
    .fetch_all(&mut *tx)
    .await?;
    // Sorted, as every key this transaction locks, so that concurrent writers cannot deadlock.
    let pairs: std::collections::BTreeSet<(&str, &str)> =
        rows.iter().map(|(a, _)| (a.service_sid.as_str(), a.account_sid.as_str())).collect();
    let (services, accounts): (Vec<&str>, Vec<&str>) = pairs.into_iter().unzip();
    sqlx::query(
        "INSERT INTO service_accounts (service_sid, account_sid) SELECT * FROM UNNEST($1::text[], $2::text[]) \
         ON CONFLICT (service_sid) DO NOTHING",
    )
    .bind(services)
    .bind(accounts)
    .execute(&mut *tx)
    .await?;
    let updated = written.iter().filter(|sid| stored.contains_key(sid.as_str())).count() as u64;
    let count = UpsertCount { new: written.len() as u64 - updated, updated };
    let changed: Vec<AttemptFacts> = rows.iter().map(|(attempt, _)| AttemptFacts::of(attempt)).collect();
    let mut delta = RollupDelta::new(rollups::hour_horizon(&mut tx).await?);
    add_changes(&mut delta, &stored_facts, &changed);
    rollups::apply(&mut tx, delta).await?;
    if let Some(progress) = progress {
        record_progress(&mut tx, progress, count).await?;
    }
    tx.commit().await?;
    Ok(count)
}

/// Adds a batch's pages and counts to its run, and moves its slices on.
async fn record_progress(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    progress: &RunProgress<'_>,
    count: UpsertCount,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_runs SET pages = pages + $1, attempts_new = attempts_new + $2, \
         attempts_updated = attempts_updated + $3 WHERE id = $4",
    )
    .bind(progress.slices.len() as i64)
    .bind(count.new as i64)
    .bind(count.updated as i64)
    .bind(progress.run_id)
    .execute(&mut **tx)
    .await?;
    // The last page of each slice sets where it goes on.
    let mut last: BTreeMap<i64, Option<&str>> = BTreeMap::new();
    for (slice, next) in progress.slices {
        last.insert(*slice, next.as_deref());
    }
    for (slice, next) in last {
        sqlx::query("UPDATE sync_slices SET next_page_url = $1, done = $2 WHERE run_id = $3 AND slice = $4")
            .bind(next)
            .bind(next.is_none())
            .bind(progress.run_id)
            .bind(slice)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The months `attempts` has a partition for, oldest first, as their first days.
pub async fn attempt_months(pool: &PgPool) -> Result<Vec<NaiveDate>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT child.relname::text FROM pg_inherits \
         JOIN pg_class child ON child.oid = pg_inherits.inhrelid \
         JOIN pg_class parent ON parent.oid = pg_inherits.inhparent \
         WHERE parent.relname = 'attempts' ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    Ok(names
        .iter()
        .filter_map(|name| NaiveDate::parse_from_str(&format!("{name}_01"), "attempts_y%Ym%m_%d").ok())
        .collect())
}

/// Creates the partitions of the months `created` falls in that do not exist yet, each in a
/// short transaction of its own: creating one locks the whole table, which a batch must not hold.
async fn create_month_partitions(
    pool: &PgPool,
    created: impl Iterator<Item = DateTime<Utc>>,
) -> Result<(), StoreError> {
    let months: std::collections::BTreeSet<NaiveDate> =
        created.filter_map(|time| NaiveDate::from_ymd_opt(time.year(), time.month(), 1)).collect();
    for month in months {
        let name = partition_name(month);
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(pool).await?;
        if exists {
            continue;
        }
        let Some(next) = month.checked_add_months(Months::new(1)) else { continue };
        let mut tx = pool.begin().await?;
        // Writers of two accounts may both find the month missing: one creates it at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('verilens attempt partitions'))").execute(&mut *tx).await?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF attempts FOR VALUES FROM ('{month}T00:00:00Z') TO \
             ('{next}T00:00:00Z')"
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// `attempts_y2026m11`: only digits come from the data.
fn partition_name(month: NaiveDate) -> String {
    format!("attempts_y{:04}m{:02}", month.year(), month.month())
}

/// A batch's rows, one vector per column of `attempts`.
#[derive(Default)]
struct Columns {
    sid: Vec<String>,
    account_sid: Vec<String>,
    service_sid: Vec<String>,
    verification_sid: Vec<String>,
    date_created: Vec<String>,
    date_updated: Vec<String>,
    conversion_status: Vec<&'static str>,
    channel: Vec<&'static str>,
    price: Vec<Option<f64>>,
    price_unit: Vec<Option<String>>,
    to: Vec<Option<String>>,
    status: Vec<Option<String>>,
    message_status: Vec<Option<String>>,
    call_status: Vec<Option<String>>,
    error_code: Vec<Option<String>>,
    country: Vec<Option<String>>,
    code_length: Vec<Option<i32>>,
    locale: Vec<Option<String>>,
    mcc: Vec<Option<String>>,
    mnc: Vec<Option<String>>,
    carrier: Vec<Option<String>>,
}

impl Columns {
    fn of(rows: &[(&Attempt, String)]) -> Columns {
        let mut columns = Columns::default();
        for (attempt, updated) in rows {
            let data = attempt.channel_data.clone().unwrap_or_default();
            columns.sid.push(attempt.sid.clone());
            columns.account_sid.push(attempt.account_sid.clone());
            columns.service_sid.push(attempt.service_sid.clone());
            columns.verification_sid.push(attempt.verification_sid.clone());
            columns.date_created.push(twilio_time::format(&attempt.date_created));
            columns.date_updated.push(updated.clone());
            columns.conversion_status.push(attempt.conversion_status.as_str());
            columns.channel.push(attempt.channel.as_str());
            columns.price.push(price_value(attempt));
            columns.price_unit.push(price_unit(attempt));
            columns.to.push(data.to);
            columns.status.push(data.status);
            columns.message_status.push(data.message_status);
            columns.call_status.push(data.call_status);
            columns.error_code.push(data.error_code);
            columns.country.push(data.country);
            columns.code_length.push(data.code_length.and_then(|length| i32::try_from(length).ok()));
            columns.locale.push(data.locale);
            columns.mcc.push(data.mcc);
            columns.mnc.push(data.mnc);
            columns.carrier.push(data.carrier);
        }
        columns
    }
}
