//! The one error type of the core and its stable kinds. The core carries no
//! HTTP: statuses and the Kratos envelope are identity-http's.

use std::fmt;
use std::sync::OnceLock;

use jsonschema::paths::Location;
use serde::Serialize;

use crate::model::{AddressVia, CredentialType};
use crate::schema::Pending;

/// A boxed error source kept for logs (never flattened into a message).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, as a caller matches on it.
///
/// Deliberately exhaustive (not `#[non_exhaustive]`): a new kind is a
/// breaking change that must force every mapping (HTTP status, retries) to
/// decide what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The traits (or metadata) failed validation; see the violations.
    Validation,
    /// The request itself is wrong: unknown schema, bad state, bad hash,
    /// bad patch, a limit exceeded.
    InvalidInput,
    /// No such identity.
    NotFound,
    /// A uniqueness rule would be broken.
    Conflict,
    /// The stored version differs from the expected one.
    VersionMismatch,
    /// An identity schema was refused at registration.
    Schema,
    /// The store cannot be reached or is busy; retrying may help.
    Unavailable,
    /// A write reached the store but its outcome is unknown: the
    /// connection was lost after the commit was sent, and the store could
    /// not find out whether it happened. It may or may not have; read
    /// before retrying (a blind retry may apply it twice).
    OutcomeUnknown,
    /// What the request points at is gone for good: a change cursor before
    /// the changes the store still keeps.
    Expired,
    /// A bug or an unexpected failure.
    Internal,
}

/// One schema violation: where in the validated document, where in the
/// schema, and what is wrong, read through [`Violation::instance_path`],
/// [`Violation::schema_path`] and [`Violation::message`].
///
/// A violation the validator found keeps what its message needs and
/// writes the message when it is first read (or the violation is
/// displayed, compared or serialised): collecting every violation of an
/// invalid document formats nothing. Two violations are equal when their
/// three texts are.
///
/// ```
/// use identity_core::Violation;
/// let v = Violation::new("/traits/email", "/properties/traits/required", "missing properties: \"email\"");
/// assert_eq!(v.reason_line(), "I[#/traits/email] S[#/properties/traits/required] missing properties: \"email\"");
/// ```
#[derive(Clone)]
pub struct Violation {
    instance_path: Pointer,
    schema_path: Pointer,
    /// What an unwritten message needs; `None` once written at creation.
    /// In place (four words; its large values are boxed in it): the
    /// violations of an invalid document cost no allocation each for it.
    pending: Option<Pending>,
    message: OnceLock<String>,
}

/// A JSON Pointer: our own text, or the validator's shared one.
#[derive(Clone)]
enum Pointer {
    Text(String),
    Located(Location),
}

impl Pointer {
    fn as_str(&self) -> &str {
        match self {
            Pointer::Text(s) => s,
            Pointer::Located(l) => l.as_str(),
        }
    }
}

impl Violation {
    /// A violation with all three parts written out.
    pub fn new(
        instance_path: impl Into<String>,
        schema_path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Violation {
            instance_path: Pointer::Text(instance_path.into()),
            schema_path: Pointer::Text(schema_path.into()),
            pending: None,
            message: OnceLock::from(message.into()),
        }
    }

    /// A violation at `instance_path` with an empty schema path.
    pub fn at(instance_path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation::new(instance_path, String::new(), message)
    }

    /// A violation at the validator's locations with a written message.
    pub(crate) fn located(instance_path: Location, schema_path: Location, message: String) -> Self {
        Violation {
            instance_path: Pointer::Located(instance_path),
            schema_path: Pointer::Located(schema_path),
            pending: None,
            message: OnceLock::from(message),
        }
    }

    /// A violation at the validator's locations whose message is written
    /// when first read.
    pub(crate) fn pending(
        instance_path: Location,
        schema_path: Location,
        pending: Pending,
    ) -> Self {
        Violation {
            instance_path: Pointer::Located(instance_path),
            schema_path: Pointer::Located(schema_path),
            pending: Some(pending),
            message: OnceLock::new(),
        }
    }

    /// JSON Pointer into the validated document, e.g. `/traits/email`.
    pub fn instance_path(&self) -> &str {
        self.instance_path.as_str()
    }

