//! The reference identity store: everything in memory, behind one lock.
//!
//! [`MemoryStore`] implements [`IdentityStore`] as plainly as possible so
//! that it can serve as the model the other stores are compared with. It
//! holds an `Arc<RwLock<State>>`: per tenant, one `BTreeMap` of rows keyed by
//! id and one `BTreeMap` per uniqueness index (external id, (credential
//! type, identifier), verifiable (via, value), recovery (via, value); the
//! pairs nested by kind, so a lookup borrows the value), each mapping a
//! unique value to the id of the identity holding it.
//!
//! Every mutating call takes the write lock once, checks every condition
//! (existence, expected version, every unique value) before changing
//! anything, then writes, appending its change to the tenant's change feed
//! under the same lock; so a call is atomic, a failed call writes nothing,
//! and the feed's cursors follow the order of the writes. No call awaits while holding the lock. Nothing survives the
//! process: this store is for tests, examples and embedding where
//! persistence is not wanted.
//!
//! Rows come in two forms, chosen when the store is made:
//!
//! - [`MemoryStore::new`] keeps each identity decoded and shared: a write
//!   keeps the very allocation the manager validated
//!   ([`ValidIdentity::shared`]), and a read hands out another reference to
//!   it. Nothing is encoded or decoded, and reads cost a map lookup; a
//!   decoded identity takes about 2.7 times its admin JSON in memory.
//! - [`MemoryStore::compact`] keeps each identity in the store's own
//!   compact form (serde-derived tuples as JSON text, independent of the
//!   Kratos wire JSON), about 1.2 times its admin JSON; every read decodes
//!   what it returns and every write encodes, a few microseconds each.
//!
//! ```
//! use identity_core::{IdentityStore, TenantId};
//! use identity_store_memory::MemoryStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let missing = store.get(TenantId::DEFAULT, uuid::Uuid::nil()).await;
//! assert_eq!(missing.unwrap_err().kind(), identity_core::ErrorKind::NotFound);
//! # });
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use identity_core::{
    AddressVia, Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields, Clock as _,
    ConflictField, CredentialType, Error, ExternalId, Identity, IdentityStore, ListFilter,
    ListPage, ListQuery, ListQueryParts, PageSize, PruneChanges, SystemClock, TenantId,
    ValidIdentity, WriteOp,
};
use uuid::Uuid;

mod stored;

use stored::Stored;

/// An identity store kept in memory.
///
/// Clones share the same state (the store is an `Arc` inside), so a clone
/// handed to another task sees every write.
///
/// Its `Debug` counts identities per tenant and prints nothing they hold
/// (the rows carry every credential config).
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
    compact: bool,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("MemoryStore");
        match self.state.try_read() {
            Ok(state) => {
                let counts: BTreeMap<&TenantId, usize> = state
                    .tenants
                    .iter()
                    .map(|(id, tenant)| (id, tenant.rows.len()))
                    .collect();
                s.field("identities_per_tenant", &counts)
            }
            // Busy or poisoned: Debug never blocks.
            Err(_) => s.field("identities_per_tenant", &"<locked>"),
        };
        s.finish()
    }
}

