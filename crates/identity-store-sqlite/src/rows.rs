//! Row mapping: an identity to its rows and back, the statements of an
//! update's child-row plan, and the search for the value a failed write
//! collided on (the plan and the order of that search are the core's,
//! `identity_core::sql`).
//!
//! Reads decode the identity row's document (`doc.rs`) and nothing else;
//! writes keep the document, the identity's columns and the child rows in
//! step, in one transaction. The readers of the child rows and columns
//! (`identity_from_row`, `load_children`) serve the migration that fills
//! the documents of a version 2 file.
//!
//! Everything here is synchronous and runs inside a transaction the caller
//! opened; errors stay driver errors so the caller can tell a unique
//! violation from the rest.

use std::sync::Arc;

use identity_core::sql::{ChildRowPlan, conflict_candidates};
use identity_core::{
    AddressVia, ConflictField, Credential, CredentialConfig, CredentialType, ExternalId, Identity,
    RecoveryAddress, State, TenantId, Timestamp, ValidIdentity, VerifiableAddress,
    VerificationStatus, WriteOp,
};
use rusqlite::types::{FromSql, FromSqlError, Type, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use uuid::Uuid;

use crate::doc;

/// The identity columns every read selects, in [`identity_from_row`] order.
macro_rules! identity_columns {
    () => {
        "pk, id, schema_id, state, state_changed_at, traits, metadata_public, \
         metadata_admin, organization_id, external_id, created_at, updated_at, version"
    };
}

/// A tenant as stored: its UUID bytes.
pub(crate) fn nid(tenant: TenantId) -> [u8; 16] {
    *tenant.0.as_bytes()
}

/// A UUID column value.
struct Id(Uuid);

impl FromSql for Id {
    fn column_result(value: ValueRef<'_>) -> Result<Self, FromSqlError> {
        let bytes = value.as_blob()?;
        Uuid::from_slice(bytes)
            .map(Id)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A timestamp column value (integer microseconds).
struct Micros(Timestamp);

impl FromSql for Micros {
    fn column_result(value: ValueRef<'_>) -> Result<Self, FromSqlError> {
        let micros = value.as_i64()?;
        Timestamp::from_unix_micros(micros)
            .map(Micros)
            .ok_or(FromSqlError::OutOfRange(micros))
    }
}

/// A JSON text column value.
struct Json(Value);

impl FromSql for Json {
    fn column_result(value: ValueRef<'_>) -> Result<Self, FromSqlError> {
        let text = value.as_str()?;
        serde_json::from_str(text)
            .map(Json)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

fn bad_text(column: usize, what: &str, text: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        Type::Text,
        format!("unknown {what} {text:?}").into(),
    )
}

fn json_text(value: &Value) -> String {
    // A `Value` always serializes: its map keys are strings.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn version_column(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

fn credential_type(column: usize, text: &str) -> rusqlite::Result<CredentialType> {
    CredentialType::parse(text).ok_or_else(|| bad_text(column, "credential type", text))
}

fn address_via(column: usize, text: &str) -> rusqlite::Result<AddressVia> {
    AddressVia::parse(text).ok_or_else(|| bad_text(column, "address via", text))
}

/// The identity of a row selecting `version, doc` (in that order).
fn identity_from_doc(row: &Row<'_>) -> rusqlite::Result<Identity> {
    let version = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
    doc::decode(row.get_ref(1)?.as_str()?, version)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, Type::Text, e.into()))
}

/// The document column of `identity`.
fn doc_text(identity: &Identity) -> rusqlite::Result<String> {
    doc::encode(identity).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The identity with this id: one statement on one row.
pub(crate) fn get(
    conn: &Connection,
    nid: &[u8; 16],
    id: Uuid,
) -> rusqlite::Result<Option<Identity>> {
    conn.prepare_cached("SELECT version, doc FROM identities WHERE nid = ?1 AND id = ?2")?
        .query_row(params![nid, id.as_bytes()], identity_from_doc)
        .optional()
}

/// The identity with this external id: one statement on one row.
pub(crate) fn get_by_external_id(
    conn: &Connection,
    nid: &[u8; 16],
    external_id: &str,
) -> rusqlite::Result<Option<Identity>> {
    conn.prepare_cached("SELECT version, doc FROM identities WHERE nid = ?1 AND external_id = ?2")?
        .query_row(params![nid, external_id], identity_from_doc)
        .optional()
}

/// The identity holding this identifier: the identifier's row, then the
/// identity's, in one read transaction (one snapshot).
///
/// Two statements, not a JOIN: without the query planner stability
/// guarantee (`schema::configure` enables it) the bundled SQLite (STAT4)
/// re-prepared the JOIN on every call, and the two statements measured
/// faster (see `benches/README.md`).
pub(crate) fn find(
    conn: &Connection,
    nid: &[u8; 16],
    kind: CredentialType,
    identifier: &str,
) -> rusqlite::Result<Option<Identity>> {
    let tx = conn.unchecked_transaction()?;
    let owner: Option<i64> = tx
        .prepare_cached(
            "SELECT identity_pk FROM credential_identifiers \
             WHERE nid = ?1 AND type = ?2 AND identifier = ?3",
        )?
        .query_row(params![nid, kind.as_str(), identifier], |r| r.get(0))
        .optional()?;
    let found = match owner {
        Some(pk) => tx
            .prepare_cached("SELECT version, doc FROM identities WHERE pk = ?1")?
            .query_row([pk], identity_from_doc)
            .optional()?,
        None => None,
    };
    tx.commit()?;
    Ok(found)
}

/// The identities a list statement selects (`version, doc` first).
pub(crate) fn collect<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<Vec<Arc<Identity>>> {
    conn.prepare_cached(sql)?
        .query_map(params, |r| identity_from_doc(r).map(Arc::new))?
        .collect()
}

/// The row key of an identity and the identity as stored (its version
/// included): what an update diffs against.
pub(crate) fn stored(
    conn: &Connection,
    nid: &[u8; 16],
    id: Uuid,
) -> rusqlite::Result<Option<(i64, Identity)>> {
    conn.prepare_cached("SELECT version, doc, pk FROM identities WHERE nid = ?1 AND id = ?2")?
        .query_row(params![nid, id.as_bytes()], |r| {
            Ok((r.get(2)?, identity_from_doc(r)?))
        })
        .optional()
}

/// Fills the document of every identity from its columns and child rows
/// (the migration to version 3).
pub(crate) fn fill_documents(conn: &Connection) -> rusqlite::Result<()> {
    let mut select = conn.prepare(concat!(
        "SELECT ",
        identity_columns!(),
        " FROM identities WHERE doc IS NULL"
    ))?;
    let mut rows = select.query([])?;
    let mut set = conn.prepare("UPDATE identities SET doc = ?2 WHERE pk = ?1")?;
    while let Some(row) = rows.next()? {
        let (pk, mut identity) = identity_from_row(row)?;
        load_children(conn, pk, &mut identity)?;
        set.execute(params![pk, doc_text(&identity)?])?;
    }
    Ok(())
}

/// An identity row without its children, and its row key (the version 2
/// layout, which the columns and child rows still hold).
fn identity_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Identity)> {
    let state: String = row.get(3)?;
    let state = State::parse(&state).ok_or_else(|| bad_text(3, "state", &state))?;
    let identity = Identity {
        id: row.get::<_, Id>(1)?.0,
        schema_id: row.get(2)?,
        state,
        state_changed_at: row.get::<_, Option<Micros>>(4)?.map(|m| m.0),
        traits: row.get::<_, Json>(5)?.0,
        credentials: Default::default(),
        verifiable_addresses: Vec::new(),
        recovery_addresses: Vec::new(),
        metadata_public: row.get::<_, Option<Json>>(6)?.map(|j| j.0),
        metadata_admin: row.get::<_, Option<Json>>(7)?.map(|j| j.0),
        organization_id: row.get::<_, Option<Id>>(8)?.map(|i| i.0),
        external_id: ExternalId::from_optional(row.get(9)?)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(9, Type::Text, Box::new(e)))?,
        created_at: row.get::<_, Micros>(10)?.0,
        updated_at: row.get::<_, Micros>(11)?.0,
        version: u64::try_from(row.get::<_, i64>(12)?).unwrap_or(0),
    };
    Ok((row.get(0)?, identity))
}

/// Fills in the credentials, identifiers and addresses of an identity.
fn load_children(conn: &Connection, pk: i64, identity: &mut Identity) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT type, config, version, created_at, updated_at \
         FROM credentials WHERE identity_pk = ?1",
    )?;
    let mut rows = stmt.query([pk])?;
    while let Some(row) = rows.next()? {
        let kind = credential_type(0, row.get_ref(0)?.as_str()?)?;
        identity.credentials.insert(
            kind,
            Credential {
                kind,
                identifiers: Vec::new(),
                config: CredentialConfig::new(row.get::<_, Json>(1)?.0),
                version: row.get(2)?,
                created_at: row.get::<_, Micros>(3)?.0,
                updated_at: row.get::<_, Micros>(4)?.0,
            },
        );
    }

    let mut stmt = conn.prepare_cached(
        "SELECT type, identifier FROM credential_identifiers \
         WHERE identity_pk = ?1 ORDER BY type, position",
    )?;
    let mut rows = stmt.query([pk])?;
    while let Some(row) = rows.next()? {
        let kind = credential_type(0, row.get_ref(0)?.as_str()?)?;
        if let Some(credential) = identity.credentials.get_mut(&kind) {
            credential.identifiers.push(row.get(1)?);
        }
    }

    let mut stmt = conn.prepare_cached(
        "SELECT id, via, value, verified, status, verified_at, created_at, updated_at \
         FROM verifiable_addresses WHERE identity_pk = ?1 ORDER BY position",
    )?;
    let mut rows = stmt.query([pk])?;
    while let Some(row) = rows.next()? {
        let status = row.get_ref(4)?.as_str()?;
        identity.verifiable_addresses.push(VerifiableAddress {
            id: row.get::<_, Id>(0)?.0,
            via: address_via(1, row.get_ref(1)?.as_str()?)?,
            value: row.get(2)?,
            verified: row.get(3)?,
            status: VerificationStatus::parse(status)
                .ok_or_else(|| bad_text(4, "verification status", status))?,
            verified_at: row.get::<_, Option<Micros>>(5)?.map(|m| m.0),
            created_at: row.get::<_, Micros>(6)?.0,
            updated_at: row.get::<_, Micros>(7)?.0,
        });
    }

    let mut stmt = conn.prepare_cached(
        "SELECT id, via, value, created_at, updated_at \
         FROM recovery_addresses WHERE identity_pk = ?1 ORDER BY position",
    )?;
    let mut rows = stmt.query([pk])?;
    while let Some(row) = rows.next()? {
        identity.recovery_addresses.push(RecoveryAddress {
            id: row.get::<_, Id>(0)?.0,
            via: address_via(1, row.get_ref(1)?.as_str()?)?,
            value: row.get(2)?,
            created_at: row.get::<_, Micros>(3)?.0,
            updated_at: row.get::<_, Micros>(4)?.0,
        });
    }
    Ok(())
}

