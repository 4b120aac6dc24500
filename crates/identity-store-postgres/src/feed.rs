//! The change feed's SQL: appending a write's changes, reading a page,
//! pruning, and consumer cursors (tables in `schema.rs`, version 3).
//!
//! # Why cursors follow commit order
//!
//! A sequence (or any number taken before commit) does not do: writer A
//! takes 7, writer B takes 8 and commits, a reader reads 8 and moves its
//! cursor past it, then A commits 7, which the reader never sees. So a
//! tenant's cursors come from its row in `identity_change_heads`, bumped by
//! [`APPEND`] (`INSERT … ON CONFLICT DO UPDATE … RETURNING last_cursor`) as
//! the last statement of every write transaction, just before `COMMIT`.
//! The update holds the row's lock until the transaction ends, and
//! PostgreSQL makes a transaction visible before it releases its locks: B
//! can only take 8 after A's 7 is visible, so a snapshot that shows 8
//! shows 7 too. Under READ COMMITTED the waiting writer's `DO UPDATE`
//! applies to the row version A committed, so it never fails; under
//! CockroachDB's SERIALIZABLE the loser gets a serialization failure, and
//! the store re-runs the whole transaction.
//!
//! The price: a tenant's writes serialise on that row from their last
//! statement to their commit (one commit, its WAL flush included, at a
//! time per tenant). Taking it last keeps that window short, and also
//! means every write locks its identity rows first and the head row last,
//! always in that order, so the head row adds no deadlock.
//!
//! `at` comes from the server's `clock_timestamp()`, read after the head
//! row's lock is held, so commit times never go back along the cursors
//! (unless the server's clock does).

use deadpool_postgres::GenericClient;
use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields, Error, PruneChanges, TenantId,
    Timestamp,
};
use tokio_postgres::{Error as PgError, Row};
use uuid::Uuid;

use crate::rows::{self, Param};
use crate::run::Failure;

/// A change a write is about to commit: everything but its cursor and
/// time, which [`APPEND`] gives it under the tenant's head row lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) identity_id: Uuid,
    pub(crate) kind: ChangeKind,
    pub(crate) version: u64,
    pub(crate) fields: ChangedFields,
}

/// The server's clock in microseconds since the Unix epoch.
macro_rules! now_micros {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::INT8"
    };
}

/// Takes `$2` cursors for tenant `$1` from its head row and inserts one
/// change per element of the arrays `$3` (identity ids), `$4` (kinds), `$5`
/// (versions), `$6` (field lists), numbered in array order.
const APPEND: &str = concat!(
    "WITH head AS (\
       INSERT INTO identity_change_heads AS h (nid, last_cursor, pruned_through) \
       VALUES ($1, $2, 0) \
       ON CONFLICT (nid) DO UPDATE SET last_cursor = h.last_cursor + EXCLUDED.last_cursor \
       RETURNING h.last_cursor) \
     INSERT INTO identity_changes (nid, cursor, identity_id, kind, version, fields, at) \
     SELECT $1, head.last_cursor - $2 + c.n, c.id, c.kind, c.version, c.fields, ",
    now_micros!(),
    " FROM head, unnest($3::UUID[], $4::TEXT[], $5::INT8[], $6::TEXT[]) \
       WITH ORDINALITY AS c (id, kind, version, fields, n)"
);

/// A delete as one statement (so one transaction, committed without a
/// round trip after the head row is taken): deletes identity `$2` of tenant
/// `$1` (at version `$3` when given; the cascades go with it) and appends
/// its change. Affects one row when it deleted, none otherwise.
pub(crate) const DELETE: &str = concat!(
    "WITH gone AS (\
       DELETE FROM identities WHERE nid = $1 AND id = $2 \
       AND ($3::INT8 IS NULL OR version = $3::INT8) \
       RETURNING id, version), \
     head AS (\
       INSERT INTO identity_change_heads AS h (nid, last_cursor, pruned_through) \
       SELECT $1, 1, 0 FROM gone \
       ON CONFLICT (nid) DO UPDATE SET last_cursor = h.last_cursor + 1 \
       RETURNING h.last_cursor) \
     INSERT INTO identity_changes (nid, cursor, identity_id, kind, version, fields, at) \
     SELECT $1, head.last_cursor, gone.id, 'deleted', gone.version + 1, '', ",
    now_micros!(),
    " FROM gone, head"
);

