//! The markets of the synthetic dataset: real carriers with their MCC/MNC,
//! and illustrative traffic, conversion and price figures per country.

use serde::Deserialize;

/// One mobile network operator of a market.
#[derive(Clone, Debug, Deserialize)]
pub struct Carrier {
    pub mcc: String,
    pub mnc: String,
    pub brand: String,
    pub operator: String,
}

/// A market of the dataset. Prices are illustrative USD figures, not Twilio's price list.
#[derive(Clone, Debug)]
pub struct Market {
    pub code: &'static str,
    pub dial_code: &'static str,
    /// Leading digits of a mobile number after the dial code, and how many digits follow.
    pub mobile_prefix: &'static str,
    pub subscriber_digits: u32,
    pub locale: &'static str,
    pub utc_offset_hours: i32,
    /// Relative share of the account's traffic.
    pub traffic_share: f64,
    /// Share of verifications started on sms, whatsapp, call, email.
    pub channel_mix: [f64; 4],
    /// Chance that one attempt on sms, whatsapp, call, email is converted.
    pub conversion: [f64; 4],
    /// Price of one attempt on sms, whatsapp, call (email has no channel cost).
    pub price_usd: [f64; 3],
    pub carriers: Vec<Carrier>,
}

/// code, dial code, mobile prefix, subscriber digits, locale, UTC offset, share, mix, conversion, prices.
type MarketRow = (&'static str, &'static str, &'static str, u32, &'static str, i32, f64, [f64; 4], [f64; 4], [f64; 3]);

const CARRIERS_JSON: &str = include_str!("../../data/carriers-15-countries.json");

#[derive(Deserialize)]
struct CarrierFile {
    countries: std::collections::BTreeMap<String, Vec<Carrier>>,
}

