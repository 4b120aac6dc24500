//! One tenant: its rows in shards, its uniqueness indexes, its change feed,
//! and the bodies of the store's calls with the locks each takes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use identity_core::{
    ChangeKind, ChangedFields, ConflictField, Error, Identity, ListFilter, ListPage, ListQuery,
    ListQueryParts, ValidIdentity, WriteOp,
};
use uuid::Uuid;

use crate::feed::{Feed, SpareChunk};
use crate::keys::Keys;
use crate::row::Row;

/// How many shards a tenant's rows are spread over (a power of two): two
/// writers of different identities meet in one shard 1 time in 16.
const SHARDS: usize = 16;

/// The rows of one shard, by id.
type Rows = BTreeMap<Uuid, Row>;

/// Each row's version and unique values, and every (value, holder) pair
/// of the indexes.
#[cfg(test)]
pub(crate) type Snapshot = (
    BTreeMap<Uuid, (u64, Vec<ConflictField>)>,
    BTreeSet<(ConflictField, Uuid)>,
);

/// One tenant. Lock order (a call takes a subset, in this order, and
/// never waits for one while holding a later one): `keys`, then shards by
/// ascending index, then `feed`. See the crate documentation.
pub(crate) struct Tenant {
    keys: RwLock<Keys>,
    shards: Box<[Shard]>,
    feed: Mutex<Feed>,
    /// Whether the feed lacks a spare chunk ([`Feed::wants_spare`]), read
    /// without its lock: a hint (a stale read only moves an allocation
    /// into or out of the lock), written when it changes.
    feed_wants_spare: AtomicBool,
}

/// One shard's lock, on a cache line (two, for adjacent-line prefetch) of
/// its own, so that writers in different shards share no line.
#[derive(Default)]
#[repr(align(128))]
struct Shard(RwLock<Rows>);

/// The feed, locked by a write ([`Tenant::feed_for_write`]), used as the
/// feed itself. Dropping it brings the tenant's hint up to date while the
/// lock is still held, lets go of the lock, then (the fields drop in this
/// order) drops a spare chunk the feed did not need, which only two
/// writers that both brought one leave; the write's other locks are still
/// held then.
pub(crate) struct FeedWrite<'a> {
    feed: MutexGuard<'a, Feed>,
    wants_spare: &'a AtomicBool,
    _unused: Option<SpareChunk>,
}

impl std::ops::Deref for FeedWrite<'_> {
    type Target = Feed;

    fn deref(&self) -> &Feed {
        &self.feed
    }
}

impl std::ops::DerefMut for FeedWrite<'_> {
    fn deref_mut(&mut self) -> &mut Feed {
        &mut self.feed
    }
}

impl Drop for FeedWrite<'_> {
    /// The hint is written only when it changes: every writer of the
    /// tenant reads it.
    fn drop(&mut self) {
        let wants = self.feed.wants_spare();
        if self.wants_spare.load(Ordering::Relaxed) != wants {
            self.wants_spare.store(wants, Ordering::Relaxed);
        }
    }
}

