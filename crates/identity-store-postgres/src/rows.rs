//! Row mapping: an identity to its rows and back, the statements of an
//! update's child-row plan, and the search for the value a failed write
//! collided on (the plan and the order of that search are the core's,
//! `identity_core::sql`).
//!
//! Reads are one statement each: the identity row with its children
//! aggregated into JSONB arrays by correlated subqueries, so every read
//! sees one snapshot and costs one round trip. Writes run inside a
//! transaction the caller opened; their errors stay driver errors so the
//! caller can tell a unique violation or a serialization failure from the
//! rest.

use deadpool_postgres::GenericClient;
use identity_core::sql::{ChildRowPlan, conflict_candidates};
use identity_core::{
    AddressVia, ConflictField, Credential, CredentialConfig, CredentialType, Error, ExternalId,
    Identity, RecoveryAddress, State, Timestamp, ValidIdentity, VerifiableAddress,
    VerificationStatus, WriteOp,
};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error as PgError, Row, Statement};
use uuid::Uuid;

use crate::feed::append_written;

/// A statement parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// The identity columns and the aggregated children, in [`identity_from_row`]
/// order; the identity is `i`.
macro_rules! identity_select {
    () => {
        "SELECT i.id, i.schema_id, i.state, i.state_changed_at, i.traits, i.metadata_public, \
         i.metadata_admin, i.organization_id, i.external_id, i.created_at, i.updated_at, \
         i.version, \
         (SELECT jsonb_agg(jsonb_build_array(c.type, c.config, c.version, c.created_at, \
                 c.updated_at)) \
            FROM credentials c WHERE c.nid = i.nid AND c.identity_id = i.id), \
         (SELECT jsonb_agg(jsonb_build_array(ci.type, ci.identifier) \
                 ORDER BY ci.type, ci.position) \
            FROM credential_identifiers ci WHERE ci.nid = i.nid AND ci.identity_id = i.id), \
         (SELECT jsonb_agg(jsonb_build_array(a.id, a.via, a.value, a.verified, a.status, \
                 a.verified_at, a.created_at, a.updated_at) ORDER BY a.position) \
            FROM verifiable_addresses a WHERE a.nid = i.nid AND a.identity_id = i.id), \
         (SELECT jsonb_agg(jsonb_build_array(r.id, r.via, r.value, r.created_at, \
                 r.updated_at) ORDER BY r.position) \
            FROM recovery_addresses r WHERE r.nid = i.nid AND r.identity_id = i.id) \
         FROM identities i "
    };
}
pub(crate) use identity_select;

pub(crate) const GET_BY_ID: &str = concat!(identity_select!(), "WHERE i.nid = $1 AND i.id = $2");
pub(crate) const GET_BY_EXTERNAL_ID: &str = concat!(
    identity_select!(),
    "WHERE i.nid = $1 AND i.external_id = $2"
);
pub(crate) const FIND_BY_IDENTIFIER: &str = concat!(
    identity_select!(),
    "WHERE i.nid = $1 AND i.id = (SELECT ci.identity_id FROM credential_identifiers ci \
     WHERE ci.nid = $1 AND ci.type = $2 AND ci.identifier = $3)"
);
/// Locks the identity row for the rest of the transaction; the children
/// are read by a later statement, which (under READ COMMITTED) sees what
/// the writer that held the lock before committed.
pub(crate) const LOCK_HEAD: &str =
    "SELECT version FROM identities WHERE nid = $1 AND id = $2 FOR UPDATE";
/// The stored identity after [`LOCK_HEAD`].
pub(crate) const GET_LOCKED: &str = GET_BY_ID;

/// Runs a statement through the connection's statement cache.
pub(crate) async fn execute<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, PgError> {
    let statement = c.prepare_cached(sql).await?;
    c.execute(&statement, params).await
}

/// Runs a query through the connection's statement cache.
pub(crate) async fn query<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<Row>, PgError> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

/// Runs a query of at most one row through the statement cache.
pub(crate) async fn query_opt<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Option<Row>, PgError> {
    let statement = c.prepare_cached(sql).await?;
    c.query_opt(&statement, params).await
}