impl MemoryStore {
    /// An empty store that keeps identities decoded and shared: the
    /// fastest form (see the crate documentation).
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// An empty store that keeps identities in its compact encoded form:
    /// less than half the memory of [`MemoryStore::new`], for an encode per
    /// write and a decode per read.
    ///
    /// ```
    /// use identity_core::{IdentityStore, TenantId};
    /// use identity_store_memory::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::compact();
    /// assert_eq!(store.count(TenantId::DEFAULT).await.unwrap(), 0);
    /// # });
    /// ```
    pub fn compact() -> Self {
        MemoryStore {
            compact: true,
            ..MemoryStore::default()
        }
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, State>, Error> {
        self.state.read().map_err(poisoned)
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, State>, Error> {
        self.state.write().map_err(poisoned)
    }
}

/// A panic while the write lock was held. Every write checks all its
/// conditions before its first change, so this takes a bug; the state may be
/// half-written, and serving it would be worse than failing every call.
fn poisoned<T>(_: PoisonError<T>) -> Error {
    Error::Internal {
        message: "memory store lock poisoned by an earlier panic".to_owned(),
        source: None,
    }
}

/// Every tenant's rows and indexes.
#[derive(Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
}

/// One stored identity (shared, or in its own compact form), its version,
/// and what list filters and writes read without decoding it. No `Debug`:
/// the row holds every secret.
struct Row {
    data: RowData,
    version: u64,
    organization_id: Option<Uuid>,
    /// The unique values the row holds in the indexes, so that writes free
    /// them without decoding the identity.
    keys: Box<[ConflictField]>,
}

/// The identity of a row.
enum RowData {
    /// Decoded and shared with readers; its `version` is the row's.
    Shared(Arc<Identity>),
    /// The store's compact form ([`stored::Stored`]): a decoded identity
    /// spends most of its bytes on `serde_json` maps and B-tree nodes, this
    /// about half of them.
    Compact(Box<str>),
}

impl Row {
    fn new(identity: &ValidIdentity, version: u64, compact: bool) -> Result<Row, Error> {
        let i = identity.identity();
        let data = if compact {
            let encoded =
                serde_json::to_string(&Stored::of(i)).map_err(|e| corrupt(&e.to_string()))?;
            RowData::Compact(encoded.into_boxed_str())
        } else if i.version == version {
            RowData::Shared(Arc::clone(identity.shared()))
        } else {
            // Written through the store API at another version than the
            // one it will have: the row needs its own copy.
            let mut own = i.clone();
            own.version = version;
            RowData::Shared(Arc::new(own))
        };
        Ok(Row {
            data,
            version,
            organization_id: i.organization_id,
            keys: identity.unique_keys().into(),
        })
    }

    /// The identity as readers see it, carrying its version.
    fn to_identity(&self) -> Result<Arc<Identity>, Error> {
        match &self.data {
            RowData::Shared(identity) => Ok(Arc::clone(identity)),
            RowData::Compact(encoded) => {
                // From `str`, not bytes: serde_json then skips UTF-8
                // validation.
                let stored: Stored<'_> =
                    serde_json::from_str(encoded).map_err(|e| corrupt(&e.to_string()))?;
                let identity = stored
                    .into_identity(self.version)
                    .map_err(|e| corrupt(&e))?;
                Ok(Arc::new(identity))
            }
        }
    }
}

/// The store wrote these bytes itself from a valid identity, so they always
/// encode and decode; this error would take a bug.
fn corrupt(e: &str) -> Error {
    Error::Internal {
        message: format!("memory store row does not round-trip: {e}"),
        source: None,
    }
}

/// One tenant's rows and uniqueness indexes (each maps a unique value to
/// the id of the identity that holds it), and its change feed.
#[derive(Default)]
struct Tenant {
    rows: BTreeMap<Uuid, Row>,
    external_ids: BTreeMap<String, Uuid>,
    identifiers: Index<CredentialType>,
    verifiable: Index<AddressVia>,
    recovery: Index<AddressVia>,
    feed: Feed,
}

/// One tenant's change feed: the changes kept, ascending by cursor, the
/// last cursor given out, the last cursor pruned, and the consumers' saved
/// cursors. Changed under the same write lock as the rows, so a change is
/// visible exactly when its write is, and cursors follow commit order.
#[derive(Default)]
struct Feed {
    changes: VecDeque<Change>,
    last: u64,
    pruned_through: u64,
    consumers: BTreeMap<String, ChangeCursor>,
}

impl Feed {
    /// Records a write of `tenant` (called once the write can no longer
    /// fail).
    fn append(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        kind: ChangeKind,
        version: u64,
        fields: ChangedFields,
    ) {
        self.last += 1;
        self.changes.push_back(Change::new(
            ChangeCursor::new(self.last),
            tenant,
            id,
            kind,
            version,
            fields,
            SystemClock.now(),
        ));
    }

