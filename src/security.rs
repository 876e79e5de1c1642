//! Response headers that keep pages inert, unframeable and out of caches, and Basic auth
//! (the dashboard's optional one, and the parsing the emulator shares).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

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
/// Answers are `no-store` (pages and exports show a private snapshot) unless they set their
/// own caching, as static assets do.
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
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The user and password the dashboard asks for (`VERILENS_BASIC_AUTH=user:pass`).
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
            // Never the text itself: it may be a password.
            _ => Err("expected user:password".to_string()),
        }
    }
}

impl BasicAuth {
    fn accepts(&self, authorization: Option<&HeaderValue>) -> bool {
        basic_credentials(authorization)
            .is_some_and(|(user, password)| same_secret(&user, &self.user) & same_secret(&password, &self.password))
    }
}

/// The user and password of an `Authorization: Basic …` header; the scheme's name is
/// case-insensitive (RFC 9110), so `basic` and `BASIC` are Basic too.
pub fn basic_credentials(authorization: Option<&HeaderValue>) -> Option<(String, String)> {
    let (scheme, encoded) = authorization?.to_str().ok()?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Whether a secret a client gave equals the expected one, in a time that does not depend
/// on where they differ (only on their lengths).
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Asks for the credentials on every route but `/healthz` and `/api/annotations` (which asks
/// for its own token).
pub async fn require_basic_auth(State(auth): State<Option<BasicAuth>>, request: Request, next: Next) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    if matches!(request.uri().path(), "/healthz" | "/api/annotations")
        || auth.accepts(request.headers().get(header::AUTHORIZATION))
    {
        return next.run(request).await;
    }
    crate::http_error::HttpError::Unauthorized.into_response()
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
        for scheme in ["basic", "BASIC", "bAsIc"] {
            let value = HeaderValue::from_str(&format!("{scheme} {}", STANDARD.encode("pm:s3cret"))).unwrap();
            assert!(auth.accepts(Some(&value)), "{scheme}");
        }
        let bearer = HeaderValue::from_str(&format!("Bearer {}", STANDARD.encode("pm:s3cret"))).unwrap();
        assert!(!auth.accepts(Some(&bearer)));
        assert!("nocolon".parse::<BasicAuth>().is_err());
        assert!(!"pm:".parse::<BasicAuth>().unwrap_err().contains("pm"), "the error repeats nothing given");
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
