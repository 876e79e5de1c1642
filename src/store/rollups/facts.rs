//! What the rollups read of an attempt, from an `Attempt` or from the `attempts` table.

use std::sync::LazyLock;

use sqlx::FromRow;

use crate::model::{Attempt, twilio_time};
use crate::store::StoreError;

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

/// The projection of `AttemptFacts` from `attempts`: each field's SQL and name, in the
/// struct's order.
const FACTS_PROJECTION: [(&str, &str); 13] = [
    ("sid", "sid"),
    ("verification_sid", "verification_sid"),
    ("date_created", "date_created"),
    ("date_updated", "date_updated"),
    ("COALESCE(country, '')", "country"),
    ("COALESCE(carrier, '')", "carrier"),
    ("channel", "channel"),
    ("service_sid", "service_sid"),
    ("COALESCE(error_code, '')", "error_code"),
    ("conversion_status", "conversion_status"),
    (PRICED_CURRENCY_SQL, "currency"),
    ("COALESCE(message_status, '')", "message_status"),
    ("CAST(ROUND(COALESCE(price, 0) * 1000000) AS INTEGER)", "price_micros"),
];

/// The currency an attempt's price is counted in: `""` when it has no price (not priced yet,
/// or an email) or no currency; the rollups count those attempts as unpriced.
pub const PRICED_CURRENCY_SQL: &str = "CASE WHEN price IS NULL THEN '' ELSE COALESCE(price_unit, '') END";

/// Selects `AttemptFacts` from `attempts`, a row each.
pub fn facts_select() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let columns: Vec<String> = FACTS_PROJECTION.iter().map(|(sql, name)| format!("{sql} AS {name}")).collect();
        format!("SELECT {} FROM attempts", columns.join(", "))
    });
    &SQL
}

/// Selects attempts' `AttemptFacts` as one JSON text (`facts_of_json`): sqlite hands over
/// one value instead of a row at a time.
pub fn facts_json() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let columns: Vec<&str> = FACTS_PROJECTION.iter().map(|(sql, _)| *sql).collect();
        format!("SELECT json_group_array(json_array({})) FROM attempts", columns.join(", "))
    });
    &SQL
}

pub fn facts_of_json(text: &str) -> Result<Vec<AttemptFacts>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Rollups(e.to_string()))
}

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
            currency: crate::store::price_value(attempt)
                .and_then(|_| crate::store::price_unit(attempt))
                .unwrap_or_default(),
            message_status: text(data.and_then(|d| d.message_status.as_ref())),
            price_micros: price_micros(crate::store::price_value(attempt)),
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
