//! One tenant's change feed.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use identity_core::{
    Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields, Error, PageSize, PruneChanges,
    TenantId, Timestamp,
};
use uuid::Uuid;

/// How many changes a chunk holds. Appending never moves a change: a full
/// chunk is followed by a new one, so a write pays for an allocation once
/// every `CHUNK` changes instead of the copies a growing ring buffer makes.
/// A chunk stays under 1 KiB (24 entries of 40 bytes): a larger request
/// makes glibc's `malloc` consolidate its fast bins, which in a process
/// that frees many small blocks per write (every PUT does) cost about
/// 450,000 instructions per chunk of 512 (callgrind, `profile put`).
const CHUNK: usize = 24;
const _: () = assert!(std::mem::size_of::<Entry>() * CHUNK <= 1008);

/// A change as the feed keeps it: the cursor is its position and the
/// tenant the feed's, so neither is stored, and the commit time is kept in
/// microseconds, made a [`Timestamp`] only when read.
#[derive(Clone, Copy)]
struct Entry {
    identity_id: Uuid,
    version: u64,
    at_micros: i64,
    fields: ChangedFields,
    kind: ChangeKind,
}

/// One tenant's change feed: the changes kept, ascending by cursor (which
/// are contiguous: pruning only ever removes the oldest), the last cursor
/// given out, the last cursor pruned, and the consumers' saved cursors.
/// Behind its own mutex, which a write takes while it still holds the locks
/// of the rows (and indexes) it wrote: a change is visible exactly when its
/// write is, and cursors follow commit order.
///
/// The kept changes are `CHUNK` to a chunk: the full chunks in a B-tree by
/// number (`front`, `front + 1`, ...), then `tail`, the newest chunk
/// (number `front + full.len()`), which appends fill; the first `skip` of
/// the oldest chunk are pruned. No part of the feed is ever a request of
/// 1 KiB or more, however many changes it keeps: a chunk is 960 bytes and
/// a node of the B-tree under 500. (The `VecDeque` of chunks this replaced
/// grew by doubling, asked for 1 KiB or more from its 33rd chunk on, and
/// glibc consolidated its fast bins before each of those requests.) The
/// feed still takes new memory, so glibc still consolidates when a new
/// chunk finds neither a free block nor room at the top of the heap; in
/// `profile put` that costs about as much as before (5,000 PUTs: 60
/// consolidations, 478 instructions a PUT, against 600 for the doublings).
///
/// So that this allocation does not happen while a shard's or the feed's
/// lock is held (where other readers and writers of the tenant would wait
/// for it), the next chunk is made by a writer before it takes the
/// tenant's locks ([`Feed::chunk`], handed over with [`Feed::give_spare`])
/// and kept as `spare` until the tail fills. The feed keeps that one spare
/// (960 bytes) even when pruned empty.
#[derive(Default)]
pub(crate) struct Feed {
    full: BTreeMap<u64, Vec<Entry>>,
    /// Empty, or holding 1 to `CHUNK` changes in an allocation of exactly
    /// `CHUNK`.
    tail: Vec<Entry>,
    /// An empty chunk for the tail to move on to, or `None`.
    spare: Option<SpareChunk>,
    front: u64,
    skip: usize,
    last: u64,
    pruned_through: u64,
    pub(crate) consumers: BTreeMap<String, ChangeCursor>,
}

/// An empty chunk with room for exactly `CHUNK` entries ([`Feed::chunk`]).
pub(crate) struct SpareChunk(Vec<Entry>);

/// Microseconds since the Unix epoch now, as [`identity_core::SystemClock`]
/// reads them (a clock before the epoch counts backwards).
fn now_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

