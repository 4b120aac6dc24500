//! [`PostgresStore`]: the pool, the transaction runner with its retries,
//! and the [`IdentityStore`] implementation.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, QueueMode, RecyclingMethod, Runtime,
};
use identity_core::{
    ChangeCursor, ChangePage, ConflictField, CredentialType, Error, ErrorKind, ExternalId,
    Identity, IdentityStore, ListFilter, ListPage, ListQuery, ListQueryParts, PageSize,
    PruneChanges, TenantId, ValidIdentity, sql,
};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error as PgError, NoTls};
use uuid::Uuid;

use crate::error::map_pool;
use crate::feed;
use crate::options::{PostgresOptions, is_plain_identifier};
use crate::rows::{self, identity_from_row, identity_select};
use crate::run::{self, Failure, Kind, Lease};
use crate::schema;
use crate::standby::{Floor, Floors};
use crate::writes::{batch_attempt, create_attempt, delete_attempt, update_attempt};

/// An [`IdentityStore`] on PostgreSQL.
///
/// A pool of connections (deadpool) serves every call. Each logical write
/// (create, a whole batch, update, delete) is one transaction; one that
/// fails with a serialization failure or a deadlock is re-run from the
/// start with the same input, after a jittered exponential backoff, up to
/// [`PostgresOptions::max_retries`] times. Writes run on their own tokio
/// task: a caller that stops waiting (drops the future) does not cut a
/// transaction in half; it still commits or rolls back as a whole. Each
/// read is one statement, so it sees one snapshot.
///
/// Cloning is cheap and shares the pool.
///
/// # Failover
///
/// Every read and every write runs under client-side timeouts
/// ([`PostgresOptions::statement_timeout`], [`PostgresOptions::commit_timeout`]);
/// a connection that timed out is closed, never pooled again. Given a
/// multi-host URL with `target_session_attrs=read-write`, new connections
/// go to whichever host is the primary, so after a failover the store
/// reconnects to the promoted standby by itself. A read, and a write that
/// failed before sending its `COMMIT`, is re-run on a fresh connection for
/// up to [`PostgresOptions::reconnect_window`]. A write whose `COMMIT` was
/// sent but not answered is settled on a fresh connection (a create finds
/// its fresh id taken or not, an update finds the row as it wrote it or
/// as it found it, a delete finds the row still there or not): success
/// when proven done, written once when proven not done, and otherwise
/// [`Error::OutcomeUnknown`], never reported as a success or a failure it
/// may not be. A delete whose row is gone cannot tell its own deletion
/// from another's, so it is outcome unknown.
///
/// # Reads from a standby
///
/// [`PostgresStore::with_standby`] gives a handle whose reads go to a
/// second pool; see its documentation.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
    /// The pool reads go to, for a handle made by
    /// [`PostgresStore::with_standby`].
    standby: Option<Arc<Standby>>,
}

struct Inner {
    pool: Pool,
    options: PostgresOptions,
    /// Where the store connects, without credentials (for `Debug`).
    target: String,
    /// The versions recent writes gave (kept once a standby handle exists).
    floors: Floors,
}

