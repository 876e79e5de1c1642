//! `/attempts` (the matching attempts, newest first) and `/attempts/{Sid}`.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map};

use super::components::{Chips, FilterBar, Header, Notices, PendingBar, ViewActions};
use super::errors::{ErrorNotice, PageError};
use crate::filters::{Filters, ListOrder};
use crate::format::{format_money, format_moneys, plural};
use crate::page_data::{AttemptDetail, AttemptList, AttemptRefresh, AttemptRow, Money};
use crate::paths;

#[server(endpoint = "load_attempts")]
pub async fn load_attempts(search: String) -> Result<AttemptList, PageError> {
    super::errors::answer_server_fn("loading attempts", async move {
        let state = expect_context::<crate::state::AppState>();
        crate::views::load_attempts(&state, &search).await
    })
    .await
}

#[server(endpoint = "load_attempt")]
pub async fn load_attempt(sid: String) -> Result<Option<AttemptDetail>, PageError> {
    super::errors::answer_server_fn(&format!("loading attempt {sid:?}"), async {
        let state = expect_context::<crate::state::AppState>();
        crate::views::load_attempt(&state, &sid).await
    })
    .await
}

/// Asks Twilio for the attempt now and writes what it says into the snapshot.
#[server(endpoint = "refresh_attempt")]
pub async fn refresh_attempt(sid: String) -> Result<AttemptRefresh, PageError> {
    super::errors::answer_server_fn(&format!("refreshing attempt {sid:?}"), async {
        let state = expect_context::<crate::state::AppState>();
        crate::views::refresh_attempt(&state, &sid).await
    })
    .await
}

