//! A ZenML server's REST API, read directly (GET only, never a write): for a server the client
//! reaches without credentials over plain HTTP on the loopback interface, which is what
//! `zenml login --local` deploys (a local daemon with `auth_scheme: NO_AUTH`). Every other server
//! (https, credentials, another host, a proxy in the way) is not read here: the caller falls back
//! to tier 2, which runs ZenML's own client.
//!
//! A small HTTP/1.1 client over `std::net`: one request per connection (`Connection: close`),
//! `Content-Length`, chunked or read-to-EOF bodies, a timeout on connect and on each read. Any
//! status but 200, or a body that is not JSON, is an error.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub type ServerResult<T> = Result<T, String>;

/// Keys of the `store:` mapping ZenML writes for a local daemon server; any other key (an API
/// key, a username, a token, a certificate) means credentials or TLS, which are not modelled.
pub const PLAIN_STORE_KEYS: &[&str] = &[
    "type",
    "url",
    "verify_ssl",
    "http_timeout",
    "connection_pool_size",
];

/// The longest the launcher waits on the server before falling back (the Python CLI then waits
/// as long as its own `http_timeout` says).
const TIMEOUT: Duration = Duration::from_secs(10);

/// A server at `http://<loopback>:<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    host: String,
    addr: SocketAddr,
}

impl Server {
    /// `http://127.0.0.1:<port>` or `http://localhost:<port>` (an optional trailing `/`); `None`
    /// for any other URL.
    pub fn from_url(url: &str) -> Option<Server> {
        let rest = url.strip_prefix("http://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = rest.rsplit_once(':')?;
        if !port.bytes().all(|b| b.is_ascii_digit()) || port.is_empty() || port.len() > 5 {
            return None;
        }
        let port: u16 = port.parse().ok()?;
        let ip = match host {
            "127.0.0.1" | "localhost" => [127, 0, 0, 1],
            _ => return None,
        };
        Some(Server {
            host: format!("{host}:{port}"),
            addr: SocketAddr::from((ip, port)),
        })
    }

    /// GETs `path` (with its query) and parses the JSON body of a 200 response.
    pub fn get_json(&self, path: &str) -> ServerResult<serde_json::Value> {
        let body = self.get(path)?;
        serde_json::from_slice(&body).map_err(|e| format!("GET {path}: not JSON: {e}"))
    }

    fn get(&self, path: &str) -> ServerResult<Vec<u8>> {
        let err = |e: std::io::Error| format!("GET {path}: {e}");
        let mut stream = TcpStream::connect_timeout(&self.addr, TIMEOUT).map_err(err)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(err)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(err)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            self.host
        );
        stream.write_all(request.as_bytes()).map_err(err)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(err)?;
        parse_response(&raw).map_err(|e| format!("GET {path}: {e}"))
    }
}

/// The body of a `200 OK` HTTP/1.x response.
fn parse_response(raw: &[u8]) -> ServerResult<Vec<u8>> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers not UTF-8")?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1 response: {status:?}"));
    }
    if code != "200" {
        return Err(format!("status {code}"));
    }
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
            if !chunked {
                return Err(format!("transfer encoding {value} not supported"));
            }
        } else if name.eq_ignore_ascii_case("content-encoding") && value != "identity" {
            return Err(format!("content encoding {value} not supported"));
        }
    }
    if chunked {
        return dechunk(body);
    }
    match length {
        Some(n) if body.len() >= n => Ok(body[..n].to_vec()),
        Some(n) => Err(format!("body cut short: {} of {n} bytes", body.len())),
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> ServerResult<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line")?;
        let size_text = std::str::from_utf8(&body[..eol]).map_err(|_| "chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_on_loopback() {
        assert!(Server::from_url("http://127.0.0.1:8237").is_some());
        assert!(Server::from_url("http://localhost:8237/").is_some());
        for url in [
            "https://127.0.0.1:8237",
            "http://10.0.0.1:8237",
            "http://127.0.0.1",
            "http://127.0.0.1:8237/api",
            "http://127.0.0.1:99999",
            "http://user@127.0.0.1:80",
            "mysql://127.0.0.1:3306",
        ] {
            assert_eq!(Server::from_url(url), None, "{url}");
        }
    }

    #[test]
    fn responses() {
        let ok =
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}";
        assert_eq!(parse_response(ok).unwrap(), b"{}");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), b"[1,2]");
        assert!(parse_response(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\n\r\n{}").is_err());
        assert!(parse_response(b"garbage").is_err());
    }
}
