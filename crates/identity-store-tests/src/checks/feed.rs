//! The change feed: one change per committed write, in the write's
//! transaction, read back by cursor.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangedFields, Clock as _, DynIdentityStore, Error,
    ErrorKind, PageSize, PruneChanges, SystemClock,
};
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{
    OTHER_TENANT, TENANT, all_changes, email, id, identity, valid, with_version,
};
use crate::support::{create_ok, expect_kind};

fn size(n: usize) -> PageSize {
    PageSize::new(n).expect("a page size")
}

/// (cursor, identity, kind, version, fields) of each change.
fn summary(changes: &[Change]) -> Vec<(u64, Uuid, ChangeKind, u64, ChangedFields)> {
    changes
        .iter()
        .map(|c| (c.cursor.get(), c.identity_id, c.kind, c.version, c.fields))
        .collect()
}

fn fields(list: &str) -> ChangedFields {
    ChangedFields::parse_list(list).expect("field names")
}

/// Create, update, delete and a batch (with a failing entry) each append
/// exactly one change per identity written, with its kind, the version it
/// gave (a delete: the deleted version plus 1) and the fields the write
/// recorded; cursors count from 1; `at` is the store's clock at the write,
/// non-decreasing; the tenant is the write's.
pub async fn check_feed_records_every_write(store: DynIdentityStore) {
    let before = SystemClock.now();
    let a = create_ok(&store, TENANT, &identity(1, &email(1))).await;
    let mut next = with_version(&a, 2);
    next.traits = json!({ "email": email(1), "name": "changed" });
    let traits = fields("traits");
    let version = store
        .update(
            TENANT,
            &valid(next).with_changed_fields_for_tests(traits),
            Some(1),
        )
        .await
        .expect("update");
    assert_eq!(version, 2);
    store.delete(TENANT, id(1), Some(2)).await.expect("delete");
    let b = identity(2, &email(2));
    let clash = identity(3, &email(2));
    let c = identity(4, &email(4));
    let results = store
        .batch_create(TENANT, &[valid(b.clone()), valid(clash), valid(c.clone())])
        .await
        .expect("batch");
    assert!(results[1].is_err(), "the second entry collides");
    let after = SystemClock.now();

    let changes = all_changes(&store, TENANT).await;
    let created = ChangedFields::of_created(&a);
    assert_eq!(
        summary(&changes),
        [
            (1, id(1), ChangeKind::Created, 1, created),
            (2, id(1), ChangeKind::Updated, 2, traits),
            (3, id(1), ChangeKind::Deleted, 3, ChangedFields::NONE),
            (
                4,
                id(2),
                ChangeKind::Created,
                1,
                ChangedFields::of_created(&b)
            ),
            (
                5,
                id(4),
                ChangeKind::Created,
                1,
                ChangedFields::of_created(&c)
            ),
        ],
        "one change per identity written, none for the failed batch entry"
    );
    assert_eq!(
        created,
        fields(
            "schema_id,state,traits,credentials,verifiable_addresses,recovery_addresses,metadata_admin"
        )
    );
    for change in &changes {
        assert_eq!(change.tenant, TENANT);
        assert!(
            change.at >= before && change.at <= after,
            "change {} committed at {}, outside the calls ({before} to {after})",
            change.cursor,
            change.at
        );
    }
    assert!(
        changes.windows(2).all(|w| w[0].at <= w[1].at),
        "commit times do not go back"
    );
}