    fn page(&self, after: Option<ChangeCursor>, limit: PageSize) -> Result<ChangePage, Error> {
        let pruned_through = ChangeCursor::new(self.pruned_through);
        if let Some(after) = after
            && after < pruned_through
        {
            return Err(Error::CursorExpired {
                after,
                pruned_through,
            });
        }
        let after = after.unwrap_or(pruned_through);
        // Cursors ascend, so the first change past `after` is found by
        // bisection.
        let start = self.changes.partition_point(|c| c.cursor <= after);
        let changes: Vec<Change> = self
            .changes
            .range(start..)
            .take(limit.get())
            .cloned()
            .collect();
        let next = changes.last().map_or(after, |c| c.cursor);
        Ok(ChangePage { changes, next })
    }

    fn prune(&mut self, prune: &PruneChanges) -> u64 {
        let mut removed = 0;
        let keep_from = prune
            .keep_last
            .map_or(0, |keep| self.last.saturating_sub(keep));
        while let Some(oldest) = self.changes.front() {
            let too_old = prune.before.is_some_and(|before| oldest.at < before);
            if !(too_old || oldest.cursor.get() <= keep_from) {
                break;
            }
            self.pruned_through = self.pruned_through.max(oldest.cursor.get());
            self.changes.pop_front();
            removed += 1;
        }
        removed
    }
}

/// A uniqueness index over (kind, value) pairs, nested so that a lookup
/// borrows the value (`&str`) instead of building an owned key.
type Index<K> = BTreeMap<K, BTreeMap<String, Uuid>>;

fn lookup<K: Ord>(index: &Index<K>, kind: &K, value: &str) -> Option<Uuid> {
    index.get(kind)?.get(value).copied()
}

fn remove_if_held<K: Ord>(index: &mut Index<K>, kind: &K, value: &str, id: Uuid) {
    if let Some(values) = index.get_mut(kind)
        && values.get(value) == Some(&id)
    {
        values.remove(value);
        if values.is_empty() {
            index.remove(kind);
        }
    }
}

impl Tenant {
    /// The id of the identity holding `key`, if any.
    fn holder(&self, key: &ConflictField) -> Option<Uuid> {
        match key {
            ConflictField::Id => None,
            ConflictField::ExternalId(e) => self.external_ids.get(e).copied(),
            ConflictField::CredentialIdentifier(t, v) => lookup(&self.identifiers, t, v),
            ConflictField::VerifiableAddress(via, v) => lookup(&self.verifiable, via, v),
            ConflictField::RecoveryAddress(via, v) => lookup(&self.recovery, via, v),
        }
    }

    /// Records that `id` holds `key`.
    fn claim(&mut self, key: ConflictField, id: Uuid) {
        match key {
            ConflictField::Id => {}
            ConflictField::ExternalId(e) => {
                self.external_ids.insert(e, id);
            }
            ConflictField::CredentialIdentifier(t, v) => {
                self.identifiers.entry(t).or_default().insert(v, id);
            }
            ConflictField::VerifiableAddress(via, v) => {
                self.verifiable.entry(via).or_default().insert(v, id);
            }
            ConflictField::RecoveryAddress(via, v) => {
                self.recovery.entry(via).or_default().insert(v, id);
            }
        }
    }

    /// Frees `key` if `id` holds it (and only then: a key is never taken
    /// from another identity).
    fn release(&mut self, key: &ConflictField, id: Uuid) {
        match key {
            ConflictField::Id => {}
            ConflictField::ExternalId(e) => {
                if self.external_ids.get(e) == Some(&id) {
                    self.external_ids.remove(e);
                }
            }
            ConflictField::CredentialIdentifier(t, v) => {
                remove_if_held(&mut self.identifiers, t, v, id);
            }
            ConflictField::VerifiableAddress(via, v) => {
                remove_if_held(&mut self.verifiable, via, v, id);
            }
            ConflictField::RecoveryAddress(via, v) => {
                remove_if_held(&mut self.recovery, via, v, id);
            }
        }
    }

