//! Whether `requests` would send ZenML's calls to a server through a proxy named in the
//! environment: `urllib.request.getproxies_environment` (any `<scheme>_proxy` variable, any
//! case, lowercase preferred), `requests.utils.should_bypass_proxies` (`no_proxy`/`NO_PROXY`:
//! host names with their dotted suffixes, IPv4 addresses and CIDR networks),
//! `urllib.request.proxy_bypass_environment` (`*`, suffixes) and `requests.utils.select_proxy`
//! (`scheme://host`, `scheme`, `all://host`, `all`). The launcher reads a server
//! itself only when no proxy applies; a shape it does not model is reported, and the call goes
//! to Python.

use crate::declined::Declined;
use std::ffi::OsString;

/// The variables `getproxies_environment` reads: scheme (lowercase) → value.
fn environment_proxies(env: &[(OsString, OsString)]) -> Result<Vec<(String, String)>, Declined> {
    let mut proxies: Vec<(String, String)> = Vec::new();
    let set = |scheme: String, value: String, proxies: &mut Vec<(String, String)>| {
        proxies.retain(|(s, _)| *s != scheme);
        proxies.push((scheme, value));
    };
    let text = |s: &OsString| s.to_str().map(str::to_string);
    // First pass: any case (several spellings of one scheme with different values: the
    // environment's order decides in Python, unless a lowercase one decides below).
    let mut ambiguous: Vec<String> = Vec::new();
    for (name, value) in env {
        let Some(lower) = text(name).map(|n| n.to_lowercase()) else {
            continue;
        };
        let Some(scheme) = lower.strip_suffix("_proxy") else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let value = text(value).ok_or_else(|| Declined::new(format!("{lower}: not UTF-8")))?;
        if proxies.iter().any(|(s, v)| s == scheme && *v != value) {
            ambiguous.push(scheme.to_string());
        }
        set(scheme.to_string(), value, &mut proxies);
    }
    if env.iter().any(|(n, _)| n == crate::vars::REQUEST_METHOD) {
        proxies.retain(|(s, _)| s != "http");
    }
    // Second pass: the names spelled with a lowercase `_proxy` win (an empty one removes).
    for (name, value) in env {
        let Some(name) = text(name) else { continue };
        let Some(scheme) = name.strip_suffix("_proxy") else {
            continue;
        };
        let scheme = scheme.to_lowercase();
        ambiguous.retain(|s| *s != scheme);
        if value.is_empty() {
            proxies.retain(|(s, _)| *s != scheme);
        } else {
            let value = text(value).ok_or_else(|| Declined::new(format!("{name}: not UTF-8")))?;
            set(scheme, value, &mut proxies);
        }
    }
    if let Some(scheme) = ambiguous.first() {
        return Err(Declined::new(format!(
            "several {scheme}_proxy spellings with different values"
        )));
    }
    Ok(proxies)
}

