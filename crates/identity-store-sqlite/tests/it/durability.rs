//! What SQLite adds: the file survives reopening, migrations guard the
//! schema, updates touch only changed rows, and lock or file trouble is a
//! typed error.

use std::path::Path;
use std::time::Duration;

use identity_core::{ChangeCursor, ChangeKind, ErrorKind, IdentityStore, PageSize, TenantId};
use identity_store_sqlite::{
    SCHEMA_VERSION, SqliteOptions, SqliteStore, Synchronous, schema_version_of,
};
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;

#[tokio::test]
async fn reopening_reads_back_everything_written() {
    let (store, _dir, path) = file_store();
    let mut written = Vec::new();
    for n in 0..20 {
        let identity = if n % 2 == 0 {
            rich(Uuid::new_v4(), &format!("r{n}"))
        } else {
            person(Uuid::new_v4(), &format!("p{n}@example.com"))
        };
        store.create(T, &valid(&identity)).await.expect("create");
        written.push(at(&identity, 1));
    }
    let batch: Vec<_> = (0..5)
        .map(|n| person(Uuid::new_v4(), &format!("b{n}@example.com")))
        .collect();
    store
        .batch_create(T, &batch.iter().map(valid).collect::<Vec<_>>())
        .await
        .expect("batch");
    written.extend(batch.iter().map(|i| at(i, 1)));
    let changed = moved(&written[1], "changed@example.com", T1);
    store
        .update(T, &valid(&changed), Some(1))
        .await
        .expect("update");
    written[1] = at(&changed, 2);
    let gone = written.remove(3);
    store.delete(T, gone.id, None).await.expect("delete");
    drop(store);

    for synchronous in [Synchronous::Normal, Synchronous::Full, Synchronous::Extra] {
        let options = SqliteOptions::default().with_synchronous(synchronous);
        let reopened = SqliteStore::open(path.to_str().expect("utf-8"), options).expect("reopen");
        let mut everything = all(&reopened).await;
        everything.sort_by_key(|i| i.id);
        let mut expected = written.clone();
        expected.sort_by_key(|i| i.id);
        assert_eq!(everything, expected);
        assert!(matches!(
            reopened.get(T, gone.id).await,
            Err(identity_core::Error::NotFound)
        ));
    }
    assert_file_sound(&path);
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

#[tokio::test]
async fn a_file_from_a_newer_library_is_refused() {
    let (store, _dir, path) = file_store();
    drop(store);
    let user_version: u32 = raw(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(user_version, SCHEMA_VERSION);
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    let e = SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default())
        .expect_err("newer file refused");
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(e.to_string().contains("newer"), "{e}");
}

/// `schema_version_of` reads the version without migrating or creating:
/// a missing file stays missing, an empty one stays at 0, a migrated one
/// reads `SCHEMA_VERSION`, a newer one its own number, a foreign one is
/// refused.
#[tokio::test]
async fn the_schema_version_is_read_without_migrating() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v.db");
    let url = format!("sqlite://{}", path.display());
    let missing = schema_version_of(&url).expect_err("no file");
    assert_eq!(missing.kind(), ErrorKind::Unavailable);
    assert!(!path.exists(), "reading created the file");
    drop(raw(&path));
    assert_eq!(schema_version_of(&url).expect("empty file"), 0);
    assert_eq!(schema_version_of(&url).expect("still empty"), 0);
    drop(SqliteStore::open(&url, SqliteOptions::default()).expect("open migrates"));
    assert_eq!(schema_version_of(&url).expect("migrated"), SCHEMA_VERSION);
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    assert_eq!(schema_version_of(&url).expect("newer"), SCHEMA_VERSION + 1);
    raw(&path)
        .pragma_update(None, "application_id", 7)
        .expect("foreign");
    assert_eq!(
        schema_version_of(&url).expect_err("foreign").kind(),
        ErrorKind::Internal
    );
}