fn micros(t: Timestamp) -> i64 {
    t.unix_micros()
}

fn version_column(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

fn bad_row(what: impl Into<String>) -> Error {
    Error::Internal {
        message: format!("unreadable identity row: {}", what.into()),
        source: None,
    }
}

fn timestamp(value: i64, what: &str) -> Result<Timestamp, Error> {
    Timestamp::from_unix_micros(value).ok_or_else(|| bad_row(format!("{what} out of range")))
}

/// Reads element `n` of an aggregated child row.
struct Fields<'a>(&'a [Value], &'static str);

impl Fields<'_> {
    fn get(&self, n: usize) -> Result<&Value, Error> {
        self.0
            .get(n)
            .ok_or_else(|| bad_row(format!("{}: missing field {n}", self.1)))
    }

    fn str(&self, n: usize) -> Result<&str, Error> {
        self.get(n)?
            .as_str()
            .ok_or_else(|| bad_row(format!("{}: field {n} is not text", self.1)))
    }

    fn i64(&self, n: usize) -> Result<i64, Error> {
        self.get(n)?
            .as_i64()
            .ok_or_else(|| bad_row(format!("{}: field {n} is not an integer", self.1)))
    }

    fn opt_i64(&self, n: usize) -> Result<Option<i64>, Error> {
        match self.get(n)? {
            Value::Null => Ok(None),
            _ => self.i64(n).map(Some),
        }
    }

    fn bool(&self, n: usize) -> Result<bool, Error> {
        self.get(n)?
            .as_bool()
            .ok_or_else(|| bad_row(format!("{}: field {n} is not a boolean", self.1)))
    }

    fn uuid(&self, n: usize) -> Result<Uuid, Error> {
        Uuid::parse_str(self.str(n)?)
            .map_err(|_| bad_row(format!("{}: field {n} is not a UUID", self.1)))
    }

    fn time(&self, n: usize) -> Result<Timestamp, Error> {
        timestamp(self.i64(n)?, self.1)
    }

    fn kind(&self, n: usize) -> Result<CredentialType, Error> {
        let text = self.str(n)?;
        CredentialType::parse(text)
            .ok_or_else(|| bad_row(format!("unknown credential type {text:?}")))
    }

    fn via(&self, n: usize) -> Result<AddressVia, Error> {
        let text = self.str(n)?;
        AddressVia::parse(text).ok_or_else(|| bad_row(format!("unknown address via {text:?}")))
    }
}

/// The elements of an aggregated child column (NULL when there are none).
fn children(row: &Row, column: usize, what: &'static str) -> Result<Vec<Value>, Error> {
    let value: Option<Value> = row
        .try_get(column)
        .map_err(|e| Error::internal(format!("read {what}"), e))?;
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(bad_row(format!("{what} are not an array"))),
    }
}

fn element<'a>(item: &'a Value, what: &'static str) -> Result<Fields<'a>, Error> {
    match item {
        Value::Array(fields) => Ok(Fields(fields, what)),
        _ => Err(bad_row(format!("{what}: an element is not an array"))),
    }
}

