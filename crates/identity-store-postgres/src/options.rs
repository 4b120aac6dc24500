//! How a store connects: pool size, timeouts, retries, schema.

use std::time::Duration;

/// Tuning for [`PostgresStore::connect`](crate::PostgresStore::connect).
///
/// Build it from `PostgresOptions::default()` and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The most connections the pool opens (default 16).
    pub max_connections: usize,
    /// How long a call waits for a free connection, and how long opening a
    /// connection may take, before it fails as unavailable (default 5 s).
    pub connect_timeout: Duration,
    /// The longest a read, or a write's statements up to its `COMMIT`, may
    /// take before the call gives up on the connection (which is closed,
    /// not pooled) and re-runs on a fresh one, or fails as unavailable
    /// (default 30 s). A client-side bound: it holds when the server or
    /// the network stops answering, which PostgreSQL's own
    /// `statement_timeout` cannot.
    pub statement_timeout: Duration,
    /// The longest a `COMMIT` (or a one-statement write) may take (default
    /// 10 s). A primary whose synchronous standby is gone waits for it
    /// forever; past this bound the connection is closed and the write is
    /// settled (see [`PostgresStore`](crate::PostgresStore)): proven done,
    /// proven not done and re-run, or
    /// [`Error::OutcomeUnknown`](identity_core::Error::OutcomeUnknown).
    pub commit_timeout: Duration,
    /// How long a call keeps reconnecting after its connection failed or
    /// timed out, or no connection could be opened (a failover: the old
    /// primary gone, the standby not yet promoted), before it fails
    /// (default 10 s). A write that failed before sending its `COMMIT` is
    /// re-run within this window, and one whose commit's answer was lost
    /// is settled within it.
    pub reconnect_window: Duration,
    /// How often a write whose transaction hit a serialization failure or
    /// a deadlock is re-run before it fails as unavailable (default 8).
    pub max_retries: u32,
    /// The first backoff between retries; it doubles on each retry, with
    /// jitter, up to 100 times this (default 2 ms).
    pub retry_base_delay: Duration,
    /// The schema that holds the tables (default: none, i.e. the
    /// connection's `search_path`, normally `public`). When set, every
    /// connection uses it as its `search_path`; it is created if missing.
    pub schema: Option<String>,
    /// The `application_name` every connection reports
    /// (default `identity-store-postgres`).
    pub application_name: String,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            commit_timeout: Duration::from_secs(10),
            reconnect_window: Duration::from_secs(10),
            max_retries: 8,
            retry_base_delay: Duration::from_millis(2),
            schema: None,
            application_name: "identity-store-postgres".to_owned(),
        }
    }
}

impl PostgresOptions {
    /// Sets the pool size (at least 1).
    pub fn with_max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections.max(1);
        self
    }

    /// Sets the connect and pool wait timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the client-side bound of a read, and of a write's statements
    /// before its commit.
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets the client-side bound of a commit.
    pub fn with_commit_timeout(mut self, timeout: Duration) -> Self {
        self.commit_timeout = timeout;
        self
    }

    /// Sets how long a call keeps reconnecting after a lost connection.
    pub fn with_reconnect_window(mut self, window: Duration) -> Self {
        self.reconnect_window = window;
        self
    }

    /// Sets how often a conflicting transaction is re-run.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first retry backoff.
    pub fn with_retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// Keeps the tables in this schema (a plain identifier: lowercase ASCII letters,
    /// digits and `_`, not starting with a digit).
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the `application_name` of every connection.
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }
}

/// Whether `name` is a plain SQL identifier that needs no quoting.
pub(crate) fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers() {
        for ok in ["public", "t_1a2b", "_x"] {
            assert!(is_plain_identifier(ok), "{ok}");
        }
        for bad in ["", "1x", "a-b", "a b", "Ab", "a;drop", &"x".repeat(64)] {
            assert!(!is_plain_identifier(bad), "{bad}");
        }
    }
}
