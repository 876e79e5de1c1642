//! A generated record as the API shows it at a given moment: recent attempts
//! have not settled yet, so their `message_status`, `price` and conversion change.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::dataset::{CHANNELS, Dataset, FinalStatus, NO_CARRIER, Record};
use crate::model::{Attempt, Channel, ChannelData, ConversionStatus, Price, twilio_time};

/// Seconds after which an unconverted attempt's code expires.
const CODE_TTL: i64 = 600;

/// Renders `record` as it looks at `now` (unix seconds); `base_url` is the
/// scheme and host the client called.
pub fn render_attempt(dataset: &Dataset, record: &Record, now: i64, base_url: &str) -> Attempt {
    AttemptView::of(dataset, record, now, base_url).to_attempt()
}

/// An attempt as the API shows it, borrowing its texts from the dataset: the emulator
/// serialises pages of these without building an `Attempt` of owned strings for each.
/// Serialises exactly as the `Attempt` it stands for (`to_attempt`).
#[derive(Serialize)]
pub struct AttemptView<'a> {
    sid: Sid,
    account_sid: &'a str,
    service_sid: Sid,
    verification_sid: Sid,
    #[serde(serialize_with = "twilio_time::serialize")]
    date_created: DateTime<Utc>,
    #[serde(serialize_with = "twilio_time::serialize")]
    date_updated: DateTime<Utc>,
    conversion_status: ConversionStatus,
    channel: Channel,
    price: PriceView,
    channel_data: ChannelDataView<'a>,
    url: AttemptUrl<'a>,
}

#[derive(Serialize)]
struct PriceView {
    value: Option<String>,
    currency: &'static str,
}

/// Field for field as `ChannelData`, which leaves out what it lacks.
#[derive(Serialize)]
struct ChannelDataView<'a> {
    verification_sid: Sid,
    to: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_text")]
    error_code: Option<u16>,
    country: &'a str,
    code_length: u32,
    locale: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mcc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mnc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier: Option<&'a str>,
}

/// A SID, written as its prefix and 32 hex digits.
#[derive(Clone, Copy)]
struct Sid {
    prefix: &'static str,
    bits: u128,
}

impl Sid {
    /// The SID's text, made without the formatting machinery: a page of 1000 attempts
    /// writes 4000 SIDs.
    fn text(&self) -> SidText {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 34];
        text[..2].copy_from_slice(self.prefix.as_bytes());
        for (i, digit) in text[2..].iter_mut().enumerate() {
            *digit = HEX[((self.bits >> (124 - 4 * i)) & 0xf) as usize];
        }
        SidText(text)
    }
}

struct SidText([u8; 34]);

impl SidText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a prefix and hex digits")
    }
}

impl std::fmt::Display for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text().as_str())
    }
}

struct AttemptUrl<'a> {
    base_url: &'a str,
    sid: Sid,
}

impl AttemptUrl<'_> {
    fn text(&self) -> String {
        let mut url = String::with_capacity(self.base_url.len() + 47);
        url.push_str(self.base_url);
        url.push_str("/v2/Attempts/");
        url.push_str(self.sid.text().as_str());
        url
    }
}

impl std::fmt::Display for AttemptUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for AttemptUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

fn as_text<S: serde::Serializer>(code: &Option<u16>, serializer: S) -> Result<S::Ok, S::Error> {
    match code {
        Some(code) => serializer.collect_str(code),
        None => serializer.serialize_none(),
    }
}

