//! Building a manager: its settings and injected parts.

use std::sync::Arc;
use std::time::Duration;

use identity_password::PasswordHasher;

use super::credentials::HashPool;
use super::{IdentityManager, Inner};
use crate::blocking::{BlockingExecutor, default_executor};
use crate::limits::Limits;
use crate::schema::SchemaRegistry;
use crate::store::DynIdentityStore;
use crate::time::{Clock, IdGenerator, RandomIds, SystemClock};

/// Settings of an [`IdentityManager`]: start from `default()` and change
/// what you need with the `with_*` methods (new settings can be added
/// without breaking you).
///
/// ```
/// use identity_core::{Limits, ManagerConfig};
/// let config = ManagerConfig::default()
///     .with_base_url("https://id.example.com")
///     .with_limits(Limits::default().with_max_depth(16));
/// assert_eq!(config.limits.max_depth, 16);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ManagerConfig {
    /// Prefix of every `schema_url` (e.g. `http://127.0.0.1:4434`).
    pub base_url: String,
    /// Size and depth limits for traits and metadata.
    pub limits: Limits,
    /// How long the change feed keeps changes
    /// ([`IdentityManager::prune_changes`] applies it).
    pub retention: ChangeRetention,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            base_url: "http://127.0.0.1:4434".to_owned(),
            limits: Limits::default(),
            retention: ChangeRetention::default(),
        }
    }
}

/// How long the change feed keeps changes: those older than `max_age`, and
/// those beyond the newest `max_count` of a tenant, are pruned. Default: 30
/// days, no count bound.
///
/// ```
/// use std::time::Duration;
/// use identity_core::ChangeRetention;
///
/// let keep = ChangeRetention::default().with_max_count(Some(100_000));
/// assert_eq!(keep.max_age, Some(Duration::from_secs(30 * 24 * 3600)));
/// assert_eq!(keep.max_count, Some(100_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeRetention {
    /// Changes older than this are pruned (`None`: kept whatever their age).
    pub max_age: Option<Duration>,
    /// At most this many of a tenant's newest changes are kept (`None`: no
    /// bound).
    pub max_count: Option<u64>,
}

impl Default for ChangeRetention {
    fn default() -> Self {
        ChangeRetention {
            max_age: Some(Duration::from_secs(30 * 24 * 3600)),
            max_count: None,
        }
    }
}

impl ChangeRetention {
    /// The age bound.
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// The count bound.
    pub fn with_max_count(mut self, max_count: Option<u64>) -> Self {
        self.max_count = max_count;
        self
    }
}

impl ManagerConfig {
    /// The prefix of every `schema_url`.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The size and depth limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long the change feed keeps changes.
    pub fn with_retention(mut self, retention: ChangeRetention) -> Self {
        self.retention = retention;
        self
    }
}

/// Builds an [`IdentityManager`].
#[derive(Debug)]
pub struct IdentityManagerBuilder {
    inner: Inner,
}

impl IdentityManagerBuilder {
    /// The password hasher (default: production Argon2id).
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.inner.hasher = hasher;
        self
    }

    /// How many passwords may be hashed at the same time (default: the
    /// number of cores). Each of these hashes keeps its working memory (19
    /// MiB with the default Argon2id) for the next one, so this bounds the
    /// memory that concurrent creates and updates with passwords can take;
    /// requests beyond it wait for a permit. Zero is taken as one.
    pub fn hash_concurrency(mut self, permits: usize) -> Self {
        self.inner.hashing = self.inner.hashing.with_permits(permits);
        self
    }

    /// Where password hashes run (default, with the `tokio` feature:
    /// `TokioBlockingExecutor`, Tokio's blocking pool). Without the
    /// `tokio` feature there is no default: a
    /// manager built without an executor refuses to hash (the operation
    /// fails with an internal error before writing anything) rather than
    /// stall the caller's task; see [`BlockingExecutor`].
    pub fn blocking_executor(mut self, executor: Arc<dyn BlockingExecutor>) -> Self {
        self.inner.hashing = self.inner.hashing.with_executor(executor);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.inner.clock = clock;
        self
    }

    /// The id generator (default: random v4 UUIDs).
    pub fn ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.inner.ids = ids;
        self
    }

    /// Base URL and limits.
    pub fn config(mut self, config: ManagerConfig) -> Self {
        self.inner.config = config;
        self
    }

    /// The manager.
    pub fn build(mut self) -> IdentityManager {
        // With the `metrics` feature, the store's failures are counted.
        self.inner.store = crate::observe::metered(self.inner.store);
        IdentityManager {
            inner: Arc::new(self.inner),
        }
    }
}

/// One concurrent hash per core: hashing is CPU-bound, so more would only
/// add memory, not throughput.
fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl IdentityManager {
    /// Starts a builder with production defaults: Argon2id, the system
    /// clock, random ids, default limits.
    pub fn builder(
        store: DynIdentityStore,
        schemas: Arc<SchemaRegistry>,
    ) -> IdentityManagerBuilder {
        IdentityManagerBuilder {
            inner: Inner {
                store,
                schemas,
                hasher: PasswordHasher::default(),
                hashing: HashPool::new(default_hash_concurrency(), default_executor()),
                clock: Arc::new(SystemClock),
                ids: Arc::new(RandomIds),
                config: ManagerConfig::default(),
            },
        }
    }
}
