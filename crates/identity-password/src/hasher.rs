//! Hashing new passwords with Argon2id (default) or bcrypt.

use serde::{Deserialize, Serialize};

use crate::formats::{self, HashFormat, Parsed, argon2 as argon2_format, bcrypt as bcrypt_format};
use crate::{Password, PasswordError};

/// Argon2id parameters. The defaults are the OWASP recommendation and the
/// production floor: 19 MiB, 2 passes, 1 lane, 16-byte salt, 32-byte key.
///
/// Deserializes from e.g. `{"memory_kib": 65536, "iterations": 3}`; missing
/// fields take the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Params {
    /// Memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Number of passes (`t`).
    pub iterations: u32,
    /// Degree of parallelism (`p`).
    pub parallelism: u32,
    /// Salt length in bytes.
    pub salt_length: usize,
    /// Derived key length in bytes.
    pub key_length: usize,
}

impl Argon2Params {
    /// The smallest production memory cost, 19 MiB (OWASP).
    pub const MIN_MEMORY_KIB: u32 = 19_456;
    /// The smallest production number of passes.
    pub const MIN_ITERATIONS: u32 = 2;
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: Self::MIN_MEMORY_KIB,
            iterations: Self::MIN_ITERATIONS,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    }
}

/// bcrypt parameters. The default cost is 12; production requires at least 10.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BcryptParams {
    /// The cost: 2^cost rounds.
    pub cost: u32,
}

impl BcryptParams {
    /// The smallest production cost.
    pub const MIN_COST: u32 = 10;
}

impl Default for BcryptParams {
    fn default() -> Self {
        Self { cost: 12 }
    }
}

/// Which algorithm hashes new passwords, with its parameters.
///
/// Serialized with an `algorithm` tag: `{"algorithm": "argon2id",
/// "memory_kib": 65536}` or `{"algorithm": "bcrypt", "cost": 12}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HasherConfig {
    /// Argon2id (version 19), the default.
    Argon2id(Argon2Params),
    /// bcrypt, emitted as `$2b$`.
    Bcrypt(BcryptParams),
}

impl Default for HasherConfig {
    fn default() -> Self {
        Self::Argon2id(Argon2Params::default())
    }
}

/// Hashes new passwords and tells whether a stored hash should be replaced.
///
/// Hashing is deliberately slow (tens of milliseconds with production
/// parameters) and blocks the calling thread: see the crate docs for running
/// it from async code.
///
/// ```
/// use identity_password::{PasswordHasher, verify};
///
/// let hasher = PasswordHasher::insecure_fast_for_tests();
/// let encoded = hasher.hash("hunter2")?;
/// assert!(encoded.starts_with("$argon2id$v=19$"));
/// assert!(verify("hunter2", &encoded)?);
/// assert!(!hasher.needs_rehash(&encoded));
/// # Ok::<(), identity_password::PasswordError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordHasher {
    config: HasherConfig,
}

impl Default for PasswordHasher {
    /// Argon2id with the production defaults.
    fn default() -> Self {
        Self {
            config: HasherConfig::default(),
        }
    }
}

impl PasswordHasher {
    /// A hasher for production: the parameters must be at least the
    /// production floor (Argon2id m ≥ 19456 KiB, t ≥ 2, p ≥ 1, salt and key
    /// ≥ 16 bytes; bcrypt cost ≥ 10) and within the import bounds (so that
    /// this hasher's output always passes [`crate::check_import`]).
    pub fn new(config: HasherConfig) -> Result<Self, PasswordError> {
        validate(&config, Floor::Production)?;
        Ok(Self { config })
    }

    /// A deliberately weak hasher (Argon2id, 64 KiB, 1 pass) that makes tests
    /// fast. **Never use it for real passwords.**
    pub fn insecure_fast_for_tests() -> Self {
        Self {
            config: HasherConfig::Argon2id(Argon2Params {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
                salt_length: 16,
                key_length: 32,
            }),
        }
    }

    /// Like [`PasswordHasher::new`] but without the production floor, only
    /// the algorithms' own minimums (e.g. bcrypt cost 4). For tests only.
    pub fn insecure_with_config_for_tests(config: HasherConfig) -> Result<Self, PasswordError> {
        validate(&config, Floor::Algorithm)?;
        Ok(Self { config })
    }

    /// The configuration in use.
    pub fn config(&self) -> &HasherConfig {
        &self.config
    }

