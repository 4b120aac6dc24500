//! Lost commits, on one server: a deferred constraint trigger in the test's
//! schema makes every write's `COMMIT` wait for an advisory lock the test
//! holds, so the store's commit timeout fires with the commit sent and
//! unanswered. The store closes that connection and settles the write on a
//! fresh one: proven committed (success), proven not committed (written
//! once), or [`ErrorKind::OutcomeUnknown`].

use std::time::Duration;

use identity_core::{ErrorKind, IdentityStore};
use identity_store_postgres::PostgresStore;
use identity_store_tests::fixtures::{TENANT, at, email, identity, valid, with_version};
use tokio_postgres::Client;

use crate::support::{Schema, backend_leaves, raw, url};

/// Installs the trigger: every commit that appended a change takes
/// advisory lock `key` first.
async fn hold_commits_on(schema: &Schema, key: i64) {
    schema
        .raw()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_advisory_xact_lock({key}); RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON identity_changes \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit()"
        ))
        .await
        .expect("install the trigger");
}

/// A raw connection holding advisory lock `key`.
async fn hold(url: &str, key: i64) -> Client {
    let holder = raw(url, None).await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .expect("take the lock");
    holder
}

/// The pid of the backend whose commit waits for advisory lock `key`.
async fn committing_backend(observer: &Client, key: i64) -> i32 {
    for _ in 0..250 {
        let row = observer
            .query_opt(
                "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid \
                 WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = $1::INT8::OID",
                &[&key],
            )
            .await
            .expect("pg_locks");
        if let Some(row) = row {
            return row.get(0);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no commit waited for the lock");
}

/// Asserts that backend `pid` goes away: its client closed the connection
/// (a connection pooled again would stay, idle).
async fn assert_closed(observer: &Client, pid: i32) {
    assert!(
        backend_leaves(observer, pid, 250).await,
        "the connection whose commit timed out was kept"
    );
}

/// A store in `schema` whose commits time out fast.
async fn store(schema: &Schema, reconnect_window: Duration) -> PostgresStore {
    let options = schema
        .options()
        .with_commit_timeout(Duration::from_millis(300))
        .with_statement_timeout(Duration::from_millis(500))
        .with_reconnect_window(reconnect_window);
    PostgresStore::connect(&schema.url, options)
        .await
        .expect("connect")
}

/// An advisory lock key of this test alone (advisory locks are per
/// database, and tests run in parallel), below 2^31 so that `pg_locks`
/// shows it whole in `objid`.
fn key() -> i64 {
    i64::from(uuid::Uuid::new_v4().as_fields().0 & 0x7fff_ffff)
}

async fn change_count(schema: &Schema) -> i64 {
    schema
        .raw()
        .await
        .query_one("SELECT count(*) FROM identity_changes", &[])
        .await
        .expect("count changes")
        .get(0)
}

/// The commit timed out, and the first attempt committed after all (the
/// lock came free while the store settled): the create is a success, and
/// happened once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn a_lost_commit_that_happened_is_a_success() {
    let url = url();
    let schema = Schema::new(&url);
    let store = store(&schema, Duration::from_secs(10)).await;
    let key = key();
    hold_commits_on(&schema, key).await;
    let holder = hold(&url, key).await;
    let ada = identity(1, &email(1));
    let create = {
        let (store, ada) = (store.clone(), ada.clone());
        tokio::spawn(async move { store.create(TENANT, &valid(ada)).await })
    };
    let observer = raw(&url, None).await;
    let first = committing_backend(&observer, key).await;
    // Past the commit timeout: the store settles on a fresh connection,
    // whose insert waits for the first attempt's.
    tokio::time::sleep(Duration::from_millis(600)).await;
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    assert_eq!(create.await.expect("task").ok(), Some(1));
    assert_closed(&observer, first).await;
    assert_eq!(
        store.get(TENANT, ada.id).await.expect("get").as_ref(),
        &with_version(&ada, 1)
    );
    assert_eq!(change_count(&schema).await, 1, "written once");
}

/// The commit timed out, and the first attempt never committed (its
/// backend was terminated before its commit record): the settling attempt
/// writes the identity, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn a_lost_commit_that_did_not_happen_is_written_once() {
    let url = url();
    let schema = Schema::new(&url);
    let store = store(&schema, Duration::from_secs(10)).await;
    let key = key();
    hold_commits_on(&schema, key).await;
    let holder = hold(&url, key).await;
    let ada = identity(1, &email(1));
    let create = {
        let (store, ada) = (store.clone(), ada.clone());
        tokio::spawn(async move { store.create(TENANT, &valid(ada)).await })
    };
    let observer = raw(&url, None).await;
    let first = committing_backend(&observer, key).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed: bool = observer
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&first])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    assert_eq!(create.await.expect("task").ok(), Some(1));
    assert_eq!(
        store.get(TENANT, ada.id).await.expect("get").as_ref(),
        &with_version(&ada, 1)
    );
    assert_eq!(change_count(&schema).await, 1, "written once");
}

