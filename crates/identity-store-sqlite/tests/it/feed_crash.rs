//! Issue 16, item 4: a process writing identities and delivering its change
//! feed is killed with SIGKILL at random points (between a commit and its
//! delivery, between a delivery and the save of the consumer's cursor);
//! after a restart every committed change is delivered, at least once.
//!
//! The child builds an `IdentityManager` over the real file and runs two
//! things at once: a writer (create, patch, delete through the manager,
//! printing `ACK <id> <version>` once each write returned) and a deliverer
//! (`deliver_changes` in a loop, into a sink that appends each change as a
//! JSON line to a file and fsyncs it, then dawdles, so that delivery lags
//! the writes and kills land between a delivery and its cursor save). The
//! parent kills children at random, then delivers in-process until caught
//! up and checks the delivered file against the acknowledgements and the
//! store's whole feed.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use identity_core::password::PasswordHasher;
use identity_core::{
    BoxError, Change, ChangeCursor, CreateIdentityBody, EventSink, IdentityManager, IdentityStore,
    PageSize, SchemaRegistry, TenantId,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;
const TEST: &str = "feed_crash::sigkill_between_commit_and_delivery_loses_no_change";
const CONSUMER: &str = "test-consumer";
const KILLS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_commit_and_delivery_loses_no_change() {
    if let Some(mode) = child_mode() {
        return write_and_deliver_until_killed(&mode).await;
    }
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("feed.db");
    let delivered = dir.path().join("delivered.jsonl");
    drop(store_at(&db));
    let seed = seed();
    eprintln!("feed crash test seed {seed}");
    let mut rng = Rng::new(seed);
    let mut acknowledged: HashSet<(Uuid, u64)> = HashSet::new();
    for run in 0..KILLS {
        let kill_after = 5 + rng.below(40);
        let mode = format!("{}|{}|{run}", db.display(), delivered.display());
        let mut child = spawn_child(TEST, &mode);
        let stdout = child.stdout.take().expect("child stdout");
        let mut acks = 0;
        let mut killed = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ack) = parse_ack(&line) {
                acknowledged.insert(ack);
                acks += 1;
            }
            if acks >= kill_after && !killed {
                std::thread::sleep(Duration::from_micros(rng.below(5_000)));
                child.kill().expect("SIGKILL");
                killed = true;
            }
        }
        let status = child.wait().expect("reap child");
        assert!(killed, "run {run}: the child ended on its own: {status:?}");
        assert_file_sound(&db);
    }

    // The restart: deliver until caught up, in this process.
    let before_restart = read_delivered(&delivered).len();
    let store = store_at(&db);
    let manager = manager(store.clone());
    let sink = FileSink::open(&delivered, Duration::ZERO);
    let mut caught_up = false;
    for _ in 0..1_000 {
        let delivery = manager
            .deliver_changes(T, CONSUMER, &sink, page(50), 10)
            .await
            .expect("deliver after the restart");
        if delivery.caught_up {
            caught_up = true;
            break;
        }
    }
    assert!(caught_up, "delivery catches up");

    let lines = read_delivered(&delivered);
    let mut times: HashMap<(u64, Uuid, u64), usize> = HashMap::new();
    for key in &lines {
        *times.entry(*key).or_insert(0) += 1;
    }
    let feed = whole_feed(&store).await;
    assert!(!feed.is_empty());
    let missing: Vec<_> = feed
        .iter()
        .filter(|c| !times.contains_key(&(c.cursor.get(), c.identity_id, c.version)))
        .collect();
    assert!(missing.is_empty(), "changes never delivered: {missing:?}");
    let by_version: HashSet<(Uuid, u64)> = lines.iter().map(|(_, id, v)| (*id, *v)).collect();
    let unacknowledged: Vec<_> = acknowledged.difference(&by_version).collect();
    assert!(
        unacknowledged.is_empty(),
        "acknowledged writes never delivered: {unacknowledged:?}"
    );
    // Nothing was delivered that the store did not commit.
    let committed: HashSet<(u64, Uuid, u64)> = feed
        .iter()
        .map(|c| (c.cursor.get(), c.identity_id, c.version))
        .collect();
    assert!(times.keys().all(|key| committed.contains(key)));
    let last = feed.last().map(|c| c.cursor);
    assert_eq!(store.consumer_cursor(T, CONSUMER).await.ok(), Some(last));
    let duplicates: usize = times.values().map(|n| n - 1).sum();
    eprintln!(
        "{} changes committed over {KILLS} kills, {} acknowledged writes, \
         {} lines delivered ({} by the restart), {duplicates} of them duplicates",
        feed.len(),
        acknowledged.len(),
        lines.len(),
        lines.len() - before_restart
    );
}