/// An identity, with its children, from a row of [`identity_select`].
pub(crate) fn identity_from_row(row: &Row) -> Result<Identity, Error> {
    let get = |e: PgError| Error::internal("read identity row", e);
    let state: String = row.try_get(2).map_err(get)?;
    let state = State::parse(&state).ok_or_else(|| bad_row(format!("unknown state {state:?}")))?;
    let optional_time = |column: usize| -> Result<Option<Timestamp>, Error> {
        let value: Option<i64> = row.try_get(column).map_err(get)?;
        value.map(|v| timestamp(v, "identity")).transpose()
    };
    let mut identity = Identity {
        id: row.try_get(0).map_err(get)?,
        schema_id: row.try_get(1).map_err(get)?,
        state,
        state_changed_at: optional_time(3)?,
        traits: row.try_get(4).map_err(get)?,
        credentials: Default::default(),
        verifiable_addresses: Vec::new(),
        recovery_addresses: Vec::new(),
        metadata_public: row.try_get(5).map_err(get)?,
        metadata_admin: row.try_get(6).map_err(get)?,
        organization_id: row.try_get(7).map_err(get)?,
        external_id: ExternalId::from_optional(row.try_get(8).map_err(get)?)
            .map_err(|e| bad_row(format!("external id: {e}")))?,
        created_at: timestamp(row.try_get(9).map_err(get)?, "identity")?,
        updated_at: timestamp(row.try_get(10).map_err(get)?, "identity")?,
        version: u64::try_from(row.try_get::<_, i64>(11).map_err(get)?).unwrap_or(0),
    };
    for item in children(row, 12, "credentials")? {
        let f = element(&item, "credential")?;
        let kind = f.kind(0)?;
        identity.credentials.insert(
            kind,
            Credential {
                kind,
                identifiers: Vec::new(),
                config: CredentialConfig::new(f.get(1)?.clone()),
                version: f.i64(2)?,
                created_at: f.time(3)?,
                updated_at: f.time(4)?,
            },
        );
    }
    for item in children(row, 13, "identifiers")? {
        let f = element(&item, "identifier")?;
        let kind = f.kind(0)?;
        if let Some(credential) = identity.credentials.get_mut(&kind) {
            credential.identifiers.push(f.str(1)?.to_owned());
        }
    }
    for item in children(row, 14, "verifiable addresses")? {
        let f = element(&item, "verifiable address")?;
        let status = f.str(4)?;
        identity.verifiable_addresses.push(VerifiableAddress {
            id: f.uuid(0)?,
            via: f.via(1)?,
            value: f.str(2)?.to_owned(),
            verified: f.bool(3)?,
            status: VerificationStatus::parse(status)
                .ok_or_else(|| bad_row(format!("unknown verification status {status:?}")))?,
            verified_at: f
                .opt_i64(5)?
                .map(|v| timestamp(v, "verified_at"))
                .transpose()?,
            created_at: f.time(6)?,
            updated_at: f.time(7)?,
        });
    }
    for item in children(row, 15, "recovery addresses")? {
        let f = element(&item, "recovery address")?;
        identity.recovery_addresses.push(RecoveryAddress {
            id: f.uuid(0)?,
            via: f.via(1)?,
            value: f.str(2)?.to_owned(),
            created_at: f.time(3)?,
            updated_at: f.time(4)?,
        });
    }
    Ok(identity)
}

/// Inserts the identity row (at version 1) and appends its `created`
/// change with the field list `$13`, in one statement.
const INSERT_IDENTITY: &str = concat!(
    "WITH written AS (INSERT INTO identities (nid, id, schema_id, state, \
     state_changed_at, traits, metadata_public, metadata_admin, organization_id, external_id, \
     created_at, updated_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1) RETURNING id)",
    append_written!("'created'", "1", "$13")
);
/// Rewrites the identity row at version `$13` and appends its `updated`
/// change with the field list `$14`, in one statement.
const UPDATE_IDENTITY: &str = concat!(
    "WITH written AS (UPDATE identities SET schema_id = $3, state = $4, \
     state_changed_at = $5, traits = $6, metadata_public = $7, metadata_admin = $8, \
     organization_id = $9, external_id = $10, created_at = $11, updated_at = $12, \
     version = $13 WHERE nid = $1 AND id = $2 RETURNING id, version)",
    append_written!("'updated'", "written.version", "$14")
);
const INSERT_CREDENTIALS: &str = "INSERT INTO credentials (nid, identity_id, type, config, \
     version, created_at, updated_at) \
     SELECT $1, $2, e->>0, e->1, (e->>2)::INT8, (e->>3)::INT8, (e->>4)::INT8 \
     FROM jsonb_array_elements($3::JSONB) AS e";
const INSERT_IDENTIFIERS: &str = "INSERT INTO credential_identifiers (nid, identity_id, type, \
     identifier, position) \
     SELECT $1, $2, e->>0, e->>1, (e->>2)::INT8 FROM jsonb_array_elements($3::JSONB) AS e";
