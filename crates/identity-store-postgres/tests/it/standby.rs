//! Reads from a standby handle (`PostgresStore::with_standby`). The
//! "standby" is a second schema on the test server holding an older copy
//! of the data (a standby that lags), named by the standby URL's own
//! `search_path`; the primary is the store's schema.

use identity_core::{ErrorKind, IdentityStore, ListFilter, ListQuery, PageSize};

use identity_store_tests::fixtures::{TENANT, email, identity, valid, with_version};

use crate::support::{Schema, url};

/// Standby reads are checked against the versions this store wrote: a
/// lagging answer below one (or a miss) is asked of the primary; other
/// processes' writes show as the standby has them; lists read the standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored"]
async fn standby_reads_keep_read_your_writes() {
    let url = url();
    let primary_schema = Schema::new(&url);
    let standby_schema = Schema::new(&url);
    let store = primary_schema.store().await;
    // Another process writing to the same primary (no shared floors).
    let other = primary_schema.store().await;
    // The lagging standby's copy.
    let lagging = standby_schema.store().await;
    let standby_url = format!(
        "{url}{}options=-c%20search_path%3D{}",
        if url.contains('?') { "&" } else { "?" },
        standby_schema.name
    );
    let reader = store.with_standby(&standby_url).expect("a standby handle");

    let ada = identity(1, &email(1));
    let bob = identity(2, &email(2));
    for i in [&ada, &bob] {
        assert_eq!(store.create(TENANT, &valid(i.clone())).await.ok(), Some(1));
        assert_eq!(
            lagging.create(TENANT, &valid(i.clone())).await.ok(),
            Some(1)
        );
    }
    let carol = identity(3, &email(3));
    assert_eq!(
        store.create(TENANT, &valid(carol.clone())).await.ok(),
        Some(1)
    );

    // This store's update: the standby's v1 is below the floor.
    let mut ada2 = with_version(&ada, 2);
    ada2.metadata_admin = Some(serde_json::json!({"counter": 1}));
    assert_eq!(
        store
            .update(TENANT, &valid(ada2.clone()), Some(1))
            .await
            .ok(),
        Some(2)
    );
    assert_eq!(
        reader.get(TENANT, ada.id).await.expect("ada").as_ref(),
        &ada2
    );
    // Another process's update: the standby's answer stands (it lags).
    let mut bob2 = with_version(&bob, 2);
    bob2.metadata_admin = Some(serde_json::json!({"counter": 1}));
    assert_eq!(
        other.update(TENANT, &valid(bob2), Some(1)).await.ok(),
        Some(2)
    );
    assert_eq!(reader.get(TENANT, bob.id).await.expect("bob").version, 1);
    // Unknown to the standby: asked of the primary.
    assert_eq!(
        reader.get(TENANT, carol.id).await.expect("carol").as_ref(),
        &with_version(&carol, 1)
    );
    // Lists read the standby as it is.
    let page = reader
        .list(
            TENANT,
            &ListQuery::new(ListFilter::All, None, PageSize::new(10).expect("size")),
        )
        .await
        .expect("list");
    let listed: Vec<_> = page.identities.iter().map(|i| (i.id, i.version)).collect();
    assert_eq!(listed, [(ada.id, 1), (bob.id, 1)]);
    // A delete: the standby's copy is below the floor.
    store.delete(TENANT, ada.id, Some(2)).await.expect("delete");
    assert_eq!(
        reader
            .get(TENANT, ada.id)
            .await
            .map(|i| i.version)
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    // Through the primary handle, nothing goes to the standby.
    assert_eq!(store.get(TENANT, bob.id).await.expect("bob").version, 2);
    // A standby that cannot be reached: the primary answers.
    let down = store
        .with_standby("postgres://postgres@127.0.0.1:1/test?connect_timeout=1")
        .expect("a standby handle");
    assert_eq!(down.get(TENANT, bob.id).await.expect("bob").version, 2);
}
