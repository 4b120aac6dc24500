//! Assertions the checks share.

use std::fmt::Debug;

use identity_core::{
    ConflictField, DynIdentityStore, Error, ErrorKind, Identity, ListFilter, TenantId, WriteOp,
};

use crate::fixtures::{valid, with_version};

/// Creates `identity`, asserts the store answers version 1, and returns the
/// identity as the store should now return it.
pub(crate) async fn create_ok(
    store: &DynIdentityStore,
    tenant: TenantId,
    identity: &Identity,
) -> Identity {
    let version = store
        .create(tenant, &valid(identity.clone()))
        .await
        .unwrap_or_else(|e| panic!("create of {} failed: {e:?}", identity.id));
    assert_eq!(version, 1, "create must return version 1");
    with_version(identity, 1)
}

/// Asserts `result` failed with `kind` and returns the error.
#[track_caller]
pub(crate) fn expect_kind<T: Debug>(
    result: Result<T, Error>,
    kind: ErrorKind,
    what: &str,
) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected a {kind:?} error, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{what}: wrong error kind ({e:?})");
            e
        }
    }
}

/// Asserts `result` is a conflict on `field` for `op`.
#[track_caller]
pub(crate) fn expect_conflict<T: Debug>(
    result: Result<T, Error>,
    field: ConflictField,
    op: WriteOp,
    what: &str,
) {
    match expect_kind(result, ErrorKind::Conflict, what) {
        Error::Conflict { field: f, op: o } => {
            assert_eq!(f, field, "{what}: the conflict names the wrong field");
            assert_eq!(o, op, "{what}: the conflict names the wrong operation");
        }
        e => panic!("{what}: conflict kind without conflict fields: {e:?}"),
    }
}

/// Asserts `result` is a version mismatch with these versions.
#[track_caller]
pub(crate) fn expect_mismatch<T: Debug>(
    result: Result<T, Error>,
    expected: u64,
    actual: u64,
    what: &str,
) {
    match expect_kind(result, ErrorKind::VersionMismatch, what) {
        Error::VersionMismatch {
            expected: e,
            actual: a,
        } => assert_eq!((e, a), (expected, actual), "{what}: (expected, actual)"),
        e => panic!("{what}: version-mismatch kind without versions: {e:?}"),
    }
}

/// Reads an identity that must exist.
pub(crate) async fn get(store: &DynIdentityStore, tenant: TenantId, id: uuid::Uuid) -> Identity {
    store
        .get(tenant, id)
        .await
        .map(std::sync::Arc::unwrap_or_clone)
        .unwrap_or_else(|e| panic!("get of {id} failed: {e:?}"))
}

/// Every identity of the tenant, walking all pages.
pub(crate) async fn all(store: &DynIdentityStore, tenant: TenantId) -> Vec<Identity> {
    walk(store, tenant, ListFilter::All, 500).await
}

/// `n` as a page size (the checks use sizes within bounds).
pub(crate) fn size(n: usize) -> identity_core::PageSize {
    identity_core::PageSize::new(n).unwrap_or_else(|| panic!("page size {n} out of bounds"))
}

/// Every identity matching `filter`, walking pages of `limit`.
pub(crate) async fn walk(
    store: &DynIdentityStore,
    tenant: TenantId,
    filter: ListFilter,
    limit: usize,
) -> Vec<Identity> {
    let mut out: Vec<Identity> = Vec::new();
    let mut after = None;
    loop {
        let query = identity_core::ListQuery::new(filter.clone(), after, size(limit));
        let page = store.list(tenant, &query).await.expect("listing a page");
        assert_ascending_after(&owned(&page.identities), after);
        assert!(
            page.identities.len() <= limit,
            "a page holds at most limit identities"
        );
        if page.has_more {
            assert_eq!(
                page.identities.len(),
                limit,
                "a page followed by more is full"
            );
        }
        after = page.identities.last().map(|i| i.id);
        out.extend(
            page.identities
                .into_iter()
                .map(std::sync::Arc::unwrap_or_clone),
        );
        if !page.has_more {
            return out;
        }
    }
}

/// Asserts a page's ids ascend strictly and start after `after` (so a walk
/// always advances and never loops).
#[track_caller]
pub(crate) fn assert_ascending_after(identities: &[Identity], after: Option<uuid::Uuid>) {
    let ids = ids(identities);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "a page ascends strictly by id: {ids:?}"
    );
    if let (Some(after), Some(first)) = (after, ids.first()) {
        assert!(
            *first > after,
            "a page starts strictly after {after}: {ids:?}"
        );
    }
}

/// The ids of `identities`, in order.
pub(crate) fn ids(identities: &[Identity]) -> Vec<uuid::Uuid> {
    identities.iter().map(|i| i.id).collect()
}

/// Copies of shared identities, to compare with owned ones.
pub(crate) fn owned(identities: &[std::sync::Arc<Identity>]) -> Vec<Identity> {
    identities.iter().map(|i| (**i).clone()).collect()
}
