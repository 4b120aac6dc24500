//! The schema and its versioned migrations.
//!
//! `identity_store_migrations` holds one row per applied migration, keyed by
//! its version. A process applies migration `n` in one transaction that
//! first inserts row `n` and then runs the DDL: a second process starting
//! at the same time blocks on that row (PostgreSQL) or conflicts with it
//! (CockroachDB), fails with a unique violation or a serialization failure,
//! rolls back and reads again, so every migration runs exactly once. This
//! needs no advisory lock, which CockroachDB lacks. A database migrated by
//! a newer version of this library is refused.

use std::time::Duration;

use deadpool_postgres::Object;
use identity_core::Error;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::error::ResultExt;

/// The migrations, in order; `MIGRATIONS[n]` takes the schema from version
/// `n` to `n + 1`. Never edit one that has shipped: append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// Version 1: the tables of the SQLite store, on UUID keys led by the tenant
/// (`nid`). Every uniqueness rule of the storage contract is a primary key
/// or a unique index led by the tenant, named so that a violation tells
/// which rule broke (`error.rs`); child rows cascade from their identity.
/// Timestamps are integer microseconds since the Unix epoch (exact on every
/// engine, and inside the JSON the reads aggregate); traits, metadata and
/// credential configs are JSONB. Identifiers compare in the "C" collation,
/// byte order, so a prefix is a key range whatever the database's locale.
const V1: &str = r#"
CREATE TABLE identities (
    nid              UUID  NOT NULL,
    id               UUID  NOT NULL,
    schema_id        TEXT  NOT NULL,
    state            TEXT  NOT NULL,
    state_changed_at INT8,
    traits           JSONB NOT NULL,
    metadata_public  JSONB,
    metadata_admin   JSONB,
    organization_id  UUID,
    external_id      TEXT,
    created_at       INT8  NOT NULL,
    updated_at       INT8  NOT NULL,
    version          INT8  NOT NULL,
    CONSTRAINT identities_pkey PRIMARY KEY (nid, id)
);
CREATE UNIQUE INDEX identities_external_id_key ON identities (nid, external_id)
    WHERE external_id IS NOT NULL AND external_id <> '';
CREATE INDEX identities_organization_idx ON identities (nid, organization_id, id)
    WHERE organization_id IS NOT NULL;

CREATE TABLE credentials (
    nid         UUID  NOT NULL,
    identity_id UUID  NOT NULL,
    type        TEXT  NOT NULL,
    config      JSONB NOT NULL,
    version     INT8  NOT NULL,
    created_at  INT8  NOT NULL,
    updated_at  INT8  NOT NULL,
    CONSTRAINT credentials_pkey PRIMARY KEY (nid, identity_id, type),
    CONSTRAINT credentials_identity_fkey FOREIGN KEY (nid, identity_id)
        REFERENCES identities (nid, id) ON DELETE CASCADE
);

CREATE TABLE credential_identifiers (
    nid         UUID NOT NULL,
    type        TEXT NOT NULL,
    identifier  TEXT COLLATE "C" NOT NULL,
    identity_id UUID NOT NULL,
    position    INT8 NOT NULL,
    CONSTRAINT credential_identifiers_key PRIMARY KEY (nid, type, identifier),
    CONSTRAINT credential_identifiers_credential_fkey FOREIGN KEY (nid, identity_id, type)
        REFERENCES credentials (nid, identity_id, type) ON DELETE CASCADE
);
CREATE INDEX credential_identifiers_owner_idx
    ON credential_identifiers (nid, identity_id, type, position);

CREATE TABLE verifiable_addresses (
    nid         UUID    NOT NULL,
    via         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    identity_id UUID    NOT NULL,
    id          UUID    NOT NULL,
    position    INT8    NOT NULL,
    verified    BOOLEAN NOT NULL,
    status      TEXT    NOT NULL,
    verified_at INT8,
    created_at  INT8    NOT NULL,
    updated_at  INT8    NOT NULL,
    CONSTRAINT verifiable_addresses_key PRIMARY KEY (nid, via, value),
    CONSTRAINT verifiable_addresses_identity_fkey FOREIGN KEY (nid, identity_id)
        REFERENCES identities (nid, id) ON DELETE CASCADE
);
CREATE INDEX verifiable_addresses_owner_idx
    ON verifiable_addresses (nid, identity_id, position);

CREATE TABLE recovery_addresses (
    nid         UUID NOT NULL,
    via         TEXT NOT NULL,
    value       TEXT NOT NULL,
    identity_id UUID NOT NULL,
    id          UUID NOT NULL,
    position    INT8 NOT NULL,
    created_at  INT8 NOT NULL,
    updated_at  INT8 NOT NULL,
    CONSTRAINT recovery_addresses_key PRIMARY KEY (nid, via, value),
    CONSTRAINT recovery_addresses_identity_fkey FOREIGN KEY (nid, identity_id)
        REFERENCES identities (nid, id) ON DELETE CASCADE
);
CREATE INDEX recovery_addresses_owner_idx
    ON recovery_addresses (nid, identity_id, position);
