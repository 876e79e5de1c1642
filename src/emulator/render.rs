//! A generated record as the API shows it at a given moment: recent attempts
//! have not settled yet, so their `message_status`, `price` and conversion change.

use chrono::{TimeZone, Utc};

use super::dataset::{CHANNELS, Dataset, FinalStatus, NO_CARRIER, Record, format_sid};
use crate::model::{Attempt, Channel, ChannelData, ConversionStatus, Price};

/// Seconds after which an unconverted attempt's code expires.
const CODE_TTL: i64 = 600;

/// Renders `record` as it looks at `now` (unix seconds); `base_url` is the
/// scheme and host the client called.
pub fn render_attempt(dataset: &Dataset, record: &Record, now: i64, base_url: &str) -> Attempt {
    let market = &dataset.markets[record.market as usize];
    let channel = CHANNELS[record.channel as usize];
    let converted = record.converted_at.is_some_and(|t| t <= now);
    let settled = record.settled_at <= now;
    let sid = format_sid("VL", record.sid);
    let verification_sid = format_sid("VE", record.verification_sid);

    let mut data = ChannelData {
        verification_sid: Some(verification_sid.clone()),
        to: Some(destination(dataset, record)),
        status: Some(attempt_status(record, converted, now).to_string()),
        country: Some(market.code.to_string()),
        code_length: Some(6),
        locale: Some(market.locale.to_string()),
        ..ChannelData::default()
    };
    if let Some(carrier) = market.carriers.get(record.carrier as usize).filter(|_| record.carrier != NO_CARRIER) {
        data.mcc = Some(carrier.mcc.clone());
        data.mnc = Some(carrier.mnc.clone());
        data.carrier = Some(carrier_name(&carrier.brand, &carrier.operator));
    }
    match channel {
        Channel::Call => data.call_status = Some(call_status(record.final_status, settled).to_string()),
        Channel::Email => {}
        _ => {
            data.message_status = Some(message_status(record.final_status, settled).to_string());
            if settled && record.error_code != 0 {
                data.error_code = Some(record.error_code.to_string());
            }
        }
    }

    let last_change = [Some(record.created + 2), record.converted_at, Some(record.settled_at)]
        .into_iter()
        .flatten()
        .filter(|t| *t <= now)
        .max()
        .unwrap_or(record.created);
    Attempt {
        url: format!("{base_url}/v2/Attempts/{sid}"),
        sid,
        account_sid: dataset.account_sid.clone(),
        service_sid: format_sid("VA", dataset.service_sids[record.service as usize]),
        verification_sid,
        date_created: Utc.timestamp_opt(record.created, 0).unwrap(),
        date_updated: Utc.timestamp_opt(last_change.max(record.created), 0).unwrap(),
        conversion_status: if converted { ConversionStatus::Converted } else { ConversionStatus::Unconverted },
        channel,
        price: Some(Price {
            value: (settled && channel != Channel::Email).then(|| format_price(record.price_micros)),
            currency: Some("usd".to_string()),
        }),
        channel_data: Some(data),
    }
}

/// Carrier names as Twilio shows them; very short brands ("3") read better with the operator.
pub fn carrier_name(brand: &str, operator: &str) -> String {
    if brand.chars().count() <= 2 { operator.to_string() } else { brand.to_string() }
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
    fn short_brands_use_the_operator_name() {
        assert_eq!(carrier_name("3", "Hutchison 3G UK"), "Hutchison 3G UK");
        assert_eq!(carrier_name("Tigo", "Colombia Móvil S.A. ESP"), "Tigo");
    }
}
