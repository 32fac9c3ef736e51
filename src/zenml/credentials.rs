//! ZenML's `credentials.yaml` (`zenml/login/credentials_store.py`): the API key and API token
//! `zenml login` stored for a server URL, and the server facts `zenml status` prints.
//!
//! The file is written by `yaml_utils.write_yaml` (PyYAML block style): top-level keys are server
//! URLs, each a mapping of `ServerCredentials` fields; `api_token` a nested mapping. Only that
//! plain shape is read (plain or single-quoted scalars, nested mappings); anything else makes the
//! caller leave the call to Python.
//!
//! Secrets (the key, the token, a password) are kept in [`Secret`], whose `Debug` never shows
//! them, and are only ever put in an `Authorization` header.

use crate::declined::Declined;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A token or key: never printed (its `Debug` is `<secret>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for an `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// `APIToken`: the access token and when it expires (seconds since the epoch, UTC), minus the
/// leeway ZenML subtracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub access_token: Secret,
    /// `expires_at - leeway` in Unix microseconds; `None`: never expires.
    pub expires_with_leeway_us: Option<i64>,
}

/// The `ServerCredentials` of one server URL, as far as the Rust routes use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCredentials {
    pub url: String,
    pub api_key: Option<Secret>,
    pub has_password: bool,
    pub api_token: Option<ApiToken>,
    /// The other scalar fields, by name (`status`, `deployment_type`, `organization_id`, …).
    pub fields: BTreeMap<String, String>,
}

/// How much earlier than ZenML a token counts as expired here, so that ZenML never finds it
/// expired on a call the launcher answered with it.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

impl ApiToken {
    /// Whether ZenML would use this token as it is (`not token.expired`), with a margin.
    pub fn usable_at(&self, now: SystemTime) -> bool {
        let Some(limit) = self.expires_with_leeway_us else {
            return true;
        };
        unix_micros_of(now) + (EXPIRY_MARGIN.as_micros() as i64) < limit
    }
}

/// `now` in Unix microseconds (as Python's `datetime.now`).
pub fn unix_micros_of(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl ServerCredentials {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// The credentials stored for `url` (the store URL, matched exactly as ZenML does), `Ok(None)`
/// when the file or the entry is absent, `Err` for a shape not modelled.
pub fn read(path: &Path, url: &str) -> Result<Option<ServerCredentials>, Declined> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Declined::new(format!("{}: {e}", path.display()))),
    };
    parse(&text, url).map_err(|e| Declined::new(format!("{}: {e}", path.display())))
}

/// One parsed line: indent, key, value (`None`: a nested mapping follows).
fn lines(text: &str) -> Result<Vec<(usize, String, Option<String>)>, Declined> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let err = |what: &str| Declined::new(format!("line {}: {what}", n + 1));
        if raw.trim().is_empty() {
            continue;
        }
        if raw.contains('\t') {
            return Err(err("tab"));
        }
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim_start();
        if line.starts_with(['#', '-', '\'', '"', '{', '[', '?', '&', '*', '!', '|', '>']) {
            return Err(err("not a plain block mapping"));
        }
        let (key, value) = match line.split_once(": ") {
            Some((k, v)) => (
                k,
                Some(scalar(v).ok_or_else(|| err("scalar not modelled"))?),
            ),
            None => match line.strip_suffix(':') {
                Some(k) => (k, None),
                None => return Err(err("not a key")),
            },
        };
        if key.is_empty() || key.contains(": ") || key.contains(" #") {
            return Err(err("unusual key"));
        }
        out.push((indent, key.to_string(), value));
    }
    Ok(out)
}

/// A plain or single-quoted PyYAML scalar's text.
fn scalar(value: &str) -> Option<String> {
    if let Some(inner) = value.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        let text = inner.replace("''", "'");
        // A lone quote inside would have been doubled.
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        return Some(text);
    }
    let first = value.chars().next()?;
    if "\"{[&*!|>%@`#,?-".contains(first) || value.contains(" #") || value.trim() != value {
        return None;
    }
    Some(value.to_string())
}

/// [`read`] of the text of a `credentials.yaml`.
pub fn parse(text: &str, url: &str) -> Result<Option<ServerCredentials>, Declined> {
    let lines = lines(text)?;
    let mut i = 0;
    while i < lines.len() {
        let (indent, key, value) = &lines[i];
        if *indent != 0 || value.is_some() {
            return Err(Declined::new(format!("entry {key}: not a server mapping")));
        }
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && lines[end].0 > 0 {
            end += 1;
        }
        if key == url {
            return entry(url, &lines[start..end]).map(Some);
        }
        i = end;
    }
    Ok(None)
}

fn entry(
    url: &str,
    lines: &[(usize, String, Option<String>)],
) -> Result<ServerCredentials, Declined> {
    let Some(field_indent) = lines.first().map(|l| l.0) else {
        return Err("empty server entry".into());
    };
    let mut fields = BTreeMap::new();
    let mut token: BTreeMap<String, String> = BTreeMap::new();
    let mut has_token = false;
    let mut i = 0;
    while i < lines.len() {
        let (indent, key, value) = &lines[i];
        if *indent != field_indent {
            return Err(Declined::new(format!(
                "field {key}: unexpected indentation"
            )));
        }
        match value {
            Some(v) => {
                fields.insert(key.clone(), v.clone());
                i += 1;
            }
            None if key == "api_token" => {
                has_token = true;
                i += 1;
                while i < lines.len() && lines[i].0 > field_indent {
                    let (_, k, v) = &lines[i];
                    let v = v
                        .as_ref()
                        .ok_or_else(|| Declined::new(format!("api_token.{k} not modelled")))?;
                    token.insert(k.clone(), v.clone());
                    i += 1;
                }
            }
            None => return Err(Declined::new(format!("field {key} not modelled"))),
        }
    }
    let api_token = if has_token {
        Some(api_token(&token)?)
    } else {
        None
    };
    Ok(ServerCredentials {
        url: url.to_string(),
        api_key: fields.remove("api_key").map(Secret),
        has_password: fields.contains_key("username") && fields.contains_key("password"),
        api_token,
        fields: fields
            .into_iter()
            .filter(|(k, _)| k != "password")
            .collect(),
    })
}

