//! The Verification Attempts API's resources as typed values, shared by the
//! emulator, the sync client and the dashboard.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A verification attempt as `GET /v2/Attempts/{Sid}` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub sid: String,
    pub account_sid: String,
    pub service_sid: String,
    pub verification_sid: String,
    #[serde(with = "twilio_time")]
    pub date_created: DateTime<Utc>,
    #[serde(with = "twilio_time")]
    pub date_updated: DateTime<Utc>,
    pub conversion_status: ConversionStatus,
    pub channel: Channel,
    pub price: Option<Price>,
    pub channel_data: Option<ChannelData>,
    pub url: String,
}

/// The charge for an attempt; Twilio sends the value as a decimal string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub value: Option<String>,
    pub currency: Option<String>,
}

/// Channel-specific details. Every field is optional: email has no carrier,
/// calls carry `call_status` instead of `message_status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
}

/// The list envelope of `GET /v2/Attempts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptPage {
    pub attempts: Vec<Attempt>,
    pub meta: PageMeta,
}

/// A Verify service, of what `GET /v2/Services` tells: its SID and the name people know it by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyService {
    pub sid: String,
    pub friendly_name: String,
}

/// The names people know Verify services and accounts by, by SID: the services' as the
/// sync last read them, the accounts' as the accounts file gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FriendlyNames(pub std::collections::BTreeMap<String, String>);

impl FriendlyNames {
    /// How a service or account reads on a page: "Login OTP (VA6f9e…)", or its SID while its
    /// name is unknown.
    pub fn label(&self, sid: &str) -> String {
        match self.0.get(sid) {
            Some(name) => format!("{name} ({})", short_sid(sid)),
            None => sid.to_string(),
        }
    }

    /// A service or account as a removable filter reads: its name and short SID, or its short SID.
    pub fn short_label(&self, sid: &str) -> String {
        match self.0.get(sid) {
            Some(_) => self.label(sid),
            None => short_sid(sid),
        }
    }
}

/// A country's name as people write it, from its ISO 3166-1 alpha-2 code: ISO's English
/// name without its qualifiers ("Bolivia", not "Bolivia (Plurinational State of)"); `None`
/// for a code ISO does not assign.
pub fn country_name(code: &str) -> Option<&'static str> {
    match code {
        "GB" => Some("United Kingdom"),
        "US" => Some("United States"),
        _ => {
            let name = isocountry::CountryCode::for_alpha2(code).ok()?.name();
            name.split(" (").next()?.split(", ").next()
        }
    }
}

/// A country as pages show it: "Colombia (CO)", or the code alone when ISO does not know it.
pub fn country_label(code: &str) -> String {
    match country_name(code) {
        Some(name) => format!("{name} ({code})"),
        None => code.to_string(),
    }
}

/// The code of the country named `text` (as `country_name` writes it, or ISO's full name),
/// whatever its case.
pub fn country_code_for_name(text: &str) -> Option<&'static str> {
    let text = text.trim();
    isocountry::CountryCode::iter().map(|c| c.alpha2()).find(|code| {
        country_name(code).is_some_and(|name| name.eq_ignore_ascii_case(text))
            || isocountry::CountryCode::for_alpha2(code).is_ok_and(|c| c.name().eq_ignore_ascii_case(text))
    })
}

/// Every country ISO assigns a code, as (code, name), by name; made once, since every page's
/// filter bar lists them.
pub fn all_countries() -> &'static [(&'static str, &'static str)] {
    static ALL: std::sync::LazyLock<Vec<(&'static str, &'static str)>> = std::sync::LazyLock::new(|| {
        let mut all: Vec<_> =
            isocountry::CountryCode::iter().filter_map(|c| Some((c.alpha2(), country_name(c.alpha2())?))).collect();
        all.sort_by_key(|(_, name)| *name);
        all
    });
    &ALL
}

/// A SID's prefix and first four digits: `VA6f9e…`.
pub fn short_sid(sid: &str) -> String {
    match sid.get(..6) {
        Some(head) if sid.len() > 6 => format!("{head}…"),
        _ => sid.to_string(),
    }
}

/// A page of `GET /v2/Services`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicePage {
    pub services: Vec<VerifyService>,
    pub meta: PageMeta,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageMeta {
    pub key: String,
    pub page: u64,
    pub page_size: u64,
    pub first_page_url: String,
    pub previous_page_url: Option<String>,
    pub url: String,
    pub next_page_url: Option<String>,
}

/// `GET /v2/Attempts/Summary`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptSummary {
    pub total_attempts: u64,
    pub total_converted: u64,
    pub total_unconverted: u64,
    pub conversion_rate_percentage: Option<String>,
    pub url: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            /// Case-insensitive, as Twilio accepts `SMS` and `sms` alike.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(UnknownValue(s.to_string()))
            }
        }
    };
}

