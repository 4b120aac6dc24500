//! Create, read, update and delete of single identities; versions; tenants.

use identity_core::{
    AddressVia, CredentialType, DynIdentityStore, ErrorKind, IdentityStoreExt, ListFilter,
    ListQuery, State, VerificationStatus,
};
use serde_json::json;

use crate::fixtures::{
    OTHER_TENANT, TENANT, address_id, at, email, ext, full_identity, id, identity, phone, valid,
    verifiable_address, with_version,
};
use crate::support::{all, create_ok, expect_kind, expect_mismatch, get, size, walk};

/// Create returns version 1, and every read gives back exactly what was
/// written: every field, credential configs, addresses, metadata, external
/// id, organization id, state and timestamps, with `version` 1.
pub async fn check_round_trip(store: DynIdentityStore) {
    let full = full_identity(1, &email(1));
    let plain = identity(2, &email(2));
    let full_v1 = create_ok(&store, TENANT, &full).await;
    let plain_v1 = create_ok(&store, TENANT, &plain).await;

    assert_eq!(
        get(&store, TENANT, full.id).await,
        full_v1,
        "get of the full identity"
    );
    assert_eq!(
        get(&store, TENANT, plain.id).await,
        plain_v1,
        "get of the plain identity"
    );
    let got = get(&store, TENANT, full.id).await;
    for (kind, credential) in &full.credentials {
        assert_eq!(
            got.credentials.get(kind).map(|c| c.config.expose()),
            Some(credential.config.expose()),
            "the {kind} config round-trips"
        );
    }
    assert_eq!(
        store
            .get_by_external_id(TENANT, &ext("ext-1"))
            .await
            .expect("by external id"),
        std::sync::Arc::new(full_v1.clone()),
        "get_by_external_id returns the whole identity"
    );
    assert_eq!(
        store
            .find_by_identifier(TENANT, CredentialType::Oidc, "google:1-subject")
            .await
            .expect("by identifier"),
        std::sync::Arc::new(full_v1.clone()),
        "find_by_identifier returns the whole identity"
    );
    assert_eq!(
        all(&store, TENANT).await,
        vec![full_v1, plain_v1],
        "list returns whole identities"
    );
}

/// Reads of what does not exist: `get`, `get_by_external_id` and
/// `find_by_identifier` give NotFound; `list` gives an empty last page.
pub async fn check_missing_reads_are_not_found(store: DynIdentityStore) {
    expect_kind(
        store.get(TENANT, id(1)).await,
        ErrorKind::NotFound,
        "get in an empty store",
    );
    create_ok(&store, TENANT, &full_identity(1, &email(1))).await;
    expect_kind(
        store.get(TENANT, id(2)).await,
        ErrorKind::NotFound,
        "get of another id",
    );
    expect_kind(
        store.get_by_external_id(TENANT, &ext("ext-2")).await,
        ErrorKind::NotFound,
        "unknown external id",
    );
    expect_kind(
        store
            .find_by_identifier(TENANT, CredentialType::Password, &email(2))
            .await,
        ErrorKind::NotFound,
        "unknown identifier",
    );
    assert_eq!(
        store.get_opt(TENANT, id(2)).await.expect("get_opt"),
        None,
        "get_opt of a missing id"
    );
    let page = store
        .list(
            OTHER_TENANT,
            &ListQuery::new(ListFilter::All, None, size(10)),
        )
        .await
        .expect("list of an empty tenant");
    assert!(page.identities.is_empty(), "an empty tenant lists nothing");
    assert!(!page.has_more, "an empty tenant has no more pages");
}

/// Update replaces every field, returns the stored version plus 1 (with or
/// without an expected version), ignores the `version` of its input, and
/// reads return the new version.
pub async fn check_update_replaces_and_bumps_version(store: DynIdentityStore) {
    let before = full_identity(1, &email(1));
    create_ok(&store, TENANT, &before).await;

    let mut changed = identity(1, &email(11));
    changed.schema_id = "employee".to_owned();
    changed.state = State::Inactive;
    changed.state_changed_at = Some(at(100));
    changed.traits = json!({ "email": email(11), "department": "R&D" });
    changed.metadata_public = Some(json!(["public"]));
    changed.metadata_admin = None;
    changed.organization_id = Some(id(77));
    changed.external_id = Some(ext("ext-changed"));
    changed.created_at = before.created_at;
    changed.updated_at = at(101);
    let v = store
        .update(TENANT, &valid(changed.clone()), Some(1))
        .await
        .expect("conditional update");
    assert_eq!(v, 2, "update returns the stored version plus 1");
    assert_eq!(
        get(&store, TENANT, before.id).await,
        with_version(&changed, 2)
    );

    changed.metadata_admin = Some(json!({ "counter": 1 }));
    changed.version = 77;
    let v = store
        .update(TENANT, &valid(changed.clone()), None)
        .await
        .expect("unconditional update");
    assert_eq!(v, 3, "an unconditional update bumps the version too");
    assert_eq!(
        get(&store, TENANT, before.id).await,
        with_version(&changed, 3),
        "the input's version field is ignored"
    );
    expect_kind(
        store.get_by_external_id(TENANT, &ext("ext-1")).await,
        ErrorKind::NotFound,
        "the replaced external id",
    );
    expect_kind(
        store
            .find_by_identifier(TENANT, CredentialType::Oidc, "google:1-subject")
            .await,
        ErrorKind::NotFound,
        "the dropped oidc identifier",
    );
    assert_eq!(
        store
            .find_by_identifier(TENANT, CredentialType::Password, &email(11))
            .await
            .expect("the new identifier")
            .version,
        3
    );
}

