//! The storage contract: what every identity store guarantees.
//!
//! Stores persist; they do not decide. The core validates an identity,
//! derives its identifiers and addresses, and hands the store a
//! [`ValidIdentity`]; the store enforces only what needs atomicity:
//! uniqueness within a tenant and version checks. `identity-store-tests`
//! checks every sentence of these contracts against every store.

use std::fmt::Debug;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ConflictField, Error};
use crate::feed::{ChangeCursor, ChangePage, ChangedFields, PruneChanges};
use crate::manager::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
use crate::model::{
    AddressVia, CredentialType, Credentials, ExternalId, Identity, State, TenantId,
};

/// An identity the core has validated and derived, ready to be stored.
///
/// Only the core constructs it (the `store-testing` feature adds a
/// constructor for store test suites, which checks the same), so a store
/// may rely on what it guarantees:
///
/// - the traits passed validation and the identifiers and addresses were
///   derived from them;
/// - its [`unique_keys`](ValidIdentity::unique_keys) hold no value twice,
///   so a store never needs to de-duplicate them, and a write that
///   collides collides with another identity;
/// - its text follows the core's rule ([`INDEX_KEY_MAX_BYTES`]): no NUL
///   character anywhere, and no index key longer than the bound.
///
/// [`INDEX_KEY_MAX_BYTES`]: crate::INDEX_KEY_MAX_BYTES
///
/// The identity sits behind an [`Arc`]: a store that keeps identities in
/// memory shares it ([`ValidIdentity::shared`]) instead of copying it, and
/// the manager hands the same allocation back to its caller.
#[derive(Clone)]
pub struct ValidIdentity {
    identity: Arc<Identity>,
    /// [`Identity::unique_keys`], copied on first use: the common update
    /// (the same email) asks the store only whether they are those it
    /// holds ([`ValidIdentity::unique_keys_are`]), which needs no copy.
    keys: OnceLock<Vec<ConflictField>>,
    fields: ChangedFields,
    /// The stored identity this update was built on, when it holds exactly
    /// that identity's unique values ([`ValidIdentity::keeps_unique_keys_of`]).
    keys_of: Option<Arc<Identity>>,
}

impl std::fmt::Debug for ValidIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidIdentity")
            .field("identity", &self.identity)
            .field("keys", &self.unique_keys())
            .field("fields", &self.fields)
            .finish()
    }
}

/// The keys follow from the identity, so they are not compared.
impl PartialEq for ValidIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.identity == other.identity && self.fields == other.fields
    }
}

impl Eq for ValidIdentity {}

impl ValidIdentity {
    /// Checks what the type guarantees; [`Error::InvalidInput`] otherwise.
    pub(crate) fn new(identity: Identity) -> Result<Self, Error> {
        crate::text::check(&identity)?;
        if let Some(key) = first_duplicate_key(&identity) {
            return Err(Error::invalid(format!(
                "the identity claims {} twice",
                key.to_owned()
            )));
        }
        Ok(ValidIdentity {
            fields: ChangedFields::of_created(&identity),
            identity: Arc::new(identity),
            keys: OnceLock::new(),
            keys_of: None,
        })
    }

    /// The next version of `stored`, the identity as read from the store,
    /// which differs from it in `fields` (exactly: a field not in `fields`
    /// holds the value `stored` holds), recording that its write changes
    /// them. Checks what [`ValidIdentity::new`] checks, except what it
    /// holds unchanged from `stored`, which passed the same checks when it
    /// was written: the credentials (their configs and identifiers) when
    /// `fields` lacks them, and, when no field holding a unique value
    /// changed, whether a unique value occurs twice (the keys are those of
    /// `stored`). In that case stores may learn that the keys are those of
    /// `stored` ([`ValidIdentity::keeps_unique_keys_of`]).
    ///
    /// `identity` comes shared, as the manager built it (in its own
    /// allocation, which is the one kept).
    pub(crate) fn new_update(
        mut identity: Arc<Identity>,
        stored: Arc<Identity>,
        fields: ChangedFields,
    ) -> Result<Self, Error> {
        {
            // What is unchanged is moved out of the identity while the rest
            // is checked (moves, which allocate nothing), then back. (Not
            // shared: no copy.)
            let next = Arc::make_mut(&mut identity);
            let unchanged = Unchanged::take(next, fields);
            let checked = crate::text::check(next);
            unchanged.put_back(next);
            checked?;
        }
        let keys_kept = !fields.intersects(ChangedFields::UNIQUE_VALUES);
        if !keys_kept && let Some(key) = first_duplicate_key(&identity) {
            return Err(Error::invalid(format!(
                "the identity claims {} twice",
                key.to_owned()
            )));
        }
        Ok(ValidIdentity {
            identity,
            keys: OnceLock::new(),
            fields,
            keys_of: keys_kept.then_some(stored),
        })
    }

    /// The same identity, recording that its write changes `fields`.
    pub(crate) fn with_changed_fields(mut self, fields: ChangedFields) -> Self {
        self.fields = fields;
        self
    }

    /// The same identity, recording that its write changes `fields` (for
    /// store conformance tests; the manager sets them itself).
    #[cfg(feature = "store-testing")]
    pub fn with_changed_fields_for_tests(self, fields: ChangedFields) -> Self {
        self.with_changed_fields(fields)
    }

