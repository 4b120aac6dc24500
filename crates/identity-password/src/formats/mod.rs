//! Recognising, parsing, bounding and verifying every supported hash format.
//!
//! Each family lives in its own module with a `parse` that decodes the whole
//! string *and* enforces the cost bounds, and a `verify` on the parsed value.
//! [`parse`] dispatches on the prefix, in the order Kratos uses.

pub(crate) mod argon2;
pub(crate) mod bcrypt;
pub(crate) mod crypt;
pub(crate) mod digests;
pub(crate) mod pbkdf2;
pub(crate) mod scrypt;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use subtle::ConstantTimeEq as _;

use crate::PasswordError;

/// A family of password hash encodings this crate recognises.
///
/// The family is decided by the prefix alone (as Kratos does); whether the
/// rest of the string is well formed is what [`crate::check_import`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFormat {
    /// `$2a$`, `$2b$`, `$2y$` or `$2$`: bcrypt.
    Bcrypt,
    /// `$argon2id$`: Argon2id, PHC string.
    Argon2id,
    /// `$argon2i$`: Argon2i, PHC string.
    Argon2i,
    /// `$pbkdf2-<digest>$`: PBKDF2-HMAC.
    Pbkdf2,
    /// `$scrypt$`: scrypt, with `ln` holding N itself.
    Scrypt,
    /// `$firescrypt$`: Firebase's modified scrypt.
    FirebaseScrypt,
    /// `$md5-crypt$`: crypt(3) `$1$`.
    Md5Crypt,
    /// `$sha256-crypt$`: crypt(3) `$5$`.
    Sha256Crypt,
    /// `$sha512-crypt$`: crypt(3) `$6$`.
    Sha512Crypt,
    /// `{SSHA}`, `{SSHA256}`, `{SSHA512}`: LDAP salted SHA.
    Ssha,
    /// `$sha1$`, `$sha256$`, `$sha512$`: salted SHA with a template.
    SaltedSha,
    /// `$md5$`: MD5, unsalted or salted with a template.
    Md5,
    /// `$hmac-<digest>$`: HMAC with a stored key.
    Hmac,
}

impl HashFormat {
    /// Recognises the family of an encoded hash from its prefix, or `None`
    /// when no supported family matches.
    pub fn identify(encoded: &str) -> Option<Self> {
        // The order follows Kratos' comparator; no two prefixes overlap
        // except `$argon2id$`/`$argon2i$`, which differ at the `$`.
        if encoded.starts_with("$md5-crypt$") {
            Some(Self::Md5Crypt)
        } else if bcrypt::has_prefix(encoded) {
            Some(Self::Bcrypt)
        } else if encoded.starts_with("$sha256-crypt$") {
            Some(Self::Sha256Crypt)
        } else if encoded.starts_with("$sha512-crypt$") {
            Some(Self::Sha512Crypt)
        } else if encoded.starts_with("$argon2id$") {
            Some(Self::Argon2id)
        } else if encoded.starts_with("$argon2i$") {
            Some(Self::Argon2i)
        } else if pbkdf2::has_prefix(encoded) {
            Some(Self::Pbkdf2)
        } else if encoded.starts_with("$scrypt$") {
            Some(Self::Scrypt)
        } else if digests::has_ssha_prefix(encoded) {
            Some(Self::Ssha)
        } else if digests::has_salted_sha_prefix(encoded) {
            Some(Self::SaltedSha)
        } else if encoded.starts_with("$firescrypt$") {
            Some(Self::FirebaseScrypt)
        } else if encoded.starts_with("$md5$") {
            Some(Self::Md5)
        } else if digests::has_hmac_prefix(encoded) {
            Some(Self::Hmac)
        } else {
            None
        }
    }

    /// A stable lowercase name of the family.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bcrypt => "bcrypt",
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Pbkdf2 => "pbkdf2",
            Self::Scrypt => "scrypt",
            Self::FirebaseScrypt => "firescrypt",
            Self::Md5Crypt => "md5-crypt",
            Self::Sha256Crypt => "sha256-crypt",
            Self::Sha512Crypt => "sha512-crypt",
            Self::Ssha => "ssha",
            Self::SaltedSha => "salted-sha",
            Self::Md5 => "md5",
            Self::Hmac => "hmac",
        }
    }
}

impl fmt::Display for HashFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fully decoded hash whose parameters are within bounds.
pub(crate) enum Parsed {
    Bcrypt(bcrypt::BcryptHash),
    Argon2(argon2::Argon2Hash),
    Pbkdf2(pbkdf2::Pbkdf2Hash),
    Scrypt(scrypt::ScryptHash),
    FirebaseScrypt(scrypt::FirebaseScryptHash),
    Crypt(crypt::CryptHash),
    Digest(digests::DigestHash),
}

