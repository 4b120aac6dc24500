//! Schema migration: the identities of a tenant that use one schema,
//! revalidated against another, page by page; a dry run reports, an apply
//! moves the valid ones with conditional writes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::AddAssign;
use std::sync::Arc;

use tracing::Instrument as _;
use uuid::Uuid;

use super::IdentityManager;
use crate::error::{ConflictField, Error, ErrorKind};
use crate::feed::ChangedFields;
use crate::model::{Identity, TenantId};
use crate::observe::{Operation, observed};
use crate::schema::IdentitySchema;
use crate::store::{ListFilter, ListQuery, PageSize, ValidIdentity};

/// How often one identity is re-read and checked again when a concurrent
/// write moved its version between the read and the migration's write;
/// past it the identity is [`MigrationOutcome::Contended`] and left as it
/// is.
pub const MIGRATION_RETRIES: u32 = 3;

/// One page of a schema migration: which schemas, dry run or apply, where
/// to resume, how many identities.
///
/// Start from [`SchemaMigration::new`] (a dry run of the first page of
/// [`PageSize::DEFAULT`] identities) and set the rest with the `with_*`
/// methods; pass each page's [`MigrationPage::next`] to the next call.
///
/// ```
/// use identity_core::{PageSize, SchemaMigration};
///
/// let first = SchemaMigration::new("customer-v1", "customer-v2")
///     .with_apply(true)
///     .with_page_size(PageSize::new(100).expect("1..=500"));
/// assert_eq!((first.apply, first.after, first.page_size.get()), (true, None, 100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaMigration {
    /// The schema the identities use now (resolved as a create resolves
    /// it: empty is the default schema, a base64url form names its id).
    pub from: String,
    /// The schema to revalidate them against and move them to.
    pub to: String,
    /// Write the valid ones (`false`: a dry run, which writes nothing).
    pub apply: bool,
    /// Resume after this identity id: the [`MigrationPage::next`] of the
    /// previous page (`None`: from the start).
    pub after: Option<Uuid>,
    /// How many identities this page scans.
    pub page_size: PageSize,
}

impl SchemaMigration {
    /// A dry run of the first page (of [`PageSize::DEFAULT`]) of the
    /// identities of schema `from`, against schema `to`.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        SchemaMigration {
            from: from.into(),
            to: to.into(),
            apply: false,
            after: None,
            page_size: PageSize::DEFAULT,
        }
    }

    /// Write the valid identities (`true`), or only report (`false`).
    pub fn with_apply(mut self, apply: bool) -> Self {
        self.apply = apply;
        self
    }

    /// Resume after this cursor (a previous page's
    /// [`next`](MigrationPage::next)).
    pub fn with_after(mut self, after: Option<Uuid>) -> Self {
        self.after = after;
        self
    }

    /// Scan at most this many identities.
    pub fn with_page_size(mut self, page_size: PageSize) -> Self {
        self.page_size = page_size;
        self
    }
}

/// A value another identity holds that the migrated identity would take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The value (a credential identifier or an address).
    pub field: ConflictField,
    /// The identity holding it, when the store can tell: for a credential
    /// identifier always, for an address only when the holder is an
    /// identity of the same page (the store has no lookup by address).
    pub holder: Option<Uuid>,
}

/// What the migration did, or would do, with one identity.
///
/// Deliberately exhaustive (not `#[non_exhaustive]`): a new outcome is a
/// breaking change that must make every report of it (the HTTP answer, a
/// CLI) decide how to say it.
#[derive(Debug)]
pub enum MigrationOutcome {
    /// Dry run: valid against the target schema and colliding with
    /// nothing; an apply would move it.
    Valid,
    /// Applied: moved to the target schema; it is now at this version.
    Moved {
        /// The new version.
        version: u64,
    },
    /// Valid against the target schema, and moving it changes nothing (the
    /// two schemas are one, and derive what is stored): nothing is written.
    Unchanged,
    /// Not valid against the target schema; left untouched. The error is
    /// the one a create or update with these traits gets: a validation
    /// error with its violations (Kratos' messages), or an invalid input
    /// (a limit, a derived identifier that breaks the text rule).
    Invalid(Error),
    /// It would take values other identities hold (each named with the
    /// holder when the store can tell); left untouched.
    Colliding(Vec<Collision>),
    /// Applied: deleted by a concurrent write before it could be moved.
    Gone,
    /// Applied: a concurrent write moved it to another schema before it
    /// could be moved; left as that write left it.
    LeftSchema {
        /// The schema it uses now.
        schema_id: String,
    },
    /// Applied: concurrent writes changed it [`MIGRATION_RETRIES`] times
    /// more after it was re-read; left untouched (run the page again).
    Contended,
}

