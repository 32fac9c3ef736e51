//! Reading the page `zenml stack list` shows: from the local SQLite store ([`read_listing`]) or
//! from a ZenML server with the requests the Python client makes ([`read_server_listing`]).

use crate::declined::Declined;
use crate::zenml::config::{uuid_hex, uuid_text};
use crate::zenml::rest_store::Server;
use crate::zenml::sql_store::Snapshot;
use crate::zenml::state::Local;

/// `ZENML_PAGINATION_DEFAULT_LIMIT`'s default: the page size.
pub const PAGE_SIZE: usize = 20;

/// A stack as read from the store.
#[derive(Debug, Clone)]
pub struct StackRecord {
    pub id_hex: String,
    pub name: String,
    pub created: String,
    pub updated: String,
    pub user_id_hex: Option<String>,
    pub user: Option<String>,
    /// (component type, component name)
    pub components: Vec<(String, String)>,
}

/// The page ZenML would list, active stack first, plus the total count.
#[derive(Debug, Clone)]
pub struct Listing {
    pub stacks: Vec<StackRecord>,
    pub total: usize,
    pub active_hex: Option<String>,
}

/// Python's `str(datetime)` of a stored `YYYY-MM-DD HH:MM:SS.ffffff`: microseconds only when
/// non-zero. `None` for any other shape.
pub fn python_datetime(stored: &str) -> Option<String> {
    let b = stored.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    match &stored[19..] {
        "" => Some(stored.to_string()),
        frac if frac.len() == 7 && frac.starts_with('.') && digits(20..26) => {
            Some(if frac == ".000000" {
                stored[..19].to_string()
            } else {
                stored.to_string()
            })
        }
        _ => None,
    }
}

/// Reads the page of stacks `zenml stack list` shows without filters.
pub fn read_listing(local: &Local, show_active: bool) -> Result<Listing, Declined> {
    let active = local.active_stack()?;
    local.read(|s| {
        let total = s.count("SELECT count(*) FROM stack")?;
        let mut ids = s.strings(
            "SELECT id FROM stack ORDER BY created DESC, id DESC LIMIT ?1",
            &[&(PAGE_SIZE as i64)],
        )?;
        if s.stack_name_by_id(&active.hex)?.is_none() {
            return Err("active stack not found".into());
        }
        let active_hex = put_active_first(&mut ids, &active.hex, show_active);
        let stacks = ids
            .iter()
            .map(|id| read_stack(s, id))
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            stacks,
            total,
            active_hex,
        })
    })
}

/// `list_stacks`' active-stack rule (only without filters): the active stack is inserted when
/// the page lacks it (ZenML inserts the hydrated model: its row has more keys, see row()), then
/// moved first by a stable sort. Returns the id to mark active.
fn put_active_first(ids: &mut Vec<String>, active: &str, show_active: bool) -> Option<String> {
    if !show_active {
        return None;
    }
    if !ids.iter().any(|id| id == active) {
        ids.insert(0, active.to_string());
    }
    ids.sort_by_key(|id| id != active);
    Some(active.to_string())
}

/// The same page, read from a ZenML server with the requests the Python client makes: the
/// server info (same release, no authentication), the active project, the active stack, the
/// first page of stacks, and each listed stack hydrated (for its components).
pub fn read_server_listing(
    local: &Local,
    server: &Server,
    show_active: bool,
) -> Result<Listing, Declined> {
    let project = local.active_project()?;
    let active = local.active_stack()?;
    let info = server.get_json("/api/v1/info")?;
    if info["version"].as_str() != Some(local.zenml_version.as_str()) {
        return Err(Declined::new(format!("server version {}", info["version"])));
    }
    if info["auth_scheme"].as_str() != Some("NO_AUTH") && !server.authenticated() {
        return Err(Declined::new(format!(
            "server auth scheme {}",
            info["auth_scheme"]
        )));
    }
    server.get_json(&format!(
        "/api/v1/projects/{}?hydrate=True",
        uuid_text(&project.hex)
    ))?;
    let stack = |hex: &str| {
        let json = server.get_json(&format!("/api/v1/stacks/{}?hydrate=True", uuid_text(hex)))?;
        server_stack(&json)
            .ok_or_else(|| Declined::new(format!("stack {hex}: response not modelled")))
    };
    let active_stack = stack(&active.hex)?;
    let page = server
        .get_json(&format!(
            "/api/v1/stacks?hydrate=False&sort_by=desc%3Acreated&logical_operator=and&page=1&size={PAGE_SIZE}"
        ))
        ?;
    let total = page["total"]
        .as_u64()
        .ok_or_else(|| Declined::new("page without total"))? as usize;
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .ok_or_else(|| Declined::new("page without items"))?
        .iter()
        .map(|item| item["id"].as_str().and_then(uuid_hex))
        .collect::<Option<_>>()
        .ok_or_else(|| Declined::new("a stack id not modelled"))?;
    let active_hex = put_active_first(&mut ids, &active.hex, show_active);
    let stacks = ids
        .iter()
        .map(|id| {
            if *id == active.hex {
                Ok(active_stack.clone())
            } else {
                stack(id)
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Listing {
        stacks,
        total,
        active_hex,
    })
}

/// A hydrated `StackResponse` as a record; `None` for a shape not modelled. Datetimes are
/// naive ISO (`…T…`), turned into the store's `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn server_stack(json: &serde_json::Value) -> Option<StackRecord> {
    let datetime = |v: &serde_json::Value| -> Option<String> {
        let text = v.as_str()?.replacen('T', " ", 1);
        let padded = match text.len() {
            19 => text,
            20..=25 if text.as_bytes()[19] == b'.' => format!("{text:0<26}"),
            26 => text,
            _ => return None,
        };
        python_datetime(&padded).map(|_| padded)
    };
    let body = &json["body"];
    let user_id_hex = match &body["user_id"] {
        serde_json::Value::Null => None,
        v => Some(uuid_hex(v.as_str()?)?),
    };
    let user = match &json["resources"]["user"] {
        serde_json::Value::Null => None,
        u => Some(u["name"].as_str()?.to_string()),
    };
    let mut components = Vec::new();
    for (ty, list) in json["metadata"]["components"].as_object()? {
        for component in list.as_array()? {
            components.push((ty.clone(), component["name"].as_str()?.to_string()));
        }
    }
    Some(StackRecord {
        id_hex: uuid_hex(json["id"].as_str()?)?,
        name: json["name"].as_str()?.to_string(),
        created: datetime(&body["created"])?,
        updated: datetime(&body["updated"])?,
        user_id_hex,
        user,
        components,
    })
}

fn read_stack(s: &Snapshot, id: &str) -> Result<StackRecord, Declined> {
    let (name, created, updated, user_id) = s.stack_row(id)?.ok_or("stack vanished")?;
    let user = match &user_id {
        Some(uid) => Some(s.user_name_by_id(uid)?.ok_or("stack user not found")?),
        None => None,
    };
    let components = s.stack_components(id)?;
    Ok(StackRecord {
        id_hex: id.to_string(),
        name,
        created,
        updated,
        user_id_hex: user_id,
        user,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_like_python() {
        assert_eq!(
            python_datetime("2026-11-23 20:26:23.363031").as_deref(),
            Some("2026-11-23 20:26:23.363031")
        );
        assert_eq!(
            python_datetime("2026-11-23 20:26:23.000000").as_deref(),
            Some("2026-11-23 20:26:23")
        );
        assert_eq!(python_datetime("2026-11-23T20:26:23"), None);
    }
}
