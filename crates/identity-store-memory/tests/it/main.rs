//! identity-store-memory integration tests (one binary): the whole
//! conformance suite, plus what is specific to this store.

use std::any::Any;
use std::sync::Arc;

use identity_core::{DynIdentityStore, IdentityStore, ListFilter, ListQuery};
use identity_store_memory::MemoryStore;
use identity_store_tests::fixtures::{TENANT, email, identity, valid};

async fn make_store() -> (DynIdentityStore, Box<dyn Any + Send>) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

identity_store_tests::store_suite!(make_store);

/// Clones share one state: a write through one is seen through the other.
#[tokio::test]
async fn clones_share_state() {
    let store = MemoryStore::default();
    let clone = store.clone();
    let version = store
        .create(TENANT, valid(identity(1, &email(1))))
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
            .create(TENANT, valid(identity(seed, &email(seed))))
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
