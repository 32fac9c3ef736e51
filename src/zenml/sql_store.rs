//! The local SQLite store, read-only (never a write, never a migration). Busy or locked ⇒ an
//! error, and the caller delegates before printing anything.

use std::path::Path;
use std::time::Duration;

use crate::declined::Declined;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// An open read-only connection to a ZenML SQLite store.
pub struct Store {
    conn: Connection,
}

pub type StoreResult<T> = Result<T, Declined>;

impl Store {
    pub fn open(path: &Path) -> StoreResult<Self> {
        if !path.is_file() {
            return Err(Declined::new(format!("no store at {}", path.display())));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| Declined::new(e.to_string()))?;
        conn.busy_timeout(Duration::from_millis(1500))
            .map_err(|e| Declined::new(e.to_string()))?;
        // Belt and braces: refuse writes at the SQLite level too.
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| Declined::new(e.to_string()))?;
        Ok(Store { conn })
    }

    /// Runs all reads in one transaction, so they see one consistent snapshot.
    pub fn snapshot<T>(&mut self, f: impl FnOnce(&Snapshot) -> StoreResult<T>) -> StoreResult<T> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| Declined::new(e.to_string()))?;
        let out = f(&Snapshot { conn: &tx });
        let _ = tx.rollback();
        out
    }
}

/// Reads inside one read transaction.
pub struct Snapshot<'a> {
    conn: &'a Connection,
}

impl Snapshot<'_> {
    fn one_string(&self, sql: &str, param: &str) -> StoreResult<Option<String>> {
        self.conn
            .query_row(sql, params![param], |r| r.get::<_, String>(0))
            .optional()
            .map_err(|e| Declined::new(e.to_string()))
    }

    /// The alembic revision(s) the schema is at.
    pub fn schema_versions(&self) -> StoreResult<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT version_num FROM alembic_version")
            .map_err(|e| Declined::new(e.to_string()))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| Declined::new(e.to_string()))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| Declined::new(e.to_string()))
    }

    pub fn project_name_by_id(&self, hex: &str) -> StoreResult<Option<String>> {
        self.one_string("SELECT name FROM project WHERE id = ?1", hex)
    }

    pub fn project_exists_by_name(&self, name: &str) -> StoreResult<bool> {
        Ok(self
            .one_string("SELECT id FROM project WHERE name = ?1", name)?
            .is_some())
    }

    pub fn stack_name_by_id(&self, hex: &str) -> StoreResult<Option<String>> {
        self.one_string("SELECT name FROM stack WHERE id = ?1", hex)
    }

    pub fn stack_exists_by_name(&self, name: &str) -> StoreResult<bool> {
        Ok(self
            .one_string("SELECT id FROM stack WHERE name = ?1", name)?
            .is_some())
    }

    /// The (non service account) user of that name.
    pub fn user_name(&self, name: &str) -> StoreResult<Option<String>> {
        self.one_string(
            "SELECT name FROM user WHERE name = ?1 AND is_service_account = 0",
            name,
        )
    }

    pub fn count(&self, sql: &str) -> StoreResult<usize> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| Declined::new(e.to_string()))
    }

    /// The first column of every row, as text.
    pub fn strings(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<Vec<String>> {
        let mut st = self
            .conn
            .prepare(sql)
            .map_err(|e| Declined::new(e.to_string()))?;
        let rows = st
            .query_map(args, |r| r.get::<_, String>(0))
            .map_err(|e| Declined::new(e.to_string()))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| Declined::new(e.to_string()))
    }

    /// `(name, created, updated, user_id)` of a stack.
    #[allow(clippy::type_complexity)]
    pub fn stack_row(
        &self,
        hex: &str,
    ) -> StoreResult<Option<(String, String, String, Option<String>)>> {
        self.conn
            .query_row(
                "SELECT name, created, updated, user_id FROM stack WHERE id = ?1",
                params![hex],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| Declined::new(e.to_string()))
    }

    pub fn user_name_by_id(&self, hex: &str) -> StoreResult<Option<String>> {
        self.one_string("SELECT name FROM user WHERE id = ?1", hex)
    }

    /// `(type, name)` of each component of a stack.
    pub fn stack_components(&self, stack_hex: &str) -> StoreResult<Vec<(String, String)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT c.type, c.name FROM stack_composition sc \
                 JOIN stack_component c ON c.id = sc.component_id WHERE sc.stack_id = ?1",
            )
            .map_err(|e| Declined::new(e.to_string()))?;
        let rows = st
            .query_map(params![stack_hex], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| Declined::new(e.to_string()))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| Declined::new(e.to_string()))
    }

    /// True when exactly one server_settings row exists and it is active (else ZenML writes).
    pub fn server_active(&self) -> StoreResult<bool> {
        let mut st = self
            .conn
            .prepare("SELECT active FROM server_settings")
            .map_err(|e| Declined::new(e.to_string()))?;
        let rows: Vec<bool> = st
            .query_map([], |r| r.get::<_, bool>(0))
            .map_err(|e| Declined::new(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| Declined::new(e.to_string()))?;
        Ok(rows == [true])
    }
}