/// An update whose commit stays pending past the reconnect window cannot
/// be settled: it fails as outcome unknown, never as a success or a plain
/// failure, and indeed it commits once the lock comes free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn an_unsettled_update_is_outcome_unknown() {
    let url = url();
    let schema = Schema::new(&url);
    let store = store(&schema, Duration::from_millis(1500)).await;
    let ada = identity(1, &email(1));
    assert_eq!(
        store.create(TENANT, &valid(ada.clone())).await.ok(),
        Some(1)
    );
    let key = key();
    hold_commits_on(&schema, key).await;
    let holder = hold(&url, key).await;
    let mut next = with_version(&ada, 2);
    next.metadata_admin = Some(serde_json::json!({"counter": 1}));
    next.updated_at = at(10);
    let e = store
        .update(TENANT, &valid(next.clone()), Some(1))
        .await
        .expect_err("the commit never answers within the window");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    let mut version = 0;
    for _ in 0..100 {
        version = store.get(TENANT, ada.id).await.expect("get").version;
        if version == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        version, 2,
        "the write the store could not settle did happen"
    );
}

/// An update whose lost commit happened is proven by the row: the update
/// is a success at its version, and the feed holds one change for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn a_lost_update_that_happened_is_a_success() {
    let url = url();
    let schema = Schema::new(&url);
    let store = store(&schema, Duration::from_secs(10)).await;
    let ada = identity(1, &email(1));
    assert_eq!(
        store.create(TENANT, &valid(ada.clone())).await.ok(),
        Some(1)
    );
    let key = key();
    hold_commits_on(&schema, key).await;
    let holder = hold(&url, key).await;
    let mut next = with_version(&ada, 2);
    next.metadata_admin = Some(serde_json::json!({"counter": 1}));
    next.updated_at = at(10);
    let update = {
        let (store, next) = (store.clone(), next.clone());
        tokio::spawn(async move { store.update(TENANT, &valid(next), Some(1)).await })
    };
    let observer = raw(&url, None).await;
    let first = committing_backend(&observer, key).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    assert_eq!(update.await.expect("task").ok(), Some(2));
    assert_closed(&observer, first).await;
    assert_eq!(
        store.get(TENANT, ada.id).await.expect("get").as_ref(),
        &next
    );
    assert_eq!(change_count(&schema).await, 2, "a create and one update");
}

/// A batch whose lost commit happened: every entry it created is a
/// success, the entry that conflicted still conflicts, and the feed holds
/// each created entry once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn a_lost_batch_that_happened_settles_per_entry() {
    let url = url();
    let schema = Schema::new(&url);
    let store = store(&schema, Duration::from_secs(10)).await;
    let key = key();
    hold_commits_on(&schema, key).await;
    let holder = hold(&url, key).await;
    let (ada, bob) = (identity(1, &email(1)), identity(2, &email(2)));
    // The same email as ada: a conflict within the batch.
    let copy = identity(3, &email(1));
    let batch = {
        let store = store.clone();
        let entries = vec![valid(ada.clone()), valid(bob.clone()), valid(copy)];
        tokio::spawn(async move { store.batch_create(TENANT, &entries).await })
    };
    let observer = raw(&url, None).await;
    let first = committing_backend(&observer, key).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    let results = batch.await.expect("task").expect("the batch");
    let outcomes: Vec<Result<u64, ErrorKind>> = results
        .into_iter()
        .map(|r| r.map_err(|e| e.kind()))
        .collect();
    assert_eq!(outcomes, [Ok(1), Ok(1), Err(ErrorKind::Conflict)]);
    assert_closed(&observer, first).await;
    for i in [&ada, &bob] {
        assert_eq!(
            store.get(TENANT, i.id).await.expect("get").as_ref(),
            &with_version(i, 1)
        );
    }
    assert_eq!(change_count(&schema).await, 2, "each entry written once");
}

/// A delete whose lost commit happened finds the row gone, and cannot tell
/// its own deletion from another's: outcome unknown. One whose commit did
/// not happen (the backend terminated) finds the row and deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn lost_deletes_are_redone_or_unknown() {
    let url = url();
    let schema = Schema::new(&url);
    let store = store(&schema, Duration::from_secs(10)).await;
    let (ada, bob) = (identity(1, &email(1)), identity(2, &email(2)));
    for i in [&ada, &bob] {
        assert_eq!(store.create(TENANT, &valid(i.clone())).await.ok(), Some(1));
    }
    let key = key();
    hold_commits_on(&schema, key).await;
    let observer = raw(&url, None).await;

    // Happened: the row is gone when the store looks.
    let holder = hold(&url, key).await;
    let delete = {
        let store = store.clone();
        tokio::spawn(async move { store.delete(TENANT, ada.id, Some(1)).await })
    };
    committing_backend(&observer, key).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    let e = delete.await.expect("task").expect_err("cannot be proven");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    assert_eq!(
        store
            .get(TENANT, ada.id)
            .await
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );

    // Did not happen: redone, once.
    let holder = hold(&url, key).await;
    let delete = {
        let store = store.clone();
        tokio::spawn(async move { store.delete(TENANT, bob.id, Some(1)).await })
    };
    let first = committing_backend(&observer, key).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed: bool = observer
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&first])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("unlock");
    assert_eq!(delete.await.expect("task").map_err(|e| e.kind()), Ok(()));
    let deleted: i64 = schema
        .raw()
        .await
        .query_one(
            "SELECT count(*) FROM identity_changes WHERE kind = 'deleted'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(deleted, 2, "ada's delete and bob's, once each");
}
