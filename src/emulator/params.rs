//! The query parameters of the three endpoints, validated as Twilio does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::dataset::parse_sid;
use super::error::EmulatorError;
use crate::model::{Channel, ConversionStatus, twilio_time};

/// A SID filter: absent, or given. A given SID that is malformed matches nothing,
/// as Twilio's docs show for `VerificationSid=VL_UNKNOWN_SID`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SidFilter {
    #[default]
    Any,
    Exactly(u128),
    Nothing,
}

impl SidFilter {
    fn parse(prefix: &str, value: &str) -> Self {
        parse_sid(prefix, value).map_or(SidFilter::Nothing, SidFilter::Exactly)
    }

    pub fn matches(&self, bits: u128) -> bool {
        match self {
            SidFilter::Any => true,
            SidFilter::Exactly(b) => *b == bits,
            SidFilter::Nothing => false,
        }
    }
}

/// Filters shared by the list and the summary, in unix seconds where they are times.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttemptFilter {
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub to: Option<String>,
    pub destination_prefix: Option<String>,
    pub country: Option<String>,
    pub channel: Option<Channel>,
    pub service: SidFilter,
    pub verification: SidFilter,
    pub status: Option<ConversionStatus>,
}

/// Where a page walk continues: `Older` pages go back in time from `position`,
/// `Newer` ones return towards `top`, the walk's first visible position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageToken {
    Older { position: usize, top: usize },
    Newer { position: usize, top: usize },
}

impl PageToken {
    pub fn encode(self) -> String {
        let text = match self {
            PageToken::Older { position, top } => format!("o.{position}.{top}"),
            PageToken::Newer { position, top } => format!("n.{position}.{top}"),
        };
        format!("PT{}", URL_SAFE_NO_PAD.encode(text))
    }

    /// Where the walk's first page began: the end of what was visible then.
    pub fn top(self) -> usize {
        match self {
            PageToken::Older { top, .. } | PageToken::Newer { top, .. } => top,
        }
    }