    /// Checks an identity that did not come through the manager, as the
    /// core's own constructor does: for store conformance tests and
    /// benches. The caller vouches that the traits are valid and the
    /// identifiers and addresses derived; the unique keys and the text are
    /// checked ([`Error::InvalidInput`]).
    #[cfg(feature = "store-testing")]
    pub fn new_for_tests(identity: Identity) -> Result<Self, Error> {
        ValidIdentity::new(identity)
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The identity, shared: a store that keeps what it writes may clone
    /// this [`Arc`] rather than the identity.
    ///
    /// Its [`Identity::version`] is the version the write gives it when the
    /// manager wrote it (1 for a create; the expected version plus 1 for an
    /// update): a store that keeps the shared identity must check that
    /// against the version it assigns, since a caller of the store API may
    /// pass anything there.
    pub fn shared(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// The identity, unwrapped (copied only when it is shared).
    pub fn into_inner(self) -> Identity {
        Arc::unwrap_or_clone(self.identity)
    }

    /// Every value this identity claims that must be unique within its
    /// tenant, besides its id, each once, in [`Identity::unique_keys`]
    /// order.
    pub fn unique_keys(&self) -> &[ConflictField] {
        self.keys.get_or_init(|| self.identity.unique_keys())
    }

    /// Whether `keys` are exactly this identity's
    /// [`unique_keys`](ValidIdentity::unique_keys), each once, in any
    /// order: how a store that keeps the keys of each identity tells that
    /// an update keeps all of them, without copying them.
    pub fn unique_keys_are(&self, keys: &[ConflictField]) -> bool {
        if let Some(own) = self.keys.get() {
            return own.len() == keys.len() && own.iter().all(|k| keys.contains(k));
        }
        // The identity's keys are distinct: when each of them is among
        // `keys` and they are as many, `keys` are they.
        let mut n = 0;
        each_key(&self.identity, |key| {
            n += 1;
            keys.iter().any(|k| key.is(k))
        }) && n == keys.len()
    }

    /// Whether this identity is known to hold exactly the unique values
    /// ([`unique_keys`](ValidIdentity::unique_keys)) of `stored`, the very
    /// allocation (not merely an equal identity): the manager built it as
    /// an update of `stored` without changing a field that holds one. A
    /// store that keeps the identities it holds shared (and the keys of
    /// each) may then skip comparing the keys. `false` when not known, for
    /// every identity the manager did not build on `stored`.
    pub fn keeps_unique_keys_of(&self, stored: &Arc<Identity>) -> bool {
        self.keys_of
            .as_ref()
            .is_some_and(|own| Arc::ptr_eq(own, stored))
    }

    /// The top-level fields its write changes, which the store records in
    /// the write's [`Change`](crate::Change): every field set, for a create
    /// ([`ChangedFields::of_created`]); those that differ from the stored
    /// version, for an update the manager made.
    pub fn changed_fields(&self) -> ChangedFields {
        self.fields
    }
}

/// The parts of an update's identity that hold what the stored identity
/// held (per the fields the update changes), taken out of it while the
/// text rule checks the rest: they passed it when the stored identity was
/// written. Each is `None` when it changed (and stays in the identity).
struct Unchanged {
    traits: Option<Value>,
    metadata_public: Option<Option<Value>>,
    metadata_admin: Option<Option<Value>>,
    credentials: Option<Credentials>,
}

impl Unchanged {
    fn take(identity: &mut Identity, fields: ChangedFields) -> Unchanged {
        let kept = |field| !fields.intersects(field);
        Unchanged {
            traits: kept(ChangedFields::TRAITS).then(|| std::mem::take(&mut identity.traits)),
            metadata_public: kept(ChangedFields::METADATA_PUBLIC)
                .then(|| identity.metadata_public.take()),
            metadata_admin: kept(ChangedFields::METADATA_ADMIN)
                .then(|| identity.metadata_admin.take()),
            credentials: kept(ChangedFields::CREDENTIALS)
                .then(|| std::mem::take(&mut identity.credentials)),
        }
    }

    fn put_back(self, identity: &mut Identity) {
        if let Some(traits) = self.traits {
            identity.traits = traits;
        }
        if let Some(m) = self.metadata_public {
            identity.metadata_public = m;
        }
        if let Some(m) = self.metadata_admin {
            identity.metadata_admin = m;
        }
        if let Some(credentials) = self.credentials {
            identity.credentials = credentials;
        }
    }
}

/// The first key (in order) that occurs again later in `keys`. Pairwise
/// for the handful of keys an identity holds (no hashing, no allocation),
/// sorted beyond that.
fn first_duplicate<K: Ord>(keys: &[K]) -> Option<&K> {
    if keys.len() <= 32 {
        return keys
            .iter()
            .enumerate()
            .find(|(i, key)| keys[i + 1..].contains(key))
            .map(|(_, key)| key);
    }
    let mut sorted: Vec<(&K, usize)> = keys.iter().zip(0..).collect();
    sorted.sort_unstable();
    sorted
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[0])
        .min_by_key(|(_, position)| *position)
        .map(|(key, _)| key)
}

/// The first of `identity`'s unique keys (in order) that occurs again
/// later: [`first_duplicate`] on the keys borrowed, with no copy (and no
/// allocation) for the handful an identity holds.
fn first_duplicate_key(identity: &Identity) -> Option<KeyRef<'_>> {
    const INLINE: usize = 16;
    let mut inline = [KeyRef::ExternalId(""); INLINE];
    let mut len = 0;
    let mut spill = Vec::new();
    each_key(identity, |key| {
        if len < INLINE {
            inline[len] = key;
            len += 1;
        } else {
            if spill.is_empty() {
                spill.extend_from_slice(&inline);
            }
            spill.push(key);
        }
        true
    });
    let keys = if spill.is_empty() {
        &inline[..len]
    } else {
        &spill[..]
    };
    first_duplicate(keys).copied()
}