string_enum!(
    /// The channel an attempt was sent on.
    Channel { Sms => "sms", Call => "call", Email => "email", Whatsapp => "whatsapp", Rbm => "rbm" }
);

impl Channel {
    /// The channel's name wherever a page, a chart or a notice shows it.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Call => "Call",
            Channel::Email => "Email",
            Channel::Whatsapp => "WhatsApp",
            Channel::Rbm => "RBM",
        }
    }
}

/// A channel as stored (`sms`) under its label (`SMS`); an unknown one as it is.
pub fn channel_label(channel: &str) -> String {
    channel.parse::<Channel>().map_or_else(|_| channel.to_string(), |c| c.label().to_string())
}

string_enum!(
    /// Whether the user entered the code of this attempt.
    ConversionStatus { Converted => "converted", Unconverted => "unconverted" }
);

/// A value that is not one of an enum's names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// A Twilio SID: two letters and 32 hex digits, e.g. `VL` for attempts.
pub fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34 && value.starts_with(prefix) && value[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The title of a Twilio error code a verification attempt can carry, from Twilio's
/// error dictionary (twilio.com/docs/api/errors): what the dashboard shows next to the code.
pub fn error_title(code: &str) -> Option<&'static str> {
    Some(match code {
        "30001" => "Queue overflow",
        "30002" => "Account suspended",
        "30003" => "Unreachable destination handset",
        "30004" => "Message blocked",
        "30005" => "Unknown destination handset",
        "30006" => "Landline or unreachable carrier",
        "30007" => "Message filtered",
        "30008" => "Unknown error",
        "30009" => "Missing segment",
        "30010" => "Message price exceeds max price",
        "30450" => "Message delivery blocked (SMS Pumping Protection)",
        "30453" => "Message couldn't be delivered (SMS Pumping Protection)",
        "60200" => "Invalid parameter",
        "60203" => "Max send attempts reached",
        "60205" => "SMS is not supported by landline phone number",
        "60410" => "Verification delivery attempt blocked (Fraud Guard)",
        "60605" => "Verification delivery attempt blocked (Geo Permissions)",
        _ => return None,
    })
}

/// An error code with its title when Twilio's dictionary has one: `30008 Unknown error`.
pub fn error_label(code: &str) -> String {
    match error_title(code) {
        Some(title) => format!("{code} {title}"),
        None => code.to_string(),
    }
}

/// Twilio's `yyyy-MM-ddTHH:mm:ssZ` timestamps.
pub mod twilio_time {
    use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
    use serde::{Deserializer, Serializer};

    pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

    /// `2026-11-01T00:00:00Z`. Written digit by digit: the sync formats two times per
    /// attempt, and chrono's format strings were a quarter of its writer's own work.
    pub fn format(time: &DateTime<Utc>) -> String {
        let time = time.naive_utc();
        let year = time.year();
        if !(0..=9999).contains(&year) {
            return time.format(FORMAT).to_string();
        }
        let mut text = *b"0000-00-00T00:00:00Z";
        let mut digits = |at: usize, value: u32, width: usize| {
            let mut value = value;
            for digit in text[at..at + width].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(0, year as u32, 4);
        digits(5, time.month(), 2);
        digits(8, time.day(), 2);
        digits(11, time.hour(), 2);
        digits(14, time.minute(), 2);
        digits(17, time.second(), 2);
        String::from_utf8(text.to_vec()).expect("digits and separators")
    }

    /// Accepts `2026-11-01T00:00:00Z`, an RFC 3339 time with any offset, or a bare date.
    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        if let Some(t) = parse_twilio_form(text) {
            return Some(t);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
            return Some(t.and_utc());
        }
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    }

