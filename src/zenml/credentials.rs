//! ZenML's `credentials.yaml` (`zenml/login/credentials_store.py`): the API key and API token
//! `zenml login` stored for a server URL, and the server facts `zenml status` prints.
//!
//! The file is written by `yaml_utils.write_yaml` (PyYAML block style): top-level keys are server
//! URLs, each a mapping of `ServerCredentials` fields; `api_token` a nested mapping. Only that
//! plain shape is read (`config::block_mapping`: plain or single-quoted scalars, nested
//! mappings), and every entry is checked as pydantic checks it; anything else makes the caller
//! leave the call to Python. tests/hostile_input.rs compares it with ZenML's own loader.
//!
//! Secrets (the key, the token, a password) are kept in [`Secret`], whose `Debug` never shows
//! them, and are only ever put in an `Authorization` header.

use crate::declined::Declined;
use crate::zenml::config::{Node, Scalar, Shape, block_mapping, uuid_hex};
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
    /// The entry's `url` field.
    pub url: String,
    pub api_key: Option<Secret>,
    /// A `username` and a `password` (neither null).
    pub has_password: bool,
    pub api_token: Option<ApiToken>,
    /// The other string fields ZenML's model has, when set (`status`, `deployment_type`,
    /// `organization_id`, …).
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

/// The shape read: keys are plain scalars without white space (the server URLs, the field
/// names), values plain or single-quoted.
const CREDENTIALS_SHAPE: Shape = Shape {
    key: |k| !k.contains(char::is_whitespace),
    quoted: true,
};

/// `ServerDeploymentType`'s values (zenml/enums.py, 0.98.0): pydantic rejects any other, and
/// ZenML then drops the entry with a warning.
const DEPLOYMENT_TYPES: &[&str] = &[
    "local",
    "docker",
    "kubernetes",
    "aws",
    "gcp",
    "azure",
    "alpha",
    "other",
    "hf_spaces",
    "sandbox",
    "cloud",
];

/// [`read`] of the text of a `credentials.yaml`, as `CredentialsStore._load_credentials` loads
/// it: PyYAML, then `ServerCredentials(**entry)` for every entry. An entry pydantic would reject
/// makes ZenML log a warning (and a file it cannot load, an error), whichever server it is for,
/// so every entry is checked and anything not certainly valid is refused.
pub fn parse(text: &str, url: &str) -> Result<Option<ServerCredentials>, Declined> {
    let mut found = None;
    for (key, node) in block_mapping(text, &CREDENTIALS_SHAPE)? {
        let Node::Map(fields) = node else {
            return Err(Declined::new(format!("entry {key}: not a mapping")));
        };
        let credentials = entry(fields).map_err(|e| Declined::new(format!("entry {key}: {e}")))?;
        if key == url {
            found = Some(credentials);
        }
    }
    Ok(found)
}

/// An `Optional[str]` field: a string or null (pydantic takes no other type for `str`).
fn optional_str(name: &str, node: Node) -> Result<Option<String>, Declined> {
    match node {
        Node::Scalar(Scalar::Str(s)) => Ok(Some(s)),
        Node::Scalar(Scalar::Null) => Ok(None),
        _ => Err(Declined::new(format!("{name} not a string"))),
    }
}

/// An `Optional[UUID]` field, in the canonical form only (pydantic takes a few more).
fn optional_uuid(name: &str, node: Node) -> Result<Option<String>, Declined> {
    let value = optional_str(name, node)?;
    if value.as_deref().is_some_and(|v| uuid_hex(v).is_none()) {
        return Err(Declined::new(format!("{name} not a canonical UUID")));
    }
    Ok(value)
}

/// An `Optional[int]` field.
fn optional_int(name: &str, node: Node) -> Result<Option<i64>, Declined> {
    match node {
        Node::Scalar(Scalar::Int(i)) => Ok(Some(i)),
        Node::Scalar(Scalar::Null) => Ok(None),
        _ => Err(Declined::new(format!("{name} not an integer"))),
    }
}

