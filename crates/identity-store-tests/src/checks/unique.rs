//! Uniqueness within a tenant, on create and on update; lookups by unique
//! values.

use identity_core::{
    AddressVia, ConflictField, CredentialType, DynIdentityStore, ErrorKind, ExternalId, Identity,
    PageSize, TenantId, WriteOp,
};
use serde_json::json;

use crate::fixtures::{
    OTHER_TENANT, TENANT, address_id, credential, email, ext, full_identity, id, identity,
    recovery_address, valid, verifiable_address, with_version,
};
use crate::support::{all, create_ok, expect_conflict, expect_kind, get};

/// Makes a candidate (first argument) take one value of a stored identity
/// (second argument) and returns the conflict that must name it.
type Collide = fn(&mut Identity, &Identity) -> ConflictField;

/// An identity of `seed` that only has the values given: a password
/// credential with `identifier` (if any), a verifiable and a recovery
/// address (if any), an external id (if any).
fn bare(
    seed: u64,
    identifier: Option<&str>,
    verifiable: Option<(AddressVia, &str)>,
    recovery: Option<(AddressVia, &str)>,
) -> Identity {
    let mut i = identity(seed, &email(seed));
    i.credentials.clear();
    if let Some(identifier) = identifier {
        let c = credential(CredentialType::Password, &[identifier], json!({}));
        i.credentials.insert(c.kind, c);
    }
    i.verifiable_addresses = verifiable
        .map(|(via, v)| verifiable_address(address_id(seed, 0), via, v))
        .into_iter()
        .collect();
    i.recovery_addresses = recovery
        .map(|(via, v)| recovery_address(address_id(seed, 1), via, v))
        .into_iter()
        .collect();
    i
}

/// Creating an identity whose id is taken fails with a conflict on the id
/// and writes nothing.
pub async fn check_create_conflict_on_id(store: DynIdentityStore) {
    let first = create_ok(&store, TENANT, &identity(1, &email(1))).await;
    let mut second = identity(2, &email(2));
    second.id = first.id;
    expect_conflict(
        store.create(TENANT, &valid(second)).await,
        ConflictField::Id,
        WriteOp::Create,
        "create with a taken id",
    );
    assert_eq!(
        get(&store, TENANT, first.id).await,
        first,
        "the first is untouched"
    );
    expect_kind(
        store
            .find_by_identifier(TENANT, CredentialType::Password, &email(2))
            .await,
        ErrorKind::NotFound,
        "the rejected identity's identifier",
    );
    create_ok(&store, TENANT, &identity(2, &email(2))).await;
}

/// Creating an identity whose external id is taken fails with a conflict
/// naming it; identities without an external id never conflict on it.
pub async fn check_create_conflict_on_external_id(store: DynIdentityStore) {
    let mut first = identity(1, &email(1));
    first.external_id = Some(ext("ext-a"));
    create_ok(&store, TENANT, &first).await;
    let mut second = identity(2, &email(2));
    second.external_id = Some(ext("ext-a"));
    expect_conflict(
        store.create(TENANT, &valid(second.clone())).await,
        ConflictField::ExternalId("ext-a".to_owned()),
        WriteOp::Create,
        "create with a taken external id",
    );
    expect_kind(
        store.get(TENANT, second.id).await,
        ErrorKind::NotFound,
        "rejected identity",
    );
    second.external_id = Some(ext("EXT-A"));
    create_ok(&store, TENANT, &second).await;
    create_ok(&store, TENANT, &identity(3, &email(3))).await;
    create_ok(&store, TENANT, &identity(4, &email(4))).await;
    assert_eq!(all(&store, TENANT).await.len(), 4);
}

