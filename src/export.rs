//! CSV exports of the breakdown table and the attempts list.

use crate::filters::{Dimension, Filters};
use crate::model::ServiceNames;
use crate::page_data::{AttemptRow, BreakdownRow};

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

/// The breakdown table as on screen: the key column named after `by` (and, by country or
/// service, its name), then the metrics.
pub fn breakdown_csv(filters: &Filters, rows: &[BreakdownRow], services: &ServiceNames) -> String {
    let mut header = vec![filters.by.as_str().to_string()];
    if matches!(filters.by, Dimension::Service | Dimension::Country) {
        header.push(format!("{}_name", filters.by.as_str()));
    }
    header.extend(
        [
            "attempts",
            "converted_attempts",
            "attempt_conversion_rate",
            "verifications",
            "verification_conversion_rate",
            "spend",
            "currency",
        ]
        .map(str::to_string),
    );
    let mut out = line(&header);
    for row in rows {
        let m = &row.metrics;
        let spend = m.spend.iter().map(|s| format!("{:.4}", s.amount)).collect::<Vec<_>>().join(";");
        let currency = m.spend.iter().map(|s| s.currency.clone()).collect::<Vec<_>>().join(";");
        let mut cells = vec![row.key.clone()];
        match filters.by {
            Dimension::Service => cells.push(services.0.get(&row.key).cloned().unwrap_or_default()),
            Dimension::Country => cells.push(crate::model::country_name(&row.key).unwrap_or_default().to_string()),
            _ => {}
        }
        cells.extend([
            m.attempts.to_string(),
            m.converted.to_string(),
            m.rate_percent().map_or_else(String::new, |r| format!("{r:.2}")),
            m.verifications.to_string(),
            m.verification_rate_percent().map_or_else(String::new, |r| format!("{r:.2}")),
            spend,
            currency,
        ]);
        out.push_str(&line(&cells));
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
    services: ServiceNames,
}

impl Default for AttemptsCsv {
    fn default() -> Self {
        AttemptsCsv::new(ServiceNames::default())
    }
}

impl AttemptsCsv {
    /// An export whose `service_name` column reads `services`.
    pub fn new(services: ServiceNames) -> Self {
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
        ]
        .map(str::to_string),
    )
}

fn attempt_line(a: &AttemptRow, services: &ServiceNames) -> String {
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
    ])
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

    fn attempt(n: usize) -> AttemptRow {
        AttemptRow {
            sid: format!("VL{n:032}"),
            verification_sid: format!("VE{n:032}"),
            service_sid: "VA00000000000000000000000000000000".into(),
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