/// The fifteen markets, with the carriers of `data/carriers-15-countries.json`.
pub fn markets() -> Vec<Market> {
    let file: CarrierFile = serde_json::from_str(CARRIERS_JSON).expect("data/carriers-15-countries.json is valid");
    #[rustfmt::skip]
    let table: [MarketRow; 15] = [
        //  code  dial   mobile digits locale tz  share   sms   wa    call  email     sms   wa    call  email    sms     wa      call
        ("US", "1",   "",   10, "en", -6, 30.0, [0.78, 0.02, 0.16, 0.04], [0.80, 0.78, 0.72, 0.55], [0.0079, 0.0050, 0.0140]),
        ("BR", "55",  "119", 8, "pt", -3, 10.0, [0.35, 0.60, 0.03, 0.02], [0.62, 0.84, 0.55, 0.45], [0.0450, 0.0300, 0.0500]),
        ("IN", "91",  "9",   9, "hi",  5, 12.0, [0.50, 0.45, 0.04, 0.01], [0.58, 0.80, 0.52, 0.40], [0.0830, 0.0140, 0.0400]),
        ("CO", "57",  "3",   9, "es", -5,  5.0, [0.40, 0.55, 0.04, 0.01], [0.52, 0.81, 0.50, 0.40], [0.0520, 0.0200, 0.0600]),
        ("MX", "52",  "1",   9, "es", -6,  6.0, [0.40, 0.55, 0.04, 0.01], [0.60, 0.80, 0.55, 0.45], [0.0560, 0.0250, 0.0550]),
        ("GB", "44",  "7",   9, "en",  0,  7.0, [0.85, 0.08, 0.05, 0.02], [0.84, 0.80, 0.74, 0.55], [0.0400, 0.0300, 0.0200]),
        ("DE", "49",  "15",  9, "de",  1,  5.0, [0.70, 0.12, 0.16, 0.02], [0.82, 0.79, 0.73, 0.55], [0.0850, 0.0700, 0.0300]),
        ("ID", "62",  "8",  10, "id",  7,  6.0, [0.35, 0.62, 0.02, 0.01], [0.45, 0.78, 0.45, 0.40], [0.3300, 0.0350, 0.2000]),
        ("NG", "234", "80",  8, "en",  1,  3.0, [0.75, 0.20, 0.04, 0.01], [0.40, 0.70, 0.45, 0.40], [0.2500, 0.0300, 0.1500]),
        ("PH", "63",  "9",   9, "en",  8,  3.0, [0.80, 0.15, 0.04, 0.01], [0.55, 0.75, 0.50, 0.45], [0.1900, 0.0300, 0.1200]),
        ("FR", "33",  "6",   8, "fr",  1,  4.0, [0.85, 0.08, 0.05, 0.02], [0.81, 0.78, 0.70, 0.55], [0.0800, 0.0700, 0.0300]),
        ("ES", "34",  "6",   8, "es",  1,  3.0, [0.60, 0.35, 0.03, 0.02], [0.80, 0.82, 0.70, 0.55], [0.0800, 0.0400, 0.0300]),
        ("TR", "90",  "5",   9, "tr",  3,  2.0, [0.85, 0.10, 0.04, 0.01], [0.60, 0.72, 0.50, 0.45], [0.0300, 0.0200, 0.0800]),
        ("VN", "84",  "9",   8, "vi",  7,  2.0, [0.90, 0.05, 0.04, 0.01], [0.50, 0.65, 0.45, 0.40], [0.0900, 0.0300, 0.1000]),
        ("EG", "20",  "10",  8, "ar",  2,  2.0, [0.80, 0.15, 0.04, 0.01], [0.45, 0.70, 0.45, 0.40], [0.2300, 0.0500, 0.1500]),
    ];
    table
        .into_iter()
        .map(|(code, dial_code, mobile_prefix, subscriber_digits, locale, tz, share, mix, conv, price)| Market {
            code,
            dial_code,
            mobile_prefix,
            subscriber_digits,
            locale,
            utc_offset_hours: tz,
            traffic_share: share,
            channel_mix: mix,
            conversion: conv,
            price_usd: price,
            carriers: file.countries.get(code).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Why a prices or carriers file for the dataset is refused.
#[derive(Debug, thiserror::Error)]
pub enum DatasetFileError {
    #[error("not a {what}: {source}")]
    NotJson { what: &'static str, source: serde_json::Error },
    #[error("no market {0:?} in the dataset")]
    UnknownMarket(String),
    #[error("{country}: channel {channel:?} is not sms, whatsapp or call")]
    UnknownChannel { country: String, channel: String },
    #[error("{country} {channel}: price {price} is not a positive amount")]
    BadPrice { country: String, channel: String, price: f64 },
    #[error("{0}: no carriers")]
    NoCarriers(String),
}

/// Illustrative prices to use instead of the built-in ones: country → channel → USD.
pub type PriceTable = std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>;

/// Parses a price table (`{"CO": {"sms": 0.05, "whatsapp": 0.02, "call": 0.06}}`) and
/// applies it; unknown countries or channels and negative prices are errors.
pub fn apply_prices(markets: &mut [Market], json: &str) -> Result<(), DatasetFileError> {
    let table: PriceTable =
        serde_json::from_str(json).map_err(|source| DatasetFileError::NotJson { what: "price table", source })?;
    for (country, prices) in table {
        let market = markets
            .iter_mut()
            .find(|m| m.code.eq_ignore_ascii_case(&country))
            .ok_or_else(|| DatasetFileError::UnknownMarket(country.clone()))?;
        for (channel, price) in prices {
            let index =
                ["sms", "whatsapp", "call"].iter().position(|c| c.eq_ignore_ascii_case(&channel)).ok_or_else(|| {
                    DatasetFileError::UnknownChannel { country: country.clone(), channel: channel.clone() }
                })?;
            if !(price.is_finite() && price >= 0.0) {
                return Err(DatasetFileError::BadPrice { country, channel, price });
            }
            market.price_usd[index] = price;
        }
    }
    Ok(())
}

/// Replaces the carriers of the countries a carriers file names (the format of
/// `data/carriers-15-countries.json`); unknown countries and empty lists are errors.
pub fn apply_carriers(markets: &mut [Market], json: &str) -> Result<(), DatasetFileError> {
    let file: CarrierFile =
        serde_json::from_str(json).map_err(|source| DatasetFileError::NotJson { what: "carriers file", source })?;
    for (country, carriers) in file.countries {
        let market = markets
            .iter_mut()
            .find(|m| m.code.eq_ignore_ascii_case(&country))
            .ok_or_else(|| DatasetFileError::UnknownMarket(country.clone()))?;
        if carriers.is_empty() {
            return Err(DatasetFileError::NoCarriers(country));
        }
        market.carriers = carriers;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_files_replace_a_countrys_carriers() {
        let mut m = markets();
        let hostile = r#"{"countries": {"co": [{"mcc": "732", "mnc": "999", "brand": "<b>x</b>", "operator": "o"}]}}"#;
        apply_carriers(&mut m, hostile).unwrap();
        let co = m.iter().find(|m| m.code == "CO").unwrap();
        assert_eq!(co.carriers.len(), 1);
        assert_eq!(co.carriers[0].brand, "<b>x</b>");
        assert!(m.iter().find(|m| m.code == "US").unwrap().carriers.len() >= 3);
        assert!(
            apply_carriers(
                &mut m,
                r#"{"countries": {"ZZ": [{"mcc": "1", "mnc": "2", "brand": "b", "operator": "o"}]}}"#
            )
            .is_err()
        );
        assert!(apply_carriers(&mut m, r#"{"countries": {"CO": []}}"#).is_err());
        assert!(apply_carriers(&mut m, "{}").is_err());
    }

    #[test]
    fn price_tables_override_and_reject_nonsense() {
        let mut m = markets();
        apply_prices(&mut m, r#"{"co": {"SMS": 0.5}, "US": {"call": 0.02}}"#).unwrap();
        assert_eq!(m.iter().find(|m| m.code == "CO").unwrap().price_usd[0], 0.5);
        assert_eq!(m.iter().find(|m| m.code == "US").unwrap().price_usd[2], 0.02);
        assert!(apply_prices(&mut m, r#"{"ZZ": {"sms": 1}}"#).is_err());
        assert!(apply_prices(&mut m, r#"{"CO": {"fax": 1}}"#).is_err());
        assert!(apply_prices(&mut m, r#"{"CO": {"sms": -1}}"#).is_err());
        assert!(apply_prices(&mut m, "[]").is_err());
    }

    #[test]
    fn every_market_has_real_carriers_and_valid_mixes() {
        let markets = markets();
        assert_eq!(markets.len(), 15);
        for m in &markets {
            assert!(m.carriers.len() >= 3, "{} has carriers", m.code);
            let mix: f64 = m.channel_mix.iter().sum();
            assert!((mix - 1.0).abs() < 1e-9, "{} channel mix sums to 1", m.code);
            assert!(m.carriers.iter().all(|c| c.mcc.len() == 3));
        }
        let co = markets.iter().find(|m| m.code == "CO").unwrap();
        assert!(co.carriers.iter().any(|c| c.mnc == "103" && c.brand == "Tigo"));
    }
}
