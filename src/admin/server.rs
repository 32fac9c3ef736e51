//! `zenml-launcher server status|stop`: the command servers of this user (their socket dir is
//! `python::server::runtime_dir`), and stopping them.

use anyhow::Result;

use crate::error::UserError;
use crate::python::server::{self, ServerFiles};

fn dir() -> Result<std::path::PathBuf> {
    server::runtime_dir().map_err(|why| {
        UserError::new(
            format!("no usable server directory: {why}"),
            format!(
                "fix its owner and mode (0700), or point {} elsewhere",
                crate::vars::ZENML_LAUNCHER_RUNTIME_DIR
            ),
        )
        .into()
    })
}

fn describe(files: &ServerFiles) -> String {
    let Some(info) = server::info(files) else {
        return format!(
            "{}: warming up or stale (no info file)",
            files.socket.display()
        );
    };
    let pid = info["pid"].as_u64().unwrap_or(0) as u32;
    let up = info["started"]
        .as_f64()
        .map(|t| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            format!("{:.0} s", (now - t).max(0.0))
        })
        .unwrap_or_else(|| "?".into());
    let rss = server::rss_kib(pid).map_or_else(
        || "not running".to_string(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    );
    format!(
        "server {}: {} server, pid {pid}, env {}, zenml {}, up {up}, idle timeout {} s, RSS {rss}\n  socket {}\n  why {}: {}",
        files.name,
        info["kind"].as_str().unwrap_or("?"),
        info["env"].as_str().unwrap_or("?"),
        info["zenml"].as_str().unwrap_or("?"),
        info["idle_s"].as_f64().unwrap_or(0.0),
        files.socket.display(),
        info["kind"].as_str().unwrap_or("?"),
        info["why"].as_str().unwrap_or("?"),
    )
}

/// Lists the servers (pid, env, ZenML, uptime, idle timeout, RSS, socket).
pub fn status() -> Result<u8> {
    let dir = dir()?;
    let servers = server::list(&dir);
    if servers.is_empty() {
        println!("no server in {}", dir.display());
    }
    for files in &servers {
        println!("{}", describe(files));
    }
    Ok(0)
}

/// Stops every server (each finishes the calls it is running).
pub fn stop() -> Result<u8> {
    let dir = dir()?;
    let servers = server::list(&dir);
    if servers.is_empty() {
        println!("no server in {}", dir.display());
    }
    for files in &servers {
        match server::stop(files, std::time::Duration::from_secs(5)) {
            Some(pid) => println!("stopped server {} (pid {pid})", files.name),
            None => println!("removed the socket of server {}", files.name),
        }
    }
    Ok(0)
}
