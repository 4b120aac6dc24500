//! crypt(3) hashes with Kratos' prefixes: `$md5-crypt$` for `$1$`,
//! `$sha256-crypt$` for `$5$` and `$sha512-crypt$` for `$6$`.
//!
//! SHA-crypt is verified by the RustCrypto `sha-crypt` crate. No maintained
//! RustCrypto crate implements MD5-crypt (`pwhash` is dormant on a 2020
//! dependency tree, `md5crypt` is a one-release crate over a non-RustCrypto
//! MD5), so MD5-crypt's well-known composition of MD5 rounds (Poul-Henning
//! Kamp's FreeBSD algorithm) is written here over the `md-5` crate and
//! tested against passlib's independent implementation.

use md5::{Digest as _, Md5};
use sha_crypt::{PasswordVerifier as _, ShaCrypt};

use super::{HashFormat, ct_eq};
use crate::PasswordError;

/// The rounds of SHA-crypt when the hash names none.
const SHA_DEFAULT_ROUNDS: u32 = 5_000;
/// SHA-crypt's own minimum.
const SHA_MIN_ROUNDS: u32 = 1_000;
/// SPEC §7 names no bound for SHA-crypt; glibc allows 999,999,999 rounds,
/// minutes of CPU per login, so this crate applies PBKDF2's bound.
pub(crate) const SHA_MAX_ROUNDS: u32 = 10_000_000;
/// crypt(3) uses at most 16 salt characters for SHA-crypt and 8 for MD5-crypt.
const SHA_MAX_SALT: usize = 16;
const MD5_MAX_SALT: usize = 8;

/// The crypt(3) base64 alphabet ("hash64").
const HASH64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub(crate) enum CryptHash {
    Md5 {
        salt: String,
        checksum: String,
    },
    /// The hash rewritten with its crypt(3) id (`$5$` or `$6$`).
    Sha {
        standard: String,
    },
}

pub(crate) fn parse(encoded: &str, format: HashFormat) -> Result<CryptHash, PasswordError> {
    // The last checksum character carries only the digest's leftover bits
    // (2 for MD5 and SHA-512, 4 for SHA-256), so its value is bounded.
    let (prefix, id, checksum_len, last_char_limit) = match format {
        HashFormat::Md5Crypt => ("$md5-crypt$", "$1$", 22, 4),
        HashFormat::Sha256Crypt => ("$sha256-crypt$", "$5$", 43, 16),
        _ => ("$sha512-crypt$", "$6$", 86, 4),
    };
    let rest = encoded
        .strip_prefix(prefix)
        .ok_or(PasswordError::UnsupportedFormat)?;
    let fields: Vec<&str> = rest.split('$').collect();
    let (rounds, salt, checksum) = match fields[..] {
        // crypt(3) reads a field starting `rounds=` as the rounds, never as
        // a salt (found by the password fuzzer: such a "salt" passed here
        // and the `sha-crypt` crate then refused the hash at login).
        [salt, _] if salt.starts_with("rounds=") => {
            return Err(PasswordError::malformed(
                format,
                "the rounds field has no salt after it",
            ));
        }
        [salt, checksum] => (None, salt, checksum),
        [rounds, salt, checksum] if format != HashFormat::Md5Crypt => {
            let rounds = rounds
                .strip_prefix("rounds=")
                .ok_or(PasswordError::malformed(
                    format,
                    "the field before the salt is not `rounds=<n>`",
                ))?;
            (
                Some(super::parse_u32(
                    rounds,
                    format,
                    "rounds is not a decimal number",
                )?),
                salt,
                checksum,
            )
        }
        _ => {
            return Err(PasswordError::malformed(
                format,
                "wrong number of `$`-separated fields",
            ));
        }
    };
    if let Some(rounds) = rounds {
        super::bounded(rounds, SHA_MIN_ROUNDS, SHA_MAX_ROUNDS, format, "rounds")?;
    }
    let max_salt = if format == HashFormat::Md5Crypt {
        MD5_MAX_SALT
    } else {
        SHA_MAX_SALT
    };
    if salt.is_empty() {
        return Err(PasswordError::malformed(format, "the salt is empty"));
    }
    // The characters the modular crypt format allows in a field (and the
    // `sha-crypt` crate's parser accepts), so check_import agrees with verify.
    let salt_char = |b: u8| b.is_ascii_alphanumeric() || b"./+=,-".contains(&b);
    if salt.len() > max_salt || !salt.bytes().all(salt_char) {
        return Err(PasswordError::malformed(
            format,
            "the salt is too long or has characters crypt(3) never produces",
        ));
    }
    if checksum.len() != checksum_len || !checksum.bytes().all(|b| HASH64.contains(&b)) {
        return Err(PasswordError::malformed(
            format,
            "the checksum is not crypt(3) base64 of the right length",
        ));
    }
    let last = checksum
        .bytes()
        .last()
        .and_then(|b| HASH64.iter().position(|&c| c == b));
    if last.is_none_or(|value| value >= last_char_limit) {
        return Err(PasswordError::malformed(
            format,
            "the checksum's last character has bits beyond the digest",
        ));
    }
    if format == HashFormat::Md5Crypt {
        return Ok(CryptHash::Md5 {
            salt: salt.to_owned(),
            checksum: checksum.to_owned(),
        });
    }
    let standard = match rounds {
        Some(r) => format!("{id}rounds={r}${salt}${checksum}"),
        None => format!("{id}{salt}${checksum}"),
    };
    debug_assert!(rounds.unwrap_or(SHA_DEFAULT_ROUNDS) >= SHA_MIN_ROUNDS);
    Ok(CryptHash::Sha { standard })
}

