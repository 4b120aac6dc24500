//! The reference identity store: everything in memory.
//!
//! [`MemoryStore`] implements [`IdentityStore`] as plainly as possible so
//! that it can serve as the model the other stores are compared with. Per
//! tenant it holds the rows, keyed by id and spread by a hash of the id
//! over 16 shards, each behind its own `RwLock`; the uniqueness indexes
//! behind one `RwLock` (external id, (credential type, identifier),
//! verifiable (via, value), recovery (via, value); the pairs nested by
//! kind, so a lookup borrows the value), each mapping a unique value to the
//! id of the identity holding it; and the change feed behind a `Mutex`.
//! The tenants themselves sit in one map behind an `RwLock` that calls
//! read-lock for their whole length; only the first write of a new tenant
//! write-locks it, to add the tenant. The default tenant, where an
//! embedder without tenants keeps every identity, sits outside the map
//! and is reached without that lock (whose count every call of every
//! thread would otherwise write).
//!
//! # Locks
//!
//! A call takes its locks in this order, and never waits for one while
//! holding a later one, so no two calls wait on each other in a cycle:
//! the tenant map (read; not for the default tenant), the tenant's index
//! lock, its shards by ascending index, its feed. Which ones each call
//! takes:
//!
//! | call | index | shards | feed |
//! |---|---|---|---|
//! | `get` | | the row's, read | |
//! | `get_by_external_id`, `find_by_identifier` | read | the holder's, read | |
//! | `update` keeping its unique values | | the row's, write | yes |
//! | `update` changing them | write | the row's, write | yes |
//! | `create`, `delete` (`batch_create`: the index for the whole batch) | write | the row's, write | yes |
//! | `find_create_conflict` | read | the id's, read | |
//! | `list`, `count_matching` | read | all, read | |
//! | `count` | | all, read | |
//! | `changes`, `prune_changes`, consumer cursors | | | yes |
//!
//! Every write checks every condition (existence, expected version, every
//! unique value) and takes every lock it needs before changing anything,
//! then writes the row, the indexes and its change in the feed, and only
//! then lets go: so a call is atomic, a failed call writes nothing, and the
//! feed's cursors follow the order in which writes committed (the order of
//! their critical sections, which overlap on the feed's lock). A row gains
//! or loses unique values only under the index write lock, so the indexes
//! agree with the rows whenever that lock is free; an update that keeps its
//! values (the common PUT: the same email) needs no index lock, as the
//! values it holds cannot be taken by anyone else. Two updates of
//! different identities meet only in the feed's lock (and in a shard one
//! time in 16), so they run side by side on two threads. The feed keeps
//! its changes in chunks of 24; the allocation of the next one (which can
//! make `malloc` sort and merge its free lists, microseconds now and then)
//! is made by a write before it takes any of the tenant's locks, whenever
//! the feed has no spare chunk, so that no other call of the tenant waits
//! for it; the feed keeps that spare (960 bytes) until its tail fills.
//! `list` and `count` hold every shard at once: a snapshot. No call awaits while
//! holding a lock. Nothing survives the process: this store is for tests,
//! examples and embedding where persistence is not wanted.
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

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use identity_core::{
    ChangeCursor, ChangePage, ConflictField, CredentialType, Error, ExternalId, Identity,
    IdentityStore, ListPage, ListQuery, PageSize, PruneChanges, TenantId, ValidIdentity,
};
use uuid::Uuid;

mod feed;
mod keys;
mod row;
mod stored;
mod tenant;
#[cfg(test)]
mod tests;

use row::Row;
use tenant::{Tenant, not_found, read, write};

/// An identity store kept in memory.
///
/// Clones share the same state (the store is an `Arc` inside), so a clone
/// handed to another task sees every write.
///
/// Its `Debug` counts identities per tenant and prints nothing they hold
/// (the rows carry every credential config).
#[derive(Clone, Default)]
pub struct MemoryStore {
    tenants: Arc<Tenants>,
    compact: bool,
}