/// A file written at schema version 1, where an empty external id could
/// stand for none (only from outside the manager), opens at the current
/// version: the empty ids become NULL, the identities read back whole,
/// and the unique index on external ids holds again.
#[tokio::test]
async fn a_version_1_file_is_migrated() {
    let (store, _dir, path) = file_store();
    let plain = [Uuid::new_v4(), Uuid::new_v4()];
    for (n, id) in plain.iter().enumerate() {
        store
            .create(T, &valid(&person(*id, &format!("v1-{n}@example.com"))))
            .await
            .expect("create");
    }
    let tagged = rich(Uuid::new_v4(), "kept");
    store.create(T, &valid(&tagged)).await.expect("create");
    drop(store);
    // Back to version 1 as it was: no document column, no feed tables, no
    // search indexes, its index left '' out, and '' stood in for none.
    raw(&path)
        .execute_batch(
            "ALTER TABLE identities DROP COLUMN doc;
             DROP INDEX identities_state_idx;
             DROP INDEX identities_schema_idx;
             DROP TABLE identity_change_consumers;
             DROP TABLE identity_changes;
             DROP TABLE identity_change_pruned;
             DROP INDEX identities_external_id_key;
             CREATE UNIQUE INDEX identities_external_id_key ON identities (nid, external_id)
                 WHERE external_id IS NOT NULL AND external_id <> '';
             UPDATE identities SET external_id = '' WHERE external_id IS NULL;
             PRAGMA user_version = 1;",
        )
        .expect("rewind to version 1");
    let empty = |path: &Path| -> u32 {
        raw(path)
            .query_row(
                "SELECT count(*) FROM identities WHERE external_id = ''",
                [],
                |r| r.get(0),
            )
            .expect("count")
    };
    assert_eq!(empty(&path), 2);

    let store = store_at(&path);
    let user_version: u32 = raw(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!((user_version, empty(&path)), (SCHEMA_VERSION, 0));
    for id in plain {
        assert_eq!(get(&store, id).await.external_id, None);
    }
    assert_eq!(get(&store, tagged.id).await, at(&tagged, 1));
    let ext = tagged.external_id.clone().expect("tagged");
    assert_eq!(
        store
            .get_by_external_id(T, &ext)
            .await
            .expect("by external id")
            .id,
        tagged.id
    );
    // Two identities without an external id no longer share one: a third
    // is stored beside them.
    store
        .create(T, &valid(&person(Uuid::new_v4(), "v1-2@example.com")))
        .await
        .expect("a third without an external id");
}

/// A file written at schema version 2, without the document column, opens
/// at the current version: every identity gets its document, reads back
/// exactly as written (through every kind of read), and takes updates.
#[tokio::test]
async fn a_version_2_file_is_migrated() {
    let (store, _dir, path) = file_store();
    let mut written = Vec::new();
    for n in 0..6 {
        let identity = if n % 2 == 0 {
            rich(Uuid::new_v4(), &format!("v2r{n}"))
        } else {
            person(Uuid::new_v4(), &format!("v2p{n}@example.com"))
        };
        store.create(T, &valid(&identity)).await.expect("create");
        written.push(at(&identity, 1));
    }
    // A later version, child rows moved and changed in place, and one
    // without credentials, addresses or metadata.
    let changed = moved(&written[1], "v2-changed@example.com", T1);
    store
        .update(T, &valid(&changed), Some(1))
        .await
        .expect("update");
    written[1] = at(&changed, 2);
    let mut tweaked = written[0].clone();
    tweaked.verifiable_addresses.swap(0, 2);
    tweaked.metadata_public = None;
    store
        .update(T, &valid(&tweaked), Some(1))
        .await
        .expect("update");
    written[0] = at(&tweaked, 2);
    let mut bare = person(Uuid::new_v4(), "bare@example.com");
    bare.credentials.clear();
    bare.verifiable_addresses.clear();
    bare.recovery_addresses.clear();
    bare.metadata_public = None;
    bare.state_changed_at = None;
    store.create(T, &valid(&bare)).await.expect("create");
    written.push(at(&bare, 1));
    drop(store);
    // Back to version 2: no document column, no feed tables, no search indexes.
    raw(&path)
        .execute_batch(
            "ALTER TABLE identities DROP COLUMN doc;
             DROP INDEX identities_state_idx;
             DROP INDEX identities_schema_idx;
             DROP TABLE identity_change_consumers;
             DROP TABLE identity_changes;
             DROP TABLE identity_change_pruned;
             PRAGMA user_version = 2;",
        )
        .expect("rewind to version 2");

    let store = store_at(&path);
    let (user_version, missing): (u32, u32) = raw(&path)
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), \
             (SELECT count(*) FROM identities WHERE doc IS NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("version and documents");
    assert_eq!((user_version, missing), (SCHEMA_VERSION, 0));
    for identity in &written {
        assert_eq!(&get(&store, identity.id).await, identity);
        if let Some(ext) = &identity.external_id {
            assert_eq!(
                *store
                    .get_by_external_id(T, ext)
                    .await
                    .expect("by external id"),
                *identity
            );
        }
        for (kind, credential) in &identity.credentials {
            for identifier in &credential.identifiers {
                let found = store
                    .find_by_identifier(T, *kind, identifier)
                    .await
                    .expect("by identifier");
                assert_eq!(*found, *identity);
            }
        }
    }
    let mut everything = all(&store).await;
    everything.sort_by_key(|i| i.id);
    written.sort_by_key(|i| i.id);
    assert_eq!(everything, written);
    // Updates diff against the filled documents: a move frees the old
    // values and claims the new ones.
    let old = written
        .iter()
        .find(|i| i.id == changed.id)
        .expect("changed")
        .clone();
    let next = moved(&old, "v2-again@example.com", T1);
    assert_eq!(store.update(T, &valid(&next), Some(2)).await.ok(), Some(3));
    assert_eq!(get(&store, next.id).await, at(&next, 3));
    let reuse = person(Uuid::new_v4(), "v2-changed@example.com");
    assert_eq!(store.create(T, &valid(&reuse)).await.ok(), Some(1));
    assert_file_sound(&path);
}

/// A file written at schema version 3, before the change feed, opens at
/// the current version: every identity is kept as it was, the feed starts
/// empty (writes made before it left no change) and numbers the first
/// write after the migration 1.
#[tokio::test]
async fn a_version_3_file_is_migrated_with_an_empty_feed() {
    let (store, _dir, path) = file_store();
    let mut written = Vec::new();
    for n in 0..6 {
        let identity = if n % 2 == 0 {
            rich(Uuid::new_v4(), &format!("v3r{n}"))
        } else {
            person(Uuid::new_v4(), &format!("v3p{n}@example.com"))
        };
        store.create(T, &valid(&identity)).await.expect("create");
        written.push(at(&identity, 1));
    }
    let changed = moved(&written[1], "v3-changed@example.com", T1);
    store
        .update(T, &valid(&changed), Some(1))
        .await
        .expect("update");
    written[1] = at(&changed, 2);
    let gone = written.pop().expect("six");
    store.delete(T, gone.id, None).await.expect("delete");
    drop(store);
    // Back to version 3 as it was: no feed tables, no search indexes.
    raw(&path)
        .execute_batch(
            "DROP INDEX identities_state_idx;
             DROP INDEX identities_schema_idx;
             DROP TABLE identity_change_consumers;
             DROP TABLE identity_changes;
             DROP TABLE identity_change_pruned;
             PRAGMA user_version = 3;",
        )
        .expect("rewind to version 3");

    let store = store_at(&path);
    let user_version: u32 = raw(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(user_version, SCHEMA_VERSION);
    let mut everything = all(&store).await;
    everything.sort_by_key(|i| i.id);
    written.sort_by_key(|i| i.id);
    assert_eq!(everything, written);
    let limit = PageSize::new(10).expect("page size");
    let empty = store.changes(T, None, limit).await.expect("changes");
    assert_eq!((empty.changes.len(), empty.next), (0, ChangeCursor::START));
    assert_eq!(store.consumer_cursor(T, "hooks").await.ok(), Some(None));

    let again = moved(&changed, "v3-again@example.com", T1);
    assert_eq!(store.update(T, &valid(&again), Some(2)).await.ok(), Some(3));
    let fresh = person(Uuid::new_v4(), "v3-fresh@example.com");
    assert_eq!(store.create(T, &valid(&fresh)).await.ok(), Some(1));
    let page = store.changes(T, None, limit).await.expect("changes");
    let seen: Vec<_> = page
        .changes
        .iter()
        .map(|c| (c.cursor.get(), c.identity_id, c.kind, c.version))
        .collect();
    assert_eq!(
        seen,
        [
            (1, changed.id, ChangeKind::Updated, 3),
            (2, fresh.id, ChangeKind::Created, 1)
        ]
    );
    assert_file_sound(&path);
}

#[tokio::test]
async fn a_foreign_database_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("other.db");
    raw(&path)
        .pragma_update(None, "application_id", 0x1234)
        .expect("foreign");
    let e = SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default())
        .expect_err("foreign file refused");
    assert!(e.to_string().contains("not an identity store"), "{e}");
}

