//! CSV exports of the breakdown table and the attempts list.

use crate::filters::Filters;
use crate::report::{AttemptRow, BreakdownRow};

/// A CSV cell: quoted when needed, and never a formula a spreadsheet would run.
pub fn cell(value: &str) -> String {
    let safe =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
    if safe.contains([',', '"', '\n', '\r']) { format!("\"{}\"", safe.replace('"', "\"\"")) } else { safe }
}

fn line(cells: &[String]) -> String {
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

/// The breakdown table as on screen: the key column named after `by`, then the metrics.
pub fn breakdown_csv(filters: &Filters, rows: &[BreakdownRow]) -> String {
    let mut out = line(
        &[filters.by.as_str(), "attempts", "converted", "conversion_rate", "verifications", "spend", "currency"]
            .map(str::to_string),
    );
    for row in rows {
        let m = &row.metrics;
        let spend = m.spend.iter().map(|s| format!("{:.4}", s.amount)).collect::<Vec<_>>().join(";");
        let currency = m.spend.iter().map(|s| s.currency.clone()).collect::<Vec<_>>().join(";");
        out.push_str(&line(&[
            row.key.clone(),
            m.attempts.to_string(),
            m.converted.to_string(),
            m.rate_percent().map_or_else(String::new, |r| format!("{r:.2}")),
            m.verifications.to_string(),
            spend,
            currency,
        ]));
    }
    out
}

/// The attempts list; `to` is already masked unless the operator turned that off.
pub fn attempts_csv(attempts: &[AttemptRow]) -> String {
    let mut out = line(
        &[
            "sid",
            "date_created",
            "channel",
            "country",
            "carrier",
            "to",
            "conversion_status",
            "message_status",
            "call_status",
            "error_code",
            "price",
            "price_unit",
            "verification_sid",
            "service_sid",
        ]
        .map(str::to_string),
    );
    for a in attempts {
        out.push_str(&line(&[
            a.sid.clone(),
            a.date_created.clone(),
            a.channel.clone(),
            a.country.clone().unwrap_or_default(),
            a.carrier.clone().unwrap_or_default(),
            a.to.clone().unwrap_or_default(),
            a.conversion_status.clone(),
            a.message_status.clone().unwrap_or_default(),
            a.call_status.clone().unwrap_or_default(),
            a.error_code.clone().unwrap_or_default(),
            a.price.map_or_else(String::new, |p| p.to_string()),
            a.price_unit.clone().unwrap_or_default(),
            a.verification_sid.clone(),
            a.service_sid.clone(),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+57300•••3030"), "'+57300•••3030");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
