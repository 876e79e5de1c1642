//! Verify's fee per successful verification, which the Attempts API's `price` leaves out
//! ("The costs related to the succeeded verifications are not included"): one fee for the
//! deployment, with overrides per country or per service from a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Twilio's public list price per successful verification, in millionths of a dollar.
pub const LIST_PRICE_MICROS: i64 = 50_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FeeError {
    #[error("{0:?} is not a fee like 0.05USD: an amount, then a three-letter currency")]
    NotAFee(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// An amount of one currency, in millionths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fee {
    pub currency: String,
    pub micros: i64,
}

impl Fee {
    /// `0.05USD`, `0.05 USD` or `0` (no fee).
    pub fn parse(text: &str) -> Result<Option<Fee>, FeeError> {
        let not_a_fee = || FeeError::NotAFee(text.to_string());
        let trimmed = text.trim();
        let split = trimmed.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(trimmed.len());
        let (amount, currency) = trimmed.split_at(split);
        let amount: f64 = amount.trim().parse().map_err(|_| not_a_fee())?;
        if !amount.is_finite() || !(0.0..=1000.0).contains(&amount) {
            return Err(not_a_fee());
        }
        let micros = (amount * 1e6).round() as i64;
        if currency.is_empty() {
            return if micros == 0 { Ok(None) } else { Err(not_a_fee()) };
        }
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(not_a_fee());
        }
        Ok((micros > 0).then(|| Fee { currency: currency.to_ascii_uppercase(), micros }))
    }

    pub fn money(&self) -> crate::page_data::Money {
        crate::page_data::Money { currency: self.currency.clone(), amount: self.micros as f64 / 1e6 }
    }
}

/// Where the fees come from, for the page to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeeSource {
    /// Nobody set one: Twilio's list price.
    ListPrice,
    /// `--verification-fee`, with or without an overrides file.
    Configured { overrides: Option<PathBuf> },
}

/// Which fee each converted verification costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeSchedule {
    pub default: Option<Fee>,
    /// Per country code, and per service SID (a service's fee wins over its country's).
    pub countries: BTreeMap<String, Option<Fee>>,
    pub services: BTreeMap<String, Option<Fee>>,
    pub source: FeeSource,
}