impl Default for Tenant {
    fn default() -> Tenant {
        Tenant {
            keys: RwLock::default(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            feed: Mutex::default(),
            feed_wants_spare: AtomicBool::new(true),
        }
    }
}

/// The shard of `id`: its bits mixed (the fixtures' ids, and time-ordered
/// ones, differ only in a few bits), the top ones kept.
fn shard_of(id: Uuid) -> usize {
    let (high, low) = id.as_u64_pair();
    let mixed = (high ^ low).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> (64 - SHARDS.trailing_zeros())) as usize
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> Result<RwLockReadGuard<'_, T>, Error> {
    lock.read().map_err(poisoned)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> Result<RwLockWriteGuard<'_, T>, Error> {
    lock.write().map_err(poisoned)
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, Error> {
    mutex.lock().map_err(poisoned)
}

/// A panic while a lock was held. Every write checks all its conditions
/// and takes every lock it needs before its first change, so this takes a
/// bug; the state may be half-written, and serving it would be worse than
/// failing every call that needs that lock.
/// [`Error::NotFound`], for `ok_or_else`: an [`Error`] has drop glue,
/// which an eager `ok_or(Error::NotFound)` runs on every hit (about 30
/// instructions each, four times a PUT).
pub(crate) fn not_found() -> Error {
    Error::NotFound
}

pub(crate) fn poisoned<T>(_: PoisonError<T>) -> Error {
    Error::Internal {
        message: "memory store lock poisoned by an earlier panic".to_owned(),
        source: None,
    }
}

/// The stored row with this id, checked against the expected version.
fn row_at(rows: &Rows, id: Uuid, expected_version: Option<u64>) -> Result<&Row, Error> {
    let row = rows.get(&id).ok_or_else(not_found)?;
    at_version(row, expected_version)?;
    Ok(row)
}

/// [`row_at`], mutable.
fn row_at_mut(rows: &mut Rows, id: Uuid, expected_version: Option<u64>) -> Result<&mut Row, Error> {
    let row = rows.get_mut(&id).ok_or_else(not_found)?;
    at_version(row, expected_version)?;
    Ok(row)
}

/// Whether `row` is at the expected version (if one is expected).
fn at_version(row: &Row, expected_version: Option<u64>) -> Result<(), Error> {
    match expected_version {
        Some(expected) if expected != row.version => Err(Error::VersionMismatch {
            expected,
            actual: row.version,
        }),
        _ => Ok(()),
    }
}

impl Tenant {
    fn shard(&self, id: Uuid) -> &RwLock<Rows> {
        &self.shards[shard_of(id)].0
    }

    /// Every shard, read-locked in order: a snapshot of all rows.
    fn all_rows(&self) -> Result<Vec<RwLockReadGuard<'_, Rows>>, Error> {
        self.shards.iter().map(|s| read(&s.0)).collect()
    }