    pub fn decode(token: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(token.strip_prefix("PT")?).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('.');
        let kind = parts.next()?;
        let position = parts.next()?.parse().ok()?;
        let top = parts.next()?.parse().ok()?;
        if parts.next().is_some() || position >= top {
            return None;
        }
        match kind {
            "o" => Some(PageToken::Older { position, top }),
            "n" => Some(PageToken::Newer { position, top }),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListParams {
    pub filter: AttemptFilter,
    pub page_size: usize,
    pub page: u64,
    pub page_token: Option<PageToken>,
    /// The filter parameters as given, to carry into the page URLs.
    pub echoed: Vec<(String, String)>,
}

const LIST_FILTERS: [&str; 8] = [
    "DateCreatedAfter",
    "DateCreatedBefore",
    "ChannelData.To",
    "Country",
    "Channel",
    "VerifyServiceSid",
    "VerificationSid",
    "Status",
];

const SUMMARY_FILTERS: [&str; 6] =
    ["VerifyServiceSid", "DateCreatedAfter", "DateCreatedBefore", "Country", "Channel", "DestinationPrefix"];

/// Parses `GET /v2/Attempts` parameters; unknown parameters are ignored, as Twilio does.
pub fn parse_list_params(pairs: &[(String, String)]) -> Result<ListParams, EmulatorError> {
    let filter = parse_filter(pairs, &LIST_FILTERS)?;
    let (page_size, page) = parse_page(pairs)?;
    // The next page's number and the attempts before it must not wrap around.
    let past_next_page = page.checked_add(1).and_then(|next| next.checked_mul(page_size as u64));
    if past_next_page.and_then(|n| usize::try_from(n).ok()).is_none() {
        return Err(EmulatorError::invalid("Page", "is past the last page a listing can have"));
    }
    let page_token = match last(pairs, "PageToken") {
        None | Some("") => None,
        Some(v) => Some(
            PageToken::decode(v)
                .ok_or_else(|| EmulatorError::invalid("PageToken", "is not a token this API issued"))?,
        ),
    };
    Ok(ListParams { filter, page_size, page, page_token, echoed: echoed(pairs, &LIST_FILTERS) })
}

/// Parses `GET /v2/Attempts/Summary` parameters.
pub fn parse_summary_params(pairs: &[(String, String)]) -> Result<AttemptFilter, EmulatorError> {
    parse_filter(pairs, &SUMMARY_FILTERS)
}

fn parse_filter(pairs: &[(String, String)], allowed: &[&str]) -> Result<AttemptFilter, EmulatorError> {
    let get = |name: &str| if allowed.contains(&name) { last(pairs, name) } else { None };
    let time = |name: &'static str| -> Result<Option<i64>, EmulatorError> {
        get(name)
            .map(|v| {
                twilio_time::parse(v).map(|t| t.timestamp()).ok_or_else(|| {
                    EmulatorError::invalid(name, "must be an ISO 8601 date-time like 2026-11-01T00:00:00Z")
                })
            })
            .transpose()
    };
    let country = get("Country")
        .map(|v| {
            if v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(v.to_ascii_uppercase())
            } else {
                Err(EmulatorError::invalid("Country", "must be an ISO 3166-1 alpha-2 country code"))
            }
        })
        .transpose()?;
    let channel = get("Channel")
        .map(|v| {
            v.parse::<Channel>()
                .map_err(|_| EmulatorError::invalid("Channel", "must be one of sms, call, email, whatsapp, rbm"))
        })
        .transpose()?;
    let status = get("Status")
        .map(|v| {
            v.parse::<ConversionStatus>()
                .map_err(|_| EmulatorError::invalid("Status", "must be converted or unconverted"))
        })
        .transpose()?;
    Ok(AttemptFilter {
        created_after: time("DateCreatedAfter")?,
        created_before: time("DateCreatedBefore")?,
        to: get("ChannelData.To").map(str::to_string),
        destination_prefix: get("DestinationPrefix").map(str::to_string),
        country,
        channel,
        service: get("VerifyServiceSid").map_or(SidFilter::Any, |v| SidFilter::parse("VA", v)),
        verification: get("VerificationSid").map_or(SidFilter::Any, |v| SidFilter::parse("VE", v)),
        status,
    })
}

/// The last value of a parameter, as most HTTP frameworks read repeated parameters.
/// `PageSize` (1 to 1000, 50 by default) and `Page` (from 0) of a listing, as Twilio reads them.
pub fn parse_page(pairs: &[(String, String)]) -> Result<(usize, u64), EmulatorError> {
    let page_size = match last(pairs, "PageSize") {
        None => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| EmulatorError::invalid("PageSize", "must be an integer from 1 to 1000"))?,
    };
    let page = match last(pairs, "Page") {
        None => 0,
        Some(v) => v.parse::<u64>().map_err(|_| EmulatorError::invalid("Page", "must be an integer of 0 or more"))?,
    };
    Ok((page_size, page))
}

fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn echoed(pairs: &[(String, String)], names: &[&str]) -> Vec<(String, String)> {
    names.iter().filter_map(|name| last(pairs, name).map(|v| (name.to_string(), v.to_string()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_valid_values() {
        let p = parse_list_params(&[]).unwrap();
        assert_eq!((p.page_size, p.page, p.page_token), (50, 0, None));
        let p = parse_list_params(&pairs(&[("PageSize", "1000"), ("Channel", "SMS"), ("Country", "co")])).unwrap();
        assert_eq!(p.page_size, 1000);
        assert_eq!(p.filter.channel, Some(Channel::Sms));
        assert_eq!(p.filter.country.as_deref(), Some("CO"));
    }

    #[test]
    fn invalid_values_name_the_parameter() {
        for (name, value) in [
            ("PageSize", "0"),
            ("PageSize", "1001"),
            ("PageSize", "ten"),
            ("Page", "-1"),
            ("Channel", "fax"),
            ("Status", "maybe"),
            ("DateCreatedAfter", "yesterday"),
            ("Country", "Colombia"),
            ("PageToken", "garbage"),
            ("Page", "18446744073709551615"),
        ] {
            let err = parse_list_params(&pairs(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn malformed_sid_filters_match_nothing_instead_of_failing() {
        let p = parse_list_params(&pairs(&[("VerificationSid", "VL_UNKNOWN_SID")])).unwrap();
        assert_eq!(p.filter.verification, SidFilter::Nothing);
    }

    #[test]
    fn page_tokens_round_trip_and_reject_tampering() {
        let token = PageToken::Older { position: 41, top: 900 };
        assert_eq!(PageToken::decode(&token.encode()), Some(token));
        assert_eq!(PageToken::decode("PTbm90LmEudG9rZW4"), None);
        assert_eq!(PageToken::decode(&PageToken::Older { position: 5, top: 5 }.encode()), None);
    }
}
