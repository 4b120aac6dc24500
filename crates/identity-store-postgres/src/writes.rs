//! The write transactions, one attempt each (`run.rs` runs them), and
//! how each settles a lost commit ([`Lease::settling`]).

use deadpool_postgres::GenericClient;
use identity_core::{ConflictField, Error, ValidIdentity, WriteOp};
use tokio_postgres::Error as PgError;
use uuid::Uuid;

use crate::error::unique_violation;
use crate::feed;
use crate::rows::{self, Param, identity_from_row};
use crate::run::{Failure, Lease};

/// The store error of a failed write: a unique violation becomes a conflict
/// naming the value that collided (looked up on `c`, after the failed
/// statements were rolled back); anything else stays a driver error for
/// the retry loop.
async fn write_failure<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    identity: &ValidIdentity,
    op: WriteOp,
    e: PgError,
) -> Failure {
    let Some(index) = unique_violation(&e) else {
        return Failure::Db(e);
    };
    match rows::find_conflict(c, nid, identity, op).await {
        Ok(found) => match found.or_else(|| index?.backstop(identity)) {
            Some(field) => Failure::Store(Error::Conflict { field, op }),
            None => Failure::Store(Error::internal("unexpected unique constraint violation", e)),
        },
        Err(lookup) => Failure::Db(lookup),
    }
}

/// A settling attempt's verdict that its write's first commit cannot be
/// proven either way.
fn unprovable(what: &str) -> Failure {
    Failure::Store(Error::OutcomeUnknown {
        message: format!(
            "{what}: the connection was lost after the commit was sent, and the identity \
             changed since"
        ),
        source: None,
    })
}

/// Whether a conflict of a settling create is its own lost commit: ids are
/// fresh, so an identity with this id was created by this very write.
fn own_create(settling: bool, failure: &Failure) -> bool {
    settling
        && matches!(
            failure,
            Failure::Store(Error::Conflict {
                field: ConflictField::Id,
                op: WriteOp::Create
            })
        )
}

pub(crate) async fn create_attempt(
    mut conn: Lease,
    nid: Uuid,
    identity: &ValidIdentity,
) -> Result<u64, Failure> {
    let committer = conn.committer();
    let result: Result<(), Failure> = async {
        // Settling a lost commit: the insert itself finds out. It waits for
        // an attempt still pending on this server (the same primary key),
        // then either inserts (the first attempt did not commit) or hits
        // the id (it did).
        let tx = conn.transaction().await?;
        // The change goes with the identity row, in its statement.
        rows::insert(&tx, nid, identity).await?;
        committer.commit(tx).await
    }
    .await;
    let failure = match result {
        Ok(()) => return Ok(1),
        // The transaction is rolled back (dropped) before the lookup.
        Err(Failure::Db(e)) => write_failure(&*conn, nid, identity, WriteOp::Create, e).await,
        Err(other) => other,
    };
    if own_create(conn.settling(), &failure) {
        return Ok(1);
    }
    Err(failure)
}

pub(crate) async fn batch_attempt(
    mut conn: Lease,
    nid: Uuid,
    identities: &[ValidIdentity],
) -> Result<Vec<Result<u64, Error>>, Failure> {
    let committer = conn.committer();
    let settling = conn.settling();
    let mut tx = conn.transaction().await?;
    let mut results = Vec::with_capacity(identities.len());
    for identity in identities {
        // A savepoint per entry: a conflict undoes its own entry, and its
        // change, only. The changes so follow the entries' order.
        let entry = tx.savepoint("batch_entry").await?;
        match rows::insert(&entry, nid, identity).await {
            Ok(()) => {
                entry.commit().await?;
                results.push(Ok(1));
            }
            Err(e) if unique_violation(&e).is_some() => {
                entry.rollback().await?;
                // The lookup sees the earlier entries of the batch.
                match write_failure(&tx, nid, identity, WriteOp::Create, e).await {
                    // Settling: this entry's first commit did happen (and
                    // with it the whole batch's).
                    failure if own_create(settling, &failure) => results.push(Ok(1)),
                    Failure::Store(conflict) => results.push(Err(conflict)),
                    other => return Err(other),
                }
            }
            Err(e) => return Err(Failure::Db(e)),
        }
    }
    committer.commit(tx).await?;
    Ok(results)
}