fn page(n: usize) -> PageSize {
    PageSize::new(n).expect("page size")
}

fn manager(store: identity_store_sqlite::SqliteStore) -> IdentityManager {
    let mut schemas = SchemaRegistry::new();
    schemas
        .register(
            "default",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string"},
                "n": {"type": "integer"}
            }}}}),
        )
        .expect("schema");
    IdentityManager::builder(Arc::new(store), Arc::new(schemas))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .build()
}

fn parse_ack(line: &str) -> Option<(Uuid, u64)> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let id = parts.next()?.parse().ok()?;
    let version = parts.next()?.parse().ok()?;
    Some((id, version))
}

/// (cursor, identity, version) of each delivered line.
fn read_delivered(path: &Path) -> Vec<(u64, Uuid, u64)> {
    let text = std::fs::read_to_string(path).expect("delivered file");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a whole JSON line");
            let cursor = v["cursor"].as_str().and_then(|c| c.parse().ok());
            let id = v["identity_id"].as_str().and_then(|i| i.parse().ok());
            let version = v["version"].as_u64();
            match (cursor, id, version) {
                (Some(c), Some(i), Some(n)) => (c, i, n),
                _ => panic!("not a delivered change: {line}"),
            }
        })
        .collect()
}

async fn whole_feed(store: &identity_store_sqlite::SqliteStore) -> Vec<Change> {
    let mut all = Vec::new();
    let mut after = Some(ChangeCursor::START);
    loop {
        let page = store.changes(T, after, page(500)).await.expect("changes");
        if page.changes.is_empty() {
            return all;
        }
        after = Some(page.next);
        all.extend(page.changes);
    }
}

/// Appends each delivered change to a file as a JSON line, fsyncs, then
/// waits `lag` before it reports success.
#[derive(Debug)]
struct FileSink {
    file: Mutex<File>,
    lag: Duration,
}

impl FileSink {
    /// Opens the file for appending, first cutting off a line a kill left
    /// half-written (its batch was not acknowledged, so it comes again).
    fn open(path: &Path, lag: Duration) -> FileSink {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .expect("delivered file");
        let text = std::fs::read(path).expect("read delivered");
        let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole < text.len() {
            file.set_len(whole as u64).expect("cut a torn line");
        }
        FileSink {
            file: Mutex::new(file),
            lag,
        }
    }
}

#[async_trait]
impl EventSink for FileSink {
    async fn deliver(&self, _tenant: TenantId, changes: &[Change]) -> Result<(), BoxError> {
        let mut text = String::new();
        for change in changes {
            text.push_str(&serde_json::to_string(change)?);
            text.push('\n');
        }
        {
            let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.write_all(text.as_bytes())?;
            file.sync_data()?;
        }
        tokio::time::sleep(self.lag).await;
        Ok(())
    }
}

/// The child: writes through the manager, acknowledging each write, while
/// a task delivers the feed behind it; runs until killed.
async fn write_and_deliver_until_killed(mode: &str) {
    let mut parts = mode.split('|');
    let (Some(db), Some(delivered), Some(run)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("child mode {mode:?}");
    };
    let manager = Arc::new(manager(store_at(Path::new(db))));
    let sink = FileSink::open(Path::new(delivered), Duration::from_millis(3));
    let deliverer = {
        let manager = Arc::clone(&manager);
        tokio::spawn(async move {
            loop {
                manager
                    .deliver_changes(T, CONSUMER, &sink, page(4), 1)
                    .await
                    .expect("deliver");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut live: Vec<(Uuid, u64)> = Vec::new();
    for n in 0u64..10_000 {
        match n % 5 {
            0..=2 => {
                let body = CreateIdentityBody::from_json(json!({
                    "schema_id": "default",
                    "traits": {"email": format!("r{run}-{n}@example.com"), "n": n}
                }))
                .expect("body");
                let created = manager.create(T, body).await.expect("create");
                report(&format!("ACK {} {}", created.id, created.version));
                live.push((created.id, created.version));
            }
            3 => {
                let k = (n as usize * 7) % live.len();
                let (id, version) = live[k];
                let patch = json!([{"op": "replace", "path": "/traits/n", "value": n}]);
                let next = manager
                    .patch(T, id, patch, Some(version))
                    .await
                    .expect("patch");
                report(&format!("ACK {id} {}", next.version));
                live[k].1 = next.version;
            }
            _ => {
                let (id, version) = live.swap_remove((n as usize * 3) % live.len());
                manager.delete(T, id, Some(version)).await.expect("delete");
                report(&format!("ACK {id} {}", version + 1));
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    deliverer.abort();
}
