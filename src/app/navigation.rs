//! Where a view leads: one row of its breakdown drilled into, or one of its filters removed.

use crate::filters::{DateRange, Dimension, Filters, ViewDate, value_label};
use crate::model::{FriendlyNames, country_label, error_label};

/// This view narrowed to one row of its breakdown (`key`, `""` for an unknown value),
/// moved to the next dimension. The row's value replaces the dimension's filter: with
/// two countries selected, a click on one shows that one.
pub fn drill_down(view: &Filters, key: &str) -> Option<Filters> {
    let mut next = view.clone();
    next.page = None;
    match view.by {
        Dimension::Country => next.countries = vec![key.to_string()],
        Dimension::Channel => next.channels = vec![key.parse().ok()?],
        Dimension::Carrier => next.carriers = vec![key.to_string()],
        Dimension::Service => next.services = vec![key.to_string()],
        Dimension::Account => next.accounts = vec![key.to_string()],
        Dimension::Error => next.errors = vec![if key.is_empty() { "none".into() } else { key.into() }],
        Dimension::Day => {
            let day: ViewDate = key.parse().ok()?;
            next.range = DateRange::Between(day, day);
        }
    }
    if let Some(by) = view.by.next() {
        next.by = by;
    }
    Some(next)
}

/// Every applied filter as (label, the view without it), for removable chips.
pub fn chips(view: &Filters, services: &FriendlyNames) -> Vec<(String, Filters)> {
    let mut chips = Vec::new();
    let mut without = |label: String, change: &dyn Fn(&mut Filters)| {
        let mut f = view.clone();
        f.page = None;
        change(&mut f);
        chips.push((label, f));
    };
    for c in &view.countries {
        let shown = if c.is_empty() { value_label(c).to_string() } else { country_label(c) };
        without(format!("Country: {shown}"), &|f| f.countries.retain(|x| x != c));
    }
    for c in &view.channels {
        without(format!("Channel: {}", c.label()), &|f| f.channels.retain(|x| x != c));
    }
    for c in &view.carriers {
        without(format!("Carrier: {}", value_label(c)), &|f| f.carriers.retain(|x| x != c));
    }
    for c in &view.services {
        let shown = if c.is_empty() { value_label(c).to_string() } else { services.short_label(c) };
        without(format!("Service: {shown}"), &|f| f.services.retain(|x| x != c));
    }
    for c in &view.accounts {
        without(format!("Account: {}", services.short_label(c)), &|f| f.accounts.retain(|x| x != c));
    }
    for c in &view.errors {
        without(format!("Error: {}", error_label(c)), &|f| f.errors.retain(|x| x != c));
    }
    if let Some(s) = view.status {
        without(format!("Status: {s}"), &|f| f.status = None);
    }
    if let Some(p) = &view.prefix {
        without(format!("Prefix: {p}"), &|f| f.prefix = None);
    }
    chips
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::parse_query;

    fn parse(q: &str) -> crate::filters::ParsedFilters {
        parse_query(q)
    }

    #[test]
    fn drilling_into_an_unknown_value_keeps_it_as_a_filter() {
        for (by, key) in
            [("country", "country=unknown"), ("carrier", "carrier=unknown"), ("service", "service=unknown")]
        {
            let view = parse(&format!("by={by}")).filters;
            let next = drill_down(&view, "").unwrap();
            let href = next.href("/");
            assert!(href.contains(key), "{href}");
            let again = parse_query(href.trim_start_matches("/?"));
            assert!(again.notices.is_empty(), "{href}: {:?}", again.notices);
            assert_eq!(again.filters, next, "{href}");
        }
        let error = drill_down(&parse("by=error").filters, "").unwrap();
        assert_eq!(error.errors, vec!["none"]);
        let two = drill_down(&parse("country=CO&country=unknown").filters, "").unwrap();
        assert_eq!(two.countries, vec![String::new()], "the row clicked, not both");
    }

    #[test]
    fn drill_down_adds_the_key_and_moves_to_the_next_dimension() {
        let f = parse("channel=sms").filters;
        let co = drill_down(&f, "CO").unwrap();
        assert_eq!((co.countries.clone(), co.by), (vec!["CO".to_string()], Dimension::Carrier));
        let tigo = drill_down(&co, "Tigo").unwrap();
        assert_eq!((tigo.carriers.clone(), tigo.by), (vec!["Tigo".to_string()], Dimension::Error));
        assert_eq!(tigo.href("/"), "/?country=CO&channel=sms&carrier=Tigo&by=error");
        let removable = chips(&tigo, &FriendlyNames::default());
        assert_eq!(removable.len(), 3);
        assert!(removable[0].1.countries.is_empty());
        let error = chips(&drill_down(&tigo, "30003").unwrap(), &FriendlyNames::default()).pop().unwrap();
        assert_eq!(error.0, "Error: 30003 Unreachable destination handset");
        assert!(error.1.errors.is_empty());
    }
}
