//! What a rule watches, and whether a view's figures meet it: plain functions of figures.

use serde::{Deserialize, Serialize};

use crate::page_data::Money;

/// A rule's condition, on its saved view's filters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The share of verifications that converted is below `percent`.
    ConversionBelow { percent: f64 },
    /// Conversion of verifications fell by at least `points` against the comparable previous
    /// period, and the fall is significant: the page's two-proportion test, its p-value adjusted
    /// by Benjamini–Hochberg across the view's tests at most 0.05.
    ConversionDrop { points: f64 },
    /// The share of finished messages delivered is below `percent`.
    DeliveryBelow { percent: f64 },
    /// Total cost (channel fees + verification fees) in `currency` is above `amount` in the
    /// current UTC hour so far or the hour before it (per hour), or in the last 24 hours.
    SpendAbove { amount: f64, currency: String, per: SpendPer },
    /// The view has an anomaly, as the overview's "Worth a look" finds it.
    Anomaly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendPer {
    Hour,
    Day,
}

impl SpendPer {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendPer::Hour => "hour",
            SpendPer::Day => "day",
        }
    }
}

/// The windows a rule's rates can be read over instead of its view's range, in minutes.
pub const RATE_WINDOWS: [u32; 3] = [5, 15, 60];

/// The kinds of condition, as the rule form names them.
pub const CONDITION_KINDS: [(&str, &str); 5] = [
    ("conversion_below", "Conversion rate below a threshold"),
    ("conversion_drop", "Significant drop against the previous period"),
    ("delivery_below", "Delivery rate below a threshold"),
    ("spend_above", "Spend above an amount per hour or per day"),
    ("anomaly", "Any anomaly (SMS pumping, carrier outage, significant drop)"),
];

impl Condition {
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::ConversionBelow { .. } => "conversion_below",
            Condition::ConversionDrop { .. } => "conversion_drop",
            Condition::DeliveryBelow { .. } => "delivery_below",
            Condition::SpendAbove { .. } => "spend_above",
            Condition::Anomaly => "anomaly",
        }
    }

    /// The condition in words: "Conversion rate below 60%".
    pub fn describe(&self) -> String {
        match self {
            Condition::ConversionBelow { percent } => format!("Conversion rate below {}%", trim(*percent)),
            Condition::ConversionDrop { points } => {
                format!(
                    "Conversion rate down by {} points or more, significantly, against the previous period",
                    trim(*points)
                )
            }
            Condition::DeliveryBelow { percent } => format!("Delivery rate below {}%", trim(*percent)),
            Condition::SpendAbove { amount, currency, per } => {
                let per = if *per == SpendPer::Hour { "in an hour" } else { "in the last 24 hours" };
                format!(
                    "Spend above {} {per}",
                    crate::format::format_money(&Money { currency: currency.clone(), amount: *amount })
                )
            }
            Condition::Anomaly => "Any anomaly: SMS pumping, a carrier outage or a significant drop".to_string(),
        }
    }

    /// The condition from the rule form's fields; an error names the field and what it needs.
    pub fn from_form(kind: &str, threshold: &str, currency: &str, per: &str) -> Result<Condition, String> {
        let number = |what: &str, range: std::ops::RangeInclusive<f64>| -> Result<f64, String> {
            let value: f64 = threshold
                .trim()
                .parse()
                .map_err(|_| format!("The {what} must be a number, not \"{}\".", threshold.trim()))?;
            if !value.is_finite() || !range.contains(&value) {
                return Err(format!("The {what} must be between {} and {}.", range.start(), range.end()));
            }
            Ok(value)
        };
        match kind {
            "conversion_below" => Ok(Condition::ConversionBelow { percent: number("threshold (%)", 0.0..=100.0)? }),
            "conversion_drop" => Ok(Condition::ConversionDrop { points: number("drop (points)", 0.1..=100.0)? }),
            "delivery_below" => Ok(Condition::DeliveryBelow { percent: number("threshold (%)", 0.0..=100.0)? }),
            "spend_above" => {
                let amount = number("amount", 0.0..=1e12)?;
                let currency = currency.trim().to_ascii_uppercase();
                if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err("The currency must be a three-letter code such as USD.".to_string());
                }
                let per = match per {
                    "hour" => SpendPer::Hour,
                    "day" => SpendPer::Day,
                    _ => return Err("Spend is per hour or per day.".to_string()),
                };
                Ok(Condition::SpendAbove { amount, currency, per })
            }
            "anomaly" => Ok(Condition::Anomaly),
            other => Err(format!("\"{other}\" is not a condition verilens knows.")),
        }
    }

    /// The form's threshold field for this condition.
    pub fn threshold_text(&self) -> String {
        match self {
            Condition::ConversionBelow { percent } | Condition::DeliveryBelow { percent } => trim(*percent),
            Condition::ConversionDrop { points } => trim(*points),
            Condition::SpendAbove { amount, .. } => trim(*amount),
            Condition::Anomaly => String::new(),
        }
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What a view's figures say of a condition at one evaluation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub firing: bool,
    /// The figure compared, and what it was compared with, in the condition's unit.
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// `%`, `points`, `anomalies` or a currency code.
    pub unit: String,
    /// The same figure in the previous period, when there is one.
    pub previous: Option<f64>,
    /// The 95% interval of `value`, when it is a rate.
    pub interval: Option<(f64, f64)>,
    pub p_value: Option<f64>,
    pub verifications: u64,
    /// One sentence for a message: what was found.
    pub summary: String,
    /// The anomalies found, for an anomaly rule.
    pub anomalies: Vec<String>,
    /// `[start, end)` the figures cover, ISO 8601 UTC.
    pub window_start: String,
    pub window_end: String,
}