struct Standby {
    pool: Pool,
    target: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.inner.target)
            .field("standby", &self.standby.as_ref().map(|s| &s.target))
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// A pool for `url` with `options`; `schema_first` puts the options'
/// `search_path` before the URL's own startup options, so that the URL's
/// win (a standby's URL may name its own).
fn pool(url: &str, options: &PostgresOptions, schema_first: bool) -> Result<(Pool, String), Error> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
        Error::invalid(
            "invalid PostgreSQL connection URL (expected postgres://user@host:port/database)",
        )
    })?;
    if let Some(schema) = &options.schema {
        if !is_plain_identifier(schema) {
            return Err(Error::invalid(format!(
                "invalid schema name {schema:?}: use lowercase ASCII letters, digits and _"
            )));
        }
        let startup = match config.get_options() {
            Some(existing) if !existing.is_empty() && schema_first => {
                format!("-c search_path={schema} {existing}")
            }
            Some(existing) if !existing.is_empty() => {
                format!("{existing} -c search_path={schema}")
            }
            _ => format!("-c search_path={schema}"),
        };
        config.options(startup);
    }
    config.application_name(&options.application_name);
    config.connect_timeout(options.connect_timeout);
    let target = describe(&config, options.schema.as_deref());
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(options.max_connections.max(1))
        // The most recently used connection first: a lightly loaded
        // store keeps using a few warm backends (prepared statements
        // and plans cached) instead of rotating through all of them.
        .queue_mode(QueueMode::Lifo)
        .wait_timeout(Some(options.connect_timeout))
        .create_timeout(Some(options.connect_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| Error::internal("build the connection pool", e))?;
    Ok((pool, target))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?...`
    /// or a `key=value` connection string), applies the schema migrations
    /// this version is missing, and returns the store.
    ///
    /// Fails with [`Error::InvalidInput`] when the URL or the schema name
    /// cannot be used, with [`Error::Unavailable`] when the server cannot
    /// be reached within [`PostgresOptions::connect_timeout`], and with
    /// [`Error::Internal`] when the database was migrated by a newer
    /// version of this library. Safe when several processes start at once:
    /// each migration runs exactly once.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<PostgresStore, Error> {
        let (pool, target) = pool(url, &options, false)?;
        let mut conn = pool.get().await.map_err(|e| map_pool("connect", e))?;
        schema::migrate(&mut conn, options.schema.as_deref()).await?;
        drop(conn);
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                options,
                target,
                floors: Floors::default(),
            }),
            standby: None,
        })
    }

    /// A handle on the same store whose reads go to `url`: a standby (a
    /// URL with `target_session_attrs=read-only`, several standbys with
    /// `load_balance_hosts=random` too, or any node with `any`), in a pool
    /// of its own with the same options. Its writes,
    /// and the reads inside them, go to the primary, as this handle's do.
    ///
    /// Which reads: `get`, `get_by_external_id`, `find_by_identifier`,
    /// `list`, `count`, `count_matching` and `changes`.
    /// `find_create_conflict` (the read that answers a write's question)
    /// and `consumer_cursor` (read to deliver and move on) stay on the
    /// primary. Read-your-writes: every write through any
    /// handle of this store records the version it gave; a standby's
    /// answer older than that, a standby that does not know the identity,
    /// or a standby that fails, is asked of the primary again. So a caller
    /// reads its own writes (and a read after an
    /// [`Error::OutcomeUnknown`] write goes to the primary). Lists,
    /// counts and the change feed read the standby as it is, which may lag
    /// behind the primary by the replication delay (the feed's cursors
    /// still come in commit order there).
    ///
    /// Use the returned handle for read-only work (e.g. a manager that
    /// serves GETs) and this one for writes: a read-modify-write (PUT,
    /// PATCH) through a standby handle reads the identity from the standby
    /// first, and if the standby lags behind another process's write, the
    /// write fails its version check (never overwrites) and the manager
    /// re-reads, this time from the primary.
    ///
    /// Fails with [`Error::InvalidInput`] for a URL that cannot be used;
    /// connections are opened on first use.
    pub fn with_standby(&self, url: &str) -> Result<PostgresStore, Error> {
        let (pool, target) = pool(url, &self.inner.options, true)?;
        self.inner.floors.enable();
        Ok(PostgresStore {
            inner: Arc::clone(&self.inner),
            standby: Some(Arc::new(Standby { pool, target })),
        })
    }

    /// The schema version of the database (the number of migrations
    /// applied).
    pub async fn schema_version(&self) -> Result<i64, Error> {
        let conn = self.conn("read schema version").await?;
        schema::current_version(&conn).await
    }

    /// Closes the pool (and this handle's standby pool): calls waiting for
    /// a connection, and every later call, fail as unavailable; idle
    /// connections are closed.
    pub fn close(&self) {
        self.inner.pool.close();
        if let Some(standby) = &self.standby {
            standby.pool.close();
        }
    }

    async fn conn(&self, context: &str) -> Result<Object, Error> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| map_pool(context, e))
    }

    /// Runs a read, re-running it on a serialization failure and on a
    /// connection that failed or timed out (a read changes nothing, so
    /// re-running it is safe); see `run.rs`.
    async fn read<T, F, Fut>(&self, context: &'static str, attempt: F) -> Result<T, Error>
    where
        F: Fn(Lease) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let inner = &self.inner;
        run::run(&inner.pool, &inner.options, context, Kind::Read, attempt).await
    }

    /// Runs a read on the standby of a standby handle (on the primary
    /// otherwise), and again on the primary when the standby's answer is
    /// `stale` or the standby is unavailable.
    async fn read_standby<T, F, Fut>(
        &self,
        context: &'static str,
        stale: impl Fn(&Result<T, Error>) -> bool,
        attempt: F,
    ) -> Result<T, Error>
    where
        F: Fn(Lease) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let Some(standby) = &self.standby else {
            return self.read(context, attempt).await;
        };
        let answer = run::run(
            &standby.pool,
            &self.inner.options,
            context,
            Kind::Read,
            &attempt,
        )
        .await;
        match answer {
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                tracing::debug!(context, "standby unavailable; reading the primary");
                self.read(context, attempt).await
            }
            answer if stale(&answer) => self.read(context, attempt).await,
            answer => answer,
        }
    }

    /// Whether a standby's answer to a read of one identity may be older
    /// than this store's writes: below a recorded floor, or not found.
    fn stale_identity(&self, tenant: TenantId, answer: &Result<Identity, Error>) -> bool {
        match answer {
            Ok(found) => self
                .inner
                .floors
                .stale(tenant.0, found.id, Some(found.version)),
            Err(Error::NotFound) => true,
            Err(_) => false,
        }
    }

    /// Records what a write left, for read-your-writes.
    fn floor(&self, tenant: TenantId, id: Uuid, floor: Floor) {
        self.inner.floors.record(tenant.0, id, floor);
    }

    /// Records an update's or delete's answer.
    fn floor_of<T>(&self, tenant: TenantId, id: Uuid, result: &Result<T, Error>, done: Floor) {
        match result {
            Ok(_) => self.floor(tenant, id, done),
            Err(Error::VersionMismatch { actual, .. }) => {
                self.floor(tenant, id, Floor::Version(*actual));
            }
            Err(Error::OutcomeUnknown { .. }) => self.floor(tenant, id, Floor::Unknown),
            Err(_) => {}
        }
    }

    /// Runs a write transaction on its own task, re-running it from the
    /// start (with the same input) when that is safe, and settling it when
    /// its commit's answer was lost; see `run.rs`.
    async fn write<T, F, Fut>(
        &self,
        context: &'static str,
        kind: Kind,
        attempt: F,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Fn(Lease) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(async move {
            run::run(&inner.pool, &inner.options, context, kind, attempt).await
        });
        match task.await {
            Ok(result) => result,
            Err(e) => Err(Error::internal(
                format!("{context}: the database task failed"),
                e,
            )),
        }
    }
}

/// `host:port/dbname (schema)`, without user or password.
fn describe(config: &tokio_postgres::Config, schema: Option<&str>) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => format!("{}:{port}", p.display()),
        })
        .collect();
    format!(
        "{}/{}{}",
        hosts.join(","),
        config.get_dbname().unwrap_or(""),
        schema.map(|s| format!(" (schema {s})")).unwrap_or_default()
    )
}

/// The statement and arguments of one list page.
struct ListStatement {
    sql: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
    /// The type of each argument, for a statement sent unnamed
    /// ([`ListStatement::run`]).
    types: Vec<Type>,
    /// Whether a search criterion is in the statement.
    searching: bool,
}

impl ListStatement {
    fn push(&mut self, value: Box<dyn ToSql + Sync + Send>, ty: Type) -> usize {
        self.args.push(value);
        self.types.push(ty);
        self.args.len()
    }

    /// Runs the statement. Without a search criterion, through the
    /// statement cache (the Kratos filters are selective keys or ranges,
    /// which a generic plan serves well). With one, unnamed, so that it is
    /// planned for its values: a cached statement is planned generically
    /// after five runs, and a generic plan cannot tell a containment that
    /// matches one identity (the GIN index) from one that matches a tenth
    /// (walking the id order): at 100,000 identities the generic plan took
    /// 38 ms for the rare one, the custom plan well under one.
    async fn run(&self, conn: &Object) -> Result<Vec<tokio_postgres::Row>, PgError> {
        if self.searching {
            let typed: Vec<(&(dyn ToSql + Sync), Type)> = self
                .args
                .iter()
                .zip(&self.types)
                .map(|(a, t)| (a.as_ref() as &(dyn ToSql + Sync), t.clone()))
                .collect();
            conn.query_typed(&self.sql, &typed).await
        } else {
            let params: Vec<rows::Param<'_>> = self
                .args
                .iter()
                .map(|a| a.as_ref() as rows::Param<'_>)
                .collect();
            rows::query(conn, &self.sql, &params).await
        }
    }
}

/// What a list statement returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Select {
    /// One page: up to `limit + 1` identities after `after`.
    Page,
    /// `COUNT(*)` of every matching identity.
    Count,
}

fn list_statement(nid: Uuid, query: &ListQuery) -> ListStatement {
    statement(nid, query, Select::Page)
}

fn statement(nid: Uuid, query: &ListQuery, select: Select) -> ListStatement {
    // Every part named: a new criterion must be answered here.
    let ListQueryParts {
        filter,
        after,
        limit,
        state,
        schema_id,
        traits,
    } = query.parts();
    let mut s = ListStatement {
        sql: String::from(match select {
            Select::Page => concat!(identity_select!(), "WHERE i.nid = $1"),
            Select::Count => "SELECT COUNT(*) FROM identities i WHERE i.nid = $1",
        }),
        args: vec![Box::new(nid)],
        types: vec![Type::UUID],
        searching: query.parts().has_criteria(),
    };
    if select == Select::Page
        && let Some(after) = after
    {
        let n = s.push(Box::new(after), Type::UUID);
        s.sql.push_str(&format!(" AND i.id > ${n}"));
    }
    match filter {
        ListFilter::All => {}
        ListFilter::OrganizationId(org) => {
            let n = s.push(Box::new(*org), Type::UUID);
            s.sql.push_str(&format!(" AND i.organization_id = ${n}"));
        }
        ListFilter::Ids(ids) => {
            let n = s.push(Box::new(ids.clone()), Type::UUID_ARRAY);
            s.sql.push_str(&format!(" AND i.id = ANY(${n}::UUID[])"));
        }
        ListFilter::CredentialIdentifier(pairs) => {
            let types: Vec<String> = pairs.iter().map(|(k, _)| k.as_str().to_owned()).collect();
            let values: Vec<String> = pairs.iter().map(|(_, v)| v.clone()).collect();
            let t = s.push(Box::new(types), Type::TEXT_ARRAY);
            let v = s.push(Box::new(values), Type::TEXT_ARRAY);
            s.sql.push_str(&format!(
                " AND i.id IN (SELECT ci.identity_id FROM credential_identifiers ci \
                 JOIN unnest(${t}::TEXT[], ${v}::TEXT[]) AS p (type, identifier) \
                 ON ci.type = p.type AND ci.identifier = p.identifier WHERE ci.nid = $1)"
            ));
        }
        ListFilter::IdentifierPrefix(prefixes) => {
            // One (type, low, high) row per pair, so that the (nid, type,
            // identifier) key serves a range scan per pair.
            let types: Vec<String> = prefixes
                .iter()
                .map(|(t, _)| t.as_str().to_owned())
                .collect();
            let lows: Vec<String> = prefixes.iter().map(|(_, p)| p.clone()).collect();
            let highs: Vec<Option<String>> = prefixes
                .iter()
                .map(|(_, p)| sql::prefix_upper_bound(p))
                .collect();
            let l = s.push(Box::new(lows), Type::TEXT_ARRAY);
            let h = s.push(Box::new(highs), Type::TEXT_ARRAY);
            let t = s.push(Box::new(types), Type::TEXT_ARRAY);
            s.sql.push_str(&format!(
                " AND i.id IN (SELECT ci.identity_id FROM credential_identifiers ci \
                 JOIN unnest(${t}::TEXT[], ${l}::TEXT[], ${h}::TEXT[]) AS p (ty, lo, hi) \
                 ON ci.type = p.ty AND ci.identifier >= p.lo \
                 AND (p.hi IS NULL OR ci.identifier < p.hi) \
                 WHERE ci.nid = $1)"
            ));
        }
    }
    if let Some(state) = state {
        let n = s.push(Box::new(state.as_str()), Type::TEXT);
        s.sql.push_str(&format!(" AND i.state = ${n}"));
    }
    if let Some(schema_id) = schema_id {
        let n = s.push(Box::new(schema_id.to_owned()), Type::TEXT);
        s.sql.push_str(&format!(" AND i.schema_id = ${n}"));
    }
    if let Some(pattern) = traits {
        // `@>` is the rule the core writes down (`json_contains`); the GIN
        // index of migration 4 serves it.
        let n = s.push(Box::new(pattern.clone()), Type::JSONB);
        s.sql.push_str(&format!(" AND i.traits @> ${n}::JSONB"));
    }
    if select == Select::Page {
        // One more than asked tells whether more follow.
        let take = i64::try_from(limit.get() + 1).unwrap_or(i64::MAX);
        let n = s.push(Box::new(take), Type::INT8);
        s.sql.push_str(&format!(" ORDER BY i.id LIMIT ${n}"));
    }
    s
}

async fn read_one(
    conn: Lease,
    sql: &'static str,
    params: &[rows::Param<'_>],
) -> Result<Identity, Failure> {
    match rows::query_opt(&*conn, sql, params).await? {
        Some(row) => Ok(identity_from_row(&row)?),
        None => Err(Failure::Store(Error::NotFound)),
    }
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn create(&self, tenant: TenantId, identity: &ValidIdentity) -> Result<u64, Error> {
        // The write runs on a task of its own, which needs its own handle.
        let id = identity.identity().id;
        let identity = Arc::new(identity.clone());
        let result = self
            .write("create identity", Kind::Write, move |conn| {
                let identity = Arc::clone(&identity);
                async move { create_attempt(conn, tenant.0, &identity).await }
            })
            .await;
        self.floor_of(tenant, id, &result, Floor::Version(1));
        result
    }

    async fn batch_create(
        &self,
        tenant: TenantId,
        identities: &[ValidIdentity],
    ) -> Result<Vec<Result<u64, Error>>, Error> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = identities.iter().map(|i| i.identity().id).collect();
        let identities = Arc::new(identities.to_vec());
        let result = self
            .write("batch create", Kind::Write, move |conn| {
                let identities = Arc::clone(&identities);
                async move { batch_attempt(conn, tenant.0, &identities).await }
            })
            .await;
        match &result {
            Ok(entries) => {
                for (id, entry) in ids.iter().zip(entries) {
                    if entry.is_ok() {
                        self.floor(tenant, *id, Floor::Version(1));
                    }
                }
            }
            Err(Error::OutcomeUnknown { .. }) => {
                for id in &ids {
                    self.floor(tenant, *id, Floor::Unknown);
                }
            }
            Err(_) => {}
        }
        result
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Arc<Identity>, Error> {
        let stale = |answer: &Result<Identity, Error>| self.stale_identity(tenant, answer);
        self.read_standby("get identity", stale, |conn| async move {
            read_one(conn, rows::GET_BY_ID, &[&tenant.0, &id]).await
        })
        .await
        .map(Arc::new)
    }

    async fn get_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &ExternalId,
    ) -> Result<Arc<Identity>, Error> {
        let external_id = external_id.as_str();
        let stale = |answer: &Result<Identity, Error>| self.stale_identity(tenant, answer);
        self.read_standby("get identity by external id", stale, |conn| async move {
            read_one(conn, rows::GET_BY_EXTERNAL_ID, &[&tenant.0, &external_id]).await
        })
        .await
        .map(Arc::new)
    }

    async fn find_by_identifier(
        &self,
        tenant: TenantId,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Arc<Identity>, Error> {
        let stale = |answer: &Result<Identity, Error>| self.stale_identity(tenant, answer);
        self.read_standby("find identity by identifier", stale, |conn| async move {
            read_one(
                conn,
                rows::FIND_BY_IDENTIFIER,
                &[&tenant.0, &kind.as_str(), &identifier],
            )
            .await
        })
        .await
        .map(Arc::new)
    }

    async fn find_create_conflict(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
    ) -> Result<Option<ConflictField>, Error> {
        // Every unique index probed in one statement.
        self.read("find create conflict", |conn| async move {
            Ok(rows::find_create_conflict(&*conn, tenant.0, identity).await?)
        })
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        identity: &ValidIdentity,
        expected_version: Option<u64>,
    ) -> Result<u64, Error> {
        let id = identity.identity().id;
        let identity = Arc::new(identity.clone());
        let result = self
            .write("update identity", Kind::Write, move |conn| {
                let identity = Arc::clone(&identity);
                async move { update_attempt(conn, tenant.0, &identity, expected_version).await }
            })
            .await;
        let version = *result.as_ref().unwrap_or(&0);
        self.floor_of(tenant, id, &result, Floor::Version(version));
        result
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        let result = self
            .write("delete identity", Kind::Write, move |conn| async move {
                delete_attempt(conn, tenant.0, id, expected_version).await
            })
            .await;
        self.floor_of(tenant, id, &result, Floor::Deleted);
        result
    }

    async fn list(&self, tenant: TenantId, query: &ListQuery) -> Result<ListPage, Error> {
        let statement = list_statement(tenant.0, query);
        let limit = query.limit.get();
        self.read_standby(
            "list identities",
            |_| false,
            |conn| {
                let statement = &statement;
                async move {
                    let found = statement.run(&conn).await?;
                    let has_more = found.len() > limit;
                    let identities = found
                        .iter()
                        .take(limit)
                        .map(|row| identity_from_row(row).map(Arc::new))
                        .collect::<Result<Vec<_>, Error>>()?;
                    Ok(ListPage {
                        identities,
                        has_more,
                    })
                }
            },
        )
        .await
    }

    async fn count(&self, tenant: TenantId) -> Result<u64, Error> {
        self.read_standby(
            "count identities",
            |_| false,
            |conn| async move {
                let row = rows::query_opt(
                    &*conn,
                    "SELECT COUNT(*) FROM identities WHERE nid = $1",
                    &[&tenant.0],
                )
                .await?;
                let n: i64 = row.map_or(Ok(0), |r| r.try_get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            },
        )
        .await
    }

    async fn count_matching(&self, tenant: TenantId, query: &ListQuery) -> Result<u64, Error> {
        let statement = statement(tenant.0, query, Select::Count);
        self.read_standby(
            "count identities",
            |_| false,
            |conn| {
                let statement = &statement;
                async move {
                    let found = statement.run(&conn).await?;
                    let n: i64 = found.first().map_or(Ok(0), |r| r.try_get(0))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }
            },
        )
        .await
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error> {
        let read = self
            .read_standby(
                "read changes",
                |_| false,
                |conn| async move { feed::page(&*conn, tenant, after, limit.get()).await },
            )
            .await?;
        if !read.wants_numbering {
            return Ok(read.page);
        }
        // Committed changes wait for cursors: number them on the primary
        // and read there (`feed.rs`).
        self.write(
            "number changes",
            Kind::Idempotent,
            move |mut conn| async move {
                feed::number(&mut conn, tenant.0).await?;
                Ok(feed::page(&*conn, tenant, after, limit.get()).await?.page)
            },
        )
        .await
    }

    async fn prune_changes(&self, tenant: TenantId, prune: &PruneChanges) -> Result<u64, Error> {
        let prune = prune.clone();
        self.write("prune changes", Kind::Idempotent, move |mut conn| {
            let prune = prune.clone();
            async move { feed::prune(&mut conn, tenant.0, &prune).await }
        })
        .await
    }

    async fn consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
    ) -> Result<Option<ChangeCursor>, Error> {
        self.read_standby(
            "read consumer cursor",
            |_| false,
            |conn| async move { feed::consumer(&*conn, tenant.0, consumer).await },
        )
        .await
    }

    async fn save_consumer_cursor(
        &self,
        tenant: TenantId,
        consumer: &str,
        cursor: ChangeCursor,
    ) -> Result<(), Error> {
        let consumer: Arc<str> = Arc::from(consumer);
        self.write("save consumer cursor", Kind::Idempotent, move |conn| {
            let consumer = Arc::clone(&consumer);
            async move { Ok(feed::save_consumer(&*conn, tenant.0, &consumer, cursor).await?) }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use identity_core::PageSize;

    use super::*;

    #[test]
    fn list_statements_number_their_parameters() {
        let query = ListQuery::new(
            ListFilter::IdentifierPrefix(vec![(CredentialType::Password, "al".into())]),
            Some(Uuid::nil()),
            PageSize::new(10).expect("page size"),
        );
        let statement = list_statement(Uuid::nil(), &query);
        assert_eq!(statement.args.len(), 6);
        for n in 1..=6 {
            assert!(statement.sql.contains(&format!("${n}")), "${n}");
        }
        assert!(!statement.sql.contains("$7"));
        let all = list_statement(
            Uuid::nil(),
            &ListQuery::new(ListFilter::All, None, PageSize::saturating(0)),
        );
        assert_eq!(all.args.len(), 2);
        assert!(all.sql.ends_with("ORDER BY i.id LIMIT $2"));
        let searched = ListQuery::new(ListFilter::OrganizationId(Uuid::nil()), None, PageSize::MAX)
            .with_state(identity_core::State::Inactive)
            .with_schema_id("employee")
            .with_traits(serde_json::json!({"department": "eng"}));
        let page = list_statement(Uuid::nil(), &searched);
        assert_eq!(page.args.len(), 6);
        assert!(
            page.sql
                .contains("i.state = $3 AND i.schema_id = $4 AND i.traits @> $5::JSONB")
        );
        assert!(page.sql.ends_with("ORDER BY i.id LIMIT $6"));
        let count = super::statement(Uuid::nil(), &searched, Select::Count);
        assert_eq!(count.args.len(), 5, "no page bound in a count");
        assert_eq!(count.types.len(), 5);
        assert!(count.searching && !statement.searching);
        assert!(count.sql.starts_with("SELECT COUNT(*)"));
        assert!(!count.sql.contains("LIMIT"));
    }
}
