//! One tenant's change feed.

use std::collections::{BTreeMap, VecDeque};

use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields, Clock as _, Error, PageSize,
    PruneChanges, SystemClock, TenantId,
};
use uuid::Uuid;

/// One tenant's change feed: the changes kept, ascending by cursor, the
/// last cursor given out, the last cursor pruned, and the consumers' saved
/// cursors. Behind its own mutex, which a write takes while it still holds
/// the locks of the rows (and indexes) it wrote: a change is visible
/// exactly when its write is, and cursors follow commit order.
#[derive(Default)]
pub(crate) struct Feed {
    changes: VecDeque<Change>,
    last: u64,
    pruned_through: u64,
    pub(crate) consumers: BTreeMap<String, ChangeCursor>,
}

impl Feed {
    /// Records a write of `tenant` (called once the write can no longer
    /// fail).
    pub(crate) fn append(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        kind: ChangeKind,
        version: u64,
        fields: ChangedFields,
    ) {
        self.last += 1;
        self.changes.push_back(Change::new(
            ChangeCursor::new(self.last),
            tenant,
            id,
            kind,
            version,
            fields,
            SystemClock.now(),
        ));
    }

    pub(crate) fn page(
        &self,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error> {
        let pruned_through = ChangeCursor::new(self.pruned_through);
        if let Some(after) = after
            && after < pruned_through
        {
            return Err(Error::CursorExpired {
                after,
                pruned_through,
            });
        }
        let after = after.unwrap_or(pruned_through);
        // Cursors ascend, so the first change past `after` is found by
        // bisection.
        let start = self.changes.partition_point(|c| c.cursor <= after);
        let changes: Vec<Change> = self
            .changes
            .range(start..)
            .take(limit.get())
            .cloned()
            .collect();
        let next = changes.last().map_or(after, |c| c.cursor);
        Ok(ChangePage { changes, next })
    }

    pub(crate) fn prune(&mut self, prune: &PruneChanges) -> u64 {
        let mut removed = 0;
        let keep_from = prune
            .keep_last
            .map_or(0, |keep| self.last.saturating_sub(keep));
        while let Some(oldest) = self.changes.front() {
            let too_old = prune.before.is_some_and(|before| oldest.at < before);
            if !(too_old || oldest.cursor.get() <= keep_from) {
                break;
            }
            self.pruned_through = self.pruned_through.max(oldest.cursor.get());
            self.changes.pop_front();
            removed += 1;
        }
        removed
    }
}