/// `ServerCredentials(**fields)`, for the fields the launcher models; the others are ignored,
/// as pydantic ignores them.
fn entry(fields: Vec<(String, Node)>) -> Result<ServerCredentials, Declined> {
    let mut url = None;
    let mut api_key = None;
    let mut username = None;
    let mut password = None;
    let mut api_token = None;
    let mut texts = BTreeMap::new();
    for (name, node) in fields {
        let text = match name.as_str() {
            "url" => {
                url = optional_str(&name, node)?;
                continue;
            }
            "api_key" => {
                api_key = optional_str(&name, node)?;
                continue;
            }
            "username" => {
                username = optional_str(&name, node)?;
                continue;
            }
            "password" => {
                password = optional_str(&name, node)?;
                continue;
            }
            "api_token" => {
                api_token = match node {
                    Node::Scalar(Scalar::Null) => None,
                    Node::Map(m) => Some(token(m)?),
                    Node::Scalar(_) => return Err("api_token not a mapping".into()),
                };
                continue;
            }
            "deployment_type" => {
                let value = optional_str(&name, node)?;
                if value
                    .as_deref()
                    .is_some_and(|v| !DEPLOYMENT_TYPES.contains(&v))
                {
                    return Err("deployment_type not one of ServerDeploymentType's".into());
                }
                value
            }
            "server_id" | "organization_id" | "workspace_id" => optional_uuid(&name, node)?,
            "server_name" | "status" | "version" | "organization_name" | "workspace_name"
            | "pro_api_url" | "pro_dashboard_url" => optional_str(&name, node)?,
            _ => continue,
        };
        if let Some(text) = text {
            texts.insert(name, text);
        }
    }
    let url = url.ok_or("no url (pydantic requires it)")?;
    // `auth_status` tests `api_key` and `username` for truth, `can_refresh_token` for `None`:
    // an empty one would be read both ways.
    if api_key.as_deref() == Some("") || username.as_deref() == Some("") {
        return Err("an empty api_key or username".into());
    }
    Ok(ServerCredentials {
        url,
        api_key: api_key.map(Secret),
        has_password: username.is_some() && password.is_some(),
        api_token,
        fields: texts,
    })
}

/// The earliest and latest microseconds Python's `datetime` holds (years 1 to 9999).
const DATETIME_RANGE_US: std::ops::RangeInclusive<i64> =
    -62_135_596_800_000_000..=253_402_300_799_999_999;

/// `APIToken(**fields)`, for the fields the launcher models (any other is refused).
fn token(fields: Vec<(String, Node)>) -> Result<ApiToken, Declined> {
    let mut access_token = None;
    let mut expires_at = None;
    let mut leeway = None;
    for (name, node) in fields {
        match name.as_str() {
            "access_token" => access_token = optional_str(&name, node)?,
            "expires_in" => {
                optional_int(&name, node)?;
            }
            "leeway" => leeway = optional_int(&name, node)?,
            "expires_at" => {
                expires_at = match optional_str(&name, node)? {
                    None => None,
                    Some(text) => Some(
                        unix_micros(&text)
                            .ok_or(Declined::from("api_token.expires_at not modelled"))?,
                    ),
                }
            }
            "device_id" => {
                optional_uuid(&name, node)?;
            }
            "device_metadata" => match node {
                Node::Map(_) | Node::Scalar(Scalar::Null) => {}
                Node::Scalar(_) => return Err("api_token.device_metadata not a mapping".into()),
            },
            _ => return Err(Declined::new(format!("api_token.{name} not modelled"))),
        }
    }
    let access_token = Secret(access_token.ok_or("api_token without access_token")?);
    // `expires_at_with_leeway`: `expires_at - timedelta(seconds=leeway)` when both are truthy.
    let expires_with_leeway_us = match (expires_at, leeway) {
        (None, _) => None,
        (Some(at), None | Some(0)) => Some(at),
        (Some(at), Some(leeway)) => Some(
            leeway
                .checked_mul(1_000_000)
                .and_then(|l| at.checked_sub(l))
                .filter(|us| DATETIME_RANGE_US.contains(us))
                .ok_or("api_token.leeway out of range")?,
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
    // What Python's datetime holds (pydantic refuses the rest): years 1..9999, real days, no
    // leap second.
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1 || !(1..=month_days).contains(&d) || h > 23 || mi > 59 || s > 59 {
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