pub(crate) async fn update_attempt(
    mut conn: Lease,
    nid: Uuid,
    identity: &ValidIdentity,
    expected_version: Option<u64>,
) -> Result<u64, Failure> {
    let id = identity.identity().id;
    let committer = conn.committer();
    let settling = conn.settling();
    let shared = conn.shared();
    let intended = shared.intended();
    let result: Result<u64, Failure> = async {
        let tx = conn.transaction().await?;
        // The row lock waits for an attempt still pending on this
        // server, so what a settling attempt reads below is final. The
        // read goes out with the lock, in one round trip: the server runs
        // it after the lock is granted, with a snapshot of its own. Both
        // are prepared first (a round trip only the first time on a
        // connection, as a settling attempt's fresh one is): prepared
        // inside the join, the read could be sent first and see the row
        // as it was before the pending commit.
        let key: [Param<'_>; 2] = [&nid, &id];
        let (lock, read) = tokio::try_join!(
            tx.prepare_cached(rows::LOCK_HEAD),
            tx.prepare_cached(rows::GET_LOCKED)
        )?;
        let (head, stored) = tokio::join!(tx.query_opt(&lock, &key), tx.query_opt(&read, &key));
        let Some(head) = head? else {
            return Err(if settling {
                unprovable("update identity")
            } else {
                Failure::Store(Error::NotFound)
            });
        };
        let current = u64::try_from(head.try_get::<_, i64>(0)?).unwrap_or(0);
        let stored = stored?
            .map(|row| identity_from_row(&row))
            .transpose()?
            .ok_or(Failure::Store(Error::NotFound))?;
        if settling {
            // The row as the lost commit would have left it: proven.
            let mut written = identity.identity().clone();
            written.version = current;
            if intended == Some(current) && stored == written {
                return Ok(current);
            }
            // Still the version the lost commit started from: it did
            // not happen, and the write goes on, once. Anything else:
            // another write came after it, whichever way it went.
            if intended != Some(current + 1) {
                return Err(unprovable("update identity"));
            }
        }
        if let Some(expected) = expected_version.filter(|v| *v != current) {
            return Err(Failure::Store(Error::VersionMismatch {
                expected,
                actual: current,
            }));
        }
        let version = current + 1;
        // The change goes with the identity row's update, in its
        // statement.
        rows::update(&tx, nid, identity, &stored, version).await?;
        shared.intend(version);
        committer.commit(tx).await?;
        Ok(version)
    }
    .await;
    match result {
        Err(Failure::Db(e)) => Err(write_failure(&*conn, nid, identity, WriteOp::Update, e).await),
        other => other,
    }
}

pub(crate) async fn delete_attempt(
    conn: Lease,
    nid: Uuid,
    id: Uuid,
    expected_version: Option<u64>,
) -> Result<(), Failure> {
    if conn.settling() {
        // The row lock waits for the lost delete if it is still pending
        // on this server. Still there: it did not happen. Gone: by this
        // delete or another, which cannot be told apart.
        let row = rows::query_opt(
            &*conn,
            "SELECT version FROM identities WHERE nid = $1 AND id = $2 FOR UPDATE",
            &[&nid, &id],
        )
        .await?;
        if row.is_none() {
            return Err(unprovable("delete identity"));
        }
    }

    let expected = expected_version.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    // One statement, one transaction: the cascades and the change go with
    // it. It commits by itself, so it is sent as a commit.
    let deleted = conn
        .committer()
        .statement(rows::execute(&*conn, feed::DELETE, &[&nid, &id, &expected]))
        .await?;
    if deleted > 0 {
        return Ok(());
    }
    let row = rows::query_opt(
        &*conn,
        "SELECT version FROM identities WHERE nid = $1 AND id = $2",
        &[&nid, &id],
    )
    .await?;
    let Some(row) = row else {
        return Err(Failure::Store(Error::NotFound));
    };
    let actual = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
    match expected_version {
        Some(expected) if expected != actual => {
            Err(Failure::Store(Error::VersionMismatch { expected, actual }))
        }
        // The identity came back (or reached the expected version) between
        // the two statements: a serialization failure in all but name, and
        // nothing was written, so it is re-run.
        _ => Err(Failure::Retry(Error::Unavailable {
            message: "delete identity: the identity changed concurrently; retry".to_owned(),
            source: None,
        })),
    }
}