/// A (credential type, identifier) pair is unique: a second identity with
/// the same identifier of the same type conflicts, naming type and
/// identifier; the same identifier under another type is allowed.
pub async fn check_create_conflict_on_credential_identifier(store: DynIdentityStore) {
    let first = full_identity(1, &email(1));
    create_ok(&store, TENANT, &first).await;

    let second = bare(2, Some(&email(1)), None, None);
    expect_conflict(
        store.create(TENANT, &valid(second)).await,
        ConflictField::CredentialIdentifier(CredentialType::Password, email(1)),
        WriteOp::Create,
        "create with a taken password identifier",
    );

    let mut third = bare(3, Some(&email(3)), None, None);
    let c = credential(CredentialType::Oidc, &["google:1-subject"], json!({}));
    third.credentials.insert(c.kind, c);
    expect_conflict(
        store.create(TENANT, &valid(third)).await,
        ConflictField::CredentialIdentifier(CredentialType::Oidc, "google:1-subject".to_owned()),
        WriteOp::Create,
        "create with a taken oidc identifier",
    );

    // The same identifier under types the first identity does not use it for.
    let mut fourth = bare(4, None, None, None);
    for kind in [CredentialType::Webauthn, CredentialType::Passkey] {
        let c = credential(kind, &[&email(1)], json!({}));
        fourth.credentials.insert(kind, c);
    }
    let c = credential(CredentialType::Saml, &["google:1-subject"], json!({}));
    fourth.credentials.insert(c.kind, c);
    let fourth_v1 = create_ok(&store, TENANT, &fourth).await;
    assert_eq!(
        store
            .find_by_identifier(TENANT, CredentialType::Passkey, &email(1))
            .await
            .expect("find the fourth"),
        std::sync::Arc::new(fourth_v1.clone())
    );
    assert_eq!(all(&store, TENANT).await.len(), 2);
}

/// A (via, value) verifiable address is unique: a second identity with it
/// conflicts, naming via and value; the same value under the other via, or
/// as a recovery address, is allowed.
pub async fn check_create_conflict_on_verifiable_address(store: DynIdentityStore) {
    let value = "shared@example.com";
    create_ok(
        &store,
        TENANT,
        &bare(1, Some(&email(1)), Some((AddressVia::Email, value)), None),
    )
    .await;
    expect_conflict(
        store
            .create(
                TENANT,
                &valid(bare(
                    2,
                    Some(&email(2)),
                    Some((AddressVia::Email, value)),
                    None,
                )),
            )
            .await,
        ConflictField::VerifiableAddress(AddressVia::Email, value.to_owned()),
        WriteOp::Create,
        "create with a taken verifiable address",
    );
    expect_kind(
        store.get(TENANT, id(2)).await,
        ErrorKind::NotFound,
        "rejected identity",
    );
    create_ok(
        &store,
        TENANT,
        &bare(3, Some(&email(3)), Some((AddressVia::Sms, value)), None),
    )
    .await;
    create_ok(
        &store,
        TENANT,
        &bare(4, Some(&email(4)), None, Some((AddressVia::Email, value))),
    )
    .await;
    assert_eq!(all(&store, TENANT).await.len(), 3);
}

/// A (via, value) recovery address is unique: a second identity with it
/// conflicts, naming via and value; the same value under the other via, or
/// as a verifiable address, is allowed.
pub async fn check_create_conflict_on_recovery_address(store: DynIdentityStore) {
    let value = "+4915100000042";
    create_ok(
        &store,
        TENANT,
        &bare(1, Some(&email(1)), None, Some((AddressVia::Sms, value))),
    )
    .await;
    expect_conflict(
        store
            .create(
                TENANT,
                &valid(bare(
                    2,
                    Some(&email(2)),
                    None,
                    Some((AddressVia::Sms, value)),
                )),
            )
            .await,
        ConflictField::RecoveryAddress(AddressVia::Sms, value.to_owned()),
        WriteOp::Create,
        "create with a taken recovery address",
    );
    expect_kind(
        store.get(TENANT, id(2)).await,
        ErrorKind::NotFound,
        "rejected identity",
    );
    create_ok(
        &store,
        TENANT,
        &bare(3, Some(&email(3)), None, Some((AddressVia::Email, value))),
    )
    .await;
    create_ok(
        &store,
        TENANT,
        &bare(4, Some(&email(4)), Some((AddressVia::Sms, value)), None),
    )
    .await;
    assert_eq!(all(&store, TENANT).await.len(), 3);
}

