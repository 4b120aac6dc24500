//! Reads from a standby, with read-your-writes by version.
//!
//! A handle made by [`PostgresStore::with_standby`](crate::PostgresStore::with_standby)
//! sends its reads to a second pool (a standby, or any node), its writes
//! and the reads inside them to the primary. A standby lags: it may answer
//! with an older version of an identity, or not know one just created. So
//! every write through any handle of the store records the version it
//! gave each identity (its *floor*; a delete records that the identity is
//! gone), and a standby's answer below the floor (an older version, an
//! identity deleted since, or none at all) is asked of the primary again.
//! A caller therefore reads what it wrote, through any handle of the same
//! store; writes by other processes show on the standby as it replays them.
//!
//! Floors are kept for [`FLOOR_TTL`] (a standby lagging longer than that
//! no longer gives read-your-writes) and at most [`MAX_FLOORS`] identities.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long a write's floor is kept.
pub(crate) const FLOOR_TTL: Duration = Duration::from_secs(60);
/// The most floors kept; past it, expired ones are dropped, then the
/// oldest.
pub(crate) const MAX_FLOORS: usize = 100_000;

/// What a write left: the version it gave, or that it deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Floor {
    /// The identity is at this version or later.
    Version(u64),
    /// The identity was deleted.
    Deleted,
    /// A write's outcome is unknown: only the primary can tell.
    Unknown,
}

/// The floors of recent writes, per (tenant, identity).
#[derive(Default)]
pub(crate) struct Floors {
    /// Off until a standby handle exists: a store without one keeps none.
    enabled: AtomicBool,
    map: Mutex<HashMap<(Uuid, Uuid), (Floor, Instant)>>,
}

impl Floors {
    /// Starts keeping floors.
    pub(crate) fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// Records a write's floor.
    pub(crate) fn record(&self, tenant: Uuid, id: Uuid, floor: Floor) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= MAX_FLOORS {
            map.retain(|_, (_, at)| now.duration_since(*at) < FLOOR_TTL);
            if map.len() >= MAX_FLOORS {
                map.clear();
            }
        }
        let entry = map.entry((tenant, id)).or_insert((floor, now));
        // A later write never lowers the floor (writes through several
        // tasks may finish out of order).
        entry.0 = match (entry.0, floor) {
            (Floor::Version(a), Floor::Version(b)) => Floor::Version(a.max(b)),
            (_, f) => f,
        };
        entry.1 = now;
    }

    /// Whether a standby's answer for `id` (its version, or `None` when it
    /// has no such identity) is older than what this store wrote.
    pub(crate) fn stale(&self, tenant: Uuid, id: Uuid, found: Option<u64>) -> bool {
        let Ok(map) = self.map.lock() else {
            return true;
        };
        let Some((floor, at)) = map.get(&(tenant, id)) else {
            return false;
        };
        if at.elapsed() >= FLOOR_TTL {
            return false;
        }
        match (floor, found) {
            (Floor::Version(v), Some(found)) => found < *v,
            (Floor::Version(_), None) => true,
            (Floor::Deleted, found) => found.is_some(),
            (Floor::Unknown, _) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_below_a_floor_are_stale() {
        let floors = Floors::default();
        let (t, a, b) = (Uuid::nil(), Uuid::from_u128(1), Uuid::from_u128(2));
        floors.record(t, a, Floor::Version(3));
        assert!(!floors.stale(t, a, Some(3)), "nothing kept until enabled");
        floors.enable();
        floors.record(t, a, Floor::Version(3));
        floors.record(t, a, Floor::Version(2));
        assert_eq!(
            [None, Some(2), Some(3), Some(4)].map(|v| floors.stale(t, a, v)),
            [true, true, false, false]
        );
        assert!(
            !floors.stale(t, b, None),
            "no write of b: the standby's answer stands"
        );
        floors.record(t, a, Floor::Deleted);
        assert_eq!(
            [None, Some(4)].map(|v| floors.stale(t, a, v)),
            [false, true]
        );
        assert!(!floors.stale(Uuid::from_u128(9), a, None), "per tenant");
        floors.record(t, b, Floor::Unknown);
        assert_eq!([None, Some(1)].map(|v| floors.stale(t, b, v)), [true, true]);
    }
}