/// Every child row's key, by table, in key order.
fn row_keys(path: &Path) -> Vec<(String, Vec<i64>)> {
    let conn = raw(path);
    [
        "credentials",
        "credential_identifiers",
        "verifiable_addresses",
        "recovery_addresses",
    ]
    .into_iter()
    .map(|table| {
        let mut stmt = conn
            .prepare(&format!("SELECT pk FROM {table} ORDER BY pk"))
            .expect("prepare");
        let keys = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<Vec<i64>, _>>()
            .expect("keys");
        (table.to_owned(), keys)
    })
    .collect()
}

#[tokio::test]
async fn updates_rewrite_only_the_rows_that_changed() {
    let (store, _dir, path) = file_store();
    let identity = rich(Uuid::new_v4(), "ada");
    store.create(T, &valid(&identity)).await.expect("create");
    let before = row_keys(&path);

    // A no-op update bumps the version and recreates nothing.
    assert_eq!(
        store.update(T, &valid(&identity), Some(1)).await.ok(),
        Some(2)
    );
    assert_eq!(row_keys(&path), before);
    assert_eq!(get(&store, identity.id).await, at(&identity, 2));

    // Details of kept rows change in place; keys stay.
    let mut tweaked = identity.clone();
    tweaked.verifiable_addresses[1].status = identity_core::VerificationStatus::Completed;
    tweaked.verifiable_addresses[1].verified = true;
    tweaked.recovery_addresses.swap(0, 1);
    if let Some(c) = tweaked
        .credentials
        .get_mut(&identity_core::CredentialType::Code)
    {
        c.identifiers.reverse();
    }
    if let Some(c) = tweaked
        .credentials
        .get_mut(&identity_core::CredentialType::Totp)
    {
        c.config =
            identity_core::CredentialConfig::new(serde_json::json!({"totp_url": "otpauth://new"}));
    }
    tweaked.metadata_admin = None;
    assert_eq!(
        store.update(T, &valid(&tweaked), Some(2)).await.ok(),
        Some(3)
    );
    assert_eq!(row_keys(&path), before);
    assert_eq!(get(&store, identity.id).await, at(&tweaked, 3));

    // Removing and adding rows leaves the others alone.
    let mut trimmed = tweaked.clone();
    trimmed
        .credentials
        .remove(&identity_core::CredentialType::Oidc);
    let dropped = trimmed.verifiable_addresses.remove(0);
    assert_eq!(
        store.update(T, &valid(&trimmed), Some(3)).await.ok(),
        Some(4)
    );
    let after = row_keys(&path);
    for ((table, old), (_, new)) in before.iter().zip(&after) {
        assert!(new.iter().all(|k| old.contains(k)), "{table}: no new rows");
    }
    assert_eq!(get(&store, identity.id).await, at(&trimmed, 4));
    // The dropped address is free for another identity.
    let mut other = person(Uuid::new_v4(), &dropped.value);
    other.credentials.clear();
    other.recovery_addresses.clear();
    assert_eq!(store.create(T, &valid(&other)).await.ok(), Some(1));
    assert_file_sound(&path);
}

