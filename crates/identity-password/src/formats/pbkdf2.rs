//! PBKDF2-HMAC: `$pbkdf2-<digest>$i=<iterations>,l=<length>$<salt>$<key>`
//! (standard base64, no padding).
//!
//! As in Kratos, `sha224` and `sha384` name SHA3-224 and SHA3-384, and the
//! key length that counts is the decoded key's, not `l`.

use hmac::SimpleHmac;
use pbkdf2::pbkdf2_hmac;
use zeroize::Zeroizing;

use super::{HashFormat, b64_unpadded, bounded, ct_eq, non_empty, parse_params, split_fields};
use crate::PasswordError;

const FORMAT: HashFormat = HashFormat::Pbkdf2;

/// Largest accepted iteration count.
pub(crate) const MAX_ITERATIONS: u32 = 10_000_000;
/// PBKDF2's work grows with the key length; no real hash stores more.
const MAX_KEY_LEN: usize = 512;
/// A shorter key would let random passwords match too often: PBKDF2 output
/// is prefix-stable, so a truncated key still verifies.
const MIN_KEY_LEN: usize = 16;

#[derive(Clone, Copy)]
enum Prf {
    Sha1,
    Sha256,
    Sha512,
    Sha3_224,
    Sha3_384,
}

impl Prf {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            // Kratos maps these two names onto SHA-3.
            "sha224" => Some(Self::Sha3_224),
            "sha384" => Some(Self::Sha3_384),
            _ => None,
        }
    }
}

pub(crate) struct Pbkdf2Hash {
    prf: Prf,
    iterations: u32,
    salt: Vec<u8>,
    key: Vec<u8>,
}

pub(crate) fn has_prefix(encoded: &str) -> bool {
    encoded
        .strip_prefix("$pbkdf2-")
        .and_then(|rest| rest.split_once('$'))
        .is_some_and(|(name, _)| Prf::from_name(name).is_some())
}

pub(crate) fn parse(encoded: &str) -> Result<Pbkdf2Hash, PasswordError> {
    let f = split_fields(encoded, 5, FORMAT)?;
    let prf = f[1]
        .strip_prefix("pbkdf2-")
        .and_then(Prf::from_name)
        .ok_or(PasswordError::UnsupportedFormat)?;
    // `l` must be a number, but the decoded key decides the length.
    let [iterations, _declared_len] = parse_params(f[2], ["i", "l"], FORMAT)?;
    let salt = b64_unpadded(f[3], FORMAT, "the salt is not unpadded base64")?;
    let key = b64_unpadded(f[4], FORMAT, "the key is not unpadded base64")?;
    bounded(iterations, 1, MAX_ITERATIONS, FORMAT, "i")?;
    let salt = non_empty(salt, FORMAT, "the salt is empty")?;
    let key = non_empty(key, FORMAT, "the key is empty")?;
    if key.len() < MIN_KEY_LEN {
        return Err(PasswordError::malformed(
            FORMAT,
            "the key is shorter than 16 bytes",
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(PasswordError::out_of_bounds(FORMAT, "key length"));
    }
    Ok(Pbkdf2Hash {
        prf,
        iterations,
        salt,
        key,
    })
}

impl Pbkdf2Hash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let mut out = Zeroizing::new(vec![0u8; self.key.len()]);
        let (salt, rounds) = (&self.salt[..], self.iterations);
        match self.prf {
            Prf::Sha1 => pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, &mut out),
            Prf::Sha256 => pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, &mut out),
            Prf::Sha512 => pbkdf2_hmac::<sha2::Sha512>(password, salt, rounds, &mut out),
            // SHA-3 has no eager block API, so HMAC goes through `SimpleHmac`.
            Prf::Sha3_224 => {
                pbkdf2::pbkdf2::<SimpleHmac<sha3::Sha3_224>>(password, salt, rounds, &mut out)
                    .map_err(|e| PasswordError::internal("HMAC rejected the password as key", e))?;
            }
            Prf::Sha3_384 => {
                pbkdf2::pbkdf2::<SimpleHmac<sha3::Sha3_384>>(password, salt, rounds, &mut out)
                    .map_err(|e| PasswordError::internal("HMAC rejected the password as key", e))?;
            }
        }
        Ok(ct_eq(&out, &self.key))
    }
}
