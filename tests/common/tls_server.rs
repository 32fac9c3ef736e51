//! A ZenML server the way a team runs one: authentication on (`OAUTH2_PASSWORD_BEARER`, not
//! NO_AUTH) and TLS with a certificate from a CA generated here (the openssl CLI), on a free
//! loopback port, with a service account and its API key. Used by tests/remote_server_parity.rs
//! and examples/bench.rs (`#[path]`): std and libc only.
//!
//! The server (uvicorn running ZenML's server app from the `zenml[local,server]` env) runs in
//! its own process group; [`TlsServer`]'s `Drop` stops the whole group and waits for it, so no
//! process outlives the test, even when it fails.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TlsServer {
    pub dir: PathBuf,
    pub port: u16,
    pub url: String,
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
    /// Another CA, which did not.
    pub other_ca: PathBuf,
    /// The service account's API key (for `zenml login --api-key`).
    pub api_key: String,
    child: Option<Child>,
}

fn run(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn openssl(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args(args);
    match cmd.output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("the openssl CLI is needed to make the test CA: apt-get install openssl")
        }
        Err(e) => panic!("openssl: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A CA (`<name>.pem`, `<name>.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(pem)
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl TlsServer {
    /// Deploys the server from `env` (a `zenml[local,server]` venv) with its state under `dir`.
    pub fn start(env: &Path, dir: &Path) -> TlsServer {
        std::fs::create_dir_all(dir).unwrap();
        let ca = make_ca(dir, "ca");
        let other_ca = make_ca(dir, "other");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        // The server's store, with a service account and its API key, made through ZenML's
        // client on the SQLite store the server then serves.
        let config = dir.join("server-config");
        let db = config.join("local_stores/default_zen_store/zenml.db");
        let base = |program: &Path| {
            let mut cmd = Command::new(program);
            cmd.env_clear()
                .env("HOME", dir)
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("LANG", "C.UTF-8")
                .env("ZENML_CONFIG_PATH", &config)
                .env("ZENML_ANALYTICS_OPT_IN", "false")
                .current_dir(dir);
            cmd
        };
        let script = dir.join("make_service_account.py");
        std::fs::write(
            &script,
            "from zenml.client import Client\n\
             c = Client()\n\
             sa = c.create_service_account(name='ci-bot')\n\
             print(c.create_api_key(service_account_name_id_or_prefix=sa.id, name='ci').key)\n",
        )
        .unwrap();
        let out = run(
            base(&env.join("bin/python")).arg(&script),
            "creating the service account",
        );
        let api_key = String::from_utf8(out)
            .unwrap()
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string();
        assert!(api_key.starts_with("ZENKEY_"), "no API key printed");
        let port = free_port();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = base(&env.join("bin/python"));
        cmd.args(["-m", "uvicorn", "zenml.zen_server.zen_server_api:app"])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--ssl-keyfile",
                "server.key",
                "--ssl-certfile",
                "server.pem",
            ])
            .env("ZENML_CONFIG_PATH", dir.join("server-runtime"))
            .env("ZENML_STORE_URL", format!("sqlite:///{}", db.display()))
            .env("ZENML_SERVER_AUTH_SCHEME", "OAUTH2_PASSWORD_BEARER")
            .env("ZENML_SERVER_DEPLOYMENT_TYPE", "other")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("starting the ZenML server");
        let mut server = TlsServer {
            dir: dir.to_path_buf(),
            port,
            url: format!("https://127.0.0.1:{port}"),
            ca,
            other_ca,
            api_key,
            child: Some(child),
        };
        server.wait_ready();
        server
    }

    /// uvicorn listens once the app's start-up is complete.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                self.stop();
                panic!("the ZenML server did not start ({exited:?}): {log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `zenml login <url> --api-key [extra…]` with the key on stdin, run as `cmd`.
    pub fn login(&self, mut cmd: Command) {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zenml login");
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{}\n", self.api_key).as_bytes())
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr).replace(&self.api_key, "<key>");
        assert!(out.status.success(), "zenml login failed: {text}");
    }

    /// Stops the server's process group (SIGTERM, then SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = -(child.id() as i32);
        // SAFETY: kill(2) on the process group this helper started.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: as above; whatever is left of the group.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
