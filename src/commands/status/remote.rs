//! `zenml status` when the store is a ZenML server (`zenml login https://…`): cli/server.py's
//! "remote server" branch, with the server facts from `credentials.yaml` and the active user,
//! project and stack read over the REST API with the stored token (`zenml/rest_store.rs`).
//!
//! On a terminal the server URLs are OSC 8 hyperlinks (`[link=…]` markup), with ids as rich
//! numbers them (`render::text::LinkIds`: a random start, as in every Python process).
//!
//! After a device-flow login, the token's expiry is printed in the local time zone
//! (`os::local_time`) with the time left at this moment, as ZenML prints them.
//!
//! Not answered here (nothing printed; the call is delegated): ZenML Pro servers
//! (ZenML refreshes their info from the Pro API), a token within two minutes of its expiry,
//! a non-default project (ZenML logs a warning),
//! a server of another release (ZenML warns), a local server deployment, and every condition
//! `Local::open` and `rest_store` do not model.

use super::{Item, local_items};
use crate::declined::Declined;
use crate::zenml::credentials::ServerCredentials;
use crate::zenml::paths;
use crate::zenml::rest_store::Server;
use crate::zenml::state::Local;

/// `ServerCredentials.auth_status`; for a token that expires (a device-flow login), its expiry
/// in the local time zone and the time left, at this moment.
fn auth_status(c: &ServerCredentials, local_host: bool) -> Result<String, Declined> {
    if c.api_key.is_some() {
        return Ok("API key".into());
    }
    if c.has_password {
        return Ok("password".into());
    }
    let token = match &c.api_token {
        None if local_host => return Ok("no authentication required".into()),
        None => return Ok("N/A".into()),
        Some(t) => t,
    };
    let Some(expires) = token.expires_with_leeway_us else {
        return Ok("never expires".into());
    };
    let now = std::time::SystemTime::now();
    if !token.usable_at(now) {
        return Err(Declined::new("the token (nearly) expired"));
    }
    let left = expires - crate::zenml::credentials::unix_micros_of(now);
    Ok(format!(
        "valid until {} (in {})",
        local_expiry(expires).ok_or_else(|| Declined::new("the local time of the expiry"))?,
        human_readable_time(left)
    ))
}

/// `to_local_tz(expires_at).strftime("%Y-%m-%d %H:%M:%S %Z")`.
fn local_expiry(unix_us: i64) -> Option<String> {
    let t = crate::os::local_time(unix_us.div_euclid(1_000_000))?;
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.zone
    ))
}

/// zenml.utils.string_utils.get_human_readable_time for `micros` ≥ 0.
fn human_readable_time(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let (days, rest) = (seconds / 86400, seconds % 86400);
    let (hours, rest) = (rest / 3600, rest % 3600);
    let (minutes, secs) = (rest / 60, rest % 60);
    if days > 0 {
        format!("{days}d{hours}h{minutes}m{secs}s")
    } else if hours > 0 {
        format!("{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        // `f"{seconds:.3f}s"` (only under a minute, which `usable_at` never leaves).
        format!("{:.3}s", micros as f64 / 1e6)
    }
}

/// `[link=target]text[/link]`, as ZenML writes its hyperlinks.
fn hyperlink(target: &str, text: &str) -> String {
    format!("[link={target}]{text}[/link]")
}

/// The connection lines of the "remote server" branch.
fn connection_items(server: &Server) -> Result<Vec<Item>, Declined> {
    let url = &server.url;
    if url.contains(['[', ']']) || url.contains(char::is_whitespace) {
        return Err(Declined::new(
            "a server URL that rich markup would not keep",
        ));
    }
    let Some(c) = &server.credentials else {
        return Ok(vec![Item::Declare(format!(
            "Connected to a remote ZenML server: {}",
            hyperlink(url, url)
        ))]);
    };
    let pro = c.field("deployment_type") == Some("cloud")
        || c.field("organization_id").is_some()
        || c.field("workspace_id").is_some();
    if pro {
        return Err(Declined::new("a ZenML Pro server"));
    }
    if c.field("pro_dashboard_url").is_some() && c.field("workspace_name").is_some() {
        return Err(Declined::new("a Pro dashboard URL"));
    }
    let (host, _) = crate::zenml::rest_store::host_and_port(url);
    let local_host = ["localhost", "127.0.0.1", "host.docker.internal"].contains(&host);
    let status = c.field("status").unwrap_or("None");
    // ServerCredentials.dashboard_hyperlink and .api_hyperlink (`url + "/docs"`).
    let dashboard = hyperlink(url, url);
    Ok(vec![
        Item::Declare(format!("Connected to a remote ZenML server: `{dashboard}`")),
        Item::Declare(format!("  Dashboard: {dashboard}")),
        Item::Declare(format!("  API: {}", hyperlink(&format!("{url}/docs"), url))),
        Item::Declare(format!("  Server status: '{status}'")),
        Item::Declare(format!(
            "  Server authentication: {}",
            auth_status(c, local_host)?
        )),
    ])
}

fn name(json: &serde_json::Value, what: &str) -> Result<String, Declined> {
    json["name"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Declined::new(format!("{what}: response not modelled")))
}

/// Every line, read before any is printed.
pub fn items(local: &Local, server: &Server) -> Result<Vec<Item>, Declined> {
    if paths::local_server_present(&local.config_dir) {
        return Err(Declined::new("a local server deployment exists"));
    }
    let mut items = vec![Item::Declare("-----ZenML Client Status-----".into())];
    items.extend(connection_items(server)?);
    let project_id = local.active_project()?;
    let stack_id = local.active_stack()?;
    let info = server.get_json("/api/v1/info")?;
    if info["version"].as_str() != Some(local.zenml_version.as_str()) {
        return Err(Declined::new(format!("server version {}", info["version"])));
    }
    let user = name(
        &server.get_json("/api/v1/current-user?hydrate=False")?,
        "user",
    )?;
    let uuid = crate::zenml::config::uuid_text;
    let project = name(
        &server.get_json(&format!(
            "/api/v1/projects/{}?hydrate=True",
            uuid(&project_id.hex)
        ))?,
        "project",
    )?;
    if project != "default" {
        return Err(Declined::new(
            "a non-default project (ZenML logs a warning)",
        ));
    }
    let stack = name(
        &server.get_json(&format!(
            "/api/v1/stacks/{}?hydrate=True",
            uuid(&stack_id.hex)
        ))?,
        "stack",
    )?;
    let scope = local.scope();
    items.push(Item::Declare(format!("  The active user is: '{user}'")));
    items.push(Item::Declare(format!(
        "  The active project is: '{project}' ({scope})"
    )));
    items.push(Item::Declare(format!(
        "  The active stack is: '{stack}' ({scope})"
    )));
    items.extend(local_items(
        local.repository.as_ref().map(|r| r.root.as_path()),
        &local.config_dir,
        &local.local_stores,
    )?);
    Ok(items)
}