/// Writes that fail append nothing: a create that collides (id, unique
/// value), an update or delete of a missing identity or at a stale
/// version, an update that collides, a batch whose every entry fails.
pub async fn check_feed_failed_writes_append_nothing(store: DynIdentityStore) {
    create_ok(&store, TENANT, &identity(1, &email(1))).await;
    create_ok(&store, TENANT, &identity(2, &email(2))).await;
    let again = store.create(TENANT, &valid(identity(1, &email(9)))).await;
    expect_kind(again, ErrorKind::Conflict, "create of a taken id");
    let clash = store.create(TENANT, &valid(identity(3, &email(1)))).await;
    expect_kind(clash, ErrorKind::Conflict, "create of a taken email");
    let stale = store
        .update(
            TENANT,
            &valid(with_version(&identity(1, &email(1)), 2)),
            Some(7),
        )
        .await;
    expect_kind(stale, ErrorKind::VersionMismatch, "stale update");
    let missing = store
        .update(TENANT, &valid(identity(5, &email(5))), None)
        .await;
    expect_kind(missing, ErrorKind::NotFound, "update of a missing identity");
    let taken = store
        .update(
            TENANT,
            &valid(with_version(&identity(1, &email(2)), 2)),
            Some(1),
        )
        .await;
    expect_kind(taken, ErrorKind::Conflict, "update onto a taken email");
    expect_kind(
        store.delete(TENANT, id(1), Some(9)).await,
        ErrorKind::VersionMismatch,
        "stale delete",
    );
    expect_kind(
        store.delete(TENANT, id(5), None).await,
        ErrorKind::NotFound,
        "delete of a missing identity",
    );
    let batch = store
        .batch_create(
            TENANT,
            &[valid(identity(6, &email(1))), valid(identity(7, &email(2)))],
        )
        .await
        .expect("batch");
    assert!(batch.iter().all(Result::is_err), "both entries collide");
    let changes = all_changes(&store, TENANT).await;
    assert_eq!(
        summary(&changes)
            .iter()
            .map(|c| (c.0, c.1))
            .collect::<Vec<_>>(),
        [(1, id(1)), (2, id(2))],
        "only the two creates that succeeded"
    );
}