/// One identity of a migration page.
#[derive(Debug)]
pub struct MigrationEntry {
    /// The identity.
    pub id: Uuid,
    /// The version evaluated: the last one read (the version before the
    /// move, for a moved identity).
    pub version: u64,
    /// What happened, or would happen.
    pub outcome: MigrationOutcome,
    /// The unique values (credential identifiers, verifiable and recovery
    /// addresses) the identity holds under the target schema and not now,
    /// in the order [`Identity::unique_keys`] lists them. Empty for an
    /// invalid identity.
    pub added: Vec<ConflictField>,
    /// The unique values it holds now and would not under the target
    /// schema (it frees them). Empty for an invalid identity.
    pub removed: Vec<ConflictField>,
    /// How often a concurrent write made the migration re-read and check
    /// it again (apply only; at most [`MIGRATION_RETRIES`]).
    pub rechecked: u32,
}

/// How many identities of a page (or, added up, of a whole migration)
/// ended how.
///
/// ```
/// use identity_core::MigrationCounts;
///
/// let mut total = MigrationCounts::default();
/// total += MigrationCounts { scanned: 2, valid: 1, invalid: 1, ..Default::default() };
/// total += MigrationCounts { scanned: 1, valid: 1, moved: 1, ..Default::default() };
/// assert_eq!((total.scanned, total.valid, total.invalid, total.moved), (3, 2, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationCounts {
    /// Identities scanned.
    pub scanned: u64,
    /// Valid against the target schema and colliding with nothing
    /// ([`Valid`](MigrationOutcome::Valid), [`Moved`](MigrationOutcome::Moved),
    /// [`Unchanged`](MigrationOutcome::Unchanged)).
    pub valid: u64,
    /// [`Invalid`](MigrationOutcome::Invalid).
    pub invalid: u64,
    /// [`Colliding`](MigrationOutcome::Colliding).
    pub colliding: u64,
    /// [`Moved`](MigrationOutcome::Moved).
    pub moved: u64,
    /// Changed by a concurrent write and left as it was:
    /// [`Gone`](MigrationOutcome::Gone),
    /// [`LeftSchema`](MigrationOutcome::LeftSchema),
    /// [`Contended`](MigrationOutcome::Contended).
    pub skipped: u64,
    /// Re-read at least once after a concurrent write (whatever the
    /// outcome).
    pub rechecked: u64,
}

impl AddAssign for MigrationCounts {
    fn add_assign(&mut self, other: MigrationCounts) {
        self.scanned += other.scanned;
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.colliding += other.colliding;
        self.moved += other.moved;
        self.skipped += other.skipped;
        self.rechecked += other.rechecked;
    }
}

impl MigrationCounts {
    fn count(&mut self, entry: &MigrationEntry) {
        self.scanned += 1;
        self.rechecked += u64::from(entry.rechecked > 0);
        match entry.outcome {
            MigrationOutcome::Valid | MigrationOutcome::Unchanged => self.valid += 1,
            MigrationOutcome::Moved { .. } => {
                self.valid += 1;
                self.moved += 1;
            }
            MigrationOutcome::Invalid(_) => self.invalid += 1,
            MigrationOutcome::Colliding(_) => self.colliding += 1,
            MigrationOutcome::Gone
            | MigrationOutcome::LeftSchema { .. }
            | MigrationOutcome::Contended => self.skipped += 1,
        }
    }
}

/// One page of a schema migration.
#[derive(Debug)]
pub struct MigrationPage {
    /// The source schema's id, resolved.
    pub from: String,
    /// The target schema's id, resolved.
    pub to: String,
    /// Whether the page was applied (`false`: a dry run, nothing written).
    pub applied: bool,
    /// One entry per identity scanned, ascending by id.
    pub entries: Vec<MigrationEntry>,
    /// The counts of this page's entries.
    pub counts: MigrationCounts,
    /// The cursor to resume from ([`SchemaMigration::with_after`]); `None`
    /// when this page was the last.
    pub next: Option<Uuid>,
    /// How many identities of the tenant use the source schema after this
    /// page (after its writes, when applied): with an apply, what is left
    /// to move, or to fix.
    pub on_from_schema: u64,
}

