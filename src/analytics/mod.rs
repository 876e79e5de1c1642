//! The numbers of the dashboard, computed from the snapshot.

use chrono::{Duration, NaiveDate};
use sqlx::SqlitePool;

use crate::filters::ParsedFilters;
use crate::report::{Conversion, Overview, SnapshotStatus};
use crate::store::{self, AttemptScope, StoreError};

/// The overview of one view of the data, for the UTC day `today`.
pub async fn overview(
    pool: &SqlitePool,
    parsed: ParsedFilters,
    today: NaiveDate,
    snapshot: SnapshotStatus,
) -> Result<Overview, StoreError> {
    let (first, last) = parsed.filters.range.days(today);
    let scope = AttemptScope {
        from: format!("{first}T00:00:00Z"),
        to: format!("{}T00:00:00Z", last + Duration::days(1)),
        channels: parsed.filters.channels.clone(),
        countries: parsed.filters.countries.clone(),
    };
    let countries = store::conversion_by_country(pool, &scope).await?;
    let totals = countries.iter().fold(Conversion::default(), |sum, row| Conversion {
        attempts: sum.attempts + row.conversion.attempts,
        converted: sum.converted + row.conversion.converted,
    });
    Ok(Overview {
        filters: parsed.filters,
        notices: parsed.notices,
        first_day: first.to_string(),
        last_day: last.to_string(),
        totals,
        countries,
        snapshot,
    })
}