    /// Hashes a new password: a PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$key`)
    /// or a `$2b$` bcrypt string.
    ///
    /// # Errors
    ///
    /// [`PasswordError::Empty`] for an empty password; with bcrypt,
    /// [`PasswordError::TooLong`] for more than 72 bytes (never truncated);
    /// [`PasswordError::Internal`] if the OS random source fails.
    pub fn hash(&self, plaintext: &str) -> Result<String, PasswordError> {
        self.hash_into(plaintext, None)
    }

    /// [`PasswordHasher::hash`] with reusable working memory: Argon2id's
    /// memory cost (19 MiB by default) is taken from `memory`, which keeps
    /// it for the next hash, instead of from the allocator every time.
    ///
    /// A server that hashes on a few threads at a time keeps one
    /// [`HashMemory`] per thread and so holds exactly that much memory; a
    /// fresh 19 MiB allocation per hash is kept by glibc's per-thread
    /// arenas after it is freed, and peak memory grows far beyond the
    /// hashes running at once.
    ///
    /// ```
    /// use identity_password::{HashMemory, PasswordHasher, verify};
    ///
    /// let hasher = PasswordHasher::insecure_fast_for_tests();
    /// let mut memory = HashMemory::new();
    /// let first = hasher.hash_with_memory("hunter2", &mut memory)?;
    /// let second = hasher.hash_with_memory("hunter3", &mut memory)?;
    /// assert!(verify("hunter2", &first)? && verify("hunter3", &second)?);
    /// assert_eq!(memory.bytes(), 64 * 1024);
    /// # Ok::<(), identity_password::PasswordError>(())
    /// ```
    pub fn hash_with_memory(
        &self,
        plaintext: &str,
        memory: &mut HashMemory,
    ) -> Result<String, PasswordError> {
        self.hash_into(plaintext, Some(memory))
    }

    fn hash_into(
        &self,
        plaintext: &str,
        memory: Option<&mut HashMemory>,
    ) -> Result<String, PasswordError> {
        if plaintext.is_empty() {
            return Err(PasswordError::Empty);
        }
        match &self.config {
            HasherConfig::Argon2id(p) => {
                let mut salt = vec![0u8; p.salt_length];
                getrandom::fill(&mut salt)
                    .map_err(|e| PasswordError::internal("the OS random source failed", e))?;
                let cost = argon2_format::Cost {
                    algorithm: argon2::Algorithm::Argon2id,
                    memory_kib: p.memory_kib,
                    iterations: p.iterations,
                    parallelism: p.parallelism,
                };
                let key = argon2_format::derive(
                    cost,
                    plaintext.as_bytes(),
                    &salt,
                    p.key_length,
                    memory.map(|m| &mut m.blocks),
                )?;
                Ok(argon2_format::encode_argon2id(
                    p.memory_kib,
                    p.iterations,
                    p.parallelism,
                    &salt,
                    &key,
                ))
            }
            HasherConfig::Bcrypt(p) => {
                if plaintext.len() > bcrypt_format::MAX_PASSWORD_LEN {
                    return Err(PasswordError::TooLong {
                        max: bcrypt_format::MAX_PASSWORD_LEN,
                    });
                }
                let mut salt = [0u8; 16];
                getrandom::fill(&mut salt)
                    .map_err(|e| PasswordError::internal("the OS random source failed", e))?;
                let parts = bcrypt::hash_with_salt(plaintext.as_bytes(), p.cost, salt)
                    .map_err(|e| PasswordError::internal("bcrypt hashing failed", e))?;
                Ok(parts.format_for_version(bcrypt::Version::TwoB))
            }
        }
    }

    /// What [`PasswordHasher::hash`] would answer for `plaintext`, without
    /// the cost of hashing it: the same errors for the same input, and
    /// otherwise a string of the configured format, parameters and length
    /// whose salt and key are all zero bytes (bcrypt: all `.`). For dry
    /// runs, which must refuse what a real run refuses and report what it
    /// would store, and never spend a real hash's time and memory.
    ///
    /// The string is not a hash of the password: nothing verifies against
    /// it. Never store it.
    ///
    /// ```
    /// use identity_password::{PasswordError, PasswordHasher};
    ///
    /// let hasher = PasswordHasher::insecure_fast_for_tests();
    /// let real = hasher.hash("hunter2")?;
    /// let dry = hasher.dry_run_hash("hunter2")?;
    /// assert_eq!(dry.len(), real.len());
    /// assert!(dry.starts_with("$argon2id$v=19$"));
    /// assert!(!identity_password::verify("hunter2", &dry)?);
    /// assert!(matches!(hasher.dry_run_hash(""), Err(PasswordError::Empty)));
    /// # Ok::<(), identity_password::PasswordError>(())
    /// ```
    pub fn dry_run_hash(&self, plaintext: &str) -> Result<String, PasswordError> {
        if plaintext.is_empty() {
            return Err(PasswordError::Empty);
        }
        match &self.config {
            HasherConfig::Argon2id(p) => Ok(argon2_format::encode_argon2id(
                p.memory_kib,
                p.iterations,
                p.parallelism,
                &vec![0u8; p.salt_length],
                &vec![0u8; p.key_length],
            )),
            HasherConfig::Bcrypt(p) => {
                if plaintext.len() > bcrypt_format::MAX_PASSWORD_LEN {
                    return Err(PasswordError::TooLong {
                        max: bcrypt_format::MAX_PASSWORD_LEN,
                    });
                }
                // `$2b$`, the two-digit cost, `$`, 22 salt and 31 hash
                // characters of bcrypt's base64: 60 in all, as a real one.
                Ok(format!("$2b${:02}${}", p.cost, ".".repeat(53)))
            }
        }
    }

