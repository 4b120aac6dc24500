//! Single-digest legacy formats: LDAP `{SSHA}`, templated salted SHA and MD5,
//! plain MD5 and HMAC.
//!
//! - `{SSHA}`/`{SSHA256}`/`{SSHA512}` + base64(digest(password ‖ salt) ‖ salt)
//! - `$sha1$`/`$sha256$`/`$sha512$` + `pf=<b64 template>$<b64 salt>$<b64 digest>`,
//!   the digest taken over the template with `{SALT}` and `{PASSWORD}` replaced
//! - `$md5$<b64 digest>` or `$md5$pf=<b64 template>$<b64 salt>$<b64 digest>`
//! - `$hmac-<digest>$<b64 of the lowercase hex MAC>$<b64 key>`, MAC = HMAC(key, password)
//!
//! All base64 here is the padded standard alphabet.

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::{HashFormat, b64_padded, ct_eq, non_empty, split_fields};
use crate::PasswordError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Alg {
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Alg {
    fn output_len(self) -> usize {
        match self {
            Self::Md4 | Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Md4 => md4::Md4::digest(data).to_vec(),
            Self::Md5 => Md5::digest(data).to_vec(),
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha224 => Sha224::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], message: &[u8]) -> Result<Vec<u8>, PasswordError> {
        match self {
            Self::Md4 => mac::<Hmac<md4::Md4>>(key, message),
            Self::Md5 => mac::<Hmac<Md5>>(key, message),
            Self::Sha1 => mac::<Hmac<Sha1>>(key, message),
            Self::Sha224 => mac::<Hmac<Sha224>>(key, message),
            Self::Sha256 => mac::<Hmac<Sha256>>(key, message),
            Self::Sha384 => mac::<Hmac<Sha384>>(key, message),
            Self::Sha512 => mac::<Hmac<Sha512>>(key, message),
        }
    }
}

fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Result<Vec<u8>, PasswordError> {
    let mut m = <M as KeyInit>::new_from_slice(key)
        .map_err(|e| PasswordError::internal("HMAC rejected its key", e))?;
    m.update(message);
    Ok(m.finalize().into_bytes().to_vec())
}

/// What is hashed, and how the result is compared.
enum Input {
    /// `digest(password ‖ salt)`.
    PasswordThenSalt { salt: Vec<u8> },
    /// `digest(template)` with `{SALT}` and `{PASSWORD}` substituted.
    Template { template: Vec<u8>, salt: Vec<u8> },
    /// `digest(password)`.
    Password,
    /// `lowercase_hex(HMAC(key, password))`.
    Hmac { key: Vec<u8> },
}

pub(crate) struct DigestHash {
    alg: Alg,
    input: Input,
    /// The raw digest, or for HMAC the lowercase hex bytes.
    expected: Vec<u8>,
}

impl DigestHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let computed = match &self.input {
            Input::PasswordThenSalt { salt } => {
                let mut data = Zeroizing::new(Vec::with_capacity(password.len() + salt.len()));
                data.extend_from_slice(password);
                data.extend_from_slice(salt);
                self.alg.digest(&data)
            }
            Input::Template { template, salt } => {
                let data = substitute(template, salt, password);
                self.alg.digest(&data)
            }
            Input::Password => self.alg.digest(password),
            Input::Hmac { key } => lower_hex(&self.alg.hmac(key, password)?),
        };
        Ok(ct_eq(&computed, &self.expected))
    }
}

pub(crate) fn has_ssha_prefix(encoded: &str) -> bool {
    ["{SSHA}", "{SSHA256}", "{SSHA512}"]
        .iter()
        .any(|p| encoded.starts_with(p))
}

pub(crate) fn has_salted_sha_prefix(encoded: &str) -> bool {
    ["$sha1$", "$sha256$", "$sha512$"]
        .iter()
        .any(|p| encoded.starts_with(p))
}

pub(crate) fn has_hmac_prefix(encoded: &str) -> bool {
    hmac_alg(encoded).is_some()
}

fn hmac_alg(encoded: &str) -> Option<Alg> {
    let name = encoded.strip_prefix("$hmac-")?.split_once('$')?.0;
    match name {
        "md4" => Some(Alg::Md4),
        "md5" => Some(Alg::Md5),
        "sha1" => Some(Alg::Sha1),
        // Unlike PBKDF2, HMAC's sha224/sha384 are SHA-2 in Kratos.
        "sha224" => Some(Alg::Sha224),
        "sha256" => Some(Alg::Sha256),
        "sha384" => Some(Alg::Sha384),
        "sha512" => Some(Alg::Sha512),
        _ => None,
    }
}

pub(crate) fn parse_ssha(encoded: &str) -> Result<DigestHash, PasswordError> {
    const FORMAT: HashFormat = HashFormat::Ssha;
    let (alg, body) = if let Some(b) = encoded.strip_prefix("{SSHA}") {
        (Alg::Sha1, b)
    } else if let Some(b) = encoded.strip_prefix("{SSHA256}") {
        (Alg::Sha256, b)
    } else if let Some(b) = encoded.strip_prefix("{SSHA512}") {
        (Alg::Sha512, b)
    } else {
        return Err(PasswordError::UnsupportedFormat);
    };
    let mut decoded = b64_padded(body, FORMAT, "the body is not padded base64")?;
    if decoded.len() <= alg.output_len() {
        return Err(PasswordError::malformed(
            FORMAT,
            "the body is too short to hold a digest and a salt",
        ));
    }
    let salt = decoded.split_off(alg.output_len());
    Ok(DigestHash {
        alg,
        input: Input::PasswordThenSalt { salt },
        expected: decoded,
    })
}

