//! The dashboard at its edges (#27), over real HTTP: server function bodies of a query
//! string's size, client mistakes answered with 4xx, caching and `Vary` headers, reads only
//! outside the server functions, redirects that stay on the site, and Basic in any case.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::dashboard;
use leptos::prelude::LeptosOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use verilens::store;

/// Far longer than any answer takes: only an answer that never comes misses it.
const NEVER: Duration = Duration::from_secs(30);

struct Dashboard {
    base: String,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// A dashboard over an empty snapshot, serving a site of two precompressed assets.
async fn dashboard(basic_auth: Option<&str>) -> Dashboard {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    for (file, text) in [("pkg/verilens.js", "export function hydrate() {}"), ("echarts.min.js", "var echarts;")] {
        std::fs::write(site.join(file), text).unwrap();
        std::fs::write(site.join(format!("{file}.br")), "brotli bytes").unwrap();
        std::fs::write(site.join(format!("{file}.gz")), "gzip bytes").unwrap();
    }
    std::fs::write(site.join("robots.txt"), "User-agent: *\n").unwrap();
    let pool = store::open(&dir.path().join("d.db")).await.unwrap();
    let served = dashboard::serve(pool, |state| {
        state.leptos_options = LeptosOptions::builder()
            .output_name("verilens")
            .site_root(site.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(state.leptos_options.site_addr)
            .build();
        state.basic_auth = basic_auth.map(|a| a.parse().unwrap());
    })
    .await;
    Dashboard { base: served.base, addr: served.addr, _dir: dir }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(NEVER).build().unwrap()
}

fn search(query: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair("search", query).finish()
}

async fn post_form(base: &str, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Sends `request` as raw bytes and returns the answer's head (status line and headers).
async fn raw_head(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(NEVER, stream.read(&mut buffer)).await.expect("an answer").unwrap();
        assert!(read > 0, "closed without an answer: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

fn call_head(headers: &str) -> Vec<u8> {
    format!(
        "POST /api/load_overview HTTP/1.1\r\nHost: verilens\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         {headers}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_server_function_body_past_64_kib_is_a_413() {
    let dashboard = dashboard(None).await;
    // Two megabytes announced: refused before a byte of it is read.
    let head = raw_head(dashboard.addr, &call_head("Content-Length: 2000000\r\n")).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // The same without a length, in chunks: refused once 64 KiB have come.
    let mut request = call_head("Transfer-Encoding: chunked\r\n");
    let chunk = "range%3Dx%26".repeat(1365);
    for _ in 0..6 {
        request.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    let head = raw_head(dashboard.addr, &request).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Just under the limit is a call like any other.
    let body = search(&"range=x&".repeat(5_000));
    assert!(body.len() <= verilens::http_error::MAX_CALL_BODY);
    assert_eq!(post_form(&dashboard.base, "/api/load_overview", body).await.status(), 200);
}

#[tokio::test]
async fn thousands_of_invalid_parameters_are_five_notices_and_a_count() {
    let dashboard = dashboard(None).await;
    let response = post_form(&dashboard.base, "/api/load_overview", search(&"range=x&".repeat(5_000))).await;
    assert_eq!(response.status(), 200);
    let overview: serde_json::Value = response.json().await.unwrap();
    let notices: Vec<&str> = overview["notices"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(notices.len(), 6, "{:?}", &notices[..notices.len().min(10)]);
    assert_eq!(notices[5], "and 4995 more invalid parameters");
    let export = http().get(format!("{}/export.csv?{}", dashboard.base, "range=x&".repeat(1_000))).send().await;
    let text = export.unwrap().text().await.unwrap();
    assert!(text.len() < 1_000 && text.ends_with("and 995 more invalid parameters\n"), "{text}");
}

#[tokio::test]
async fn client_mistakes_in_a_server_function_call_are_4xx() {
    let dashboard = dashboard(None).await;
    let base = &dashboard.base;
    let missing_field = post_form(base, "/api/load_overview", "x=1").await;
    assert_eq!(missing_field.status(), 400);
    let not_utf8 = post_form(base, "/api/load_overview", b"search=\xff\xfe".to_vec()).await;
    assert_eq!(not_utf8.status(), 400);
    let json = http()
        .post(format!("{base}/api/load_overview"))
        .header("content-type", "application/json")
        .body(r#"{"search":"range=7d"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let untyped = http().post(format!("{base}/api/load_attempts")).body("search=").send().await.unwrap();
    assert_eq!(untyped.status(), 415);
    let typed_with_charset = http()
        .post(format!("{base}/api/load_attempts"))
        .header("content-type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
        .body("search=")
        .send()
        .await
        .unwrap();
    assert_eq!(typed_with_charset.status(), 200);
    let mut malformed = call_head("Transfer-Encoding: chunked\r\n");
    malformed.extend_from_slice(b"zz\r\nsearch=\r\n0\r\n\r\n");
    let head = raw_head(dashboard.addr, &malformed).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[tokio::test]
async fn only_static_assets_may_be_kept_by_a_cache() {
    let dashboard = dashboard(None).await;
    let base = &dashboard.base;
    let http = http();
    for path in ["/", "/attempts", "/attempts/VL11111111111111111111111111111111", "/export.csv", "/attempts.csv"]
        .into_iter()
        .chain(["/healthz", "/no/such/page"])
    {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    let call = post_form(base, "/api/load_overview", search("range=7d")).await;
    assert_eq!(call.headers()["cache-control"], "no-store", "a server function's answer");
    let guarded = dashboard_with_password().await;
    let refused = http.get(format!("{}/", guarded.base)).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["cache-control"], "no-store", "a 401");
    assert_eq!(refused.headers()["x-frame-options"], "DENY", "a 401 carries the security headers");

    let robots = http.get(format!("{base}/robots.txt")).send().await.unwrap();
    assert_eq!(robots.status(), 200);
    assert_eq!(robots.headers()["cache-control"], "no-cache", "a file of the site, revalidated");
    for path in ["/pkg/verilens.js", "/echarts.min.js"] {
        for (accepts, encoding) in [("br", Some("br")), ("gzip", Some("gzip")), ("identity", None)] {
            let response = http.get(format!("{base}{path}")).header("accept-encoding", accepts).send().await.unwrap();
            let headers = response.headers();
            assert_eq!(headers["cache-control"], "no-cache", "{path}");
            assert_eq!(headers.get("content-encoding").map(|v| v.to_str().unwrap()), encoding, "{path} {accepts}");
            let vary: Vec<&str> = headers.get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
            assert_eq!(vary.len(), 1, "{path} {accepts}: {vary:?}");
            assert!(vary[0].eq_ignore_ascii_case("accept-encoding"), "{path} {accepts}: {vary:?}");
        }
    }
}

async fn dashboard_with_password() -> Dashboard {
    dashboard(Some("pm:correct-horse")).await
}

#[tokio::test]
async fn pages_and_files_answer_only_get_and_head() {
    let dashboard = dashboard(None).await;
    let http = http();
    for (method, path) in [
        ("DELETE", "/robots.txt"),
        ("PUT", "/echarts.min.js"),
        ("DELETE", "/pkg/verilens.js"),
        ("POST", "/"),
        ("POST", "/robots.txt"),
        ("PATCH", "/attempts"),
        ("POST", "/export.csv"),
        ("OPTIONS", "/no/such/page"),
        ("BREW", "/robots.txt"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = http.request(method.clone(), format!("{}{path}", dashboard.base)).send().await.unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], "GET, HEAD", "{method} {path}");
        assert!(response.headers().get("content-type").is_none_or(|t| !t.to_str().unwrap().contains("javascript")));
    }
    for path in ["/robots.txt", "/echarts.min.js", "/"] {
        let head = http.head(format!("{}{path}", dashboard.base)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
    }
    let call = post_form(&dashboard.base, "/api/load_attempts", search("")).await;
    assert_eq!(call.status(), 200, "POST is for the server functions");
}

#[tokio::test]
async fn a_form_post_is_sent_back_only_to_a_page_of_this_site() {
    let dashboard = dashboard(None).await;
    let post = |referer: String| {
        http()
            .post(format!("{}/api/load_overview", dashboard.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("referer", referer)
            .body(search("range=7d"))
            .send()
    };
    for referer in ["https://evil.example/phish".to_string(), format!("http://user@{}/", dashboard.addr)] {
        let response = post(referer.clone()).await.unwrap();
        assert_eq!(response.status(), 302, "{referer}");
        assert_eq!(response.headers()["location"], "/", "{referer}");
    }
    let own = format!("{}/?range=7d", dashboard.base);
    let response = post(own.clone()).await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], own.as_str());
}

#[tokio::test]
async fn the_basic_scheme_is_read_in_any_case() {
    use base64::Engine;
    let dashboard = dashboard_with_password().await;
    let credentials = base64::engine::general_purpose::STANDARD.encode("pm:correct-horse");
    for scheme in ["Basic", "basic", "BASIC"] {
        let response = http()
            .get(format!("{}/attempts", dashboard.base))
            .header("authorization", format!("{scheme} {credentials}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
}
