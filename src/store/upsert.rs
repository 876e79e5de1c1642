//! Attempts into the snapshot: inserted or updated by SID, newest state winning, with their
//! rollups in the same transaction.

use rustc_hash::FxHashMap as HashMap;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::StoreError;
use super::raw_insert::{self, Value};
use super::rollups::{self, AttemptFacts};
use crate::model::{Attempt, twilio_time};

/// How an upsert changed the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertCount {
    pub new: u64,
    pub updated: u64,
}

/// Columns of `attempts`, in the order `attempt_values` gives them.
const ATTEMPT_COLUMNS: [&str; 21] = [
    "sid",
    "account_sid",
    "service_sid",
    "verification_sid",
    "date_created",
    "date_updated",
    "conversion_status",
    "channel",
    "price",
    "price_unit",
    "\"to\"",
    "status",
    "message_status",
    "call_status",
    "error_code",
    "country",
    "code_length",
    "locale",
    "mcc",
    "mnc",
    "carrier",
];
pub(super) const ATTEMPT_COLUMN_COUNT: usize = ATTEMPT_COLUMNS.len();

/// Rows per UPDATE statement: 12 values each, well under sqlite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Inserts or updates attempts by SID, and their rollups; an attempt is rewritten only
/// when its `date_updated` is newer than the stored one.
pub async fn upsert_attempts(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
) -> Result<UpsertCount, StoreError> {
    let mut rollups = PendingRollups::new(tx).await?;
    let count = upsert(tx, attempts, Some(&mut rollups)).await?;
    write_rollups(tx, rollups).await?;
    Ok(count)
}

/// The rollup changes of several upserts in one transaction. Pages of the same hours
/// and days touch the same rollup rows, so the sync writes them once per transaction
/// (`write_rollups`, before the commit) instead of once per page.
pub struct PendingRollups(rollups::RollupDelta);

impl PendingRollups {
    pub async fn new(tx: &mut Transaction<'_, Sqlite>) -> Result<PendingRollups, StoreError> {
        Ok(PendingRollups(rollups::RollupDelta::new(rollups::hour_horizon(tx).await?)))
    }
}

/// `upsert_attempts` whose rollup changes wait in `rollups` for `write_rollups`; the
/// transaction must write them before it commits.
pub async fn upsert_attempts_pending(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
    rollups: &mut PendingRollups,
) -> Result<UpsertCount, StoreError> {
    upsert(tx, attempts, Some(rollups)).await
}

/// Writes the rollup changes gathered in `rollups`.
pub async fn write_rollups(tx: &mut Transaction<'_, Sqlite>, rollups: PendingRollups) -> Result<(), StoreError> {
    rollups::apply(tx, rollups.0).await
}

/// `upsert_attempts` without rollup maintenance: only for measuring what the rollups cost.
#[doc(hidden)]
pub async fn upsert_attempts_without_rollups(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
) -> Result<UpsertCount, StoreError> {
    upsert(tx, attempts, None).await
}

/// The price as stored: the API's decimal string as a number.
pub(super) fn price_value(attempt: &Attempt) -> Option<f64> {
    attempt.price.as_ref()?.value.as_deref()?.parse::<f64>().ok()
}

/// The price's currency as stored: upper case.
pub(super) fn price_unit(attempt: &Attempt) -> Option<String> {
    Some(attempt.price.as_ref()?.currency.as_deref()?.to_ascii_uppercase())
}

