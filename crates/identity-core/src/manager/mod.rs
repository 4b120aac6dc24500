//! The identity operations: create, batch create, update (PUT), patch, get,
//! list, delete, bulk operations, schema migration — every rule applied
//! before anything is stored.

mod body;
mod builder;
mod bulk;
mod credentials;
mod events;
mod export;
mod migrate;
mod patch;
mod reads;
mod writes;

use std::sync::Arc;

use identity_password::PasswordHasher;
use serde_json::Value;
use uuid::Uuid;

pub use body::{
    BatchEntry, BatchOutcome, CreateIdentityBody, ImportRecoveryAddress, ImportVerifiableAddress,
    UpdateIdentityBody,
};
pub use builder::{ChangeRetention, IdentityManagerBuilder, ManagerConfig};
pub use bulk::{BulkEntry, BulkOutcome, BulkResult, check_bulk_len};
pub use credentials::UNKNOWN_HASH_FORMAT;
pub use events::{Delivery, EventSink};
pub use migrate::{
    Collision, MIGRATION_RETRIES, MigrationCounts, MigrationEntry, MigrationOutcome, MigrationPage,
    SchemaMigration,
};
pub use patch::{PATCH_GROWTH_FACTOR, PATCH_MAX_OPS};
pub use reads::{IdentityPage, ListParams, SEARCHABLE_TYPES, decode_page_token, encode_page_token};
pub use writes::check_batch_len;

use crate::addresses::{reconcile_recovery, reconcile_verifiable};
use crate::error::Error;
use crate::feed::ChangedFields;
use crate::model::{
    CredentialInclude, Credentials, Identity, RecoveryAddress, State, TenantId, VerifiableAddress,
};
use crate::schema::{IdentitySchema, SchemaRegistry};
use crate::store::{DynIdentityStore, ValidIdentity};
use crate::time::{Clock, IdGenerator, Timestamp};

/// The most entries one batch create may hold.
pub const BATCH_MAX: usize = 1_000;
/// The most entries of one batch that may carry a plaintext password.
pub const BATCH_MAX_PLAINTEXT: usize = 200;
/// The default page size of a list.
pub const PAGE_SIZE_DEFAULT: usize = 250;
/// The largest page size of a list.
pub const PAGE_SIZE_MAX: usize = 500;
/// The most ids one list may filter by.
pub const LIST_IDS_MAX: usize = 500;
/// How often an update without an expected version re-reads and retries
/// when a concurrent write moved the version under it.
const INTERNAL_RETRIES: usize = 8;

/// The identity operations over a store.
///
/// ```
/// # use std::sync::Arc;
/// # use identity_core::IdentityManager;
/// # fn demo(store: identity_core::DynIdentityStore, schemas: identity_core::SchemaRegistry) {
/// let manager = IdentityManager::builder(store, Arc::new(schemas)).build();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct IdentityManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: DynIdentityStore,
    schemas: Arc<SchemaRegistry>,
    hasher: PasswordHasher,
    /// Permits and working memory for concurrent password hashes.
    hashing: credentials::HashPool,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: ManagerConfig,
}

/// `Unable to find JSON Schema ID` for PUT/PATCH too.
fn parse_state(text: Option<&str>) -> Result<Option<State>, Error> {
    match text {
        None | Some("") => Ok(None),
        Some(t) => State::parse(t)
            .map(Some)
            .ok_or_else(|| Error::invalid("identity state is not valid")),
    }
}

impl IdentityManager {
    /// The store.
    pub fn store(&self) -> &DynIdentityStore {
        &self.inner.store
    }

