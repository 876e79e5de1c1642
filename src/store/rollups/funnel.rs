//! The retry funnel of one verification: how many attempts it took, on which channels in
//! turn, at which attempt it converted, the time between its attempts and until it converted.
//! Pure arithmetic over a verification's attempts in the order they were made.

use super::cells::{channel_bit, is_converted};
use super::facts::AttemptFacts;
use crate::model::twilio_time;

/// Attempt numbers are counted 1, 2, and 3 or more.
pub const MAX_ATTEMPT_NUMBER: i64 = 3;
/// Channels of a path, at most; a longer one ends in `PATH_MORE`.
pub const MAX_PATH_STEPS: usize = 3;
pub use crate::page_data::PATH_MORE;
pub const PATH_SEPARATOR: char = '>';

/// Upper bounds (exclusive) of the time buckets, in seconds; the last bucket has none.
pub const TIME_BOUNDS_SECONDS: [i64; 5] = [30, 60, 120, 300, 900];
pub const TIME_BUCKETS: usize = TIME_BOUNDS_SECONDS.len() + 1;

/// The bucket of a duration in seconds (a negative one, from clocks that disagree, is the first).
pub fn time_bucket(seconds: i64) -> usize {
    TIME_BOUNDS_SECONDS.iter().position(|bound| seconds < *bound).unwrap_or(TIME_BOUNDS_SECONDS.len())
}

/// What the funnel counts of one verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunnelFacts {
    /// Its channels in turn, a repeat of the same channel once: `sms>whatsapp`, `sms>whatsapp>call+`.
    pub path: String,
    /// Every channel it used (`channel_bit`s), the path's cut steps included.
    pub channels: i64,
    /// Its attempts, 3 standing for 3 or more.
    pub attempts: i64,
    /// The number of its first converted attempt (3 for the third or later), 0 if none.
    pub converted_at: i64,
    /// Gaps between consecutive attempts per time bucket.
    pub gaps: [i64; TIME_BUCKETS],
    /// From its first attempt to its conversion (the converted attempt's `date_updated`), in
    /// one bucket; all zero if it did not convert.
    pub to_conversion: [i64; TIME_BUCKETS],
}

fn seconds(time: &str) -> Option<i64> {
    twilio_time::parse(time).map(|t| t.timestamp())
}

/// The funnel facts of a verification's attempts, in the order they were made; `None` for none.
pub fn funnel_facts(attempts: &[&AttemptFacts]) -> Option<FunnelFacts> {
    let first = attempts.first()?;
    let mut steps: Vec<&str> = Vec::new();
    for a in attempts {
        if steps.last() != Some(&a.channel.as_str()) {
            steps.push(&a.channel);
        }
    }
    let mut path = steps.iter().take(MAX_PATH_STEPS).copied().collect::<Vec<_>>().join(&PATH_SEPARATOR.to_string());
    if steps.len() > MAX_PATH_STEPS {
        path.push_str(PATH_MORE);
    }
    let mut gaps = [0; TIME_BUCKETS];
    for pair in attempts.windows(2) {
        if let (Some(a), Some(b)) = (seconds(&pair[0].date_created), seconds(&pair[1].date_created)) {
            gaps[time_bucket(b - a)] += 1;
        }
    }
    let converted = attempts.iter().position(|a| is_converted(&a.conversion_status));
    let mut to_conversion = [0; TIME_BUCKETS];
    if let Some(i) = converted
        && let (Some(start), Some(end)) = (seconds(&first.date_created), seconds(&attempts[i].date_updated))
    {
        to_conversion[time_bucket(end - start)] += 1;
    }
    Some(FunnelFacts {
        path,
        channels: attempts.iter().fold(0, |bits, a| bits | channel_bit(&a.channel)),
        attempts: (attempts.len() as i64).min(MAX_ATTEMPT_NUMBER),
        converted_at: converted.map_or(0, |i| (i as i64 + 1).min(MAX_ATTEMPT_NUMBER)),
        gaps,
        to_conversion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(sid: &str, created: &str, updated: &str, channel: &str, status: &str) -> AttemptFacts {
        AttemptFacts {
            sid: sid.into(),
            verification_sid: "VE1".into(),
            date_created: created.into(),
            date_updated: updated.into(),
            country: "CO".into(),
            carrier: "Tigo".into(),
            channel: channel.into(),
            service_sid: "VA1".into(),
            error_code: String::new(),
            conversion_status: status.into(),
            currency: String::new(),
            message_status: String::new(),
            price_micros: 0,
        }
    }

    #[test]
    fn a_fallback_is_a_path_with_its_gaps_and_the_time_to_convert() {
        let a = attempt("VL1", "2026-11-20T10:00:00Z", "2026-11-20T10:00:05Z", "sms", "unconverted");
        let b = attempt("VL2", "2026-11-20T10:00:40Z", "2026-11-20T10:00:41Z", "sms", "unconverted");
        let c = attempt("VL3", "2026-11-20T10:03:00Z", "2026-11-20T10:04:10Z", "whatsapp", "converted");
        let facts = funnel_facts(&[&a, &b, &c]).unwrap();
        assert_eq!(facts.path, "sms>whatsapp", "a repeat of SMS is one step");
        assert_eq!((facts.attempts, facts.converted_at), (3, 3));
        assert_eq!(facts.gaps, [0, 1, 0, 1, 0, 0], "40 s, then 140 s");
        assert_eq!(facts.to_conversion, [0, 0, 0, 1, 0, 0], "250 s from the first send to the code");
    }

    #[test]
    fn long_paths_are_cut_and_attempt_numbers_capped() {
        let channels = ["sms", "whatsapp", "call", "email", "sms"];
        let attempts: Vec<AttemptFacts> = channels
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let time = format!("2026-11-20T1{i}:00:00Z");
                attempt(&format!("VL{i}"), &time, &time, c, if i == 4 { "converted" } else { "unconverted" })
            })
            .collect();
        let refs: Vec<&AttemptFacts> = attempts.iter().collect();
        let facts = funnel_facts(&refs).unwrap();
        assert_eq!(facts.path, "sms>whatsapp>call+");
        assert_eq!(facts.channels, 1 | 2 | 4 | 8, "email, after the cut, is among its channels");
        assert_eq!((facts.attempts, facts.converted_at), (3, 3));
        assert_eq!(facts.gaps, [0, 0, 0, 0, 0, 4], "an hour apart");
        assert_eq!(facts.to_conversion, [0, 0, 0, 0, 0, 1]);
        let single = funnel_facts(&refs[..1]).unwrap();
        assert_eq!((single.path.as_str(), single.attempts, single.converted_at), ("sms", 1, 0));
        assert_eq!((single.gaps, single.to_conversion), ([0; 6], [0; 6]));
        assert_eq!(funnel_facts(&[]), None);
    }

    #[test]
    fn buckets_split_at_their_bounds() {
        assert_eq!(
            [-5, 0, 29, 30, 59, 60, 119, 120, 299, 300, 899, 900, 86_400].map(time_bucket),
            [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
    }
}
