//! Lost connections and abandoned calls: nothing is ever half-written.
//!
//! A raw connection holds `LOCK TABLE recovery_addresses IN EXCLUSIVE MODE`,
//! so a create writes the identity, its credentials, identifiers and
//! verifiable addresses and then waits, inside its transaction, for the
//! lock on the last table.

use std::time::Duration;

use identity_core::{ErrorKind, IdentityStore};
use identity_store_postgres::PostgresStore;
use identity_store_tests::fixtures::{TENANT, email, full_identity, valid, with_version};
use tokio_postgres::Client;

use crate::support::{Schema, backend_leaves, raw, row_counts, url};

/// Waits until a backend of `application_name` waits for a lock; returns
/// its pid.
async fn waiting_backend(observer: &Client, application_name: &str) -> i32 {
    for _ in 0..200 {
        let row = observer
            .query_opt(
                "SELECT pid FROM pg_stat_activity \
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&application_name],
            )
            .await
            .expect("pg_stat_activity");
        if let Some(row) = row {
            return row.get(0);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the store's transaction never waited for the lock");
}

/// Waits until the backend `pid` has left `pg_stat_activity`.
async fn backend_gone(observer: &Client, pid: i32) {
    assert!(
        backend_leaves(observer, pid, 200).await,
        "the terminated backend {pid} never went away"
    );
}

async fn lock_recovery_table(schema: &Schema) -> Client {
    let holder = schema.raw().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE recovery_addresses IN EXCLUSIVE MODE")
        .await
        .expect("lock the table");
    holder
}

/// Killing the store's connection in the middle of a create (after it
/// wrote the identity row and most children, before its commit), with no
/// time left to reconnect: the create is re-run once at once (a pooled
/// connection may be dead without the pool knowing yet), waits for the
/// lock again past its statement timeout, and fails as unavailable,
/// leaving no row behind; the store keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn killed_connection_mid_transaction_leaves_nothing() {
    let url = url();
    let schema = Schema::new(&url);
    let name = format!("kill_{}", &schema.name);
    let options = schema
        .options()
        .with_application_name(&name)
        .with_statement_timeout(Duration::from_secs(1))
        .with_reconnect_window(Duration::ZERO);
    let store = PostgresStore::connect(&url, options)
        .await
        .expect("connect");
    let holder = lock_recovery_table(&schema).await;
    let identity = full_identity(1, &email(1));
    let create = {
        let store = store.clone();
        let identity = identity.clone();
        tokio::spawn(async move { store.create(TENANT, &valid(identity)).await })
    };
    let observer = raw(&url, None).await;
    let pid = waiting_backend(&observer, &name).await;
    let killed: bool = observer
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
    let e = create
        .await
        .expect("task")
        .expect_err("the connection was killed");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
    holder.batch_execute("ROLLBACK").await.expect("unlock");

    assert_eq!(
        row_counts(&schema.raw().await).await,
        [0; 5],
        "nothing written"
    );
    let missing = store.get(TENANT, identity.id).await.expect_err("not there");
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing:?}");
    // The pool dropped the dead connection: the same create now succeeds.
    assert_eq!(
        store.create(TENANT, &valid(identity.clone())).await.ok(),
        Some(1)
    );
    assert_eq!(
        store.get(TENANT, identity.id).await.expect("get"),
        std::sync::Arc::new(with_version(&identity, 1).clone())
    );
}

/// A caller that stops waiting in the middle of a create does not cut the
/// transaction in half: it completes as a whole once the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn dropped_call_completes_whole() {
    let url = url();
    let schema = Schema::new(&url);
    let name = format!("drop_{}", &schema.name);
    let store = PostgresStore::connect(&url, schema.options().with_application_name(&name))
        .await
        .expect("connect");
    let holder = lock_recovery_table(&schema).await;
    let identity = full_identity(1, &email(1));
    let observer = raw(&url, None).await;
    let write = valid(identity.clone());
    let abandoned = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = store.create(TENANT, &write) => {
                panic!("the create cannot finish while the table is locked")
            }
            _ = waiting_backend(&observer, &name) => {}
        }
    })
    .await;
    assert!(abandoned.is_ok(), "the create reached the lock");
    // The caller's future is gone; its transaction still waits.
    assert_eq!(
        row_counts(&schema.raw().await).await,
        [0; 5],
        "not yet visible"
    );
    holder.batch_execute("ROLLBACK").await.expect("unlock");
    let mut found = None;
    for _ in 0..250 {
        if let Ok(i) = store.get(TENANT, identity.id).await {
            found = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        found.as_deref(),
        Some(&with_version(&identity, 1)),
        "written whole"
    );
    assert_eq!(row_counts(&schema.raw().await).await, [1, 4, 5, 2, 1]);
}

/// Killing the store's connection before its commit was sent, with time to
/// reconnect: the create is re-run on a fresh connection (nothing of the
/// first attempt can have committed) and written exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn killed_connection_before_commit_is_rerun_once() {
    let url = url();
    let schema = Schema::new(&url);
    let name = format!("rerun_{}", &schema.name);
    let store = PostgresStore::connect(&url, schema.options().with_application_name(&name))
        .await
        .expect("connect");
    let holder = lock_recovery_table(&schema).await;
    let identity = full_identity(1, &email(1));
    let create = {
        let store = store.clone();
        let identity = identity.clone();
        tokio::spawn(async move { store.create(TENANT, &valid(identity)).await })
    };
    let observer = raw(&url, None).await;
    let pid = waiting_backend(&observer, &name).await;
    let killed: bool = observer
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
    // `pg_terminate_backend` only signals: the killed backend can still be
    // listed, waiting, for a moment. Once it is gone, the re-run waits for
    // the lock in turn.
    backend_gone(&observer, pid).await;
    let again = waiting_backend(&observer, &name).await;
    assert_ne!(again, pid, "a fresh connection");
    holder.batch_execute("ROLLBACK").await.expect("unlock");
    assert_eq!(
        create.await.expect("task").map_err(|e| format!("{e:?}")),
        Ok(1)
    );
    assert_eq!(row_counts(&schema.raw().await).await, [1, 4, 5, 2, 1]);
    let changes: i64 = schema
        .raw()
        .await
        .query_one("SELECT count(*) FROM identity_changes", &[])
        .await
        .expect("count changes")
        .get(0);
    assert_eq!(changes, 1, "one change: written once");
}