/// Pages: `limit` bounds a page, `next` is the last cursor of a page, an
/// empty page answers the cursor asked for (from the start: 0), a cursor
/// past the end answers an empty page, and each tenant has its own feed
/// numbered from 1.
pub async fn check_feed_pages_and_tenants(store: DynIdentityStore) {
    let empty = store.changes(TENANT, None, size(3)).await.expect("empty");
    assert_eq!((empty.changes.len(), empty.next), (0, ChangeCursor::START));
    for seed in 1..=7 {
        create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
    }
    create_ok(&store, OTHER_TENANT, &identity(8, &email(8))).await;
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let page = store.changes(TENANT, after, size(3)).await.expect("page");
        let cursors: Vec<u64> = page.changes.iter().map(|c| c.cursor.get()).collect();
        pages.push((cursors, page.next.get()));
        if page.changes.is_empty() {
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
    let past = store
        .changes(TENANT, Some(ChangeCursor::new(100)), size(3))
        .await
        .expect("past the end");
    assert_eq!((past.changes.len(), past.next.get()), (0, 100));
    let other = all_changes(&store, OTHER_TENANT).await;
    assert_eq!(
        summary(&other)
            .iter()
            .map(|c| (c.0, c.1))
            .collect::<Vec<_>>(),
        [(1, id(8))],
        "the other tenant's feed holds its one change, numbered from 1"
    );
    let ids: Vec<Uuid> = all_changes(&store, TENANT)
        .await
        .iter()
        .map(|c| c.identity_id)
        .collect();
    assert_eq!(ids, (1..=7).map(id).collect::<Vec<_>>());
}

/// Pruning by count and by age removes the oldest changes and says how
/// many; a cursor before the last pruned one is refused with
/// `CursorExpired` (never a page with a gap), the last pruned one itself
/// reads on, no cursor reads from the oldest kept, and cursors are not
/// reused after a prune, even of everything.
pub async fn check_feed_prune_and_expired_cursors(store: DynIdentityStore) {
    for seed in 1..=8 {
        create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
    }
    // Commit times of 9 and 10 are strictly after those of 1 to 8.
    std::thread::sleep(Duration::from_millis(5));
    for seed in 9..=10 {
        create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
    }
    create_ok(&store, OTHER_TENANT, &identity(20, &email(20))).await;
    let keep = store
        .prune_changes(TENANT, &PruneChanges::new(None, Some(4)))
        .await
        .expect("prune by count");
    assert_eq!(keep, 6, "10 changes, the newest 4 kept");
    let kept: Vec<u64> = all_changes(&store, TENANT)
        .await
        .iter()
        .map(|c| c.cursor.get())
        .collect();
    assert_eq!(kept, [7, 8, 9, 10]);
    for stale in [0, 1, 5] {
        match store
            .changes(TENANT, Some(ChangeCursor::new(stale)), size(10))
            .await
        {
            Err(Error::CursorExpired {
                after,
                pruned_through,
            }) => assert_eq!((after.get(), pruned_through.get()), (stale, 6)),
            other => panic!("cursor {stale} after a prune through 6: {other:?}"),
        }
    }
    let from_six = store
        .changes(TENANT, Some(ChangeCursor::new(6)), size(10))
        .await
        .expect("the last pruned cursor reads on");
    assert_eq!(from_six.changes.len(), 4);

    let ninth = all_changes(&store, TENANT).await[2].clone();
    assert_eq!(ninth.cursor.get(), 9);
    let aged = store
        .prune_changes(TENANT, &PruneChanges::new(Some(ninth.at), None))
        .await
        .expect("prune by age");
    assert_eq!(aged, 2, "changes 7 and 8 committed before change 9");
    let start = store.changes(TENANT, None, size(10)).await.expect("read");
    assert_eq!(
        start
            .changes
            .iter()
            .map(|c| c.cursor.get())
            .collect::<Vec<_>>(),
        [9, 10]
    );
    expect_kind(
        store
            .changes(TENANT, Some(ChangeCursor::new(7)), size(10))
            .await,
        ErrorKind::Expired,
        "a cursor before the age prune",
    );

    let everything = store
        .prune_changes(TENANT, &PruneChanges::new(None, Some(0)))
        .await
        .expect("prune everything");
    assert_eq!(everything, 2);
    let empty = store.changes(TENANT, None, size(10)).await.expect("read");
    assert_eq!((empty.changes.len(), empty.next.get()), (0, 10));
    create_ok(&store, TENANT, &identity(11, &email(11))).await;
    let after = store.changes(TENANT, None, size(10)).await.expect("read");
    assert_eq!(
        summary(&after.changes)
            .iter()
            .map(|c| (c.0, c.1))
            .collect::<Vec<_>>(),
        [(11, id(11))],
        "numbering goes on after a prune of everything"
    );
    let nothing = store
        .prune_changes(TENANT, &PruneChanges::new(None, None))
        .await
        .expect("prune nothing");
    assert_eq!(nothing, 0);
    let other = all_changes(&store, OTHER_TENANT).await;
    assert_eq!(other.len(), 1, "pruning one tenant leaves the other's feed");
}

/// Consumer cursors: none before the first save, saved per (tenant,
/// consumer), and never moved back.
pub async fn check_feed_consumer_cursors(store: DynIdentityStore) {
    let read = |tenant, name: &'static str| {
        let store = store.clone();
        async move {
            store
                .consumer_cursor(tenant, name)
                .await
                .expect("read a consumer cursor")
                .map(ChangeCursor::get)
        }
    };
    assert_eq!(read(TENANT, "hooks").await, None);
    let save = |tenant, name: &'static str, n: u64| {
        let store = store.clone();
        async move {
            store
                .save_consumer_cursor(tenant, name, ChangeCursor::new(n))
                .await
                .expect("save a consumer cursor");
        }
    };
    save(TENANT, "hooks", 5).await;
    assert_eq!(read(TENANT, "hooks").await, Some(5));
    save(TENANT, "hooks", 3).await;
    assert_eq!(read(TENANT, "hooks").await, Some(5), "never moved back");
    save(TENANT, "hooks", 9).await;
    save(TENANT, "audit", 1).await;
    save(OTHER_TENANT, "hooks", 2).await;
    assert_eq!(read(TENANT, "hooks").await, Some(9));
    assert_eq!(read(TENANT, "audit").await, Some(1));
    assert_eq!(read(OTHER_TENANT, "hooks").await, Some(2));
    assert_eq!(read(OTHER_TENANT, "audit").await, None);
}