pub(crate) fn parse_salted_sha(encoded: &str) -> Result<DigestHash, PasswordError> {
    const FORMAT: HashFormat = HashFormat::SaltedSha;
    let f = split_fields(encoded, 5, FORMAT)?;
    let alg = match f[1] {
        "sha1" => Alg::Sha1,
        "sha256" => Alg::Sha256,
        "sha512" => Alg::Sha512,
        _ => return Err(PasswordError::UnsupportedFormat),
    };
    templated(alg, &f[2..], FORMAT)
}

pub(crate) fn parse_md5(encoded: &str) -> Result<DigestHash, PasswordError> {
    const FORMAT: HashFormat = HashFormat::Md5;
    let fields: Vec<&str> = encoded.split('$').collect();
    match fields[..] {
        ["", "md5", digest] => {
            let expected = b64_padded(digest, FORMAT, "the digest is not padded base64")?;
            check_len(&expected, Alg::Md5, FORMAT)?;
            Ok(DigestHash {
                alg: Alg::Md5,
                input: Input::Password,
                expected,
            })
        }
        ["", "md5", pf, salt, digest] => templated(Alg::Md5, &[pf, salt, digest], FORMAT),
        _ => Err(PasswordError::malformed(
            FORMAT,
            "wrong number of `$`-separated fields",
        )),
    }
}

pub(crate) fn parse_hmac(encoded: &str) -> Result<DigestHash, PasswordError> {
    const FORMAT: HashFormat = HashFormat::Hmac;
    let alg = hmac_alg(encoded).ok_or(PasswordError::UnsupportedFormat)?;
    let f = split_fields(encoded, 4, FORMAT)?;
    let expected = b64_padded(f[2], FORMAT, "the MAC is not padded base64")?;
    let key = b64_padded(f[3], FORMAT, "the key is not padded base64")?;
    if expected.len() != 2 * alg.output_len()
        || !expected
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err(PasswordError::malformed(
            FORMAT,
            "the MAC is not lowercase hex of the digest's length",
        ));
    }
    let key = non_empty(key, FORMAT, "the key is empty")?;
    Ok(DigestHash {
        alg,
        input: Input::Hmac { key },
        expected,
    })
}

/// Parses `pf=<template>`, `<salt>`, `<digest>`.
fn templated(alg: Alg, f: &[&str], format: HashFormat) -> Result<DigestHash, PasswordError> {
    let [pf, salt, digest] = f else {
        return Err(PasswordError::malformed(
            format,
            "wrong number of `$`-separated fields",
        ));
    };
    let template = pf.strip_prefix("pf=").ok_or(PasswordError::malformed(
        format,
        "the template field does not start with `pf=`",
    ))?;
    let template = b64_padded(template, format, "the template is not padded base64")?;
    let salt = b64_padded(salt, format, "the salt is not padded base64")?;
    let expected = b64_padded(digest, format, "the digest is not padded base64")?;
    // A template without the password would accept every password.
    if !contains(&template, PASSWORD_PLACEHOLDER) {
        return Err(PasswordError::malformed(
            format,
            "the template has no {PASSWORD} placeholder",
        ));
    }
    let salt = non_empty(salt, format, "the salt is empty")?;
    check_len(&expected, alg, format)?;
    Ok(DigestHash {
        alg,
        input: Input::Template { template, salt },
        expected,
    })
}

fn check_len(digest: &[u8], alg: Alg, format: HashFormat) -> Result<(), PasswordError> {
    if digest.len() == alg.output_len() {
        Ok(())
    } else {
        Err(PasswordError::malformed(
            format,
            "the digest has the wrong length for its algorithm",
        ))
    }
}

const SALT_PLACEHOLDER: &[u8] = b"{SALT}";
const PASSWORD_PLACEHOLDER: &[u8] = b"{PASSWORD}";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Replaces every `{SALT}` and `{PASSWORD}` in one left-to-right pass, never
/// rescanning substituted text (Go's `strings.NewReplacer`, which Kratos uses).
fn substitute(template: &[u8], salt: &[u8], password: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        template.len() + salt.len() + password.len(),
    ));
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(SALT_PLACEHOLDER) {
            out.extend_from_slice(salt);
            rest = after;
        } else if let Some(after) = rest.strip_prefix(PASSWORD_PLACEHOLDER) {
            out.extend_from_slice(password);
            rest = after;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fn lower_hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn substitution_is_a_single_pass() {
        let out = substitute(b"{SALT}:{PASSWORD}:{SALT}", b"{PASSWORD}", b"pw");
        assert_eq!(&out[..], b"{PASSWORD}:pw:{PASSWORD}");
    }
}
