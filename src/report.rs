//! What the server sends the dashboard: plain data, shared by server and browser.

use serde::{Deserialize, Serialize};

use crate::filters::Filters;

/// Attempts and how many of them converted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    pub attempts: u64,
    pub converted: u64,
}

impl Conversion {
    /// Converted over attempts, in percent; `None` when there are no attempts.
    pub fn rate_percent(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.converted as f64 * 100.0 / self.attempts as f64)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountryRow {
    pub country: String,
    pub conversion: Conversion,
}

/// The overview page's data for one view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub filters: Filters,
    pub notices: Vec<String>,
    /// First and last UTC day shown, `YYYY-MM-DD`.
    pub first_day: String,
    pub last_day: String,
    pub totals: Conversion,
    pub countries: Vec<CountryRow>,
    pub snapshot: SnapshotStatus,
}

/// How fresh the snapshot is, and where it comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotStatus {
    /// End of the last complete sync window, ISO 8601 UTC.
    pub as_of: Option<String>,
    /// The data comes from the built-in emulator.
    pub demo: bool,
    pub syncing: bool,
    pub last_error: Option<String>,
}

/// `12.3%` with one decimal, or an en dash when there is nothing to divide.
pub fn format_percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_string(), |r| format!("{r:.1}%"))
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
        assert_eq!(Conversion { attempts: 4, converted: 1 }.rate_percent(), Some(25.0));
    }
}