/// One page of tenant `$1`'s changes after `$2` (or after the last pruned
/// cursor, if greater), at most `$3`, with the last pruned cursor on every
/// row; one row of NULL changes when there are none. One statement, so the
/// pruned cursor and the page come from one snapshot.
const PAGE: &str = "SELECT h.pruned_through, c.cursor, c.identity_id, c.kind, c.version, \
     c.fields, c.at \
     FROM (SELECT COALESCE((SELECT pruned_through FROM identity_change_heads \
                            WHERE nid = $1), 0) AS pruned_through) AS h \
     LEFT JOIN LATERAL (SELECT cursor, identity_id, kind, version, fields, at \
                        FROM identity_changes \
                        WHERE nid = $1 AND cursor > GREATEST($2::INT8, h.pruned_through) \
                        ORDER BY cursor LIMIT $3) AS c ON true \
     ORDER BY c.cursor";

/// Prunes tenant `$1`'s changes: those before the first change at or after
/// `$2` (microseconds; none when NULL) and those beyond the newest `$3`
/// (none when NULL). Age prunes a prefix of cursors, so even a clock that
/// stepped back never leaves a hole in the feed. One statement: the
/// delete runs to completion first (the head CTE reads `gone` in full),
/// then the head row's `pruned_through` moves, so writers wait on the
/// head row only from that update to the commit. Gives the number of
/// changes removed.
const PRUNE: &str = "WITH head AS (\
       SELECT last_cursor FROM identity_change_heads WHERE nid = $1), \
     cut AS (\
       SELECT GREATEST(\
         CASE WHEN $2::INT8 IS NULL THEN 0 \
              ELSE COALESCE((SELECT min(c.cursor) - 1 FROM identity_changes c \
                             WHERE c.nid = $1 AND c.at >= $2::INT8), head.last_cursor) END, \
         CASE WHEN $3::INT8 IS NULL THEN 0 ELSE head.last_cursor - $3::INT8 END) AS through \
       FROM head), \
     gone AS (\
       DELETE FROM identity_changes c USING cut \
       WHERE c.nid = $1 AND c.cursor <= cut.through \
       RETURNING c.cursor), \
     moved AS (\
       UPDATE identity_change_heads AS h \
       SET pruned_through = GREATEST(h.pruned_through, (SELECT max(cursor) FROM gone)) \
       WHERE h.nid = $1 AND EXISTS (SELECT 1 FROM gone) \
       RETURNING 1) \
     SELECT (SELECT count(*) FROM gone)::INT8, (SELECT count(*) FROM moved)::INT8";

const CONSUMER: &str =
    "SELECT cursor FROM identity_change_consumers WHERE nid = $1 AND consumer = $2";

/// Saves a consumer's cursor; never moves it back.
const SAVE_CONSUMER: &str = "INSERT INTO identity_change_consumers AS k (nid, consumer, cursor) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (nid, consumer) DO UPDATE SET cursor = GREATEST(k.cursor, EXCLUDED.cursor)";

/// A cursor, count or version as the `INT8` that stores it.
fn int8(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn bad_change(what: &str) -> Error {
    Error::Internal {
        message: format!("unreadable change row: {what}"),
        source: None,
    }
}

fn unreadable(e: PgError) -> Error {
    Error::internal("unreadable change row", e)
}

fn unsigned(n: i64, what: &str) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| bad_change(what))
}

