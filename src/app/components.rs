//! Pieces shared by the pages: header, filter bar, chips, breadcrumbs, notices.

use leptos::prelude::*;

use crate::filters::{Compare, DateRange, Dimension, Filters};
use crate::format::format_count;
use crate::model::{Channel, FriendlyNames};
use crate::page_data::SnapshotStatus;
use crate::paths;

#[component]
pub fn Header(snapshot: SnapshotStatus) -> impl IntoView {
    let freshness = match &snapshot.as_of {
        Some(as_of) => format!("data as of {} UTC", as_of.replace('T', " ").trim_end_matches('Z')),
        None => "no complete sync yet".to_string(),
    };
    let progress = snapshot.syncing.then(|| {
        let of = snapshot.sync_expected.map(|e| format!(" of {}", format_count(e))).unwrap_or_default();
        format!("syncing: {}{of} attempts", format_count(snapshot.sync_attempts))
    });
    view! {
        // `rel="external"`: the browser, not the router, follows it, and moves the focus.
        <a class="skip-link" href="#content" rel="external">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href=paths::url("/")>
                "verilens"
            </a>
            <nav class="sections" aria-label="Sections">
                <a href=paths::url("/")>"Overview"</a>
                <a href=paths::url("/attempts")>"Attempts"</a>
                // Pages outside the app's router: the browser loads them.
                <a href=paths::url("/views") rel="external">"Saved views"</a>
                <a href=paths::url("/alerts") rel="external">"Alerts"</a>
            </nav>
            <span class="freshness" data-testid="freshness" data-as-of=snapshot.as_of.clone().unwrap_or_default()>
                {freshness}
            </span>
            {snapshot
                .demo
                .then(|| {
                    view! {
                        <span class="badge" data-testid="demo-badge" title="No Twilio credentials are set: this is the built-in emulator's synthetic data.">
                            "demo data"
                        </span>
                    }
                })}
            {progress.map(|p| view! { <span class="badge syncing" role="status" data-testid="sync-progress">{p}</span> })}
            {snapshot
                .last_error
                .map(|e| {
                    view! {
                        <span class="sync-error" role="status" data-testid="sync-error">
                            {format!("Last sync failed: {e}. Showing the last complete snapshot.")}
                        </span>
                    }
                })}
        </header>
    }
}

/// "Save this view" and "Alert on this view": forms on the server's pages, for this view
/// with its range as it is (a relative range stays relative).
#[component]
pub fn ViewActions(filters: Filters) -> impl IntoView {
    let mut view = filters;
    view.page = None;
    let query = view.to_query();
    let with_query =
        |path: &str| if query.is_empty() { paths::url(path) } else { format!("{}?{query}", paths::url(path)) };
    view! {
        <a class="export" href=with_query("/views/save") rel="external" data-testid="save-view">
            "Save this view"
        </a>
        " "
        <a class="export" href=with_query("/alerts/new") rel="external" data-testid="alert-on-view">
            "Alert on this view"
        </a>
    }
}

