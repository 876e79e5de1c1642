//! A client of Twilio's Verification Attempts API: auth, paging, the shared
//! rate limit, retries, and typed errors.

mod error;
mod rate_limit;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use error::ErrorBody;
pub use error::TwilioError;
pub use rate_limit::RateLimiter;

use crate::model::{AttemptPage, AttemptSummary, ServicePage, VerifyService};

pub const DEFAULT_BASE_URL: &str = "https://verify.twilio.com";
/// The API's documented timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Who we are to Twilio. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub account_sid: String,
    /// The account SID or an API key SID (`SK...`).
    pub username: String,
    pub secret: String,
}

impl Credentials {
    pub fn auth_token(account_sid: String, auth_token: String) -> Self {
        Credentials { username: account_sid.clone(), account_sid, secret: auth_token }
    }

    pub fn api_key(account_sid: String, key_sid: String, key_secret: String) -> Self {
        Credentials { account_sid, username: key_sid, secret: key_secret }
    }

    /// The account SID shortened for messages: `AC12…ef`.
    pub fn account_hint(&self) -> String {
        let sid = &self.account_sid;
        if sid.len() > 8 { format!("{}…{}", &sid[..4], &sid[sid.len() - 2..]) } else { sid.clone() }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, secret: ***)", self.account_hint())
    }
}

/// How hard to retry transient failures.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 8, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(20) }
    }
}

/// The window and page size of `GET /v2/Attempts`: the sync reads every attempt of a
/// window, so it sends no other filter.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub date_created_after: Option<String>,
    pub date_created_before: Option<String>,
    pub page_size: Option<u32>,
}

impl ListQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let fields = [("DateCreatedAfter", &self.date_created_after), ("DateCreatedBefore", &self.date_created_before)];
        let mut pairs: Vec<_> = fields.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))).collect();
        if let Some(size) = self.page_size {
            pairs.push(("PageSize", size.to_string()));
        }
        pairs
    }
}

