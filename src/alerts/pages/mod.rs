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
use crate::model::{FriendlyNames, twilio_time};
use crate::paths;
use crate::state::AppState;

mod alerts_list;
mod annotations;
mod digests;
mod inbox;
mod rules;
mod views;

const CSRF_COOKIE: &str = "verilens_csrf";

/// The routes of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/views", get(views::views_page).post(views::create_view))
        .route("/views/save", get(views::save_view_page))
        .route("/views/{id}/rename", post(views::rename_view))
        .route("/views/{id}/delete", post(views::delete_view))
        .route("/alerts", get(alerts_list::alerts_page).post(rules::create_rule))
        .route("/alerts/new", get(rules::new_rule_page))
        .route("/alerts/inbox", get(inbox::inbox_page))
        .route("/alerts/demo-incident", post(inbox::demo_incident))
        .route("/alerts/demo-alert", post(inbox::demo_alert))
        .route("/alerts/{id}/edit", get(rules::edit_rule_page))
        .route("/alerts/{id}", post(rules::update_rule))
        .route("/alerts/{id}/{action}", post(rules::rule_action))
        .route("/annotations", get(annotations::annotations_page).post(annotations::create_annotation))
        .route("/annotations/{id}/delete", post(annotations::delete_annotation))
        .route("/digests", post(digests::create_digest))
        .route("/digests/{id}/{action}", post(digests::digest_action))
}

/// Whether `path` is one of these pages' form posts (the only writes besides server functions).
pub fn takes_forms(path: &str) -> bool {
    ["/views", "/alerts", "/digests", "/annotations"]
        .iter()
        .any(|root| path == *root || path.starts_with(&format!("{root}/")))
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
                        a href=(paths::url("/annotations")) { "Annotations" }
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
/// The names of the account's services as the last sync read them; SIDs alone if they cannot be read.
async fn service_names(state: &AppState) -> FriendlyNames {
    FriendlyNames(state.figures.friendly_names().await.unwrap_or_default())
}

fn describe_query(state: &AppState, services: &FriendlyNames, query: &str) -> String {
    let filters = state.parse_view(query).filters;
    let mut parts: Vec<String> =
        crate::app::navigation::chips(&filters, services).into_iter().map(|(label, _)| label).collect();
    parts.insert(0, range_label(&filters.range));
    parts.join(" · ")
}

fn range_label(range: &crate::filters::DateRange) -> String {
    use crate::filters::DateRange;
    match range {
        DateRange::LastDay => "Last 24 hours".into(),
        DateRange::LastDays(n) => format!("Last {n} days"),
        DateRange::LastMonths(n) => format!("Last {n} months"),
        DateRange::All => "All history".into(),
        DateRange::Between(a, b) => format!("{a} to {b}"),
        DateRange::Hours(a, b) => format!("{a} to {b} UTC"),
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
