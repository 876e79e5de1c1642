//! CSV exports of the breakdown table and the attempts list.

use crate::filters::{Dimension, Filters};
use crate::model::FriendlyNames;
use crate::page_data::{AttemptRow, BreakdownRow, RetryFunnel, TIME_BUCKET_LABELS, WhatToDo};

/// A CSV cell: quoted when needed, and never a formula a spreadsheet would run.
pub fn cell(value: &str) -> String {
    let safe =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
    if safe.contains([',', '"', '\n', '\r']) { format!("\"{}\"", safe.replace('"', "\"\"")) } else { safe }
}

/// An amount of money as the CSVs write it, to the millionth. An empty sum of `f64` is -0.0,
/// which would read `-0.000000`: it is 0.
fn amount_cell(amount: f64) -> String {
    format!("{:.6}", amount + 0.0)
}

fn line(cells: &[String]) -> String {
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

/// The breakdown table as on screen: the key column named after `by` (and, by country,
/// service or account, its name), then the metrics.
pub fn breakdown_csv(filters: &Filters, rows: &[BreakdownRow], names: &FriendlyNames) -> String {
    let mut header = vec![filters.by.as_str().to_string()];
    if matches!(filters.by, Dimension::Service | Dimension::Account | Dimension::Country) {
        header.push(format!("{}_name", filters.by.as_str()));
    }
    header.extend(
        [
            "attempts",
            "converted_attempts",
            "attempt_conversion_rate",
            "verifications",
            "verification_conversion_rate",
            "delivery_rate",
            "currency",
            "channel_fees",
            "verification_fees",
            "total_cost",
            "cost_per_successful_verification",
            "spend_on_verifications_never_converted",
            "unpriced_attempts",
        ]
        .map(str::to_string),
    );
    let mut out = line(&header);
    for row in rows {
        let m = &row.metrics;
        let total = m.total_cost();
        let mut currencies: Vec<&str> = total.iter().map(|t| t.currency.as_str()).collect();
        currencies.sort_unstable();
        // Amounts per currency, in the order of the currency column, `;` between them: two
        // currencies are never added.
        let amounts = |money: &[crate::page_data::Money]| {
            currencies
                .iter()
                .map(|c| amount_cell(money.iter().filter(|m| m.currency == *c).map(|m| m.amount).sum::<f64>()))
                .collect::<Vec<_>>()
                .join(";")
        };
        let mut cells = vec![row.key.clone()];
        match filters.by {
            Dimension::Service | Dimension::Account => cells.push(names.0.get(&row.key).cloned().unwrap_or_default()),
            Dimension::Country => cells.push(crate::model::country_name(&row.key).unwrap_or_default().to_string()),
            _ => {}
        }
        cells.extend([
            m.attempts.to_string(),
            m.converted.to_string(),
            m.rate_percent().map_or_else(String::new, |r| format!("{r:.2}")),
            m.verifications.to_string(),
            m.verification_rate_percent().map_or_else(String::new, |r| format!("{r:.2}")),
            m.delivery_rate_percent().map_or_else(String::new, |r| format!("{r:.2}")),
            currencies.join(";"),
            amounts(&m.spend),
            amounts(&m.verification_fees),
            amounts(&total),
            if m.converted_verifications > 0 { amounts(&m.cost_per_conversion()) } else { String::new() },
            amounts(&m.unconverted_verification_spend),
            m.unpriced_attempts.to_string(),
        ]);
        out.push_str(&line(&cells));
    }
    out
}

/// The overview's "What to do": a line per channel move, per burst's day, and per code of
/// blocked traffic, with the figures the page shows.
pub fn what_to_do_csv(what: &WhatToDo) -> String {
    let mut out = line(
        &[
            "kind",
            "country",
            "channel",
            "instead_of",
            "day",
            "verifications",
            "converted_verifications",
            "conversion_rate",
            "instead_of_verifications",
            "instead_of_converted_verifications",
            "instead_of_conversion_rate",
            "cost_per_success",
            "instead_of_cost_per_success",
            "p_value",
            "adjusted_p_value",
            "gained_verifications",
            "saved",
            "attempts",
            "channel_fees",
            "currency",
            "prefixes",
            "summary",
        ]
        .map(str::to_string),
    );
    let number = |v: Option<f64>, decimals: usize| v.map_or_else(String::new, |v| format!("{v:.decimals$}"));
    for r in &what.recommendations {
        out.push_str(&line(&[
            "channel-move".into(),
            r.country.clone(),
            r.better.channel.clone(),
            r.worse.channel.clone(),
            String::new(),
            r.better.verifications.to_string(),
            r.better.converted_verifications.to_string(),
            number(r.better.rate_percent(), 2),
            r.worse.verifications.to_string(),
            r.worse.converted_verifications.to_string(),
            number(r.worse.rate_percent(), 2),
            number(r.better.cost_per_success, 6),
            number(r.worse.cost_per_success, 6),
            format!("{:e}", r.p_value),
            format!("{:e}", r.adjusted_p_value),
            format!("{:.1}", r.gained_verifications),
            amount_cell(r.saved),
            String::new(),
            String::new(),
            r.currency.clone(),
            String::new(),
            r.summary.clone(),
        ]));
    }
    for f in &what.fraud {
        let prefixes = f.prefixes.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(" ");
        for (day, attempts, fees) in &f.days {
            let currencies = fees.iter().map(|m| m.currency.as_str()).collect::<Vec<_>>().join(";");
            let amounts = fees.iter().map(|m| amount_cell(m.amount)).collect::<Vec<_>>().join(";");
            let mut cells =
                vec!["sms-pumping".to_string(), f.country.clone(), "sms".into(), String::new(), day.clone()];
            cells.extend(std::iter::repeat_n(String::new(), 12));
            cells.extend([attempts.to_string(), amounts, currencies, prefixes.clone(), String::new()]);
            out.push_str(&line(&cells));
        }
    }
    for (code, attempts) in &what.blocked.by_code {
        let mut cells = vec![format!("blocked-{code}")];
        cells.extend(std::iter::repeat_n(String::new(), 16));
        cells.extend([attempts.to_string(), String::new(), String::new(), String::new(), String::new()]);
        out.push_str(&line(&cells));
    }
    out
}

/// The retry funnel as on screen, one table after another: by attempt (verifications that
/// reached it, converted at it), by path, and the two distributions of time.
pub fn funnel_csv(funnel: &RetryFunnel) -> String {
    let mut out = line(&["table", "key", "verifications", "converted", "rate"].map(str::to_string));
    let rate = |n: u64, of: u64| if of > 0 { format!("{:.2}", n as f64 * 100.0 / of as f64) } else { String::new() };
    for s in &funnel.steps {
        out.push_str(&line(&[
            "attempt".into(),
            s.label.clone(),
            s.reached.to_string(),
            s.converted.to_string(),
            rate(s.converted, s.reached),
        ]));
    }
    for p in &funnel.paths {
        out.push_str(&line(&[
            "path".into(),
            p.path.clone(),
            p.verifications.to_string(),
            p.converted.to_string(),
            rate(p.converted, p.verifications),
        ]));
    }
    for (table, counts) in [("time_between_attempts", &funnel.gaps), ("time_to_conversion", &funnel.to_conversion)] {
        let total: u64 = counts.iter().sum();
        for (label, n) in TIME_BUCKET_LABELS.iter().zip(counts.iter()) {
            out.push_str(&line(&[table.into(), label.to_string(), n.to_string(), String::new(), rate(*n, total)]));
        }
    }
    out
}

/// Attempts per chunk of a streamed attempts CSV: the most rows an export holds as text.
pub const ROWS_PER_CHUNK: usize = 1024;

/// The attempts CSV, encoded a chunk of `ROWS_PER_CHUNK` rows at a time, so that an export
/// of millions of rows holds no more than one chunk; `to` is already masked unless the
/// operator turned that off.
pub struct AttemptsCsv {
    text: String,
    rows: usize,
    services: FriendlyNames,
}

impl Default for AttemptsCsv {
    fn default() -> Self {
        AttemptsCsv::new(FriendlyNames::default())
    }
}

impl AttemptsCsv {
    /// An export whose `service_name` column reads `services`.
    pub fn new(services: FriendlyNames) -> Self {
        AttemptsCsv { text: attempts_header(), rows: 0, services }
    }

    /// Adds a row; returns the chunk's text when it holds `ROWS_PER_CHUNK` rows (the first
    /// chunk begins with the header).
    pub fn push(&mut self, attempt: &AttemptRow) -> Option<String> {
        self.text.push_str(&attempt_line(attempt, &self.services));
        self.rows += 1;
        (self.rows == ROWS_PER_CHUNK).then(|| self.take())
    }

    /// The rows not yet returned in a chunk.
    pub fn pending_rows(&self) -> usize {
        self.rows
    }

    /// The last chunk: the rows since the last full one (the header alone for no rows).
    pub fn finish(mut self) -> String {
        self.take()
    }

    fn take(&mut self) -> String {
        self.rows = 0;
        std::mem::take(&mut self.text)
    }
}

fn attempts_header() -> String {
    line(
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
            "service_name",
            "account_sid",
            "account_name",
        ]
        .map(str::to_string),
    )
}

