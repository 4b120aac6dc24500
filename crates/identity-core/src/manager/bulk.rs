//! Bulk operations: delete, or set the state of, a list of identities in
//! one call, with one outcome per entry.

use std::sync::Arc;

use serde::Deserialize;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{BATCH_MAX, IdentityManager};
use crate::error::Error;
use crate::feed::ChangedFields;
use crate::model::{Identity, State, TenantId};
use crate::observe::{Operation, observed};

/// One entry of a bulk operation: an identity, and the version it must
/// have for the operation to apply to it (any version when `None`).
///
/// ```
/// use identity_core::BulkEntry;
/// use serde_json::json;
/// use uuid::Uuid;
///
/// let entry: BulkEntry = serde_json::from_value(json!({
///     "id": "8d3e2b51-1c55-4c34-9b8c-5f0c1a0d2e77",
///     "expected_version": 3,
/// }))?;
/// assert_eq!(entry.expected_version, Some(3));
/// assert_eq!(BulkEntry::new(entry.id), BulkEntry { id: entry.id, expected_version: None });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkEntry {
    /// The identity.
    pub id: Uuid,
    /// The version it must have; any when `None`.
    #[serde(default)]
    pub expected_version: Option<u64>,
}

impl BulkEntry {
    /// An entry for `id` at any version.
    pub fn new(id: Uuid) -> Self {
        BulkEntry {
            id,
            expected_version: None,
        }
    }

    /// An entry for `id` only at `version`.
    pub fn at_version(id: Uuid, version: u64) -> Self {
        BulkEntry {
            id,
            expected_version: Some(version),
        }
    }
}

/// What a bulk operation did with one entry.
#[derive(Debug)]
pub enum BulkOutcome {
    /// The identity was deleted.
    Deleted,
    /// The identity's state was set; it is now at this version.
    Updated {
        /// The new version.
        version: u64,
    },
    /// The identity already had the state: nothing was written (no new
    /// version, no change in the feed, `state_changed_at` kept).
    Unchanged {
        /// Its version, unchanged.
        version: u64,
    },
    /// No identity has the id in the tenant.
    NotFound,
    /// The identity is not at the expected version; nothing was written.
    VersionMismatch {
        /// The version the entry expected.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// Any other failure of this entry (validation of the updated identity,
    /// a store error); the other entries are unaffected.
    Failed(Error),
}

impl BulkOutcome {
    /// The outcome of a failed write of one entry.
    fn of_error(error: Error) -> BulkOutcome {
        match error {
            Error::NotFound => BulkOutcome::NotFound,
            Error::VersionMismatch { expected, actual } => {
                BulkOutcome::VersionMismatch { expected, actual }
            }
            error => BulkOutcome::Failed(error),
        }
    }
}

/// The outcome of one entry of a bulk operation, with its id.
#[derive(Debug)]
pub struct BulkResult {
    /// The entry's identity id.
    pub id: Uuid,
    /// What happened to it.
    pub outcome: BulkOutcome,
}

/// Refuses a bulk operation of more than [`BATCH_MAX`] entries, in the
/// words of [`check_batch_len`](crate::check_batch_len).
///
/// ```
/// use identity_core::{BATCH_MAX, check_bulk_len};
///
/// assert!(check_bulk_len(BATCH_MAX).is_ok());
/// assert!(check_bulk_len(BATCH_MAX + 1).is_err());
/// ```
pub fn check_bulk_len(len: usize) -> Result<(), Error> {
    if len > BATCH_MAX {
        return Err(Error::invalid(format!(
            "The maximum number of identities per request that can be deleted or updated at once is {BATCH_MAX}."
        )));
    }
    Ok(())
}

impl IdentityManager {
    /// Deletes each identity of `entries` (at most [`BATCH_MAX`]), one after
    /// the other in order, each as [`delete`](IdentityManager::delete) does:
    /// conditional on its expected version when given, recorded in the
    /// change feed. One result per entry, in order: [`BulkOutcome::Deleted`],
    /// [`NotFound`](BulkOutcome::NotFound),
    /// [`VersionMismatch`](BulkOutcome::VersionMismatch) or
    /// [`Failed`](BulkOutcome::Failed). Not atomic as a whole: an entry's
    /// failure leaves the others done. The outer error refuses the whole
    /// call (too many entries) before anything is written.
    ///
    /// ```
    /// # async fn demo(manager: identity_core::IdentityManager, a: uuid::Uuid, b: uuid::Uuid) -> Result<(), identity_core::Error> {
    /// use identity_core::{BulkEntry, BulkOutcome, TenantId};
    ///
    /// let results = manager
    ///     .bulk_delete(TenantId::DEFAULT, vec![BulkEntry::new(a), BulkEntry::at_version(b, 3)])
    ///     .await?;
    /// for result in &results {
    ///     if let BulkOutcome::VersionMismatch { actual, .. } = result.outcome {
    ///         println!("{} is at version {actual}", result.id);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bulk_delete(
        &self,
        tenant: TenantId,
        entries: Vec<BulkEntry>,
    ) -> Result<Vec<BulkResult>, Error> {
        let span =
            tracing::info_span!("identity.bulk_delete", tenant = %tenant, entries = entries.len());
        let bulk = async move {
            check_bulk_len(entries.len())?;
            let mut results = Vec::with_capacity(entries.len());
            for entry in entries {
                let outcome = match self
                    .delete_one(tenant, entry.id, entry.expected_version)
                    .await
                {
                    Ok(()) => BulkOutcome::Deleted,
                    Err(error) => BulkOutcome::of_error(error),
                };
                results.push(BulkResult {
                    id: entry.id,
                    outcome,
                });
            }
            Ok(results)
        };
        observed(Operation::BulkDelete, bulk.instrument(span)).await
    }

