//! Read queries behind the dashboard. Every value is bound, never spliced.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;

use sqlx::{Database, Encode, FromRow, QueryBuilder, Type};

use super::rollups::{Grain, PRICED_CURRENCY_SQL};
use super::{Dialect, Store, StoreError};
use crate::fees::FeeSchedule;
use crate::filters::{Dimension, Filters, ListOrder};
use crate::on_either;
use crate::page_data::{AttemptRow, Metrics, Money, SeriesPoint};

/// The attempts a view selects: `[from, to)` as ISO 8601 text, and the filters.
#[derive(Clone, Debug)]
pub struct AttemptScope<'a> {
    pub from: String,
    pub to: String,
    pub filters: &'a Filters,
}

/// `column IN (values)`, where `""` stands for no value: stored as NULL (or empty), and
/// rolled up as `""`.
fn push_in<'a, DB: Database, T: ToString>(query: &mut QueryBuilder<'a, DB>, column: &str, values: &[T])
where
    String: 'a + Encode<'a, DB> + Type<DB>,
{
    if values.is_empty() {
        return;
    }
    let values: Vec<String> = values.iter().map(ToString::to_string).collect();
    let unknown = values.iter().any(String::is_empty);
    query.push(format!(" AND ({column} IN ("));
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    query.push(if unknown { format!(") OR {column} IS NULL)") } else { "))".to_string() });
}