/// Update of an identity that does not exist gives NotFound, with or
/// without an expected version, and writes nothing.
pub async fn check_update_missing_is_not_found(store: DynIdentityStore) {
    let missing = identity(2, &email(2));
    expect_kind(
        store.update(TENANT, &valid(missing.clone()), None).await,
        ErrorKind::NotFound,
        "update in an empty store",
    );
    let stored = create_ok(&store, TENANT, &identity(1, &email(1))).await;
    expect_kind(
        store.update(TENANT, &valid(missing.clone()), None).await,
        ErrorKind::NotFound,
        "unconditional update of a missing id",
    );
    expect_kind(
        store.update(TENANT, &valid(missing.clone()), Some(1)).await,
        ErrorKind::NotFound,
        "conditional update of a missing id",
    );
    assert_eq!(
        all(&store, TENANT).await,
        vec![stored],
        "nothing was written"
    );
    create_ok(&store, TENANT, &missing).await;
}

/// Delete of an identity that does not exist gives NotFound, also when it
/// was just deleted, with or without an expected version.
pub async fn check_delete_missing_is_not_found(store: DynIdentityStore) {
    expect_kind(
        store.delete(TENANT, id(1), None).await,
        ErrorKind::NotFound,
        "empty store",
    );
    let kept = create_ok(&store, TENANT, &identity(1, &email(1))).await;
    create_ok(&store, TENANT, &identity(2, &email(2))).await;
    expect_kind(
        store.delete(TENANT, id(3), None).await,
        ErrorKind::NotFound,
        "unknown id",
    );
    expect_kind(
        store.delete(TENANT, id(3), Some(1)).await,
        ErrorKind::NotFound,
        "unknown id, v1",
    );
    store.delete(TENANT, id(2), Some(1)).await.expect("delete");
    expect_kind(
        store.delete(TENANT, id(2), None).await,
        ErrorKind::NotFound,
        "deleted twice",
    );
    assert_eq!(all(&store, TENANT).await, vec![kept]);
}

/// A write with an expected version other than the stored one fails with
/// VersionMismatch naming both versions and writes nothing (not even the
/// unique values it would have claimed); the right version succeeds.
pub async fn check_stale_version_rejected(store: DynIdentityStore) {
    let original = identity(1, &email(1));
    create_ok(&store, TENANT, &original).await;
    let mut second = original.clone();
    second.metadata_admin = Some(json!({ "counter": 1 }));
    let v = store
        .update(TENANT, &valid(second.clone()), Some(1))
        .await
        .expect("update at v1");
    assert_eq!(v, 2);

    let mut stale = identity(1, &email(2));
    stale.external_id = Some(ext("ext-stale"));
    expect_mismatch(
        store.update(TENANT, &valid(stale.clone()), Some(1)).await,
        1,
        2,
        "update at a stale version",
    );
    expect_mismatch(
        store.update(TENANT, &valid(stale.clone()), Some(5)).await,
        5,
        2,
        "update at a future version",
    );
    expect_mismatch(
        store.update(TENANT, &valid(stale.clone()), Some(0)).await,
        0,
        2,
        "update at version 0",
    );
    assert_eq!(
        get(&store, TENANT, original.id).await,
        with_version(&second, 2)
    );
    // The rejected write claimed none of its values.
    let mut other = identity(2, &email(2));
    other.external_id = Some(ext("ext-stale"));
    create_ok(&store, TENANT, &other).await;

    expect_mismatch(
        store.delete(TENANT, original.id, Some(1)).await,
        1,
        2,
        "stale delete",
    );
    assert_eq!(
        get(&store, TENANT, original.id).await,
        with_version(&second, 2)
    );
    store
        .delete(TENANT, original.id, Some(2))
        .await
        .expect("delete at the current version");
    expect_kind(
        store.get(TENANT, original.id).await,
        ErrorKind::NotFound,
        "deleted",
    );
}

