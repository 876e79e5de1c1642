//! The pages that change state: saved views (`/views`), alert rules and digests (`/alerts`),
//! the inbox (`/alerts/inbox`). Plain HTML forms (they work without JavaScript), rendered on
//! the server with maud, which escapes every value; every write is a POST with a CSRF token.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use subtle::ConstantTimeEq;

use super::condition::{CONDITION_KINDS, Condition, RATE_WINDOWS};
use super::destinations::DestinationKind;
use super::store::{self, Rule, RuleInput, SavedView};
use super::{AlertError, digest, engine};
use crate::model::twilio_time;
use crate::paths;
use crate::state::AppState;

const CSRF_COOKIE: &str = "verilens_csrf";

/// The routes of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/views", get(views_page).post(create_view))
        .route("/views/save", get(save_view_page))
        .route("/views/{id}/rename", post(rename_view))
        .route("/views/{id}/delete", post(delete_view))
        .route("/alerts", get(alerts_page).post(create_rule))
        .route("/alerts/new", get(new_rule_page))
        .route("/alerts/inbox", get(inbox_page))
        .route("/alerts/demo-incident", post(demo_incident))
        .route("/alerts/demo-alert", post(demo_alert))
        .route("/alerts/{id}/edit", get(edit_rule_page))
        .route("/alerts/{id}", post(update_rule))
        .route("/alerts/{id}/{action}", post(rule_action))
        .route("/digests", post(create_digest))
        .route("/digests/{id}/{action}", post(digest_action))
}

/// Whether `path` is one of these pages' form posts (the only writes besides server functions).
pub fn takes_forms(path: &str) -> bool {
    ["/views", "/alerts", "/digests"].iter().any(|root| path == *root || path.starts_with(&format!("{root}/")))
}

/// A posted form: its fields in order (checkboxes repeat a name).
struct PostedForm(Vec<(String, String)>);

impl PostedForm {
    fn parse(body: &[u8]) -> PostedForm {
        PostedForm(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// The browser's CSRF token (its cookie), or a new one to set.
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE) {
        Some(token) if token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()) => (token, false),
        _ => (format!("{:032x}", rand::random::<u128>()), true),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a POST is the dashboard's own form: the token in the form equals the browser's
/// cookie (which another site can neither read nor set), and the request came from this
/// site when the browser says where it came from.
fn csrf_ok(headers: &HeaderMap, form: &PostedForm) -> bool {
    let Some(cookie) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    let sent = form.get("csrf");
    let same = !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(cookie.as_bytes()));
    let cross_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|s| s == "cross-site");
    same && !cross_site
}

/// Why a write is refused: a read-only deployment, or a form without its CSRF token.
fn refusal(state: &AppState, headers: &HeaderMap, form: &PostedForm) -> Option<Response> {
    if state.read_only {
        return Some(message_page(
            StatusCode::FORBIDDEN,
            "Read-only",
            "This dashboard is read-only (--read-only): saved views, alerts and digests cannot be changed here.",
        ));
    }
    if !csrf_ok(headers, form) {
        return Some(message_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "The form was not sent from this dashboard's page (its security token is missing or wrong). Reload the page and try again.",
        ));
    }
    None
}

