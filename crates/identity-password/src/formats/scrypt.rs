//! scrypt and Firebase's scrypt variant.
//!
//! - `$scrypt$ln=<N>,r=<r>,p=<p>$<salt>$<key>`, padded standard base64, where
//!   `ln` holds N itself (a power of two), not its logarithm.
//! - `$firescrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>$<separator>$<signer key>`:
//!   key = scrypt(password, salt ‖ separator, N, r, p, 32 bytes), and the
//!   hash is AES-256-CTR(key, zero IV) applied to the signer key.

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit as _, StreamCipher as _};
use scrypt::Params;
use zeroize::Zeroizing;

use super::{HashFormat, b64_padded, bounded, ct_eq, non_empty, parse_params, split_fields};
use crate::PasswordError;

/// Largest accepted N.
pub(crate) const MAX_N: u32 = 131_072;
/// Largest accepted block size r.
pub(crate) const MAX_R: u32 = 8;
/// Largest accepted parallelism p.
pub(crate) const MAX_P: u32 = 10;
/// No real hash stores a longer key.
const MAX_KEY_LEN: usize = 1024;
/// A shorter key (or Firebase hash) would let random passwords match too
/// often; scrypt output is prefix-stable, so a truncated key still verifies.
const MIN_KEY_LEN: usize = 16;

pub(crate) struct ScryptHash {
    log_n: u8,
    r: u32,
    p: u32,
    salt: Vec<u8>,
    key: Vec<u8>,
}

pub(crate) fn parse(encoded: &str) -> Result<ScryptHash, PasswordError> {
    const FORMAT: HashFormat = HashFormat::Scrypt;
    let f = split_fields(encoded, 5, FORMAT)?;
    let [n, r, p] = parse_params(f[2], ["ln", "r", "p"], FORMAT)?;
    let salt = b64_padded(f[3], FORMAT, "the salt is not padded base64")?;
    let key = b64_padded(f[4], FORMAT, "the key is not padded base64")?;
    // N = 1 would be no work at all; N must be a power of two.
    bounded(n, 2, MAX_N, FORMAT, "ln")?;
    if !n.is_power_of_two() {
        return Err(PasswordError::malformed(
            FORMAT,
            "N (the `ln` field) is not a power of two",
        ));
    }
    let log_n =
        u8::try_from(n.trailing_zeros()).map_err(|_| PasswordError::out_of_bounds(FORMAT, "ln"))?;
    bounded(r, 1, MAX_R, FORMAT, "r")?;
    bounded(p, 1, MAX_P, FORMAT, "p")?;
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
    Ok(ScryptHash {
        log_n,
        r,
        p,
        salt,
        key,
    })
}

impl ScryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let out = derive(
            password,
            &self.salt,
            self.log_n,
            self.r,
            self.p,
            self.key.len(),
        )?;
        Ok(ct_eq(&out, &self.key))
    }
}

pub(crate) struct FirebaseScryptHash {
    log_n: u8,
    r: u32,
    p: u32,
    /// salt ‖ separator, as fed to scrypt.
    salted: Vec<u8>,
    hash: Vec<u8>,
    signer_key: Vec<u8>,
}

pub(crate) fn parse_firebase(encoded: &str) -> Result<FirebaseScryptHash, PasswordError> {
    const FORMAT: HashFormat = HashFormat::FirebaseScrypt;
    let f = split_fields(encoded, 7, FORMAT)?;
    let [ln, r, p] = parse_params(f[2], ["ln", "r", "p"], FORMAT)?;
    let salt = b64_padded(f[3], FORMAT, "the salt is not padded base64")?;
    let hash = b64_padded(f[4], FORMAT, "the hash is not padded base64")?;
    let separator = b64_padded(f[5], FORMAT, "the salt separator is not padded base64")?;
    let signer_key = b64_padded(f[6], FORMAT, "the signer key is not padded base64")?;
    // Here `ln` is log2 N: 1..=17 keeps N within 2..=131072.
    let log_n = bounded(ln, 1, MAX_N.trailing_zeros(), FORMAT, "ln")?;
    let log_n = u8::try_from(log_n).map_err(|_| PasswordError::out_of_bounds(FORMAT, "ln"))?;
    bounded(r, 1, MAX_R, FORMAT, "r")?;
    bounded(p, 1, MAX_P, FORMAT, "p")?;
    let mut salted = non_empty(salt, FORMAT, "the salt is empty")?;
    let hash = non_empty(hash, FORMAT, "the hash is empty")?;
    let signer_key = non_empty(signer_key, FORMAT, "the signer key is empty")?;
    if hash.len() != signer_key.len() {
        // CTR output is as long as its input, so these can never match.
        return Err(PasswordError::malformed(
            FORMAT,
            "the hash and the signer key differ in length",
        ));
    }
    if hash.len() < MIN_KEY_LEN {
        return Err(PasswordError::malformed(
            FORMAT,
            "the hash is shorter than 16 bytes",
        ));
    }
    if hash.len() > MAX_KEY_LEN {
        return Err(PasswordError::out_of_bounds(FORMAT, "signer key length"));
    }
    salted.extend_from_slice(&separator);
    Ok(FirebaseScryptHash {
        log_n,
        r,
        p,
        salted,
        hash,
        signer_key,
    })
}

impl FirebaseScryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let key = derive(password, &self.salted, self.log_n, self.r, self.p, 32)?;
        let mut cipher = Ctr128BE::<Aes256>::new_from_slices(&key, &[0u8; 16])
            .map_err(|e| PasswordError::internal("AES-256-CTR rejected a 32-byte key", e))?;
        let mut out = self.signer_key.clone();
        cipher.apply_keystream(&mut out);
        Ok(ct_eq(&out, &self.hash))
    }
}

fn derive(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, PasswordError> {
    let params = Params::new(log_n, r, p)
        .map_err(|e| PasswordError::internal("scrypt rejected validated parameters", e))?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    scrypt::scrypt(password, salt, &params, &mut out)
        .map_err(|e| PasswordError::internal("scrypt rejected the output length", e))?;
    Ok(out)
}