const INSERT_VERIFIABLE: &str = "INSERT INTO verifiable_addresses (nid, identity_id, id, \
     position, via, value, verified, status, verified_at, created_at, updated_at) \
     SELECT $1, $2, (e->>0)::UUID, (e->>1)::INT8, e->>2, e->>3, (e->>4)::BOOLEAN, e->>5, \
     (e->>6)::INT8, (e->>7)::INT8, (e->>8)::INT8 FROM jsonb_array_elements($3::JSONB) AS e";
const INSERT_RECOVERY: &str = "INSERT INTO recovery_addresses (nid, identity_id, id, position, \
     via, value, created_at, updated_at) \
     SELECT $1, $2, (e->>0)::UUID, (e->>1)::INT8, e->>2, e->>3, (e->>4)::INT8, (e->>5)::INT8 \
     FROM jsonb_array_elements($3::JSONB) AS e";

fn credential_json(c: &Credential) -> Value {
    json!([
        c.kind.as_str(),
        c.config.expose(),
        c.version,
        micros(c.created_at),
        micros(c.updated_at)
    ])
}

fn verifiable_json(a: &VerifiableAddress, position: usize) -> Value {
    json!([
        a.id,
        position,
        a.via.as_str(),
        a.value,
        a.verified,
        a.status.as_str(),
        a.verified_at.map(micros),
        micros(a.created_at),
        micros(a.updated_at)
    ])
}

fn recovery_json(a: &RecoveryAddress, position: usize) -> Value {
    json!([
        a.id,
        position,
        a.via.as_str(),
        a.value,
        micros(a.created_at),
        micros(a.updated_at)
    ])
}

/// Inserts an identity with all its children and its `created` change:
/// the identity row with the change, then one statement per child table
/// (each inserting all its rows from a JSONB array). The statements are
/// sent together (pipelined); the first error, in statement order, is
/// returned.
pub(crate) async fn insert<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    identity: &ValidIdentity,
) -> Result<(), PgError> {
    let fields = identity.changed_fields().to_list();
    let i = identity.identity();
    let credentials: Vec<Value> = i.credentials.values().map(credential_json).collect();
    let identifiers: Vec<Value> = i
        .credentials
        .values()
        .flat_map(|c| {
            c.identifiers
                .iter()
                .enumerate()
                .map(|(p, id)| json!([c.kind.as_str(), id, p]))
        })
        .collect();
    let verifiable: Vec<Value> = i
        .verifiable_addresses
        .iter()
        .enumerate()
        .map(|(p, a)| verifiable_json(a, p))
        .collect();
    let recovery: Vec<Value> = i
        .recovery_addresses
        .iter()
        .enumerate()
        .map(|(p, a)| recovery_json(a, p))
        .collect();
    let (credentials, identifiers, verifiable, recovery) = (
        Value::Array(credentials),
        Value::Array(identifiers),
        Value::Array(verifiable),
        Value::Array(recovery),
    );
    let state = i.state.as_str();
    let state_changed_at = i.state_changed_at.map(micros);
    let (created_at, updated_at) = (micros(i.created_at), micros(i.updated_at));
    let external_id = i.external_id.as_ref().map(ExternalId::as_str);
    let params: [Param<'_>; 13] = [
        &nid,
        &i.id,
        &i.schema_id,
        &state,
        &state_changed_at,
        &i.traits,
        &i.metadata_public,
        &i.metadata_admin,
        &i.organization_id,
        &external_id,
        &created_at,
        &updated_at,
        &fields,
    ];
    // Prepare first (a round trip only the first time on a connection),
    // so that the executes below go out in statement order.
    let (head, credential_rows, identifier_rows, verifiable_rows, recovery_rows) = tokio::try_join!(
        c.prepare_cached(INSERT_IDENTITY),
        c.prepare_cached(INSERT_CREDENTIALS),
        c.prepare_cached(INSERT_IDENTIFIERS),
        c.prepare_cached(INSERT_VERIFIABLE),
        c.prepare_cached(INSERT_RECOVERY),
    )?;
    let id = i.id;
    let results = tokio::join!(
        c.execute(&head, &params),
        insert_children(c, &credential_rows, nid, id, &credentials),
        insert_children(c, &identifier_rows, nid, id, &identifiers),
        insert_children(c, &verifiable_rows, nid, id, &verifiable),
        insert_children(c, &recovery_rows, nid, id, &recovery),
    );
    first_error([results.0, results.1, results.2, results.3, results.4])
}

