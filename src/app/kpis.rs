//! The overview's KPI tiles: each value with the formula that computes it, which its tooltip
//! states in the words of `Metrics`' fields.

use crate::format::{format_count, format_moneys, format_percent, format_ratio};
use crate::page_data::{Metrics, Money};

/// How a tile's figure is read from any period's metrics: for its change against the
/// previous period and its trend line.
#[derive(Clone, Copy, Debug)]
pub enum Measure {
    /// A count; its change is relative.
    Count(fn(&Metrics) -> u64),
    /// A percentage; its change is in points.
    Percent(fn(&Metrics) -> Option<f64>),
    /// A ratio; its change is absolute.
    Ratio(fn(&Metrics) -> Option<f64>),
    /// Money per currency, read in one (none spent in it: zero), `None` where the period
    /// has no figure; its change is relative.
    Money(fn(&Metrics) -> Option<Vec<Money>>),
    /// Read for the whole view only: the spend on verifications that never converted comes
    /// from the raw rows once per view, not per period.
    WholeView,
}

impl Measure {
    /// The figure in `m`, money in `currency`.
    pub fn read(self, m: &Metrics, currency: &str) -> Option<f64> {
        match self {
            Measure::Count(count) => Some(count(m) as f64),
            Measure::Percent(rate) | Measure::Ratio(rate) => rate(m),
            Measure::Money(money) => {
                money(m).map(|amounts| amounts.iter().filter(|a| a.currency == currency).map(|a| a.amount).sum())
            }
            Measure::WholeView => None,
        }
    }

    /// From `then` to `now`, in this measure's terms: `+3.2%`, `-1.4 pts`, `+0.05`.
    pub fn change(self, now: f64, then: f64) -> Option<String> {
        match self {
            Measure::Count(_) | Measure::Money(_) => {
                (then > 0.0).then(|| format!("{:+.1}%", (now - then) * 100.0 / then))
            }
            Measure::Percent(_) => Some(format!("{:+.1} pts", now - then)),
            Measure::Ratio(_) => Some(format!("{:+.2}", now - then)),
            Measure::WholeView => None,
        }
    }
}

/// A trend line's points in a `width` × `height` box, lowest value at the bottom, one
/// polyline per run of known values (a period without a figure breaks the line).
pub fn trend_lines(values: &[Option<f64>], width: f64, height: f64) -> Vec<String> {
    let known = values.iter().flatten();
    let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let step = if values.len() > 1 { width / (values.len() - 1) as f64 } else { 0.0 };
    let y = |v: f64| if high > low { height - (v - low) / (high - low) * height } else { height / 2.0 };
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut open = false;
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) => {
                if !open {
                    lines.push(Vec::new());
                }
                open = true;
                if let Some(line) = lines.last_mut() {
                    line.push(format!("{:.1},{:.1}", i as f64 * step, y(*v)));
                }
            }
            None => open = false,
        }
    }
    lines.into_iter().map(|points| points.join(" ")).collect()
}

/// One tile: what it shows and how it is computed.
#[derive(Clone, Debug)]
pub struct Kpi {
    pub label: &'static str,
    pub testid: &'static str,
    pub value: String,
    /// `numerator ÷ denominator`, or one quantity, named as `quantity` names them.
    pub formula: &'static str,
    /// What else a reader should know.
    pub note: &'static str,
    pub measure: Measure,
}

impl Kpi {
    /// The tooltip: the formula, then the note.
    pub fn help(&self) -> String {
        format!("{} = {}. {}", self.label, self.formula, self.note)
    }
}

