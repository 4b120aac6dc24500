//! [`SqliteStore`]: connections, where each call runs (reads on the
//! caller's thread, writes on the blocking pool), and the
//! [`IdentityStore`] implementation.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use async_trait::async_trait;
use identity_core::{
    ChangeCursor, ChangeKind, ChangePage, ChangedFields, ConflictField, CredentialType, Error,
    ExternalId, Identity, IdentityStore, ListPage, ListQuery, PageSize, PruneChanges, TenantId,
    ValidIdentity, WriteOp,
};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};
use tokio::runtime::RuntimeFlavor;
use uuid::Uuid;

use crate::error::{self, ResultExt, unique_violation};
use crate::feed::{self, Pending};
use crate::options::{Location, SqliteOptions, parse_location};
use crate::rows::{self, nid};
use crate::schema;
use crate::search::{self, Select};

/// An [`IdentityStore`] on SQLite.
///
/// One writer connection behind a mutex takes every write, each in one
/// `BEGIN IMMEDIATE` transaction. A write from a Tokio task runs on
/// tokio's blocking pool (`spawn_blocking`): it waits for its `fsync`
/// (milliseconds), and the executor must not. A write from a caller that
/// is no task (`Runtime::block_on` of a multi-threaded runtime, or no
/// Tokio runtime at all) runs on the caller's thread, which waits for it
/// anyway, and saves the hop to another thread and back. A write whose
/// future is dropped still finishes (or rolls back) its transaction as a
/// whole.
///
/// Reads of a file database run on the caller's thread, on a reader
/// connection from a small pool, each in one snapshot (WAL lets them run
/// while the writer writes, so a read never waits for a write). A read is
/// one or two statements on one row each and decodes one document, which
/// costs less than a hop to the blocking pool and back or to a thread
/// owning the connection (figures in the crate documentation); so an
/// async caller's executor thread is busy for the read itself, as with any
/// short synchronous call. A read that would have to wait (SQLite busy,
/// which WAL readers meet only while another connection holds the file
/// exclusively) is handed to the blocking pool and waits there, up to the
/// busy timeout. Reads of an in-memory database go through the writer
/// connection: on the caller's thread when it is free, else on the
/// blocking pool (or, for a caller that is no task, still on its own
/// thread). No Tokio runtime is needed: outside one, every call runs on
/// the caller's thread.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    location: Location,
    options: SqliteOptions,
    writer: Mutex<Connection>,
    /// Idle reader connections (file databases only).
    readers: Mutex<Vec<Connection>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.inner.location)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if it does not exist) the database at
    /// `path_or_url`: a file path, `sqlite://path` (parameters after `?`
    /// are passed to SQLite as a `file:` URI, e.g. `?mode=ro`), a `file:`
    /// URI, or `sqlite::memory:` for a private in-memory database.
    ///
    /// Sets WAL mode and the synchronous level, and applies the schema
    /// migrations this version is missing. Fails with
    /// [`Error::Unavailable`] when the file cannot be opened or stays
    /// locked past the busy timeout, and with [`Error::Internal`] when the
    /// file is not an identity store or was made by a newer version of
    /// this library.
    ///
    /// This call blocks while it opens and migrates the file; from an
    /// async context, call it at startup or inside `spawn_blocking`.
    pub fn open(path_or_url: &str, options: SqliteOptions) -> Result<SqliteStore, Error> {
        let location = parse_location(path_or_url)?;
        let mut writer = match &location {
            Location::Memory => Connection::open_in_memory(),
            Location::File(path) => Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ),
        }
        .ctx("open database")?;
        schema::prepare_writer(&mut writer, &options, location == Location::Memory)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                location,
                options,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` on the writer connection, on the blocking pool (unit tests
    /// reach behind the store with it).
    #[cfg(test)]
    pub(crate) async fn with_writer<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking("raw access", move || {
            f(&mut inner.writer()).ctx("raw access")
        })
        .await
    }

    /// Runs the read `f`: on the caller's thread, unless it would have to
    /// wait for a lock, in which case it waits on the blocking pool.
    async fn read<T, F>(&self, context: &'static str, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if let Some(done) = self.inner.read_here(context, &f) {
            return done;
        }
        let inner = Arc::clone(&self.inner);
        blocking(context, move || inner.read_waiting(context, &f)).await
    }

    async fn write<T, F>(&self, context: &'static str, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(context, move || f(&mut inner.writer())).await
    }
}

/// Whether work that blocks (a write, a read that waits for a lock) may
/// run on the caller's thread rather than on the blocking pool: when the
/// caller is no task of a Tokio runtime, its thread is blocked on this
/// very call (`Runtime::block_on` of a
/// multi-threaded runtime, whose tasks run on other threads, or an
/// executor other than Tokio's), so a write's `fsync` stalls no other
/// task, and the hop to another thread and back (tens of microseconds a
/// write on a virtual machine) is saved. A task, and the one thread of a
/// current-thread runtime, hand the work to the blocking pool.
fn may_block_here() -> bool {
    match tokio::runtime::Handle::try_current() {
        Err(_) => true,
        Ok(handle) => {
            tokio::task::try_id().is_none()
                && !matches!(handle.runtime_flavor(), RuntimeFlavor::CurrentThread)
        }
    }
}

impl Inner {
    /// The writer, never left inside a transaction.
    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held unwound through the transaction
        // guard, which rolled back: the connection is still sound.
        ready(self.writer.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs a read without waiting for any lock; `None` when it would have
    /// to wait (the in-memory database's writer is busy, or SQLite is).
    fn read_here<T>(
        &self,
        context: &str,
        f: &impl Fn(&Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, Error>> {
        let Location::File(path) = &self.location else {
            let conn = match self.writer.try_lock() {
                Ok(conn) => conn,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return None,
            };
            return Some(f(&ready(conn)).ctx(context));
        };
        let conn = match self.reader(path) {
            Ok(conn) => conn,
            Err(e) => return Some(Err(e)),
        };
        let result = f(&conn);
        self.put_back(conn);
        match result {
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => None,
            result => Some(result.ctx(context)),
        }
    }

    /// Runs a read that may wait, up to the busy timeout (on the blocking
    /// pool).
    fn read_waiting<T>(
        &self,
        context: &str,
        f: &impl Fn(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let Location::File(path) = &self.location else {
            return f(&self.writer()).ctx(context);
        };
        let conn = self.reader(path)?;
        conn.busy_timeout(self.options.busy_timeout).ctx(context)?;
        let result = f(&conn);
        if conn.busy_timeout(Duration::ZERO).is_ok() {
            self.put_back(conn);
        }
        result.ctx(context)
    }

    /// An idle reader, or a new one. Readers wait for no lock (busy
    /// timeout 0) unless [`Inner::read_waiting`] sets one.
    fn reader(&self, path: &Path) -> Result<Connection, Error> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx("open reader")?;
        schema::configure(&conn, &self.options)?;
        conn.pragma_update(None, "query_only", true)
            .ctx("open reader")?;
        conn.busy_timeout(Duration::ZERO).ctx("open reader")?;
        Ok(conn)
    }

    /// Keeps a reader for the next read, up to `max_readers` of them.
    fn put_back(&self, conn: Connection) {
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.options.max_readers {
            idle.push(conn);
        }
    }
}

/// The writer connection, out of any transaction a panic left open.
fn ready(conn: MutexGuard<'_, Connection>) -> MutexGuard<'_, Connection> {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn
}

/// Runs `f` on tokio's blocking pool, or here when [`may_block_here`].
async fn blocking<T: Send + 'static>(
    context: &'static str,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if may_block_here() {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(Error::internal(
            format!("{context}: the database task failed"),
            e,
        )),
    }
}

pub(crate) fn begin<'c>(
    conn: &'c mut Connection,
    context: &str,
) -> Result<rusqlite::Transaction<'c>, Error> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(context)
}

/// The error of a failed write: a unique violation becomes a conflict
/// naming the value that collided; anything else goes through
/// [`error::map`].
fn write_failure(
    conn: &Connection,
    tenant: &[u8; 16],
    identity: &ValidIdentity,
    own_pk: Option<i64>,
    op: WriteOp,
    e: rusqlite::Error,
) -> Error {
    let context = match op {
        WriteOp::Create => "create identity",
        WriteOp::Update => "update identity",
    };
    let Some(index) = unique_violation(&e) else {
        return error::map(context, e);
    };
    let found = match rows::find_conflict(conn, tenant, identity, own_pk, op) {
        Ok(found) => found,
        Err(lookup) => return error::map(context, lookup),
    };
    match found.or_else(|| index?.backstop(identity)) {
        Some(field) => Error::Conflict { field, op },
        None => Error::internal("unexpected unique constraint violation", e),
    }
}

/// Inserts one identity inside the caller's transaction.
fn insert(conn: &Connection, tenant: &[u8; 16], identity: &ValidIdentity) -> Result<(), Error> {
    let mut pk = None;
    rows::insert(conn, tenant, identity.identity(), &mut pk)
        .map_err(|e| write_failure(conn, tenant, identity, pk, WriteOp::Create, e))
}

fn list_page(
    conn: &Connection,
    tenant: &[u8; 16],
    query: &ListQuery,
) -> rusqlite::Result<ListPage> {
    let limit = query.limit.get();
    let statement = search::statement(tenant, query, Select::Page);
    // One statement: the page is one snapshot.
    let mut identities = rows::collect(conn, &statement.sql, statement.params())?;
    let has_more = identities.len() > limit;
    identities.truncate(limit);
    Ok(ListPage {
        identities,
        has_more,
    })
}

fn count_matching(
    conn: &Connection,
    tenant: &[u8; 16],
    query: &ListQuery,
) -> rusqlite::Result<u64> {
    let statement = search::statement(tenant, query, Select::Count);
    let n: i64 = conn
        .prepare_cached(&statement.sql)?
        .query_row(statement.params(), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The change a create appends.
fn created(identity: &ValidIdentity) -> Pending {
    Pending {
        identity_id: identity.identity().id,
        kind: ChangeKind::Created,
        version: 1,
        fields: identity.changed_fields(),
    }
}

/// Creates one identity, and its change, in one transaction.
fn create(
    conn: &mut Connection,
    tenant: &[u8; 16],
    identity: &ValidIdentity,
) -> Result<u64, Error> {
    let tx = begin(conn, "begin create")?;
    insert(&tx, tenant, identity)?;
    feed::append(&tx, tenant, &[created(identity)]).ctx("append change")?;
    tx.commit().ctx("commit create")?;
    Ok(1)
}

/// Creates each identity in one transaction, a savepoint per entry: a
/// conflict undoes its own entry only. The created entries' changes are
/// appended together at the end, in entry order.
fn batch_create(
    conn: &mut Connection,
    tenant: &[u8; 16],
    identities: &[ValidIdentity],
) -> Result<Vec<Result<u64, Error>>, Error> {
    let mut tx = begin(conn, "begin batch")?;
    let mut results = Vec::with_capacity(identities.len());
    let mut changes = Vec::with_capacity(identities.len());
    for identity in identities {
        let sp = tx.savepoint().ctx("batch entry")?;
        match insert(&sp, tenant, identity) {
            Ok(()) => {
                sp.commit().ctx("batch entry")?;
                results.push(Ok(1));
                changes.push(created(identity));
            }
            Err(e @ Error::Conflict { .. }) => {
                sp.finish().ctx("batch entry")?;
                results.push(Err(e));
            }
            Err(e) => return Err(e),
        }
    }
    feed::append(&tx, tenant, &changes).ctx("append changes")?;
    tx.commit().ctx("commit batch")?;
    Ok(results)
}

/// Replaces the stored identity, diffing its child rows against the
/// stored document.
fn update(
    conn: &mut Connection,
    tenant: &[u8; 16],
    identity: &ValidIdentity,
    expected_version: Option<u64>,
) -> Result<u64, Error> {
    let tx = begin(conn, "begin update")?;
    let (pk, stored) = rows::stored(&tx, tenant, identity.identity().id)
        .ctx("update identity")?
        .ok_or(Error::NotFound)?;
    let current = stored.version;
    if let Some(expected) = expected_version.filter(|v| *v != current) {
        return Err(Error::VersionMismatch {
            expected,
            actual: current,
        });
    }
    let version = current + 1;
    rows::update(&tx, tenant, pk, &stored, identity, version)
        .map_err(|e| write_failure(&tx, tenant, identity, Some(pk), WriteOp::Update, e))?;
    let change = Pending {
        identity_id: identity.identity().id,
        kind: ChangeKind::Updated,
        version,
        fields: identity.changed_fields(),
    };
    feed::append(&tx, tenant, &[change]).ctx("append change")?;
    tx.commit().ctx("commit update")?;
    Ok(version)
}

fn delete(
    conn: &mut Connection,
    tenant: &[u8; 16],
    id: Uuid,
    expected_version: Option<u64>,
) -> Result<(), Error> {
    let tx = begin(conn, "begin delete")?;
    let (pk, current) = rows::head(&tx, tenant, id)
        .ctx("delete identity")?
        .ok_or(Error::NotFound)?;
    if let Some(expected) = expected_version.filter(|v| *v != current) {
        return Err(Error::VersionMismatch {
            expected,
            actual: current,
        });
    }
    tx.prepare_cached("DELETE FROM identities WHERE pk = ?1")
        .and_then(|mut s| s.execute([pk]))
        .ctx("delete identity")?;
    // A delete counts as one more version, so (id, version) names it.
    let change = Pending {
        identity_id: id,
        kind: ChangeKind::Deleted,
        version: current + 1,
        fields: ChangedFields::NONE,
    };
    feed::append(&tx, tenant, &[change]).ctx("append change")?;
    tx.commit().ctx("commit delete")
}

fn count(conn: &Connection, tenant: &[u8; 16]) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM identities WHERE nid = ?1")?
        .query_row(params![tenant], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

// The trait's methods only move their arguments to where the work runs.
#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create(&self, tenant: TenantId, identity: &ValidIdentity) -> Result<u64, Error> {
        let tenant = nid(tenant);
        // The blocking thread needs its own handle (an `Arc` clone).
        let identity = identity.clone();
        self.write("create identity", move |c| create(c, &tenant, &identity))
            .await
    }

    async fn batch_create(
        &self,
        tenant: TenantId,
        identities: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        let tenant = nid(tenant);
        let identities = identities.to_vec();
        self.write("batch create", move |c| {
            batch_create(c, &tenant, &identities)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        let tenant = nid(tenant);
        self.read("get identity", move |c| rows::get(c, &tenant, id))
            .await?
            .map(Arc::new)
            .ok_or(Error::NotFound)
    }

    async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        let tenant = nid(tenant);
        let external_id = external_id.as_str().to_owned();
        self.read("get identity by external id", move |c| {
            rows::get_by_external_id(c, &tenant, &external_id)
        })
        .await?
        .map(Arc::new)
        .ok_or(Error::NotFound)
    }

    async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Arc<Identity>, Error> {
        let tenant = nid(tenant);
        let identifier = identifier.to_owned();
        self.read("find identity by identifier", move |c| {
            rows::find(c, &tenant, kind, &identifier)
        })
        .await?
        .map(Arc::new)
        .ok_or(Error::NotFound)
    }

    async fn find_create_conflict(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error> {
        let tenant = nid(tenant);
        let identity = identity.clone();
        // The lookups a failed create makes to name its conflict, on a
        // reader: the unique indexes answer each.
        self.read("find create conflict", move |c| {
            rows::find_conflict(c, &tenant, &identity, None, WriteOp::Create)
        })
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
    ) -> Result<u64, Error> {
        let tenant = nid(tenant);
        let identity = identity.clone();
        self.write("update identity", move |c| {
            update(c, &tenant, &identity, expected_version)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        let tenant = nid(tenant);
        self.write("delete identity", move |c| {
            delete(c, &tenant, id, expected_version)
        })
        .await
    }

    async fn list(&self, tenant: TenantId, query: &ListQuery) -> Result<ListPage, Error> {
        let tenant = nid(tenant);
        let query = query.clone();
        self.read("list identities", move |c| list_page(c, &tenant, &query))
            .await
    }

    async fn count(&self, tenant: TenantId) -> Result<u64, Error> {
        let tenant = nid(tenant);
        self.read("count identities", move |c| count(c, &tenant))
            .await
    }

    async fn count_matching(&self, tenant: TenantId, query: &ListQuery) -> Result<u64, Error> {
        let tenant = nid(tenant);
        let query = query.clone();
        self.read("count identities", move |c| {
            count_matching(c, &tenant, &query)
        })
        .await
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error> {
        let limit = limit.get();
        self.read("read changes", move |c| feed::page(c, tenant, after, limit))
            .await?
    }

    async fn prune_changes(&self, tenant: TenantId, prune: &PruneChanges) -> Result<u64, Error> {
        let tenant = nid(tenant);
        let prune = prune.clone();
        self.write("prune changes", move |c| feed::prune(c, &tenant, &prune))
            .await
    }

    async fn consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
    ) -> Result<Option<ChangeCursor>, Error> {
        let tenant = nid(tenant);
        let consumer = consumer.to_owned();
        self.read("read consumer cursor", move |c| {
            feed::consumer_cursor(c, &tenant, &consumer)
        })
        .await
    }

    async fn save_consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
        cursor: ChangeCursor,
    ) -> Result<(), Error> {
        let tenant = nid(tenant);
        let consumer = consumer.to_owned();
        self.write("save consumer cursor", move |c| {
            feed::save_consumer_cursor(c, &tenant, &consumer, cursor)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::{self, ThreadId};

    use identity_core::ErrorKind;

    use super::*;

    fn busy() -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None)
    }

    /// A file read runs on the caller's thread with no busy timeout; one
    /// that SQLite answers busy runs again on the blocking pool, with the
    /// configured busy timeout, and its reader goes back to the pool
    /// without it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_read_runs_again_on_the_blocking_pool_with_the_busy_timeout() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("busy.db");
        let options = SqliteOptions::default().with_busy_timeout(Duration::from_millis(1_234));
        let store = SqliteStore::open(path.to_str().expect("utf-8"), options).expect("open");
        let timeout = |c: &Connection| -> rusqlite::Result<i64> {
            c.pragma_query_value(None, "busy_timeout", |r| r.get(0))
        };
        let here = thread::current().id();
        let (thread, ms) = store
            .read("probe", move |c| Ok((thread::current().id(), timeout(c)?)))
            .await
            .expect("read");
        assert_eq!((thread, ms), (here, 0));

        let first = Arc::new(AtomicBool::new(true));
        let (thread, ms): (ThreadId, i64) = store
            .read("probe", move |c| {
                if first.swap(false, Ordering::SeqCst) {
                    return Err(busy());
                }
                Ok((thread::current().id(), timeout(c)?))
            })
            .await
            .expect("read after busy");
        assert_ne!(thread, here);
        assert_eq!(ms, 1_234);
        let ms = store.read("probe", timeout).await.expect("read");
        assert_eq!(ms, 0, "the pooled reader is back to no timeout");
    }

    /// An in-memory database is read through the writer: while a write
    /// holds it, a read waits on the blocking pool and the executor runs.
    #[tokio::test(flavor = "current_thread")]
    #[expect(
        clippy::await_holding_lock,
        reason = "the test holds the writer across awaits on purpose, as a long write would"
    )]
    async fn an_in_memory_read_waits_for_the_writer_off_the_executor() {
        let store = SqliteStore::open("sqlite::memory:", SqliteOptions::default()).expect("open");
        let held = store.inner.writer.lock().expect("writer");
        let read = tokio::spawn({
            let store = store.clone();
            async move { store.count(TenantId::DEFAULT).await }
        });
        let mut ticks = 0;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            ticks += 1;
        }
        assert!(!read.is_finished(), "the read waits for the writer");
        drop(held);
        assert_eq!(read.await.expect("task").ok(), Some(0));
        assert_eq!(ticks, 10);
    }

    #[tokio::test]
    async fn a_full_database_is_unavailable_and_keeps_working() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("full.db");
        let store = SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default())
            .expect("open");
        store
            .with_writer(|c| {
                let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                c.pragma_update(None, "max_page_count", pages + 2)
            })
            .await
            .expect("cap the file");
        let big = |id: Uuid, size: usize| {
            let identity: Identity = serde_json::from_value(serde_json::json!({
                "id": id,
                "schema_id": "default",
                "traits": {"blob": "x".repeat(size)},
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z"
            }))
            .expect("identity");
            ValidIdentity::new_for_tests(identity).expect("valid")
        };
        let e = store
            .create(TenantId::DEFAULT, &big(Uuid::new_v4(), 1 << 20))
            .await
            .expect_err("the file is full");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
        // The failed write left nothing behind and the store still works.
        let small = big(Uuid::new_v4(), 10);
        assert_eq!(store.create(TenantId::DEFAULT, &small).await.ok(), Some(1));
    }
}