"#;

/// Version 2: an external id is never empty (the core's `ExternalId`), so
/// the unique index no longer needs to leave `''` out and queries by
/// external id use it without repeating its predicate. A row an older
/// version wrote with `''` (only possible outside the manager) becomes
/// NULL, which is what it meant.
const V2: &str = r#"
UPDATE identities SET external_id = NULL WHERE external_id = '';
DROP INDEX identities_external_id_key;
CREATE UNIQUE INDEX identities_external_id_key ON identities (nid, external_id)
    WHERE external_id IS NOT NULL;
"#;

/// Version 3: the change feed (`feed.rs`).
///
/// - `identity_change_heads`: one row per tenant that ever wrote, holding
///   the last cursor given out and the last cursor pruned. Until version
///   5, every write bumped `last_cursor` as its last statement, so the row
///   lock ordered a tenant's writers by commit and cursors became visible
///   in order.
/// - `identity_changes`: the changes, keyed by (tenant, cursor); `at` in
///   microseconds like every other timestamp; `fields` the comma list of
///   `ChangedFields::to_list`. No index on `at`: pruning by age removes a
///   prefix of cursors, found by walking the primary key.
/// - `identity_change_consumers`: each named consumer's saved cursor.
///
/// Existing identities get no changes: the feed starts with the first
/// write after the upgrade.
const V3: &str = r#"
CREATE TABLE identity_change_heads (
    nid            UUID NOT NULL,
    last_cursor    INT8 NOT NULL,
    pruned_through INT8 NOT NULL,
    CONSTRAINT identity_change_heads_pkey PRIMARY KEY (nid)
);

CREATE TABLE identity_changes (
    nid         UUID NOT NULL,
    cursor      INT8 NOT NULL,
    identity_id UUID NOT NULL,
    kind        TEXT NOT NULL,
    version     INT8 NOT NULL,
    fields      TEXT NOT NULL,
    at          INT8 NOT NULL,
    CONSTRAINT identity_changes_pkey PRIMARY KEY (nid, cursor)
);

CREATE TABLE identity_change_consumers (
    nid      UUID NOT NULL,
    consumer TEXT NOT NULL,
    cursor   INT8 NOT NULL,
    CONSTRAINT identity_change_consumers_pkey PRIMARY KEY (nid, consumer)
);
"#;

/// Version 4: search (`ListQuery`'s criteria). A GIN index on the traits
/// serves `traits @> $n` (the default `jsonb_ops` operator class, which
/// CockroachDB's inverted indexes also accept; `jsonb_path_ops` would be
/// smaller but is PostgreSQL-only); (tenant, state, id) and (tenant,
/// schema, id) serve the other two criteria in id order, so a keyset page
/// is a range of the index.
const V4: &str = r#"
CREATE INDEX identities_traits_idx ON identities USING GIN (traits);
CREATE INDEX identities_state_idx ON identities (nid, state, id);
CREATE INDEX identities_schema_idx ON identities (nid, schema_id, id);
"#;

/// Version 5: changes are numbered after they commit (`feed.rs`), so
/// writers no longer take the tenant's head row.
///
/// - `seq`: a writer's change takes the next value of
///   `identity_changes_seq` (`CACHE 1`, so values follow the order in
///   which writers take them across sessions) and no cursor; rows written
///   before this version have no `seq` and keep their cursors.
/// - The cursor may be NULL until a reader numbers the row; the primary
///   key on (tenant, cursor) becomes a unique index over numbered rows,
///   and a partial index finds a tenant's unnumbered rows in `seq` order.
/// - `identity_change_heads.last_cursor` is now the last cursor a reader
///   gave out, which a writer of the previous version would still bump:
///   numbering stays consistent while old processes drain.
const V5: &str = r#"
CREATE SEQUENCE identity_changes_seq AS INT8 CACHE 1;
ALTER TABLE identity_changes ADD COLUMN seq INT8;
ALTER TABLE identity_changes ALTER COLUMN seq SET DEFAULT nextval('identity_changes_seq');
ALTER SEQUENCE identity_changes_seq OWNED BY identity_changes.seq;
ALTER TABLE identity_changes DROP CONSTRAINT identity_changes_pkey;
ALTER TABLE identity_changes ALTER COLUMN cursor DROP NOT NULL;
CREATE UNIQUE INDEX identity_changes_cursor_key ON identity_changes (nid, cursor)
    WHERE cursor IS NOT NULL;
