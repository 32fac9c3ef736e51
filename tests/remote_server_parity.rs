//! `zenml status` and `zenml stack list` on a team's ZenML server: authentication on, HTTPS with
//! a CA the test generates, the client logged in with a service account's API key
//! (`zenml login https://127.0.0.1:<port> --api-key`). The Rust routes read the REST API with the
//! stored token; every run is compared with the live Python CLI (stdout, stderr, exit code) and
//! the tier that answered is checked. Expired and rejected tokens, a wrong CA and a stopped
//! server must go to Python, which prints its own output. No run's output, debug lines
//! included, may show the API key or a token.

mod common;
#[path = "common/tls_server.rs"]
mod tls_server;

use std::process::Command;

use common::world::*;
use common::*;
use tls_server::TlsServer;

const SERVER_ENV: &str = "0.98.0-server";

/// The secrets `credentials.yaml` holds now (API key and access tokens).
fn secrets(w: &World) -> Vec<String> {
    let text =
        std::fs::read_to_string(w.home.join("zenml-config/credentials.yaml")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("api_key: ")
                .or_else(|| l.strip_prefix("access_token: "))
        })
        .map(|s| s.trim_matches('\'').to_string())
        .collect()
}

/// Each `in 1h2m3s` ZenML prints for a token's time left (on a terminal, the parentheses
/// around it are styled apart): its byte range and its seconds.
fn times_left(text: &str) -> Vec<(std::ops::Range<usize>, i64)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("in ").map(|i| from + i) {
        let start = i + 3;
        let len = text[start..]
            .find(|c: char| !(c.is_ascii_digit() || "dhms.".contains(c)))
            .unwrap_or(text.len() - start);
        let token = &text[start..start + len];
        from = start;
        let starts_with_digit = token.starts_with(|c: char| c.is_ascii_digit());
        if !starts_with_digit || !token.ends_with('s') {
            continue;
        }
        let (mut total, mut n) = (0, 0);
        for c in token.chars() {
            match c {
                '0'..='9' => n = n * 10 + i64::from(c as u8 - b'0'),
                'd' => (total, n) = (total + n * 86400, 0),
                'h' => (total, n) = (total + n * 3600, 0),
                'm' => (total, n) = (total + n * 60, 0),
                's' => (total, n) = (total + n, 0),
                _ => n = 0, // `12.345s`: under a minute, whole seconds are enough here
            }
        }
        out.push((start..start + len, total));
        from = start + len;
    }
    out
}

/// What varies between two runs of the same Python code: object addresses in reprs, ZenML's
/// spinner frames, a token's time left (`times_left` compares it), and rich's hyperlink ids, which count up from a random start: each becomes
/// its distance from the stream's first (`<id+3>`), so how rich numbers them is still compared.
fn normalized(bytes: &[u8]) -> Vec<u8> {
    let text = show(&without_spinner(bytes));
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let n = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n > 0 {
            out.push_str("<addr>");
        }
        rest = &rest[n..];
    }
    out.push_str(rest);
    for (range, _) in times_left(&out).into_iter().rev() {
        out.replace_range(range, "<left>");
    }
    let mut text = String::new();
    let mut rest = out.as_str();
    let mut first = None;
    while let Some(i) = rest.find("\x1b]8;id=") {
        text.push_str(&rest[..i + 7]);
        rest = &rest[i + 7..];
        let n = rest.find(';').unwrap_or(0);
        match rest[..n].parse::<i64>() {
            Ok(id) => {
                let first = *first.get_or_insert(id);
                text.push_str(&format!("<id{:+}>", id - first));
            }
            Err(_) => text.push_str(&format!("<bad id {:?}>", &rest[..n])),
        }
        rest = &rest[n..];
    }
    text.push_str(rest);
    text.into_bytes()
}

struct Run<'a> {
    w: &'a World,
    args: &'a [&'a str],
    extra: &'a [(&'a str, &'a str)],
    ttys: &'a [&'a str],
}