#[tokio::test]
async fn a_lock_held_past_the_busy_timeout_is_unavailable() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("busy.db");
    let options = SqliteOptions::default().with_busy_timeout(Duration::from_millis(50));
    let store = SqliteStore::open(path.to_str().expect("utf-8"), options).expect("open");
    let p = person(Uuid::new_v4(), "a@example.com");
    store.create(T, &valid(&p)).await.expect("create");

    let holder = raw(&path);
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let q = person(Uuid::new_v4(), "b@example.com");
    let e = store.create(T, &valid(&q)).await.expect_err("busy");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
    assert!(std::error::Error::source(&e).is_some());
    // Readers are not blocked by a writer (WAL).
    assert_eq!(get(&store, p.id).await, at(&p, 1));
    holder.execute_batch("ROLLBACK").expect("release");
    assert_eq!(store.create(T, &valid(&q)).await.ok(), Some(1));
}

#[tokio::test]
async fn a_read_only_file_reads_but_refuses_writes_as_unavailable() {
    let (store, _dir, path) = file_store();
    let p = person(Uuid::new_v4(), "a@example.com");
    store.create(T, &valid(&p)).await.expect("create");
    drop(store);
    let url = format!("sqlite://{}?mode=ro", path.to_str().expect("utf-8"));
    let ro = SqliteStore::open(&url, SqliteOptions::default()).expect("open read-only");
    assert_eq!(get(&ro, p.id).await, at(&p, 1));
    let e = ro
        .create(T, &valid(&person(Uuid::new_v4(), "b@example.com")))
        .await
        .expect_err("read-only");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
}

#[tokio::test]
async fn readers_never_see_half_an_update() {
    let (store, _dir, _) = file_store();
    let mut current = person(Uuid::new_v4(), "v0@example.com");
    store.create(T, &valid(&current)).await.expect("create");
    let writer = {
        let store = store.clone();
        let first = current.clone();
        tokio::spawn(async move {
            let mut current = first;
            for n in 1..60 {
                current = moved(&current, &format!("v{n}@example.com"), T1);
                store
                    .update(T, &valid(&current), None)
                    .await
                    .expect("update");
            }
        })
    };
    let mut seen = 0;
    while !writer.is_finished() {
        let got = get(&store, current.id).await;
        assert_whole(&got);
        seen += 1;
        tokio::task::yield_now().await;
    }
    writer.await.expect("writer");
    current = get(&store, current.id).await;
    assert_whole(&current);
    assert_eq!(current.version, 60);
    assert!(seen > 0);
}
