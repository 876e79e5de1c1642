//! Errors of the emulated API, answered with Twilio's error body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("Invalid parameter: {name} {reason}")]
    InvalidParameter { name: &'static str, reason: &'static str },
    #[error("Authenticate")]
    Unauthorized,
    #[error("The requested resource {path} was not found")]
    NotFound { path: String },
    #[error("Too Many Requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("Internal Server Error")]
    InjectedFault,
}

impl EmulatorError {
    pub fn invalid(name: &'static str, reason: &'static str) -> Self {
        EmulatorError::InvalidParameter { name, reason }
    }

    fn status_and_code(&self) -> (StatusCode, u32) {
        match self {
            EmulatorError::InvalidParameter { .. } => (StatusCode::BAD_REQUEST, 60200),
            EmulatorError::Unauthorized => (StatusCode::UNAUTHORIZED, 20003),
            EmulatorError::NotFound { .. } => (StatusCode::NOT_FOUND, 20404),
            EmulatorError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, 20429),
            EmulatorError::InjectedFault => (StatusCode::INTERNAL_SERVER_ERROR, 20500),
        }
    }
}

impl IntoResponse for EmulatorError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = json!({
            "code": code,
            "message": self.to_string(),
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        });
        let mut response = (status, Json(body)).into_response();
        match self {
            EmulatorError::RateLimited { retry_after_secs } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            EmulatorError::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
            }
            _ => {}
        }
        response
    }
}
