//! identity-store-memory integration tests (one binary): the whole
//! conformance suite, plus what is specific to this store.

use std::any::Any;
use std::sync::Arc;

use identity_core::{DynIdentityStore, Identity, IdentityStore, ListFilter, ListQuery};
use identity_store_memory::MemoryStore;
use identity_store_tests::fixtures::{TENANT, email, identity, valid};

async fn make_store() -> (DynIdentityStore, Box<dyn Any + Send>) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

identity_store_tests::store_suite!(make_store);

/// The same suite over the compact row form.
mod compact {
    use super::*;

    async fn make_store() -> (DynIdentityStore, Box<dyn Any + Send>) {
        (Arc::new(MemoryStore::compact()), Box::new(()))
    }

    identity_store_tests::store_suite!(make_store);
}

/// The shared form keeps the written allocation and hands it out: two
/// reads return the same `Arc`, the one that was written.
#[tokio::test]
async fn shared_rows_hand_out_the_written_allocation() {
    let store = MemoryStore::new();
    let mut first = identity(1, &email(1));
    first.version = 1;
    let written = valid(first);
    assert_eq!(store.create(TENANT, &written).await.ok(), Some(1));
    let a = store.get(TENANT, written.identity().id).await.expect("get");
    let b = store.get(TENANT, written.identity().id).await.expect("get");
    assert!(Arc::ptr_eq(&a, &b));
    assert!(Arc::ptr_eq(&a, written.shared()));
    // Written at another version than the store gives it: the row keeps
    // its own copy, at the store's version.
    let mut next = (*a).clone();
    next.version = 7;
    let next = valid(next);
    assert_eq!(store.update(TENANT, &next, Some(1)).await.ok(), Some(2));
    let c = store.get(TENANT, next.identity().id).await.expect("get");
    assert_eq!(c.version, 2);
    assert!(!Arc::ptr_eq(&c, next.shared()));
    assert_eq!(
        Identity {
            version: 7,
            ..(*c).clone()
        },
        *next.identity()
    );
}

/// The compact form decodes a fresh identity per read, equal to what was
/// written, at the store's version.
#[tokio::test]
async fn compact_rows_decode_what_was_written() {
    let store = MemoryStore::compact();
    let written = valid(identity(2, &email(2)));
    assert_eq!(store.create(TENANT, &written).await.ok(), Some(1));
    let a = store.get(TENANT, written.identity().id).await.expect("get");
    let b = store.get(TENANT, written.identity().id).await.expect("get");
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(a.version, 1);
    assert_eq!(
        Identity {
            version: written.identity().version,
            ..(*a).clone()
        },
        *written.identity()
    );
}

/// Clones share one state: a write through one is seen through the other.
#[tokio::test]
async fn clones_share_state() {
    let store = MemoryStore::default();
    let clone = store.clone();
    let version = store
        .create(TENANT, &valid(identity(1, &email(1))))
        .await
        .expect("create");
    assert_eq!(version, 1);
    assert_eq!(
        clone
            .get(TENANT, identity(1, &email(1)).id)
            .await
            .expect("get")
            .version,
        1
    );
}

/// A limit of 0 is read as 1 rather than returning an empty page that
/// claims more follow.
#[tokio::test]
async fn zero_limit_reads_as_one() {
    let store = MemoryStore::new();
    for seed in 1..=2 {
        store
            .create(TENANT, &valid(identity(seed, &email(seed))))
            .await
            .expect("create");
    }
    let query = ListQuery::new(
        ListFilter::All,
        None,
        identity_core::PageSize::saturating(0),
    );
    let page = store.list(TENANT, &query).await.expect("list");
    assert_eq!(page.identities.len(), 1);
    assert!(page.has_more);
}