/// The row key and version of an identity.
pub(crate) fn head(
    conn: &Connection,
    nid: &[u8; 16],
    id: Uuid,
) -> rusqlite::Result<Option<(i64, u64)>> {
    conn.prepare_cached("SELECT pk, version FROM identities WHERE nid = ?1 AND id = ?2")?
        .query_row(params![nid, id.as_bytes()], |r| {
            Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
        })
        .optional()
}

/// Inserts an identity with all its children; returns its row key through
/// `pk` as soon as the identity row exists (so that a failure further on
/// can still tell its own rows from others').
pub(crate) fn insert(
    conn: &Connection,
    nid: &[u8; 16],
    identity: &Identity,
    pk: &mut Option<i64>,
) -> rusqlite::Result<()> {
    let i = identity;
    conn.prepare_cached(
        "INSERT INTO identities (nid, id, schema_id, state, state_changed_at, traits, \
         metadata_public, metadata_admin, organization_id, external_id, created_at, \
         updated_at, version, doc) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
    )?
    .execute(params![
        nid,
        i.id.as_bytes(),
        i.schema_id,
        i.state.as_str(),
        i.state_changed_at.map(Timestamp::unix_micros),
        json_text(&i.traits),
        i.metadata_public.as_ref().map(json_text),
        i.metadata_admin.as_ref().map(json_text),
        i.organization_id.as_ref().map(Uuid::as_bytes),
        i.external_id.as_ref().map(ExternalId::as_str),
        i.created_at.unix_micros(),
        i.updated_at.unix_micros(),
        doc_text(i)?,
    ])?;
    let row = conn.last_insert_rowid();
    *pk = Some(row);
    for credential in i.credentials.values() {
        insert_credential(conn, row, credential)?;
        for (position, identifier) in credential.identifiers.iter().enumerate() {
            insert_identifier(conn, nid, row, credential.kind, identifier, position)?;
        }
    }
    for (position, a) in i.verifiable_addresses.iter().enumerate() {
        insert_verifiable(conn, nid, row, a, position)?;
    }
    for (position, a) in i.recovery_addresses.iter().enumerate() {
        insert_recovery(conn, nid, row, a, position)?;
    }
    Ok(())
}