/// A unique value of an identity, borrowed from it: what
/// [`Identity::unique_keys`] copies into a [`ConflictField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyRef<'a> {
    ExternalId(&'a str),
    CredentialIdentifier(CredentialType, &'a str),
    VerifiableAddress(AddressVia, &'a str),
    RecoveryAddress(AddressVia, &'a str),
}

impl KeyRef<'_> {
    fn to_owned(self) -> ConflictField {
        match self {
            KeyRef::ExternalId(v) => ConflictField::ExternalId(v.to_owned()),
            KeyRef::CredentialIdentifier(kind, v) => {
                ConflictField::CredentialIdentifier(kind, v.to_owned())
            }
            KeyRef::VerifiableAddress(via, v) => {
                ConflictField::VerifiableAddress(via, v.to_owned())
            }
            KeyRef::RecoveryAddress(via, v) => ConflictField::RecoveryAddress(via, v.to_owned()),
        }
    }

    /// Whether `key` is this value.
    fn is(self, key: &ConflictField) -> bool {
        match (self, key) {
            (KeyRef::ExternalId(v), ConflictField::ExternalId(w)) => v == w,
            (KeyRef::CredentialIdentifier(kind, v), ConflictField::CredentialIdentifier(k, w)) => {
                kind == *k && v == w
            }
            (KeyRef::VerifiableAddress(via, v), ConflictField::VerifiableAddress(u, w))
            | (KeyRef::RecoveryAddress(via, v), ConflictField::RecoveryAddress(u, w)) => {
                via == *u && v == w
            }
            _ => false,
        }
    }
}

/// `f` on each unique value of `identity`, borrowed, in
/// [`Identity::unique_keys`] order, until it returns `false`; `false` when
/// it did.
fn each_key<'a>(identity: &'a Identity, mut f: impl FnMut(KeyRef<'a>) -> bool) -> bool {
    if let Some(e) = &identity.external_id
        && !f(KeyRef::ExternalId(e.as_str()))
    {
        return false;
    }
    for (kind, credential) in &identity.credentials {
        for identifier in &credential.identifiers {
            if !f(KeyRef::CredentialIdentifier(*kind, identifier)) {
                return false;
            }
        }
    }
    for a in &identity.verifiable_addresses {
        if !f(KeyRef::VerifiableAddress(a.via, &a.value)) {
            return false;
        }
    }
    for a in &identity.recovery_addresses {
        if !f(KeyRef::RecoveryAddress(a.via, &a.value)) {
            return false;
        }
    }
    true
}

impl Identity {
    /// Every value this identity claims that must be unique within its
    /// tenant, besides its id: external id, each (credential type,
    /// identifier), each verifiable and each recovery address, in that
    /// order.
    pub fn unique_keys(&self) -> Vec<ConflictField> {
        let mut keys = Vec::new();
        each_key(self, |key| {
            keys.push(key.to_owned());
            true
        });
        keys
    }
}

/// What a list call selects (one filter at a time).
///
/// Deliberately exhaustive: a store must answer every filter, so a new one
/// is a breaking change that makes each store's `match` decide how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ListFilter {
    /// Every identity of the tenant.
    #[default]
    All,
    /// These ids (at most 500).
    Ids(Vec<Uuid>),
    /// Identities holding any of these exact (type, identifier) pairs.
    CredentialIdentifier(Vec<(CredentialType, String)>),
    /// Identities holding an identifier of the given type that starts with
    /// the given prefix, for any of these (type, prefix) pairs
    /// (case-sensitive; no character is a wildcard).
    IdentifierPrefix(Vec<(CredentialType, String)>),
    /// Identities of this organization.
    OrganizationId(Uuid),
}

/// One page request: identities with ids greater than `after`, in id order.
///
/// An identity matches when it passes the filter *and* every search
/// criterion that is set (`state`, `schema_id`, `traits`); the criteria
/// combine with every filter and with paging.
///
/// Stores read its fields; it is built with [`ListQuery::new`] and the
/// `with_*` methods, so that a field added later (a new kind of filter) is
/// not a breaking change for the code that builds one. A store destructures
/// it exhaustively, so that a new criterion cannot be ignored silently.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// The filter.
    pub filter: ListFilter,
    /// Exclusive lower bound on the id (keyset pagination).
    pub after: Option<Uuid>,
    /// The most identities to return.
    pub limit: PageSize,
    /// Only identities in this state.
    pub state: Option<State>,
    /// Only identities of this schema (exact).
    pub schema_id: Option<String>,
    /// Only identities whose traits contain this pattern
    /// ([`json_contains`](crate::json_contains), PostgreSQL's `@>`). The
    /// manager passes only objects within the limits.
    pub traits: Option<Value>,
}

