//! The demo's snapshot: before its first sync of the built-in emulator, an empty snapshot gets
//! the months before the API's window, written as an earlier sync would have left them (a
//! complete run, its attempts, indexes and rollups), and the annotations a team would have
//! made. The first page then compares, and year-scale ranges have a year to show.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use crate::annotations::{self, NewAnnotation};
use crate::emulator::Emulator;
use crate::emulator::history::History;
use crate::emulator::render::render_attempt;
use crate::model::twilio_time;
use crate::store::{self, StoreError};

const DAY: i64 = 86_400;

/// The annotations' source: shown as added by a script.
const SOURCE: &str = "api";

fn time(seconds: i64) -> String {
    twilio_time::format(&DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default())
}

/// Writes the demo's past into an empty snapshot: every attempt created before the API's
/// window (and its first hour, which the first sync then fetches again, as a sync's lookback
/// would). Returns the attempts written; nothing when the snapshot holds attempts already.
pub async fn write_history(pool: &SqlitePool, emulator: &Emulator, base_url: &str) -> Result<u64, StoreError> {
    if !store::snapshot_is_empty(pool).await? {
        return Ok(0);
    }
    tracing::info!("writing the demo's history, the months before the API's 30 days, into the snapshot");
    let now = emulator.now();
    let window_start = emulator.dataset.read().expect("dataset lock").window_start();
    let history = History::before(window_start);
    let end = window_start + 3600;
    let account = emulator.dataset.read().expect("dataset lock").account_sid.clone();
    let snapshot = store::Store::Sqlite(pool.clone());
    let run = snapshot.start_run(&account, &time(now), (&time(history.start), &time(end)), true).await?;
    store::advance_hour_horizon(pool, &time(end - store::HOUR_GRAIN_HOURS * 3600)).await?;
    // A page a day, made as it is written.
    let days = (history.start..end).step_by(DAY as usize).map(|day| {
        let to = (day + DAY).min(end);
        let dataset = emulator.dataset.read().expect("dataset lock");
        let in_window = dataset.range(day.max(window_start), to - 1);
        history
            .attempts(&dataset, day, to)
            .iter()
            .chain(&dataset.records[in_window])
            .map(|record| render_attempt(&dataset, record, now, base_url))
            .collect::<Vec<_>>()
    });
    let written = store::bulk_load(pool, Some(run), days).await?;
    snapshot.finish_run(run, &time(now), Ok((written, written))).await?;
    for (at, text) in history.annotations() {
        let note = NewAnnotation {
            at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
            end: None,
            text: text.into(),
            link: None,
        };
        annotations::create(&snapshot, &note, SOURCE, &time(now)).await?;
    }
    Ok(written)
}