impl<'a> AttemptView<'a> {
    pub fn of(dataset: &'a Dataset, record: &Record, now: i64, base_url: &'a str) -> AttemptView<'a> {
        let market = &dataset.markets[record.market as usize];
        let channel = CHANNELS[record.channel as usize];
        let converted = record.converted_at.is_some_and(|t| t <= now);
        let settled = record.settled_at <= now;
        let sid = Sid { prefix: "VL", bits: record.sid };
        let verification_sid = Sid { prefix: "VE", bits: record.verification_sid };
        let carrier = market.carriers.get(record.carrier as usize).filter(|_| record.carrier != NO_CARRIER);
        let (message_status, call_status, error_code) = match channel {
            Channel::Call => (None, Some(call_status(record.final_status, settled)), None),
            Channel::Email => (None, None, None),
            _ => (
                Some(message_status(record.final_status, settled)),
                None,
                Some(record.error_code).filter(|code| settled && *code != 0),
            ),
        };
        let last_change = [Some(record.created + 2), record.converted_at, Some(record.settled_at)]
            .into_iter()
            .flatten()
            .filter(|t| *t <= now)
            .max()
            .unwrap_or(record.created);
        AttemptView {
            sid,
            account_sid: &dataset.account_sid,
            service_sid: Sid { prefix: "VA", bits: dataset.service_sids[record.service as usize] },
            verification_sid,
            date_created: Utc.timestamp_opt(record.created, 0).unwrap(),
            date_updated: Utc.timestamp_opt(last_change.max(record.created), 0).unwrap(),
            conversion_status: if converted { ConversionStatus::Converted } else { ConversionStatus::Unconverted },
            channel,
            price: PriceView {
                value: (settled && channel != Channel::Email).then(|| format_price(record.price_micros)),
                currency: "usd",
            },
            channel_data: ChannelDataView {
                verification_sid,
                to: destination(dataset, record),
                status: attempt_status(record, converted, now),
                message_status,
                call_status,
                error_code,
                country: market.code,
                code_length: 6,
                locale: market.locale,
                mcc: carrier.map(|c| c.mcc.as_str()),
                mnc: carrier.map(|c| c.mnc.as_str()),
                carrier: carrier.map(|c| carrier_name(&c.brand, &c.operator)),
            },
            url: AttemptUrl { base_url, sid },
        }
    }

    /// The attempt this view shows, with owned values.
    pub fn to_attempt(&self) -> Attempt {
        let data = &self.channel_data;
        let text = |value: Option<&str>| value.map(str::to_string);
        Attempt {
            sid: self.sid.to_string(),
            account_sid: self.account_sid.to_string(),
            service_sid: self.service_sid.to_string(),
            verification_sid: self.verification_sid.to_string(),
            date_created: self.date_created,
            date_updated: self.date_updated,
            conversion_status: self.conversion_status,
            channel: self.channel,
            price: Some(Price { value: self.price.value.clone(), currency: Some(self.price.currency.to_string()) }),
            channel_data: Some(ChannelData {
                verification_sid: Some(data.verification_sid.to_string()),
                to: Some(data.to.clone()),
                status: Some(data.status.to_string()),
                message_status: text(data.message_status),
                call_status: text(data.call_status),
                error_code: data.error_code.map(|code| code.to_string()),
                country: Some(data.country.to_string()),
                code_length: Some(data.code_length),
                locale: Some(data.locale.to_string()),
                mcc: text(data.mcc),
                mnc: text(data.mnc),
                carrier: text(data.carrier),
            }),
            url: self.url.to_string(),
        }
    }
}

/// Carrier names as Twilio shows them; very short brands ("3") read better with the operator.
pub fn carrier_name<'a>(brand: &'a str, operator: &'a str) -> &'a str {
    if brand.chars().count() <= 2 { operator } else { brand }
}

/// The phone number (or email address) an attempt was sent to.
pub fn destination(dataset: &Dataset, record: &Record) -> String {
    let market = &dataset.markets[record.market as usize];
    let (dial, prefix, digits) = (market.dial_code, market.mobile_prefix, market.subscriber_digits);
    if CHANNELS[record.channel as usize] == Channel::Email {
        return format!("user{:x}@example.com", record.phone);
    }
    let mut number = format!("{:0width$}", record.phone, width = digits as usize);
    if prefix.is_empty() {
        // North American area codes never start with 0 or 1.
        let first = (number.as_bytes()[0] - b'0') % 8 + 2;
        number.replace_range(0..1, &first.to_string());
    }
    format!("+{dial}{prefix}{number}")
}

