//! The session settings a Postgres client may read and write: kept in the connection's own metadata, so one
//! client's `SET` changes nothing for any other, and DataFusion's settings (`datafusion.*`, shared by every
//! query of the server) are out of reach.

use std::collections::HashMap;
use std::time::Duration;

/// Settings clients read on connect, with the values this server runs with. Those marked `true` are sent to
/// the client as ParameterStatus when they change, as Postgres does.
pub const DEFAULTS: &[(&str, &str, bool)] = &[
    ("application_name", "", true),
    ("client_encoding", "UTF8", true),
    ("datestyle", "ISO, MDY", true),
    ("default_transaction_read_only", "on", true),
    ("extra_float_digits", "1", false),
    ("integer_datetimes", "on", true),
    ("intervalstyle", "postgres", true),
    ("is_superuser", "off", true),
    ("search_path", "raw", false),
    ("server_encoding", "UTF8", true),
    ("server_version", SERVER_VERSION, true),
    ("server_version_num", "160000", false),
    ("standard_conforming_strings", "on", true),
    ("statement_timeout", "0", false),
    ("timezone", "UTC", true),
    ("transaction_isolation", "serializable", false),
    ("transaction_read_only", "on", false),
    ("max_identifier_length", "63", false),
    ("lc_collate", "C", false),
    ("lc_ctype", "C", false),
];

/// What clients parse as the server's version: a Postgres 16 as far as the protocol and catalog go.
pub const SERVER_VERSION: &str = "16.0 (OmniMarket 360)";
pub const SERVER_VERSION_NUMBER: &str = "16.0";

