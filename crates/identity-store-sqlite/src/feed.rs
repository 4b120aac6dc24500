//! The change feed's rows: appending a write's changes inside its
//! transaction, reading a page in one snapshot, pruning, and the consumers'
//! cursors.
//!
//! Tables (schema version 4, `schema.rs`):
//!
//! - `identity_changes`, one row per change, keyed `(nid, cursor)`;
//! - `identity_change_pruned`, one row per tenant that ever pruned: the
//!   last cursor pruned;
//! - `identity_change_consumers`, one row per named consumer.
//!
//! A change is one statement: its cursor is one more than the tenant's
//! newest change's (or, when a prune left none, than the pruning point),
//! read inside the write's own transaction. SQLite has one writer at a
//! time (`BEGIN IMMEDIATE`), so the numbers grow in commit order and a
//! reader never sees cursor 8 before 7; a pruned cursor is never handed
//! out again, since the pruning point stays. The newest change's row also
//! keeps `at` from going backwards along the feed (a change's `at` is the
//! later of the clock and the previous change's), so the changes older than
//! an instant are a prefix of the feed and a prune by age walks only the
//! rows it removes.

use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields, Clock as _, Error, PruneChanges,
    SystemClock, TenantId, Timestamp,
};
use rusqlite::types::{FromSqlError, Type};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use crate::error::ResultExt;

/// A change a write is about to append (the cursor and `at` come from the
/// tenant's newest change).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) identity_id: Uuid,
    pub(crate) kind: ChangeKind,
    pub(crate) version: u64,
    pub(crate) fields: ChangedFields,
}

/// Appends one change of tenant `?1` with the clock at `?6`: the cursor
/// after the newest change (or the pruning point), and `at` no earlier
/// than the newest change's. The look-ups end on the primary key's last
/// entry for the tenant, the leaf page the insert writes anyway. (A
/// single-row `VALUES` insert: `INSERT ... SELECT` would need a statement
/// journal, a temporary file, which cost more than the whole rest.)
const APPEND: &str = "INSERT INTO identity_changes \
     (nid, cursor, identity_id, kind, version, fields, at) \
     VALUES (?1, coalesce(\
         (SELECT cursor FROM identity_changes WHERE nid = ?1 ORDER BY cursor DESC LIMIT 1), \
         (SELECT pruned_through FROM identity_change_pruned WHERE nid = ?1), 0) + 1, \
       ?2, ?3, ?4, ?5, max(?6, coalesce(\
         (SELECT at FROM identity_changes WHERE nid = ?1 ORDER BY cursor DESC LIMIT 1), ?6)))";

/// Appends `changes`, in order, inside the caller's write transaction: one
/// statement each.
pub(crate) fn append(
    conn: &Connection,
    nid: &[u8; 16],
    changes: &[Pending],
) -> rusqlite::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let now = SystemClock.now().unix_micros();
    let mut insert = conn.prepare_cached(APPEND)?;
    for change in changes {
        insert.execute(params![
            nid,
            change.identity_id.as_bytes(),
            change.kind.as_str(),
            column(change.version),
            change.fields.to_list(),
            now
        ])?;
    }
    Ok(())
}

/// A page of a tenant's changes after a cursor.
const PAGE: &str = "SELECT cursor, identity_id, kind, version, fields, at FROM identity_changes \
     WHERE nid = ?1 AND cursor > ?2 ORDER BY cursor LIMIT ?3";

/// Up to `limit` changes after `after`, read in one snapshot with the
/// tenant's pruning point; the inner error is [`Error::CursorExpired`].
pub(crate) fn page(
    conn: &Connection,
    tenant: TenantId,
    after: Option<ChangeCursor>,
    limit: usize,
) -> rusqlite::Result<Result<ChangePage, Error>> {
    let nid = crate::rows::nid(tenant);
    // Two statements, one snapshot: a deferred transaction that only reads.
    let tx = conn.unchecked_transaction()?;
    let pruned: i64 = tx
        .prepare_cached("SELECT pruned_through FROM identity_change_pruned WHERE nid = ?1")?
        .query_row(params![nid], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let pruned_through = cursor_of(pruned);
    if let Some(after) = after.filter(|a| *a < pruned_through) {
        return Ok(Err(Error::CursorExpired {
            after,
            pruned_through,
        }));
    }
    let from = after.unwrap_or(pruned_through);
    let take = i64::try_from(limit).unwrap_or(i64::MAX);
    let changes = tx
        .prepare_cached(PAGE)?
        .query_map(params![nid, column(from.get()), take], |r| {
            change_from_row(tenant, r)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.finish()?;
    let next = changes.last().map_or(from, |c| c.cursor);
    Ok(Ok(ChangePage { changes, next }))
}

fn change_from_row(tenant: TenantId, row: &Row<'_>) -> rusqlite::Result<Change> {
    let bad = |column: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            Type::Text,
            format!("not a stored change's {what}").into(),
        )
    };
    let id = Uuid::from_slice(row.get_ref(1)?.as_blob()?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, Type::Blob, Box::new(e)))?;
    let kind = ChangeKind::parse(row.get_ref(2)?.as_str()?).ok_or_else(|| bad(2, "kind"))?;
    let fields =
        ChangedFields::parse_list(row.get_ref(4)?.as_str()?).ok_or_else(|| bad(4, "fields"))?;
    let at = Timestamp::from_unix_micros(row.get(5)?).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            5,
            Type::Integer,
            FromSqlError::OutOfRange(0).into(),
        )
    })?;
    Ok(Change::new(
        cursor_of(row.get(0)?),
        tenant,
        id,
        kind,
        u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
        fields,
        at,
    ))
}

