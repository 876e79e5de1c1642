//! The overview's advice: "What to do" (channel moves, what fraud cost, what Twilio blocked)
//! and "Retries" (the retry funnel). Nothing in them reacts to anything, so the server renders
//! them to HTML that the page carries as it is (`Overview::what_to_do_html`, `funnel_html`):
//! the browser's wasm holds no code for them, which kept the page under its weight budget.

use leptos::prelude::*;

use crate::filters::Filters;
use crate::format::{format_count, format_moneys, format_percent};
use crate::model::{channel_label, country_label};
use crate::page_data::{PATH_MORE, RetryFunnel, TIME_BUCKET_LABELS, WhatToDo};

const RECOMMENDATION_HELP: &str = "Per market: a channel whose verifications convert better than another's (by at \
    least 5 points at the low end of the difference's 95% interval, and a discovery of a two-proportion test at a 5% false \
    discovery rate across the view's comparisons) at no more cost per success; or one that costs at least 20% less per \
    success at equal conversion (the difference's interval within ±2 points). Costs include the verification fee.";
const FRAUD_HELP: &str = "The unconverted SMS of an SMS-pumping burst and the channel fees they cost, per day, with the \
    number blocks they went to (all but the last four digits): a list for a blocklist, Fraud Guard or Geo Permissions.";
const BLOCKED_HELP: &str = "Attempts Twilio blocked as fraud (30450 and 30453 SMS Pumping Protection, 60410 Fraud Guard, \
    60605 Geo Permissions): fraud that cost nothing. A rise means someone is trying.";
const FUNNEL_HELP: &str = "Each verification counted once, where and when its first attempt was: the view's range, \
    countries, carriers and services select it there, its channels the verifications that used one of them; error and \
    status filters do not apply.";
const TIME_TO_CONVERSION_HELP: &str = "From a verification's first attempt to the last update of its converted attempt \
    (date_updated), which Twilio sets when the code is checked: it measures how long users took to get and enter a code, \
    retries included; a later update of that attempt (a late delivery receipt) would lengthen it, and it says nothing of \
    verifications that did not convert.";

/// Entries of "What to do" shown before "N more".
const ITEMS_SHOWN: usize = 4;

/// A small table of figures: a head column, then numbers.
#[derive(Clone, Default)]
struct FigureTable {
    caption: String,
    testid: &'static str,
    help: &'static str,
    /// Labels and their tooltips; the first heads the rows.
    columns: Vec<(&'static str, &'static str)>,
    rows: Vec<FigureRow>,
}

#[derive(Clone, Default)]
struct FigureRow {
    testid: &'static str,
    /// The row's key as data (`data-key`), for tests and scripts.
    key: String,
    head: String,
    cells: Vec<String>,
}

