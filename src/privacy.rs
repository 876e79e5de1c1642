//! Phone numbers are personal data: how much of one a page, an export or a filter may reveal
//! while masking is on (the default; `--show-phone-numbers` turns it off).

use crate::filters::{ParsedFilters, parse_query};

/// Digits of a phone number that masking always hides: enough that the number cannot be
/// guessed from what is shown, whatever its length.
const HIDDEN_DIGITS_AT_LEAST: usize = 6;

/// The longest destination prefix a view may filter on while numbers are masked: a longer
/// one, with the last digits a masked number shows, could single out one person's number.
pub const MASKED_PREFIX_MAX_DIGITS: usize = 6;

/// Masks a phone number down to its first three characters (`+` and the country code's
/// start) and its last two digits: `+57••••••••30`. Emails keep their first letter and domain.
pub fn mask_destination(to: &str) -> String {
    if let Some((user, domain)) = to.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}•••@{domain}");
    }
    let chars: Vec<char> = to.chars().collect();
    let shown = chars.len().saturating_sub(HIDDEN_DIGITS_AT_LEAST);
    let tail = shown.min(2);
    let head = (shown - tail).min(3);
    let hidden = chars.len() - head - tail;
    let mut masked: String = chars[..head].iter().collect();
    masked.extend(std::iter::repeat_n('•', hidden));
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

/// A view's URL query parsed, with a destination prefix too long to keep numbers masked
/// dropped and named in a notice.
pub fn parse_view(query: &str, masking: bool) -> ParsedFilters {
    let mut parsed = parse_query(query);
    let too_long = |p: &String| p.trim_start_matches('+').len() > MASKED_PREFIX_MAX_DIGITS;
    if masking && parsed.filters.prefix.as_ref().is_some_and(too_long) {
        parsed.filters.prefix = None;
        parsed.notices.push(format!(
            "prefix: at most {MASKED_PREFIX_MAX_DIGITS} digits while phone numbers are masked, \
             so that a filter cannot single out one number; ignored"
        ));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_hides_six_digits_at_least_and_shows_no_more_than_five_characters() {
        assert_eq!(mask_destination("+573003003030"), "+57••••••••30");
        assert_eq!(mask_destination("+14155550100"), "+14•••••••00");
        assert_eq!(mask_destination("+4930123456"), "+49••••••56");
        assert_eq!(mask_destination("+1234567"), "••••••67");
        assert_eq!(mask_destination("+1234"), "•••••");
        assert_eq!(mask_destination(""), "");
        assert_eq!(mask_destination("user1f@example.com"), "u•••@example.com");
        for number in ["+573003003030", "+14155550100", "+4930123456", "+1234567", "+12345678901234"] {
            let masked = mask_destination(number);
            let hidden = masked.chars().filter(|c| *c == '•').count();
            assert!(hidden >= HIDDEN_DIGITS_AT_LEAST, "{number} → {masked}");
            assert_eq!(masked.chars().count(), number.chars().count(), "{masked}");
        }
    }

    #[test]
    fn a_prefix_long_enough_to_single_out_a_number_is_refused_while_masking() {
        let kept = parse_view("prefix=%2B573003", true);
        assert_eq!(kept.filters.prefix.as_deref(), Some("+573003"));
        assert!(kept.notices.is_empty());
        let refused = parse_view("prefix=%2B5730030&country=CO", true);
        assert_eq!(refused.filters.prefix, None);
        assert_eq!(refused.filters.countries, vec!["CO".to_string()]);
        assert!(refused.notices[0].contains("at most 6 digits"), "{:?}", refused.notices);
        let unmasked = parse_view("prefix=%2B573003003030", false);
        assert_eq!(unmasked.filters.prefix.as_deref(), Some("+573003003030"));
        assert!(unmasked.notices.is_empty());
    }
}
