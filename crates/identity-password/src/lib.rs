#![doc = include_str!("../README.md")]

mod error;
mod formats;
mod hasher;
mod secret;

pub use crate::error::{PasswordError, PasswordErrorKind};
pub use crate::formats::HashFormat;
pub use crate::hasher::{Argon2Params, BcryptParams, HashMemory, HasherConfig, PasswordHasher};
pub use crate::secret::Password;

/// Verifies `password` against an encoded hash in any supported format.
///
/// Returns `Ok(true)` on a match and `Ok(false)` on a mismatch; the final
/// comparison is constant-time. CPU-heavy: async callers must run it on a
/// blocking pool (see the crate docs).
///
/// # Errors
///
/// - [`PasswordError::UnsupportedFormat`] when no supported format matches;
/// - [`PasswordError::MalformedHash`] when the hash does not follow its layout;
/// - [`PasswordError::ParametersOutOfBounds`] when its costs exceed the
///   import bounds (checked before any hashing work);
/// - [`PasswordError::Empty`] for an empty password;
/// - [`PasswordError::TooLong`] for a bcrypt hash and a password over 72 bytes.
///
/// ```
/// use identity_password::verify;
///
/// // `{SSHA}` of "password" with the salt "salt".
/// let encoded = "{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0";
/// assert!(verify("password", encoded)?);
/// assert!(!verify("Password", encoded)?);
/// # Ok::<(), identity_password::PasswordError>(())
/// ```
pub fn verify(password: &str, encoded: &str) -> Result<bool, PasswordError> {
    let parsed = formats::parse(encoded)?;
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    parsed.verify(password.as_bytes())
}

/// [`verify`] for a [`Password`].
pub fn verify_password(password: &Password, encoded: &str) -> Result<bool, PasswordError> {
    verify(password.expose(), encoded)
}

/// Whether the encoded hash starts like one of the supported formats.
///
/// This looks at the prefix only, as Kratos does; use [`check_import`] to
/// know whether the whole hash is usable.
pub fn is_supported(encoded: &str) -> bool {
    HashFormat::identify(encoded).is_some()
}

/// Parses an imported hash completely and enforces the cost bounds, without
/// hashing anything (cheap).
///
/// # Errors
///
/// [`PasswordError::UnsupportedFormat`], [`PasswordError::MalformedHash`] or
/// [`PasswordError::ParametersOutOfBounds`], exactly as [`verify`] would
/// return them for this hash.
pub fn check_import(encoded: &str) -> Result<(), PasswordError> {
    formats::parse(encoded).map(|_| ())
}
