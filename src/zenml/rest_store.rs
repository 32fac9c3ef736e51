//! A ZenML server's REST API, read directly (GET only, never a write), as ZenML's `RestZenStore`
//! reads it: the store URL (`http://` or `https://`), certificates verified as `requests` verifies
//! them ([`http`]), and the API token `zenml login` stored in `credentials.yaml`
//! ([`credentials`]) used as it is while it is valid.
//!
//! Not read here (the caller passes the call on, before printing anything): an expired token or
//! an API key with no token yet (ZenML exchanges it and writes the new token back), a store
//! config with other keys, a proxy or netrc file `requests` would use, credentials caching turned
//! off, a credentials file of a shape not modelled. Any response but a `200` with a JSON body
//! (a 401 or 403 included), a TLS failure, a refused connection or a slow server is an error
//! for the caller, which then leaves the call to Python.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::declined::Declined;
use crate::vars;
use crate::zenml::config::{Scalar, YamlMap};
use crate::zenml::credentials::{self, ServerCredentials};
use crate::zenml::http::{self, Client, Verify, VerifySsl};
use crate::zenml::paths;

pub type ServerResult<T> = Result<T, Declined>;

/// Keys of the `store:` mapping ZenML writes for a server (`zenml login`); any other key (an
/// API key, a username, a token, a certificate) in the config itself is not modelled.
pub const STORE_KEYS: &[&str] = &[
    "type",
    "url",
    "verify_ssl",
    "http_timeout",
    "connection_pool_size",
];

/// `RestZenStoreConfiguration.http_timeout`'s default.
const DEFAULT_HTTP_TIMEOUT: u64 = 30;

/// A server of a `rest` store, ready to be read.
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    verify: Option<Verify>,
    pub credentials: Option<ServerCredentials>,
    wait: Duration,
    client: OnceLock<Result<Client, Declined>>,
}

/// The host and port of a URL [`check_url`] accepts (`http://h:8080` → `("h", Some(8080))`).
pub fn host_and_port(url: &str) -> (&str, Option<u16>) {
    let authority = url.split_once("://").map_or("", |(_, rest)| rest);
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()),
        None => (authority, None),
    }
}

/// `scheme://host[:port]` with no path, query or user info: the only store URLs modelled. The
/// host is a plain ASCII name or IPv4 address (dot-separated labels of letters, digits, `-` and
/// `_`): `requests` refuses control characters and empty labels, and sends non-ASCII names
/// IDNA-encoded, so the proxy rules would not see the host the launcher sees.
pub fn check_url(url: &str) -> Option<bool> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !host.split('.').all(label) {
        return None; // IPv6 literals are not modelled either
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        port.parse::<u16>().ok()?;
    }
    Some(https)
}

impl Server {
    /// The server of the global config's `rest` store, or why it is not read here.
    pub fn from_config(
        global: &YamlMap,
        config_dir: &Path,
        home: Option<&Path>,
        site_packages: Option<&Path>,
    ) -> ServerResult<Server> {
        if let Some(key) = global.0.keys().find(|k| {
            k.strip_prefix("store.")
                .is_some_and(|k| !STORE_KEYS.contains(&k))
        }) {
            return Err(Declined::new(format!("{key} in the store config")));
        }
        let url = global.get("store.url").ok_or("no store url")?.to_string();
        let https = check_url(&url)
            .ok_or_else(|| Declined::new(format!("server URL {url} not modelled")))?;
        let (host, port) = host_and_port(&url);
        let env: Vec<_> = std::env::vars_os().collect();
        if let Some(name) = super::proxy::proxy_used(https, host, port, &env)? {
            return Err(Declined::new(format!(
                "requests would use the proxy in {name}"
            )));
        }
        if vars::os(vars::NETRC).is_some() || paths::netrc_files(home).iter().any(|f| f.exists()) {
            return Err("a netrc file requests would read".into());
        }
        if vars::os(vars::ZENML_DISABLE_CREDENTIALS_DISK_CACHING).is_some() {
            return Err(Declined::new(format!(
                "{} is set",
                vars::ZENML_DISABLE_CREDENTIALS_DISK_CACHING
            )));
        }
        let timeout = match global.get_scalar("store.http_timeout") {
            None => DEFAULT_HTTP_TIMEOUT,
            Some(Scalar::Int(t)) => u64::try_from(*t).map_err(|_| "http_timeout negative")?,
            Some(_) => return Err("http_timeout not an int".into()),
        };
        if timeout == 0 {
            return Err("http_timeout 0".into());
        }
        let verify = if https {
            Some(
                VerifySsl::from_config(global.get_scalar("store.verify_ssl"))?
                    .resolve(site_packages)?,
            )
        } else {
            None
        };
        let credentials = credentials::read(&paths::credentials_file(config_dir), &url)?;
        if let Some(c) = &credentials {
            match &c.api_token {
                Some(token) if !token.usable_at(SystemTime::now()) => {
                    return Err(
                        "the stored API token is expired or about to (ZenML refreshes it)".into(),
                    );
                }
                None if c.api_key.is_some() || c.has_password => {
                    return Err("no API token yet (ZenML would log in and store one)".into());
                }
                _ => {}
            }
        }
        Ok(Server {
            url,
            verify,
            credentials,
            wait: http::MAX_WAIT.min(Duration::from_secs(timeout)),
            client: OnceLock::new(),
        })
    }

    /// Whether a stored API token is sent.
    pub fn authenticated(&self) -> bool {
        self.credentials
            .as_ref()
            .is_some_and(|c| c.api_token.is_some())
    }

    /// GETs `path` (with its query) and parses the JSON body of a 200 response.
    pub fn get_json(&self, path: &str) -> ServerResult<serde_json::Value> {
        let client = self.client.get_or_init(|| {
            let bearer = self
                .credentials
                .as_ref()
                .and_then(|c| c.api_token.as_ref())
                .map(|t| t.access_token.clone());
            Client::new(&self.url, self.verify.as_ref(), bearer, self.wait)
        });
        client.as_ref().map_err(Clone::clone)?.get_json(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        assert_eq!(check_url("http://127.0.0.1:8237"), Some(false));
        assert_eq!(check_url("https://zenml.example.com"), Some(true));
        assert_eq!(check_url("https://127.0.0.1:8443"), Some(true));
        assert_eq!(
            host_and_port("https://127.0.0.1:8443"),
            ("127.0.0.1", Some(8443))
        );
        assert_eq!(
            host_and_port("https://zenml.example.com"),
            ("zenml.example.com", None)
        );
        for url in [
            "http://127.0.0.1:8237/",
            "http://127.0.0.1:8237/api",
            "http://127.0.0.1:99999",
            "http://user@127.0.0.1:80",
            "https://[::1]:443",
            "mysql://127.0.0.1:3306",
            "https://",
            "https://ho\tst",
            "https://ho\nst:8443",
            "https://.h",
            "https://a..b",
            "https://h.",
            "https://bücher.example",
            "https://１２７.0.0.1",
        ] {
            assert_eq!(check_url(url), None, "{url}");
        }
    }
}
