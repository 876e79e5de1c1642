//! The overview's KPI tiles: each value with the formula that computes it, which its tooltip
//! states in the words of `Metrics`' fields.

use crate::format::{format_count, format_moneys, format_percent, format_ratio};
use crate::page_data::Metrics;

/// One tile: what it shows and how it is computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Kpi {
    pub label: &'static str,
    pub testid: &'static str,
    pub value: String,
    /// `numerator ÷ denominator`, or one quantity, named as `quantity` names them.
    pub formula: &'static str,
    /// What else a reader should know.
    pub note: &'static str,
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
        },
        Kpi {
            label: "Verifications",
            testid: "kpi-verifications",
            value: format_count(m.verifications),
            formula: "verifications",
            note: "Distinct verifications: one code requested by a user, with all its attempts.",
        },
        Kpi {
            label: "Attempt conversion rate",
            testid: "kpi-conversion",
            value: format_percent(m.rate_percent()),
            formula: "converted attempts ÷ attempts",
            note: "The share of attempts whose code was entered; the interval is Wilson's at 95%.",
        },
        Kpi {
            label: "Verification conversion rate",
            testid: "kpi-verification-conversion",
            value: format_percent(m.verification_rate_percent()),
            formula: "converted verifications ÷ verifications",
            note: "The share of verifications with an attempt whose code was entered, retries included.",
        },
        Kpi {
            label: "Delivery rate",
            testid: "kpi-delivery",
            value: format_percent(m.delivery_rate_percent()),
            formula: "delivered messages ÷ messages with a final status",
            note: "Delivered or read, over delivered, read, undelivered or failed.",
        },
        Kpi {
            label: "Spend",
            testid: "kpi-spend",
            value: format_moneys(&m.spend),
            formula: "spend",
            note: "The attempts' prices summed per currency; prices may settle up to 24 hours after delivery.",
        },
        Kpi {
            label: "Spend on verifications that never converted",
            testid: "kpi-unconverted-verification-spend",
            value: format_moneys(&m.unconverted_verification_spend),
            formula: "spend on verifications that never converted",
            note: "The attempts of verifications none of whose attempts converted: what bought nothing. \
                   An attempt whose verification converted on a retry is not counted.",
        },
        Kpi {
            label: "Cost per converted verification",
            testid: "kpi-cost-per-conversion",
            value: format_moneys(&m.cost_per_conversion()),
            formula: "spend ÷ converted verifications",
            note: "Per currency.",
        },
        Kpi {
            label: "Attempts per verification",
            testid: "kpi-attempts-per-verification",
            value: format_ratio(m.attempts_per_verification()),
            formula: "attempts ÷ verifications",
            note: "Retries and channel fallbacks raise it.",
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
            "spend" => Quantity::Money(m.spend.clone()),
            "spend on verifications that never converted" => Quantity::Money(m.unconverted_verification_spend.clone()),
            other => panic!("a formula names {other:?}, which is no field of the metrics"),
        }
    }

    /// What a tooltip's formula gives, formatted as a tile formats its kind of value.
    fn evaluate(m: &Metrics, kpi: &Kpi) -> String {
        let help = kpi.help();
        let formula = help.split_once(" = ").unwrap().1.split_once(". ").unwrap().0;
        match formula.split_once(" ÷ ").map(|(n, d)| (quantity(m, n), quantity(m, d))) {
            None => match quantity(m, formula) {
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
        assert_eq!(cost.help(), "Cost per converted verification = spend ÷ converted verifications. Per currency.");
    }
}