impl Default for FeeSchedule {
    fn default() -> Self {
        FeeSchedule::list_price()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OverridesFile {
    #[serde(default)]
    countries: BTreeMap<String, String>,
    #[serde(default)]
    services: BTreeMap<String, String>,
}

impl FeeSchedule {
    /// Twilio's list price, $0.05, everywhere.
    pub fn list_price() -> FeeSchedule {
        FeeSchedule {
            default: Some(Fee { currency: "USD".into(), micros: LIST_PRICE_MICROS }),
            countries: BTreeMap::new(),
            services: BTreeMap::new(),
            source: FeeSource::ListPrice,
        }
    }

    /// One fee everywhere: `None` leaves the list price.
    pub fn configured(fee: Option<&str>, overrides: Option<&Path>) -> Result<FeeSchedule, FeeError> {
        let mut schedule = match fee {
            Some(text) => FeeSchedule {
                default: Fee::parse(text)?,
                source: FeeSource::Configured { overrides: None },
                ..FeeSchedule::list_price()
            },
            None => FeeSchedule::list_price(),
        };
        if let Some(path) = overrides {
            schedule.read_overrides(path)?;
        }
        Ok(schedule)
    }

    /// Per-country and per-service fees from a TOML file:
    /// `[countries] IN = "0.02USD"` and `[services] VA… = "0.04USD"`.
    fn read_overrides(&mut self, path: &Path) -> Result<(), FeeError> {
        let file_error = |message: String| FeeError::File { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let file: OverridesFile = toml::from_str(&text).map_err(|e| file_error(e.message().to_string()))?;
        for (code, fee) in file.countries {
            let country = crate::model::country_name(&code)
                .map(|_| code.clone())
                .ok_or_else(|| file_error(format!("{code:?} is not a country code like CO")))?;
            self.countries.insert(country, Fee::parse(&fee).map_err(|e| file_error(format!("{code}: {e}")))?);
        }
        for (sid, fee) in file.services {
            if !crate::model::is_sid(&sid, "VA") {
                return Err(file_error(format!("{sid:?} is not a Verify service SID like VA…")));
            }
            self.services.insert(sid.clone(), Fee::parse(&fee).map_err(|e| file_error(format!("{sid}: {e}")))?);
        }
        self.source = FeeSource::Configured { overrides: Some(path.to_path_buf()) };
        Ok(())
    }

    /// The fee of a verification converted in `country` for `service`.
    pub fn fee_for(&self, country: &str, service: &str) -> Option<&Fee> {
        match self.services.get(service) {
            Some(fee) => fee.as_ref(),
            None => match self.countries.get(country) {
                Some(fee) => fee.as_ref(),
                None => self.default.as_ref(),
            },
        }
    }

    /// Whether every verification costs the same.
    pub fn is_uniform(&self) -> bool {
        self.countries.is_empty() && self.services.is_empty()
    }

    /// What the page says about the fee: which applies and where it came from.
    pub fn describe(&self) -> String {
        let fee = match &self.default {
            Some(fee) => format!("{} per successful verification", crate::format::format_money(&fee.money())),
            None => "no fee per successful verification".to_string(),
        };
        let source = match &self.source {
            FeeSource::ListPrice => "Twilio's list price; set --verification-fee to your contract's".to_string(),
            FeeSource::Configured { overrides: None } => "set by --verification-fee".to_string(),
            FeeSource::Configured { overrides: Some(path) } => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                format!(
                    "set by --verification-fee, with {} country and {} service overrides from {name}",
                    self.countries.len(),
                    self.services.len()
                )
            }
        };
        format!("Verification fee: {fee} ({source}).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_read_as_an_amount_and_a_currency() {
        let usd = |micros| Ok(Some(Fee { currency: "USD".into(), micros }));
        assert_eq!(Fee::parse("0.05USD"), usd(50_000));
        assert_eq!(Fee::parse(" 0.05 usd "), usd(50_000));
        assert_eq!(Fee::parse("0.0525USD"), usd(52_500));
        assert_eq!(Fee::parse("0"), Ok(None));
        assert_eq!(Fee::parse("0EUR"), Ok(None));
        for bad in ["", "abc", "0.05", "0.05US", "0.05USDX", "-1USD", "NaNUSD", "infUSD", "5000USD", "0.05U$D"] {
            assert!(Fee::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_service_fee_beats_its_country_which_beats_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fees.toml");
        let service = format!("VA{}", "a".repeat(32));
        std::fs::write(
            &path,
            format!("[countries]\nIN = \"0.02USD\"\nCO = \"0\"\n[services]\n{service} = \"0.04EUR\"\n"),
        )
        .unwrap();
        let schedule = FeeSchedule::configured(Some("0.06USD"), Some(&path)).unwrap();
        let micros = |country, svc: &str| schedule.fee_for(country, svc).map(|f| (f.currency.clone(), f.micros));
        assert_eq!(micros("US", "VAother"), Some(("USD".into(), 60_000)));
        assert_eq!(micros("IN", "VAother"), Some(("USD".into(), 20_000)));
        assert_eq!(micros("CO", "VAother"), None, "an override of 0 is no fee");
        assert_eq!(micros("IN", &service), Some(("EUR".into(), 40_000)));
        assert!(schedule.describe().contains("1 service overrides from fees.toml"), "{}", schedule.describe());
    }

    #[test]
    fn a_bad_overrides_file_names_the_file_and_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fees.toml");
        for (text, expected) in [
            ("[countries]\nXX = \"0.02USD\"\n", "\"XX\" is not a country code"),
            ("[countries]\nIN = \"two cents\"\n", "IN: \"two cents\" is not a fee"),
            ("[services]\nVAnope = \"0.02USD\"\n", "not a Verify service SID"),
            ("[regions]\nEU = \"0.02USD\"\n", "unknown field"),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = FeeSchedule::configured(None, Some(&path)).unwrap_err().to_string();
            assert!(error.starts_with(&path.display().to_string()) && error.contains(expected), "{text}: {error}");
        }
        let missing = FeeSchedule::configured(None, Some(&dir.path().join("none.toml"))).unwrap_err();
        assert!(matches!(missing, FeeError::File { .. }));
    }

    #[test]
    fn nobody_setting_a_fee_means_the_list_price_said_as_such() {
        let schedule = FeeSchedule::configured(None, None).unwrap();
        assert_eq!(schedule, FeeSchedule::list_price());
        assert_eq!(
            schedule.describe(),
            "Verification fee: $0.05 per successful verification (Twilio's list price; set --verification-fee to your contract's)."
        );
    }
}