impl ListQuery {
    /// A page of at most `limit` identities matching `filter`, with ids
    /// greater than `after` (from the start when `None`).
    ///
    /// ```
    /// use identity_core::{ListFilter, ListQuery, PageSize};
    ///
    /// let first = ListQuery::new(ListFilter::All, None, PageSize::DEFAULT);
    /// assert_eq!((first.after, first.limit.get()), (None, 250));
    /// ```
    pub fn new(filter: ListFilter, after: Option<Uuid>, limit: PageSize) -> Self {
        ListQuery {
            filter,
            after,
            limit,
            state: None,
            schema_id: None,
            traits: None,
        }
    }

    /// Only identities in `state` too.
    pub fn with_state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only identities of the schema `schema_id` too.
    pub fn with_schema_id(mut self, schema_id: impl Into<String>) -> Self {
        self.schema_id = Some(schema_id.into());
        self
    }

    /// Only identities whose traits contain `pattern` too
    /// ([`json_contains`](crate::json_contains)).
    ///
    /// ```
    /// use identity_core::{ListFilter, ListQuery, PageSize, State};
    /// use serde_json::json;
    ///
    /// let query = ListQuery::new(ListFilter::All, None, PageSize::DEFAULT)
    ///     .with_state(State::Active)
    ///     .with_traits(json!({"department": "eng"}));
    /// assert_eq!(query.traits, Some(json!({"department": "eng"})));
    /// ```
    pub fn with_traits(mut self, pattern: Value) -> Self {
        self.traits = Some(pattern);
        self
    }

    /// The query's fields, borrowed, for a store to destructure without
    /// `..` ([`ListQueryParts`]).
    pub fn parts(&self) -> ListQueryParts<'_> {
        ListQueryParts {
            filter: &self.filter,
            after: self.after,
            limit: self.limit,
            state: self.state,
            schema_id: self.schema_id.as_deref(),
            traits: self.traits.as_ref(),
        }
    }
}

/// A [`ListQuery`]'s fields, borrowed, in a struct that is deliberately
/// *not* `#[non_exhaustive]`: a store destructures it without `..`, so a
/// criterion added later fails to compile in every store until the store
/// decides how to answer it (as a new [`ListFilter`] variant does).
///
/// ```
/// use identity_core::{ListFilter, ListQuery, ListQueryParts, PageSize, State};
///
/// let query = ListQuery::new(ListFilter::All, None, PageSize::DEFAULT).with_state(State::Inactive);
/// let ListQueryParts { filter, after, limit, state, schema_id, traits } = query.parts();
/// assert_eq!((filter, after, state, schema_id, traits), (&ListFilter::All, None, Some(State::Inactive), None, None));
/// # let _ = limit;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQueryParts<'a> {
    /// [`ListQuery::filter`].
    pub filter: &'a ListFilter,
    /// [`ListQuery::after`].
    pub after: Option<Uuid>,
    /// [`ListQuery::limit`].
    pub limit: PageSize,
    /// [`ListQuery::state`].
    pub state: Option<State>,
    /// [`ListQuery::schema_id`].
    pub schema_id: Option<&'a str>,
    /// [`ListQuery::traits`].
    pub traits: Option<&'a Value>,
}

impl ListQueryParts<'_> {
    /// Whether any search criterion is set.
    pub fn has_criteria(&self) -> bool {
        self.state.is_some() || self.schema_id.is_some() || self.traits.is_some()
    }

    /// Whether `identity` passes the search criteria (not the filter, nor
    /// the page bounds): the rule for a store without a query language of
    /// its own.
    pub fn criteria_match(&self, identity: &Identity) -> bool {
        self.state.is_none_or(|s| identity.state == s)
            && self.schema_id.is_none_or(|s| identity.schema_id == s)
            && self
                .traits
                .is_none_or(|p| crate::json_contains(&identity.traits, p))
    }
}

/// A page size: at least 1, at most [`PAGE_SIZE_MAX`], so that a store
/// never checks either bound.
///
/// ```
/// use identity_core::PageSize;
///
/// assert_eq!(PageSize::new(10).map(PageSize::get), Some(10));
/// assert_eq!(PageSize::new(0), None);
/// assert_eq!(PageSize::new(501), None);
/// assert_eq!(PageSize::saturating(0).get(), 1);
/// assert_eq!(PageSize::saturating(10_000), PageSize::MAX);
/// ```
///
/// [`PAGE_SIZE_MAX`]: crate::PAGE_SIZE_MAX
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageSize(NonZeroU32);

impl PageSize {
    /// The largest page, [`PAGE_SIZE_MAX`](crate::PAGE_SIZE_MAX).
    pub const MAX: PageSize = PageSize::from_const(PAGE_SIZE_MAX);
    /// The default page, [`PAGE_SIZE_DEFAULT`](crate::PAGE_SIZE_DEFAULT).
    pub const DEFAULT: PageSize = PageSize::from_const(PAGE_SIZE_DEFAULT);

    const fn from_const(n: usize) -> PageSize {
        match NonZeroU32::new(n as u32) {
            Some(n) => PageSize(n),
            None => panic!("page size constants are positive"),
        }
    }

    /// `n` as a page size, or `None` when it is 0 or above the maximum.
    pub fn new(n: usize) -> Option<PageSize> {
        if n > PAGE_SIZE_MAX {
            return None;
        }
        u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .map(PageSize)
    }

