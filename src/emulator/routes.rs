//! The HTTP surface: the Attempts endpoints, the account's Verify services, Basic auth, the
//! rate limit and injected faults.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Emulator;
use super::dataset::parse_sid;
use super::error::EmulatorError;
use super::listing::{find_attempt, list_page, summarize};
use super::params::{ListParams, parse_list_params, parse_page, parse_summary_params};
use super::render::AttemptView;
use super::services::services;
use crate::model::PageMeta;
use crate::security::{basic_credentials, same_secret};

pub fn router(emulator: Arc<Emulator>) -> Router {
    Router::new()
        .route("/v2/Attempts", get(list_attempts))
        .route("/v2/Attempts/Summary", get(attempts_summary))
        .route("/v2/Attempts/{sid}", get(fetch_attempt))
        .route("/v2/Services", get(list_services))
        .route("/v2/Services/{sid}", get(fetch_service))
        .fallback(not_found)
        .with_state(emulator)
}

async fn list_attempts(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, EmulatorError> {
    admit(&emulator, &headers).await?;
    let params = parse_list_params(&query_pairs(query.as_deref()))?;
    let base = base_url(&headers);
    let now = emulator.now();
    let dataset = emulator.dataset.read().expect("dataset lock");
    let page = list_page(&dataset, &params, now, &base)?;
    let page_url = |number: u64, token: Option<String>| page_url(&base, &params, number, token);
    let meta = PageMeta {
        key: "attempts".to_string(),
        page: params.page,
        page_size: params.page_size as u64,
        first_page_url: page_url(0, None),
        previous_page_url: page.previous.map(|t| page_url(params.page.saturating_sub(1), Some(t.encode()))),
        url: page_url(params.page, params.page_token.map(|t| t.encode())),
        next_page_url: page.next.map(|t| page_url(params.page + 1, Some(t.encode()))),
    };
    let listed = ListedAttempts { attempts: page.attempts, meta };
    // About a kilobyte an attempt, written into a body of that size rather than one grown by doubling.
    let mut body = Vec::with_capacity(1024 * (listed.attempts.len() + 1));
    match serde_json::to_writer(&mut body, &listed) {
        Ok(()) => Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response()),
        Err(_) => Ok(Json(listed).into_response()),
    }
}

/// An `AttemptPage` as served: the attempts are views of the dataset.
#[derive(serde::Serialize)]
struct ListedAttempts<'a> {
    attempts: Vec<AttemptView<'a>>,
    meta: PageMeta,
}

async fn fetch_attempt(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    sid: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, EmulatorError> {
    admit(&emulator, &headers).await?;
    let not_found = || EmulatorError::NotFound { path: uri.path().to_string() };
    let bits = sid_in_path("VL", sid, &uri)?;
    let dataset = emulator.dataset.read().expect("dataset lock");
    let base = base_url(&headers);
    let attempt = find_attempt(&dataset, bits, emulator.now(), &base).ok_or_else(not_found)?;
    Ok(Json(attempt).into_response())
}

async fn list_services(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, EmulatorError> {
    admit(&emulator, &headers).await?;
    let (page_size, page) = parse_page(&query_pairs(query.as_deref()))?;
    let page = usize::try_from(page).unwrap_or(usize::MAX);
    let base = base_url(&headers);
    let dataset = emulator.dataset.read().expect("dataset lock");
    let all = services(&dataset, &base);
    let pages = all.len().div_ceil(page_size).max(1);
    let page_url = |number: usize| format!("{base}/v2/Services?PageSize={page_size}&Page={number}");
    let meta = PageMeta {
        key: "services".to_string(),
        page: page as u64,
        page_size: page_size as u64,
        first_page_url: page_url(0),
        previous_page_url: (page > 0).then(|| page_url(page - 1)),
        url: page_url(page),
        next_page_url: (page + 1 < pages).then(|| page_url(page + 1)),
    };
    let listed: Vec<_> = all.into_iter().skip(page.saturating_mul(page_size)).take(page_size).collect();
    Ok(Json(serde_json::json!({ "services": listed, "meta": meta })).into_response())
}

async fn fetch_service(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    sid: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, EmulatorError> {
    admit(&emulator, &headers).await?;
    let not_found = || EmulatorError::NotFound { path: uri.path().to_string() };
    let bits = sid_in_path("VA", sid, &uri)?;
    let dataset = emulator.dataset.read().expect("dataset lock");
    let index = dataset.service_sids.iter().position(|s| *s == bits).ok_or_else(not_found)?;
    let service = services(&dataset, &base_url(&headers)).into_iter().nth(index).ok_or_else(not_found)?;
    Ok(Json(service).into_response())
}

async fn attempts_summary(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, EmulatorError> {
    admit(&emulator, &headers).await?;
    let filter = parse_summary_params(&query_pairs(query.as_deref()))?;
    let url = format!("{}/v2/Attempts/Summary", base_url(&headers));
    let dataset = emulator.dataset.read().expect("dataset lock");
    Ok(Json(summarize(&dataset, &filter, emulator.now(), url)).into_response())
}

async fn not_found(State(emulator): State<Arc<Emulator>>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    if let Err(e) = admit(&emulator, &headers).await {
        return e.into_response();
    }
    EmulatorError::NotFound { path: uri.path().to_string() }.into_response()
}

/// Latency, authentication, the rate limit and injected faults, in Twilio's order.
async fn admit(emulator: &Emulator, headers: &HeaderMap) -> Result<(), EmulatorError> {
    if !emulator.config.latency.is_zero() {
        tokio::time::sleep(emulator.config.latency).await;
    }
    let account = authenticate(emulator, headers)?;
    emulator.take_rate_budget(&account).map_err(|retry_after_secs| EmulatorError::RateLimited { retry_after_secs })?;
    if emulator.inject_fault() {
        return Err(EmulatorError::InjectedFault);
    }
    Ok(())
}

/// Checks HTTP Basic credentials and returns the account they belong to.
fn authenticate(emulator: &Emulator, headers: &HeaderMap) -> Result<String, EmulatorError> {
    let creds = &emulator.config.credentials;
    let (user, password) = basic_credentials(headers.get(header::AUTHORIZATION)).ok_or(EmulatorError::Unauthorized)?;
    let account_ok = same_secret(&user, &creds.account_sid) & same_secret(&password, &creds.auth_token);
    let key_ok = same_secret(&user, &creds.api_key_sid) & same_secret(&password, &creds.api_key_secret);
    if account_ok || key_ok { Ok(creds.account_sid.clone()) } else { Err(EmulatorError::Unauthorized) }
}

/// The bits of the SID in a resource's path; any other path (a SID that is not even UTF-8
/// once decoded included) names nothing.
fn sid_in_path(
    prefix: &str,
    sid: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: &axum::http::Uri,
) -> Result<u128, EmulatorError> {
    sid.ok()
        .and_then(|Path(sid)| parse_sid(prefix, &sid))
        .ok_or_else(|| EmulatorError::NotFound { path: uri.path().to_string() })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The scheme and host the client used, so page URLs lead back to this server.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

fn page_url(base: &str, params: &ListParams, page: u64, token: Option<String>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &params.echoed {
        query.append_pair(name, value);
    }
    query.append_pair("PageSize", &params.page_size.to_string());
    query.append_pair("Page", &page.to_string());
    if let Some(token) = token {
        query.append_pair("PageToken", &token);
    }
    format!("{base}/v2/Attempts?{}", query.finish())
}
