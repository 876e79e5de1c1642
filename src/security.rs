//! Response headers that keep pages inert and unframeable, and optional Basic auth.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The policy for pages: scripts only from this origin or with the page's nonce
/// (Leptos' hydration script), WebAssembly allowed, no framing.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Adds the security headers to every response; pages set their own CSP with their nonce.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = HeaderValue::from_str(&content_security_policy(None)).expect("an ASCII policy");
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The user and password of `--basic-auth user:pass`.
#[derive(Clone)]
pub struct BasicAuth {
    user: String,
    password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth({}, ***)", self.user)
    }
}

impl std::str::FromStr for BasicAuth {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Ok(BasicAuth { user: user.to_string(), password: password.to_string() })
            }
            _ => Err("expected user:password".to_string()),
        }
    }
}

impl BasicAuth {
    fn accepts(&self, authorization: Option<&HeaderValue>) -> bool {
        let given = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| STANDARD.decode(v.trim()).ok())
            .unwrap_or_default();
        let expected = format!("{}:{}", self.user, self.password).into_bytes();
        constant_time_eq(&given, &expected)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    diff == 0
}

/// Asks for the credentials on every route but `/healthz`.
pub async fn require_basic_auth(State(auth): State<Option<BasicAuth>>, request: Request, next: Next) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" || auth.accepts(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    let mut response = (StatusCode::UNAUTHORIZED, "verilens needs a user and password\n").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"verilens\", charset=\"UTF-8\""));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_parses_and_compares() {
        let auth: BasicAuth = "pm:s3cret".parse().unwrap();
        let header = |v: &str| HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(v))).unwrap();
        assert!(auth.accepts(Some(&header("pm:s3cret"))));
        assert!(!auth.accepts(Some(&header("pm:s3cre"))));
        assert!(!auth.accepts(Some(&header("pm:s3cret!"))));
        assert!(!auth.accepts(None));
        assert!("nocolon".parse::<BasicAuth>().is_err());
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn the_policy_allows_only_own_scripts_and_the_nonce() {
        let policy = content_security_policy(Some("abc"));
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-eval'") || policy.contains("wasm-unsafe-eval"));
    }
}