/// Parses `encoded` completely and enforces the cost bounds.
pub(crate) fn parse(encoded: &str) -> Result<Parsed, PasswordError> {
    let format = HashFormat::identify(encoded).ok_or(PasswordError::UnsupportedFormat)?;
    match format {
        HashFormat::Bcrypt => bcrypt::parse(encoded).map(Parsed::Bcrypt),
        HashFormat::Argon2id | HashFormat::Argon2i => {
            argon2::parse(encoded, format).map(Parsed::Argon2)
        }
        HashFormat::Pbkdf2 => pbkdf2::parse(encoded).map(Parsed::Pbkdf2),
        HashFormat::Scrypt => scrypt::parse(encoded).map(Parsed::Scrypt),
        HashFormat::FirebaseScrypt => scrypt::parse_firebase(encoded).map(Parsed::FirebaseScrypt),
        HashFormat::Md5Crypt | HashFormat::Sha256Crypt | HashFormat::Sha512Crypt => {
            crypt::parse(encoded, format).map(Parsed::Crypt)
        }
        HashFormat::Ssha => digests::parse_ssha(encoded).map(Parsed::Digest),
        HashFormat::SaltedSha => digests::parse_salted_sha(encoded).map(Parsed::Digest),
        HashFormat::Md5 => digests::parse_md5(encoded).map(Parsed::Digest),
        HashFormat::Hmac => digests::parse_hmac(encoded).map(Parsed::Digest),
    }
}

impl Parsed {
    /// Verifies a non-empty password against the parsed hash.
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        match self {
            Self::Bcrypt(h) => h.verify(password),
            Self::Argon2(h) => h.verify(password),
            Self::Pbkdf2(h) => h.verify(password),
            Self::Scrypt(h) => h.verify(password),
            Self::FirebaseScrypt(h) => h.verify(password),
            Self::Crypt(h) => h.verify(password),
            Self::Digest(h) => h.verify(password),
        }
    }
}

/// Splits on `$` and requires exactly `n` fields (the first one empty).
pub(crate) fn split_fields(
    encoded: &str,
    n: usize,
    format: HashFormat,
) -> Result<Vec<&str>, PasswordError> {
    let fields: Vec<&str> = encoded.split('$').collect();
    if fields.len() != n || !fields[0].is_empty() {
        return Err(PasswordError::malformed(
            format,
            "wrong number of `$`-separated fields",
        ));
    }
    Ok(fields)
}

/// Parses an unsigned decimal made of ASCII digits only (no sign, no space).
pub(crate) fn parse_u32(
    s: &str,
    format: HashFormat,
    reason: &'static str,
) -> Result<u32, PasswordError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PasswordError::malformed(format, reason));
    }
    s.parse::<u32>()
        .map_err(|_| PasswordError::malformed(format, reason))
}

/// Parses `k1=v1,k2=v2,...` with exactly the given keys in the given order.
pub(crate) fn parse_params<const N: usize>(
    s: &str,
    keys: [&str; N],
    format: HashFormat,
) -> Result<[u32; N], PasswordError> {
    const REASON: &str = "the parameter field does not have the expected layout";
    let mut out = [0u32; N];
    let mut pairs = s.split(',');
    for (slot, key) in out.iter_mut().zip(keys) {
        let pair = pairs
            .next()
            .ok_or(PasswordError::malformed(format, REASON))?;
        let (k, v) = pair
            .split_once('=')
            .ok_or(PasswordError::malformed(format, REASON))?;
        if k != key {
            return Err(PasswordError::malformed(format, REASON));
        }
        *slot = parse_u32(v, format, "a parameter is not an unsigned decimal number")?;
    }
    if pairs.next().is_some() {
        return Err(PasswordError::malformed(format, REASON));
    }
    Ok(out)
}

/// Decodes standard-alphabet base64 with canonical `=` padding.
pub(crate) fn b64_padded(
    s: &str,
    format: HashFormat,
    reason: &'static str,
) -> Result<Vec<u8>, PasswordError> {
    STANDARD
        .decode(s)
        .map_err(|_| PasswordError::malformed(format, reason))
}

/// Decodes standard-alphabet base64 without padding.
pub(crate) fn b64_unpadded(
    s: &str,
    format: HashFormat,
    reason: &'static str,
) -> Result<Vec<u8>, PasswordError> {
    STANDARD_NO_PAD
        .decode(s)
        .map_err(|_| PasswordError::malformed(format, reason))
}

/// Requires a decoded field to be non-empty.
pub(crate) fn non_empty(
    bytes: Vec<u8>,
    format: HashFormat,
    reason: &'static str,
) -> Result<Vec<u8>, PasswordError> {
    if bytes.is_empty() {
        Err(PasswordError::malformed(format, reason))
    } else {
        Ok(bytes)
    }
}

/// Constant-time equality of two byte strings (the lengths are public).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Checks `1 <= value <= max`, naming the parameter on failure.
pub(crate) fn bounded(
    value: u32,
    min: u32,
    max: u32,
    format: HashFormat,
    parameter: &'static str,
) -> Result<u32, PasswordError> {
    if value < min.max(1) || value > max {
        Err(PasswordError::out_of_bounds(format, parameter))
    } else {
        Ok(value)
    }
}
