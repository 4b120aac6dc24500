//! The one place where driver errors become store errors.
//!
//! - a UNIQUE (or PRIMARY KEY) violation is a conflict; the write path asks
//!   [`unique_violation`] which index it hit, finds the value that collided
//!   and falls back on the core's [`UniqueIndex::backstop`] only when it
//!   cannot;
//! - SQLITE_BUSY that outlived the busy timeout, SQLITE_LOCKED, a full disk,
//!   a read-only file, a file that cannot be opened and a WAL lock race are
//!   [`Error::Unavailable`]: retrying later may help;
//! - everything else is [`Error::Internal`], with the driver error kept as
//!   its source (never flattened into the message, which carries no SQL).

use identity_core::Error;
use identity_core::sql::UniqueIndex;
use rusqlite::ErrorCode;
use rusqlite::ffi;

/// The unique index `e` violated, if it is a UNIQUE or PRIMARY KEY
/// constraint error: `Some(None)` for an index the store does not know
/// (a bug: the write path never claims one).
pub(crate) fn unique_violation(e: &rusqlite::Error) -> Option<Option<UniqueIndex>> {
    let rusqlite::Error::SqliteFailure(failure, message) = e else {
        return None;
    };
    if failure.extended_code != ffi::SQLITE_CONSTRAINT_UNIQUE
        && failure.extended_code != ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    {
        return None;
    }
    Some(index_from_message(message.as_deref().unwrap_or("")))
}

/// Reads the index out of SQLite's message, which names the columns
/// (`UNIQUE constraint failed: identities.nid, identities.external_id`) or,
/// for expression indexes, the index (`... failed: index 'name'`).
fn index_from_message(message: &str) -> Option<UniqueIndex> {
    let detail = message.split_once(": ").map_or(message, |(_, d)| d);
    if detail.contains("identities.external_id") || detail.contains("identities_external_id") {
        Some(UniqueIndex::ExternalId)
    } else if detail.contains("credential_identifiers") {
        Some(UniqueIndex::CredentialIdentifier)
    } else if detail.contains("verifiable_addresses") {
        Some(UniqueIndex::VerifiableAddress)
    } else if detail.contains("recovery_addresses") {
        Some(UniqueIndex::RecoveryAddress)
    } else if detail.contains("identities.id") || detail.contains("identities_id") {
        Some(UniqueIndex::IdentityId)
    } else {
        None
    }
}

/// Maps a driver error met while doing `context` (a short phrase without
/// SQL or values, e.g. "update identity").
pub(crate) fn map(context: &str, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(code) if is_unavailable(code) => {
            Error::unavailable(format!("{context}: {}", describe(code)), e)
        }
        _ => Error::internal(context.to_owned(), e),
    }
}

/// Whether a driver error code means "the database cannot serve now".
fn is_unavailable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::CannotOpen
            | ErrorCode::FileLockingProtocolFailed
    )
}

fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::DatabaseBusy => "database busy past the busy timeout",
        ErrorCode::DatabaseLocked => "database table locked",
        ErrorCode::DiskFull => "disk or database full",
        ErrorCode::ReadOnly => "database is read-only",
        ErrorCode::CannotOpen => "cannot open the database file",
        ErrorCode::FileLockingProtocolFailed => "WAL locking race",
        _ => "database error",
    }
}

/// Shorthand: `.ctx("what")?` maps a driver result at the call site.
pub(crate) trait ResultExt<T> {
    /// Maps the error with [`map`].
    fn ctx(self, context: &str) -> Result<T, Error>;
}

impl<T> ResultExt<T> for rusqlite::Result<T> {
    fn ctx(self, context: &str) -> Result<T, Error> {
        self.map_err(|e| map(context, e))
    }
}

#[cfg(test)]
mod tests {
    use identity_core::ErrorKind;

    use super::*;

    fn failure(extended: i32, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(extended), Some(message.to_owned()))
    }

    #[test]
    fn transient_codes_are_unavailable_and_keep_their_source() {
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_FULL,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_PROTOCOL,
        ] {
            let e = map("write", failure(code, "x"));
            assert_eq!(e.kind(), ErrorKind::Unavailable, "code {code}");
            assert!(std::error::Error::source(&e).is_some());
        }
    }

    #[test]
    fn other_codes_are_internal() {
        for code in [ffi::SQLITE_CORRUPT, ffi::SQLITE_IOERR, ffi::SQLITE_MISUSE] {
            assert_eq!(map("read", failure(code, "x")).kind(), ErrorKind::Internal);
        }
        assert_eq!(
            map("read", rusqlite::Error::QueryReturnedNoRows).kind(),
            ErrorKind::Internal
        );
    }

    #[test]
    fn unique_messages_name_their_index() {
        let cases = [
            (
                "UNIQUE constraint failed: identities.nid, identities.id",
                Some(UniqueIndex::IdentityId),
            ),
            (
                "UNIQUE constraint failed: identities.nid, identities.external_id",
                Some(UniqueIndex::ExternalId),
            ),
            (
                "UNIQUE constraint failed: credential_identifiers.nid, credential_identifiers.type, credential_identifiers.identifier",
                Some(UniqueIndex::CredentialIdentifier),
            ),
            (
                "UNIQUE constraint failed: verifiable_addresses.nid, verifiable_addresses.via, verifiable_addresses.value",
                Some(UniqueIndex::VerifiableAddress),
            ),
            (
                "UNIQUE constraint failed: recovery_addresses.nid, recovery_addresses.via, recovery_addresses.value",
                Some(UniqueIndex::RecoveryAddress),
            ),
            (
                "UNIQUE constraint failed: index 'identities_external_id_key'",
                Some(UniqueIndex::ExternalId),
            ),
            ("UNIQUE constraint failed: other.x", None),
        ];
        for (message, index) in cases {
            let e = failure(ffi::SQLITE_CONSTRAINT_UNIQUE, message);
            assert_eq!(unique_violation(&e), Some(index), "{message}");
        }
        let not_null = failure(ffi::SQLITE_CONSTRAINT_NOTNULL, "NOT NULL constraint failed");
        assert_eq!(unique_violation(&not_null), None);
    }
}
