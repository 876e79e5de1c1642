//! Snapshots made of given attempts, as a complete sync would leave them, and their overview.

use chrono::{DateTime, Utc};
use verilens::analytics::{self, RollupCache};
use verilens::filters::parse_query;
use verilens::model::{Attempt, ConversionStatus, twilio_time};
use verilens::page_data::{Overview, SnapshotStatus};
use verilens::store::{self, Store};

/// Attempt `serial` (its own verification), made at `created` in `country`.
pub fn attempt(serial: u64, created: DateTime<Utc>, country: &str, converted: bool) -> Attempt {
    let mut attempt: Attempt = serde_json::from_str(include_str!("../data/attempt.json")).unwrap();
    attempt.sid = format!("VL{serial:032x}");
    attempt.verification_sid = format!("VE{serial:032x}");
    attempt.date_created = created;
    attempt.date_updated = created;
    attempt.conversion_status = if converted { ConversionStatus::Converted } else { ConversionStatus::Unconverted };
    let data = attempt.channel_data.as_mut().unwrap();
    data.verification_sid = Some(attempt.verification_sid.clone());
    data.country = Some(country.to_string());
    attempt
}

/// `store` (new) made to hold `attempts` (rollups kept as a sync keeps them), with one
/// complete sync run over `[covered_from, synced_to)`.
pub async fn holding(store: &Store, attempts: &[Attempt], covered_from: &str, synced_to: DateTime<Utc>) {
    store.write_attempts(attempts).await.unwrap();
    let end = twilio_time::format(&synced_to);
    let account = attempts.first().map_or("AC00000000000000000000000000000000", |a| a.account_sid.as_str());
    let run = store.start_run(account, &end, (covered_from, &end), false).await.unwrap();
    let total = attempts.len() as u64;
    store.finish_run(run, &end, Ok((total, total))).await.unwrap();
}

/// The overview of `query` at `now`, the snapshot synced up to `now`; the query must be valid.
pub async fn overview(store: &Store, query: &str, now: DateTime<Utc>) -> Overview {
    let snapshot = SnapshotStatus { as_of: Some(twilio_time::format(&now)), ..SnapshotStatus::default() };
    let parsed = parse_query(query);
    assert!(parsed.notices.is_empty(), "{query}: {:?}", parsed.notices);
    let rollups = std::sync::Arc::new(RollupCache::default());
    analytics::overview(store, &store::RawScans::default(), &rollups, parsed, now, snapshot).await.unwrap()
}