    /// The index lock, write-locked, for [`Tenant::insert`] (a batch holds
    /// it over all its entries).
    pub(crate) fn write_keys(&self) -> Result<RwLockWriteGuard<'_, Keys>, Error> {
        write(&self.keys)
    }

    /// The feed, locked (for reads of it, and by writes as their last
    /// lock).
    pub(crate) fn feed(&self) -> Result<MutexGuard<'_, Feed>, Error> {
        lock(&self.feed)
    }

    /// A chunk for the feed's next tail when the feed lacks a spare one
    /// ([`Feed::chunk`]), made by a write before it takes any of the
    /// tenant's locks (a tenant other than the default one is reached
    /// under the tenant map's read lock; `batch_create` makes it under the
    /// index lock, which it holds for the whole batch): the allocation of a
    /// new chunk can make `malloc` consolidate its free lists
    /// (microseconds, now and then), which under the row's shard and the
    /// feed's lock other readers and writers of that shard or tenant would
    /// wait for. A write that then fails drops it.
    pub(crate) fn spare_chunk(&self) -> Option<SpareChunk> {
        self.feed_wants_spare
            .load(Ordering::Relaxed)
            .then(Feed::chunk)
    }

    /// The feed, locked by a write as its last lock, given the write's
    /// [`Tenant::spare_chunk`].
    fn feed_for_write(&self, chunk: Option<SpareChunk>) -> Result<FeedWrite<'_>, Error> {
        let mut feed = self.feed()?;
        let unused = chunk.and_then(|chunk| feed.give_spare(chunk));
        Ok(FeedWrite {
            feed,
            wants_spare: &self.feed_wants_spare,
            _unused: unused,
        })
    }

    /// The hint of whether the feed wants a spare chunk, and the feed's own
    /// answer.
    #[cfg(test)]
    pub(crate) fn spare_hint(&self) -> (bool, bool) {
        let feed = self.feed().expect("feed");
        (
            self.feed_wants_spare.load(Ordering::Relaxed),
            feed.wants_spare(),
        )
    }

    /// Inserts a new identity (the body of `create`): the caller holds the
    /// index lock, this takes the row's shard, then the feed. `spare` is
    /// the caller's [`Tenant::spare_chunk`], made before the index lock.
    pub(crate) fn insert(
        &self,
        keys: &mut Keys,
        identity: &ValidIdentity,
        row: Row,
        spare: Option<SpareChunk>,
    ) -> Result<u64, Error> {
        let id = identity.identity().id;
        let mut rows = write(self.shard(id))?;
        if rows.contains_key(&id) {
            return Err(Error::Conflict {
                field: ConflictField::Id,
                op: WriteOp::Create,
            });
        }
        keys.check(id, identity.unique_keys(), WriteOp::Create)?;
        let version = 1;
        let row = row.at_version(version);
        let mut feed = self.feed_for_write(spare)?;
        // Every check passed and every lock is held: from here on nothing
        // fails.
        for key in &row.keys {
            keys.claim(key.clone(), id);
        }
        rows.insert(id, row);
        feed.append(id, ChangeKind::Created, version, identity.changed_fields());
        Ok(version)
    }

    /// Replaces a stored identity (the body of `update`). `row` comes
    /// without its keys ([`Row::new`]).
    ///
    /// When the identity keeps exactly the unique values the row holds (the
    /// common update: same email, same identifiers), the indexes need no
    /// change and no other identity can take those values (the row holds
    /// them), so this takes only the row's shard and the feed, and the new
    /// row takes over the old one's list of them (the same values, maybe
    /// in another order: nothing reads their order) instead of a copy.
    /// Otherwise it lets go and starts over in lock order: the index lock,
    /// the shard, the feed, checking everything again.
    pub(crate) fn replace(
        &self,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
        row: Row,
    ) -> Result<u64, Error> {
        let id = identity.identity().id;
        let mut spare = self.spare_chunk();
        let row = {
            let mut rows = write(self.shard(id))?;
            let current = row_at_mut(&mut rows, id, expected_version)?;
            // The row holds the keys of its identity; an update built on
            // that very identity without touching them keeps them all.
            if current.keys_kept_by(identity) || identity.unique_keys_are(&current.keys) {
                let version = current.version + 1;
                let mut row = row.at_version(version);
                let mut feed = self.feed_for_write(spare.take())?;
                // Every check passed and every lock is held: from here on
                // nothing fails.
                row.keys = std::mem::take(&mut current.keys);
                let old = std::mem::replace(current, row);
                feed.append(id, ChangeKind::Updated, version, identity.changed_fields());
                // The old row (maybe the last reference to an identity) is
                // freed after the locks.
                drop(feed);
                drop(rows);
                drop(old);
                return Ok(version);
            }
            drop(rows);
            // The values change: the row gets its own copy of them, made
            // while no lock is held.
            row.with_keys(identity.unique_keys())
        };
        let mut keys = write(&self.keys)?;
        let mut rows = write(self.shard(id))?;
        let version = row_at(&rows, id, expected_version)?.version + 1;
        // Keys the identity already holds are held by `id`, so they pass.
        keys.check(id, identity.unique_keys(), WriteOp::Update)?;
        let row = row.at_version(version);
        let mut feed = self.feed_for_write(spare)?;
        // Every check passed and every lock is held: from here on nothing
        // fails. Only the keys that change are freed or claimed.
        let old = rows.remove(&id);
        let old_keys = old.as_ref().map_or(&[][..], |old| &old.keys);
        for key in &row.keys {
            if !old_keys.contains(key) {
                keys.claim(key.clone(), id);
            }
        }
        for key in old_keys {
            if !row.keys.contains(key) {
                keys.release(key, id);
            }
        }
        rows.insert(id, row);
        feed.append(id, ChangeKind::Updated, version, identity.changed_fields());
        drop(feed);
        drop(rows);
        drop(keys);
        drop(old);
        Ok(version)
    }

    /// Removes an identity and frees its keys (the body of `delete`): the
    /// index lock, the row's shard, the feed.
    pub(crate) fn remove(&self, id: Uuid, expected_version: Option<u64>) -> Result<(), Error> {
        let spare = self.spare_chunk();
        let mut keys = write(&self.keys)?;
        let mut rows = write(self.shard(id))?;
        row_at(&rows, id, expected_version)?;
        let mut feed = self.feed_for_write(spare)?;
        let old = rows.remove(&id);
        if let Some(old) = &old {
            for key in &old.keys {
                keys.release(key, id);
            }
            // A delete counts as one more version.
            feed.append(
                id,
                ChangeKind::Deleted,
                old.version + 1,
                ChangedFields::NONE,
            );
        }
        drop(feed);
        drop(rows);
        drop(keys);
        drop(old);
        Ok(())
    }

    /// The identity with this id: its shard only.
    pub(crate) fn get(&self, id: Uuid) -> Result<Arc<Identity>, Error> {
        read(self.shard(id))?
            .get(&id)
            .ok_or_else(not_found)?
            .to_identity()
    }

    /// The identity holding `key`: the index lock, then the holder's
    /// shard, both read. A row loses or gains keys only under the index
    /// write lock, so the index and the rows agree while it is held.
    pub(crate) fn identity_holding(&self, key: &ConflictField) -> Result<Arc<Identity>, Error> {
        let keys = read(&self.keys)?;
        let id = keys.holder(key).ok_or_else(not_found)?;
        let rows = read(self.shard(id))?;
        // The check the invariant makes redundant, kept because it is free.
        let row = rows
            .get(&id)
            .filter(|row| row.keys.contains(key))
            .ok_or_else(not_found)?;
        row.to_identity()
    }

    /// How many identities the tenant holds, or `None` when a shard is
    /// busy (for `Debug`, which never blocks).
    pub(crate) fn try_count(&self) -> Option<usize> {
        self.shards
            .iter()
            .map(|s| s.0.try_read().ok().map(|rows| rows.len()))
            .sum()
    }

    /// How many identities the tenant holds, at one moment: every shard
    /// read-locked at once.
    pub(crate) fn count(&self) -> Result<u64, Error> {
        Ok(self.all_rows()?.iter().map(|rows| rows.len() as u64).sum())
    }

    /// One page of `query`, from one snapshot: the index lock (the
    /// identifier filters read it), then every shard, all read.
    pub(crate) fn page(&self, query: &ListQuery) -> Result<ListPage, Error> {
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
        let keys = read(&self.keys)?;
        let shards = self.all_rows()?;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut identities = Vec::new();
        for row in candidates(&shards, &keys, filter, (lower, Bound::Unbounded)) {
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

    /// How many identities match `query`'s filter and criteria, from one
    /// snapshot (as [`Tenant::page`]).
    pub(crate) fn count_matching(&self, query: &ListQuery) -> Result<u64, Error> {
        let parts = query.parts();
        if matches!(parts.filter, ListFilter::All) && !parts.has_criteria() {
            return self.count();
        }
        let keys = read(&self.keys)?;
        let shards = self.all_rows()?;
        let mut n = 0;
        for row in candidates(
            &shards,
            &keys,
            parts.filter,
            (Bound::Unbounded, Bound::Unbounded),
        ) {
            n += u64::from(matching(row, &parts)?.is_some());
        }
        Ok(n)
    }

    /// The conflict a create of `identity` would fail with now (what
    /// [`Tenant::insert`] checks, in its order): the index lock, then the
    /// id's shard, both read.
    pub(crate) fn create_conflict(
        &self,
        identity: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error> {
        let keys = read(&self.keys)?;
        let id = identity.identity().id;
        if read(self.shard(id))?.contains_key(&id) {
            return Ok(Some(ConflictField::Id));
        }
        Ok(identity
            .unique_keys()
            .iter()
            .find(|key| keys.holder(key).is_some())
            .cloned())
    }

    /// The rows and the indexes, all locked, for the tests' consistency
    /// checks.
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Snapshot {
        let keys = read(&self.keys).expect("keys");
        let shards = self.all_rows().expect("shards");
        let rows = shards
            .iter()
            .enumerate()
            .flat_map(|(n, rows)| {
                rows.iter().map(move |(id, row)| {
                    assert_eq!(shard_of(*id), n, "a row in the wrong shard");
                    (*id, (row.version, row.keys.to_vec()))
                })
            })
            .collect();
        (rows, keys.all())
    }
}

/// The identity of `row` when it passes the criteria of `parts`.
fn matching(row: &Row, parts: &ListQueryParts<'_>) -> Result<Option<Arc<Identity>>, Error> {
    let identity = row.to_identity()?;
    Ok(parts.criteria_match(&identity).then_some(identity))
}

/// The rows `filter` selects within `range`, ascending by id across the
/// shards.
fn candidates<'a>(
    shards: &'a [RwLockReadGuard<'_, Rows>],
    keys: &Keys,
    filter: &'a ListFilter,
    range: (Bound<Uuid>, Bound<Uuid>),
) -> Box<dyn Iterator<Item = &'a Row> + 'a> {
    match filter {
        ListFilter::All => Box::new(Merged::new(shards, range)),
        ListFilter::OrganizationId(org) => {
            let org = *org;
            Box::new(Merged::new(shards, range).filter(move |r| r.organization_id == Some(org)))
        }
        ListFilter::Ids(ids) => rows_among(shards, ids.iter().copied().collect(), range),
        ListFilter::CredentialIdentifier(pairs) => {
            rows_among(shards, keys.ids_with_identifiers(pairs), range)
        }
        ListFilter::IdentifierPrefix(prefixes) => {
            rows_among(shards, keys.ids_with_identifier_prefix(prefixes), range)
        }
    }
}