/// Removes what `prune` selects, in one write transaction; returns how many
/// changes went.
///
/// Both selections are prefixes of the feed (cursors above the pruning
/// point are contiguous, and `at` never goes backwards along it), so one
/// range delete removes their union and the new pruning point is its end.
pub(crate) fn prune(
    conn: &mut Connection,
    nid: &[u8; 16],
    prune: &PruneChanges,
) -> Result<u64, Error> {
    let context = "prune changes";
    let tx = crate::store::begin(conn, "begin prune")?;
    let head: Option<(i64, i64)> = tx
        .prepare_cached(
            "SELECT (SELECT cursor FROM identity_changes WHERE nid = ?1 \
               ORDER BY cursor DESC LIMIT 1), \
             coalesce((SELECT pruned_through FROM identity_change_pruned WHERE nid = ?1), 0)",
        )
        .and_then(|mut s| {
            s.query_row(params![nid], |r| {
                let pruned: i64 = r.get(1)?;
                Ok(r.get::<_, Option<i64>>(0)?.map(|last| (last, pruned)))
            })
        })
        .ctx(context)?;
    // No change kept: nothing to prune.
    let Some((last, pruned)) = head else {
        return Ok(0);
    };
    let mut through = pruned;
    if let Some(keep) = prune.keep_last {
        through = through.max(last - column(keep).min(last));
    }
    if let Some(before) = prune.before {
        // Walks the rows it will remove, and stops at the first to keep.
        let first_kept: Option<i64> = tx
            .prepare_cached(
                "SELECT cursor FROM identity_changes WHERE nid = ?1 AND cursor > ?2 \
                 AND at >= ?3 ORDER BY cursor LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![nid, pruned, before.unix_micros()], |r| r.get(0))
                    .optional()
            })
            .ctx(context)?;
        through = through.max(first_kept.map_or(last, |kept| kept - 1));
    }
    if through <= pruned {
        return Ok(0);
    }
    let removed = tx
        .prepare_cached(
            "DELETE FROM identity_changes WHERE nid = ?1 AND cursor > ?2 AND cursor <= ?3",
        )
        .and_then(|mut s| s.execute(params![nid, pruned, through]))
        .ctx(context)?;
    tx.prepare_cached(
        "INSERT INTO identity_change_pruned (nid, pruned_through) VALUES (?1, ?2) \
         ON CONFLICT (nid) DO UPDATE SET pruned_through = excluded.pruned_through",
    )
    .and_then(|mut s| s.execute(params![nid, through]))
    .ctx(context)?;
    tx.commit().ctx("commit prune")?;
    Ok(removed as u64)
}

/// The cursor `consumer` saved last.
pub(crate) fn consumer_cursor(
    conn: &Connection,
    nid: &[u8; 16],
    consumer: &str,
) -> rusqlite::Result<Option<ChangeCursor>> {
    conn.prepare_cached(
        "SELECT cursor FROM identity_change_consumers WHERE nid = ?1 AND consumer = ?2",
    )?
    .query_row(params![nid, consumer], |r| r.get(0).map(cursor_of))
    .optional()
}

/// Saves `consumer`'s cursor unless it saved a later one (one statement,
/// so it is its own transaction).
pub(crate) fn save_consumer_cursor(
    conn: &Connection,
    nid: &[u8; 16],
    consumer: &str,
    cursor: ChangeCursor,
) -> Result<(), Error> {
    let Ok(cursor) = i64::try_from(cursor.get()) else {
        return Err(Error::invalid("the change cursor is not valid"));
    };
    conn.prepare_cached(
        "INSERT INTO identity_change_consumers (nid, consumer, cursor) VALUES (?1, ?2, ?3) \
         ON CONFLICT (nid, consumer) DO UPDATE SET cursor = max(cursor, excluded.cursor)",
    )
    .and_then(|mut s| s.execute(params![nid, consumer, cursor]))
    .ctx("save consumer cursor")?;
    Ok(())
}

/// A count, cursor or version as an SQL integer (none comes near
/// `i64::MAX`; a larger one given by a caller is past every stored one).
fn column(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn cursor_of(n: i64) -> ChangeCursor {
    ChangeCursor::new(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::options::SqliteOptions;

    /// The feed's statements are compiled once, not on every write: a
    /// statement that SQLite re-prepares whenever `?1` is bound again (as
    /// it did the append inside a write transaction before the store
    /// enabled the query planner stability guarantee) is parsed and
    /// planned on every append and every page read.
    #[test]
    fn appends_and_page_reads_are_never_prepared_again() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = Connection::open(dir.path().join("feed.db")).expect("open");
        crate::schema::prepare_writer(&mut conn, &SqliteOptions::default(), false).expect("schema");
        let tenants = [TenantId::DEFAULT, TenantId(Uuid::from_u128(7))];
        for n in 0..20u64 {
            let tenant = tenants[(n % 2) as usize];
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .expect("begin");
            let change = Pending {
                identity_id: Uuid::from_u128(u128::from(n) + 1),
                kind: ChangeKind::Created,
                version: 1,
                fields: ChangedFields::field("traits").expect("a field"),
            };
            append(&tx, &crate::rows::nid(tenant), &[change]).expect("append");
            tx.commit().expect("commit");
            let read = page(&conn, tenant, None, 100).expect("read").expect("page");
            assert_eq!(read.changes.len() as u64, n / 2 + 1);
        }
        let status = |sql: &str, what: StatementStatus| {
            conn.prepare_cached(sql).expect("cached").get_status(what)
        };
        assert_eq!(status(APPEND, StatementStatus::Run), 20);
        assert_eq!(status(APPEND, StatementStatus::RePrepare), 0);
        assert_eq!(status(PAGE, StatementStatus::Run), 20);
        assert_eq!(status(PAGE, StatementStatus::RePrepare), 0);
    }
}
