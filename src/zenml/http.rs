//! GET requests to a ZenML server, the way ZenML's `requests` session makes them, on `ureq`
//! (rustls): certificates verified against the CA bundle `requests` would use, the stored API
//! token as a bearer token, one deadline for all the requests of a call.
//!
//! Which bundle (`requests.Session.merge_environment_settings` + `urllib3`): the store's
//! `verify_ssl` when it is a path; when it is `true`, `$REQUESTS_CA_BUNDLE`, else
//! `$CURL_CA_BUNDLE`, else certifi's `cacert.pem` in the env's site-packages. `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` are not looked at: `urllib3` loads the bundle it is given and not OpenSSL's
//! defaults. `verify_ssl: false` verifies nothing. A bundle that is a directory, or that yields no
//! certificate, is not modelled (the caller leaves the call to Python).
//!
//! Nothing here runs unless a Rust route reads a server; no error text carries the token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::declined::Declined;
use crate::vars;
use crate::zenml::config::Scalar;
use crate::zenml::credentials::Secret;

/// The longest the launcher waits on a server for one call (all its requests), before passing
/// the call on; never longer than the store's `http_timeout`.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// How certificates are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// `verify_ssl: false`.
    Off,
    /// The PEM bundle of trusted CAs.
    Bundle(PathBuf),
}

/// `verify_ssl` as stored: `true`, `false` or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifySsl {
    Yes,
    No,
    Path(PathBuf),
}

impl VerifySsl {
    /// The store config's `verify_ssl` (`None`: the key is absent, pydantic's default `True`);
    /// `Union[bool, str]`: a boolean or a path. `Err` for any other type.
    pub fn from_config(value: Option<&Scalar>) -> Result<VerifySsl, Declined> {
        match value {
            None | Some(Scalar::Bool(true)) => Ok(VerifySsl::Yes),
            Some(Scalar::Bool(false)) => Ok(VerifySsl::No),
            Some(Scalar::Str(path)) => Ok(VerifySsl::Path(PathBuf::from(path))),
            Some(other) => Err(Declined::new(format!(
                "verify_ssl of type {} not modelled",
                other.type_name()
            ))),
        }
    }

    /// The bundle requests would verify with (see the module notes). `site_packages`: the env's,
    /// where certifi lives.
    pub fn resolve(&self, site_packages: Option<&Path>) -> Result<Verify, Declined> {
        let path = match self {
            VerifySsl::No => return Ok(Verify::Off),
            VerifySsl::Path(p) => p.clone(),
            VerifySsl::Yes => {
                let from_env = [vars::REQUESTS_CA_BUNDLE, vars::CURL_CA_BUNDLE]
                    .iter()
                    .find_map(|name| vars::os(name).filter(|v| !v.is_empty()));
                match from_env {
                    Some(p) => PathBuf::from(p),
                    None => site_packages
                        .map(|s| s.join("certifi/cacert.pem"))
                        .ok_or("no site-packages for certifi's bundle")?,
                }
            }
        };
        if !path.is_file() {
            return Err(Declined::new(format!(
                "CA bundle {} is not a file",
                path.display()
            )));
        }
        Ok(Verify::Bundle(path))
    }
}

/// A client for one server and one call.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    bearer: Option<Secret>,
    deadline: Instant,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("bearer", &self.bearer)
            .finish()
    }
}

impl Client {
    /// `base`: the server URL (`http://…` or `https://…`, no trailing slash); `verify`: `None`
    /// for plain HTTP; `wait`: the whole call's budget.
    pub fn new(
        base: &str,
        verify: Option<&Verify>,
        bearer: Option<Secret>,
        wait: Duration,
    ) -> Result<Client, Declined> {
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        match verify {
            None => {}
            Some(Verify::Off) => tls = tls.disable_verification(true),
            Some(Verify::Bundle(path)) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Declined::new(format!("CA bundle {}: {e}", path.display())))?;
                let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(Declined::new(format!(
                        "CA bundle {}: no certificate",
                        path.display()
                    )));
                }
                tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
            }
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            // requests' proxies are not modelled: the caller declines when one is configured.
            .proxy(None)
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("zenml/{}", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .accept_encoding("identity")
            .timeout_global(Some(wait))
            .build()
            .new_agent();
        Ok(Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            bearer,
            deadline: Instant::now() + wait,
        })
    }

    /// GETs `path` (with its query) and parses the JSON body of a `200` response; any other
    /// status (a 401 or 403 included) is an error.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, Declined> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| Declined::new(format!("GET {path}: out of time")))?;
        let mut request = self
            .agent
            .get(format!("{}{path}", self.base))
            .config()
            .timeout_global(Some(left))
            .build();
        if let Some(token) = &self.bearer {
            request = request.header("Authorization", format!("Bearer {}", token.expose()));
        }
        let mut response = request
            .call()
            .map_err(|e| Declined::new(format!("GET {path}: {}", error_text(&e))))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Declined::new(format!("GET {path}: status {status}")));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| Declined::new(format!("GET {path}: {}", error_text(&e))))?;
        serde_json::from_slice(&body)
            .map_err(|e| Declined::new(format!("GET {path}: not JSON: {e}")))
    }
}

/// An error's kind, without anything a request carried.
fn error_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => format!("{}", io.kind()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => format!("TLS: {e}"),
        ureq::Error::Timeout(t) => format!("timeout ({t})"),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_ssl_values() {
        let from = |v: Option<Scalar>| VerifySsl::from_config(v.as_ref());
        assert_eq!(from(None), Ok(VerifySsl::Yes));
        assert_eq!(from(Some(Scalar::Bool(true))), Ok(VerifySsl::Yes));
        assert_eq!(from(Some(Scalar::Bool(false))), Ok(VerifySsl::No));
        assert_eq!(
            from(Some(Scalar::Str("/c/ca.pem".into()))),
            Ok(VerifySsl::Path("/c/ca.pem".into()))
        );
        assert!(from(Some(Scalar::Null)).is_err());
        assert_eq!(VerifySsl::No.resolve(None), Ok(Verify::Off));
        assert!(
            VerifySsl::Path("/nonexistent/ca.pem".into())
                .resolve(None)
                .is_err()
        );
        assert!(VerifySsl::Path("/".into()).resolve(None).is_err());
    }

    /// A server that accepts and never answers: the call gives up within its budget.
    #[test]
    fn a_silent_server_is_given_up_in_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let conn = listener.accept();
            std::thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let client = Client::new(
            &format!("http://127.0.0.1:{port}"),
            None,
            None,
            Duration::from_millis(800),
        )
        .unwrap();
        let start = Instant::now();
        let result = client.get_json("/api/v1/info");
        assert!(result.is_err(), "{result:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        hold.join().unwrap();
    }

    /// A refused connection is an error at once.
    #[test]
    fn a_stopped_server_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::new(
            &format!("http://127.0.0.1:{port}"),
            None,
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        let start = Instant::now();
        assert!(client.get_json("/api/v1/info").is_err());
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
