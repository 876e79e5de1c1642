//! `--config FILE`: a TOML file holding any option that flags and environment variables hold.
//! Each setting reaches clap as its option's environment variable, set only when the
//! environment does not set it already: so a flag beats the environment, which beats the
//! file, which beats the default, and every option is checked by the same parser whatever
//! its source.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The table of the emulator's options (`verilens emulate`); every other key is top-level.
const EMULATOR_TABLE: &str = "emulator";

/// One key of the file, as clap knows its option.
#[derive(Clone, Debug, PartialEq)]
struct Setting {
    /// As written in the file: `sync_every`, `emulator.seed`.
    key: String,
    env: String,
    /// The option's long name, as clap names it in errors: `--sync-every`.
    long: String,
    secret: bool,
}

/// Why a configuration file is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{file}: {why}")]
    Unreadable { file: String, why: String },
    #[error(
        "{file}: unknown key {key:?}; keys are the long options of `verilens help serve` (like sync_every), emulator options under [emulator]"
    )]
    UnknownKey { file: String, key: String },
    #[error("{file}: {key} must be a string, a number or true/false")]
    NotAScalar { file: String, key: String },
    #[error("{file}: {key}: {why}")]
    BadValue { file: String, key: String, why: String },
}

/// The file `--config`/`--config=` names among `args`, else `VERILENS_CONFIG`.
pub fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("VERILENS_CONFIG").map(PathBuf::from)
}

/// The settings a file may hold: every option of `command` and its subcommands that has an
/// environment variable, keyed by its long name with `_` for `-`.
fn known_settings(command: &clap::Command) -> HashMap<String, Setting> {
    let mut known = HashMap::new();
    let mut add = |table: Option<&str>, arg: &clap::Arg| {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            return;
        };
        if long == "config" {
            return;
        }
        let name = long.replace('-', "_");
        let key = table.map_or_else(|| name.clone(), |t| format!("{t}.{name}"));
        let setting = Setting {
            key: key.clone(),
            env: env.to_string_lossy().into_owned(),
            long: format!("--{long}"),
            secret: arg.is_hide_env_values_set(),
        };
        known.insert(key, setting);
    };
    for arg in command.get_arguments() {
        add(None, arg);
    }
    for sub in command.get_subcommands() {
        let table = (sub.get_name() == "emulate").then_some(EMULATOR_TABLE);
        for arg in sub.get_arguments() {
            add(table, arg);
        }
    }
    known
}

/// The settings of `text` (the file at `file`) as (setting, value) pairs, checked against
/// the options `command` has.
fn read_settings(command: &clap::Command, file: &Path, text: &str) -> Result<Vec<(Setting, String)>, ConfigError> {
    let shown = file.display().to_string();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Unreadable { file: shown.clone(), why: one_line(&e.to_string()) })?;
    let known = known_settings(command);
    let mut flat = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) if key == EMULATOR_TABLE => {
                flat.extend(inner.into_iter().map(|(k, v)| (format!("{EMULATOR_TABLE}.{k}"), v)));
            }
            value => flat.push((key, value)),
        }
    }
    let mut settings = Vec::new();
    for (key, value) in flat {
        let Some(setting) = known.get(&key) else {
            return Err(ConfigError::UnknownKey { file: shown, key });
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(ConfigError::NotAScalar { file: shown, key }),
        };
        settings.push((setting.clone(), value));
    }
    Ok(settings)
}

/// The file's settings put in the environment (where the environment does not set them).
pub struct Applied {
    file: PathBuf,
    from_file: Vec<(Setting, String)>,
}

/// Reads the configuration file, if `args` or the environment name one, and sets the
/// environment variable of each of its settings that the environment does not set.
///
/// # Safety
/// Call before any other thread runs: it writes the process's environment.
pub unsafe fn apply(command: &clap::Command, args: &[OsString]) -> Result<Option<Applied>, ConfigError> {
    let Some(file) = config_path(args) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| ConfigError::Unreadable { file: file.display().to_string(), why: e.to_string() })?;
    let mut from_file = Vec::new();
    for (setting, value) in read_settings(command, &file, &text)? {
        if std::env::var_os(&setting.env).is_none() {
            // SAFETY: the caller runs this before any other thread exists.
            unsafe { std::env::set_var(&setting.env, &value) };
            from_file.push((setting, value));
        }
    }
    Ok(Some(Applied { file, from_file }))
}

impl Applied {
    /// `error` told as the file's, when the value clap refused came from the file.
    pub fn explain(&self, error: &clap::Error) -> Option<ConfigError> {
        if !matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
            return None;
        }
        let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
            return None;
        };
        let long = arg.split_whitespace().next()?.split('=').next()?;
        let (setting, value) = self.from_file.iter().find(|(s, _)| s.long == long)?;
        let why = std::error::Error::source(error).map_or_else(|| error.kind().to_string(), |e| e.to_string());
        let why = if setting.secret || why.contains(value.as_str()) { why } else { format!("{value:?}: {why}") };
        Some(ConfigError::BadValue { file: self.file.display().to_string(), key: setting.key.clone(), why })
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn settings(text: &str) -> Result<Vec<(String, String, String)>, ConfigError> {
        let read = read_settings(&Cli::command(), Path::new("v.toml"), text)?;
        Ok(read.into_iter().map(|(s, v)| (s.key, s.env, v)).collect())
    }

    #[test]
    fn keys_are_the_options_long_names() {
        let read = settings("sync_every = \"1m\"\ndb = \"/var/lib/verilens/verilens.db\"\nmetrics = true\nrate_limit = 50\n[emulator]\nseed = 7\n").unwrap();
        let find = |key: &str| read.iter().find(|(k, ..)| k == key).cloned().unwrap();
        assert_eq!(find("sync_every"), ("sync_every".into(), "VERILENS_SYNC_EVERY".into(), "1m".into()));
        assert_eq!(find("db").1, "VERILENS_DB");
        assert_eq!(find("metrics").2, "true");
        assert_eq!(find("rate_limit").2, "50");
        assert_eq!(find("emulator.seed").1, "VERILENS_EMULATOR_SEED");
        let known = known_settings(&Cli::command());
        assert_eq!(known["account_sid"].env, "TWILIO_ACCOUNT_SID");
        assert!(known["auth_token"].secret, "its value is never repeated in an error");
        assert!(!known.contains_key("config"), "a file does not name another");
    }

    #[test]
    fn unknown_keys_and_values_that_are_not_scalars_are_refused() {
        assert_eq!(
            settings("sync_evry = \"1m\"").unwrap_err(),
            ConfigError::UnknownKey { file: "v.toml".into(), key: "sync_evry".into() }
        );
        assert!(matches!(settings("[emulator]\nsync_every = \"1m\""), Err(ConfigError::UnknownKey { .. })));
        assert!(matches!(settings("addr = [1, 2]"), Err(ConfigError::NotAScalar { .. })));
        assert!(matches!(settings("addr = "), Err(ConfigError::Unreadable { .. })));
    }

    #[test]
    fn the_config_flag_is_found_before_clap_parses() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(config_path(&args(&["verilens", "serve", "--config", "a.toml"])), Some("a.toml".into()));
        assert_eq!(config_path(&args(&["verilens", "--config=b.toml", "sync"])), Some("b.toml".into()));
    }
}
