//! `zenml stack list` on a ZenML server: a local server (zenml[local,server]==0.98.0,
//! `zenml login --local` on a free loopback port) started by the test and shut down when it ends.
//! The config then holds a REST store. The Rust route reads that server's REST API itself (plain
//! HTTP on loopback, no authentication); filters, paging, terminals on stderr and highlighted
//! JSON go to tier 2 (the CLI's own code in the embedded interpreter). Both must match the CLI:
//! stdout, stderr and exit code byte-equal.

mod common;

use common::world::*;
use common::*;

const SERVER_ENV: &str = "0.98.0-server";

/// A local ZenML server deployed in a private config dir; shut down on drop.
struct Server {
    world: World,
}

impl Server {
    fn start(name: &str) -> Server {
        let world = World::bare(name, SERVER_ENV);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port()
            .to_string();
        let server = Server { world };
        server.world.zenml(&["login", "--local", "--port", &port]);
        let config =
            std::fs::read_to_string(server.world.home.join("zenml-config/config.yaml")).unwrap();
        assert!(
            config.contains("type: rest") && config.contains(&format!("127.0.0.1:{port}")),
            "the client is not connected to the local server: {config}"
        );
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let out = output(&mut self.world.command(
            &self.world.env.join("bin/zenml"),
            &["logout", "--local"],
            &[],
        ));
        if !out.status.success() {
            // Last resort: the daemon's pid file.
            let pid = self
                .world
                .home
                .join("zenml-config/zen_server/daemon/service.pid");
            if let Some(pid) = std::fs::read_to_string(pid)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) on the daemon this test started.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
    }
}

#[test]
fn stack_list_on_a_local_server() {
    let server = Server::start("server");
    let w = &server.world;
    w.zenml(&["artifact-store", "register", "as2", "-f", "local"]);
    w.zenml(&["orchestrator", "register", "orch2", "-f", "local"]);
    // `--set`: made active by the run that creates it (`client.activate_stack`, as `stack set`).
    w.zenml(&[
        "stack", "register", "s1", "-a", "as2", "-o", "orch2", "--set",
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
    let mut results = Vec::new();
    for (args, extra) in [
        (&[][..], &[][..]),
        (&[], &[("COLUMNS", "120")]),
        (&[], &[("NO_COLOR", "1")]),
        (&["-o", "json"], &[]),
        (&["-o", "yaml"], &[]),
        (&["-o", "tsv"], &[]),
        (&["-c", "all"], &[("COLUMNS", "200")]),
        (&["-c", "all", "-o", "json"], &[]),
        (&["-c", "name,active"], &[]),
        (&["-c", "foo"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, Tier::Rust));
    }
    for (args, extra) in [
        (&["--name", "contains:s"][..], &[][..]),
        (&["--sort_by", "desc:name", "-o", "csv"], &[]),
        (&["--size", "1", "--page", "2"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, Tier::InProcess));
    }
    results.extend(w.check_terminals());

    // More than a page, with the active stack (s1) older than the whole first page.
    w.create_stacks(22);
    for (args, extra) in [
        (&[][..], &[][..]),
        (&[], &[("COLUMNS", "200")]),
        (&["-o", "json"], &[]),
        (&["-c", "name,active", "-o", "tsv"], &[]),
    ] {
        results.push(w.check(args, extra, PIPE, Tier::Rust));
    }
    // The inserted active stack is hydrated: with all columns its keys differ (tier 2).
    results.push(w.check(&["-c", "all", "-o", "json"], &[], PIPE, Tier::InProcess));
    results.push(w.check(&["--page", "2"], &[], PIPE, Tier::InProcess));
    all_ok(results);
}
