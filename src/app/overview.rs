//! `/`: totals, conversion by country, and the chart, for the view in the URL.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::filters::Filters;
use crate::model::Channel;
use crate::report::{Overview, SnapshotStatus, format_count, format_percent};

/// The overview for a URL query string; invalid parameters come back as notices.
#[server]
pub async fn load_overview(search: String) -> Result<Overview, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    crate::server::load_overview(&state, &search).await.map_err(|e| {
        tracing::error!("loading the overview: {e:?}");
        ServerFnError::new("The snapshot could not be read; see the server log.")
    })
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let location = use_location();
    let overview = Resource::new(move || location.search.get(), load_overview);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(data) => view! { <OverviewView data /> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OverviewView(data: Overview) -> impl IntoView {
    let rows = data.countries.clone();
    let filters = data.filters.clone();
    view! {
        <Header snapshot=data.snapshot.clone() />
        <main class="page">
            <ChannelFilter filters=filters.clone() />
            <Notices notices=data.notices.clone() />
            <p class="range" data-testid="range" data-first-day=data.first_day.clone() data-last-day=data.last_day.clone()>
                {format!("{} to {} (UTC)", data.first_day, data.last_day)}
            </p>
            <section class="kpis" aria-label="Totals">
                <div class="kpi" title="Verification attempts in the range: every SMS, WhatsApp message, call or email sent.">
                    <span class="kpi-label">"Attempts"</span>
                    <span class="kpi-value" data-testid="kpi-attempts" data-value=data.totals.attempts>
                        {format_count(data.totals.attempts)}
                    </span>
                </div>
                <div class="kpi" title="Converted attempts over all attempts: the share of codes the user entered.">
                    <span class="kpi-label">"Conversion rate"</span>
                    <span class="kpi-value" data-testid="kpi-conversion">
                        {format_percent(data.totals.rate_percent())}
                    </span>
                </div>
            </section>
            <section class="chart-card" aria-label="Conversion rate by country chart">
                <div id="country-chart" class="chart" data-testid="country-chart"></div>
            </section>
            <CountryChart rows=rows.clone() />
            <section aria-label="Conversion by country">
                <h2>"By country"</h2>
                {if rows.is_empty() {
                    view! { <p class="empty" data-testid="empty">"No attempts match these filters."</p> }.into_any()
                } else {
                    view! {
                        <table class="breakdown" data-testid="country-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Country"</th>
                                    <th scope="col" class="num">"Attempts"</th>
                                    <th scope="col" class="num">"Converted"</th>
                                    <th scope="col" class="num">"Conversion rate"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .map(|row| {
                                        view! {
                                            <tr data-testid="country-row" data-country=row.country.clone()>
                                                <th scope="row">{row.country.clone()}</th>
                                                <td class="num" data-testid="attempts">{format_count(row.conversion.attempts)}</td>
                                                <td class="num" data-testid="converted">{format_count(row.conversion.converted)}</td>
                                                <td class="num" data-testid="rate">{format_percent(row.conversion.rate_percent())}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }}
            </section>
        </main>
    }
}

#[component]
fn Header(snapshot: SnapshotStatus) -> impl IntoView {
    let freshness = match &snapshot.as_of {
        Some(as_of) => format!("data as of {} UTC", as_of.replace('T', " ").trim_end_matches('Z')),
        None => "no complete sync yet".to_string(),
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">"verilens"</a>
            <span class="freshness" data-testid="freshness" data-as-of=snapshot.as_of.clone().unwrap_or_default()>
                {freshness}
            </span>
            {snapshot.demo.then(|| view! { <span class="badge" data-testid="demo-badge">"demo data"</span> })}
            {snapshot.syncing.then(|| view! { <span class="badge syncing">"syncing…"</span> })}
            {snapshot
                .last_error
                .map(|e| view! { <span class="sync-error" role="status">{format!("last sync failed: {e}")}</span> })}
        </header>
    }
}

/// Links that set the channel filter, keeping the rest of the view.
#[component]
fn ChannelFilter(filters: Filters) -> impl IntoView {
    let link = move |channel: Option<Channel>| {
        let mut view = filters.clone();
        view.channels = channel.into_iter().collect();
        let query = view.to_query();
        let href = if query.is_empty() { "/".to_string() } else { format!("/?{query}") };
        let current = filters.channels == view.channels;
        (href, current)
    };
    let options = [
        (None, "All channels"),
        (Some(Channel::Sms), "SMS"),
        (Some(Channel::Whatsapp), "WhatsApp"),
        (Some(Channel::Call), "Call"),
        (Some(Channel::Email), "Email"),
    ];
    view! {
        <nav class="filters" aria-label="Channel">
            {options
                .into_iter()
                .map(|(channel, label)| {
                    let (href, current) = link(channel);
                    view! {
                        <a href=href class:active=current aria-current=current.then_some("page")>
                            {label}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

#[component]
fn Notices(notices: Vec<String>) -> impl IntoView {
    (!notices.is_empty()).then(|| {
        view! {
            <div class="notice" role="alert" data-testid="notice">
                <strong>"Some parameters were ignored: "</strong>
                {notices.join("; ")}
            </div>
        }
    })
}

/// Draws the chart once the page is hydrated; the server renders only its container.
#[component]
fn CountryChart(rows: Vec<crate::report::CountryRow>) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let chart = crate::charts::conversion_by_country(&rows);
        if let Err(e) = charming::WasmRenderer::new_opt(None, None).render("country-chart", &chart) {
            leptos::logging::error!("drawing the country chart: {e:?}");
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = rows;
}
