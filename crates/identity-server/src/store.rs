//! Opens the store the `--database` URL names. The only place the binary
//! names a store adapter; the router sees a `DynIdentityStore`.

use std::sync::Arc;

use identity_core::DynIdentityStore;
use identity_store_sqlite::{SqliteOptions, SqliteStore};

use crate::cli::Database;

/// The store of `url`.
pub(crate) async fn open(url: &str) -> Result<DynIdentityStore, String> {
    match url.parse::<Database>()? {
        Database::Memory => {
            tracing::warn!("memory: store; every identity is lost when the server stops");
            Ok(Arc::new(identity_store_memory::MemoryStore::new()))
        }
        Database::Sqlite(path) => {
            let display = path.display().to_string();
            // Opening runs the migrations: blocking file I/O, off the executor.
            let store = tokio::task::spawn_blocking(move || {
                SqliteStore::open(&path.to_string_lossy(), SqliteOptions::default())
            })
            .await
            .map_err(|e| format!("opening {display} failed: {e}"))?
            .map_err(|e| format!("cannot open the SQLite database {display}: {e}"))?;
            Ok(Arc::new(store))
        }
        Database::Postgres => {
            // Connecting runs the migrations (safe when replicas start together).
            let store = identity_store_postgres::PostgresStore::connect(
                url,
                identity_store_postgres::PostgresOptions::default(),
            )
            .await
            .map_err(|e| format!("cannot open the PostgreSQL database: {e}"))?;
            Ok(Arc::new(store))
        }
    }
}

/// The store of `url` for a command that reads or writes what persists
/// (`import`, `export`, `list`): `memory:` is refused (it starts empty and
/// is gone at exit), and so, unless `create`, is a SQLite file that does
/// not exist (reading it would only create an empty one).
pub(crate) async fn open_persistent(
    url: &str,
    command: &str,
    create: bool,
) -> Result<DynIdentityStore, String> {
    match url.parse::<Database>()? {
        Database::Memory => Err(refuse_memory(command)),
        Database::Sqlite(path) if !create && !path.exists() => Err(format!(
            "there is no SQLite database at {}: nothing to {command}",
            path.display()
        )),
        _ => open(url).await,
    }
}

/// Why `command` does not run on `memory:`.
pub(crate) fn refuse_memory(command: &str) -> String {
    format!(
        "`identity-server {command}` needs a database that persists: memory: starts empty \
         and is lost when the command ends; use sqlite://PATH or postgres://..."
    )
}

/// Where the schema of a database stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchemaStatus {
    /// Migrations the database has applied (0: none, or no database yet).
    pub database: i64,
    /// Migrations this binary knows.
    pub library: i64,
    /// Whether the database exists (a SQLite file may not yet).
    pub exists: bool,
}

/// How long reading a PostgreSQL schema version may wait for the server.
const STATUS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The schema status of `url`, read without migrating or creating
/// anything.
pub(crate) async fn schema_status(url: &str) -> Result<SchemaStatus, String> {
    match url.parse::<Database>()? {
        Database::Memory => Err(refuse_memory("migrate")),
        Database::Sqlite(path) => {
            let library = i64::from(identity_store_sqlite::SCHEMA_VERSION);
            if !path.exists() {
                return Ok(SchemaStatus {
                    database: 0,
                    library,
                    exists: false,
                });
            }
            let owned = url.to_owned();
            let version = tokio::task::spawn_blocking(move || {
                identity_store_sqlite::schema_version_of(&owned)
            })
            .await
            .map_err(|e| format!("reading {} failed: {e}", path.display()))?
            .map_err(|e| format!("cannot read the schema version of {}: {e}", path.display()))?;
            Ok(SchemaStatus {
                database: i64::from(version),
                library,
                exists: true,
            })
        }
        Database::Postgres => {
            let version = identity_store_postgres::schema_version_of(url, STATUS_CONNECT_TIMEOUT)
                .await
                .map_err(|e| {
                    format!("cannot read the PostgreSQL database's schema version: {e}")
                })?;
            Ok(SchemaStatus {
                database: version,
                library: identity_store_postgres::SCHEMA_VERSION,
                exists: true,
            })
        }
    }
}
