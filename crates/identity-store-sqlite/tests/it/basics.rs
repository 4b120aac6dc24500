//! The store contract on SQLite: round trips, uniqueness, versions,
//! cascades, tenants, lists and batches, plus how the store is opened.

use identity_core::{
    AddressVia, ConflictField, CredentialType, Error, ErrorKind, IdentityStore, IdentityStoreExt,
    ListFilter, ListQuery, PageSize, TenantId, WriteOp,
};
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use identity_store_tests::fixtures::ext;
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;

#[tokio::test]
async fn rich_identity_round_trips_exactly() {
    let (store, _dir, _) = file_store();
    let identity = rich(Uuid::new_v4(), "ada");
    assert_eq!(store.create(T, &valid(&identity)).await.ok(), Some(1));
    assert_eq!(get(&store, identity.id).await, at(&identity, 1));
    let by_external = store
        .get_by_external_id(T, &ext("ext-ada"))
        .await
        .expect("by external id");
    assert_eq!(*by_external, at(&identity, 1));
    for (kind, identifier) in [
        (CredentialType::Password, "ada@example.com"),
        (CredentialType::Oidc, "github:ada"),
        (CredentialType::Code, "ada.work@example.org"),
    ] {
        let found = store.find_by_identifier(T, kind, identifier).await;
        assert_eq!(found.expect("found").id, identity.id, "{kind} {identifier}");
    }
}