    /// [`PasswordHasher::hash`] for a [`Password`].
    pub fn hash_password(&self, password: &Password) -> Result<String, PasswordError> {
        self.hash(password.expose())
    }

    /// [`PasswordHasher::hash_with_memory`] for a [`Password`].
    pub fn hash_password_with_memory(
        &self,
        password: &Password,
        memory: &mut HashMemory,
    ) -> Result<String, PasswordError> {
        self.hash_with_memory(password.expose(), memory)
    }

    /// Whether a stored hash should be replaced by a fresh one at the next
    /// successful login: true when it is of another algorithm than the
    /// configured one, has any parameter weaker than the configured ones
    /// (memory, passes, lanes, salt or key length; bcrypt cost), or cannot
    /// be parsed within bounds at all.
    pub fn needs_rehash(&self, encoded: &str) -> bool {
        let Ok(parsed) = formats::parse(encoded) else {
            return true;
        };
        match (&self.config, parsed) {
            (HasherConfig::Argon2id(want), Parsed::Argon2(have)) => {
                have.format != HashFormat::Argon2id
                    || have.memory_kib < want.memory_kib
                    || have.iterations < want.iterations
                    || have.parallelism < want.parallelism
                    || have.salt.len() < want.salt_length
                    || have.key.len() < want.key_length
            }
            (HasherConfig::Bcrypt(want), Parsed::Bcrypt(have)) => have.cost < want.cost,
            _ => true,
        }
    }
}

/// Working memory for [`PasswordHasher::hash_with_memory`], kept from one
/// hash to the next. It starts empty and grows to the largest memory cost
/// it was used with. Its `Debug` prints only its size.
#[derive(Default)]
pub struct HashMemory {
    blocks: Vec<argon2::Block>,
}

impl HashMemory {
    /// Empty working memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes it holds now.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * argon2::Block::SIZE
    }
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashMemory")
            .field("bytes", &self.bytes())
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Floor {
    Production,
    Algorithm,
}

fn validate(config: &HasherConfig, floor: Floor) -> Result<(), PasswordError> {
    let production = floor == Floor::Production;
    let invalid = |reason| Err(PasswordError::InvalidConfig { reason });
    match config {
        HasherConfig::Argon2id(p) => {
            let (min_m, min_t, min_len) = if production {
                (
                    Argon2Params::MIN_MEMORY_KIB,
                    Argon2Params::MIN_ITERATIONS,
                    16,
                )
            } else {
                (8, 1, argon2_format::MIN_SALT_LEN)
            };
            if p.memory_kib < min_m || p.memory_kib > argon2_format::MAX_MEMORY_KIB {
                return invalid("argon2 memory_kib is outside the allowed range");
            }
            if p.iterations < min_t || p.iterations > argon2_format::MAX_ITERATIONS {
                return invalid("argon2 iterations is outside the allowed range");
            }
            if p.parallelism < 1 || p.parallelism > argon2_format::MAX_PARALLELISM {
                return invalid("argon2 parallelism is outside 1..=16");
            }
            if p.memory_kib < 8 * p.parallelism {
                return invalid("argon2 memory_kib is below 8 KiB per lane");
            }
            if p.salt_length < min_len || p.salt_length > 64 {
                return invalid("argon2 salt_length is outside the allowed range");
            }
            if p.key_length < min_len || p.key_length > 64 {
                return invalid("argon2 key_length is outside the allowed range");
            }
        }
        HasherConfig::Bcrypt(p) => {
            let min = if production {
                BcryptParams::MIN_COST
            } else {
                bcrypt_format::MIN_COST
            };
            if p.cost < min || p.cost > bcrypt_format::MAX_COST {
                return invalid("bcrypt cost is outside the allowed range");
            }
        }
    }
    Ok(())
}
