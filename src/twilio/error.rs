use std::time::Duration;

/// What went wrong talking to the Attempts API. Messages never contain credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio rejected the credentials for {account}: error {code}{}", detail(.message))]
    Unauthorized { account: String, code: u32, message: String },
    #[error("not found: {path}")]
    NotFound { path: String },
    #[error("rate limited by Twilio (retry after {retry_after:?})")]
    RateLimited { retry_after: Duration },
    #[error("Twilio refused the request with HTTP {status}: error {code}{}", detail(.message))]
    BadRequest { status: u16, code: u32, message: String },
    #[error("Twilio answered HTTP {status}{}", detail(.message))]
    Server { status: u16, message: String },
    #[error("no answer from {host} within {timeout:?}")]
    Timeout { host: String, timeout: Duration },
    #[error("could not reach {host}: {message}")]
    Network { host: String, message: String },
    #[error("undecodable answer (HTTP {status}) starting with {snippet:?}: {message}")]
    Undecodable { status: u16, snippet: String, message: String },
    #[error("invalid API URL {0:?}")]
    InvalidBaseUrl(String),
}

fn detail(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(" ({message})") }
}

impl TwilioError {
    /// The error as a metric's label: the HTTP status when there is one, else what failed.
    pub fn code_label(&self) -> String {
        match self {
            TwilioError::Unauthorized { .. } => "401".into(),
            TwilioError::NotFound { .. } => "404".into(),
            TwilioError::RateLimited { .. } => "429".into(),
            TwilioError::BadRequest { status, .. }
            | TwilioError::Server { status, .. }
            | TwilioError::Undecodable { status, .. } => status.to_string(),
            TwilioError::Timeout { .. } => "timeout".into(),
            TwilioError::Network { .. } => "network".into(),
            TwilioError::InvalidBaseUrl(_) => "invalid_url".into(),
        }
    }

    /// Whether waiting and asking again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TwilioError::RateLimited { .. }
                | TwilioError::Server { .. }
                | TwilioError::Timeout { .. }
                | TwilioError::Network { .. }
        )
    }
}

/// Twilio's error body: `{"code", "message", "more_info", "status"}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ErrorBody {
    pub code: Option<u32>,
    pub message: Option<String>,
}
