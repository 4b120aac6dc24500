//! The change feed on SQLite: what each write appends, paging, expiry,
//! pruning, consumer cursors, tenants, reopening, concurrent writers.

use std::collections::HashMap;
use std::time::Duration;

use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangedFields, Clock as _, Error, ErrorKind, IdentityStore,
    PageSize, PruneChanges, SystemClock, TenantId, Timestamp,
};
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;

fn page_size(n: usize) -> PageSize {
    PageSize::new(n).expect("page size")
}

fn fields(list: &str) -> ChangedFields {
    ChangedFields::parse_list(list).expect("field list")
}

/// Every change of the tenant the store keeps, read page by page from the
/// start.
async fn feed(store: &SqliteStore, tenant: TenantId) -> Vec<Change> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .changes(tenant, after, page_size(100))
            .await
            .expect("changes");
        if page.changes.is_empty() {
            return all;
        }
        after = Some(page.next);
        all.extend(page.changes);
    }
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
async fn each_write_appends_one_change_with_its_kind_version_and_fields() {
    let (store, _dir, _) = file_store();
    let start = SystemClock.now();
    let ada = rich(Uuid::new_v4(), "ada");
    assert_eq!(store.create(T, &valid(&ada)).await.ok(), Some(1));
    let batch = [
        person(Uuid::new_v4(), "b0@example.com"),
        // Collides with Ada's email: this entry fails and appends nothing.
        person(Uuid::new_v4(), "ada@example.com"),
        person(Uuid::new_v4(), "b2@example.com"),
    ];
    let results = store
        .batch_create(T, &batch.iter().map(valid).collect::<Vec<_>>())
        .await
        .expect("batch");
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
    let next = moved(&batch[0], "b0-moved@example.com", T1);
    let changed = fields("traits,credentials,verifiable_addresses,recovery_addresses");
    let update = valid(&next).with_changed_fields_for_tests(changed);
    assert_eq!(store.update(T, &update, Some(1)).await.ok(), Some(2));
    let same = valid(&next).with_changed_fields_for_tests(ChangedFields::NONE);
    assert_eq!(store.update(T, &same, None).await.ok(), Some(3));
    store.delete(T, batch[0].id, Some(3)).await.expect("delete");
    let end = SystemClock.now();

    let changes = feed(&store, T).await;
    let everything = fields(
        "schema_id,state,traits,credentials,verifiable_addresses,recovery_addresses,\
         metadata_public,metadata_admin,organization_id,external_id",
    );
    let created = ChangedFields::of_created(&batch[0]);
    assert_eq!(
        summary(&changes),
        [
            (1, ada.id, ChangeKind::Created, 1, everything),
            (2, batch[0].id, ChangeKind::Created, 1, created),
            (3, batch[2].id, ChangeKind::Created, 1, created),
            (4, batch[0].id, ChangeKind::Updated, 2, changed),
            (5, batch[0].id, ChangeKind::Updated, 3, ChangedFields::NONE),
            (6, batch[0].id, ChangeKind::Deleted, 4, ChangedFields::NONE),
        ]
    );
    for pair in changes.windows(2) {
        assert!(pair[0].at <= pair[1].at, "at never goes backwards");
    }
    for change in &changes {
        assert_eq!(change.tenant, T);
        assert!(start <= change.at && change.at <= end, "{change:?}");
    }
}

#[tokio::test]
async fn failed_writes_append_nothing() {
    let (store, _dir, _) = file_store();
    let ada = person(Uuid::new_v4(), "ada@example.com");
    store.create(T, &valid(&ada)).await.expect("create");
    let bob = person(Uuid::new_v4(), "bob@example.com");
    store.create(T, &valid(&bob)).await.expect("create");
    let before = feed(&store, T).await;
    assert_eq!(before.len(), 2);

    let clash = person(Uuid::new_v4(), "ada@example.com");
    let e = store.create(T, &valid(&clash)).await.expect_err("conflict");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let e = store.create(T, &valid(&ada)).await.expect_err("same id");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let results = store
        .batch_create(T, &[valid(&clash), valid(&bob)])
        .await
        .expect("batch");
    assert!(results.iter().all(Result::is_err));
    let e = store
        .update(T, &valid(&ada), Some(7))
        .await
        .expect_err("stale");
    assert_eq!(e.kind(), ErrorKind::VersionMismatch);
    let stranger = person(Uuid::new_v4(), "nobody@example.com");
    let e = store
        .update(T, &valid(&stranger), None)
        .await
        .expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let onto_bob = moved(&ada, "bob@example.com", T1);
    let e = store
        .update(T, &valid(&onto_bob), None)
        .await
        .expect_err("taken");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let e = store.delete(T, ada.id, Some(9)).await.expect_err("stale");
    assert_eq!(e.kind(), ErrorKind::VersionMismatch);
    let e = store
        .delete(T, stranger.id, None)
        .await
        .expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NotFound);

    assert_eq!(feed(&store, T).await, before);
    // And the next write takes the next cursor: nothing was used up.
    create(&store, T, "carol@example.com").await;
    let after = feed(&store, T).await;
    assert_eq!(after.last().map(|c| c.cursor.get()), Some(3));
}

