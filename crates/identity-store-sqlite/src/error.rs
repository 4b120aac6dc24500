//! The one place where driver errors become store errors.
//!
//! - a UNIQUE (or PRIMARY KEY) violation is a conflict; the write path asks
//!   [`unique_violation`] which index it hit, finds the value that collided
//!   and falls back on [`conflict_backstop`] only when it cannot;
//! - SQLITE_BUSY that outlived the busy timeout, SQLITE_LOCKED, a full disk,
//!   a read-only file, a file that cannot be opened and a WAL lock race are
//!   [`Error::Unavailable`]: retrying later may help;
//! - everything else is [`Error::Internal`], with the driver error kept as
//!   its source (never flattened into the message, which carries no SQL).

use identity_core::{ConflictField, Error, WriteOp};
use rusqlite::ErrorCode;
use rusqlite::ffi;

/// The unique index a constraint error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueIndex {
    /// `identities (nid, id)`.
    IdentityId,
    /// `identities (nid, external_id)`.
    ExternalId,
    /// `credential_identifiers (nid, type, identifier)`.
    CredentialIdentifier,
    /// `verifiable_addresses (nid, via, value)`.
    VerifiableAddress,
    /// `recovery_addresses (nid, via, value)`.
    RecoveryAddress,
    /// Any other unique index (a bug: the write path never claims one).
    Other,
}

/// The unique index `e` violated, if it is a UNIQUE or PRIMARY KEY
/// constraint error.
pub(crate) fn unique_violation(e: &rusqlite::Error) -> Option<UniqueIndex> {
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
fn index_from_message(message: &str) -> UniqueIndex {
    let detail = message.split_once(": ").map_or(message, |(_, d)| d);
    if detail.contains("identities.external_id") || detail.contains("identities_external_id") {
        UniqueIndex::ExternalId
    } else if detail.contains("credential_identifiers") {
        UniqueIndex::CredentialIdentifier
    } else if detail.contains("verifiable_addresses") {
        UniqueIndex::VerifiableAddress
    } else if detail.contains("recovery_addresses") {
        UniqueIndex::RecoveryAddress
    } else if detail.contains("identities.id") || detail.contains("identities_id") {
        UniqueIndex::IdentityId
    } else {
        UniqueIndex::Other
    }
}

/// The conflict for a unique violation of `index` when the write path could
/// not find which value collided: the first value of the identity that the
/// index covers.
pub(crate) fn conflict_backstop(
    index: UniqueIndex,
    keys: Vec<ConflictField>,
    op: WriteOp,
    source: rusqlite::Error,
) -> Error {
    let field = match index {
        UniqueIndex::IdentityId => Some(ConflictField::Id),
        UniqueIndex::Other => None,
        _ => keys.into_iter().find(|k| {
            matches!(
                (index, k),
                (UniqueIndex::ExternalId, ConflictField::ExternalId(_))
                    | (
                        UniqueIndex::CredentialIdentifier,
                        ConflictField::CredentialIdentifier(..)
                    )
                    | (
                        UniqueIndex::VerifiableAddress,
                        ConflictField::VerifiableAddress(..)
                    )
                    | (
                        UniqueIndex::RecoveryAddress,
                        ConflictField::RecoveryAddress(..)
                    )
            )
        }),
    };
    match field {
        Some(field) => Error::Conflict { field, op },
        None => Error::internal("unexpected unique constraint violation", source),
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
    use identity_core::{AddressVia, CredentialType, ErrorKind};

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
                UniqueIndex::IdentityId,
            ),
            (
                "UNIQUE constraint failed: identities.nid, identities.external_id",
                UniqueIndex::ExternalId,
            ),
            (
                "UNIQUE constraint failed: credential_identifiers.nid, credential_identifiers.type, credential_identifiers.identifier",
                UniqueIndex::CredentialIdentifier,
            ),
            (
                "UNIQUE constraint failed: verifiable_addresses.nid, verifiable_addresses.via, verifiable_addresses.value",
                UniqueIndex::VerifiableAddress,
            ),
            (
                "UNIQUE constraint failed: recovery_addresses.nid, recovery_addresses.via, recovery_addresses.value",
                UniqueIndex::RecoveryAddress,
            ),
            (
                "UNIQUE constraint failed: index 'identities_external_id_key'",
                UniqueIndex::ExternalId,
            ),
            ("UNIQUE constraint failed: other.x", UniqueIndex::Other),
        ];
        for (message, index) in cases {
            let e = failure(ffi::SQLITE_CONSTRAINT_UNIQUE, message);
            assert_eq!(unique_violation(&e), Some(index), "{message}");
        }
        let not_null = failure(ffi::SQLITE_CONSTRAINT_NOTNULL, "NOT NULL constraint failed");
        assert_eq!(unique_violation(&not_null), None);
    }

    #[test]
    fn backstop_names_the_first_value_the_index_covers() {
        let keys = vec![
            ConflictField::ExternalId("ext".into()),
            ConflictField::CredentialIdentifier(CredentialType::Password, "a@x".into()),
            ConflictField::RecoveryAddress(AddressVia::Email, "a@x".into()),
        ];
        let source = || failure(ffi::SQLITE_CONSTRAINT_UNIQUE, "x");
        let e = conflict_backstop(
            UniqueIndex::RecoveryAddress,
            keys.clone(),
            WriteOp::Update,
            source(),
        );
        assert!(matches!(
            e,
            Error::Conflict {
                field: ConflictField::RecoveryAddress(AddressVia::Email, ref v),
                op: WriteOp::Update
            } if v == "a@x"
        ));
        let e = conflict_backstop(
            UniqueIndex::IdentityId,
            keys.clone(),
            WriteOp::Create,
            source(),
        );
        assert!(matches!(
            e,
            Error::Conflict {
                field: ConflictField::Id,
                ..
            }
        ));
        let e = conflict_backstop(
            UniqueIndex::VerifiableAddress,
            keys,
            WriteOp::Create,
            source(),
        );
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
