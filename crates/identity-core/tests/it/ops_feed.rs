//! The change feed through the manager: what each operation records, and
//! delivery to an event sink with the consumer's cursor in the store.

use std::sync::{Arc, Mutex};

use identity_core::{
    BoxError, Change, ChangeCursor, ChangeKind, ChangeRetention, CreateIdentityBody, Error,
    ErrorKind, EventSink, IdentityManager, ManagerConfig, PageSize, TenantId, UpdateIdentityBody,
};
use identity_store_memory::MemoryStore;
use serde_json::json;

use crate::ops_support::{TENANT, env};

fn names(c: &Change) -> Vec<&'static str> {
    c.fields.names().collect()
}

/// PUT, PATCH and a credential deletion each record the fields they
/// changed; a PUT that changes nothing records none (but still a version).
#[tokio::test]
async fn each_write_records_the_fields_it_changed() {
    let env = env();
    let who = env
        .create(json!({"traits": {"email": "f@x.example"},
            "credentials": {"oidc": {"config": {"providers": [{"provider": "g", "subject": "1"}]}},
                            "password": {"config": {"hashed_password": "$2a$04$R8oNPsEJ.Fy2PRoYMCdbQOefkkXgoITP7pf3h/oskXRcHnMyxAC5i"}}}}))
        .await
        .expect("created");
    let put = |traits: serde_json::Value, state: &str| {
        UpdateIdentityBody::from_json(
            json!({"schema_id": "default", "traits": traits, "state": state}),
        )
        .expect("a body")
    };
    env.manager
        .update(
            TENANT,
            who.id,
            put(json!({"email": "g@x.example"}), "active"),
            None,
        )
        .await
        .expect("put");
    env.manager
        .update(
            TENANT,
            who.id,
            put(json!({"email": "g@x.example"}), "active"),
            None,
        )
        .await
        .expect("same put");
    env.manager
        .patch(
            TENANT,
            who.id,
            json!([{"op": "add", "path": "/metadata_public", "value": {"a": 1}}]),
            None,
        )
        .await
        .expect("patch");
    env.manager
        .delete_credential(TENANT, who.id, "oidc", Some("g:1"), None)
        .await
        .expect("delete the oidc link");
    let changes = env.changes().await;
    let summary: Vec<(ChangeKind, u64, Vec<&str>)> = changes
        .iter()
        .map(|c| (c.kind, c.version, names(c)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                ChangeKind::Created,
                1,
                vec![
                    "schema_id",
                    "state",
                    "traits",
                    "credentials",
                    "verifiable_addresses",
                    "recovery_addresses"
                ]
            ),
            (
                ChangeKind::Updated,
                2,
                vec![
                    "traits",
                    "credentials",
                    "verifiable_addresses",
                    "recovery_addresses"
                ]
            ),
            (ChangeKind::Updated, 3, vec![]),
            (ChangeKind::Updated, 4, vec!["metadata_public"]),
            (ChangeKind::Updated, 5, vec!["credentials"]),
        ]
    );
    assert!(changes.iter().all(|c| c.identity_id == who.id));
}

/// Records what it is given; fails (accepting nothing) while told to.
#[derive(Debug, Default)]
struct Sink {
    got: Mutex<Vec<Change>>,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl EventSink for Sink {
    async fn deliver(&self, tenant: TenantId, changes: &[Change]) -> Result<(), BoxError> {
        assert_eq!(tenant, TENANT);
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("the webhook is down".into());
        }
        self.got.lock().expect("lock").extend_from_slice(changes);
        Ok(())
    }
}

impl Sink {
    fn cursors(&self) -> Vec<u64> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|c| c.cursor.get())
            .collect()
    }
}

async fn create(manager: &IdentityManager, n: usize) {
    let body =
        CreateIdentityBody::from_json(json!({"traits": {"email": format!("d{n}@x.example")}}))
            .expect("a body");
    manager.create(TENANT, body).await.expect("create");
}