/// The first error of pipelined statements, preferring the one that
/// aborted the transaction over the "transaction is aborted" errors of the
/// statements after it.
fn first_error<const N: usize>(results: [Result<u64, PgError>; N]) -> Result<(), PgError> {
    let mut aborted = None;
    for result in results {
        match result {
            Ok(_) => {}
            Err(e) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
                aborted.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    aborted.map_or(Ok(()), Err)
}

/// Inserts the child rows of one table from a JSONB array (none when empty).
async fn insert_children<C: GenericClient + Sync>(
    c: &C,
    statement: &Statement,
    nid: Uuid,
    id: Uuid,
    items: &Value,
) -> Result<u64, PgError> {
    if items.as_array().is_none_or(Vec::is_empty) {
        return Ok(0);
    }
    c.execute(statement, &[&nid, &id, items]).await
}

/// Rewrites the identity row (bumping its version to `version`) with its
/// `updated` change, and changes only the child rows that differ from `stored`, in the order of
/// the core's [`ChildRowPlan`] (deletions first, so values moving within
/// the identity never collide with themselves): unchanged credentials,
/// identifiers and addresses keep their rows.
pub(crate) async fn update<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    identity: &ValidIdentity,
    stored: &Identity,
    version: u64,
) -> Result<(), PgError> {
    let i = identity.identity();
    let id = i.id;
    let state = i.state.as_str();
    let state_changed_at = i.state_changed_at.map(micros);
    let (created_at, updated_at) = (micros(i.created_at), micros(i.updated_at));
    let external_id = i.external_id.as_ref().map(ExternalId::as_str);
    let version = version_column(version);
    let fields = identity.changed_fields().to_list();
    execute(
        c,
        UPDATE_IDENTITY,
        &[
            &nid,
            &id,
            &i.schema_id,
            &state,
            &state_changed_at,
            &i.traits,
            &i.metadata_public,
            &i.metadata_admin,
            &i.organization_id,
            &external_id,
            &created_at,
            &updated_at,
            &version,
            &fields,
        ],
    )
    .await?;
    run_plan(&ChildRowPlan::new(stored, identity), c, nid, id).await
}

/// Runs the statements of a plan, in its order.
async fn run_plan<C: GenericClient + Sync>(
    plan: &ChildRowPlan<'_>,
    c: &C,
    nid: Uuid,
    id: Uuid,
) -> Result<(), PgError> {
    // Deletions first.
    for (kind, identifier) in &plan.deleted_identifiers {
        execute(
            c,
            "DELETE FROM credential_identifiers \
             WHERE nid = $1 AND type = $2 AND identifier = $3 AND identity_id = $4",
            &[&nid, &kind.as_str(), identifier, &id],
        )
        .await?;
    }
    for kind in &plan.deleted_credentials {
        execute(
            c,
            "DELETE FROM credentials WHERE nid = $1 AND identity_id = $2 AND type = $3",
            &[&nid, &id, &kind.as_str()],
        )
        .await?;
    }
    for (via, value) in &plan.deleted_verifiable {
        execute(
            c,
            "DELETE FROM verifiable_addresses \
             WHERE nid = $1 AND via = $2 AND value = $3 AND identity_id = $4",
            &[&nid, &via.as_str(), value, &id],
        )
        .await?;
    }
    for (via, value) in &plan.deleted_recovery {
        execute(
            c,
            "DELETE FROM recovery_addresses \
             WHERE nid = $1 AND via = $2 AND value = $3 AND identity_id = $4",
            &[&nid, &via.as_str(), value, &id],
        )
        .await?;
    }
    // Changes in place.
    for credential in &plan.changed_credentials {
        let kind = credential.kind.as_str();
        let (created_at, updated_at) =
            (micros(credential.created_at), micros(credential.updated_at));
        execute(
            c,
            "UPDATE credentials SET config = $4, version = $5, created_at = $6, \
             updated_at = $7 WHERE nid = $1 AND identity_id = $2 AND type = $3",
            &[
                &nid,
                &id,
                &kind,
                credential.config.expose(),
                &credential.version,
                &created_at,
                &updated_at,
            ],
        )
        .await?;
    }
    for (kind, identifier, position) in &plan.moved_identifiers {
        let position = *position as i64;
        execute(
            c,
            "UPDATE credential_identifiers SET position = $4 \
             WHERE nid = $1 AND type = $2 AND identifier = $3",
            &[&nid, &kind.as_str(), identifier, &position],
        )
        .await?;
    }
    for (a, position) in &plan.changed_verifiable {
        let position = *position as i64;
        let via = a.via.as_str();
        let status = a.status.as_str();
        let verified_at = a.verified_at.map(micros);
        let (created_at, updated_at) = (micros(a.created_at), micros(a.updated_at));
        execute(
            c,
            "UPDATE verifiable_addresses SET position = $4, verified = $5, status = $6, \
             verified_at = $7, created_at = $8, updated_at = $9 \
             WHERE nid = $1 AND via = $2 AND value = $3",
            &[
                &nid,
                &via,
                &a.value,
                &position,
                &a.verified,
                &status,
                &verified_at,
                &created_at,
                &updated_at,
            ],
        )
        .await?;
    }
    for (a, position) in &plan.changed_recovery {
        let position = *position as i64;
        let via = a.via.as_str();
        let (created_at, updated_at) = (micros(a.created_at), micros(a.updated_at));
        execute(
            c,
            "UPDATE recovery_addresses SET position = $4, created_at = $5, updated_at = $6 \
             WHERE nid = $1 AND via = $2 AND value = $3",
            &[&nid, &via, &a.value, &position, &created_at, &updated_at],
        )
        .await?;
    }
    // Insertions last, one statement per table.
    if !plan.new_credentials.is_empty() {
        let items = Value::Array(
            plan.new_credentials
                .iter()
                .map(|c| credential_json(c))
                .collect(),
        );
        execute(c, INSERT_CREDENTIALS, &[&nid, &id, &items]).await?;
    }
    if !plan.new_identifiers.is_empty() {
        let items = Value::Array(
            plan.new_identifiers
                .iter()
                .map(|(kind, identifier, p)| json!([kind.as_str(), identifier, p]))
                .collect(),
        );
        execute(c, INSERT_IDENTIFIERS, &[&nid, &id, &items]).await?;
    }
    if !plan.new_verifiable.is_empty() {
        let items = Value::Array(
            plan.new_verifiable
                .iter()
                .map(|(a, p)| verifiable_json(a, *p))
                .collect(),
        );
        execute(c, INSERT_VERIFIABLE, &[&nid, &id, &items]).await?;
    }
    if !plan.new_recovery.is_empty() {
        let items = Value::Array(
            plan.new_recovery
                .iter()
                .map(|(a, p)| recovery_json(a, *p))
                .collect(),
        );
        execute(c, INSERT_RECOVERY, &[&nid, &id, &items]).await?;
    }
    Ok(())
}

/// The smallest position, in a create's [`conflict_candidates`] (the id
/// is 0, the unique keys follow in order), of a value the tenant holds:
/// every unique index is probed in one statement.
const FIND_CREATE_CONFLICT: &str = "SELECT min(ord) FROM (\
       SELECT 0::INT4 AS ord FROM identities WHERE nid = $1 AND id = $2 \
     UNION ALL \
       SELECT 1::INT4 FROM identities WHERE nid = $1 AND external_id = $3 \
     UNION ALL \
       SELECT k.ord FROM unnest($4::TEXT[], $5::TEXT[], $6::INT4[]) AS k (type, value, ord) \
       JOIN credential_identifiers AS c \
         ON c.nid = $1 AND c.type = k.type AND c.identifier = k.value \
     UNION ALL \
       SELECT k.ord FROM unnest($7::TEXT[], $8::TEXT[], $9::INT4[]) AS k (via, value, ord) \
       JOIN verifiable_addresses AS a ON a.nid = $1 AND a.via = k.via AND a.value = k.value \
     UNION ALL \
       SELECT k.ord FROM unnest($10::TEXT[], $11::TEXT[], $12::INT4[]) AS k (via, value, ord) \
       JOIN recovery_addresses AS a ON a.nid = $1 AND a.via = k.via AND a.value = k.value\
     ) AS held";

/// The conflict a create of `identity` would fail with now, in one
/// statement (for `find_create_conflict`: dry runs): the first of the
/// core's [`conflict_candidates`] that the tenant holds.
pub(crate) async fn find_create_conflict<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    identity: &ValidIdentity,
) -> Result<Option<ConflictField>, PgError> {
    let candidates = conflict_candidates(identity, WriteOp::Create);
    let mut external: Option<&str> = None;
    // (kind or via, value, position) per unique index.
    let mut families: [(Vec<&str>, Vec<&str>, Vec<i32>); 3] = Default::default();
    for (position, key) in candidates.iter().enumerate() {
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        let (family, kind, value) = match key {
            ConflictField::Id => continue,
            ConflictField::ExternalId(e) => {
                external = Some(e);
                continue;
            }
            ConflictField::CredentialIdentifier(kind, value) => (0, kind.as_str(), value),
            ConflictField::VerifiableAddress(via, value) => (1, via.as_str(), value),
            ConflictField::RecoveryAddress(via, value) => (2, via.as_str(), value),
        };
        let (kinds, values, positions) = &mut families[family];
        kinds.push(kind);
        values.push(value.as_str());
        positions.push(position);
    }
    let [ids, verifiable, recovery] = &families;
    let row = query_opt(
        c,
        FIND_CREATE_CONFLICT,
        &[
            &nid,
            &identity.identity().id,
            &external,
            &ids.0,
            &ids.1,
            &ids.2,
            &verifiable.0,
            &verifiable.1,
            &verifiable.2,
            &recovery.0,
            &recovery.1,
            &recovery.2,
        ],
    )
    .await?;
    let first: Option<i32> = match row {
        Some(row) => row.try_get(0)?,
        None => None,
    };
    Ok(first
        .and_then(|p| usize::try_from(p).ok())
        .and_then(|p| candidates.get(p).cloned()))
}

