//! How a store is opened: where the database is and how it is tuned.

use std::path::PathBuf;
use std::time::Duration;

use identity_core::Error;

use crate::schema::DEFAULT_BUSY_TIMEOUT;

/// SQLite's `PRAGMA synchronous` level for the writer.
///
/// The storage contract asks for at least `NORMAL`; `OFF` is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// WAL is synced at checkpoints only: a committed write survives a
    /// process crash but may be lost with the machine (power loss).
    Normal,
    /// WAL is synced at every commit: a committed write survives a power
    /// loss too. The default.
    #[default]
    Full,
    /// As `Full`, and the directory is synced when the WAL is created.
    Extra,
}

/// Tuning for [`SqliteStore::open`](crate::SqliteStore::open).
///
/// Build it from `SqliteOptions::default()` and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// `PRAGMA synchronous` of the writer (default [`Synchronous::Full`]).
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock held by another connection
    /// or process before the call fails as unavailable (default 5 s).
    pub busy_timeout: Duration,
    /// Reader connections kept open for a file database (default 4; reads
    /// of an in-memory database go through the writer connection).
    pub max_readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            max_readers: 4,
        }
    }
}

impl SqliteOptions {
    /// Sets the synchronous level.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Sets the busy timeout.
    pub fn with_busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.busy_timeout = busy_timeout;
        self
    }

    /// Sets how many idle reader connections are kept.
    pub fn with_max_readers(mut self, max_readers: usize) -> Self {
        self.max_readers = max_readers;
        self
    }
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A private in-memory database (one connection).
    Memory,
    /// A file path, or a `file:` URI when it carries parameters.
    File(PathBuf),
}

/// Parses `path`, `sqlite://path`, `sqlite:path`, `sqlite://path?mode=ro`
/// (parameters become an SQLite `file:` URI), `file:` URIs as they are, and
/// `sqlite::memory:` / `:memory:` / `sqlite://:memory:`.
pub(crate) fn parse_location(text: &str) -> Result<Location, Error> {
    let rest = text
        .strip_prefix("sqlite://")
        .or_else(|| text.strip_prefix("sqlite:"))
        .unwrap_or(text);
    if rest == ":memory:" {
        return Ok(Location::Memory);
    }
    if rest.is_empty() {
        return Err(Error::invalid(format!(
            "no database path in {text:?}: give a file path, sqlite://path or sqlite::memory:"
        )));
    }
    if rest != text && rest.contains('?') && !rest.starts_with("file:") {
        return Ok(Location::File(PathBuf::from(format!("file:{rest}"))));
    }
    Ok(Location::File(PathBuf::from(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        for memory in ["sqlite::memory:", ":memory:", "sqlite://:memory:"] {
            assert_eq!(parse_location(memory).ok(), Some(Location::Memory));
        }
        let file = |p: &str| Some(Location::File(PathBuf::from(p)));
        assert_eq!(parse_location("/tmp/a.db").ok(), file("/tmp/a.db"));
        assert_eq!(parse_location("sqlite:///tmp/a.db").ok(), file("/tmp/a.db"));
        assert_eq!(parse_location("sqlite://rel/a.db").ok(), file("rel/a.db"));
        assert_eq!(parse_location("sqlite:a.db").ok(), file("a.db"));
        assert_eq!(
            parse_location("sqlite:///tmp/a.db?mode=ro").ok(),
            file("file:/tmp/a.db?mode=ro")
        );
        assert_eq!(
            parse_location("file:/x.db?mode=ro").ok(),
            file("file:/x.db?mode=ro")
        );
        assert!(parse_location("sqlite://").is_err());
    }
}
