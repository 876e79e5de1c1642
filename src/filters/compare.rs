//! What a view compares its period with: `compare=` and `compare_from`/`compare_to` in links.

use serde::{Deserialize, Serialize};

use super::ViewDate;

/// The period a view is compared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compare {
    /// The period of the same length just before (`previous`, the default).
    #[default]
    Previous,
    /// The same weekdays four weeks earlier (`4w`).
    FourWeeksEarlier,
    /// The same dates a year earlier (`year`).
    YearEarlier,
    /// Days of the user's choosing, both included (`compare_from`, `compare_to`).
    Custom(ViewDate, ViewDate),
    /// No comparison (`none`).
    Off,
}

impl Compare {
    /// The modes a link can name by `compare=` alone, with their words on the page.
    pub const NAMED: [(Compare, &'static str, &'static str); 4] = [
        (Compare::Previous, "previous", "Previous period"),
        (Compare::FourWeeksEarlier, "4w", "4 weeks earlier"),
        (Compare::YearEarlier, "year", "A year earlier"),
        (Compare::Off, "none", "None"),
    ];

    pub fn is_on(self) -> bool {
        self != Compare::Off
    }

    /// `compare=`'s value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compare::Custom(..) => "custom",
            named => Compare::NAMED.iter().find(|(c, ..)| *c == named).map_or("previous", |(_, name, _)| name),
        }
    }

    /// What the period is compared with, as the page says it: "the previous period".
    pub fn against(self) -> String {
        match self {
            Compare::Previous | Compare::Off => "the previous period".into(),
            Compare::FourWeeksEarlier => "the same weekdays 4 weeks earlier".into(),
            Compare::YearEarlier => "the same dates a year earlier".into(),
            Compare::Custom(from, to) => format!("{from} to {to}"),
        }
    }

    /// The same part of the compared period, after "the same 6 days": "of the previous period".
    pub fn same_part(self) -> String {
        match self {
            Compare::Previous | Compare::Off => "of the previous period".into(),
            Compare::FourWeeksEarlier => "4 weeks earlier".into(),
            Compare::YearEarlier => "a year earlier".into(),
            Compare::Custom(from, to) => format!("of {from} to {to}"),
        }
    }
}
