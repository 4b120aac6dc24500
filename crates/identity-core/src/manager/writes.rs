//! The writes: create, batch create, update (PUT), patch, credential
//! deletion, delete. Each applies every rule before its one store call.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{
    BATCH_MAX, BATCH_MAX_PLAINTEXT, BatchEntry, BatchOutcome, CreateIdentityBody, IdentityManager,
    Prior, UpdateIdentityBody, credentials, parse_state, patch,
};
use crate::error::{ConflictField, Error, WriteOp};
use crate::feed::{self, ChangedFields};
use crate::model::{
    ExternalId, Identity, RecoveryAddress, TenantId, VerifiableAddress, VerificationStatus,
    check_region,
};
use crate::observe::{Operation, observed};
use crate::schema::IdentitySchema;
use crate::store::ValidIdentity;
use crate::time::Timestamp;

/// Whether a write is made or only answered (a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Real,
    Dry,
}

impl Run {
    fn is_dry(self) -> bool {
        self == Run::Dry
    }
}

/// Refuses a batch of more than [`BATCH_MAX`] entries, in Kratos' words.
pub fn check_batch_len(len: usize) -> Result<(), Error> {
    if len > BATCH_MAX {
        return Err(Error::invalid(format!(
            "The maximum number of identities per request that can be created or deleted at once is {BATCH_MAX}."
        )));
    }
    Ok(())
}

