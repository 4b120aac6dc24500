//! The store factory, the per-test schema and raw connections.

use std::sync::Arc;
use std::time::Duration;

use identity_core::DynIdentityStore;
use identity_store_postgres::{PostgresOptions, PostgresStore};
use tokio_postgres::{Client, NoTls};

/// The variable naming the test server.
pub(crate) const URL_ENV: &str = "IDENTITY_TEST_POSTGRES_URL";

/// The server URL. These tests are ignored unless asked for; asked for
/// without a server named, they fail rather than pass having done nothing.
pub(crate) fn url() -> String {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{URL_ENV} is not set (e.g. postgres://postgres@127.0.0.1:5432/test): \
             this PostgreSQL test cannot run"
        ),
    }
}

/// A schema that is dropped (with everything in it) when the guard is.
pub(crate) struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    /// A new, unique schema name on the test server (created by the store
    /// that first connects with it).
    pub(crate) fn new(url: &str) -> Schema {
        Schema {
            url: url.to_owned(),
            name: format!("t_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Options for a store in this schema.
    pub(crate) fn options(&self) -> PostgresOptions {
        PostgresOptions::default()
            .with_schema(self.name.clone())
            .with_max_connections(8)
    }

    /// A store in this schema.
    pub(crate) async fn store(&self) -> PostgresStore {
        PostgresStore::connect(&self.url, self.options())
            .await
            .expect("connect to the test server")
    }

    /// A raw connection whose search_path is this schema.
    pub(crate) async fn raw(&self) -> Client {
        raw(&self.url, Some(&self.name)).await
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a runtime of our own on
        // another thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let client = raw(&url, None).await;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

/// A raw tokio-postgres connection (its driver task spawned).
pub(crate) async fn raw(url: &str, schema: Option<&str>) -> Client {
    let mut config: tokio_postgres::Config = url.parse().expect("a valid URL");
    if let Some(schema) = schema {
        config.options(format!("-c search_path={schema}"));
    }
    let (client, connection) = config.connect(NoTls).await.expect("raw connection");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh, empty store in a schema of its own and the guard that drops
/// the schema.
pub(crate) async fn fresh_store() -> (DynIdentityStore, Schema) {
    let url = url();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    (Arc::new(store), schema)
}

/// The number of rows of each table of the schema, in the order
/// identities, credentials, identifiers, verifiable, recovery.
pub(crate) async fn row_counts(client: &Client) -> [i64; 5] {
    let mut counts = [0; 5];
    for (n, table) in [
        "identities",
        "credentials",
        "credential_identifiers",
        "verifiable_addresses",
        "recovery_addresses",
    ]
    .iter()
    .enumerate()
    {
        counts[n] = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count rows")
            .get(0);
    }
    counts
}

/// Whether backend `pid` leaves `pg_stat_activity` within `tries` polls
/// 20 ms apart (a terminated or closed backend is listed for a moment
/// after its signal or close).
pub(crate) async fn backend_leaves(observer: &Client, pid: i32, tries: usize) -> bool {
    for _ in 0..tries {
        let row = observer
            .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .await
            .expect("pg_stat_activity");
        if row.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