fn insert_credential(conn: &Connection, pk: i64, c: &Credential) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO credentials (identity_pk, type, config, version, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        pk,
        c.kind.as_str(),
        json_text(c.config.expose()),
        c.version,
        c.created_at.unix_micros(),
        c.updated_at.unix_micros(),
    ])?;
    Ok(())
}

fn insert_identifier(
    conn: &Connection,
    nid: &[u8; 16],
    pk: i64,
    kind: CredentialType,
    identifier: &str,
    position: usize,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO credential_identifiers (nid, identity_pk, type, identifier, position) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![nid, pk, kind.as_str(), identifier, position as i64])?;
    Ok(())
}

fn insert_verifiable(
    conn: &Connection,
    nid: &[u8; 16],
    pk: i64,
    a: &VerifiableAddress,
    position: usize,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO verifiable_addresses (identity_pk, nid, id, position, via, value, verified, \
         status, verified_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        pk,
        nid,
        a.id.as_bytes(),
        position as i64,
        a.via.as_str(),
        a.value,
        a.verified,
        a.status.as_str(),
        a.verified_at.map(Timestamp::unix_micros),
        a.created_at.unix_micros(),
        a.updated_at.unix_micros(),
    ])?;
    Ok(())
}

fn insert_recovery(
    conn: &Connection,
    nid: &[u8; 16],
    pk: i64,
    a: &RecoveryAddress,
    position: usize,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO recovery_addresses (identity_pk, nid, id, position, via, value, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        pk,
        nid,
        a.id.as_bytes(),
        position as i64,
        a.via.as_str(),
        a.value,
        a.created_at.unix_micros(),
        a.updated_at.unix_micros(),
    ])?;
    Ok(())
}