/// Delivery hands every change to the sink in pages, saves the consumer's
/// cursor in the store after each accepted page, resumes from it, stops
/// without moving the cursor when the sink fails, and refuses a consumer
/// whose cursor was pruned past.
#[tokio::test]
async fn delivery_is_driven_by_the_feed_and_resumes_from_the_saved_cursor() {
    let store = MemoryStore::new();
    let manager = IdentityManager::builder(
        Arc::new(store.clone()),
        Arc::new(crate::ops_support::registry()),
    )
    .config(
        ManagerConfig::default().with_retention(ChangeRetention::default().with_max_count(Some(2))),
    )
    .build();
    for n in 0..5 {
        create(&manager, n).await;
    }
    let sink = Sink::default();
    let two = PageSize::new(2).expect("size");
    let first = manager
        .deliver_changes(TENANT, "hooks", &sink, two, 2)
        .await
        .expect("deliver");
    assert_eq!(
        (first.delivered, first.cursor.get(), first.caught_up),
        (4, 4, false)
    );
    assert_eq!(sink.cursors(), [1, 2, 3, 4]);
    use identity_core::IdentityStore as _;
    assert_eq!(
        store.consumer_cursor(TENANT, "hooks").await.expect("saved"),
        Some(ChangeCursor::new(4))
    );
    sink.failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    create(&manager, 5).await;
    let failed = manager
        .deliver_changes(TENANT, "hooks", &sink, two, 10)
        .await
        .expect_err("the sink fails");
    assert_eq!(failed.kind(), ErrorKind::Unavailable);
    assert_eq!(
        store.consumer_cursor(TENANT, "hooks").await.expect("saved"),
        Some(ChangeCursor::new(4)),
        "a failed delivery leaves the cursor"
    );
    sink.failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let rest = manager
        .deliver_changes(TENANT, "hooks", &sink, two, 10)
        .await
        .expect("deliver the rest");
    assert_eq!(
        (rest.delivered, rest.cursor.get(), rest.caught_up),
        (2, 6, true)
    );
    assert_eq!(sink.cursors(), [1, 2, 3, 4, 5, 6]);
    let idle = manager
        .deliver_changes(TENANT, "hooks", &sink, two, 10)
        .await
        .expect("nothing new");
    assert_eq!(
        (idle.delivered, idle.cursor.get(), idle.caught_up),
        (0, 6, true)
    );

    // A second consumer starts at the oldest kept change; once pruned past,
    // it is told, and can be moved on.
    assert_eq!(manager.prune_changes(TENANT).await.expect("prune"), 4);
    let late = Sink::default();
    manager
        .deliver_changes(TENANT, "late", &late, two, 10)
        .await
        .expect("from the oldest kept");
    assert_eq!(late.cursors(), [5, 6]);
    manager
        .reset_consumer(TENANT, "audit", ChangeCursor::new(1))
        .await
        .expect("save");
    let expired = manager
        .deliver_changes(TENANT, "audit", &late, two, 10)
        .await
        .expect_err("pruned past");
    assert!(
        matches!(
            expired,
            Error::CursorExpired { after, pruned_through }
                if after.get() == 1 && pruned_through.get() == 4
        ),
        "{expired:?}"
    );
    assert_eq!(expired.kind(), ErrorKind::Expired);
    manager
        .reset_consumer(TENANT, "audit", ChangeCursor::new(4))
        .await
        .expect("move on");
    let audit = Sink::default();
    manager
        .deliver_changes(TENANT, "audit", &audit, two, 10)
        .await
        .expect("after the reset");
    assert_eq!(audit.cursors(), [5, 6]);
    let bad = manager
        .deliver_changes(TENANT, "no spaces", &audit, two, 10)
        .await
        .expect_err("a bad consumer name");
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);
}

/// Retention by age prunes what is older than the bound by the manager's
/// clock; no bound at all prunes nothing.
#[tokio::test]
async fn retention_by_age_follows_the_clock() {
    let env = env();
    env.create(json!({"traits": {"email": "a@x.example"}}))
        .await
        .expect("create");
    // The change's `at` is the store's wall clock; the manager's fixed
    // clock is years behind it, so nothing is older than 30 days by it.
    assert_eq!(env.manager.prune_changes(TENANT).await.expect("prune"), 0);
    env.clock
        .set(identity_core::Timestamp::parse("2999-01-01T00:00:00Z").expect("a time"));
    assert_eq!(env.manager.prune_changes(TENANT).await.expect("prune"), 1);
    assert_eq!(env.changes().await, []);
}