CREATE INDEX identity_changes_unnumbered_idx ON identity_changes (nid, seq)
    WHERE cursor IS NULL;
"#;

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS identity_store_migrations (\
     version INT8 NOT NULL PRIMARY KEY, \
     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

/// How often a migration step that lost a race with another process is
/// tried again (each time after reading what the other process did).
const RACE_ATTEMPTS: usize = 20;

/// Creates `schema` if it is given and missing, then applies the missing
/// migrations.
pub(crate) async fn migrate(conn: &mut Object, schema: Option<&str>) -> Result<(), Error> {
    if let Some(schema) = schema {
        // The name was checked to be a plain identifier.
        racy_ddl(
            conn,
            &format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
            "create schema",
        )
        .await?;
    }
    racy_ddl(conn, CREATE_MIGRATIONS_TABLE, "create migrations table").await?;
    let latest = latest();
    for _ in 0..RACE_ATTEMPTS {
        let current = current_version(conn).await?;
        if current > latest {
            return Err(Error::Internal {
                message: format!(
                    "the database has schema version {current}, made by a newer \
                     identity-store-postgres; this version knows versions up to {latest}: \
                     upgrade the library to use it"
                ),
                source: None,
            });
        }
        if current == latest {
            return Ok(());
        }
        let next = current + 1;
        match apply(conn, next).await {
            Ok(()) => {}
            Err(e) if lost_race(&e) => {
                tracing::debug!(version = next, "another process applied the migration");
            }
            Err(e) => return Err(e).ctx(&format!("apply migration {next}")),
        }
    }
    Err(Error::Unavailable {
        message: "migrations kept racing with other processes".to_owned(),
        source: None,
    })
}

/// The number of migrations this library knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// The schema version of the database at `url` (as
/// [`PostgresStore::connect`](crate::PostgresStore::connect) reads it):
/// the number of migrations applied, 0 for a database that has never been
/// migrated, possibly more than [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)
/// for one a newer version of this library migrated. Read on one
/// connection in the URL's `search_path` (`?options=-csearch_path%3Dname`
/// selects a schema); this never creates, migrates or changes anything.
/// An unusable URL is [`Error::InvalidInput`]; a server not reached within
/// `connect_timeout` is [`Error::Unavailable`].
pub async fn schema_version_of(url: &str, connect_timeout: Duration) -> Result<i64, Error> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
        Error::invalid(
            "invalid PostgreSQL connection URL (expected postgres://user@host:port/database)",
        )
    })?;
    config.connect_timeout(connect_timeout);
    let (client, connection) = config.connect(NoTls).await.ctx("connect")?;
    let driver = tokio::spawn(connection);
    let version = async {
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('identity_store_migrations') IS NOT NULL",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .ctx("look for the migrations table")?;
        if exists {
            current_version(&client).await
        } else {
            Ok(0)
        }
    }
    .await;
    drop(client);
    // The connection ends once the client is gone.
    let _ = driver.await;
    version
}

/// The highest applied migration (0 for a new database).
pub(crate) async fn current_version(conn: &Client) -> Result<i64, Error> {
    conn.query_one(
        "SELECT COALESCE(MAX(version), 0)::INT8 FROM identity_store_migrations",
        &[],
    )
    .await
    .and_then(|row| row.try_get::<_, i64>(0))
    .ctx("read schema version")
}

/// Applies migration `version` in one transaction that claims its row
/// first.
async fn apply(conn: &mut Object, version: i64) -> Result<(), tokio_postgres::Error> {
    let index = usize::try_from(version - 1).unwrap_or(usize::MAX);
    let Some(sql) = MIGRATIONS.get(index) else {
        return Ok(());
    };
    let tx = conn.transaction().await?;
    tx.execute(
        "INSERT INTO identity_store_migrations (version) VALUES ($1)",
        &[&version],
    )
    .await?;
    tx.batch_execute(sql).await?;
    tx.commit().await?;
    tracing::info!(version, "applied identity store migration");
    Ok(())
}

/// Runs an `IF NOT EXISTS` statement that two processes may run at once:
/// PostgreSQL may then fail one of them on its catalog's unique indexes
/// although the object now exists; that is success.
async fn racy_ddl(conn: &Object, sql: &str, context: &str) -> Result<(), Error> {
    for _ in 0..RACE_ATTEMPTS {
        match conn.batch_execute(sql).await {
            Ok(()) => return Ok(()),
            Err(e) if lost_race(&e) => continue,
            Err(e) => return Err(e).ctx(context),
        }
    }
    Err(Error::Unavailable {
        message: format!("{context}: kept racing with other processes"),
        source: None,
    })
}

/// Whether a migration step failed because another process did the same
/// work at the same time.
fn lost_race(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_SCHEMA
            || *c == SqlState::DUPLICATE_OBJECT
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}
