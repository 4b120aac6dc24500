//! The `metrics` feature (on in these tests): every public operation of
//! the manager is counted once by operation and outcome, with its
//! duration; password hashes record their wait and time and leave the
//! queue; answers of the store (not found, conflict) are not store errors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use identity_core::password::PasswordHasher;
use identity_core::{
    BlockingExecutor, BlockingFuture, BlockingJob, BulkEntry, CreateIdentityBody, IdentityManager,
    ListParams, SequentialIds, TenantId,
};
use identity_store_memory::MemoryStore;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::ops_support::registry;

/// Each metric as one line, `name{label=value,…} value`, sorted: a
/// counter's count, a gauge's value, a histogram's number of samples (its
/// durations vary from run to run; each must be a finite, non-negative
/// number of seconds).
fn lines(snapshotter: &Snapshotter) -> Vec<String> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let mut labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let value = match value {
            DebugValue::Counter(n) => n.to_string(),
            DebugValue::Gauge(g) => format!("gauge {}", g.into_inner()),
            DebugValue::Histogram(samples) => {
                for s in &samples {
                    assert!(s.is_finite() && s.into_inner() >= 0.0, "{s}");
                }
                format!("{} samples", samples.len())
            }
        };
        out.insert(
            format!("{}{{{}}}", key.key().name(), labels.join(",")),
            value,
        );
    }
    out.into_iter().map(|(k, v)| format!("{k} {v}")).collect()
}

#[test]
fn operations_hashes_and_outcomes_are_counted_once_each() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let manager = IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .ids(Arc::new(SequentialIds::new()))
        .build();
    let tenant = TenantId::DEFAULT;
    // The local recorder is this thread's: a current-thread runtime keeps
    // every task on it (the hash itself runs on the blocking pool, but is
    // measured by the task awaiting it).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let body = |email: &str| {
                CreateIdentityBody::from_json(json!({
                    "schema_id": "default",
                    "traits": {"email": email},
                    "credentials": {"password": {"config": {"password": "correct horse battery"}}}
                }))
                .expect("body")
            };
            let ada = manager
                .create(tenant, body("ada@example.com"))
                .await
                .expect("created");
            let taken = manager.create(tenant, body("ADA@example.com")).await;
            assert_eq!(
                taken.map(|_| ()).map_err(|e| e.kind()),
                Err(identity_core::ErrorKind::Conflict)
            );
            let invalid = CreateIdentityBody::from_json(json!({
                "schema_id": "default", "traits": {"email": 5}
            }))
            .expect("body");
            assert!(manager.create(tenant, invalid).await.is_err());
            assert!(manager.get(tenant, Uuid::nil()).await.is_err());
            assert_eq!(manager.get(tenant, ada.id).await.expect("read").id, ada.id);
            let page = manager
                .list(tenant, ListParams::default())
                .await
                .expect("list");
            assert_eq!(page.identities.len(), 1);
            // A bulk delete is one operation: its entries are not deletes
            // of their own.
            let results = manager
                .bulk_delete(
                    tenant,
                    vec![BulkEntry::new(ada.id), BulkEntry::new(Uuid::nil())],
                )
                .await
                .expect("bulk");
            assert_eq!(results.len(), 2);
            assert!(manager.delete(tenant, ada.id, None).await.is_err());
        });
    });
    assert_eq!(
        lines(&snapshotter),
        [
            "identity_operation_duration_seconds{operation=bulk_delete} 1 samples",
            "identity_operation_duration_seconds{operation=create} 3 samples",
            "identity_operation_duration_seconds{operation=delete} 1 samples",
            "identity_operation_duration_seconds{operation=get} 2 samples",
            "identity_operation_duration_seconds{operation=list} 1 samples",
            "identity_operations_total{operation=bulk_delete,outcome=ok} 1",
            "identity_operations_total{operation=create,outcome=conflict} 1",
            "identity_operations_total{operation=create,outcome=ok} 1",
            "identity_operations_total{operation=create,outcome=validation} 1",
            "identity_operations_total{operation=delete,outcome=not_found} 1",
            "identity_operations_total{operation=get,outcome=not_found} 1",
            "identity_operations_total{operation=get,outcome=ok} 1",
            "identity_operations_total{operation=list,outcome=ok} 1",
            // Both creates with a password hashed it (the second conflicts
            // only at the store); both hashes left the queue.
            "identity_password_hash_duration_seconds{} 2 samples",
            "identity_password_hash_queue_depth{} gauge 0",
            "identity_password_hash_wait_seconds{} 2 samples",
        ]
    );
}