/// The time kept for a change, as a [`Timestamp`] (a clock outside the
/// years -9999 to 9999 reads as the epoch, as `SystemClock` does).
fn timestamp(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Feed {
    /// Records a write (called once the write can no longer fail).
    pub(crate) fn append(
        &mut self,
        id: Uuid,
        kind: ChangeKind,
        version: u64,
        fields: ChangedFields,
    ) {
        self.last += 1;
        let entry = Entry {
            identity_id: id,
            version,
            at_micros: now_micros(),
            fields,
            kind,
        };
        if self.tail.len() == CHUNK || self.tail.capacity() == 0 {
            self.start_chunk();
        }
        self.tail.push(entry);
    }

    /// Files a full tail under its number and starts a new one (once every
    /// `CHUNK` appends).
    #[inline(never)]
    fn start_chunk(&mut self) {
        let next = self
            .spare
            .take()
            .map_or_else(|| Vec::with_capacity(CHUNK), |spare| spare.0);
        let full = std::mem::replace(&mut self.tail, next);
        if !full.is_empty() {
            let number = self.front + self.full.len() as u64;
            self.full.insert(number, full);
        }
    }

    /// An empty chunk for [`Feed::give_spare`], made by a writer before it
    /// takes the tenant's locks. (Its first touch of fresh pages happens
    /// here too: a chunk spans at most two pages, and `malloc` writes the
    /// headers at both of its ends.)
    pub(crate) fn chunk() -> SpareChunk {
        SpareChunk(Vec::with_capacity(CHUNK))
    }

    /// Whether the feed has no spare chunk: the next writer should bring
    /// one ([`Feed::chunk`]).
    pub(crate) fn wants_spare(&self) -> bool {
        self.spare.is_none()
    }

    /// Keeps `chunk` (from [`Feed::chunk`]) as the next tail, unless the
    /// feed has one already: then it is given back, to be dropped once the
    /// lock is let go.
    pub(crate) fn give_spare(&mut self, chunk: SpareChunk) -> Option<SpareChunk> {
        if self.spare.is_some() {
            return Some(chunk);
        }
        self.spare = Some(chunk);
        None
    }

    /// How many changes are kept.
    fn len(&self) -> usize {
        usize::try_from(self.last - self.pruned_through).unwrap_or(usize::MAX)
    }

    /// The oldest kept change.
    fn oldest(&self) -> Option<&Entry> {
        match self.full.first_key_value() {
            Some((_, chunk)) => chunk.get(self.skip),
            None => self.tail.get(self.skip),
        }
    }

    /// The kept changes from the `index`th on (0 is the oldest), in order.
    fn entries_from(&self, index: usize) -> impl Iterator<Item = &Entry> {
        let at = self.skip.saturating_add(index);
        let number = self
            .front
            .saturating_add(u64::try_from(at / CHUNK).unwrap_or(u64::MAX));
        let tail_number = self.front + self.full.len() as u64;
        let tail = if number <= tail_number {
            &self.tail[..]
        } else {
            &[]
        };
        self.full
            .range(number..)
            .flat_map(|(_, chunk)| chunk)
            .chain(tail)
            .skip(at % CHUNK)
    }

    pub(crate) fn page(
        &self,
        tenant: TenantId,
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
        // The kept changes hold cursors `pruned_through + 1 ..= last`, one
        // each, so the first one past `after` is found by arithmetic.
        let start =
            usize::try_from(after.get().saturating_sub(self.pruned_through)).unwrap_or(usize::MAX);
        let end = start.saturating_add(limit.get()).min(self.len());
        let changes: Vec<Change> = if start < end {
            self.entries_from(start)
                .zip(start..end)
                .map(|(e, index)| {
                    Change::new(
                        ChangeCursor::new(self.pruned_through + index as u64 + 1),
                        tenant,
                        e.identity_id,
                        e.kind,
                        e.version,
                        e.fields,
                        timestamp(e.at_micros),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let next = changes.last().map_or(after, |c| c.cursor);
        Ok(ChangePage { changes, next })
    }

    pub(crate) fn prune(&mut self, prune: &PruneChanges) -> u64 {
        let keep_from = prune
            .keep_last
            .map_or(0, |keep| self.last.saturating_sub(keep));
        let before = prune.before.map(Timestamp::unix_micros);
        let mut removed = 0;
        while let Some(oldest) = self.oldest() {
            let cursor = self.pruned_through + 1;
            let too_old = before.is_some_and(|before| oldest.at_micros < before);
            if !(too_old || cursor <= keep_from) {
                break;
            }
            self.pruned_through = cursor;
            self.skip += 1;
            if self.skip == CHUNK {
                // The oldest chunk is all pruned: a full one, or the tail
                // when there is none.
                if self.full.pop_first().is_none() {
                    self.tail = Vec::new();
                }
                self.front += 1;
                self.skip = 0;
            }
            removed += 1;
        }
        if self.len() == 0 {
            self.full.clear();
            self.tail = Vec::new();
            self.skip = 0;
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TenantId = TenantId::DEFAULT;

    impl Feed {
        /// How many chunks hold kept changes (or pruned ones of the oldest
        /// chunk).
        fn chunk_count(&self) -> usize {
            self.full.len() + usize::from(!self.tail.is_empty())
        }
    }

    fn id(n: u64) -> Uuid {
        Uuid::from_u64_pair(7, n)
    }

    /// A feed of changes 1..=n, change k being version k of identity k.
    fn feed(n: u64) -> Feed {
        let mut feed = Feed::default();
        for k in 1..=n {
            feed.append(id(k), ChangeKind::Updated, k, ChangedFields::NONE);
        }
        feed
    }

    /// (cursor, identity, version) of each change of a page.
    fn read(feed: &Feed, after: u64, limit: usize) -> Vec<(u64, Uuid, u64)> {
        let page = feed
            .page(
                T,
                Some(ChangeCursor::new(after)),
                PageSize::new(limit).expect("a page size"),
            )
            .expect("a page");
        let out: Vec<_> = page
            .changes
            .iter()
            .map(|c| (c.cursor.get(), c.identity_id, c.version))
            .collect();
        assert_eq!(page.next.get(), out.last().map_or(after, |c| c.0));
        assert!(page.changes.iter().all(|c| c.tenant == T));
        out
    }

    fn expected(cursors: std::ops::RangeInclusive<u64>) -> Vec<(u64, Uuid, u64)> {
        cursors.map(|k| (k, id(k), k)).collect()
    }

    #[test]
    fn pages_and_prunes_across_chunk_boundaries() {
        let c = CHUNK as u64;
        let n = 3 * c + 17;
        let mut feed = feed(n);
        assert_eq!(feed.chunk_count(), 4);
        assert_eq!(read(&feed, 0, 5), expected(1..=5));
        assert_eq!(read(&feed, c - 2, 5), expected(c - 1..=c + 3));
        assert_eq!(read(&feed, 5, 500), expected(6..=n));
        assert_eq!(read(&feed, n, 10), []);
        assert_eq!(read(&feed, n + 5, 10), [], "a cursor past the end");

        // Keep the newest c + 5: two chunks go, 12 of the third are cut.
        let keep = c + 5;
        assert_eq!(feed.prune(&PruneChanges::new(None, Some(keep))), n - keep);
        assert_eq!(n - keep, 2 * c + 12);
        assert_eq!((feed.chunk_count(), feed.skip), (2, 12));
        assert!(matches!(
            feed.page(
                T,
                Some(ChangeCursor::new(n - keep - 1)),
                PageSize::new(1).expect("a page size")
            ),
            Err(Error::CursorExpired { .. })
        ));
        assert_eq!(
            read(&feed, n - keep, 3),
            expected(n - keep + 1..=n - keep + 3)
        );
        assert_eq!(read(&feed, n - 20, 500), expected(n - 19..=n));

        // Everything pruned, then numbering goes on.
        assert_eq!(feed.prune(&PruneChanges::new(None, Some(0))), keep);
        assert_eq!((feed.chunk_count(), feed.skip), (0, 0));
        feed.append(id(n + 1), ChangeKind::Updated, n + 1, ChangedFields::NONE);
        assert_eq!(read(&feed, n, 10), expected(n + 1..=n + 1));
    }

    /// Every change from `after` on, read in pages of `limit`.
    fn read_all(feed: &Feed, after: u64, limit: usize) -> Vec<(u64, Uuid, u64)> {
        let mut out = Vec::new();
        let mut after = after;
        loop {
            let page = read(feed, after, limit);
            let Some(last) = page.last() else {
                return out;
            };
            after = last.0;
            out.extend(page);
        }
    }

    #[test]
    fn pages_and_prunes_a_feed_of_many_chunks() {
        let c = CHUNK as u64;
        // 30 full chunks and 7 in the tail: more chunks than one node of
        // the B-tree holds.
        let n = 30 * c + 7;
        let mut feed = feed(n);
        assert_eq!((feed.full.len(), feed.tail.len()), (30, 7));
        assert_eq!(feed.chunk_count(), 31);
        assert!(
            feed.full
                .values()
                .chain([&feed.tail])
                .all(|chunk| chunk.capacity() == CHUNK),
            "every chunk is one allocation of exactly CHUNK entries"
        );
        assert_eq!(read_all(&feed, 0, 100), expected(1..=n));
        assert_eq!(read_all(&feed, 0, 7), expected(1..=n));
        for after in [c - 1, c, c + 1, 11 * c, 12 * c - 1, 29 * c, 30 * c, n - 1] {
            assert_eq!(
                read(&feed, after, 3),
                expected(after + 1..=(after + 3).min(n))
            );
        }

        // Prune up to the middle of chunk 12 (the 13th): 12 chunks go.
        let pruned = 12 * c + 5;
        assert_eq!(
            feed.prune(&PruneChanges::new(None, Some(n - pruned))),
            pruned
        );
        assert_eq!((feed.chunk_count(), feed.skip, feed.front), (19, 5, 12));
        assert_eq!(read_all(&feed, pruned, 50), expected(pruned + 1..=n));
        assert_eq!(
            read(&feed, pruned + c, 2),
            expected(pruned + c + 1..=pruned + c + 2)
        );

        // Appending goes on past another full chunk.
        let more = n + c;
        for k in n + 1..=more {
            feed.append(id(k), ChangeKind::Updated, k, ChangedFields::NONE);
        }
        assert_eq!((feed.full.len(), feed.tail.len()), (19, 7));
        assert_eq!(read_all(&feed, pruned, 100), expected(pruned + 1..=more));

        // Up to exactly the end of the full chunks: only the tail is left.
        let to_tail = 31 * c;
        assert_eq!(
            feed.prune(&PruneChanges::new(None, Some(more - to_tail))),
            to_tail - pruned
        );
        assert_eq!((feed.full.len(), feed.tail.len(), feed.skip), (0, 7, 0));
        assert_eq!(read_all(&feed, to_tail, 3), expected(to_tail + 1..=more));

        // Then the tail too, and numbering goes on from the last cursor.
        assert_eq!(feed.prune(&PruneChanges::new(None, Some(0))), 7);
        assert_eq!((feed.chunk_count(), feed.skip), (0, 0));
        assert_eq!(feed.tail.capacity(), 0, "an empty feed holds no chunk");
        for k in more + 1..=more + c + 1 {
            feed.append(id(k), ChangeKind::Updated, k, ChangedFields::NONE);
        }
        assert_eq!((feed.full.len(), feed.tail.len()), (1, 1));
        assert_eq!(read_all(&feed, more, 10), expected(more + 1..=more + c + 1));
        assert!(matches!(
            feed.page(
                T,
                Some(ChangeCursor::new(more - 1)),
                PageSize::new(1).expect("a page size")
            ),
            Err(Error::CursorExpired { .. })
        ));
    }

    #[test]
    fn a_spare_chunk_becomes_the_next_tail() {
        let c = CHUNK as u64;
        let mut feed = feed(c);
        assert!(feed.wants_spare());
        let spare = Feed::chunk();
        assert_eq!((spare.0.len(), spare.0.capacity()), (0, CHUNK));
        let at = spare.0.as_ptr();
        assert!(feed.give_spare(spare).is_none());
        assert!(!feed.wants_spare());
        // The feed keeps one: a second is given back.
        let second = feed.give_spare(Feed::chunk()).expect("given back");
        assert_ne!(second.0.as_ptr(), at);
        // The full tail is filed and the spare is the new tail.
        feed.append(id(c + 1), ChangeKind::Updated, c + 1, ChangedFields::NONE);
        assert_eq!(feed.tail.as_ptr(), at);
        assert_eq!((feed.tail.len(), feed.tail.capacity()), (1, CHUNK));
        assert_eq!((feed.full.len(), feed.spare.is_none()), (1, true));
        assert!(feed.wants_spare());
        assert_eq!(read_all(&feed, 0, 100), expected(1..=c + 1));
        // Without a spare, the tail moves on to a chunk made under the lock.
        for k in c + 2..=2 * c + 1 {
            feed.append(id(k), ChangeKind::Updated, k, ChangedFields::NONE);
        }
        assert_eq!((feed.full.len(), feed.tail.len()), (2, 1));
        assert_eq!(feed.tail.capacity(), CHUNK);
        assert_eq!(read_all(&feed, 0, 100), expected(1..=2 * c + 1));
    }

    #[test]
    fn a_feed_pruned_empty_keeps_its_spare_for_the_next_append() {
        let mut feed = feed(3);
        let spare = Feed::chunk();
        let at = spare.0.as_ptr();
        assert!(feed.give_spare(spare).is_none());
        assert_eq!(feed.prune(&PruneChanges::new(None, Some(0))), 3);
        assert_eq!((feed.chunk_count(), feed.tail.capacity()), (0, 0));
        assert!(!feed.wants_spare());
        feed.append(id(4), ChangeKind::Updated, 4, ChangedFields::NONE);
        assert_eq!(feed.tail.as_ptr(), at);
        assert!(feed.wants_spare());
        assert_eq!(read_all(&feed, 3, 10), expected(4..=4));
    }

    #[test]
    fn prunes_a_full_tail_that_is_the_only_chunk() {
        let c = CHUNK as u64;
        let mut feed = feed(c);
        assert_eq!((feed.full.len(), feed.tail.len()), (0, CHUNK));
        assert_eq!(feed.prune(&PruneChanges::new(None, Some(1))), c - 1);
        assert_eq!((feed.chunk_count(), feed.skip), (1, CHUNK - 1));
        assert_eq!(read(&feed, c - 1, 5), expected(c..=c));
        assert_eq!(feed.prune(&PruneChanges::new(None, Some(0))), 1);
        assert_eq!((feed.chunk_count(), feed.skip), (0, 0));
        assert_eq!(read(&feed, c, 5), []);
        feed.append(id(c + 1), ChangeKind::Updated, c + 1, ChangedFields::NONE);
        assert_eq!(read(&feed, c, 5), expected(c + 1..=c + 1));
        assert_eq!(feed.tail.capacity(), CHUNK);
    }

    #[test]
    fn prunes_by_age_up_to_the_first_younger_change() {
        let mut feed = feed(CHUNK as u64 + 3);
        let chunks = feed
            .full
            .values_mut()
            .chain(std::iter::once(&mut feed.tail));
        for (k, entry) in chunks.flatten().enumerate() {
            entry.at_micros = i64::try_from(k).expect("small") * 10;
        }
        let c = CHUNK as u64;
        // Change k was committed at (k - 1) * 10 µs: those before
        // c * 10 + 5 are 1..=c + 1, a whole chunk and one more.
        let before =
            Timestamp::from_unix_micros(i64::try_from(c).expect("small") * 10 + 5).expect("a time");
        assert_eq!(feed.prune(&PruneChanges::new(Some(before), None)), c + 1);
        assert_eq!(read(&feed, c + 1, 10), expected(c + 2..=c + 3));
        let page = feed
            .page(T, None, PageSize::new(1).expect("a page size"))
            .expect("a page");
        assert_eq!(
            page.changes[0].at.unix_micros(),
            i64::try_from(c).expect("small") * 10 + 10
        );
    }
}
