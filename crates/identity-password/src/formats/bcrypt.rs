//! bcrypt: `$2a$`, `$2b$`, `$2y$` or `$2$`, a two-digit cost, `$`, then 22
//! characters of salt and 31 of hash in bcrypt's base64 alphabet.

use std::str::FromStr as _;

use base64::Engine as _;
use base64::alphabet::BCRYPT;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};

use super::HashFormat;
use crate::PasswordError;

const FORMAT: HashFormat = HashFormat::Bcrypt;

/// bcrypt reads at most 72 bytes of password; longer ones are refused rather
/// than silently truncated.
pub(crate) const MAX_PASSWORD_LEN: usize = 72;
/// The algorithm's own minimum cost.
pub(crate) const MIN_COST: u32 = 4;
/// Largest accepted cost (2^15 rounds).
pub(crate) const MAX_COST: u32 = 15;
const BCRYPT_B64: GeneralPurpose = GeneralPurpose::new(&BCRYPT, NO_PAD);
/// Length of salt plus hash.
const TAIL_LEN: usize = 53;

pub(crate) struct BcryptHash {
    pub(crate) cost: u32,
    /// The hash with a two-letter version, as the bcrypt crate wants it
    /// (`$2$` is rewritten to `$2a$` for parsing only).
    normalized: String,
    /// `$2$`: the original algorithm, whose key excludes the NUL terminator.
    original: bool,
}

pub(crate) fn has_prefix(encoded: &str) -> bool {
    ["$2$", "$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| encoded.starts_with(p))
}

pub(crate) fn parse(encoded: &str) -> Result<BcryptHash, PasswordError> {
    let original = encoded.starts_with("$2$");
    let (minor, rest) = if let Some(rest) = encoded.strip_prefix("$2$") {
        ('a', rest)
    } else {
        // `has_prefix` guaranteed `$2?$` with an ASCII minor letter.
        let minor = encoded.as_bytes().get(2).map_or('a', |&b| b as char);
        (minor, encoded.get(4..).unwrap_or_default())
    };
    let (cost, tail) = rest.split_once('$').ok_or(PasswordError::malformed(
        FORMAT,
        "the cost field is missing",
    ))?;
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PasswordError::malformed(
            FORMAT,
            "the cost is not two decimal digits",
        ));
    }
    if tail.len() != TAIL_LEN
        || !tail
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return Err(PasswordError::malformed(
            FORMAT,
            "the salt and hash are not 53 characters of bcrypt base64",
        ));
    }
    let cost: u32 = cost
        .parse()
        .map_err(|_| PasswordError::malformed(FORMAT, "the cost is not a number"))?;
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(PasswordError::out_of_bounds(FORMAT, "cost"));
    }
    let normalized = format!("$2{minor}${cost:02}${tail}");
    // Let the bcrypt crate decode salt and hash now, so that `check_import`
    // rejects what `verify` would.
    bcrypt::HashParts::from_str(&normalized).map_err(|_| {
        PasswordError::malformed(FORMAT, "the salt or hash is not valid bcrypt base64")
    })?;
    Ok(BcryptHash {
        cost,
        normalized,
        original,
    })
}

impl BcryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(PasswordError::TooLong {
                max: MAX_PASSWORD_LEN,
            });
        }
        if self.original {
            return self.verify_original(password);
        }
        // The bcrypt crate compares the raw hashes with `subtle`.
        bcrypt::verify(password, &self.normalized)
            .map_err(|e| PasswordError::internal("bcrypt verification failed", e))
    }

    /// `$2$` as OpenBSD defined it (and passlib verifies it): the key is the
    /// password without the NUL terminator that `$2a$` and later append.
    /// Go's bcrypt, hence Kratos, appends it for `$2$` too; real `$2$`
    /// hashes come from systems that did not, so this follows OpenBSD.
    fn verify_original(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let parts = bcrypt::HashParts::from_str(&self.normalized)
            .map_err(|e| PasswordError::internal("bcrypt re-parse failed", e))?;
        let expected = BCRYPT_B64
            .decode(&self.normalized[self.normalized.len() - 31..])
            .map_err(|_| PasswordError::malformed(FORMAT, "the hash is not bcrypt base64"))?;
        let computed = bcrypt::bcrypt(self.cost, parts.get_salt_raw(), password);
        Ok(super::ct_eq(&computed[..23], &expected))
    }
}