#[test]
fn a_refused_call_is_counted_with_its_error_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let manager =
        IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry())).build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let too_many = vec![BulkEntry::new(Uuid::nil()); identity_core::BATCH_MAX + 1];
            assert!(
                manager
                    .bulk_delete(TenantId::DEFAULT, too_many)
                    .await
                    .is_err()
            );
            assert!(
                manager
                    .get_by_external_id(TenantId::DEFAULT, "")
                    .await
                    .is_err()
            );
            let unknown = identity_core::SchemaMigration::new("default", "v3");
            assert!(
                manager
                    .migrate_schema(TenantId::DEFAULT, unknown)
                    .await
                    .is_err()
            );
            let apply = identity_core::SchemaMigration::new("default", "default").with_apply(true);
            let page = manager
                .migrate_schema(TenantId::DEFAULT, apply)
                .await
                .expect("a page");
            assert_eq!(page.counts.scanned, 0);
        });
    });
    assert_eq!(
        lines(&snapshotter),
        [
            "identity_operation_duration_seconds{operation=bulk_delete} 1 samples",
            "identity_operation_duration_seconds{operation=get_by_external_id} 1 samples",
            "identity_operation_duration_seconds{operation=migrate_schema_dry_run} 1 samples",
            "identity_operation_duration_seconds{operation=migrate_schema} 1 samples",
            "identity_operations_total{operation=bulk_delete,outcome=invalid_input} 1",
            "identity_operations_total{operation=get_by_external_id,outcome=not_found} 1",
            "identity_operations_total{operation=migrate_schema,outcome=ok} 1",
            "identity_operations_total{operation=migrate_schema_dry_run,outcome=invalid_input} 1",
        ]
    );
}

/// Holds each hashing job until the test runs it.
#[derive(Default)]
struct Held(Mutex<Vec<(BlockingJob, oneshot::Sender<()>)>>);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

impl BlockingExecutor for Held {
    fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture {
        let (done, ran) = oneshot::channel();
        self.0.lock().expect("lock").push((job, done));
        Box::pin(async move { ran.await.map_err(Into::into) })
    }
}

impl Held {
    /// Waits for the next job, runs it and reports it done.
    async fn run_next(&self) {
        loop {
            let next = self.0.lock().expect("lock").pop();
            if let Some((job, done)) = next {
                job();
                done.send(()).expect("the hash awaits");
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    async fn until_holding(&self, jobs: usize) {
        while self.0.lock().expect("lock").len() < jobs {
            tokio::task::yield_now().await;
        }
    }
}

#[test]
fn hashes_beyond_the_permits_are_the_queue_depth() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let held = Arc::new(Held::default());
    let manager = IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .hash_concurrency(1)
        .blocking_executor(held.clone())
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let create = |email: &'static str| {
        let manager = manager.clone();
        async move {
            let body = CreateIdentityBody::from_json(json!({
                "schema_id": "default",
                "traits": {"email": email},
                "credentials": {"password": {"config": {"password": "correct horse battery"}}}
            }))
            .expect("body");
            manager
                .create(TenantId::DEFAULT, body)
                .await
                .expect("created");
        }
    };
    let (during, after) = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let (.., during) = tokio::join!(
                create("a@example.com"),
                create("b@example.com"),
                create("c@example.com"),
                async {
                    // One hash holds the one permit, two wait for it.
                    held.until_holding(1).await;
                    for _ in 0..10 {
                        tokio::task::yield_now().await;
                    }
                    let during = lines(&snapshotter);
                    for _ in 0..3 {
                        held.run_next().await;
                    }
                    during
                },
            );
            (during, lines(&snapshotter))
        })
    });
    assert_eq!(
        during,
        [
            "identity_password_hash_queue_depth{} gauge 2",
            "identity_password_hash_wait_seconds{} 1 samples",
        ]
    );
    // (The snapshot above reset the gauge to zero: the two that left the
    // queue since then take it to -2 here.)
    assert_eq!(
        after,
        [
            "identity_operation_duration_seconds{operation=create} 3 samples",
            "identity_operations_total{operation=create,outcome=ok} 3",
            "identity_password_hash_duration_seconds{} 3 samples",
            "identity_password_hash_queue_depth{} gauge -2",
            "identity_password_hash_wait_seconds{} 2 samples",
        ]
    );
}