/// Date presets, a custom range form (works without JavaScript), channels, accounts (when
/// the snapshot holds several), comparison.
#[component]
pub fn FilterBar(filters: Filters, path: &'static str, snapshot: SnapshotStatus) -> impl IntoView {
    let range_link = |range: DateRange, label: &'static str| {
        let mut view = filters.clone();
        view.page = None;
        let current = view.range == range;
        view.range = range;
        view! {
            <a href=view.href(path) class:active=current aria-current=current.then_some("true")>
                {label}
            </a>
        }
    };
    let channel_link = |channel: Option<Channel>, label: &'static str| {
        let mut view = filters.clone();
        view.page = None;
        view.channels = channel.into_iter().collect();
        let current = filters.channels == view.channels;
        view! {
            <a href=view.href(path) class:active=current aria-current=current.then_some("true")>
                {label}
            </a>
        }
    };
    // A range of hours (a finding's window) is edited as hours, any other as days.
    let (from, to, field) = match &filters.range {
        DateRange::Between(from, to) => (from.to_string(), to.to_string(), "date"),
        DateRange::Hours(from, to) => (from.to_string(), to.to_string(), "datetime-local"),
        _ => (String::new(), String::new(), "date"),
    };
    // The custom range form keeps every other parameter of the view.
    let mut others = filters.clone();
    others.range = DateRange::LastDays(30);
    let hidden = hidden_inputs(&others);
    let compare = view! { <CompareChoice filters=filters.clone() path /> };
    let accounts = (snapshot.accounts.len() > 1).then(|| {
        let account_link = |account: Option<&String>, label: String| {
            let mut view = filters.clone();
            view.page = None;
            view.accounts = account.cloned().into_iter().collect();
            let current = filters.accounts == view.accounts;
            view! {
                <a href=view.href(path) class:active=current aria-current=current.then_some("true")>
                    {label}
                </a>
            }
        };
        let each =
            snapshot.accounts.iter().map(|a| account_link(Some(a), snapshot.names.short_label(a))).collect_view();
        view! {
            <nav class="filters" aria-label="Account">
                {account_link(None, "All accounts".to_string())}
                {each}
            </nav>
        }
    });
    view! {
        <div class="filterbar">
            <nav class="filters" aria-label="Date range">
                {range_link(DateRange::LastDay, "24 hours")}
                {range_link(DateRange::LastDays(7), "7 days")}
                {range_link(DateRange::LastDays(30), "30 days")}
                {range_link(DateRange::LastDays(90), "90 days")}
                {range_link(DateRange::LastMonths(12), "12 months")}
                {range_link(DateRange::All, "All")}
            </nav>
            <form class="custom-range" method="get" action=paths::url(path) aria-label="Custom date range">
                {hidden}
                <label>"From " <input type=field name="from" value=from required=true step="3600" /></label>
                <label>"to " <input type=field name="to" value=to required=true step="3600" /></label>
                <button type="submit">"Apply"</button>
            </form>
            <CountrySearch filters=filters.clone() path />
            <nav class="filters" aria-label="Channel">
                {channel_link(None, "All channels")}
                {channel_link(Some(Channel::Sms), Channel::Sms.label())}
                {channel_link(Some(Channel::Whatsapp), Channel::Whatsapp.label())}
                {channel_link(Some(Channel::Call), Channel::Call.label())}
                {channel_link(Some(Channel::Email), Channel::Email.label())}
            </nav>
            {accounts}
            {(path == "/").then_some(compare)}
        </div>
    }
}

/// What the view is compared with: the previous period, 4 weeks or a year earlier, none, or
/// days of the user's choosing (a form that works without JavaScript).
#[component]
fn CompareChoice(filters: Filters, path: &'static str) -> impl IntoView {
    let links = Compare::NAMED
        .into_iter()
        .map(|(mode, _, label)| {
            let mut view = filters.clone();
            view.compare = mode;
            let current = filters.compare == mode;
            view! {
                <a href=view.href(path) class:active=current aria-current=current.then_some("true")>
                    {label}
                </a>
            }
        })
        .collect_view();
    let custom = matches!(filters.compare, Compare::Custom(..));
    let (from, to) = match filters.compare {
        Compare::Custom(from, to) => (from.to_string(), to.to_string()),
        _ => (String::new(), String::new()),
    };
    let mut others = filters.clone();
    others.compare = Compare::Previous;
    let hidden = hidden_inputs(&others);
    view! {
        <nav class="filters compare" aria-label="Compare with">
            <span class="label">"Compare with "</span>
            {links}
        </nav>
        <details class="compare-days" open=custom>
            <summary>"Other days…"</summary>
            <form class="custom-range" method="get" action=paths::url(path) aria-label="Compare with days of your choosing">
                {hidden}
                <label>"Compare with " <input type="date" name="compare_from" value=from required=true /></label>
                <label>"to " <input type="date" name="compare_to" value=to required=true /></label>
                <button type="submit">"Compare"</button>
            </form>
        </details>
    }
}

/// `view` (on its first page) as the hidden fields of a GET form that changes one part of it.
fn hidden_inputs(view: &Filters) -> impl IntoView + use<> {
    let mut first_page = view.clone();
    first_page.page = None;
    crate::filters::query_pairs(&first_page.to_query())
        .into_iter()
        .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
        .collect_view()
}