impl CryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        match self {
            Self::Md5 { salt, checksum } => {
                let computed = md5_crypt_checksum(password, salt.as_bytes());
                Ok(ct_eq(computed.as_bytes(), checksum.as_bytes()))
            }
            Self::Sha { standard } => {
                // The crate compares in constant time and says "invalid
                // password" for a mismatch; anything else is a bad encoding.
                match ShaCrypt::default().verify_password(password, standard.as_str()) {
                    Ok(()) => Ok(true),
                    Err(sha_crypt::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(_) => Err(PasswordError::malformed(
                        if standard.starts_with("$5$") {
                            HashFormat::Sha256Crypt
                        } else {
                            HashFormat::Sha512Crypt
                        },
                        "the sha-crypt encoding was rejected",
                    )),
                }
            }
        }
    }
}

/// MD5-crypt's 22-character checksum of `password` under `salt` (≤ 8 bytes).
fn md5_crypt_checksum(password: &[u8], salt: &[u8]) -> String {
    const MAGIC: &[u8] = b"$1$";

    // The "alternate" digest: MD5(password ‖ salt ‖ password).
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();

    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(MAGIC)
        .chain_update(salt);
    // As many bytes of the alternate digest as the password is long.
    let mut remaining = password.len();
    while remaining > 0 {
        let n = remaining.min(16);
        ctx.update(&alternate[..n]);
        remaining -= n;
    }
    // For each bit of the password length, low bit first: a NUL byte for a
    // one bit, the password's first byte for a zero bit.
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut digest = ctx.finalize();

    // 1000 rounds that alternate password, salt and the running digest.
    for i in 0..1000 {
        let mut round = Md5::new();
        if i % 2 == 1 {
            round.update(password);
        } else {
            round.update(digest.as_slice());
        }
        if i % 3 != 0 {
            round.update(salt);
        }
        if i % 7 != 0 {
            round.update(password);
        }
        if i % 2 == 1 {
            round.update(digest.as_slice());
        } else {
            round.update(password);
        }
        digest = round.finalize();
    }

    // crypt(3) encodes the digest in a fixed byte order, 6 bits at a time,
    // least significant first.
    let d = &digest[..];
    let mut out = String::with_capacity(22);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        let v = (u32::from(d[a]) << 16) | (u32::from(d[b]) << 8) | u32::from(d[c]);
        push_hash64(&mut out, v, 4);
    }
    push_hash64(&mut out, u32::from(d[11]), 2);
    out
}

fn push_hash64(out: &mut String, mut v: u32, chars: usize) {
    for _ in 0..chars {
        out.push(char::from(HASH64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

#[cfg(test)]
mod tests {
    use super::md5_crypt_checksum;

    #[test]
    fn md5_crypt_matches_the_freebsd_reference_vector() {
        // The example in pwhash's and passlib's documentation.
        assert_eq!(
            md5_crypt_checksum(b"password", b"5pZSV9va"),
            "azfrPr6af3Fc7dLblQXVa0"
        );
    }
}
