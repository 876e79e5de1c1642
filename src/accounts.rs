//! `--accounts FILE`: the Twilio accounts (or subaccounts) a deployment syncs, each with its
//! own credentials and rate limit. Its errors name files, accounts and keys, never a value:
//! the file holds secrets.
//!
//! ```toml
//! [[account]]
//! name = "Consumer app"          # optional: how pages name it
//! account_sid = "AC…"
//! auth_token = "…"               # or api_key = "SK…" with api_secret = "…"
//! rate_limit = 100               # optional: requests a minute, else --rate-limit
//! api_url = "https://…"          # optional: another edge of the API, else --api-url
//! ```

use std::path::Path;

use crate::model::is_sid;
use crate::twilio::Credentials;

/// One account of the file.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    pub name: Option<String>,
    pub credentials: Credentials,
    /// Requests a minute verilens allows itself against this account, if the file says.
    pub rate_limit: Option<u32>,
    /// Where this account's API is, if not at `--api-url`.
    pub api_url: Option<String>,
}

/// Why an accounts file is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountsError {
    #[error("{file}: {why}")]
    Unreadable { file: String, why: String },
    #[error("{file}: account {number}: {why}")]
    BadAccount { file: String, number: usize, why: String },
}

const KEYS: [&str; 7] = ["name", "account_sid", "auth_token", "api_key", "api_secret", "rate_limit", "api_url"];

/// The accounts of the file at `path`.
pub fn read(path: &Path) -> Result<Vec<AccountConfig>, AccountsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| AccountsError::Unreadable { file: file.clone(), why: e.to_string() })?;
    parse(&file, &text)
}

/// The accounts of `text`, the file `file`.
pub fn parse(file: &str, text: &str) -> Result<Vec<AccountConfig>, AccountsError> {
    let unreadable = |why: String| AccountsError::Unreadable { file: file.to_string(), why };
    // toml's own message quotes the line, which may hold a secret: say where, not what.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].lines().count().max(1));
        unreadable(format!("not valid TOML at line {line}"))
    })?;
    if let Some(key) = table.keys().find(|k| *k != "account") {
        return Err(unreadable(format!("unknown key {key:?}; the file holds [[account]] tables")));
    }
    let Some(toml::Value::Array(entries)) = table.get("account") else {
        return Err(unreadable("no [[account]] table: list each account as one".to_string()));
    };
    let mut accounts: Vec<AccountConfig> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        let bad = |why: String| AccountsError::BadAccount { file: file.to_string(), number, why };
        let toml::Value::Table(entry) = entry else {
            return Err(bad("must be a table of keys".to_string()));
        };
        let account = account(entry).map_err(bad)?;
        if accounts.iter().any(|a| a.credentials.account_sid == account.credentials.account_sid) {
            return Err(bad(format!("{} is listed twice", account.credentials.account_hint())));
        }
        accounts.push(account);
    }
    if accounts.is_empty() {
        return Err(unreadable("no [[account]] table: list each account as one".to_string()));
    }
    Ok(accounts)
}

fn account(entry: &toml::Table) -> Result<AccountConfig, String> {
    if let Some(key) = entry.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key {key:?}; keys are {}", KEYS.join(", ")));
    }
    let text = |key: &str| match entry.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(format!("{key} must be a non-empty string")),
    };
    let Some(account_sid) = text("account_sid")? else {
        return Err("account_sid is missing".to_string());
    };
    if !is_sid(&account_sid, "AC") {
        return Err("account_sid must be an account SID: AC and 32 hexadecimal digits".to_string());
    }
    let credentials = match (text("auth_token")?, text("api_key")?, text("api_secret")?) {
        (None, Some(key), Some(secret)) => Credentials::api_key(account_sid, key, secret),
        (Some(token), None, None) => Credentials::auth_token(account_sid, token),
        _ => return Err("give auth_token, or api_key with api_secret".to_string()),
    };
    let rate_limit = match entry.get("rate_limit") {
        None => None,
        Some(toml::Value::Integer(n)) => {
            Some(u32::try_from(*n).map_err(|_| "rate_limit must be 0 or more".to_string())?)
        }
        Some(_) => return Err("rate_limit must be a whole number of requests a minute".to_string()),
    };
    Ok(AccountConfig { name: text("name")?, credentials, rate_limit, api_url: text("api_url")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID_A: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SID_B: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn every_account_is_read_with_its_credentials_name_and_rate_limit() {
        let text = format!(
            "[[account]]\nname = \"Consumer\"\naccount_sid = \"{SID_A}\"\nauth_token = \"tok\"\n\n\
             [[account]]\naccount_sid = \"{SID_B}\"\napi_key = \"SKkey\"\napi_secret = \"sec\"\nrate_limit = 30\n"
        );
        let accounts = parse("a.toml", &text).unwrap();
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].name.as_deref(), Some("Consumer"));
        assert_eq!((accounts[0].credentials.account_sid.as_str(), accounts[0].rate_limit), (SID_A, None));
        assert_eq!(accounts[1].name, None);
        assert_eq!((accounts[1].credentials.account_sid.as_str(), accounts[1].rate_limit), (SID_B, Some(30)));
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_account_and_key_but_never_a_secret() {
        let secret = "s3cr3t-value";
        let cases = [
            (format!("[[account]]\naccount_sid = \"{SID_A}\"\nauth_token = {secret}\n"), "not valid TOML at line 3"),
            (format!("[[account]]\naccount_sid = \"{SID_A}\"\n"), "account 1: give auth_token"),
            (
                format!("[[account]]\naccount_sid = \"{SID_A}\"\nauth_token = \"{secret}\"\napi_key = \"SK1\"\n"),
                "account 1: give auth_token",
            ),
            (
                format!("[[account]]\naccount_sid = \"{secret}\"\nauth_token = \"t\"\n"),
                "account 1: account_sid must be",
            ),
            (
                format!("[[account]]\naccount_sid = \"{SID_A}\"\ntoken = \"{secret}\"\n"),
                "account 1: unknown key \"token\"",
            ),
            (
                format!(
                    "[[account]]\naccount_sid = \"{SID_A}\"\nauth_token = \"a\"\n[[account]]\naccount_sid = \"{SID_A}\"\nauth_token = \"{secret}\"\n"
                ),
                "account 2: ACaa…aa is listed twice",
            ),
            (format!("account_sid = \"{SID_A}\"\nauth_token = \"{secret}\"\n"), "unknown key \"account_sid\""),
            (String::new(), "no [[account]] table"),
            (
                format!("[[account]]\naccount_sid = \"{SID_A}\"\nauth_token = \"t\"\nrate_limit = -1\n"),
                "rate_limit must be 0",
            ),
        ];
        for (text, expected) in cases {
            let error = parse("a.toml", &text).unwrap_err().to_string();
            assert!(error.starts_with("a.toml: "), "{error}");
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains(secret), "{error}");
        }
    }
}
