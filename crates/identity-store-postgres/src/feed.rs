//! The change feed's SQL: appending a write's changes, numbering them,
//! reading a page, pruning, and consumer cursors (tables in `schema.rs`,
//! versions 3 and 5).
//!
//! # Why changes are numbered after they commit
//!
//! A number taken before commit does not do: writer A takes 7, writer B
//! takes 8 and commits, a reader reads 8 and moves its cursor past it,
//! then A commits 7, which the reader never sees (`tests/it/feed.rs`
//! shows it with a plain sequence). Nor does a counter row that writers
//! bump and hold through their commit (versions 3 and 4 did that): it is
//! exact, but a tenant's writers then commit one at a time, and
//! concurrent writers of one tenant could not share a WAL flush.
//!
//! So a write appends its change with no cursor, only a `seq` from
//! `identity_changes_seq`, in the statement that writes the identity
//! ([`append_written`]: the change costs no statement of its own), and
//! holds no lock for the feed. Cursors are given by readers: a reader that finds committed
//! changes without a cursor, and needs them for its page, numbers them
//! ([`number`]) in a transaction of its own that takes the tenant's head
//! row in `identity_change_heads` (so numberings of a tenant run one at a
//! time), numbers what its snapshot shows unnumbered from the head's last
//! cursor on, in `seq` order, and commits before any reader can see the
//! new cursors. Then:
//! - only committed changes get cursors, and each gets one (the head
//!   row's lock, and the update's `cursor IS NULL` re-checked under the
//!   row lock);
//! - a numbering starts after the one before it committed, so the
//!   cursors visible to any snapshot are every cursor up to some point:
//!   a reader that went past a cursor never finds a smaller one later;
//! - the changes of one identity get cursors in version order: a write
//!   takes its `seq` after it locked (or, creating, inserted) the
//!   identity's row, so after the previous write of that identity
//!   committed with a smaller `seq`; a snapshot that shows the later
//!   change shows the earlier one too, and numbering follows `seq`. The
//!   sequence has `CACHE 1`, so `seq` follows the order values were taken
//!   across sessions.
//!
//! `at` is the server's `clock_timestamp()` at the append, just before the
//! commit. Along cursors it can go back a little (a change that committed
//! late is numbered after changes with later times); along one
//! identity's changes it does not, unless the server's clock does.

use deadpool_postgres::GenericClient;
use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields, Error, PruneChanges, TenantId,
    Timestamp,
};
use tokio_postgres::{Error as PgError, Row};
use uuid::Uuid;

use crate::rows;
use crate::run::{Failure, Lease};

/// The server's clock in microseconds since the Unix epoch.
macro_rules! now_micros {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::INT8"
    };
}
pub(crate) use now_micros;

/// The tail of a statement that writes an identity in a CTE named
/// `written` (returning the identity's `id` and `version`) and appends its
/// change in the same statement: the change of tenant `$1`, of kind
/// `$kind`, at the version `$version` and with the field list `$fields`
/// (SQL expressions over `written`). One statement instead of two: the
/// change costs the write no statement of its own on the server. The
/// change's `seq` is taken after the identity row was written (the outer
/// insert reads `written`'s rows), as the module docs require.
macro_rules! append_written {
    ($kind:literal, $version:literal, $fields:literal) => {
        concat!(
            " INSERT INTO identity_changes (nid, identity_id, kind, version, fields, at) \
             SELECT $1, written.id, ",
            $kind,
            ", ",
            $version,
            ", ",
            $fields,
            ", ",
            $crate::feed::now_micros!(),
            " FROM written"
        )
    };
}
pub(crate) use append_written;

/// A delete as one statement (so one transaction, committed in the same
/// round trip): deletes identity `$2` of tenant `$1` (at version `$3` when
/// given; the cascades go with it) and appends its change. Affects one row
/// when it deleted, none otherwise.
pub(crate) const DELETE: &str = concat!(
    "WITH written AS (\
       DELETE FROM identities WHERE nid = $1 AND id = $2 \
       AND ($3::INT8 IS NULL OR version = $3::INT8) \
       RETURNING id, version)",
    append_written!("'deleted'", "written.version + 1", "''")
);

/// Takes tenant `$1`'s head row (creating it), giving its last cursor.
const LOCK_HEAD: &str = "INSERT INTO identity_change_heads AS h (nid, last_cursor, pruned_through) \
     VALUES ($1, 0, 0) \
     ON CONFLICT (nid) DO UPDATE SET last_cursor = h.last_cursor \
     RETURNING h.last_cursor";

/// Numbers up to `$3` of tenant `$1`'s unnumbered changes, in `seq` order,
/// from `$2` (the head's last cursor, read under its lock by
/// [`LOCK_HEAD`] in the same transaction) on, and moves the head to the
/// last cursor given. A statement of its own, after the lock: its
/// snapshot shows every change committed before the lock was granted.
///
/// The rows are updated by `ctid` (a TID scan per row, linear in the
/// rows numbered): joined on `seq`, the planner, which has no statistics
/// on a table that only grows, chose a nested loop that scanned every
/// unnumbered row once per row (3 s for 2,000). A row's `ctid` holds
/// within the statement: only a numbering updates change rows (and runs
/// alone, under the head row), pruning deletes only numbered ones, and
/// `cursor IS NULL` is checked again on the row.
const NUMBER: &str = "WITH todo AS (\
       SELECT s.row, $2::INT8 + row_number() OVER (ORDER BY s.seq) AS cursor \
       FROM (SELECT ctid AS row, seq FROM identity_changes \
             WHERE nid = $1 AND cursor IS NULL ORDER BY seq LIMIT $3) AS s), \
     numbered AS (\
       UPDATE identity_changes AS c SET cursor = todo.cursor FROM todo \
       WHERE c.ctid = todo.row AND c.cursor IS NULL \
       RETURNING c.cursor) \
     UPDATE identity_change_heads \
     SET last_cursor = (SELECT COALESCE(max(cursor), $2::INT8) FROM numbered) \
     WHERE nid = $1";