/// After a unique violation (and the rollback of the failed write): the
/// first of the core's [`conflict_candidates`] that another identity of
/// the tenant holds.
pub(crate) async fn find_conflict<C: GenericClient + Sync>(
    c: &C,
    nid: Uuid,
    identity: &ValidIdentity,
    op: WriteOp,
) -> Result<Option<ConflictField>, PgError> {
    let own = match op {
        WriteOp::Create => None,
        WriteOp::Update => Some(identity.identity().id),
    };
    for key in conflict_candidates(identity, op) {
        let row = match &key {
            ConflictField::Id => {
                query_opt(
                    c,
                    "SELECT id FROM identities WHERE nid = $1 AND id = $2",
                    &[&nid, &identity.identity().id],
                )
                .await?
            }
            ConflictField::ExternalId(e) => {
                query_opt(
                    c,
                    "SELECT id FROM identities WHERE nid = $1 AND external_id = $2",
                    &[&nid, e],
                )
                .await?
            }
            ConflictField::CredentialIdentifier(kind, value) => {
                query_opt(
                    c,
                    "SELECT identity_id FROM credential_identifiers \
                     WHERE nid = $1 AND type = $2 AND identifier = $3",
                    &[&nid, &kind.as_str(), value],
                )
                .await?
            }
            ConflictField::VerifiableAddress(via, value) => {
                query_opt(
                    c,
                    "SELECT identity_id FROM verifiable_addresses \
                     WHERE nid = $1 AND via = $2 AND value = $3",
                    &[&nid, &via.as_str(), value],
                )
                .await?
            }
            ConflictField::RecoveryAddress(via, value) => {
                query_opt(
                    c,
                    "SELECT identity_id FROM recovery_addresses \
                     WHERE nid = $1 AND via = $2 AND value = $3",
                    &[&nid, &via.as_str(), value],
                )
                .await?
            }
        };
        let holder = row.map(|r| r.try_get::<_, Uuid>(0)).transpose()?;
        if holder.is_some() && holder != own {
            return Ok(Some(key));
        }
    }
    Ok(None)
}