/// The tenants: the default one apart, set on its first write and read
/// without a lock, and the others in a map.
#[derive(Default)]
struct Tenants {
    default: OnceLock<Tenant>,
    others: RwLock<BTreeMap<TenantId, Tenant>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("MemoryStore");
        // Busy or poisoned: Debug never blocks.
        let others = self.tenants.others.try_read().ok();
        let default = self.tenants.default.get().map(|t| (&TenantId::DEFAULT, t));
        let counts: Option<BTreeMap<&TenantId, usize>> = others.as_ref().and_then(|others| {
            default
                .into_iter()
                .chain(others.iter())
                .map(|(id, tenant)| Some((id, tenant.try_count()?)))
                .collect()
        });
        match counts {
            Some(counts) => s.field("identities_per_tenant", &counts),
            None => s.field("identities_per_tenant", &"<locked>"),
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

    /// `f` on the tenant, or `None` when it holds nothing yet.
    fn in_tenant<R>(
        &self,
        tenant: TenantId,
        f: impl FnOnce(&Tenant) -> Result<R, Error>,
    ) -> Result<Option<R>, Error> {
        if tenant == TenantId::DEFAULT {
            return self.tenants.default.get().map(f).transpose();
        }
        let tenants = read(&self.tenants.others)?;
        tenants.get(&tenant).map(f).transpose()
    }

    /// `f` on the tenant, added first if missing (tenants are never
    /// removed).
    fn in_new_tenant<R>(
        &self,
        tenant: TenantId,
        f: impl FnOnce(&Tenant) -> Result<R, Error>,
    ) -> Result<R, Error> {
        if tenant == TenantId::DEFAULT {
            return f(self.tenants.default.get_or_init(Tenant::default));
        }
        {
            let tenants = read(&self.tenants.others)?;
            if let Some(t) = tenants.get(&tenant) {
                return f(t);
            }
        }
        write(&self.tenants.others)?.entry(tenant).or_default();
        let tenants = read(&self.tenants.others)?;
        let t = tenants.get(&tenant).ok_or_else(|| Error::Internal {
            message: "memory store tenant vanished".to_owned(),
            source: None,
        })?;
        f(t)
    }

    /// The row of `identity` and its keys, made before any lock is taken.
    fn row(&self, identity: &ValidIdentity) -> Result<Row, Error> {
        Ok(Row::new(identity, self.compact)?.with_keys(identity.unique_keys()))
    }
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn create(&self, tenant: TenantId, identity: &ValidIdentity) -> Result<u64, Error> {
        let row = self.row(identity)?;
        self.in_new_tenant(tenant, |t| {
            let spare = t.spare_chunk();
            t.insert(&mut *t.write_keys()?, identity, row, spare)
        })
    }

    async fn batch_create(
        &self,
        tenant: TenantId,
        identities: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        let rows: Vec<Result<Row, Error>> = identities.iter().map(|i| self.row(i)).collect();
        // One index lock for the batch: entries go in order, so an earlier
        // entry claims a value before a later one can.
        self.in_new_tenant(tenant, |t| {
            let mut keys = t.write_keys()?;
            Ok(identities
                .iter()
                .zip(rows)
                // A batch holds the index lock throughout: the feed's
                // next chunk is made under it, but not under a shard's.
                .map(|(i, row)| t.insert(&mut keys, i, row?, t.spare_chunk()))
                .collect())
        })
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        self.in_tenant(tenant, |t| t.get(id))?.ok_or_else(not_found)
    }

    async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        let key = ConflictField::ExternalId(external_id.as_str().to_owned());
        self.in_tenant(tenant, |t| t.identity_holding(&key))?
            .ok_or_else(not_found)
    }

    async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Arc<Identity>, Error> {
        let key = ConflictField::CredentialIdentifier(kind, identifier.to_owned());
        self.in_tenant(tenant, |t| t.identity_holding(&key))?
            .ok_or_else(not_found)
    }

    async fn update(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
    ) -> Result<u64, Error> {
        // Without its keys: `replace` moves them over from the stored row,
        // or copies them when they change.
        let row = Row::new(identity, self.compact)?;
        self.in_tenant(tenant, |t| t.replace(identity, expected_version, row))?
            .ok_or_else(not_found)
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        self.in_tenant(tenant, |t| t.remove(id, expected_version))?
            .ok_or_else(not_found)
    }

    async fn list(&self, tenant: TenantId, query: &ListQuery) -> Result<ListPage, Error> {
        Ok(self
            .in_tenant(tenant, |t| t.page(query))?
            .unwrap_or(ListPage {
                identities: Vec::new(),
                has_more: false,
            }))
    }

    async fn count(&self, tenant: TenantId) -> Result<u64, Error> {
        Ok(self.in_tenant(tenant, Tenant::count)?.unwrap_or(0))
    }

    async fn count_matching(&self, tenant: TenantId, query: &ListQuery) -> Result<u64, Error> {
        Ok(self
            .in_tenant(tenant, |t| t.count_matching(query))?
            .unwrap_or(0))
    }

    async fn find_create_conflict(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error> {
        Ok(self
            .in_tenant(tenant, |t| t.create_conflict(identity))?
            .flatten())
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error> {
        Ok(self
            .in_tenant(tenant, |t| t.feed()?.page(tenant, after, limit))?
            .unwrap_or(ChangePage {
                changes: Vec::new(),
                next: after.unwrap_or(ChangeCursor::START),
            }))
    }

    async fn prune_changes(&self, tenant: TenantId, prune: &PruneChanges) -> Result<u64, Error> {
        Ok(self
            .in_tenant(tenant, |t| Ok(t.feed()?.prune(prune)))?
            .unwrap_or(0))
    }

    async fn consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
    ) -> Result<Option<ChangeCursor>, Error> {
        Ok(self
            .in_tenant(tenant, |t| Ok(t.feed()?.consumers.get(consumer).copied()))?
            .flatten())
    }

    async fn save_consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
        cursor: ChangeCursor,
    ) -> Result<(), Error> {
        self.in_new_tenant(tenant, |t| {
            let mut feed = t.feed()?;
            match feed.consumers.get_mut(consumer) {
                Some(saved) => *saved = (*saved).max(cursor),
                None => {
                    feed.consumers.insert(consumer.to_owned(), cursor);
                }
            }
            Ok(())
        })
    }
}