#[component]
fn FigureTableView(table: FigureTable) -> impl IntoView {
    view! {
        <table class="figures" data-testid=table.testid title=(!table.help.is_empty()).then_some(table.help)>
            <caption>{table.caption}</caption>
            <thead>
                <tr>
                    {table
                        .columns
                        .into_iter()
                        .enumerate()
                        .map(|(i, (label, help))| {
                            let numeric = i > 0;
                            view! { <th scope="col" class:num=numeric title=(!help.is_empty()).then_some(help)>{label}</th> }
                        })
                        .collect_view()}
                </tr>
            </thead>
            <tbody>
                {table
                    .rows
                    .into_iter()
                    .map(|row| {
                        view! {
                            <tr data-testid=row.testid data-key=row.key>
                                <th scope="row">{row.head}</th>
                                {row.cells.into_iter().map(|c| view! { <td class="num">{c}</td> }).collect_view()}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// One entry of "What to do": its sentence linking to its evidence, and what backs it.
#[derive(Clone, Default)]
struct AdviceItem {
    kind: &'static str,
    testid: &'static str,
    /// `data-country`, `data-better`, `data-worse`.
    country: String,
    better: Option<String>,
    worse: Option<String>,
    help: &'static str,
    href: String,
    text: String,
    /// The money it puts at stake in the view's main currency, for the order.
    stake: f64,
    details: Option<String>,
    /// Its details shown open: on the page of its evidence.
    open: bool,
    lines: Vec<String>,
    table: Option<FigureTable>,
    pasted: Option<String>,
}

#[component]
fn AdviceItemView(item: AdviceItem) -> impl IntoView {
    let open = item.open;
    let details = item.details.map(|summary| {
        view! {
            <details open=open>
                <summary>{summary}</summary>
                {(!item.lines.is_empty()).then(|| view! {
                    <ul class="arithmetic" data-testid="arithmetic">
                        {item.lines.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                    </ul>
                })}
                {item.table.map(|table| view! { <FigureTableView table /> })}
                {item.pasted.map(|text| view! {
                    <p>"To paste:"</p>
                    <pre class="prefixes" data-testid="fraud-prefixes">{text}</pre>
                })}
            </details>
        }
    });
    view! {
        <li data-kind=item.kind data-testid=item.testid data-country=item.country data-better=item.better
            data-worse=item.worse title=item.help>
            <a href=item.href>{item.text}</a>
            {details}
        </li>
    }
}

/// The entries of "What to do"; what backs an entry (a move's arithmetic, a burst's days and
/// number blocks) comes with it on the view of its market alone, open, not on every overview.
fn items(what: WhatToDo, currency: &str, filters: &Filters) -> Vec<AdviceItem> {
    let one_market = |country: &str| filters.countries.len() == 1 && filters.countries[0] == country;
    let in_currency = |money: &[crate::page_data::Money]| {
        money.iter().filter(|m| m.currency == currency).map(|m| m.amount).sum::<f64>()
    };
    let mut items: Vec<AdviceItem> = what
        .recommendations
        .into_iter()
        .map(|r| AdviceItem {
            kind: "channel-move",
            testid: "recommendation",
            stake: if r.currency == currency { r.saved.max(0.0) } else { 0.0 },
            open: one_market(&r.country),
            details: one_market(&r.country).then(|| "How this is estimated".to_string()),
            better: Some(r.better.channel),
            worse: Some(r.worse.channel),
            help: RECOMMENDATION_HELP,
            country: r.country,
            href: r.href,
            text: r.summary,
            lines: r.arithmetic,
            ..AdviceItem::default()
        })
        .collect();
    items.extend(what.fraud.into_iter().map(|f| {
        let blocks = f.prefixes.iter().map(|(p, n)| format!("{p}: {}", format_count(*n))).collect::<Vec<_>>();
        AdviceItem {
            kind: "fraud-cost",
            testid: "fraud-cost",
            stake: in_currency(&f.channel_fees),
            text: format!(
                "SMS pumping to {}: {} unconverted SMS cost {} in channel fees",
                country_label(&f.country),
                format_count(f.attempts),
                format_moneys(&f.channel_fees),
            ),
            open: one_market(&f.country),
            details: one_market(&f.country).then(|| "Per day, and the number blocks to block".to_string()),
            country: f.country,
            help: FRAUD_HELP,
            href: f.href,
            lines: vec![format!(
                "Number blocks (all but the last four digits), most attempts first: {}.",
                blocks.join(", ")
            )],
            table: Some(FigureTable {
                caption: format!("Per day ({})", crate::zone::name()),
                testid: "fraud-days",
                columns: vec![("Day", ""), ("Attempts", ""), ("Channel fees", "")],
                rows: f
                    .days
                    .into_iter()
                    .map(|(day, n, fees)| FigureRow {
                        key: day.clone(),
                        head: day,
                        cells: vec![format_count(n), format_moneys(&fees)],
                        ..FigureRow::default()
                    })
                    .collect(),
                ..FigureTable::default()
            }),
            pasted: Some(f.prefixes.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>().join("\n")),
            ..AdviceItem::default()
        }
    }));
    items.sort_by(|a, b| b.stake.total_cmp(&a.stake));
    let blocked = what.blocked;
    if blocked.attempts > 0 {
        let codes = blocked
            .by_code
            .iter()
            .map(|(code, n)| format!("{code}: {}", format_count(*n)))
            .collect::<Vec<_>>()
            .join(", ");
        let change = match blocked.compared {
            Some((0, 0)) | None => String::new(),
            Some((now, 0)) => format!("; none in the compared part of the previous period, {} now", format_count(now)),
            Some((now, then)) => {
                format!("; {:+.0}% against the previous period", (now as f64 - then as f64) * 100.0 / then as f64)
            }
        };
        items.push(AdviceItem {
            kind: "blocked",
            testid: "blocked",
            help: BLOCKED_HELP,
            href: blocked.href,
            text: format!(
                "{} attempts blocked as fraud ({codes}){change}: blocked before they cost anything.",
                format_count(blocked.attempts)
            ),
            ..AdviceItem::default()
        });
    }
    items
}

/// "What to do" as HTML.
pub fn what_to_do_html(what: WhatToDo, currency: String, filters: Filters) -> String {
    view! { <WhatToDoPanel what currency filters /> }.to_html()
}

/// "Retries" as HTML.
pub fn funnel_html(funnel: RetryFunnel, filters: Filters) -> String {
    view! { <Funnel funnel filters /> }.to_html()
}

#[component]
fn WhatToDoPanel(what: WhatToDo, currency: String, filters: Filters) -> impl IntoView {
    let export = filters.href("/what-to-do.csv");
    let note = what.note.clone();
    let mut items = items(what, &currency, &filters);
    let empty = items.is_empty();
    // The first few in view; the others one keystroke away, not a dozen Tabs in the way.
    let more = items.split_off(items.len().min(ITEMS_SHOWN));
    view! {
        <section class="what-to-do" aria-label="What to do" data-testid="what-to-do">
            <div class="breakdown-head">
                <h2>"What to do"</h2>
                <a class="export" href=export data-testid="what-to-do-csv" download="">"Export CSV"</a>
            </div>
            <ol>{items.into_iter().map(|item| view! { <AdviceItemView item /> }).collect_view()}</ol>
            {(!more.is_empty()).then(|| view! {
                <details class="more" data-testid="what-to-do-more">
                    <summary>{format!("{} more", more.len())}</summary>
                    <ol start=(ITEMS_SHOWN + 1).to_string()>
                        {more.into_iter().map(|item| view! { <AdviceItemView item /> }).collect_view()}
                    </ol>
                </details>
            })}
            {note.or_else(|| empty.then(|| "Nothing to change in this view.".to_string())).map(|note| {
                view! { <p class="note" data-testid="what-to-do-note">{note}</p> }
            })}
        </section>
    }
}

/// A path of channels as people read it: `SMS → Call`, `… → …` when cut.
fn path_label(path: &str) -> String {
    let more = path.ends_with(PATH_MORE);
    let steps: Vec<String> = path.trim_end_matches(PATH_MORE).split('>').map(channel_label).collect();
    format!("{}{}", steps.join(" → "), if more { " → …" } else { "" })
}

fn rate(converted: u64, of: u64) -> String {
    format_percent((of > 0).then(|| converted as f64 * 100.0 / of as f64))
}

fn funnel_tables(funnel: &RetryFunnel) -> Vec<FigureTable> {
    let times = |counts: &[u64], caption: &str, testid, help, what| {
        let total: u64 = counts.iter().sum();
        FigureTable {
            caption: caption.to_string(),
            testid,
            help,
            columns: vec![("Time", ""), (what, ""), ("Share", "")],
            rows: TIME_BUCKET_LABELS
                .iter()
                .zip(counts)
                .map(|(label, n)| FigureRow {
                    key: label.to_string(),
                    head: label.to_string(),
                    cells: vec![format_count(*n), rate(*n, total)],
                    ..FigureRow::default()
                })
                .collect(),
        }
    };
    vec![
        FigureTable {
            caption: "By attempt".to_string(),
            testid: "funnel-steps",
            help: "",
            columns: vec![
                ("Attempt", ""),
                ("Reached", "Verifications with at least this many attempts."),
                ("Converted at it", "Verifications whose first converted attempt this was."),
                ("Conversion", "Converted at it ÷ reached."),
            ],
            rows: funnel
                .steps
                .iter()
                .map(|s| FigureRow {
                    testid: "funnel-step",
                    key: s.label.clone(),
                    head: s.label.clone(),
                    cells: vec![format_count(s.reached), format_count(s.converted), rate(s.converted, s.reached)],
                })
                .collect(),
        },
        FigureTable {
            caption: "Paths of channels".to_string(),
            testid: "funnel-paths",
            help: "",
            columns: vec![
                ("Path", ""),
                ("Verifications", ""),
                ("Converted", "Verifications of the path that converted at its end."),
                ("Conversion", ""),
            ],
            rows: funnel
                .paths
                .iter()
                .take(8)
                .map(|p| FigureRow {
                    testid: "funnel-path",
                    key: p.path.clone(),
                    head: path_label(&p.path),
                    cells: vec![
                        format_count(p.verifications),
                        format_count(p.converted),
                        rate(p.converted, p.verifications),
                    ],
                })
                .collect(),
        },
        times(
            &funnel.gaps,
            "Time between attempts",
            "funnel-gaps",
            "The time between one attempt of a verification and the next.",
            "Retries",
        ),
        times(
            &funnel.to_conversion,
            "Time to conversion",
            "funnel-conversion-times",
            TIME_TO_CONVERSION_HELP,
            "Verifications",
        ),
    ]
}

#[component]
fn Funnel(funnel: RetryFunnel, filters: Filters) -> impl IntoView {
    let export = filters.href("/funnel.csv");
    let summary = match (&funnel.note, funnel.verifications) {
        (Some(note), _) => note.clone(),
        (None, 0) => "No verifications start in this view.".to_string(),
        (None, verifications) => format!(
            "{} of {} verifications ({}) needed a retry; {} converted in the end.",
            format_count(funnel.retried),
            format_count(verifications),
            format_percent(funnel.retried_percent()),
            rate(funnel.converted, verifications),
        ),
    };
    let tables = if funnel.note.is_none() && funnel.verifications > 0 { funnel_tables(&funnel) } else { Vec::new() };
    let shown = !tables.is_empty();
    view! {
        <section class="funnel" aria-label="Retries" data-testid="funnel" title=FUNNEL_HELP>
            <div class="breakdown-head">
                <h2>"Retries"</h2>
                <a class="export" href=export data-testid="funnel-csv" download="">"Export CSV"</a>
            </div>
            <p data-testid="funnel-retried">{summary}</p>
            <div class="funnel-tables">
                {tables.into_iter().map(|table| view! { <FigureTableView table /> }).collect_view()}
            </div>
            {shown.then(|| view! { <p class="note">{TIME_TO_CONVERSION_HELP}</p> })}
        </section>
    }
}