    /// The first unique value of `identity` held by another identity, as a
    /// conflict error for `op`.
    fn check_keys(&self, id: Uuid, keys: &[ConflictField], op: WriteOp) -> Result<(), Error> {
        for field in keys {
            if self.holder(field).is_some_and(|holder| holder != id) {
                return Err(Error::Conflict {
                    field: field.clone(),
                    op,
                });
            }
        }
        Ok(())
    }

    /// The stored row with this id, checked against the expected version.
    fn row_at(&self, id: Uuid, expected_version: Option<u64>) -> Result<&Row, Error> {
        let row = self.rows.get(&id).ok_or(Error::NotFound)?;
        match expected_version {
            Some(expected) if expected != row.version => Err(Error::VersionMismatch {
                expected,
                actual: row.version,
            }),
            _ => Ok(row),
        }
    }

    /// Inserts a new identity (the body of `create`).
    fn insert(
        &mut self,
        tenant: TenantId,
        identity: &ValidIdentity,
        compact: bool,
    ) -> Result<u64, Error> {
        let id = identity.identity().id;
        if self.rows.contains_key(&id) {
            return Err(Error::Conflict {
                field: ConflictField::Id,
                op: WriteOp::Create,
            });
        }
        self.check_keys(id, identity.unique_keys(), WriteOp::Create)?;
        let version = 1;
        let row = Row::new(identity, version, compact)?;
        // Every check passed: from here on nothing fails.
        for key in &row.keys {
            self.claim(key.clone(), id);
        }
        self.rows.insert(id, row);
        self.feed.append(
            tenant,
            id,
            ChangeKind::Created,
            version,
            identity.changed_fields(),
        );
        Ok(version)
    }

    /// Replaces a stored identity (the body of `update`).
    fn replace(
        &mut self,
        tenant: TenantId,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
        compact: bool,
    ) -> Result<u64, Error> {
        let id = identity.identity().id;
        let version = self.row_at(id, expected_version)?.version + 1;
        // Keys the identity already holds are held by `id`, so they pass.
        self.check_keys(id, identity.unique_keys(), WriteOp::Update)?;
        let row = Row::new(identity, version, compact)?;
        // Every check passed: from here on nothing fails. Only the keys
        // that change are freed or claimed.
        let old_keys = self
            .rows
            .remove(&id)
            .map(|old| old.keys)
            .unwrap_or_default();
        for key in &row.keys {
            if !old_keys.contains(key) {
                self.claim(key.clone(), id);
            }
        }
        for key in old_keys.iter() {
            if !row.keys.contains(key) {
                self.release(key, id);
            }
        }
        self.rows.insert(id, row);
        self.feed.append(
            tenant,
            id,
            ChangeKind::Updated,
            version,
            identity.changed_fields(),
        );
        Ok(version)
    }

    /// Removes an identity and frees its keys (the body of `delete`).
    fn remove(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        self.row_at(id, expected_version)?;
        if let Some(old) = self.rows.remove(&id) {
            for key in old.keys.iter() {
                self.release(key, id);
            }
            // A delete counts as one more version.
            self.feed.append(
                tenant,
                id,
                ChangeKind::Deleted,
                old.version + 1,
                ChangedFields::NONE,
            );
        }
        Ok(())
    }

    /// The identity holding `key`, as readers see it.
    fn identity_holding(&self, key: &ConflictField) -> Result<Arc<Identity>, Error> {
        self.holder(key)
            .and_then(|id| self.rows.get(&id))
            .ok_or(Error::NotFound)?
            .to_identity()
    }