/// Rewrites the identity row `pk` (bumping its version to `version`) and
/// changes only the child rows that differ from those of `stored` (what
/// the row held), in the order of the core's [`ChildRowPlan`] (deletions
/// first, so values moving within the identity never collide with
/// themselves): unchanged credentials, identifiers and addresses keep
/// their rows.
pub(crate) fn update(
    conn: &Connection,
    nid: &[u8; 16],
    pk: i64,
    stored: &Identity,
    identity: &ValidIdentity,
    version: u64,
) -> rusqlite::Result<()> {
    let i = identity.identity();
    conn.prepare_cached(
        "UPDATE identities SET schema_id = ?2, state = ?3, state_changed_at = ?4, traits = ?5, \
         metadata_public = ?6, metadata_admin = ?7, organization_id = ?8, external_id = ?9, \
         created_at = ?10, updated_at = ?11, version = ?12, doc = ?13 WHERE pk = ?1",
    )?
    .execute(params![
        pk,
        i.schema_id,
        i.state.as_str(),
        i.state_changed_at.map(Timestamp::unix_micros),
        json_text(&i.traits),
        i.metadata_public.as_ref().map(json_text),
        i.metadata_admin.as_ref().map(json_text),
        i.organization_id.as_ref().map(Uuid::as_bytes),
        i.external_id.as_ref().map(ExternalId::as_str),
        i.created_at.unix_micros(),
        i.updated_at.unix_micros(),
        version_column(version),
        doc_text(i)?,
    ])?;
    run_plan(conn, nid, pk, &ChildRowPlan::new(stored, identity))
}