    /// Exactly `yyyy-MM-ddTHH:mm:ssZ`, the form of every time Twilio sends, read without
    /// chrono's general parser (the sync reads two per attempt); `None` for any other form.
    fn parse_twilio_form(text: &str) -> Option<DateTime<Utc>> {
        let bytes: &[u8; 20] = text.as_bytes().try_into().ok()?;
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
        if separators.iter().any(|&(at, separator)| bytes[at] != separator) {
            return None;
        }
        let number = |from: usize, to: usize| {
            bytes[from..to].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
        };
        let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(number(0, 4)?).ok()?, number(5, 7)?, number(8, 10)?)?;
        Some(date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)?.and_utc())
    }

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        d.deserialize_str(TimeVisitor)
    }

    /// Reads a time from the text where it lies, without a `String` of its own.
    struct TimeVisitor;

    impl serde::de::Visitor<'_> for TimeVisitor {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a date-time such as 2026-11-01T00:00:00Z")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
            parse(text).ok_or_else(|| E::custom(format!("bad date-time {text:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_read_by_their_common_names_and_are_found_by_them() {
        for (code, name) in [("CO", "Colombia"), ("BO", "Bolivia"), ("GB", "United Kingdom"), ("US", "United States")] {
            assert_eq!(country_name(code), Some(name));
            assert_eq!(country_code_for_name(name), Some(code));
            assert_eq!(country_code_for_name(&name.to_uppercase()), Some(code), "whatever its case");
        }
        assert_eq!(country_label("TZ"), "Tanzania (TZ)");
        assert_eq!(country_label("XX"), "XX", "a code ISO does not assign reads as itself");
        assert_eq!(country_code_for_name("United Kingdom of Great Britain and Northern Ireland"), Some("GB"));
        assert_eq!(country_code_for_name("Narnia"), None);
        let all = all_countries();
        assert!(all.len() > 240 && all.windows(2).all(|w| w[0].1 <= w[1].1), "every country, by name");
    }

    #[test]
    fn error_codes_are_labelled_with_their_titles() {
        assert_eq!(error_label("30008"), "30008 Unknown error");
        assert_eq!(error_label("12345"), "12345", "unknown codes are shown as they are");
    }

    #[test]
    fn times_format_like_chrono() {
        for text in ["2026-11-01T00:00:00Z", "1999-12-31T23:59:59Z", "0042-01-09T07:08:09Z", "9999-12-31T23:59:59Z"] {
            let time = twilio_time::parse(text).unwrap();
            assert_eq!(twilio_time::format(&time), text);
            assert_eq!(twilio_time::format(&time), time.format(twilio_time::FORMAT).to_string());
        }
        let far = chrono::DateTime::from_timestamp(300_000_000_000, 0).unwrap();
        assert_eq!(twilio_time::format(&far), far.format(twilio_time::FORMAT).to_string());
    }

    #[test]
    fn times_in_twilio_form_parse_like_chrono() {
        let by_chrono =
            |text: &str| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").ok().map(|t| t.and_utc());
        for text in [
            "2026-11-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01T00:60:00Z",
            "2026-11-01T0a:00:00Z",
        ] {
            assert_eq!(twilio_time::parse(text), by_chrono(text), "{text}");
        }
        let offset = twilio_time::parse("2026-11-01T02:00:00+02:00").unwrap();
        assert_eq!(twilio_time::format(&offset), "2026-11-01T00:00:00Z");
        assert_eq!(twilio_time::format(&twilio_time::parse("2026-11-01").unwrap()), "2026-11-01T00:00:00Z");
        assert_eq!(twilio_time::parse("2026-11-01T00:00:00ZZ"), None);
    }

    const DOCS_EXAMPLE: &str = r#"{
      "sid": "VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "service_sid": "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "verification_sid": "VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "date_created": "2020-08-11T18:36:59Z",
      "date_updated": "2020-08-11T18:37:00Z",
      "conversion_status": "unconverted",
      "channel": "sms",
      "price": {"value": "0.005", "currency": "usd"},
      "channel_data": {
        "verification_sid": "VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "to": "+573003003030",
        "status": "unconfirmed",
        "message_status": "undelivered",
        "error_code": "30008",
        "country": "CO",
        "code_length": 6,
        "locale": "es",
        "mcc": "732",
        "mnc": "103",
        "carrier": "Colombia Movil (Tigo)"
      },
      "url": "https://verify.twilio.com/v2/Attempts/VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    }"#;

    #[test]
    fn docs_example_round_trips_as_json_value() {
        let original: serde_json::Value = serde_json::from_str(DOCS_EXAMPLE).unwrap();
        let attempt: Attempt = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(attempt.channel, Channel::Sms);
        assert_eq!(serde_json::to_value(&attempt).unwrap(), original);
    }

    #[test]
    fn enums_parse_case_insensitively_and_reject_unknowns() {
        assert_eq!("SMS".parse::<Channel>(), Ok(Channel::Sms));
        assert_eq!("whatsapp".parse::<Channel>(), Ok(Channel::Whatsapp));
        assert!("fax".parse::<Channel>().is_err());
        assert_eq!("CONVERTED".parse::<ConversionStatus>(), Ok(ConversionStatus::Converted));
    }

    #[test]
    fn sids_need_prefix_and_32_hex_digits() {
        assert!(is_sid("VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "VL"));
        assert!(!is_sid("VL_UNKNOWN_SID", "VL"));
        assert!(!is_sid("VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "VL"));
        assert!(!is_sid("VLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaz", "VL"));
    }
}