impl IdentityManager {
    /// Everything of a create up to (not including) the store call. The
    /// credentials must have had their passwords hashed.
    fn prepare_create(
        &self,
        body: CreateIdentityBody,
        mut imports: Vec<credentials::Import>,
    ) -> Result<Identity, Error> {
        check_region(body.region.as_deref().unwrap_or_default())?;
        let schema = self.inner.schemas.resolve(&body.schema_id)?;
        let state = parse_state(body.state.as_deref())?.unwrap_or_default();
        let now = self.inner.clock.now();
        let id = self.inner.ids.new_id();
        let mut identity = Identity {
            id,
            schema_id: schema.id().to_owned(),
            state,
            state_changed_at: Some(now),
            traits: body
                .traits
                .unwrap_or_else(|| Value::Object(Default::default())),
            credentials: Default::default(),
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: body.metadata_public.filter(|v| !v.is_null()),
            metadata_admin: body.metadata_admin.filter(|v| !v.is_null()),
            organization_id: body.organization_id,
            external_id: ExternalId::from_optional(body.external_id)?,
            created_at: now,
            updated_at: now,
            // The version the create gives it.
            version: 1,
        };
        credentials::merge(
            &mut identity.credentials,
            std::mem::take(&mut imports),
            id,
            now,
        )?;
        let ids = self.inner.ids.as_ref();
        let imported_verifiable: Vec<VerifiableAddress> = body
            .verifiable_addresses
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let status = match (a.verified, a.status) {
                    (_, Some(s)) => s,
                    (true, None) => VerificationStatus::Completed,
                    (false, None) => VerificationStatus::Pending,
                };
                VerifiableAddress {
                    id: ids.new_id(),
                    value: a.value,
                    verified: a.verified,
                    via: a.via,
                    status,
                    verified_at: if a.verified {
                        Some(a.verified_at.unwrap_or(now))
                    } else {
                        None
                    },
                    created_at: now,
                    updated_at: now,
                }
            })
            .collect();
        let imported_recovery: Vec<RecoveryAddress> = body
            .recovery_addresses
            .unwrap_or_default()
            .into_iter()
            .map(|a| RecoveryAddress {
                id: ids.new_id(),
                value: a.value,
                via: a.via,
                created_at: now,
                updated_at: now,
            })
            .collect();
        self.finish(
            &mut identity,
            schema,
            &imported_verifiable,
            &imported_recovery,
            now,
        )?;
        Ok(identity)
    }

    /// Creates an identity (SPEC §4): resolves the schema, parses the state,
    /// imports credentials (hashing plaintext passwords on a blocking
    /// thread), validates the traits, derives identifiers and addresses, and
    /// stores it atomically. Any collision is a conflict and nothing is
    /// written.
    pub async fn create(
        &self,
        tenant: TenantId,
        body: CreateIdentityBody,
    ) -> Result<Arc<Identity>, Error> {
        observed(Operation::Create, self.create_as(tenant, body, Run::Real)).await
    }

    /// What [`create`](IdentityManager::create) would answer for `body`,
    /// writing nothing (no identity, no change in the feed).
    ///
    /// Every rule runs as in a real create (schema, state, credential
    /// imports with imported hashes checked, trait validation, derivation
    /// of identifiers and addresses, limits), and the store is asked which
    /// stored value, if any, the identity would collide with
    /// ([`IdentityStore::find_create_conflict`]): the same conflict error
    /// the create would give. On success, the identity a create would
    /// return, with the id and timestamps this call generated (a real
    /// create generates its own) and version 1.
    ///
    /// What differs from a real create: a plaintext password is checked as
    /// hashing checks it (an empty one, one too long for bcrypt) but not
    /// hashed; the credential holds [`PasswordHasher::dry_run_hash`]'s
    /// stand-in (same format and length, verifying nothing). And a write in
    /// between may make the real create conflict where the dry run did not.
    ///
    /// [`IdentityStore::find_create_conflict`]: crate::IdentityStore::find_create_conflict
    /// [`PasswordHasher::dry_run_hash`]: identity_password::PasswordHasher::dry_run_hash
    ///
    /// ```
    /// # async fn demo(manager: identity_core::IdentityManager) -> Result<(), identity_core::Error> {
    /// use identity_core::{CreateIdentityBody, TenantId};
    /// use serde_json::json;
    ///
    /// let body = CreateIdentityBody::from_json(json!({
    ///     "schema_id": "default",
    ///     "traits": { "email": "ada@example.com" },
    /// }))?;
    /// let would_be = manager.create_dry_run(TenantId::DEFAULT, body.clone()).await?;
    /// assert_eq!(would_be.version, 1);
    /// // Nothing was stored: the real create still succeeds.
    /// manager.create(TenantId::DEFAULT, body).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_dry_run(
        &self,
        tenant: TenantId,
        body: CreateIdentityBody,
    ) -> Result<Arc<Identity>, Error> {
        observed(
            Operation::CreateDryRun,
            self.create_as(tenant, body, Run::Dry),
        )
        .await
    }

    async fn create_as(
        &self,
        tenant: TenantId,
        body: CreateIdentityBody,
        run: Run,
    ) -> Result<Arc<Identity>, Error> {
        let span = tracing::info_span!("identity.create", tenant = %tenant, dry_run = run.is_dry(), identity.id = tracing::field::Empty);
        async move {
            let mut imports = match &body.credentials {
                Some(map) => credentials::parse_imports(map)?,
                None => Vec::new(),
            };
            self.ready_passwords(&mut imports, run).await?;
            let identity = self.prepare_create(body, imports)?;
            tracing::Span::current().record("identity.id", tracing::field::display(identity.id));
            let valid = ValidIdentity::new(identity)?;
            match run {
                Run::Real => {
                    let version = self.inner.store.create(tenant, &valid).await?;
                    Ok(super::stamped(valid, version))
                }
                Run::Dry => match self
                    .inner
                    .store
                    .find_create_conflict(tenant, &valid)
                    .await?
                {
                    Some(field) => Err(Error::Conflict {
                        field,
                        op: WriteOp::Create,
                    }),
                    None => Ok(Arc::clone(valid.shared())),
                },
            }
        }
        .instrument(span)
        .await
    }

    /// Hashes the plaintext passwords of `imports` (a real run), or checks
    /// them and puts a stand-in in their place (a dry run).
    async fn ready_passwords(
        &self,
        imports: &mut [credentials::Import],
        run: Run,
    ) -> Result<(), Error> {
        match run {
            Run::Real => {
                credentials::hash_passwords(imports, &self.inner.hasher, &self.inner.hashing).await
            }
            Run::Dry => credentials::dry_run_passwords(imports, &self.inner.hasher),
        }
    }

    /// Creates up to 1,000 identities (at most 200 with a plaintext
    /// password). One outcome per entry, in input order; `None` entries give
    /// [`BatchOutcome::Skipped`]. Validation and conflict failures are per
    /// entry; entries conflicting with each other: the first wins.
    pub async fn batch_create(
        &self,
        tenant: TenantId,
        entries: Vec<Option<BatchEntry>>,
    ) -> Result<Vec<BatchOutcome>, Error> {
        observed(
            Operation::BatchCreate,
            self.batch_create_as(tenant, entries, Run::Real),
        )
        .await
    }

    /// What [`batch_create`](IdentityManager::batch_create) would answer for
    /// `entries`, writing nothing: the same refusals of the whole request
    /// (too many entries, too many plaintext passwords, an invalid region)
    /// and one outcome per entry, in order, as the real batch gives them.
    ///
    /// Each entry runs as in [`create_dry_run`](IdentityManager::create_dry_run)
    /// (the same differences: plaintext passwords checked, not hashed), and
    /// its conflicts are looked for both in the store and among the earlier
    /// entries that would be created: the first entry wins, and the field
    /// named is the one the real batch names (the id, then the unique keys
    /// in order). A `Created` outcome carries the id this call generated and
    /// version 1.
    ///
    /// ```
    /// # async fn demo(manager: identity_core::IdentityManager) -> Result<(), identity_core::Error> {
    /// use identity_core::{BatchEntry, BatchOutcome, CreateIdentityBody, TenantId};
    /// use serde_json::json;
    ///
    /// let entry = |email: &str| -> Result<Option<BatchEntry>, identity_core::Error> {
    ///     Ok(Some(BatchEntry {
    ///         create: CreateIdentityBody::from_json(json!({ "traits": { "email": email } }))?,
    ///         patch_id: None,
    ///     }))
    /// };
    /// let outcomes = manager
    ///     .batch_create_dry_run(TenantId::DEFAULT, vec![entry("a@example.com")?, entry("a@example.com")?])
    ///     .await?;
    /// // The second entry takes the first's address: the first wins.
    /// assert!(matches!(outcomes[0], BatchOutcome::Created { version: 1, .. }));
    /// assert!(matches!(outcomes[1], BatchOutcome::Failed { .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn batch_create_dry_run(
        &self,
        tenant: TenantId,
        entries: Vec<Option<BatchEntry>>,
    ) -> Result<Vec<BatchOutcome>, Error> {
        observed(
            Operation::BatchCreateDryRun,
            self.batch_create_as(tenant, entries, Run::Dry),
        )
        .await
    }

    async fn batch_create_as(
        &self,
        tenant: TenantId,
        entries: Vec<Option<BatchEntry>>,
        run: Run,
    ) -> Result<Vec<BatchOutcome>, Error> {
        let span = tracing::info_span!("identity.batch_create", tenant = %tenant, dry_run = run.is_dry(), entries = entries.len());
        async move {
            check_batch_len(entries.len())?;
            // As in Kratos, an invalid region refuses the whole request.
            for entry in entries.iter().flatten() {
                check_region(entry.create.region.as_deref().unwrap_or_default())?;
            }
            let mut parsed = Vec::with_capacity(entries.len());
            let mut plaintexts = 0;
            for entry in entries {
                let Some(entry) = entry else {
                    parsed.push(None);
                    continue;
                };
                let imports = match &entry.create.credentials {
                    Some(map) => credentials::parse_imports(map),
                    None => Ok(Vec::new()),
                };
                if let Ok(i) = &imports
                    && credentials::has_plaintext(i)
                {
                    plaintexts += 1;
                }
                parsed.push(Some((entry, imports)));
            }
            if plaintexts > BATCH_MAX_PLAINTEXT {
                return Err(Error::invalid(format!(
                    "The maximum number of identities per request that can be created with a plaintext password is {BATCH_MAX_PLAINTEXT}."
                )));
            }
            let mut outcomes: Vec<BatchOutcome> = Vec::with_capacity(parsed.len());
            // (slot in `outcomes`, patch id) of each identity handed to the store.
            let mut pending = Vec::new();
            let mut to_store = Vec::new();
            for item in parsed {
                let Some((entry, imports)) = item else {
                    outcomes.push(BatchOutcome::Skipped);
                    continue;
                };
                let patch_id = entry.patch_id;
                let prepared = async {
                    let mut imports = imports?;
                    self.ready_passwords(&mut imports, run).await?;
                    let identity = self.prepare_create(entry.create, imports)?;
                    ValidIdentity::new(identity)
                }
                .await;
                match prepared {
                    Ok(valid) => {
                        pending.push((outcomes.len(), patch_id));
                        outcomes.push(BatchOutcome::Skipped);
                        to_store.push(valid);
                    }
                    Err(error) => outcomes.push(BatchOutcome::Failed { error, patch_id }),
                }
            }
            let results = match run {
                Run::Real => self.inner.store.batch_create(tenant, &to_store).await?,
                Run::Dry => self.batch_conflicts(tenant, &to_store).await?,
            };
            if results.len() != to_store.len() {
                return Err(Error::Internal {
                    message: format!(
                        "the store answered {} results for {} identities",
                        results.len(),
                        to_store.len()
                    ),
                    source: None,
                });
            }
            for (((slot, patch_id), valid), result) in pending.into_iter().zip(to_store).zip(results) {
                outcomes[slot] = match result {
                    Ok(version) => BatchOutcome::Created {
                        id: valid.identity().id,
                        version,
                        patch_id,
                    },
                    Err(error) => BatchOutcome::Failed { error, patch_id },
                };
            }
            Ok(outcomes)
        }
        .instrument(span)
        .await
    }

    /// What the store's `batch_create` would answer for `identities`,
    /// writing nothing: each entry conflicts with the first value, in the
    /// order a create names them (the id, then the unique keys), that the
    /// store or an earlier entry that would be created holds.
    async fn batch_conflicts(
        &self,
        tenant: TenantId,
        identities: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        let mut ids = BTreeSet::new();
        let mut claimed: BTreeSet<&ConflictField> = BTreeSet::new();
        let mut results = Vec::with_capacity(identities.len());
        for valid in identities {
            let id = valid.identity().id;
            let keys = valid.unique_keys();
            // Positions in the order a create names them: the id is 0, the
            // unique keys follow.
            let position = |field: &ConflictField| match field {
                ConflictField::Id => 0,
                key => keys
                    .iter()
                    .position(|k| k == key)
                    .map_or(usize::MAX, |i| i + 1),
            };
            let in_batch = if ids.contains(&id) {
                Some(ConflictField::Id)
            } else {
                keys.iter().find(|k| claimed.contains(k)).cloned()
            };
            let in_store = self.inner.store.find_create_conflict(tenant, valid).await?;
            let first = match (in_batch, in_store) {
                (Some(a), Some(b)) => Some(if position(&b) < position(&a) { b } else { a }),
                (a, b) => a.or(b),
            };
            results.push(match first {
                Some(field) => Err(Error::Conflict {
                    field,
                    op: WriteOp::Create,
                }),
                None => {
                    ids.insert(id);
                    claimed.extend(keys);
                    Ok(1)
                }
            });
        }
        Ok(results)
    }

    /// Replaces everything but credentials (SPEC §5). Credentials in the body
    /// are merged per type. With `expected_version`, fails with a version
    /// mismatch when the stored version differs; without it, the last writer
    /// wins (and concurrent credential changes are re-read, never lost).
    ///
    /// Traits and metadata the body gives equal to the stored ones are not
    /// measured against the [`Limits`](crate::Limits) again: they passed the
    /// limits when they were written (so lowering the limits refuses only
    /// PUTs that change a value past them).
    ///
    /// An `async fn` to its callers; the body is taken apart before the
    /// future is made, so that the future holds only the parts the write
    /// reads (an `async fn` would hold the body beside them).
    pub fn update(
        &self,
        tenant: TenantId,
        id: Uuid,
        body: UpdateIdentityBody,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<Arc<Identity>, Error>> + Send + '_ {
        let span = tracing::info_span!("identity.update", tenant = %tenant, identity.id = %id);
        let UpdateIdentityBody {
            schema_id,
            state,
            traits,
            metadata_public,
            metadata_admin,
            external_id,
            credentials: imported,
            region,
        } = body;
        // Checks that need no await, made here (they log nothing); their
        // error is the future's.
        let parsed =
            check_region(region.as_deref().unwrap_or_default()).and_then(|()| match &imported {
                Some(map) => credentials::parse_imports(map),
                None => Ok(Vec::new()),
            });
        drop(imported);
        // What the body replaces is moved into the first attempt; a retry
        // takes it back from the attempt that lost the race.
        let mut first = Some(Replacement {
            traits: traits.unwrap_or_else(|| Value::Object(Default::default())),
            metadata_public,
            metadata_admin,
            external_id,
        });
        let update = async move {
            let mut imports = parsed?;
            // Most PUTs import no password: no hashing future to make.
            if credentials::has_plaintext(&imports) {
                credentials::hash_passwords(&mut imports, &self.inner.hasher, &self.inner.hashing)
                    .await?;
            }
            self.read_modify_write(tenant, id, expected_version, |stored, now, previous| {
                let replacement = match (previous, first.take()) {
                    (Some(lost), _) => Replacement::from_attempt(lost),
                    (None, Some(first)) => first,
                    (None, None) => {
                        return Err(Error::Internal {
                            message: "a PUT attempt without its body".to_owned(),
                            source: None,
                        });
                    }
                };
                let asked = Asked {
                    schema_id: &schema_id,
                    state: state.as_deref(),
                };
                self.apply_update(stored, asked, replacement, &imports, now)
            })
            .await
        };
        observed(Operation::Update, update.instrument(span))
    }

    /// The identity a PUT makes of `stored`, and the fields it knows it
    /// kept as stored (the credentials, when neither an import nor the
    /// derivation touched them).
    fn apply_update(
        &self,
        stored: &Identity,
        asked: Asked<'_>,
        replacement: Replacement,
        imports: &[credentials::Import],
        now: Timestamp,
    ) -> Result<(Arc<Identity>, ChangedFields), Error> {
        // Borrowed, not cloned: two threads' PUTs would otherwise bounce
        // the schema's reference count between their cores.
        let schema: &IdentitySchema = if asked.schema_id.is_empty() {
            self.inner.schemas.resolve(&stored.schema_id)?
        } else {
            self.inner.schemas.resolve(asked.schema_id)?
        };
        // Built field by field from the stored identity, which is shared:
        // what the body replaces is never copied, the credentials are
        // (addresses are derived again by `finish`). Built in the
        // allocation that is kept, and changed there.
        let mut shared = Arc::new(Identity {
            id: stored.id,
            schema_id: schema.id().to_owned(),
            state: stored.state,
            state_changed_at: stored.state_changed_at,
            traits: replacement.traits,
            credentials: stored.credentials.clone(),
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: replacement.metadata_public.filter(|v| !v.is_null()),
            metadata_admin: replacement.metadata_admin.filter(|v| !v.is_null()),
            organization_id: stored.organization_id,
            external_id: ExternalId::from_optional(replacement.external_id)?,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            version: stored.version,
        });
        // Not shared yet: no copy.
        let next = Arc::make_mut(&mut shared);
        if let Some(state) = parse_state(asked.state)?
            && state != stored.state
        {
            next.state = state;
            next.state_changed_at = Some(now);
        }
        credentials::merge(&mut next.credentials, imports.to_vec(), stored.id, now)?;
        // What the body replaces with equal values (a PUT of the whole
        // identity changes one field, if any): compared once, here, for the
        // limits (which such values passed when stored) and the change feed.
        let same = [
            (
                feed::same_json(&stored.traits, &next.traits),
                ChangedFields::TRAITS,
            ),
            (
                feed::same_optional_json(
                    stored.metadata_public.as_ref(),
                    next.metadata_public.as_ref(),
                ),
                ChangedFields::METADATA_PUBLIC,
            ),
            (
                feed::same_optional_json(
                    stored.metadata_admin.as_ref(),
                    next.metadata_admin.as_ref(),
                ),
                ChangedFields::METADATA_ADMIN,
            ),
        ]
        .into_iter()
        .filter(|(equal, _)| *equal)
        .fold(ChangedFields::NONE, |set, (_, field)| set.union(field));
        let derived_changes = self.finish_over(
            next,
            schema,
            Prior {
                verifiable: &stored.verifiable_addresses,
                recovery: &stored.recovery_addresses,
                credentials: Some(&stored.credentials),
                same,
            },
            now,
        )?;
        // The credentials are the stored ones, cloned, unless an import or
        // the derivation changed them.
        let kept = if imports.is_empty() && !derived_changes {
            same.union(ChangedFields::CREDENTIALS)
        } else {
            same
        };
        Ok((shared, kept))
    }

    /// Applies an RFC 6902 JSON Patch to the admin JSON of the identity,
    /// then validates and derives as PUT does (SPEC §9).
    pub async fn patch(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: Value,
        expected_version: Option<u64>,
    ) -> Result<Arc<Identity>, Error> {
        let span = tracing::info_span!("identity.patch", tenant = %tenant, identity.id = %id);
        let patch = async move {
            let ops = patch::parse(patch, &self.inner.config.limits)?;
            let env = patch::PatchEnv {
                base_url: &self.inner.config.base_url,
                limits: &self.inner.config.limits,
                schemas: &self.inner.schemas,
                ids: self.inner.ids.as_ref(),
            };
            self.read_modify_write(tenant, id, expected_version, |stored, now, _| {
                let (mut next, schema) = patch::apply(&env, stored, &ops, now)?;
                let prior_v = std::mem::take(&mut next.verifiable_addresses);
                let prior_r = std::mem::take(&mut next.recovery_addresses);
                self.finish(&mut next, &schema, &prior_v, &prior_r, now)?;
                Ok((Arc::new(next), ChangedFields::NONE))
            })
            .await
        };
        observed(Operation::Patch, patch.instrument(span)).await
    }

    /// Deletes one credential of an identity, or part of one, by Kratos'
    /// rules (`DELETE /admin/identities/{id}/credentials/{type}`):
    ///
    /// - `totp`, `lookup_secret`: the whole credential;
    /// - `webauthn`: its second-factor keys (passwordless keys stay; with
    ///   none left the credential goes);
    /// - `password`: its hash (the credential and its identifiers stay, as
    ///   the traits still derive them);
    /// - `oidc`, `saml`: the one link `identifier` (`provider:subject`)
    ///   names, which is required;
    /// - `passkey`, `code`: refused.
    ///
    /// The last first-factor credential (a password, an OIDC link outside an
    /// organization, a passwordless key) cannot be deleted. A type the
    /// identity does not hold is [`Error::PartNotFound`]. The result is
    /// validated as any update, conditional on `expected_version` when
    /// given.
    pub async fn delete_credential(
        &self,
        tenant: TenantId,
        id: Uuid,
        kind: &str,
        identifier: Option<&str>,
        expected_version: Option<u64>,
    ) -> Result<Arc<Identity>, Error> {
        let span = tracing::info_span!("identity.delete_credential", tenant = %tenant, identity.id = %id, kind);
        let delete = async move {
            self.read_modify_write(tenant, id, expected_version, |stored, now, _| {
                let mut next = Identity::clone(stored);
                credentials::delete(&mut next.credentials, kind, identifier, now)?;
                let schema = self.inner.schemas.resolve(&next.schema_id)?;
                let prior_v = std::mem::take(&mut next.verifiable_addresses);
                let prior_r = std::mem::take(&mut next.recovery_addresses);
                self.finish(&mut next, schema, &prior_v, &prior_r, now)?;
                Ok((Arc::new(next), ChangedFields::NONE))
            })
            .await
        };
        observed(Operation::DeleteCredential, delete.instrument(span)).await
    }

    /// Deletes the identity with its credentials and addresses. With
    /// `expected_version`, only that version; without, whatever version is
    /// stored (the last writer wins). The store records the deletion in the
    /// change feed in the same transaction.
    pub async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        observed(
            Operation::Delete,
            self.delete_one(tenant, id, expected_version),
        )
        .await
    }

    /// [`delete`](IdentityManager::delete), unobserved: a bulk delete's
    /// entries count in the bulk operation, not as deletes of their own.
    pub(super) async fn delete_one(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        let span = tracing::info_span!("identity.delete", tenant = %tenant, identity.id = %id);
        self.inner
            .store
            .delete(tenant, id, expected_version)
            .instrument(span)
            .await
    }
}

/// What a PUT asks for besides what it replaces: a schema (empty keeps
/// the stored one) and a state.
#[derive(Clone, Copy)]
struct Asked<'a> {
    schema_id: &'a str,
    state: Option<&'a str>,
}

/// What a PUT replaces, moved out of its body once.
struct Replacement {
    traits: Value,
    metadata_public: Option<Value>,
    metadata_admin: Option<Value>,
    external_id: Option<String>,
}

impl Replacement {
    /// Takes the same values back from an attempt that lost a race: it
    /// holds them as the body gave them (validation leaves the traits as
    /// they were; metadata `null` was already dropped, and is dropped again
    /// alike).
    fn from_attempt(lost: Identity) -> Replacement {
        Replacement {
            traits: lost.traits,
            metadata_public: lost.metadata_public,
            metadata_admin: lost.metadata_admin,
            external_id: lost.external_id.map(|e| e.as_str().to_owned()),
        }
    }
}