fn run_plan(
    conn: &Connection,
    nid: &[u8; 16],
    pk: i64,
    plan: &ChildRowPlan<'_>,
) -> rusqlite::Result<()> {
    // Deletions first.
    for (kind, identifier) in &plan.deleted_identifiers {
        conn.prepare_cached(
            "DELETE FROM credential_identifiers \
             WHERE nid = ?1 AND type = ?2 AND identifier = ?3 AND identity_pk = ?4",
        )?
        .execute(params![nid, kind.as_str(), identifier, pk])?;
    }
    for kind in &plan.deleted_credentials {
        conn.prepare_cached("DELETE FROM credentials WHERE identity_pk = ?1 AND type = ?2")?
            .execute(params![pk, kind.as_str()])?;
    }
    for (via, value) in &plan.deleted_verifiable {
        conn.prepare_cached(
            "DELETE FROM verifiable_addresses \
             WHERE nid = ?1 AND via = ?2 AND value = ?3 AND identity_pk = ?4",
        )?
        .execute(params![nid, via.as_str(), value, pk])?;
    }
    for (via, value) in &plan.deleted_recovery {
        conn.prepare_cached(
            "DELETE FROM recovery_addresses \
             WHERE nid = ?1 AND via = ?2 AND value = ?3 AND identity_pk = ?4",
        )?
        .execute(params![nid, via.as_str(), value, pk])?;
    }
    // Changes in place.
    for c in &plan.changed_credentials {
        conn.prepare_cached(
            "UPDATE credentials SET config = ?3, version = ?4, created_at = ?5, \
             updated_at = ?6 WHERE identity_pk = ?1 AND type = ?2",
        )?
        .execute(params![
            pk,
            c.kind.as_str(),
            json_text(c.config.expose()),
            c.version,
            c.created_at.unix_micros(),
            c.updated_at.unix_micros(),
        ])?;
    }
    for (kind, identifier, position) in &plan.moved_identifiers {
        conn.prepare_cached(
            "UPDATE credential_identifiers SET position = ?4 \
             WHERE nid = ?1 AND type = ?2 AND identifier = ?3",
        )?
        .execute(params![nid, kind.as_str(), identifier, *position as i64])?;
    }
    for (a, position) in &plan.changed_verifiable {
        conn.prepare_cached(
            "UPDATE verifiable_addresses SET position = ?4, verified = ?5, status = ?6, \
             verified_at = ?7, created_at = ?8, updated_at = ?9 \
             WHERE nid = ?1 AND via = ?2 AND value = ?3",
        )?
        .execute(params![
            nid,
            a.via.as_str(),
            a.value,
            *position as i64,
            a.verified,
            a.status.as_str(),
            a.verified_at.map(Timestamp::unix_micros),
            a.created_at.unix_micros(),
            a.updated_at.unix_micros(),
        ])?;
    }
    for (a, position) in &plan.changed_recovery {
        conn.prepare_cached(
            "UPDATE recovery_addresses SET position = ?4, created_at = ?5, updated_at = ?6 \
             WHERE nid = ?1 AND via = ?2 AND value = ?3",
        )?
        .execute(params![
            nid,
            a.via.as_str(),
            a.value,
            *position as i64,
            a.created_at.unix_micros(),
            a.updated_at.unix_micros(),
        ])?;
    }
    // Insertions last.
    for c in &plan.new_credentials {
        insert_credential(conn, pk, c)?;
    }
    for (kind, identifier, position) in &plan.new_identifiers {
        insert_identifier(conn, nid, pk, *kind, identifier, *position)?;
    }
    for (a, position) in &plan.new_verifiable {
        insert_verifiable(conn, nid, pk, a, *position)?;
    }
    for (a, position) in &plan.new_recovery {
        insert_recovery(conn, nid, pk, a, *position)?;
    }
    Ok(())
}

/// The first of the core's [`conflict_candidates`] that another identity
/// of the tenant holds: after a unique violation, to name it; and for
/// `find_create_conflict` (dry runs), the same lookups without a write.
pub(crate) fn find_conflict(
    conn: &Connection,
    nid: &[u8; 16],
    identity: &ValidIdentity,
    own_pk: Option<i64>,
    op: WriteOp,
) -> rusqlite::Result<Option<ConflictField>> {
    for key in conflict_candidates(identity, op) {
        let holder: Option<i64> = match &key {
            ConflictField::Id => head(conn, nid, identity.identity().id)?.map(|(pk, _)| pk),
            ConflictField::ExternalId(e) => conn
                .prepare_cached("SELECT pk FROM identities WHERE nid = ?1 AND external_id = ?2")?
                .query_row(params![nid, e], |r| r.get(0))
                .optional()?,
            ConflictField::CredentialIdentifier(kind, value) => conn
                .prepare_cached(
                    "SELECT identity_pk FROM credential_identifiers \
                     WHERE nid = ?1 AND type = ?2 AND identifier = ?3",
                )?
                .query_row(params![nid, kind.as_str(), value], |r| r.get(0))
                .optional()?,
            ConflictField::VerifiableAddress(via, value) => conn
                .prepare_cached(
                    "SELECT identity_pk FROM verifiable_addresses \
                     WHERE nid = ?1 AND via = ?2 AND value = ?3",
                )?
                .query_row(params![nid, via.as_str(), value], |r| r.get(0))
                .optional()?,
            ConflictField::RecoveryAddress(via, value) => conn
                .prepare_cached(
                    "SELECT identity_pk FROM recovery_addresses \
                     WHERE nid = ?1 AND via = ?2 AND value = ?3",
                )?
                .query_row(params![nid, via.as_str(), value], |r| r.get(0))
                .optional()?,
        };
        if holder.is_some() && holder != own_pk {
            return Ok(Some(key));
        }
    }
    Ok(None)
}
