//! How rollup cells are keyed and what they count, in one place for the writes, the
//! rebuilds, the raw queries and the in-memory index: grains and their periods, the channel
//! bits of verification rows, the error key that covers all errors, and which statuses count
//! as converted, delivered and final.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Day,
    Hour,
}

impl Grain {
    pub const ALL: [Grain; 2] = [Grain::Day, Grain::Hour];

    /// A grain as the tables store it: `day` or `hour`.
    pub fn parse(text: &str) -> Option<Grain> {
        Grain::ALL.into_iter().find(|g| g.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Hour => "hour",
        }
    }

    /// The period of an ISO 8601 UTC time: its day in the reporting zone (`2026-11-25`), or
    /// its UTC hour (`2026-11-25T14`).
    pub fn period(self, time: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Grain::Day => crate::zone::day_of(time),
            Grain::Hour => std::borrow::Cow::Borrowed(time.get(..13).unwrap_or(time)),
        }
    }
}

/// The bit of a channel in the verification rollup's channel sets.
pub fn channel_bit(channel: &str) -> i64 {
    match channel {
        "sms" => 1,
        "call" => 2,
        "email" => 4,
        "whatsapp" => 8,
        "rbm" => 16,
        _ => 32,
    }
}

/// `error_key` of the verification rows that cover all of a verification's attempts (the
/// other rows have one error code each).
pub const ALL_ERRORS: &str = "*";

/// The conversion status of a converted attempt.
pub const CONVERTED: &str = "converted";

pub fn is_converted(conversion_status: &str) -> bool {
    conversion_status == CONVERTED
}

/// Message statuses of a delivered message.
pub const DELIVERED_STATUSES: [&str; 2] = ["delivered", "read"];

/// Message statuses that will not change any more: delivered or not.
pub const FINAL_STATUSES: [&str; 4] = ["delivered", "read", "undelivered", "failed"];

pub fn is_delivered(message_status: &str) -> bool {
    DELIVERED_STATUSES.contains(&message_status)
}

pub fn is_final(message_status: &str) -> bool {
    FINAL_STATUSES.contains(&message_status)
}

/// SQL summing, per group, the rows whose `column` is one of `values`.
pub fn sql_count_where_in(column: &str, values: &[&str]) -> String {
    let list: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("SUM(CASE WHEN {column} IN ({}) THEN 1 ELSE 0 END)", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grains_and_statuses_read_back_as_written() {
        for grain in Grain::ALL {
            assert_eq!(Grain::parse(grain.as_str()), Some(grain));
        }
        assert_eq!(Grain::parse("week"), None);
        assert_eq!(Grain::Hour.period("2026-11-25T14:03:00Z"), "2026-11-25T14");
        assert!(is_delivered("read") && !is_delivered("failed") && is_final("failed") && !is_final("sent"));
        assert_eq!(
            sql_count_where_in("message_status", &DELIVERED_STATUSES),
            "SUM(CASE WHEN message_status IN ('delivered', 'read') THEN 1 ELSE 0 END)"
        );
    }
}
