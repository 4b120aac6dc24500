//! The one place where driver and pool errors become store errors.
//!
//! - SQLSTATE 23505 (unique violation) is a conflict; [`unique_violation`]
//!   tells which index by the constraint name, the write path looks up the
//!   value that collided and falls back on the core's
//!   [`UniqueIndex::backstop`] only when it cannot find it;
//! - 40001 (serialization failure) and 40P01 (deadlock) are
//!   [`retryable`]: the write path re-runs the whole transaction; once the
//!   retries are spent they are [`Error::Unavailable`];
//! - a lost or refused connection, a pool timeout, an administrator
//!   shutdown, a server out of resources, a cancelled statement and
//!   CockroachDB's "result is ambiguous" are [`Error::Unavailable`]:
//!   retrying later may help (a write's lost `COMMIT` never gets here: the
//!   runner in `run.rs` settles it or makes it
//!   [`Error::OutcomeUnknown`]);
//! - text PostgreSQL cannot store (a NUL character, a character the
//!   database's encoding lacks) and values too large for an index are
//!   [`Error::InvalidInput`]: a backstop only, since the core refuses NUL
//!   characters and index keys over `INDEX_KEY_MAX_BYTES` before a store
//!   sees them (the conformance suite's `check_text_rule_*` show it);
//! - everything else is [`Error::Internal`], with the driver error kept as
//!   its source (never flattened into the message, which carries no SQL).

use deadpool_postgres::PoolError;
use identity_core::Error;
use identity_core::sql::UniqueIndex;
use tokio_postgres::error::SqlState;

/// The unique index `e` violated, if it is a unique violation: `Some(None)`
/// for an index the store does not know (a bug: the write path never
/// claims one).
pub(crate) fn unique_violation(e: &tokio_postgres::Error) -> Option<Option<UniqueIndex>> {
    let db = e.as_db_error()?;
    if *db.code() != SqlState::UNIQUE_VIOLATION {
        return None;
    }
    Some(index_from_constraint(db.constraint().unwrap_or("")))
}

/// The index of a constraint name (see `schema.rs`, which names each one).
pub(crate) fn index_from_constraint(name: &str) -> Option<UniqueIndex> {
    match name {
        "identities_pkey" => Some(UniqueIndex::IdentityId),
        "identities_external_id_key" => Some(UniqueIndex::ExternalId),
        "credential_identifiers_key" => Some(UniqueIndex::CredentialIdentifier),
        "verifiable_addresses_key" => Some(UniqueIndex::VerifiableAddress),
        "recovery_addresses_key" => Some(UniqueIndex::RecoveryAddress),
        _ => None,
    }
}

/// Whether re-running the whole transaction may succeed: a serialization
/// failure or a deadlock.
pub(crate) fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Maps a driver error met while doing `context` (a short phrase without
/// SQL or values, e.g. "update identity").
pub(crate) fn map(context: &str, e: tokio_postgres::Error) -> Error {
    match classify(&e) {
        Class::Unavailable(why) => Error::unavailable(format!("{context}: {why}"), e),
        Class::InvalidInput(reason) => Error::InvalidInput(reason.to_owned()),
        Class::Internal => Error::internal(context.to_owned(), e),
    }
}

/// Maps a pool error: a timeout or a closed pool is unavailable; a failure
/// to connect goes through [`map`].
pub(crate) fn map_pool(context: &str, e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => map(context, e),
        PoolError::Timeout(kind) => Error::unavailable(
            format!("{context}: timed out waiting for a database connection ({kind:?})"),
            PoolError::Timeout(kind),
        ),
        PoolError::Closed => Error::unavailable(
            format!("{context}: the connection pool is closed"),
            PoolError::Closed,
        ),
        other => Error::internal(format!("{context}: connection pool failure"), other),
    }
}

enum Class {
    Unavailable(&'static str),
    InvalidInput(&'static str),
    Internal,
}

fn classify(e: &tokio_postgres::Error) -> Class {
    let Some(code) = e.code() else {
        return if is_connection_failure(e) {
            Class::Unavailable("the database connection failed")
        } else {
            Class::Internal
        };
    };
    let code = code.code();
    if retryable(e) {
        return Class::Unavailable("the transaction kept conflicting with others; retry later");
    }
    match code {
        // connection_exception and its subclasses
        c if c.starts_with("08") => Class::Unavailable("the database connection failed"),
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01" | "57P02" | "57P03" => Class::Unavailable("the database is shutting down"),
        // query_canceled (statement timeout or cancel request)
        "57014" => Class::Unavailable("the statement was cancelled"),
        // insufficient_resources: disk full, out of memory, too many connections
        c if c.starts_with("53") => Class::Unavailable("the database is out of resources"),
        // system_error (I/O error on the server)
        c if c.starts_with("58") => Class::Unavailable("the database hit a system error"),
        // lock_not_available
        "55P03" => Class::Unavailable("a lock was not available"),
        // read_only_sql_transaction: a standby or a read-only cluster
        "25006" => Class::Unavailable("the database is read-only"),
        // CockroachDB: statement_completion_unknown (the commit may or may
        // not have happened)
        "40003" => Class::Unavailable("the outcome of the write is unknown"),
        // untranslatable_character, character_not_in_repertoire
        "22P05" | "22021" => Class::InvalidInput(
            "a text value contains a NUL character, which the database cannot store",
        ),
        // program_limit_exceeded (e.g. an index row too large)
        "54000" => Class::InvalidInput("a value is too large for the database to index"),
        _ => Class::Internal,
    }
}

/// A driver error without a SQLSTATE that means the connection, not the
/// statement, failed: closed, I/O, connect, timeout, TLS or authentication.
fn is_connection_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()) {
        return true;
    }
    // The driver exposes no kind accessor; its messages for these kinds are
    // fixed strings.
    let text = e.to_string();
    [
        "error connecting to server",
        "timeout waiting for server",
        "error communicating with the server",
        "error performing TLS handshake",
        "authentication error",
    ]
    .iter()
    .any(|m| text.starts_with(m))
}

/// Shorthand: `.ctx("what")?` maps a driver result at the call site.
pub(crate) trait ResultExt<T> {
    /// Maps the error with [`map`].
    fn ctx(self, context: &str) -> Result<T, Error>;
}

impl<T> ResultExt<T> for Result<T, tokio_postgres::Error> {
    fn ctx(self, context: &str) -> Result<T, Error> {
        self.map_err(|e| map(context, e))
    }
}

#[cfg(test)]
mod tests {
    use identity_core::ErrorKind;

    use super::*;

    #[test]
    fn constraint_names_name_their_index() {
        let cases = [
            ("identities_pkey", Some(UniqueIndex::IdentityId)),
            ("identities_external_id_key", Some(UniqueIndex::ExternalId)),
            (
                "credential_identifiers_key",
                Some(UniqueIndex::CredentialIdentifier),
            ),
            (
                "verifiable_addresses_key",
                Some(UniqueIndex::VerifiableAddress),
            ),
            ("recovery_addresses_key", Some(UniqueIndex::RecoveryAddress)),
            ("credentials_pkey", None),
            ("", None),
        ];
        for (name, index) in cases {
            assert_eq!(index_from_constraint(name), index, "{name}");
        }
    }

    #[test]
    fn closed_connections_and_timeouts_are_unavailable() {
        let mapped = map("read", tokio_postgres::Error::__private_api_timeout());
        assert_eq!(mapped.kind(), ErrorKind::Unavailable, "{mapped:?}");
        assert!(std::error::Error::source(&mapped).is_some());
        let e = map_pool("read", PoolError::Closed);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
}