    /// JSON Pointer into the schema, e.g.
    /// `/properties/traits/properties/email/format` (empty for a limit).
    pub fn schema_path(&self) -> &str {
        self.schema_path.as_str()
    }

    /// What is wrong (written on the first read).
    pub fn message(&self) -> &str {
        self.message.get_or_init(|| {
            self.pending
                .as_ref()
                .map(Pending::write)
                .unwrap_or_default()
        })
    }

    /// The Kratos reason line: `I[#/traits/email] S[#/properties/...] message`.
    pub fn reason_line(&self) -> String {
        format!(
            "I[#{}] S[#{}] {}",
            self.instance_path(),
            self.schema_path(),
            self.message()
        )
    }
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Violation")
            .field("instance_path", &self.instance_path())
            .field("schema_path", &self.schema_path())
            .field("message", &self.message())
            .finish()
    }
}

impl PartialEq for Violation {
    fn eq(&self, other: &Self) -> bool {
        self.instance_path() == other.instance_path()
            && self.schema_path() == other.schema_path()
            && self.message() == other.message()
    }
}

impl Eq for Violation {}

impl Serialize for Violation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Violation", 3)?;
        s.serialize_field("instance_path", self.instance_path())?;
        s.serialize_field("schema_path", self.schema_path())?;
        s.serialize_field("message", self.message())?;
        s.end()
    }
}

/// The value whose uniqueness a write would have broken.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConflictField {
    /// The identity id.
    Id,
    /// The external id.
    ExternalId(String),
    /// A credential identifier of one type.
    CredentialIdentifier(CredentialType, String),
    /// A verifiable address.
    VerifiableAddress(AddressVia, String),
    /// A recovery address.
    RecoveryAddress(AddressVia, String),
}

impl fmt::Display for ConflictField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConflictField::Id => f.write_str("id"),
            ConflictField::ExternalId(v) => write!(f, "external_id {v:?}"),
            ConflictField::CredentialIdentifier(t, v) => write!(f, "{t} identifier {v:?}"),
            ConflictField::VerifiableAddress(via, v) => {
                write!(f, "verifiable address ({}) {v:?}", via.as_str())
            }
            ConflictField::RecoveryAddress(via, v) => {
                write!(f, "recovery address ({}) {v:?}", via.as_str())
            }
        }
    }
}

/// Which kind of write hit a conflict (Kratos words them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteOp {
    /// A create.
    Create,
    /// An update or patch.
    Update,
}