fn attempt_line(a: &AttemptRow, services: &FriendlyNames) -> String {
    line(&[
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
        services.0.get(&a.service_sid).cloned().unwrap_or_default(),
        a.account_sid.clone(),
        services.0.get(&a.account_sid).cloned().unwrap_or_default(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_in_no_currency_of_the_row_is_zero_not_minus_zero() {
        use crate::page_data::{BreakdownRow, Metrics, Money};
        let usd = |amount: f64| vec![Money { currency: "USD".into(), amount }];
        // Verify's fees in USD, no channel fees: the channel fees' USD sum is empty.
        let row = BreakdownRow {
            key: "email".into(),
            metrics: Metrics {
                attempts: 2,
                converted: 1,
                verifications: 1,
                converted_verifications: 1,
                verification_fees: usd(0.05),
                ..Metrics::default()
            },
        };
        let filters = crate::filters::parse_query("by=channel").filters;
        let csv = breakdown_csv(&filters, &[row], &FriendlyNames::default());
        let line = csv.lines().nth(1).expect("a row");
        assert!(line.contains(",USD,0.000000,0.050000,0.050000,"), "{line}");
        assert!(!line.contains("-0.0"), "{line}");
    }

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

    fn attempt(n: usize) -> AttemptRow {
        AttemptRow {
            sid: format!("VL{n:032}"),
            verification_sid: format!("VE{n:032}"),
            service_sid: "VA00000000000000000000000000000000".into(),
            account_sid: "AC00000000000000000000000000000000".into(),
            date_created: "2026-11-20T10:00:00Z".into(),
            date_updated: "2026-11-20T10:00:00Z".into(),
            conversion_status: "converted".into(),
            channel: "sms".into(),
            to: Some("+57••••••••30".into()),
            country: Some("CO".into()),
            carrier: Some("=Tigo".into()),
            message_status: None,
            call_status: None,
            error_code: None,
            price: Some(0.05),
            price_unit: Some("USD".into()),
        }
    }

    #[test]
    fn the_attempts_csv_holds_one_chunk_at_most_whatever_the_rows() {
        let total = 5 * ROWS_PER_CHUNK + 7;
        let mut csv = AttemptsCsv::default();
        let mut chunks = Vec::new();
        for n in 0..total {
            chunks.extend(csv.push(&attempt(n)));
            assert!(csv.pending_rows() < ROWS_PER_CHUNK, "the encoder holds less than a chunk between rows");
        }
        chunks.push(csv.finish());
        let lines: Vec<usize> = chunks.iter().map(|c| c.matches("\r\n").count()).collect();
        assert_eq!(
            lines,
            [vec![ROWS_PER_CHUNK + 1], vec![ROWS_PER_CHUNK; 4], vec![7]].concat(),
            "header, then full chunks"
        );
        let text = chunks.concat();
        assert!(text.starts_with("sid,date_created,"));
        assert_eq!(text.matches("'=Tigo").count(), total, "every cell formula-safe");
        assert_eq!(AttemptsCsv::default().finish().matches("\r\n").count(), 1, "no rows: the header");
    }
}