/// The tiles of a view's totals, in the order the page shows them.
pub fn kpis(m: &Metrics) -> Vec<Kpi> {
    vec![
        Kpi {
            label: "Attempts",
            testid: "kpi-attempts",
            value: format_count(m.attempts),
            formula: "attempts",
            note: "Every SMS, WhatsApp message, call or email sent.",
            measure: Measure::Count(|m| m.attempts),
        },
        Kpi {
            label: "Verifications",
            testid: "kpi-verifications",
            value: format_count(m.verifications),
            formula: "verifications",
            note: "Distinct verifications: one code requested by a user, with all its attempts.",
            measure: Measure::Count(|m| m.verifications),
        },
        Kpi {
            label: "Attempt conversion rate",
            testid: "kpi-conversion",
            value: format_percent(m.rate_percent()),
            formula: "converted attempts ÷ attempts",
            note: "The share of attempts whose code was entered; the interval is Wilson's at 95%.",
            measure: Measure::Percent(Metrics::rate_percent),
        },
        Kpi {
            label: "Verification conversion rate",
            testid: "kpi-verification-conversion",
            value: format_percent(m.verification_rate_percent()),
            formula: "converted verifications ÷ verifications",
            note: "The share of verifications with an attempt whose code was entered, retries included.",
            measure: Measure::Percent(Metrics::verification_rate_percent),
        },
        Kpi {
            label: "Delivery rate",
            testid: "kpi-delivery",
            value: format_percent(m.delivery_rate_percent()),
            formula: "delivered messages ÷ messages with a final status",
            note: "Delivered or read, over delivered, read, undelivered or failed.",
            measure: Measure::Percent(Metrics::delivery_rate_percent),
        },
        Kpi {
            label: "Total cost",
            testid: "kpi-spend",
            value: format_moneys(&m.total_cost()),
            formula: "channel fees + verification fees",
            note: "Channel fees are the attempts' prices, which settle up to 24 hours after delivery; \
                   verification fees are Verify's fee per successful verification, which those prices leave \
                   out. Per currency, never added across currencies.",
            measure: Measure::Money(|m| Some(m.total_cost())),
        },
        Kpi {
            label: "Spend on verifications that never converted",
            testid: "kpi-unconverted-verification-spend",
            value: format_moneys(&m.unconverted_verification_spend),
            formula: "spend on verifications that never converted",
            note: "The channel fees of verifications none of whose attempts converted: what bought nothing \
                   (they owe no verification fee). An attempt whose verification converted on a retry is not counted.",
            measure: Measure::WholeView,
        },
        Kpi {
            label: "Cost per successful verification",
            testid: "kpi-cost-per-conversion",
            value: format_moneys(&m.cost_per_conversion()),
            formula: "(channel fees + verification fees) ÷ converted verifications",
            note: "Everything the view cost, over the verifications it bought. Per currency.",
            measure: Measure::Money(|m| (m.converted_verifications > 0).then(|| m.cost_per_conversion())),
        },
        Kpi {
            label: "Attempts per verification",
            testid: "kpi-attempts-per-verification",
            value: format_ratio(m.attempts_per_verification()),
            formula: "attempts ÷ verifications",
            note: "Retries and channel fallbacks raise it.",
            measure: Measure::Ratio(Metrics::attempts_per_verification),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page_data::Money;

    /// A quantity a formula names, read from the metrics: a count, or money per currency.
    enum Quantity {
        Count(u64),
        Money(Vec<Money>),
    }

    fn quantity(m: &Metrics, name: &str) -> Quantity {
        match name {
            "attempts" => Quantity::Count(m.attempts),
            "converted attempts" => Quantity::Count(m.converted),
            "verifications" => Quantity::Count(m.verifications),
            "converted verifications" => Quantity::Count(m.converted_verifications),
            "delivered messages" => Quantity::Count(m.delivered),
            "messages with a final status" => Quantity::Count(m.finalized),
            "channel fees" => Quantity::Money(m.spend.clone()),
            "verification fees" => Quantity::Money(m.verification_fees.clone()),
            "spend on verifications that never converted" => Quantity::Money(m.unconverted_verification_spend.clone()),
            other => panic!("a formula names {other:?}, which is no field of the metrics"),
        }
    }

    /// What a tooltip's formula gives, formatted as a tile formats its kind of value.
    fn evaluate(m: &Metrics, kpi: &Kpi) -> String {
        let help = kpi.help();
        let formula = help.split_once(" = ").unwrap().1.split_once(". ").unwrap().0;
        let quantity = |name: &str| match name.trim_start_matches('(').trim_end_matches(')').split_once(" + ") {
            Some((a, b)) => match (quantity(m, a), quantity(m, b)) {
                (Quantity::Money(a), Quantity::Money(b)) => {
                    Quantity::Money(Metrics { spend: a, verification_fees: b, ..Metrics::default() }.total_cost())
                }
                _ => panic!("{name}: only money is added here"),
            },
            None => quantity(m, name),
        };
        match formula.split_once(" ÷ ").map(|(n, d)| (quantity(n), quantity(d))) {
            None => match quantity(formula) {
                Quantity::Count(n) => format_count(n),
                Quantity::Money(money) => format_moneys(&money),
            },
            Some((Quantity::Count(n), Quantity::Count(d))) => {
                let ratio = (d > 0).then(|| n as f64 / d as f64);
                if kpi.value.ends_with('%') { format_percent(ratio.map(|r| r * 100.0)) } else { format_ratio(ratio) }
            }
            Some((Quantity::Money(money), Quantity::Count(d))) => format_moneys(
                &money
                    .iter()
                    .filter(|_| d > 0)
                    .map(|s| Money { currency: s.currency.clone(), amount: s.amount / d as f64 })
                    .collect::<Vec<_>>(),
            ),
            Some(_) => panic!("{formula}: no money is divided by money here"),
        }
    }

    #[test]
    fn trend_lines_span_the_box_and_break_where_a_period_has_no_figure() {
        assert_eq!(trend_lines(&[Some(1.0), Some(3.0), Some(2.0)], 100.0, 20.0), ["0.0,20.0 50.0,0.0 100.0,10.0"]);
        assert_eq!(
            trend_lines(&[Some(5.0), None, Some(5.0), Some(5.0)], 30.0, 20.0),
            ["0.0,10.0", "20.0,10.0 30.0,10.0"],
            "a flat line sits in the middle; a gap splits it"
        );
        assert!(trend_lines(&[None, None], 100.0, 20.0).is_empty());
    }

    #[test]
    fn changes_are_relative_for_counts_and_money_and_in_points_for_rates() {
        let kpi = |testid: &str| kpis(&Metrics::default()).into_iter().find(|k| k.testid == testid).unwrap().measure;
        assert_eq!(kpi("kpi-attempts").change(110.0, 100.0).as_deref(), Some("+10.0%"));
        assert_eq!(kpi("kpi-attempts").change(5.0, 0.0), None, "nothing to be relative to");
        assert_eq!(kpi("kpi-delivery").change(81.5, 84.0).as_deref(), Some("-2.5 pts"));
        assert_eq!(kpi("kpi-attempts-per-verification").change(1.30, 1.25).as_deref(), Some("+0.05"));
        let m = Metrics {
            attempts: 10,
            converted_verifications: 4,
            spend: vec![Money { currency: "USD".into(), amount: 2.0 }, Money { currency: "EUR".into(), amount: 9.0 }],
            ..Metrics::default()
        };
        assert_eq!(m.main_currency(), "EUR");
        assert_eq!(kpi("kpi-cost-per-conversion").read(&m, "USD"), Some(0.5));
        assert_eq!(kpi("kpi-spend").read(&m, "BRL"), Some(0.0), "a period that spent nothing in a currency");
        let unconverted = Metrics { converted_verifications: 0, ..m.clone() };
        assert_eq!(kpi("kpi-cost-per-conversion").read(&unconverted, "USD"), None, "no conversion, no cost per one");
        assert_eq!(kpi("kpi-unconverted-verification-spend").read(&m, "USD"), None);
    }

    #[test]
    fn every_tooltip_states_the_formula_of_the_number_shown() {
        let usd = |amount| Money { currency: "USD".into(), amount };
        let eur = |amount| Money { currency: "EUR".into(), amount };
        let views = [
            Metrics {
                attempts: 4210,
                converted: 2833,
                verifications: 3100,
                converted_verifications: 2790,
                delivered: 3900,
                finalized: 4100,
                spend: vec![usd(433.27), eur(12.5)],
                verification_fees: vec![usd(139.5)],
                unconverted_verification_spend: vec![usd(40.1)],
                ..Metrics::default()
            },
            // Converted attempts and converted verifications far apart: a formula naming the
            // wrong one cannot match.
            Metrics {
                attempts: 90,
                converted: 7,
                verifications: 30,
                converted_verifications: 6,
                delivered: 1,
                finalized: 3,
                spend: vec![usd(17.49)],
                ..Metrics::default()
            },
            Metrics::default(),
        ];
        for m in &views {
            for kpi in kpis(m) {
                assert_eq!(evaluate(m, &kpi), kpi.value, "{}: {}", kpi.label, kpi.help());
            }
        }
        let cost = kpis(&views[1]).into_iter().find(|k| k.testid == "kpi-cost-per-conversion").unwrap();
        assert_eq!(cost.value, "$2.91", "17.49 over 6 converted verifications, not 7 converted attempts ($2.50)");
        let total = kpis(&views[0]).into_iter().find(|k| k.testid == "kpi-spend").unwrap();
        assert_eq!(total.value, "$572.77 + €12.50", "channel fees and verification fees, added per currency only");
        let cost = kpis(&views[0]).into_iter().find(|k| k.testid == "kpi-cost-per-conversion").unwrap();
        assert_eq!(cost.value, "$0.21 + €0.0045", "(433.27 + 139.50) ÷ 2,790");
    }
}