    /// Sets the state of each identity of `entries` (at most
    /// [`BATCH_MAX`]), one after the other in order. One result per entry,
    /// in order.
    ///
    /// An identity already in `state` (and at the expected version, when
    /// one is given) is [`BulkOutcome::Unchanged`]: nothing is written, so
    /// its version, `updated_at` and `state_changed_at` stay and the feed
    /// records nothing. Otherwise the state changes through the update
    /// path: `state_changed_at` and `updated_at` move to now, the traits are
    /// validated against the identity's schema again (an identity whose
    /// stored traits no longer validate is [`Failed`](BulkOutcome::Failed)),
    /// the write is conditional on the expected version (without one, a
    /// concurrent write is re-read and retried, as in
    /// [`update`](IdentityManager::update)), and the feed records the change;
    /// the result is [`Updated`](BulkOutcome::Updated) with the new version.
    /// A missing identity is [`NotFound`](BulkOutcome::NotFound); a version
    /// other than the expected one is
    /// [`VersionMismatch`](BulkOutcome::VersionMismatch).
    ///
    /// ```
    /// # async fn demo(manager: identity_core::IdentityManager, a: uuid::Uuid) -> Result<(), identity_core::Error> {
    /// use identity_core::{BulkEntry, BulkOutcome, State, TenantId};
    ///
    /// let results = manager
    ///     .bulk_set_state(TenantId::DEFAULT, State::Inactive, vec![BulkEntry::at_version(a, 1)])
    ///     .await?;
    /// assert!(matches!(results[0].outcome, BulkOutcome::Updated { version: 2 } | BulkOutcome::Unchanged { .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bulk_set_state(
        &self,
        tenant: TenantId,
        state: State,
        entries: Vec<BulkEntry>,
    ) -> Result<Vec<BulkResult>, Error> {
        let span = tracing::info_span!("identity.bulk_set_state", tenant = %tenant, state = state.as_str(), entries = entries.len());
        let bulk = async move {
            check_bulk_len(entries.len())?;
            let mut results = Vec::with_capacity(entries.len());
            for entry in entries {
                let outcome = match self.set_state(tenant, state, entry).await {
                    Ok(outcome) => outcome,
                    Err(error) => BulkOutcome::of_error(error),
                };
                results.push(BulkResult {
                    id: entry.id,
                    outcome,
                });
            }
            Ok(results)
        };
        observed(Operation::BulkSetState, bulk.instrument(span)).await
    }

    /// Sets the state of one identity (see [`bulk_set_state`]).
    ///
    /// [`bulk_set_state`]: IdentityManager::bulk_set_state
    async fn set_state(
        &self,
        tenant: TenantId,
        state: State,
        entry: BulkEntry,
    ) -> Result<BulkOutcome, Error> {
        let stored = self.inner.store.get(tenant, entry.id).await?;
        if let Some(expected) = entry.expected_version
            && expected != stored.version
        {
            return Err(Error::VersionMismatch {
                expected,
                actual: stored.version,
            });
        }
        if stored.state == state {
            return Ok(BulkOutcome::Unchanged {
                version: stored.version,
            });
        }
        drop(stored);
        let written = self
            .read_modify_write(
                tenant,
                entry.id,
                entry.expected_version,
                |stored, now, _| {
                    let mut next = Identity::clone(stored);
                    if next.state != state {
                        next.state = state;
                        next.state_changed_at = Some(now);
                    }
                    let schema = self.inner.schemas.resolve(&next.schema_id)?;
                    let prior_v = std::mem::take(&mut next.verifiable_addresses);
                    let prior_r = std::mem::take(&mut next.recovery_addresses);
                    self.finish(&mut next, schema, &prior_v, &prior_r, now)?;
                    Ok((Arc::new(next), ChangedFields::NONE))
                },
            )
            .await?;
        Ok(BulkOutcome::Updated {
            version: written.version,
        })
    }
}
