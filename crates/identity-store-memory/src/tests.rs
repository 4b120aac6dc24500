//! Races of writes that swap unique values between identities, checked
//! against the store's insides: the indexes agree exactly with the rows,
//! and the feed holds exactly the writes that were acknowledged, in an
//! order consistent with each identity's versions.

use std::collections::BTreeMap;

use identity_core::{ChangeKind, ConflictField, ErrorKind, IdentityStore};
use identity_store_tests::fixtures::{TENANT, all_changes, email, ext, id, identity, valid};
use uuid::Uuid;

use crate::MemoryStore;

const TASKS: u64 = 4;
const OPS: u64 = 2_000;
/// Few identities and fewer values, so that most writes collide.
const IDS: u64 = 6;
const VALUES: u64 = 4;

/// What a task saw acknowledged: (id, kind, version), with `None` as the
/// version of a delete (the caller is not told it).
type Acked = Vec<(Uuid, ChangeKind, Option<u64>)>;

async fn race(store: MemoryStore, task: u64) -> Acked {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ (task + 1);
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut acked = Acked::new();
    for _ in 0..OPS {
        let seed = 1 + next(IDS);
        let mut written = identity(seed, &email(100 + next(VALUES)));
        written.external_id = Some(ext(&format!("ext-{}", next(VALUES))));
        let written = valid(written);
        match next(4) {
            0 => match store.create(TENANT, &written).await {
                Ok(v) => acked.push((id(seed), ChangeKind::Created, Some(v))),
                Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e}"),
            },
            1 => match store.delete(TENANT, id(seed), None).await {
                Ok(()) => acked.push((id(seed), ChangeKind::Deleted, None)),
                Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
            },
            n => {
                // Half of the updates keep the stored values (the fast
                // path), half take others.
                let written = if n == 2 {
                    match store.get(TENANT, id(seed)).await {
                        Ok(current) => valid((*current).clone()),
                        Err(_) => written,
                    }
                } else {
                    written
                };
                match store.update(TENANT, &written, None).await {
                    Ok(v) => acked.push((id(seed), ChangeKind::Updated, Some(v))),
                    Err(e) => assert!(
                        matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound),
                        "{e}"
                    ),
                }
            }
        }
        tokio::task::yield_now().await;
    }
    acked
}

