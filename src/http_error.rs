//! Every way the dashboard answers a request with an error of its own, and that answer:
//! status, headers, and a one-line message that never carries details (those go to the log).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// The largest body of a server function call: its arguments are a view's query string.
pub const MAX_CALL_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("this address answers GET and HEAD only")]
    NotARead,
    #[error("a server function takes its arguments as a form (application/x-www-form-urlencoded)")]
    NotAForm,
    #[error("a server function's arguments are at most {MAX_CALL_BODY} bytes")]
    TooLarge,
    #[error("the request's body is malformed")]
    MalformedBody,
    #[error("a server function's arguments are UTF-8 text")]
    NotUtf8,
    #[error("verilens needs a user and password")]
    Unauthorized,
    /// A browser says another site sent the call (`Sec-Fetch-Site`): a cross-site request forgery.
    #[error("a server function is called from the dashboard's own pages only")]
    CrossSite,
    /// A download's query has parameters that do not parse; each notice says which.
    #[error("invalid parameters: {}", .0.join("; "))]
    InvalidParameters(Vec<String>),
    /// `what` names the request in the log.
    #[error("the snapshot could not be read; see the server log")]
    Snapshot { what: &'static str, source: StoreError },
    /// A handler panicked: a bug, logged where it was caught.
    #[error("verilens failed to answer this request; see the server log")]
    Panicked,
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::NotARead => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::NotAForm => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::MalformedBody | HttpError::NotUtf8 | HttpError::InvalidParameters(_) => StatusCode::BAD_REQUEST,
            HttpError::Unauthorized => StatusCode::UNAUTHORIZED,
            HttpError::CrossSite => StatusCode::FORBIDDEN,
            HttpError::Snapshot { .. } | HttpError::Panicked => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if let HttpError::Snapshot { what, source } = &self {
            tracing::error!("{what}: {source:?}");
        }
        let mut response = (self.status(), format!("{self}\n")).into_response();
        let headers = response.headers_mut();
        match self {
            HttpError::NotARead => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            HttpError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"verilens\", charset=\"UTF-8\""),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_the_headers_it_needs() {
        let answer = HttpError::NotARead.into_response();
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.headers()[header::ALLOW], "GET, HEAD");
        let answer = HttpError::Unauthorized.into_response();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert!(answer.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic "));
        let invalid = HttpError::InvalidParameters(vec!["a".into(), "b".into()]);
        assert_eq!(invalid.to_string(), "invalid parameters: a; b");
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
        let unreadable = HttpError::Snapshot { what: "export", source: StoreError::Rollups("secret detail".into()) };
        assert!(!unreadable.to_string().contains("secret"), "details stay in the log");
        assert_eq!(unreadable.into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