/// A country by name or code: the browser suggests as the user types (a datalist, no script
/// needed), and the view moves to that country, keeping its other filters.
#[component]
fn CountrySearch(filters: Filters, path: &'static str) -> impl IntoView {
    let mut others = filters.clone();
    others.countries.clear();
    let hidden = hidden_inputs(&others);
    let options = crate::model::all_countries()
        .iter()
        .map(|(code, name)| view! { <option value=*code>{*name}</option> })
        .collect_view();
    view! {
        <form class="country-search" method="get" action=paths::url(path) role="search" aria-label="Country">
            {hidden}
            <label>
                "Country "
                <input
                    type="search"
                    name="country"
                    list="country-names"
                    placeholder="Colombia or CO"
                    autocomplete="off"
                    required=true
                    size="16"
                    data-testid="country-search"
                />
            </label>
            <datalist id="country-names">{options}</datalist>
            <button type="submit">"Go"</button>
        </form>
    }
}

/// The applied filters, each with a link that removes it.
#[component]
pub fn Chips(filters: Filters, path: &'static str, services: FriendlyNames) -> impl IntoView {
    let chips = super::navigation::chips(&filters, &services);
    (!chips.is_empty()).then(|| {
        view! {
            <ul class="chips" aria-label="Applied filters" data-testid="chips">
                {chips
                    .into_iter()
                    .map(|(label, without)| {
                        let title = format!("Remove {label}");
                        view! {
                            <li>
                                <a href=without.href(path) title=title.clone() aria-label=title>
                                    {label}
                                    <span aria-hidden="true">" ×"</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

fn labels(values: &[String]) -> String {
    values.iter().map(|v| crate::filters::value_label(v)).collect::<Vec<_>>().join(", ")
}

/// All › country › carrier › error: each step back up the drill-down.
#[component]
pub fn Breadcrumbs(filters: Filters) -> impl IntoView {
    let mut trail = Vec::new();
    let mut level = filters.clone();
    level.page = None;
    level.countries.clear();
    level.carriers.clear();
    level.errors.clear();
    level.by = Dimension::Country;
    trail.push(("All countries".to_string(), level.clone()));
    if !filters.countries.is_empty() {
        level.countries = filters.countries.clone();
        level.by = Dimension::Carrier;
        trail.push((labels(&filters.countries), level.clone()));
    }
    if !filters.carriers.is_empty() {
        level.carriers = filters.carriers.clone();
        level.by = Dimension::Error;
        trail.push((labels(&filters.carriers), level.clone()));
    }
    if !filters.errors.is_empty() {
        level.errors = filters.errors.clone();
        let labels: Vec<String> = filters.errors.iter().map(|code| crate::model::error_label(code)).collect();
        trail.push((format!("error {}", labels.join(", ")), level.clone()));
    }
    (trail.len() > 1).then(|| {
        let last = trail.len() - 1;
        view! {
            <nav class="breadcrumbs" aria-label="Breadcrumbs" data-testid="breadcrumbs">
                {trail
                    .into_iter()
                    .enumerate()
                    .map(|(i, (label, view))| {
                        if i == last {
                            view! { <span aria-current="page">{label}</span> }.into_any()
                        } else {
                            view! {
                                <a href=view.href("/")>{label}</a>
                                <span aria-hidden="true">" › "</span>
                            }
                                .into_any()
                        }
                    })
                    .collect_view()}
            </nav>
        }
    })
}

#[component]
pub fn Notices(notices: Vec<String>) -> impl IntoView {
    (!notices.is_empty()).then(|| {
        view! {
            <div class="notice" role="alert" data-testid="notice">
                <strong>"Some parameters were ignored: "</strong>
                {notices.join("; ")}
            </div>
        }
    })
}

/// A thin bar at the top while a new view loads; the current view stays in place.
#[component]
pub fn PendingBar(pending: RwSignal<bool>) -> impl IntoView {
    view! {
        <div class="pending-bar" class:active=move || pending.get() role="status" aria-live="polite">
            {move || if pending.get() { "Updating…" } else { "" }}
        </div>
    }
}