fn push_scope<'a, DB: Database>(query: &mut QueryBuilder<'a, DB>, scope: &AttemptScope<'_>, dialect: Dialect)
where
    String: 'a + Encode<'a, DB> + Type<DB>,
    i64: 'a + Encode<'a, DB> + Type<DB>,
{
    let f = scope.filters;
    query.push(" WHERE date_created >= ").push_bind(scope.from.clone()).push(dialect.time_cast());
    query.push(" AND date_created < ").push_bind(scope.to.clone()).push(dialect.time_cast());
    push_in(query, "country", &f.countries);
    push_in(query, "channel", &f.channels);
    push_in(query, "carrier", &f.carriers);
    push_in(query, "service_sid", &f.services);
    push_in(query, "account_sid", &f.accounts);
    let codes: Vec<&String> = f.errors.iter().filter(|e| *e != "none").collect();
    match (codes.is_empty(), f.errors.iter().any(|e| e == "none")) {
        (true, false) => {}
        (true, true) => {
            query.push(" AND error_code IS NULL");
        }
        (false, with_none) => {
            query.push(" AND (error_code IN (");
            let mut list = query.separated(", ");
            for code in codes {
                list.push_bind(code.clone());
            }
            query.push(if with_none { ") OR error_code IS NULL)" } else { "))" });
        }
    }
    if let Some(status) = f.status {
        query.push(" AND conversion_status = ").push_bind(status.as_str().to_string());
    }
    if let Some(prefix) = &f.prefix {
        query
            .push(r#" AND substr("to", 1, "#)
            .push_bind(prefix.len() as i64)
            .push(dialect.int_cast())
            .push(") = ")
            .push_bind(prefix.clone());
    }
}

fn key_expression(by: Option<Dimension>, scope: &AttemptScope<'_>, dialect: Dialect) -> String {
    match by {
        None => "''".into(),
        Some(Dimension::Country) => "COALESCE(country, '')".into(),
        Some(Dimension::Channel) => "channel".into(),
        Some(Dimension::Carrier) => "COALESCE(carrier, '')".into(),
        Some(Dimension::Service) => "service_sid".into(),
        Some(Dimension::Account) => "account_sid".into(),
        Some(Dimension::Error) => "COALESCE(error_code, '')".into(),
        Some(Dimension::Day) => day_sql(scope, dialect),
    }
}

/// The day in the reporting zone of an attempt of `scope`, as SQL.
fn day_sql(scope: &AttemptScope<'_>, dialect: Dialect) -> String {
    let time = |text: &str| crate::model::twilio_time::parse(text).unwrap_or_default();
    crate::zone::day_sql(dialect, "date_created", time(&scope.from), time(&scope.to))
}

#[derive(FromRow)]
struct MetricsRow {
    key: String,
    /// NULL on the rows of distinct verifications per key.
    currency: Option<String>,
    attempts: i64,
    converted: i64,
    verifications: i64,
    converted_verifications: i64,
    delivered: i64,
    finalized: i64,
    spend: f64,
    wasted: f64,
    /// On the rows of converted verifications per key and market: the country and service
    /// their fee depends on, and how many.
    fee_country: Option<String>,
    fee_service: Option<String>,
    fee_verifications: i64,
    /// Attempts of channels that are priced (all but email) without a price yet.
    unpriced: i64,
}

/// The rollup grain that answers a scope exactly, if any: its bounds must fall on
/// period boundaries, and a destination prefix needs the raw rows.
pub fn rollup_grain(scope: &AttemptScope<'_>) -> Option<Grain> {
    if scope.filters.prefix.is_some() {
        return None;
    }
    let on = |tail: &str| scope.from.ends_with(tail) && scope.to.ends_with(tail);
    let midnight = |text: &str| crate::model::twilio_time::parse(text).is_some_and(crate::zone::is_midnight);
    if midnight(&scope.from) && midnight(&scope.to) {
        Some(Grain::Day)
    } else if scope.from.len() == 20 && scope.to.len() == 20 && on(":00:00Z") {
        Some(Grain::Hour)
    } else {
        None
    }
}

/// The turns of raw scans, which read the whole window's rows: at most a few run at once,
/// so they queue behind each other instead of taking every connection from the pages the
/// rollups answer. One per dashboard, in its state; clones share the turns.
#[derive(Clone, Debug)]
pub struct RawScans(std::sync::Arc<tokio::sync::Semaphore>);

impl RawScans {
    /// Raw scans that may run at once by default: two of the pool's connections.
    pub const AT_ONCE: usize = 2;

    pub fn new(at_once: usize) -> RawScans {
        RawScans(std::sync::Arc::new(tokio::sync::Semaphore::new(at_once)))
    }

    async fn turn(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.0.clone().acquire_owned().await.expect("the raw scans' semaphore is never closed")
    }
}

impl Default for RawScans {
    fn default() -> RawScans {
        RawScans::new(RawScans::AT_ONCE)
    }
}

/// Counts as SQL, from the rollups' definitions (`rollups::cells`): each a number for every
/// group (never NULL, whatever the group's channels).
struct CountsSql {
    converted: String,
    delivered: String,
    finalized: String,
}

static COUNTS: std::sync::LazyLock<CountsSql> = std::sync::LazyLock::new(|| CountsSql {
    converted: super::rollups::sql_count_where_in("conversion_status", &[super::rollups::CONVERTED]),
    delivered: super::rollups::sql_count_where_in("message_status", &super::rollups::DELIVERED_STATUSES),
    finalized: super::rollups::sql_count_where_in("message_status", &super::rollups::FINAL_STATUSES),
});

/// Metrics per value of `by`, computed from the raw rows in one scan. Attempt counts and
/// spend are summed per key and currency; distinct verifications per key alone, as one
/// verification can have attempts in two currencies, or priced and unpriced ones.
pub async fn raw_metrics_by(
    store: &Store,
    scans: &RawScans,
    scope: &AttemptScope<'_>,
    by: Option<Dimension>,
    fees: &FeeSchedule,
) -> Result<BTreeMap<String, Metrics>, StoreError> {
    raw_metrics_keyed(store, scans, scope, &|dialect| key_expression(by, scope, dialect), fees).await
}

/// Metrics per country and channel, keyed `country␟channel` as the rollups' pairs are
/// (`separator`, `rollup_index::PAIR_SEPARATOR`).
pub async fn raw_metrics_by_country_and_channel(
    store: &Store,
    scans: &RawScans,
    scope: &AttemptScope<'_>,
    separator: char,
    fees: &FeeSchedule,
) -> Result<BTreeMap<String, Metrics>, StoreError> {
    let key = |dialect: Dialect| format!("COALESCE(country, '') || {} || channel", dialect.char(u32::from(separator)));
    raw_metrics_keyed(store, scans, scope, &key, fees).await
}

async fn raw_metrics_keyed(
    store: &Store,
    scans: &RawScans,
    scope: &AttemptScope<'_>,
    key_sql: &(dyn Fn(Dialect) -> String + Sync),
    fees: &FeeSchedule,
) -> Result<BTreeMap<String, Metrics>, StoreError> {
    let _scan = scans.turn().await;
    let rows: Vec<MetricsRow> = on_either!(store, |pool, dialect| {
        let mut query = QueryBuilder::new(metrics_sql_head(&key_sql(dialect)));
        push_scope(&mut query, scope, dialect);
        query.push(metrics_sql_tail(dialect));
        query.build_query_as().fetch_all(pool).await?
    });
    metrics_of_rows(rows, fees)
}

fn metrics_sql_head(key_sql: &str) -> String {
    format!(
        "WITH selected AS MATERIALIZED (SELECT {key_sql} AS key, {PRICED_CURRENCY_SQL} AS currency, verification_sid, \
         conversion_status, message_status, price, COALESCE(country, '') AS country, service_sid, channel FROM attempts"
    )
}

fn metrics_sql_tail(dialect: Dialect) -> String {
    let CountsSql { converted, delivered, finalized } = &*COUNTS;
    let (spend, wasted) =
        (dialect.total("price"), dialect.total("CASE WHEN conversion_status = 'unconverted' THEN price END"));
    // A converted verification's fee follows its country and service; should its converted
    // attempts name several, the least of each (as the rollups do).
    format!(
        ") SELECT key, currency, COUNT(*) AS attempts, {converted} AS converted, \
         0 AS verifications, 0 AS converted_verifications, {delivered} AS delivered, {finalized} AS finalized, \
         {spend} AS spend, {wasted} AS wasted, \
         NULL AS fee_country, NULL AS fee_service, 0 AS fee_verifications, \
         SUM(CASE WHEN currency = '' AND channel != 'email' THEN 1 ELSE 0 END) AS unpriced \
         FROM selected GROUP BY 1, 2 \
         UNION ALL SELECT key, NULL, 0, 0, COUNT(DISTINCT verification_sid), \
         COUNT(DISTINCT CASE WHEN conversion_status = 'converted' THEN verification_sid END), 0, 0, 0.0, 0.0, \
         NULL, NULL, 0, 0 FROM selected GROUP BY 1 \
         UNION ALL SELECT key, NULL, 0, 0, 0, 0, 0, 0, 0.0, 0.0, fee_country, fee_service, COUNT(*), 0 \
         FROM (SELECT key, verification_sid, MIN(country) AS fee_country, MIN(service_sid) AS fee_service \
         FROM selected WHERE conversion_status = 'converted' GROUP BY key, verification_sid) AS converted_ones \
         GROUP BY 1, 11, 12"
    )
}

/// The metrics per key of `raw_metrics_keyed`'s rows, with each converted verification's fee.
fn metrics_of_rows(rows: Vec<MetricsRow>, fees: &FeeSchedule) -> Result<BTreeMap<String, Metrics>, StoreError> {
    let mut metrics: BTreeMap<String, Metrics> = BTreeMap::new();
    let mut fee_micros: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in rows {
        let m = metrics.entry(row.key.clone()).or_default();
        m.attempts += row.attempts as u64;
        m.converted += row.converted as u64;
        m.verifications += row.verifications as u64;
        m.converted_verifications += row.converted_verifications as u64;
        m.delivered += row.delivered as u64;
        m.finalized += row.finalized as u64;
        match row.currency {
            Some(currency) if !currency.is_empty() => {
                m.spend.push(Money { currency: currency.clone(), amount: row.spend });
                m.unconverted_attempt_spend.push(Money { currency, amount: row.wasted });
            }
            _ => {}
        }
        m.unpriced_attempts += row.unpriced as u64;
        if let (Some(country), Some(service)) = (&row.fee_country, &row.fee_service)
            && let Some(fee) = fees.fee_for(country, service)
        {
            *fee_micros.entry((row.key, fee.currency.clone())).or_default() += fee.micros * row.fee_verifications;
        }
    }
    for ((key, currency), micros) in fee_micros {
        if let Some(m) = metrics.get_mut(&key) {
            add_micros(&mut m.verification_fees, &currency, micros);
        }
    }
    Ok(metrics)
}

/// Adds millionths of `currency` to a list of amounts.
pub fn add_micros(money: &mut Vec<Money>, currency: &str, micros: i64) {
    let amount = micros as f64 / 1e6;
    match money.iter_mut().find(|m| m.currency == currency) {
        Some(m) => m.amount += amount,
        None => money.push(Money { currency: currency.to_string(), amount }),
    }
}

/// What a burst of unconverted SMS to one country in `[from, to)` cost: per UTC day its
/// attempts and channel fees per currency, and the numbers it went to less their last
/// `hidden_digits`, most attempts first (at most `prefixes`).
pub async fn raw_burst_costs(
    store: &Store,
    scans: &RawScans,
    country: &str,
    from: &str,
    to: &str,
    hidden_digits: i64,
    prefixes: i64,
) -> Result<BurstCosts, StoreError> {
    let _scan = scans.turn().await;
    let time = |text: &str| crate::model::twilio_time::parse(text).unwrap_or_default();
    let (days, prefixes) = on_either!(store, |pool, dialect| {
        let day = crate::zone::day_sql(dialect, "date_created", time(from), time(to));
        let (cast, total) = (dialect.time_cast(), dialect.total("price"));
        let days: Vec<(String, String, i64, f64)> = sqlx::query_as(&format!(
            "SELECT {day}, {PRICED_CURRENCY_SQL}, COUNT(*), {total} FROM attempts \
             WHERE date_created >= $1{cast} AND date_created < $2{cast} AND country = $3 AND channel = 'sms' \
             AND conversion_status = 'unconverted' GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .bind(from)
        .bind(to)
        .bind(country)
        .fetch_all(pool)
        .await?;
        let kept = dialect.greatest(&format!("length(\"to\") - $1{}", dialect.int_cast()), "1");
        let prefixes: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT substr(\"to\", 1, {kept}), COUNT(*) FROM attempts \
             WHERE date_created >= $2{cast} AND date_created < $3{cast} AND country = $4 AND channel = 'sms' \
             AND conversion_status = 'unconverted' AND \"to\" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $5"
        ))
        .bind(hidden_digits)
        .bind(from)
        .bind(to)
        .bind(country)
        .bind(prefixes)
        .fetch_all(pool)
        .await?;
        (days, prefixes)
    });
    Ok(BurstCosts { days, prefixes })
}

/// What `raw_burst_costs` reads: (day, currency or "", attempts, channel fees), and
/// (prefix, attempts).
#[derive(Clone, Debug, Default)]
pub struct BurstCosts {
    pub days: Vec<(String, String, i64, f64)>,
    pub prefixes: Vec<(String, i64)>,
}

/// Spend per currency on a scope's attempts whose verification has no converted attempt in
/// the snapshot (within the scope or not), found through the verification index. A raw scan.
pub async fn raw_unconverted_verification_spend(
    store: &Store,
    scans: &RawScans,
    scope: &AttemptScope<'_>,
) -> Result<Vec<Money>, StoreError> {
    Ok(raw_unconverted_verification_spend_by(store, scans, scope, None).await?.remove("").unwrap_or_default())
}

/// `raw_unconverted_verification_spend` per value of `by` (one key `""` without it).
pub async fn raw_unconverted_verification_spend_by(
    store: &Store,
    scans: &RawScans,
    scope: &AttemptScope<'_>,
    by: Option<Dimension>,
) -> Result<BTreeMap<String, Vec<Money>>, StoreError> {
    let _scan = scans.turn().await;
    let rows: Vec<(String, String, f64)> = on_either!(store, |pool, dialect| {
        let mut query = QueryBuilder::new(format!(
            "SELECT {}, price_unit, {} FROM attempts AS attempt",
            key_expression(by, scope, dialect),
            dialect.total("price")
        ));
        push_scope(&mut query, scope, dialect);
        query.push(
            " AND conversion_status = 'unconverted' AND price_unit IS NOT NULL AND price_unit != '' AND NOT EXISTS \
             (SELECT 1 FROM attempts AS other WHERE other.verification_sid = attempt.verification_sid \
             AND other.conversion_status = 'converted') GROUP BY 1, 2 ORDER BY 1, 2",
        );
        query.build_query_as().fetch_all(pool).await?
    });
    let mut out: BTreeMap<String, Vec<Money>> = BTreeMap::new();
    for (key, currency, amount) in rows {
        out.entry(key).or_default().push(Money { currency, amount });
    }
    Ok(out)
}

/// Attempts and conversions per channel and bucket: `hourly` buckets are `YYYY-MM-DDTHH`, else days.
pub async fn raw_series(
    store: &Store,
    scans: &RawScans,
    scope: &AttemptScope<'_>,
    hourly: bool,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let converted = &COUNTS.converted;
    let _scan = scans.turn().await;
    let rows: Vec<(String, String, i64, i64)> = on_either!(store, |pool, dialect| {
        let bucket = if hourly { dialect.hour_text("date_created") } else { day_sql(scope, dialect) };
        let mut query =
            QueryBuilder::new(format!("SELECT {bucket} AS bucket, channel, COUNT(*), {converted} FROM attempts"));
        push_scope(&mut query, scope, dialect);
        query.push(" GROUP BY 1, 2 ORDER BY 1, 2");
        query.build_query_as().fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .map(|(bucket, channel, attempts, converted)| SeriesPoint {
            bucket,
            channel,
            attempts: attempts as u64,
            converted: converted as u64,
        })
        .collect())
}

/// Newest first, by the table's columns: in PostgreSQL a bare `date_created` in `ORDER BY`
/// names the select list's text of it (`attempt_fields`), which sorts every row of the scope
/// instead of reading the index in order.
const NEWEST_FIRST: &str = "attempts.date_created DESC, attempts.sid DESC";

/// The columns of an `AttemptRecord`, times as Twilio's text in either store.
fn attempt_fields(dialect: Dialect) -> String {
    format!(
        r#"sid, verification_sid, service_sid, account_sid, {} AS date_created, {} AS date_updated, conversion_status,
        channel, "to", country, carrier, message_status, call_status, error_code, price, price_unit"#,
        dialect.time_text("date_created"),
        dialect.time_text("date_updated")
    )
}

#[derive(FromRow)]
struct AttemptRecord {
    sid: String,
    verification_sid: String,
    service_sid: String,
    account_sid: String,
    date_created: String,
    date_updated: String,
    conversion_status: String,
    channel: String,
    to: Option<String>,
    country: Option<String>,
    carrier: Option<String>,
    message_status: Option<String>,
    call_status: Option<String>,
    error_code: Option<String>,
    price: Option<f64>,
    price_unit: Option<String>,
}

impl From<AttemptRecord> for AttemptRow {
    fn from(r: AttemptRecord) -> Self {
        AttemptRow {
            sid: r.sid,
            verification_sid: r.verification_sid,
            service_sid: r.service_sid,
            account_sid: r.account_sid,
            date_created: r.date_created,
            date_updated: r.date_updated,
            conversion_status: r.conversion_status,
            channel: r.channel,
            to: r.to,
            country: r.country,
            carrier: r.carrier,
            message_status: r.message_status,
            call_status: r.call_status,
            error_code: r.error_code,
            price: r.price,
            price_unit: r.price_unit,
        }
    }
}

/// Where a page of the attempts list starts: after this attempt, in the list's order.
#[derive(Clone, Debug, PartialEq)]
pub struct ListCursor {
    /// The attempt's price; read only in `ListOrder::Price`.
    pub price: Option<f64>,
    pub date_created: String,
    pub sid: String,
}

/// Up to `limit` attempts after `after` in `order`: keyset pagination, newest first on the
/// `attempts_by_date` index, priciest first (unpriced last) on `attempts_by_price`.
pub async fn list_attempts(
    store: &Store,
    scope: &AttemptScope<'_>,
    list_order: ListOrder,
    after: Option<ListCursor>,
    limit: u32,
) -> Result<Vec<AttemptRow>, StoreError> {
    let rows: Vec<AttemptRecord> = on_either!(store, |pool, dialect| {
        let order = match list_order {
            ListOrder::Newest => NEWEST_FIRST.to_string(),
            ListOrder::Price => format!("price DESC{}, {NEWEST_FIRST}", dialect.nulls_last()),
        };
        // The page is chosen from the table's columns, and only its rows are turned into
        // `attempt_fields`: PostgreSQL would otherwise spell the times of every row it sorts.
        let mut query = QueryBuilder::new(format!("SELECT {} FROM (SELECT * FROM attempts", attempt_fields(dialect)));
        push_scope(&mut query, scope, dialect);
        let cast = dialect.time_cast();
        match (list_order, after.clone()) {
            (_, None) => {}
            (ListOrder::Newest, Some(c)) => {
                query
                    .push(" AND (date_created, sid) < (")
                    .push_bind(c.date_created)
                    .push(cast)
                    .push(", ")
                    .push_bind(c.sid)
                    .push(")");
            }
            // Unpriced attempts come last, after every priced one.
            (ListOrder::Price, Some(ListCursor { price: Some(price), date_created, sid })) => {
                query
                    .push(" AND (price < ")
                    .push_bind(price)
                    .push(" OR price IS NULL OR (price = ")
                    .push_bind(price)
                    .push(" AND (date_created, sid) < (")
                    .push_bind(date_created)
                    .push(cast)
                    .push(", ")
                    .push_bind(sid)
                    .push(")))");
            }
            (ListOrder::Price, Some(ListCursor { price: None, date_created, sid })) => {
                query
                    .push(" AND price IS NULL AND (date_created, sid) < (")
                    .push_bind(date_created)
                    .push(cast)
                    .push(", ")
                    .push_bind(sid)
                    .push(")");
            }
        }
        query.push(format!(" ORDER BY {order} LIMIT ")).push_bind(i64::from(limit));
        query.push(format!(") AS attempts ORDER BY {order}"));
        query.build_query_as().fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(AttemptRow::from).collect())
}

/// A read of every attempt of a scope, newest first, with its raw scan's turn (taken by
/// `start`, kept until it is dropped).
pub struct AttemptScan {
    query: ScanQuery,
    _turn: tokio::sync::OwnedSemaphorePermit,
}

/// The scan's query, built for its store.
enum ScanQuery {
    Sqlite(sqlx::SqlitePool, QueryBuilder<'static, sqlx::Sqlite>),
    Postgres(sqlx::PgPool, QueryBuilder<'static, sqlx::Postgres>),
}

impl AttemptScan {
    pub async fn start(store: &Store, scans: &RawScans, scope: &AttemptScope<'_>) -> AttemptScan {
        let query = match store {
            Store::Sqlite(pool) => ScanQuery::Sqlite(pool.clone(), scan_query(scope, Dialect::Sqlite)),
            Store::Postgres(pg) => ScanQuery::Postgres(pg.pool.clone(), scan_query(scope, Dialect::Postgres)),
        };
        AttemptScan { query, _turn: scans.turn().await }
    }

    /// The rows as the store reads them: sqlx's row channel holds at most 50 ahead of the
    /// reader, so memory does not grow with the scope.
    pub fn rows(&mut self) -> futures_util::stream::BoxStream<'_, Result<AttemptRow, StoreError>> {
        use futures_util::StreamExt;
        match &mut self.query {
            ScanQuery::Sqlite(pool, query) => query
                .build_query_as::<AttemptRecord>()
                .fetch(&*pool)
                .map_ok(AttemptRow::from)
                .map_err(StoreError::from)
                .boxed(),
            ScanQuery::Postgres(pool, query) => query
                .build_query_as::<AttemptRecord>()
                .fetch(&*pool)
                .map_ok(AttemptRow::from)
                .map_err(StoreError::from)
                .boxed(),
        }
    }
}

fn scan_query<'a, DB: Database>(scope: &AttemptScope<'_>, dialect: Dialect) -> QueryBuilder<'a, DB>
where
    String: 'a + Encode<'a, DB> + Type<DB>,
    i64: 'a + Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!("SELECT {} FROM attempts", attempt_fields(dialect)));
    push_scope(&mut query, scope, dialect);
    query.push(format!(" ORDER BY {NEWEST_FIRST}"));
    query
}

pub async fn find_attempt(store: &Store, sid: &str) -> Result<Option<AttemptRow>, StoreError> {
    let row: Option<AttemptRecord> = on_either!(store, |pool, dialect| {
        sqlx::query_as(&format!("SELECT {} FROM attempts WHERE sid = $1", attempt_fields(dialect)))
            .bind(sid)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(AttemptRow::from))
}

/// The account the attempt `sid` belongs to, if the store holds it.
pub async fn attempt_account(store: &Store, sid: &str) -> Result<Option<String>, StoreError> {
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query_scalar("SELECT account_sid FROM attempts WHERE sid = $1").bind(sid).fetch_optional(pool).await?
    }))
}

/// The attempts of one verification, oldest first.
pub async fn verification_attempts(store: &Store, verification_sid: &str) -> Result<Vec<AttemptRow>, StoreError> {
    let rows: Vec<AttemptRecord> = on_either!(store, |pool, dialect| {
        sqlx::query_as(&format!(
            "SELECT {} FROM attempts WHERE verification_sid = $1 ORDER BY attempts.date_created, attempts.sid",
            attempt_fields(dialect)
        ))
        .bind(verification_sid)
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().map(AttemptRow::from).collect())
}

/// Counts per hour, country, channel and carrier: the raw material of anomaly detection.
#[derive(Clone, Debug)]
pub struct HourlyCell {
    pub hour: String,
    pub country: String,
    pub channel: String,
    pub carrier: String,
    pub attempts: i64,
    pub converted: i64,
    pub delivered: i64,
    pub finalized: i64,
}