const WRITERS: u64 = 8;
const WRITES_PER_WRITER: u64 = 30;

/// Writers commit concurrently (creates, updates, deletes, each on its own
/// identities) while a reader follows `next` in small pages: after a last
/// catch-up the reader has seen every acknowledged write exactly once, the
/// cursors it saw are exactly 1, 2, 3, … (no gap, no repeat: it never
/// skipped a change that committed late), and each identity's versions
/// ascend in cursor order.
pub async fn check_feed_concurrent_writers_reader_sees_every_change_once(store: DynIdentityStore) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen: Vec<Change> = Vec::new();
            let mut after = None;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = store
                    .changes(TENANT, after, size(7))
                    .await
                    .expect("read the feed");
                let empty = page.changes.is_empty();
                seen.extend(page.changes);
                after = Some(page.next);
                // Stop only on an empty page read after every writer
                // finished.
                if empty && finished {
                    return seen;
                }
                if empty {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                // (identity, version) of each acknowledged write.
                let mut acked: Vec<(Uuid, u64)> = Vec::new();
                let mut n = 0;
                let mut seed = 1_000 * (w + 1);
                while n < WRITES_PER_WRITER {
                    seed += 1;
                    let created = create_ok(&store, TENANT, &identity(seed, &email(seed))).await;
                    acked.push((id(seed), 1));
                    n += 1;
                    let mut version = 1;
                    for _ in 0..3 {
                        let mut next = with_version(&created, version + 1);
                        next.metadata_admin = Some(json!({ "counter": version }));
                        version = store
                            .update(TENANT, &valid(next), Some(version))
                            .await
                            .expect("update");
                        acked.push((id(seed), version));
                        n += 1;
                    }
                    if seed % 2 == 0 {
                        store
                            .delete(TENANT, id(seed), Some(version))
                            .await
                            .expect("delete");
                        acked.push((id(seed), version + 1));
                        n += 1;
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked: Vec<(Uuid, u64)> = Vec::new();
    for writer in writers {
        acked.extend(writer.await.expect("a writer"));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.expect("the reader");

    let cursors: Vec<u64> = seen.iter().map(|c| c.cursor.get()).collect();
    let expected: Vec<u64> = (1..=acked.len() as u64).collect();
    assert_eq!(
        cursors,
        expected,
        "the reader saw cursors 1 to {} each once, in order",
        acked.len()
    );
    let mut seen_writes: Vec<(Uuid, u64)> =
        seen.iter().map(|c| (c.identity_id, c.version)).collect();
    seen_writes.sort();
    acked.sort();
    assert_eq!(seen_writes, acked, "every acknowledged write once");
    let mut last: HashMap<Uuid, u64> = HashMap::new();
    for change in &seen {
        let before = last.insert(change.identity_id, change.version).unwrap_or(0);
        assert_eq!(
            change.version,
            before + 1,
            "identity {} went from version {before} to {} at cursor {}",
            change.identity_id,
            change.version,
            change.cursor
        );
    }
    let kinds: BTreeMap<&str, usize> = seen.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.kind.as_str()).or_default() += 1;
        m
    });
    // Creates give version 1, three updates 2 to 4, a delete 5.
    let count = |versions: std::ops::RangeInclusive<u64>| {
        acked.iter().filter(|(_, v)| versions.contains(v)).count()
    };
    let expected: BTreeMap<&str, usize> = [
        ("created", count(1..=1)),
        ("updated", count(2..=4)),
        ("deleted", count(5..=5)),
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds, expected);
}