    /// `n` brought within 1 and the maximum.
    pub fn saturating(n: usize) -> PageSize {
        PageSize::new(n.clamp(1, PAGE_SIZE_MAX)).unwrap_or(PageSize::MAX)
    }

    /// The size.
    pub fn get(self) -> usize {
        self.0.get() as usize
    }
}

impl Default for PageSize {
    fn default() -> Self {
        PageSize::DEFAULT
    }
}

/// The identities of one page, in ascending id order, and whether more
/// follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The identities, ascending by id.
    pub identities: Vec<Arc<Identity>>,
    /// Whether identities after the last one match too.
    pub has_more: bool,
}

/// A store of identities.
///
/// Every method is scoped to one tenant: no call ever sees or touches
/// another tenant's rows, and every uniqueness rule is per tenant.
/// Identities returned carry their current [`Identity::version`].
///
/// Writes take what they write by reference (a store encodes it, or keeps
/// the [`ValidIdentity::shared`] allocation), and reads hand out shared
/// identities: a store that keeps decoded identities returns another
/// reference to the same allocation, and one that decodes wraps a fresh one.
/// Callers that want to change an identity clone it
/// ([`Arc::unwrap_or_clone`] copies only when it is shared).
///
/// # The change feed
///
/// Every successful write appends, in its own transaction (all or
/// nothing with the write), one [`Change`](crate::Change) per identity it wrote:
///
/// - `create`, and each created entry of `batch_create`: kind `Created`,
///   version 1, fields [`ValidIdentity::changed_fields`];
/// - `update`: kind `Updated`, the new version, fields
///   [`ValidIdentity::changed_fields`];
/// - `delete`: kind `Deleted`, the deleted version plus 1, no fields.
///
/// A write that fails (conflict, version mismatch, not found, a store
/// error) or rolls back appends nothing; a batch entry that fails appends
/// nothing for that entry. The change's `at` is the store's clock at the
/// write.
///
/// Cursors are numbered per tenant, from 1: a change becomes visible to
/// [`IdentityStore::changes`] only after every change of a smaller cursor
/// of its tenant is visible, and the changes of one identity are numbered
/// in version order. So a reader that follows [`ChangePage::next`] sees
/// every committed change exactly once, in an order consistent with each
/// identity's versions, even while writers commit concurrently. (A store
/// that numbers with a sequence taken before commit breaks this: a
/// transaction can take cursor 7, commit after another took and committed
/// 8, and a reader who already went past 8 skips 7. SQLite commits one
/// write at a time; PostgreSQL numbers changes after they commit.) Gaps
/// in the numbering are allowed only where changes were pruned. Along one
/// identity's changes `at` does not go back; along the feed it may, a
/// little, where a change committed late.
#[async_trait]
pub trait IdentityStore: Send + Sync + Debug + 'static {
    /// Inserts a new identity and returns its version (1).
    ///
    /// Atomic: the identity, its credentials, identifiers and addresses are
    /// all written or none is. Fails with [`Error::Conflict`] (op `Create`),
    /// writing nothing, when the id, the external id, a (credential type,
    /// identifier) pair, a (via, value) verifiable address or a (via, value)
    /// recovery address is already taken in the tenant; the error names the
    /// first collision found.
    async fn create(&self, tenant: TenantId, identity: &ValidIdentity) -> Result<u64, Error>;

    /// Inserts each identity as [`IdentityStore::create`] does, in order,
    /// and returns one result per input. A conflict (with a stored identity
    /// or an earlier entry of the batch) fails that entry only. The outer
    /// error is for failures of the store itself.
    async fn batch_create(
        &self,
        tenant: TenantId,
        identities: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error>;

    /// The identity with this id; [`Error::NotFound`] when there is none.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Arc<Identity>, Error>;

    /// The identity with this external id; [`Error::NotFound`] when none.
    async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &ExternalId,
    ) -> Result<Arc<Identity>, Error>;

    /// The identity holding this exact (already normalised) identifier of
    /// this credential type; [`Error::NotFound`] when none.
    async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Arc<Identity>, Error>;

    /// The conflict [`IdentityStore::create`] of this identity would fail
    /// with now, writing nothing: [`ConflictField::Id`] when its id is
    /// taken in the tenant, else the first of its
    /// [`unique_keys`](ValidIdentity::unique_keys), in order, that a stored
    /// identity holds; `None` when the create would succeed.
    ///
    /// A read: it takes no lock a write waits for beyond a read's, and
    /// appends nothing to the change feed. The field named is the one
    /// `create` names for the same stored rows. (Dry runs use it; a create
    /// that follows may still conflict with a write made in between.)
    async fn find_create_conflict(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error>;

    /// Replaces the stored identity of the same id and returns the new
    /// version (the old one plus 1).
    ///
    /// Atomic, and conditional when `expected_version` is given: if the
    /// stored version differs, fails with [`Error::VersionMismatch`] and
    /// writes nothing. [`Error::NotFound`] when no identity has the id;
    /// [`Error::Conflict`] (op `Update`), writing nothing, when a unique
    /// value is held by another identity. Rows that did not change keep
    /// their ids.
    async fn update(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
    ) -> Result<u64, Error>;

    /// Deletes the identity with its credentials, identifiers and
    /// addresses, freeing every unique value it held. [`Error::NotFound`]
    /// when none; [`Error::VersionMismatch`] when `expected_version` is given
    /// and differs.
    async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error>;

    /// One page of identities matching the filter, ascending by id,
    /// starting after `query.after`. Stable under concurrent inserts: an
    /// identity is never returned twice across pages of one walk.
    async fn list(&self, tenant: TenantId, query: &ListQuery) -> Result<ListPage, Error>;

    /// How many identities the tenant holds (Kratos' `X-Total-Count` of a
    /// legacy page). A consistent count at some moment during the call.
    async fn count(&self, tenant: TenantId) -> Result<u64, Error>;

    /// How many identities of the tenant match `query`'s filter and
    /// criteria, as [`IdentityStore::list`] selects them; `query.after` and
    /// `query.limit` are ignored (the count is of every page). A
    /// consistent count at some moment during the call.
    async fn count_matching(&self, tenant: TenantId, query: &ListQuery) -> Result<u64, Error>;

    /// Up to `limit` changes of the tenant with cursors greater than
    /// `after`, ascending (see the trait's section on the change feed).
    ///
    /// With `after` = `None`, from the oldest change kept. With a cursor
    /// before the last pruned change of the tenant (changes after it were
    /// pruned), [`Error::CursorExpired`] and nothing else: never a page
    /// with a silent gap. [`ChangePage::next`] is the last change's cursor,
    /// or, for an empty page, `after` (from the start: the last pruned
    /// cursor, [`ChangeCursor::START`] when none was).
    async fn changes(
        &self,
        tenant: TenantId,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error>;

    /// Removes the tenant's changes that `prune` selects (older than
    /// `before`; beyond the newest `keep_last`), remembers the greatest
    /// cursor removed, and returns how many were removed. Cursors are never
    /// reused after a prune.
    async fn prune_changes(&self, tenant: TenantId, prune: &PruneChanges) -> Result<u64, Error>;

    /// The cursor a named consumer of the tenant's feed saved last, `None`
    /// before its first save.
    async fn consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
    ) -> Result<Option<ChangeCursor>, Error>;

    /// Saves a consumer's cursor, durably. It only moves forward: a cursor
    /// below the saved one leaves the saved one (so two deliverers racing
    /// never move a consumer back).
    async fn save_consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
        cursor: ChangeCursor,
    ) -> Result<(), Error>;
}

