//! Which requests the dashboard takes: reads (GET and HEAD) of pages, exports and files, and
//! calls of its server functions (POST under `/api/`) and posts of its alert pages' forms,
//! whose body is a form the size of a query string; and where the answer to a plain form post may send the browser.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::http_error::{HttpError, MAX_CALL_BODY};

/// Lets reads through, and server function calls whose body is a form of at most
/// `MAX_CALL_BODY` bytes of UTF-8; refuses the rest with their status. (Left to the server
/// functions, a body too large, not text or cut short would be a 500; and the fallback
/// serves files to any method.)
pub async fn admit_request(request: Request, next: Next) -> Response {
    let method = request.method();
    let path = request.uri().path();
    if path.starts_with("/api/") || (method == Method::POST && crate::alerts::pages::takes_forms(path)) {
        if method != Method::POST {
            // The router answers with the methods the route takes.
            return next.run(request).await;
        }
        if sent_by_another_site(&request) {
            return HttpError::CrossSite.into_response();
        }
        let host = request.headers().get(header::HOST).cloned();
        let request = match read_call(request).await {
            Ok(request) => request,
            Err(refused) => return refused.into_response(),
        };
        let mut response = next.run(request).await;
        keep_redirect_on_site(&mut response, host.as_ref());
        return response;
    }
    if method == Method::GET || method == Method::HEAD {
        next.run(request).await
    } else {
        HttpError::NotARead.into_response()
    }
}

/// Whether the browser says the call comes from a page of another origin. Browsers set
/// `Sec-Fetch-Site` themselves (a page cannot), so a form another site posts, with the
/// dashboard's password the browser remembers, is refused; scripts send no such header.
fn sent_by_another_site(request: &Request) -> bool {
    request
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| !matches!(site.to_ascii_lowercase().as_str(), "same-origin" | "none"))
}

/// The call with its body read and checked.
async fn read_call(request: Request) -> Result<Request, HttpError> {
    // Scripts post annotations as JSON; everything else posts forms.
    let expected = if request.uri().path() == "/api/annotations" {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected));
    if !is_form {
        return Err(HttpError::NotAForm);
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_CALL_BODY as u64) {
        return Err(HttpError::TooLarge);
    }
    let (parts, body) = request.into_parts();
    let mut chunks = body.into_data_stream();
    let mut read = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| HttpError::MalformedBody)?;
        if read.len() + chunk.len() > MAX_CALL_BODY {
            return Err(HttpError::TooLarge);
        }
        read.extend_from_slice(&chunk);
    }
    if std::str::from_utf8(&read).is_err() {
        return Err(HttpError::NotUtf8);
    }
    Ok(Request::from_parts(parts, Body::from(read)))
}

/// Leptos answers a plain form post (no JavaScript) with a redirect to its Referer, which
/// may be any site: a redirect off this site goes to the overview instead.
fn keep_redirect_on_site(response: &mut Response, host: Option<&HeaderValue>) {
    let Some(location) = response.headers().get(header::LOCATION) else {
        return;
    };
    let host = host.and_then(|h| h.to_str().ok());
    if !location.to_str().is_ok_and(|location| is_on_site(location, host)) {
        let overview = HeaderValue::from_str(&crate::paths::url("/")).unwrap_or(HeaderValue::from_static("/"));
        response.headers_mut().insert(header::LOCATION, overview);
    }
}

/// Whether `location` leads to this site: a path, or an http(s) URL of the request's host.
fn is_on_site(location: &str, host: Option<&str>) -> bool {
    // Browsers read `\` as `/`, so `/\other.example` would be another site.
    if location.contains('\\') {
        return false;
    }
    if location.starts_with('/') {
        return !location.starts_with("//");
    }
    let Ok(uri) = location.parse::<Uri>() else {
        return false;
    };
    let web = uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    web && uri.authority().zip(host).is_some_and(|(authority, host)| authority.as_str().eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_requests_host() {
        let host = Some("dash.example:3000");
        for location in
            ["/", "/attempts?country=CO", "http://dash.example:3000/?range=7d", "HTTPS://DASH.example:3000/"]
        {
            assert!(is_on_site(location, host), "{location}");
        }
        for location in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "http://dash.example:3000@evil.example/",
            "http://user@dash.example:3000/",
            "http://dash.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert!(!is_on_site(location, host), "{location}");
        }
        assert!(!is_on_site("http://dash.example:3000/", None), "no Host, no absolute redirect");
    }
}