async fn upsert(
    tx: &mut Transaction<'_, Sqlite>,
    attempts: &[Attempt],
    rollups: Option<&mut PendingRollups>,
) -> Result<UpsertCount, StoreError> {
    let mut count = UpsertCount::default();
    if attempts.is_empty() {
        return Ok(count);
    }
    let verification_sids: Vec<&str> = attempts
        .iter()
        .map(|a| a.verification_sid.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored_facts = rollups::verification_facts(tx, &verification_sids).await?;
    let stored: HashMap<&str, &str> = stored_facts.iter().map(|f| (f.sid.as_str(), f.date_updated.as_str())).collect();

    let mut changed = Vec::with_capacity(attempts.len());
    for (attempt, updated) in newest_per_sid(attempts) {
        match stored.get(attempt.sid.as_str()) {
            None => count.new += 1,
            Some(previous) if **previous < *updated => count.updated += 1,
            Some(_) => continue,
        }
        changed.push((attempt, updated));
    }
    // New attempts are inserted, known ones updated: an upsert (`ON CONFLICT`) can abort
    // part way, so sqlite journals every index page each of its statements touches; `OR
    // IGNORE` cannot, and this transaction already knows which SIDs it holds.
    let (updated, new): (Vec<_>, Vec<_>) =
        changed.iter().partition(|(attempt, _)| stored.contains_key(attempt.sid.as_str()));
    let new: Vec<&Attempt> = new.into_iter().map(|(attempt, _)| *attempt).collect();
    insert_new(tx, &new).await?;
    super::services::record_service_accounts(tx, new.iter().map(|a| (a.service_sid.as_str(), a.account_sid.as_str())))
        .await?;
    for chunk in updated.chunks(ROWS_PER_STATEMENT) {
        let mut update = QueryBuilder::<Sqlite>::new(
            "UPDATE attempts SET date_updated = v.column2, conversion_status = v.column3, price = v.column4, \
             price_unit = v.column5, status = v.column6, message_status = v.column7, call_status = v.column8, \
             error_code = v.column9, carrier = v.column10, mcc = v.column11, mnc = v.column12 FROM (",
        );
        update.push_values(chunk, |mut row, (attempt, updated)| {
            let data = attempt.channel_data.as_ref();
            let field = |get: fn(&crate::model::ChannelData) -> Option<&str>| data.and_then(get);
            row.push_bind(attempt.sid.as_str())
                .push_bind(updated.as_str())
                .push_bind(attempt.conversion_status.as_str())
                .push_bind(price_value(attempt))
                .push_bind(price_unit(attempt))
                .push_bind(field(|d| d.status.as_deref()))
                .push_bind(field(|d| d.message_status.as_deref()))
                .push_bind(field(|d| d.call_status.as_deref()))
                .push_bind(field(|d| d.error_code.as_deref()))
                .push_bind(field(|d| d.carrier.as_deref()))
                .push_bind(field(|d| d.mcc.as_deref()))
                .push_bind(field(|d| d.mnc.as_deref()));
        });
        update.push(") AS v WHERE attempts.sid = v.column1 AND v.column2 > attempts.date_updated");
        update.build().execute(&mut **tx).await?;
    }
    if let Some(PendingRollups(delta)) = rollups {
        let changed_facts: Vec<AttemptFacts> = changed.iter().map(|(attempt, _)| AttemptFacts::of(attempt)).collect();
        rollups::add_changes(delta, &stored_facts, &changed_facts);
    }
    Ok(count)
}

/// Each SID's newest attempt (by `date_updated`, then the later listed), in the order
/// given, with its `date_updated` formatted as stored.
pub(super) fn newest_per_sid(attempts: &[Attempt]) -> Vec<(&Attempt, String)> {
    let updated: Vec<String> = attempts.iter().map(|a| twilio_time::format(&a.date_updated)).collect();
    let mut newest: HashMap<&str, usize> = HashMap::default();
    for (index, attempt) in attempts.iter().enumerate() {
        let slot = newest.entry(attempt.sid.as_str()).or_insert(index);
        if updated[*slot] <= updated[index] {
            *slot = index;
        }
    }
    attempts
        .iter()
        .zip(updated)
        .enumerate()
        .filter(|(index, (attempt, _))| newest[attempt.sid.as_str()] == *index)
        .map(|(_, row)| row)
        .collect()
}

/// Inserts attempts as new rows; a SID already stored keeps its row.
async fn insert_new(tx: &mut Transaction<'_, Sqlite>, attempts: &[&Attempt]) -> Result<(), StoreError> {
    let values: Vec<Value> = attempts.iter().flat_map(|attempt| attempt_values((*attempt).clone())).collect();
    insert_attempts(tx, "INSERT OR IGNORE", &values).await
}

/// Writes `values`, rows made by `attempt_values`, into `attempts` with `verb` (`INSERT`,
/// `INSERT OR IGNORE`).
pub(super) async fn insert_attempts(
    tx: &mut Transaction<'_, Sqlite>,
    verb: &str,
    values: &[Value],
) -> Result<(), StoreError> {
    let parameters = ["?"; ATTEMPT_COLUMN_COUNT].join(", ");
    let sql = format!("{verb} INTO attempts ({}) VALUES ({parameters})", ATTEMPT_COLUMNS.join(", "));
    raw_insert::insert_rows(tx, &sql, ATTEMPT_COLUMN_COUNT, values).await
}

/// An attempt's values in `ATTEMPT_COLUMNS` order, as stored, taken without copying them.
pub(super) fn attempt_values(attempt: Attempt) -> [Value; ATTEMPT_COLUMN_COUNT] {
    let (price, price_unit) = (price_value(&attempt), price_unit(&attempt));
    let data = attempt.channel_data.unwrap_or_default();
    [
        Value::Text(attempt.sid),
        Value::Text(attempt.account_sid),
        Value::Text(attempt.service_sid),
        Value::Text(attempt.verification_sid),
        Value::Text(twilio_time::format(&attempt.date_created)),
        Value::Text(twilio_time::format(&attempt.date_updated)),
        Value::StaticText(attempt.conversion_status.as_str()),
        Value::StaticText(attempt.channel.as_str()),
        price.map_or(Value::Null, Value::Real),
        price_unit.into(),
        data.to.into(),
        data.status.into(),
        data.message_status.into(),
        data.call_status.into(),
        data.error_code.into(),
        data.country.into(),
        data.code_length.map_or(Value::Null, |length| Value::Integer(i64::from(length))),
        data.locale.into(),
        data.mcc.into(),
        data.mnc.into(),
        data.carrier.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PreparedAppend, append_prepared, begin_write, open};
    use sqlx::SqlitePool;

    fn attempt(sid: &str, date_updated: &str) -> Attempt {
        let mut json: serde_json::Value = serde_json::from_str(include_str!("../../tests/data/attempt.json")).unwrap();
        json["sid"] = sid.into();
        json["date_updated"] = date_updated.into();
        serde_json::from_value(json).unwrap()
    }

    /// Every column of every row, as text.
    async fn stored_rows(pool: &SqlitePool) -> Vec<String> {
        let columns: Vec<String> = ATTEMPT_COLUMNS.iter().map(|c| format!("COALESCE({c}, '')")).collect();
        let sql = format!("SELECT {} FROM attempts ORDER BY sid", columns.join(" || '|' || "));
        sqlx::query_scalar(&sql).fetch_all(pool).await.unwrap()
    }

    #[tokio::test]
    async fn a_bulk_append_stores_the_rows_an_upsert_does() {
        let mut priced = attempt("VL1", "2026-11-25T10:00:05Z");
        priced.price = Some(crate::model::Price { value: Some("0.0079".into()), currency: Some("usd".into()) });
        let mut bare = attempt("VL2", "2026-11-25T10:00:06Z");
        bare.price = None;
        bare.channel_data = None;
        let attempts = vec![priced, bare, attempt("VL3", "2026-11-25T10:00:07Z")];
        let dir = tempfile::tempdir().unwrap();
        let (upserted, appended) =
            (open(&dir.path().join("u.db")).await.unwrap(), open(&dir.path().join("a.db")).await.unwrap());
        let mut tx = begin_write(&upserted).await.unwrap();
        upsert_attempts(&mut tx, &attempts).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = begin_write(&appended).await.unwrap();
        append_prepared(&mut tx, PreparedAppend::of(attempts)).await.unwrap();
        tx.commit().await.unwrap();
        let rows = stored_rows(&upserted).await;
        assert_eq!(rows.len(), 3);
        assert!(rows[0].contains("|0.0079|USD|"), "{}", rows[0]);
        assert_eq!(stored_rows(&appended).await, rows);
    }

    #[test]
    fn a_sid_listed_twice_keeps_its_newest_state() {
        let attempts = [
            attempt("VL1", "2026-11-25T10:00:05Z"),
            attempt("VL2", "2026-11-25T10:00:00Z"),
            attempt("VL1", "2026-11-25T10:00:09Z"),
            attempt("VL1", "2026-11-25T10:00:01Z"),
        ];
        let kept: Vec<(&str, String)> =
            newest_per_sid(&attempts).into_iter().map(|(a, updated)| (a.sid.as_str(), updated)).collect();
        assert_eq!(
            kept,
            vec![("VL2", "2026-11-25T10:00:00Z".to_string()), ("VL1", "2026-11-25T10:00:09Z".to_string())]
        );
    }
}