/// A create rejected for one value writes nothing: not the row, and none of
/// its other values (which a later identity may claim), whichever value
/// collided.
pub async fn check_failed_create_writes_nothing(store: DynIdentityStore) {
    let holder = create_ok(&store, TENANT, &full_identity(1, &email(1))).await;
    let rejected = |seed: u64| full_identity(seed, &email(seed));
    let collisions: [(&str, Collide); 4] = [
        ("external id", |i, h| {
            i.external_id = h.external_id.clone();
            ConflictField::ExternalId(
                h.external_id
                    .clone()
                    .map(ExternalId::into_string)
                    .unwrap_or_default(),
            )
        }),
        ("oidc identifier", |i, h| {
            i.credentials.insert(
                CredentialType::Oidc,
                h.credentials[&CredentialType::Oidc].clone(),
            );
            ConflictField::CredentialIdentifier(
                CredentialType::Oidc,
                h.identifiers(CredentialType::Oidc)[0].clone(),
            )
        }),
        ("sms verifiable address", |i, h| {
            i.verifiable_addresses[1].value = h.verifiable_addresses[1].value.clone();
            ConflictField::VerifiableAddress(
                AddressVia::Sms,
                h.verifiable_addresses[1].value.clone(),
            )
        }),
        ("recovery address", |i, h| {
            i.recovery_addresses[0].value = h.recovery_addresses[0].value.clone();
            ConflictField::RecoveryAddress(AddressVia::Email, h.recovery_addresses[0].value.clone())
        }),
    ];
    for (what, collide) in collisions {
        let mut candidate = rejected(2);
        let field = collide(&mut candidate, &holder);
        expect_conflict(
            store.create(TENANT, &valid(candidate)).await,
            field,
            WriteOp::Create,
            what,
        );
        assert_eq!(
            all(&store, TENANT).await,
            vec![holder.clone()],
            "{what}: nothing written"
        );
    }
    // Every value of the rejected candidates is still free.
    let free = rejected(2);
    create_ok(&store, TENANT, &free).await;
    assert_eq!(
        all(&store, TENANT).await,
        vec![holder, with_version(&free, 1)]
    );
}

/// An update that would take a value another identity holds fails with a
/// conflict (op Update) naming it, and writes nothing: both identities read
/// back as before, at their versions, and the right update then succeeds.
pub async fn check_update_conflicts_write_nothing(store: DynIdentityStore) {
    let a = create_ok(&store, TENANT, &full_identity(1, &email(1))).await;
    let b = create_ok(&store, TENANT, &full_identity(2, &email(2))).await;
    let cases: [(&str, Collide); 5] = [
        ("external id", |i, h| {
            i.external_id = h.external_id.clone();
            ConflictField::ExternalId(
                h.external_id
                    .clone()
                    .map(ExternalId::into_string)
                    .unwrap_or_default(),
            )
        }),
        ("password identifier", |i, h| {
            let c = i
                .credentials
                .get_mut(&CredentialType::Password)
                .expect("password");
            c.identifiers = vec![h.identifiers(CredentialType::Password)[0].clone()];
            ConflictField::CredentialIdentifier(
                CredentialType::Password,
                h.identifiers(CredentialType::Password)[0].clone(),
            )
        }),
        ("totp identifier", |i, h| {
            let c = i.credentials.get_mut(&CredentialType::Totp).expect("totp");
            c.identifiers = vec![h.id.to_string()];
            ConflictField::CredentialIdentifier(CredentialType::Totp, h.id.to_string())
        }),
        ("verifiable address", |i, h| {
            i.verifiable_addresses[0].value = h.verifiable_addresses[0].value.clone();
            ConflictField::VerifiableAddress(
                AddressVia::Email,
                h.verifiable_addresses[0].value.clone(),
            )
        }),
        ("recovery address", |i, h| {
            i.recovery_addresses.push(recovery_address(
                address_id(2, 7),
                AddressVia::Sms,
                &h.verifiable_addresses[1].value,
            ));
            i.recovery_addresses.push(recovery_address(
                address_id(2, 8),
                AddressVia::Email,
                &h.recovery_addresses[0].value,
            ));
            ConflictField::RecoveryAddress(AddressVia::Email, h.recovery_addresses[0].value.clone())
        }),
    ];
    for (what, collide) in cases {
        let mut candidate = with_version(&b, 0);
        let field = collide(&mut candidate, &a);
        for expected in [Some(1), None] {
            expect_conflict(
                store
                    .update(TENANT, &valid(candidate.clone()), expected)
                    .await,
                field.clone(),
                WriteOp::Update,
                what,
            );
            assert_eq!(
                get(&store, TENANT, b.id).await,
                b,
                "{what}: the updated one is unchanged"
            );
            assert_eq!(
                get(&store, TENANT, a.id).await,
                a,
                "{what}: the holder is unchanged"
            );
        }
    }
    let mut fine = with_version(&b, 0);
    fine.metadata_admin = Some(json!({ "counter": 5 }));
    let v = store
        .update(TENANT, &valid(fine.clone()), Some(1))
        .await
        .expect("update");
    assert_eq!(v, 2, "the failed updates did not bump the version");
    assert_eq!(get(&store, TENANT, b.id).await, with_version(&fine, 2));
}

