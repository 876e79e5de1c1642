//! What a breakdown groups by and sorts by.

use serde::{Deserialize, Serialize};

/// The dimension a breakdown groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dimension {
    Country,
    Channel,
    Carrier,
    Service,
    /// The Twilio account: a tab only when the snapshot holds more than one.
    Account,
    Error,
    Day,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::Country,
        Dimension::Channel,
        Dimension::Carrier,
        Dimension::Service,
        Dimension::Account,
        Dimension::Error,
        Dimension::Day,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Country => "country",
            Dimension::Channel => "channel",
            Dimension::Carrier => "carrier",
            Dimension::Service => "service",
            Dimension::Account => "account",
            Dimension::Error => "error",
            Dimension::Day => "day",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Country => "Country",
            Dimension::Channel => "Channel",
            Dimension::Carrier => "Carrier",
            Dimension::Service => "Service",
            Dimension::Account => "Account",
            Dimension::Error => "Error code",
            Dimension::Day => "Day",
        }
    }

    /// How a row's key reads on a page or chart: countries, channels, error codes and
    /// services and accounts by name, an unknown value as "unknown".
    pub fn key_label(self, key: &str, names: &crate::model::FriendlyNames) -> String {
        match (self, key) {
            (Dimension::Country, code) if !code.is_empty() => crate::model::country_label(code),
            (Dimension::Service | Dimension::Account, sid) if !sid.is_empty() => names.label(sid),
            (Dimension::Error, "") => "no error".to_string(),
            (Dimension::Error, code) => crate::model::error_label(code),
            (Dimension::Channel, channel) => crate::model::channel_label(channel),
            (_, "") => "unknown".to_string(),
            (_, key) => key.to_string(),
        }
    }

    /// Where a click on a row leads: country → carrier → error code → the attempts.
    pub fn next(self) -> Option<Dimension> {
        match self {
            Dimension::Account => Some(Dimension::Service),
            Dimension::Country => Some(Dimension::Carrier),
            Dimension::Channel => Some(Dimension::Country),
            Dimension::Carrier | Dimension::Service => Some(Dimension::Error),
            Dimension::Error | Dimension::Day => None,
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// How its breakdown is sorted unless the view says otherwise (key and whether
    /// descending): days in date order, other values by attempts, most first.
    pub fn default_order(self) -> (SortKey, bool) {
        match self {
            Dimension::Day => (SortKey::Key, false),
            _ => (SortKey::Attempts, true),
        }
    }
}

/// What a breakdown is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Key,
    Attempts,
    Converted,
    Rate,
    Verifications,
    Spend,
}

impl SortKey {
    /// The direction of a column's first click: rates worst first (the question is where
    /// conversion is bad), counts and spend most first, names in order.
    pub fn first_click_descending(self) -> bool {
        !matches!(self, SortKey::Key | SortKey::Rate)
    }

    pub const ALL: [SortKey; 6] =
        [SortKey::Key, SortKey::Attempts, SortKey::Converted, SortKey::Rate, SortKey::Verifications, SortKey::Spend];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Key => "key",
            SortKey::Attempts => "attempts",
            SortKey::Converted => "converted",
            SortKey::Rate => "rate",
            SortKey::Verifications => "verifications",
            SortKey::Spend => "spend",
        }
    }
}