/// A shared, type-erased store.
pub type DynIdentityStore = Arc<dyn IdentityStore>;

macro_rules! forward {
    ($ptr:ident) => {
        #[async_trait]
        impl<T: IdentityStore + ?Sized> IdentityStore for $ptr<T> {
            async fn create(&self, t: TenantId, i: &ValidIdentity) -> Result<u64, Error> {
                (**self).create(t, i).await
            }
            async fn batch_create(
                &self,
                t: TenantId,
                i: &[ValidIdentity],
            ) -> Result<Vec<Result<u64, Error>>, Error> {
                (**self).batch_create(t, i).await
            }
            async fn get(&self, t: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
                (**self).get(t, id).await
            }
            async fn get_by_external_id(
                &self,
                t: TenantId,
                e: &ExternalId,
            ) -> Result<Arc<Identity>, Error> {
                (**self).get_by_external_id(t, e).await
            }
            async fn find_by_identifier(
                &self,
                t: TenantId,
                k: CredentialType,
                i: &str,
            ) -> Result<Arc<Identity>, Error> {
                (**self).find_by_identifier(t, k, i).await
            }
            async fn find_create_conflict(
                &self,
                t: TenantId,
                i: &ValidIdentity,
            ) -> Result<Option<ConflictField>, Error> {
                (**self).find_create_conflict(t, i).await
            }
            async fn update(
                &self,
                t: TenantId,
                i: &ValidIdentity,
                v: Option<u64>,
            ) -> Result<u64, Error> {
                (**self).update(t, i, v).await
            }
            async fn delete(&self, t: TenantId, id: Uuid, v: Option<u64>) -> Result<(), Error> {
                (**self).delete(t, id, v).await
            }
            async fn list(&self, t: TenantId, q: &ListQuery) -> Result<ListPage, Error> {
                (**self).list(t, q).await
            }
            async fn count(&self, t: TenantId) -> Result<u64, Error> {
                (**self).count(t).await
            }
            async fn count_matching(&self, t: TenantId, q: &ListQuery) -> Result<u64, Error> {
                (**self).count_matching(t, q).await
            }
            async fn changes(
                &self,
                t: TenantId,
                a: Option<ChangeCursor>,
                l: PageSize,
            ) -> Result<ChangePage, Error> {
                (**self).changes(t, a, l).await
            }
            async fn prune_changes(&self, t: TenantId, p: &PruneChanges) -> Result<u64, Error> {
                (**self).prune_changes(t, p).await
            }
            async fn consumer_cursor(
                &self,
                t: TenantId,
                c: &str,
            ) -> Result<Option<ChangeCursor>, Error> {
                (**self).consumer_cursor(t, c).await
            }
            async fn save_consumer_cursor(
                &self,
                t: TenantId,
                c: &str,
                k: ChangeCursor,
            ) -> Result<(), Error> {
                (**self).save_consumer_cursor(t, c, k).await
            }
        }
    };
}