/// `get_by_external_id` finds the identity by its exact external id, and
/// follows updates that change or remove it.
pub async fn check_get_by_external_id(store: DynIdentityStore) {
    let mut a = identity(1, &email(1));
    a.external_id = Some(ext("ext-a"));
    let a_v1 = create_ok(&store, TENANT, &a).await;
    create_ok(&store, TENANT, &identity(2, &email(2))).await;
    assert_eq!(
        store
            .get_by_external_id(TENANT, &ext("ext-a"))
            .await
            .expect("ext-a"),
        std::sync::Arc::new(a_v1.clone())
    );
    for wrong in ["EXT-A", "ext-", "ext-a "] {
        expect_kind(
            store.get_by_external_id(TENANT, &ext(wrong)).await,
            ErrorKind::NotFound,
            "external ids match exactly",
        );
    }
    a.external_id = Some(ext("ext-b"));
    store
        .update(TENANT, &valid(a.clone()), Some(1))
        .await
        .expect("change it");
    expect_kind(
        store.get_by_external_id(TENANT, &ext("ext-a")).await,
        ErrorKind::NotFound,
        "old",
    );
    assert_eq!(
        store
            .get_by_external_id(TENANT, &ext("ext-b"))
            .await
            .expect("ext-b"),
        std::sync::Arc::new(with_version(&a, 2).clone())
    );
    a.external_id = None;
    store
        .update(TENANT, &valid(a.clone()), Some(2))
        .await
        .expect("remove it");
    expect_kind(
        store.get_by_external_id(TENANT, &ext("ext-b")).await,
        ErrorKind::NotFound,
        "removed",
    );
    let mut c = identity(3, &email(3));
    c.external_id = Some(ext("ext-b"));
    let c_v1 = create_ok(&store, TENANT, &c).await;
    assert_eq!(
        store
            .get_by_external_id(TENANT, &ext("ext-b"))
            .await
            .expect("reused"),
        std::sync::Arc::new(c_v1.clone())
    );
}

/// `find_by_identifier` finds the identity by each exact (type, identifier)
/// it holds, and by nothing else: not another type, a prefix, another case.
pub async fn check_find_by_identifier(store: DynIdentityStore) {
    let full = create_ok(&store, TENANT, &full_identity(1, &email(1))).await;
    create_ok(&store, TENANT, &identity(2, &email(2))).await;
    for (kind, credential) in &full.credentials {
        for identifier in &credential.identifiers {
            assert_eq!(
                store
                    .find_by_identifier(TENANT, *kind, identifier)
                    .await
                    .expect("find by a held identifier"),
                std::sync::Arc::new(full.clone())
            );
        }
    }
    let misses = [
        (CredentialType::Webauthn, email(1)),
        (CredentialType::Password, "user1@example.co".to_owned()),
        (CredentialType::Password, "USER1@example.com".to_owned()),
        (CredentialType::Password, format!("{}%", "user1@")),
        (CredentialType::Oidc, "google:%".to_owned()),
        (CredentialType::Oidc, "google:1-subjec_".to_owned()),
    ];
    for (kind, identifier) in misses {
        expect_kind(
            store.find_by_identifier(TENANT, kind, &identifier).await,
            ErrorKind::NotFound,
            "only exact identifiers match",
        );
    }
}