impl Run<'_> {
    fn launcher(&self) -> Command {
        let mut cmd = self.w.command(&launcher(), self.args, self.extra);
        cmd.env("ZENML_DEBUG_PYTHON", "1");
        cmd
    }

    fn python(&self) -> Command {
        self.w
            .command(&self.w.env.join("bin/zenml"), self.args, self.extra)
    }

    /// Compares the launcher with the Python CLI; `tier` must have answered. `prepare` runs
    /// before each side (to put the same state back); `parallel` runs both sides at once (for
    /// the slow failures: ZenML retries for half a minute).
    fn check(&self, tier: Tier, prepare: &dyn Fn(), parallel: bool) -> Result<(), String> {
        let mut secrets_before = secrets(self.w);
        let (mine, reference) = if parallel {
            prepare();
            let (l, p) = (self.launcher(), self.python());
            std::thread::scope(|s| {
                let a = s.spawn(|| run_streams(&l, 100, self.ttys, None));
                let b = s.spawn(|| run_streams(&p, 100, self.ttys, None));
                (a.join().unwrap(), b.join().unwrap())
            })
        } else {
            prepare();
            let mine = run_streams(&self.launcher(), 100, self.ttys, None);
            // The token the launcher's run left (tier 2 or delegation may have refreshed it).
            secrets_before.extend(secrets(self.w));
            prepare();
            (mine, run_streams(&self.python(), 100, self.ttys, None))
        };
        let what = format!("{:?} {:?} ttys {:?}", self.args, self.extra, self.ttys);
        let mut all_secrets = secrets_before;
        all_secrets.extend(secrets(self.w));
        for secret in all_secrets.iter().filter(|s| s.len() > 8) {
            let hay = [show(&mine.stdout), show(&mine.stderr)].concat();
            if hay.contains(secret.as_str()) {
                return Err(format!("{what}: a token or key in the launcher's output"));
            }
        }
        let (stderr, debug) = split_debug(&mine.stderr);
        // A token's time left: the launcher ran first, so it saw as much or a little more.
        let seconds = |bytes: &[u8]| -> Vec<i64> {
            times_left(&show(bytes))
                .into_iter()
                .map(|(_, s)| s)
                .collect()
        };
        let (left, reference_left) = (seconds(&stderr), seconds(&reference.stderr));
        if left.len() != reference_left.len()
            || left
                .iter()
                .zip(&reference_left)
                .any(|(m, p)| !(0..=300).contains(&(m - p)))
        {
            return Err(format!(
                "{what}: time left {left:?}, python {reference_left:?}"
            ));
        }
        let mine = Captured {
            stdout: normalized(&mine.stdout),
            stderr: normalized(&stderr),
            code: mine.code,
        };
        let reference = Captured {
            stdout: normalized(&reference.stdout),
            stderr: normalized(&reference.stderr),
            code: reference.code,
        };
        if mine != reference {
            return Err(format!(
                "{what}\nlauncher rc {} out {:?} err {:?}\npython   rc {} out {:?} err {:?}",
                mine.code,
                show(&mine.stdout),
                show(&mine.stderr),
                reference.code,
                show(&reference.stdout),
                show(&reference.stderr)
            ));
        }
        let name = if self.args[0] == "status" {
            "status"
        } else {
            "stack list"
        };
        let rust = took_rust_route(&debug, name);
        if tier_taken(&debug) != Some(tier) || (tier == Tier::Rust) != rust {
            return Err(format!("{what}: expected {tier:?}, {debug:#?}"));
        }
        Ok(())
    }
}

fn check(
    w: &World,
    args: &[&str],
    extra: &[(&str, &str)],
    ttys: &[&str],
    tier: Tier,
) -> Result<(), String> {
    Run {
        w,
        args,
        extra,
        ttys,
    }
    .check(tier, &|| {}, false)
}

/// A client config logged in to `server` with its API key; `login_extra`: more `zenml login`
/// options, `env`: variables for the login.
fn logged_in(server: &TlsServer, name: &str, login_extra: &[&str], env: &[(&str, &str)]) -> World {
    let w = World::bare(name, SERVER_ENV).sharing_cache();
    let mut args = vec!["login", server.url.as_str(), "--api-key"];
    args.extend_from_slice(login_extra);
    server.login(w.command(&w.env.join("bin/zenml"), &args, env));
    let config = std::fs::read_to_string(w.home.join("zenml-config/config.yaml")).unwrap();
    assert!(
        config.contains("type: rest") && config.contains(&server.url),
        "not connected to the server: {config}"
    );
    w
}

/// A new world with `w`'s client config (its `zenml-config`: the server's URL, `verify_ssl`, the
/// API key and token; no path of `w`'s in it), for a slow failure to run beside the other cases:
/// no two runs share a config dir at once (see below).
fn clone_of(w: &World, name: &str) -> World {
    let c = World::bare(name, SERVER_ENV).sharing_cache();
    let (from, to) = (w.home.join("zenml-config"), c.home.join("zenml-config"));
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    c
}