impl IdentityManager {
    /// One page of a schema migration: the identities of the tenant that
    /// use schema `from`, ascending by id after `after`, each revalidated
    /// against schema `to` as an update to that schema would revalidate
    /// it, with one [`MigrationEntry`] each (a dry run), and, with
    /// `apply`, the valid ones moved.
    ///
    /// For each identity the traits are validated against `to` and its
    /// identifiers and addresses derived by the rules of every write
    /// (credential identifiers of the schema-driven types replaced by what
    /// the traits give; addresses reconciled: one `to` still derives keeps
    /// its id, verification status and `verified_at`, as in an update; a
    /// new one starts pending). The entry tells what it would gain and
    /// lose ([`added`](MigrationEntry::added),
    /// [`removed`](MigrationEntry::removed)) and whether a gained value is
    /// held by another identity, asked of the store with
    /// [`find_create_conflict`](crate::IdentityStore::find_create_conflict)
    /// (a read). A dry run also counts what the page's earlier valid
    /// identities would claim and free, as an apply of the page would
    /// write them in order; values claimed or freed on other pages are
    /// not known to it.
    ///
    /// With `apply`, each valid, collision-free identity is written with
    /// the version it was read at: a concurrent write in between makes the
    /// store refuse it, and the migration re-reads the identity and checks
    /// it again (at most [`MIGRATION_RETRIES`] times), so a concurrent
    /// change is carried over, never overwritten. The change feed records
    /// each move as an update. Invalid and colliding identities are left
    /// untouched. A dry run writes nothing and records nothing.
    ///
    /// Resuming: [`MigrationPage::next`] is the cursor of the next page.
    /// Moved identities no longer use `from`, so a run started again from
    /// the beginning scans only what is left. A store failure ends the call
    /// with its error; the identities of the page moved before it stay
    /// moved, and calling again with the same cursor goes on.
    ///
    /// An unknown `from` or `to` is an invalid-input error, `Unable to find
    /// JSON Schema ID: <id>`, as for a create.
    ///
    /// ```
    /// # async fn demo(manager: identity_core::IdentityManager) -> Result<(), identity_core::Error> {
    /// use identity_core::{MigrationCounts, MigrationOutcome, SchemaMigration, TenantId};
    ///
    /// let mut after = None;
    /// let mut total = MigrationCounts::default();
    /// loop {
    ///     let request = SchemaMigration::new("v1", "v2").with_apply(true).with_after(after);
    ///     let page = manager.migrate_schema(TenantId::DEFAULT, request).await?;
    ///     for entry in &page.entries {
    ///         if let MigrationOutcome::Invalid(error) = &entry.outcome {
    ///             println!("{} stays on v1: {error}", entry.id);
    ///         }
    ///     }
    ///     total += page.counts;
    ///     match page.next {
    ///         Some(next) => after = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// println!("moved {} of {}", total.moved, total.scanned);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate_schema(
        &self,
        tenant: TenantId,
        request: SchemaMigration,
    ) -> Result<MigrationPage, Error> {
        let operation = if request.apply {
            Operation::MigrateSchema
        } else {
            Operation::MigrateSchemaDryRun
        };
        let migrate = async move {
            let from = Arc::clone(self.inner.schemas.resolve(&request.from)?);
            let to = Arc::clone(self.inner.schemas.resolve(&request.to)?);
            let span = tracing::info_span!(
                "identity.migrate_schema",
                tenant = %tenant,
                from = from.id(),
                to = to.id(),
                apply = request.apply,
            );
            async move {
                let query = ListQuery::new(ListFilter::All, request.after, request.page_size)
                    .with_schema_id(from.id());
                let page = self.inner.store.list(tenant, &query).await?;
                let next = match (page.has_more, page.identities.last()) {
                    (true, Some(last)) => Some(last.id),
                    _ => None,
                };
                let mut claims = PageClaims::default();
                let mut entries = Vec::with_capacity(page.identities.len());
                let mut counts = MigrationCounts::default();
                for stored in page.identities {
                    let entry = self
                        .migrate_one(tenant, from.id(), &to, stored, request.apply, &mut claims)
                        .await?;
                    counts.count(&entry);
                    entries.push(entry);
                }
                let on_from_schema = self
                    .inner
                    .store
                    .count_matching(
                        tenant,
                        &ListQuery::new(ListFilter::All, None, PageSize::DEFAULT)
                            .with_schema_id(from.id()),
                    )
                    .await?;
                Ok(MigrationPage {
                    from: from.id().to_owned(),
                    to: to.id().to_owned(),
                    applied: request.apply,
                    entries,
                    counts,
                    next,
                    on_from_schema,
                })
            }
            .instrument(span)
            .await
        };
        observed(operation, migrate).await
    }

    /// Checks one identity against `to` and, with `apply`, moves it.
    async fn migrate_one(
        &self,
        tenant: TenantId,
        from: &str,
        to: &IdentitySchema,
        mut stored: Arc<Identity>,
        apply: bool,
        claims: &mut PageClaims,
    ) -> Result<MigrationEntry, Error> {
        let id = stored.id;
        let mut rechecked = 0;
        let entry = |version: u64, rechecked: u32, outcome, added, removed| MigrationEntry {
            id,
            version,
            outcome,
            added,
            removed,
            rechecked,
        };
        loop {
            let version = stored.version;
            if stored.schema_id != from {
                let schema_id = stored.schema_id.clone();
                let outcome = MigrationOutcome::LeftSchema { schema_id };
                return Ok(entry(version, rechecked, outcome, Vec::new(), Vec::new()));
            }
            let next = match self.migrated(&stored, to) {
                Ok(next) => next,
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::Validation | ErrorKind::InvalidInput
                    ) =>
                {
                    let outcome = MigrationOutcome::Invalid(error);
                    return Ok(entry(version, rechecked, outcome, Vec::new(), Vec::new()));
                }
                Err(error) => return Err(error),
            };
            let (added, removed) = key_diff(&stored, &next);
            let page_claims = (!apply).then_some(&*claims);
            let collisions = self.collisions(tenant, &next, &added, page_claims).await?;
            let outcome = if !collisions.is_empty() {
                MigrationOutcome::Colliding(collisions)
            } else if next.changed_fields().is_empty() {
                MigrationOutcome::Unchanged
            } else if !apply {
                claims.record(id, &added, &removed);
                MigrationOutcome::Valid
            } else {
                match self.inner.store.update(tenant, &next, Some(version)).await {
                    Ok(written) => MigrationOutcome::Moved { version: written },
                    Err(Error::VersionMismatch { actual, .. }) => {
                        if rechecked >= MIGRATION_RETRIES {
                            let outcome = MigrationOutcome::Contended;
                            return Ok(entry(actual, rechecked, outcome, Vec::new(), Vec::new()));
                        }
                        rechecked += 1;
                        tracing::debug!(identity.id = %id, rechecked, "concurrent write; re-reading");
                        match self.inner.store.get(tenant, id).await {
                            Ok(again) => {
                                stored = again;
                                continue;
                            }
                            Err(Error::NotFound) => {
                                let outcome = MigrationOutcome::Gone;
                                return Ok(entry(
                                    actual,
                                    rechecked,
                                    outcome,
                                    Vec::new(),
                                    Vec::new(),
                                ));
                            }
                            Err(error) => return Err(error),
                        }
                    }
                    Err(Error::NotFound) => {
                        let outcome = MigrationOutcome::Gone;
                        return Ok(entry(version, rechecked, outcome, Vec::new(), Vec::new()));
                    }
                    // A value taken between the check and the write.
                    Err(Error::Conflict { field, .. }) => {
                        let holder = self.holder(tenant, &field).await?;
                        MigrationOutcome::Colliding(vec![Collision { field, holder }])
                    }
                    Err(error) => return Err(error),
                }
            };
            return Ok(entry(version, rechecked, outcome, added, removed));
        }
    }

    /// `stored` moved to `to`: validated against it and derived as an
    /// update derives, at the version its write gives it, with the fields
    /// that change.
    fn migrated(&self, stored: &Identity, to: &IdentitySchema) -> Result<ValidIdentity, Error> {
        let now = self.inner.clock.now();
        let mut next = stored.clone();
        next.schema_id = to.id().to_owned();
        let prior_v = std::mem::take(&mut next.verifiable_addresses);
        let prior_r = std::mem::take(&mut next.recovery_addresses);
        self.finish(&mut next, to, &prior_v, &prior_r, now)?;
        next.version = stored.version + 1;
        let fields = ChangedFields::between(stored, &next);
        Ok(ValidIdentity::new(next)?.with_changed_fields(fields))
    }

    /// The values of `added` another identity holds: claimed by an earlier
    /// identity of the page (`claims`, a dry run), or held in the store
    /// (unless an earlier identity of the page frees it).
    async fn collisions(
        &self,
        tenant: TenantId,
        next: &ValidIdentity,
        added: &[ConflictField],
        claims: Option<&PageClaims>,
    ) -> Result<Vec<Collision>, Error> {
        let mut found = Vec::new();
        let mut ask: Vec<ConflictField> = Vec::new();
        for key in added {
            match claims.and_then(|c| c.claimed.get(key)) {
                Some(holder) => found.push(Collision {
                    field: key.clone(),
                    holder: Some(*holder),
                }),
                None => ask.push(key.clone()),
            }
        }
        // The store names the first held value of a probe: asked again
        // without it until it names none (once, when nothing collides).
        while !ask.is_empty() {
            let Some(field) = self.probe(tenant, next.identity(), &ask).await? else {
                break;
            };
            let before = ask.len();
            ask.retain(|k| k != &field);
            if ask.len() == before {
                return Err(Error::Internal {
                    message: format!("the store named {field}, which the probe does not hold"),
                    source: None,
                });
            }
            if claims.is_some_and(|c| c.released.contains_key(&field)) {
                continue;
            }
            let holder = self.holder(tenant, &field).await?;
            found.push(Collision { field, holder });
        }
        found.sort_by_key(|c| added.iter().position(|k| *k == c.field));
        Ok(found)
    }

    /// The first of `keys` (values `next` derives) a stored identity holds:
    /// [`find_create_conflict`](crate::IdentityStore::find_create_conflict)
    /// of an identity holding only those values, under an id no generator
    /// makes (the nil UUID, else the max one).
    async fn probe(
        &self,
        tenant: TenantId,
        next: &Identity,
        keys: &[ConflictField],
    ) -> Result<Option<ConflictField>, Error> {
        let mut probe = next.clone();
        probe.external_id = None;
        for (kind, credential) in probe.credentials.iter_mut() {
            credential.identifiers.retain(|identifier| {
                keys.contains(&ConflictField::CredentialIdentifier(
                    *kind,
                    identifier.clone(),
                ))
            });
        }
        probe
            .verifiable_addresses
            .retain(|a| keys.contains(&ConflictField::VerifiableAddress(a.via, a.value.clone())));
        probe
            .recovery_addresses
            .retain(|a| keys.contains(&ConflictField::RecoveryAddress(a.via, a.value.clone())));
        for id in [Uuid::nil(), Uuid::max()] {
            probe.id = id;
            let valid = ValidIdentity::new(probe.clone())?;
            match self
                .inner
                .store
                .find_create_conflict(tenant, &valid)
                .await?
            {
                Some(ConflictField::Id) => continue,
                other => return Ok(other),
            }
        }
        Err(Error::Internal {
            message: "no free identity id to look for collisions with".to_owned(),
            source: None,
        })
    }

    /// The identity holding `field`, when the store can tell.
    async fn holder(&self, tenant: TenantId, field: &ConflictField) -> Result<Option<Uuid>, Error> {
        let found = match field {
            ConflictField::CredentialIdentifier(kind, value) => {
                self.inner
                    .store
                    .find_by_identifier(tenant, *kind, value)
                    .await
            }
            ConflictField::ExternalId(value) => match crate::model::ExternalId::new(value) {
                Ok(external_id) => {
                    self.inner
                        .store
                        .get_by_external_id(tenant, &external_id)
                        .await
                }
                Err(_) => return Ok(None),
            },
            ConflictField::Id
            | ConflictField::VerifiableAddress(..)
            | ConflictField::RecoveryAddress(..) => {
                return Ok(None);
            }
        };
        match found {
            Ok(identity) => Ok(Some(identity.id)),
            Err(Error::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// What the valid identities of a dry-run page so far would claim and
/// free, each with the identity: an apply writes them in order.
#[derive(Debug, Default)]
struct PageClaims {
    claimed: BTreeMap<ConflictField, Uuid>,
    released: BTreeMap<ConflictField, Uuid>,
}

impl PageClaims {
    fn record(&mut self, id: Uuid, added: &[ConflictField], removed: &[ConflictField]) {
        for key in added {
            self.released.remove(key);
            self.claimed.insert(key.clone(), id);
        }
        for key in removed {
            self.released.insert(key.clone(), id);
        }
    }
}

/// The unique values `next` holds that `stored` does not, and the other
/// way round, each in [`Identity::unique_keys`] order.
fn key_diff(stored: &Identity, next: &ValidIdentity) -> (Vec<ConflictField>, Vec<ConflictField>) {
    let old = stored.unique_keys();
    let new = next.unique_keys();
    let old_set: BTreeSet<&ConflictField> = old.iter().collect();
    let new_set: BTreeSet<&ConflictField> = new.iter().collect();
    let added = new
        .iter()
        .filter(|k| !old_set.contains(k))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|k| !new_set.contains(k))
        .cloned()
        .collect();
    (added, removed)
}
