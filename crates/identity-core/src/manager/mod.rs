//! The identity operations: create, batch create, update (PUT), patch, get,
//! list, delete — every rule applied before anything is stored.

mod body;
mod credentials;
mod events;
mod patch;

use std::sync::Arc;

use identity_password::PasswordHasher;
use serde_json::Value;
use tracing::Instrument as _;
use uuid::Uuid;

pub use body::{
    BatchEntry, BatchOutcome, CreateIdentityBody, ImportRecoveryAddress, ImportVerifiableAddress,
    UpdateIdentityBody,
};
pub use credentials::UNKNOWN_HASH_FORMAT;
pub use events::{EventKind, EventSink, IdentityEvent};
pub use patch::{PATCH_GROWTH_FACTOR, PATCH_MAX_OPS};

use crate::addresses::{reconcile_recovery, reconcile_verifiable};
use crate::error::Error;
use crate::limits::Limits;
use crate::model::{
    CredentialInclude, CredentialType, Identity, RecoveryAddress, State, TenantId,
    VerifiableAddress, VerificationStatus, check_region,
};
use crate::normalize;
use crate::schema::{Derived, IdentitySchema, SchemaRegistry};
use crate::store::{DynIdentityStore, ListFilter, ListQuery, ValidIdentity};
use crate::time::{Clock, IdGenerator, RandomIds, SystemClock, Timestamp};

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
/// The longest external id, in characters.
pub const EXTERNAL_ID_MAX_CHARS: usize = 64;
/// How often an update without an expected version re-reads and retries
/// when a concurrent write moved the version under it.
const INTERNAL_RETRIES: usize = 8;

/// Settings of an [`IdentityManager`].
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Prefix of every `schema_url` (e.g. `http://127.0.0.1:4434`).
    pub base_url: String,
    /// Size and depth limits for traits and metadata.
    pub limits: Limits,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            base_url: "http://127.0.0.1:4434".to_owned(),
            limits: Limits::default(),
        }
    }
}

/// The filters and page of a list call (one filter at a time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Only these ids (at most 500).
    pub ids: Vec<Uuid>,
    /// Only identities with this exact credential identifier (normalised for
    /// `password`, `webauthn` and `code`; raw for the others).
    pub credentials_identifier: Option<String>,
    /// Only identities with an identifier starting with this.
    pub identifier_prefix: Option<String>,
    /// Only identities of this organization.
    pub organization_id: Option<Uuid>,
    /// Page size: default 250, at most 500.
    pub page_size: Option<usize>,
    /// The token of the page to read (from a previous page).
    pub page_token: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPage {
    /// The identities, ascending by id.
    pub identities: Vec<Identity>,
    /// The token of the next page, when there is one.
    pub next_page_token: Option<String>,
}

/// The identity operations over a store.
///
/// ```
/// # use std::sync::Arc;
/// # use identity_core::manager::IdentityManager;
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
    events: Option<Arc<dyn EventSink>>,
    config: ManagerConfig,
}

/// Builds an [`IdentityManager`].
#[derive(Debug)]
pub struct IdentityManagerBuilder {
    inner: Inner,
}