/// Postgres's own spelling of the names it reports (`DateStyle`, `TimeZone`, ...).
pub fn display_name(name: &str) -> &str {
    match name {
        "datestyle" => "DateStyle",
        "intervalstyle" => "IntervalStyle",
        "timezone" => "TimeZone",
        other => DEFAULTS.iter().find(|(n, _, _)| *n == other).map(|(n, _, _)| *n).unwrap_or(other),
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingError {
    #[error("permission denied to set parameter \"{0}\": the server's settings are shared by every client")]
    Shared(String),
    #[error("parameter \"{0}\" cannot be changed")]
    ReadOnly(String),
    #[error("invalid value for parameter \"{name}\": \"{value}\" ({expected})")]
    Invalid { name: String, value: String, expected: &'static str },
    #[error("unrecognized configuration parameter \"{0}\"")]
    Unknown(String),
}

impl SettingError {
    /// The SQLSTATE Postgres answers with.
    pub fn code(&self) -> &'static str {
        match self {
            SettingError::Shared(_) => "42501",
            SettingError::ReadOnly(_) => "55P02",
            SettingError::Invalid { .. } => "22023",
            SettingError::Unknown(_) => "42704",
        }
    }
}

/// The metadata key under which a setting is kept (pgwire keeps `application_name`, `client_encoding` and
/// the startup parameters under their plain names; ours carry a prefix so a startup parameter cannot set them).
fn key(name: &str) -> String {
    format!("omnimarket.pg.{name}")
}

/// Checks a `SET` and returns the value to keep. Startup-only and server-wide names are refused; names this
/// server does not know are kept as written (drivers set many harmless ones: `jit`, `lock_timeout`...), except
/// DataFusion's own.
pub fn check_set(name: &str, value: &str) -> Result<String, SettingError> {
    if name.starts_with("datafusion.") {
        return Err(SettingError::Shared(name.to_string()));
    }
    match name {
        "server_version"
        | "server_version_num"
        | "server_encoding"
        | "integer_datetimes"
        | "is_superuser"
        | "lc_collate"
        | "lc_ctype"
        | "max_identifier_length" => Err(SettingError::ReadOnly(name.to_string())),
        "client_encoding" => {
            let v = value.trim().to_ascii_uppercase().replace(['-', '_'], "");
            if matches!(v.as_str(), "UTF8" | "UNICODE" | "SQLASCII") {
                Ok("UTF8".to_string())
            } else {
                Err(SettingError::Invalid { name: name.into(), value: value.into(), expected: "this server speaks UTF8 only" })
            }
        }
        "default_transaction_read_only" | "transaction_read_only" => match value.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok("on".into()),
            _ => Err(SettingError::Invalid { name: name.into(), value: value.into(), expected: "the server is read-only: only `on`" }),
        },
        "statement_timeout" => parse_timeout(value).map(|d| d.as_millis().to_string()).ok_or_else(|| SettingError::Invalid {
            name: name.into(),
            value: value.into(),
            expected: "a duration such as 5000, '5s', '2min' (0: the server's limit)",
        }),
        _ => Ok(value.to_string()),
    }
}

/// `5000` (milliseconds), `'5s'`, `'250ms'`, `'2min'`, `'1h'`.
pub fn parse_timeout(text: &str) -> Option<Duration> {
    let t = text.trim().trim_matches('\'').trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

pub fn set(metadata: &mut HashMap<String, String>, name: &str, value: String) {
    metadata.insert(key(name), value);
}

/// The setting's value for this connection (SHOW), or None for a name never set and not known.
pub fn get(metadata: &HashMap<String, String>, name: &str) -> Option<String> {
    if let Some(v) = metadata.get(&key(name)) {
        return Some(v.clone());
    }
    if name == "application_name"
        && let Some(v) = metadata.get("application_name")
    {
        return Some(v.clone());
    }
    DEFAULTS.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| v.to_string())
}

/// Every setting this connection has, sorted (SHOW ALL).
pub fn all(metadata: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut names: Vec<String> = DEFAULTS.iter().map(|(n, _, _)| n.to_string()).collect();
    names.extend(metadata.keys().filter_map(|k| k.strip_prefix("omnimarket.pg.").map(str::to_string)));
    names.sort();
    names.dedup();
    names.into_iter().filter_map(|n| get(metadata, &n).map(|v| (n, v))).collect()
}

/// `DISCARD ALL`: this connection's settings back to the defaults.
pub fn reset(metadata: &mut HashMap<String, String>) {
    metadata.retain(|k, _| !k.starts_with("omnimarket.pg."));
}

/// Is a change of `name` reported to the client (ParameterStatus)?
pub fn is_reported(name: &str) -> bool {
    DEFAULTS.iter().any(|(n, _, reported)| *n == name && *reported)
}

/// This connection's `statement_timeout`, when set to something other than 0.
pub fn statement_timeout(metadata: &HashMap<String, String>) -> Option<Duration> {
    let ms: u64 = get(metadata, "statement_timeout")?.parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_stays_in_its_connection_and_shared_settings_are_refused() {
        let (mut a, b) = (HashMap::new(), HashMap::new());
        let v = check_set("datestyle", "ISO, DMY").unwrap();
        set(&mut a, "datestyle", v);
        assert_eq!(get(&a, "datestyle").as_deref(), Some("ISO, DMY"));
        assert_eq!(get(&b, "datestyle").as_deref(), Some("ISO, MDY"));
        assert_eq!(check_set("datafusion.execution.batch_size", "1"), Err(SettingError::Shared("datafusion.execution.batch_size".into())));
        assert!(matches!(check_set("server_version", "9"), Err(SettingError::ReadOnly(_))));
        assert!(matches!(check_set("client_encoding", "LATIN1"), Err(SettingError::Invalid { .. })));
        assert!(matches!(check_set("default_transaction_read_only", "off"), Err(SettingError::Invalid { .. })));
        reset(&mut a);
        assert_eq!(get(&a, "datestyle").as_deref(), Some("ISO, MDY"));
    }

    #[test]
    fn statement_timeouts_parse_in_postgres_units() {
        assert_eq!(parse_timeout("5000"), Some(Duration::from_millis(5000)));
        assert_eq!(parse_timeout("'5s'"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("soon"), None);
        assert_eq!(parse_timeout("99999999999999999999h"), None);
        let mut m = HashMap::new();
        set(&mut m, "statement_timeout", check_set("statement_timeout", "'1s'").unwrap());
        assert_eq!(statement_timeout(&m), Some(Duration::from_secs(1)));
        set(&mut m, "statement_timeout", check_set("statement_timeout", "0").unwrap());
        assert_eq!(statement_timeout(&m), None);
    }
}
