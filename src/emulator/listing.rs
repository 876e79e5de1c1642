//! Filtering, keyset paging and summaries over the dataset.

use super::dataset::{CHANNELS, Dataset, Record};
use super::error::EmulatorError;
use super::params::{AttemptFilter, ListParams, PageToken};
use super::render::{AttemptView, destination};
use crate::model::{AttemptSummary, Channel, ConversionStatus};

/// Which records a client may see at `now`: the last `days` days, nothing from the future.
pub fn visible_range(ds: &Dataset, filter: &AttemptFilter, now: i64) -> std::ops::Range<usize> {
    let oldest = now - i64::from(ds.config.days) * 86_400;
    let from = filter.created_after.map_or(oldest, |t| t.max(oldest));
    // DateCreatedBefore is exclusive, so adjacent windows never share an attempt.
    let to = filter.created_before.map_or(now, |t| (t - 1).min(now));
    ds.range(from, to)
}

fn matches(ds: &Dataset, record: &Record, filter: &AttemptFilter, now: i64) -> bool {
    let market = &ds.markets[record.market as usize];
    let channel = CHANNELS[record.channel as usize];
    if filter.country.as_deref().is_some_and(|c| c != market.code)
        || filter.channel.is_some_and(|c| c != channel)
        || !filter.service.matches(ds.service_sids[record.service as usize])
        || !filter.verification.matches(record.verification_sid)
    {
        return false;
    }
    if let Some(status) = filter.status {
        let converted = record.converted_at.is_some_and(|t| t <= now);
        if converted != (status == ConversionStatus::Converted) {
            return false;
        }
    }
    if filter.to.is_some() || filter.destination_prefix.is_some() {
        if channel == Channel::Email {
            return false;
        }
        let to = destination(ds, record);
        if filter.to.as_deref().is_some_and(|t| t != to) {
            return false;
        }
        if let Some(prefix) = &filter.destination_prefix {
            let wanted = prefix.trim_start_matches('+');
            if !to.trim_start_matches('+').starts_with(wanted) {
                return false;
            }
        }
    }
    true
}

/// One page of a walk, newest first, with the tokens of its neighbours.
pub struct ListedPage<'a> {
    pub attempts: Vec<AttemptView<'a>>,
    pub next: Option<PageToken>,
    pub previous: Option<PageToken>,
}

/// Lists a page; a token continues a walk whose first page was taken earlier,
/// so attempts that arrived since do not shift it. A token pointing past the dataset was
/// not issued by this API.
pub fn list_page<'a>(
    ds: &'a Dataset,
    params: &ListParams,
    now: i64,
    base_url: &'a str,
) -> Result<ListedPage<'a>, EmulatorError> {
    if params.page_token.is_some_and(|token| token.top() > ds.records.len()) {
        return Err(EmulatorError::invalid("PageToken", "is not a token this API issued"));
    }
    let range = visible_range(ds, &params.filter, now);
    let size = params.page_size;
    let is_match = |i: &usize| matches(ds, &ds.records[*i], &params.filter, now);
    let (positions, top, has_more_older) = match params.page_token {
        None => {
            let top = range.end;
            let mut older = (range.start..top).rev().filter(is_match).skip(params.page as usize * size);
            let positions: Vec<usize> = older.by_ref().take(size).collect();
            let more = older.next().is_some();
            (positions, top, more)
        }
        Some(PageToken::Older { position, top }) => {
            let start = range.start;
            let end = position.min(range.end);
            let mut older = (start..end).rev().filter(is_match);
            let positions: Vec<usize> = older.by_ref().take(size).collect();
            let more = older.next().is_some();
            (positions, top, more)
        }
        Some(PageToken::Newer { position, top }) => {
            let end = top.min(range.end);
            let mut newer: Vec<usize> = (position + 1..end).filter(is_match).take(size).collect();
            newer.reverse();
            let more = newer.last().is_some_and(|&p| (range.start..p).any(|i| is_match(&i)));
            (newer, top, more)
        }
    };
    let next = positions.last().filter(|_| has_more_older).map(|&position| PageToken::Older { position, top });
    let previous = positions.first().filter(|_| params.page > 0).map(|&position| PageToken::Newer { position, top });
    let attempts = positions.iter().map(|&i| AttemptView::of(ds, &ds.records[i], now, base_url)).collect();
    Ok(ListedPage { attempts, next, previous })
}

pub fn find_attempt<'a>(ds: &'a Dataset, sid: u128, now: i64, base_url: &'a str) -> Option<AttemptView<'a>> {
    let record = &ds.records[ds.position_of(sid)?];
    let oldest = now - i64::from(ds.config.days) * 86_400;
    (record.created >= oldest && record.created <= now).then(|| AttemptView::of(ds, record, now, base_url))
}

pub fn summarize(ds: &Dataset, filter: &AttemptFilter, now: i64, url: String) -> AttemptSummary {
    let (mut total, mut converted) = (0u64, 0u64);
    for record in &ds.records[visible_range(ds, filter, now)] {
        if matches(ds, record, filter, now) {
            total += 1;
            converted += u64::from(record.converted_at.is_some_and(|t| t <= now));
        }
    }
    AttemptSummary {
        total_attempts: total,
        total_converted: converted,
        total_unconverted: total - converted,
        conversion_rate_percentage: Some(conversion_percentage(converted, total)),
        url,
    }
}

/// As Twilio prints it: `81.818181818` for 9 of 11.
pub fn conversion_percentage(converted: u64, total: u64) -> String {
    if total == 0 {
        return "0".to_string();
    }
    let text = format!("{:.9}", converted as f64 * 100.0 / total as f64);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_match_the_spec_example() {
        assert_eq!(conversion_percentage(9, 11), "81.818181818");
        assert_eq!(conversion_percentage(1, 1), "100");
        assert_eq!(conversion_percentage(0, 0), "0");
    }
}