/// Asserts that `find_create_conflict` answers `expected` for `candidate`
/// and, when that is a conflict, that `create` fails naming the same field.
async fn conflict_as_create(
    store: &DynIdentityStore,
    tenant: TenantId,
    candidate: Identity,
    expected: Option<ConflictField>,
    what: &str,
) {
    let found = store
        .find_create_conflict(tenant, &valid(candidate.clone()))
        .await
        .unwrap_or_else(|e| panic!("{what}: find_create_conflict failed: {e:?}"));
    assert_eq!(found, expected, "{what}: find_create_conflict");
    if let Some(field) = expected {
        expect_conflict(
            store.create(tenant, &valid(candidate)).await,
            field,
            WriteOp::Create,
            what,
        );
    }
}

/// `find_create_conflict` names the conflict `create` would fail with (the
/// id first, then the first held unique key in order), `None` when the
/// create would succeed or the value is held in another tenant only, and
/// writes nothing: no row, no change.
pub async fn check_find_create_conflict_names_what_create_would(store: DynIdentityStore) {
    conflict_as_create(
        &store,
        TENANT,
        identity(1, &email(1)),
        None,
        "an empty store",
    )
    .await;
    let stored = create_ok(&store, TENANT, &full_identity(1, &email(1))).await;
    let mut same_id = identity(2, &email(2));
    same_id.id = stored.id;
    same_id.external_id = stored.external_id.clone();
    conflict_as_create(
        &store,
        TENANT,
        same_id,
        Some(ConflictField::Id),
        "a taken id (and a taken external id)",
    )
    .await;
    let mut external = bare(2, Some(&email(2)), None, None);
    external.external_id = Some(ext("ext-1"));
    conflict_as_create(
        &store,
        TENANT,
        external.clone(),
        Some(ConflictField::ExternalId("ext-1".to_owned())),
        "a taken external id",
    )
    .await;
    conflict_as_create(
        &store,
        TENANT,
        bare(2, Some(&email(1)), None, None),
        Some(ConflictField::CredentialIdentifier(
            CredentialType::Password,
            email(1),
        )),
        "a taken identifier",
    )
    .await;
    conflict_as_create(
        &store,
        TENANT,
        bare(
            2,
            Some(&email(2)),
            Some((AddressVia::Email, &email(1))),
            None,
        ),
        Some(ConflictField::VerifiableAddress(
            AddressVia::Email,
            email(1),
        )),
        "a taken verifiable address",
    )
    .await;
    conflict_as_create(
        &store,
        TENANT,
        bare(
            2,
            Some(&email(2)),
            Some((AddressVia::Email, "free@example.com")),
            Some((AddressVia::Email, &email(1))),
        ),
        Some(ConflictField::RecoveryAddress(AddressVia::Email, email(1))),
        "a taken recovery address",
    )
    .await;
    // Several taken values: the first of the unique keys, in order.
    let mut several = bare(
        2,
        Some(&email(1)),
        Some((AddressVia::Email, &email(1))),
        Some((AddressVia::Email, &email(1))),
    );
    several.external_id = Some(ext("ext-1"));
    conflict_as_create(
        &store,
        TENANT,
        several.clone(),
        Some(ConflictField::ExternalId("ext-1".to_owned())),
        "several taken values",
    )
    .await;
    several.external_id = None;
    conflict_as_create(
        &store,
        TENANT,
        several.clone(),
        Some(ConflictField::CredentialIdentifier(
            CredentialType::Password,
            email(1),
        )),
        "several taken values, no external id",
    )
    .await;
    conflict_as_create(
        &store,
        OTHER_TENANT,
        external,
        None,
        "values held in another tenant only",
    )
    .await;
    conflict_as_create(&store, TENANT, identity(2, &email(2)), None, "free values").await;
    assert_eq!(
        get(&store, TENANT, stored.id).await,
        stored,
        "the stored identity is untouched"
    );
    assert_eq!(store.count(TENANT).await.expect("count"), 1, "rows");
    let changes = store
        .changes(TENANT, None, PageSize::MAX)
        .await
        .expect("changes");
    assert_eq!(
        changes.changes.len(),
        1,
        "only the create appended a change"
    );
    let other = store
        .changes(OTHER_TENANT, None, PageSize::MAX)
        .await
        .expect("changes");
    assert!(other.changes.is_empty(), "no change in the other tenant");
}
