//! The built site (wasm, JS, CSS, ECharts): inside the release binary, so that the binary alone
//! serves the dashboard, or from a directory (`LEPTOS_SITE_ROOT`) while developing. Each file
//! is served from its `.br` or `.gz` sibling (written by scripts/build.sh) when the browser
//! accepts it, with an ETag for revalidation.

use std::borrow::Cow;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "target/site"]
#[allow_missing = true]
struct EmbeddedSite;

/// Where the site's files come from.
#[derive(Clone, Debug)]
pub enum Site {
    /// Compiled into the binary.
    Embedded,
    /// Read from a directory at each request.
    Directory(PathBuf),
}

/// A file of the site, ready to send.
struct SiteFile {
    bytes: Cow<'static, [u8]>,
    /// Changes whenever the bytes do.
    etag: String,
}

impl Site {
    /// `LEPTOS_SITE_ROOT` when set; else the site built into the binary; else (a build made
    /// before the site was) `target/site` beside the binary's `target/` or in the working directory.
    pub fn locate() -> Site {
        if let Ok(dir) = std::env::var("LEPTOS_SITE_ROOT") {
            return Site::Directory(PathBuf::from(dir));
        }
        if EmbeddedSite::get("pkg/verilens.js").is_some() {
            return Site::Embedded;
        }
        let beside_binary =
            std::env::current_exe().ok().and_then(|exe| exe.parent()?.parent().map(|target| target.join("site")));
        match beside_binary {
            Some(dir) if dir.join("pkg").exists() => Site::Directory(dir),
            _ => Site::Directory(PathBuf::from("target/site")),
        }
    }

    /// The directory Leptos is told the site is in (it reads none of it).
    pub fn root(&self) -> String {
        match self {
            Site::Embedded => "embedded".to_string(),
            Site::Directory(dir) => dir.display().to_string(),
        }
    }

    fn file(&self, relative: &str) -> Option<SiteFile> {
        match self {
            Site::Embedded => EmbeddedSite::get(relative).map(|file| SiteFile {
                etag: format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16])),
                bytes: file.data,
            }),
            Site::Directory(dir) => {
                let path = dir.join(relative);
                let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
                let bytes = std::fs::read(&path).ok()?;
                let stamp = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
                Some(SiteFile { etag: format!("\"{stamp:x}-{:x}\"", bytes.len()), bytes: Cow::Owned(bytes) })
            }
        }
    }

    /// The answer for `path` (from the site's root, like `/pkg/verilens.js`), or `None`
    /// when the site has no such file.
    pub fn respond(&self, path: &str, request: &HeaderMap) -> Option<Response> {
        let relative = site_relative(path)?;
        let original = self.file(&relative)?;
        let accepted = accepted_encodings(request);
        let (file, encoding) = [("br", ".br"), ("gzip", ".gz")]
            .into_iter()
            .filter(|(name, _)| accepted.contains(name))
            .find_map(|(name, suffix)| Some((self.file(&format!("{relative}{suffix}"))?, Some(name))))
            .unwrap_or((original, None));
        let mime = mime_guess::from_path(&relative).first_or_octet_stream();
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(mime.as_ref()).ok()?);
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        // File names carry no hash: browsers revalidate, and get a 304 while the file is the same.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(header::ETAG, HeaderValue::from_str(&file.etag).ok()?);
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        let unchanged = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == file.etag || tag.trim() == "*"));
        if unchanged {
            return Some((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        Some((headers, Body::from(file.bytes)).into_response())
    }
}

/// `path` relative to the site's root, when it names a file inside it.
fn site_relative(path: &str) -> Option<String> {
    let relative = path.trim_start_matches('/');
    let inside = !relative.contains('\\') && relative.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    inside.then(|| relative.to_string())
}

/// The content codings of `Accept-Encoding` other than those refused with `q=0`.
fn accepted_encodings(request: &HeaderMap) -> Vec<&str> {
    let Some(value) = request.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?;
            let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            (!name.is_empty() && !refused).then_some(name)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_site_are_files() {
        assert_eq!(site_relative("/pkg/verilens.js").as_deref(), Some("pkg/verilens.js"));
        for outside in ["/", "/../etc/passwd", "/pkg/../../x", "/pkg/./x", "/pkg//x", "/a\\b"] {
            assert_eq!(site_relative(outside), None, "{outside}");
        }
    }

    #[test]
    fn refused_codings_are_not_sent() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0.5, br;q=0, identity"));
        assert_eq!(accepted_encodings(&headers), vec!["gzip", "identity"]);
    }
}