forward!(Arc);
forward!(Box);

/// Conveniences over any [`IdentityStore`] (kept out of the trait so that
/// implementors and wrappers never inherit default bodies).
#[async_trait]
pub trait IdentityStoreExt: IdentityStore {
    /// [`IdentityStore::get`], with `None` for a missing identity.
    async fn get_opt(&self, tenant: TenantId, id: Uuid) -> Result<Option<Arc<Identity>>, Error> {
        match self.get(tenant, id).await {
            Ok(i) => Ok(Some(i)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every identity matching `filter`, walking all pages.
    async fn list_all(
        &self,
        tenant: TenantId,
        filter: ListFilter,
    ) -> Result<Vec<Arc<Identity>>, Error> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .list(
                    tenant,
                    &ListQuery::new(filter.clone(), after, PageSize::MAX),
                )
                .await?;
            after = page.identities.last().map(|i| i.id);
            out.extend(page.identities);
            if !page.has_more || after.is_none() {
                return Ok(out);
            }
        }
    }
}

impl<T: IdentityStore + ?Sized> IdentityStoreExt for T {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{
        Credential, CredentialConfig, RecoveryAddress, VerifiableAddress, VerificationStatus,
    };
    use crate::time::Timestamp;

    /// An identity claiming an external id, two password identifiers, a
    /// code identifier, a verifiable and a recovery address.
    fn claiming() -> Identity {
        let at = Timestamp::UNIX_EPOCH;
        let credential = |kind, identifiers: &[&str]| Credential {
            kind,
            identifiers: identifiers.iter().map(|s| (*s).to_owned()).collect(),
            config: CredentialConfig::new(json!({})),
            version: 0,
            created_at: at,
            updated_at: at,
        };
        Identity {
            id: Uuid::from_u128(1),
            schema_id: "default".into(),
            state: State::default(),
            state_changed_at: None,
            traits: json!({}),
            credentials: [
                credential(CredentialType::Password, &["a@x.org", "b@x.org"]),
                credential(CredentialType::Code, &["a@x.org"]),
            ]
            .into_iter()
            .map(|c| (c.kind, c))
            .collect(),
            verifiable_addresses: vec![VerifiableAddress {
                id: Uuid::from_u128(2),
                value: "a@x.org".into(),
                verified: false,
                via: AddressVia::Email,
                status: VerificationStatus::Pending,
                verified_at: None,
                created_at: at,
                updated_at: at,
            }],
            recovery_addresses: vec![RecoveryAddress {
                id: Uuid::from_u128(3),
                value: "a@x.org".into(),
                via: AddressVia::Email,
                created_at: at,
                updated_at: at,
            }],
            metadata_public: None,
            metadata_admin: None,
            organization_id: None,
            external_id: ExternalId::from_optional(Some("ext-1".into())).expect("external id"),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    fn password(v: &str) -> ConflictField {
        ConflictField::CredentialIdentifier(CredentialType::Password, v.into())
    }

    /// The keys in order, and `unique_keys_are` (before the keys are
    /// copied and after) true for exactly those keys in any order.
    #[test]
    fn unique_keys_are_exactly_the_identitys_in_any_order() {
        let expected = vec![
            ConflictField::ExternalId("ext-1".into()),
            password("a@x.org"),
            password("b@x.org"),
            ConflictField::CredentialIdentifier(CredentialType::Code, "a@x.org".into()),
            ConflictField::VerifiableAddress(AddressVia::Email, "a@x.org".into()),
            ConflictField::RecoveryAddress(AddressVia::Email, "a@x.org".into()),
        ];
        assert_eq!(claiming().unique_keys(), expected);
        let mut reversed = expected.clone();
        reversed.reverse();
        let mut one_changed = expected.clone();
        one_changed[2] = password("c@x.org");
        let mut one_repeated = expected.clone();
        one_repeated[2] = password("a@x.org");
        let cases: [(&[ConflictField], bool); 7] = [
            (&expected, true),
            (&reversed, true),
            (&expected[1..], false),
            (&[&expected[..], &[password("c@x.org")]].concat(), false),
            (&one_changed, false),
            (&one_repeated, false),
            (&[], false),
        ];
        for copied in [false, true] {
            let valid = ValidIdentity::new(claiming()).expect("valid");
            if copied {
                assert_eq!(valid.unique_keys(), expected);
            }
            for (keys, answer) in &cases {
                assert_eq!(
                    valid.unique_keys_are(keys),
                    *answer,
                    "{keys:?}, copied {copied}"
                );
            }
        }
        let mut none = claiming();
        none.external_id = None;
        none.credentials.clear();
        none.verifiable_addresses.clear();
        none.recovery_addresses.clear();
        let valid = ValidIdentity::new(none).expect("valid");
        assert!(valid.unique_keys_are(&[]));
        assert!(!valid.unique_keys_are(&expected[..1]));
    }

    /// An update that changed no field holding a unique value is known to
    /// keep the keys of the very identity it was built on (not of an equal
    /// copy); one that changed such a field is not, and is checked for a
    /// key claimed twice.
    #[test]
    fn an_update_keeping_its_unique_values_says_so_for_its_stored_identity() {
        let stored = Arc::new(claiming());
        let copy = Arc::new(claiming());
        let traits = ChangedFields::parse_list("traits").expect("fields");
        let kept = ValidIdentity::new_update(Arc::new(claiming()), Arc::clone(&stored), traits)
            .expect("valid");
        assert!(kept.keeps_unique_keys_of(&stored));
        assert!(!kept.keeps_unique_keys_of(&copy));
        assert_eq!(kept.changed_fields(), traits);
        assert!(kept.unique_keys_are(&stored.unique_keys()));
        for changed in [
            "credentials",
            "verifiable_addresses",
            "recovery_addresses",
            "external_id",
        ] {
            let fields = ChangedFields::parse_list(changed).expect("fields");
            let valid =
                ValidIdentity::new_update(Arc::new(claiming()), Arc::clone(&stored), fields)
                    .expect("valid");
            assert!(!valid.keeps_unique_keys_of(&stored), "{changed}");
            let mut twice = claiming();
            let address = twice.recovery_addresses[0].clone();
            twice.recovery_addresses.push(address);
            let e = ValidIdentity::new_update(Arc::new(twice), Arc::clone(&stored), fields);
            assert!(
                matches!(&e, Err(Error::InvalidInput(reason))
                    if reason == "the identity claims recovery address (email) \"a@x.org\" twice"),
                "{changed}: {e:?}"
            );
        }
        let created = ValidIdentity::new(claiming()).expect("valid");
        assert!(!created.keeps_unique_keys_of(&stored));
    }

    /// The text rule checks what an update changed, and leaves out what
    /// it kept as stored (which passed the rule when it was written).
    #[test]
    fn an_update_checks_the_text_it_changed() {
        let stored = Arc::new(claiming());
        let mut nul = claiming();
        nul.traits = json!({"name": {"first": "A\u{0}"}});
        nul.metadata_admin = Some(json!(["\u{0}"]));
        nul.credentials
            .get_mut(&CredentialType::Code)
            .expect("code")
            .config = CredentialConfig::new(json!({"k": "\u{0}"}));
        let named = |names: &str| ChangedFields::parse_list(names).expect("fields");
        for (fields, refused) in [
            ("traits", Some("traits")),
            ("metadata_admin", Some("metadata_admin")),
            ("credentials", Some("the config of the code credential")),
            ("traits,metadata_admin", Some("traits")),
            ("schema_id,state,metadata_public", None),
        ] {
            let result = ValidIdentity::new_update(
                Arc::new(nul.clone()),
                Arc::clone(&stored),
                named(fields),
            );
            match refused {
                Some(what) => {
                    let expected = format!("{what} must not contain a NUL character");
                    assert!(
                        matches!(&result, Err(Error::InvalidInput(reason)) if *reason == expected),
                        "{fields}: {result:?}"
                    );
                }
                None => {
                    // Kept as stored: not checked again, and put back whole.
                    let valid = result.expect(fields);
                    assert_eq!(valid.identity(), &nul, "{fields}");
                }
            }
        }
    }

    /// A key claimed twice is refused, named as the first repeated one,
    /// also past the keys kept inline.
    #[test]
    fn a_key_claimed_twice_is_named() {
        let mut twice = claiming();
        let address = twice.recovery_addresses[0].clone();
        twice.recovery_addresses.push(address);
        assert_eq!(
            refusal(twice),
            "the identity claims recovery address (email) \"a@x.org\" twice"
        );
        let mut many = claiming();
        let identifiers: Vec<String> = (0..40).map(|n| format!("u{n}@x.org")).collect();
        let password = many
            .credentials
            .get_mut(&CredentialType::Password)
            .expect("password");
        password.identifiers = identifiers.clone();
        assert!(ValidIdentity::new(many.clone()).is_ok());
        // The 30th identifier again, then the 20th: the 20th comes first.
        password_identifiers(&mut many).push(identifiers[30].clone());
        password_identifiers(&mut many).push(identifiers[20].clone());
        assert_eq!(
            refusal(many),
            "the identity claims password identifier \"u20@x.org\" twice"
        );
    }

    fn refusal(identity: Identity) -> String {
        match ValidIdentity::new(identity) {
            Err(Error::InvalidInput(reason)) => reason,
            other => panic!("not refused as invalid input: {other:?}"),
        }
    }

    fn password_identifiers(identity: &mut Identity) -> &mut Vec<String> {
        &mut identity
            .credentials
            .get_mut(&CredentialType::Password)
            .expect("password")
            .identifiers
    }

    fn ext(n: usize) -> ConflictField {
        ConflictField::ExternalId(format!("e{n}"))
    }

    /// Both paths (pairwise up to 32 keys, sorted beyond) name the first
    /// key, in order, that occurs again.
    #[test]
    fn first_duplicate_names_the_earliest_repeated_key() {
        for len in [2, 5, 32, 33, 100] {
            let mut keys: Vec<ConflictField> = (0..len).map(ext).collect();
            assert_eq!(first_duplicate(&keys), None, "{len} distinct keys");
            // Key 1 repeats at the end, key 0 repeats after it: key 0 is
            // the first in order that occurs again.
            keys.push(ext(1));
            keys.push(ext(0));
            assert_eq!(first_duplicate(&keys), Some(&ext(0)), "{len} keys");
            keys.pop();
            assert_eq!(first_duplicate(&keys), Some(&ext(1)), "{len} keys");
        }
    }
}