/// The error of every core operation and every store.
///
/// Callers match on [`Error::kind`] (exhaustive) and read the structured
/// parts through [`Error::violations`], [`Error::reason`],
/// [`Error::detail`], [`Error::conflict`] and [`Error::versions`]; the
/// variants themselves may grow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The traits or metadata failed validation.
    #[error("validation failed: {}", join_violations(.0))]
    Validation(Vec<Violation>),
    /// The request is wrong; the message says what (it is the Kratos `reason`).
    #[error("{0}")]
    InvalidInput(String),
    /// The request was refused with a specific message under a general
    /// reason, the two places Kratos' envelope gives them: a patch that
    /// does not decode (reason `failed to unmarshal JSON patch`) or apply
    /// (reason `failed to apply JSON patch`, message `patch includes denied
    /// path: /id`), a body that does not decode (message only). `Display`
    /// is the message.
    #[error("{message}")]
    InvalidRequest {
        /// The general reason (the Kratos `reason`), if any.
        reason: Option<String>,
        /// What exactly is wrong (the Kratos `message`).
        message: String,
    },
    /// An identity schema was refused at registration: not a valid JSON
    /// Schema, a misplaced or malformed `ory.sh/kratos` keyword, or past a
    /// registration bound (nesting, `$ref` nesting, places the keyword
    /// applies at). The message says which.
    #[error("{0}")]
    Schema(String),
    /// No such identity.
    #[error("unable to locate the resource")]
    NotFound,
    /// The identity exists, but not the part of it the request names (a
    /// credential to delete); the reason says which.
    #[error("{reason}")]
    PartNotFound {
        /// What is missing (the Kratos `reason`).
        reason: String,
    },
    /// A write would break a uniqueness rule.
    #[error("conflict on {field}")]
    Conflict {
        /// What collided.
        field: ConflictField,
        /// The write that hit it.
        op: WriteOp,
    },
    /// A conditional write found another version.
    #[error("version mismatch: expected {expected}, found {actual}")]
    VersionMismatch {
        /// The version the caller read.
        expected: u64,
        /// The version stored now.
        actual: u64,
    },
    /// A change cursor points before the oldest change the store keeps:
    /// changes after it were pruned, so reading on would skip them. The
    /// reader must start again (from the oldest kept change, knowing that
    /// it missed some).
    #[error(
        "the change cursor {after} is before the retained changes (pruned through {pruned_through})"
    )]
    CursorExpired {
        /// The cursor the reader gave.
        after: crate::feed::ChangeCursor,
        /// The cursor of the newest pruned change: reading may go on from
        /// here, past the gap.
        pruned_through: crate::feed::ChangeCursor,
    },
    /// The store is unreachable or busy.
    #[error("storage unavailable: {message}")]
    Unavailable {
        /// What failed, without secrets.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },
    /// A write was sent to the store and may or may not have happened:
    /// the connection was lost (or timed out) after the commit was sent,
    /// and the store could not prove either outcome. Never a success in
    /// disguise, and never retried by the store: the caller reads the
    /// identity to find out before writing again.
    #[error("outcome of the write unknown: {message}")]
    OutcomeUnknown {
        /// What was being written, without secrets.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },
    /// Something unexpected.
    #[error("internal error: {message}")]
    Internal {
        /// What failed, without secrets.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

fn join_violations(v: &[Violation]) -> String {
    v.iter()
        .map(Violation::reason_line)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation(_) => ErrorKind::Validation,
            Error::InvalidInput(_) | Error::InvalidRequest { .. } => ErrorKind::InvalidInput,
            Error::Schema(_) => ErrorKind::Schema,
            Error::NotFound | Error::PartNotFound { .. } => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::VersionMismatch { .. } => ErrorKind::VersionMismatch,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            Error::CursorExpired { .. } => ErrorKind::Expired,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// An invalid-input error with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidInput(reason.into())
    }

    /// A JSON Patch that does not apply: reason `failed to apply JSON
    /// patch`, `message` saying why (Kratos' placement).
    pub fn patch_failed(message: impl Into<String>) -> Self {
        Error::InvalidRequest {
            reason: Some("failed to apply JSON patch".to_owned()),
            message: message.into(),
        }
    }

    /// An internal error with a source.
    pub fn internal(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Internal {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// An unavailable error with a source.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// An outcome-unknown error with a source.
    pub fn outcome_unknown(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::OutcomeUnknown {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The violations of a validation error (empty for other kinds).
    pub fn violations(&self) -> &[Violation] {
        match self {
            Error::Validation(v) => v,
            _ => &[],
        }
    }

    /// Why the request was refused, where the error says it: the reason of
    /// an invalid input, a refused schema, a missing part of an identity,
    /// or the general reason of an invalid request (Kratos' `reason`).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::InvalidInput(reason)
            | Error::Schema(reason)
            | Error::PartNotFound { reason } => Some(reason),
            Error::InvalidRequest { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// The specific message of an invalid request (a patch or body that
    /// does not decode or apply), which Kratos shows in place of its
    /// generic one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::InvalidRequest { message, .. } => Some(message),
            _ => None,
        }
    }

    /// What collided, and in which kind of write, for a conflict.
    pub fn conflict(&self) -> Option<(&ConflictField, WriteOp)> {
        match self {
            Error::Conflict { field, op } => Some((field, *op)),
            _ => None,
        }
    }

    /// The expected and the stored version, for a version mismatch.
    pub fn versions(&self) -> Option<(u64, u64)> {
        match self {
            Error::VersionMismatch { expected, actual } => Some((*expected, *actual)),
            _ => None,
        }
    }

    /// Whether a not-found error names a missing part of an identity (a
    /// credential) rather than the identity itself.
    pub fn is_part_not_found(&self) -> bool {
        matches!(self, Error::PartNotFound { .. })
    }
}