/// Appends `changes` (none: nothing to do) for tenant `nid`. Must be the
/// last statement of the write's transaction (see the module docs).
pub(crate) async fn append<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    changes: &[Pending],
) -> Result<(), PgError> {
    if changes.is_empty() {
        return Ok(());
    }
    let count = int8(changes.len() as u64);
    let ids: Vec<Uuid> = changes.iter().map(|p| p.identity_id).collect();
    let kinds: Vec<&str> = changes.iter().map(|p| p.kind.as_str()).collect();
    let versions: Vec<i64> = changes.iter().map(|p| int8(p.version)).collect();
    let fields: Vec<String> = changes.iter().map(|p| p.fields.to_list()).collect();
    let params: [Param<'_>; 6] = [&nid, &count, &ids, &kinds, &versions, &fields];
    rows::execute(c, APPEND, &params).await.map(drop)
}

/// Reads one page (see [`PAGE`]).
pub(crate) async fn page<C: GenericClient + Sync>(
    c: &C,
    tenant: TenantId,
    after: Option<ChangeCursor>,
    limit: usize,
) -> Result<ChangePage, Failure> {
    let from = int8(after.map_or(0, ChangeCursor::get));
    let limit = int8(limit as u64);
    let found = rows::query(c, PAGE, &[&tenant.0, &from, &limit]).await?;
    Ok(page_from_rows(tenant, after, &found)?)
}

fn page_from_rows(
    tenant: TenantId,
    after: Option<ChangeCursor>,
    found: &[Row],
) -> Result<ChangePage, Error> {
    let pruned = match found.first() {
        Some(row) => row.try_get::<_, i64>(0).map_err(unreadable)?,
        None => 0,
    };
    let pruned_through = ChangeCursor::new(unsigned(pruned, "pruned cursor")?);
    if let Some(after) = after
        && after < pruned_through
    {
        return Err(Error::CursorExpired {
            after,
            pruned_through,
        });
    }
    let mut changes = Vec::with_capacity(found.len());
    for row in found {
        if let Some(change) = change_from_row(tenant, row)? {
            changes.push(change);
        }
    }
    let next = changes
        .last()
        .map_or(after.unwrap_or(pruned_through), |c| c.cursor);
    Ok(ChangePage { changes, next })
}

/// The change of a [`PAGE`] row; `None` for the row that stands for no
/// change.
fn change_from_row(tenant: TenantId, row: &Row) -> Result<Option<Change>, Error> {
    let Some(cursor) = row.try_get::<_, Option<i64>>(1).map_err(unreadable)? else {
        return Ok(None);
    };
    let identity_id: Uuid = row.try_get(2).map_err(unreadable)?;
    let kind: &str = row.try_get(3).map_err(unreadable)?;
    let version: i64 = row.try_get(4).map_err(unreadable)?;
    let fields: &str = row.try_get(5).map_err(unreadable)?;
    let at: i64 = row.try_get(6).map_err(unreadable)?;
    Ok(Some(Change::new(
        ChangeCursor::new(unsigned(cursor, "cursor")?),
        tenant,
        identity_id,
        ChangeKind::parse(kind).ok_or_else(|| bad_change("kind"))?,
        unsigned(version, "version")?,
        ChangedFields::parse_list(fields).ok_or_else(|| bad_change("fields"))?,
        Timestamp::from_unix_micros(at).ok_or_else(|| bad_change("time"))?,
    )))
}

/// Prunes (see [`PRUNE`]); the number of changes removed.
pub(crate) async fn prune<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    prune: &PruneChanges,
) -> Result<u64, PgError> {
    let before = prune.before.map(Timestamp::unix_micros);
    let keep = prune.keep_last.map(int8);
    let row = rows::query_opt(c, PRUNE, &[&nid, &before, &keep]).await?;
    let removed: i64 = match row {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    Ok(u64::try_from(removed).unwrap_or(0))
}

/// A consumer's saved cursor.
pub(crate) async fn consumer<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    consumer: &str,
) -> Result<Option<ChangeCursor>, Failure> {
    let Some(row) = rows::query_opt(c, CONSUMER, &[&nid, &consumer]).await? else {
        return Ok(None);
    };
    let cursor: i64 = row.try_get(0)?;
    Ok(Some(ChangeCursor::new(unsigned(
        cursor,
        "consumer cursor",
    )?)))
}

/// Saves a consumer's cursor (only forward).
pub(crate) async fn save_consumer<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    consumer: &str,
    cursor: ChangeCursor,
) -> Result<(), PgError> {
    let cursor = int8(cursor.get());
    rows::execute(c, SAVE_CONSUMER, &[&nid, &consumer, &cursor])
        .await
        .map(drop)
}
