//! Where the dashboard is mounted: at `/`, or under a sub-path behind a reverse proxy
//! (`--base-path /verilens`). Every link, asset and server function call the pages make goes
//! through [`url`]; the server strips the sub-path from requests before routing them.

use std::sync::OnceLock;

static BASE_PATH: OnceLock<String> = OnceLock::new();

/// Why a `--base-path` is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BasePathError {
    #[error("{0:?} is not a path like /verilens: letters, digits, '-', '_', '.' and '/' only, no '..'")]
    Invalid(String),
    #[error("the base path is set once, at start-up; it is already {0:?}")]
    AlreadySet(String),
}

/// `text` as a base path: `""` for the root, else `/a/b` (a leading slash, no trailing one).
pub fn normalize(text: &str) -> Result<String, BasePathError> {
    let trimmed = text.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
    };
    if !trimmed.split('/').all(segment_ok) {
        return Err(BasePathError::Invalid(text.to_string()));
    }
    Ok(format!("/{trimmed}"))
}

/// Mounts the dashboard under `base` (normalized) for the rest of the process.
pub fn set_base_path(base: &str) -> Result<(), BasePathError> {
    let base = normalize(base)?;
    let set = BASE_PATH.get_or_init(|| base.clone());
    if *set == base { Ok(()) } else { Err(BasePathError::AlreadySet(set.clone())) }
}

/// The sub-path the dashboard is mounted at: `""` at the root, else like `/verilens`.
pub fn base_path() -> &'static str {
    BASE_PATH.get().map_or("", String::as_str)
}

/// `path` (from the dashboard's root, starting with `/`) as the browser must ask for it.
pub fn url(path: &str) -> String {
    format!("{}{path}", base_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalized_or_refused() {
        assert_eq!(normalize(""), Ok(String::new()));
        assert_eq!(normalize("/"), Ok(String::new()));
        assert_eq!(normalize("verilens"), Ok("/verilens".into()));
        assert_eq!(normalize("/tools/verilens/"), Ok("/tools/verilens".into()));
        for bad in ["/a/../b", "/a//b", "/a b", "/a?x=1", "/a#b", "/%2e%2e", "/<script>"] {
            assert_eq!(normalize(bad), Err(BasePathError::Invalid(bad.into())), "{bad}");
        }
    }
}
