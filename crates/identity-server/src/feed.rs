//! The change feed's background work: delivery of every change to a JSON
//! lines file (`--changes-log`), and pruning by the retention flags.
//!
//! Delivery is at least once: a page of changes is appended to the file and
//! synced, then the consumer's cursor is saved in the store. A process
//! killed between the two writes the page again after its restart, so the
//! file may hold a change twice (the same `cursor`), never miss one.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use identity_core::{BoxError, Change, EventSink, IdentityManager, PageSize, TenantId};

/// The consumer name the file sink saves its cursor under.
pub(crate) const LOG_CONSUMER: &str = "changes-log";

/// Appends each change as one JSON line (the wire form of
/// `GET /admin/identities/changes`) and syncs the file before the cursor
/// moves.
#[derive(Debug)]
pub(crate) struct JsonLinesSink {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl JsonLinesSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        JsonLinesSink {
            path,
            file: Mutex::new(None),
        }
    }

    fn append(&self, lines: &[u8]) -> Result<(), BoxError> {
        let mut file = self
            .file
            .lock()
            .map_err(|_| "the changes log lock was poisoned")?;
        if file.is_none() {
            *file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let f = file.as_mut().ok_or("the changes log is not open")?;
        let written = f.write_all(lines).and_then(|()| f.sync_data());
        if written.is_err() {
            // Reopen next time rather than append after a torn write.
            *file = None;
        }
        Ok(written?)
    }
}

#[async_trait::async_trait]
impl EventSink for JsonLinesSink {
    async fn deliver(&self, _tenant: TenantId, changes: &[Change]) -> Result<(), BoxError> {
        let mut lines = Vec::with_capacity(changes.len() * 192);
        for change in changes {
            serde_json::to_writer(&mut lines, change)?;
            lines.push(b'\n');
        }
        // The write and the fsync block: the worker hands its other tasks
        // to the rest of the (multi-threaded) runtime meanwhile.
        tokio::task::block_in_place(|| self.append(&lines))
    }
}

/// Delivers the default tenant's changes to `sink` every `every`, until the
/// process ends. Failures are logged and retried on the next round.
pub(crate) async fn deliver_forever(
    manager: IdentityManager,
    sink: Arc<JsonLinesSink>,
    every: Duration,
) {
    let batch = PageSize::MAX;
    loop {
        match manager
            .deliver_changes(TenantId::DEFAULT, LOG_CONSUMER, sink.as_ref(), batch, 20)
            .await
        {
            Ok(d) if d.delivered > 0 => {
                tracing::debug!(delivered = d.delivered, cursor = %d.cursor, "changes delivered");
                if !d.caught_up {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "delivering changes failed; retrying"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Prunes the default tenant's changes by the configured retention every
/// `every`, until the process ends.
pub(crate) async fn prune_forever(manager: IdentityManager, every: Duration) {
    loop {
        match manager.prune_changes(TenantId::DEFAULT).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "old changes pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning changes failed"),
        }
        tokio::time::sleep(every).await;
    }
}