/// A dotted quad, as `socket.inet_aton` reads it in its common form; `Err` for the other forms
/// `inet_aton` accepts (`127.1`, `0x7f.0.0.1`).
fn ipv4(text: &str) -> Result<Option<u32>, Declined> {
    let parts: Vec<&str> = text.split('.').collect();
    let plain = |p: &&str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 4 && parts.iter().all(plain) {
        let mut n = 0u32;
        for p in parts {
            let v: u32 = p.parse().map_err(|_| "not an address")?;
            if v > 255 || (p.len() > 1 && p.starts_with('0')) {
                return Err(Declined::new(format!("address {text} not modelled")));
            }
            n = n << 8 | v;
        }
        return Ok(Some(n));
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x' || b == b'X');
    if looks_numeric && text.bytes().any(|b| b.is_ascii_digit()) {
        return Err(Declined::new(format!("address {text} not modelled")));
    }
    Ok(None)
}

/// `should_bypass_proxies`' own loop over `no_proxy` (requests 2.32: a name matches itself and
/// its dotted subdomains).
fn requests_bypass(hostname: &str, port: Option<u16>, no_proxy: &str) -> Result<bool, Declined> {
    let entries = no_proxy.split(',').map(|h| h.replace(' ', ""));
    let entries: Vec<String> = entries.filter(|h| !h.is_empty()).collect();
    if let Some(ip) = ipv4(hostname)? {
        for entry in &entries {
            if let Some((net, bits)) = entry.split_once('/') {
                let bits: u32 = match bits.parse() {
                    Ok(b) if (1..=32).contains(&b) => b,
                    _ => continue, // not a valid CIDR: compared as a name below
                };
                let Some(net) = ipv4(net)? else {
                    return Err(Declined::new(format!(
                        "no_proxy entry {entry} not modelled"
                    )));
                };
                let mask = u32::MAX << (32 - bits);
                if ip & mask == net & mask {
                    return Ok(true);
                }
            } else if hostname == entry {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let with_port = match port {
        Some(p) if p != 0 => format!("{hostname}:{p}"),
        _ => hostname.to_string(),
    };
    for entry in &entries {
        let name = entry.trim_start_matches('.');
        if hostname == name || with_port == name {
            return Ok(true);
        }
        let suffix = format!(".{name}");
        if hostname.ends_with(&suffix) || with_port.ends_with(&suffix) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `proxy_bypass_environment(hostname)`.
fn urllib_bypass(hostname: &str, no_proxy: Option<&str>) -> bool {
    let Some(no_proxy) = no_proxy else {
        return false;
    };
    if no_proxy == "*" {
        return true;
    }
    let host = hostname.to_lowercase();
    no_proxy.split(',').any(|name| {
        let name = name.trim().trim_start_matches('.').to_lowercase();
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

/// The variable whose proxy `requests` would use for `https`/`http` calls to `hostname:port`
/// (`Ok(None)`: none, the launcher may connect directly), given the environment `env` (as the
/// process has it: a name may appear twice, and CPython's `os.environ` keeps the first).
pub fn proxy_used(
    https: bool,
    hostname: &str,
    port: Option<u16>,
    env: &[(OsString, OsString)],
) -> Result<Option<String>, Declined> {
    let mut seen = std::collections::HashSet::new();
    let env: Vec<(OsString, OsString)> = env
        .iter()
        .filter(|(name, _)| seen.insert(name))
        .cloned()
        .collect();
    let proxies = environment_proxies(&env)?;
    let scheme = if https { "https" } else { "http" };
    let hostname = hostname.to_lowercase();
    // `select_proxy`: the first of `scheme://host`, `scheme`, `all://host`, `all` it has.
    let keys = [
        format!("{scheme}://{hostname}"),
        scheme.to_string(),
        format!("all://{hostname}"),
        "all".to_string(),
    ];
    let Some((name, _)) = keys
        .iter()
        .find_map(|key| proxies.iter().find(|(s, _)| s == key))
    else {
        return Ok(None);
    };
    // requests' get_proxy("no_proxy"): `no_proxy`, else (unset or empty) `NO_PROXY`.
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let no_proxy = [crate::vars::NO_PROXY_LOWER, crate::vars::NO_PROXY]
        .iter()
        .filter_map(|k| get(k))
        .find(|v| !v.is_empty());
    if let Some(no_proxy) = no_proxy {
        let no_proxy = no_proxy.to_str().ok_or("no_proxy: not UTF-8")?;
        if requests_bypass(&hostname, port, no_proxy)? {
            return Ok(None);
        }
    }
    let urllib_no = proxies
        .iter()
        .find(|(s, _)| s == "no")
        .map(|(_, v)| v.as_str());
    if urllib_bypass(&hostname, urllib_no) {
        return Ok(None);
    }
    Ok(Some(format!("{name}_proxy")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn used(https: bool, host: &str, pairs: &[(&str, &str)]) -> Option<String> {
        proxy_used(https, host, Some(8443), &env(pairs)).unwrap()
    }

    #[test]
    fn which_proxy_applies() {
        let p = "http://proxy:3128";
        assert_eq!(used(true, "h", &[]), None);
        assert_eq!(used(true, "h", &[("HTTP_PROXY", p)]), None);
        assert_eq!(
            used(false, "h", &[("HTTP_PROXY", p)]),
            Some("http_proxy".into())
        );
        assert_eq!(
            used(true, "h", &[("Https_Proxy", p)]),
            Some("https_proxy".into())
        );
        assert_eq!(
            used(true, "h", &[("ALL_PROXY", p)]),
            Some("all_proxy".into())
        );
        assert_eq!(used(true, "h", &[("HTTPS_PROXY", "")]), None);
        // A lowercase empty variable removes the uppercase one.
        assert_eq!(
            used(true, "h", &[("HTTPS_PROXY", p), ("https_proxy", "")]),
            None
        );
        // CGI: HTTP_PROXY (not lowercase) is ignored.
        assert_eq!(
            used(false, "h", &[("HTTP_PROXY", p), ("REQUEST_METHOD", "GET")]),
            None
        );
        assert!(
            proxy_used(
                true,
                "h",
                None,
                &env(&[("HTTPS_PROXY", p), ("Https_Proxy", "x")])
            )
            .is_err()
        );
        let both = [
            ("HTTPS_PROXY", "x"),
            ("Https_Proxy", "y"),
            ("https_proxy", ""),
        ];
        assert_eq!(used(true, "h", &both), None);
        // `select_proxy` looks for `scheme://host` and `all://host` first.
        assert_eq!(
            used(true, "H.example", &[("https://h.example_proxy", p)]),
            Some("https://h.example_proxy".into())
        );
        assert_eq!(
            used(false, "h", &[("all://h_proxy", p)]),
            Some("all://h_proxy".into())
        );
        assert_eq!(used(true, "h", &[("https://other_proxy", p)]), None);
        // The first of two equal names is the one CPython's os.environ has.
        assert_eq!(
            used(true, "h", &[("https_proxy", p), ("https_proxy", "")]),
            Some("https_proxy".into())
        );
    }

    #[test]
    fn no_proxy_as_requests_and_urllib_read_it() {
        let p = ("HTTPS_PROXY", "http://proxy:3128");
        let bypassed = |host: &str, no: &str| used(true, host, &[p, ("NO_PROXY", no)]).is_none();
        assert!(bypassed("127.0.0.1", "127.0.0.1"));
        assert!(bypassed("127.0.0.1", "localhost, 127.0.0.0/8"));
        assert!(!bypassed("127.0.0.1", "10.0.0.0/8"));
        assert!(bypassed("127.0.0.1", "0.0.1")); // urllib's suffix rule
        assert!(bypassed("zenml.corp.example", ".example"));
        assert!(bypassed("zenml.corp.example", "corp.example"));
        assert!(bypassed("zenml.corp.example", "zenml.corp.example:8443"));
        assert!(!bypassed("zenml.corp.example", "ample"));
        assert!(bypassed("Zenml.Corp.Example", "CORP.example"));
        assert!(bypassed("h", "*"));
        assert!(!bypassed("h", ""));
        // `no_proxy` wins over `NO_PROXY` for requests; urllib reads both spellings.
        assert!(used(true, "h", &[p, ("no_proxy", "h"), ("NO_PROXY", "x")]).is_none());
        assert!(proxy_used(true, "127.1", None, &env(&[p, ("NO_PROXY", "x")])).is_err());
        assert!(proxy_used(true, "127.0.0.1", None, &env(&[p, ("NO_PROXY", "10/8")])).is_err());
    }
}
