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
