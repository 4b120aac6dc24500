//! Delivering the change feed to an [`EventSink`], at least once, with the
//! consumer's cursor kept in the store.

use std::fmt::Debug;

use async_trait::async_trait;

use super::IdentityManager;
use crate::error::{BoxError, Error};
use crate::feed::{Change, ChangeCursor, ChangePage, PruneChanges, check_consumer_name};
use crate::model::TenantId;
use crate::observe::{Operation, observed};
use crate::store::PageSize;
use crate::time::Timestamp;

/// Receives committed changes, read from the store's change feed by
/// [`IdentityManager::deliver_changes`].
///
/// Delivery is at least once: a change is handed to the sink, then the
/// consumer's cursor is saved; if the process dies between the two, the
/// change is delivered again after the restart. A sink de-duplicates by
/// `(identity_id, version)` when it must act once. A sink that fails
/// (returns an error) stops the delivery before its cursor moves, so the
/// same changes come again on the next call.
#[async_trait]
pub trait EventSink: Send + Sync + Debug + 'static {
    /// Handles changes of one tenant, in cursor order.
    async fn deliver(&self, tenant: TenantId, changes: &[Change]) -> Result<(), BoxError>;
}

/// What one [`IdentityManager::deliver_changes`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// How many changes the sink accepted.
    pub delivered: usize,
    /// The consumer's saved cursor afterwards.
    pub cursor: ChangeCursor,
    /// Whether the consumer has caught up with the feed (the last page read
    /// was not full).
    pub caught_up: bool,
}

impl IdentityManager {
    /// Up to `limit` of the tenant's changes after `after` (from the oldest
    /// kept when `None`), ascending; see [`IdentityStore::changes`] for the
    /// guarantee. [`Error::CursorExpired`] when changes after `after` were
    /// pruned.
    ///
    /// [`IdentityStore::changes`]: crate::IdentityStore::changes
    pub async fn changes(
        &self,
        tenant: TenantId,
        after: Option<ChangeCursor>,
        limit: PageSize,
    ) -> Result<ChangePage, Error> {
        observed(
            Operation::Changes,
            self.inner.store.changes(tenant, after, limit),
        )
        .await
    }

    /// Prunes the tenant's changes by the configured
    /// [`ChangeRetention`](crate::ChangeRetention) and returns how many went.
    /// Nothing prunes on its own: call it now and then (`identity-server`
    /// does, every minute).
    pub async fn prune_changes(&self, tenant: TenantId) -> Result<u64, Error> {
        let run = async {
            let retention = self.inner.config.retention;
            let before = retention.max_age.map(|age| {
                let micros = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
                let now = self.inner.clock.now().unix_micros();
                Timestamp::from_unix_micros(now.saturating_sub(micros))
                    .unwrap_or(Timestamp::UNIX_EPOCH)
            });
            if before.is_none() && retention.max_count.is_none() {
                return Ok(0);
            }
            self.inner
                .store
                .prune_changes(tenant, &PruneChanges::new(before, retention.max_count))
                .await
        };
        observed(Operation::PruneChanges, run).await
    }

    /// Delivers the tenant's changes after `consumer`'s saved cursor to
    /// `sink`, a page of `batch` at a time, saving the cursor after each
    /// page the sink accepted, until caught up or after `max_pages` pages.
    ///
    /// A consumer that never saved a cursor starts at the oldest change the
    /// store keeps. One whose cursor was pruned past gets
    /// [`Error::CursorExpired`]: it missed changes, and must decide what to
    /// do (resync, then [`IdentityManager::reset_consumer`]). A sink error
    /// ends the call with [`Error::Unavailable`], the cursor left after the
    /// last accepted page.
    ///
    /// No runtime is needed: call it from a loop of your own (on a timer,
    /// or after writes). `identity-server` runs one per configured sink.
    pub async fn deliver_changes(
        &self,
        tenant: TenantId,
        consumer: &str,
        sink: &dyn EventSink,
        batch: PageSize,
        max_pages: usize,
    ) -> Result<Delivery, Error> {
        let run = async {
            check_consumer_name(consumer)?;
            let store = &self.inner.store;
            let mut cursor = store.consumer_cursor(tenant, consumer).await?;
            let mut delivered = 0;
            for _ in 0..max_pages.max(1) {
                let page = store.changes(tenant, cursor, batch).await?;
                let full = page.changes.len() == batch.get();
                if !page.changes.is_empty() {
                    sink.deliver(tenant, &page.changes)
                        .await
                        .map_err(|e| Error::unavailable("the event sink failed", e))?;
                    store
                        .save_consumer_cursor(tenant, consumer, page.next)
                        .await?;
                    delivered += page.changes.len();
                }
                cursor = Some(page.next);
                if !full {
                    return Ok(Delivery {
                        delivered,
                        cursor: page.next,
                        caught_up: true,
                    });
                }
            }
            Ok(Delivery {
                delivered,
                cursor: cursor.unwrap_or(ChangeCursor::START),
                caught_up: false,
            })
        };
        observed(Operation::DeliverChanges, run).await
    }

    /// Moves a consumer to `cursor` (typically the `pruned_through` of a
    /// [`Error::CursorExpired`], after it resynchronised), or forward only:
    /// a cursor below the saved one is ignored.
    pub async fn reset_consumer(
        &self,
        tenant: TenantId,
        consumer: &str,
        cursor: ChangeCursor,
    ) -> Result<(), Error> {
        let run = async {
            check_consumer_name(consumer)?;
            self.inner
                .store
                .save_consumer_cursor(tenant, consumer, cursor)
                .await
        };
        observed(Operation::ResetConsumer, run).await
    }
}