fn api_token(token: &BTreeMap<String, String>) -> Result<ApiToken, Declined> {
    for key in token.keys() {
        if ![
            "access_token",
            "expires_in",
            "expires_at",
            "leeway",
            "device_id",
        ]
        .contains(&key.as_str())
        {
            return Err(Declined::new(format!("api_token.{key} not modelled")));
        }
    }
    let access_token = Secret(
        token
            .get("access_token")
            .ok_or("api_token without access_token")?
            .clone(),
    );
    let leeway = match token.get("leeway") {
        None => 0,
        Some(v) if v == "null" => 0,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| "api_token.leeway not an int")?,
    };
    let expires_with_leeway_us = match token.get("expires_at") {
        None => None,
        Some(v) if v == "null" => None,
        Some(v) => Some(
            unix_micros(v).ok_or(Declined::from("api_token.expires_at not modelled"))?
                - leeway * 1_000_000,
        ),
    };
    Ok(ApiToken {
        access_token,
        expires_with_leeway_us,
    })
}

/// [`unix_micros`] in whole seconds, rounded down.
pub fn unix_seconds(text: &str) -> Option<i64> {
    unix_micros(text).map(|us| us.div_euclid(1_000_000))
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+00:00]` (UTC, as pydantic writes ZenML's UTC datetimes; a
/// naive one is UTC too) → Unix microseconds. Other offsets, or more than 6 fraction digits:
/// `None`.
pub fn unix_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut micros = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 6 {
            return None;
        }
        micros = format!("{:0<6}", &frac[..digits]).parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    if !matches!(rest, "" | "Z" | "+00:00") {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((days * 86400 + h * 3600 + mi * 60 + s) * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
http://other:8080:
  api_token:
    access_token: aaa
  url: http://other:8080
https://127.0.0.1:18443:
  api_key: ZENKEY_abc==
  api_token:
    access_token: eyJ.tok.en
    expires_at: '2026-11-29T10:00:00.123456Z'
    expires_in: 3600
    leeway: 30
  deployment_type: other
  server_name: default
  status: available
  url: https://127.0.0.1:18443
  version: 0.98.0
";

    #[test]
    fn reads_the_entry_of_the_store_url() {
        let c = parse(FILE, "https://127.0.0.1:18443").unwrap().unwrap();
        assert_eq!(c.api_key.as_ref().unwrap().expose(), "ZENKEY_abc==");
        let token = c.api_token.as_ref().unwrap();
        assert_eq!(token.access_token.expose(), "eyJ.tok.en");
        let at = unix_micros("2026-11-29T10:00:00.123456Z").unwrap();
        assert_eq!(token.expires_with_leeway_us, Some(at - 30_000_000));
        assert_eq!(c.field("status"), Some("available"));
        assert!(!c.has_password);
        assert_eq!(parse(FILE, "https://127.0.0.1:1").unwrap(), None);
        let other = parse(FILE, "http://other:8080").unwrap().unwrap();
        assert_eq!(other.api_token.unwrap().expires_with_leeway_us, None);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = parse(FILE, "https://127.0.0.1:18443").unwrap().unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("ZENKEY") && !shown.contains("eyJ"),
            "{shown}"
        );
    }

    #[test]
    fn expiry_with_margin() {
        let at = unix_seconds("2026-11-29T10:00:00Z").unwrap();
        let t = ApiToken {
            access_token: Secret("x".into()),
            expires_with_leeway_us: Some(at * 1_000_000),
        };
        let before = |s: u64| UNIX_EPOCH + Duration::from_secs((at as u64) - s);
        assert!(t.usable_at(before(3600)));
        assert!(!t.usable_at(before(60)));
        assert!(!t.usable_at(UNIX_EPOCH + Duration::from_secs(at as u64 + 1)));
    }

    #[test]
    fn datetimes() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00"), Some(0));
        assert_eq!(unix_seconds("2000-03-01T00:00:01Z"), Some(951868801));
        assert_eq!(
            unix_seconds("2026-11-28T22:31:12.5+00:00"),
            Some(1795905072)
        );
        assert_eq!(unix_seconds("2026-11-28T22:31:12+01:00"), None);
        assert_eq!(
            unix_micros("2026-11-28T22:31:12.05Z"),
            Some(1_795_905_072_050_000)
        );
        assert_eq!(unix_micros("2026-11-28T22:31:12.1234567Z"), None);
        assert_eq!(unix_seconds("garbage"), None);
    }

    #[test]
    fn refuses_shapes_not_modelled() {
        for bad in [
            "https://a:\n  device_metadata:\n    os: linux\n",
            "https://a:\n  url: \"quoted\"\n",
            "- item\n",
            "https://a:\n  api_token:\n    access_token: x\n    extra: y\n",
        ] {
            assert!(parse(bad, "https://a").is_err(), "{bad}");
        }
    }
}
