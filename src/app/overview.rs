//! `/`: KPIs against the previous period, charts, and the breakdown table, for the view in the URL.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::comparison::{ComparisonBasis, against, chart_help, describe_windows, significance_help};
use super::components::{Breadcrumbs, Chips, FilterBar, Header, Notices, PendingBar, ViewActions};
use super::errors::{ErrorNotice, PageError};
use super::kpis::{Measure, kpis, trend_lines};
use crate::filters::{Dimension, Filters, SortKey};
use crate::format::{format_count, format_moneys, format_percent};
use crate::model::FriendlyNames;
use crate::page_data::{BreakdownRow, Change, Metrics, Overview, Period};
use crate::paths;

/// The overview for a URL query string; invalid parameters come back as notices.
#[server(endpoint = "load_overview")]
pub async fn load_overview(search: String) -> Result<Overview, PageError> {
    super::errors::answer_server_fn("loading the overview", async move {
        let state = expect_context::<crate::state::AppState>();
        crate::views::load_overview(&state, &search).await
    })
    .await
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let location = use_location();
    let pending = RwSignal::new(false);
    let overview = Resource::new(move || location.search.get(), load_overview);
    view! {
        <PendingBar pending />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> } set_pending=pending>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(data) => view! { <OverviewView data /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewView(data: Overview) -> impl IntoView {
    let filters = data.filters.clone();
    let range = data.range_text.clone();
    let permalink = data.permalink.clone();
    let rate_rows: Vec<BreakdownRow> =
        if crate::charts::shows_rate_chart(filters.by, &data.rows) { data.rows.clone() } else { Vec::new() };
    let rate_targets: Vec<String> = rate_rows.iter().map(|row| drill_down_href(&filters, &row.key)).collect();
    let time_table = crate::charts::attempts_and_conversion_table(&data.buckets, data.bucket_size, &data.series);
    let too_few = crate::charts::has_too_few_to_judge(&data.series);
    let size = data.bucket_size;
    let compared = data.change.as_ref().map(|c| c.windows.compare.against());
    let chart_help = chart_help(&data.buckets, size, compared.as_deref());
    view! {
        <Header snapshot=data.snapshot.clone() />
        <main class="page" id="content" tabindex="-1">
            <FilterBar filters=filters.clone() path="/" snapshot=data.snapshot.clone() />
            <Breadcrumbs filters=filters.clone() />
            <Chips filters=filters.clone() path="/" services=data.snapshot.names.clone() />
            <Notices notices=data.notices.clone() />
            <p class="range" data-testid="range" data-start=data.start.clone() data-end=data.end.clone()>
                {range}
                " · "
                <a href=permalink.clone() data-testid="permalink" title="This view with fixed dates, to share">
                    "Link with fixed dates"
                </a>
                <CopyLink href=permalink />
                " · "
                <ViewActions filters=filters.clone() />
            </p>
            <Kpis totals=data.totals.clone() change=data.change.clone() trend=data.trend.clone() unit=size.unit() verification_fee=data.verification_fee.clone() />
            <p class="note fee-note" data-testid="fee-note">{data.verification_fee.clone()}</p>
            {data.comparison_note.clone().map(|note| view! { <p class="note" data-testid="comparison-note">{note}</p> })}
            {data.change.as_ref().map(|c| view! { <ComparisonBasis windows=c.windows.clone() /> })}
            <div class="advice" inner_html=data.what_to_do_html.clone()></div>
            <Anomalies anomalies=data.anomalies.clone() />
            <section class="chart-card" aria-label="Attempts and conversion rate over time" title=chart_help>
                <div class="chart-frame">
                    <div
                        id="chart-timeseries"
                        class="chart"
                        data-testid="timeseries-chart"
                        role="img"
                        aria-label="Attempts per channel and the conversion rate over time; the data is in the table below"
                    ></div>
                    // The server's drawing, until ECharts draws in the element above (the
                    // stylesheet hides it then).
                    <div class="chart-static" inner_html=data.timeseries_svg.clone()></div>
                </div>
                {too_few
                    .then(|| {
                        view! {
                            <p class="note" data-testid="too-few-note">
                                {format!(
                                    "Periods with fewer than {} attempts have no rate on the chart: too few to judge.",
                                    crate::charts::MIN_ATTEMPTS_FOR_A_RATE,
                                )}
                            </p>
                        }
                    })}
                <ChartData table=time_table testid="timeseries-data" />
                <Annotations annotations=data.annotations.clone() />
            </section>
            {(!rate_rows.is_empty())
                .then(|| {
                    let title = crate::charts::rate_chart_title(filters.by);
                    let table = crate::charts::conversion_table(filters.by, &rate_rows, &data.snapshot.names);
                    view! {
                        <section class="chart-card" aria-label=title.clone()>
                            <div class="chart-frame">
                                <div
                                    id="rate-chart"
                                    class="chart"
                                    data-testid="rate-chart"
                                    role="img"
                                    aria-label=format!("{title}; click a bar to drill down; the data is in the table below")
                                ></div>
                                <div class="chart-static" inner_html=data.rate_svg.clone()></div>
                            </div>
                            <ChartData table testid="rate-data" />
                        </section>
                    }
                })}
            {(filters.by == Dimension::Country && !crate::charts::mapped_countries(&data.rows).is_empty())
                .then(|| view! { <WorldMap filters=filters.clone() rows=data.rows.clone() options=data.map_options.clone() /> })}
            <Charts
                buckets=data.buckets.clone()
                series=data.series.clone()
                previous=data.previous_series.clone()
                annotations=data.annotations.clone()
                by=filters.by
                rates=rate_rows
                targets=rate_targets
                services=data.snapshot.names.clone()
            />
            <Breakdown
                filters=filters
                rows=data.rows
                services=data.snapshot.names.clone()
                several_accounts={ data.snapshot.accounts.len() > 1 }
            />
            <div class="advice" inner_html=data.funnel_html.clone()></div>
        </main>
    }
}

/// Pumping bursts, carrier outages and significant drops, each a link to its view.
#[component]
fn Anomalies(anomalies: Vec<crate::page_data::Anomaly>) -> impl IntoView {
    view! {
        <section class="anomalies" aria-label="Worth a look" data-testid="anomalies">
            <h2>"Worth a look"</h2>
            {if anomalies.is_empty() {
                view! { <p class="note">"Nothing unusual in this view."</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {anomalies
                            .into_iter()
                            .map(|a| {
                                let help = match a.kind.as_str() {
                                    "conversion-drop" => DROP_HELP,
                                    "sms-pumping" => PUMPING_HELP,
                                    _ => OUTAGE_HELP,
                                };
                                view! {
                                    <li data-kind=a.kind.clone() title=help>
                                        <a href=a.href>{a.title}</a>
                                        ": "
                                        {a.detail}
                                        {a.related.map(|related| view! {
                                            <span class="related" data-testid="related" title=DROP_HELP>
                                                "It explains what this view compares: " {related}
                                            </span>
                                        })}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}

/// Copies the permalink (relative ranges made absolute) to the clipboard.
#[component]
fn CopyLink(href: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let origin = window.location().origin().unwrap_or_default();
            let _ = window.navigator().clipboard().write_text(&format!("{origin}{href}"));
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &href;
    };
    view! {
        " "
        <button type="button" class="link-button" on:click=copy data-testid="copy-link">
            {move || if copied.get() { "Copied" } else { "Copy link" }}
        </button>
    }
}

const PUMPING_HELP: &str = "Hours in which a country's unconverted SMS reach at least 40 and five times its usual hour \
    (the median of its hours with SMS in the whole snapshot), run together; found once in the snapshot, so every \
    view that overlaps the burst shows the same window and figures. The link lists exactly its hours' unconverted SMS.";

const OUTAGE_HELP: &str = "Three or more hours in which a carrier that usually delivers (60% or more over the \
    snapshot) delivered 25% or fewer of its messages with a final status, hours less than 6 apart run together; \
    found once in the snapshot. The link shows exactly its hours, by error code.";

const DROP_HELP: &str = "A country is listed when the share of its verifications that converted fell by more \
    than 2 points against the same windows of the previous period, and the fall is a discovery: two-sided \
    two-proportion z-test on verifications (attempts of one verification are not independent), with \
    Benjamini–Hochberg keeping the false discovery rate at 5% across the tests the view runs.";

/// A tile's change against the compared windows, in its measure's terms (money in
/// `currency`), with the windows as its tooltip.
fn measure_change(measure: Measure, change: Option<&Change>, currency: &str) -> Option<(String, String)> {
    let change = change?;
    let now = measure.read(&change.current, currency)?;
    let then = measure.read(&change.previous, currency)?;
    let text = measure.change(now, then)?;
    let money = matches!(measure, Measure::Money(_)).then(|| format!(" (in {currency})")).unwrap_or_default();
    Some((format!("{text} vs {}{money}", against(&change.windows)), describe_windows(&change.windows)))
}

/// `+3.2% vs the previous period`, with the windows compared as its tooltip.
fn delta_counts(current: u64, previous: u64, change: &Change) -> Option<(String, String)> {
    (previous > 0).then(|| {
        let delta = (current as f64 - previous as f64) * 100.0 / previous as f64;
        (format!("{delta:+.1}% vs {}", against(&change.windows)), describe_windows(&change.windows))
    })
}

/// A tile's figure in each settled period of the view, as a small line; its label says
/// where it started and ended, for screen readers and the tooltip.
#[component]
fn TrendLine(values: Vec<Option<f64>>, label: &'static str, unit: &'static str) -> impl IntoView {
    let (width, height) = (120.0, 24.0);
    let lines = trend_lines(&values, width, height);
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let described = match (known.first(), known.last()) {
        (Some(first), Some(last)) if known.len() > 1 => format!(
            "{label} by {unit}, {} periods: {} in the first, {} in the last",
            values.len(),
            trimmed(*first),
            trimmed(*last)
        ),
        _ => String::new(),
    };
    let points = values.len().to_string();
    (!described.is_empty()).then(|| {
        let title = described.clone();
        view! {
            <svg class="trend" viewBox=format!("-1 -1 {} {}", width + 2.0, height + 2.0) preserveAspectRatio="none"
                role="img" aria-label=described data-testid="kpi-trend" data-points=points>
                <title>{title}</title>
                {lines.into_iter().map(|points| view! { <polyline points=points /> }).collect_view()}
            </svg>
        }
    })
}

/// A figure for a trend line's label: at most two decimals, no trailing zeros.
fn trimmed(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[component]
fn Kpis(
    totals: Metrics,
    change: Option<Change>,
    trend: Vec<Period>,
    unit: &'static str,
    verification_fee: String,
) -> impl IntoView {
    let currency = totals.main_currency();
    let interval =
        totals.rate_interval.map(|(low, high)| format!("95% interval {low:.1}–{high:.1}%")).unwrap_or_default();
    let rate_change = change.as_ref().and_then(|c| {
        c.rate_points.map(|points| {
            let verdict = if c.significant { "significant" } else { "not significant" };
            (format!("{points:+.1} pts vs {}", against(&c.windows)), verdict, c.significant, significance_help(c))
        })
    });
    let sub =
        |text: Option<(String, String)>| text.map(|(s, why)| view! { <span class="kpi-sub" title=why>{s}</span> });
    let mut attempts_change = change.as_ref().and_then(|c| delta_counts(c.current.attempts, c.previous.attempts, c));
    let mut verifications_change =
        change.as_ref().and_then(|c| delta_counts(c.current.verifications, c.previous.verifications, c));
    let tiles = kpis(&totals)
        .into_iter()
        .map(|kpi| {
            let extra = match kpi.testid {
                "kpi-attempts" => sub(attempts_change.take()).into_any(),
                "kpi-verifications" => sub(verifications_change.take()).into_any(),
                "kpi-conversion" => {
                    let change = rate_change.clone().map(|(text, verdict, significant, why)| {
                        view! {
                            <span class="kpi-sub" class:significant=significant data-testid="kpi-conversion-change" data-significant=significant.to_string() title=why>
                                {text}
                                {if significant { " ● " } else { " " }}
                                {format!("({verdict} per verification, 5% false discovery rate)")}
                            </span>
                        }
                    });
                    view! {
                        <span class="kpi-sub">{interval.clone()}</span>
                        {change}
                    }
                        .into_any()
                }
                "kpi-spend" => view! {
                    <span class="kpi-sub" data-testid="kpi-channel-fees"
                        title="The attempts' prices: what the channels (SMS, WhatsApp, calls) cost.">
                        {format!("{} channel fees", format_moneys(&totals.spend))}
                    </span>
                    <span class="kpi-sub" data-testid="kpi-verification-fees" title=verification_fee.clone()>
                        {format!(
                            "+ {} verification fees ({} successful)",
                            format_moneys(&totals.verification_fees),
                            format_count(totals.converted_verifications),
                        )}
                    </span>
                    {sub(Some((
                        format!("{} on attempts that did not convert", format_moneys(&totals.unconverted_attempt_spend)),
                        "Channel fees of attempts whose own code was not entered, those of verifications that \
                         converted on a retry included: not all of it was wasted."
                            .to_string(),
                    )))}
                    {(totals.unpriced_attempts > 0).then(|| view! {
                        <span class="kpi-sub unpriced" data-testid="kpi-unpriced"
                            title="Twilio prices an attempt up to 24 hours after it is sent: until then its channel fee is \
                                   unknown and not counted, so a recent period looks cheaper than it will be.">
                            {format!(
                                "{} attempts ({}) not priced yet",
                                format_count(totals.unpriced_attempts),
                                format_percent(totals.unpriced_percent()),
                            )}
                        </span>
                    })}
                    {sub(measure_change(kpi.measure, change.as_ref(), &currency))}
                }
                .into_any(),
                _ => sub(measure_change(kpi.measure, change.as_ref(), &currency)).into_any(),
            };
            let values: Vec<Option<f64>> = trend.iter().map(|p| kpi.measure.read(&p.metrics, &currency)).collect();
            let help = kpi.help();
            view! {
                <div class="kpi" title=help>
                    <span class="kpi-label">{kpi.label}</span>
                    <span class="kpi-value" data-testid=kpi.testid>{kpi.value}</span>
                    {extra}
                    <TrendLine values label=kpi.label unit />
                </div>
            }
        })
        .collect_view();
    view! { <section class="kpis" aria-label="Totals">{tiles}</section> }
}

/// A chart's data as a table, folded under it: the chart's text alternative, there before
/// the chart is drawn.
#[component]
fn ChartData(table: crate::charts::ChartTable, testid: &'static str) -> impl IntoView {
    view! {
        <details class="chart-data" data-testid=testid>
            <summary>"The data as a table"</summary>
            <div class="table-scroll">
                <table class="breakdown">
                    <thead>
                        <tr>{table.columns.into_iter().map(|c| view! { <th scope="col">{c}</th> }).collect_view()}</tr>
                    </thead>
                    <tbody>
                        {table
                            .rows
                            .into_iter()
                            .map(|row| {
                                let mut cells = row.into_iter();
                                let head = cells.next().unwrap_or_default();
                                view! {
                                    <tr>
                                        <th scope="row">{head}</th>
                                        {cells.map(|c| view! { <td>{c}</td> }).collect_view()}
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </details>
    }
}

/// The annotations the chart marks, listed under it as text, with where to add one.
#[component]
fn Annotations(annotations: Vec<crate::page_data::Annotation>) -> impl IntoView {
    let when = |a: &crate::page_data::Annotation| {
        let short = |t: &str| t.get(..16).unwrap_or(t).replace('T', " ");
        match &a.end {
            Some(end) if end != &a.at => format!("{} to {} UTC", short(&a.at), short(end)),
            _ => format!("{} UTC", short(&a.at)),
        }
    };
    view! {
        <div class="annotations" data-testid="annotations">
            {(!annotations.is_empty())
                .then(|| {
                    view! {
                        <ul aria-label="Annotations">
                            {annotations
                                .iter()
                                .map(|a| {
                                    let source = if a.source == "incident" { " (found by verilens)" } else { "" };
                                    view! {
                                        <li data-testid="annotation">
                                            <span class="note">{when(a)}</span>
                                            " · "
                                            {a.text.clone()}
                                            {source}
                                            {a.link.clone().map(|href| view! { " · " <a href=href rel="noopener noreferrer nofollow">"link"</a> })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
            <a href=paths::url("/annotations") rel="external" class="note">"Add an annotation"</a>
        </div>
    }
}

/// Where a breakdown row leads: the next dimension's breakdown, or the attempts.
fn drill_down_href(filters: &Filters, key: &str) -> String {
    match super::navigation::drill_down(filters, key) {
        Some(next) if filters.by.next().is_some() => next.href("/"),
        Some(next) => next.href("/attempts"),
        None => filters.href("/attempts"),
    }
}

/// Draws the charts once the page is hydrated; the server renders only their containers.
/// A click on a bar of the rate chart goes where its row's link goes (`targets`).
#[component]
fn Charts(
    buckets: Vec<crate::page_data::Bucket>,
    series: Vec<crate::page_data::SeriesPoint>,
    previous: Vec<crate::page_data::SeriesPoint>,
    annotations: Vec<crate::page_data::Annotation>,
    by: Dimension,
    rates: Vec<BreakdownRow>,
    targets: Vec<String>,
    services: FriendlyNames,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    let navigate = leptos_router::hooks::use_navigate();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let draw = |id: &str, options: serde_json::Value| {
            let instance = render_chart(id, &options.to_string());
            if instance.is_none() {
                leptos::logging::error!("drawing {id} failed");
            }
            instance
        };
        use crate::charts;
        let timeseries = charts::attempts_and_conversion(&buckets, &series, &previous, &annotations);
        draw("chart-timeseries", charts::responsive(&timeseries, charts::attempts_and_conversion_narrow()));
        if !rates.is_empty()
            && let Some(instance) = draw(
                "rate-chart",
                charts::responsive(&charts::conversion_by(by, &rates, &services), charts::conversion_by_narrow()),
            )
        {
            let (navigate, targets) = (navigate.clone(), targets.clone());
            on_click("rate-chart", &instance, move |index| {
                if let Some(href) = targets.get(index) {
                    navigate(href, Default::default());
                }
            });
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (buckets, series, previous, annotations, by, rates, targets, services);
}

/// Conversion by country on a world map, drawn when a user opens it: the map's ECharts and
/// the world's outlines load then, not with the page. A click on a country drills down to it.
/// The figures are those of the rate chart's table.
#[component]
fn WorldMap(filters: Filters, rows: Vec<BreakdownRow>, options: String) -> impl IntoView {
    let mapped = crate::charts::mapped_countries(&rows);
    // By the name the map gives each country: ECharts orders a map's data by its outlines.
    let targets: std::collections::HashMap<String, String> =
        mapped.iter().map(|row| (crate::model::country_label(&row.key), drill_down_href(&filters, &row.key))).collect();
    let countries = mapped.len();
    #[cfg(feature = "hydrate")]
    let draw = {
        let navigate = leptos_router::hooks::use_navigate();
        move |ev: leptos::ev::Event| {
            let opened = ev.target().and_then(|t| js_sys::Reflect::get(&t, &"open".into()).ok());
            if opened.and_then(|o| o.as_bool()) == Some(true) {
                let (navigate, targets) = (navigate.clone(), targets.clone());
                draw_world_map(options.clone(), move |name| {
                    if let Some(href) = targets.get(&name) {
                        navigate(href, Default::default());
                    }
                });
            }
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let draw = {
        let _ = (targets, options);
        |_: leptos::ev::Event| {}
    };
    view! {
        <details class="chart-card world-map" data-testid="world-map" on:toggle=draw>
            <summary>"Map of conversion by country"</summary>
            <div
                id="world-map"
                class="chart map"
                role="img"
                aria-label=format!(
                    "World map of the share of attempts converted in {countries} countries; click a country to drill down; the figures are in the rate chart's table"
                )
            ></div>
        </details>
    }
}

/// Loads the map's ECharts (once) and draws `options` on the world map; `clicked` gets the
/// name of the country clicked.
#[cfg(feature = "hydrate")]
fn draw_world_map(options: String, clicked: impl Fn(String) + 'static) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    let draw = move |echarts: wasm_bindgen::JsValue| {
        if let Some(instance) = render_chart_with(&echarts, "world-map", &options) {
            on_click_event("world-map", &instance, move |event| {
                if let Some(name) = js_sys::Reflect::get(&event, &"name".into()).ok().and_then(|n| n.as_string()) {
                    clicked(name);
                }
            });
        }
    };
    let when_ready = move || {
        let ready = js_sys::Reflect::get(&js_sys::global(), &"echartsMapReady".into()).ok();
        match ready.and_then(|r| r.dyn_into::<js_sys::Promise>().ok()) {
            Some(ready) => {
                // Called once, when the map is ready; a closure's few bytes per opening.
                let draw = Closure::once(draw);
                let _ = ready.then(&draw);
                draw.forget();
            }
            None => leptos::logging::error!("the world map could not be loaded"),
        }
    };
    let loaded = js_sys::Reflect::get(&js_sys::global(), &"echartsMapReady".into()).is_ok_and(|r| !r.is_undefined());
    if loaded {
        when_ready();
        return;
    }
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(script) = document.create_element("script") else { return };
    let _ = script.set_attribute("src", &crate::paths::url("/echarts-map.min.js"));
    let _ = js_sys::Reflect::set(&script, &"onload".into(), &Closure::once_into_js(when_ready));
    if let Some(body) = document.body() {
        let _ = body.append_child(&script);
    }
}

/// Draws `chart` in the element `id` with ECharts, a fresh instance per view (ECharts would
/// otherwise merge the new options into the previous view's chart and keep its extra
/// series), the previous one disposed; the instance. The options go over as JSON: charming's
/// own renderer hands maps over as JavaScript `Map`s, which ECharts ignores (the legend's
/// `selected`).
#[cfg(feature = "hydrate")]
fn render_chart(id: &str, options: &str) -> Option<wasm_bindgen::JsValue> {
    let echarts = js_sys::Reflect::get(&js_sys::global(), &"echarts".into()).ok()?;
    render_chart_with(&echarts, id, options)
}

/// `render_chart` with the ECharts `echarts` (the page's, or the map's own).
#[cfg(feature = "hydrate")]
fn render_chart_with(echarts: &wasm_bindgen::JsValue, id: &str, options: &str) -> Option<wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let element = web_sys::window()?.document()?.get_element_by_id(id)?;
    let method = |of: &wasm_bindgen::JsValue, name: &str| {
        js_sys::Reflect::get(of, &name.into()).ok()?.dyn_into::<js_sys::Function>().ok()
    };
    let echarts = echarts.clone();
    let previous = method(&echarts, "getInstanceByDom")?.call1(&echarts, &element).ok()?;
    if let Some(dispose) = method(&previous, "dispose") {
        let _ = dispose.call0(&previous);
    }
    CLICK_HANDLERS.with(|handlers| handlers.borrow_mut().remove(id));
    let instance = method(&echarts, "init")?.call1(&echarts, &element).ok()?;
    let options = js_sys::JSON::parse(options).ok()?;
    method(&instance, "setOption")?.call1(&instance, &options).ok()?;
    Some(instance)
}

#[cfg(feature = "hydrate")]
type ClickHandler = wasm_bindgen::prelude::Closure<dyn Fn(wasm_bindgen::JsValue)>;

#[cfg(feature = "hydrate")]
thread_local! {
    /// Each chart's click handler, kept while its chart lives: dropped when `render_chart`
    /// disposes of that chart for the next view's.
    static CLICK_HANDLERS: std::cell::RefCell<std::collections::HashMap<String, ClickHandler>> =
        Default::default();
}

/// Calls `clicked` with the index of the data item a click on the chart drawn in `id` hit.
#[cfg(feature = "hydrate")]
fn on_click(id: &str, instance: &wasm_bindgen::JsValue, clicked: impl Fn(usize) + 'static) {
    on_click_event(id, instance, move |event| {
        let index = js_sys::Reflect::get(&event, &"dataIndex".into()).ok().and_then(|i| i.as_f64());
        if let Some(index) = index {
            clicked(index as usize);
        }
    });
}

/// Calls `clicked` with ECharts' event for each click on the chart drawn in `id`.
#[cfg(feature = "hydrate")]
fn on_click_event(id: &str, instance: &wasm_bindgen::JsValue, clicked: impl Fn(wasm_bindgen::JsValue) + 'static) {
    use wasm_bindgen::JsCast;
    let handler = ClickHandler::new(clicked);
    let on = js_sys::Reflect::get(instance, &"on".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let Some(on) = on {
        let _ = on.call2(instance, &"click".into(), handler.as_ref());
    }
    CLICK_HANDLERS.with(|handlers| handlers.borrow_mut().insert(id.to_string(), handler));
}

const CHANNEL_NOTE: &str = "A verification retried on another channel counts in both channels' verifications, \
    so the rows' verifications can add up to more than the total.";

#[component]
fn Breakdown(
    filters: Filters,
    rows: Vec<BreakdownRow>,
    services: FriendlyNames,
    several_accounts: bool,
) -> impl IntoView {
    // A single-account deployment's pages look as they always did: no account tab.
    let tabs = Dimension::ALL
        .into_iter()
        .filter(|dimension| *dimension != Dimension::Account || several_accounts || filters.by == Dimension::Account)
        .map(|dimension| {
            let mut view = filters.clone();
            view.by = dimension;
            (view.sort, view.descending) = dimension.default_order();
            let current = dimension == filters.by;
            view! {
                <a href=view.href("/") class:active=current aria-current=current.then_some("true")>
                    {dimension.label()}
                </a>
            }
        })
        .collect_view();
    let header = |key: SortKey, label: &'static str, help: &'static str, numeric: bool| {
        let mut view = filters.clone();
        let current = filters.sort == key;
        view.sort = key;
        view.descending = if current { !filters.descending } else { key.first_click_descending() };
        let arrow = match (current, filters.descending) {
            (false, _) => "",
            (true, true) => " ↓",
            (true, false) => " ↑",
        };
        let sort = match (current, filters.descending) {
            (false, _) => "none",
            (true, true) => "descending",
            (true, false) => "ascending",
        };
        view! {
            <th scope="col" class:num=numeric aria-sort=sort title=help>
                <a href=view.href("/")>{label}{arrow}</a>
            </th>
        }
    };
    let by = filters.by;
    let export = filters.href("/export.csv");
    let attempts_link = filters.href("/attempts");
    view! {
        <section aria-label="Breakdown" class="breakdown-section">
            <div class="breakdown-head">
                <h2>{format!("By {}", by.label().to_lowercase())}</h2>
                <nav class="filters tabs" aria-label="Break down by">{tabs}</nav>
                <a class="export" href=export data-testid="export-csv" download="">"Export CSV"</a>
                <a class="export" href=attempts_link>"List attempts"</a>
            </div>
            {if rows.is_empty() {
                view! { <p class="empty" data-testid="empty">"No attempts match these filters."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="breakdown" data-testid="breakdown-table" data-by=by.as_str()>
                            <thead>
                                <tr>
                                    {header(SortKey::Key, by.label(), "Click a row to drill down.", false)}
                                    {header(SortKey::Attempts, "Attempts", "Verification attempts sent.", true)}
                                    {header(SortKey::Converted, "Converted attempts", "Attempts whose code the user entered.", true)}
                                    {header(SortKey::Rate, "Attempt conversion rate", "Converted attempts ÷ attempts, with its 95% Wilson interval.", true)}
                                    {header(SortKey::Verifications, "Verifications", "Distinct verifications.", true)}
                                    <th scope="col" class="num" title="Converted verifications ÷ verifications.">"Verification conversion rate"</th>
                                    <th scope="col" class="num" title="Delivered or read over messages with a final status.">"Delivery rate"</th>
                                    <th scope="col" class="num" title="The attempts' prices, per currency.">"Channel fees"</th>
                                    <th scope="col" class="num" title="The fee per successful verification × converted verifications.">"Verification fees"</th>
                                    {header(SortKey::Spend, "Total cost", "Channel fees + verification fees, per currency.", true)}
                                    <th scope="col" class="num" title="(Channel fees + verification fees) ÷ converted verifications.">"Cost per success"</th>
                                    <th scope="col" class="num" title="The channel fees of verifications none of whose attempts converted: what bought nothing.">"Spend never converted"</th>
                                    <th scope="col" class="num" title="Attempts Twilio has not priced yet (up to 24 hours after sending): their channel fees are not counted.">"Unpriced"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .map(|row| {
                                        let label = filters.by.key_label(&row.key, &services);
                                        view! { <BreakdownLine filters=filters.clone() row label /> }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {(by == Dimension::Channel)
                        .then(|| view! { <p class="note" data-testid="channel-note">{CHANNEL_NOTE}</p> })}
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn BreakdownLine(filters: Filters, row: BreakdownRow, label: String) -> impl IntoView {
    let target = drill_down_href(&filters, &row.key);
    let m = row.metrics;
    let interval = m.rate_interval.map(|(l, h)| format!("95% interval {l:.1}–{h:.1}%")).unwrap_or_default();
    view! {
        <tr data-testid="breakdown-row" data-key=row.key.clone()>
            <th scope="row">
                <a href=target title=format!("Drill down into {label}")>{label.clone()}</a>
            </th>
            <td class="num" data-testid="attempts">{format_count(m.attempts)}</td>
            <td class="num" data-testid="converted">{format_count(m.converted)}</td>
            <td class="num" data-testid="rate" title=interval>{format_percent(m.rate_percent())}</td>
            <td class="num" data-testid="verifications">{format_count(m.verifications)}</td>
            <td class="num" data-testid="verification-rate">{format_percent(m.verification_rate_percent())}</td>
            <td class="num" data-testid="delivery">{format_percent(m.delivery_rate_percent())}</td>
            <td class="num" data-testid="spend">{format_moneys(&m.spend)}</td>
            <td class="num" data-testid="verification-fees">{format_moneys(&m.verification_fees)}</td>
            <td class="num" data-testid="total-cost">{format_moneys(&m.total_cost())}</td>
            <td class="num" data-testid="cost-per-success">{format_moneys(&m.cost_per_conversion())}</td>
            <td class="num" data-testid="never-converted-spend">{format_moneys(&m.unconverted_verification_spend)}</td>
            <td class="num" data-testid="unpriced">{format_count(m.unpriced_attempts)}</td>
        </tr>
    }
}
