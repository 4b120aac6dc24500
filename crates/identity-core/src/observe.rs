//! Metrics through the [`metrics`](https://docs.rs/metrics) facade, with
//! the `metrics` feature: every operation of the manager (by operation and
//! outcome, with its duration), the password hashing pool (hashes waiting
//! for a permit, the wait, the hash) and the store's failures (by method
//! and error kind).
//!
//! Each concern is recorded in one place: operations by [`observed`],
//! around the body of each public operation of the manager; hashing by
//! [`HashQueued`] and [`hashing`], in the pool; store failures by the
//! store wrapper [`metered`] puts around the manager's store. Without the
//! feature these are empty: `observed` and `hashing` hand back the future
//! they were given, `metered` the store, and `HashQueued` is a unit, so
//! nothing is measured or recorded and no clock is read.
//!
//! Every label value is one of a fixed set written here (operation names,
//! store method names, error kinds): nothing a caller sends becomes a
//! label, so the number of series is bounded. No metric carries a tenant,
//! an id or anything from an identity.
//!
//! Durations are read from the monotonic clock (`std::time::Instant`),
//! only for the metrics: no measured time reaches an identity (the
//! manager's time still comes from its injected `Clock`).

use std::future::Future;

use crate::error::Error;
#[cfg(feature = "metrics")]
use crate::error::ErrorKind;
use crate::store::DynIdentityStore;

/// `identity_operations_total{operation, outcome}`: counter.
#[cfg(feature = "metrics")]
pub(crate) const OPERATIONS_TOTAL: &str = "identity_operations_total";
/// `identity_operation_duration_seconds{operation}`: histogram.
#[cfg(feature = "metrics")]
pub(crate) const OPERATION_DURATION: &str = "identity_operation_duration_seconds";
/// `identity_password_hash_queue_depth`: gauge.
#[cfg(feature = "metrics")]
pub(crate) const HASH_QUEUE_DEPTH: &str = "identity_password_hash_queue_depth";
/// `identity_password_hash_wait_seconds`: histogram.
#[cfg(feature = "metrics")]
pub(crate) const HASH_WAIT: &str = "identity_password_hash_wait_seconds";
/// `identity_password_hash_duration_seconds`: histogram.
#[cfg(feature = "metrics")]
pub(crate) const HASH_DURATION: &str = "identity_password_hash_duration_seconds";
/// `identity_store_errors_total{method, kind}`: counter.
#[cfg(feature = "metrics")]
pub(crate) const STORE_ERRORS_TOTAL: &str = "identity_store_errors_total";

/// A public operation of the manager: the `operation` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    CreateDryRun,
    BatchCreate,
    BatchCreateDryRun,
    Update,
    Patch,
    DeleteCredential,
    Delete,
    BulkDelete,
    BulkSetState,
    Get,
    GetByExternalId,
    FindByIdentifier,
    List,
    Count,
    Changes,
    PruneChanges,
    DeliverChanges,
    ResetConsumer,
    MigrateSchema,
    MigrateSchemaDryRun,
}

impl Operation {
    /// The label value: the method's name.
    #[cfg(feature = "metrics")]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::CreateDryRun => "create_dry_run",
            Operation::BatchCreate => "batch_create",
            Operation::BatchCreateDryRun => "batch_create_dry_run",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::DeleteCredential => "delete_credential",
            Operation::Delete => "delete",
            Operation::BulkDelete => "bulk_delete",
            Operation::BulkSetState => "bulk_set_state",
            Operation::Get => "get",
            Operation::GetByExternalId => "get_by_external_id",
            Operation::FindByIdentifier => "find_by_identifier",
            Operation::List => "list",
            Operation::Count => "count",
            Operation::Changes => "changes",
            Operation::PruneChanges => "prune_changes",
            Operation::DeliverChanges => "deliver_changes",
            Operation::ResetConsumer => "reset_consumer",
            Operation::MigrateSchema => "migrate_schema",
            Operation::MigrateSchemaDryRun => "migrate_schema_dry_run",
        }
    }
}

/// The label value of an error kind (the `outcome` of a failed operation,
/// the `kind` of a store error). Exhaustive: a new kind needs a name.
#[cfg(feature = "metrics")]
pub(crate) fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Validation => "validation",
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::VersionMismatch => "version_mismatch",
        ErrorKind::Schema => "schema",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::OutcomeUnknown => "outcome_unknown",
        ErrorKind::Expired => "expired",
        ErrorKind::Internal => "internal",
    }
}

