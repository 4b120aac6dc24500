//! The one error type of this crate.

use std::error::Error as StdError;
use std::fmt;

use crate::HashFormat;

/// Why hashing, verifying or checking a password hash failed.
///
/// The `Display` text never contains the password nor the encoded hash: only
/// the format's name and static descriptions of what is wrong, so the error
/// can be logged as it is. Match on [`PasswordError::kind`] rather than on
/// messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The encoded hash is not in any format this crate recognises.
    #[error("the password hash is not in a supported format")]
    UnsupportedFormat,

    /// The encoded hash starts like a supported format but does not follow
    /// its layout (wrong field count, bad base64, bad version, empty salt...).
    #[error("the {format} password hash is malformed: {reason}")]
    MalformedHash {
        /// The format the hash was recognised as.
        format: HashFormat,
        /// What is wrong, as a static description.
        reason: &'static str,
    },

    /// A cost parameter of the hash is zero, below the algorithm's minimum or
    /// above the bound this crate accepts (SPEC §7), so that a hostile hash
    /// cannot turn a login into a denial of service.
    #[error("the {format} password hash parameter `{parameter}` is out of bounds")]
    ParametersOutOfBounds {
        /// The format the hash was recognised as.
        format: HashFormat,
        /// The name of the offending parameter as spelled in the hash.
        parameter: &'static str,
    },

    /// The password is longer than the algorithm accepts (bcrypt: 72 bytes).
    #[error("the password is longer than the {max} bytes the algorithm accepts")]
    TooLong {
        /// The maximum length in bytes.
        max: usize,
    },

    /// The password is empty.
    #[error("the password is empty")]
    Empty,

    /// A hasher configuration is weaker than the production floor or above
    /// the accepted bounds.
    #[error("invalid password hasher configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, as a static description.
        reason: &'static str,
    },

    /// Something that should not fail did (the OS random source, or a
    /// primitive rejecting parameters this crate had already validated).
    #[error("internal password hashing error: {context}")]
    Internal {
        /// Where it happened.
        context: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    },
}

/// The stable, matchable kind of a [`PasswordError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordErrorKind {
    /// See [`PasswordError::UnsupportedFormat`].
    UnsupportedFormat,
    /// See [`PasswordError::MalformedHash`].
    MalformedHash,
    /// See [`PasswordError::ParametersOutOfBounds`].
    ParametersOutOfBounds,
    /// See [`PasswordError::TooLong`].
    TooLong,
    /// See [`PasswordError::Empty`].
    Empty,
    /// See [`PasswordError::InvalidConfig`].
    InvalidConfig,
    /// See [`PasswordError::Internal`].
    Internal,
}

impl PasswordErrorKind {
    /// A stable snake_case name, suitable for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnsupportedFormat => "unsupported_format",
            Self::MalformedHash => "malformed_hash",
            Self::ParametersOutOfBounds => "parameters_out_of_bounds",
            Self::TooLong => "too_long",
            Self::Empty => "empty",
            Self::InvalidConfig => "invalid_config",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for PasswordErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PasswordError {
    /// The stable kind of this error.
    pub fn kind(&self) -> PasswordErrorKind {
        match self {
            Self::UnsupportedFormat => PasswordErrorKind::UnsupportedFormat,
            Self::MalformedHash { .. } => PasswordErrorKind::MalformedHash,
            Self::ParametersOutOfBounds { .. } => PasswordErrorKind::ParametersOutOfBounds,
            Self::TooLong { .. } => PasswordErrorKind::TooLong,
            Self::Empty => PasswordErrorKind::Empty,
            Self::InvalidConfig { .. } => PasswordErrorKind::InvalidConfig,
            Self::Internal { .. } => PasswordErrorKind::Internal,
        }
    }

    pub(crate) fn malformed(format: HashFormat, reason: &'static str) -> Self {
        Self::MalformedHash { format, reason }
    }

    pub(crate) fn out_of_bounds(format: HashFormat, parameter: &'static str) -> Self {
        Self::ParametersOutOfBounds { format, parameter }
    }

    pub(crate) fn internal<E>(context: &'static str, source: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        Self::Internal {
            context,
            source: Some(Box::new(source)),
        }
    }
}