/// `count` clones of `w` (made while no run uses `w`'s config dir).
fn clones_of(w: &World, name: &str, count: usize) -> Vec<World> {
    (0..count)
        .map(|i| clone_of(w, &format!("{name}-{i}")))
        .collect()
}

/// The slow failures, each in its own world (`clones_of`) and all at once (each waits out
/// ZenML's retries, both sides at once).
fn slow_cases(clones: &[World], cases: &[Slow]) -> Vec<Result<(), String>> {
    assert_eq!(clones.len(), cases.len(), "a world per slow case");
    std::thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .zip(clones)
            .map(|((args, extra, tier), w)| {
                s.spawn(move || {
                    let run = Run {
                        w,
                        args,
                        extra,
                        ttys: PIPE,
                    };
                    run.check(*tier, &|| {}, true)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// Sets the stored token's expiry to an hour ago (through ZenML's own credentials store).
fn expire_token(w: &World, url: &str) {
    w.python(&format!(
        "from datetime import datetime, timedelta, timezone\n\
         from zenml.login.credentials_store import get_credentials_store\n\
         s = get_credentials_store()\n\
         t = s.credentials['{url}'].api_token\n\
         t.expires_at = datetime.now(timezone.utc) - timedelta(hours=1)\n\
         s._save_credentials()\n"
    ));
}

/// Drops the stored API key and gives the token it got an expiry (2 h from now, with a leeway
/// and microseconds): the credentials a device-flow login (`zenml login` in a browser) leaves.
/// The server does not look at the stored expiry; the token stays valid.
fn as_device_flow_login(w: &World, url: &str) {
    w.python(&format!(
        "from datetime import datetime, timedelta, timezone\n\
         from zenml.login.credentials_store import get_credentials_store\n\
         s = get_credentials_store()\n\
         c = s.credentials['{url}']\n\
         c.api_key = None\n\
         c.api_token.expires_at = datetime.now(timezone.utc) + timedelta(hours=2, seconds=0.5)\n\
         c.api_token.leeway = 15\n\
         s._save_credentials()\n"
    ));
}

/// Replaces the stored token by one the server rejects (401), with no expiry.
fn reject_token(w: &World, url: &str) {
    w.python(&format!(
        "from zenml.login.credentials_store import get_credentials_store\n\
         s = get_credentials_store()\n\
         t = s.credentials['{url}'].api_token\n\
         t.access_token = 'not-a-valid-token-' + 'x' * 40\n\
         t.expires_at = None\n\
         s._save_credentials()\n"
    ));
}

type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str], Tier);
/// A run that fails slowly (ZenML's retries): arguments, variables, the tier that must answer.
type Slow<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], Tier);

/// Every Python CLI run rewrites its config dir's `config.yaml` (not atomically), so no two runs
/// share a config dir at once (beyond the slow failures' two sides, as before). The clients never
/// touch each other's config: `w` (the CA given at login, expiry and rejection of its token),
/// `v` (the CA through `REQUESTS_CA_BUNDLE`, the proxy, the rejected certificates) and `n` (no
/// verification) run side by side, each its cases one after the other. The slow failures (ZenML
/// retries for up to half a minute) run at once beside them, each in a copy of its client's
/// config dir (`clones_of`). The server's stacks are all registered before any client compares
/// anything.
#[test]
fn status_and_stack_list_on_an_authenticated_https_server() {
    // The warm reference runs' samples compare as this test compares with the launcher: rich's
    // link ids are random per process, and a token's time left moves between two runs.
    common::refrun::compare_samples_as(normalized);
    let dir = scratch("tls-server");
    let mut server = TlsServer::start(&zenml_env(SERVER_ENV), &dir);
    let ca = server.ca.to_str().unwrap().to_string();
    let other_ca = server.other_ca.to_str().unwrap().to_string();
    let bundle = &[("REQUESTS_CA_BUNDLE", ca.as_str())][..];

    // Set-up: `w` logs in and registers the stacks while `v` and `n` log in.
    let (w, v, n) = std::thread::scope(|s| {
        let others = s.spawn(|| {
            let v = logged_in(&server, "tls-b", &[], bundle);
            // `--no-verify-ssl` (`verify_ssl: false`): nothing verified, even with another CA named.
            let n = logged_in(&server, "tls-c", &["--no-verify-ssl"], &[]);
            (v, n)
        });
        // The CA given at login (`--ssl-ca-cert`: stored as `verify_ssl: <path>`).
        let w = logged_in(&server, "tls-a", &["--ssl-ca-cert", &ca], &[]);
        let config = std::fs::read_to_string(w.home.join("zenml-config/config.yaml")).unwrap();
        assert!(
            config.contains("verify_ssl: /"),
            "verify_ssl is not a path: {config}"
        );
        w.zenml(&["artifact-store", "register", "as2", "-f", "local"]);
        // `--set`: made active by the run that creates it (`client.activate_stack`, as
        // `stack set`).
        w.zenml(&[
            "stack", "register", "s1", "-a", "as2", "-o", "default", "--set",
        ]);
        w.zenml(&[
            "stack",
            "register",
            "third stack",
            "-a",
            "as2",
            "-o",
            "default",
        ]);
        let (v, n) = others.join().unwrap();
        (w, v, n)
    });
    let config = std::fs::read_to_string(n.home.join("zenml-config/config.yaml")).unwrap();
    assert!(
        config.contains("verify_ssl: false"),
        "verify_ssl is not false: {config}"
    );

    let other = &[("REQUESTS_CA_BUNDLE", other_ca.as_str())][..];
    let mut results = std::thread::scope(|s| {
        let unverified = s.spawn(|| {
            let cases: Vec<Case> = vec![
                (&["stack", "list", "-o", "json"], other, PIPE, Tier::Rust),
                (&["status"], other, PIPE, Tier::Rust),
            ];
            let mut results: Vec<_> = cases
                .iter()
                .map(|(args, extra, ttys, tier)| check(&n, args, extra, ttys, *tier))
                .collect();
            // A device-flow login: the token's expiry in the local time zone, and its time
            // left (compared within the seconds between the two runs).
            as_device_flow_login(&n, &server.url);
            let berlin = &[("TZ", "Europe/Berlin")][..];
            let term = &[("TZ", "America/New_York"), ("TERM", "xterm")][..];
            let cases: Vec<Case> = vec![
                (&["status"], &[], PIPE, Tier::Rust),
                (&["status"], berlin, PIPE, Tier::Rust),
                (&["status"], term, &["stdout", "stderr"], Tier::Rust),
                (&["stack", "list"], &[], PIPE, Tier::Rust),
                (&["stack", "list", "-o", "json"], berlin, PIPE, Tier::Rust),
            ];
            results.extend(
                cases
                    .iter()
                    .map(|(args, extra, ttys, tier)| check(&n, args, extra, ttys, *tier)),
            );
            results
        });
        let bundled = s.spawn(|| {
            // A proxy (nothing listens on port 9): the server exempt from it through NO_PROXY
            // (a CIDR network) or not (another host, and `no_proxy` read before `NO_PROXY`).
            let exempt = &[
                ("REQUESTS_CA_BUNDLE", ca.as_str()),
                ("Https_Proxy", "http://127.0.0.1:9"),
                ("NO_PROXY", "localhost,127.0.0.0/8"),
            ][..];
            let proxy = &[
                ("REQUESTS_CA_BUNDLE", ca.as_str()),
                ("HTTPS_PROXY", "http://127.0.0.1:9"),
                ("no_proxy", "zenml.example"),
                ("NO_PROXY", "127.0.0.1"),
            ][..];
            let cases: Vec<Case> = vec![
                // The CA trusted through REQUESTS_CA_BUNDLE (`verify_ssl: true`).
                (&["stack", "list"], bundle, PIPE, Tier::Rust),
                (&["stack", "list", "-o", "yaml"], bundle, PIPE, Tier::Rust),
                (&["status"], bundle, PIPE, Tier::Rust),
                (&["stack", "list", "-o", "json"], exempt, PIPE, Tier::Rust),
                (&["status"], exempt, PIPE, Tier::Rust),
            ];
            // Certificates ZenML rejects: another CA, or SSL_CERT_FILE (requests ignores it and
            // uses certifi's bundle). Python retries, then prints its error.
            let cert_file = &[("SSL_CERT_FILE", ca.as_str())][..];
            let slow: [Slow; 4] = [
                (&["stack", "list"], other, Tier::InProcess),
                (&["status"], other, Tier::Delegated),
                (&["stack", "list"], cert_file, Tier::InProcess),
                // requests would use the proxy: left to Python, which fails to connect.
                (&["stack", "list", "-o", "json"], proxy, Tier::InProcess),
            ];
            // They wait out ZenML's retries beside `v`'s other cases, each in a clone of `v`.
            let clones = clones_of(&v, "tls-b-slow", slow.len());
            std::thread::scope(|s| {
                let waiting = s.spawn(|| slow_cases(&clones, &slow));
                let mut results: Vec<_> = cases
                    .iter()
                    .map(|(args, extra, ttys, tier)| check(&v, args, extra, ttys, *tier))
                    .collect();
                results.extend(waiting.join().unwrap());
                results
            })
        });

        let term = &[("TERM", "xterm")][..];
        let cases: Vec<Case> = vec![
            (&["stack", "list"], &[], PIPE, Tier::Rust),
            (&["stack", "list"], &[("COLUMNS", "200")], PIPE, Tier::Rust),
            (&["stack", "list"], &[("NO_COLOR", "1")], PIPE, Tier::Rust),
            (&["stack", "list", "-o", "json"], &[], PIPE, Tier::Rust),
            (&["stack", "list", "-o", "yaml"], &[], PIPE, Tier::Rust),
            (&["stack", "list", "-o", "csv"], &[], PIPE, Tier::Rust),
            (&["stack", "list", "-o", "tsv"], &[], PIPE, Tier::Rust),
            (
                &["stack", "list", "-c", "all", "-o", "json"],
                &[],
                PIPE,
                Tier::Rust,
            ),
            (
                &["stack", "list", "-c", "name,active"],
                &[],
                PIPE,
                Tier::Rust,
            ),
            (&["stack", "list", "-c", "foo"], &[], PIPE, Tier::Rust),
            (&["status"], &[], PIPE, Tier::Rust),
            (&["status"], &[("COLUMNS", "60")], PIPE, Tier::Rust),
            (&["stack", "list"], term, &["stdout"], Tier::Rust),
            (
                &["stack", "list"],
                term,
                &["stdout", "stderr"],
                Tier::InProcess,
            ),
            (
                &["stack", "list", "-o", "json"],
                term,
                &["stdout"],
                Tier::InProcess,
            ),
            (
                &["stack", "list", "--name", "contains:s"],
                &[],
                PIPE,
                Tier::InProcess,
            ),
            // On a terminal the URLs are hyperlinks (ids compared from the first one on), also
            // when a narrow terminal wraps them.
            (&["status"], term, &["stdout", "stderr"], Tier::Rust),
            (
                &["status"],
                &[("TERM", "xterm"), ("COLUMNS", "24")],
                &["stdout", "stderr"],
                Tier::Rust,
            ),
            (
                &["status"],
                &[("TERM", "xterm-256color"), ("NO_COLOR", "1")],
                &["stderr"],
                Tier::Rust,
            ),
        ];
        let mut results: Vec<_> = cases
            .iter()
            .map(|(args, extra, ttys, tier)| check(&w, args, extra, ttys, *tier))
            .collect();

        // An expired token: ZenML exchanges the API key for a new one and writes it back.
        for (args, tier) in [
            (&["stack", "list"][..], Tier::InProcess),
            (&["status"], Tier::Delegated),
        ] {
            let run = Run {
                w: &w,
                args,
                extra: &[],
                ttys: PIPE,
            };
            results.push(run.check(tier, &|| expire_token(&w, &server.url), false));
        }
        results.push(check(&w, &["stack", "list"], &[], PIPE, Tier::Rust));
        // A token the server rejects (401): passed on, ZenML logs in again with the API key.
        let run = Run {
            w: &w,
            args: &["stack", "list", "-o", "json"],
            extra: &[],
            ttys: PIPE,
        };
        results.push(run.check(Tier::InProcess, &|| reject_token(&w, &server.url), false));
        let run = Run {
            w: &w,
            args: &["status"],
            extra: &[],
            ttys: PIPE,
        };
        results.push(run.check(Tier::Delegated, &|| reject_token(&w, &server.url), false));
        results.push(check(&w, &["status"], &[], PIPE, Tier::Rust));
        results.extend(bundled.join().unwrap());
        results.extend(unverified.join().unwrap());
        results
    });

    // The server stopped: ZenML retries, then prints its error; the launcher passes the call on.
    server.stop();
    let stopped: [Slow; 2] = [
        (&["stack", "list"], &[], Tier::InProcess),
        (&["status"], &[], Tier::Delegated),
    ];
    results.extend(slow_cases(
        &clones_of(&w, "tls-a-stopped", stopped.len()),
        &stopped,
    ));
    drop(server);
    all_ok(results);
}