#[component]
pub fn AttemptsPage() -> impl IntoView {
    let location = use_location();
    let pending = RwSignal::new(false);
    let list = Resource::new(move || location.search.get(), load_attempts);
    view! {
        <PendingBar pending />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> } set_pending=pending>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(list) => view! { <AttemptsView list /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AttemptsView(list: AttemptList) -> impl IntoView {
    let filters = list.filters.clone();
    let older = list.next_page.clone().map(|page| {
        let mut view = filters.clone();
        view.page = Some(page);
        view.href("/attempts")
    });
    let newest = filters.page.is_some().then(|| {
        let mut view = filters.clone();
        view.page = None;
        view.href("/attempts")
    });
    let (export, overview, from) = {
        let mut view = filters.clone();
        view.page = None;
        (view.href("/attempts.csv"), view.href("/"), view.to_query())
    };
    let matching = &list.matching;
    // Unpriced attempts (emails) can carry a currency and no amount: no spend to show.
    let priced: Vec<Money> = matching.spend.iter().filter(|m| m.amount != 0.0).cloned().collect();
    let summary = if priced.is_empty() {
        plural(matching.attempts, "attempt")
    } else {
        format!("{} · {}", plural(matching.attempts, "attempt"), format_moneys(&priced))
    };
    view! {
        <Header snapshot=list.snapshot.clone() />
        <main class="page" id="content" tabindex="-1">
            <FilterBar filters=filters.clone() path="/attempts" snapshot=list.snapshot.clone() />
            <Chips filters=filters.clone() path="/attempts" services=list.snapshot.names.clone() />
            <Notices notices=list.notices.clone() />
            <div class="breakdown-head">
                <h1>"Attempts"</h1>
                <a class="export" href=overview>"Back to the overview"</a>
                <a class="export" href=export download="" title="Every attempt of this view, not only this page">
                    "Export CSV"
                </a>
                <ViewActions filters=filters.clone() />
            </div>
            <p class="list-summary">
                <span data-testid="list-summary" title="Every attempt of this view, and their prices">{summary}</span>
                " · "
                <OrderChoice filters=filters.clone() />
            </p>
            {if list.attempts.is_empty() {
                view! { <p class="empty" data-testid="empty">"No attempts match these filters."</p> }.into_any()
            } else {
                let order = filters.clone();
                view! { <AttemptTable attempts=list.attempts.clone() testid="attempts-table" from order timeline=false /> }
                    .into_any()
            }}
            <nav class="pager" aria-label="Pages">
                {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
                {older.map(|href| view! { <a href=href rel="next" data-testid="older">"Older attempts →"</a> })}
            </nav>
        </main>
    }
}

/// The list's orders as links beside its summary, where they are seen before the table's
/// headers (which reorder it too) are reached.
#[component]
fn OrderChoice(filters: Filters) -> impl IntoView {
    let choice = |order: ListOrder, label: &'static str| {
        let mut view = filters.clone();
        view.order = order;
        view.page = None;
        let current = filters.order == order;
        view! {
            <a href=view.href("/attempts") aria-current=current.then_some("true") class:active=current data-testid=format!("choose-{}", order.as_str())>
                {label}
            </a>
        }
    };
    view! {
        <span class="order-choice" role="group" aria-label="Order">
            {choice(ListOrder::Newest, "Newest first")}
            " · "
            {choice(ListOrder::Price, "Priciest first")}
        </span>
    }
}

/// "Refresh from Twilio": a form that works without JavaScript (the page reloads with the
/// snapshot's new copy) and, with it, says what changed.
#[component]
fn RefreshFromTwilio(sid: String, refresh: ServerAction<RefreshAttempt>) -> impl IntoView {
    // Effects run in the browser once the form is hydrated: from then on a click stays on the page.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let submitted = sid.clone();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        refresh.dispatch(RefreshAttempt { sid: submitted.clone() });
    };
    let outcome = move || {
        refresh.value().get().map(|answer| match answer {
            Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
            Ok(AttemptRefresh { problem: Some(problem), .. }) => {
                view! { <p class="notice" role="status">{problem}</p> }.into_any()
            }
            Ok(AttemptRefresh { changes, .. }) if changes.is_empty() => {
                view! { <p role="status">"Nothing changed since the snapshot."</p> }.into_any()
            }
            Ok(AttemptRefresh { changes, .. }) => view! {
                <ul class="changes" role="status" data-testid="refresh-changes">
                    {changes
                        .into_iter()
                        .map(|c| view! { <li>{format!("{}: {} → {}", c.field, c.before, c.after)}</li> })
                        .collect_view()}
                </ul>
            }
            .into_any(),
        })
    };
    view! {
        <form
            class="refresh"
            method="post"
            action=paths::url("/api/refresh_attempt")
            on:submit=on_submit
            data-testid="refresh-form"
            data-hydrated=move || hydrated.get().then_some("true")
        >
            <input type="hidden" name="sid" value=sid />
            <button type="submit" disabled=move || refresh.pending().get() title="Fetch this attempt from Twilio now (one request of the rate limit) and write it into the snapshot">
                {move || if refresh.pending().get() { "Refreshing…" } else { "Refresh from Twilio" }}
            </button>
        </form>
        <div data-testid="refresh-outcome">{outcome}</div>
    }
}

fn price(a: &AttemptRow) -> String {
    match (a.price, &a.price_unit) {
        (Some(amount), Some(currency)) => format_money(&Money { currency: currency.clone(), amount }),
        _ => "pending".to_string(),
    }
}

fn delivery(a: &AttemptRow) -> String {
    a.message_status.clone().or_else(|| a.call_status.clone()).unwrap_or_else(|| "–".to_string())
}

/// Twilio's page for an error code.
fn error_page(code: &str) -> String {
    format!("https://www.twilio.com/docs/api/errors/{code}")
}

/// An error code's title, linked to Twilio's page for it.
fn error_link(code: Option<&str>) -> impl IntoView + use<> {
    code.map(|code| {
        view! {
            <a href=error_page(code) target="_blank" rel="noopener noreferrer" data-testid="error-link" title="Twilio's page for this error">
                {crate::model::error_label(code)}
            </a>
        }
    })
}

/// How long after `first` an attempt was made: `+0s`, `+45s`, `+2m 5s`, `+1h 3m`.
fn offset_after(first: &str, time: &str) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let Some(seconds) = parse(first).zip(parse(time)).map(|(a, b)| (b - a).num_seconds()) else {
        return String::new();
    };
    match seconds {
        s if s < 60 => format!("+{s}s"),
        s if s < 3600 => format!("+{}m {}s", s / 60, s % 60),
        s => format!("+{}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// The header of a column the list can be ordered by: a link to the list in that order
/// (from its first page), marked when it is the list's order.
fn order_header(label: &'static str, numeric: bool, order: ListOrder, list: Option<&Filters>) -> AnyView {
    let Some(list) = list else {
        return view! { <th scope="col" class:num=numeric>{label}</th> }.into_any();
    };
    let current = list.order == order;
    let mut view = list.clone();
    view.order = order;
    view.page = None;
    let help = match order {
        ListOrder::Newest => "Newest first",
        ListOrder::Price => "Priciest first; attempts not priced yet last",
    };
    view! {
        <th scope="col" class:num=numeric aria-sort=if current { "descending" } else { "none" } title=help>
            <a href=view.href("/attempts") data-testid=format!("order-{}", order.as_str())>
                {label}{if current { " ↓" } else { "" }}
            </a>
        </th>
    }
    .into_any()
}

/// Attempts as a table, each linking to its page with `from`, the list's view, so that page
/// leads back to it. With the list's view as `order`, its time and price headers reorder it.
/// As a `timeline`, each says how long after the first it came.
#[component]
fn AttemptTable(
    attempts: Vec<AttemptRow>,
    testid: &'static str,
    from: String,
    #[prop(optional)] order: Option<Filters>,
    timeline: bool,
) -> impl IntoView {
    let first = attempts.first().map(|a| a.date_created.clone()).unwrap_or_default();
    let created_header = order_header("Created (UTC)", false, ListOrder::Newest, order.as_ref());
    let price_header = order_header("Price", true, ListOrder::Price, order.as_ref());
    view! {
        <div class="table-scroll">
            <table class="breakdown" data-testid=testid>
                <thead>
                    <tr>
                        {created_header}
                        {timeline.then(|| view! { <th scope="col">"After the first"</th> })}
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Country"</th>
                        <th scope="col">"Carrier"</th>
                        <th scope="col">"To"</th>
                        <th scope="col">"Conversion"</th>
                        <th scope="col">"Delivery"</th>
                        <th scope="col">"Error"</th>
                        {price_header}
                    </tr>
                </thead>
                <tbody>
                    {attempts
                        .into_iter()
                        .map(|a| {
                            let href = if from.is_empty() {
                                paths::url(&format!("/attempts/{}", a.sid))
                            } else {
                                paths::url(&format!("/attempts/{}?{from}", a.sid))
                            };
                            let offset = timeline.then(|| offset_after(&first, &a.date_created));
                            view! {
                                <tr data-testid="attempt-row" data-sid=a.sid.clone()>
                                    <td class="nowrap">
                                        <a href=href>{a.date_created.replace('T', " ").trim_end_matches('Z').to_string()}</a>
                                    </td>
                                    {offset.map(|o| view! { <td class="timeline-offset" data-testid="offset">{o}</td> })}
                                    <td>{crate::model::channel_label(&a.channel)}</td>
                                    <td>{a.country.clone().unwrap_or_default()}</td>
                                    <td>{a.carrier.clone().unwrap_or_default()}</td>
                                    <td class="mono" data-testid="to">{a.to.clone().unwrap_or_default()}</td>
                                    <td>{a.conversion_status.clone()}</td>
                                    <td>{delivery(&a)}</td>
                                    <td class="nowrap">{error_link(a.error_code.as_deref())}</td>
                                    <td class="num nowrap">{price(&a)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn AttemptDetailPage() -> impl IntoView {
    let params = use_params_map();
    let location = use_location();
    let refresh = ServerAction::<RefreshAttempt>::new();
    // Read again after each refresh, so that the page shows what was written.
    let detail = Resource::new(
        move || (params.read().get("sid").unwrap_or_default(), refresh.version().get()),
        |(sid, _)| load_attempt(sid),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(detail)) => {
                        let from = location.search.get_untracked();
                        view! { <AttemptDetailView detail from refresh /> }.into_any()
                    }
                    Ok(None) => view! { <super::NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// One attempt, with a way back to the list it was opened from (`from`, that list's query).
#[component]
fn AttemptDetailView(detail: AttemptDetail, from: String, refresh: ServerAction<RefreshAttempt>) -> impl IntoView {
    let a = detail.attempt.clone();
    let view = crate::filters::parse_query(&from).filters;
    let back = view.href("/attempts");
    let from = view.to_query();
    let crumbs =
        super::navigation::chips(&view, &detail.snapshot.names).into_iter().map(|(label, _)| label).collect::<Vec<_>>();
    let list_name =
        if crumbs.is_empty() { "Attempts".to_string() } else { format!("Attempts ({})", crumbs.join(", ")) };
    let field = |label: &'static str, value: String| {
        view! {
            <dt>{label}</dt>
            <dd>{value}</dd>
        }
    };
    view! {
        <Header snapshot=detail.snapshot.clone() />
        <main class="page" id="content" tabindex="-1">
            <nav class="breadcrumbs" aria-label="Breadcrumb" data-testid="attempt-breadcrumbs">
                <a href=paths::url("/")>"Overview"</a>
                " › "
                <a href=back data-testid="back-to-list">{list_name}</a>
                " › "
                <span aria-current="page">{a.sid.clone()}</span>
            </nav>
            <h1 data-testid="attempt-sid">{a.sid.clone()}</h1>
            <dl class="fields" data-testid="attempt-fields">
                {field("Created (UTC)", a.date_created.clone())}
                {field("Updated (UTC)", a.date_updated.clone())}
                {field("Channel", crate::model::channel_label(&a.channel))}
                {field("To", a.to.clone().unwrap_or_default())}
                {field("Country", a.country.as_deref().map(crate::model::country_label).unwrap_or_default())}
                {field("Carrier", a.carrier.clone().unwrap_or_default())}
                {field("Conversion", a.conversion_status.clone())}
                {field("Delivery", delivery(&a))}
                <dt>"Error code"</dt>
                <dd>{match a.error_code.as_deref() {
                    Some(code) => error_link(Some(code)).into_any(),
                    None => "none".into_any(),
                }}</dd>
                {field("Price", price(&a))}
                {field("Verification", a.verification_sid.clone())}
                {field("Service", detail.snapshot.names.label(&a.service_sid))}
                {(detail.snapshot.accounts.len() > 1)
                    .then(|| field("Account", detail.snapshot.names.label(&a.account_sid)))}
            </dl>
            <RefreshFromTwilio sid=a.sid.clone() refresh />
            <h2>"Attempts of this verification, in order"</h2>
            <AttemptTable attempts=detail.verification testid="verification-table" from timeline=true />
        </main>
    }
}