/// The rows of every shard within a range, merged ascending by id: the
/// smallest head among the shards at each step.
struct Merged<'a> {
    iters: Vec<std::collections::btree_map::Range<'a, Uuid, Row>>,
    heads: Vec<Option<(&'a Uuid, &'a Row)>>,
}

impl<'a> Merged<'a> {
    fn new(shards: &'a [RwLockReadGuard<'_, Rows>], range: (Bound<Uuid>, Bound<Uuid>)) -> Self {
        let mut iters: Vec<_> = shards.iter().map(|rows| rows.range(range)).collect();
        let heads = iters.iter_mut().map(Iterator::next).collect();
        Merged { iters, heads }
    }
}

impl<'a> Iterator for Merged<'a> {
    type Item = &'a Row;

    fn next(&mut self) -> Option<&'a Row> {
        let n = (0..self.heads.len())
            .filter_map(|n| self.heads[n].map(|(id, _)| (*id, n)))
            .min()
            .map(|(_, n)| n)?;
        let (_, row) = self.heads[n]?;
        self.heads[n] = self.iters[n].next();
        Some(row)
    }
}

/// The stored rows among `ids` within `range`, ascending.
fn rows_among<'a>(
    shards: &'a [RwLockReadGuard<'_, Rows>],
    ids: BTreeSet<Uuid>,
    range: (Bound<Uuid>, Bound<Uuid>),
) -> Box<dyn Iterator<Item = &'a Row> + 'a> {
    let ids: Vec<Uuid> = ids.range(range).copied().collect();
    Box::new(
        ids.into_iter()
            .filter_map(move |id| shards[shard_of(id)].get(&id)),
    )
}