#[tokio::test]
async fn pages_follow_next_to_the_end_and_wait_there() {
    let (store, _dir, _) = file_store();
    let empty = store.changes(T, None, page_size(3)).await.expect("empty");
    assert_eq!((empty.changes.len(), empty.next), (0, ChangeCursor::START));
    for n in 0..7 {
        create(&store, T, &format!("p{n}@example.com")).await;
    }
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let page = store.changes(T, after, page_size(3)).await.expect("page");
        let cursors: Vec<u64> = page.changes.iter().map(|c| c.cursor.get()).collect();
        pages.push((cursors.clone(), page.next.get()));
        if cursors.is_empty() {
            break;
        }
        after = Some(page.next);
    }
    assert_eq!(
        pages,
        [
            (vec![1, 2, 3], 3),
            (vec![4, 5, 6], 6),
            (vec![7], 7),
            (vec![], 7)
        ]
    );
    // A cursor past the end waits there.
    let ahead = store
        .changes(T, Some(ChangeCursor::new(u64::MAX)), page_size(3))
        .await
        .expect("past the end");
    assert_eq!(
        (ahead.changes.len(), ahead.next),
        (0, ChangeCursor::new(u64::MAX))
    );
    // The next write shows up after the cursor that waited.
    create(&store, T, "p7@example.com").await;
    let page = store
        .changes(T, Some(ChangeCursor::new(7)), page_size(3))
        .await
        .expect("page");
    assert_eq!(summary(&page.changes)[0].0, 8);
}

#[tokio::test]
async fn pruning_by_count_expires_older_cursors_and_never_reuses_one() {
    let (store, _dir, _) = file_store();
    let nothing = store
        .prune_changes(T, &PruneChanges::new(None, Some(0)))
        .await;
    assert_eq!(nothing.ok(), Some(0), "a tenant without changes");
    for n in 0..10 {
        create(&store, T, &format!("p{n}@example.com")).await;
    }
    let removed = store
        .prune_changes(T, &PruneChanges::new(None, Some(4)))
        .await
        .expect("prune");
    assert_eq!(removed, 6);
    let kept: Vec<u64> = feed(&store, T)
        .await
        .iter()
        .map(|c| c.cursor.get())
        .collect();
    assert_eq!(kept, [7, 8, 9, 10]);
    for stale in [0, 3, 5] {
        match store
            .changes(T, Some(ChangeCursor::new(stale)), page_size(10))
            .await
        {
            Err(Error::CursorExpired {
                after,
                pruned_through,
            }) => assert_eq!((after.get(), pruned_through.get()), (stale, 6)),
            other => panic!("cursor {stale}: {other:?}"),
        }
    }
    // The pruning point itself and anything after it still read.
    let page = store
        .changes(T, Some(ChangeCursor::new(6)), page_size(10))
        .await
        .expect("from the pruning point");
    assert_eq!(page.changes.len(), 4);
    // Pruning what is already gone removes nothing and moves nothing.
    let again = store
        .prune_changes(T, &PruneChanges::new(None, Some(100)))
        .await;
    assert_eq!(again.ok(), Some(0));
    // Pruning everything leaves an empty feed that goes on from the last
    // cursor, not from 1.
    let all = store
        .prune_changes(T, &PruneChanges::new(None, Some(0)))
        .await;
    assert_eq!(all.ok(), Some(4));
    let empty = store.changes(T, None, page_size(10)).await.expect("empty");
    assert_eq!((empty.changes.len(), empty.next.get()), (0, 10));
    create(&store, T, "p10@example.com").await;
    let kept: Vec<u64> = feed(&store, T)
        .await
        .iter()
        .map(|c| c.cursor.get())
        .collect();
    assert_eq!(kept, [11]);
}