/// Whether a store error is a failure of the store (counted in
/// `identity_store_errors_total`) rather than one of the answers its
/// contract gives (no such identity, a conflict, a version mismatch, an
/// expired cursor), which are outcomes of the operation.
#[cfg(feature = "metrics")]
pub(crate) fn is_store_failure(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::VersionMismatch
        | ErrorKind::Expired => false,
        ErrorKind::Validation
        | ErrorKind::InvalidInput
        | ErrorKind::Schema
        | ErrorKind::Unavailable
        | ErrorKind::OutcomeUnknown
        | ErrorKind::Internal => true,
    }
}

/// Runs `operation`'s future, counting its outcome (`ok` or the error's
/// kind) and recording its duration.
#[cfg(feature = "metrics")]
pub(crate) async fn observed<T>(
    operation: Operation,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let start = std::time::Instant::now();
    let result = future.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => kind_label(e.kind()),
    };
    let name = operation.as_str();
    metrics::counter!(OPERATIONS_TOTAL, "operation" => name, "outcome" => outcome).increment(1);
    metrics::histogram!(OPERATION_DURATION, "operation" => name)
        .record(start.elapsed().as_secs_f64());
    result
}

/// Without the `metrics` feature: the future itself.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn observed<T, F: Future<Output = Result<T, Error>>>(
    _operation: Operation,
    future: F,
) -> F {
    future
}

/// A password hash waiting for a permit: counted in the queue depth from
/// [`HashQueued::enter`] until it is admitted or dropped (a caller that
/// gave up), whichever comes first.
#[derive(Debug)]
pub(crate) struct HashQueued {
    #[cfg(feature = "metrics")]
    since: std::time::Instant,
}

impl HashQueued {
    /// A hash joins the queue.
    #[inline]
    pub(crate) fn enter() -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::gauge!(HASH_QUEUE_DEPTH).increment(1.0);
            HashQueued {
                since: std::time::Instant::now(),
            }
        }
        #[cfg(not(feature = "metrics"))]
        HashQueued {}
    }

    /// The hash got its permit: records how long it waited (and leaves the
    /// queue, on drop).
    #[inline]
    pub(crate) fn admitted(self) {
        #[cfg(feature = "metrics")]
        metrics::histogram!(HASH_WAIT).record(self.since.elapsed().as_secs_f64());
    }
}

#[cfg(feature = "metrics")]
impl Drop for HashQueued {
    fn drop(&mut self) {
        metrics::gauge!(HASH_QUEUE_DEPTH).decrement(1.0);
    }
}

/// Runs a hashing job's future, recording its duration when it ran.
#[cfg(feature = "metrics")]
pub(crate) async fn hashing<E>(future: impl Future<Output = Result<(), E>>) -> Result<(), E> {
    let start = std::time::Instant::now();
    let result = future.await;
    if result.is_ok() {
        metrics::histogram!(HASH_DURATION).record(start.elapsed().as_secs_f64());
    }
    result
}

/// Without the `metrics` feature: the future itself.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn hashing<E, F: Future<Output = Result<(), E>>>(future: F) -> F {
    future
}

/// The store the manager calls: `store` in a wrapper that counts its
/// failures, with the `metrics` feature; `store` itself without.
#[cfg(feature = "metrics")]
pub(crate) fn metered(store: DynIdentityStore) -> DynIdentityStore {
    std::sync::Arc::new(metered_store::MeteredStore(store))
}

/// Without the `metrics` feature: `store` itself.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn metered(store: DynIdentityStore) -> DynIdentityStore {
    store
}

/// Describes every metric of this crate to the installed recorder (help
/// text and unit, which exporters print, e.g. Prometheus' `# HELP`).
/// Optional: metrics are recorded without it. Call it once, after
/// installing the recorder.
///
/// ```
/// // With a recorder installed (e.g. metrics-exporter-prometheus):
/// identity_core::describe_metrics();
/// ```
#[cfg(feature = "metrics")]
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        OPERATIONS_TOTAL,
        Unit::Count,
        "Operations of the identity manager, by operation and outcome (ok or the error kind)."
    );
    describe_histogram!(
        OPERATION_DURATION,
        Unit::Seconds,
        "Duration of the identity manager's operations, by operation."
    );
    describe_gauge!(
        HASH_QUEUE_DEPTH,
        Unit::Count,
        "Password hashes waiting for a hashing permit."
    );
    describe_histogram!(
        HASH_WAIT,
        Unit::Seconds,
        "Time a password hash waited for a hashing permit."
    );
    describe_histogram!(
        HASH_DURATION,
        Unit::Seconds,
        "Time a password hash ran on the blocking executor."
    );
    describe_counter!(
        STORE_ERRORS_TOTAL,
        Unit::Count,
        "Failed store calls, by store method and error kind (answers such as not found or conflict are not failures)."
    );
}