/// A page with its CSRF cookie set when the browser had none.
fn page(
    state: &AppState,
    status: StatusCode,
    headers: &HeaderMap,
    title: &str,
    body: impl FnOnce(&str) -> Markup,
) -> Response {
    let (token, new) = csrf_token(headers);
    let markup = layout(title, body(&token));
    let mut response = (status, axum::response::Html(markup.into_string())).into_response();
    if new {
        let base = paths::base_path();
        let path = if base.is_empty() { "/" } else { base };
        let secure = if state.alerts.link_origin.starts_with("https://") { "; Secure" } else { "" };
        let value = format!("{CSRF_COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict{secure}");
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let markup = layout(title, html! { p class="notice" role="alert" data-testid="form-error" { (text) } });
    (status, axum::response::Html(markup.into_string())).into_response()
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(paths::url("/pkg/verilens.css"));
                title { (title) " · verilens" }
            }
            body {
                a class="skip-link" href="#content" { "Skip to content" }
                header class="topbar" {
                    a class="brand" href=(paths::url("/")) { "verilens" }
                    nav class="sections" aria-label="Sections" {
                        a href=(paths::url("/")) { "Overview" }
                        a href=(paths::url("/attempts")) { "Attempts" }
                        a href=(paths::url("/views")) { "Saved views" }
                        a href=(paths::url("/alerts")) { "Alerts" }
                        a href=(paths::url("/alerts/inbox")) { "Inbox" }
                    }
                }
                main class="page admin" id="content" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

fn redirect(path: &str) -> Response {
    Redirect::to(&paths::url(path)).into_response()
}

fn failure(e: AlertError) -> Response {
    match e {
        AlertError::NotFound(what) => {
            message_page(StatusCode::NOT_FOUND, "Not found", &format!("There is no such {what}."))
        }
        AlertError::Invalid(text) => message_page(StatusCode::BAD_REQUEST, "Not saved", &text),
        other => {
            tracing::error!("alerts: {other}");
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "The snapshot could not be read or written; nothing was changed.",
            )
        }
    }
}

fn now_text(state: &AppState) -> String {
    twilio_time::format(&state.now())
}

/// A name as typed: trimmed, one line, 1 to 120 characters.
fn clean_name(text: &str, what: &str) -> Result<String, String> {
    let name: String = text.trim().chars().filter(|c| !c.is_control()).collect();
    match name.chars().count() {
        0 => Err(format!("The {what} needs a name.")),
        1..=120 => Ok(name),
        _ => Err(format!("The {what}'s name is longer than 120 characters.")),
    }
}

/// A view's query as the dashboard writes it, or what is wrong with it.
fn clean_query(state: &AppState, query: &str) -> Result<String, String> {
    let parsed = state.parse_view(query.trim_start_matches('?'));
    if !parsed.notices.is_empty() {
        return Err(format!("The view's filters are not valid: {}", parsed.notices.join(" ")));
    }
    let mut filters = parsed.filters;
    filters.page = None;
    Ok(filters.to_query())
}

fn view_href(view: &SavedView) -> String {
    if view.query.is_empty() { paths::url("/") } else { format!("{}?{}", paths::url("/"), view.query) }
}

/// The view's filters in words.
fn describe_query(state: &AppState, query: &str) -> String {
    let filters = state.parse_view(query).filters;
    let services = crate::model::ServiceNames::default();
    let mut parts: Vec<String> =
        crate::app::navigation::chips(&filters, &services).into_iter().map(|(label, _)| label).collect();
    parts.insert(0, range_label(&filters.range));
    parts.join(" · ")
}

fn range_label(range: &crate::filters::DateRange) -> String {
    use crate::filters::DateRange;
    match range {
        DateRange::LastDay => "Last 24 hours".into(),
        DateRange::LastDays(n) => format!("Last {n} days"),
        DateRange::Between(a, b) => format!("{a} to {b}"),
        DateRange::Hours(a, b) => format!("{a} to {b} UTC"),
    }
}

// ---- saved views ----

async fn views_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let views = match store::views(&state.pool).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let read_only = state.read_only;
    page(&state, StatusCode::OK, &headers, "Saved views", |token| {
        html! {
            p class="note" { "A saved view is a named link the server keeps: alerts and digests watch it. Relative ranges stay relative." }
            @if views.is_empty() {
                p class="empty" data-testid="views-empty" {
                    "No saved views yet. Open a view of the overview and choose “Save this view”."
                }
            } @else {
                table class="admin-table" data-testid="saved-views" {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Filters" } @if !read_only { th scope="col" { "Rename" } th scope="col" { "Delete" } } } }
                    tbody {
                        @for view in &views {
                            tr data-testid="saved-view" {
                                td { a href=(view_href(view)) { (view.name) } }
                                td { (describe_query(&state, &view.query)) }
                                @if !read_only {
                                    td {
                                        form method="post" action=(paths::url(&format!("/views/{}/rename", view.id))) class="inline" {
                                            (csrf_field(token))
                                            label class="visually-hidden" for=(format!("rename-{}", view.id)) { "New name for " (view.name) }
                                            input id=(format!("rename-{}", view.id)) name="name" value=(view.name) required maxlength="120";
                                            button type="submit" { "Rename" }
                                        }
                                    }
                                    td {
                                        form method="post" action=(paths::url(&format!("/views/{}/delete", view.id))) class="inline" {
                                            (csrf_field(token))
                                            button type="submit" aria-label=(format!("Delete {}", view.name)) { "Delete" }
                                        }
                                        " "
                                        a href=(format!("{}?view={}", paths::url("/alerts/new"), view.id)) { "Alert on it" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

async fn save_view_page(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let cleaned = match clean_query(&state, &query) {
        Ok(q) => q,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Save this view", &e),
    };
    save_view_form(&state, &headers, StatusCode::OK, &cleaned, &describe_query(&state, &cleaned), None)
}

fn save_view_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    query: &str,
    name: &str,
    error: Option<&str>,
) -> Response {
    let description = describe_query(state, query);
    let read_only = state.read_only;
    page(state, status, headers, "Save this view", |token| {
        html! {
            @if let Some(error) = error { p class="notice" role="alert" data-testid="form-error" { (error) } }
            p { "Filters: " strong { (description) } }
            @if read_only {
                p class="note" { "This dashboard is read-only." }
            } @else {
                form method="post" action=(paths::url("/views")) class="admin-form" {
                    (csrf_field(token))
                    input type="hidden" name="query" value=(query);
                    label for="view-name" { "Name" }
                    input id="view-name" name="name" value=(name) required maxlength="120";
                    button type="submit" { "Save view" }
                }
            }
        }
    })
}

async fn create_view(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let query = match clean_query(&state, form.get("query")) {
        Ok(q) => q,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not saved", &e),
    };
    let name = match clean_name(form.get("name"), "view") {
        Ok(n) => n,
        Err(e) => return save_view_form(&state, &headers, StatusCode::BAD_REQUEST, &query, form.get("name"), Some(&e)),
    };
    match store::create_view(&state.pool, &name, &query, &now_text(&state)).await {
        Ok(_) => redirect("/views"),
        Err(e) => failure(e),
    }
}

async fn rename_view(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let name = match clean_name(form.get("name"), "view") {
        Ok(n) => n,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not renamed", &e),
    };
    match store::rename_view(&state.pool, id, &name).await {
        Ok(()) => redirect("/views"),
        Err(e) => failure(e),
    }
}

async fn delete_view(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    match store::delete_view(&state.pool, id).await {
        Ok(()) => redirect("/views"),
        Err(e) => failure(e),
    }
}

// ---- alert rules ----

/// The rule form's values, as shown (typed values are kept when the form is refused).
#[derive(Clone, Default)]
struct RuleForm {
    name: String,
    view_id: Option<i64>,
    /// A view not saved yet: the query it is created from.
    query: String,
    kind: String,
    threshold: String,
    currency: String,
    per: String,
    min_verifications: String,
    /// Minutes, or empty for the view's range.
    window: String,
    destinations: Vec<String>,
    email_to: String,
}

impl RuleForm {
    fn from_rule(rule: &Rule) -> RuleForm {
        let (currency, per) = match &rule.condition {
            Condition::SpendAbove { currency, per, .. } => (currency.clone(), per.as_str().to_string()),
            _ => ("USD".into(), "hour".into()),
        };
        RuleForm {
            name: rule.name.clone(),
            view_id: Some(rule.view.id),
            query: String::new(),
            kind: rule.condition.kind().into(),
            threshold: rule.condition.threshold_text(),
            currency,
            per,
            min_verifications: rule.min_verifications.to_string(),
            window: rule.window_minutes.map(|m| m.to_string()).unwrap_or_default(),
            destinations: rule.destinations.iter().map(|d| d.as_str().to_string()).collect(),
            email_to: rule.email_to.clone(),
        }
    }

    fn from_posted(form: &PostedForm) -> RuleForm {
        RuleForm {
            name: form.get("name").into(),
            view_id: form.get("view_id").parse().ok(),
            query: form.get("query").into(),
            kind: form.get("kind").into(),
            threshold: form.get("threshold").into(),
            currency: form.get("currency").into(),
            per: form.get("per").into(),
            min_verifications: form.get("min_verifications").into(),
            window: form.get("window").into(),
            destinations: form.all("destination").into_iter().map(String::from).collect(),
            email_to: form.get("email_to").into(),
        }
    }

    /// The rule it describes, or the first thing wrong with it.
    fn input(&self, state: &AppState, view_id: i64) -> Result<RuleInput, String> {
        let name = clean_name(&self.name, "rule")?;
        let condition = Condition::from_form(&self.kind, &self.threshold, &self.currency, &self.per)?;
        let min_text = self.min_verifications.trim();
        let min_verifications: u64 = if min_text.is_empty() {
            0
        } else {
            min_text.parse().map_err(|_| format!("The minimum volume must be a whole number, not \"{min_text}\"."))?
        };
        let window_minutes = match self.window.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(minutes) if RATE_WINDOWS.contains(&minutes) => Some(minutes),
                _ => {
                    return Err(format!(
                        "\"{text}\" is not a window verilens offers (the view's range, or 5, 15 or 60 minutes)."
                    ));
                }
            },
        };
        let available = state.alerts.destinations.available();
        let mut destinations = Vec::new();
        for text in &self.destinations {
            let kind = DestinationKind::parse(text).ok_or_else(|| format!("\"{text}\" is not a destination."))?;
            if !available.contains(&kind) {
                return Err(format!("{} is not configured on this server.", kind.label()));
            }
            if !destinations.contains(&kind) {
                destinations.push(kind);
            }
        }
        let email_to = self.email_to.trim().to_string();
        if destinations.contains(&DestinationKind::Email) {
            let addresses: Vec<&str> = email_to.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
            if addresses.is_empty() {
                return Err("E-mail needs at least one recipient.".into());
            }
            for address in addresses {
                if address.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(format!("\"{address}\" is not an e-mail address."));
                }
            }
        }
        Ok(RuleInput { view_id, name, condition, min_verifications, window_minutes, destinations, email_to })
    }
}

async fn alerts_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let loaded = async {
        Ok::<_, AlertError>((
            store::rules(&state.pool).await?,
            store::digests(&state.pool).await?,
            store::views(&state.pool).await?,
            store::delivery_log(&state.pool, 50).await?,
        ))
    }
    .await;
    let (rules, digests, views, log) = match loaded {
        Ok(all) => all,
        Err(e) => return failure(e),
    };
    let now = now_text(&state);
    let read_only = state.read_only;
    let destinations = &state.alerts.destinations;
    page(&state, StatusCode::OK, &headers, "Alerts", |token| {
        html! {
            p class="note" {
                "Rules are evaluated from the snapshot after each sync that changes it, and every "
                (humantime::format_duration(state.alerts.check_every)) ". A message goes out when a rule starts firing and when it resolves."
            }
            p class="note" data-testid="destinations" {
                "Destinations: "
                (destinations.available().iter().map(|d| destinations.describe(*d)).collect::<Vec<_>>().join(", "))
                "."
            }
            h2 { "Rules" }
            @if rules.is_empty() {
                p class="empty" data-testid="rules-empty" {
                    "No alert rules yet. Open a view and choose “Alert on this view”, or "
                    a href=(paths::url("/alerts/new")) { "create one" } "."
                }
            } @else {
                table class="admin-table" data-testid="rules" {
                    thead { tr {
                        th scope="col" { "Rule" } th scope="col" { "State" } th scope="col" { "Last evaluation" }
                        @if !read_only { th scope="col" { "Actions" } }
                    } }
                    tbody {
                        @for rule in &rules { (rule_row(rule, &now, token, read_only)) }
                    }
                }
            }
            h2 { "Digests" }
            @if digests.is_empty() {
                p class="empty" data-testid="digests-empty" { "No digests. A digest sends a saved view's week or day against the one before." }
            } @else {
                table class="admin-table" data-testid="digests" {
                    thead { tr { th scope="col" { "View" } th scope="col" { "Schedule" } th scope="col" { "To" } th scope="col" { "Last due" } @if !read_only { th scope="col" { "Actions" } } } }
                    tbody {
                        @for d in &digests {
                            tr data-testid="digest" {
                                td { a href=(view_href(&d.view)) { (d.view.name) } }
                                td { (digest::schedule(&d.frequency, d.hour)) }
                                td { (d.destinations.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")) }
                                td { (d.last_due_at.clone().unwrap_or_else(|| "not yet".into())) }
                                @if !read_only {
                                    td {
                                        form method="post" action=(paths::url(&format!("/digests/{}/send", d.id))) class="inline" {
                                            (csrf_field(token)) button type="submit" { "Send now" }
                                        }
                                        form method="post" action=(paths::url(&format!("/digests/{}/delete", d.id))) class="inline" {
                                            (csrf_field(token)) button type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !read_only && !views.is_empty() {
                form method="post" action=(paths::url("/digests")) class="admin-form" data-testid="digest-form" {
                    (csrf_field(token))
                    label for="digest-view" { "Saved view" }
                    select id="digest-view" name="view_id" { @for v in &views { option value=(v.id) { (v.name) } } }
                    label for="digest-frequency" { "Every" }
                    select id="digest-frequency" name="frequency" { option value="weekly" { "week (Mondays)" } option value="daily" { "day" } }
                    label for="digest-hour" { "At (UTC hour)" }
                    input id="digest-hour" name="hour" type="number" min="0" max="23" value="9";
                    (destination_fields(&state, &[], "", "digest"))
                    button type="submit" { "Add digest" }
                }
            }
            h2 { "Deliveries" }
            @if log.is_empty() {
                p class="empty" data-testid="log-empty" { "Nothing sent yet." }
            } @else {
                table class="admin-table" data-testid="delivery-log" {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Message" } th scope="col" { "To" } th scope="col" { "Outcome" } th scope="col" { "Detail" } } }
                    tbody {
                        @for entry in &log {
                            tr data-testid="delivery" data-outcome=(entry.outcome) {
                                td { (entry.at.replace('T', " ").trim_end_matches('Z')) }
                                td { (entry.title) }
                                td { (entry.destination) }
                                td { (entry.outcome) }
                                td { (entry.detail) }
                            }
                        }
                    }
                }
            }
        }
    })
}

fn rule_row(rule: &Rule, now: &str, token: &str, read_only: bool) -> Markup {
    let shown = rule.shown_state(now);
    let action = |what: &str| paths::url(&format!("/alerts/{}/{what}", rule.id));
    html! {
        tr data-testid="rule" data-rule-id=(rule.id) data-state=(shown) {
            td {
                strong { (rule.name) } br;
                (rule.describe()) br;
                "on " a href=(view_href(&rule.view)) { (rule.view.name) }
                @if rule.min_verifications > 0 { " · at least " (rule.min_verifications) " verifications" }
                br;
                span class="note" { "To: " (rule.destinations.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")) }
            }
            td {
                span class=(format!("state state-{shown}")) data-testid="rule-state" { (shown) }
                @if let (Some(until), "snoozed") = (&rule.snoozed_until, shown) { br; "until " (until.replace('T', " ").trim_end_matches('Z')) " UTC" }
                @if let Some(since) = &rule.state_since { br; span class="note" { "since " (since.replace('T', " ").trim_end_matches('Z')) } }
            }
            td {
                @match &rule.last_evaluation {
                    Some(e) => { (e.summary) }
                    None => { "Not evaluated yet" }
                }
            }
            @if !read_only {
                td class="actions" {
                    a href=(action("edit")) { "Edit" }
                    form method="post" action=(action(if rule.paused { "resume" } else { "pause" })) class="inline" {
                        (csrf_field(token)) button type="submit" { (if rule.paused { "Resume" } else { "Pause" }) }
                    }
                    @if shown == "snoozed" {
                        form method="post" action=(action("unsnooze")) class="inline" { (csrf_field(token)) button type="submit" { "Unsnooze" } }
                    } @else {
                        form method="post" action=(action("snooze")) class="inline" {
                            (csrf_field(token))
                            label class="visually-hidden" for=(format!("snooze-{}", rule.id)) { "Snooze " (rule.name) " for" }
                            select id=(format!("snooze-{}", rule.id)) name="for" {
                                option value="1h" { "1 hour" } option value="4h" { "4 hours" } option value="24h" { "1 day" } option value="7d" { "1 week" }
                            }
                            label for=(format!("snooze-until-{}", rule.id)) { "or until (UTC)" }
                            input id=(format!("snooze-until-{}", rule.id)) name="until" type="datetime-local";
                            button type="submit" { "Snooze" }
                        }
                    }
                    form method="post" action=(action("test")) class="inline" { (csrf_field(token)) button type="submit" { "Send test" } }
                    form method="post" action=(action("delete")) class="inline" { (csrf_field(token)) button type="submit" { "Delete" } }
                }
            }
        }
    }
}

fn destination_fields(state: &AppState, chosen: &[String], email_to: &str, id: &str) -> Markup {
    let available = state.alerts.destinations.available();
    let chosen: Vec<String> = if chosen.is_empty() { vec!["inbox".into()] } else { chosen.to_vec() };
    html! {
        fieldset {
            legend { "Send to" }
            @for kind in &available {
                label class="check" {
                    input type="checkbox" name="destination" value=(kind.as_str()) checked[chosen.iter().any(|c| c == kind.as_str())];
                    " " (state.alerts.destinations.describe(*kind))
                }
            }
            @if available.contains(&DestinationKind::Email) {
                label for=(format!("{id}-email-to")) { "E-mail to (comma-separated)" }
                input id=(format!("{id}-email-to")) name="email_to" value=(email_to) type="text";
            }
        }
    }
}

fn rule_form_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    form: &RuleForm,
    rule_id: Option<i64>,
    views: &[SavedView],
    error: Option<&str>,
) -> Response {
    let title = if rule_id.is_some() { "Edit alert" } else { "Alert on this view" };
    let action = match rule_id {
        Some(id) => paths::url(&format!("/alerts/{id}")),
        None => paths::url("/alerts"),
    };
    let read_only = state.read_only;
    page(state, status, headers, title, |token| {
        html! {
            @if let Some(error) = error { p class="notice" role="alert" data-testid="form-error" { (error) } }
            @if read_only {
                p class="note" { "This dashboard is read-only." }
            } @else {
                form method="post" action=(action) class="admin-form" data-testid="rule-form" {
                    (csrf_field(token))
                    label for="rule-name" { "Name" }
                    input id="rule-name" name="name" value=(form.name) required maxlength="120";
                    @if !form.query.is_empty() && form.view_id.is_none() {
                        input type="hidden" name="query" value=(form.query);
                        p { "View: " strong { (describe_query(state, &form.query)) } " (saved with the rule's name)" }
                    } @else {
                        label for="rule-view" { "Saved view" }
                        select id="rule-view" name="view_id" required {
                            @for v in views { option value=(v.id) selected[form.view_id == Some(v.id)] { (v.name) " — " (describe_query(state, &v.query)) } }
                        }
                    }
                    label for="rule-kind" { "Condition" }
                    select id="rule-kind" name="kind" {
                        @for (value, label) in CONDITION_KINDS { option value=(value) selected[form.kind == value] { (label) } }
                    }
                    label for="rule-threshold" { "Threshold (% for rates, points for a drop, an amount for spend)" }
                    input id="rule-threshold" name="threshold" value=(form.threshold) inputmode="decimal";
                    label for="rule-currency" { "Currency (spend)" }
                    input id="rule-currency" name="currency" value=(if form.currency.is_empty() { "USD" } else { &form.currency }) maxlength="3";
                    label for="rule-per" { "Spend per" }
                    select id="rule-per" name="per" {
                        option value="hour" selected[form.per != "day"] { "hour (this UTC hour so far, or the last one)" }
                        option value="day" selected[form.per == "day"] { "day (the last 24 hours)" }
                    }
                    label for="rule-window" { "Read conversion and delivery rates over" }
                    select id="rule-window" name="window" {
                        option value="" selected[form.window.is_empty()] { "the view's range" }
                        @for minutes in RATE_WINDOWS {
                            option value=(minutes) selected[form.window == minutes.to_string()] { "the last " (minutes) " minutes" }
                        }
                    }
                    label for="rule-min" { "Minimum volume (verifications) before it can fire" }
                    input id="rule-min" name="min_verifications" value=(form.min_verifications) inputmode="numeric";
                    (destination_fields(state, &form.destinations, &form.email_to, "rule"))
                    button type="submit" { (if rule_id.is_some() { "Save alert" } else { "Create alert" }) }
                }
            }
        }
    })
}

async fn new_rule_page(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let views = match store::views(&state.pool).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let query = query.unwrap_or_default();
    let pairs = crate::filters::query_pairs(&query);
    let view_id = pairs.iter().find(|(k, _)| k == "view").and_then(|(_, v)| v.parse::<i64>().ok());
    let mut form = RuleForm {
        kind: "conversion_below".into(),
        threshold: "60".into(),
        currency: "USD".into(),
        per: "hour".into(),
        min_verifications: "50".into(),
        ..RuleForm::default()
    };
    match view_id {
        Some(id) => {
            form.view_id = Some(id);
            form.name =
                views.iter().find(|v| v.id == id).map(|v| format!("{}: conversion", v.name)).unwrap_or_default();
        }
        None if !query.is_empty() => match clean_query(&state, &query) {
            Ok(q) => {
                form.name = describe_query(&state, &q);
                form.query = q;
            }
            Err(e) => return message_page(StatusCode::BAD_REQUEST, "Alert on this view", &e),
        },
        None => {
            if views.is_empty() {
                form.query = clean_query(&state, "").unwrap_or_default();
                form.name = "All traffic: conversion".into();
            }
        }
    }
    rule_form_page(&state, &headers, StatusCode::OK, &form, None, &views, None)
}

async fn edit_rule_page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let loaded =
        async { Ok::<_, AlertError>((store::rule(&state.pool, id).await?, store::views(&state.pool).await?)) }.await;
    match loaded {
        Ok((rule, views)) => {
            rule_form_page(&state, &headers, StatusCode::OK, &RuleForm::from_rule(&rule), Some(id), &views, None)
        }
        Err(e) => failure(e),
    }
}

async fn create_rule(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    save_rule(state, headers, None, body).await
}

async fn update_rule(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, body: Bytes) -> Response {
    save_rule(state, headers, Some(id), body).await
}

async fn save_rule(state: AppState, headers: HeaderMap, rule_id: Option<i64>, body: Bytes) -> Response {
    let posted = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &posted) {
        return refused;
    }
    let form = RuleForm::from_posted(&posted);
    let views = match store::views(&state.pool).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let refuse =
        |error: String| rule_form_page(&state, &headers, StatusCode::BAD_REQUEST, &form, rule_id, &views, Some(&error));
    // Checked before anything is written: a refused form changes nothing.
    let query = if form.view_id.is_none() {
        match clean_query(&state, &form.query) {
            Ok(q) => Some(q),
            Err(e) => return refuse(e),
        }
    } else {
        if !views.iter().any(|v| Some(v.id) == form.view_id) {
            return refuse("That saved view does not exist (any more).".into());
        }
        None
    };
    if let Err(e) = form.input(&state, 0) {
        return refuse(e);
    }
    let now = now_text(&state);
    let view_id = match (form.view_id, query) {
        (Some(id), _) => id,
        (None, Some(query)) => match store::create_view(&state.pool, form.name.trim(), &query, &now).await {
            Ok(id) => id,
            Err(e) => return failure(e),
        },
        (None, None) => return refuse("Choose a saved view.".into()),
    };
    let input = match form.input(&state, view_id) {
        Ok(input) => input,
        Err(e) => return refuse(e),
    };
    let saved = match rule_id {
        Some(id) => store::update_rule(&state.pool, id, &input).await.map(|()| id),
        None => store::create_rule(&state.pool, &input, &now).await,
    };
    match saved {
        Ok(id) => {
            if let Err(e) = engine::evaluate_rule(&state, id, state.now()).await {
                tracing::error!("alert rule {id} could not be evaluated: {e}");
            }
            redirect("/alerts")
        }
        Err(e) => failure(e),
    }
}

/// The end of a snooze: a preset length from now, or a time `until` (UTC).
fn snooze_until(form: &PostedForm, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let until = form.get("until").trim();
    if !until.is_empty() {
        let parsed = NaiveDateTime::parse_from_str(until, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(until, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| format!("\"{until}\" is not a time (YYYY-MM-DDTHH:MM, UTC)."))?
            .and_utc();
        if parsed <= now {
            return Err("A snooze must end in the future.".into());
        }
        return Ok(parsed);
    }
    let length = match form.get("for") {
        "1h" => Duration::hours(1),
        "4h" => Duration::hours(4),
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        other => return Err(format!("\"{other}\" is not a snooze length.")),
    };
    Ok(now + length)
}

async fn rule_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let now = state.now();
    let done = match action.as_str() {
        "pause" => store::set_paused(&state.pool, id, true).await,
        "resume" => match store::set_paused(&state.pool, id, false).await {
            Ok(()) => engine::evaluate_rule(&state, id, now).await,
            Err(e) => Err(e),
        },
        "snooze" => match snooze_until(&form, now) {
            Ok(until) => store::set_snooze(&state.pool, id, Some(&twilio_time::format(&until))).await,
            Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not snoozed", &e),
        },
        "unsnooze" => match store::set_snooze(&state.pool, id, None).await {
            Ok(()) => engine::evaluate_rule(&state, id, now).await,
            Err(e) => Err(e),
        },
        "delete" => store::delete_rule(&state.pool, id).await,
        "test" => engine::send_test(&state, id, now).await,
        _ => return message_page(StatusCode::NOT_FOUND, "Not found", "There is no such action."),
    };
    match done {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}

// ---- digests ----

async fn create_digest(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let Ok(view_id) = form.get("view_id").parse::<i64>() else {
        return message_page(StatusCode::BAD_REQUEST, "Not saved", "Choose a saved view.");
    };
    let frequency = match form.get("frequency") {
        f @ ("daily" | "weekly") => f,
        other => {
            return message_page(StatusCode::BAD_REQUEST, "Not saved", &format!("\"{other}\" is not daily or weekly."));
        }
    };
    let hour = match form.get("hour").trim().parse::<u32>() {
        Ok(h) if h < 24 => h,
        _ => {
            return message_page(StatusCode::BAD_REQUEST, "Not saved", "The hour must be a whole number from 0 to 23.");
        }
    };
    let rule_form = RuleForm {
        name: "digest".into(),
        kind: "anomaly".into(),
        destinations: form.all("destination").into_iter().map(String::from).collect(),
        email_to: form.get("email_to").into(),
        ..RuleForm::default()
    };
    let input = match rule_form.input(&state, view_id) {
        Ok(input) => input,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not saved", &e),
    };
    let now = state.now();
    // The first one goes out at the next scheduled hour, not for one already past.
    let created = async {
        let id = store::create_digest(
            &state.pool,
            view_id,
            frequency,
            hour,
            &input.destinations,
            &input.email_to,
            &twilio_time::format(&now),
        )
        .await?;
        let due = twilio_time::format(&digest::last_due(frequency, hour, now));
        store::queue_digest(&state.pool, id, None, &due, &[]).await?;
        Ok::<_, AlertError>(())
    }
    .await;
    match created {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}

async fn digest_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let done = match action.as_str() {
        "delete" => store::delete_digest(&state.pool, id).await,
        "send" => digest::send_now(&state, id, state.now()).await,
        _ => return message_page(StatusCode::NOT_FOUND, "Not found", "There is no such action."),
    };
    match done {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}

// ---- inbox ----

async fn inbox_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let messages = match store::inbox(&state.pool, 100).await {
        Ok(m) => m,
        Err(e) => return failure(e),
    };
    let demo = state.alerts.demo_emulator.is_some() && !state.read_only;
    page(&state, StatusCode::OK, &headers, "Inbox", |token| {
        html! {
            p class="note" { "Messages sent to the in-app inbox, newest first." }
            @if demo {
                section class="demo-incident" aria-label="Demo incident" {
                    p {
                        "Demo: start an SMS-pumping burst in the built-in emulator (Indonesia, for five minutes). "
                        "The demo alert watches conversion in Indonesia over the last 5 minutes: it fires at the first sync "
                        "after the burst starts (the demo syncs every 30 seconds) and resolves about five minutes after it ends."
                    }
                    form method="post" action=(paths::url("/alerts/demo-alert")) class="inline" {
                        (csrf_field(token))
                        button type="submit" data-testid="create-demo-alert" { "Create the demo alert" }
                    }
                    form method="post" action=(paths::url("/alerts/demo-incident")) class="inline" {
                        (csrf_field(token))
                        button type="submit" data-testid="start-incident" { "Start a demo incident" }
                    }
                }
            }
            @if messages.is_empty() {
                p class="empty" data-testid="inbox-empty" { "No messages yet. When an alert fires or resolves, it shows here." }
            } @else {
                ul class="inbox" data-testid="inbox" {
                    @for m in &messages {
                        li data-testid="inbox-message" data-kind=(m.kind) {
                            strong { (m.message.title) }
                            " · " span class="note" { (m.message.at.replace('T', " ").trim_end_matches('Z')) " UTC" }
                            @if let Some(e) = &m.message.evaluation { p { (e.summary) } }
                            @for section in &m.message.sections {
                                h3 { (section.heading) }
                                ul { @for line in &section.lines { li { (line) } } }
                            }
                            p { a href=(m.message.view.url) { "Open " (m.message.view.name) } }
                        }
                    }
                }
            }
        }
    })
}

/// The demo's alert: conversion in Indonesia over the last 5 minutes below 50%, with at least
/// 10 verifications, to the inbox.
async fn demo_alert(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    if state.alerts.demo_emulator.is_none() {
        return message_page(StatusCode::NOT_FOUND, "Not found", "The demo alert is for the demo.");
    }
    let now = now_text(&state);
    let created = async {
        let view_id = store::create_view(&state.pool, "Indonesia", "country=ID&range=24h", &now).await?;
        let input = RuleInput {
            view_id,
            name: "Conversion in Indonesia (demo)".into(),
            condition: Condition::ConversionBelow { percent: 50.0 },
            min_verifications: 10,
            window_minutes: Some(5),
            destinations: vec![DestinationKind::Inbox],
            email_to: String::new(),
        };
        let id = store::create_rule(&state.pool, &input, &now).await?;
        engine::evaluate_rule(&state, id, state.now()).await
    }
    .await;
    match created {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}

async fn demo_incident(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let Some(emulator) = &state.alerts.demo_emulator else {
        return message_page(StatusCode::NOT_FOUND, "Not found", "Incidents can only be started in the demo.");
    };
    let span = emulator.start_incident(5 * 60);
    tracing::info!("demo: an SMS-pumping burst runs in the emulator from {} to {}", span.start, span.end);
    redirect("/alerts/inbox")
}