fn attempt_status(record: &Record, converted: bool, now: i64) -> &'static str {
    if converted {
        "confirmed"
    } else if record.last_of_verification && now - record.created > CODE_TTL {
        "expired"
    } else {
        "unconfirmed"
    }
}

fn message_status(status: FinalStatus, settled: bool) -> &'static str {
    if !settled {
        return "sent";
    }
    match status {
        FinalStatus::Read => "read",
        FinalStatus::Undelivered => "undelivered",
        FinalStatus::Failed => "failed",
        _ => "delivered",
    }
}

fn call_status(status: FinalStatus, settled: bool) -> &'static str {
    if !settled {
        return "in-progress";
    }
    match status {
        FinalStatus::CallNoAnswer => "no-answer",
        FinalStatus::CallBusy => "busy",
        _ => "completed",
    }
}

/// Micro-dollars as Twilio's decimal string, e.g. `0.0079`.
pub fn format_price(micros: u32) -> String {
    let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') { format!("{trimmed}0") } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_print_like_twilio() {
        assert_eq!(format_price(5_000), "0.005");
        assert_eq!(format_price(79_000), "0.079");
        assert_eq!(format_price(0), "0.0");
        assert_eq!(format_price(1_250_000), "1.25");
    }

    #[test]
    fn a_view_serialises_exactly_as_the_attempt_it_shows() {
        use super::super::dataset::DatasetConfig;
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let config = DatasetConfig { seed: 11, attempts: 20_000, days: 30 };
        let dataset = Dataset::generate(config, "AC".repeat(17), now);
        let mut shapes = std::collections::BTreeSet::new();
        // Recent attempts, seen a little later, are still in flight: every state shows up.
        for seen_after in [0, 30, 700, 86_400] {
            for record in dataset.records.iter().rev().take(2_000).chain(dataset.records.iter().step_by(7)) {
                let seen_at = record.created + seen_after;
                let view = AttemptView::of(&dataset, record, seen_at, "http://127.0.0.1:9");
                let served = serde_json::to_string(&view).unwrap();
                assert_eq!(served, serde_json::to_string(&view.to_attempt()).unwrap());
                let attempt: Attempt = serde_json::from_str(&served).unwrap();
                assert_eq!(attempt, view.to_attempt());
                let data = attempt.channel_data.unwrap();
                shapes.insert((
                    attempt.channel.as_str(),
                    data.message_status,
                    data.call_status,
                    data.error_code.is_some(),
                    data.carrier.is_some(),
                    attempt.price.unwrap().value.is_some(),
                ));
            }
        }
        assert!(shapes.len() >= 12, "{shapes:?}");
    }

    #[test]
    fn sids_are_their_prefix_and_32_lowercase_hex_digits() {
        for bits in [0, 1, 0xabc, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            let sid = Sid { prefix: "VE", bits };
            assert_eq!(sid.to_string(), format!("VE{bits:032x}"));
            assert_eq!(serde_json::to_string(&sid).unwrap(), format!("\"VE{bits:032x}\""));
        }
        let url = AttemptUrl { base_url: "http://127.0.0.1:9", sid: Sid { prefix: "VL", bits: 0xff } };
        let expected = format!("http://127.0.0.1:9/v2/Attempts/VL{:032x}", 0xff);
        assert_eq!(url.to_string(), expected);
        assert_eq!(serde_json::to_string(&url).unwrap(), format!("\"{expected}\""));
    }

    #[test]
    fn short_brands_use_the_operator_name() {
        assert_eq!(carrier_name("3", "Hutchison 3G UK"), "Hutchison 3G UK");
        assert_eq!(carrier_name("Tigo", "Colombia Móvil S.A. ESP"), "Tigo");
    }
}