/// The most changes one numbering takes: more than any page asks for, and
/// a bound on the transaction after a long time without readers.
const NUMBER_AT_MOST: i64 = 10_000;

/// One page of tenant `$1`'s numbered changes after `$2` (or after the
/// last pruned cursor, if greater), at most `$3`, with the last pruned
/// cursor and whether unnumbered changes wait on every row; one row of
/// NULL changes when there are none. One statement, so all of it comes
/// from one snapshot.
const PAGE: &str = "SELECT h.pruned_through, h.unnumbered, c.cursor, c.identity_id, c.kind, \
     c.version, c.fields, c.at \
     FROM (SELECT COALESCE((SELECT pruned_through FROM identity_change_heads \
                            WHERE nid = $1), 0) AS pruned_through, \
                  EXISTS (SELECT 1 FROM identity_changes \
                          WHERE nid = $1 AND cursor IS NULL) AS unnumbered) AS h \
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
/// then the head row's `pruned_through` moves, so a numbering waits on the
/// head row only from that update to the commit. Only numbered changes
/// are pruned (a NULL cursor matches neither `min` nor `<=`): the
/// unnumbered ones are the feed's newest. Gives the number of changes
/// removed.
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

/// A page read by [`page`], and whether it could take more changes that
/// wait unnumbered: then a [`number`] on the primary and a second read
/// give them.
pub(crate) struct Page {
    pub(crate) page: ChangePage,
    pub(crate) wants_numbering: bool,
}

/// Reads one page (see [`PAGE`]).
pub(crate) async fn page<C: GenericClient + Sync>(
    c: &C,
    tenant: TenantId,
    after: Option<ChangeCursor>,
    limit: usize,
) -> Result<Page, Failure> {
    let from = int8(after.map_or(0, ChangeCursor::get));
    let found = rows::query(c, PAGE, &[&tenant.0, &from, &int8(limit as u64)]).await?;
    let unnumbered = match found.first() {
        Some(row) => row.try_get::<_, bool>(1)?,
        None => false,
    };
    let page = page_from_rows(tenant, after, &found)?;
    let wants_numbering = unnumbered && page.changes.len() < limit;
    Ok(Page {
        page,
        wants_numbering,
    })
}

/// Numbers tenant `nid`'s committed unnumbered changes (at most
/// [`NUMBER_AT_MOST`]) in a transaction of its own (see the module docs).
/// Running it twice, or after another reader did, is harmless: it numbers
/// what is still unnumbered.
pub(crate) async fn number(conn: &mut Lease, nid: Uuid) -> Result<(), Failure> {
    let committer = conn.committer();
    let tx = conn.transaction().await?;
    number_in(&tx, nid).await?;
    committer.commit(tx).await
}

/// [`number`]'s statements, in the caller's transaction: takes the head
/// row, then numbers.
async fn number_in<C: GenericClient + Sync>(tx: &C, nid: Uuid) -> Result<(), Failure> {
    let head = rows::query(tx, LOCK_HEAD, &[&nid]).await?;
    let last: i64 = match head.first() {
        Some(row) => row.try_get(0)?,
        None => return Err(Failure::Store(bad_change("no head row after its upsert"))),
    };
    rows::execute(tx, NUMBER, &[&nid, &last, &NUMBER_AT_MOST]).await?;
    Ok(())
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
    let Some(cursor) = row.try_get::<_, Option<i64>>(2).map_err(unreadable)? else {
        return Ok(None);
    };
    let identity_id: Uuid = row.try_get(3).map_err(unreadable)?;
    let kind: &str = row.try_get(4).map_err(unreadable)?;
    let version: i64 = row.try_get(5).map_err(unreadable)?;
    let fields: &str = row.try_get(6).map_err(unreadable)?;
    let at: i64 = row.try_get(7).map_err(unreadable)?;
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

/// Numbers what waits unnumbered, then prunes (see [`PRUNE`]), in one
/// transaction under the head row's lock; the number of changes removed.
/// Numbering first lets a prune by count or age see every committed
/// change; whatever a numbering cannot take at once is the newest.
pub(crate) async fn prune(
    conn: &mut Lease,
    nid: Uuid,
    prune: &PruneChanges,
) -> Result<u64, Failure> {
    let before = prune.before.map(Timestamp::unix_micros);
    let keep = prune.keep_last.map(int8);
    let committer = conn.committer();
    let tx = conn.transaction().await?;
    number_in(&tx, nid).await?;
    let row = rows::query_opt(&tx, PRUNE, &[&nid, &before, &keep]).await?;
    let removed: i64 = match row {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    committer.commit(tx).await?;
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