    /// The ids of identities holding an identifier (of any type) that starts
    /// with one of `prefixes`.
    fn ids_with_identifier_prefix(&self, prefixes: &[(CredentialType, String)]) -> BTreeSet<Uuid> {
        let mut ids = BTreeSet::new();
        for (kind, prefix) in prefixes {
            let Some(values) = self.identifiers.get(kind) else {
                continue;
            };
            // The identifiers starting with `prefix` sit together, from
            // `prefix` on.
            let matching = values
                .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                .take_while(|(value, _)| value.starts_with(prefix.as_str()));
            ids.extend(matching.map(|(_, id)| *id));
        }
        ids
    }

    /// One page of `query`.
    fn page(&self, query: &ListQuery) -> Result<ListPage, Error> {
        let parts = query.parts();
        // Every part named: a new criterion must be answered here.
        let ListQueryParts {
            filter,
            after,
            limit,
            state: _,
            schema_id: _,
            traits: _,
        } = parts;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut identities = Vec::new();
        for row in self.candidates(filter, (lower, Bound::Unbounded)) {
            let Some(identity) = matching(row, &parts)? else {
                continue;
            };
            if identities.len() == limit.get() {
                // One more than asked: more follow.
                return Ok(ListPage {
                    identities,
                    has_more: true,
                });
            }
            identities.push(identity);
        }
        Ok(ListPage {
            identities,
            has_more: false,
        })
    }

    /// How many identities match `query`'s filter and criteria.
    fn count_matching(&self, query: &ListQuery) -> Result<u64, Error> {
        let parts = query.parts();
        if matches!(parts.filter, ListFilter::All) && !parts.has_criteria() {
            return Ok(self.rows.len() as u64);
        }
        let mut n = 0;
        for row in self.candidates(parts.filter, (Bound::Unbounded, Bound::Unbounded)) {
            n += u64::from(matching(row, &parts)?.is_some());
        }
        Ok(n)
    }

    /// The rows `filter` selects within `range`, ascending by id.
    fn candidates<'s>(
        &'s self,
        filter: &ListFilter,
        range: (Bound<Uuid>, Bound<Uuid>),
    ) -> Box<dyn Iterator<Item = &'s Row> + 's> {
        match filter {
            ListFilter::All => Box::new(self.rows.range(range).map(|(_, r)| r)),
            ListFilter::OrganizationId(org) => {
                let org = *org;
                Box::new(
                    self.rows
                        .range(range)
                        .map(|(_, r)| r)
                        .filter(move |r| r.organization_id == Some(org)),
                )
            }
            ListFilter::Ids(ids) => self.rows_among(ids.iter().copied().collect(), range),
            ListFilter::CredentialIdentifier(pairs) => {
                let ids = pairs
                    .iter()
                    .filter_map(|(kind, value)| lookup(&self.identifiers, kind, value))
                    .collect();
                self.rows_among(ids, range)
            }
            ListFilter::IdentifierPrefix(prefixes) => {
                self.rows_among(self.ids_with_identifier_prefix(prefixes), range)
            }
        }
    }

    /// The stored rows among `ids` within `range`, ascending.
    fn rows_among<'s>(
        &'s self,
        ids: BTreeSet<Uuid>,
        range: (Bound<Uuid>, Bound<Uuid>),
    ) -> Box<dyn Iterator<Item = &'s Row> + 's> {
        let ids: Vec<Uuid> = ids.range(range).copied().collect();
        Box::new(ids.into_iter().filter_map(|id| self.rows.get(&id)))
    }
}

