//! Argon2id and Argon2i PHC strings:
//! `$argon2id$v=19$m=<KiB>,t=<t>,p=<p>$<salt>$<key>` (standard base64, no padding).

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use zeroize::Zeroizing;

use super::{HashFormat, b64_unpadded, bounded, ct_eq, parse_params, split_fields};
use crate::PasswordError;

/// Largest accepted memory cost: 1 GiB in KiB.
pub(crate) const MAX_MEMORY_KIB: u32 = 1_048_576;
/// Largest accepted number of passes.
pub(crate) const MAX_ITERATIONS: u32 = 10;
/// Largest accepted degree of parallelism.
pub(crate) const MAX_PARALLELISM: u32 = 16;
/// The Argon2 specification's smallest salt.
pub(crate) const MIN_SALT_LEN: usize = 8;
/// The Argon2 specification's smallest output.
const MIN_KEY_LEN: usize = 4;
/// No real deployment stores a longer key; refusing more bounds the work.
const MAX_KEY_LEN: usize = 1024;

pub(crate) struct Argon2Hash {
    pub(crate) format: HashFormat,
    pub(crate) memory_kib: u32,
    pub(crate) iterations: u32,
    pub(crate) parallelism: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

pub(crate) fn parse(encoded: &str, format: HashFormat) -> Result<Argon2Hash, PasswordError> {
    let f = split_fields(encoded, 6, format)?;
    match f[2].strip_prefix("v=") {
        Some("19") => {}
        Some(_) => {
            return Err(PasswordError::malformed(
                format,
                "only version 19 (v=19) is supported",
            ));
        }
        None => {
            return Err(PasswordError::malformed(
                format,
                "the version field `v=19` is missing",
            ));
        }
    }
    let [m, t, p] = parse_params(f[3], ["m", "t", "p"], format)?;
    let salt = b64_unpadded(f[4], format, "the salt is not unpadded base64")?;
    let key = b64_unpadded(f[5], format, "the key is not unpadded base64")?;

    bounded(m, 1, MAX_MEMORY_KIB, format, "m")?;
    bounded(t, 1, MAX_ITERATIONS, format, "t")?;
    bounded(p, 1, MAX_PARALLELISM, format, "p")?;
    if m < 8 * p {
        // Argon2 needs at least 8 KiB of memory per lane.
        return Err(PasswordError::out_of_bounds(format, "m"));
    }
    if salt.len() < MIN_SALT_LEN {
        return Err(PasswordError::malformed(
            format,
            "the salt is shorter than 8 bytes",
        ));
    }
    if key.len() < MIN_KEY_LEN {
        return Err(PasswordError::malformed(
            format,
            "the key is shorter than 4 bytes",
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(PasswordError::out_of_bounds(format, "key length"));
    }
    Ok(Argon2Hash {
        format,
        memory_kib: m,
        iterations: t,
        parallelism: p,
        salt,
        key,
    })
}

impl Argon2Hash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let algorithm = match self.format {
            HashFormat::Argon2i => Algorithm::Argon2i,
            _ => Algorithm::Argon2id,
        };
        let cost = Cost {
            algorithm,
            memory_kib: self.memory_kib,
            iterations: self.iterations,
            parallelism: self.parallelism,
        };
        let derived = derive(cost, password, &self.salt, self.key.len(), None)?;
        Ok(ct_eq(&derived, &self.key))
    }
}

/// The algorithm and cost parameters of one Argon2 run.
#[derive(Clone, Copy)]
pub(crate) struct Cost {
    pub(crate) algorithm: Algorithm,
    pub(crate) memory_kib: u32,
    pub(crate) iterations: u32,
    pub(crate) parallelism: u32,
}

/// Runs Argon2 (version 0x13) with the given parameters, in `memory` when
/// given (grown to the size the parameters need, never shrunk, and kept
/// for the next run), else in memory allocated for this run.
pub(crate) fn derive(
    cost: Cost,
    password: &[u8],
    salt: &[u8],
    key_len: usize,
    memory: Option<&mut Vec<argon2::Block>>,
) -> Result<Zeroizing<Vec<u8>>, PasswordError> {
    let params = Params::new(
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        Some(key_len),
    )
    .map_err(|e| PasswordError::internal("argon2 rejected validated parameters", e))?;
    let argon2 = Argon2::new(cost.algorithm, Version::V0x13, params);
    let mut out = Zeroizing::new(vec![0u8; key_len]);
    let result = match memory {
        Some(blocks) => {
            let needed = argon2.params().block_count();
            if blocks.len() < needed {
                blocks.resize(needed, argon2::Block::new());
            }
            argon2.hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..needed])
        }
        None => argon2.hash_password_into(password, salt, &mut out),
    };
    result.map_err(|e| PasswordError::internal("argon2 hashing failed", e))?;
    Ok(out)
}

/// Formats an Argon2id PHC string.
pub(crate) fn encode_argon2id(
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: &[u8],
    key: &[u8],
) -> String {
    format!(
        "$argon2id$v=19$m={memory_kib},t={iterations},p={parallelism}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(key),
    )
}