/// The window of `GET /v2/Attempts/Summary`: the sync compares whole windows.
#[derive(Clone, Debug, Default)]
pub struct SummaryQuery {
    pub date_created_after: Option<String>,
    pub date_created_before: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
    credentials: Credentials,
    limiter: Arc<RateLimiter>,
    retry: RetryPolicy,
    timeout: Duration,
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, TwilioError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("verilens/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| TwilioError::Network { host: String::new(), message: e.to_string() })
}

impl TwilioClient {
    pub fn new(base_url: &str, credentials: Credentials, limiter: Arc<RateLimiter>) -> Result<Self, TwilioError> {
        let base_url = reqwest::Url::parse(base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| TwilioError::InvalidBaseUrl(base_url.to_string()))?;
        let http = http_client(REQUEST_TIMEOUT)?;
        Ok(TwilioClient {
            http,
            base_url,
            credentials,
            limiter,
            retry: RetryPolicy::default(),
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// A shorter request timeout than the API's documented 15 s, for tests.
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, TwilioError> {
        self.http = http_client(timeout)?;
        self.timeout = timeout;
        Ok(self)
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The first page of a listing.
    pub async fn list_attempts(&self, query: &ListQuery) -> Result<AttemptPage, TwilioError> {
        let mut url = self.url("/v2/Attempts");
        url.query_pairs_mut().extend_pairs(query.pairs());
        self.get_json(url).await
    }

    /// The page a `next_page_url` points to. Only its path and query are used, so
    /// credentials are never sent to a host other than the configured one.
    pub async fn list_attempts_at(&self, page_url: &str) -> Result<AttemptPage, TwilioError> {
        self.get_json(self.page_url(page_url)?).await
    }

    /// The path and query of a page URL the API gave, on the configured host.
    fn page_url(&self, page_url: &str) -> Result<reqwest::Url, TwilioError> {
        let given = reqwest::Url::parse(page_url)
            .or_else(|_| self.base_url.join(page_url))
            .map_err(|_| TwilioError::InvalidBaseUrl(page_url.to_string()))?;
        let mut url = self.url(given.path());
        url.set_query(given.query());
        Ok(url)
    }

    /// One attempt, live. `sid` must be an attempt SID (`VL` and 32 hex digits): it becomes
    /// part of the URL's path.
    pub async fn fetch_attempt(&self, sid: &str) -> Result<crate::model::Attempt, TwilioError> {
        if !crate::model::is_sid(sid, "VL") {
            return Err(TwilioError::NotFound { path: "/v2/Attempts/{Sid}".into() });
        }
        self.get_json(self.url(&format!("/v2/Attempts/{sid}"))).await
    }

    /// Every Verify service of the account, following the listing's pages (the page limit
    /// keeps a server that always names a next page from looping).
    pub async fn list_services(&self) -> Result<Vec<VerifyService>, TwilioError> {
        const MOST_PAGES: usize = 100;
        let mut url = self.url("/v2/Services");
        url.query_pairs_mut().append_pair("PageSize", "1000");
        let mut services = Vec::new();
        for _ in 0..MOST_PAGES {
            let page: ServicePage = self.get_json(url).await?;
            services.extend(page.services);
            let Some(next) = page.meta.next_page_url else {
                break;
            };
            url = self.page_url(&next)?;
        }
        Ok(services)
    }

    pub async fn fetch_summary(&self, query: &SummaryQuery) -> Result<AttemptSummary, TwilioError> {
        let mut url = self.url("/v2/Attempts/Summary");
        let fields =
            [("DateCreatedAfter", &query.date_created_after), ("DateCreatedBefore", &query.date_created_before)];
        url.query_pairs_mut().extend_pairs(fields.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v))));
        self.get_json(url).await
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let prefix = self.base_url.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(None);
        url
    }

    /// GETs with the rate limit, retrying transient failures with capped, jittered backoff.
    async fn get_json<T: DeserializeOwned>(&self, url: reqwest::Url) -> Result<T, TwilioError> {
        let mut attempt = 0;
        loop {
            self.limiter.acquire().await;
            let result = self.get_once(&url).await;
            metrics::counter!("verilens_api_requests_total").increment(1);
            if let Err(e) = &result {
                metrics::counter!("verilens_api_errors_total", "code" => e.code_label()).increment(1);
            }
            match result {
                Err(e) if e.is_transient() && attempt < self.retry.max_retries => {
                    attempt += 1;
                    let delay = match &e {
                        TwilioError::RateLimited { retry_after } => {
                            // Everything sharing the limiter waits too, not only this request.
                            self.limiter.pause_for(*retry_after).await;
                            *retry_after
                        }
                        _ => backoff(&self.retry, attempt),
                    };
                    tracing::warn!("{} {}: {e}; retry {attempt} in {delay:?}", "GET", url.path());
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    async fn get_once<T: DeserializeOwned>(&self, url: &reqwest::Url) -> Result<T, TwilioError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let response = self
            .http
            .get(url.clone())
            .basic_auth(&self.credentials.username, Some(&self.credentials.secret))
            .send()
            .await
            .map_err(|e| transport_error(e, &host, self.timeout))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| transport_error(e, &host, self.timeout))?;
        if status.is_success() {
            // Checked as UTF-8 once, rather than string by string as `from_slice` would.
            let decoded = std::str::from_utf8(&body)
                .map_err(|e| format!("the body is not UTF-8: {e}"))
                .and_then(|text| serde_json::from_str(text).map_err(|e| e.to_string()));
            return decoded.map_err(|message| TwilioError::Undecodable {
                status: status.as_u16(),
                snippet: snippet(&body),
                message,
            });
        }
        let error: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let code = error.as_ref().and_then(|e| e.code).unwrap_or(0);
        let message = error.and_then(|e| e.message).unwrap_or_else(|| snippet(&body));
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                TwilioError::Unauthorized { account: self.credentials.account_hint(), code, message }
            }
            StatusCode::NOT_FOUND => TwilioError::NotFound { path: url.path().to_string() },
            StatusCode::TOO_MANY_REQUESTS => TwilioError::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(120)),
            },
            s if s.is_server_error() => TwilioError::Server { status: s.as_u16(), message },
            s => TwilioError::BadRequest { status: s.as_u16(), code, message },
        })
    }
}

fn transport_error(e: reqwest::Error, host: &str, timeout: Duration) -> TwilioError {
    if e.is_timeout() {
        TwilioError::Timeout { host: host.to_string(), timeout }
    } else {
        // reqwest's messages include the URL, which holds no secret (auth is a header).
        TwilioError::Network { host: host.to_string(), message: e.without_url().to_string() }
    }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned()
}

/// Exponential backoff with full jitter, capped.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_delay.saturating_mul(1 << attempt.min(16));
    let cap = exp.min(policy.max_delay);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let jitter = f64::from(nanos % 1000) / 1000.0;
    cap.mul_f64(0.5 + jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let creds = Credentials::auth_token("AC0123456789abcdef0123456789abcdef".into(), "s3cr3t-token".into());
        let text = format!("{creds:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("AC01…ef"));
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        let policy = RetryPolicy::default();
        assert!(backoff(&policy, 1) <= Duration::from_millis(500));
        assert!(backoff(&policy, 10) <= policy.max_delay);
        assert!(backoff(&policy, 10) >= policy.max_delay / 2);
    }
}