#[tokio::test]
async fn missing_rows_are_not_found() {
    let store = SqliteStore::open("sqlite::memory:", SqliteOptions::default()).expect("open");
    let id = Uuid::new_v4();
    assert!(matches!(store.get(T, id).await, Err(Error::NotFound)));
    assert!(matches!(
        store.get_by_external_id(T, &ext("x")).await,
        Err(Error::NotFound)
    ));
    let find = store
        .find_by_identifier(T, CredentialType::Password, "x")
        .await;
    assert!(matches!(find, Err(Error::NotFound)));
    let update = store.update(T, &valid(&person(id, "a@x.io")), None).await;
    assert!(matches!(update, Err(Error::NotFound)));
    assert!(matches!(
        store.delete(T, id, None).await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn every_unique_value_conflicts_and_is_named() {
    let store = SqliteStore::open("sqlite::memory:", SqliteOptions::default()).expect("open");
    let first = rich(Uuid::new_v4(), "ada");
    store.create(T, &valid(&first)).await.expect("create");
    type Change = Box<dyn Fn(&mut identity_core::Identity)>;
    let cases: Vec<(Change, ConflictField)> = vec![
        (Box::new(|i| i.id = Uuid::nil()), ConflictField::Id),
        (
            Box::new(|_| {}),
            ConflictField::ExternalId("ext-ada".into()),
        ),
        (
            Box::new(|i| i.external_id = None),
            ConflictField::CredentialIdentifier(CredentialType::Password, "ada@example.com".into()),
        ),
        (
            Box::new(|i| {
                i.external_id = None;
                i.credentials.clear();
            }),
            ConflictField::VerifiableAddress(AddressVia::Email, "ada@example.com".into()),
        ),
        (
            Box::new(|i| {
                i.external_id = None;
                i.credentials.clear();
                i.verifiable_addresses.clear();
            }),
            ConflictField::RecoveryAddress(AddressVia::Email, "ada@example.com".into()),
        ),
    ];
    for (change, field) in cases {
        let mut second = rich(Uuid::new_v4(), "ada");
        change(&mut second);
        if field == ConflictField::Id {
            second.id = first.id;
        }
        match store.create(T, &valid(&second)).await {
            Err(Error::Conflict { field: got, op }) => {
                assert_eq!((got, op), (field, WriteOp::Create));
            }
            other => panic!("expected a conflict on {field}, got {other:?}"),
        }
        // Nothing of the failed write was stored.
        assert_eq!(all(&store).await.len(), 1);
    }
    // The same value in another tenant is free.
    let other = TenantId(Uuid::new_v4());
    assert_eq!(store.create(other, &valid(&first)).await.ok(), Some(1));
}

#[tokio::test]
async fn update_conflicts_name_the_value_and_write_nothing() {
    let (store, _dir, _) = file_store();
    let a = person(Uuid::new_v4(), "a@example.com");
    let b = person(Uuid::new_v4(), "b@example.com");
    store.create(T, &valid(&a)).await.expect("a");
    store.create(T, &valid(&b)).await.expect("b");
    let stolen = moved(&b, "a@example.com", T1);
    match store.update(T, &valid(&stolen), Some(1)).await {
        Err(Error::Conflict { field, op }) => {
            assert_eq!(op, WriteOp::Update);
            assert_eq!(
                field,
                ConflictField::CredentialIdentifier(
                    CredentialType::Password,
                    "a@example.com".into()
                )
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(get(&store, b.id).await, at(&b, 1));
    // Taking a value the identity already holds is no conflict.
    let same = moved(&a, "a@example.com", T1);
    assert_eq!(store.update(T, &valid(&same), Some(1)).await.ok(), Some(2));
}

#[tokio::test]
async fn versions_are_checked_and_bumped() {
    let (store, _dir, _) = file_store();
    let a = person(Uuid::new_v4(), "a@example.com");
    store.create(T, &valid(&a)).await.expect("create");
    let next = moved(&a, "a2@example.com", T1);
    let stale = store.update(T, &valid(&next), Some(7)).await;
    assert!(matches!(
        stale,
        Err(Error::VersionMismatch {
            expected: 7,
            actual: 1
        })
    ));
    assert_eq!(store.update(T, &valid(&next), Some(1)).await.ok(), Some(2));
    assert_eq!(store.update(T, &valid(&next), None).await.ok(), Some(3));
    assert_eq!(get(&store, a.id).await, at(&next, 3));
    let delete = store.delete(T, a.id, Some(2)).await;
    assert_eq!(
        delete.err().map(|e| e.kind()),
        Some(ErrorKind::VersionMismatch)
    );
    store.delete(T, a.id, Some(3)).await.expect("delete");
    assert!(matches!(store.get(T, a.id).await, Err(Error::NotFound)));
}

#[tokio::test]
async fn delete_cascades_and_frees_every_value() {
    let (store, _dir, path) = file_store();
    let a = rich(Uuid::new_v4(), "ada");
    store.create(T, &valid(&a)).await.expect("create");
    store.delete(T, a.id, None).await.expect("delete");
    let conn = rusqlite::Connection::open(&path).expect("raw");
    for table in [
        "identities",
        "credentials",
        "credential_identifiers",
        "verifiable_addresses",
        "recovery_addresses",
    ] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "{table}");
    }
    let again = rich(Uuid::new_v4(), "ada");
    assert_eq!(store.create(T, &valid(&again)).await.ok(), Some(1));
}

#[tokio::test]
async fn tenants_are_isolated() {
    let (store, _dir, _) = file_store();
    let (t1, t2) = (TenantId(Uuid::new_v4()), TenantId(Uuid::new_v4()));
    let a = rich(Uuid::new_v4(), "ada");
    store.create(t1, &valid(&a)).await.expect("t1");
    assert!(matches!(store.get(t2, a.id).await, Err(Error::NotFound)));
    assert!(matches!(
        store.get_by_external_id(t2, &ext("ext-ada")).await,
        Err(Error::NotFound)
    ));
    let find = store.find_by_identifier(t2, CredentialType::Password, "ada@example.com");
    assert!(matches!(find.await, Err(Error::NotFound)));
    assert!(matches!(
        store.update(t2, &valid(&a), None).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.delete(t2, a.id, None).await,
        Err(Error::NotFound)
    ));
    assert!(
        store
            .list_all(t2, ListFilter::All)
            .await
            .expect("list")
            .is_empty()
    );
    // The same identity, id included, lives in both tenants independently.
    store.create(t2, &valid(&a)).await.expect("t2");
    store.delete(t1, a.id, None).await.expect("delete t1");
    assert_eq!(store.get(t2, a.id).await.ok().as_deref(), Some(&at(&a, 1)));
}

#[tokio::test]
async fn lists_page_in_id_order_with_every_filter() {
    let (store, _dir, _) = file_store();
    let org = Uuid::new_v4();
    let mut ids = Vec::new();
    for n in 0..7 {
        let mut p = person(Uuid::new_v4(), &format!("user{n}@example.com"));
        if n % 2 == 0 {
            p.organization_id = Some(org);
        }
        store.create(T, &valid(&p)).await.expect("create");
        ids.push(p.id);
    }
    ids.sort();
    let page = |filter: ListFilter, after: Option<Uuid>, limit: usize| {
        ListQuery::new(filter, after, PageSize::new(limit).expect("page size"))
    };
    let first = store
        .list(T, &page(ListFilter::All, None, 3))
        .await
        .expect("page 1");
    assert!(first.has_more);
    assert_eq!(
        first.identities.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[..3]
    );
    let rest = store
        .list(T, &page(ListFilter::All, Some(ids[2]), 10))
        .await
        .expect("page 2");
    assert!(!rest.has_more);
    assert_eq!(
        rest.identities.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[3..]
    );
    assert!(rest.identities.iter().all(|i| i.version == 1));

    let of_org = store
        .list_all(T, ListFilter::OrganizationId(org))
        .await
        .expect("org");
    assert_eq!(of_org.len(), 4);
    let chosen = vec![ids[5], ids[1], Uuid::new_v4()];
    let by_ids = store
        .list_all(T, ListFilter::Ids(chosen))
        .await
        .expect("ids");
    assert_eq!(
        by_ids.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[1], ids[5]]
    );
    let pairs = vec![
        (CredentialType::Password, "user3@example.com".to_owned()),
        (CredentialType::Code, "user4@example.com".to_owned()),
        (CredentialType::Oidc, "user5@example.com".to_owned()),
    ];
    let by_pairs = store
        .list_all(T, ListFilter::CredentialIdentifier(pairs))
        .await
        .expect("pairs");
    let mut emails: Vec<_> = by_pairs.iter().map(|i| i.traits["email"].clone()).collect();
    emails.sort_by_key(|e| e.to_string());
    assert_eq!(emails, vec!["user3@example.com", "user4@example.com"]);
    let prefixed = store
        .list_all(
            T,
            ListFilter::IdentifierPrefix(vec![
                (CredentialType::Password, "user1".into()),
                (CredentialType::Password, "user6@".into()),
            ]),
        )
        .await
        .expect("prefix");
    assert_eq!(prefixed.len(), 2);
    let everyone = store
        .list_all(
            T,
            ListFilter::IdentifierPrefix(vec![(CredentialType::Password, String::new())]),
        )
        .await
        .expect("empty prefix");
    assert_eq!(everyone.len(), 7);
}

#[tokio::test]
async fn batch_entries_fail_alone_and_the_first_claim_wins() {
    let (store, _dir, _) = file_store();
    let taken = person(Uuid::new_v4(), "taken@example.com");
    store.create(T, &valid(&taken)).await.expect("create");
    let ok1 = person(Uuid::new_v4(), "one@example.com");
    let clash = person(Uuid::new_v4(), "taken@example.com");
    let ok2 = person(Uuid::new_v4(), "two@example.com");
    let twin = person(Uuid::new_v4(), "two@example.com");
    let results = store
        .batch_create(T, &[valid(&ok1), valid(&clash), valid(&ok2), valid(&twin)])
        .await
        .expect("batch");
    let kinds: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map_err(Error::kind).copied())
        .collect();
    assert_eq!(
        kinds,
        vec![
            Ok(1),
            Err(ErrorKind::Conflict),
            Ok(1),
            Err(ErrorKind::Conflict)
        ]
    );
    assert_eq!(get(&store, ok2.id).await, at(&ok2, 1));
    assert!(matches!(store.get(T, twin.id).await, Err(Error::NotFound)));
    assert_eq!(all(&store).await.len(), 3);
}

#[tokio::test]
async fn opening_creates_the_file_in_every_spelling() {
    let dir = tempfile::tempdir().expect("dir");
    for (n, spell) in ["{}", "sqlite://{}", "sqlite:{}"].iter().enumerate() {
        let path = dir.path().join(format!("new{n}.db"));
        assert!(!path.exists());
        let url = spell.replace("{}", path.to_str().expect("utf-8"));
        let store = SqliteStore::open(&url, SqliteOptions::default()).expect("open");
        store
            .create(T, &valid(&person(Uuid::new_v4(), "a@b.io")))
            .await
            .expect("write");
        assert!(path.exists(), "{url}");
    }
    let missing_dir = dir.path().join("no/such/dir/x.db");
    let e = SqliteStore::open(
        missing_dir.to_str().expect("utf-8"),
        SqliteOptions::default(),
    );
    assert_eq!(e.err().map(|e| e.kind()), Some(ErrorKind::Unavailable));
    let e = SqliteStore::open("sqlite://", SqliteOptions::default());
    assert_eq!(e.err().map(|e| e.kind()), Some(ErrorKind::InvalidInput));
}

#[tokio::test]
async fn in_memory_databases_are_private() {
    let a = SqliteStore::open("sqlite::memory:", SqliteOptions::default()).expect("a");
    let b = SqliteStore::open(":memory:", SqliteOptions::default()).expect("b");
    let p = person(Uuid::new_v4(), "a@b.io");
    a.create(T, &valid(&p)).await.expect("create");
    assert_eq!(a.get(T, p.id).await.ok().as_deref(), Some(&at(&p, 1)));
    assert!(matches!(b.get(T, p.id).await, Err(Error::NotFound)));
    // Clones share the database.
    assert_eq!(
        a.clone().get_opt(T, p.id).await.ok().flatten().as_deref(),
        Some(&at(&p, 1))
    );
}
