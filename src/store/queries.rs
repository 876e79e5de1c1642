//! Read queries behind the dashboard.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::StoreError;
use crate::model::Channel;
use crate::report::{Conversion, CountryRow};

/// A filter in the snapshot's terms: `[from, to)` as ISO 8601 text.
#[derive(Clone, Debug, Default)]
pub struct AttemptScope {
    pub from: String,
    pub to: String,
    pub channels: Vec<Channel>,
    pub countries: Vec<String>,
}

fn push_scope(query: &mut QueryBuilder<'_, Sqlite>, scope: &AttemptScope) {
    query.push(" WHERE date_created >= ").push_bind(scope.from.clone());
    query.push(" AND date_created < ").push_bind(scope.to.clone());
    if !scope.channels.is_empty() {
        query.push(" AND channel IN (");
        let mut list = query.separated(", ");
        for channel in &scope.channels {
            list.push_bind(channel.as_str());
        }
        query.push(")");
    }
    if !scope.countries.is_empty() {
        query.push(" AND country IN (");
        let mut list = query.separated(", ");
        for country in &scope.countries {
            list.push_bind(country.clone());
        }
        query.push(")");
    }
}

/// Attempts and conversions per destination country, most attempts first.
pub async fn conversion_by_country(pool: &SqlitePool, scope: &AttemptScope) -> Result<Vec<CountryRow>, StoreError> {
    let mut query = QueryBuilder::new(
        "SELECT COALESCE(country, '') AS country, COUNT(*) AS attempts, \
         SUM(conversion_status = 'converted') AS converted FROM attempts",
    );
    push_scope(&mut query, scope);
    query.push(" GROUP BY 1 ORDER BY attempts DESC, country");
    let rows: Vec<(String, i64, i64)> = query.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|(country, attempts, converted)| CountryRow {
            country,
            conversion: Conversion { attempts: attempts as u64, converted: converted as u64 },
        })
        .collect())
}

/// The end of the last complete sync window, if any.
pub async fn snapshot_as_of(pool: &SqlitePool) -> Result<Option<String>, StoreError> {
    super::watermark(pool).await
}

/// The error of the most recent run, if it failed.
pub async fn last_sync_error(pool: &SqlitePool) -> Result<Option<String>, StoreError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT status, error FROM sync_runs WHERE status != 'running' ORDER BY id DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(status, error)| (status == "failed").then_some(error).flatten()))
}