#[cfg(feature = "metrics")]
mod metered_store {
    //! The store wrapper that counts store failures.

    use std::fmt;
    use std::sync::Arc;

    use async_trait::async_trait;
    use uuid::Uuid;

    use super::{STORE_ERRORS_TOTAL, is_store_failure, kind_label};
    use crate::error::{ConflictField, Error};
    use crate::feed::{ChangeCursor, ChangePage, PruneChanges};
    use crate::model::{CredentialType, ExternalId, Identity, TenantId};
    use crate::store::{DynIdentityStore, IdentityStore, ListPage, ListQuery, ValidIdentity};

    /// The manager's store, counting each failure of each call.
    pub(crate) struct MeteredStore(pub(crate) DynIdentityStore);

    /// The wrapped store's own `Debug`: the wrapper is not the embedder's.
    impl fmt::Debug for MeteredStore {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.0, f)
        }
    }

    /// Counts `result`'s error when it is a failure of the store.
    fn check<T>(method: &'static str, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result {
            let kind = e.kind();
            if is_store_failure(kind) {
                metrics::counter!(STORE_ERRORS_TOTAL, "method" => method, "kind" => kind_label(kind))
                    .increment(1);
            }
        }
        result
    }

    #[async_trait]
    impl IdentityStore for MeteredStore {
        async fn create(&self, t: TenantId, i: &ValidIdentity) -> Result<u64, Error> {
            check("create", self.0.create(t, i).await)
        }
        async fn batch_create(
            &self,
            t: TenantId,
            i: &[ValidIdentity],
        ) -> Result<Vec<Result<u64, Error>>, Error> {
            check("batch_create", self.0.batch_create(t, i).await)
        }
        async fn get(&self, t: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
            check("get", self.0.get(t, id).await)
        }
        async fn get_by_external_id(
            &self,
            t: TenantId,
            e: &ExternalId,
        ) -> Result<Arc<Identity>, Error> {
            check("get_by_external_id", self.0.get_by_external_id(t, e).await)
        }
        async fn find_by_identifier(
            &self,
            t: TenantId,
            k: CredentialType,
            i: &str,
        ) -> Result<Arc<Identity>, Error> {
            check(
                "find_by_identifier",
                self.0.find_by_identifier(t, k, i).await,
            )
        }
        async fn find_create_conflict(
            &self,
            t: TenantId,
            i: &ValidIdentity,
        ) -> Result<Option<ConflictField>, Error> {
            check(
                "find_create_conflict",
                self.0.find_create_conflict(t, i).await,
            )
        }
        async fn update(
            &self,
            t: TenantId,
            i: &ValidIdentity,
            v: Option<u64>,
        ) -> Result<u64, Error> {
            check("update", self.0.update(t, i, v).await)
        }
        async fn delete(&self, t: TenantId, id: Uuid, v: Option<u64>) -> Result<(), Error> {
            check("delete", self.0.delete(t, id, v).await)
        }
        async fn list(&self, t: TenantId, q: &ListQuery) -> Result<ListPage, Error> {
            check("list", self.0.list(t, q).await)
        }
        async fn count(&self, t: TenantId) -> Result<u64, Error> {
            check("count", self.0.count(t).await)
        }
        async fn count_matching(&self, t: TenantId, q: &ListQuery) -> Result<u64, Error> {
            check("count_matching", self.0.count_matching(t, q).await)
        }
        async fn changes(
            &self,
            t: TenantId,
            a: Option<ChangeCursor>,
            l: crate::store::PageSize,
        ) -> Result<ChangePage, Error> {
            check("changes", self.0.changes(t, a, l).await)
        }
        async fn prune_changes(&self, t: TenantId, p: &PruneChanges) -> Result<u64, Error> {
            check("prune_changes", self.0.prune_changes(t, p).await)
        }
        async fn consumer_cursor(
            &self,
            t: TenantId,
            c: &str,
        ) -> Result<Option<ChangeCursor>, Error> {
            check("consumer_cursor", self.0.consumer_cursor(t, c).await)
        }
        async fn save_consumer_cursor(
            &self,
            t: TenantId,
            c: &str,
            cursor: ChangeCursor,
        ) -> Result<(), Error> {
            check(
                "save_consumer_cursor",
                self.0.save_consumer_cursor(t, c, cursor).await,
            )
        }
    }
}