#[tokio::test]
async fn pruning_by_age_removes_the_changes_committed_before_the_instant() {
    let (store, _dir, _) = file_store();
    for n in 0..3 {
        create(&store, T, &format!("old{n}@example.com")).await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let cut = SystemClock.now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    for n in 0..2 {
        create(&store, T, &format!("new{n}@example.com")).await;
    }
    let long_ago = Timestamp::UNIX_EPOCH;
    assert_eq!(
        store
            .prune_changes(T, &PruneChanges::new(Some(long_ago), None))
            .await
            .ok(),
        Some(0)
    );
    assert_eq!(
        store
            .prune_changes(T, &PruneChanges::new(Some(cut), None))
            .await
            .ok(),
        Some(3)
    );
    let kept: Vec<u64> = feed(&store, T)
        .await
        .iter()
        .map(|c| c.cursor.get())
        .collect();
    assert_eq!(kept, [4, 5]);
    // Both bounds: the union of what each selects.
    create(&store, T, "newest@example.com").await;
    let removed = store
        .prune_changes(T, &PruneChanges::new(Some(cut), Some(1)))
        .await;
    assert_eq!(removed.ok(), Some(2));
    let kept: Vec<u64> = feed(&store, T)
        .await
        .iter()
        .map(|c| c.cursor.get())
        .collect();
    assert_eq!(kept, [6]);
    // An instant after every change removes all of them.
    let later = SystemClock.now();
    assert_eq!(
        store
            .prune_changes(T, &PruneChanges::new(Some(later), Some(10)))
            .await
            .ok(),
        Some(1)
    );
    assert!(feed(&store, T).await.is_empty());
}

#[tokio::test]
async fn consumer_cursors_only_move_forward() {
    let (store, _dir, _) = file_store();
    let other = TenantId(Uuid::new_v4());
    assert_eq!(store.consumer_cursor(T, "hooks").await.ok(), Some(None));
    let save = |tenant, name: &'static str, n| {
        let store = store.clone();
        async move {
            store
                .save_consumer_cursor(tenant, name, ChangeCursor::new(n))
                .await
                .expect("save")
        }
    };
    save(T, "hooks", 5).await;
    save(T, "hooks", 3).await;
    assert_eq!(
        store.consumer_cursor(T, "hooks").await.ok(),
        Some(Some(ChangeCursor::new(5)))
    );
    save(T, "hooks", 8).await;
    save(T, "search", 2).await;
    save(other, "hooks", 1).await;
    let cursor = |tenant, name: &'static str| {
        let store = store.clone();
        async move {
            store
                .consumer_cursor(tenant, name)
                .await
                .expect("cursor")
                .map(ChangeCursor::get)
        }
    };
    assert_eq!(cursor(T, "hooks").await, Some(8));
    assert_eq!(cursor(T, "search").await, Some(2));
    assert_eq!(cursor(other, "hooks").await, Some(1));
    assert_eq!(cursor(other, "search").await, None);
    let e = store
        .save_consumer_cursor(T, "hooks", ChangeCursor::new(u64::MAX))
        .await
        .expect_err("no such cursor can exist");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(cursor(T, "hooks").await, Some(8));
}

#[tokio::test]
async fn each_tenant_has_its_own_feed() {
    let (store, _dir, _) = file_store();
    let a = TenantId(Uuid::new_v4());
    let b = TenantId(Uuid::new_v4());
    let in_a = create(&store, a, "ada@example.com").await;
    // The same email in another tenant: no conflict, its own cursor 1.
    let in_b = create(&store, b, "ada@example.com").await;
    create(&store, a, "bob@example.com").await;
    let changes_a = feed(&store, a).await;
    let changes_b = feed(&store, b).await;
    assert_eq!(
        changes_a.iter().map(|c| c.cursor.get()).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(changes_a[0].identity_id, in_a);
    assert!(changes_a.iter().all(|c| c.tenant == a));
    assert_eq!(summary(&changes_b)[0].0, 1);
    assert_eq!((changes_b.len(), changes_b[0].identity_id), (1, in_b));
    assert!(feed(&store, T).await.is_empty());
    // Pruning one tenant leaves the other's feed and cursors alone.
    let pruned = store
        .prune_changes(a, &PruneChanges::new(None, Some(0)))
        .await;
    assert_eq!(pruned.ok(), Some(2));
    assert_eq!(feed(&store, b).await, changes_b);
    let from_start = store
        .changes(b, Some(ChangeCursor::START), page_size(10))
        .await
        .expect("b is not pruned");
    assert_eq!(from_start.changes, changes_b);
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
    let before = feed(&store, T).await;
    drop(store);

    let store = store_at(&path);
    assert_eq!(feed(&store, T).await, before);
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
    let last = feed(&store, T).await.last().map(|c| c.cursor.get());
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

/// Writers on several tasks while a reader follows `next`: the reader sees
/// every change exactly once, cursors 1..=n with no gap, and each
/// identity's versions in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_next_sees_every_concurrent_write_once_in_order() {
    const WRITERS: usize = 4;
    const ROUNDS: u64 = 15;
    let (store, _dir, _) = file_store();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let p = person(Uuid::new_v4(), &format!("w{w}@example.com"));
                store.create(T, &valid(&p)).await.expect("create");
                for round in 1..ROUNDS {
                    let next = moved(&p, &format!("w{w}-{round}@example.com"), T1);
                    store
                        .update(T, &valid(&next), Some(round))
                        .await
                        .expect("update");
                }
            })
        })
        .collect();
    let total = WRITERS as u64 * ROUNDS;
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = None;
            while (seen.len() as u64) < total {
                let page = store
                    .changes(T, after, page_size(7))
                    .await
                    .expect("changes");
                after = Some(page.next);
                seen.extend(page.changes);
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for writer in writers {
        writer.await.expect("writer");
    }
    let seen = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the reader catches up")
        .expect("reader");
    let cursors: Vec<u64> = seen.iter().map(|c| c.cursor.get()).collect();
    assert_eq!(cursors, (1..=total).collect::<Vec<_>>());
    let mut last: HashMap<Uuid, u64> = HashMap::new();
    for change in &seen {
        let previous = last.insert(change.identity_id, change.version);
        assert_eq!(previous.unwrap_or(0) + 1, change.version, "{change:?}");
    }
    assert_eq!(seen, feed(&store, T).await);
}
