//! The demo's past: the months before the API's 30-day window, as a deployment that had been
//! syncing all along would hold them. The window's generator makes them, hour by hour, with
//! what a year of a product has: a launch, growth since, a season, and one change a product
//! manager would have annotated.

use chrono::{DateTime, Datelike};

use super::countries::Market;
use super::dataset::{Dataset, Record};

const DAY: i64 = 86_400;

/// Days of history before the window: a little over a year, so that the same dates a year
/// earlier are covered for every range up to a month.
pub const HISTORY_DAYS: i64 = 400;

/// The product's launch, in days before the window: before it, only a beta's traffic.
const LAUNCH_DAYS_BEFORE: i64 = 300;

/// The beta's traffic before the launch, as a share of the window's.
const BETA_VOLUME: f64 = 0.08;

/// Traffic at the launch, as a share of the window's; it grows linearly to 1 since.
const LAUNCH_VOLUME: f64 = 0.35;

/// When the SMS template changed, in days before the window: inside the previous period of
/// the default 30-day view, so that its comparison has something to explain.
const TEMPLATE_DAYS_BEFORE: i64 = 12;

/// The markets whose SMS converted worse with the old template, and by how much.
const OLD_TEMPLATE_MARKETS: [&str; 3] = ["BR", "IN", "ID"];
const OLD_TEMPLATE_SMS_FACTOR: f64 = 0.85;

/// The past before a window that starts at `window_start` (unix seconds, on an hour).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    pub start: i64,
    pub window_start: i64,
    pub launch: i64,
    pub template_change: i64,
}

impl History {
    pub fn before(window_start: i64) -> History {
        History {
            start: window_start - HISTORY_DAYS * DAY,
            window_start,
            launch: window_start - LAUNCH_DAYS_BEFORE * DAY,
            template_change: window_start - TEMPLATE_DAYS_BEFORE * DAY,
        }
    }

    /// Traffic in `hour` as a share of the window's: the beta, then growth from the launch,
    /// with a season that peaks in late December. It is 1 where the window starts, so the
    /// past joins the window without a step.
    pub fn volume(&self, hour: i64) -> f64 {
        let growth = if hour < self.launch {
            BETA_VOLUME
        } else {
            let since_launch = (hour - self.launch) as f64 / (self.window_start - self.launch) as f64;
            LAUNCH_VOLUME + (1.0 - LAUNCH_VOLUME) * since_launch
        };
        growth * season(hour) / season(self.window_start)
    }

    /// What a product manager would have written on the timeline, as (time, text).
    pub fn annotations(&self) -> [(i64, &'static str); 3] {
        [
            (self.start + 14 * DAY, "Beta: phone verification for invited users"),
            (self.launch, "Launch: phone verification at sign-up for everyone"),
            (self.template_change, "New SMS template (code first, shorter) in Brazil, India and Indonesia"),
        ]
    }

    /// The markets as they were: before the template change, SMS converted worse in some.
    fn markets_before_template(markets: &[Market]) -> Vec<Market> {
        let mut old = markets.to_vec();
        for market in old.iter_mut().filter(|m| OLD_TEMPLATE_MARKETS.contains(&m.code)) {
            market.conversion[0] *= OLD_TEMPLATE_SMS_FACTOR;
        }
        old
    }

    /// The attempts of the past's hours in `[from, to)` (unix seconds, on hours, before the
    /// window), ascending by creation time.
    pub fn attempts(&self, dataset: &Dataset, from: i64, to: i64) -> Vec<Record> {
        let old_markets = History::markets_before_template(&dataset.markets);
        let mut records = Vec::new();
        let mut hour = from.max(self.start);
        while hour < to.min(self.window_start) {
            let markets = if hour < self.template_change { &old_markets } else { &dataset.markets };
            records.extend(dataset.generate_past_hour(markets, hour, self.volume(hour)));
            hour += 3600;
        }
        records
    }
}

/// A yearly cycle: 10% above the mean around December 20th, 10% below in June.
fn season(t: i64) -> f64 {
    let day_of_year = DateTime::from_timestamp(t, 0).map_or(0, |d| d.ordinal0()) as f64;
    1.0 + 0.10 * (2.0 * std::f64::consts::PI * (day_of_year - 354.0) / 365.25).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::dataset::DatasetConfig;

    fn dataset() -> Dataset {
        let now = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        Dataset::generate(DatasetConfig { seed: 7, attempts: 60_000, days: 30 }, "AC".into(), now)
    }

    #[test]
    fn the_past_joins_the_window_without_a_step_and_grows_from_the_launch() {
        let data = dataset();
        let history = History::before(data.window_start());
        assert!((history.volume(history.window_start) - 1.0).abs() < 1e-9);
        assert!((history.volume(history.window_start - 3600) - 1.0).abs() < 0.01);
        assert!(history.volume(history.launch - 3600) < 0.1);
        assert!(history.volume(history.launch) > 0.3);
        // Whole weeks, so that weekends weigh the same on both sides.
        let week = 7 * DAY;
        let past_week = history.attempts(&data, history.window_start - week, history.window_start).len() as f64;
        let window_week = data.range(history.window_start, history.window_start + week - 1).len() as f64;
        assert!((past_week / window_week - 1.0).abs() < 0.05, "{past_week} vs {window_week}");
        let beta_week = history.attempts(&data, history.launch - week, history.launch).len() as f64;
        assert!(beta_week < 0.15 * window_week, "{beta_week} vs {window_week}");
    }

    #[test]
    fn the_past_is_the_same_on_every_call_and_never_reaches_into_the_window() {
        let data = dataset();
        let history = History::before(data.window_start());
        let from = history.window_start - 2 * DAY;
        let first = history.attempts(&data, from, history.window_start + DAY);
        let again = history.attempts(&data, from, history.window_start + DAY);
        assert_eq!(first.iter().map(|r| r.sid).collect::<Vec<_>>(), again.iter().map(|r| r.sid).collect::<Vec<_>>());
        assert!(first.iter().all(|r| (from..history.window_start).contains(&r.created)));
        let window: std::collections::HashSet<u128> = data.records.iter().map(|r| r.sid).collect();
        assert!(first.iter().all(|r| !window.contains(&r.sid)));
    }

    #[test]
    fn sms_converted_worse_before_the_template_changed_in_its_markets() {
        let data = dataset();
        let history = History::before(data.window_start());
        let brazil = data.markets.iter().position(|m| m.code == "BR").unwrap() as u8;
        let sms_rate = |from: i64, to: i64| {
            let sms: Vec<Record> = history
                .attempts(&data, from, to)
                .into_iter()
                .filter(|r| r.market == brazil && r.channel == 0)
                .collect();
            sms.iter().filter(|r| r.converted_at.is_some()).count() as f64 / sms.len() as f64
        };
        let change = history.template_change;
        let (before, after) = (sms_rate(change - 10 * DAY, change), sms_rate(change, change + 10 * DAY));
        assert!(after - before > 0.04, "before {before:.3}, after {after:.3}");
    }
}
