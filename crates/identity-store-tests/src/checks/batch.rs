//! Batch create.

use identity_core::{ConflictField, CredentialType, DynIdentityStore, ErrorKind, WriteOp};

use crate::fixtures::{TENANT, email, ext, identity, valid, with_version};
use crate::support::{all, create_ok, expect_conflict, expect_kind, get};

/// Batch create inserts entries in order and answers one result per entry:
/// an entry conflicting with a stored identity or with an earlier entry of
/// the batch (the first wins) fails alone, naming the value, and writes
/// nothing of itself; the others are stored at version 1.
pub async fn check_batch_create(store: DynIdentityStore) {
    let stored = create_ok(&store, TENANT, &identity(1, &email(1))).await;
    assert!(
        store
            .batch_create(TENANT, &[])
            .await
            .expect("empty batch")
            .is_empty(),
        "an empty batch answers no results"
    );

    let x2 = identity(2, &email(2));
    let mut x3 = identity(3, &email(1)); // the stored identity's email
    x3.credentials.clear();
    x3.verifiable_addresses.clear();
    x3.recovery_addresses[0].value = email(1);
    let mut x4 = identity(4, &email(4));
    x4.external_id = Some(ext("ext-4"));
    let mut x5 = identity(5, &email(5));
    x5.external_id = Some(ext("ext-4")); // x4's, an earlier entry
    let mut x6 = identity(6, &email(6));
    x6.id = x4.id; // an earlier entry's id
    let x7 = identity(7, &email(2)); // x2's email: the first wins
    let x8 = identity(8, &email(8));
    let batch = [&x2, &x3, &x4, &x5, &x6, &x7, &x8].map(|i| valid(i.clone()));
    let results = store
        .batch_create(TENANT, &batch)
        .await
        .expect("the batch as a whole");
    assert_eq!(results.len(), 7, "one result per entry");
    let mut results = results.into_iter();
    let mut next = || results.next().expect("a result");
    assert_eq!(next().expect("x2"), 1);
    expect_conflict(
        next(),
        ConflictField::RecoveryAddress(identity_core::AddressVia::Email, email(1)),
        WriteOp::Create,
        "x3 against the stored identity",
    );
    assert_eq!(next().expect("x4"), 1);
    expect_conflict(
        next(),
        ConflictField::ExternalId("ext-4".to_owned()),
        WriteOp::Create,
        "x5 against x4",
    );
    expect_conflict(next(), ConflictField::Id, WriteOp::Create, "x6 against x4");
    expect_conflict(
        next(),
        ConflictField::CredentialIdentifier(CredentialType::Password, email(2)),
        WriteOp::Create,
        "x7 against x2",
    );
    assert_eq!(next().expect("x8"), 1);

    assert_eq!(
        all(&store, TENANT).await,
        vec![
            stored,
            with_version(&x2, 1),
            with_version(&x4, 1),
            with_version(&x8, 1)
        ]
    );
    assert_eq!(
        get(&store, TENANT, x4.id).await,
        with_version(&x4, 1),
        "x4, not x6"
    );
    for rejected in [&x3, &x5, &x7] {
        expect_kind(
            store.get(TENANT, rejected.id).await,
            ErrorKind::NotFound,
            "rejected entry",
        );
    }
    // Rejected entries claimed nothing: their own values are free.
    expect_kind(
        store
            .find_by_identifier(TENANT, CredentialType::Password, &email(5))
            .await,
        ErrorKind::NotFound,
        "x5's identifier",
    );
    create_ok(&store, TENANT, &identity(5, &email(5))).await;
    create_ok(&store, TENANT, &identity(6, &email(6))).await;
}