async fn races_keep_indexes_rows_and_feed_in_step(store: MemoryStore) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(race(store.clone(), task)))
        .collect();
    let mut acked = Acked::new();
    for task in tasks {
        acked.extend(task.await.expect("task"));
    }

    let (rows, index) = store
        .in_tenant(TENANT, |t| Ok(t.snapshot()))
        .expect("tenants")
        .expect("tenant");
    // The indexes hold exactly the rows' values, each for its row.
    let held: std::collections::BTreeSet<(ConflictField, Uuid)> = rows
        .iter()
        .flat_map(|(id, (_, keys))| keys.iter().map(|k| (k.clone(), *id)))
        .collect();
    assert_eq!(index, held);
    let listed: usize = rows.values().map(|(_, keys)| keys.len()).sum();
    assert_eq!(listed, held.len(), "a value listed twice");

    // The feed: cursors 1, 2, ... with no gap, exactly the acknowledged
    // writes, and per identity created 1, updated 2, 3, ..., deleted n + 1.
    let feed = all_changes(&store, TENANT).await;
    for (n, change) in feed.iter().enumerate() {
        assert_eq!(change.cursor.get(), n as u64 + 1);
    }
    let mut seen: Acked = feed
        .iter()
        .map(|c| {
            let version = (c.kind != ChangeKind::Deleted).then_some(c.version);
            (c.identity_id, c.kind, version)
        })
        .collect();
    seen.sort_unstable_by_key(|(id, kind, v)| (*id, format!("{kind:?}"), *v));
    acked.sort_unstable_by_key(|(id, kind, v)| (*id, format!("{kind:?}"), *v));
    assert_eq!(seen, acked);
    let mut last: BTreeMap<Uuid, (ChangeKind, u64)> = BTreeMap::new();
    for c in &feed {
        let expected = match (last.get(&c.identity_id), c.kind) {
            (None | Some((ChangeKind::Deleted, _)), ChangeKind::Created) => 1,
            (Some((ChangeKind::Created | ChangeKind::Updated, v)), _)
                if c.kind != ChangeKind::Created =>
            {
                v + 1
            }
            (before, kind) => panic!("{kind:?} after {before:?} for {}", c.identity_id),
        };
        assert_eq!(c.version, expected, "{:?} of {}", c.kind, c.identity_id);
        last.insert(c.identity_id, (c.kind, c.version));
    }
    // The rows are what the feed ends with.
    let live: BTreeMap<Uuid, u64> = last
        .into_iter()
        .filter(|(_, (kind, _))| *kind != ChangeKind::Deleted)
        .map(|(id, (_, v))| (id, v))
        .collect();
    let stored: BTreeMap<Uuid, u64> = rows.iter().map(|(id, (v, _))| (*id, *v)).collect();
    assert_eq!(stored, live);
    assert_eq!(store.count(TENANT).await.expect("count"), live.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_keep_indexes_rows_and_feed_in_step_shared() {
    races_keep_indexes_rows_and_feed_in_step(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_keep_indexes_rows_and_feed_in_step_compact() {
    races_keep_indexes_rows_and_feed_in_step(MemoryStore::compact()).await;
}

/// The row of `seed`: its version, its values in the order the row lists
/// them, and the holder of each in the indexes.
fn row_and_index(store: &MemoryStore, seed: u64) -> (u64, Vec<ConflictField>, Vec<Uuid>) {
    let (rows, index) = store
        .in_tenant(TENANT, |t| Ok(t.snapshot()))
        .expect("tenants")
        .expect("tenant");
    let (version, keys) = rows.get(&id(seed)).cloned().expect("the row");
    let holders = keys
        .iter()
        .map(|k| {
            let held: Vec<_> = index.iter().filter(|(v, _)| v == k).collect();
            assert_eq!(held.len(), 1, "{k} held once");
            held[0].1
        })
        .collect();
    (version, keys, holders)
}

/// An update that keeps the row's values takes over the stored row's list
/// of them (same values, here in another order); the next update that
/// changes them frees exactly those it drops.
async fn updates_keep_then_change_the_rows_values(store: MemoryStore) {
    use identity_core::CredentialType::Password;
    let with_identifiers = |identifiers: &[&str]| {
        let mut i = identity(1, "a@example.com");
        i.credentials
            .get_mut(&Password)
            .expect("password")
            .identifiers = identifiers.iter().map(|s| (*s).to_owned()).collect();
        i.external_id = Some(ext("ext-1"));
        valid(i)
    };
    let sort = |mut keys: Vec<ConflictField>| {
        keys.sort_unstable();
        keys
    };
    let sorted = |written: &identity_core::ValidIdentity| sort(written.unique_keys().to_vec());

    let first = with_identifiers(&["a@example.com", "b"]);
    assert_eq!(store.create(TENANT, &first).await.expect("create"), 1);
    let (version, keys, holders) = row_and_index(&store, 1);
    assert_eq!((version, keys.as_slice()), (1, first.unique_keys()));
    assert_eq!(keys.len(), 5);
    assert_eq!(holders, vec![id(1); 5]);

    // The same values, the identifiers in the other order: the fast path.
    let reordered = with_identifiers(&["b", "a@example.com"]);
    assert_ne!(reordered.unique_keys(), first.unique_keys());
    assert_eq!(sorted(&reordered), sorted(&first));
    assert_eq!(
        store
            .update(TENANT, &reordered, Some(1))
            .await
            .expect("update"),
        2
    );
    let (version, keys, holders) = row_and_index(&store, 1);
    // Taken over from the stored row, in its order, not copied.
    assert_eq!((version, keys.as_slice()), (2, first.unique_keys()));
    assert_eq!(holders, vec![id(1); 5]);

    // Drop "b", add "c": the index frees "b" and "c" is the row's.
    let changed = with_identifiers(&["a@example.com", "c"]);
    assert_eq!(
        store
            .update(TENANT, &changed, Some(2))
            .await
            .expect("update"),
        3
    );
    let (version, keys, holders) = row_and_index(&store, 1);
    assert_eq!((version, keys.as_slice()), (3, changed.unique_keys()));
    assert_eq!(holders, vec![id(1); 5]);
    let holder = |identifier: &'static str| {
        let store = store.clone();
        async move {
            store
                .find_by_identifier(TENANT, Password, identifier)
                .await
                .map(|i| i.id)
                .map_err(|e| e.kind())
        }
    };
    assert_eq!(holder("b").await, Err(ErrorKind::NotFound));
    assert_eq!(holder("c").await, Ok(id(1)));
    assert_eq!(holder("a@example.com").await, Ok(id(1)));

    // And a fast-path update after the slow one keeps them all.
    assert_eq!(
        store
            .update(TENANT, &changed, Some(3))
            .await
            .expect("update"),
        4
    );
    let (version, keys, holders) = row_and_index(&store, 1);
    assert_eq!((version, sort(keys)), (4, sorted(&changed)));
    assert_eq!(holders, vec![id(1); 5]);
}

#[tokio::test]
async fn updates_keep_then_change_the_rows_values_shared() {
    updates_keep_then_change_the_rows_values(MemoryStore::new()).await;
}

#[tokio::test]
async fn updates_keep_then_change_the_rows_values_compact() {
    updates_keep_then_change_the_rows_values(MemoryStore::compact()).await;
}

/// The default tenant, kept apart from the map of the others, holds its
/// own identities, values and feed, and comes into being on its first
/// write, as any tenant does: the same identity (same id, same email)
/// lives in both without a conflict, and each sees only its own.
#[tokio::test]
async fn the_default_tenant_is_a_tenant_like_the_others() {
    use identity_core::TenantId;
    let store = MemoryStore::new();
    let default = TenantId::DEFAULT;
    assert_eq!(
        format!("{store:?}"),
        "MemoryStore { identities_per_tenant: {} }"
    );
    assert_eq!(store.count(default).await.expect("count"), 0);
    assert_eq!(
        store.get(default, id(1)).await.expect_err("none").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(all_changes(&store, default).await, []);

    let written = valid(identity(1, "a@example.com"));
    assert_eq!(store.create(default, &written).await.expect("create"), 1);
    assert_eq!(store.create(TENANT, &written).await.expect("create"), 1);
    let second = valid(identity(2, "b@example.com"));
    assert_eq!(store.create(default, &second).await.expect("create"), 1);
    assert_eq!(
        store
            .create(default, &written)
            .await
            .expect_err("again")
            .kind(),
        ErrorKind::Conflict
    );
    store.delete(TENANT, id(1), None).await.expect("delete");

    assert_eq!(store.count(default).await.expect("count"), 2);
    assert_eq!(store.count(TENANT).await.expect("count"), 0);
    assert_eq!(store.get(default, id(1)).await.expect("get").id, id(1));
    assert_eq!(
        store.get(TENANT, id(1)).await.expect_err("deleted").kind(),
        ErrorKind::NotFound
    );
    let kinds = |changes: Vec<identity_core::Change>| -> Vec<(ChangeKind, Uuid)> {
        changes.iter().map(|c| (c.kind, c.identity_id)).collect()
    };
    assert_eq!(
        kinds(all_changes(&store, default).await),
        [(ChangeKind::Created, id(1)), (ChangeKind::Created, id(2))]
    );
    assert_eq!(
        kinds(all_changes(&store, TENANT).await),
        [(ChangeKind::Created, id(1)), (ChangeKind::Deleted, id(1))]
    );
    assert_eq!(
        format!("{store:?}"),
        format!("MemoryStore {{ identities_per_tenant: {{{default:?}: 2, {TENANT:?}: 0}} }}")
    );
}

/// Writers bring the feed its next chunk before they take its lock; the
/// hint they read without the lock follows the feed after every write,
/// and the feed reads back every write in order across many chunks.
#[tokio::test]
async fn writers_bring_the_feed_its_next_chunk() {
    let store = MemoryStore::new();
    let hint = |store: &MemoryStore| {
        store
            .in_tenant(TENANT, |t| Ok(t.spare_hint()))
            .expect("tenant")
            .expect("exists")
    };
    let written = valid(identity(1, "a@example.com"));
    store.create(TENANT, &written).await.expect("create");
    // The first write's chunk became the tail; the feed wants the next.
    assert_eq!(hint(&store), (true, true));
    let mut versions = vec![1];
    for _ in 0..100 {
        let v = store.update(TENANT, &written, None).await.expect("update");
        versions.push(v);
        let (hinted, wants) = hint(&store);
        assert_eq!(hinted, wants, "after version {v}");
    }
    // Between two tails the feed holds the spare the next write brought.
    let v = store.update(TENANT, &written, None).await.expect("update");
    versions.push(v);
    assert_eq!(hint(&store), (false, false));
    let changes = all_changes(&store, TENANT).await;
    assert_eq!(
        changes.iter().map(|c| c.version).collect::<Vec<_>>(),
        versions
    );
    assert_eq!(changes.len(), 102);
}