/// The identity of `row` when it passes the criteria of `parts`.
fn matching(row: &Row, parts: &ListQueryParts<'_>) -> Result<Option<Arc<Identity>>, Error> {
    let identity = row.to_identity()?;
    Ok(parts.criteria_match(&identity).then_some(identity))
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn create(&self, tenant: TenantId, identity: &ValidIdentity) -> Result<u64, Error> {
        let mut state = self.write()?;
        state
            .tenants
            .entry(tenant)
            .or_default()
            .insert(tenant, identity, self.compact)
    }

    async fn batch_create(
        &self,
        tenant: TenantId,
        identities: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        // One lock for the batch: entries go in order, so an earlier entry
        // claims a value before a later one can.
        let mut state = self.write()?;
        let rows = state.tenants.entry(tenant).or_default();
        Ok(identities
            .iter()
            .map(|i| rows.insert(tenant, i, self.compact))
            .collect())
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        let state = self.read()?;
        state
            .tenants
            .get(&tenant)
            .and_then(|t| t.rows.get(&id))
            .ok_or(Error::NotFound)?
            .to_identity()
    }

    async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        let state = self.read()?;
        let key = ConflictField::ExternalId(external_id.as_str().to_owned());
        state
            .tenants
            .get(&tenant)
            .ok_or(Error::NotFound)?
            .identity_holding(&key)
    }

    async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Arc<Identity>, Error> {
        let state = self.read()?;
        let key = ConflictField::CredentialIdentifier(kind, identifier.to_owned());
        state
            .tenants
            .get(&tenant)
            .ok_or(Error::NotFound)?
            .identity_holding(&key)
    }

    async fn find_create_conflict(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error> {
        let state = self.read()?;
        let Some(t) = state.tenants.get(&tenant) else {
            return Ok(None);
        };
        // What `insert` checks, in its order.
        if t.rows.contains_key(&identity.identity().id) {
            return Ok(Some(ConflictField::Id));
        }
        Ok(identity
            .unique_keys()
            .iter()
            .find(|key| t.holder(key).is_some())
            .cloned())
    }

    async fn update(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
    ) -> Result<u64, Error> {
        let mut state = self.write()?;
        state
            .tenants
            .get_mut(&tenant)
            .ok_or(Error::NotFound)?
            .replace(tenant, identity, expected_version, self.compact)
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        let mut state = self.write()?;
        state
            .tenants
            .get_mut(&tenant)
            .ok_or(Error::NotFound)?
            .remove(tenant, id, expected_version)
    }

    async fn list(&self, tenant: TenantId, query: &ListQuery) -> Result<ListPage, Error> {
        let state = self.read()?;
        match state.tenants.get(&tenant) {
            Some(t) => t.page(query),
            None => Ok(ListPage {
                identities: Vec::new(),
                has_more: false,
            }),
        }
    }

    async fn count(&self, tenant: TenantId) -> Result<u64, Error> {
        let state = self.read()?;
        Ok(state
            .tenants
            .get(&tenant)
            .map_or(0, |t| t.rows.len() as u64))
    }

    async fn count_matching(&self, tenant: TenantId, query: &ListQuery) -> Result<u64, Error> {
        let state = self.read()?;
        state
            .tenants
            .get(&tenant)
            .map_or(Ok(0), |t| t.count_matching(query))
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error> {
        let state = self.read()?;
        match state.tenants.get(&tenant) {
            Some(t) => t.feed.page(after, limit),
            None => Ok(ChangePage {
                changes: Vec::new(),
                next: after.unwrap_or(ChangeCursor::START),
            }),
        }
    }

    async fn prune_changes(&self, tenant: TenantId, prune: &PruneChanges) -> Result<u64, Error> {
        let mut state = self.write()?;
        Ok(state
            .tenants
            .get_mut(&tenant)
            .map_or(0, |t| t.feed.prune(prune)))
    }

    async fn consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
    ) -> Result<Option<ChangeCursor>, Error> {
        let state = self.read()?;
        Ok(state
            .tenants
            .get(&tenant)
            .and_then(|t| t.feed.consumers.get(consumer))
            .copied())
    }

    async fn save_consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
        cursor: ChangeCursor,
    ) -> Result<(), Error> {
        let mut state = self.write()?;
        let consumers = &mut state.tenants.entry(tenant).or_default().feed.consumers;
        match consumers.get_mut(consumer) {
            Some(saved) => *saved = (*saved).max(cursor),
            None => {
                consumers.insert(consumer.to_owned(), cursor);
            }
        }
        Ok(())
    }
}