    /// The schema registry.
    pub fn schemas(&self) -> &Arc<SchemaRegistry> {
        &self.inner.schemas
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The base URL of schema URLs.
    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    /// The Kratos JSON of an identity, with the configs of `include`.
    pub fn to_json(&self, identity: &Identity, include: CredentialInclude) -> Value {
        identity.to_value(&self.inner.config.base_url, include)
    }

    /// The size and depth limits on metadata and on every credential
    /// config (traits are checked by validation). A config is the caller's
    /// JSON too: a PATCH path creates the parents it names, so without this
    /// one request could nest a config deeper than any JSON reader (a
    /// store's included) will read back.
    ///
    /// A config shared with the one of the same type in `stored` (the
    /// identity as read, which the write built on) was checked when that
    /// was written, and is not walked again.
    fn check_limits(&self, identity: &Identity, prior: &Prior<'_>) -> Result<(), Error> {
        let (stored, same) = (prior.credentials, prior.same);
        let limits = &self.inner.config.limits;
        let mut violations = Vec::new();
        for (name, value, field) in [
            (
                "/metadata_public",
                &identity.metadata_public,
                ChangedFields::METADATA_PUBLIC,
            ),
            (
                "/metadata_admin",
                &identity.metadata_admin,
                ChangedFields::METADATA_ADMIN,
            ),
        ] {
            // Metadata equal to the stored passed the limits when written.
            if let Some(v) = value
                && !same.intersects(field)
                && let Err(violation) = limits.check(v, name)
            {
                violations.push(violation);
            }
        }
        for (kind, credential) in &identity.credentials {
            if stored
                .and_then(|s| s.get(kind))
                .is_some_and(|s| s.config.is_shared_with(&credential.config))
            {
                continue;
            }
            let config = credential.config.expose();
            // The path is written only for a config over the limits (this
            // runs on every write): checked again with it.
            if limits.check(config, "").is_err()
                && let Err(violation) =
                    limits.check(config, &format!("/credentials/{}/config", kind.as_str()))
            {
                violations.push(violation);
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(violations))
        }
    }

    /// Validates the traits, derives identifiers and addresses, and applies
    /// them to `identity` (reconciling addresses with `prior_*`).
    fn finish(
        &self,
        identity: &mut Identity,
        schema: &IdentitySchema,
        prior_verifiable: &[VerifiableAddress],
        prior_recovery: &[RecoveryAddress],
        now: Timestamp,
    ) -> Result<(), Error> {
        self.finish_over(
            identity,
            schema,
            Prior {
                verifiable: prior_verifiable,
                recovery: prior_recovery,
                credentials: None,
                same: ChangedFields::NONE,
            },
            now,
        )
        .map(|_| ())
    }

    /// [`finish`](IdentityManager::finish), over what was stored: the
    /// limits skip the configs `identity` still shares with
    /// `prior.credentials`. Whether the derivation changed the credentials.
    fn finish_over(
        &self,
        identity: &mut Identity,
        schema: &IdentitySchema,
        prior: Prior<'_>,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.check_limits(identity, &prior)?;
        // Traits equal to the stored passed the limits when written (and
        // the comparison cost no more than the stored traits bound).
        let derived = if prior.same.intersects(ChangedFields::TRAITS) {
            schema.validate_bounded(&mut identity.traits)?
        } else {
            schema.validate(&mut identity.traits, &self.inner.config.limits)?
        };
        let changed = credentials::apply_derived(&mut identity.credentials, &derived, now);
        let ids = self.inner.ids.as_ref();
        identity.verifiable_addresses =
            reconcile_verifiable(derived.verifiable_addresses(), prior.verifiable, now, ids);
        identity.recovery_addresses =
            reconcile_recovery(derived.recovery_addresses(), prior.recovery, now, ids);
        identity.updated_at = now;
        Ok(changed)
    }

    /// Reads, applies `change`, and writes conditionally; retries on a
    /// concurrent write when the caller gave no expected version.
    ///
    /// The stored identity is shared (a store may keep the same
    /// allocation), so `change` builds the next identity from it by
    /// reference and copies only what it keeps. The next identity is
    /// written at the version it will have, so that the written allocation
    /// is the one handed back. On a retry, `change` is given the identity
    /// its previous attempt built (which no store kept), so that what it
    /// moved out of its input on the first attempt can be taken back
    /// instead of having been copied for a retry that rarely comes.
    ///
    /// `change` answers the next identity (in an allocation of its own) and
    /// the fields it knows it kept
    /// as stored (equal values, which need no comparing for the change
    /// feed: [`ChangedFields::NONE`] when it does not know).
    async fn read_modify_write(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
        mut change: impl FnMut(
            &Arc<Identity>,
            Timestamp,
            Option<Identity>,
        ) -> Result<(Arc<Identity>, ChangedFields), Error>,
    ) -> Result<Arc<Identity>, Error> {
        let mut attempt = 0;
        let mut previous = None;
        loop {
            attempt += 1;
            let stored = self.inner.store.get(tenant, id).await?;
            if let Some(expected) = expected_version
                && stored.version != expected
            {
                return Err(Error::VersionMismatch {
                    expected,
                    actual: stored.version,
                });
            }
            let stored_version = stored.version;
            let now = self.inner.clock.now();
            let valid = next_version(stored, now, previous.take(), &mut change)?;
            match self
                .inner
                .store
                .update(tenant, &valid, Some(stored_version))
                .await
            {
                Ok(version) => return Ok(stamped(valid, version)),
                Err(Error::VersionMismatch { .. })
                    if expected_version.is_none() && attempt < INTERNAL_RETRIES =>
                {
                    tracing::debug!(attempt, "concurrent write; re-reading");
                    // Boxed: held across the next attempt's awaits, it
                    // would otherwise add its size to every PUT's future.
                    previous = Some(Box::new(valid.into_inner()));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The next version of `stored`, as `change` makes it (given the identity
/// an attempt that lost a race made, if any), checked, with the fields it
/// changes. Not in `read_modify_write`'s body, so that its future does not
/// hold the identity while it is built.
fn next_version(
    stored: Arc<Identity>,
    now: Timestamp,
    lost: Option<Box<Identity>>,
    change: &mut impl FnMut(
        &Arc<Identity>,
        Timestamp,
        Option<Identity>,
    ) -> Result<(Arc<Identity>, ChangedFields), Error>,
) -> Result<ValidIdentity, Error> {
    // The next identity comes in its own allocation (not shared: no copy
    // here), the one the store keeps and the caller gets back.
    let (mut next, kept) = change(&stored, now, lost.map(|lost| *lost))?;
    Arc::make_mut(&mut next).version = stored.version + 1;
    // The change feed records which fields the write changes.
    let fields = ChangedFields::between_except(&stored, &next, kept);
    ValidIdentity::new_update(next, stored, fields)
}

/// What a write read before deriving anew: the addresses to reconcile
/// with, and (for an update built on the stored identity) its credentials.
#[derive(Clone, Copy)]
struct Prior<'a> {
    verifiable: &'a [VerifiableAddress],
    recovery: &'a [RecoveryAddress],
    credentials: Option<&'a Credentials>,
    /// Of the traits and metadata, those known to equal the stored
    /// identity's (which passed the limits when it was written).
    same: ChangedFields,
}

/// The written identity at the version the store gave it: the shared
/// allocation itself when the store agreed with the version it was written
/// at (always, for a store that keeps the contract), a copy otherwise.
fn stamped(valid: ValidIdentity, version: u64) -> Arc<Identity> {
    if valid.identity().version == version {
        return Arc::clone(valid.shared());
    }
    let mut identity = valid.into_inner();
    identity.version = version;
    Arc::new(identity)
}