/// Delete removes the identity with its credentials and addresses: no read
/// finds it by any of its values, and a new identity (of another id, then of
/// the same id) may claim every value it held.
pub async fn check_delete_cascades_and_frees_values(store: DynIdentityStore) {
    let gone = full_identity(1, &email(1));
    let kept = create_ok(&store, TENANT, &identity(2, &email(2))).await;
    create_ok(&store, TENANT, &gone).await;
    store.delete(TENANT, gone.id, None).await.expect("delete");

    expect_kind(
        store.get(TENANT, gone.id).await,
        ErrorKind::NotFound,
        "get after delete",
    );
    expect_kind(
        store.get_by_external_id(TENANT, &ext("ext-1")).await,
        ErrorKind::NotFound,
        "external id after delete",
    );
    for (kind, credential) in &gone.credentials {
        for identifier in &credential.identifiers {
            expect_kind(
                store.find_by_identifier(TENANT, *kind, identifier).await,
                ErrorKind::NotFound,
                "identifier after delete",
            );
        }
    }
    assert_eq!(
        all(&store, TENANT).await,
        vec![kept.clone()],
        "list after delete"
    );
    for filter in [
        ListFilter::Ids(vec![gone.id]),
        ListFilter::OrganizationId(crate::fixtures::ORGANIZATION),
        ListFilter::IdentifierPrefix(vec![(CredentialType::Oidc, "google:".to_owned())]),
    ] {
        assert_eq!(
            walk(&store, TENANT, filter.clone(), 10).await,
            vec![],
            "{filter:?} after delete"
        );
    }

    // Every value is free again: another identity takes them all.
    let mut heir = full_identity(1, &email(1));
    heir.id = id(3);
    heir.verifiable_addresses[0].id = address_id(3, 0);
    heir.verifiable_addresses[1].id = address_id(3, 2);
    heir.recovery_addresses[0].id = address_id(3, 1);
    let heir_v1 = create_ok(&store, TENANT, &heir).await;
    assert_eq!(
        store
            .get_by_external_id(TENANT, &ext("ext-1"))
            .await
            .expect("heir by external id"),
        std::sync::Arc::new(heir_v1.clone())
    );
    store
        .delete(TENANT, heir.id, Some(1))
        .await
        .expect("delete the heir");
    // And the id itself is free: the same identity can be created again.
    let again = create_ok(&store, TENANT, &gone).await;
    assert_eq!(get(&store, TENANT, gone.id).await, again);
    assert_eq!(all(&store, TENANT).await.len(), 2);
}

/// An update may drop a verifiable address and a credential type (freeing
/// their values for other identities), and a later update may add them
/// back (with new address ids, as the core derives them).
pub async fn check_update_drops_and_readds(store: DynIdentityStore) {
    let full = full_identity(1, &email(1));
    create_ok(&store, TENANT, &full).await;

    let mut dropped = full.clone();
    dropped.credentials.remove(&CredentialType::Code);
    dropped
        .verifiable_addresses
        .retain(|a| a.via == AddressVia::Email);
    dropped.updated_at = at(20);
    let v = store
        .update(TENANT, &valid(dropped.clone()), Some(1))
        .await
        .expect("update dropping an address and a credential");
    assert_eq!(v, 2);
    assert_eq!(
        get(&store, TENANT, full.id).await,
        with_version(&dropped, 2)
    );
    expect_kind(
        store
            .find_by_identifier(TENANT, CredentialType::Code, &phone(1))
            .await,
        ErrorKind::NotFound,
        "the dropped code identifier",
    );

    // The freed values can be claimed by another identity ...
    let mut other = identity(2, &email(2));
    other.verifiable_addresses.push(verifiable_address(
        address_id(2, 5),
        AddressVia::Sms,
        &phone(1),
    ));
    other.credentials.insert(
        CredentialType::Code,
        crate::fixtures::credential(CredentialType::Code, &[&phone(1)], json!({})),
    );
    create_ok(&store, TENANT, &other).await;
    store
        .delete(TENANT, other.id, None)
        .await
        .expect("delete the other");

    // ... and re-added to the first one.
    let mut readded = full.clone();
    readded.verifiable_addresses[1].id = address_id(1, 9);
    readded.verifiable_addresses[1].status = VerificationStatus::Sent;
    readded.updated_at = at(30);
    let v = store
        .update(TENANT, &valid(readded.clone()), Some(2))
        .await
        .expect("update re-adding them");
    assert_eq!(v, 3);
    assert_eq!(
        get(&store, TENANT, full.id).await,
        with_version(&readded, 3)
    );
    assert_eq!(
        store
            .find_by_identifier(TENANT, CredentialType::Code, &phone(1))
            .await
            .expect("the re-added code identifier")
            .id,
        full.id
    );
}

