//! `/attempts` (the matching attempts, newest first) and `/attempts/{Sid}`.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map};

use super::components::{Chips, FilterBar, Header, Notices, PendingBar};
use super::errors::{ErrorNotice, PageError};
use crate::format::format_money;
use crate::page_data::{AttemptDetail, AttemptList, AttemptRow, Money};

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
    let (export, overview) = {
        let mut view = filters.clone();
        view.page = None;
        (view.href("/attempts.csv"), view.href("/"))
    };
    view! {
        <Header snapshot=list.snapshot.clone() />
        <main class="page">
            <FilterBar filters=filters.clone() path="/attempts" />
            <Chips filters=filters.clone() path="/attempts" />
            <Notices notices=list.notices.clone() />
            <div class="breakdown-head">
                <h1>"Attempts"</h1>
                <a class="export" href=overview>"Back to the overview"</a>
                <a class="export" href=export download="" title="Every attempt of this view, not only this page">
                    "Export CSV"
                </a>
            </div>
            {if list.attempts.is_empty() {
                view! { <p class="empty" data-testid="empty">"No attempts match these filters."</p> }.into_any()
            } else {
                view! { <AttemptTable attempts=list.attempts.clone() testid="attempts-table" /> }.into_any()
            }}
            <nav class="pager" aria-label="Pages">
                {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
                {older.map(|href| view! { <a href=href rel="next" data-testid="older">"Older attempts →"</a> })}
            </nav>
        </main>
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

#[component]
fn AttemptTable(attempts: Vec<AttemptRow>, testid: &'static str) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="breakdown" data-testid=testid>
                <thead>
                    <tr>
                        <th scope="col">"Created (UTC)"</th>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Country"</th>
                        <th scope="col">"Carrier"</th>
                        <th scope="col">"To"</th>
                        <th scope="col">"Conversion"</th>
                        <th scope="col">"Delivery"</th>
                        <th scope="col">"Error"</th>
                        <th scope="col" class="num">"Price"</th>
                    </tr>
                </thead>
                <tbody>
                    {attempts
                        .into_iter()
                        .map(|a| {
                            let href = format!("/attempts/{}", a.sid);
                            view! {
                                <tr data-testid="attempt-row" data-sid=a.sid.clone()>
                                    <td>
                                        <a href=href>{a.date_created.replace('T', " ").trim_end_matches('Z').to_string()}</a>
                                    </td>
                                    <td>{crate::model::channel_label(&a.channel)}</td>
                                    <td>{a.country.clone().unwrap_or_default()}</td>
                                    <td>{a.carrier.clone().unwrap_or_default()}</td>
                                    <td class="mono" data-testid="to">{a.to.clone().unwrap_or_default()}</td>
                                    <td>{a.conversion_status.clone()}</td>
                                    <td>{delivery(&a)}</td>
                                    <td>{a.error_code.as_deref().map(crate::model::error_label).unwrap_or_default()}</td>
                                    <td class="num">{price(&a)}</td>
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
    let detail = Resource::new(move || params.read().get("sid").unwrap_or_default(), load_attempt);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(detail)) => view! { <AttemptDetailView detail /> }.into_any(),
                    Ok(None) => view! { <super::NotFound /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AttemptDetailView(detail: AttemptDetail) -> impl IntoView {
    let a = detail.attempt.clone();
    let field = |label: &'static str, value: String| {
        view! {
            <dt>{label}</dt>
            <dd>{value}</dd>
        }
    };
    view! {
        <Header snapshot=detail.snapshot.clone() />
        <main class="page">
            <h1 data-testid="attempt-sid">{a.sid.clone()}</h1>
            <dl class="fields" data-testid="attempt-fields">
                {field("Created (UTC)", a.date_created.clone())}
                {field("Updated (UTC)", a.date_updated.clone())}
                {field("Channel", crate::model::channel_label(&a.channel))}
                {field("To", a.to.clone().unwrap_or_default())}
                {field("Country", a.country.clone().unwrap_or_default())}
                {field("Carrier", a.carrier.clone().unwrap_or_default())}
                {field("Conversion", a.conversion_status.clone())}
                {field("Delivery", delivery(&a))}
                {field("Error code", a.error_code.as_deref().map_or_else(|| "none".to_string(), crate::model::error_label))}
                {field("Price", price(&a))}
                {field("Verification", a.verification_sid.clone())}
                {field("Service", a.service_sid.clone())}
            </dl>
            <h2>"Attempts of this verification"</h2>
            <AttemptTable attempts=detail.verification testid="verification-table" />
        </main>
    }
}