impl IdentityManagerBuilder {
    /// The password hasher (default: production Argon2id).
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.inner.hasher = hasher;
        self
    }

    /// How many passwords may be hashed at the same time (default: the
    /// number of cores). Each of these hashes keeps its working memory (19
    /// MiB with the default Argon2id) for the next one, so this bounds the
    /// memory that concurrent creates and updates with passwords can take;
    /// requests beyond it wait for a permit. Zero is taken as one.
    pub fn hash_concurrency(mut self, permits: usize) -> Self {
        self.inner.hashing = credentials::HashPool::new(permits);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.inner.clock = clock;
        self
    }

    /// The id generator (default: random v4 UUIDs).
    pub fn ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.inner.ids = ids;
        self
    }

    /// Receives an event after every committed write.
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.inner.events = Some(sink);
        self
    }

    /// Base URL and limits.
    pub fn config(mut self, config: ManagerConfig) -> Self {
        self.inner.config = config;
        self
    }

    /// The manager.
    pub fn build(self) -> IdentityManager {
        IdentityManager {
            inner: Arc::new(self.inner),
        }
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

/// One concurrent hash per core: hashing is CPU-bound, so more would only
/// add memory, not throughput.
fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
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

fn external_id(value: Option<String>) -> Result<Option<String>, Error> {
    match value {
        Some(e) if e.is_empty() => Ok(None),
        Some(e) if e.chars().count() > EXTERNAL_ID_MAX_CHARS => Err(Error::invalid(format!(
            "external_id must be at most {EXTERNAL_ID_MAX_CHARS} characters"
        ))),
        other => Ok(other),
    }
}

impl IdentityManager {
    /// Starts a builder with production defaults: Argon2id, the system
    /// clock, random ids, default limits.
    pub fn builder(
        store: DynIdentityStore,
        schemas: Arc<SchemaRegistry>,
    ) -> IdentityManagerBuilder {
        IdentityManagerBuilder {
            inner: Inner {
                store,
                schemas,
                hasher: PasswordHasher::default(),
                hashing: credentials::HashPool::new(default_hash_concurrency()),
                clock: Arc::new(SystemClock),
                ids: Arc::new(RandomIds),
                events: None,
                config: ManagerConfig::default(),
            },
        }
    }

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

    fn emit(&self, kind: EventKind, tenant: TenantId, old: Option<&Identity>, new: &Identity) {
        let Some(sink) = &self.inner.events else {
            return;
        };
        let changed_fields = match kind {
            EventKind::Deleted => Vec::new(),
            _ => events::changed_fields(old, new),
        };
        sink.identity_event(&IdentityEvent {
            kind,
            tenant,
            id: new.id,
            changed_fields,
            old_version: old.map(|o| o.version),
            new_version: (kind != EventKind::Deleted).then_some(new.version),
            state: new.state,
        });
    }

    /// The size and depth limits on metadata and on every credential
    /// config (traits are checked by validation). A config is the caller's
    /// JSON too: a PATCH path creates the parents it names, so without this
    /// one request could nest a config deeper than any JSON reader (a
    /// store's included) will read back.
    fn check_limits(&self, identity: &Identity) -> Result<(), Error> {
        let limits = &self.inner.config.limits;
        let mut violations = Vec::new();
        for (name, value) in [
            ("/metadata_public", &identity.metadata_public),
            ("/metadata_admin", &identity.metadata_admin),
        ] {
            if let Some(v) = value
                && let Err(violation) = limits.check(v, name)
            {
                violations.push(violation);
            }
        }
        for (kind, credential) in &identity.credentials {
            let at = format!("/credentials/{}/config", kind.as_str());
            if let Err(violation) = limits.check(credential.config.expose(), &at) {
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
        self.check_limits(identity)?;
        let derived = schema.validate(&mut identity.traits, &self.inner.config.limits)?;
        apply_derived(identity, &derived, now);
        let ids = self.inner.ids.as_ref();
        identity.verifiable_addresses =
            reconcile_verifiable(&derived.verifiable_addresses, prior_verifiable, now, ids);
        identity.recovery_addresses =
            reconcile_recovery(&derived.recovery_addresses, prior_recovery, now, ids);
        identity.updated_at = now;
        Ok(())
    }

    /// Everything of a create up to (not including) the store call. The
    /// credentials must have had their passwords hashed.
    fn prepare_create(
        &self,
        body: CreateIdentityBody,
        mut imports: Vec<credentials::Import>,
    ) -> Result<Identity, Error> {
        check_region(body.region.as_deref().unwrap_or_default())?;
        let schema = self.inner.schemas.resolve(&body.schema_id)?.clone();
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
            external_id: external_id(body.external_id)?,
            created_at: now,
            updated_at: now,
            version: 0,
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
            &schema,
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
    ) -> Result<Identity, Error> {
        let span = tracing::info_span!("identity.create", tenant = %tenant, identity.id = tracing::field::Empty);
        async move {
            let mut imports = match &body.credentials {
                Some(map) => credentials::parse_imports(map)?,
                None => Vec::new(),
            };
            credentials::hash_passwords(&mut imports, &self.inner.hasher, &self.inner.hashing)
                .await?;
            let mut identity = self.prepare_create(body, imports)?;
            tracing::Span::current().record("identity.id", tracing::field::display(identity.id));
            identity.version = self
                .inner
                .store
                .create(tenant, ValidIdentity::new(identity.clone()))
                .await?;
            self.emit(EventKind::Created, tenant, None, &identity);
            Ok(identity)
        }
        .instrument(span)
        .await
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
        let span =
            tracing::info_span!("identity.batch_create", tenant = %tenant, entries = entries.len());
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
                    credentials::hash_passwords(&mut imports, &self.inner.hasher, &self.inner.hashing).await?;
                    self.prepare_create(entry.create, imports)
                }
                .await;
                match prepared {
                    Ok(identity) => {
                        pending.push((outcomes.len(), patch_id));
                        outcomes.push(BatchOutcome::Skipped);
                        to_store.push(identity);
                    }
                    Err(error) => outcomes.push(BatchOutcome::Failed { error, patch_id }),
                }
            }
            let valid = to_store.iter().cloned().map(ValidIdentity::new).collect();
            let results = self.inner.store.batch_create(tenant, valid).await?;
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
            for (((slot, patch_id), mut identity), result) in pending.into_iter().zip(to_store).zip(results) {
                outcomes[slot] = match result {
                    Ok(version) => {
                        identity.version = version;
                        self.emit(EventKind::Created, tenant, None, &identity);
                        BatchOutcome::Created { id: identity.id, version, patch_id }
                    }
                    Err(error) => BatchOutcome::Failed { error, patch_id },
                };
            }
            Ok(outcomes)
        }
        .instrument(span)
        .await
    }

    /// Replaces everything but credentials (SPEC §5). Credentials in the body
    /// are merged per type. With `expected_version`, fails with a version
    /// mismatch when the stored version differs; without it, the last writer
    /// wins (and concurrent credential changes are re-read, never lost).
    pub async fn update(
        &self,
        tenant: TenantId,
        id: Uuid,
        body: UpdateIdentityBody,
        expected_version: Option<u64>,
    ) -> Result<Identity, Error> {
        let span = tracing::info_span!("identity.update", tenant = %tenant, identity.id = %id);
        async move {
            check_region(body.region.as_deref().unwrap_or_default())?;
            let mut imports = match &body.credentials {
                Some(map) => credentials::parse_imports(map)?,
                None => Vec::new(),
            };
            credentials::hash_passwords(&mut imports, &self.inner.hasher, &self.inner.hashing)
                .await?;
            self.read_modify_write(tenant, id, expected_version, |stored, now| {
                self.apply_update(stored, &body, &imports, now)
            })
            .await
        }
        .instrument(span)
        .await
    }

    fn apply_update(
        &self,
        stored: Identity,
        body: &UpdateIdentityBody,
        imports: &[credentials::Import],
        now: Timestamp,
    ) -> Result<Identity, Error> {
        let schema = if body.schema_id.is_empty() {
            self.inner.schemas.resolve(&stored.schema_id)?.clone()
        } else {
            self.inner.schemas.resolve(&body.schema_id)?.clone()
        };
        // Built field by field from the stored identity, which is ours to
        // take apart: what the body replaces is never copied, the
        // credentials are moved (addresses are derived again by `finish`).
        let mut next = Identity {
            id: stored.id,
            schema_id: schema.id().to_owned(),
            state: stored.state,
            state_changed_at: stored.state_changed_at,
            traits: body
                .traits
                .clone()
                .unwrap_or_else(|| Value::Object(Default::default())),
            credentials: stored.credentials,
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: body.metadata_public.clone().filter(|v| !v.is_null()),
            metadata_admin: body.metadata_admin.clone().filter(|v| !v.is_null()),
            organization_id: stored.organization_id,
            external_id: external_id(body.external_id.clone())?,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            version: stored.version,
        };
        if let Some(state) = parse_state(body.state.as_deref())?
            && state != stored.state
        {
            next.state = state;
            next.state_changed_at = Some(now);
        }
        credentials::merge(&mut next.credentials, imports.to_vec(), stored.id, now)?;
        self.finish(
            &mut next,
            &schema,
            &stored.verifiable_addresses,
            &stored.recovery_addresses,
            now,
        )?;
        Ok(next)
    }

    /// Reads, applies `change`, and writes conditionally; retries on a
    /// concurrent write when the caller gave no expected version.
    async fn read_modify_write(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
        change: impl Fn(Identity, Timestamp) -> Result<Identity, Error>,
    ) -> Result<Identity, Error> {
        let mut attempt = 0;
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
            // The change takes the stored identity apart; only an event sink
            // (which reports what changed) needs it kept whole.
            let old = self.inner.events.is_some().then(|| stored.clone());
            let now = self.inner.clock.now();
            let mut next = change(stored, now)?;
            match self
                .inner
                .store
                .update(
                    tenant,
                    ValidIdentity::new(next.clone()),
                    Some(stored_version),
                )
                .await
            {
                Ok(version) => {
                    next.version = version;
                    self.emit(EventKind::Updated, tenant, old.as_ref(), &next);
                    return Ok(next);
                }
                Err(Error::VersionMismatch { .. })
                    if expected_version.is_none() && attempt < INTERNAL_RETRIES =>
                {
                    tracing::debug!(attempt, "concurrent write; re-reading");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Applies an RFC 6902 JSON Patch to the admin JSON of the identity,
    /// then validates and derives as PUT does (SPEC §9).
    pub async fn patch(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: Value,
        expected_version: Option<u64>,
    ) -> Result<Identity, Error> {
        let span = tracing::info_span!("identity.patch", tenant = %tenant, identity.id = %id);
        async move {
            let ops = patch::parse(patch, &self.inner.config.limits)?;
            self.read_modify_write(tenant, id, expected_version, |stored, now| {
                let (mut next, schema) = patch::apply(self, &stored, &ops, now)?;
                let prior_v = std::mem::take(&mut next.verifiable_addresses);
                let prior_r = std::mem::take(&mut next.recovery_addresses);
                self.finish(&mut next, &schema, &prior_v, &prior_r, now)?;
                Ok(next)
            })
            .await
        }
        .instrument(span)
        .await
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
    ) -> Result<Identity, Error> {
        let span = tracing::info_span!("identity.delete_credential", tenant = %tenant, identity.id = %id, kind);
        async move {
            self.read_modify_write(tenant, id, expected_version, |mut stored, now| {
                credentials::delete(&mut stored.credentials, kind, identifier, now)?;
                let schema = self.inner.schemas.resolve(&stored.schema_id)?.clone();
                let prior_v = std::mem::take(&mut stored.verifiable_addresses);
                let prior_r = std::mem::take(&mut stored.recovery_addresses);
                self.finish(&mut stored, &schema, &prior_v, &prior_r, now)?;
                Ok(stored)
            })
            .await
        }
        .instrument(span)
        .await
    }

    /// The identity with this id.
    pub async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Identity, Error> {
        self.inner
            .store
            .get(tenant, id)
            .instrument(tracing::info_span!("identity.get", tenant = %tenant, identity.id = %id))
            .await
    }

    /// The identity with this external id.
    pub async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Identity, Error> {
        self.inner
            .store
            .get_by_external_id(tenant, external_id)
            .instrument(tracing::info_span!("identity.get_by_external_id", tenant = %tenant))
            .await
    }

    /// The identity holding this identifier of this type; the identifier is
    /// normalised as the type's identifiers are stored.
    pub async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Identity, Error> {
        let normalised = normalize::credential_identifier(kind, identifier);
        self.inner
            .store
            .find_by_identifier(tenant, kind, &normalised)
            .instrument(
                tracing::info_span!("identity.find_by_identifier", tenant = %tenant, kind = %kind),
            )
            .await
    }

    /// Deletes the identity with its credentials and addresses.
    pub async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        let span = tracing::info_span!("identity.delete", tenant = %tenant, identity.id = %id);
        async move {
            let old = if self.inner.events.is_some() {
                Some(self.inner.store.get(tenant, id).await?)
            } else {
                None
            };
            let expected = expected_version.or(old.as_ref().map(|o| o.version));
            self.inner.store.delete(tenant, id, expected).await?;
            if let Some(old) = old {
                self.emit(EventKind::Deleted, tenant, Some(&old), &old);
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// One page of identities, ascending by id (SPEC §8).
    pub async fn list(&self, tenant: TenantId, params: ListParams) -> Result<IdentityPage, Error> {
        let filters = usize::from(!params.ids.is_empty())
            + usize::from(params.credentials_identifier.is_some())
            + usize::from(params.identifier_prefix.is_some())
            + usize::from(params.organization_id.is_some());
        if filters > 1 {
            return Err(Error::invalid(
                "You cannot combine multiple filters in this API",
            ));
        }
        let filter = if !params.ids.is_empty() {
            if params.ids.len() > LIST_IDS_MAX {
                return Err(Error::invalid(format!(
                    "The number of ids to filter must not exceed {LIST_IDS_MAX}."
                )));
            }
            ListFilter::Ids(params.ids)
        } else if let Some(raw) = params.credentials_identifier {
            ListFilter::CredentialIdentifier(
                SEARCHABLE_TYPES
                    .into_iter()
                    .map(|kind| (kind, normalize::credential_identifier(kind, &raw)))
                    .collect(),
            )
        } else if let Some(prefix) = params.identifier_prefix {
            if prefix.is_empty() {
                return Err(Error::invalid("the identifier prefix must not be empty"));
            }
            let folded = normalize::identifier_like(&prefix);
            let mut prefixes = vec![prefix];
            if !prefixes.contains(&folded) && !folded.is_empty() {
                prefixes.push(folded);
            }
            ListFilter::IdentifierPrefix(prefixes)
        } else if let Some(org) = params.organization_id {
            ListFilter::OrganizationId(org)
        } else {
            ListFilter::All
        };
        let limit = params
            .page_size
            .unwrap_or(PAGE_SIZE_DEFAULT)
            .clamp(1, PAGE_SIZE_MAX);
        let after = match params.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(decode_page_token(token)?).filter(|id| !id.is_nil()),
        };
        let page = self
            .inner
            .store
            .list(
                tenant,
                &ListQuery {
                    filter,
                    after,
                    limit,
                },
            )
            .instrument(tracing::info_span!("identity.list", tenant = %tenant))
            .await?;
        let next_page_token = match (page.has_more, page.identities.last()) {
            (true, Some(last)) => Some(encode_page_token(last.id)),
            _ => None,
        };
        Ok(IdentityPage {
            identities: page.identities,
            next_page_token,
        })
    }
}

/// The credential types a `credentials_identifier` search matches, as in
/// Kratos: password, WebAuthn and code identifiers (normalised), OIDC and
/// SAML ones (exact). TOTP, lookup-secret and passkey identifiers are not
/// searchable.
pub const SEARCHABLE_TYPES: [CredentialType; 5] = [
    CredentialType::Password,
    CredentialType::Webauthn,
    CredentialType::Code,
    CredentialType::Oidc,
    CredentialType::Saml,
];

/// The page token for "after this id": the id itself, as Kratos' keyset
/// pagination writes it (the first page's token is the nil UUID).
pub fn encode_page_token(after: Uuid) -> String {
    after.to_string()
}

/// Decodes a page token; a malformed one is invalid input (Kratos' words).
pub fn decode_page_token(token: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(token)
        .map_err(|_| Error::invalid("The page token is invalid, do not craft your own page tokens"))
}

/// Sets the schema-driven credentials to exactly what the traits derive.
fn apply_derived(identity: &mut Identity, derived: &Derived, now: Timestamp) {
    for kind in [
        CredentialType::Password,
        CredentialType::Webauthn,
        CredentialType::Code,
    ] {
        let ids = credentials::canonical(derived.identifiers_of(kind).to_vec());
        let code_config = (kind == CredentialType::Code)
            .then(|| serde_json::json!({ "addresses": derived.code_addresses }));
        match identity.credentials.get_mut(&kind) {
            Some(c) => {
                if ids.is_empty() && (c.config.is_empty() || kind == CredentialType::Code) {
                    identity.credentials.remove(&kind);
                    continue;
                }
                let mut changed = false;
                if c.identifiers != ids {
                    c.identifiers = ids;
                    changed = true;
                }
                if let Some(config) = code_config
                    && c.config.expose() != &config
                {
                    c.config = crate::model::CredentialConfig::new(config);
                    changed = true;
                }
                if changed {
                    c.updated_at = now;
                }
            }
            None if !ids.is_empty() => {
                let config = code_config.unwrap_or_else(|| Value::Object(Default::default()));
                credentials::put(&mut identity.credentials, kind, config, Some(ids), now);
            }
            None => {}
        }
    }
}
