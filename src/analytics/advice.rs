//! What a product manager could change: the channel decision per market, and what fraud cost.
//! Plain functions over figures the rollups give; the raw rows only for a burst's days and
//! prefixes, a few hours of one country.

use std::collections::BTreeMap;

use super::stats::{benjamini_hochberg, two_proportion_p_value, wilson_interval};
use crate::filters::{Dimension, Filters};
use crate::format::{format_count, format_money, format_money_to, format_p_value};
use crate::model::{Channel, channel_label};
use crate::page_data::{ChannelFigures, ChannelRecommendation, Metrics, Money};

/// Fewer verifications than this on a channel in a market: too few to move traffic on.
pub const MIN_VERIFICATIONS: u64 = 200;
/// A channel must convert better by at least this many points at the low end of the
/// difference's 95% interval: a smaller gain is not worth a move, however significant a
/// large market makes it, and a noisy one may be smaller than it looks.
pub const MIN_POINTS: f64 = 5.0;
/// At equal conversion (the difference's 95% interval within this many points), a channel
/// must cost at least this share less per success to be recommended.
pub const EQUAL_WITHIN_POINTS: f64 = 2.0;
pub const CHEAPER_BY: f64 = 0.2;
/// The false discovery rate across the view's comparisons.
pub const FALSE_DISCOVERY_RATE: f64 = 0.05;

/// Channels traffic can move between: a phone number's (email needs an address).
const MOVABLE: [Channel; 4] = [Channel::Sms, Channel::Whatsapp, Channel::Call, Channel::Rbm];

/// A market's channel in one currency: `None` when its money is in several.
fn figures(channel: &str, m: &Metrics) -> Option<(String, ChannelFigures)> {
    let total = m.total_cost();
    let currency = match total.as_slice() {
        [] => String::new(),
        [only] => only.currency.clone(),
        _ => return None,
    };
    let total_cost = total.first().map_or(0.0, |t| t.amount);
    Some((
        currency,
        ChannelFigures {
            channel: channel.to_string(),
            verifications: m.verifications,
            converted_verifications: m.converted_verifications,
            interval: wilson_interval(m.converted_verifications, m.verifications).map(|(l, h)| (l * 100.0, h * 100.0)),
            delivery_rate: m.delivery_rate_percent(),
            total_cost,
            cost_per_success: (m.converted_verifications > 0).then(|| total_cost / m.converted_verifications as f64),
        },
    ))
}

/// Why one channel beats another in a market, before the false discovery control.
struct Candidate {
    country: String,
    currency: String,
    better: ChannelFigures,
    worse: ChannelFigures,
    p_value: f64,
    /// Converts better (else: costs less at equal conversion).
    converts_better: bool,
}

/// The 95% interval of a difference of two proportions (better − worse), in points.
fn difference_interval(better: &ChannelFigures, worse: &ChannelFigures) -> Option<(f64, f64)> {
    let (p1, p2) = (better.rate_percent()? / 100.0, worse.rate_percent()? / 100.0);
    let (n1, n2) = (better.verifications as f64, worse.verifications as f64);
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let d = p1 - p2;
    Some(((d - 1.959_964 * se) * 100.0, (d + 1.959_964 * se) * 100.0))
}

