//! The change feed on SQLite beyond the shared conformance checks (which
//! `main.rs` runs on this store too): what survives reopening the
//! file, and the feed of an in-memory database. The migration from v3 is in
//! `durability.rs`, a SIGKILL between commit and delivery in `feed_crash.rs`.

use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangedFields, Error, IdentityStore, PageSize, PruneChanges,
    TenantId,
};
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use identity_store_tests::fixtures::all_changes;
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;

fn page_size(n: usize) -> PageSize {
    PageSize::new(n).expect("page size")
}

/// (cursor, id, kind, version, fields) of each change.
fn summary(changes: &[Change]) -> Vec<(u64, Uuid, ChangeKind, u64, ChangedFields)> {
    changes
        .iter()
        .map(|c| (c.cursor.get(), c.identity_id, c.kind, c.version, c.fields))
        .collect()
}

async fn create(store: &SqliteStore, tenant: TenantId, email: &str) -> Uuid {
    let p = person(Uuid::new_v4(), email);
    store.create(tenant, &valid(&p)).await.expect("create");
    p.id
}

#[tokio::test]
async fn the_feed_survives_reopening_the_file() {
    let (store, _dir, path) = file_store();
    let ids: Vec<Uuid> = create_several(&store, 5).await;
    store.delete(T, ids[0], None).await.expect("delete");
    store
        .prune_changes(T, &PruneChanges::new(None, Some(4)))
        .await
        .expect("prune");
    store
        .save_consumer_cursor(T, "hooks", ChangeCursor::new(4))
        .await
        .expect("save");
    let before = all_changes(&store, T).await;
    drop(store);

    let store = store_at(&path);
    assert_eq!(all_changes(&store, T).await, before);
    assert_eq!(
        store.consumer_cursor(T, "hooks").await.ok(),
        Some(Some(ChangeCursor::new(4)))
    );
    let expired = store
        .changes(T, Some(ChangeCursor::START), page_size(5))
        .await;
    assert!(
        matches!(expired, Err(Error::CursorExpired { .. })),
        "{expired:?}"
    );
    create(&store, T, "after@example.com").await;
    let last = all_changes(&store, T).await.last().map(|c| c.cursor.get());
    assert_eq!(last, Some(7));
    assert_file_sound(&path);
}

async fn create_several(store: &SqliteStore, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        ids.push(create(store, T, &format!("c{k}@example.com")).await);
    }
    ids
}

#[tokio::test]
async fn an_in_memory_store_keeps_a_feed_too() {
    let store = SqliteStore::open("sqlite::memory:", SqliteOptions::default()).expect("open");
    let id = create(&store, T, "ada@example.com").await;
    store.delete(T, id, Some(1)).await.expect("delete");
    let page = store
        .changes(T, None, page_size(10))
        .await
        .expect("changes");
    assert_eq!(
        summary(&page.changes),
        [
            (
                1,
                id,
                ChangeKind::Created,
                1,
                ChangedFields::of_created(&person(id, "ada@example.com"))
            ),
            (2, id, ChangeKind::Deleted, 2, ChangedFields::NONE),
        ]
    );
}