/// Updating an identity with exactly what is stored succeeds (its own
/// values are no conflict), changes nothing but the version, and keeps
/// every address id.
pub async fn check_noop_update_keeps_everything(store: DynIdentityStore) {
    let full = full_identity(1, &email(1));
    create_ok(&store, TENANT, &full).await;
    let other = create_ok(&store, TENANT, &identity(2, &email(2))).await;
    for version in 1..=3 {
        let current = get(&store, TENANT, full.id).await;
        assert_eq!(current, with_version(&full, version));
        let v = store
            .update(TENANT, &valid(current), Some(version))
            .await
            .expect("no-op update");
        assert_eq!(v, version + 1);
    }
    let last = get(&store, TENANT, full.id).await;
    assert_eq!(last, with_version(&full, 4));
    assert_eq!(last.verifiable_addresses[0].id, address_id(1, 0));
    assert_eq!(last.verifiable_addresses[1].id, address_id(1, 2));
    assert_eq!(last.recovery_addresses[0].id, address_id(1, 1));
    assert_eq!(
        get(&store, TENANT, other.id).await,
        other,
        "the other identity"
    );
}

/// Tenants are isolated: the same values (and the same email) may be used
/// in two tenants, and no read or write in one tenant sees or touches the
/// other's identities.
pub async fn check_tenant_isolation(store: DynIdentityStore) {
    let a = full_identity(1, &email(1));
    let mut b = full_identity(2, &email(1));
    b.external_id = a.external_id.clone();
    b.credentials = a.credentials.clone();
    b.traits = a.traits.clone();
    for (addr_b, addr_a) in b
        .verifiable_addresses
        .iter_mut()
        .zip(&a.verifiable_addresses)
    {
        addr_b.value = addr_a.value.clone();
    }
    let a_v1 = create_ok(&store, TENANT, &a).await;
    let b_v1 = create_ok(&store, OTHER_TENANT, &b).await;

    expect_kind(
        store.get(OTHER_TENANT, a.id).await,
        ErrorKind::NotFound,
        "get across",
    );
    expect_kind(
        store.get(TENANT, b.id).await,
        ErrorKind::NotFound,
        "get across",
    );
    let found = |t| {
        store.find_by_identifier(
            t,
            CredentialType::Password,
            a.identifiers(CredentialType::Password)[0].as_str(),
        )
    };
    assert_eq!(
        found(TENANT).await.expect("find in A's tenant"),
        std::sync::Arc::new(a_v1.clone())
    );
    assert_eq!(
        found(OTHER_TENANT).await.expect("find in B's tenant"),
        std::sync::Arc::new(b_v1.clone())
    );
    assert_eq!(
        store
            .get_by_external_id(TENANT, &ext("ext-1"))
            .await
            .expect("ext"),
        std::sync::Arc::new(a_v1.clone())
    );
    assert_eq!(
        store
            .get_by_external_id(OTHER_TENANT, &ext("ext-1"))
            .await
            .expect("ext"),
        std::sync::Arc::new(b_v1.clone())
    );
    assert_eq!(all(&store, TENANT).await, vec![a_v1.clone()]);
    assert_eq!(all(&store, OTHER_TENANT).await, vec![b_v1.clone()]);
    let third = identity_core::TenantId(id(3));
    assert_eq!(all(&store, third).await, vec![], "a third tenant is empty");
    assert_eq!(
        walk(&store, OTHER_TENANT, ListFilter::Ids(vec![a.id]), 10).await,
        vec![]
    );

    expect_kind(
        store.update(OTHER_TENANT, &valid(a.clone()), None).await,
        ErrorKind::NotFound,
        "update across",
    );
    expect_kind(
        store.delete(OTHER_TENANT, a.id, None).await,
        ErrorKind::NotFound,
        "delete across",
    );
    expect_kind(
        store.delete(third, a.id, None).await,
        ErrorKind::NotFound,
        "delete in a third",
    );
    assert_eq!(get(&store, TENANT, a.id).await, a_v1, "A is untouched");

    store.delete(TENANT, a.id, Some(1)).await.expect("delete A");
    assert_eq!(
        get(&store, OTHER_TENANT, b.id).await,
        b_v1,
        "B outlives A's delete"
    );
    assert_eq!(
        found(OTHER_TENANT).await.expect("find B"),
        std::sync::Arc::new(b_v1.clone())
    );
}