/// The channel moves a view's figures per market and channel support (`by_country_channel`,
/// keyed `country␟channel`), best first by money saved; `evidence` is the link to a market's
/// channels.
pub fn channel_decisions(
    by_country_channel: &BTreeMap<String, Metrics>,
    evidence: impl Fn(&str) -> String,
) -> Vec<ChannelRecommendation> {
    let mut markets: BTreeMap<&str, Vec<(String, ChannelFigures)>> = BTreeMap::new();
    for (key, m) in by_country_channel {
        let Some((country, channel)) = key.split_once(super::rollup_index::PAIR_SEPARATOR) else { continue };
        let movable = MOVABLE.iter().any(|c| c.as_str() == channel);
        if country.is_empty() || !movable || m.verifications < MIN_VERIFICATIONS {
            continue;
        }
        if let Some(f) = figures(channel, m) {
            markets.entry(country).or_default().push(f);
        }
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    for (country, channels) in &markets {
        for (worse_currency, worse) in channels {
            for (better_currency, better) in channels {
                if better.channel == worse.channel || better_currency != worse_currency {
                    continue;
                }
                let (Some(rate_better), Some(rate_worse)) = (better.rate_percent(), worse.rate_percent()) else {
                    continue;
                };
                let (Some(cost_better), Some(cost_worse)) = (better.cost_per_success, worse.cost_per_success) else {
                    continue;
                };
                let Some((low, high)) = difference_interval(better, worse) else { continue };
                let converts_better = rate_better > rate_worse && low >= MIN_POINTS && cost_better <= cost_worse;
                let equal_and_cheaper = low >= -EQUAL_WITHIN_POINTS
                    && high <= EQUAL_WITHIN_POINTS
                    && cost_better <= cost_worse * (1.0 - CHEAPER_BY);
                if !(converts_better || equal_and_cheaper) {
                    continue;
                }
                let Some(p_value) = two_proportion_p_value(
                    better.converted_verifications,
                    better.verifications,
                    worse.converted_verifications,
                    worse.verifications,
                ) else {
                    continue;
                };
                candidates.push(Candidate {
                    country: country.to_string(),
                    currency: worse_currency.clone(),
                    better: better.clone(),
                    worse: worse.clone(),
                    p_value,
                    converts_better,
                });
            }
        }
    }
    // Every comparison made counts towards the false discovery control, found or not: those
    // of every pair of channels in every market.
    let tests: usize = markets.values().map(|c| c.len() * c.len().saturating_sub(1) / 2).sum();
    let mut p_values: Vec<f64> = candidates.iter().map(|c| c.p_value).collect();
    p_values.resize(tests.max(p_values.len()), 1.0);
    let adjusted = benjamini_hochberg(&p_values);
    let mut found: BTreeMap<(String, String), ChannelRecommendation> = BTreeMap::new();
    for (candidate, adjusted) in candidates.into_iter().zip(adjusted) {
        // A move for better conversion needs a discovery; one at equal conversion needs the
        // difference's interval inside the margin, which the candidate already has.
        if candidate.converts_better && adjusted > FALSE_DISCOVERY_RATE {
            continue;
        }
        let recommendation = recommend(candidate, adjusted, &evidence);
        let key = (recommendation.country.clone(), recommendation.worse.channel.clone());
        // One move per market and channel: to the channel that saves the most.
        match found.get(&key) {
            Some(kept) if kept.saved >= recommendation.saved => {}
            _ => {
                found.insert(key, recommendation);
            }
        }
    }
    let mut out: Vec<ChannelRecommendation> = found.into_values().collect();
    out.sort_by(|a, b| b.saved.total_cmp(&a.saved).then(b.gained_verifications.total_cmp(&a.gained_verifications)));
    out
}

fn money(currency: &str, amount: f64) -> String {
    format_money(&Money { currency: currency.to_string(), amount })
}

/// A unit cost with the decimals its arithmetic needs (`$0.0651`), so that the products
/// shown give the results shown.
fn unit_cost(currency: &str, amount: f64) -> String {
    format_money_to(&Money { currency: currency.to_string(), amount }, 4)
}

fn recommend(c: Candidate, adjusted: f64, evidence: &impl Fn(&str) -> String) -> ChannelRecommendation {
    let (better, worse) = (&c.better, &c.worse);
    let rate_better = better.rate_percent().unwrap_or(0.0);
    let rate_worse = worse.rate_percent().unwrap_or(0.0);
    let gained = worse.verifications as f64 * (rate_better - rate_worse) / 100.0;
    let per_verification = better.cost_per_verification().unwrap_or(0.0);
    let saved = worse.total_cost - worse.verifications as f64 * per_verification;
    let (b, w) = (channel_label(&better.channel), channel_label(&worse.channel));
    let per_success = |f: &ChannelFigures| money(&c.currency, f.cost_per_success.unwrap_or(0.0));
    let outcome = if saved >= 0.0 {
        format!("saved {}", money(&c.currency, saved))
    } else {
        format!("cost {} more", money(&c.currency, -saved))
    };
    let gain = if gained >= 0.5 {
        format!("gained about {} verifications and ", format_count(gained.round() as u64))
    } else {
        String::new()
    };
    let verdict = if c.converts_better {
        format!(
            "{b} converts {rate_better:.0}% of verifications vs {w} {rate_worse:.0}% ({})",
            format_p_value(c.p_value)
        )
    } else {
        format!("{b} converts as well as {w} ({rate_better:.0}% vs {rate_worse:.0}%)")
    };
    let summary = format!(
        "{}: {verdict} at {} vs {} per success; moving {w} traffic would have {gain}{outcome} over this period.",
        c.country,
        per_success(better),
        per_success(worse),
    );
    let describe = |label: &str, f: &ChannelFigures| {
        format!(
            "{label}: {} verifications, {} converted ({:.1}%), {} in fees ({} per verification, {} per success).",
            format_count(f.verifications),
            format_count(f.converted_verifications),
            f.rate_percent().unwrap_or(0.0),
            money(&c.currency, f.total_cost),
            unit_cost(&c.currency, f.cost_per_verification().unwrap_or(0.0)),
            per_success(f),
        )
    };
    let arithmetic = vec![
        describe(&w, worse),
        describe(&b, better),
        format!(
            "Gained: {} × ({rate_better:.1}% − {rate_worse:.1}%) = {gained:.0} verifications.",
            format_count(worse.verifications)
        ),
        format!(
            "Saved: {} − {} × {} = {}.",
            money(&c.currency, worse.total_cost),
            format_count(worse.verifications),
            unit_cost(&c.currency, per_verification),
            money(&c.currency, saved),
        ),
        format!(
            "Assumes that the users {w} reached would convert on {b} at {b}'s rate in {} and cost what \
             {b}'s verifications cost on average (channel fees and the fee per success); a verification that \
             used both channels counts for both. The test: two proportions of verifications, p = {:.2e}, \
             {:.2e} after the false discovery control across this view's comparisons.",
            c.country, c.p_value, adjusted,
        ),
    ];
    ChannelRecommendation {
        href: evidence(&c.country),
        country: c.country,
        currency: c.currency,
        better: c.better,
        worse: c.worse,
        p_value: c.p_value,
        adjusted_p_value: adjusted,
        gained_verifications: gained,
        saved,
        summary,
        arithmetic,
    }
}

/// Says so when an SMS-pumping burst in the market falls in the view: its unconverted SMS
/// lower SMS's rate and raise its cost, which the user's own traffic did not do.
pub fn mention_bursts(r: &mut ChannelRecommendation, bursts: &[&super::anomalies::Incident]) {
    let sms = [&r.better.channel, &r.worse.channel].iter().any(|c| c.as_str() == Channel::Sms.as_str());
    let overlapping: Vec<String> = bursts
        .iter()
        .filter(|b| b.anomaly.kind == "sms-pumping" && b.country == r.country && sms)
        .map(|b| b.anomaly.detail.clone())
        .collect();
    if !overlapping.is_empty() {
        r.summary.push_str(" SMS includes an SMS-pumping burst: stopping the fraud comes first.");
        r.arithmetic.push(format!(
            "SMS's figures include the SMS-pumping burst{} of this view ({}): unconverted SMS that no user asked for, \
             which lower SMS's rate and raise its cost. Block the burst's numbers first; without it SMS converts better \
             than shown here.",
            if overlapping.len() > 1 { "s" } else { "" },
            overlapping.join("; ")
        ));
    }
}

/// The view a market's channel decision rests on: the market by channel, over the view's
/// range and its other filters but channel and status.
pub fn evidence_view(filters: &Filters, country: &str) -> Filters {
    let mut f = filters.clone();
    f.countries = vec![country.to_string()];
    f.channels.clear();
    f.status = None;
    f.by = Dimension::Channel;
    (f.sort, f.descending) = Dimension::Channel.default_order();
    f.page = None;
    f
}

/// Twilio's error codes for attempts it blocked as fraud: Fraud Guard, SMS Pumping
/// Protection, Geo Permissions.
pub const BLOCKING_ERRORS: [&str; 4] = ["30450", "30453", "60410", "60605"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::rollup_index::PAIR_SEPARATOR;

    fn market(rows: &[(&str, &str, u64, u64, f64)]) -> BTreeMap<String, Metrics> {
        rows.iter()
            .map(|(country, channel, verifications, converted, fees)| {
                let m = Metrics {
                    verifications: *verifications,
                    converted_verifications: *converted,
                    spend: vec![Money { currency: "USD".into(), amount: *fees }],
                    ..Metrics::default()
                };
                (format!("{country}{PAIR_SEPARATOR}{channel}"), m)
            })
            .collect()
    }

    #[test]
    fn a_channel_converting_far_better_for_less_is_recommended_with_its_arithmetic() {
        let rows = market(&[("CO", "sms", 4000, 2680, 290.0), ("CO", "whatsapp", 6000, 5160, 130.0)]);
        let found = channel_decisions(&rows, |c| format!("/?country={c}&by=channel"));
        assert_eq!(found.len(), 1, "{found:?}");
        let r = &found[0];
        assert_eq!((r.better.channel.as_str(), r.worse.channel.as_str()), ("whatsapp", "sms"));
        // 4,000 × (86% − 67%) = 760; 290 − 4,000 × 130/6,000 = 203.33.
        assert!((r.gained_verifications - 760.0).abs() < 1e-6, "{}", r.gained_verifications);
        assert!((r.saved - (290.0 - 4000.0 * 130.0 / 6000.0)).abs() < 1e-9, "{}", r.saved);
        assert!(r.adjusted_p_value < 0.001);
        assert_eq!(
            r.summary,
            "CO: WhatsApp converts 86% of verifications vs SMS 67% (p < 0.001) at $0.03 vs $0.11 per success; \
             moving SMS traffic would have gained about 760 verifications and saved $203.33 over this period."
        );
        assert!(
            r.arithmetic.iter().any(|l| l.starts_with("Gained: 4,000 × (86.0% − 67.0%) = 760")),
            "{:?}",
            r.arithmetic
        );
        assert_eq!(r.href, "/?country=CO&by=channel");
    }

    #[test]
    fn alike_channels_small_markets_and_dearer_winners_are_not_recommended() {
        // 2 points apart: significant at this size, but below the smallest difference worth a move.
        let alike = market(&[("GB", "sms", 50_000, 42_000, 2000.0), ("GB", "whatsapp", 50_000, 41_000, 1500.0)]);
        assert!(channel_decisions(&alike, |_| String::new()).is_empty());
        let noisy = market(&[("NG", "sms", 150, 60, 40.0), ("NG", "whatsapp", 150, 105, 5.0)]);
        assert!(channel_decisions(&noisy, |_| String::new()).is_empty(), "under the minimum volume");
        let dearer = market(&[("DE", "sms", 5000, 3000, 100.0), ("DE", "call", 5000, 4000, 900.0)]);
        assert!(channel_decisions(&dearer, |_| String::new()).is_empty(), "converts better but costs more per success");
        let unsure = market(&[("TR", "sms", 300, 180, 10.0), ("TR", "whatsapp", 300, 198, 10.0)]);
        assert!(channel_decisions(&unsure, |_| String::new()).is_empty(), "6 points on 300 is no discovery");
    }

    #[test]
    fn at_equal_conversion_a_much_cheaper_channel_is_recommended() {
        let rows = market(&[("ES", "sms", 40_000, 32_000, 4000.0), ("ES", "whatsapp", 40_000, 32_100, 1500.0)]);
        let found = channel_decisions(&rows, |_| String::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].summary.starts_with("ES: WhatsApp converts as well as SMS (80% vs 80%)"),
            "{}",
            found[0].summary
        );
    }
}
