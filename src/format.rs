//! Numbers as the pages and exports write them: counts with separators, rates, money, plurals.

use crate::page_data::Money;

/// `12.3%` with one decimal, or an en dash when there is nothing to divide.
pub fn format_percent(rate: Option<f64>) -> String {
    rate.map_or_else(
        || "–".to_string(),
        |r| {
            // Halves round up (81.25 → 81.3), as people and spreadsheets do; `{:.1}` alone rounds them to even.
            let tenths = r * 10.0;
            let r = if tenths.fract().abs() == 0.5 { (tenths + 0.5 * tenths.signum()).trunc() / 10.0 } else { r };
            format!("{r:.1}%")
        },
    )
}

/// Thousands separated by commas: `1,234,567`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `$1,234.57` for USD, `€12.00` for EUR, `12.00 BRL` otherwise: two decimals, except an
/// amount under a cent, which keeps up to four so that it does not read as zero (`$0.0079`).
pub fn format_money(money: &Money) -> String {
    let decimals = if money.amount != 0.0 && money.amount.abs() < 0.01 { 4 } else { 2 };
    format_money_to(money, decimals)
}

/// Money with `decimals` places: `$0.0651` where a unit cost is multiplied in a shown sum.
pub fn format_money_to(money: &Money, decimals: usize) -> String {
    let rounded = format!("{:.*}", decimals, money.amount.abs());
    let (whole, fraction) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let number = format!("{}.{fraction}", format_count(whole.parse().unwrap_or(0)));
    let sign = if money.amount < 0.0 { "-" } else { "" };
    match money.currency.as_str() {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        other => format!("{sign}{number} {other}"),
    }
}

/// A ratio with two decimals (`1.35`), or an en dash when there is nothing to divide.
pub fn format_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_string(), |r| format!("{r:.2}"))
}

/// `1 hour`, `3 hours`.
pub fn plural(n: u64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{} {unit}s", format_count(n)) }
}

/// `p = 0.012`, or `p < 0.001` for what three decimals would show as zero.
pub fn format_p_value(p: f64) -> String {
    if p < 0.001 { "p < 0.001".to_string() } else { format!("p = {p:.3}") }
}

/// Several currencies side by side: `$12.00 + €3.00`; an en dash for none.
pub fn format_moneys(moneys: &[Money]) -> String {
    if moneys.is_empty() {
        return "–".to_string();
    }
    moneys.iter().map(format_money).collect::<Vec<_>>().join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_human_wrote_them() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_percent(Some(81.818)), "81.8%");
        assert_eq!(format_percent(None), "–");
        assert_eq!(format_money(&Money { currency: "USD".into(), amount: 1234.567 }), "$1,234.57");
        assert_eq!(format_money(&Money { currency: "USD".into(), amount: 0.0079 }), "$0.0079");
        assert_eq!(
            format_money(&Money { currency: "USD".into(), amount: 5.7 }),
            "$5.70",
            "as many decimals as $793.68"
        );
        assert_eq!(format_money(&Money { currency: "USD".into(), amount: 0.05 }), "$0.05");
        assert_eq!(format_money(&Money { currency: "USD".into(), amount: 0.0 }), "$0.00");
        assert_eq!(format_money(&Money { currency: "EUR".into(), amount: -2.5 }), "-€2.50");
        assert_eq!(format_ratio(Some(1.3456)), "1.35");
        assert_eq!(format_ratio(None), "–");
        assert_eq!(plural(1, "hour"), "1 hour");
        assert_eq!(plural(3, "hour"), "3 hours");
        assert_eq!(plural(1200, "day"), "1,200 days");
        assert_eq!(format_p_value(0.0001), "p < 0.001");
        assert_eq!(format_p_value(0.0), "p < 0.001");
        assert_eq!(format_p_value(0.0123), "p = 0.012");
        assert_eq!(format_money(&Money { currency: "BRL".into(), amount: 12.0 }), "12.00 BRL");
        assert_eq!(format_moneys(&[]), "–");
    }
}
